"""The testing API's actions (test connection, scenario export and import, step order,
dataset preview), the secrets that never appear in an answer, and the routes' place in the
OpenAPI document and the endpoint registry. Every action is also tried on the other
tenant's rows (404) and without its permission code (403)."""

from __future__ import annotations

import json
import logging

import pytest
from django.db import connection
from django.test import override_settings
from django.urls import reverse

from conftest import require_service
from core.context import tenant_context
from logs.models import AuditLog, OperationLog
from rbac.models import ApiEndpoint
from testing.models import DatabaseConfig, Interface, Keyword, Scenario, ScenarioStep, Variable
from testing.models.environments import MASK
from tests import test_api_testing_factories as f
from tests.api_cases import assert_error, assert_field_errors

pytestmark = pytest.mark.django_db

# What the test suite allows to reach the local MariaDB (TESTING.md, "Network policy").
LOOPBACK_ALLOWED = override_settings(OUTBOUND_ALLOWED_NETWORKS=["127.0.0.0/8"],
                                     OUTBOUND_ALLOWED_SERVICE_ENDPOINTS=["127.0.0.1:3306"])
NOTHING_ALLOWED = override_settings(OUTBOUND_ALLOWED_NETWORKS=[],
                                    OUTBOUND_ALLOWED_SERVICE_ENDPOINTS=[])


@pytest.fixture
def tester(tenant_a):
    """A client of a tenant A user holding every code of the testing app."""
    return f.signed_in_tester(tenant_a)


@pytest.fixture
def driver_calls(monkeypatch):
    """Record every connection the MySQL driver is asked to open, and open none."""
    import MySQLdb

    calls = []

    def refuse(*args, **kwargs):
        calls.append(kwargs)
        raise AssertionError("the driver was asked to connect")

    monkeypatch.setattr(MySQLdb, "connect", refuse)
    return calls


def local_mariadb(tenant, **fields) -> DatabaseConfig:
    """Return a configuration of the MariaDB server the test suite runs beside."""
    values = {"host": "127.0.0.1", "port": 3306, "username": "root", "password": None,
              **fields}
    with tenant_context(tenant):
        return f.database(tenant, "local_db", **values)


def body_text(response) -> str:
    """Return the answer as text, to search it for what must not be there."""
    return response.content.decode()


# ---------------------------------------------------------------------------
# POST database-configs/{id}/test-connection/
# ---------------------------------------------------------------------------


def test_connection_to_the_local_mariadb(tester, tenant_a):
    """With loopback and the server's endpoint allowed, the real server answers: connected,
    with the time it took, recorded on the row."""
    require_service("127.0.0.1", 3306, "MariaDB")
    config = local_mariadb(tenant_a)
    with LOOPBACK_ALLOWED:
        response = tester.post(f.url("testdatabaseconfig", "test-connection", config.pk))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["connection_status"] == "connected", body
    assert body["status_message"].startswith("Connected in") and body["last_tested_at"]
    saved = DatabaseConfig.objects.all_tenants().get(pk=config.pk)
    assert saved.connection_status == "connected" and saved.last_tested_at is not None


def test_a_failed_login_is_an_answer_without_the_password(tester, tenant_a, caplog):
    """Wrong credentials on the real server: status failed with the server's reason, and
    the password neither in the answer nor in the log."""
    require_service("127.0.0.1", 3306, "MariaDB")
    config = local_mariadb(tenant_a, password=f.DB_PASSWORD)
    with LOOPBACK_ALLOWED, caplog.at_level(logging.DEBUG):
        response = tester.post(f.url("testdatabaseconfig", "test-connection", config.pk))
    assert response.status_code == 200, response.content
    assert response.json()["connection_status"] == "failed"
    assert "Access denied" in response.json()["status_message"]
    assert f.DB_PASSWORD not in body_text(response)
    assert f.DB_PASSWORD not in caplog.text


