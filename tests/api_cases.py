"""Shared base test cases of the REST API (NetBox ``utilities/testing/api.py`` style).

A resource's test module declares one class that mixes in the cases the resource supports
and sets its data; the cases here do the rest. Declarations:

* ``basename``: the route name under the ``api`` namespace (``user`` -> ``api:user-list``).
* ``model``: the model, which names the permission codes (``rbac.catalogue.code_for``).
* ``make(tenant, index)``: create one row reachable by the users of ``tenant``.
* ``make_out_of_reach(home, other)``: create a row the home tenant's users must not reach
  (default: a row of the other tenant); ``None`` when there is none.
* ``create_data(tenant)``, ``update_data(row)``, ``patch_data``: valid payloads.
* ``invalid_payloads(tenant)``: ``[(payload, {field, ...})]`` refused with those fields.
* ``foreign_references(other_org)``: ``[(payload, field)]`` naming another tenant's rows.
* ``make_undeletable(tenant)``: a row whose delete is refused (something depends on it).
* ``platform_resource``: only the platform tenant's roles hold the codes (tenants,
  packages); ``platform_actions``: the actions only they may perform (menu writes).
* ``in_scope(org)`` / ``out_of_scope(org)`` for ``DataScopeCase``.

Every case acts as a user holding one role that grants exactly the code the action needs,
with data scope "all" (``act``), signed in with a session (API keys are tested elsewhere).
"""

from __future__ import annotations

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import User
from conftest import make_user
from core.context import all_tenants, tenant_context
from rbac.api.permissions import VIEWSET_ACTIONS
from rbac.catalogue import actions_of, code_for
from rbac.models import DataScope, Permission, Role
from rbac.services import assign_roles
from tenants.managers import is_soft_deletable
from tenants.models import TenantScopedModel

# DRF actions -> the catalogue action whose code they need: the permission class's own map.
CATALOGUE_ACTION = VIEWSET_ACTIONS


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def assert_error(response, status: int, code: str | None = None) -> dict:
    """Assert an error response in the API's one format and return its ``error`` body."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    error = response.json()["error"]
    assert error["status"] == status
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    if code is not None:
        assert error["code"] == code, error
    return error


def assert_field_errors(response, fields) -> dict:
    """Assert a 400 with errors on (at least) ``fields``; return the field errors."""
    error = assert_error(response, 400, "invalid")
    assert isinstance(error["fields"], dict), error
    missing = set(fields) - set(error["fields"])
    assert not missing, f"no error on {missing}: {error['fields']}"
    return error["fields"]


def make_actor(
    tenant,
    codes,
    *,
    data_scope: str = DataScope.ALL,
    department=None,
    username: str | None = None,
) -> User:
    """Return a user of ``tenant`` holding one role that grants exactly ``codes``.

    A platform tenant's user is made staff, which makes them a platform operator (every
    tenant in scope) without being a superuser: the role alone decides what they may do.
    """
    username = username or f"actor-{uuid.uuid4().hex[:10]}"
    user = make_user(tenant, username, is_staff=tenant.is_platform is True, department=department)
    codes = set(codes)
    with tenant_context(tenant):
        role = Role.objects.create(code=f"r-{username}", name=username, data_scope=data_scope)
        role.permissions.set(Permission.objects.filter(code__in=codes))
    granted = set(role.permissions.values_list("code", flat=True))
    assert granted == codes, f"unknown codes: {codes - granted}"
    assign_roles(user=user, roles=[role])
    return user


def stored(model, pk):
    """Return the row as stored now, whatever its tenant or deletion state."""
    return model._base_manager.filter(pk=pk).first()


def ids(response) -> set[str]:
    """Return the ids of a list response's results."""
    return {str(row["id"]) for row in response.json()["results"]}


# ---------------------------------------------------------------------------
# The base every case shares
# ---------------------------------------------------------------------------


