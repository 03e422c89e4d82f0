"""Cron schedules of test plans (issue 15, item 4).

A schedule's times are computed with ``cronsim`` in the schedule's own IANA time zone (the
tenants have no time zone setting, so a new schedule starts in ``settings.TIME_ZONE``), and
stored in UTC as ``next_due_at``. Celery beat calls ``testing.tasks.fire_schedules`` every
``TESTING_SCHEDULE_TICK_SECONDS``; ``testing.services.schedules.fire_due`` starts the plans
whose time has come. What a schedule did last (fired, missed, failed) stays on its row, so
one that never fires is visible to the operator rather than silently idle.
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime, timedelta

from cronsim import CronSim, CronSimError
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tenants.models import TenantModel
from testing.models.base import ProjectOwnedModel

CRON_FIELDS = 5
# A schedule past due by more than this is flagged overdue (beat down or stuck): beat
# ticks every minute, so two minutes leave room for one slow tick.
OVERDUE_AFTER = timedelta(minutes=2)
# Counting the occurrences missed while beat was down stops here ("at least" this many):
# a "* * * * *" schedule missed for a year would otherwise cost half a million steps.
MAX_MISSED_COUNTED = 10_000


def default_timezone() -> str:
    """Return the zone of a new schedule: the platform's (tenants have no zone setting)."""
    return settings.TIME_ZONE


def validate_cron(value: str) -> None:
    """Refuse anything but a valid five-field cron expression, saying what is wrong."""
    fields = (value or "").split()
    if len(fields) != CRON_FIELDS:
        raise ValidationError(
            _("A cron expression has five fields (minute, hour, day of month, month, day of "
              "week); this one has %(count)d."), code="cron_fields", params={"count": len(fields)})
    try:
        CronSim(value, datetime(2000, 1, 1, tzinfo=zoneinfo.ZoneInfo("UTC")))
    except CronSimError as exc:
        raise ValidationError(_("Not a valid cron expression: %(reason)s."), code="cron",
                              params={"reason": str(exc)}) from None


def validate_timezone(value: str) -> None:
    """Refuse a name that is not an IANA time zone."""
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValidationError(_("“%(value)s” is not a time zone name such as Europe/Paris or "
                                "Asia/Shanghai."), code="timezone", params={"value": value}) from None


class PlanSchedule(ProjectOwnedModel):
    """When a plan runs by itself: a cron expression in a time zone, and what it did last."""

    plan = models.ForeignKey("testing.TestPlan", verbose_name=_("plan"),
                             on_delete=models.CASCADE, related_name="schedules")
    cron = models.CharField(_("cron expression"), max_length=255, validators=[validate_cron],
                            help_text=_("Five fields: minute hour day-of-month month "
                                        "day-of-week, e.g. “0 9 * * 1-5”."))
    timezone = models.CharField(_("time zone"), max_length=64, default=default_timezone,
                                validators=[validate_timezone],
                                help_text=_("The IANA zone the times are in, e.g. "
                                            "Asia/Shanghai."))
    environment = models.ForeignKey(
        "testing.Environment", verbose_name=_("environment"), on_delete=models.SET_NULL,
        null=True, blank=True, related_name="+",
        help_text=_("Runs in this environment; empty: as the plan says."))
    is_enabled = models.BooleanField(_("enabled"), default=True)
    next_due_at = models.DateTimeField(_("next due at"), null=True, blank=True, editable=False)
    last_fired_at = models.DateTimeField(_("last fired at"), null=True, blank=True,
                                         editable=False)
    last_execution = models.ForeignKey(
        "testing.Execution", verbose_name=_("last execution"), on_delete=models.SET_NULL,
        null=True, blank=True, editable=False, related_name="+")
    missed_count = models.PositiveIntegerField(_("missed runs"), default=0, editable=False)
    last_missed_at = models.DateTimeField(_("last missed at"), null=True, blank=True,
                                          editable=False)
    last_error = models.TextField(_("last error"), blank=True, editable=False)

    class Meta(ProjectOwnedModel.Meta):
        db_table = "testing_plan_schedules"
        verbose_name = _("plan schedule")
        verbose_name_plural = _("plan schedules")
        ordering = ["created_at"]
        indexes = [
            models.Index(fields=["tenant", "plan"], name="testing_schedules_plan_idx"),
            models.Index(fields=["tenant", "is_enabled", "next_due_at"],
                         name="testing_schedules_due_idx"),
        ]
        constraints = [*TenantModel.Meta.constraints]

    def __str__(self) -> str:
        return f"{self.plan} · {self.cron} ({self.timezone})"

    def save(self, *args, **kwargs) -> None:
        """Save; a full save (a form, the API, the admin) computes the next due time anew."""
        if self.plan_id is not None and self.project_id is None:
            self.project_id = self.plan.project_id
        if kwargs.get("update_fields") is None:
            self.next_due_at = self.next_after(timezone.now()) if self.is_enabled else None
        super().save(*args, **kwargs)

    def clean_fields(self, exclude=None) -> None:
        """Take the project from the plan before the fields are checked."""
        if self.plan_id is not None and self.project_id is None:
            self.project_id = self.plan.project_id
        super().clean_fields(exclude=exclude)

    def clean(self) -> None:
        """Refuse a plan or environment of another project."""
        super().clean()
        errors = self.check_same_project(
            plan=self.plan if self.plan_id else None,
            environment=self.environment if self.environment_id else None)
        if errors:
            raise ValidationError(errors)

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        """Return the schedule's time zone."""
        return zoneinfo.ZoneInfo(self.timezone)

    def times_after(self, moment: datetime):
        """Yield the schedule's times strictly after ``moment``, in its zone."""
        return CronSim(self.cron, moment.astimezone(self.zone))

    def next_after(self, moment: datetime) -> datetime:
        """Return the schedule's first time strictly after ``moment``."""
        return next(self.times_after(moment))

    def next_times(self, count: int = 3, after: datetime | None = None) -> list[datetime]:
        """Return the next ``count`` times from ``after`` (default: now), in the zone."""
        times = self.times_after(after or timezone.now())
        try:
            return [next(times) for _ in range(count)]
        except (StopIteration, CronSimError, ValueError):
            return []

    def is_overdue(self, now: datetime | None = None) -> bool:
        """Return whether an enabled schedule should have fired already (beat down?)."""
        now = now or timezone.now()
        return bool(self.is_enabled and self.next_due_at
                    and self.next_due_at < now - OVERDUE_AFTER)
