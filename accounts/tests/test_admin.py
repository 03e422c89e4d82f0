"""The admin of users, departments and positions, seen by tenant administrators and operators.

Every test runs two tenants whose organisations share codes and usernames (``org_a`` and
``org_b``); the names ("Alpha HQ", "Beta HQ", ...) tell them apart in rendered pages.
Querysets the admin hands back are lazy and scoped when they run, so the tests evaluate
them under the scope the middleware gave the request (``request.tenant_scope``), never
under one the test chooses.
"""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from accounts.models import Department, Position, User
from conftest import PASSWORD, make_user
from core.context import (
    TenantContextMissing,
    TenantScope,
    scope_context,
    tenant_context,
)
from rbac.models import DataScope, Role, UserRole
from rbac.models import Permission as RbacPermission
from rbac.services import assign_roles, ensure_admin_role

pytestmark = pytest.mark.django_db

# A changelist page's query count must not depend on how many rows it lists. Each bound
# is the count measured with 3 rows (the same on SQLite, MariaDB and PostgreSQL, for a
# tenant administrator and an operator alike) plus a slack of 1; the same bound must then
# hold for 30 rows.
MAX_QUERIES_USER_CHANGELIST = 7  # measured: 6 (permissions cached)
MAX_QUERIES_DEPARTMENT_CHANGELIST = 6  # measured: 5 (permissions cached)
MAX_QUERIES_POSITION_CHANGELIST = 5  # measured: 4 (permissions cached)
OPERATOR_MAX_QUERIES_USER_CHANGELIST = 9  # measured: 8 (superusers skip the permission lookup)
OPERATOR_MAX_QUERIES_DEPARTMENT_CHANGELIST = 8  # measured: 7 (superusers skip the permission lookup)
OPERATOR_MAX_QUERIES_POSITION_CHANGELIST = 7  # measured: 6 (superusers skip the permission lookup)


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def request_scope(response) -> TenantScope:
    """Return the tenant scope the middleware set for the request behind ``response``."""
    return response.wsgi_request.tenant_scope


def listed(response) -> list:
    """Return the rows of a changelist response, evaluated under the request's scope."""
    with scope_context(request_scope(response)):
        return list(response.context["cl"].result_list)


def choices_of(response, field_name: str) -> list:
    """Return a form field's choices, evaluated under the request's scope."""
    field = response.context["adminform"].form.fields[field_name]
    with scope_context(request_scope(response)):
        return list(field.queryset)


def messages_of(response) -> list[str]:
    """Return the texts of the messages the request queued."""
    return [str(message) for message in get_messages(response.wsgi_request)]


def assert_missing_object_redirect(response) -> None:
    """Assert the admin answered as for an object that does not exist."""
    assert response.status_code == 302
    assert response.url == reverse("admin:index")
    assert any("doesn’t exist" in text for text in messages_of(response))


def form_errors(response) -> dict:
    """Return the errors of the admin form rendered in ``response``."""
    return response.context["adminform"].form.errors


def user_change_data(user: User, **overrides) -> dict:
    """Return a valid POST of the user change form for ``user``, with ``overrides``."""
    data = {
        "username": user.username,
        "name": user.name,
        "email": user.email,
        "phone": user.phone,
        "department": str(user.department_id or ""),
        "position": str(user.position_id or ""),
        "status": user.status,
        **role_inline_data(user),
    }
    if user.is_staff:
        data["is_staff"] = "on"
    data.update(overrides)
    return data


def role_inline_data(user: User, added_roles=()) -> dict:
    """Return the POST of the user's role inline: the roles held, plus ``added_roles``."""
    rows = list(UserRole.objects.filter(user=user))
    data = {
        "user_roles-TOTAL_FORMS": str(len(rows) + len(added_roles)),
        "user_roles-INITIAL_FORMS": str(len(rows)),
        "user_roles-MIN_NUM_FORMS": "0",
        "user_roles-MAX_NUM_FORMS": "1000",
    }
    for index, row in enumerate(rows):
        data.update({f"user_roles-{index}-id": str(row.pk), f"user_roles-{index}-user": str(user.pk),
                     f"user_roles-{index}-role": str(row.role_id)})
    for index, role in enumerate(added_roles, start=len(rows)):
        data.update({f"user_roles-{index}-user": str(user.pk),
                     f"user_roles-{index}-role": str(role.pk)})
    return data


def user_add_data(username: str, **overrides) -> dict:
    """Return a valid POST of the user add form."""
    data = {
        "username": username,
        "usable_password": "true",
        "password1": PASSWORD,
        "password2": PASSWORD,
        "name": "",
        "email": "",
        "phone": "",
        "department": "",
        "position": "",
    }
    data.update(overrides)
    return data


def position_data(code: str, **overrides) -> dict:
    """Return a valid POST of the position add/change form."""
    data = {"code": code, "name": f"Position {code}", "sort_order": "0", "status": "active",
            "description": ""}
    data.update(overrides)
    return data


