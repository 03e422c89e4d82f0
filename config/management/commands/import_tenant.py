"""``manage.py import_tenant FILE [--as CODE]``: restore an archive into an empty tenant."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from config.tenant_archive import ArchiveError, import_archive, iter_report_lines


class Command(BaseCommand):
    """Restore an export_tenant archive, all or nothing, and verify it (config.tenant_archive)."""

    help = ("Restore a tenant archive into an empty tenant (created when missing) in one "
            "transaction with new keys, then check row counts and checksums against the "
            "archive's manifest; any error leaves nothing behind.")

    def add_arguments(self, parser):
        """Take the archive, the target code and the sealed secrets policy."""
        parser.add_argument("file", help="The archive written by export_tenant.")
        parser.add_argument("--as", dest="code", help="The target tenant's code (default: "
                            "the source's). It must not exist or own no rows.")
        parser.add_argument("--keep-unreadable-secrets", action="store_true",
                            help="Import sealed secrets this platform's keys cannot open "
                                 "(they stay unusable until re-entered) instead of refusing.")

    def handle(self, *args, file, code=None, keep_unreadable_secrets=False, **options):
        """Import, then print the verification report."""
        try:
            report = import_archive(file, code=code,
                                    keep_unreadable_secrets=keep_unreadable_secrets)
        except ArchiveError as exc:
            raise CommandError(str(exc)) from exc
        for line in iter_report_lines(report):
            self.stdout.write(line)
