"""Users, departments and positions of a tenant (seed 000 sections 3.2 and 3.3)."""

from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from mptt.models import MPTTModel, TreeForeignKey

from accounts.choices import RecordStatus, UserStatus
from logs.models import SignInRefusal
from core.context import get_scope
from tenants.managers import TenantManager
from tenants.trees import TenantTreeManager, lock_tenant
from tenants.models import (
    CodeField,
    Tenant,
    TenantModel,
    TenantStatus,
    unique_live_per_tenant,
)

# Seed 000 section 3.3: departments have levels 1 to 5 (django-mptt counts from 0).
DEPARTMENT_MAX_DEPTH = 5

phone_validator = RegexValidator(
    r"^\+?[0-9][0-9 ()-]{3,19}\Z", _("Enter a phone number: digits, spaces, '-', '(', ')'.")
)


class Position(TenantModel):
    """A job position users can hold (seed 000 ER: POSITION)."""

    code = CodeField(_("code"), max_length=50)
    name = models.CharField(_("name"), max_length=100)
    sort_order = models.IntegerField(_("sort order"), default=0)
    status = models.CharField(
        _("status"), max_length=20, choices=RecordStatus.choices, default=RecordStatus.ACTIVE
    )
    description = models.TextField(_("description"), blank=True)

    class Meta(TenantModel.Meta):
        db_table = "positions"
        verbose_name = _("position")
        verbose_name_plural = _("positions")
        ordering = ["sort_order", "code"]
        constraints = [
            *TenantModel.Meta.constraints,
            unique_live_per_tenant(
                "code",
                name="positions_unique_code",
                message=_("A position with this code already exists."),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def soft_delete_blockers(self) -> list[str]:
        """Refuse while live users hold the position."""
        if User.objects.all_tenants().filter(position=self).exists():
            return [_("Users still hold this position; move them first.")]
        return []


class DepartmentTreeManager(TenantTreeManager):
    """django-mptt's internal manager for departments (``tenants.trees``)."""

    max_depth = DEPARTMENT_MAX_DEPTH
    depth_message = _("Departments nest at most %(max)d levels; this move would make %(depth)d.")
    move_message = _("A department can only move within its own tenant.")


class Department(MPTTModel, TenantModel):
    """A department in the tenant's organisation tree (seed 000 section 3.3).

    The seed's ``level`` (1-5) is django-mptt's ``level`` + 1 and its ``sort_order`` is the
    position among siblings, which the drag-and-drop admin changes.
    """

    code = CodeField(_("code"), max_length=100)
    name = models.CharField(_("name"), max_length=100)
    parent = TreeForeignKey(
        "self",
        verbose_name=_("parent"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
    )
    status = models.CharField(
        _("status"), max_length=20, choices=RecordStatus.choices, default=RecordStatus.ACTIVE
    )

    objects = TenantManager()
    _tree_manager = DepartmentTreeManager()

    class Meta(TenantModel.Meta):
        db_table = "departments"
        verbose_name = _("department")
        verbose_name_plural = _("departments")
        default_manager_name = "objects"
        ordering = ["tree_id", "lft"]
        indexes = [
            models.Index(fields=["tenant", "tree_id", "lft"], name="departments_tree_idx"),
        ]
        constraints = [
            *TenantModel.Meta.constraints,
            unique_live_per_tenant(
                "code",
                name="departments_unique_code",
                message=_("A department with this code already exists."),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Save under the tenant's tree lock, refusing a parent too deep or of another tenant."""
        self.assign_tenant_from_context()
        with transaction.atomic():
            lock_tenant(self.tenant_id)
            self.check_parent()
            super().save(*args, **kwargs)

    def subtree_height(self) -> int:
        """Return how many levels lie below this department (0 for a leaf)."""
        if self.pk is None or self._state.adding:
            return 0
        deepest = (
            type(self)
            ._tree_manager.filter(tree_id=self.tree_id, lft__gt=self.lft, rght__lt=self.rght)
            .aggregate(models.Max("level"))["level__max"]
        )
        return 0 if deepest is None else deepest - self.level

    def check_parent(self) -> None:
        """Raise ``ValidationError`` when the parent breaks the tree's rules."""
        parent = self.parent
        if parent is None:
            return
        if parent.tenant_id != self.tenant_id:
            raise ValidationError({"parent": _("Choose a department of the same tenant.")})
        if parent.is_deleted:
            raise ValidationError({"parent": _("The parent department is deleted.")})
        if not self._state.adding and self.pk is not None:
            if parent.pk == self.pk or (
                parent.tree_id == self.tree_id and self.lft < parent.lft < self.rght
            ):
                raise ValidationError(
                    {"parent": _("A department cannot be moved under itself or its descendants.")}
                )
        depth = parent.level + 2 + self.subtree_height()
        if depth > DEPARTMENT_MAX_DEPTH:
            raise ValidationError(
                {
                    "parent": _(
                        "Departments nest at most %(max)d levels; this parent would make %(depth)d."
                    )
                    % {"max": DEPARTMENT_MAX_DEPTH, "depth": depth}
                }
            )

    def clean(self) -> None:
        """Validate the tree shape (a parent of another tenant is ``clean_fields``' error,
        reported once)."""
        super().clean()
        if self.parent_id is None or self.parent.tenant_id == self.tenant_id:
            self.check_parent()

    def soft_delete_blockers(self) -> list[str]:
        """Refuse while live sub-departments or users remain in the department."""
        blockers = []
        if Department.objects.all_tenants().filter(parent=self).exists():
            blockers.append(_("The department has sub-departments; move or delete them first."))
        if User.objects.all_tenants().filter(department=self).exists():
            blockers.append(_("Users belong to the department; move them first."))
        return blockers


class UserManager(TenantManager, BaseUserManager):
    """Tenant-scoped users, plus the constructors Django's auth commands call."""

    def get_by_natural_key(self, username: str) -> User:
        """Return the user of the tenant in scope, or of the platform tenant outside any scope.

        ``createsuperuser`` looks operators up here, with no tenant in context.
        """
        scope = get_scope()
        if scope is not None and scope.tenant_id is not None:
            queryset = self.all_tenants().filter(tenant_id=scope.tenant_id)
        else:
            queryset = self.all_tenants().filter(tenant__is_platform=True)
        return queryset.get(username=User.normalize_username(username))

    def create_user(
        self, username: str, password: str | None = None, *, tenant: Tenant, **extra: Any
    ) -> User:
        """Create a validated user of ``tenant``."""
        user = self.model(tenant=tenant, username=username, **extra)
        user.set_password(password)
        user.full_clean(exclude=["password"] if password is None else None)
        user.save(using=self._db)
        return user

    def create_superuser(
        self, username: str, email: str = "", password: str | None = None, **extra: Any
    ) -> User:
        """Create a platform operator with every permission, in the platform tenant."""
        extra.update(is_staff=True, is_superuser=True)
        return self.create_user(
            username, password, tenant=Tenant.objects.get(is_platform=True), email=email, **extra
        )


class User(AbstractBaseUser, PermissionsMixin, TenantModel):
    """A person or service account of one tenant (seed 000 section 3.2).

    Usernames are case-insensitive (stored lowercase) and unique among the tenant's live
    users. Platform operators are users of the platform tenant; only they may be superusers.
    Django's global groups and per-user permissions are removed: permissions come from the
    user's roles, within the tenant's package (``rbac``).
    """

    username = models.CharField(
        _("username"),
        max_length=50,
        validators=[UnicodeUsernameValidator()],
        help_text=_("Letters, digits and @/./+/-/_ only; case-insensitive."),
    )
    name = models.CharField(_("display name"), max_length=100, blank=True)
    email = models.EmailField(_("email"), max_length=100, blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True, validators=[phone_validator])
    department = models.ForeignKey(
        Department,
        verbose_name=_("department"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="users",
    )
    position = models.ForeignKey(
        Position,
        verbose_name=_("position"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="users",
    )
    language = models.CharField(
        _("language"),
        max_length=10,
        blank=True,
        choices=settings.LANGUAGES,
        help_text=_("Empty: the browser's language."),
    )
    status = models.CharField(
        _("status"), max_length=20, choices=UserStatus.choices, default=UserStatus.ACTIVE
    )
    is_staff = models.BooleanField(
        _("staff status"),
        default=False,
        help_text=_("Whether the user can sign in to the administration site."),
    )
    locked_until = models.DateTimeField(_("locked until"), null=True, blank=True, editable=False)
    failures_counted_since = models.DateTimeField(
        _("failures counted since"),
        null=True,
        blank=True,
        editable=False,
        help_text=_("Failed logins before this moment (last success or unlock) do not count."),
    )
    last_login_at = models.DateTimeField(_("last login at"), null=True, blank=True, editable=False)
    last_login_ip = models.GenericIPAddressField(
        _("last login IP"), null=True, blank=True, editable=False
    )

    # Bumped when the user's roles change; part of the permission cache key (rbac.access).
    access_version = models.PositiveIntegerField(default=0, editable=False)

    # Replaced by last_login_at (seed 000), and by per-tenant roles (rbac).
    last_login = None
    groups = None
    user_permissions = None

    objects = UserManager()

    rbac_operations = {"unlock": _("Unlock user accounts")}

    USERNAME_FIELD = "username"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["email"]

    class Meta(TenantModel.Meta):
        db_table = "users"
        verbose_name = _("user")
        verbose_name_plural = _("users")
        ordering = ["username"]
        indexes = [
            models.Index(fields=["tenant", "status"], name="users_tenant_status_idx"),
            models.Index(fields=["tenant", "department"], name="users_tenant_dept_idx"),
        ]
        constraints = [
            *TenantModel.Meta.constraints,
            unique_live_per_tenant(
                "username",
                name="users_unique_username",
                message=_("A user with this username already exists."),
            ),
        ]

    def __str__(self) -> str:
        return self.username

    @classmethod
    def normalize_username(cls, username: str) -> str:
        """Return the username normalised (NFKC) and lowercased."""
        return super().normalize_username(username or "").strip().lower()

    def clean(self) -> None:
        """Normalise the username and enforce the platform and quota rules."""
        super().clean()
        self.username = self.normalize_username(self.username)
        tenant = self.tenant if self.tenant_id else None
        if self.is_superuser and tenant is not None and not tenant.is_platform:
            raise ValidationError(
                {"is_superuser": _("Only users of the platform tenant can be superusers.")}
            )
        quota = self.user_quota(tenant) if tenant is not None else None
        if quota is not None and self._state.adding and not self.is_deleted:
            others = User.objects.all_tenants().filter(tenant=tenant).exclude(pk=self.pk)
            if others.count() >= quota:
                raise ValidationError(
                    _("The tenant has reached its quota of %(quota)d users.") % {"quota": quota}
                )

    @staticmethod
    def user_quota(tenant: Tenant) -> int | None:
        """Return the most live users the tenant may have: its own quota and its package's."""
        limits = [tenant.user_quota]
        if tenant.package_id is not None:
            limits.append(tenant.package.max_users)
        limits = [limit for limit in limits if limit is not None]
        return min(limits) if limits else None

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Save with the username normalised, whatever path set it."""
        self.username = self.normalize_username(self.username)
        super().save(*args, **kwargs)

    @property
    def is_active(self) -> bool:
        """Return whether the account itself is usable (status active, not deleted)."""
        return self.status == UserStatus.ACTIVE and not self.is_deleted

    @property
    def is_platform_operator(self) -> bool:
        """Return whether the user operates the platform across all tenants."""
        return self.is_staff and self.tenant.is_platform is True

    def lock_expired(self, now: datetime.datetime | None = None) -> bool:
        """Return whether the account is locked with an unlock time that has passed."""
        now = now or timezone.now()
        return (
            self.status == UserStatus.LOCKED
            and self.locked_until is not None
            and self.locked_until <= now
        )

    def sign_in_refusal(self, now: datetime.datetime | None = None) -> SignInRefusal | None:
        """Return why the user may not sign in or keep a session, or ``None`` if they may."""
        if self.is_deleted:
            return SignInRefusal.DELETED
        if self.status == UserStatus.INACTIVE:
            return SignInRefusal.INACTIVE
        if self.status == UserStatus.LOCKED and not self.lock_expired(now):
            return SignInRefusal.LOCKED
        if self.tenant.status != TenantStatus.ACTIVE:
            return SignInRefusal.TENANT_INACTIVE
        if self.tenant.is_expired():
            return SignInRefusal.TENANT_EXPIRED
        return None