def position_exists_anywhere(**lookup) -> bool:
    return Position.objects.all_tenants(include_deleted=True).filter(**lookup).exists()


def department_is_deleted(department: Department) -> bool:
    return Department.objects.all_tenants(include_deleted=True).get(pk=department.pk).is_deleted


# ---------------------------------------------------------------------------
# Change lists
# ---------------------------------------------------------------------------


def test_tenant_admin_user_changelist_lists_only_own_tenant(client_a, admin_a, org_a, org_b):
    """A tenant administrator sees only their tenant's users."""
    response = client_a.get(reverse("admin:accounts_user_changelist"))

    assert response.status_code == 200
    assert request_scope(response) == TenantScope(tenant_id=admin_a.tenant_id)
    rows = listed(response)
    assert {user.pk for user in rows} == {admin_a.pk, org_a["user"].pk}
    assert org_b["user"].pk not in {user.pk for user in rows}
    content = response.content.decode()
    assert "Alpha Engineering" in content
    assert "Beta Engineering" not in content
    assert "Beta Developer" not in content


def test_tenant_admin_search_does_not_reach_other_tenant(client_a, org_a, org_b):
    """Searching the department changelist finds only the administrator's tenant's rows."""
    response = client_a.get(reverse("admin:accounts_department_changelist"), {"q": "HQ"})

    assert response.status_code == 200
    assert [d.pk for d in listed(response)] == [org_a["root"].pk]


def test_tenant_admin_raw_id_lookup_popup_lists_only_own_tenant(client_a, org_a, org_b):
    """The lookup popup (raw-id widgets) of departments offers only the tenant's rows."""
    response = client_a.get(
        reverse("admin:accounts_department_changelist"), {"_to_field": "id", "_popup": "1"}
    )

    assert response.status_code == 200
    assert {d.pk for d in listed(response)} == {org_a["root"].pk, org_a["child"].pk}
    assert "Beta HQ" not in response.content.decode()


def test_tenant_admin_user_list_filters_offer_only_own_tenant(client_a, org_a, org_b):
    """The department and position list filters of the user changelist offer only the
    tenant's rows."""
    response = client_a.get(reverse("admin:accounts_user_changelist"))

    specs = {spec.field_path: spec for spec in response.context["cl"].filter_specs
             if hasattr(spec, "field_path")}
    department_choices = {pk for pk, _ in specs["department"].lookup_choices}
    position_choices = {pk for pk, _ in specs["position"].lookup_choices}
    assert department_choices == {org_a["root"].pk, org_a["child"].pk}
    assert position_choices == {org_a["position"].pk}
    assert "Beta HQ" not in response.content.decode()


def test_tenant_admin_filtering_by_other_tenant_department_lists_nothing(client_a, org_a, org_b):
    """Filtering users by another tenant's department id lists none of that tenant's users."""
    response = client_a.get(
        reverse("admin:accounts_user_changelist"), {"department__id__exact": str(org_b["child"].pk)}
    )

    assert response.status_code == 200
    assert listed(response) == []


# ---------------------------------------------------------------------------
# Another tenant's objects
# ---------------------------------------------------------------------------


def test_tenant_admin_cannot_open_other_tenant_user_history(client_a, org_a, org_b):
    """Another tenant's user's history does not exist for a tenant administrator (the change
    pages of every model: tests.admin_cases)."""
    response = client_a.get(reverse("admin:accounts_user_history", args=[org_b["user"].pk]))

    assert_missing_object_redirect(response)


def test_tenant_admin_cannot_change_other_tenant_user(client_a, org_a, org_b):
    """POSTing changes to another tenant's user changes nothing."""
    victim = org_b["user"]
    response = client_a.post(
        reverse("admin:accounts_user_change", args=[victim.pk]),
        user_change_data(victim, username="hijacked", name="Hijacked", is_staff="on"),
    )

    assert_missing_object_redirect(response)
    victim = User.objects.all_tenants().get(pk=victim.pk)
    assert (victim.username, victim.name, victim.is_staff) == ("alice", "", False)


def test_tenant_admin_cannot_delete_other_tenant_position(client_a, tenant_b, org_a, org_b):
    """POSTing the delete confirmation of another tenant's position deletes nothing."""
    with tenant_context(tenant_b):
        spare = Position.objects.create(code="spare", name="Beta Spare")

    response = client_a.post(
        reverse("admin:accounts_position_delete", args=[spare.pk]), {"post": "yes"}
    )

    assert_missing_object_redirect(response)
    assert not Position.objects.all_tenants(include_deleted=True).get(pk=spare.pk).is_deleted


def test_tenant_admin_cannot_set_other_tenant_user_password(client_a, org_a, org_b):
    """The password change page of another tenant's user is not found; the password stays."""
    own = reverse("admin:auth_user_password_change", args=[org_a["user"].pk])
    assert client_a.get(own).status_code == 200
    victim = org_b["user"]
    url = reverse("admin:auth_user_password_change", args=[victim.pk])

    assert client_a.get(url).status_code == 404
    response = client_a.post(
        url,
        {"usable_password": "true", "password1": "N3w-pass-word!", "password2": "N3w-pass-word!"},
    )

    assert response.status_code == 404
    assert User.objects.all_tenants().get(pk=victim.pk).check_password(PASSWORD)


