"""The tenant admin: platform operators only, and tenants are never deleted."""

from __future__ import annotations

import pytest
from django.urls import reverse

from rbac.models import Permission, Role, RolePermission
from tenants.models import Tenant

pytestmark = pytest.mark.django_db


def grant_tenant_permissions(user) -> None:
    """Put every tenant:* code in the user's role and package, bypassing the grant rules."""
    codes = Permission.objects.filter(code__startswith="tenant:")
    role = Role.objects.all_tenants().get(tenant=user.tenant, code="admin")
    RolePermission.objects.bulk_create([RolePermission(role=role, permission=p) for p in codes])
    user.tenant.package.permissions.add(*codes)
    user.refresh_from_db()
    assert user.has_perm("tenants.view_tenant")


def tenant_admin_urls(tenant: Tenant) -> list[str]:
    return [
        reverse("admin:tenants_tenant_changelist"),
        reverse("admin:tenants_tenant_add"),
        reverse("admin:tenants_tenant_change", args=[tenant.pk]),
        reverse("admin:tenants_tenant_history", args=[tenant.pk]),
        reverse("admin:tenants_tenant_delete", args=[tenant.pk]),
    ]


def test_tenant_admin_cannot_open_the_tenant_admin(client_a, tenant_a):
    """A tenant administrator gets 403 on every page of the tenant admin."""
    for url in tenant_admin_urls(tenant_a):
        assert client_a.get(url).status_code == 403, url


def test_tenant_permissions_do_not_open_the_tenant_admin_to_a_tenant_user(
    client, admin_a, tenant_a, tenant_b
):
    """Even holding the tenants app's permissions, a tenant's staff user gets 403: the tenant
    admin is for platform operators only."""
    grant_tenant_permissions(admin_a)
    client.force_login(admin_a)

    for url in tenant_admin_urls(tenant_a):
        assert client.get(url).status_code == 403, url
    response = client.post(
        reverse("admin:tenants_tenant_change", args=[tenant_b.pk]),
        {"code": "beta", "name": "Taken over", "status": "inactive", "plan": "free",
         "settings": "{}"},
    )
    assert response.status_code == 403
    tenant_b.refresh_from_db()
    assert (tenant_b.name, tenant_b.status) == ("Beta Ltd", "active")


def test_tenant_admin_index_does_not_list_tenants_or_packages(client, admin_a):
    """The admin index of a tenant administrator offers neither tenants nor packages."""
    grant_tenant_permissions(admin_a)
    client.force_login(admin_a)

    response = client.get(reverse("admin:index"))

    assert response.status_code == 200
    listed = {
        model["object_name"]
        for app in response.context["app_list"]
        for model in app["models"]
    }
    assert "Tenant" not in listed and "TenantPackage" not in listed
    assert reverse("admin:tenants_tenant_changelist") not in response.content.decode()


def test_operator_lists_every_tenant(operator_client, platform, tenant_a, tenant_b):
    """A platform operator lists every tenant, the platform tenant included."""
    response = operator_client.get(reverse("admin:tenants_tenant_changelist"))

    assert response.status_code == 200
    assert {t.pk for t in response.context["cl"].result_list} == {
        platform.pk, tenant_a.pk, tenant_b.pk
    }
    content = response.content.decode()
    assert "Alpha Ltd" in content and "Beta Ltd" in content


def test_operator_changes_a_tenant(operator_client, tenant_b):
    """A platform operator can edit a tenant, e.g. deactivate it."""
    response = operator_client.post(
        reverse("admin:tenants_tenant_change", args=[tenant_b.pk]),
        {"code": "beta", "name": "Beta Ltd", "status": "inactive", "plan": "pro",
         "description": "", "expires_on": "", "user_quota": "", "settings": "{}"},
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    tenant_b.refresh_from_db()
    assert (tenant_b.status, tenant_b.plan) == ("inactive", "pro")


def test_operator_adds_a_tenant(operator_client):
    """A platform operator can add a tenant; its code is stored lowercase."""
    response = operator_client.post(
        reverse("admin:tenants_tenant_add"),
        {"code": "Gamma", "name": "Gamma Ltd", "status": "active", "plan": "free",
         "description": "", "expires_on": "", "user_quota": "", "settings": "{}"},
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Tenant.objects.filter(code="gamma", name="Gamma Ltd").exists()


def test_duplicate_tenant_code_is_a_form_error(operator_client, tenant_a):
    """Adding a tenant with a code already in use is a form error, not a crash."""
    response = operator_client.post(
        reverse("admin:tenants_tenant_add"),
        {"code": "ALPHA", "name": "Second Alpha", "status": "active", "plan": "free",
         "description": "", "expires_on": "", "user_quota": "", "settings": "{}"},
    )

    assert response.status_code == 200
    assert "code" in response.context["adminform"].form.errors
    assert Tenant.objects.filter(code="alpha").count() == 1


@pytest.mark.parametrize("tenant_fixture", ["tenant_a", "platform"])
def test_nobody_can_delete_a_tenant(operator_client, request, tenant_fixture):
    """Not even a platform operator (a superuser) can delete a tenant: they are deactivated."""
    tenant = request.getfixturevalue(tenant_fixture)
    url = reverse("admin:tenants_tenant_delete", args=[tenant.pk])

    assert operator_client.get(url).status_code == 403
    assert operator_client.post(url, {"post": "yes"}).status_code == 403
    assert Tenant.objects.filter(pk=tenant.pk).exists()


def test_tenant_changelist_offers_no_delete_action(operator_client, tenant_a):
    """The operator's tenant changelist offers no bulk delete, and forcing it deletes nothing."""
    url = reverse("admin:tenants_tenant_changelist")
    response = operator_client.get(url)
    assert response.context["action_form"] is None  # no action at all, delete included

    response = operator_client.post(
        url, {"action": "delete_selected", "_selected_action": [str(tenant_a.pk)], "post": "yes"}
    )

    assert response.status_code == 200
    assert Tenant.objects.filter(pk=tenant_a.pk).exists()


def test_operator_tenant_change_form_has_no_delete_link(operator_client, tenant_a):
    """The tenant change form shows no delete link."""
    response = operator_client.get(reverse("admin:tenants_tenant_change", args=[tenant_a.pk]))

    assert response.status_code == 200
    assert response.context["has_delete_permission"] is False
    assert reverse("admin:tenants_tenant_delete", args=[tenant_a.pk]) not in (
        response.content.decode()
    )
