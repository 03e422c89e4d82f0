"""Factories of the test design domain, shared by the tests of /api/v1/testing/.

This module holds no tests. Every factory runs inside the tenant scope of the row it makes
(``APICase.build`` and the fixtures provide it) and returns an existing row of the same
name where one exists, so that a resource's factory may ask for its project or scenario
as often as it likes.
"""

from __future__ import annotations

import functools

from django.urls import reverse
from rest_framework.test import APIClient

from core.context import tenant_context
from rbac.catalogue import declared_permissions
from testing.models import (
    BuiltinKeyword,
    DatabaseConfig,
    Dataset,
    Environment,
    Interface,
    InterfaceFolder,
    Keyword,
    PlanScenario,
    Project,
    Scenario,
    ScenarioStep,
    TestPlan,
    Variable,
)

# Values that must never appear in an API answer, a log or an export.
DB_PASSWORD = "pw-Zq81-never-shown"
SECRET_VALUE = "sk-live-4b1d-never-shown"

KEYWORD_CODE = "def run(name, count=1):\n    return {'greeting': 'hello ' + name}\n"
KEYWORD_DOCS = {"type": "object",
                "properties": {"name": {"type": "string"}, "count": {"type": "integer"}},
                "required": ["name"], "additionalProperties": False}
FUNCTION_CODE = "class Text:\n    def upper(self, value):\n        return value.upper()\n"


def signed_in_tester(tenant, codes=None) -> APIClient:
    """Return a client signed in as a user of ``tenant`` holding ``codes`` (default: every
    code of the testing app, what a tester's role grants)."""
    from tests.api_cases import make_actor

    if codes is None:
        codes = [spec.code for spec in declared_permissions() if spec.module == "testing"]
    api = APIClient()
    api.force_login(make_actor(tenant, codes))
    return api


def in_tenant(factory):
    """Run ``factory(tenant, ...)`` inside its tenant's scope, whatever scope the caller has."""

    @functools.wraps(factory)
    def scoped(tenant, *args, **kwargs):
        with tenant_context(tenant):
            return factory(tenant, *args, **kwargs)

    return scoped


def url(basename: str, action: str = "list", *args) -> str:
    """Return the URL of a route of the testing API (``url("testscenario", "restore", pk)``)."""
    return reverse(f"api:{basename}-{action}", args=args)


@in_tenant
def project(tenant, name: str = "Shop") -> Project:
    return Project.objects.filter(name=name).first() or Project.objects.create(
        tenant=tenant, name=name)


@in_tenant
def database(tenant, name: str = "orders_db", *, in_project: Project | None = None,
             **fields) -> DatabaseConfig:
    owner = in_project or project(tenant)
    found = DatabaseConfig.objects.filter(project=owner, variable_name=name).first()
    if found is not None:
        return found
    values = {"name": name.replace("_", " ").title(), "db_type": "mysql",
              "host": "db.example.com", "port": 3306, "username": "app",
              "password": DB_PASSWORD, **fields}
    return DatabaseConfig.objects.create(tenant=tenant, project=owner, variable_name=name,
                                         **values)


@in_tenant
def folder(tenant, name: str = "Orders", *, parent: InterfaceFolder | None = None,
           in_project: Project | None = None) -> InterfaceFolder:
    owner = in_project or (parent.project if parent else project(tenant))
    found = InterfaceFolder.objects.filter(project=owner, name=name, parent=parent).first()
    return found or InterfaceFolder.objects.create(tenant=tenant, project=owner, name=name,
                                                   parent=parent)


@in_tenant
def interface(tenant, name: str = "List orders", *, in_project: Project | None = None,
              **fields) -> Interface:
    owner = in_project or project(tenant)
    found = Interface.objects.filter(project=owner, name=name).first()
    if found is not None:
        return found
    values = {"method": "GET", "url": "/api/v1/orders/",
              "headers": [{"name": "Authorization", "value": "Bearer {{api_key}}"}],
              "assertions": [{"type": "status_code", "operator": "==", "expected_value": 200}],
              "extractors": [{"name": "order_id", "source": "json",
                              "expression": "$.results[0].id"}],
              **fields}
    return Interface.objects.create(tenant=tenant, project=owner, name=name, **values)


