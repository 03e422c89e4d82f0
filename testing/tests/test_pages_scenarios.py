"""The scenarios list and the scenario editor (issue 12, item 3)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from core.context import tenant_context
from testing.models import BuiltinKeyword, Scenario, ScenarioStep
from testing.tests import factories
from testing.tests.page_cases import codes
from tests.admin_cases import make_staff_actor

pytestmark = pytest.mark.django_db

ALL = ("view", "create", "update", "delete")
EVERYTHING = codes(*[(model, action) for model in (Scenario, ScenarioStep) for action in ALL]) | {
    "project:view"}
HX = {"HTTP_HX_REQUEST": "true"}


def sign_in(client, tenant, wanted=EVERYTHING):
    client.force_login(make_staff_actor(tenant, wanted))


@pytest.fixture
def project_a(tenant_a):
    return factories.project(tenant_a, "Shop A")


@pytest.fixture
def project_b(tenant_b):
    return factories.project(tenant_b, "Shop B")


@pytest.fixture
def three_steps(project_a):
    """A scenario of three steps: two interfaces and a built-in keyword."""
    scenario = factories.scenario(project_a)
    first = factories.interface(project_a, "Sign in", method="POST", url="/login/")
    second = factories.interface(project_a, "List orders", url="/orders/?user={{user}}")
    with tenant_context(project_a.tenant):
        status = BuiltinKeyword.objects.get(code="assert_status")
    steps = [factories.step(scenario, kind="interface", interface=first),
             factories.step(scenario, kind="interface", interface=second),
             factories.step(scenario, kind="keyword", builtin_keyword=status,
                            parameters={"expected": 200})]
    return scenario, steps


def editor_url(scenario):
    return reverse("testing:scenario", args=[scenario.project_id, scenario.pk])


def step_url(name, step):
    return reverse(name, args=[step.scenario.project_id, step.scenario_id, step.pk])


def order_of(scenario) -> list:
    with tenant_context(scenario.tenant):
        return list(scenario.steps.values_list("pk", flat=True))


def settings_post(scenario, **fields) -> dict:
    data = {"name": scenario.name, "priority": scenario.priority, "tags": "",
            "description": "", "database_config": "", "pre_sql": "", "post_sql": "",
            "variables-TOTAL_FORMS": "0", "variables-INITIAL_FORMS": "0", "save": "1"}
    data.update(fields)
    return data


# ---------------------------------------------------------------------------
# Access
# ---------------------------------------------------------------------------


def test_anonymous_visitor_is_sent_to_sign_in(client, three_steps):
    scenario, steps = three_steps
    for url in (reverse("testing:scenarios", args=[scenario.project_id]), editor_url(scenario),
                step_url("testing:step", steps[0])):
        response = client.get(url)
        assert response.status_code == 302 and reverse("accounts:login") in response.url


def test_without_codes_every_page_and_action_is_refused(client, tenant_a, three_steps):
    """project:view alone: 403 on the list, the editor, and every step action."""
    scenario, steps = three_steps
    sign_in(client, tenant_a, {"project:view"})
    assert client.get(reverse("testing:scenarios", args=[scenario.project_id])).status_code == 403
    assert client.get(editor_url(scenario)).status_code == 403
    for name in ("testing:step", "testing:step-move", "testing:step-toggle",
                 "testing:step-duplicate", "testing:step-delete"):
        assert client.post(step_url(name, steps[0]), {"direction": "down"}).status_code == 403
    assert client.post(reverse("testing:steps-order", args=[scenario.project_id, scenario.pk]),
                       {"step": []}).status_code == 403


def test_view_only_user_reads_the_editor_but_changes_nothing(client, tenant_a, three_steps):
    """scenario:view: the steps show without buttons; every write is 403."""
    scenario, steps = three_steps
    sign_in(client, tenant_a, {"project:view", "scenario:view", "scenariostep:view"})
    page = client.get(editor_url(scenario))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Sign in" in html and "drag-handle" not in html and "Add step" not in html
    assert "Save scenario" not in html
    assert client.post(editor_url(scenario), settings_post(scenario)).status_code == 403
    assert client.post(step_url("testing:step-move", steps[0]),
                       {"direction": "down"}).status_code == 403
    assert client.post(reverse("testing:step-new", args=[scenario.project_id, scenario.pk]),
                       {"source": "request:"}).status_code == 403
    assert order_of(scenario) == [s.pk for s in steps]


def test_another_tenants_scenario_and_steps_are_404(client, tenant_a, project_a, project_b):
    """Tenant B's project, scenario and steps are not found on any path, by GET or POST."""
    theirs = factories.scenario(project_b)
    step = factories.step(theirs, kind="request", parameters={"method": "GET", "url": "/"})
    mine = factories.scenario(project_a)
    sign_in(client, tenant_a)
    urls = [reverse("testing:scenarios", args=[project_b.pk]), editor_url(theirs),
            reverse("testing:scenario", args=[project_a.pk, theirs.pk]),
            reverse("testing:scenario-delete", args=[project_b.pk, theirs.pk]),
            reverse("testing:step-new", args=[project_b.pk, theirs.pk]),
            reverse("testing:steps-order", args=[project_b.pk, theirs.pk])]
    for name in ("testing:step", "testing:step-move", "testing:step-toggle",
                 "testing:step-duplicate", "testing:step-delete"):
        urls.append(step_url(name, step))
        # Tenant B's step through tenant A's own scenario.
        urls.append(reverse(name, args=[project_a.pk, mine.pk, step.pk]))
    for url in urls:
        assert client.get(url).status_code in (404, 405), url
        assert client.post(url, {"direction": "up", "name": "x"}).status_code == 404, url
    with tenant_context(project_b.tenant):
        assert ScenarioStep.objects.filter(pk=step.pk, is_enabled=True).exists()