def test_tenant_admin_cannot_restore_other_tenant_row(client_a, tenant_b, org_a, org_b):
    """The restore action ignores another tenant's deleted rows, even when their ids are sent."""
    with tenant_context(tenant_b):
        spare = Position.objects.create(code="spare", name="Beta Spare")
        spare.delete()

    response = client_a.post(
        reverse("admin:accounts_position_changelist") + "?deleted=1",
        {"action": "restore_selected", "_selected_action": [str(spare.pk)]},
    )

    assert response.status_code == 302
    assert Position.objects.all_tenants(include_deleted=True).get(pk=spare.pk).is_deleted


# ---------------------------------------------------------------------------
# Add and change forms
# ---------------------------------------------------------------------------


def test_user_add_form_offers_only_own_tenant_departments_and_positions(client_a, org_a, org_b):
    """The department and position choices of the user add form hold the tenant's rows only."""
    response = client_a.get(reverse("admin:accounts_user_add"))

    assert response.status_code == 200
    assert {d.pk for d in choices_of(response, "department")} == {
        org_a["root"].pk, org_a["child"].pk
    }
    assert {p.pk for p in choices_of(response, "position")} == {org_a["position"].pk}


def test_user_form_choices_fail_closed_without_a_tenant(client_a, org_a, org_b):
    """The form's department choices are scoped when they run: outside any tenant scope they
    refuse to run instead of listing every tenant's departments."""
    response = client_a.get(reverse("admin:accounts_user_add"))
    queryset = response.context["adminform"].form.fields["department"].queryset

    with pytest.raises(TenantContextMissing):
        list(queryset)


def test_user_change_form_offers_only_own_tenant_choices(client_a, org_a, org_b):
    """The user change form shows the user's department and offers only the tenant's rows."""
    response = client_a.get(reverse("admin:accounts_user_change", args=[org_a["user"].pk]))

    assert response.status_code == 200
    assert {d.pk for d in choices_of(response, "department")} == {
        org_a["root"].pk, org_a["child"].pk
    }
    assert {p.pk for p in choices_of(response, "position")} == {org_a["position"].pk}
    content = response.content.decode()
    assert "Alpha Engineering" in content
    assert "Beta" not in content


def test_department_form_parent_choices_are_own_tenant(client_a, org_a, org_b):
    """The parent choices of the department add form hold the tenant's departments only."""
    response = client_a.get(reverse("admin:accounts_department_add"))

    assert response.status_code == 200
    assert {d.pk for d in choices_of(response, "parent")} == {org_a["root"].pk, org_a["child"].pk}


@pytest.mark.parametrize("url_name", ["admin:accounts_user_add", "admin:accounts_position_add",
                                      "admin:accounts_department_add"])
def test_tenant_field_is_not_on_tenant_admin_add_forms(client_a, url_name):
    """A tenant administrator's add forms have no tenant field."""
    response = client_a.get(reverse(url_name))

    assert response.status_code == 200
    assert "tenant" not in response.context["adminform"].form.fields
    assert 'name="tenant"' not in response.content.decode()


def test_tenant_field_is_not_on_tenant_admin_change_form(client_a, org_a):
    """A tenant administrator's change forms have no tenant field."""
    response = client_a.get(reverse("admin:accounts_position_change", args=[org_a["position"].pk]))

    assert "tenant" not in response.context["adminform"].form.fields
    assert 'name="tenant"' not in response.content.decode()


def test_tenant_admin_adds_user_in_own_tenant(client_a, tenant_a, org_a, org_b):
    """A user added by a tenant administrator belongs to that administrator's tenant."""
    response = client_a.post(
        reverse("admin:accounts_user_add"),
        user_add_data(
            "dave", department=str(org_a["child"].pk), position=str(org_a["position"].pk)
        ),
    )

    assert response.status_code == 302, form_errors(response)
    dave = User.objects.all_tenants().get(username="dave")
    assert dave.tenant_id == tenant_a.pk
    assert (dave.department_id, dave.position_id) == (org_a["child"].pk, org_a["position"].pk)
    assert dave.check_password(PASSWORD)


def test_tenant_admin_adds_position_and_department_in_own_tenant(client_a, tenant_a, org_a):
    """Positions and departments added by a tenant administrator belong to their tenant."""
    response = client_a.post(reverse("admin:accounts_position_add"), position_data("qa"))
    assert response.status_code == 302, form_errors(response)

    response = client_a.post(
        reverse("admin:accounts_department_add"),
        {"code": "ops", "name": "Alpha Operations", "parent": str(org_a["root"].pk),
         "status": "active"},
    )
    assert response.status_code == 302, form_errors(response)

    assert Position.objects.all_tenants().get(code="qa").tenant_id == tenant_a.pk
    ops = Department.objects.all_tenants().get(code="ops")
    assert (ops.tenant_id, ops.parent_id) == (tenant_a.pk, org_a["root"].pk)