@in_tenant
def environment(tenant, name: str = "Staging", *, in_project: Project | None = None) -> Environment:
    owner = in_project or project(tenant)
    found = Environment.objects.filter(project=owner, name=name).first()
    return found or Environment.objects.create(tenant=tenant, project=owner, name=name,
                                               base_url="https://staging.example.com")


@in_tenant
def variable(tenant, name: str = "base_path", value: str = "/api", *, secret: bool = False,
             env: Environment | None = None, in_project: Project | None = None) -> Variable:
    owner = in_project or (env.project if env else project(tenant))
    row = Variable(tenant=tenant, project=owner, environment=env, name=name, is_secret=secret)
    row.set_value(value)
    row.full_clean()
    row.save()
    return row


@in_tenant
def keyword(tenant, name: str = "Greet", *, in_project: Project | None = None) -> Keyword:
    owner = in_project or project(tenant)
    found = Keyword.objects.filter(project=owner, name=name).first()
    return found or Keyword.objects.create(tenant=tenant, project=owner, name=name,
                                           method_name="run", code=KEYWORD_CODE,
                                           parameters=KEYWORD_DOCS)


def builtin(code: str = "assert_status") -> BuiltinKeyword:
    return BuiltinKeyword.objects.get(code=code)


@in_tenant
def scenario(tenant, name: str = "Checkout", *, in_project: Project | None = None,
             **fields) -> Scenario:
    owner = in_project or project(tenant)
    found = Scenario.objects.filter(project=owner, name=name).first()
    return found or Scenario.objects.create(tenant=tenant, project=owner, name=name, **fields)


@in_tenant
def step(tenant, of: Scenario | None = None, *, position: int = 10, **fields) -> ScenarioStep:
    values = {"kind": "request", "parameters": {"method": "GET", "url": "/health"}, **fields}
    row = ScenarioStep(tenant=tenant, scenario=of or scenario(tenant), sort_order=position,
                       **values)
    row.full_clean()
    row.save()
    return row


@in_tenant
def dataset(tenant, name: str = "Users", *, in_project: Project | None = None,
            csv_data: str = "user,password\nalice,a1\nbob,b2\ncarol,c3\n",
            **fields) -> Dataset:
    owner = in_project or project(tenant)
    found = Dataset.objects.filter(project=owner, name=name).first()
    return found or Dataset.objects.create(tenant=tenant, project=owner, name=name,
                                           csv_data=csv_data, **fields)


@in_tenant
def plan(tenant, name: str = "Nightly", *, in_project: Project | None = None) -> TestPlan:
    owner = in_project or project(tenant)
    found = TestPlan.objects.filter(project=owner, name=name).first()
    return found or TestPlan.objects.create(tenant=tenant, project=owner, name=name)


@in_tenant
def plan_entry(tenant, of: TestPlan | None = None, *, scenario_name: str = "Checkout",
               **fields) -> PlanScenario:
    entries = of or plan(tenant)
    return PlanScenario.objects.create(tenant=tenant, plan=entries,
                                       scenario=scenario(tenant, scenario_name,
                                                         in_project=entries.project),
                                       **fields)


@in_tenant
def full_scenario(tenant, *, in_project: Project | None = None) -> Scenario:
    """Return a scenario with one step of each kind, SQL on a database, tags and variables."""
    owner = in_project or project(tenant)
    db = database(tenant, in_project=owner)
    row = scenario(tenant, "Place an order", in_project=owner, priority="P1",
                   tags=["smoke", "orders"], variables={"user": "alice", "count": 3},
                   database_config=db, pre_sql="DELETE FROM carts WHERE user = 'alice'",
                   post_sql="SELECT 1")
    step(tenant, row, position=10, kind="interface",
         interface=interface(tenant, in_project=owner),
         parameters={"assertions": [{"type": "json", "expression": "$.count",
                                     "operator": ">", "expected_value": 0}]})
    step(tenant, row, position=20, kind="keyword", keyword=keyword(tenant, in_project=owner),
         parameters={"name": "{{user}}", "count": 2})
    step(tenant, row, position=30, kind="keyword", builtin_keyword=builtin(),
         parameters={"expected": 200}, description="Still up", is_enabled=False)
    step(tenant, row, position=40, kind="request",
         parameters={"method": "POST", "url": "/api/v1/orders/", "body_type": "json",
                     "body": {"user": "{{user}}"}})
    return row