def test_without_the_settings_loopback_is_refused_and_nothing_sent(tester, tenant_a,
                                                                   driver_calls):
    """The platform's default policy refuses loopback before any connection is opened."""
    config = local_mariadb(tenant_a)
    with NOTHING_ALLOWED:
        response = tester.post(f.url("testdatabaseconfig", "test-connection", config.pk))
    assert response.status_code == 200, response.content
    assert response.json()["connection_status"] == "failed"
    assert "does not call" in response.json()["status_message"]
    assert driver_calls == []
    assert DatabaseConfig.objects.all_tenants().get(pk=config.pk).connection_status == "failed"


def test_a_platform_endpoint_is_refused_unless_named(tester, tenant_a, driver_calls):
    """Loopback allowed, but 127.0.0.1:3306 is one of the platform's own services (here its
    broker) and not named in ``OUTBOUND_ALLOWED_SERVICE_ENDPOINTS``: refused, nothing sent."""
    config = local_mariadb(tenant_a)
    with override_settings(OUTBOUND_ALLOWED_NETWORKS=["127.0.0.0/8"],
                           OUTBOUND_ALLOWED_SERVICE_ENDPOINTS=[],
                           CELERY_BROKER_URL="redis://127.0.0.1:3306/0"):
        response = tester.post(f.url("testdatabaseconfig", "test-connection", config.pk))
    assert response.json()["connection_status"] == "failed", response.content
    assert driver_calls == []


@pytest.mark.parametrize("host", ["169.254.169.254", "169.254.0.1"])
def test_cloud_metadata_is_refused_even_when_allowed(tester, tenant_a, driver_calls, host):
    """Link-local addresses (the cloud metadata service) are refused whatever the lists say."""
    with tenant_context(tenant_a):
        config = f.database(tenant_a, "metadata", host=host, port=80)
        tenant_a.outbound_networks = ["169.254.0.0/16"]
        tenant_a.save(update_fields=["outbound_networks"])
    with override_settings(OUTBOUND_ALLOWED_NETWORKS=["0.0.0.0/0", "169.254.0.0/16"],
                           OUTBOUND_ALLOWED_SERVICE_ENDPOINTS=[f"{host}:80"]):
        response = tester.post(f.url("testdatabaseconfig", "test-connection", config.pk))
    assert response.status_code == 200, response.content
    assert response.json()["connection_status"] == "failed"
    assert driver_calls == []


def test_connection_needs_update_permission(tenant_a, driver_calls):
    """Testing a connection writes its outcome: the view code alone is refused (403)."""
    config = local_mariadb(tenant_a)
    viewer = f.signed_in_tester(tenant_a, ["databaseconfig:view"])
    error = assert_error(viewer.post(f.url("testdatabaseconfig", "test-connection", config.pk)),
                         403, "permission_denied")
    assert "databaseconfig:update" in error["message"]
    assert driver_calls == []


def test_connection_of_another_tenant_is_404(tester, tenant_b, driver_calls):
    config = local_mariadb(tenant_b)
    assert_error(tester.post(f.url("testdatabaseconfig", "test-connection", config.pk)), 404)
    assert driver_calls == []
    assert DatabaseConfig.objects.all_tenants().get(pk=config.pk).last_tested_at is None


# ---------------------------------------------------------------------------
# GET scenarios/{id}/export/ and POST scenarios/import/
# ---------------------------------------------------------------------------


def export(api, scenario) -> dict:
    response = api.get(f.url("testscenario", "export-document", scenario.pk))
    assert response.status_code == 200, response.content
    return response.json()


def import_(api, project, data, **extra):
    payload = {"project": str(project.pk), "data": data, **extra}
    return api.post(f.url("testscenario", "import-scenario"), payload, format="json")


@pytest.fixture
def exported(tester, tenant_a):
    """A full scenario of tenant A's project "Shop", exported, and a second project of the
    tenant that has a database of the same variable name (credentials are never exported)."""
    original = f.full_scenario(tenant_a)
    with tenant_context(tenant_a):
        target = f.project(tenant_a, "Shop copy")
        f.database(tenant_a, "orders_db", in_project=target, password="other-password")
    return {"scenario": original, "document": export(tester, original), "target": target}


