"""The tenant scope and the fail-closed manager of tenant-owned models."""

from __future__ import annotations

import uuid

import pytest
from django import forms
from django.core.exceptions import ValidationError

from accounts.models import Department, Position, User
from conftest import make_user
from core.context import (
    TenantContextMissing,
    TenantScope,
    actor_context,
    all_tenants,
    get_current_tenant_id,
    tenant_context,
)
from logs.models import LoginLog
from tenants.models import Tenant, get_current_tenant


def test_scope_names_one_tenant_or_all():
    """A scope is one tenant or every tenant, never both or neither."""
    with pytest.raises(ValueError):
        TenantScope()
    with pytest.raises(ValueError):
        TenantScope(tenant_id=uuid.uuid4(), all_tenants=True)


def test_query_without_tenant_fails_closed(org_a):
    """A query of tenant-owned rows with no tenant in context raises instead of leaking."""
    with pytest.raises(TenantContextMissing, match="No tenant in context"):
        list(User.objects.all())
    with pytest.raises(TenantContextMissing):
        Department.objects.count()
    with pytest.raises(TenantContextMissing):
        Position.objects.filter(code="dev").exists()
    with pytest.raises(TenantContextMissing):
        User.objects.get(pk=org_a["user"].pk)
    with pytest.raises(TenantContextMissing):
        LoginLog.objects.first()


def test_writes_without_tenant_fail_closed(org_a):
    """Bulk update and delete with no tenant in context raise and change nothing."""
    with pytest.raises(TenantContextMissing):
        Position.objects.update(name="changed")
    with pytest.raises(TenantContextMissing):
        Position.objects.all().delete()
    with pytest.raises(TenantContextMissing):
        Position.objects.all().hard_delete()
    assert Position.objects.all_tenants().get().name == "Alpha Developer"


def test_scope_filters_every_query_shape(org_a, org_b, tenant_a):
    """Listing, counting, aggregating, subqueries and updates see only the tenant in scope."""
    with tenant_context(tenant_a):
        assert {u.username for u in User.objects.all()} == {"alice"}
        assert User.objects.get(username="alice").pk == org_a["user"].pk
        assert Department.objects.count() == 2
        assert set(Department.objects.values_list("name", flat=True)) == {
            "Alpha HQ",
            "Alpha Engineering",
        }
        in_subquery = User.objects.all_tenants().filter(department__in=Department.objects.all())
        assert list(in_subquery) == [org_a["user"]]
        assert Position.objects.update(name="Renamed") == 1
    assert Position.objects.all_tenants().get(pk=org_b["position"].pk).name == "Beta Developer"


def test_queryset_built_outside_context_takes_the_context_it_runs_in(org_a, org_b, tenant_a, tenant_b):
    """A queryset defined ahead of any request (as form fields are) runs in its caller's tenant."""
    shared = Department.objects.filter(parent__isnull=True)

    class DepartmentForm(forms.Form):
        department = forms.ModelChoiceField(queryset=Department.objects.all())

    with tenant_context(tenant_a):
        assert [d.name for d in shared.all()] == ["Alpha HQ"]
        form = DepartmentForm(data={"department": str(org_b["root"].pk)})
        assert not form.is_valid()
        assert {d.pk for d in DepartmentForm().fields["department"].queryset} == {
            org_a["root"].pk,
            org_a["child"].pk,
        }
    with tenant_context(tenant_b):
        assert [d.name for d in shared.all()] == ["Beta HQ"]
        assert DepartmentForm(data={"department": str(org_b["root"].pk)}).is_valid()


def test_all_tenants_is_explicit(org_a, org_b):
    """Every tenant is visible only through the explicit calls."""
    assert User.objects.all_tenants().count() == 2
    with all_tenants():
        assert Department.objects.count() == 4
        assert get_current_tenant_id() is None


def test_new_row_takes_the_tenant_in_context(tenant_a):
    """A row created in a tenant's context belongs to that tenant; outside any, it is refused."""
    with tenant_context(tenant_a):
        position = Position.objects.create(code="qa", name="QA")
        assert get_current_tenant() == tenant_a
    assert position.tenant_id == tenant_a.pk
    with pytest.raises(ValidationError, match="Choose the tenant"):
        Position.objects.create(code="ops", name="Ops")
    with all_tenants(), pytest.raises(ValidationError, match="Choose the tenant"):
        Position.objects.create(code="ops", name="Ops")


def test_cannot_write_a_row_of_another_tenant(tenant_a, tenant_b):
    """Saving a row of tenant B inside tenant A's context is refused."""
    with tenant_context(tenant_a), pytest.raises(ValidationError, match="another tenant"):
        Position.objects.create(tenant=tenant_b, code="qa", name="QA")
    assert not Position.objects.all_tenants().exists()


def test_references_across_tenants_are_refused(org_a, org_b, tenant_a):
    """A user of tenant A cannot point at a department or position of tenant B."""
    user = org_a["user"]
    user.department = org_b["child"]
    user.position = org_b["position"]
    with tenant_context(tenant_a), pytest.raises(ValidationError) as caught:
        user.full_clean()
    assert set(caught.value.message_dict) >= {"department", "position"}


def test_audit_fields_are_stamped_from_the_actor(tenant_a, admin_a):
    """created_by/updated_by come from the actor in context; timestamps are set."""
    with tenant_context(tenant_a), actor_context(admin_a.pk):
        position = Position.objects.create(code="qa", name="QA")
    assert position.created_by_id == admin_a.pk
    assert position.updated_by_id == admin_a.pk
    assert position.created_at is not None and position.updated_at is not None
    editor = make_user(tenant_a, "editor")
    with tenant_context(tenant_a), actor_context(editor.pk):
        position.name = "Quality"
        position.save(update_fields=["name"])
    position.refresh_from_db()
    assert (position.created_by_id, position.updated_by_id) == (admin_a.pk, editor.pk)


def test_usernames_are_case_insensitive_per_tenant(tenant_a, tenant_b):
    """Usernames are stored lowercase; the same name may exist once in each tenant."""
    first = make_user(tenant_a, "Bob")
    assert first.username == "bob"
    make_user(tenant_b, "BOB")
    with pytest.raises(ValidationError):
        make_user(tenant_a, "bOb")


def test_user_quota_is_enforced(tenant_a):
    """A tenant at its user quota cannot get another user."""
    tenant_a.user_quota = 1
    tenant_a.save()
    make_user(tenant_a, "first")
    with pytest.raises(ValidationError, match="quota"):
        make_user(tenant_a, "second")


def test_only_platform_users_can_be_superusers(tenant_a):
    """A superuser in a customer tenant is refused."""
    with pytest.raises(ValidationError, match="platform tenant"):
        make_user(tenant_a, "sneaky", is_superuser=True)


def test_platform_tenant_is_unique(platform):
    """There is exactly one platform tenant, made by the migrations."""
    assert platform.code == "platform"
    second = Tenant(code="other", name="Other", is_platform=True)
    with pytest.raises(ValidationError):
        second.full_clean()


def test_createsuperuser_path_finds_platform_users(operator):
    """Django's natural-key lookup (used by createsuperuser) finds platform operators."""
    assert User.objects.get_by_natural_key("ROOT") == operator


def test_tenant_owned_tables_pass_the_shape_checks():
    """Every tenant-owned model keeps tenant-first indexes and live-row uniqueness."""
    from tenants.checks import check_tenant_owned_tables

    assert check_tenant_owned_tables() == []