@pytest.mark.parametrize("field", ["department", "position"])
def test_user_add_with_other_tenant_reference_is_a_form_error(client_a, org_a, org_b, field):
    """Adding a user with another tenant's department or position is a form error; nothing is
    saved."""
    other = org_b["child"] if field == "department" else org_b["position"]

    response = client_a.post(
        reverse("admin:accounts_user_add"), user_add_data("dave", **{field: str(other.pk)})
    )

    assert response.status_code == 200
    assert field in form_errors(response)
    assert not User.objects.all_tenants(include_deleted=True).filter(username="dave").exists()


@pytest.mark.parametrize("field", ["department", "position"])
def test_user_change_with_other_tenant_reference_is_a_form_error(client_a, org_a, org_b, field):
    """Moving a user to another tenant's department or position is a form error; the user is
    unchanged."""
    alice = org_a["user"]
    other = org_b["child"] if field == "department" else org_b["position"]

    response = client_a.post(
        reverse("admin:accounts_user_change", args=[alice.pk]),
        user_change_data(alice, name="Changed", **{field: str(other.pk)}),
    )

    assert response.status_code == 200
    assert field in form_errors(response)
    alice = User.objects.all_tenants().get(pk=alice.pk)
    assert (alice.name, alice.department_id, alice.position_id) == (
        "", org_a["child"].pk, org_a["position"].pk
    )


def test_department_with_other_tenant_parent_is_a_form_error(client_a, org_a, org_b):
    """Adding a department under another tenant's department is a form error."""
    response = client_a.post(
        reverse("admin:accounts_department_add"),
        {"code": "ops", "name": "Alpha Operations", "parent": str(org_b["root"].pk),
         "status": "active"},
    )

    assert response.status_code == 200
    assert "parent" in form_errors(response)
    assert not Department.objects.all_tenants(include_deleted=True).filter(code="ops").exists()


# ---------------------------------------------------------------------------
# Autocomplete
# ---------------------------------------------------------------------------


def autocomplete_ids(client, field_name: str, term: str = "") -> set[str]:
    response = client.get(
        reverse("admin:autocomplete"),
        {"app_label": "accounts", "model_name": "user", "field_name": field_name, "term": term},
    )
    assert response.status_code == 200
    return {result["id"] for result in response.json()["results"]}


def test_autocomplete_of_departments_returns_only_own_tenant(client_a, org_a, org_b):
    """The department autocomplete of the user form returns the tenant's departments only."""
    assert autocomplete_ids(client_a, "department") == {
        str(org_a["root"].pk), str(org_a["child"].pk)
    }
    assert autocomplete_ids(client_a, "department", "Beta") == set()


def test_autocomplete_of_positions_returns_only_own_tenant(client_a, org_a, org_b):
    """The position autocomplete of the user form returns the tenant's positions only."""
    assert autocomplete_ids(client_a, "position") == {str(org_a["position"].pk)}


def test_autocomplete_for_the_operator_spans_tenants(operator_client, org_a, org_b):
    """A platform operator's department autocomplete returns every tenant's departments."""
    assert autocomplete_ids(operator_client, "department") == {
        str(org["root"].pk) for org in (org_a, org_b)
    } | {str(org["child"].pk) for org in (org_a, org_b)}


# ---------------------------------------------------------------------------
# Per-tenant uniqueness
# ---------------------------------------------------------------------------


def test_position_code_taken_in_own_tenant_is_a_form_error(client_a, org_a, org_b):
    """Adding a position whose code the tenant already uses is a form error, not a crash."""
    response = client_a.post(reverse("admin:accounts_position_add"), position_data("DEV"))

    assert response.status_code == 200
    errors = form_errors(response)
    assert "A position with this code already exists." in str(errors)
    assert Position.objects.all_tenants(include_deleted=True).filter(code="dev").count() == 2


def test_position_code_used_only_by_other_tenant_is_accepted(client_a, tenant_a, tenant_b, org_a):
    """A code that only another tenant uses is free for this tenant."""
    with tenant_context(tenant_b):
        Position.objects.create(code="ops", name="Beta Operations")

    response = client_a.post(reverse("admin:accounts_position_add"), position_data("ops"))

    assert response.status_code == 302, form_errors(response)
    tenants = set(
        Position.objects.all_tenants().filter(code="ops").values_list("tenant_id", flat=True)
    )
    assert tenants == {tenant_a.pk, tenant_b.pk}


def test_position_code_change_to_taken_code_is_a_form_error(client_a, tenant_a, org_a):
    """Renaming a position's code to one the tenant already uses is a form error."""
    with tenant_context(tenant_a):
        qa = Position.objects.create(code="qa", name="Alpha QA")

    response = client_a.post(
        reverse("admin:accounts_position_change", args=[qa.pk]), position_data("dev")
    )

    assert response.status_code == 200
    assert "A position with this code already exists." in str(form_errors(response))
    assert Position.objects.all_tenants().get(pk=qa.pk).code == "qa"


