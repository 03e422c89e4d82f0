"""The plans pages: plans, and their scenarios in order with dataset, environment and
overrides; add, edit, move up and down, remove."""

from __future__ import annotations

import pytest
from django.urls import reverse

from testing.models import Dataset, Environment, PlanScenario, Project, Scenario, TestPlan
from testing.tests.page_cases import (
    as_tenant,
    assert_all_missing,
    assert_all_refused,
    assert_sign_in_needed,
    codes,
    field_errors,
    make,  # noqa: F401 (fixture)  # noqa: F401 (fixture)
    sign_in,
)

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def url(name, plan, *args):
    return reverse(f"testing:{name}", args=[plan.project_id, plan.pk, *args])


def make_plan(tenant, project, name="Nightly", scenarios=("Login", "Checkout", "Logout")):
    plan = make(TestPlan, tenant, project=project, name=name)
    for position, scenario_name in enumerate(scenarios, start=1):
        scenario = make(Scenario, tenant, project=project, name=scenario_name)
        make(PlanScenario, tenant, plan=plan, scenario=scenario, sort_order=position * 10)
    return plan


def order(tenant, plan) -> list[str]:
    with as_tenant(tenant):
        return [e.scenario.name for e in plan.entries.select_related("scenario")]


def entry(tenant, plan, name) -> PlanScenario:
    with as_tenant(tenant):
        return plan.entries.get(scenario__name=name)


def all_urls(plan, row):
    return [reverse("testing:plans", args=[plan.project_id]), url("plan", plan),
            url("plan-delete", plan), url("plan-entry-create", plan),
            url("plan-entry-edit", plan, row.pk), url("plan-entry-move", plan, row.pk),
            url("plan-entry-delete", plan, row.pk)]


def test_sign_in_and_codes(client, tenant_a, project_a):
    plan = make_plan(tenant_a, project_a)
    urls = all_urls(plan, entry(tenant_a, plan, "Login"))
    assert_sign_in_needed(client, urls)
    sign_in(client, tenant_a, codes((Project, "view")))
    assert_all_refused(client, urls)


def test_view_only_sees_the_order_but_no_buttons(client, tenant_a, project_a):
    plan = make_plan(tenant_a, project_a)
    sign_in(client, tenant_a, codes((Project, "view"), (TestPlan, "view"),
                                    (PlanScenario, "view")))
    html = client.get(url("plan", plan)).content.decode()
    assert html.index("Login") < html.index("Checkout") < html.index("Logout")
    assert "Remove" not in html and 'value="up"' not in html
    login = entry(tenant_a, plan, "Login")
    assert client.post(url("plan-entry-move", plan, login.pk),
                       {"direction": "down"}).status_code == 403


def test_another_tenants_plans_are_404(client, tenant_a, tenant_b, project_b):
    plan = make_plan(tenant_b, project_b)
    sign_in(client, tenant_a)
    assert_all_missing(client, all_urls(plan, entry(tenant_b, plan, "Login")))


def test_an_entry_of_another_plan_is_404(client, tenant_a, project_a):
    plan = make_plan(tenant_a, project_a)
    other = make_plan(tenant_a, project_a, "Other", scenarios=())
    login = entry(tenant_a, plan, "Login")
    sign_in(client, tenant_a)
    assert client.post(url("plan-entry-move", other, login.pk),
                       {"direction": "down"}).status_code == 404
    assert client.post(url("plan-entry-delete", other, login.pk)).status_code == 404


def test_empty_pages_say_what_to_do(client, tenant_a, project_a):
    sign_in(client, tenant_a)
    plans = client.get(reverse("testing:plans", args=[project_a.pk])).content.decode()
    assert "No plans yet. Create one below" in plans
    plan = make(TestPlan, tenant_a, project=project_a, name="Empty")
    html = client.get(url("plan", plan)).content.decode()
    assert "No scenarios in this plan yet." in html


