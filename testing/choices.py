"""Choices of the test domain."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class DatabaseType(models.TextChoices):
    """Databases a project's steps may query (seed 001 section 3.3)."""

    MYSQL = "mysql", _("MySQL / MariaDB")
    POSTGRESQL = "postgresql", _("PostgreSQL")
    ORACLE = "oracle", _("Oracle")


class ConnectionStatus(models.TextChoices):
    """The outcome of the last "test connection"."""

    UNKNOWN = "unknown", _("Not tested")
    CONNECTED = "connected", _("Connected")
    FAILED = "failed", _("Failed")


class BodyType(models.TextChoices):
    """How a request's body is written."""

    NONE = "none", _("None")
    JSON = "json", _("JSON")
    FORM = "form", _("Form (URL-encoded)")
    MULTIPART = "multipart", _("Multipart form")
    RAW = "raw", _("Raw text")


class KeywordType(models.TextChoices):
    """What a keyword does (seed 001 section 3.8)."""

    REQUEST = "request", _("Request")
    ASSERTION = "assertion", _("Assertion")
    EXTRACT = "extract", _("Extract")
    DB = "db", _("Database")
    CUSTOM = "custom", _("Custom")


class Priority(models.TextChoices):
    """A scenario's priority (seed 001 section 3.9)."""

    P0 = "P0", _("P0 (blocker)")
    P1 = "P1", _("P1 (critical)")
    P2 = "P2", _("P2 (normal)")
    P3 = "P3", _("P3 (minor)")


class StepKind(models.TextChoices):
    """What a scenario step runs."""

    INTERFACE = "interface", _("Interface")
    REQUEST = "request", _("Inline request")
    KEYWORD = "keyword", _("Keyword")


class RunMode(models.TextChoices):
    """How a plan runs its scenarios."""

    SERIAL = "serial", _("Serial")
    PARALLEL = "parallel", _("Parallel")


class RequestMethod(models.TextChoices):
    """The HTTP methods a test request may use."""

    GET = "GET", "GET"
    POST = "POST", "POST"
    PUT = "PUT", "PUT"
    PATCH = "PATCH", "PATCH"
    DELETE = "DELETE", "DELETE"
    HEAD = "HEAD", "HEAD"
    OPTIONS = "OPTIONS", "OPTIONS"


class RunKind(models.TextChoices):
    """What an execution runs."""

    PLAN = "plan", _("Plan")
    SCENARIO = "scenario", _("Scenario")
    INTERFACE = "interface", _("Interface")


class RunStatus(models.TextChoices):
    """The states of an execution (``../shared/TESTING.md``, "Runs")."""

    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    PAUSED = "paused", _("Paused")
    COMPLETED = "completed", _("Completed")
    FAILED = "failed", _("Failed")
    TERMINATED = "terminated", _("Terminated")


FINAL_RUN_STATUSES = (RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.TERMINATED)


class ScenarioRunStatus(models.TextChoices):
    """The states of one scenario run inside an execution."""

    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    PAUSED = "paused", _("Paused")
    PASSED = "passed", _("Passed")
    FAILED = "failed", _("Failed")
    ERROR = "error", _("Error")
    TERMINATED = "terminated", _("Terminated")


FINAL_SCENARIO_STATUSES = (ScenarioRunStatus.PASSED, ScenarioRunStatus.FAILED,
                           ScenarioRunStatus.ERROR, ScenarioRunStatus.TERMINATED)


class StepStatus(models.TextChoices):
    """The outcome of one step."""

    PASSED = "passed", _("Passed")
    FAILED = "failed", _("Failed")
    ERROR = "error", _("Error")
    SKIPPED = "skipped", _("Skipped")


class NotifyOn(models.TextChoices):
    """When the end of a plan's run is announced (notifications and the webhook)."""

    NEVER = "never", _("Never")
    FAILED = "failed", _("When a run fails")
    ALWAYS = "always", _("After every run")


class ControlRequest(models.TextChoices):
    """What a tester asked a running execution to do."""

    NONE = "", _("Nothing")
    PAUSE = "pause", _("Pause")
    TERMINATE = "terminate", _("Terminate")
