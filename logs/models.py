"""Log tables. The login log records every sign-in attempt (seed 000 section 3.9).

Log rows are append-only. Their keys are 64-bit auto-increments, and their links to tenants
and users carry no database constraint (``db_constraint=False``): the logs issue partitions
these tables by month, and MariaDB refuses foreign keys on partitioned tables. A failed
attempt may name no tenant or user at all (unknown tenant, unknown username); the attempted
tenant code and username are kept as typed.

The tenant-and-time index of every log ends with ``id``: the lists page by
``(-created_at, -id)``, and on a partitioned MariaDB table only an index that names ``id``
gives that order without a filesort (``bench/log_range_query.py``).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from logs.partitioning import MonthlyPartitioning, Retention
from tenants.managers import TenantManager



class SignInRefusal(models.TextChoices):
    """Why a sign-in was refused; recorded in the login log."""

    BAD_CREDENTIALS = "bad_credentials", _("Unknown tenant, unknown user or wrong password")
    LOCKED = "locked", _("Account locked")
    INACTIVE = "inactive", _("Account inactive")
    DELETED = "deleted", _("Account deleted")
    TENANT_INACTIVE = "tenant_inactive", _("Tenant inactive")
    TENANT_EXPIRED = "tenant_expired", _("Tenant expired")


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

    partitioning = MonthlyPartitioning(column="created_at", retention=Retention(months=12))
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
            models.Index(fields=["tenant", "created_at", "id"], name="login_logs_tenant_time_idx"),
            models.Index(fields=["tenant", "ip_address"], name="login_logs_tenant_ip_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.tenant_code}/{self.username} {self.login_status} {self.created_at:%Y-%m-%d %H:%M:%S}"


# An operation ends the way a sign-in does: success or failed.
OperationStatus = LoginStatus


class BusinessType(models.TextChoices):
    """What kind of request an operation log row records.

    Signing in or out is no write of a business object (issue 17, item 7): its own types
    keep it from reading as "Create" and out of the usage rollup's writes.
    """

    CREATE = "create", _("Create")
    UPDATE = "update", _("Update")
    DELETE = "delete", _("Delete")
    LOGIN = "login", _("Sign in")
    LOGOUT = "logout", _("Sign out")
    OTHER = "other", _("Other")


class ActorLog(models.Model):
    """What every log of an action shares: who acted, in which tenant, from where, when.

    Log tables are partitioned by month, so their links carry no database constraint.
    """

    id = models.BigAutoField(primary_key=True)
    tenant = models.ForeignKey(
        "tenants.Tenant", verbose_name=_("tenant"), on_delete=models.DO_NOTHING,
        db_constraint=False, null=True, blank=True, related_name="+",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.DO_NOTHING,
        db_constraint=False, null=True, blank=True, related_name="+",
    )
    username = models.CharField(_("username"), max_length=150, blank=True)
    # The platform operator's own tenant when an operator acted within another tenant.
    operator_tenant = models.ForeignKey(
        "tenants.Tenant", verbose_name=_("operator's tenant"), on_delete=models.DO_NOTHING,
        db_constraint=False, null=True, blank=True, related_name="+",
    )
    request_id = models.CharField(_("request id"), max_length=64, db_index=True)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)

    objects = TenantManager()

    rbac_actions = ("view",)  # append-only: nobody creates, edits or deletes log rows
    # Data scopes reach the rows of the users they reach.
    rbac_owner_path = "user"

    class Meta:
        abstract = True


class OperationLog(ActorLog):
    """One write request (or, with ``LOG_READS``, any request) and how it ended.

    Seed 000 section 3.10 merged with seed 004 V12's ``sys_operation_log``: who, which
    module and operation, the request, its outcome and timing, and the old/new values of
    what it changed. Written by ``logs.middleware.OperationLogMiddleware``, also for failed
    requests, outside their rolled-back transaction.
    """

    module = models.CharField(_("module"), max_length=50, blank=True)
    operation = models.CharField(_("operation"), max_length=100, blank=True)
    business_type = models.CharField(
        _("business type"), max_length=20, choices=BusinessType.choices,
        default=BusinessType.OTHER,
    )
    business_id = models.CharField(_("business id"), max_length=255, blank=True)
    method = models.CharField(_("method"), max_length=10)
    uri = models.CharField(_("URI"), max_length=500)
    request_params = models.JSONField(_("request parameters"), null=True, blank=True)
    response_status = models.PositiveSmallIntegerField(_("response status"))
    old_value = models.JSONField(_("old value"), null=True, blank=True)
    new_value = models.JSONField(_("new value"), null=True, blank=True)
    execute_time = models.PositiveIntegerField(_("execute time (ms)"), default=0)
    status = models.CharField(_("status"), max_length=20, choices=OperationStatus.choices)
    error_message = models.TextField(_("error message"), blank=True)
    partitioning = MonthlyPartitioning(column="created_at", retention=Retention(months=12))

    class Meta:
        db_table = "operation_logs"
        verbose_name = _("operation log")
        verbose_name_plural = _("operation logs")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "created_at", "id"], name="operation_logs_tenant_time_idx"),
            models.Index(fields=["tenant", "user", "created_at"], name="operation_logs_user_idx"),
            models.Index(fields=["tenant", "module", "created_at"], name="operation_logs_module_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.uri} {self.response_status}"


class AuditAction(models.TextChoices):
    CREATE = "create", _("Create")
    UPDATE = "update", _("Update")
    DELETE = "delete", _("Delete")
    RESTORE = "restore", _("Restore")
    M2M_ADD = "m2m_add", _("Relation added")
    M2M_REMOVE = "m2m_remove", _("Relation removed")
    M2M_CLEAR = "m2m_clear", _("Relations cleared")
    BULK_UPDATE = "bulk_update", _("Bulk update")
    BULK_DELETE = "bulk_delete", _("Bulk delete")


class AuditLog(ActorLog):
    """One change of one row: its field-level old and new values (seed 003 section 3.4).

    Recorded by ``logs.audit`` for every write of the platform's models, only when the
    change committed. ``entity_id`` is ``*`` for a summary of a bulk change too big to
    itemise.
    """

    source = models.CharField(_("source"), max_length=20, blank=True)
    entity_type = models.CharField(_("entity type"), max_length=100)
    entity_id = models.CharField(_("entity id"), max_length=64)
    action = models.CharField(_("action"), max_length=20, choices=AuditAction.choices)
    old_value = models.JSONField(_("old value"), null=True, blank=True)
    new_value = models.JSONField(_("new value"), null=True, blank=True)
    # Seed 003 section 6.2: audit rows are kept 90 days.
    partitioning = MonthlyPartitioning(column="created_at", retention=Retention(days=90))

    class Meta:
        db_table = "audit_logs"
        verbose_name = _("audit log")
        verbose_name_plural = _("audit logs")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "created_at", "id"], name="audit_logs_tenant_time_idx"),
            models.Index(fields=["tenant", "entity_type", "entity_id"], name="audit_logs_entity_idx"),
            models.Index(fields=["tenant", "user", "created_at"], name="audit_logs_user_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.entity_type} {self.entity_id}"


class UsageDaily(models.Model):
    """One tenant's usage on one day (UTC), rolled up from the logs (seed 003 section 6.3).

    The table is ``analytics_data``, which the route map sends to the analytics datasource
    (``postgres_db``; seed 000 section 4.2). The tenant is therefore a plain id column: a
    foreign key to ``tenants`` on another database could not be enforced. Rows are written
    by ``logs.usage.rollup_day`` only, and read through ``logs.usage.usage_for``, which
    filters by tenant id explicitly: the tenant manager's scoping would hide nothing here.
    """

    id = models.BigAutoField(primary_key=True)
    tenant_id = models.UUIDField(_("tenant id"), db_index=True)
    day = models.DateField(_("day"))
    logins = models.PositiveIntegerField(_("sign-ins"), default=0)
    failed_logins = models.PositiveIntegerField(_("failed sign-ins"), default=0)
    active_users = models.PositiveIntegerField(_("active users"), default=0)
    writes = models.PositiveIntegerField(_("writes"), default=0)
    errors = models.PositiveIntegerField(_("errors"), default=0)
    mcp_calls = models.PositiveIntegerField(_("MCP calls"), default=0)
    computed_at = models.DateTimeField(_("computed at"))

    objects = models.Manager()

    rbac_actions = ("view",)  # computed by the rollup task, never edited
    audit_exclude = True  # derived from the logs, replaced wholesale by each rollup

    class Meta:
        db_table = "analytics_data"
        verbose_name = _("daily usage")
        verbose_name_plural = _("daily usage")
        ordering = ["tenant_id", "day"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant_id", "day"],
                name="analytics_data_tenant_day_uniq",
                violation_error_message=_("This tenant already has usage for this day."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.day:%Y-%m-%d}"
