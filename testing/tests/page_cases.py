"""What the tests of the tester pages share: users holding exact codes, rows made in a
tenant's context, and the checks every page needs (sign-in, 403 without the code, 404 for
another tenant's project and anything in it).
"""

from __future__ import annotations

from contextlib import contextmanager

from django.urls import reverse

from core.context import tenant_context
from rbac.catalogue import code_for
from testing.models import Project
from tests.admin_cases import make_staff_actor

# The codes of the design pages, all actions: what the demo "Tester" role holds.
DESIGN_MODELS = ("project", "environment", "variable", "databaseconfig", "keyword",
                 "builtinkeyword", "globalfunction", "dataset", "testplan", "planscenario",
                 "scenario", "scenariostep", "interface", "interfacefolder")
ACTIONS = ("view", "create", "update", "delete")


def codes(*models_actions: tuple) -> set[str]:
    """Return the codes of ``(Model, action)`` pairs."""
    return {code_for(model, action) for model, action in models_actions}


def all_design_codes() -> set[str]:
    """Return every code of the design pages (built-in keywords are view-only)."""
    found = {f"{model}:{action}" for model in DESIGN_MODELS for action in ACTIONS}
    return {code for code in found if not code.startswith("builtinkeyword:")
            or code == "builtinkeyword:view"}


def sign_in(client, tenant, wanted=None):
    """Sign ``client`` in as a user of ``tenant`` holding exactly ``wanted`` (default: all)."""
    user = make_staff_actor(tenant, all_design_codes() if wanted is None else wanted)
    client.force_login(user)
    return user


@contextmanager
def as_tenant(tenant):
    """Run the block in ``tenant``'s context (rows created there belong to it)."""
    with tenant_context(tenant):
        yield


def make_project(tenant, name: str = "Shop") -> Project:
    """Create a project of ``tenant``."""
    with as_tenant(tenant):
        return Project.objects.create(name=name, tenant=tenant)


def make(model, tenant, **fields):
    """Create a ``model`` row of ``tenant`` after validating it, as the pages would."""
    with as_tenant(tenant):
        row = model(tenant=tenant, **fields)
        row.full_clean()
        row.save()
        return row


def assert_all_missing(client, urls, *, post: bool = True) -> None:
    """Assert every URL answers 404 to a GET (and a POST): another tenant's rows."""
    for url in urls:
        assert client.get(url).status_code == 404, url
        if post:
            assert client.post(url, {"name": "x"}).status_code == 404, url


def assert_all_refused(client, urls) -> None:
    """Assert every URL answers 403 to a GET and a POST: a permission is missing."""
    for url in urls:
        assert client.get(url).status_code == 403, url
        assert client.post(url, {"name": "x"}).status_code == 403, url


def assert_sign_in_needed(client, urls) -> None:
    """Assert every URL sends an anonymous visitor to the sign-in page."""
    login = reverse("accounts:login")
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302 and response.url.startswith(login), url


def field_errors(response, field: str) -> list[str]:
    """Return the errors the page's form shows for ``field``."""
    return list(response.context["form"].errors.get(field, []))


def everything_logged() -> str:
    """Return every operation and audit log row as one text, to look for leaked secrets."""
    import json

    from core.context import all_tenants
    from logs.models import AuditLog, OperationLog

    with all_tenants():
        rows = [*AuditLog.objects.values(), *OperationLog.objects.values()]
    assert rows, "nothing was logged: the check would prove nothing"
    return json.dumps(rows, default=str)


def assert_accessible_forms(html: str) -> None:
    """Assert every visible input has a label (for= its id) and no id appears twice."""
    import re

    inputs = re.findall(r'<(?:input|select|textarea)\b(?![^>]*type="hidden")[^>]*>', html)
    ids = [re.search(r'\sid="([^"]+)"', tag) for tag in inputs]
    assert all(ids), [tag for tag, found in zip(inputs, ids, strict=True) if not found]
    labels = set(re.findall(r'<label[^>]*\sfor="([^"]+)"', html))
    unlabelled = {found.group(1) for found in ids} - labels
    assert not unlabelled, unlabelled
    every_id = re.findall(r'\sid="([^"]+)"', html)
    assert len(every_id) == len(set(every_id)), sorted(i for i in every_id
                                                       if every_id.count(i) > 1)