class APICase:
    """Routes, actors and factories of one resource; declarations override the data."""

    pytestmark = [pytest.mark.django_db]
    basename: str
    model: type
    platform_resource = False
    platform_actions: frozenset = frozenset()
    patch_data: dict = {"name": "Patched"}
    secret_fields: tuple = ()
    # Logs page with a cursor (next/previous/results, no count) instead of page numbers.
    cursor_paginated = False

    # -- declarations ------------------------------------------------------

    def make(self, tenant, index: int):
        raise NotImplementedError

    def make_out_of_reach(self, home, other):
        """Return a row the home tenant's users must not reach: another tenant's."""
        if not issubclass(self.model, TenantScopedModel) and not hasattr(self.model, "tenant"):
            return None
        return self.make(other, 900)

    def create_data(self, tenant) -> dict:
        raise NotImplementedError

    def update_data(self, row) -> dict:
        raise NotImplementedError

    def invalid_payloads(self, tenant) -> list:
        return []

    def foreign_references(self, other_org) -> list:
        return []

    def make_undeletable(self, tenant):
        return None

    # -- fixtures ----------------------------------------------------------

    @pytest.fixture
    def api(self):
        return APIClient()

    @pytest.fixture
    def home(self, tenant_a, platform):
        """The tenant whose users act and whose rows they reach."""
        return platform if self.platform_resource else tenant_a

    @pytest.fixture
    def other(self, tenant_b):
        return tenant_b

    @pytest.fixture
    def row(self, home):
        return self.build(home, 0)

    @pytest.fixture
    def act(self, api, home, platform):
        """Sign ``api`` in as a user holding exactly the code of ``action`` (or ``codes``)."""

        def login(action: str, codes=None, **options) -> User:
            tenant = platform if self.is_platform_action(action) else home
            user = make_actor(tenant, codes if codes is not None else [self.code(action)], **options)
            api.force_login(user)
            return user

        return login

    @pytest.fixture
    def act_without(self, api, home, platform):
        """Sign ``api`` in as a user holding every code of the resource but ``action``'s."""

        def login(action: str) -> User:
            tenant = platform if self.is_platform_action(action) else home
            needed = self.code(action)
            codes = {code_for(self.model, a) for a in actions_of(self.model)} - {needed}
            codes &= set(Permission.objects.values_list("code", flat=True))
            user = make_actor(tenant, codes)
            api.force_login(user)
            return user

        return login

    # -- helpers -----------------------------------------------------------

    def scope(self, tenant):
        """Return the tenant scope the declared factories run under."""
        return all_tenants() if tenant.is_platform else tenant_context(tenant)

    def build(self, tenant, index: int):
        """Create a row through the declared factory."""
        with self.scope(tenant):
            return self.make(tenant, index)

    def payload(self, tenant) -> dict:
        """Return a valid create payload through the declared factory."""
        with self.scope(tenant):
            return self.create_data(tenant)

    def invalid(self, tenant) -> list:
        with self.scope(tenant):
            return self.invalid_payloads(tenant)

    def references(self, other_org) -> list:
        with self.scope(other_org["root"].tenant):
            return self.foreign_references(other_org)

    def code(self, action: str) -> str:
        return code_for(self.model, CATALOGUE_ACTION.get(action, action))

    def is_platform_action(self, action: str) -> bool:
        return self.platform_resource or CATALOGUE_ACTION.get(action, action) in self.platform_actions

    def list_url(self) -> str:
        return reverse(f"api:{self.basename}-list")

    def detail_url(self, pk) -> str:
        return reverse(f"api:{self.basename}-detail", args=[pk])

    def restore_url(self, pk) -> str:
        return reverse(f"api:{self.basename}-restore", args=[pk])

    def call(self, api, action: str, pk=None, data=None):
        """Send the request of a DRF action."""
        if action == "list":
            return api.get(self.list_url())
        if action == "retrieve":
            return api.get(self.detail_url(pk))
        if action == "create":
            return api.post(self.list_url(), data if data is not None else {}, format="json")
        if action == "update":
            return api.put(self.detail_url(pk), data if data is not None else {}, format="json")
        if action == "partial_update":
            return api.patch(self.detail_url(pk), data if data is not None else {}, format="json")
        if action == "destroy":
            return api.delete(self.detail_url(pk))
        if action == "restore":
            return api.post(self.restore_url(pk))
        raise ValueError(action)

    def out_of_reach(self, home, other, action: str):
        """Return an out-of-reach row for an action, skipping when the actor reaches all."""
        if self.is_platform_action(action):
            pytest.skip("platform operators reach every row of a platform resource")
        hidden = self.make_out_of_reach(home, other)
        if hidden is None:
            pytest.skip("every row of this resource is within the actor's reach")
        return hidden

    def assert_no_secrets(self, body: dict) -> None:
        for name in self.secret_fields:
            assert name not in body, f"{name} leaked in {body}"

    def assert_refused_without_permission(self, response, action: str) -> None:
        error = assert_error(response, 403, "permission_denied")
        assert self.code(action) in error["message"]

    def assert_unauthenticated(self, response) -> None:
        assert_error(response, 401, "not_authenticated")
        assert response["WWW-Authenticate"]