def test_step_of_another_scenario_cannot_be_reached_through_this_one(client, tenant_a,
                                                                      project_a, three_steps):
    """Every step route checks the step belongs to the scenario of the URL."""
    scenario, steps = three_steps
    other = factories.scenario(project_a, "Other")
    sign_in(client, tenant_a)
    for name in ("testing:step", "testing:step-move", "testing:step-toggle",
                 "testing:step-duplicate", "testing:step-delete"):
        url = reverse(name, args=[project_a.pk, other.pk, steps[0].pk])
        assert client.post(url, {"direction": "down"}).status_code == 404, name
    response = client.post(reverse("testing:steps-order", args=[project_a.pk, other.pk]),
                           {"step": [str(s.pk) for s in steps]}, **HX)
    assert response.status_code == 409
    assert order_of(scenario) == [s.pk for s in steps]
    with tenant_context(tenant_a):
        assert other.steps.count() == 0


# ---------------------------------------------------------------------------
# The list
# ---------------------------------------------------------------------------


def test_empty_list_says_what_to_do(client, tenant_a, project_a):
    sign_in(client, tenant_a)
    page = client.get(reverse("testing:scenarios", args=[project_a.pk]))
    assert page.status_code == 200
    assert "No scenarios yet. Create one below" in page.content.decode()


def test_list_counts_live_steps_in_few_queries(client, tenant_a, three_steps,
                                                django_assert_max_num_queries):
    scenario, steps = three_steps
    with tenant_context(tenant_a):
        steps[0].soft_delete()
    for index in range(5):
        factories.scenario(scenario.project, f"More {index}")
    sign_in(client, tenant_a)
    url = reverse("testing:scenarios", args=[scenario.project_id])
    client.get(url)
    with django_assert_max_num_queries(15):
        page = client.get(url)
    row = next(s for s in page.context["scenarios"] if s.pk == scenario.pk)
    assert row.step_count == 2


def test_create_scenario_opens_its_editor(client, tenant_a, project_a):
    sign_in(client, tenant_a)
    response = client.post(reverse("testing:scenarios", args=[project_a.pk]),
                           {"name": "Checkout", "priority": "P1", "description": ""})
    with tenant_context(tenant_a):
        scenario = Scenario.objects.get(name="Checkout")
    assert response.status_code == 302 and response.url == editor_url(scenario)
    page = client.get(response.url)
    assert "No steps yet. Add the first one below" in page.content.decode()


def test_duplicate_or_bad_scenario_is_a_field_error(client, tenant_a, project_a):
    factories.scenario(project_a, "Checkout")
    sign_in(client, tenant_a)
    url = reverse("testing:scenarios", args=[project_a.pk])
    response = client.post(url, {"name": "Checkout", "priority": "P2"})
    assert response.status_code == 400
    assert "already has a scenario with this name" in " ".join(
        response.context["form"].errors["name"])
    response = client.post(url, {"name": "", "priority": "P9"})
    assert response.status_code == 400
    assert set(response.context["form"].errors) >= {"name", "priority"}


