"""Reads of the MCP gateway shared by its pages: a tool's usage over the last days."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from django.db.models import Avg, Count, F, Max, Min, Q, Value
from django.db.models.functions import Floor, Ln, TruncDate
from django.utils import timezone
from django.utils.translation import gettext

from core.charts import BarChart, Series, grouped_bars
from gateway.models import McpTool, McpToolCallLog
from logs.models import OperationStatus

USAGE_DAYS = 30
# Latency histogram buckets per factor e: a bucket spans about 5 %, the precision of the
# 95th percentile computed from it (one aggregate query on every backend; SQLite and
# MySQL have no percentile function).
BUCKETS_PER_E = 20
COLOURS = {"ok": "#2f6fb0", "bad": "#c0392b", "avg": "#3c8d5a", "p95": "#b7791f"}


@dataclass(frozen=True)
class ToolUsage:
    """The last days of one tool's calls, as charts and totals."""

    start: dt.date
    end: dt.date
    calls: int
    failures: int
    charts: list[BarChart]


def _bucket_edges(bucket: int) -> tuple[float, float]:
    """Return the response times (ms) at the lower and upper edge of a histogram bucket."""
    return math.exp(bucket / BUCKETS_PER_E) - 1, math.exp((bucket + 1) / BUCKETS_PER_E) - 1


def percentile(histogram: dict[int, int], fraction: float, low: int, high: int) -> int:
    """Return the ``fraction`` percentile of the latencies counted in ``histogram``
    (bucket -> count), interpolated inside its bucket and kept within ``[low, high]``."""
    total = sum(histogram.values())
    if not total:
        return 0
    rank = max(1, math.ceil(fraction * total))
    seen = 0
    for bucket in sorted(histogram):
        count = histogram[bucket]
        if seen + count >= rank:
            lower, upper = _bucket_edges(bucket)
            value = lower + (upper - lower) * (rank - seen) / count
            return int(round(min(max(value, low), high)))
        seen += count
    return high


def tool_usage(tool: McpTool, *, days: int = USAGE_DAYS, today: dt.date | None = None,
               tenant_id=None) -> ToolUsage:
    """Return the charts of ``tool``'s calls over the last ``days`` days (UTC, today included),
    by the callers of ``tenant_id`` (default: the tool's tenant).

    Two aggregate queries: one per day (calls, failures, average, minimum and maximum
    response time) for the calls and error-rate charts and the average, one histogram of
    response times per day for the 95th percentile.
    """
    end = today or timezone.now().astimezone(dt.timezone.utc).date()
    start = end - dt.timedelta(days=days - 1)
    since = dt.datetime.combine(start, dt.time.min, tzinfo=dt.timezone.utc)
    # The manager keeps a tenant user to their tenant; the filter names the tool's.
    calls = McpToolCallLog.objects.filter(tenant_id=tenant_id or tool.tenant_id, tool_id=tool.pk,
                                          created_at__gte=since)
    day = TruncDate("created_at", tzinfo=dt.timezone.utc)
    daily = {
        _as_date(row["day"]): row
        for row in calls.annotate(day=day).values("day").annotate(
            calls=Count("id"),
            failures=Count("id", filter=Q(status=OperationStatus.FAILED)),
            average=Avg("response_time"),
            low=Min("response_time"),
            high=Max("response_time"),
        ).order_by()
    }
    histograms: dict[dt.date, dict[int, int]] = {}
    bucket = Floor(Ln(F("response_time") + Value(1)) * Value(BUCKETS_PER_E))
    for row in calls.annotate(day=day, bucket=bucket).values("day", "bucket").annotate(
        n=Count("id")
    ).order_by():
        histograms.setdefault(_as_date(row["day"]), {})[int(row["bucket"])] = row["n"]

    dates = [start + dt.timedelta(days=n) for n in range(days)]
    labels = [date.strftime("%m-%d") for date in dates]
    empty = {"calls": 0, "failures": 0, "average": 0, "low": 0, "high": 0}
    rows = [daily.get(date, empty) for date in dates]
    successes = [row["calls"] - row["failures"] for row in rows]
    failures = [row["failures"] for row in rows]
    error_rates = [round(100 * row["failures"] / row["calls"]) if row["calls"] else 0
                   for row in rows]
    averages = [round(row["average"] or 0) for row in rows]
    p95 = [percentile(histograms.get(date, {}), 0.95, row["low"] or 0, row["high"] or 0)
           for date, row in zip(dates, rows)]
    charts = [
        grouped_bars(gettext("Calls per day"), labels, [
            Series(gettext("Successes"), successes, COLOURS["ok"]),
            Series(gettext("Failures"), failures, COLOURS["bad"]),
        ]),
        grouped_bars(gettext("Error rate per day (%)"), labels, [
            Series(gettext("Error rate (%)"), error_rates, COLOURS["bad"]),
        ]),
        grouped_bars(gettext("Response time per day (ms)"), labels, [
            Series(gettext("Average"), averages, COLOURS["avg"]),
            Series(gettext("95th percentile"), p95, COLOURS["p95"]),
        ]),
    ]
    return ToolUsage(start=start, end=end, calls=sum(row["calls"] for row in rows),
                     failures=sum(failures), charts=charts)


def _as_date(value) -> dt.date:
    # SQLite answers TruncDate with text.
    return dt.date.fromisoformat(value) if isinstance(value, str) else value
