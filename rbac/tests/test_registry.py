"""The API endpoint registry (issue 3, item 8; seed 000 section 3.13): every route recorded
from the code with its operation id and permission code, operators' switches kept across
syncs, vanished routes marked inactive, routes without a permission refused, disabled
routes answering 404 to everybody."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.services.api_keys import issue_api_key
from conftest import make_tenant_admin, make_user
from rbac.catalogue import declared_permissions
from rbac.models import ApiEndpoint, Permission
from rbac.registry import RegistryError, collect_routes, sync_endpoints
from tenants.models import TenantPackage

pytestmark = pytest.mark.django_db

USERS = "/api/v1/users/"
ENDPOINTS = "/api/v1/endpoints/"


def endpoint(path: str, method: str = "GET") -> ApiEndpoint:
    return ApiEndpoint.objects.get(path=path, method=method)


def switch(path: str, method: str = "GET", *, enabled: bool) -> None:
    """Switch a route as an operator does: through the model, which drops the cached rules."""
    row = endpoint(path, method)
    row.is_enabled = enabled
    row.save()


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# ---------------------------------------------------------------------------
# Sync
# ---------------------------------------------------------------------------


def test_migrate_records_the_routes():
    """The registry is written after migrate: the test database already holds it."""
    assert endpoint("/api/v1/me/").permission_code == "authenticated"
    assert ApiEndpoint.objects.filter(is_active=True).count() == len(collect_routes())


def test_sync_records_every_route_with_operation_id_and_permission_code():
    """Every route of the schema gets a row with its module, operation id and permission."""
    ApiEndpoint.objects.all().delete()
    report = sync_endpoints()
    routes = collect_routes()
    assert len(report.created) == len(routes) == ApiEndpoint.objects.count()
    rows = {(row.path, row.method): row for row in ApiEndpoint.objects.all()}
    for route in routes:
        row = rows[route.path, route.method]
        assert row.operation_id == route.operation_id != ""
        assert row.permission_code == route.permission_code != ""
        assert (row.is_active, row.is_enabled, row.required_scopes) == (True, True, [])
        assert row.last_synced_at is not None

    user = rows["/api/v1/users/{id}/", "GET"]
    assert (user.module, user.operation_id, user.permission_code) == (
        "accounts", "users_retrieve", "user:view"
    )
    assert rows["/api/v1/users/{id}/", "DELETE"].permission_code == "user:delete"
    assert rows["/api/v1/users/{id}/restore/", "POST"].permission_code == "user:restore"
    assert rows["/api/v1/endpoints/{id}/", "PATCH"].permission_code == "endpoint:update"
    assert ("/api/v1/endpoints/{id}/", "PUT") not in rows  # the registry takes PATCH only
    assert rows["/api/v1/me/", "GET"].description.startswith("Return who the request")
    # The schema's own views are not API endpoints.
    assert not any(path.startswith("/api/schema") for path, _ in rows)


def test_every_recorded_permission_code_is_in_the_catalogue():
    """A route's code is one the catalogue declares (or the any-signed-in-user sentinel)."""
    declared = {spec.code for spec in declared_permissions()}
    codes = set(ApiEndpoint.objects.values_list("permission_code", flat=True))
    assert codes - declared == {"authenticated"}


def test_every_route_applies_the_registry_switches():
    """Every route's view applies the registry's switches (``EndpointSwitches``), or
    disabling it would do nothing."""
    unenforced = [f"{r.method} {r.path}" for r in collect_routes() if not r.enforced]
    assert unenforced == []


def test_resync_keeps_operator_edits_and_restores_the_code_columns():
    """A sync rewrites what the code declares and never an operator's switches."""
    row = endpoint(USERS)
    row.is_enabled = False
    row.required_scopes = ["user:view"]
    row.description = "edited by hand"
    row.permission_code = "tampered:view"
    row.save()

    report = sync_endpoints()

    row.refresh_from_db()
    assert (row.is_enabled, row.required_scopes) == (False, ["user:view"])
    assert row.permission_code == "user:view"
    assert row.description == "Users of the tenant."
    assert report.updated == [f"GET {USERS}"]
    assert report.created == report.deactivated == []


def test_resync_without_changes_changes_nothing():
    """A second sync of unchanged code reports nothing and keeps every row."""
    sync_endpoints()
    before = ApiEndpoint.objects.count()
    report = sync_endpoints()
    assert (report.created, report.updated, report.deactivated) == ([], [], [])
    assert ApiEndpoint.objects.count() == before


