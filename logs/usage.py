"""Daily usage rollups per tenant (issue 4 item 6; seed 003 section 6.3, seed 000 section 4.2).

``rollup_day`` counts one UTC day of the log tables on ``default`` (sign-ins, logged
operations, and what other apps register: MCP tool calls) for every tenant and upserts one ``UsageDaily`` row per tenant
on the analytics datasource (the alias the router gives ``analytics_data``: ``postgres_db``
when configured). Re-running a day replaces its numbers. ``usage_for`` reads one tenant's
rows back, filtered by tenant id explicitly.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable

from django.db import connections, router, transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from core.context import all_tenants
from logs.models import (
    BusinessType,
    LoginLog,
    LoginStatus,
    OperationLog,
    OperationStatus,
    UsageDaily,
)
from tenants.models import Tenant

WRITE_TYPES = (BusinessType.CREATE, BusinessType.UPDATE, BusinessType.DELETE)
DASHBOARD_DAYS = 30
COUNTED_FIELDS = ("logins", "failed_logins", "active_users", "writes", "errors", "mcp_calls")


# Counters other apps add to the rollup: column of UsageDaily -> function of the day's UTC
# bounds returning counts per tenant id. The MCP gateway registers "mcp_calls" when it
# starts (gateway.apps), so the log tables' app needs no import of it.
_counters: dict[str, Callable[[dt.datetime, dt.datetime], dict[uuid.UUID, int]]] = {}


def register_counter(
    field: str, count: Callable[[dt.datetime, dt.datetime], dict[uuid.UUID, int]]
) -> None:
    """Add ``count`` as the source of the ``UsageDaily`` column ``field``."""
    if field not in COUNTED_FIELDS:
        raise ValueError(f"UsageDaily has no counter column {field!r}.")
    _counters[field] = count


def per_tenant(rows: Iterable[dict], key: str) -> dict[uuid.UUID, int]:
    """Return ``{tenant_id: row[key]}`` of aggregate rows, leaving rows without a tenant out."""
    return {row["tenant_id"]: row[key] for row in rows if row["tenant_id"] is not None}


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """Return the UTC instants that start ``day`` and the day after it."""
    start = dt.datetime.combine(day, dt.time.min, tzinfo=dt.timezone.utc)
    return start, start + dt.timedelta(days=1)


def count_day(day: dt.date, only: uuid.UUID | None = None) -> dict[uuid.UUID, dict[str, int]]:
    """Return every tenant's counters for ``day`` (UTC), from the logs on ``default``; only
    the tenant ``only``'s when it is given.

    Counted by the tenant the activity happened in. Active users are the distinct users
    with a successful sign-in or a logged operation; an operator acting inside a tenant
    (``operator_tenant`` set) is not one of that tenant's users, so is not counted there.
    """
    start, end = day_bounds(day)
    in_day = Q(created_at__gte=start, created_at__lt=end)
    if only is not None:
        in_day &= Q(tenant_id=only)
    logins = LoginLog.objects.all_tenants().filter(in_day).values("tenant_id").annotate(
        ok=Count("id", filter=Q(login_status=LoginStatus.SUCCESS)),
        failed=Count("id", filter=Q(login_status=LoginStatus.FAILED)),
    ).order_by()
    operations = OperationLog.objects.all_tenants().filter(in_day).values("tenant_id").annotate(
        writes=Count("id", filter=Q(business_type__in=WRITE_TYPES)),
        errors=Count(
            "id", filter=Q(status=OperationStatus.FAILED) | Q(response_status__gte=500)
        ),
    ).order_by()
    # Distinct (tenant, user) pairs of both logs; a day's pairs are bounded by the users.
    active: dict[uuid.UUID, set] = defaultdict(set)
    signed_in = LoginLog.objects.all_tenants().filter(
        in_day, login_status=LoginStatus.SUCCESS, user_id__isnull=False
    )
    acted = OperationLog.objects.all_tenants().filter(
        in_day, user_id__isnull=False, operator_tenant_id__isnull=True
    )
    for queryset in (signed_in, acted):
        for tenant_id, user_id in queryset.values_list("tenant_id", "user_id").distinct().order_by():
            if tenant_id is not None:
                active[tenant_id].add(user_id)

    login_rows = list(logins)
    operation_rows = list(operations)
    ok, failed = per_tenant(login_rows, "ok"), per_tenant(login_rows, "failed")
    writes, errors = per_tenant(operation_rows, "writes"), per_tenant(operation_rows, "errors")
    added = {field: count(start, end) for field, count in _counters.items()}
    tenant_ids = [only] if only is not None else Tenant.objects.values_list("id", flat=True)
    return {
        tenant_id: {
            "logins": ok.get(tenant_id, 0),
            "failed_logins": failed.get(tenant_id, 0),
            "active_users": len(active.get(tenant_id, ())),
            "writes": writes.get(tenant_id, 0),
            "errors": errors.get(tenant_id, 0),
            **{field: counts.get(tenant_id, 0) for field, counts in added.items()},
        }
        for tenant_id in tenant_ids
    }


def rollup_day(day: dt.date) -> int:
    """Count ``day`` (UTC) for every tenant and upsert its ``UsageDaily`` rows; return how many.

    Every tenant gets a row, zeros included, so that a day with rows is a day rolled up
    (``missing_days``). Rows of the day for tenants that no longer exist are removed.
    """
    with all_tenants():
        counts = count_day(day)
    now = timezone.now()
    rows = [
        UsageDaily(tenant_id=tenant_id, day=day, computed_at=now, **counters)
        for tenant_id, counters in counts.items()
    ]
    alias = router.db_for_write(UsageDaily)
    with transaction.atomic(using=alias):
        UsageDaily.objects.using(alias).filter(day=day).exclude(
            tenant_id__in=list(counts)
        ).delete()
        UsageDaily.objects.using(alias).bulk_create(
            rows,
            update_conflicts=True,
            # MySQL/MariaDB upsert on any unique key and refuse a named target.
            unique_fields=(
                ["tenant_id", "day"]
                if connections[alias].features.supports_update_conflicts_with_target
                else None
            ),
            update_fields=[*COUNTED_FIELDS, "computed_at"],
        )
    return len(rows)


def recent_days(count: int = DASHBOARD_DAYS) -> list[dt.date]:
    """Return the last ``count`` days (UTC), today included, oldest first: what the usage
    dashboard shows."""
    today = timezone.now().astimezone(dt.timezone.utc).date()
    return [today - dt.timedelta(days=n) for n in range(count - 1, -1, -1)]


def live_day(tenant: Tenant, day: dt.date) -> UsageDaily:
    """Return ``tenant``'s counters of ``day`` counted from the logs now, unsaved: today's
    figures, which the daily rollup stores only once the day is over. Platform work on
    the log tables, limited to the tenant by its id, as the rollup is."""
    with all_tenants():
        counts = count_day(day, only=tenant.pk).get(tenant.pk, {})
    return UsageDaily(tenant_id=tenant.pk, day=day, computed_at=timezone.now(), **counts)


def rollup_missing(days: Iterable[dt.date]) -> list[dt.date]:
    """Roll up the days among ``days`` (before today, UTC) that have no rows yet, and
    yesterday again (its last hours may have come after its first rollup); return them."""
    today = timezone.now().astimezone(dt.timezone.utc).date()
    past = [day for day in days if day < today]
    done = missing_days(past)
    yesterday = today - dt.timedelta(days=1)
    if yesterday in past and yesterday not in done:
        done.append(yesterday)
    for day in done:
        rollup_day(day)
    return done


def missing_days(days: Iterable[dt.date]) -> list[dt.date]:
    """Return the days among ``days`` that have no usage rows yet, oldest first."""
    days = sorted(set(days))
    done = set(
        UsageDaily.objects.using(router.db_for_read(UsageDaily))
        .filter(day__in=days)
        .values_list("day", flat=True)
        .distinct()
    )
    return [day for day in days if day not in done]


def usage_for(tenant: Tenant | uuid.UUID, start: dt.date, end: dt.date) -> QuerySet[UsageDaily]:
    """Return ``tenant``'s usage rows from ``start`` to ``end`` (both included), by day."""
    tenant_id = getattr(tenant, "pk", tenant)
    return (
        UsageDaily.objects.using(router.db_for_read(UsageDaily))
        .filter(tenant_id=tenant_id, day__gte=start, day__lte=end)
        .order_by("day")
    )