# ---------------------------------------------------------------------------
# One case per action
# ---------------------------------------------------------------------------


class GetObjectCase(APICase):
    """GET /<resource>/<id>/."""

    def test_get_object_anonymous_is_401(self, api, row):
        """An anonymous request is refused with a JSON 401."""
        self.assert_unauthenticated(self.call(api, "retrieve", row.pk))

    def test_get_object_without_permission_is_403(self, api, act_without, row):
        """A user lacking the view code gets a JSON 403 naming it."""
        act_without("retrieve")
        self.assert_refused_without_permission(self.call(api, "retrieve", row.pk), "retrieve")

    def test_get_object(self, api, act, row):
        """The view code is enough to read one row."""
        act("retrieve")
        response = self.call(api, "retrieve", row.pk)
        assert response.status_code == 200, response.content
        assert str(response.json()["id"]) == str(row.pk)
        self.assert_no_secrets(response.json())

    def test_get_object_out_of_reach_is_404(self, api, act, home, other):
        """A row of another tenant (or outside the package) is not found."""
        hidden = self.out_of_reach(home, other, "retrieve")
        act("retrieve")
        assert_error(self.call(api, "retrieve", hidden.pk), 404, "not_found")

    def test_get_object_malformed_id_is_404(self, api, act):
        """An id that is not even well-formed is a 404, never a 500."""
        act("retrieve")
        assert_error(api.get(self.detail_url("not-an-id")), 404, "not_found")


class ListObjectsCase(APICase):
    """GET /<resource>/."""

    def test_list_anonymous_is_401(self, api):
        self.assert_unauthenticated(self.call(api, "list"))

    def test_list_without_permission_is_403(self, api, act_without):
        act_without("list")
        self.assert_refused_without_permission(self.call(api, "list"), "list")

    def test_list_objects(self, api, act, home):
        """The list is paginated (count, results) and holds the tenant's rows."""
        rows = [self.build(home, index) for index in range(3)]
        act("list")
        response = api.get(self.list_url(), {"page_size": 200})
        assert response.status_code == 200, response.content
        body = response.json()
        if self.cursor_paginated:
            assert set(body) >= {"next", "previous", "results"} and len(body["results"]) >= 3
        else:
            assert set(body) >= {"count", "next", "previous", "results"}
            assert body["count"] == len(body["results"]) >= 3
        assert {str(row.pk) for row in rows} <= ids(response)
        for result in body["results"]:
            self.assert_no_secrets(result)

    def test_list_excludes_rows_out_of_reach(self, api, act, home, other):
        """Another tenant's rows never appear in the list."""
        hidden = self.out_of_reach(home, other, "list")
        act("list")
        response = api.get(self.list_url(), {"page_size": 200})
        assert response.status_code == 200
        assert str(hidden.pk) not in ids(response)

    def test_list_page_size(self, api, act, home):
        """``page_size`` bounds one page; ``next`` leads on."""
        for index in range(3):
            self.build(home, index)
        act("list")
        response = api.get(self.list_url(), {"page_size": 2})
        assert response.status_code == 200
        body = response.json()
        assert len(body["results"]) == 2 and body["next"]
        if self.cursor_paginated:
            following = api.get(body["next"])
            assert following.status_code == 200 and len(following.json()["results"]) >= 1
            assert not set(ids(following)) & {str(row["id"]) for row in body["results"]}
        else:
            assert body["count"] >= 3

    def test_list_page_out_of_range_is_404(self, api, act):
        """A page past the end is a 404 in the error format, never a 500."""
        act("list")
        past_the_end = {"cursor": "not-a-cursor"} if self.cursor_paginated else {"page": 9999}
        assert_error(api.get(self.list_url(), past_the_end), 404, "not_found")

    def test_list_queries_do_not_grow_with_rows(self, api, act, home, django_assert_max_num_queries):
        """Listing 30 rows costs no more queries than listing 3."""
        for index in range(3):
            self.build(home, index)
        act("list")
        self.call(api, "list")  # warm-up: fills the permission cache
        with CaptureQueriesContext(connection) as measured:
            assert self.call(api, "list").status_code == 200
        bound = len(measured) + 1
        for index in range(3, 30):
            self.build(home, index)
        self.call(api, "list")  # new rows may bump the access version (departments do)
        with django_assert_max_num_queries(bound):
            response = self.call(api, "list")
        assert response.status_code == 200
        if not self.cursor_paginated:
            assert response.json()["count"] >= 30


