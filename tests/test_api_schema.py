"""The OpenAPI schema and its interactive docs, served without any external asset."""

from __future__ import annotations

import re
from urllib.parse import urlparse

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

# Attribute values and CSS url()s that load something: src, href, url(...).
ASSET_URL = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url\(\s*["']?([^"')]+)""", re.I)
ABSOLUTE_URL = re.compile(r"""(?:https?:)?//[^\s"'<>)]+""", re.I)


def test_schema_answers_a_signed_in_user(client_a):
    """/api/schema/ describes the API's routes."""
    response = client_a.get(reverse("api-schema"), HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    for path in ("/api/v1/users/", "/api/v1/users/{id}/restore/", "/api/v1/roles/",
                 "/api/v1/tenants/", "/api/v1/login-logs/"):
        assert path in schema["paths"], path


def test_the_schema_holds_no_example_hosts_or_docstrings_of_base_classes(client_a):
    """An agent reads the document (and the MCP tools' schemas made of it): no invented
    addresses for the page links, no base serializer's docstring as a description."""
    import json

    from tenants.api.base import PlatformSerializer

    response = client_a.get(reverse("api-schema"), HTTP_ACCEPT="application/vnd.oai.openapi+json")
    schema = response.json()
    text = json.dumps(schema)
    assert "example.org" not in text
    assert PlatformSerializer.__doc__.strip() not in text
    page = schema["components"]["schemas"]["PaginatedUserList"]["properties"]
    assert page["next"]["description"].startswith("The address of the next page")
    logs = schema["components"]["schemas"]["PaginatedLoginLogList"]["properties"]
    assert logs["next"]["example"] is None and logs["previous"]["description"]


def test_docs_render_with_local_assets_only(client_a):
    """/api/docs/ loads Swagger UI from this site (the sidecar), never from another host."""
    response = client_a.get(reverse("api-docs"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger" in html.lower()
    foreign = [url for url in ABSOLUTE_URL.findall(html) if urlparse(
        url if "://" in url else f"http:{url}").hostname not in ("testserver", None)]
    assert not foreign, foreign
    assets = [a or b for a, b in ASSET_URL.findall(html)]
    assert any(asset.endswith(".js") for asset in assets), assets
    for asset in assets:
        assert not re.match(r"(?:https?:)?//", asset), asset
        if asset.startswith("/static/"):
            assert client_a.get(asset).status_code == 200, asset
