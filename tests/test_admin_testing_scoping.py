"""Choices, autocompletes and inlines of the test domain's admin: never another tenant's
rows, and inside a project never another project's (issue 12, item 4)."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from core.context import tenant_context
from rbac.models import DataScope
from testing.models import (
    BuiltinKeyword,
    Interface,
    InterfaceFolder,
    PlanScenario,
    ScenarioStep,
    Variable,
)
from tests.admin_cases import make_staff_actor, messages_of
from tests.test_admin_testing import (
    make_database,
    make_dataset,
    make_entry,
    make_environment,
    make_folder,
    make_interface,
    make_keyword,
    make_plan,
    make_project,
    make_scenario,
    make_step,
    make_variable,
)

pytestmark = pytest.mark.django_db

REQUEST_GET = {"method": "GET", "url": "/"}


def design(tenant, prefix: str) -> dict:
    """Return a project ``shop`` and a project ``other`` of ``tenant``, each holding one row
    of every kind, every name starting with ``prefix``."""
    rows = {}
    with tenant_context(tenant):
        for key in ("shop", "other"):
            project = make_project(tenant, f"{prefix} {key}")
            scenario = make_scenario(project, f"{prefix} {key} scenario")
            plan = make_plan(project, f"{prefix} {key} plan")
            rows[key] = {
                "project": project,
                "folder": make_folder(project, f"{prefix} {key} folder"),
                "interface": make_interface(project, f"{prefix} {key} interface"),
                "keyword": make_keyword(project, f"{prefix} {key} keyword"),
                "database": make_database(project, f"{prefix.lower()}_{key}_db"),
                "environment": make_environment(project, f"{prefix} {key} env"),
                "scenario": scenario,
                "dataset": make_dataset(project, f"{prefix} {key} data"),
                "plan": plan,
            }
    return rows


@pytest.fixture
def alpha(tenant_a):
    return design(tenant_a, "Alpha")


@pytest.fixture
def beta(tenant_b):
    return design(tenant_b, "Beta")


def url(model: str, view: str, *args) -> str:
    return reverse(f"admin:testing_{model}_{view}", args=args)


def pks(queryset, tenant=None) -> set[str]:
    """Return the primary keys of ``queryset``, run in ``tenant``'s context as a request
    of its user would (the tenant filter is added when a query runs)."""
    if tenant is None:
        return {str(pk) for pk in queryset.values_list("pk", flat=True)}
    with tenant_context(tenant):
        return {str(pk) for pk in queryset.values_list("pk", flat=True)}


def of(rows: dict, kind: str, *projects: str) -> set[str]:
    return {str(rows[project][kind].pk) for project in projects}


def choices(response, field: str) -> set[str]:
    """Return the primary keys a change or add page offers in ``field``."""
    assert response.status_code == 200, response.status_code
    return pks(response.context["adminform"].form.fields[field].queryset,
               response.wsgi_request.user.tenant)


def inline_choices(response, field: str, index: int = 0) -> set[str]:
    """Return the primary keys the new rows of an inline offer in ``field``."""
    assert response.status_code == 200, response.status_code
    formset = response.context["inline_admin_formsets"][index].formset
    return pks(formset.empty_form.fields[field].queryset, response.wsgi_request.user.tenant)


def management(response, index: int = 0, total: int = 0) -> tuple[str, dict]:
    """Return the prefix and the management form of the page's inline, for ``total`` new rows."""
    formset = response.context["inline_admin_formsets"][index].formset
    prefix = formset.prefix
    return prefix, {f"{prefix}-TOTAL_FORMS": str(total), f"{prefix}-INITIAL_FORMS": "0",
                    f"{prefix}-MIN_NUM_FORMS": "0", f"{prefix}-MAX_NUM_FORMS": "1000"}


def autocomplete(client, model: str, field: str) -> set[str]:
    response = client.get(reverse("admin:autocomplete"), {
        "app_label": "testing", "model_name": model, "field_name": field, "term": ""})
    assert response.status_code == 200, response.status_code
    return {item["id"] for item in response.json()["results"]}


