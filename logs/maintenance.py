"""Keep the monthly partitions of every declared log table (``logs.partitioning``).

``maintain_partitions`` runs daily on Celery beat (``logs.tasks.maintain_partitions``) and
as the ``maintain_partitions`` management command. Per partitioned model, on the alias the
router gives it:

1. Every month from the oldest one still needed up to ``future_months`` ahead of now has
   its partition. "Oldest needed" is the oldest existing monthly partition, the current
   month, or the oldest row waiting in the catch-all, whichever is earliest, but never a
   month that has wholly expired.
2. Rows waiting in the catch-all for a month that gets its partition are moved into it.
   MariaDB's ``REORGANIZE PARTITION`` moves them itself. PostgreSQL refuses to create a
   partition whose rows sit in the DEFAULT partition, so in one transaction holding an
   ACCESS EXCLUSIVE lock on the table the rows are taken out of the default partition, the
   partitions created and the rows inserted again.
3. Monthly partitions whose whole month is older than the retention are dropped, never the
   catch-all; on PostgreSQL rows of wholly expired months are also deleted from the DEFAULT
   partition (on MariaDB such rows live in the oldest monthly partition, dropped with it).

Running it twice changes nothing (the second report has no change). Inserts that arrive
while it runs wait for its lock (PostgreSQL) or metadata lock (MariaDB) and are never lost.

Every run, whatever it changed, is recorded as one ``OperationLog`` row (``record_run``):
module ``logs``, operation ``maintain_partitions``, the method and URI of what started it
(``TASK`` and the task's name, ``COMMAND`` and the command line, ``CALL`` for a direct
call), the report as the new value (partitions created and dropped, rows moved and dropped
per table, and a summary that says "nothing to do" when nothing changed), the status, the
error of a failed run with the report as far as it got, the execute time and the request id
(the task's, else a new one). The row names no tenant: this is platform work. Writing that
row never breaks the maintenance; a failure to write it goes to the application log.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from dataclasses import asdict, dataclass, field

from django.db import connections, router, transaction
from django.utils import timezone

from core import logrows, rls
from core.context import current_request_id, get_current_actor_id, platform_statements
from core.redaction import jsonable
from logs import audit
from logs import partitioning as p

logger = logging.getLogger(__name__)


@dataclass
class TableReport:
    """What maintenance did to one table."""

    table: str
    alias: str
    created: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    moved_rows: int = 0  # rows moved out of the catch-all into their month
    dropped_rows: int = 0  # rows that went with dropped partitions
    purged_rows: int = 0  # rows of expired months deleted from the catch-all
    skipped: str = ""  # why nothing was looked at (plain table)
    failed: str = ""  # the error that stopped the run at this table

    @property
    def changed(self) -> bool:
        """Return whether anything in the database changed."""
        return bool(self.created or self.dropped or self.moved_rows or self.purged_rows)

    def __str__(self) -> str:
        head = f"{self.table} ({self.alias}):"
        if self.skipped:
            return f"{head} skipped, {self.skipped}"
        if not self.changed:
            return f"{head} failed, {self.failed}" if self.failed else f"{head} nothing to do"
        parts = []
        if self.created:
            parts.append(f"created {', '.join(self.created)}")
        if self.moved_rows:
            parts.append(f"moved {self.moved_rows} rows out of the catch-all")
        if self.dropped:
            parts.append(f"dropped {', '.join(self.dropped)} ({self.dropped_rows} rows)")
        if self.purged_rows:
            parts.append(f"deleted {self.purged_rows} expired rows from the catch-all")
        if self.failed:
            parts.append(f"then failed, {self.failed}")
        return f"{head} {'; '.join(parts)}"


@dataclass
class Report:
    """What maintenance did, per table."""

    now: dt.datetime
    tables: list[TableReport] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """Return whether any table changed."""
        return any(table.changed for table in self.tables)

    def as_dict(self) -> dict:
        """Return the report as JSON-serialisable data (the Celery task's result)."""
        return {
            "now": self.now.isoformat(),
            "changed": self.changed,
            "summary": str(self),
            "tables": [asdict(table) for table in self.tables],
        }

    def __str__(self) -> str:
        return "\n".join(str(table) for table in self.tables) or "no partitioned tables"


@dataclass(frozen=True)
class Plan:
    """The changes one table needs, computed from its current partitions."""

    partitions: p.Partitions
    missing: list[dt.datetime]
    expired: dict[dt.datetime, str]
    horizon_end: dt.datetime  # first instant after the last wanted month
    purge_before: dt.datetime | None  # catch-all rows older than this have expired

    @property
    def empty(self) -> bool:
        return not (self.missing or self.expired)


MODULE = "logs"
OPERATION = "maintain_partitions"


def maintain_partitions(
    now: dt.datetime | None = None,
    *,
    method: str = "CALL",
    uri: str = "logs.maintenance.maintain_partitions",
) -> Report:
    """Create, fill and drop monthly partitions of every declared model; return a report.

    The run is recorded in the operation log under ``method`` and ``uri`` (what started
    it), also when it fails; the failure is raised after that.
    """
    started = time.monotonic()
    report = Report(now=now or timezone.now())
    error = None
    # Platform work on every tenant's rows: past row-level security's policies (core.rls).
    with platform_statements():
        try:
            _maintain(report)
        except Exception as exc:
            error = exc
            raise
        finally:
            record_run(
                report, method=method, uri=uri, error=error, explicit_now=now is not None,
                elapsed_ms=int((time.monotonic() - started) * 1000),
            )
    return report


def record_run(report: Report, *, method: str, uri: str, elapsed_ms: int,
               error: BaseException | None = None, explicit_now: bool = False) -> None:
    """Write one operation log row for a maintenance run; report a failure, never raise it."""
    from logs.models import BusinessType, OperationLog, OperationStatus

    failure = ("Could not record partition maintenance (%s) in the operation log", uri)
    try:
        actor_id = get_current_actor_id()
        username = audit.actor_details(audit.current(), actor_id)[0] if actor_id else ""
        row = OperationLog(
            tenant_id=None,  # platform work: every tenant's log tables at once
            user_id=actor_id,
            username=username,
            request_id=current_request_id() or str(uuid.uuid4()),
            module=MODULE,
            operation=OPERATION,
            business_type=BusinessType.OTHER,
            method=method[:10],
            uri=jsonable(uri)[:500],
            request_params={"now": report.now.isoformat()} if explicit_now else None,
            response_status=0,  # no HTTP response: the status says how it ended
            new_value=audit.truncate(jsonable(report.as_dict())),
            execute_time=max(elapsed_ms, 0),
            status=OperationStatus.FAILED if error is not None else OperationStatus.SUCCESS,
            error_message=(
                audit.truncate_text(jsonable(f"{type(error).__name__}: {error}"))
                if error is not None else ""
            ),
        )
    except Exception:
        logger.exception(*failure)
        return
    logrows.write_log_rows([([row], failure)], audit.log_alias())


def _maintain(report: Report) -> None:
    """Maintain every declared model's partitions, adding to ``report`` as it goes."""
    now = report.now
    for model in p.partitioned_models():
        alias = router.db_for_write(model)
        table_report = TableReport(table=model._meta.db_table, alias=alias)
        connection = connections[alias]
        if not p.is_supported(connection):
            table_report.skipped = f"{connection.vendor} keeps plain tables"
        elif not p.read_partitions(connection, model._meta.db_table).partitioned:
            table_report.skipped = "the table is not partitioned (migrations not applied?)"
        report.tables.append(table_report)
        if table_report.skipped:
            continue
        try:
            if connection.vendor == "postgresql":
                _maintain_postgres(connection, model, now, table_report)
                if table_report.created and rls.is_tenant_owned(model):
                    rls.protect_table(connection, model._meta.db_table)
            else:
                _maintain_mysql(connection, model, now, table_report)
        except Exception as exc:
            if connection.vendor == "postgresql":
                # One transaction per table on PostgreSQL: none of it happened.
                table_report.created, table_report.dropped = [], []
                table_report.moved_rows = table_report.dropped_rows = 0
                table_report.purged_rows = 0
            table_report.failed = f"{type(exc).__name__}: {exc}"
            raise
        if table_report.changed:
            logger.info("Partition maintenance: %s", table_report)


def _plan(connection, model, now: dt.datetime) -> Plan:
    declaration = p.partitioning_of(model)
    table = model._meta.db_table
    column = model._meta.get_field(declaration.column).column
    partitions = p.read_partitions(connection, table)
    now_month = p.month_start(now)
    last_month = p.shift_months(now_month, declaration.future_months)
    horizon_end = p.shift_months(last_month, 1)
    start = min([now_month, *partitions.months])
    if connection.vendor == "postgresql" and partitions.catch_all:
        # Rows waiting in DEFAULT for a month before the first partition get their month too.
        qn = connection.ops.quote_name
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT MIN({qn(column)}) FROM {qn(partitions.catch_all)} WHERE {qn(column)} < %s",
                [horizon_end],
            )
            oldest = cursor.fetchone()[0]
        if oldest is not None:
            start = min(start, p.month_start(oldest))
    retention = declaration.retention_for(table)
    expired, purge_before = {}, None
    if retention is not None:
        cutoff = retention.cutoff(now)
        purge_before = p.month_start(cutoff)  # months before this one have wholly expired
        start = max(start, purge_before)
        expired = {
            month: name
            for month, name in partitions.months.items()
            if p.shift_months(month, 1) <= cutoff
        }
    missing = [month for month in p.month_range(start, last_month) if month not in partitions.months]
    return Plan(partitions, missing, expired, horizon_end, purge_before)


