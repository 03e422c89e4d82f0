"""Tenant packages (seed 000 ER: TENANT_PACKAGE, PACKAGE_MENU, PACKAGE_OPERATION).

A package is a platform-wide offer: the menus and operations its tenants may use and the
most users they may have. A tenant's roles never reach beyond its package: role grants are
checked against it when saved, and every permission decision intersects with it, so
narrowing a package takes effect for every user of its tenants at the next request.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from tenants.ids import uuid7
from tenants.models.base import AuditedModel, CodeField, TenantStatus


class TenantPackage(AuditedModel):
    """What a tenant may use: menus, operations and a user quota."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    code = CodeField(_("code"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=100)
    description = models.TextField(_("description"), blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=TenantStatus.choices, default=TenantStatus.ACTIVE,
        help_text=_("An inactive package grants nothing."),
    )
    max_users = models.PositiveIntegerField(
        _("user quota"), null=True, blank=True,
        help_text=_("Most live users a tenant of this package may have. Empty: unlimited."),
    )
    max_concurrent_runs = models.PositiveSmallIntegerField(
        _("concurrent test runs"), null=True, blank=True,
        help_text=_("Scenario runs of a parallel test plan that run at once per tenant. "
                    "Empty: the platform's default (TESTING_MAX_CONCURRENT_RUNS)."),
    )
    menus = models.ManyToManyField(
        "rbac.Menu", through="PackageMenu", related_name="packages", blank=True,
        verbose_name=_("menus"),
    )
    permissions = models.ManyToManyField(
        "rbac.Permission", through="PackageOperation", related_name="packages", blank=True,
        verbose_name=_("operations"),
    )

    rbac_platform_actions = ("view", "create", "update", "delete")

    class Meta:
        db_table = "tenant_packages"
        verbose_name = _("tenant package")
        verbose_name_plural = _("tenant packages")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class PackageMenu(models.Model):
    """A package grants a menu entry."""

    rbac_actions = ()  # managed through the package

    package = models.ForeignKey(TenantPackage, verbose_name=_("package"),
                                on_delete=models.CASCADE, related_name="package_menus")
    menu = models.ForeignKey("rbac.Menu", verbose_name=_("menu"), on_delete=models.CASCADE,
                             related_name="package_menus")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        db_table = "package_menus"
        verbose_name = _("menu of a package")
        verbose_name_plural = _("menus of packages")
        constraints = [
            models.UniqueConstraint(fields=["package", "menu"], name="package_menus_unique_pair")
        ]

    def __str__(self) -> str:
        return f"{self.package} → {self.menu}"


class PackageOperation(models.Model):
    """A package grants an operation (permission code)."""

    rbac_actions = ()  # managed through the package

    package = models.ForeignKey(TenantPackage, verbose_name=_("package"),
                                on_delete=models.CASCADE, related_name="package_operations")
    permission = models.ForeignKey("rbac.Permission", verbose_name=_("permission"),
                                   on_delete=models.CASCADE, related_name="package_operations")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        db_table = "package_operations"
        verbose_name = _("operation of a package")
        verbose_name_plural = _("operations of packages")
        constraints = [
            models.UniqueConstraint(
                fields=["package", "permission"], name="package_operations_unique_pair"
            )
        ]

    def __str__(self) -> str:
        return f"{self.package} → {self.permission}"