# ---------------------------------------------------------------------------
# Steps
# ---------------------------------------------------------------------------


def test_editor_lists_steps_in_order_with_variables_marked(client, tenant_a, three_steps):
    scenario, steps = three_steps
    sign_in(client, tenant_a)
    page = client.get(editor_url(scenario))
    html = page.content.decode()
    assert html.index("Sign in") < html.index("List orders") < html.index("expected=200")
    assert '<mark class="var">{{user}}</mark>' in html
    assert 'data-reorder-url="' + reverse("testing:steps-order",
                                          args=[scenario.project_id, scenario.pk]) in html
    assert "vendor/sortablejs/Sortable.min.js" in html


def test_reorder_by_posting_the_order(client, tenant_a, three_steps):
    """The drag-and-drop request: every step once; the answer is the list in the new order."""
    scenario, steps = three_steps
    sign_in(client, tenant_a)
    url = reverse("testing:steps-order", args=[scenario.project_id, scenario.pk])
    wanted = [steps[2].pk, steps[0].pk, steps[1].pk]
    response = client.post(url, {"step": [str(pk) for pk in wanted]}, **HX)
    assert response.status_code == 200
    assert response.templates[0].name == "testing/scenarios/_steps.html"
    assert order_of(scenario) == wanted
    # A list missing a step (the scenario changed meanwhile) is refused, order kept.
    response = client.post(url, {"step": [str(wanted[0])]}, **HX)
    assert response.status_code == 409
    assert "reload it" in response.content.decode()
    assert order_of(scenario) == wanted
    response = client.post(url, {"step": ["not-a-uuid", "x", "y"]}, **HX)
    assert response.status_code == 409


def test_move_up_and_down_is_the_keyboard_path(client, tenant_a, three_steps):
    """Without JavaScript: redirect to the step; with htmx: the list, announcing the move."""
    scenario, steps = three_steps
    sign_in(client, tenant_a)
    response = client.post(step_url("testing:step-move", steps[0]), {"direction": "down"})
    assert response.status_code == 302
    assert response.url == editor_url(scenario) + f"#step-{steps[0].pk}"
    assert order_of(scenario) == [steps[1].pk, steps[0].pk, steps[2].pk]
    response = client.post(step_url("testing:step-move", steps[2]), {"direction": "up"}, **HX)
    assert response.status_code == 200
    assert order_of(scenario) == [steps[1].pk, steps[2].pk, steps[0].pk]
    assert "is now step 2 of 3" in response.content.decode()
    # At the top, "up" keeps the order; a bad direction is a 400 naming the field.
    client.post(step_url("testing:step-move", steps[1]), {"direction": "up"})
    assert order_of(scenario) == [steps[1].pk, steps[2].pk, steps[0].pk]
    response = client.post(step_url("testing:step-move", steps[1]), {"direction": "left"}, **HX)
    assert response.status_code == 400 and "direction" in response.content.decode()


def test_toggle_duplicate_and_delete(client, tenant_a, three_steps):
    scenario, steps = three_steps
    sign_in(client, tenant_a)
    response = client.post(step_url("testing:step-toggle", steps[1]), **HX)
    assert response.status_code == 200 and "disabled" in response.content.decode()
    with tenant_context(tenant_a):
        assert ScenarioStep.objects.get(pk=steps[1].pk).is_enabled is False
    client.post(step_url("testing:step-toggle", steps[1]))
    with tenant_context(tenant_a):
        assert ScenarioStep.objects.get(pk=steps[1].pk).is_enabled is True
    response = client.post(step_url("testing:step-duplicate", steps[0]))
    assert response.status_code == 302
    order = order_of(scenario)
    assert len(order) == 4 and order[0] == steps[0].pk and order[2] == steps[1].pk
    with tenant_context(tenant_a):
        copy = ScenarioStep.objects.get(pk=order[1])
    assert copy.interface_id == steps[0].interface_id
    response = client.post(step_url("testing:step-delete", copy), **HX)
    assert response.status_code == 200
    assert order_of(scenario) == [s.pk for s in steps]