# ---------------------------------------------------------------------------
# Autocompletes and change lists
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("model, field, kind", [
    ("interface", "project", "project"),
    ("variable", "project", "project"),
    ("scenariostep", "scenario", "scenario"),
    ("planscenario", "plan", "plan"),
])
def test_autocompletes_offer_the_tenants_rows_only(client_a, alpha, beta, model, field, kind):
    """An autocomplete lists every row of the tenant and none of another tenant's."""
    assert autocomplete(client_a, model, field) == of(alpha, kind, "shop", "other")


def test_autocomplete_keeps_to_the_data_scope(client, tenant_a, org_a, alpha):
    """A user whose data scope is their department is offered only the projects in it."""
    with tenant_context(tenant_a):
        inside = make_project(tenant_a, "Alice's", created_by=org_a["user"])
    user = make_staff_actor(tenant_a, ["interface:create", "project:view"],
                            data_scope=DataScope.DEPARTMENT, department=org_a["child"])
    client.force_login(user)
    assert autocomplete(client, "interface", "project") == {str(inside.pk)}
    assert choices(client.get(url("interface", "add")), "folder") == set()


@pytest.mark.parametrize("model", ["databaseconfig", "interfacefolder", "interface",
                                   "environment", "variable", "keyword", "scenario",
                                   "dataset", "testplan"])
def test_change_lists_and_their_project_filter_hold_no_other_tenant(client_a, alpha, beta,
                                                                    model):
    """Neither the rows nor the project filter of a change list name another tenant's."""
    with tenant_context(beta["shop"]["project"].tenant):
        make_variable(beta["shop"]["project"], "beta_var")
    with tenant_context(alpha["shop"]["project"].tenant):
        make_variable(alpha["shop"]["project"], "alpha_var")
    response = client_a.get(url(model, "changelist"))
    assert response.status_code == 200
    assert b"Alpha" in response.content
    assert b"Beta" not in response.content and b"beta" not in response.content


# ---------------------------------------------------------------------------
# Choices of add and change pages
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("model, field, kind", [
    ("interface", "folder", "folder"),
    ("scenario", "database_config", "database"),
    ("dataset", "scenario", "scenario"),
    ("testplan", "environment", "environment"),
    ("variable", "environment", "environment"),
    ("scenariostep", "interface", "interface"),
    ("scenariostep", "keyword", "keyword"),
    ("planscenario", "scenario", "scenario"),
    ("planscenario", "dataset", "dataset"),
    ("planscenario", "environment", "environment"),
])
def test_add_pages_offer_the_tenants_rows_then_the_chosen_projects(client_a, alpha, beta,
                                                                   model, field, kind):
    """An add page offers the tenant's rows; once the project (or the scenario, the plan)
    is named, that project's rows only."""
    page = client_a.get(url(model, "add"))
    assert choices(page, field) == of(alpha, kind, "shop", "other")
    assert b"Beta" not in page.content
    parent = {"scenariostep": ("scenario", "scenario"), "planscenario": ("plan", "plan")}
    name, key = parent.get(model, ("project", "project"))
    page = client_a.get(url(model, "add"), {name: str(alpha["shop"][key].pk)})
    assert choices(page, field) == of(alpha, kind, "shop")
    page = client_a.get(url(model, "add"), {name: str(beta["shop"][key].pk)})
    assert choices(page, field) == set()