class CreateObjectCase(APICase):
    """POST /<resource>/."""

    def test_create_anonymous_is_401(self, api, home):
        self.assert_unauthenticated(self.call(api, "create", data=self.payload(home)))

    def test_create_without_permission_is_403(self, api, act_without, home):
        act_without("create")
        data = self.payload(home)
        count = self.model._base_manager.count()
        self.assert_refused_without_permission(self.call(api, "create", data=data), "create")
        assert self.model._base_manager.count() == count

    def test_create_object(self, api, act, home):
        """The create code is enough; the row lands in the actor's tenant, stamped by them."""
        actor = act("create")
        response = self.call(api, "create", data=self.payload(home))
        assert response.status_code == 201, response.content
        self.assert_no_secrets(response.json())
        created = stored(self.model, response.json()["id"])
        assert created is not None
        if issubclass(self.model, TenantScopedModel):
            assert created.tenant_id == home.pk
        if hasattr(created, "created_by_id"):
            assert created.created_by_id == actor.pk

    def test_create_ignores_tenant_in_body(self, api, act, home, other):
        """A tenant user cannot place a row in another tenant by naming it."""
        if not issubclass(self.model, TenantScopedModel):
            pytest.skip("not a tenant-owned resource")
        act("create")
        response = self.call(api, "create", data={**self.payload(home), "tenant": str(other.pk)})
        assert response.status_code == 201, response.content
        assert stored(self.model, response.json()["id"]).tenant_id == home.pk

    def test_create_duplicate_is_400(self, api, act, home):
        """A second row with the same unique keys is a 400 with field errors, not a 500."""
        act("create")
        data = self.payload(home)
        assert self.call(api, "create", data=data).status_code == 201
        response = self.call(api, "create", data=data)
        assert_field_errors(response, ())

    def test_create_invalid_is_400(self, api, act, home):
        """Bad input is a 400 naming the fields, never a 500."""
        act("create")
        payloads = self.invalid(home)
        if not payloads:
            pytest.skip("no invalid payloads declared")
        for payload, fields in payloads:
            assert_field_errors(self.call(api, "create", data=payload), fields)

    def test_create_not_an_object_is_400(self, api, act):
        """A JSON list instead of an object is a 400 with field errors."""
        act("create")
        response = api.post(self.list_url(), "[1, 2]", content_type="application/json")
        assert_field_errors(response, {"non_field_errors"})

    def test_create_malformed_json_is_400(self, api, act):
        """A body that is not JSON is a 400 in the error format."""
        act("create")
        response = api.post(self.list_url(), "{not json", content_type="application/json")
        assert_error(response, 400, "parse_error")

    def test_create_referencing_another_tenant_is_400(self, api, act, home, org_b):
        """A reference to another tenant's row is a field error."""
        references = self.references(org_b)
        if not references:
            pytest.skip("the resource references no tenant-owned rows")
        act("create")
        valid = self.payload(home)
        count = self.model._base_manager.count()
        for payload, field in references:
            data = {**valid, **payload}
            assert_field_errors(self.call(api, "create", data=data), {field})
        assert self.model._base_manager.count() == count