def _count(cursor, sql: str, params=None) -> int:
    cursor.execute(sql, params or [])
    return cursor.fetchone()[0]


def _maintain_postgres(connection, model, now, report: TableReport) -> None:
    qn = connection.ops.quote_name
    table = model._meta.db_table
    column = model._meta.get_field(p.partitioning_of(model).column).column
    plan = _plan(connection, model, now)
    if plan.empty and not _postgres_catch_all_has_work(connection, plan, column):
        return
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        # Inserts wait for the lock; planning again under it sees every committed row.
        cursor.execute(f"LOCK TABLE {qn(table)} IN ACCESS EXCLUSIVE MODE")
        plan = _plan(connection, model, now)
        default = plan.partitions.catch_all
        if plan.missing:
            start = min(plan.missing)
            cursor.execute(f"CREATE TEMPORARY TABLE {qn(table + '__moving')} (LIKE {qn(table)}) ON COMMIT DROP")
            cursor.execute(
                f"WITH moved AS (DELETE FROM {qn(default)} WHERE {qn(column)} >= %s "
                f"AND {qn(column)} < %s RETURNING *) "
                f"INSERT INTO {qn(table + '__moving')} SELECT * FROM moved",
                [start, plan.horizon_end],
            )
            report.moved_rows = max(cursor.rowcount, 0)
            for month in plan.missing:
                cursor.execute(p.postgres_partition_sql(connection, table, month))
                report.created.append(p.partition_name(table, month, "postgresql"))
            cursor.execute(f"INSERT INTO {qn(table)} SELECT * FROM {qn(table + '__moving')}")
            cursor.execute(f"DROP TABLE {qn(table + '__moving')}")
        if plan.purge_before is not None:
            cursor.execute(
                f"DELETE FROM {qn(default)} WHERE {qn(column)} < %s", [plan.purge_before]
            )
            report.purged_rows = max(cursor.rowcount, 0)
        for name in plan.expired.values():
            report.dropped_rows += _count(cursor, f"SELECT COUNT(*) FROM {qn(name)}")
            cursor.execute(f"DROP TABLE {qn(name)}")
            report.dropped.append(name)


