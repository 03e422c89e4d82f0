"""``manage.py check_schema``: report drift between the models and every live datasource."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from config.schema_check import check_schema


class Command(BaseCommand):
    """Print one line per drift item and fail when there is any (issue 4 item 7)."""

    help = (
        "Compare the models with the live schema of every datasource (tables, columns, "
        "named indexes and constraints, partitions); exit 1 on any drift."
    )
    requires_system_checks = []

    def add_arguments(self, parser):
        """Accept ``--database`` to check some aliases only."""
        parser.add_argument(
            "--database",
            action="append",
            dest="aliases",
            choices=list(connections),
            help="Check only this alias (repeatable); default: every alias in DATABASES.",
        )

    def handle(self, *args, aliases=None, **options):
        """Report the drift, or that there is none."""
        aliases = aliases or list(connections)
        drift = check_schema(aliases)
        for item in sorted(drift):
            self.stdout.write(str(item))
        if drift:
            raise CommandError(
                f"Schema drift: {len(drift)} difference(s) on {', '.join(aliases)}."
            )
        self.stdout.write(self.style.SUCCESS(f"No drift on {', '.join(aliases)}."))