def test_change_pages_offer_the_rows_project_only(client_a, alpha, beta):
    """On a row's page, every reference offers its project's rows."""
    shop = alpha["shop"]
    with tenant_context(shop["project"].tenant):
        interface = make_interface(shop["project"], "Second", folder=shop["folder"])
        entry = make_entry(shop["plan"], shop["scenario"])
        step = make_step(shop["scenario"])
    assert choices(client_a.get(url("interface", "change", interface.pk)),
                   "folder") == of(alpha, "folder", "shop")
    page = client_a.get(url("scenario", "change", shop["scenario"].pk))
    assert choices(page, "database_config") == of(alpha, "database", "shop")
    assert inline_choices(page, "interface") == pks(Interface.objects.all_tenants().filter(
        project=shop["project"]))
    assert inline_choices(page, "keyword") == of(alpha, "keyword", "shop")
    assert inline_choices(page, "builtin_keyword") == pks(
        BuiltinKeyword.objects.filter(is_active=True))
    page = client_a.get(url("testplan", "change", shop["plan"].pk))
    assert choices(page, "environment") == of(alpha, "environment", "shop")
    for field, kind in (("scenario", "scenario"), ("dataset", "dataset"),
                        ("environment", "environment")):
        assert inline_choices(page, field) == of(alpha, kind, "shop")
    page = client_a.get(url("planscenario", "change", entry.pk))
    assert choices(page, "dataset") == of(alpha, "dataset", "shop")
    page = client_a.get(url("scenariostep", "change", step.pk))
    assert choices(page, "keyword") == of(alpha, "keyword", "shop")
    page = client_a.get(url("dataset", "change", shop["dataset"].pk))
    assert choices(page, "scenario") == of(alpha, "scenario", "shop")
    page = client_a.get(url("environment", "change", shop["environment"].pk))
    assert "project" not in page.context["adminform"].form.fields  # read-only once set


# ---------------------------------------------------------------------------
# Inlines
# ---------------------------------------------------------------------------


def scenario_post(scenario) -> dict:
    return {"name": scenario.name, "description": "", "priority": scenario.priority,
            "tags": "[]", "variables": "{}", "database_config": "", "pre_sql": "",
            "post_sql": ""}


def step_rows(prefix: str, steps: list[dict]) -> dict:
    data = {}
    for index, step in enumerate(steps):
        row = {"sort_order": "", "is_enabled": "on", "description": "", "interface": "",
               "keyword": "", "builtin_keyword": "", "parameters": "{}", **step}
        data.update({f"{prefix}-{index}-{name}": value for name, value in row.items()})
    return data


def test_steps_are_added_on_the_scenario_page_in_order(client_a, alpha, tenant_a):
    """New steps posted with the scenario are saved in its tenant, after the last one."""
    shop = alpha["shop"]
    scenario = shop["scenario"]
    with tenant_context(tenant_a):
        make_step(scenario, sort_order=50, description="First")
    page = client_a.get(url("scenario", "change", scenario.pk))
    prefix, data = management(page, total=3)
    data[f"{prefix}-INITIAL_FORMS"] = "0"  # the existing step is left as it is
    data.update(scenario_post(scenario))
    data.update(step_rows(prefix, [
        {"kind": "interface", "interface": str(shop["interface"].pk),
         "parameters": json.dumps({"variables": {"user_id": 1}})},
        {"kind": "request", "parameters": json.dumps({"method": "POST", "url": "/orders/"})},
        {"kind": "keyword", "keyword": str(shop["keyword"].pk), "description": "Echo"},
    ]))
    response = client_a.post(url("scenario", "change", scenario.pk), data)
    assert response.status_code == 302, [f.errors for f in
                                         response.context["inline_admin_formsets"][0].formset]
    steps = list(ScenarioStep.objects.all_tenants().filter(scenario=scenario))
    assert [(step.sort_order, step.kind) for step in steps] == [
        (50, "request"), (60, "interface"), (70, "request"), (80, "keyword")]
    assert {step.tenant_id for step in steps} == {tenant_a.pk}