def test_export_holds_steps_and_references(exported):
    """The document has every step in order, the interfaces and keywords they use, and the
    database by variable name."""
    document = exported["document"]
    assert document["format"] == "atrium.scenario/1"
    assert [step["kind"] for step in document["steps"]] == [
        "interface", "keyword", "keyword", "request"]
    assert document["steps"][2] == {"kind": "keyword", "builtin_keyword": "assert_status",
                                    "description": "Still up", "is_enabled": False,
                                    "parameters": {"expected": 200}}
    assert [i["name"] for i in document["interfaces"]] == ["List orders"]
    assert [k["name"] for k in document["keywords"]] == ["Greet"]
    assert document["scenario"]["database"] == "orders_db"


def test_round_trip_into_another_project(tester, exported):
    """Export, import into another project of the tenant, export again: the same document,
    but for the new name."""
    response = import_(tester, exported["target"], exported["document"], name="Placed again")
    assert response.status_code == 201, response.content
    copy = Scenario.objects.all_tenants().get(pk=response.json()["id"])
    assert copy.project_id == exported["target"].pk and copy.name == "Placed again"
    again = export(tester, copy)
    expected = json.loads(json.dumps(exported["document"]))
    expected["scenario"]["name"] = "Placed again"
    assert again == expected
    # The references were created in the target project, not borrowed from the source.
    assert Interface.objects.all_tenants().filter(project=exported["target"]).count() == 1
    assert Keyword.objects.all_tenants().filter(project=exported["target"]).count() == 1


def test_round_trip_without_renaming(tester, exported):
    """Without a new name the copy keeps the exported one, and exports identically."""
    response = import_(tester, exported["target"], exported["document"])
    assert response.status_code == 201, response.content
    copy = Scenario.objects.all_tenants().get(pk=response.json()["id"])
    assert export(tester, copy) == exported["document"]


def test_import_reuses_the_projects_interfaces(tester, exported, tenant_a):
    """An interface of the same name in the target project is used, not duplicated."""
    with tenant_context(tenant_a):
        existing = f.interface(tenant_a, "List orders", in_project=exported["target"])
    response = import_(tester, exported["target"], exported["document"])
    assert response.status_code == 201, response.content
    step = ScenarioStep.objects.all_tenants().get(scenario_id=response.json()["id"],
                                                  kind="interface")
    assert step.interface_id == existing.pk


def test_import_into_another_tenants_project_is_400(tester, exported, tenant_b):
    """Another tenant's project is as unknown as a wrong id: a field error, nothing made."""
    with tenant_context(tenant_b):
        theirs = f.project(tenant_b)
        f.database(tenant_b, "orders_db", in_project=theirs)
    before = Scenario.objects.all_tenants().count()
    assert_field_errors(import_(tester, theirs, exported["document"]), {"project"})
    assert Scenario.objects.all_tenants().count() == before


def test_import_name_taken_is_400_on_name(tester, exported, tenant_a):
    """Importing next to the original without a new name: 400 on ``name``."""
    original_project = exported["scenario"].project
    response = import_(tester, original_project, exported["document"])
    assert "Place an order" in assert_field_errors(response, {"name"})["name"][0]
    renamed = import_(tester, original_project, exported["document"], name="Second")
    assert renamed.status_code == 201, renamed.content


