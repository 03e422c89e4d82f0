"""Tenants and the base models of every tenant-owned table.

``Tenant`` reconciles seed 000 section 3.1 (code, name, status, description) with seed 003
section 3.2.1 (plan, settings), plus an expiry date and a user quota. One tenant is the
platform tenant (``is_platform``): it holds the platform operators and is created by the
migrations.

``TenantScopedModel`` gives a table its tenant foreign key and the fail-closed manager.
``TenantModel`` adds the standard audit fields and soft delete (seeds 003 section 3.3 and
004 V9). Uniqueness among live rows uses the ``alive`` column: ``True`` while the row is
live and ``NULL`` once it is soft-deleted. A unique constraint over
``(tenant, <fields>, alive)`` therefore binds live rows only, because every backend
(SQLite, MariaDB/MySQL, PostgreSQL) treats NULLs as distinct in unique indexes. MariaDB
has no partial indexes, so this is the one mechanism that works on all three.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.context import get_current_actor_id, get_scope
from tenants.ids import uuid7
from tenants.managers import TenantManager

code_validator = RegexValidator(
    r"^[a-z0-9][a-z0-9_.-]*\Z",
    _("Use lowercase letters, digits, '_', '.' and '-', starting with a letter or digit."),
)


class CodeField(models.CharField):
    """A case-insensitive identifier, stored lowercase.

    Lowercasing makes uniqueness behave the same whatever the database collation
    (MariaDB compares case-insensitively by default, PostgreSQL and SQLite do not).
    """

    default_validators = [code_validator]

    def to_python(self, value: Any) -> Any:
        """Return the value stripped and lowercased."""
        value = super().to_python(value)
        return value.strip().lower() if isinstance(value, str) else value

    def pre_save(self, model_instance: models.Model, add: bool) -> Any:
        """Lowercase the value on every save, whatever path set it."""
        value = self.to_python(getattr(model_instance, self.attname))
        setattr(model_instance, self.attname, value)
        return value


class TenantStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    INACTIVE = "inactive", _("Inactive")


class TenantPlan(models.TextChoices):
    FREE = "free", _("Free")
    PRO = "pro", _("Pro")
    ENTERPRISE = "enterprise", _("Enterprise")


class AuditedModel(models.Model):
    """Standard audit fields (seed 004 V9), the acting user stamped from context on save."""

    created_at = models.DateTimeField(_("created at"), auto_now_add=True, editable=False)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("updated by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Save, stamping the acting user as creator and last editor."""
        actor_id = get_current_actor_id()
        if self._state.adding and self.created_by_id is None:
            self.created_by_id = actor_id
        if actor_id is not None:
            self.updated_by_id = actor_id
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            kwargs["update_fields"] = {*update_fields, "updated_at", "updated_by"}
        super().save(*args, **kwargs)


