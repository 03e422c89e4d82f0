"""Invalidate cached permission decisions when anything they depend on changes."""

from __future__ import annotations

from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from accounts.models import Department
from rbac import access, enforcement
from rbac.models import (
    ApiEndpoint,
    Menu,
    Permission,
    Role,
    RoleDepartment,
    RoleMenu,
    RolePermission,
    UserRole,
)
from tenants.models import PackageMenu, PackageOperation, TenantPackage


def _using(kwargs) -> str:
    return kwargs.get("using") or "default"


@receiver([post_save, post_delete], sender=Role)
@receiver([post_save, post_delete], sender=Department)
def role_or_department_changed(sender, instance, **kwargs) -> None:
    access.invalidate_tenant(instance.tenant_id, using=_using(kwargs))


@receiver([post_save, post_delete], sender=RolePermission)
@receiver([post_save, post_delete], sender=RoleMenu)
@receiver([post_save, post_delete], sender=RoleDepartment)
def role_grant_changed(sender, instance, **kwargs) -> None:
    tenant_id = Role._base_manager.filter(pk=instance.role_id).values_list("tenant_id", flat=True).first()
    if tenant_id is not None:
        access.invalidate_tenant(tenant_id, using=_using(kwargs))


@receiver([post_save, post_delete], sender=UserRole)
def membership_changed(sender, instance, **kwargs) -> None:
    access.invalidate_user(instance.user_id, using=_using(kwargs))


@receiver([post_save, post_delete], sender=TenantPackage)
@receiver([post_save, post_delete], sender=PackageMenu)
@receiver([post_save, post_delete], sender=PackageOperation)
def package_changed(sender, instance, **kwargs) -> None:
    package_id = instance.pk if sender is TenantPackage else instance.package_id
    access.invalidate_tenants_of_package(package_id, using=_using(kwargs))


@receiver([post_save, post_delete], sender=Menu)
@receiver([post_save, post_delete], sender=Permission)
def catalogue_changed(sender, instance, **kwargs) -> None:
    access.invalidate_all(using=_using(kwargs))


@receiver(m2m_changed, sender=Role.permissions.through)
@receiver(m2m_changed, sender=Role.menus.through)
@receiver(m2m_changed, sender=Role.departments.through)
@receiver(m2m_changed, sender=Role.users.through)
@receiver(m2m_changed, sender=TenantPackage.menus.through)
@receiver(m2m_changed, sender=TenantPackage.permissions.through)
def relation_changed(sender, instance, action, reverse, model, pk_set, **kwargs) -> None:
    """Invalidate after .add()/.remove()/.set()/.clear(), which bypass the through rows' signals."""
    if not action.startswith("post_"):
        return
    using = _using(kwargs)
    if sender in (TenantPackage.menus.through, TenantPackage.permissions.through):
        if isinstance(instance, TenantPackage):
            access.invalidate_tenants_of_package(instance.pk, using=using)
        else:
            for package_id in pk_set or ():
                access.invalidate_tenants_of_package(package_id, using=using)
        return
    if sender is Role.users.through:
        user_ids = [instance.pk] if not isinstance(instance, Role) else list(pk_set or ())
        if isinstance(instance, Role) and action == "post_clear":
            access.invalidate_tenant(instance.tenant_id, using=using)
        for user_id in user_ids:
            access.invalidate_user(user_id, using=using)
        return
    if isinstance(instance, Role):
        access.invalidate_tenant(instance.tenant_id, using=using)
    else:
        access.invalidate_all(using=using)


@receiver([post_save, post_delete], sender=ApiEndpoint)
def endpoint_changed(sender, instance, **kwargs) -> None:
    enforcement.invalidate(using=_using(kwargs))