class UpdateObjectCase(APICase):
    """PUT and PATCH /<resource>/<id>/."""

    def test_update_anonymous_is_401(self, api, row):
        self.assert_unauthenticated(self.call(api, "partial_update", row.pk, self.patch_data))

    def test_update_without_permission_is_403(self, api, act_without, row):
        act_without("update")
        self.assert_refused_without_permission(
            self.call(api, "update", row.pk, self.update_data(row)), "update"
        )
        self.assert_refused_without_permission(
            self.call(api, "partial_update", row.pk, self.patch_data), "partial_update"
        )

    def test_put_object(self, api, act, row):
        """PUT replaces the row's writable fields."""
        act("update")
        data = self.update_data(row)
        response = self.call(api, "update", row.pk, data)
        assert response.status_code == 200, response.content
        body = response.json()
        self.assert_no_secrets(body)
        for name, value in data.items():
            if name in body and not isinstance(value, (list, dict)):
                assert str(body[name]) == str(value), (name, body[name], value)

    def test_patch_object(self, api, act, row):
        """PATCH changes only the fields sent."""
        act("partial_update")
        response = self.call(api, "partial_update", row.pk, self.patch_data)
        assert response.status_code == 200, response.content
        saved = stored(self.model, row.pk)
        for name, value in self.patch_data.items():
            assert getattr(saved, name) == value

    def test_update_out_of_reach_is_404(self, api, act, home, other):
        """Another tenant's row cannot be changed: 404, and it stays as it was."""
        hidden = self.out_of_reach(home, other, "update")
        act("update")
        before = stored(self.model, hidden.pk)
        assert_error(self.call(api, "update", hidden.pk, self.update_data(hidden)), 404, "not_found")
        assert_error(self.call(api, "partial_update", hidden.pk, self.patch_data), 404, "not_found")
        after = stored(self.model, hidden.pk)
        for name in self.patch_data:
            assert getattr(after, name) == getattr(before, name)

    def test_update_invalid_is_400(self, api, act, row, home):
        """Bad input on update is a 400 naming the fields; the row is unchanged."""
        act("update")
        payloads = self.invalid(home)
        if not payloads:
            pytest.skip("no invalid payloads declared")
        for payload, fields in payloads:
            assert_field_errors(self.call(api, "partial_update", row.pk, payload), fields)

    def test_update_referencing_another_tenant_is_400(self, api, act, row, org_b):
        """Pointing a row at another tenant's row is a field error."""
        references = self.references(org_b)
        if not references:
            pytest.skip("the resource references no tenant-owned rows")
        act("update")
        for payload, field in references:
            assert_field_errors(self.call(api, "partial_update", row.pk, payload), {field})


