"""Accounts."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    """Own the user model, departments (a tree of at most five levels), positions, sign-in
    with tenant code + username + password, lockout after repeated failures, and (as the
    platform grows) API keys and notifications."""

    name = "accounts"
    verbose_name = _("Accounts")
    default_auto_field = "django.db.models.BigAutoField"
