"""The MCP gateway's column of the daily usage rollups (``logs.usage``)."""

from __future__ import annotations

import datetime as dt
import uuid

from django.db.models import Count

from gateway.models import McpToolCallLog
from logs.usage import per_tenant


def count_mcp_calls(start: dt.datetime, end: dt.datetime) -> dict[uuid.UUID, int]:
    """Return MCP tool calls per tenant id in ``[start, end)``.

    One per row of the call log (``mcp_tool_call_logs``), whatever its outcome: a refused
    or failed call was still made. Calls that name no tenant are not counted.
    """
    rows = (
        McpToolCallLog.objects.all_tenants()
        .filter(created_at__gte=start, created_at__lt=end)
        .values("tenant_id")
        .annotate(calls=Count("id"))
        .order_by()
    )
    return per_tenant(rows, "calls")