class DeleteObjectCase(APICase):
    """DELETE /<resource>/<id>/: a soft delete where the model is soft-deletable."""

    def test_delete_anonymous_is_401(self, api, row):
        self.assert_unauthenticated(self.call(api, "destroy", row.pk))

    def test_delete_without_permission_is_403(self, api, act_without, row):
        act_without("destroy")
        self.assert_refused_without_permission(self.call(api, "destroy", row.pk), "destroy")
        saved = stored(self.model, row.pk)
        assert saved is not None and not getattr(saved, "is_deleted", False)

    def test_delete_object(self, api, act, row):
        """DELETE answers 204; a soft-deletable row stays in the table, marked deleted."""
        actor = act("destroy")
        response = self.call(api, "destroy", row.pk)
        assert response.status_code == 204, response.content
        saved = stored(self.model, row.pk)
        if is_soft_deletable(self.model):
            assert saved is not None and saved.is_deleted is True
            assert saved.deleted_by_id == actor.pk and saved.deleted_at is not None
            assert_error(self.call(api, "destroy", row.pk), 404, "not_found")
        else:
            assert saved is None

    def test_delete_refused_is_400(self, api, act, home):
        """A row something still depends on is not deleted: 400 saying why, never a 500."""
        with self.scope(home):
            row = self.make_undeletable(home)
        if row is None:
            pytest.skip("no undeletable row declared")
        act("destroy")
        assert_field_errors(self.call(api, "destroy", row.pk), {"non_field_errors"})
        assert stored(self.model, row.pk).is_deleted is False

    def test_delete_out_of_reach_is_404(self, api, act, home, other):
        hidden = self.out_of_reach(home, other, "destroy")
        act("destroy")
        assert_error(self.call(api, "destroy", hidden.pk), 404, "not_found")
        saved = stored(self.model, hidden.pk)
        assert saved is not None and not getattr(saved, "is_deleted", False)


class RestoreObjectCase(APICase):
    """POST /<resource>/<id>/restore/: bring a soft-deleted row back."""

    def soft_deleted(self, tenant, index: int = 0):
        row = self.build(tenant, index)
        with self.scope(tenant):
            row.soft_delete()
        return row

    def test_restore_anonymous_is_401(self, api, home):
        self.assert_unauthenticated(self.call(api, "restore", self.soft_deleted(home).pk))

    def test_restore_without_permission_is_403(self, api, act_without, home):
        row = self.soft_deleted(home)
        act_without("restore")
        self.assert_refused_without_permission(self.call(api, "restore", row.pk), "restore")
        assert stored(self.model, row.pk).is_deleted is True

    def test_restore_object(self, api, act, home):
        """The restore code brings the row back."""
        row = self.soft_deleted(home)
        act("restore")
        response = self.call(api, "restore", row.pk)
        assert response.status_code == 200, response.content
        assert str(response.json()["id"]) == str(row.pk)
        saved = stored(self.model, row.pk)
        assert saved.is_deleted is False and saved.deleted_at is None

    def test_restore_taken_keys_is_400(self, api, act, home):
        """A row whose unique keys a live row has taken meanwhile is not restored: 400."""
        row = self.soft_deleted(home)
        self.build(home, 0)  # the same factory index makes the same unique keys
        act("restore")
        assert_field_errors(self.call(api, "restore", row.pk), ())
        assert stored(self.model, row.pk).is_deleted is True

    def test_restore_live_row_is_404(self, api, act, row):
        """Only deleted rows can be restored."""
        act("restore")
        assert_error(self.call(api, "restore", row.pk), 404, "not_found")

    def test_restore_out_of_reach_is_404(self, api, act, home, other):
        self.out_of_reach(home, other, "restore")
        hidden = self.soft_deleted(other, 901)
        act("restore")
        assert_error(self.call(api, "restore", hidden.pk), 404, "not_found")
        assert stored(self.model, hidden.pk).is_deleted is True


class PlatformOnlyCase(APICase):
    """Actions only platform operators perform: a tenant administrator is refused them."""

    def test_tenant_admin_is_refused_platform_actions(self, api, admin_a, home, platform):
        """A tenant administrator holding every code of the package gets 403 naming the code."""
        row = self.build(platform if self.platform_resource else home, 0)
        api.force_login(admin_a)
        actions = [
            action
            for action in ("list", "retrieve", "create", "update", "partial_update", "destroy")
            if self.is_platform_action(action)
        ]
        assert actions
        for action in actions:
            data = {"create": self.payload(home), "update": self.update_data(row),
                    "partial_update": self.patch_data}.get(action)
            response = self.call(api, action, row.pk, data)
            if response.status_code == 405:  # the route does not exist for this resource
                continue
            self.assert_refused_without_permission(response, action)


