"""Bring the built-in keywords in line with the code (also run after every migrate)."""

from django.core.management.base import BaseCommand

from testing.keywords import sync_builtin_keywords


class Command(BaseCommand):
    help = "Create, update and deactivate BuiltinKeyword rows to match testing/keywords.py."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--database", default="default")

    def handle(self, *args, **options) -> None:
        counts = sync_builtin_keywords(using=options["database"])
        self.stdout.write("Built-in keywords: {created} created, {updated} updated, "
                          "{deactivated} deactivated.".format(**counts))