def test_username_taken_in_own_tenant_is_a_form_error(client_a, org_a, org_b):
    """Adding a user whose username the tenant already has is a form error."""
    response = client_a.post(reverse("admin:accounts_user_add"), user_add_data("Alice"))

    assert response.status_code == 200
    assert "A user with this username already exists." in str(form_errors(response))
    assert User.objects.all_tenants().filter(username="alice").count() == 2


def test_username_used_only_by_other_tenant_is_accepted(client_a, tenant_a, tenant_b, org_a):
    """A username only another tenant has is free for this tenant."""
    make_user(tenant_b, "bob")

    response = client_a.post(reverse("admin:accounts_user_add"), user_add_data("bob"))

    assert response.status_code == 302, form_errors(response)
    tenants = set(
        User.objects.all_tenants().filter(username="bob").values_list("tenant_id", flat=True)
    )
    assert tenants == {tenant_a.pk, tenant_b.pk}


def test_code_of_a_deleted_position_can_be_reused(client_a, tenant_a, org_a):
    """A soft-deleted position's code is free again for a new live position."""
    with tenant_context(tenant_a):
        Position.objects.create(code="qa", name="Old QA").delete()

    response = client_a.post(reverse("admin:accounts_position_add"), position_data("qa"))

    assert response.status_code == 302, form_errors(response)
    assert Position.objects.all_tenants(include_deleted=True).filter(code="qa").count() == 2


# ---------------------------------------------------------------------------
# Soft delete, recycle bin, restore
# ---------------------------------------------------------------------------


def test_deleting_a_position_soft_deletes_it(client_a, admin_a, tenant_a, org_a):
    """The admin delete view marks the position deleted; the row stays in the database."""
    with tenant_context(tenant_a):
        qa = Position.objects.create(code="qa", name="Alpha QA")

    response = client_a.post(reverse("admin:accounts_position_delete", args=[qa.pk]),
                             {"post": "yes"})

    assert response.status_code == 302
    qa = Position.objects.all_tenants(include_deleted=True).get(pk=qa.pk)
    assert qa.is_deleted
    assert qa.alive is None
    assert qa.deleted_at is not None
    assert qa.deleted_by_id == admin_a.pk
    live = client_a.get(reverse("admin:accounts_position_changelist"))
    assert qa.pk not in {p.pk for p in listed(live)}


def test_recycle_bin_lists_deleted_rows_and_restore_brings_them_back(client_a, tenant_a, org_a):
    """The recycle bin lists soft-deleted positions, and the restore action revives them."""
    with tenant_context(tenant_a):
        qa = Position.objects.create(code="qa", name="Alpha QA")
    client_a.post(reverse("admin:accounts_position_delete", args=[qa.pk]), {"post": "yes"})
    changelist = reverse("admin:accounts_position_changelist")

    bin_response = client_a.get(changelist, {"deleted": "1"})
    assert [p.pk for p in listed(bin_response)] == [qa.pk]
    action_choices = dict(bin_response.context["action_form"].fields["action"].choices)
    assert "restore_selected" in action_choices
    assert "delete_selected" not in action_choices

    response = client_a.post(
        changelist + "?deleted=1",
        {"action": "restore_selected", "_selected_action": [str(qa.pk)]},
    )

    assert response.status_code == 302
    qa = Position.objects.all_tenants(include_deleted=True).get(pk=qa.pk)
    assert (qa.is_deleted, qa.alive, qa.deleted_at) == (False, True, None)
    assert qa.pk in {p.pk for p in listed(client_a.get(changelist))}
    assert listed(client_a.get(changelist, {"deleted": "1"})) == []


def test_live_changelist_offers_no_restore_action(client_a, org_a):
    """The live changelist offers delete, not restore."""
    response = client_a.get(reverse("admin:accounts_position_changelist"))

    action_choices = dict(response.context["action_form"].fields["action"].choices)
    assert "delete_selected" in action_choices
    assert "restore_selected" not in action_choices


def test_restore_blocked_by_a_live_row_with_the_same_code(client_a, tenant_a, org_a):
    """Restoring a position whose code a live position now holds is refused with a message."""
    with tenant_context(tenant_a):
        old = Position.objects.create(code="qa", name="Old QA")
        old.delete()
        Position.objects.create(code="qa", name="New QA")

    response = client_a.post(
        reverse("admin:accounts_position_changelist") + "?deleted=1",
        {"action": "restore_selected", "_selected_action": [str(old.pk)]},
        follow=True,
    )

    assert response.status_code == 200
    assert Position.objects.all_tenants(include_deleted=True).get(pk=old.pk).is_deleted
    assert any("already exists" in text for text in (str(m) for m in response.context["messages"]))


