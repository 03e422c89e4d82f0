"""Choices of the MCP gateway's tables."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from core.choices import HttpMethod  # noqa: F401  (the methods of tools and routes)


class ToolType(models.TextChoices):
    """What a tool calls. ``script`` tools wait for the sandbox of a later issue."""

    API = "api", _("Registered endpoint")
    EXTERNAL = "external", _("External API")


class AuthType(models.TextChoices):
    """How an external tool authenticates to its target."""

    NONE = "none", _("None")
    BEARER = "bearer", _("Bearer token")
    API_KEY = "api_key", _("API key header")
    OAUTH = "oauth", _("OAuth 2.0 client credentials")


class CallerType(models.TextChoices):
    USER = "user", _("User")
    API_KEY = "api_key", _("API key")
