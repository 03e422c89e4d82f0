"""The order of a plan's scenarios."""

from __future__ import annotations

from django.db import transaction

from testing.models import PlanScenario, TestPlan


@transaction.atomic
def move_entry(plan: TestPlan, entry: PlanScenario, offset: int) -> int:
    """Move ``entry`` ``offset`` places (-1 up, +1 down); return its new position (1-based)."""
    entries = list(plan.entries.select_for_update().order_by("sort_order", "id"))
    index = [e.pk for e in entries].index(entry.pk)
    target = min(max(index + offset, 0), len(entries) - 1)
    entries.insert(target, entries.pop(index))
    changed = []
    for position, row in enumerate(entries, start=1):
        if row.sort_order != position * 10:
            row.sort_order = position * 10
            changed.append(row)
    if changed:
        PlanScenario.objects.bulk_update(changed, ["sort_order"])
    return target + 1
