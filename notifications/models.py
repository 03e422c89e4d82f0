"""Notifications of a tenant and their read receipts (seed 000 section 3.14, NOTIFICATION_READ).

The seed keeps recipients in a JSON ``receiver_ids`` column; here a notification names its
``audience`` and lists its targets in association tables, which the database can join and
constrain: the whole tenant (no targets), chosen users, departments, or roles. A department
target reaches the users of that department and of every department below it. A role target
reaches the users holding the role while it is live and active (``rbac.UserRole``).

Association tables carry their two keys and ``created_at`` only, plus the surrogate id
Django needs, with the pair unique (seed 004 V12). They have no tenant column: they belong
to the notification's tenant, and ``clean`` refuses a target of another tenant. Reads go
through ``notifications.services``, which starts from the tenant-scoped ``Notification``.
"""

from __future__ import annotations

from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models.users import Department, User
from tenants.models import TenantModel


class NotificationType(models.TextChoices):
    SYSTEM = "system", _("System")
    ANNOUNCEMENT = "announcement", _("Announcement")
    REMINDER = "reminder", _("Reminder")


class NotificationLevel(models.TextChoices):
    INFO = "info", _("Information")
    WARNING = "warning", _("Warning")
    CRITICAL = "critical", _("Critical")


class NotificationAudience(models.TextChoices):
    """Who receives a notification; every audience but the tenant lists its targets."""

    TENANT = "tenant", _("Everyone in the tenant")
    USERS = "users", _("Chosen users")
    DEPARTMENTS = "departments", _("Chosen departments and their sub-departments")
    ROLES = "roles", _("Holders of chosen roles")


class NotificationStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    ARCHIVED = "archived", _("Archived")


class Notification(TenantModel):
    """A message to some or all users of a tenant, shown between publication and expiry."""

    type = models.CharField(
        _("type"),
        max_length=50,
        choices=NotificationType.choices,
        default=NotificationType.ANNOUNCEMENT,
    )
    level = models.CharField(
        _("level"), max_length=20, choices=NotificationLevel.choices, default=NotificationLevel.INFO
    )
    title = models.CharField(_("title"), max_length=200)
    content = models.TextField(_("content"))
    sender = models.ForeignKey(
        User,
        verbose_name=_("sender"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="sent_notifications",
        help_text=_("Empty: sent by the system."),
    )
    audience = models.CharField(
        _("audience"),
        max_length=20,
        choices=NotificationAudience.choices,
        default=NotificationAudience.TENANT,
    )
    status = models.CharField(
        _("status"),
        max_length=20,
        choices=NotificationStatus.choices,
        default=NotificationStatus.ACTIVE,
    )
    published_at = models.DateTimeField(
        _("published at"),
        default=timezone.now,
        help_text=_("Recipients see the notification from this moment."),
    )
    expires_at = models.DateTimeField(
        _("expires at"),
        null=True,
        blank=True,
        help_text=_("Recipients no longer see the notification after this moment. Empty: never."),
    )

    class Meta(TenantModel.Meta):
        db_table = "notifications"
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-published_at", "-id"]
        indexes = [
            # What a recipient sees: the tenant's active notifications by publication.
            models.Index(
                fields=["tenant", "status", "published_at"], name="notifications_visible_idx"
            ),
            # Seed 000 section 3.14 (idx_type, idx_created_at), led by the tenant.
            models.Index(fields=["tenant", "type"], name="notifications_tenant_type_idx"),
            models.Index(fields=["tenant", "created_at"], name="notifications_created_idx"),
        ]
        constraints = [
            *TenantModel.Meta.constraints,
            models.CheckConstraint(
                condition=Q(expires_at__isnull=True) | Q(expires_at__gt=F("published_at")),
                name="notifications_expiry_after_publication",
                violation_error_message=_("The expiry must come after the publication."),
            ),
        ]

    def __str__(self) -> str:
        return self.title


class NotificationTarget(models.Model):
    """A row naming one recipient (user, department or role) of a notification."""

    # Managed through the notification, not a resource of its own (rbac.catalogue).
    rbac_actions = ()
    target_field = ""

    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.notification_id} -> {getattr(self, self.target_field + '_id')}"

    def clean(self) -> None:
        """Refuse a target of another tenant than the notification's."""
        super().clean()
        if getattr(self, self.target_field + "_id") is None:
            return
        try:
            # An inline row of a notification being added holds the unsaved notification.
            notification = self.notification
        except ObjectDoesNotExist:
            return
        if notification.tenant_id is None:
            return  # the notification's own form reports its missing tenant
        target = getattr(self, self.target_field)
        if target.tenant_id != notification.tenant_id:
            raise ValidationError(
                {self.target_field: _("Choose a record of the notification's tenant.")},
                code="other_tenant",
            )


