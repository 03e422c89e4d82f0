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


class SignInRefusal(models.TextChoices):
    """Why a sign-in was refused; recorded in the login log."""

    BAD_CREDENTIALS = "bad_credentials", _("Unknown tenant, unknown user or wrong password")
    LOCKED = "locked", _("Account locked")
    INACTIVE = "inactive", _("Account inactive")
    DELETED = "deleted", _("Account deleted")
    TENANT_INACTIVE = "tenant_inactive", _("Tenant inactive")
    TENANT_EXPIRED = "tenant_expired", _("Tenant expired")
