"""The admin of the test domain (issue 12, item 4): every model's pages, two tenants each.

The factories here build the rows of the other ``test_admin_testing_*`` modules too. Each
takes the tenant from the project (or the parent) it is given; call them inside the
tenant's context, as ``AdminCase.build`` does.
"""

from __future__ import annotations

import json

import pytest

from accounts.models import User
from conftest import make_user
from testing.models import (
    DatabaseConfig,
    Dataset,
    Environment,
    GlobalFunction,
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
from tests.admin_cases import AdminTestCase, DataScopeAdminCase

KEYWORD_CODE = "def run(value=None):\n    return value\n"
FUNCTION_CODE = "class Helpers:\n    def run(self):\n        return 1\n"
REQUEST = {"method": "GET", "url": "/health"}

# ---------------------------------------------------------------------------
# Factories
# ---------------------------------------------------------------------------


def make_project(tenant, name: str = "Shop API", **fields) -> Project:
    """Return a new project of ``tenant``."""
    return Project.objects.create(tenant=tenant, name=name, **fields)


def _owned(model, project: Project, **fields):
    return model.objects.create(tenant_id=project.tenant_id, project=project, **fields)


def make_database(project: Project, variable_name: str = "orders_db", **fields) -> DatabaseConfig:
    """Return a MySQL database configuration of ``project``."""
    values = {"name": variable_name.replace("_", " ").title(), "db_type": "mysql",
              "host": "db.example.com", "port": 3306, "username": "tester"}
    return _owned(DatabaseConfig, project, variable_name=variable_name, **{**values, **fields})


def make_folder(project: Project, name: str = "Users", parent=None, **fields) -> InterfaceFolder:
    """Return a folder of ``project``'s interface tree."""
    return _owned(InterfaceFolder, project, name=name, parent=parent, **fields)


def make_interface(project: Project, name: str = "Get user", **fields) -> Interface:
    """Return a GET interface of ``project``."""
    return _owned(Interface, project, name=name, **{"url": "/users/1/", **fields})


def make_environment(project: Project, name: str = "staging", **fields) -> Environment:
    """Return an environment of ``project``."""
    return _owned(Environment, project, name=name, **fields)


def make_variable(project: Project, name: str = "host", value: str = "example.com", *,
                  environment=None, secret: bool = False, **fields) -> Variable:
    """Return a variable of ``project`` (of ``environment``, else a global), sealed if secret."""
    variable = Variable(tenant_id=project.tenant_id, project=project, environment=environment,
                        name=name, is_secret=secret, **fields)
    variable.set_value(value)
    variable.save()
    return variable


def make_keyword(project: Project, name: str = "Echo", **fields) -> Keyword:
    """Return a custom keyword of ``project`` defining ``run``."""
    values = {"type": "custom", "method_name": "run", "code": KEYWORD_CODE}
    return _owned(Keyword, project, name=name, **{**values, **fields})


def make_function(tenant, class_name: str = "Helpers") -> GlobalFunction:
    """Return a global function ``<class_name>.run`` of ``tenant``."""
    return GlobalFunction.objects.create(
        tenant=tenant, class_name=class_name, method_name="run",
        code=FUNCTION_CODE.replace("Helpers", class_name))


def make_scenario(project: Project, name: str = "Checkout", **fields) -> Scenario:
    """Return a scenario of ``project``."""
    return _owned(Scenario, project, name=name, **fields)


def make_step(scenario: Scenario, **fields) -> ScenarioStep:
    """Return a step of ``scenario`` (an inline request unless told otherwise)."""
    values = {"kind": "request", "parameters": REQUEST, "sort_order": 10}
    return ScenarioStep.objects.create(tenant_id=scenario.tenant_id, scenario=scenario,
                                       **{**values, **fields})


def make_dataset(project: Project, name: str = "users", **fields) -> Dataset:
    """Return a dataset of ``project``."""
    return _owned(Dataset, project, name=name, **{"csv_data": "name\nalice\nbob\n", **fields})


def make_plan(project: Project, name: str = "Nightly", **fields) -> TestPlan:
    """Return a test plan of ``project``."""
    return _owned(TestPlan, project, name=name, **fields)


def make_entry(plan: TestPlan, scenario: Scenario, **fields) -> PlanScenario:
    """Return the entry of ``scenario`` in ``plan``."""
    return PlanScenario.objects.create(tenant_id=plan.tenant_id, plan=plan, scenario=scenario,
                                       **{"sort_order": 10, **fields})


def department_user(org, name: str, department: str) -> User:
    """Return a new user of ``org``'s tenant in its ``department`` ("root" or "child")."""
    return make_user(org["user"].tenant, name, department=org[department])


# ---------------------------------------------------------------------------
# One declaration per admin
# ---------------------------------------------------------------------------


class TestProjectAdmin(AdminTestCase, DataScopeAdminCase):
    model = Project

    def make(self, tenant, index):
        return make_project(tenant, f"Project {index}")

    def change_data(self, row):
        return {"name": "Renamed", "description": ""}

    def in_scope(self, org):
        return [make_project(org["user"].tenant, "Alice's", created_by=org["user"])]

    def out_of_scope(self, org):
        bob = department_user(org, "bob", "root")
        return [make_project(org["user"].tenant, "Bob's", created_by=bob)]


class TestDatabaseConfigAdmin(AdminTestCase):
    model = DatabaseConfig

    def make(self, tenant, index):
        return make_database(make_project(tenant, f"Project {index}"), password="pw")

    def change_data(self, row):
        return {"name": "Renamed", "variable_name": row.variable_name, "db_type": row.db_type,
                "is_enabled": "on", "host": row.host, "port": row.port,
                "initial_database": "", "username": row.username, "new_password": ""}


class TestInterfaceFolderAdmin(AdminTestCase):
    model = InterfaceFolder

    def make(self, tenant, index):
        return make_folder(make_project(tenant, f"Project {index}"), f"Folder {index}")

    def change_data(self, row):
        return {"parent": "", "name": "Renamed", "sort_order": row.sort_order}


class TestInterfaceAdmin(AdminTestCase, DataScopeAdminCase):
    model = Interface

    def make(self, tenant, index):
        return make_interface(make_project(tenant, f"Project {index}"), f"Interface {index}")

    def change_data(self, row):
        return {"folder": "", "name": "Renamed", "description": "", "sort_order": 0,
                "method": "GET", "url": row.url, "query": "[]", "headers": "[]",
                "body_type": "none", "body": "", "content_type": "",
                "assertions": json.dumps([{"type": "status_code", "operator": "==",
                                           "expected_value": 200}]),
                "extractors": "[]"}

    def in_scope(self, org):
        project = make_project(org["user"].tenant, "Alice's", created_by=org["user"])
        return [make_interface(project)]

    def out_of_scope(self, org):
        bob = department_user(org, "bob", "root")
        return [make_interface(make_project(org["user"].tenant, "Bob's", created_by=bob))]


class TestEnvironmentAdmin(AdminTestCase):
    model = Environment

    def make(self, tenant, index):
        return make_environment(make_project(tenant, f"Project {index}"), f"env{index}")

    def change_data(self, row):
        return {"name": "Renamed", "base_url": "https://staging.example.com", "description": ""}


class TestVariableAdmin(AdminTestCase, DataScopeAdminCase):
    model = Variable

    def make(self, tenant, index):
        return make_variable(make_project(tenant, f"Project {index}"), f"var{index}")

    def change_data(self, row):
        return {"environment": "", "name": "Renamed", "value": row.value, "description": ""}

    def in_scope(self, org):
        project = make_project(org["user"].tenant, "Alice's", created_by=org["user"])
        return [make_variable(project)]

    def out_of_scope(self, org):
        bob = department_user(org, "bob", "root")
        return [make_variable(make_project(org["user"].tenant, "Bob's", created_by=bob))]


class TestKeywordAdmin(AdminTestCase):
    model = Keyword

    def make(self, tenant, index):
        return make_keyword(make_project(tenant, f"Project {index}"), f"Keyword {index}")

    def change_data(self, row):
        return {"type": row.type, "name": "Renamed", "method_name": row.method_name,
                "is_enabled": "on", "description": "", "code": row.code,
                "parameters": json.dumps(row.parameters)}


class TestGlobalFunctionAdmin(AdminTestCase):
    model = GlobalFunction
    expected_change = {"class_name": "Renamed"}

    def make(self, tenant, index):
        return make_function(tenant, f"Helpers{index}")

    def change_data(self, row):
        return {"class_name": "Renamed", "method_name": "run", "description": "",
                "code": FUNCTION_CODE.replace("Helpers", "Renamed"), "parameters": "[]",
                "return_value": "{}"}


class TestScenarioAdmin(AdminTestCase):
    model = Scenario

    def make(self, tenant, index):
        return make_scenario(make_project(tenant, f"Project {index}"), f"Scenario {index}")

    def change_data(self, row):
        return {"name": "Renamed", "description": "", "priority": "P1",
                "tags": json.dumps(["smoke"]), "variables": json.dumps({"user_id": 1}),
                "database_config": "", "pre_sql": "", "post_sql": ""}


class TestScenarioStepAdmin(AdminTestCase):
    model = ScenarioStep
    expected_change = {"description": "Renamed"}

    def make(self, tenant, index):
        project = make_project(tenant, f"Project {index}")
        return make_step(make_scenario(project, f"Scenario {index}"))

    def change_data(self, row):
        return {"sort_order": row.sort_order, "is_enabled": "on", "kind": "request",
                "description": "Renamed", "interface": "", "keyword": "",
                "builtin_keyword": "", "parameters": json.dumps(REQUEST), "retries": 2}


class TestDatasetAdmin(AdminTestCase):
    model = Dataset

    def make(self, tenant, index):
        return make_dataset(make_project(tenant, f"Project {index}"), f"data{index}")

    def change_data(self, row):
        return {"scenario": "", "name": "Renamed", "csv_data": "name,age\nalice,30\n"}


class TestTestPlanAdmin(AdminTestCase):
    model = TestPlan

    def make(self, tenant, index):
        return make_plan(make_project(tenant, f"Project {index}"), f"Plan {index}")

    def change_data(self, row):
        return {"name": "Renamed", "description": "", "run_mode": "parallel",
                "environment": ""}


class TestPlanScenarioAdmin(AdminTestCase):
    model = PlanScenario
    expected_change = {"sort_order": 5}

    def make(self, tenant, index):
        project = make_project(tenant, f"Project {index}")
        return make_entry(make_plan(project), make_scenario(project))

    def change_data(self, row):
        return {"sort_order": 5, "scenario": str(row.scenario_id), "dataset": "",
                "environment": "", "variables": json.dumps({"user_id": 2})}


# ---------------------------------------------------------------------------
# Every page opens, for a tenant's administrator and for an operator
# ---------------------------------------------------------------------------

DECLARED = [TestProjectAdmin, TestDatabaseConfigAdmin, TestInterfaceFolderAdmin,
            TestInterfaceAdmin, TestEnvironmentAdmin, TestVariableAdmin, TestKeywordAdmin,
            TestGlobalFunctionAdmin, TestScenarioAdmin, TestScenarioStepAdmin, TestDatasetAdmin,
            TestTestPlanAdmin, TestPlanScenarioAdmin]


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["tenant admin", "operator"])
@pytest.mark.parametrize("case", DECLARED, ids=lambda case: case.model._meta.model_name)
def test_every_page_opens(client, admin_a, operator, tenant_a, who, case):
    """Change list, recycle bin, add, change, history and delete pages of every model open
    for a tenant's administrator and for a platform operator."""
    declared = case()
    row = declared.build(tenant_a, 0)
    client.force_login(admin_a if who == "tenant admin" else operator)
    for view, args, query in [("changelist", (), {}), ("changelist", (), {"deleted": "1"}),
                              ("add", (), {}), ("change", (row.pk,), {}),
                              ("history", (row.pk,), {}), ("delete", (row.pk,), {})]:
        response = client.get(declared.url(view, *args), query)
        assert response.status_code == 200, (view, response.status_code)
    if who == "operator":
        assert "tenant" in client.get(declared.url("add")).context["adminform"].form.fields