@pytest.mark.parametrize(("change", "fragments"), [
    (lambda d: {"format": "postman"}, ("format",)),
    (lambda d: {**d, "steps": "all"}, ("steps",)),
    (lambda d: {**d, "steps": [{**d["steps"][0], "parameters": {"retries": 1}}]},
     ("steps[0].parameters", "'retries' was unexpected")),
    (lambda d: {**d, "steps": [{"kind": "interface", "interface": "Nowhere"}]},
     ("steps[0]", "Nowhere")),
    (lambda d: {**d, "steps": [{"kind": "keyword", "builtin_keyword": "teleport"}]},
     ("steps[0]", "teleport")),
    (lambda d: {**d, "scenario": {**d["scenario"], "database": "missing_db"}},
     ("scenario.database", "missing_db")),
    (lambda d: {**d, "scenario": {**d["scenario"], "tags": ["a,b"]}}, ("scenario.tags",)),
    (lambda d: {**d, "keywords": [{**d["keywords"][0], "code": "def run(:"}]},
     ("keywords[Greet].code", "Line 1")),
    # References that are not names: refused before any lookup.
    (lambda d: {**d, "interfaces": [{"name": ["List orders"]}]}, ("interfaces[0]",)),
    (lambda d: {**d, "keywords": {"Greet": {}}}, ("keywords",)),
    (lambda d: {**d, "steps": [{"kind": "interface", "interface": {"name": "x"}}]},
     ("steps[0].interface",)),
    (lambda d: {**d, "scenario": {**d["scenario"], "name": ["x"]}}, ("scenario.name",)),
])
def test_import_bad_documents_are_400_naming_where(tester, exported, change, fragments):
    """A bad document is a 400 on ``data`` naming where it is wrong; nothing is created."""
    counts = [model.objects.all_tenants().count() for model in (Scenario, Interface, Keyword)]
    response = import_(tester, exported["target"], change(exported["document"]))
    messages = " | ".join(assert_field_errors(response, {"data"})["data"])
    for fragment in fragments:
        assert fragment in messages, (fragment, messages)
    assert [model.objects.all_tenants().count()
            for model in (Scenario, Interface, Keyword)] == counts


def test_import_needs_the_codes_of_what_it_creates(exported, tenant_a):
    """``scenario:create`` alone cannot bring new interfaces or keywords (code) into a
    project: 403 naming the missing code; with those codes the import goes through."""
    only_scenarios = f.signed_in_tester(tenant_a, ["scenario:create"])
    error = assert_error(import_(only_scenarios, exported["target"], exported["document"]),
                         403, "permission_denied")
    assert "interface:create" in error["message"]
    without_keywords = f.signed_in_tester(tenant_a, ["scenario:create", "interface:create"])
    error = assert_error(import_(without_keywords, exported["target"], exported["document"]),
                         403, "permission_denied")
    assert "keyword:create" in error["message"]
    assert not Scenario.objects.all_tenants().filter(project=exported["target"]).exists()
    allowed = f.signed_in_tester(tenant_a, ["scenario:create", "interface:create",
                                            "keyword:create"])
    assert import_(allowed, exported["target"], exported["document"]).status_code == 201


def test_export_of_another_tenants_scenario_is_404(tester, tenant_b):
    theirs = f.full_scenario(tenant_b)
    assert_error(tester.get(f.url("testscenario", "export-document", theirs.pk)), 404, "not_found")


def test_export_needs_view_permission(tenant_a):
    """Exporting reads the scenario: ``scenario:view``, nothing less."""
    scenario = f.full_scenario(tenant_a)
    error = assert_error(f.signed_in_tester(tenant_a, ["interface:view"]).get(
        f.url("testscenario", "export-document", scenario.pk)), 403)
    assert "scenario:view" in error["message"]
    assert f.signed_in_tester(tenant_a, ["scenario:view"]).get(
        f.url("testscenario", "export-document", scenario.pk)).status_code == 200


# ---------------------------------------------------------------------------
# Step order: reorder-steps, duplicate, move
# ---------------------------------------------------------------------------


@pytest.fixture
def three_steps(tenant_a):
    with tenant_context(tenant_a):
        scenario = f.scenario(tenant_a)
        return scenario, [f.step(tenant_a, scenario, position=p, description=name)
                          for p, name in ((10, "one"), (20, "two"), (30, "three"))]


def order_of(scenario) -> list[str]:
    return list(ScenarioStep.objects.all_tenants().filter(scenario=scenario)
                .order_by("sort_order").values_list("description", flat=True))


def test_reorder_steps(tester, three_steps):
    """The steps take the order given; the answer lists them in it."""
    scenario, steps = three_steps
    wanted = [str(steps[2].pk), str(steps[0].pk), str(steps[1].pk)]
    response = tester.post(f.url("testscenario", "reorder-steps", scenario.pk),
                           {"steps": wanted}, format="json")
    assert response.status_code == 200, response.content
    assert [step["id"] for step in response.json()["steps"]] == wanted
    assert order_of(scenario) == ["three", "one", "two"]