def test_add_interface_step_at_once(client, tenant_a, project_a):
    scenario = factories.scenario(project_a)
    interface = factories.interface(project_a)
    sign_in(client, tenant_a)
    page = client.get(editor_url(scenario))
    assert f'value="interface:{interface.pk}"' in page.content.decode()
    response = client.post(reverse("testing:step-new", args=[project_a.pk, scenario.pk]),
                           {"source": f"interface:{interface.pk}", "quick": "1"})
    assert response.status_code == 302
    with tenant_context(tenant_a):
        step = scenario.steps.get()
    assert step.kind == "interface" and step.interface_id == interface.pk
    assert response.url.endswith(f"#step-{step.pk}")


def test_keyword_with_required_parameters_opens_its_form(client, tenant_a, project_a):
    """assert_status needs "expected": its generated form opens, then the step is added."""
    scenario = factories.scenario(project_a)
    sign_in(client, tenant_a)
    url = reverse("testing:step-new", args=[project_a.pk, scenario.pk])
    page = client.post(url, {"source": "builtin:assert_status", "quick": "1"})
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="p_expected"' in html and 'type="number"' in html
    assert "This field is required" not in html
    with tenant_context(tenant_a):
        assert scenario.steps.count() == 0
    response = client.post(url, {"source": "builtin:assert_status", "p_expected": "99999",
                                 "is_enabled": "on"})
    assert response.status_code == 400
    assert response.context["form"].errors["p_expected"]
    response = client.post(url, {"source": "builtin:assert_status", "p_expected": "201",
                                 "is_enabled": "on", "description": "Created"})
    assert response.status_code == 302
    with tenant_context(tenant_a):
        step = scenario.steps.get()
    assert step.parameters == {"expected": 201} and step.description == "Created"


def test_generated_form_of_every_parameter_type(client, tenant_a, project_a):
    """Enum -> select, JSON format -> textarea, untyped -> JSON-or-text; values round-trip."""
    scenario = factories.scenario(project_a)
    sign_in(client, tenant_a)
    url = reverse("testing:step-new", args=[project_a.pk, scenario.pk])
    page = client.get(url + "?source=builtin:http_request")
    html = page.content.decode()
    assert '<select name="p_method"' in html and '<textarea name="p_json"' in html
    assert '<textarea name="p_headers"' in html
    response = client.post(url, {
        "source": "builtin:http_request", "is_enabled": "on", "p_method": "POST",
        "p_url": "/orders/{{id}}/", "p_headers": '{"X-Key": "{{key}}"}', "p_query": "",
        "p_json": '{"a": [1, 2]}', "p_timeout": "2.5"})
    assert response.status_code == 302, response.content.decode()[:2000]
    with tenant_context(tenant_a):
        step = scenario.steps.get()
    assert step.parameters == {"method": "POST", "url": "/orders/{{id}}/",
                               "headers": {"X-Key": "{{key}}"}, "json": {"a": [1, 2]},
                               "timeout": 2.5}
    # Bad JSON in a JSON box names line and column; nothing changes.
    response = client.post(step_url("testing:step", step), {
        "is_enabled": "on", "p_method": "GET", "p_url": "/", "p_headers": "{oops"})
    assert response.status_code == 400
    assert "line 1, column 2" in response.context["form"].errors["p_headers"][0]
    # JSON-or-text: text stays text, a number becomes a number, "null" stays null.
    with tenant_context(tenant_a):
        equal = BuiltinKeyword.objects.get(code="assert_equal")
    step2 = factories.step(scenario, kind="keyword", builtin_keyword=equal,
                           parameters={"actual": "{{a}}", "operator": "==", "expected": "200"})
    page = client.get(step_url("testing:step", step2))
    assert page.context["form"]["p_expected"].value() == '"200"'
    response = client.post(step_url("testing:step", step2), {
        "is_enabled": "on", "p_actual": "{{a}}", "p_operator": "==", "p_expected": "200"})
    assert response.status_code == 302
    with tenant_context(tenant_a):
        step2.refresh_from_db()
    assert step2.parameters == {"actual": "{{a}}", "operator": "==", "expected": 200}