@pytest.mark.parametrize("source", ["other project", "other tenant"])
def test_a_step_refuses_an_interface_outside_the_scenarios_project(client_a, alpha, beta,
                                                                   source):
    """A step naming another project's (or tenant's) interface is a form error; nothing is
    saved, on the scenario's page and on the step's own add page."""
    scenario = alpha["shop"]["scenario"]
    interface = (alpha["other"] if source == "other project" else beta["shop"])["interface"]
    page = client_a.get(url("scenario", "change", scenario.pk))
    prefix, data = management(page, total=1)
    data.update(scenario_post(scenario))
    data.update(step_rows(prefix, [{"kind": "interface", "interface": str(interface.pk)}]))
    response = client_a.post(url("scenario", "change", scenario.pk), data)
    assert response.status_code == 200
    errors = response.context["inline_admin_formsets"][0].formset.errors
    assert "interface" in errors[0]
    response = client_a.post(url("scenariostep", "add"), {
        "scenario": str(scenario.pk), "kind": "interface", "interface": str(interface.pk),
        "sort_order": "", "is_enabled": "on", "description": "", "keyword": "",
        "builtin_keyword": "", "parameters": "{}"})
    assert response.status_code == 200
    assert "interface" in response.context["adminform"].form.errors
    assert not ScenarioStep.objects.all_tenants().filter(scenario=scenario).exists()


def test_a_step_added_on_its_own_page_goes_last(client_a, alpha, tenant_a):
    """The step's own add page places a step without position after the scenario's last."""
    scenario = alpha["shop"]["scenario"]
    with tenant_context(tenant_a):
        make_step(scenario, sort_order=30)
    response = client_a.post(url("scenariostep", "add"), {
        "scenario": str(scenario.pk), "kind": "request", "sort_order": "", "is_enabled": "on",
        "description": "Added", "interface": "", "keyword": "", "builtin_keyword": "",
        "parameters": json.dumps(REQUEST_GET)})
    assert response.status_code == 302
    assert ScenarioStep.objects.all_tenants().get(description="Added").sort_order == 40


def test_an_operators_new_step_takes_the_scenarios_tenant(operator_client, beta, tenant_b):
    """An operator (no tenant in scope) adds a step to tenant B's scenario: it is B's."""
    scenario = beta["shop"]["scenario"]
    page = operator_client.get(url("scenario", "change", scenario.pk))
    prefix, data = management(page, total=1)
    data.update(scenario_post(scenario))
    data.update(step_rows(prefix, [{"kind": "request",
                                    "parameters": json.dumps(REQUEST_GET)}]))
    response = operator_client.post(url("scenario", "change", scenario.pk), data)
    assert response.status_code == 302
    step = ScenarioStep.objects.all_tenants().get(scenario=scenario)
    assert step.tenant_id == tenant_b.pk and step.sort_order == 10


def variable_rows(prefix: str, rows: list[dict]) -> dict:
    data = {}
    for index, row in enumerate(rows):
        row = {"value": "", "description": "", "new_secret_value": "", **row}
        data.update({f"{prefix}-{index}-{name}": value for name, value in row.items()})
    return data


def environment_post(environment) -> dict:
    return {"name": environment.name, "base_url": "", "description": ""}


def test_variables_are_added_on_the_environment_page(client_a, alpha, tenant_a):
    """Variables posted with their environment take its tenant and project; a secret one is
    sealed."""
    environment = alpha["shop"]["environment"]
    page = client_a.get(url("environment", "change", environment.pk))
    prefix, data = management(page, total=2)
    data.update(environment_post(environment))
    data.update(variable_rows(prefix, [
        {"name": "host", "value": "shop.example.com"},
        {"name": "token", "is_secret": "on", "new_secret_value": "Tok-9f8e7d"},
    ]))
    response = client_a.post(url("environment", "change", environment.pk), data)
    assert response.status_code == 302, response.context and [
        f.errors for f in response.context["inline_admin_formsets"][0].formset]
    rows = {v.name: v for v in Variable.objects.all_tenants().filter(environment=environment)}
    assert rows["host"].value == "shop.example.com" and not rows["host"].is_secret
    assert rows["token"].is_secret and rows["token"].value == ""
    assert rows["token"].secret_value == "Tok-9f8e7d"
    assert {v.project_id for v in rows.values()} == {environment.project_id}
    assert {v.tenant_id for v in rows.values()} == {tenant_a.pk}


