"""Roll up the daily usage of every tenant (also run daily by Celery beat)."""

from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from logs.tasks import rollup_usage
from logs.usage import rollup_day


class Command(BaseCommand):
    help = (
        "Count one UTC day of sign-ins, writes and errors per tenant into analytics_data. "
        "Without --day: yesterday, plus any missing day of the week before."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--day", help="The UTC day to roll up, as YYYY-MM-DD.")

    def handle(self, *args, day: str | None = None, **options) -> None:
        if day is None:
            days = rollup_usage()
            self.stdout.write(f"Rolled up {', '.join(days)}.")
            return
        try:
            parsed = dt.date.fromisoformat(day)
        except ValueError as exc:
            raise CommandError(f"--day: {exc}") from exc
        rows = rollup_day(parsed)
        self.stdout.write(f"Rolled up {parsed.isoformat()}: {rows} tenant rows.")