def test_missing_required_parameter_names_it(client, tenant_a, project_a):
    """The schema's message about a missing parameter lands on that parameter's input."""
    scenario = factories.scenario(project_a)
    with tenant_context(tenant_a):
        equal = BuiltinKeyword.objects.get(code="extract_json")
    step = factories.step(scenario, kind="keyword", builtin_keyword=equal,
                          parameters={"expression": "$.id", "variable": "id"})
    sign_in(client, tenant_a)
    response = client.post(step_url("testing:step", step), {"p_expression": "$.id",
                                                            "p_variable": "1 bad"})
    assert response.status_code == 302  # the docs allow any string
    response = client.post(step_url("testing:step", step), {"p_expression": "",
                                                            "p_variable": "id"})
    assert response.status_code == 400
    assert response.context["form"].errors["p_expression"]


def test_project_keyword_other_parameters_are_kept(client, tenant_a, project_a):
    """A project keyword's parameters beyond its docs stay in the "other parameters" box."""
    keyword = factories.keyword(project_a)
    scenario = factories.scenario(project_a)
    step = factories.step(scenario, kind="keyword", keyword=keyword,
                          parameters={"payload": "p", "extra": [1]})
    sign_in(client, tenant_a)
    page = client.get(step_url("testing:step", step))
    form = page.context["form"]
    assert '"extra"' in form["other_parameters"].value()
    response = client.post(step_url("testing:step", step), {
        "is_enabled": "on", "p_payload": "q", "p_key": "",
        "other_parameters": form["other_parameters"].value()})
    assert response.status_code == 302
    with tenant_context(tenant_a):
        step.refresh_from_db()
    assert step.parameters == {"payload": "q", "extra": [1]}
    response = client.post(step_url("testing:step", step), {
        "is_enabled": "on", "p_payload": "q", "other_parameters": "[1]"})
    assert response.status_code == 400 and response.context["form"].errors["other_parameters"]


def test_interface_step_form_from_the_shipped_schema(client, tenant_a, project_a):
    """An interface step's extra assertions are checked against assertions.json."""
    scenario = factories.scenario(project_a)
    step = factories.step(scenario, kind="interface", interface=factories.interface(project_a))
    sign_in(client, tenant_a)
    response = client.post(step_url("testing:step", step), {
        "is_enabled": "on", "p_assertions": '[{"type": "status_code", "operator": "=="}]'})
    assert response.status_code == 400
    errors = " ".join(response.context["form"].errors["p_assertions"])
    assert "parameters.assertions[0]" in errors and "expected_value" in errors
    response = client.post(step_url("testing:step", step), {
        "is_enabled": "on", "p_variables": '{"user": "ann"}'})
    assert response.status_code == 302


def test_unknown_source_is_a_field_error(client, tenant_a, project_a, project_b):
    """Another tenant's interface, or nonsense, as a step source: an error, no step."""
    scenario = factories.scenario(project_a)
    theirs = factories.interface(project_b)
    sign_in(client, tenant_a)
    url = reverse("testing:step-new", args=[project_a.pk, scenario.pk])
    for source in (f"interface:{theirs.pk}", "interface:nope", "builtin:nope", "x"):
        response = client.post(url, {"source": source, "quick": "1"})
        assert response.status_code == 400, source
        assert response.context["add_form"].errors["source"]
    with tenant_context(tenant_a):
        assert scenario.steps.count() == 0


# ---------------------------------------------------------------------------
# Settings, variables and SQL
# ---------------------------------------------------------------------------


