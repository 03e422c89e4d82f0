"""Keep the monthly partitions of the log tables (also run daily by Celery beat).

Each run is recorded in the operation log (method ``COMMAND``, the command line as URI).
"""

from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from logs.maintenance import maintain_partitions


class Command(BaseCommand):
    help = (
        "Create the monthly partitions of the log tables ahead of time, move rows out of "
        "the catch-all into their month and drop partitions past their retention."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--now",
            help="Act as if it were this ISO 8601 instant (UTC when no offset is given).",
        )

    def handle(self, *args, now: str | None = None, **options) -> None:
        moment = None
        if now:
            try:
                moment = dt.datetime.fromisoformat(now)
            except ValueError as exc:
                raise CommandError(f"--now: {exc}") from exc
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=dt.timezone.utc)
        command = "manage.py maintain_partitions" + (f" --now {now}" if now else "")
        try:
            report = maintain_partitions(now=moment, method="COMMAND", uri=command)
        except Exception as exc:
            # Already recorded in the operation log, with the report as far as it got.
            raise CommandError(f"Partition maintenance failed: {exc}") from exc
        self.stdout.write(str(report))
