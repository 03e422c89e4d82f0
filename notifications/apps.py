"""Notifications."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    """Own notifications to a tenant's users, departments and role holders (seed 000
    section 3.14), their read receipts, the inbox pages and API, and the unread badge."""

    name = "notifications"
    verbose_name = _("Notifications")
    default_auto_field = "django.db.models.BigAutoField"
