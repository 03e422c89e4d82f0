"""``manage.py export_tenant CODE --out FILE``: one tenant's rows to a versioned archive."""

from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from config.tenant_archive import ArchiveError, LogWindow, export_tenant


def _moment(value: str, option: str) -> dt.datetime:
    """Return an aware datetime from ``YYYY-MM-DD`` (midnight UTC) or an ISO datetime."""
    try:
        parsed = parse_datetime(value)
        if parsed is None:
            day = parse_date(value)
            if day is None:
                raise ValueError(value)
            parsed = dt.datetime.combine(day, dt.time.min)
    except ValueError:
        raise CommandError(f"{option}: {value!r} is not a date (YYYY-MM-DD) or an ISO "
                           "datetime.") from None
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, dt.timezone.utc)
    return parsed


class Command(BaseCommand):
    """Write every row tenant CODE owns (config.tenant_archive) to one archive file."""

    help = ("Export one tenant's rows (every app; logs optionally limited to a date range; "
            "sealed secrets stay sealed) to a .tar.gz archive that import_tenant restores.")

    def add_arguments(self, parser):
        """Take the tenant code, the output file and the log window."""
        parser.add_argument("code", help="The tenant's code.")
        parser.add_argument("--out", required=True, help="The archive to write (.tar.gz).")
        parser.add_argument("--logs-from", help="Only logs at or after this date/time (UTC).")
        parser.add_argument("--logs-to", help="Only logs before this date/time (UTC).")
        parser.add_argument("--no-logs", action="store_true", help="Leave the logs out.")

    def handle(self, *args, code, out, logs_from=None, logs_to=None, no_logs=False, **options):
        """Export, then print the tables and row counts."""
        window = LogWindow(
            include=not no_logs,
            start=_moment(logs_from, "--logs-from") if logs_from else None,
            end=_moment(logs_to, "--logs-to") if logs_to else None,
        )
        if window.start and window.end and window.start >= window.end:
            raise CommandError("--logs-from must be before --logs-to.")
        try:
            result = export_tenant(code, out, logs=window)
        except ArchiveError as exc:
            raise CommandError(str(exc)) from exc
        tables = result.manifest["tables"]
        total = sum(entry["rows"] for entry in tables)
        for entry in tables:
            if entry["rows"]:
                self.stdout.write(f"  {entry['model']:<36} {entry['rows']:>7} rows")
        for key, count in sorted(result.manifest["external_references_dropped"].items()):
            self.stdout.write(f"  {key}: {count} reference(s) to users outside the tenant "
                              "left empty")
        self.stdout.write(self.style.SUCCESS(
            f"Exported tenant {result.manifest['tenant']['code']!r}: {total} rows in "
            f"{len(tables)} tables to {result.path} ({result.seconds:.2f} s)."))
