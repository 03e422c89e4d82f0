"""Choices of the MCP gateway's tables."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from core.choices import HttpMethod  # noqa: F401  (the methods of tools and routes)


class ToolType(models.TextChoices):
    """What a tool calls: a registered endpoint, an external URL, or a global function of
    its tenant run in the sandbox of user code (``script``, seed 000 section 3.7)."""

    API = "api", _("Registered endpoint")
    EXTERNAL = "external", _("External API")
    SCRIPT = "script", _("Script (global function)")


class AuthType(models.TextChoices):
    """How an external tool authenticates to its target."""

    NONE = "none", _("None")
    BEARER = "bearer", _("Bearer token")
    API_KEY = "api_key", _("API key header")
    OAUTH = "oauth", _("OAuth 2.0 client credentials")


class CallerType(models.TextChoices):
    USER = "user", _("User")
    API_KEY = "api_key", _("API key")