@pytest.mark.parametrize("pick", [
    lambda steps: [str(s.pk) for s in steps[:2]],                  # one missing
    lambda steps: [str(s.pk) for s in (*steps, steps[0])],        # one twice
    lambda steps: [str(s.pk) for s in steps[:2]] + ["not-a-uuid"],  # malformed
    lambda steps: "all of them",
])
def test_reorder_steps_refuses_a_wrong_list(tester, three_steps, pick):
    """Anything but every step once is a 400 on ``steps``; the order stays."""
    scenario, steps = three_steps
    response = tester.post(f.url("testscenario", "reorder-steps", scenario.pk),
                           {"steps": pick(steps)}, format="json")
    assert_field_errors(response, {"steps"})
    assert order_of(scenario) == ["one", "two", "three"]


def test_reorder_steps_of_another_tenant_is_404(tester, tenant_b):
    with tenant_context(tenant_b):
        theirs = f.step(tenant_b)
    response = tester.post(f.url("testscenario", "reorder-steps", theirs.scenario_id),
                           {"steps": [str(theirs.pk)]}, format="json")
    assert_error(response, 404, "not_found")


def test_reorder_steps_needs_scenario_update(tenant_a, three_steps):
    scenario, steps = three_steps
    viewer = f.signed_in_tester(tenant_a, ["scenario:view", "scenariostep:update"])
    error = assert_error(viewer.post(f.url("testscenario", "reorder-steps", scenario.pk),
                                     {"steps": [str(s.pk) for s in steps]}, format="json"), 403)
    assert "scenario:update" in error["message"]


def test_duplicate_and_move_a_step(tester, three_steps):
    """A copy lands right after its original; move shifts a step by the offset."""
    scenario, steps = three_steps
    response = tester.post(f.url("testscenariostep", "duplicate", steps[0].pk))
    assert response.status_code == 201, response.content
    assert response.json()["description"] == "one" and response.json()["id"] != str(steps[0].pk)
    assert order_of(scenario) == ["one", "one", "two", "three"]
    moved = tester.post(f.url("testscenariostep", "move", steps[2].pk), {"offset": -3},
                        format="json")
    assert moved.status_code == 200, moved.content
    assert [s["description"] for s in moved.json()["steps"]] == ["three", "one", "one", "two"]
    assert_field_errors(tester.post(f.url("testscenariostep", "move", steps[2].pk),
                                    {"offset": "up"}, format="json"), {"offset"})


def test_duplicate_and_move_of_another_tenant_are_404(tester, tenant_b):
    with tenant_context(tenant_b):
        theirs = f.step(tenant_b)
    assert_error(tester.post(f.url("testscenariostep", "duplicate", theirs.pk)), 404)
    assert_error(tester.post(f.url("testscenariostep", "move", theirs.pk), {"offset": 1},
                             format="json"), 404)
    assert ScenarioStep.objects.all_tenants().filter(scenario=theirs.scenario).count() == 1


def test_duplicate_needs_step_create(tenant_a, three_steps):
    _scenario, steps = three_steps
    editor = f.signed_in_tester(tenant_a, ["scenariostep:view", "scenariostep:update"])
    error = assert_error(editor.post(f.url("testscenariostep", "duplicate", steps[0].pk)), 403)
    assert "scenariostep:create" in error["message"]


# ---------------------------------------------------------------------------
# GET datasets/{id}/preview/
# ---------------------------------------------------------------------------


def test_dataset_preview(tester, tenant_a):
    """The header, the first rows (``?limit=``) and the number of rows."""
    with tenant_context(tenant_a):
        data = f.dataset(tenant_a)
    body = tester.get(f.url("testdataset", "preview", data.pk), {"limit": 2}).json()
    assert body == {"header": ["user", "password"], "rows": [["alice", "a1"], ["bob", "b2"]],
                    "row_count": 3}
    assert len(tester.get(f.url("testdataset", "preview", data.pk)).json()["rows"]) == 3


