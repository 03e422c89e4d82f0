"""Bring the permission catalogue in line with the code (also run after every migrate)."""

from django.core.management.base import BaseCommand

from rbac.catalogue import sync_permissions


class Command(BaseCommand):
    help = "Create, update and deactivate Permission rows to match the code's declarations."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--database", default="default")

    def handle(self, *args, **options) -> None:
        report = sync_permissions(using=options["database"])
        self.stdout.write(
            f"Permissions: {report.created} created, {report.updated} updated, "
            f"{report.deactivated} deactivated."
        )