class DataScopeCase(APICase):
    """A role with data scope "dept" reaches the user's own department only."""

    def in_scope(self, org) -> list:
        raise NotImplementedError

    def out_of_scope(self, org) -> list:
        raise NotImplementedError

    @pytest.fixture
    def scoped(self, api, home, org_a):
        """Sign in as a user of org_a's child department whose role has data scope "dept"."""
        codes = [self.code(action) for action in ("view", "update", "delete")]
        user = make_actor(home, codes, data_scope=DataScope.DEPARTMENT, department=org_a["child"])
        api.force_login(user)
        return user

    def test_dept_scope_lists_own_department_only(self, api, org_a, home, scoped):
        with tenant_context(home):
            inside, outside = self.in_scope(org_a), self.out_of_scope(org_a)
        response = self.call(api, "list")
        assert response.status_code == 200, response.content
        listed = ids(response)
        assert {str(row.pk) for row in inside} <= listed
        assert not {str(row.pk) for row in outside} & listed

    def test_dept_scope_row_outside_is_404(self, api, org_a, home, scoped):
        with tenant_context(home):
            outside = self.out_of_scope(org_a)
        assert outside
        for row in outside:
            assert_error(self.call(api, "retrieve", row.pk), 404, "not_found")
            assert_error(self.call(api, "partial_update", row.pk, self.patch_data), 404, "not_found")
            assert_error(self.call(api, "destroy", row.pk), 404, "not_found")
            assert not stored(self.model, row.pk).is_deleted

    def test_dept_scope_row_inside_is_reached(self, api, org_a, home, scoped):
        with tenant_context(home):
            inside = self.in_scope(org_a)
        for row in inside:
            assert self.call(api, "retrieve", row.pk).status_code == 200
            response = self.call(api, "partial_update", row.pk, self.patch_data)
            assert response.status_code == 200, response.content


class OperatorCreateCase(APICase):
    """A platform operator creates a tenant's rows by naming the tenant, one tenant per row."""

    @pytest.fixture
    def operator_api(self, api, platform):
        """Sign in as a platform operator (not a superuser) holding only the create code."""
        if not issubclass(self.model, TenantScopedModel):
            pytest.skip("not a tenant-owned resource")
        api.force_login(make_actor(platform, [self.code("create")]))
        return api

    def test_operator_must_name_the_tenant(self, operator_api, home):
        """There is no default tenant for an operator: leaving it out is a field error."""
        assert_field_errors(self.call(operator_api, "create", data=self.payload(home)), {"tenant"})

    def test_operator_creates_in_the_named_tenant(self, operator_api, home):
        data = {**self.payload(home), "tenant": str(home.pk)}
        response = self.call(operator_api, "create", data=data)
        assert response.status_code == 201, response.content
        assert stored(self.model, response.json()["id"]).tenant_id == home.pk

    def test_operator_cannot_reference_another_tenants_rows(self, operator_api, home, org_b):
        """Naming tenant A with a reference to tenant B's row is a field error."""
        references = self.references(org_b)
        if not references:
            pytest.skip("the resource references no tenant-owned rows")
        valid = {**self.payload(home), "tenant": str(home.pk)}
        count = self.model._base_manager.count()
        for payload, field in references:
            response = self.call(operator_api, "create", data={**valid, **payload})
            assert_field_errors(response, {field})
        assert self.model._base_manager.count() == count


# ---------------------------------------------------------------------------
# Bundles
# ---------------------------------------------------------------------------


class ReadOnlyAPICase(GetObjectCase, ListObjectsCase):
    """List and retrieve (logs, the permission catalogue)."""


class APIViewTestCase(GetObjectCase, ListObjectsCase, CreateObjectCase, UpdateObjectCase):
    """List, retrieve, create and update (resources that are never deleted)."""


class DeletableAPIViewTestCase(APIViewTestCase, DeleteObjectCase):
    """Everything but restore (hard-deleted resources)."""


class SoftDeleteAPIViewTestCase(DeletableAPIViewTestCase, RestoreObjectCase, OperatorCreateCase):
    """Everything, DELETE being a soft delete and restore/ bringing rows back."""
