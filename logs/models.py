"""Log tables. The login log records every sign-in attempt (seed 000 section 3.9).

Log rows are append-only. Their keys are 64-bit auto-increments, and their links to tenants
and users carry no database constraint (``db_constraint=False``): the logs issue partitions
these tables by month, and MariaDB refuses foreign keys on partitioned tables. A failed
attempt may name no tenant or user at all (unknown tenant, unknown username); the attempted
tenant code and username are kept as typed.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.choices import SignInRefusal
from tenants.managers import TenantManager


class LoginStatus(models.TextChoices):
    SUCCESS = "success", _("Success")
    FAILED = "failed", _("Failed")


class LoginLog(models.Model):
    """One sign-in attempt, successful or not."""

    id = models.BigAutoField(primary_key=True)
    tenant = models.ForeignKey(
        "tenants.Tenant",
        verbose_name=_("tenant"),
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
    )
    tenant_code = models.CharField(_("tenant code entered"), max_length=50)
    username = models.CharField(_("username entered"), max_length=150)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=500, blank=True)
    login_status = models.CharField(_("status"), max_length=20, choices=LoginStatus.choices)
    reason = models.CharField(
        _("reason"), max_length=30, choices=SignInRefusal.choices, blank=True
    )
    error_message = models.TextField(_("error message"), blank=True)
    created_at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)

    objects = TenantManager()

    rbac_actions = ("view",)  # append-only: nobody creates, edits or deletes log rows
    # Data scopes reach the attempts of the users they reach.
    rbac_owner_path = "user"

    class Meta:
        db_table = "login_logs"
        verbose_name = _("login log")
        verbose_name_plural = _("login logs")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "user", "created_at"], name="login_logs_lockout_idx"),
            models.Index(fields=["tenant", "created_at"], name="login_logs_tenant_time_idx"),
            models.Index(fields=["tenant", "ip_address"], name="login_logs_tenant_ip_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.tenant_code}/{self.username} {self.login_status} {self.created_at:%Y-%m-%d %H:%M:%S}"