@pytest.mark.parametrize("limit", ["0", "101", "ten", "-1"])
def test_dataset_preview_limit_is_checked(tester, tenant_a, limit):
    with tenant_context(tenant_a):
        data = f.dataset(tenant_a)
    assert_field_errors(tester.get(f.url("testdataset", "preview", data.pk), {"limit": limit}),
                        {"limit"})


def test_dataset_preview_of_data_over_a_lowered_limit(tester, tenant_a):
    """Data stored before a limit was lowered previews as a 400 naming the line, not a 500."""
    with tenant_context(tenant_a):
        data = f.dataset(tenant_a)
    with override_settings(TESTING_DATASET_MAX_ROWS=2):
        response = tester.get(f.url("testdataset", "preview", data.pk))
    assert "Line 4" in assert_field_errors(response, {"csv_data"})["csv_data"][0]


def test_dataset_preview_of_another_tenant_is_404(tester, tenant_b):
    with tenant_context(tenant_b):
        theirs = f.dataset(tenant_b)
    assert_error(tester.get(f.url("testdataset", "preview", theirs.pk)), 404, "not_found")


# ---------------------------------------------------------------------------
# Secrets never in an answer
# ---------------------------------------------------------------------------


def raw_column(table: str, column: str, pk) -> str | None:
    """Return a column as stored, read past the model."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s",  # noqa: S608 (constants)
                       [pk.hex if connection.vendor in ("sqlite", "mysql") else pk])
        row = cursor.fetchone()
    return row[0] if row else None


def test_database_password_is_in_no_answer(tester, tenant_a, driver_calls):
    """The password is accepted, sealed at rest, and absent from every answer: create,
    list, detail, update, test connection, restore, the scenario export."""
    project = str(f.project(tenant_a).pk)
    created = tester.post(f.url("testdatabaseconfig"), {
        "project": project, "name": "Orders", "variable_name": "orders", "host": "127.0.0.1",
        "port": 3306, "username": "root", "password": f.DB_PASSWORD}, format="json")
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    assert created.json()["has_password"] is True
    stored = raw_column("testing_database_configs", "password",
                        DatabaseConfig.objects.all_tenants().get(pk=pk).pk)
    assert stored.startswith("enc:") and f.DB_PASSWORD not in stored
    with tenant_context(tenant_a):
        scenario = f.scenario(tenant_a, "Uses it", database_config_id=pk, pre_sql="SELECT 1")
    detail = f.url("testdatabaseconfig", "detail", pk)
    answers = [
        created,
        tester.get(f.url("testdatabaseconfig")),
        tester.get(f.url("testdatabaseconfig"), {"search": f.DB_PASSWORD}),
        tester.get(detail),
        tester.patch(detail, {"name": "Renamed"}, format="json"),
        tester.put(detail, {"project": project, "name": "Put", "variable_name": "orders",
                            "host": "127.0.0.1", "port": 3306, "username": "root"},
                   format="json"),
    ]
    with NOTHING_ALLOWED:
        answers.append(tester.post(f.url("testdatabaseconfig", "test-connection", pk)))
    answers.append(tester.get(f.url("testscenario", "export-document", scenario.pk)))
    with tenant_context(tenant_a):
        Scenario.objects.get(pk=scenario.pk).hard_delete()
    answers.append(tester.delete(detail))
    answers.append(tester.post(f.url("testdatabaseconfig", "restore", pk)))
    for response in answers:
        assert response.status_code in (200, 201, 204), response.content
        assert f.DB_PASSWORD not in body_text(response)
        assert '"password"' not in body_text(response)
    assert DatabaseConfig.objects.all_tenants().get(pk=pk).password == f.DB_PASSWORD


def test_secret_variable_is_masked_and_sealed(tester, tenant_a):
    """A secret value is sealed at rest and masked in every answer; sending the mask back
    keeps it; it is never searched."""
    project = str(f.project(tenant_a).pk)
    created = tester.post(f.url("testvariable"), {
        "project": project, "name": "api_key", "value": f.SECRET_VALUE, "is_secret": True},
        format="json")
    assert created.status_code == 201, created.content
    assert created.json()["value"] == MASK
    pk = created.json()["id"]
    row = Variable.objects.all_tenants().get(pk=pk)
    assert row.value == "" and row.plain_value == f.SECRET_VALUE
    assert f.SECRET_VALUE not in raw_column("testing_variables", "secret_value", row.pk)
    detail = f.url("testvariable", "detail", pk)
    answers = [
        created,
        tester.get(f.url("testvariable")),
        tester.get(detail),
        tester.put(detail, {"project": project, "name": "api_key", "value": MASK,
                            "is_secret": True, "description": "Round-tripped."},
                   format="json"),
        tester.patch(detail, {"description": "Patched."}, format="json"),
    ]
    for response in answers:
        assert response.status_code in (200, 201), response.content
        assert f.SECRET_VALUE not in body_text(response)
        for result in response.json().get("results", [response.json()]):
            assert result["value"] == MASK
    assert Variable.objects.all_tenants().get(pk=pk).plain_value == f.SECRET_VALUE
    assert tester.get(f.url("testvariable"), {"search": f.SECRET_VALUE}).json()["count"] == 0


def test_secret_variable_is_rewritten_not_revealed(tester, tenant_a):
    """A new value replaces the secret; making it plain needs a new value, never reveals
    the old one; making a plain variable secret seals its value."""
    with tenant_context(tenant_a):
        secret = f.variable(tenant_a, "api_key", f.SECRET_VALUE, secret=True)
        plain = f.variable(tenant_a, "user", "alice")
    detail = f.url("testvariable", "detail", secret.pk)
    assert_field_errors(tester.patch(detail, {"is_secret": False}, format="json"), {"value"})
    assert Variable.objects.all_tenants().get(pk=secret.pk).plain_value == f.SECRET_VALUE
    rotated = tester.patch(detail, {"value": "rotated-key"}, format="json")
    assert rotated.json()["value"] == MASK
    assert Variable.objects.all_tenants().get(pk=secret.pk).plain_value == "rotated-key"
    shown = tester.patch(detail, {"is_secret": False, "value": "public"}, format="json")
    assert shown.json()["value"] == "public"
    sealed = tester.patch(f.url("testvariable", "detail", plain.pk), {"is_secret": True},
                          format="json")
    assert sealed.json()["value"] == MASK
    saved = Variable.objects.all_tenants().get(pk=plain.pk)
    assert (saved.value, saved.plain_value) == ("", "alice")


def logged_text() -> str:
    """Return every operation and audit log row as text."""
    rows = [*OperationLog.objects.all_tenants().values(), *AuditLog.objects.all_tenants().values()]
    return json.dumps(rows, default=str)


def test_database_password_is_not_in_the_logs(tester, tenant_a):
    """Writing a password leaves it in neither the operation log nor the audit trail."""
    response = tester.post(f.url("testdatabaseconfig"), {
        "project": str(f.project(tenant_a).pk), "name": "Orders", "variable_name": "orders",
        "host": "db.example.com", "port": 3306, "username": "app", "password": f.DB_PASSWORD},
        format="json")
    assert response.status_code == 201, response.content
    assert OperationLog.objects.all_tenants().exists()
    assert f.DB_PASSWORD not in logged_text()


def test_secret_variable_value_is_not_in_the_logs(tester, tenant_a):
    """Writing a secret variable leaves its value in neither the operation log nor the
    audit trail."""
    response = tester.post(f.url("testvariable"), {
        "project": str(f.project(tenant_a).pk), "name": "api_key", "value": f.SECRET_VALUE,
        "is_secret": True}, format="json")
    assert response.status_code == 201, response.content
    assert f.SECRET_VALUE not in logged_text()
    variable = response.json()["id"]
    response = tester.patch(f.url("testvariable", "detail", variable),
                            {"value": "rotated-" + f.SECRET_VALUE}, format="json")
    assert response.status_code == 200, response.content
    assert f.SECRET_VALUE not in logged_text()


def test_secrets_are_not_in_the_openapi_document(client_a, tenant_a):
    """The document marks the password write-only and shows secret variables masked in
    its answer examples; no secret value appears in it."""
    with tenant_context(tenant_a):
        f.database(tenant_a)
        f.variable(tenant_a, "api_key", f.SECRET_VALUE, secret=True)
    response = client_a.get(reverse("api-schema"), HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    text = body_text(response)
    assert f.DB_PASSWORD not in text and f.SECRET_VALUE not in text
    schema = response.json()
    components = schema["components"]["schemas"]
    assert components["DatabaseConfig"]["properties"]["password"]["writeOnly"] is True
    examples = []

    def collect(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "examples" and isinstance(value, dict):
                    examples.extend(item.get("value") for item in value.values())
                else:
                    collect(value)
        elif isinstance(node, list):
            for item in node:
                collect(item)

    collect({path: item for path, item in schema["paths"].items() if "/testing/" in path})
    rows = []

    def objects(node):
        if isinstance(node, dict):
            rows.append(node)
            for value in node.values():
                objects(value)
        elif isinstance(node, list):
            for item in node:
                objects(item)

    objects(examples)
    assert any(row.get("is_secret") for row in rows), "the variable answers carry an example"
    for row in rows:
        assert "password" not in row
        if row.get("is_secret"):
            assert row["value"] == MASK


# ---------------------------------------------------------------------------
# The routes in the OpenAPI document and the endpoint registry
# ---------------------------------------------------------------------------

ROUTES = {
    # path: {method: permission code}
    "/api/v1/testing/projects/": {"GET": "project:view", "POST": "project:create"},
    "/api/v1/testing/projects/{id}/restore/": {"POST": "project:restore"},
    "/api/v1/testing/database-configs/{id}/test-connection/": {"POST": "databaseconfig:update"},
    "/api/v1/testing/interface-folders/{id}/": {"DELETE": "interfacefolder:delete"},
    "/api/v1/testing/interfaces/{id}/": {"PATCH": "interface:update"},
    "/api/v1/testing/environments/": {"GET": "environment:view"},
    "/api/v1/testing/variables/{id}/": {"PUT": "variable:update"},
    "/api/v1/testing/keywords/": {"POST": "keyword:create"},
    "/api/v1/testing/builtin-keywords/": {"GET": "builtinkeyword:view"},
    "/api/v1/testing/global-functions/{id}/restore/": {"POST": "globalfunction:restore"},
    "/api/v1/testing/scenarios/{id}/export/": {"GET": "scenario:view"},
    "/api/v1/testing/scenarios/import/": {"POST": "scenario:create"},
    "/api/v1/testing/scenarios/{id}/reorder-steps/": {"POST": "scenario:update"},
    "/api/v1/testing/scenario-steps/{id}/duplicate/": {"POST": "scenariostep:create"},
    "/api/v1/testing/scenario-steps/{id}/move/": {"POST": "scenariostep:update"},
    "/api/v1/testing/datasets/{id}/preview/": {"GET": "dataset:view"},
    "/api/v1/testing/plans/": {"GET": "testplan:view"},
    "/api/v1/testing/plan-scenarios/{id}/": {"DELETE": "planscenario:delete"},
}


def test_routes_are_documented_and_registered(client_a):
    """Every testing route is in the OpenAPI document and in the endpoint registry with the
    permission code it needs; the built-in keywords take no writes."""
    schema = client_a.get(reverse("api-schema"),
                          HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    for path, methods in ROUTES.items():
        assert path in schema["paths"], path
        for method, code in methods.items():
            assert method.lower() in schema["paths"][path], (path, method)
            row = ApiEndpoint.objects.get(path=path, method=method)
            assert (row.permission_code, row.is_active) == (code, True), row
    testing = ApiEndpoint.objects.filter(path__startswith="/api/v1/testing/")
    assert not testing.filter(path__startswith="/api/v1/testing/builtin-keywords/",
                              method__in=["POST", "PUT", "PATCH", "DELETE"]).exists()
    assert all(row.permission_code and row.description for row in testing)