def test_vanished_route_is_marked_inactive_and_comes_back_with_its_settings():
    """A route missing from the code stays, inactive; when it returns, so do its switches."""
    row = endpoint("/api/v1/users/{id}/", "DELETE")
    row.is_enabled = False
    row.save()
    synced_at = row.last_synced_at
    routes = collect_routes()
    fewer = [r for r in routes if (r.path, r.method) != ("/api/v1/users/{id}/", "DELETE")]

    report = sync_endpoints(routes=fewer)

    row.refresh_from_db()
    assert report.deactivated == ["DELETE /api/v1/users/{id}/"]
    assert (row.is_active, row.is_enabled, row.last_synced_at) == (False, False, synced_at)
    assert ApiEndpoint.objects.filter(is_active=False).count() == 1

    report = sync_endpoints(routes=routes)

    row.refresh_from_db()
    assert report.updated == ["DELETE /api/v1/users/{id}/"]
    assert (row.is_active, row.is_enabled) == (True, False)


@override_settings(ROOT_URLCONF="rbac.tests.urls_undeclared")
def test_route_without_permission_code_fails_the_sync():
    """A route whose view declares no permission code stops the sync, named in the error."""
    before = ApiEndpoint.objects.count()
    with pytest.raises(RegistryError) as error:
        sync_endpoints()
    message = str(error.value)
    assert "GET /api/v1/undeclared/" in message
    assert "UndeclaredViewSet" in message
    assert "/api/v1/declared/" not in message
    assert ApiEndpoint.objects.count() == before
    with pytest.raises(CommandError, match="GET /api/v1/undeclared/"):
        call_command("sync_endpoints", stdout=io.StringIO())


def test_sync_command_reports():
    out = io.StringIO()
    call_command("sync_endpoints", stdout=out, stderr=io.StringIO())
    assert f"{len(collect_routes())} routes" in out.getvalue()


# ---------------------------------------------------------------------------
# Enforcement
# ---------------------------------------------------------------------------


def test_disabled_endpoint_answers_404_for_everyone(operator, admin_a, org_a):
    """Switched off, a route is 404 for a superuser, a tenant admin and an anonymous caller."""
    operator_client, admin_client = signed_in(operator), signed_in(admin_a)
    assert operator_client.get(USERS).status_code == 200
    assert admin_client.get(USERS).status_code == 200

    switch(USERS, enabled=False)

    for client in (operator_client, admin_client):
        response = client.get(USERS)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
    # An anonymous caller is refused as on every route, before the registry is read.
    assert Client().get(USERS).status_code == 401
    assert operator_client.head(USERS).status_code == 404
    assert operator_client.get("/api/v1/users.json").status_code == 404
    # Only that route and method: the detail route and creating still answer.
    detail = f"{USERS}{org_a['user'].pk}/"
    assert operator_client.get(detail).status_code == 200
    assert admin_client.get(detail).status_code == 200

    switch(USERS, enabled=True)

    assert operator_client.get(USERS).status_code == 200
    assert admin_client.get(USERS).status_code == 200


def test_user_without_the_permission_also_gets_404(tenant_a):
    """Switched off, a route is 404 even to a signed-in user it would refuse with 403."""
    client = signed_in(make_user(tenant_a, "plain"))
    assert client.get(USERS).status_code == 403
    switch(USERS, enabled=False)
    assert client.get(USERS).status_code == 404


@override_settings(ROOT_URLCONF="rbac.tests.urls_undeclared")
def test_disabled_public_route_answers_404_to_anonymous_callers():
    """A route open to anonymous callers is switched off for them too."""
    client = Client()
    assert client.get("/api/v1/public/").status_code == 200
    ApiEndpoint.objects.create(path="/api/v1/public/", method="GET",
                               permission_code="authenticated", is_enabled=False)
    assert client.get("/api/v1/public/").status_code == 404


def test_disabled_detail_route_and_me_answer_404(client_a, org_a):
    """Path templates match requests with arguments, and plain API views too."""
    detail = f"{USERS}{org_a['user'].pk}/"
    switch("/api/v1/users/{id}/", enabled=False)
    switch("/api/v1/me/", enabled=False)
    assert client_a.get(detail).status_code == 404
    assert client_a.get("/api/v1/me/").status_code == 404
    assert client_a.get(USERS).status_code == 200

    switch("/api/v1/me/", enabled=True)

    assert client_a.get("/api/v1/me/").status_code == 200


def test_required_scopes_narrow_api_keys_not_sessions(admin_a):
    """An API key needs an endpoint's required scopes besides the route's permission."""
    _, plaintext = issue_api_key(user=admin_a, name="script", scopes=["user:view"])
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {plaintext}"}
    client = Client()
    assert client.get(USERS, **bearer).status_code == 200

    row = endpoint(USERS)
    row.required_scopes = ["user:view", "position:view"]
    row.save()

    response = client.get(USERS, **bearer)
    assert response.status_code == 403
    assert "position:view" in response.json()["error"]["message"]
    assert signed_in(admin_a).get(USERS).status_code == 200


def test_me_needs_no_permission_beyond_signing_in(tenant_a):
    """/me/ declares "authenticated": a user with no role reads who they are."""
    user = make_user(tenant_a, "plain")
    assert signed_in(user).get("/api/v1/me/").json()["username"] == "plain"
    assert Client().get("/api/v1/me/").status_code in (401, 403)


# ---------------------------------------------------------------------------
# Admin
# ---------------------------------------------------------------------------