def test_save_settings_variables_and_sql(client, tenant_a, project_a):
    from testing.models import DatabaseConfig

    scenario = factories.scenario(project_a)
    with tenant_context(tenant_a):
        database = DatabaseConfig(project=project_a, tenant=tenant_a, name="Orders",
                                  variable_name="orders_db", db_type="postgresql",
                                  host="db.example.com", port=5432, username="u")
        database.full_clean()
        database.save()
    sign_in(client, tenant_a)
    data = settings_post(scenario, tags="smoke, orders", priority="P0",
                         database_config=str(database.pk), pre_sql="DELETE FROM t",
                         **{"variables-TOTAL_FORMS": "3", "variables-0-name": "status",
                            "variables-0-value": "200", "variables-1-name": "user",
                            "variables-1-value": "{{name}}", "variables-2-name": "",
                            "variables-2-value": ""})
    response = client.post(editor_url(scenario), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    with tenant_context(tenant_a):
        scenario.refresh_from_db()
    assert scenario.variables == {"status": 200, "user": "{{name}}"}
    assert scenario.tags == ["smoke", "orders"] and scenario.priority == "P0"
    assert scenario.database_config_id == database.pk and scenario.pre_sql == "DELETE FROM t"
    page = client.get(editor_url(scenario))
    assert page.context["variables"].forms[0]["value"].value() == "200"


def test_settings_errors_name_the_field(client, tenant_a, project_a):
    scenario = factories.scenario(project_a)
    sign_in(client, tenant_a)
    response = client.post(editor_url(scenario), settings_post(
        scenario, pre_sql="SELECT 1", **{"variables-TOTAL_FORMS": "2",
                                         "variables-0-name": "bad name",
                                         "variables-0-value": "1",
                                         "variables-1-name": "", "variables-1-value": "x"}))
    assert response.status_code == 400
    rows = response.context["variables"].forms
    assert rows[0].errors["name"] and rows[1].errors["name"]
    response = client.post(editor_url(scenario), settings_post(
        scenario, pre_sql="SELECT 1", **{"variables-TOTAL_FORMS": "2",
                                         "variables-0-name": "a", "variables-0-value": "1",
                                         "variables-1-name": "a", "variables-1-value": "2"}))
    assert response.status_code == 400
    assert "variables.a: the name appears twice" in response.content.decode()
    response = client.post(editor_url(scenario), settings_post(scenario, pre_sql="SELECT 1"))
    assert response.status_code == 400
    assert response.context["form"].errors["database_config"]
    response = client.post(editor_url(scenario), settings_post(scenario, tags="a,\tb"))
    assert response.status_code == 302
    add = settings_post(scenario, add_row="variables")
    add.pop("save")
    response = client.post(editor_url(scenario), add)
    assert response.status_code == 200 and len(response.context["variables"].forms) == 1


def test_delete_scenario(client, tenant_a, three_steps):
    scenario, _steps = three_steps
    sign_in(client, tenant_a)
    response = client.post(reverse("testing:scenario-delete",
                                   args=[scenario.project_id, scenario.pk]))
    assert response.status_code == 302
    with tenant_context(tenant_a):
        assert not Scenario.objects.filter(pk=scenario.pk).exists()


def test_inline_request_step(client, tenant_a, project_a):
    """An inline request step: method and URL required, the rest from request.json."""
    scenario = factories.scenario(project_a)
    sign_in(client, tenant_a)
    url = reverse("testing:step-new", args=[project_a.pk, scenario.pk])
    page = client.post(url, {"source": "request:", "quick": "1"})
    assert page.status_code == 200 and 'name="p_url"' in page.content.decode()
    response = client.post(url, {"source": "request:", "is_enabled": "on", "p_method": "GET",
                                 "p_url": "", "p_query": '[{"name": "q"}]'})
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert errors["p_url"]
    response = client.post(url, {"source": "request:", "is_enabled": "on", "p_method": "GET",
                                 "p_url": "/x", "p_query": '[{"name": "q"}]'})
    assert response.status_code == 400
    assert "parameters.query[0]" in " ".join(response.context["form"].errors["p_query"])
    response = client.post(url, {"source": "request:", "is_enabled": "on", "p_method": "PUT",
                                 "p_url": "/x", "p_body": "plain text", "p_body_type": "raw"})
    assert response.status_code == 302
    with tenant_context(tenant_a):
        step = scenario.steps.get()
    assert step.kind == "request"
    assert step.parameters == {"method": "PUT", "url": "/x", "body": "plain text",
                               "body_type": "raw"}
    page = client.get(editor_url(scenario))
    assert "PUT /x" in page.content.decode()


def test_editor_ids_are_unique_and_inputs_labelled(client, tenant_a, three_steps):
    import re

    from testing.tests.test_pages_interfaces import duplicate_ids

    scenario, _steps = three_steps
    sign_in(client, tenant_a)
    html = client.get(editor_url(scenario)).content.decode()
    assert duplicate_ids(html) == []
    outside = re.sub(r"<template.*?</template>", "", html, flags=re.S)
    ids = re.findall(
        r'<(?:input|select|textarea)(?![^>]*type="hidden")[^>]*\bid="([^"]+)"', outside)
    labelled = set(re.findall(r'<label[^>]*\bfor="([^"]+)"', outside))
    assert ids and [i for i in ids if i not in labelled] == []