def test_deleting_a_department_with_children_is_protected(client_a, org_a):
    """A department with sub-departments shows the protected page and is not deleted."""
    url = reverse("admin:accounts_department_delete", args=[org_a["root"].pk])

    response = client_a.get(url)
    assert response.status_code == 200
    assert response.context["protected"]

    response = client_a.post(url, {"post": "yes"})

    assert response.status_code == 200
    assert response.context["protected"]
    assert "sub-departments" in response.content.decode()
    assert not department_is_deleted(org_a["root"])


def test_deleting_a_position_held_by_users_is_protected(client_a, org_a):
    """A position users hold shows the protected page and is not deleted."""
    response = client_a.post(
        reverse("admin:accounts_position_delete", args=[org_a["position"].pk]), {"post": "yes"}
    )

    assert response.status_code == 200
    assert response.context["protected"]
    assert not Position.objects.all_tenants(include_deleted=True).get(
        pk=org_a["position"].pk
    ).is_deleted


def test_bulk_delete_of_protected_department_deletes_nothing(client_a, org_a):
    """The delete-selected action refuses protected departments and deletes nothing."""
    response = client_a.post(
        reverse("admin:accounts_department_changelist"),
        {"action": "delete_selected", "_selected_action": [str(org_a["root"].pk)], "post": "yes"},
    )

    assert response.status_code == 200
    assert response.context["protected"]
    assert not department_is_deleted(org_a["root"])


def test_bulk_delete_soft_deletes_a_leaf_department(client_a, tenant_a, org_a):
    """The delete-selected action, confirmed, soft-deletes a department with nothing in it."""
    with tenant_context(tenant_a):
        leaf = Department.objects.create(code="ops", name="Alpha Operations", parent=org_a["root"])

    response = client_a.post(
        reverse("admin:accounts_department_changelist"),
        {"action": "delete_selected", "_selected_action": [str(leaf.pk)], "post": "yes"},
    )

    assert response.status_code == 302
    assert department_is_deleted(leaf)
    assert not department_is_deleted(org_a["root"])


# ---------------------------------------------------------------------------
# Platform operator
# ---------------------------------------------------------------------------


def test_operator_user_changelist_spans_tenants(operator_client, org_a, org_b):
    """A platform operator sees every tenant's users, with a tenant column."""
    response = operator_client.get(reverse("admin:accounts_user_changelist"))

    assert response.status_code == 200
    pks = {user.pk for user in listed(response)}
    assert {org_a["user"].pk, org_b["user"].pk} <= pks
    assert "tenant" in response.context["cl"].list_display
    content = response.content.decode()
    assert "Alpha Engineering" in content and "Beta Engineering" in content


def test_operator_tenant_filter_narrows_to_one_tenant(operator_client, tenant_b, org_a, org_b):
    """The operator's tenant list filter narrows the changelist to one tenant."""
    response = operator_client.get(
        reverse("admin:accounts_user_changelist"), {"tenant__id__exact": str(tenant_b.pk)}
    )

    assert response.status_code == 200
    rows = listed(response)
    assert [user.pk for user in rows] == [org_b["user"].pk]
    assert {user.tenant_id for user in rows} == {tenant_b.pk}


def test_operator_position_add_requires_the_tenant(operator_client, org_a, org_b):
    """An operator adding a position must choose its tenant: there is no default."""
    url = reverse("admin:accounts_position_add")
    form = operator_client.get(url).context["adminform"].form
    assert form.fields["tenant"].required
    assert form.fields["tenant"].initial is None

    response = operator_client.post(url, position_data("ops"))

    assert response.status_code == 200
    assert "tenant" in form_errors(response)
    assert not position_exists_anywhere(code="ops")


def test_operator_adds_position_in_the_chosen_tenant(operator_client, tenant_b, org_a, org_b):
    """An operator's new position belongs to the tenant chosen in the form."""
    response = operator_client.post(
        reverse("admin:accounts_position_add"), position_data("ops", tenant=str(tenant_b.pk))
    )

    assert response.status_code == 302, form_errors(response)
    assert Position.objects.all_tenants().get(code="ops").tenant_id == tenant_b.pk


def test_operator_position_code_taken_in_chosen_tenant_is_a_form_error(
    operator_client, tenant_b, org_b
):
    """Per-tenant uniqueness holds for operators too: a taken code is a form error."""
    response = operator_client.post(
        reverse("admin:accounts_position_add"), position_data("dev", tenant=str(tenant_b.pk))
    )

    assert response.status_code == 200
    assert "A position with this code already exists." in str(form_errors(response))


def test_operator_user_add_requires_the_tenant(operator_client, org_a):
    """An operator adding a user must choose the tenant; without one nothing is created."""
    url = reverse("admin:accounts_user_add")
    assert "tenant" in operator_client.get(url).context["adminform"].form.fields

    response = operator_client.post(url, user_add_data("dave"))

    assert response.status_code == 200
    assert "tenant" in form_errors(response)
    assert not User.objects.all_tenants(include_deleted=True).filter(username="dave").exists()