@pytest.mark.parametrize("case", ["twice in the post", "already stored"])
def test_a_variable_name_repeated_in_an_environment_is_a_form_error(client_a, alpha,
                                                                     tenant_a, case):
    """A name taken in the environment is a form error, never a failed save."""
    environment = alpha["shop"]["environment"]
    with tenant_context(tenant_a):
        make_variable(environment.project, "host")  # a global: another scope, no clash
        if case == "already stored":
            make_variable(environment.project, "host", environment=environment)
    page = client_a.get(url("environment", "change", environment.pk))
    prefix, data = management(page, total=2 if case == "twice in the post" else 1)
    data.update(environment_post(environment))
    data.update(variable_rows(prefix, [{"name": "host", "value": "a"},
                                       {"name": "host", "value": "b"}]))
    response = client_a.post(url("environment", "change", environment.pk), data)
    assert response.status_code == 200
    formset = response.context["inline_admin_formsets"][0].formset
    text = " ".join([*formset.non_form_errors(), *(str(e) for e in formset.errors)])
    assert "A variable with this name already exists here." in text
    expected = 1 if case == "already stored" else 0
    assert Variable.objects.all_tenants().filter(environment=environment).count() == expected


def plan_post(plan) -> dict:
    return {"name": plan.name, "description": "", "run_mode": plan.run_mode, "environment": ""}


def entry_rows(prefix: str, rows: list[dict]) -> dict:
    data = {}
    for index, row in enumerate(rows):
        row = {"sort_order": "", "dataset": "", "environment": "", "variables": "{}", **row}
        data.update({f"{prefix}-{index}-{name}": value for name, value in row.items()})
    return data


def test_scenarios_are_added_on_the_plan_page(client_a, alpha, tenant_a):
    """Scenarios posted with their plan are saved in order with their dataset and
    environment."""
    shop = alpha["shop"]
    with tenant_context(tenant_a):
        second = make_scenario(shop["project"], "Refund")
    page = client_a.get(url("testplan", "change", shop["plan"].pk))
    prefix, data = management(page, total=2)
    data.update(plan_post(shop["plan"]))
    data.update(entry_rows(prefix, [
        {"scenario": str(shop["scenario"].pk), "dataset": str(shop["dataset"].pk),
         "environment": str(shop["environment"].pk), "variables": '{"user_id": 7}'},
        {"scenario": str(second.pk)},
    ]))
    response = client_a.post(url("testplan", "change", shop["plan"].pk), data)
    assert response.status_code == 302
    entries = list(PlanScenario.objects.all_tenants().filter(plan=shop["plan"]))
    assert [(e.scenario_id, e.sort_order) for e in entries] == [
        (shop["scenario"].pk, 10), (second.pk, 20)]
    assert entries[0].dataset_id == shop["dataset"].pk
    assert entries[0].variables == {"user_id": 7}


@pytest.mark.parametrize("case", ["twice", "other project", "other tenant"])
def test_a_plan_refuses_a_repeated_or_foreign_scenario(client_a, alpha, beta, case):
    """The same scenario twice, or a scenario outside the plan's project, is a form error."""
    shop = alpha["shop"]
    scenario = {"twice": shop, "other project": alpha["other"],
                "other tenant": beta["shop"]}[case]["scenario"]
    rows = [{"scenario": str(scenario.pk)}]
    if case == "twice":
        rows.append({"scenario": str(scenario.pk)})
    page = client_a.get(url("testplan", "change", shop["plan"].pk))
    prefix, data = management(page, total=len(rows))
    data.update(plan_post(shop["plan"]))
    data.update(entry_rows(prefix, rows))
    response = client_a.post(url("testplan", "change", shop["plan"].pk), data)
    assert response.status_code == 200
    formset = response.context["inline_admin_formsets"][0].formset
    if case == "twice":
        assert "The plan already includes this scenario." in " ".join(formset.non_form_errors())
    else:
        assert "scenario" in formset.errors[0]
    assert not PlanScenario.objects.all_tenants().filter(plan=shop["plan"]).exists()