class Tenant(AuditedModel):
    """A customer organisation; every tenant-owned row points at one."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    code = CodeField(_("code"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=100)
    status = models.CharField(
        _("status"), max_length=20, choices=TenantStatus.choices, default=TenantStatus.ACTIVE
    )
    plan = models.CharField(
        _("plan"), max_length=20, choices=TenantPlan.choices, default=TenantPlan.FREE
    )
    settings = models.JSONField(_("settings"), default=dict, blank=True)
    description = models.TextField(_("description"), blank=True)
    expires_on = models.DateField(
        _("expires on"), null=True, blank=True, help_text=_("Empty: never expires.")
    )
    user_quota = models.PositiveIntegerField(
        _("user quota"),
        null=True,
        blank=True,
        help_text=_("Most live users the tenant may have. Empty: unlimited."),
    )
    outbound_networks = models.JSONField(
        _("outbound networks"), default=list, blank=True,
        help_text=_("Private networks (CIDR, e.g. 10.20.0.0/16) that this tenant's tests and "
                    "tools may reach. Link-local and cloud metadata addresses never are."),
    )
    # True for the single platform tenant and NULL for every other, so that a unique
    # index allows exactly one platform tenant on every backend.
    is_platform = models.BooleanField(_("platform tenant"), null=True, editable=False)
    package = models.ForeignKey(
        "tenants.TenantPackage", verbose_name=_("package"), on_delete=models.PROTECT,
        null=True, blank=True, related_name="tenants",
        help_text=_("What the tenant's roles may grant. Without a package they grant nothing "
                    "(the platform tenant needs none)."),
    )
    # Bumped whenever anything that decides its users' permissions changes (roles, role
    # grants, the package, menus); part of the permission cache key (rbac.access).
    access_version = models.PositiveIntegerField(default=0, editable=False)

    rbac_platform_actions = ("view", "create", "update", "delete")

    class Meta:
        db_table = "tenants"
        verbose_name = _("tenant")
        verbose_name_plural = _("tenants")
        ordering = ["code"]
        indexes = [models.Index(fields=["status"], name="tenants_status_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["is_platform"],
                name="tenants_single_platform",
                violation_error_message=_("There is already a platform tenant."),
            ),
            models.CheckConstraint(
                condition=Q(is_platform=True) | Q(is_platform__isnull=True),
                name="tenants_is_platform_true_or_null",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    def clean_fields(self, exclude=None) -> None:
        """Validate the fields, and each outbound network as a CIDR network."""
        import ipaddress

        errors = {}
        try:
            super().clean_fields(exclude=exclude)
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
        networks = self.outbound_networks
        if "outbound_networks" not in errors:
            if not isinstance(networks, list) or not all(isinstance(n, str) for n in networks):
                errors["outbound_networks"] = [_("Give a list of networks, e.g. "
                                                 "[\"10.20.0.0/16\"].")]
            else:
                for index, network in enumerate(networks):
                    try:
                        parsed = ipaddress.ip_network(network.strip(), strict=False)
                    except ValueError:
                        errors.setdefault("outbound_networks", []).append(
                            _("Item %(index)d: %(value)r is not a network (CIDR).")
                            % {"index": index, "value": network})
                        continue
                    if parsed.is_link_local or parsed.is_multicast or parsed.is_unspecified:
                        errors.setdefault("outbound_networks", []).append(
                            _("Item %(index)d: link-local, multicast and unspecified networks "
                              "are never reachable.") % {"index": index})
        if errors:
            raise ValidationError(errors)

    def is_expired(self, today: datetime.date | None = None) -> bool:
        """Return whether the tenant's subscription has ended."""
        today = today or timezone.localdate()
        return self.expires_on is not None and self.expires_on < today

    def is_usable(self) -> bool:
        """Return whether the tenant's users may sign in: active and not expired."""
        return self.status == TenantStatus.ACTIVE and not self.is_expired()


def get_current_tenant() -> Tenant | None:
    """Return the ``Tenant`` in scope, or ``None`` when no single tenant is in scope."""
    from core.context import get_current_tenant_id

    tenant_id = get_current_tenant_id()
    return None if tenant_id is None else Tenant.objects.get(pk=tenant_id)