def test_operator_cannot_mix_tenants_in_a_user(operator_client, tenant_b, org_a, org_b):
    """An operator cannot put a user of tenant B in a department of tenant A."""
    response = operator_client.post(
        reverse("admin:accounts_user_add"),
        user_add_data("dave", tenant=str(tenant_b.pk), department=str(org_a["child"].pk)),
    )

    assert response.status_code == 200
    assert "department" in form_errors(response)
    assert not User.objects.all_tenants(include_deleted=True).filter(username="dave").exists()


def test_operator_change_form_shows_tenant_read_only(operator_client, org_b):
    """On an existing row the operator sees the tenant but cannot change it."""
    response = operator_client.get(
        reverse("admin:accounts_position_change", args=[org_b["position"].pk])
    )

    assert response.status_code == 200
    assert "tenant" not in response.context["adminform"].form.fields
    assert "tenant" in response.context["adminform"].readonly_fields
    assert "Beta Ltd" in response.content.decode()


# ---------------------------------------------------------------------------
# Permissions a tenant administrator may grant
# ---------------------------------------------------------------------------


def test_role_choices_are_the_tenant_own(client_a, org_a, org_b, tenant_a, tenant_b):
    """The role autocomplete of the user form offers the tenant's own roles only."""
    with tenant_context(tenant_b):
        Role.objects.create(code="beta-only", name="Beta only")
    with tenant_context(tenant_a):
        Role.objects.create(code="alpha-only", name="Alpha only")

    response = client_a.get(
        reverse("admin:autocomplete"),
        {"app_label": "rbac", "model_name": "userrole", "field_name": "role", "term": ""},
    )

    assert response.status_code == 200
    names = {row["text"] for row in response.json()["results"]}
    assert "Alpha only" in names and "Beta only" not in names


def test_tenant_admin_cannot_grant_a_role_beyond_their_own(client, tenant_a, org_a):
    """An editor holding only user permissions cannot hand out the administrator role."""
    editor = make_user(tenant_a, "editor", is_staff=True)
    with tenant_context(tenant_a):
        limited = Role.objects.create(code="user-editor", name="User editor",
                                      data_scope=DataScope.ALL)
        limited.permissions.add(*RbacPermission.objects.filter(code__in=["user:view", "user:update"]))
    assign_roles(user=editor, roles=[limited])
    client.force_login(editor)
    alice = org_a["user"]

    response = client.post(
        reverse("admin:accounts_user_change", args=[alice.pk]),
        {**user_change_data(alice), **role_inline_data(alice, [ensure_admin_role(tenant_a)])},
    )

    assert response.status_code == 200
    assert "grants permissions you do not hold" in response.content.decode()
    assert not UserRole.objects.filter(user=alice).exists()


def test_tenant_admin_grants_a_role_within_their_own(client_a, tenant_a, org_a):
    """The tenant's administrator gives a member role; the user's permissions follow at once."""
    alice = org_a["user"]
    with tenant_context(tenant_a):
        member = Role.objects.create(code="member", name="Member", data_scope=DataScope.SELF)
        member.permissions.add(RbacPermission.objects.get(code="position:view"))
    assert not User.objects.all_tenants().get(pk=alice.pk).has_perm("accounts.view_position")

    response = client_a.post(
        reverse("admin:accounts_user_change", args=[alice.pk]),
        {**user_change_data(alice), **role_inline_data(alice, [member])},
    )

    assert response.status_code == 302, form_errors(response)
    assert User.objects.all_tenants().get(pk=alice.pk).has_perm("accounts.view_position")
    # The inline and the history name the user and the role, never their ids.
    grant = UserRole.objects.get(user=alice, role=member)
    change = client_a.get(reverse("admin:accounts_user_change", args=[alice.pk]))
    history = client_a.get(reverse("admin:accounts_user_history", args=[alice.pk]))
    for page in (change, history):
        text = page.content.decode()
        assert f"{alice} → Member" in text
        assert f"{grant.user_id} -&gt;" not in text and f"{grant.user_id} ->" not in text


def test_tenant_admin_cannot_make_anyone_superuser(client_a, org_a):
    """The superuser flag is not on a tenant administrator's form; posting it does nothing."""
    alice = org_a["user"]

    response = client_a.post(
        reverse("admin:accounts_user_change", args=[alice.pk]),
        user_change_data(alice, is_superuser="on"),
    )

    assert response.status_code == 302, form_errors(response)
    assert not User.objects.all_tenants().get(pk=alice.pk).is_superuser


def test_operator_form_offers_superuser_flag(operator_client, org_a):
    """A platform operator's user form carries the superuser flag."""
    response = operator_client.get(reverse("admin:accounts_user_change", args=[org_a["user"].pk]))

    assert "is_superuser" in response.context["adminform"].form.fields