# ---------------------------------------------------------------------------
# Operators, trees
# ---------------------------------------------------------------------------


def interface_post(**fields) -> dict:
    return {"folder": "", "name": "Operator's", "description": "", "sort_order": 0,
            "method": "GET", "url": "/", "query": "[]", "headers": "[]", "body_type": "none",
            "body": "", "content_type": "", "assertions": "[]", "extractors": "[]", **fields}


def test_an_operator_adds_rows_to_the_tenant_of_the_project(operator_client, alpha, beta,
                                                           tenant_a):
    """An operator chooses the tenant and a project of it; a project of another tenant is
    refused."""
    response = operator_client.post(url("interface", "add"), interface_post(
        tenant=str(tenant_a.pk), project=str(beta["shop"]["project"].pk)))
    assert response.status_code == 200
    assert "project" in response.context["adminform"].form.errors
    response = operator_client.post(url("interface", "add"), interface_post(
        tenant=str(tenant_a.pk), project=str(alpha["shop"]["project"].pk)))
    assert response.status_code == 302
    made = Interface.objects.all_tenants().get(name="Operator's")
    assert made.tenant_id == tenant_a.pk and made.project_id == alpha["shop"]["project"].pk


def move(client, cut, pasted_on, position: str = "last-child"):
    return client.post(url("interfacefolder", "changelist"), {
        "cmd": "move_node", "cut_item": str(cut.pk), "pasted_on": str(pasted_on.pk),
        "position": position})


def test_folders_move_by_drag_and_drop_within_their_project_only(client_a, alpha, beta,
                                                                 tenant_a):
    """A folder moves under a folder of its project, never into another project or tenant."""
    shop = alpha["shop"]
    with tenant_context(tenant_a):
        child = make_folder(shop["project"], "Orders")
    assert move(client_a, child, shop["folder"]).content.startswith(b"OK")
    assert InterfaceFolder.objects.all_tenants().get(pk=child.pk).parent_id == shop["folder"].pk
    response = move(client_a, child, alpha["other"]["folder"])
    assert response.content.startswith(b"FAIL")
    assert "A folder can only move within its own project." in messages_of(response)
    assert move(client_a, child, beta["shop"]["folder"]).content.startswith(b"FAIL")
    assert InterfaceFolder.objects.all_tenants().get(pk=child.pk).parent_id == shop["folder"].pk


@pytest.mark.parametrize("model, add_rows", [
    ("scenario", lambda shop, i: make_scenario(shop["project"], f"More {i}",
                                               database_config=shop["database"])),
    ("interface", lambda shop, i: make_interface(shop["project"], f"More {i}",
                                                 folder=shop["folder"])),
    ("variable", lambda shop, i: make_variable(shop["project"], f"more{i}",
                                               environment=shop["environment"])),
    ("testplan", lambda shop, i: make_plan(shop["project"], f"More {i}",
                                           environment=shop["environment"])),
    ("scenariostep", lambda shop, i: make_step(shop["scenario"], kind="interface",
                                               interface=shop["interface"], parameters={})),
    ("planscenario", lambda shop, i: make_entry(
        make_plan(shop["project"], f"More {i}"), shop["scenario"], dataset=shop["dataset"])),
])
def test_change_lists_take_as_many_queries_for_many_rows(client_a, alpha, tenant_a, model,
                                                         add_rows):
    """A change list joins what it shows: its query count does not grow with the rows."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def count() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client_a.get(url(model, "changelist")).status_code == 200
        return len(captured)

    with tenant_context(tenant_a):
        add_rows(alpha["shop"], 0)
    count()  # the first request of the session caches the user's permissions
    few = count()
    with tenant_context(tenant_a):
        for index in range(1, 6):
            add_rows(alpha["shop"], index)
    assert count() == few