class NotificationUser(NotificationTarget):
    """A user a notification is addressed to."""

    target_field = "user"

    notification = models.ForeignKey(
        Notification,
        verbose_name=_("notification"),
        on_delete=models.CASCADE,
        related_name="user_targets",
    )
    user = models.ForeignKey(
        User, verbose_name=_("user"), on_delete=models.CASCADE, related_name="+"
    )

    class Meta:
        db_table = "notification_users"
        verbose_name = _("user addressed")
        verbose_name_plural = _("users addressed")
        constraints = [
            models.UniqueConstraint(
                fields=["notification", "user"],
                name="notification_users_unique_pair",
                violation_error_message=_("This user is already addressed."),
            ),
        ]


class NotificationDepartment(NotificationTarget):
    """A department a notification is addressed to, reaching its whole subtree."""

    target_field = "department"

    notification = models.ForeignKey(
        Notification,
        verbose_name=_("notification"),
        on_delete=models.CASCADE,
        related_name="department_targets",
    )
    department = models.ForeignKey(
        Department, verbose_name=_("department"), on_delete=models.CASCADE, related_name="+"
    )

    class Meta:
        db_table = "notification_departments"
        verbose_name = _("department addressed")
        verbose_name_plural = _("departments addressed")
        constraints = [
            models.UniqueConstraint(
                fields=["notification", "department"],
                name="notification_depts_unique_pair",
                violation_error_message=_("This department is already addressed."),
            ),
        ]


class NotificationRole(NotificationTarget):
    """A role a notification is addressed to, reaching the users who hold it."""

    target_field = "role"

    notification = models.ForeignKey(
        Notification,
        verbose_name=_("notification"),
        on_delete=models.CASCADE,
        related_name="role_targets",
    )
    role = models.ForeignKey(
        "rbac.Role", verbose_name=_("role"), on_delete=models.CASCADE, related_name="+"
    )

    class Meta:
        db_table = "notification_roles"
        verbose_name = _("role addressed")
        verbose_name_plural = _("roles addressed")
        constraints = [
            models.UniqueConstraint(
                fields=["notification", "role"],
                name="notification_roles_unique_pair",
                violation_error_message=_("This role is already addressed."),
            ),
        ]


class NotificationRead(models.Model):
    """A user's receipt: they read the notification at ``read_at``."""

    rbac_actions = ()  # written by the recipient through the pages, not a resource of its own

    notification = models.ForeignKey(
        Notification,
        verbose_name=_("notification"),
        on_delete=models.CASCADE,
        related_name="reads",
    )
    user = models.ForeignKey(
        User, verbose_name=_("user"), on_delete=models.CASCADE, related_name="+"
    )
    read_at = models.DateTimeField(_("read at"), default=timezone.now)

    class Meta:
        db_table = "notification_reads"
        verbose_name = _("read receipt")
        verbose_name_plural = _("read receipts")
        constraints = [
            models.UniqueConstraint(
                fields=["notification", "user"],
                name="notification_reads_unique_pair",
                violation_error_message=_("This user has already read the notification."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} read {self.notification_id}"
