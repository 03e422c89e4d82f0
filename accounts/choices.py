"""Statuses of accounts and organisation records."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class UserStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    INACTIVE = "inactive", _("Inactive")
    LOCKED = "locked", _("Locked")


class RecordStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    INACTIVE = "inactive", _("Inactive")
