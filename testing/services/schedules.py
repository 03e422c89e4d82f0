"""Firing the schedules of test plans (issue 15, item 4), from Celery beat.

``fire_due`` runs under no tenant (``testing.tasks.fire_schedules`` is a platform task): it
reads the due schedules of every tenant explicitly (``all_tenants()``) and starts each plan
inside the schedule's own tenant context, as a tester of that tenant would.

Each schedule is fired in a transaction of its own, its row locked with ``SKIP LOCKED``
where the backend has it, and read again under the lock: two beats (or a slow tick and the
next) never fire one schedule twice, and one schedule that fails never holds up the rest.

A schedule found more than one interval late (beat was down) fires once, not once per
occurrence missed: a burst of catch-up runs would load the target for nothing. The
occurrences skipped are counted (``missed_count``, ``last_missed_at``) so the operator sees
that beat was down. A plan that cannot start records why (``last_error``) and the schedule
moves on to its next time, never retried in a tight loop.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.context import tenant_context
from testing.models import TestPlan
from testing.models.schedules import MAX_MISSED_COUNTED, PlanSchedule
from testing.services import runs

logger = logging.getLogger(__name__)

# Schedules fired per call at most; the rest wait for the next tick (a minute later).
BATCH = 500


@dataclass
class Fired:
    """What firing one schedule did."""

    schedule: str
    execution: str | None
    missed: int
    error: str


def count_missed(schedule: PlanSchedule, due: datetime, now: datetime) -> int:
    """Return how many of the schedule's times after ``due`` and up to ``now`` passed."""
    missed = 0
    for moment in schedule.times_after(due):
        if moment > now or missed >= MAX_MISSED_COUNTED:
            break
        missed += 1
    return missed


def fire_due(now: datetime | None = None) -> list[dict]:
    """Start the plans of every tenant's enabled schedules that are due; return what each did."""
    now = now or timezone.now()
    due_ids = list(PlanSchedule.objects.all_tenants()
                   .filter(is_enabled=True, next_due_at__lte=now)
                   .order_by("next_due_at").values_list("pk", flat=True)[:BATCH])
    done = []
    for pk in due_ids:
        fired = fire_one(pk, now)
        if fired is not None:
            done.append(asdict(fired))
    return done


def fire_one(pk, now: datetime) -> Fired | None:
    """Fire the schedule ``pk`` if it is still due and no one else holds it; else ``None``."""
    with transaction.atomic():
        rows = PlanSchedule.objects.all_tenants().filter(
            pk=pk, is_enabled=True, next_due_at__lte=now)
        if connection.features.has_select_for_update_skip_locked:
            rows = rows.select_for_update(skip_locked=True)
        else:
            rows = rows.select_for_update()
        schedule = rows.first()
        if schedule is None:
            return None  # fired meanwhile by another beat, or being fired now
        with tenant_context(schedule.tenant_id):
            return _fire(schedule, now)


def _fire(schedule: PlanSchedule, now: datetime) -> Fired:
    """Start the schedule's plan and record the outcome (the row is locked, the tenant set)."""
    due = schedule.next_due_at
    missed = count_missed(schedule, due, now)
    execution, error = None, ""
    plan = TestPlan.objects.filter(pk=schedule.plan_id, project__is_deleted=False).select_related(
        "project").first()
    if plan is None:
        error = _("The plan was deleted; the schedule cannot start it.")
    else:
        try:
            with transaction.atomic():  # a refused start leaves no half-made execution
                execution = runs.start_plan(plan, environment=schedule.environment,
                                             schedule=schedule)
        except (runs.RunRefused, ValidationError) as exc:
            error = "; ".join(getattr(exc, "messages", None) or [str(exc)])
        except Exception as exc:  # never let one schedule fire again at every tick
            logger.exception("Schedule %s could not start plan %s.", schedule.pk,
                             schedule.plan_id)
            error = _("The run could not start: %(error)s") % {"error": exc}
    if missed:
        logger.warning("Schedule %s was %d runs late (beat down?); fired once.",
                       schedule.pk, missed)
        schedule.missed_count += missed
        schedule.last_missed_at = now
    schedule.last_fired_at = now
    if execution is not None:
        schedule.last_execution = execution
    schedule.last_error = error
    schedule.next_due_at = schedule.next_after(now)
    schedule.save(update_fields=["missed_count", "last_missed_at", "last_fired_at",
                                 "last_execution", "last_error", "next_due_at", "updated_at"])
    return Fired(schedule=str(schedule.pk), execution=str(execution.pk) if execution else None,
                 missed=missed, error=error)
