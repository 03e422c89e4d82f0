"""Rows of the test domain for the tests: each made valid (``full_clean``) in its tenant."""

from __future__ import annotations

from core.context import tenant_context
from testing.choices import StepKind
from testing.models import (
    Dataset,
    Environment,
    Interface,
    Keyword,
    Project,
    Scenario,
    ScenarioStep,
    TestPlan,
)


def make(model, tenant, **fields):
    """Create a validated ``model`` row of ``tenant``."""
    with tenant_context(tenant):
        row = model(tenant=tenant, **fields)
        row.full_clean()
        row.save()
        return row


def project(tenant, name="Shop API"):
    return make(Project, tenant, name=name)


def interface(project, name="List orders", **fields):
    fields.setdefault("method", "GET")
    fields.setdefault("url", "/orders/")
    return make(Interface, project.tenant, project=project, name=name, **fields)


def environment(project, name="Staging", **fields):
    fields.setdefault("base_url", "https://staging.example.com")
    return make(Environment, project.tenant, project=project, name=name, **fields)


def keyword(project, name="Sign a payload", **fields):
    fields.setdefault("method_name", "sign")
    fields.setdefault("code", "def sign(payload, key):\n    return payload\n")
    fields.setdefault("parameters", {"type": "object", "properties": {
        "payload": {"type": "string"}, "key": {"type": "string"}}, "required": ["payload"]})
    return make(Keyword, project.tenant, project=project, name=name, **fields)


def scenario(project, name="Checkout", **fields):
    return make(Scenario, project.tenant, project=project, name=name, **fields)


def step(scenario, **fields):
    with tenant_context(scenario.tenant):
        fields.setdefault("sort_order", (scenario.steps.count() + 1) * 10)
    return make(ScenarioStep, scenario.tenant, scenario=scenario, **fields)


def dataset(project, name="Users", csv_data="user,expected\nann,200\n", **fields):
    return make(Dataset, project.tenant, project=project, name=name, csv_data=csv_data, **fields)


def plan(project, name="Nightly", **fields):
    return make(TestPlan, project.tenant, project=project, name=name, **fields)


def request_step(scenario, url, *, method="GET", assertions=(), extractors=(), **request):
    """Add an inline-request step to ``scenario``."""
    return step(scenario, kind=StepKind.REQUEST, parameters={
        "method": method, "url": url, "assertions": list(assertions),
        "extractors": list(extractors), **request})


def status_is(code):
    """Return the assertion that the status is ``code``."""
    return {"type": "status_code", "operator": "==", "expected_value": code}