def test_operator_cannot_make_a_tenant_user_superuser(operator_client, org_a):
    """Even an operator cannot make a tenant's user a superuser: it is a form error."""
    alice = org_a["user"]

    response = operator_client.post(
        reverse("admin:accounts_user_change", args=[alice.pk]),
        user_change_data(alice, is_superuser="on"),
    )

    assert response.status_code == 200
    assert "is_superuser" in form_errors(response)
    assert not User.objects.all_tenants().get(pk=alice.pk).is_superuser


# ---------------------------------------------------------------------------
# Query counts
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("rows", [3, 30])
def test_user_changelist_query_count_is_constant(
    client_a, tenant_a, org_a, rows, django_assert_max_num_queries
):
    """The user changelist runs a fixed number of queries, however many users it lists."""
    for index in range(rows):
        make_user(tenant_a, f"user{index:02d}", department=org_a["child"],
                  position=org_a["position"])

    client_a.get(reverse("admin:accounts_user_changelist"))  # warm-up: fills the permission cache
    with django_assert_max_num_queries(MAX_QUERIES_USER_CHANGELIST):
        response = client_a.get(reverse("admin:accounts_user_changelist"))

    assert len(listed(response)) == rows + 2


@pytest.mark.parametrize("rows", [3, 30])
def test_department_changelist_query_count_is_constant(
    client_a, tenant_a, rows, django_assert_max_num_queries
):
    """The department changelist runs a fixed number of queries, however many it lists."""
    with tenant_context(tenant_a):
        root = Department.objects.create(code="root", name="Alpha Root")
        for index in range(rows - 1):
            Department.objects.create(code=f"d{index:02d}", name=f"Alpha {index}", parent=root)

    client_a.get(reverse("admin:accounts_department_changelist"))  # warm-up: fills the permission cache
    with django_assert_max_num_queries(MAX_QUERIES_DEPARTMENT_CHANGELIST):
        response = client_a.get(reverse("admin:accounts_department_changelist"))

    assert len(listed(response)) == rows


@pytest.mark.parametrize("rows", [3, 30])
def test_position_changelist_query_count_is_constant(
    client_a, tenant_a, rows, django_assert_max_num_queries
):
    """The position changelist runs a fixed number of queries, however many it lists."""
    with tenant_context(tenant_a):
        for index in range(rows):
            Position.objects.create(code=f"p{index:02d}", name=f"Alpha {index}")

    client_a.get(reverse("admin:accounts_position_changelist"))  # warm-up: fills the permission cache
    with django_assert_max_num_queries(MAX_QUERIES_POSITION_CHANGELIST):
        response = client_a.get(reverse("admin:accounts_position_changelist"))

    assert len(listed(response)) == rows


@pytest.mark.parametrize("rows", [3, 30])
def test_operator_user_changelist_query_count_is_constant(
    operator_client, tenant_a, tenant_b, org_a, org_b, rows, django_assert_max_num_queries
):
    """The operator's user changelist (tenant column and filter) runs a fixed number of
    queries, however many users it lists."""
    for index in range(rows):
        tenant, org = (tenant_a, org_a) if index % 2 else (tenant_b, org_b)
        make_user(tenant, f"user{index:02d}", department=org["child"], position=org["position"])

    operator_client.get(reverse("admin:accounts_user_changelist"))  # warm-up: fills the permission cache
    with django_assert_max_num_queries(OPERATOR_MAX_QUERIES_USER_CHANGELIST):
        response = operator_client.get(reverse("admin:accounts_user_changelist"))

    assert len(listed(response)) == rows + 3



@pytest.mark.parametrize("rows", [3, 30])
def test_operator_position_changelist_query_count_is_constant(
    operator_client, tenant_a, tenant_b, rows, django_assert_max_num_queries
):
    """The operator's position changelist (tenant column and filter) runs a fixed number of
    queries, however many positions it lists."""
    for index in range(rows):
        with tenant_context(tenant_a if index % 2 else tenant_b):
            Position.objects.create(code=f"p{index:02d}", name=f"Position {index}")

    operator_client.get(reverse("admin:accounts_position_changelist"))  # warm-up: fills the permission cache
    with django_assert_max_num_queries(OPERATOR_MAX_QUERIES_POSITION_CHANGELIST):
        response = operator_client.get(reverse("admin:accounts_position_changelist"))

    assert len(listed(response)) == rows


@pytest.mark.parametrize("rows", [3, 30])
def test_operator_department_changelist_query_count_is_constant(
    operator_client, tenant_a, tenant_b, rows, django_assert_max_num_queries
):
    """The operator's department changelist (tenant column and filter) runs a fixed number
    of queries, however many departments it lists."""
    for index in range(rows):
        with tenant_context(tenant_a if index % 2 else tenant_b):
            Department.objects.create(code=f"d{index:02d}", name=f"Department {index}")

    operator_client.get(reverse("admin:accounts_department_changelist"))  # warm-up: fills the permission cache
    with django_assert_max_num_queries(OPERATOR_MAX_QUERIES_DEPARTMENT_CHANGELIST):
        response = operator_client.get(reverse("admin:accounts_department_changelist"))

    assert len(listed(response)) == rows