class TenantScopedModel(models.Model):
    """A table whose rows each belong to one tenant, read through the fail-closed manager.

    The tenant is PROTECTed: a tenant with data cannot be deleted, only deactivated.
    """

    tenant = models.ForeignKey(
        Tenant,
        verbose_name=_("tenant"),
        on_delete=models.PROTECT,
        related_name="+",
    )

    objects = TenantManager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Save, taking the tenant from context for new rows and refusing another tenant's."""
        self.assign_tenant_from_context()
        super().save(*args, **kwargs)

    def assign_tenant_from_context(self) -> None:
        """Fill the tenant from a single-tenant scope; refuse a row of another tenant.

        Under an all-tenants scope (a platform operator) the tenant must have been chosen
        explicitly: there is no default.
        """
        scope = get_scope()
        if self.tenant_id is None:
            if scope is None or scope.tenant_id is None:
                raise ValidationError({"tenant": _("Choose the tenant this record belongs to.")})
            self.tenant_id = scope.tenant_id
        elif scope is not None and scope.tenant_id is not None and scope.tenant_id != self.tenant_id:
            raise ValidationError(
                {"tenant": _("This record belongs to another tenant than the one in context.")}
            )

    def clean_fields(self, exclude=None) -> None:
        """Validate the fields, then refuse references to rows of another tenant.

        This runs in ``clean_fields`` rather than ``clean`` because Django's user model
        overrides ``clean`` without calling its parents.
        """
        errors = {}
        try:
            super().clean_fields(exclude=exclude)
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
        exclude = set(exclude or ())
        for field in self._meta.concrete_fields:
            if not field.is_relation or field.name == "tenant" or field.name in exclude:
                continue
            if field.name in errors or not issubclass(field.related_model, TenantScopedModel):
                continue
            related_id = getattr(self, field.attname)
            if related_id is None or self.tenant_id is None:
                continue
            cached = field.get_cached_value(self, default=None)
            if cached is not None and cached.pk == related_id:
                related_tenant_id = cached.tenant_id
            else:
                related_tenant_id = (
                    field.related_model._base_manager.filter(pk=related_id)
                    .values_list("tenant_id", flat=True)
                    .first()
                )
            if related_tenant_id != self.tenant_id:
                errors.setdefault(field.name, []).append(
                    ValidationError(_("Choose a record of the same tenant."), code="other_tenant")
                )
        if errors:
            raise ValidationError(errors)


def unique_live_per_tenant(*fields: str, name: str, message: str) -> models.UniqueConstraint:
    """Return a constraint making ``fields`` unique among one tenant's live rows."""
    return models.UniqueConstraint(
        fields=["tenant", *fields, "alive"], name=name, violation_error_message=message
    )


class TenantModel(TenantScopedModel, AuditedModel):
    """A tenant-owned business table: UUIDv7 key, audit fields and soft delete."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    is_deleted = models.BooleanField(_("deleted"), default=False, editable=False)
    deleted_at = models.DateTimeField(_("deleted at"), null=True, blank=True, editable=False)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("deleted by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )
    # True while live, NULL once soft-deleted: see the module docstring.
    alive = models.BooleanField(null=True, default=True, editable=False)

    class Meta:
        abstract = True
        constraints = [
            models.CheckConstraint(
                condition=Q(is_deleted=False, alive=True)
                | Q(is_deleted=True, alive__isnull=True),
                name="%(app_label)s_%(class)s_alive_ck",
            ),
        ]

    def delete(self, using: str | None = None, keep_parents: bool = False):
        """Soft-delete the row (``hard_delete`` removes it)."""
        self.soft_delete()
        return 1, {self._meta.label: 1}

    def hard_delete(self, using: str | None = None, keep_parents: bool = False):
        """Delete the row from the database, cascading as the foreign keys say."""
        return super().delete(using=using, keep_parents=keep_parents)

    def soft_delete_blockers(self) -> list[str]:
        """Return why this row may not be soft-deleted now (empty: it may)."""
        return []

    @transaction.atomic
    def soft_delete(self) -> None:
        """Mark the row deleted, after checking that nothing live depends on it."""
        if self.is_deleted:
            return
        blockers = self.soft_delete_blockers()
        if blockers:
            raise ValidationError(blockers)
        self.is_deleted = True
        self.alive = None
        self.deleted_at = timezone.now()
        self.deleted_by_id = get_current_actor_id()
        self.save(update_fields=["is_deleted", "alive", "deleted_at", "deleted_by"])

    @transaction.atomic
    def restore(self) -> None:
        """Bring a soft-deleted row back, refusing when a live row now holds its keys."""
        if not self.is_deleted:
            return
        self.is_deleted = False
        self.alive = True
        try:
            self.validate_constraints()
        except ValidationError:
            self.is_deleted = True
            self.alive = None
            raise
        self.deleted_at = None
        self.deleted_by = None
        self.save(update_fields=["is_deleted", "alive", "deleted_at", "deleted_by"])