def _postgres_catch_all_has_work(connection, plan: Plan, column: str) -> bool:
    """Return whether the DEFAULT partition holds rows of wholly expired months."""
    if plan.purge_before is None or not plan.partitions.catch_all:
        return False
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT 1 FROM {qn(plan.partitions.catch_all)} WHERE {qn(column)} < %s LIMIT 1",
            [plan.purge_before],
        )
        return cursor.fetchone() is not None


def _maintain_mysql(connection, model, now, report: TableReport) -> None:
    qn = connection.ops.quote_name
    table = model._meta.db_table
    column = model._meta.get_field(p.partitioning_of(model).column).column
    plan = _plan(connection, model, now)
    if plan.empty:
        return
    # Each missing month splits the partition that holds its range today: the first
    # monthly partition after it, or the catch-all.
    splits: dict[str, list[dt.datetime]] = {}
    existing = sorted(plan.partitions.months.items())
    for month in plan.missing:
        source = next((name for start, name in existing if start > month), p.MYSQL_CATCH_ALL)
        splits.setdefault(source, []).append(month)
    with connection.cursor() as cursor:
        for source, months in splits.items():
            months.sort()
            new_end = p.shift_months(months[-1], 1)
            report.moved_rows += _count(
                cursor,
                f"SELECT COUNT(*) FROM {qn(table)} PARTITION ({qn(source)}) WHERE {qn(column)} < %s",
                [new_end.replace(tzinfo=None)],
            )
            if source == p.MYSQL_CATCH_ALL:
                source_clause = p.mysql_catch_all_clause(connection)
            else:
                source_month = p.parse_month_suffix(source)
                source_clause = p.mysql_partition_clause(connection, source_month)
            cursor.execute(p.mysql_reorganize_sql(connection, table, source, months, source_clause))
            report.created.extend(p.month_suffix(month) for month in months)
        if plan.expired:
            names = ", ".join(qn(name) for name in plan.expired.values())
            report.dropped_rows = _count(
                cursor, f"SELECT COUNT(*) FROM {qn(table)} PARTITION ({names})"
            )
            cursor.execute(f"ALTER TABLE {qn(table)} DROP PARTITION {names}")
            report.dropped.extend(plan.expired.values())
    report.created.sort()
