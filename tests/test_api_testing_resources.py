"""The testing API's resources under /api/v1/testing/: every case of ``tests.api_cases``
(two tenants, permissions, validation, soft delete and restore, operators) per resource,
plus references to another project of the same tenant and the filters."""

from __future__ import annotations

import pytest

from conftest import make_user
from core.context import tenant_context
from testing.models import (
    BuiltinKeyword,
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
from tests import test_api_testing_factories as f
from tests.api_cases import (
    DataScopeCase,
    ReadOnlyAPICase,
    SoftDeleteAPIViewTestCase,
    assert_error,
    assert_field_errors,
    ids,
)


class WithoutUniqueKeys:
    """Resources whose rows have no unique keys: two alike rows are allowed, and a
    restore can never collide. The base cases that expect a collision do not apply."""

    test_create_duplicate_is_400 = None
    test_restore_taken_keys_is_400 = None

    def test_create_same_payload_twice_makes_two_rows(self, api, act, home):
        """The same payload twice makes two rows, not a 400."""
        act("create")
        data = self.payload(home)
        first, second = (self.call(api, "create", data=data) for _ in range(2))
        assert first.status_code == second.status_code == 201, second.content
        assert first.json()["id"] != second.json()["id"]


def project_created_by(org, inside: bool) -> Project:
    """Return a project created by a user of org's child department, or by one outside it."""
    tenant = org["root"].tenant
    creator = org["user"] if inside else make_user(tenant, "bob", department=org["root"])
    return Project.objects.create(tenant=tenant, name=f"Inside {inside}", created_by=creator)


class TestProjectAPI(SoftDeleteAPIViewTestCase, DataScopeCase):
    basename = "testproject"
    model = Project

    def make(self, tenant, index):
        return Project.objects.create(tenant=tenant, name=f"Project {index}")

    def create_data(self, tenant):
        return {"name": "Checkout", "description": "The shop's checkout API."}

    def update_data(self, row):
        return {"name": "Renamed", "description": "Changed."}

    def invalid_payloads(self, tenant):
        return [({"name": ""}, {"name"}), ({"name": "x" * 256}, {"name"})]

    def in_scope(self, org):
        return [project_created_by(org, True)]

    def out_of_scope(self, org):
        return [project_created_by(org, False)]


class TestDatabaseConfigAPI(SoftDeleteAPIViewTestCase):
    basename = "testdatabaseconfig"
    model = DatabaseConfig
    secret_fields = ("password",)

    def make(self, tenant, index):
        return f.database(tenant, f"db{index}")

    def create_data(self, tenant):
        return {"project": str(f.project(tenant).pk), "name": "Orders", "variable_name": "orders",
                "db_type": "mysql", "host": "127.0.0.1", "port": 3306, "username": "root",
                "password": f.DB_PASSWORD}

    def update_data(self, row):
        return {"project": str(row.project_id), "name": "Renamed",
                "variable_name": row.variable_name, "db_type": "postgresql", "host": "pg.local",
                "port": 5432, "initial_database": "shop", "username": "shop",
                "is_enabled": False}

    def invalid_payloads(self, tenant):
        return [({"project": str(f.project(tenant).pk), "name": "", "variable_name": "9 lives",
                  "db_type": "nosql", "host": "", "port": 70000, "username": ""},
                 {"name", "variable_name", "db_type", "host", "port", "username"})]

    def foreign_references(self, other_org):
        return [({"project": str(f.project(other_org["root"].tenant).pk)}, "project")]

    def make_undeletable(self, tenant):
        db = f.database(tenant, "busy_db")
        f.scenario(tenant, "Uses SQL", database_config=db, pre_sql="SELECT 1")
        return db

    def test_password_is_kept_replaced_or_removed(self, api, act, row):
        """Leaving the password out keeps it; a new one replaces it; null removes it."""
        act("update")
        detail = self.detail_url(row.pk)
        kept = api.patch(detail, {"name": "Kept"}, format="json")
        assert kept.status_code == 200 and kept.json()["has_password"] is True
        assert DatabaseConfig.objects.all_tenants().get(pk=row.pk).password == f.DB_PASSWORD
        api.patch(detail, {"password": "another"}, format="json")
        assert DatabaseConfig.objects.all_tenants().get(pk=row.pk).password == "another"
        removed = api.patch(detail, {"password": None}, format="json")
        assert removed.json()["has_password"] is False
        assert DatabaseConfig.objects.all_tenants().get(pk=row.pk).password is None

    def test_status_columns_are_read_only(self, api, act, row):
        """A client cannot claim a connection succeeded: the status comes from the test."""
        act("update")
        response = api.patch(self.detail_url(row.pk), {"connection_status": "connected",
                                                       "status_message": "fine"}, format="json")
        assert response.status_code == 200
        assert response.json()["connection_status"] == "unknown"

    def test_project_never_changes(self, api, act, row, home):
        """Moving a database to another project would strand the scenarios using it: 400."""
        act("update")
        with tenant_context(home):
            elsewhere = f.project(home, "Elsewhere")
        response = api.patch(self.detail_url(row.pk), {"project": str(elsewhere.pk)}, format="json")
        assert_field_errors(response, {"project"})


class TestInterfaceFolderAPI(WithoutUniqueKeys, SoftDeleteAPIViewTestCase):
    basename = "testinterfacefolder"
    model = InterfaceFolder

    def make(self, tenant, index):
        return f.folder(tenant, f"Folder {index}")

    def create_data(self, tenant):
        return {"project": str(f.project(tenant).pk), "name": "Payments", "sort_order": 2,
                "parent": str(f.folder(tenant, "Top").pk)}

    def update_data(self, row):
        return {"project": str(row.project_id), "name": "Renamed", "sort_order": 5}

    def invalid_payloads(self, tenant):
        chain = None
        for depth in range(5):
            chain = f.folder(tenant, f"Level {depth}", parent=chain)
        stranger = f.folder(tenant, "Stranger", in_project=f.project(tenant, "Elsewhere"))
        return [
            ({"project": str(f.project(tenant).pk), "name": ""}, {"name"}),
            ({"project": str(f.project(tenant).pk), "name": "Sixth", "parent": str(chain.pk)},
             {"parent"}),
            ({"project": str(f.project(tenant).pk), "name": "Astray",
              "parent": str(stranger.pk)}, {"parent"}),
        ]

    def foreign_references(self, other_org):
        return [({"parent": str(f.folder(other_org["root"].tenant, "Theirs").pk)}, "parent")]

    def make_undeletable(self, tenant):
        parent = f.folder(tenant, "Parent")
        f.folder(tenant, "Child", parent=parent)
        return parent

    def test_level_counts_from_one(self, api, act, home):
        """A top folder is level 1, its child level 2."""
        with tenant_context(home):
            child = f.folder(home, "Child", parent=f.folder(home, "Parent"))
        act("retrieve")
        assert api.get(self.detail_url(child.pk)).json()["level"] == 2

    def test_move_within_the_tree(self, api, act, home):
        """PATCH ``parent`` moves a folder with its subtree; under itself is refused."""
        with tenant_context(home):
            top, other = f.folder(home, "Top"), f.folder(home, "Other")
            child = f.folder(home, "Child", parent=top)
        act("update")
        moved = api.patch(self.detail_url(top.pk), {"parent": str(other.pk)}, format="json")
        assert moved.status_code == 200, moved.content
        assert moved.json()["level"] == 2
        assert InterfaceFolder.objects.all_tenants().get(pk=child.pk).level == 2
        assert_field_errors(api.patch(self.detail_url(top.pk), {"parent": str(child.pk)},
                                      format="json"), {"parent"})
        assert_field_errors(api.patch(self.detail_url(top.pk), {"parent": str(top.pk)},
                                      format="json"), {"parent"})


class TestInterfaceAPI(WithoutUniqueKeys, SoftDeleteAPIViewTestCase, DataScopeCase):
    basename = "testinterface"
    model = Interface

    def make(self, tenant, index):
        return f.interface(tenant, f"Interface {index}")

    def create_data(self, tenant):
        return {"project": str(f.project(tenant).pk), "folder": str(f.folder(tenant).pk),
                "name": "Create order", "method": "POST", "url": "/api/v1/orders/",
                "query": [{"name": "expand", "value": "items"}],
                "headers": [{"name": "Authorization", "value": "Bearer {{api_key}}"}],
                "body_type": "json", "body": {"sku": "A-1", "count": "{{count}}"},
                "assertions": [{"type": "status_code", "operator": "==", "expected_value": 201},
                               {"type": "json", "expression": "$.id", "operator": "exists"}],
                "extractors": [{"name": "order_id", "source": "json", "expression": "$.id"}]}

    def update_data(self, row):
        return {"project": str(row.project_id), "name": "Renamed", "method": "PUT",
                "url": "https://api.example.com/orders/1/", "body_type": "raw",
                "body": "<order/>", "content_type": "application/xml", "sort_order": 3}

    def invalid_payloads(self, tenant):
        base = {"project": str(f.project(tenant).pk), "name": "Bad", "url": "/x"}
        stranger = f.folder(tenant, "Stranger", in_project=f.project(tenant, "Elsewhere"))
        return [
            ({**base, "method": "FETCH", "url": ""}, {"method", "url"}),
            ({**base, "assertions": [{"type": "status_code", "operator": "equals",
                                      "expected_value": 200}],
              "extractors": [{"name": "1st", "source": "json", "expression": "$.id"}],
              "query": [{"name": "", "value": "x"}], "headers": [{"name": "X", "value": 5}]},
             {"assertions", "extractors", "query", "headers"}),
            ({**base, "body_type": "form", "body": [{"name": "a"}]}, {"body"}),
            ({**base, "folder": str(stranger.pk)}, {"folder"}),
        ]

    def foreign_references(self, other_org):
        return [({"folder": str(f.folder(other_org["root"].tenant, "Theirs").pk)}, "folder")]

    def make_undeletable(self, tenant):
        used = f.interface(tenant, "In use")
        f.step(tenant, kind="interface", interface=used, parameters={})
        return used

    # Rows inside a project follow the data scope of the project's creator.
    def in_scope(self, org):
        return [f.interface(org["root"].tenant, in_project=project_created_by(org, True))]

    def out_of_scope(self, org):
        return [f.interface(org["root"].tenant, in_project=project_created_by(org, False))]


class TestEnvironmentAPI(SoftDeleteAPIViewTestCase):
    basename = "testenvironment"
    model = Environment

    def make(self, tenant, index):
        return f.environment(tenant, f"Env {index}")

    def create_data(self, tenant):
        return {"project": str(f.project(tenant).pk), "name": "Production",
                "base_url": "https://api.example.com"}

    def update_data(self, row):
        return {"project": str(row.project_id), "name": "Renamed",
                "base_url": "http://127.0.0.1:8000", "description": "Local."}

    def invalid_payloads(self, tenant):
        return [({"project": str(f.project(tenant).pk), "name": "",
                  "base_url": "ftp://files.example.com"}, {"name", "base_url"})]

    def foreign_references(self, other_org):
        return [({"project": str(f.project(other_org["root"].tenant).pk)}, "project")]


class TestVariableAPI(SoftDeleteAPIViewTestCase):
    basename = "testvariable"
    model = Variable

    def make(self, tenant, index):
        return f.variable(tenant, f"var{index}", env=f.environment(tenant))

    def create_data(self, tenant):
        return {"project": str(f.project(tenant).pk), "environment": str(f.environment(tenant).pk),
                "name": "user_id", "value": "42", "description": "Who signs in."}

    def update_data(self, row):
        return {"project": str(row.project_id), "environment": None, "name": row.name,
                "value": "changed", "description": "Now global."}

    def invalid_payloads(self, tenant):
        stranger = f.environment(tenant, "Stranger", in_project=f.project(tenant, "Elsewhere"))
        return [
            ({"project": str(f.project(tenant).pk), "name": "not valid!"}, {"name"}),
            ({"project": str(f.project(tenant).pk), "name": "ok",
              "environment": str(stranger.pk)}, {"environment"}),
        ]

    def foreign_references(self, other_org):
        return [({"environment": str(f.environment(other_org["root"].tenant).pk)}, "environment")]

    def test_global_and_environment_names_are_separate(self, api, act, home):
        """A global and an environment variable may share a name; two globals may not."""
        act("create")
        data = {"project": str(self.payload(home)["project"]), "name": "token", "value": "x"}
        assert self.call(api, "create", data=data).status_code == 201
        assert self.call(api, "create", data={
            **data, "environment": self.payload(home)["environment"]}).status_code == 201
        assert_field_errors(self.call(api, "create", data=data), ())


class TestKeywordAPI(SoftDeleteAPIViewTestCase):
    basename = "testkeyword"
    model = Keyword

    def make(self, tenant, index):
        return f.keyword(tenant, f"Keyword {index}")

    def create_data(self, tenant):
        return {"project": str(f.project(tenant).pk), "type": "custom", "name": "Sign",
                "method_name": "run", "code": f.KEYWORD_CODE, "parameters": f.KEYWORD_DOCS}

    def update_data(self, row):
        return {"project": str(row.project_id), "type": "assertion", "name": "Renamed",
                "method_name": "check", "code": "def check(value):\n    return bool(value)\n",
                "parameters": {"type": "object", "properties": {"value": {}}},
                "is_enabled": False}

    def invalid_payloads(self, tenant):
        base = {"project": str(f.project(tenant).pk), "name": "Bad", "method_name": "run"}
        return [
            ({**base, "code": "def run(:\n    pass\n"}, {"code"}),
            ({**base, "code": "def other():\n    pass\n"}, {"method_name"}),
            ({**base, "code": f.KEYWORD_CODE, "type": "magic"}, {"type"}),
            ({**base, "code": f.KEYWORD_CODE, "parameters": {"type": "array"}}, {"parameters"}),
        ]

    def foreign_references(self, other_org):
        return [({"project": str(f.project(other_org["root"].tenant).pk)}, "project")]

    def make_undeletable(self, tenant):
        used = f.keyword(tenant, "In use")
        f.step(tenant, kind="keyword", keyword=used, parameters={"name": "x"})
        return used


class TestBuiltinKeywordAPI(ReadOnlyAPICase):
    basename = "testbuiltinkeyword"
    model = BuiltinKeyword

    def make(self, tenant, index):
        return BuiltinKeyword.objects.create(code=f"made_{index}", type="custom",
                                             name=f"Made {index}", method_name=f"made_{index}")

    def test_builtins_are_offered_to_every_tenant(self, api, act):
        """The synced built-ins are listed to a tenant's user; the route takes no writes."""
        act("list")
        response = api.get(self.list_url(), {"page_size": 200, "type": "assertion"})
        codes = {row["code"] for row in response.json()["results"]}
        assert {"assert_status", "assert_json"} <= codes
        assert_error(api.post(self.list_url(), {}, format="json"), 405)


class TestGlobalFunctionAPI(SoftDeleteAPIViewTestCase):
    basename = "testglobalfunction"
    model = GlobalFunction
    patch_data = {"description": "Patched"}

    def make(self, tenant, index):
        return GlobalFunction.objects.create(
            tenant=tenant, class_name="Text", method_name=f"m{index}",
            code=f"class Text:\n    def m{index}(self):\n        return {index}\n")

    def create_data(self, tenant):
        return {"class_name": "Text", "method_name": "upper", "code": f.FUNCTION_CODE,
                "parameters": [{"name": "value", "type": "str"}],
                "return_value": {"type": "str"}}

    def update_data(self, row):
        return {"class_name": row.class_name, "method_name": row.method_name, "code": row.code,
                "description": "Changed.", "parameters": [], "return_value": {"type": "int"}}

    def invalid_payloads(self, tenant):
        return [
            ({"class_name": "Text", "method_name": "upper", "code": "class Text:\n  def upper(:"},
             {"code"}),
            ({"class_name": "Text", "method_name": "upper", "code": f.FUNCTION_CODE,
              "parameters": [{"name": "x"}], "return_value": {"type": "weird"}},
             {"parameters", "return_value"}),
            ({"class_name": "Not valid", "method_name": "upper", "code": f.FUNCTION_CODE},
             {"class_name"}),
        ]


class TestScenarioAPI(SoftDeleteAPIViewTestCase):
    basename = "testscenario"
    model = Scenario

    def make(self, tenant, index):
        return f.scenario(tenant, f"Scenario {index}")

    def create_data(self, tenant):
        return {"project": str(f.project(tenant).pk), "name": "Refund", "priority": "P0",
                "tags": ["smoke"], "variables": {"amount": 10},
                "database_config": str(f.database(tenant).pk), "pre_sql": "SELECT 1"}

    def update_data(self, row):
        return {"project": str(row.project_id), "name": "Renamed", "priority": "P3",
                "tags": [], "variables": {}, "database_config": None}

    def invalid_payloads(self, tenant):
        base = {"project": str(f.project(tenant).pk), "name": "Bad"}
        stranger = f.database(tenant, "stranger_db", in_project=f.project(tenant, "Elsewhere"))
        return [
            ({**base, "priority": "P9"}, {"priority"}),
            ({**base, "tags": ["a,b", "a,b"], "variables": {"1x": 1}}, {"tags", "variables"}),
            ({**base, "pre_sql": "DELETE FROM carts"}, {"database_config"}),
            ({**base, "database_config": str(stranger.pk)}, {"database_config"}),
        ]

    def foreign_references(self, other_org):
        return [({"database_config": str(f.database(other_org["root"].tenant).pk)},
                 "database_config")]

    def make_undeletable(self, tenant):
        entry = f.plan_entry(tenant, scenario_name="Planned")
        return entry.scenario


class TestScenarioStepAPI(WithoutUniqueKeys, SoftDeleteAPIViewTestCase, DataScopeCase):
    basename = "testscenariostep"
    model = ScenarioStep
    patch_data = {"description": "Patched"}

    def make(self, tenant, index):
        return f.step(tenant, position=index * 10)

    def create_data(self, tenant):
        return {"scenario": str(f.scenario(tenant).pk), "kind": "keyword",
                "builtin_keyword": f.builtin().pk, "parameters": {"expected": 200}}

    def update_data(self, row):
        with tenant_context(row.tenant_id):
            sent = f.interface(row.tenant)
        return {"scenario": str(row.scenario_id), "kind": "interface",
                "interface": str(sent.pk), "parameters": {},
                "description": "Send it", "sort_order": 50, "is_enabled": False}

    def invalid_payloads(self, tenant):
        own = {"scenario": str(f.scenario(tenant).pk)}
        elsewhere = f.project(tenant, "Elsewhere")
        return [
            ({**own, "kind": "request", "parameters": {"method": "FETCH", "url": ""}},
             {"parameters"}),
            ({**own, "kind": "keyword", "builtin_keyword": f.builtin().pk,
              "parameters": {"expected": "ok"}}, {"parameters"}),
            ({**own, "kind": "interface",
              "interface": str(f.interface(tenant, "Theirs", in_project=elsewhere).pk)},
             {"interface"}),
            ({**own, "kind": "keyword",
              "keyword": str(f.keyword(tenant, "Theirs", in_project=elsewhere).pk)},
             {"keyword"}),
        ]

    def foreign_references(self, other_org):
        return [({"scenario": str(f.scenario(other_org["root"].tenant).pk)}, "scenario")]

    def in_scope(self, org):
        tenant = org["root"].tenant
        return [f.step(tenant, f.scenario(tenant, in_project=project_created_by(org, True)))]

    def out_of_scope(self, org):
        tenant = org["root"].tenant
        return [f.step(tenant, f.scenario(tenant, in_project=project_created_by(org, False)))]

    def test_a_new_step_goes_last(self, api, act, home):
        """A step created without a position is put after the others."""
        with tenant_context(home):
            f.step(home, position=70)
        act("create")
        response = self.call(api, "create", data=self.payload(home))
        assert response.json()["sort_order"] == 80


class TestDatasetAPI(SoftDeleteAPIViewTestCase):
    basename = "testdataset"
    model = Dataset

    def make(self, tenant, index):
        return f.dataset(tenant, f"Dataset {index}")

    def create_data(self, tenant):
        return {"project": str(f.project(tenant).pk), "scenario": str(f.scenario(tenant).pk),
                "name": "Buyers", "csv_data": "user,amount\nalice,10\nbob,20\n"}

    def update_data(self, row):
        return {"project": str(row.project_id), "scenario": None, "name": "Renamed",
                "csv_data": "a\n1\n"}

    def invalid_payloads(self, tenant):
        base = {"project": str(f.project(tenant).pk), "name": "Bad"}
        stranger = f.scenario(tenant, "Stranger", in_project=f.project(tenant, "Elsewhere"))
        return [
            ({**base, "csv_data": "a,b\n1,2\n3\n"}, {"csv_data"}),
            ({**base, "csv_data": "a,b\n", "scenario": str(stranger.pk)}, {"scenario"}),
        ]

    def foreign_references(self, other_org):
        return [({"scenario": str(f.scenario(other_org["root"].tenant).pk)}, "scenario")]


class TestTestPlanAPI(SoftDeleteAPIViewTestCase):
    basename = "testplan"
    model = TestPlan

    def make(self, tenant, index):
        return f.plan(tenant, f"Plan {index}")

    def create_data(self, tenant):
        return {"project": str(f.project(tenant).pk), "name": "Release",
                "run_mode": "parallel", "environment": str(f.environment(tenant).pk)}

    def update_data(self, row):
        return {"project": str(row.project_id), "name": "Renamed", "run_mode": "serial",
                "environment": None, "description": "Every night."}

    def invalid_payloads(self, tenant):
        stranger = f.environment(tenant, "Stranger", in_project=f.project(tenant, "Elsewhere"))
        return [({"project": str(f.project(tenant).pk), "name": "", "run_mode": "sometimes",
                  "environment": str(stranger.pk)}, {"name", "run_mode"}),
                ({"project": str(f.project(tenant).pk), "name": "Astray",
                  "environment": str(stranger.pk)}, {"environment"})]

    def foreign_references(self, other_org):
        return [({"environment": str(f.environment(other_org["root"].tenant).pk)}, "environment")]


class TestPlanScenarioAPI(SoftDeleteAPIViewTestCase):
    basename = "testplanscenario"
    model = PlanScenario
    patch_data = {"sort_order": 99}

    def make(self, tenant, index):
        return f.plan_entry(tenant, scenario_name=f"Scenario {index}")

    def create_data(self, tenant):
        return {"plan": str(f.plan(tenant).pk), "scenario": str(f.scenario(tenant, "Refund").pk),
                "dataset": str(f.dataset(tenant).pk), "environment": str(f.environment(tenant).pk),
                "variables": {"amount": 5}}

    def update_data(self, row):
        return {"plan": str(row.plan_id), "scenario": str(row.scenario_id), "dataset": None,
                "environment": None, "variables": {}, "sort_order": 7}

    def invalid_payloads(self, tenant):
        own = {"plan": str(f.plan(tenant).pk), "scenario": str(f.scenario(tenant, "Refund").pk)}
        elsewhere = f.project(tenant, "Elsewhere")
        other_scenario = f.scenario(tenant, "Other")
        return [
            ({**own, "variables": {"1x": 1}}, {"variables"}),
            ({**own, "dataset": str(f.dataset(tenant, "Bound", scenario=other_scenario).pk)},
             {"dataset"}),
            ({**own, "environment": str(f.environment(tenant, "Theirs", in_project=elsewhere).pk)},
             {"environment"}),
        ]

    def foreign_references(self, other_org):
        return [({"dataset": str(f.dataset(other_org["root"].tenant).pk)}, "dataset")]

    def test_a_new_entry_goes_last(self, api, act, home):
        """An entry created without a position is put after the others."""
        with tenant_context(home):
            f.plan_entry(home, scenario_name="First", sort_order=30)
        act("create")
        response = self.call(api, "create", data=self.payload(home))
        assert response.status_code == 201, response.content
        assert response.json()["sort_order"] == 40


# ---------------------------------------------------------------------------
# Filters, and rows of a deleted project
# ---------------------------------------------------------------------------


@pytest.fixture
def tester(tenant_a):
    """A client of a tenant A user holding every code of the testing app."""
    return f.signed_in_tester(tenant_a)


FILTERED = [
    # (basename, factory of a row in the given project, filter name, value of the row)
    ("testinterface", lambda t, p: f.interface(t, "I", in_project=p,
                                               folder=f.folder(t, "F", in_project=p)), "folder",
     lambda row: row.folder_id),
    ("testvariable", lambda t, p: f.variable(t, "v", env=f.environment(t, "E", in_project=p)),
     "environment", lambda row: row.environment_id),
    ("testscenariostep", lambda t, p: f.step(t, f.scenario(t, "S", in_project=p)), "scenario",
     lambda row: row.scenario_id),
    ("testdataset", lambda t, p: f.dataset(t, "D", in_project=p,
                                           scenario=f.scenario(t, "S", in_project=p)),
     "scenario", lambda row: row.scenario_id),
    ("testplanscenario", lambda t, p: f.plan_entry(t, f.plan(t, "P", in_project=p),
                                                   scenario_name="S"), "plan",
     lambda row: row.plan_id),
    ("testplanscenario", lambda t, p: f.plan_entry(
        t, f.plan(t, "P", in_project=p), scenario_name="S",
        environment=f.environment(t, "E", in_project=p)), "environment",
     lambda row: row.environment_id),
    ("testplan", lambda t, p: TestPlan.objects.create(
        tenant=t, project=p, name="P", environment=f.environment(t, "E", in_project=p)),
     "environment", lambda row: row.environment_id),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("basename", "factory", "name", "value"), FILTERED,
                         ids=[f"{b}-{n}" for b, _f, n, _v in FILTERED])
def test_filters_by_project_and_container(tester, tenant_a, basename, factory, name, value):
    """``?project=`` and the container's filter each keep one project's rows only (steps
    and plan entries, which have no project column, filter by their container's)."""
    with tenant_context(tenant_a):
        mine_project, theirs_project = f.project(tenant_a, "Mine"), f.project(tenant_a, "Theirs")
        mine, theirs = factory(tenant_a, mine_project), factory(tenant_a, theirs_project)
    for params in ({"project": str(mine_project.pk)}, {name: str(value(mine))}):
        response = tester.get(f.url(basename), params)
        assert response.status_code == 200, response.content
        assert ids(response) == {str(mine.pk)}, params
    assert str(theirs.pk) in ids(tester.get(f.url(basename)))


@pytest.mark.django_db
def test_filter_by_another_tenants_project_is_400(tester, tenant_b):
    """Naming another tenant's project in ``?project=`` is a field error, not its rows."""
    with tenant_context(tenant_b):
        theirs = f.project(tenant_b)
        f.interface(tenant_b)
    assert_field_errors(tester.get(f.url("testinterface"), {"project": str(theirs.pk)}),
                        {"project"})


@pytest.mark.django_db
def test_variables_filter_globals(tester, tenant_a):
    """``?is_global=true`` keeps the project's own variables, false those of environments."""
    with tenant_context(tenant_a):
        shared = f.variable(tenant_a, "shared")
        scoped = f.variable(tenant_a, "scoped", env=f.environment(tenant_a))
    assert ids(tester.get(f.url("testvariable"), {"is_global": "true"})) == {str(shared.pk)}
    assert ids(tester.get(f.url("testvariable"), {"is_global": "false"})) == {str(scoped.pk)}


@pytest.mark.django_db
def test_search_and_ordering(tester, tenant_a):
    """``?search=`` matches names and URLs; ``?ordering=`` sorts by the allowed columns."""
    with tenant_context(tenant_a):
        for name, path in (("Beta", "/b/"), ("Alpha", "/a/"), ("Gamma", "/refunds/")):
            f.interface(tenant_a, name, url=path)
    found = tester.get(f.url("testinterface"), {"search": "refunds"}).json()["results"]
    assert [row["name"] for row in found] == ["Gamma"]
    ordered = tester.get(f.url("testinterface"), {"ordering": "-name"}).json()["results"]
    assert [row["name"] for row in ordered] == ["Gamma", "Beta", "Alpha"]


@pytest.mark.django_db
def test_rows_of_a_deleted_project_leave_the_api(tester, tenant_a):
    """A deleted project takes its rows out of every list and detail; restoring brings
    them back."""
    with tenant_context(tenant_a):
        owner = f.project(tenant_a, "Doomed")
        row = f.interface(tenant_a, in_project=owner)
        entry = f.plan_entry(tenant_a, f.plan(tenant_a, in_project=owner))
    assert tester.delete(f.url("testproject", "detail", owner.pk)).status_code == 204
    for basename, pk in (("testinterface", row.pk), ("testplanscenario", entry.pk)):
        assert str(pk) not in ids(tester.get(f.url(basename)))
        assert_error(tester.get(f.url(basename, "detail", pk)), 404, "not_found")
    assert tester.post(f.url("testproject", "restore", owner.pk)).status_code == 200
    assert tester.get(f.url("testinterface", "detail", row.pk)).status_code == 200
