"""Bad input is a 400 in the API's error format, never a 500, a silent coercion or HTML
(issue 10, items 3, 5 and 6)."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.services.api_keys import issue_api_key
from accounts.models import ApiKey, Position
from core.context import tenant_context
from notifications.models import Notification
from tests.api_cases import assert_error, assert_field_errors

pytestmark = pytest.mark.django_db

NOTIFICATIONS = reverse("api:notification-list")
POSITIONS = reverse("api:position-list")
USERS = reverse("api:user-list")


def deep(levels: int) -> str:
    """Return JSON nested ``levels`` deep (about 2 KB for 980 levels)."""
    return "[" * levels + "]" * levels


@pytest.fixture
def api(admin_a) -> APIClient:
    client = APIClient()
    client.force_login(admin_a)
    return client


# ---------------------------------------------------------------------------
# Notifications: what the OpenAPI document says is accepted is accepted
# ---------------------------------------------------------------------------


def test_a_notification_without_an_audience_goes_to_the_whole_tenant(api, tenant_a):
    """``audience`` is optional in the document: left out, it is the tenant."""
    response = api.post(NOTIFICATIONS, {"title": "t", "content": "c"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["audience"] == "tenant"


def test_a_notification_can_be_created_archived(api, tenant_a):
    """``status`` is writable in the document: an archived notification is stored as such."""
    response = api.post(NOTIFICATIONS, {"title": "t", "content": "c", "audience": "tenant",
                                        "status": "archived"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "archived"
    with tenant_context(tenant_a):
        assert Notification.objects.get(pk=response.json()["id"]).status == "archived"


def test_the_document_marks_what_a_notification_requires(api):
    """The OpenAPI document lists exactly title and content as required on creation."""
    schema = api.get(reverse("api-schema"), HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    component = schema["components"]["schemas"]["Notification"]
    writable = {name for name, prop in component["properties"].items() if not prop.get("readOnly")}
    assert set(component["required"]) & writable == {"title", "content"}
    assert {"status", "audience"} <= writable


# ---------------------------------------------------------------------------
# Nesting depth
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("method, url", [
    ("post", POSITIONS), ("post", USERS), ("post", reverse("api:mcptool-list")),
])
def test_deeply_nested_json_is_a_400_on_every_route(api, method, url):
    """980 levels in 2 KB: refused by the one JSON parser before anything recurses."""
    response = getattr(api, method)(url, deep(980), content_type="application/json")
    error = assert_error(response, 400, "parse_error")
    assert "64" in error["message"]


def test_deep_json_in_a_field_and_in_a_patch_is_a_400(api, admin_a, tenant_a):
    body = '{"name": "t", "input_schema": ' + deep(200) + "}"
    assert_error(api.post(reverse("api:mcptool-list"), body, content_type="application/json"), 400)
    url = reverse("api:user-detail", args=[admin_a.pk])
    assert_error(api.patch(url, '{"name": ' + deep(980) + "}", content_type="application/json"),
                 400)


def test_nesting_within_the_cap_is_parsed(api):
    """A body at the cap reaches the serializer (which refuses a list for a position)."""
    response = api.post(POSITIONS, deep(64), content_type="application/json")
    assert_error(response, 400, "invalid")


def test_the_mcp_endpoint_refuses_deep_json_as_a_parse_error(client, admin_a):
    _, key = issue_api_key(user=admin_a, name="agent", scopes=["user:view"])
    response = client.post("/mcp/", deep(980), content_type="application/json",
                           HTTP_AUTHORIZATION=f"Bearer {key}",
                           HTTP_ACCEPT="application/json, text/event-stream")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == -32700


# ---------------------------------------------------------------------------
# API keys: shapes that used to crash the view
# ---------------------------------------------------------------------------


@pytest.fixture
def key_url(admin_a) -> str:
    api_key, _ = issue_api_key(user=admin_a, name="ci", scopes=["user:view", "role:view"])
    return reverse("api:apikey-detail", args=[api_key.pk])


@pytest.mark.parametrize("body, field", [
    (["name"], "non_field_errors"),
    ({"scopes": None}, "scopes"),
    ({"scopes": 123}, "scopes"),
    ({"scopes": "user:view"}, "scopes"),
    ({"scopes": [{"a": 1}]}, "scopes"),
    ({"name": {"a": 1}}, "name"),
    ({"name": ["x"]}, "name"),
    ({"expires_at": None}, "expires_at"),
])
def test_malformed_key_changes_are_400_and_change_nothing(api, key_url, body, field):
    before = api.get(key_url).json()
    response = api.patch(key_url, json.dumps(body), content_type="application/json")
    assert_field_errors(response, {field})
    assert api.get(key_url).json() == before


def test_issuing_refuses_an_allow_list_or_scopes_of_the_wrong_shape(api):
    """A JSON object is not a list: no silent ``list()`` of its keys."""
    url = reverse("api:apikey-list")
    for body, field in (({"name": "a", "allowed_ips": {"10.0.0.1": 1}}, "allowed_ips"),
                        ({"name": "b", "scopes": {"user:view": True}}, "scopes"),
                        ({"name": "c", "scopes": "user:view"}, "scopes")):
        assert_field_errors(api.post(url, body, format="json"), {field})
    assert not ApiKey.objects.all_tenants().filter(name__in=["a", "b", "c"]).exists()


# ---------------------------------------------------------------------------
# No string field takes an object or an array (item 5), on every serializer
# ---------------------------------------------------------------------------


def string_fields_of_creations(schema: dict) -> list[tuple[str, str]]:
    """Return ``(path, property)`` of every writable string property of a POST body."""
    found = []
    for path, operations in schema["paths"].items():
        post = operations.get("post")
        if post is None or "{" in path:
            continue
        content = (post.get("requestBody") or {}).get("content", {})
        ref = (content.get("application/json") or {}).get("schema", {}).get("$ref")
        if ref is None:
            continue
        component = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
        for name, prop in component.get("properties", {}).items():
            if prop.get("type") == "string" and not prop.get("readOnly"):
                found.append((path, name))
    return found


def test_every_string_field_refuses_objects_and_arrays(operator_client):
    """An object or an array given to a string field is a 400 naming it, on every route."""
    schema = operator_client.get(
        reverse("api-schema"), HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    fields = string_fields_of_creations(schema)
    assert len({path for path, _ in fields}) >= 10, fields
    for path, name in fields:
        for value in ({"a": 1}, ["x"]):
            response = operator_client.post(path, json.dumps({name: value}),
                                            content_type="application/json")
            assert response.status_code == 400, (path, name, response.content)
            assert name in response.json()["error"]["fields"], (path, name, response.json())


def test_a_name_given_an_object_is_not_stored_as_its_repr(api, key_url):
    """The reported case: ``{"name": {"a": 1}}`` used to be stored as "{'a': 1}"."""
    assert_field_errors(api.patch(key_url, {"name": {"a": 1}}, format="json"), {"name"})
    assert api.get(key_url).json()["name"] == "ci"


# ---------------------------------------------------------------------------
# Every refusal under /api/ speaks JSON (item 6)
# ---------------------------------------------------------------------------


def test_a_body_over_the_limit_is_a_json_413(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
    body = json.dumps({"name": "x" * (10 * 1024 * 1024)})
    response = api.post(USERS, body, content_type="application/json")
    assert_error(response, 413, "request_too_large")


def test_malformed_json_is_a_json_400(api):
    assert_error(api.post(POSITIONS, '{"code": ', content_type="application/json"), 400,
                 "parse_error")
    assert_error(api.post(POSITIONS, '{"code": NaN}', content_type="application/json"), 400,
                 "parse_error")


def test_an_unsupported_media_type_is_a_json_415(api):
    assert_error(api.post(POSITIONS, "code=x", content_type="text/plain"), 415,
                 "unsupported_media_type")


def test_a_method_not_allowed_is_a_json_405(api):
    assert_error(api.put(reverse("api:apikey-list"), {}, format="json"), 405,
                 "method_not_allowed")


@pytest.mark.parametrize("debug", [False, True])
def test_an_unknown_api_url_is_a_json_404(api, settings, debug):
    """Outside any view, in production and in development (where Django would show its
    debug page) alike."""
    settings.DEBUG = debug
    assert_error(api.get("/api/v1/no-such-thing/"), 404, "not_found")
    assert_error(api.get("/api/nothing"), 404, "not_found")


def test_pages_outside_the_api_keep_their_html_errors(client_a):
    response = client_a.get("/accounts/no-such-page/")
    assert response.status_code == 404
    assert not response["Content-Type"].startswith("application/json")


def test_a_duplicate_is_still_the_validation_400(api, tenant_a):
    """A plain duplicate (no race): the model's message, as a non-field error."""
    with tenant_context(tenant_a):
        Position.objects.create(code="qa", name="QA")
    response = api.post(POSITIONS, {"code": "qa", "name": "QA"}, format="json")
    assert assert_field_errors(response, {"non_field_errors"}) == {
        "non_field_errors": ["A position with this code already exists."]}
