"""The form of a plan's schedule on the plan page (issue 15, item 4)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from testing.forms import RowForm
from testing.models import Environment, PlanSchedule, TestPlan


class PlanScheduleForm(RowForm):
    """A cron expression, its time zone, an environment of the plan's project, enabled.

    The cron field keeps what was typed when it is refused, with an error naming the field
    of the expression that is wrong (``validate_cron``).
    """

    owner_fields = ("tenant", "project", "plan", "alive")

    class Meta:
        model = PlanSchedule
        fields = ["cron", "timezone", "environment", "is_enabled"]
        widgets = {
            "cron": forms.TextInput(attrs={"class": "code", "spellcheck": "false",
                                           "autocomplete": "off", "placeholder": "0 9 * * 1-5"}),
            "timezone": forms.TextInput(attrs={"spellcheck": "false", "autocomplete": "off",
                                               "placeholder": "Asia/Shanghai"}),
        }

    def __init__(self, *args, plan: TestPlan, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["environment"].queryset = Environment.objects.filter(
            project_id=plan.project_id)
        self.fields["environment"].empty_label = _("As the plan says")
