"""Record the API's routes in the endpoint registry (also run after every migrate)."""

from django.core.management.base import BaseCommand, CommandError

from rbac.registry import RegistryError, sync_endpoints


class Command(BaseCommand):
    help = (
        "Create and update ApiEndpoint rows from the code's routes and mark vanished ones "
        "inactive; operators' is_enabled and required_scopes are kept."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--database", default="default")

    def handle(self, *args, **options) -> None:
        try:
            report = sync_endpoints(using=options["database"])
        except RegistryError as exc:
            raise CommandError(str(exc)) from exc
        if options["verbosity"] > 1:
            for label, rows in (("created", report.created), ("updated", report.updated),
                                ("marked inactive", report.deactivated)):
                for row in rows:
                    self.stdout.write(f"  {label}: {row}")
        self.stdout.write(str(report))
        if report.unenforced:
            self.stderr.write(
                "These routes ignore the registry's switches (their views' permission classes "
                "lack rbac.api.permissions.RbacPermission): " + ", ".join(report.unenforced)
            )
