"""Every derived tool's output schema accepts the real answers of its endpoint, under a
validator that checks formats and under one that does not (the Python SDK client's
default), as MCP clients validate ``structuredContent`` (issue 16, item 1)."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from jsonschema import Draft202012Validator
from rest_framework.test import APIClient

from accounts.models import User
from core.context import all_tenants
from gateway.schemas import tool_definition
from rbac.models import ApiEndpoint

# Every datasource: seed_demo rolls usage up on the analytics one (postgres_db when routed).
pytestmark = pytest.mark.django_db(databases="__all__")
PLACEHOLDER = re.compile(r"{([^{}/]+)}")


def errors(schema: dict, answer, *, formats: bool) -> list[str]:
    checker = Draft202012Validator.FORMAT_CHECKER if formats else None
    validator = Draft202012Validator(schema, format_checker=checker)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(answer)]


def callers():
    """The demo's tenant administrator and platform operator, with their API clients."""
    call_command("seed_demo", verbosity=0)
    with all_tenants():
        people = [User.objects.get(tenant__code="acme", username="admin"),
                  User.objects.get(tenant__is_platform=True, username="admin")]
    clients = []
    for person in people:
        client = APIClient()
        client.force_login(person)
        clients.append(client)
    return clients


def test_every_output_schema_accepts_the_real_answers_with_and_without_formats():
    clients = callers()
    checked, failures = [], []
    endpoints = ApiEndpoint.objects.filter(is_active=True, method="GET").order_by("path")
    collections: dict[str, list] = {}
    for endpoint in endpoints:
        schema = tool_definition(endpoint).output_schema
        if schema is None:
            continue
        path = endpoint.path
        if PLACEHOLDER.search(path):
            parent = PLACEHOLDER.split(path)[0]
            rows = collections.get(parent)
            if not rows:
                continue
            path = PLACEHOLDER.sub(str(rows[0]["id"]), path, count=1)
            if PLACEHOLDER.search(path):
                continue
        for client in clients:
            response = client.get(path)
            if response.status_code == 200:
                break
        else:
            continue
        answer = response.json()
        if isinstance(answer, dict) and isinstance(answer.get("results"), list):
            collections[endpoint.path] = [r for r in answer["results"]
                                          if isinstance(r, dict) and "id" in r]
        for formats in (True, False):
            failures += [f"{endpoint.method} {path} (formats {formats}): {message}"
                         for message in errors(schema, answer, formats=formats)]
        checked.append(path)
    assert not failures, "\n".join(failures)
    assert len(checked) >= 60, checked  # lists and details of every app