def test_create_plan_and_refuse_bad_input(client, tenant_a, project_a):
    sign_in(client, tenant_a)
    plans = reverse("testing:plans", args=[project_a.pk])
    created = client.post(plans, {"name": "Nightly", "run_mode": "serial"})
    assert created.status_code == 302
    bad = client.post(plans, {"name": "Nightly", "run_mode": "sideways"})
    assert bad.status_code == 400 and field_errors(bad, "run_mode")
    assert "already has a plan with this name" in bad.content.decode()
    other = make(Project, tenant_a, name="Other")
    foreign_env = make(Environment, tenant_a, project=other, name="qa")
    wrong_env = client.post(plans, {"name": "N2", "run_mode": "serial",
                                    "environment": foreign_env.pk})
    assert wrong_env.status_code == 400 and field_errors(wrong_env, "environment")


def test_add_entries_with_dataset_environment_and_overrides(client, tenant_a, project_a):
    plan = make_plan(tenant_a, project_a, scenarios=())
    scenario = make(Scenario, tenant_a, project=project_a, name="Login")
    dataset = make(Dataset, tenant_a, project=project_a, name="Users", csv_data="u\n1\n")
    environment = make(Environment, tenant_a, project=project_a, name="staging")
    sign_in(client, tenant_a)
    response = client.post(url("plan-entry-create", plan), {
        "scenario": scenario.pk, "dataset": dataset.pk, "environment": environment.pk,
        "variables": '{"user_id": 42}'})
    assert response.status_code == 302
    added = entry(tenant_a, plan, "Login")
    assert added.dataset_id == dataset.pk and added.environment_id == environment.pk
    assert added.variables == {"user_id": 42}
    page = client.get(url("plan", plan)).content.decode()
    assert "Users" in page and "staging" in page and "user_id" in page
    # The scenario is in the plan: not offered again; posting it anyway is an error.
    again = client.post(url("plan-entry-create", plan), {"scenario": scenario.pk})
    assert again.status_code == 400 and field_errors(again, "scenario")


def test_entry_bad_input_is_a_field_error(client, tenant_a, project_a):
    plan = make_plan(tenant_a, project_a, scenarios=())
    scenario = make(Scenario, tenant_a, project=project_a, name="Login")
    other = make(Scenario, tenant_a, project=project_a, name="Other")
    own_dataset = make(Dataset, tenant_a, project=project_a, name="Only other",
                       scenario=other, csv_data="u\n1\n")
    sign_in(client, tenant_a)
    create = url("plan-entry-create", plan)
    bad_json = client.post(create, {"scenario": scenario.pk, "variables": "{nope"})
    assert bad_json.status_code == 400 and field_errors(bad_json, "variables")
    bad_names = client.post(create, {"scenario": scenario.pk, "variables": '{"1x": 1}'})
    assert bad_names.status_code == 400 and field_errors(bad_names, "variables")
    not_object = client.post(create, {"scenario": scenario.pk, "variables": "[1]"})
    assert not_object.status_code == 400 and field_errors(not_object, "variables")
    wrong_dataset = client.post(create, {"scenario": scenario.pk, "dataset": own_dataset.pk})
    assert wrong_dataset.status_code == 400 and field_errors(wrong_dataset, "dataset")
    htmx = client.post(create, {"scenario": "", "variables": ""}, **HTMX)
    assert htmx.status_code == 400 and 'id="plan-entries"' in htmx.content.decode()
    assert order(tenant_a, plan) == []


