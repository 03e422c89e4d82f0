"""API testing."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TestingConfig(AppConfig):
    """Own the API test domain of seed 001 (projects, interfaces, environments, scenarios,
    plans, executions, reports) and its execution engine."""

    name = "testing"
    verbose_name = _("API testing")
    default_auto_field = "django.db.models.BigAutoField"