def test_registry_admin_is_operator_only(client_a):
    """A tenant administrator cannot open the registry's admin."""
    row = endpoint(USERS)
    assert client_a.get(reverse("admin:rbac_apiendpoint_changelist")).status_code == 403
    assert client_a.get(reverse("admin:rbac_apiendpoint_change", args=[row.pk])).status_code == 403


def test_registry_admin_edits_only_the_operator_switches(operator_client):
    """An operator lists and switches routes; the code's columns are read-only, no add or delete."""
    row = endpoint(USERS)
    changelist = operator_client.get(reverse("admin:rbac_apiendpoint_changelist"),
                                     {"q": USERS})
    assert changelist.status_code == 200
    assert USERS in changelist.content.decode()
    url = reverse("admin:rbac_apiendpoint_change", args=[row.pk])
    form = operator_client.get(url).context["adminform"].form
    assert set(form.fields) == {"is_enabled", "required_scopes"}

    response = operator_client.post(url, {
        "required_scopes": '["user:view"]',
        # is_enabled left unticked: switched off
        "path": "/hacked/", "permission_code": "nothing:view", "is_active": "",
    })

    assert response.status_code == 302
    row.refresh_from_db()
    assert (row.is_enabled, row.required_scopes) == (False, ["user:view"])
    assert (row.path, row.permission_code, row.is_active) == (USERS, "user:view", True)
    assert operator_client.get(USERS).status_code == 404

    bad = operator_client.post(url, {"is_enabled": "on", "required_scopes": '["not a code"]'})
    assert bad.status_code == 200 and bad.context["adminform"].form.errors
    assert operator_client.get(reverse("admin:rbac_apiendpoint_add")).status_code == 403
    assert operator_client.get(
        reverse("admin:rbac_apiendpoint_delete", args=[row.pk])
    ).status_code == 403


def test_registry_admin_actions_switch_routes(operator_client):
    row = endpoint(USERS)
    changelist = reverse("admin:rbac_apiendpoint_changelist")
    operator_client.post(changelist, {"action": "disable_selected", "_selected_action": [row.pk]})
    row.refresh_from_db()
    assert row.is_enabled is False
    assert operator_client.get(USERS).status_code == 404
    operator_client.post(changelist, {"action": "enable_selected", "_selected_action": [row.pk]})
    assert operator_client.get(USERS).status_code == 200


# ---------------------------------------------------------------------------
# API
# ---------------------------------------------------------------------------


def test_api_lists_the_registry_to_whoever_holds_endpoint_view(operator_api, client_a, tenant_b):
    """Tenant A's package grants endpoint:view; tenant B's narrower package does not."""
    narrow = TenantPackage.objects.create(code="narrow", name="Narrow")
    narrow.permissions.set(Permission.objects.filter(code="user:view"))
    tenant_b.package = narrow
    tenant_b.save()
    admin_b = make_tenant_admin(tenant_b)
    total = ApiEndpoint.objects.count()

    for client in (operator_api, client_a):
        response = client.get(ENDPOINTS, {"page_size": 200})
        assert response.status_code == 200
        assert response.json()["count"] == total
    me = client_a.get(ENDPOINTS, {"search": "/api/v1/me/"}).json()
    assert [row["operation_id"] for row in me["results"]] == ["me_retrieve"]

    assert signed_in(admin_b).get(ENDPOINTS).status_code == 403


def test_api_list_query_count_does_not_grow_with_rows(operator_api):
    """Listing the registry costs a fixed number of queries, whatever its size."""
    operator_api.get(ENDPOINTS)  # warm the session user's access and the endpoint rules
    with CaptureQueriesContext(connection) as queries:
        response = operator_api.get(ENDPOINTS, {"page_size": 200})
    assert response.json()["count"] > 40
    assert len(queries) <= 6, [q["sql"] for q in queries]


def test_api_patch_is_the_platforms(operator_api, client_a):
    """A tenant admin cannot switch routes (endpoint:update is a platform action)."""
    row = endpoint(USERS)
    url = f"{ENDPOINTS}{row.pk}/"
    assert client_a.get(url).status_code == 200

    refused = client_a.patch(url, {"is_enabled": False}, content_type="application/json")

    assert refused.status_code == 403
    row.refresh_from_db()
    assert row.is_enabled is True

    response = operator_api.patch(
        url, {"is_enabled": False, "required_scopes": ["user:view"], "path": "/hacked/"},
        content_type="application/json",
    )

    assert response.status_code == 200
    row.refresh_from_db()
    assert (row.is_enabled, row.required_scopes, row.path) == (False, ["user:view"], USERS)
    assert client_a.get(USERS).status_code == 404
    bad = operator_api.patch(url, {"required_scopes": "user:view"}, content_type="application/json")
    assert bad.status_code == 400
    assert "required_scopes" in bad.json()["error"]["fields"]
    assert operator_api.put(url, {}, content_type="application/json").status_code == 405
    assert operator_api.delete(url).status_code == 405