def test_move_up_and_down(client, tenant_a, project_a):
    """Up and down buttons reorder; the order is kept on reload; the ends are clamped."""
    plan = make_plan(tenant_a, project_a)
    sign_in(client, tenant_a)
    logout = entry(tenant_a, plan, "Logout")
    assert client.post(url("plan-entry-move", plan, logout.pk),
                       {"direction": "up"}).status_code == 302
    assert order(tenant_a, plan) == ["Login", "Logout", "Checkout"]
    response = client.post(url("plan-entry-move", plan, logout.pk), {"direction": "up"},
                           **HTMX)
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html
    assert "Moved “Logout” to position 1 of 3." in html
    assert f'id="up-{logout.pk}"' in html  # the focus can stay on the button pressed
    assert order(tenant_a, plan) == ["Logout", "Login", "Checkout"]
    client.post(url("plan-entry-move", plan, logout.pk), {"direction": "up"})
    assert order(tenant_a, plan) == ["Logout", "Login", "Checkout"]
    checkout = entry(tenant_a, plan, "Checkout")
    client.post(url("plan-entry-move", plan, checkout.pk), {"direction": "down"})
    assert order(tenant_a, plan) == ["Logout", "Login", "Checkout"]
    page = client.get(url("plan", plan)).content.decode()
    page = page[page.index('id="plan-entries"'):]  # past the messages of the moves
    assert page.index("Logout") < page.index("Login") < page.index("Checkout")
    assert client.post(url("plan-entry-move", plan, logout.pk),
                       {"direction": "left"}).status_code == 400
    assert client.get(url("plan-entry-move", plan, logout.pk)).status_code == 405


def test_edit_inline_and_remove(client, tenant_a, project_a):
    plan = make_plan(tenant_a, project_a)
    checkout = entry(tenant_a, plan, "Checkout")
    sign_in(client, tenant_a)
    edit = url("plan-entry-edit", plan, checkout.pk)
    editing = client.get(edit, **HTMX)
    assert 'class="editing"' in editing.content.decode()
    saved = client.post(edit, {"scenario": checkout.scenario_id, "variables": '{"n": 1}'},
                        **HTMX)
    assert saved.status_code == 200 and "Saved “Checkout” in the plan." in saved.content.decode()
    assert entry(tenant_a, plan, "Checkout").variables == {"n": 1}
    bad = client.post(edit, {"scenario": checkout.scenario_id, "variables": "[]"})
    assert bad.status_code == 400 and field_errors(bad, "variables")
    removed = client.post(url("plan-entry-delete", plan, checkout.pk), **HTMX)
    assert removed.status_code == 200
    assert order(tenant_a, plan) == ["Login", "Logout"]
    # Removed, it may be added again (uniqueness binds live entries only).
    assert client.post(url("plan-entry-create", plan),
                       {"scenario": checkout.scenario_id}).status_code == 302
    assert order(tenant_a, plan) == ["Login", "Logout", "Checkout"]


def test_plan_settings_and_delete(client, tenant_a, project_a):
    plan = make_plan(tenant_a, project_a)
    sign_in(client, tenant_a)
    assert client.post(url("plan", plan), {"name": "Hourly", "run_mode": "parallel"}
                       ).status_code == 302
    with as_tenant(tenant_a):
        stored = TestPlan.objects.get(pk=plan.pk)
    assert stored.name == "Hourly" and stored.run_mode == "parallel"
    bad = client.post(url("plan", plan), {"name": "", "run_mode": "serial"})
    assert bad.status_code == 400 and field_errors(bad, "name")
    assert client.post(url("plan-delete", plan)).status_code == 302
    assert TestPlan._base_manager.get(pk=plan.pk).is_deleted


@pytest.mark.parametrize("count", [1, 8])
def test_query_counts_are_constant(client, tenant_a, project_a, count,
                                   django_assert_max_num_queries):
    names = [f"S{index}" for index in range(count)]
    plan = make_plan(tenant_a, project_a, scenarios=names)
    make_plan(tenant_a, project_a, name="Second", scenarios=())
    sign_in(client, tenant_a)
    plans = reverse("testing:plans", args=[project_a.pk])
    client.get(plans)
    with django_assert_max_num_queries(8):
        assert client.get(plans).status_code == 200
    with django_assert_max_num_queries(14):
        assert client.get(url("plan", plan)).status_code == 200
