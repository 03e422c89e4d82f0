"""The projects list, a project's dashboard, and its edit and delete pages."""

from __future__ import annotations

import pytest
from django.urls import reverse

from core.context import actor_context
from rbac.models import DataScope
from testing.models import (
    DatabaseConfig,
    Dataset,
    Environment,
    GlobalFunction,
    Keyword,
    PlanScenario,
    Project,
    Scenario,
    TestPlan,
    Variable,
)
from testing.tests.page_cases import (
    all_design_codes,
    assert_accessible_forms,
    assert_all_missing,
    assert_all_refused,
    assert_sign_in_needed,
    codes,
    field_errors,
    make,
    make_project,  # noqa: F401 (fixture)  # noqa: F401 (fixture)
    sign_in,
)
from tests.admin_cases import make_staff_actor

pytestmark = pytest.mark.django_db


def project_urls(project) -> list[str]:
    return [reverse(name, args=[project.pk]) for name in
            ("testing:project", "testing:project-edit", "testing:project-delete")]


def test_pages_need_sign_in(client, project_a):
    """An anonymous visitor is sent to the sign-in page."""
    assert_sign_in_needed(client, [reverse("testing:projects"), *project_urls(project_a)])


def test_without_codes_every_page_is_refused(client, tenant_a, project_a):
    """A user without project codes gets 403 on every project page."""
    sign_in(client, tenant_a, set())
    assert_all_refused(client, [reverse("testing:projects"), *project_urls(project_a)])


def test_view_only_user_cannot_create_edit_or_delete(client, tenant_a, project_a):
    """project:view shows the list and dashboard, but no form; writes are 403."""
    sign_in(client, tenant_a, codes((Project, "view")))
    page = client.get(reverse("testing:projects"))
    assert page.status_code == 200 and page.context["form"] is None
    assert b"Shop A" in page.content
    assert client.post(reverse("testing:projects"), {"name": "New"}).status_code == 403
    for url in project_urls(project_a)[1:]:
        assert client.get(url).status_code == 403
    assert client.get(project_urls(project_a)[0]).status_code == 200


def test_another_tenants_project_is_404_everywhere(client, tenant_a, project_b):
    """Tenant B's project is not found on any page, for a user holding every code."""
    sign_in(client, tenant_a)
    assert_all_missing(client, project_urls(project_b))
    page = client.get(reverse("testing:projects"))
    assert b"Shop B" not in page.content


def test_unknown_and_deleted_projects_are_404(client, tenant_a, project_a):
    """A project id that does not exist, or a deleted project, is 404."""
    sign_in(client, tenant_a)
    assert client.get(reverse("testing:project", args=[
        "01890000-0000-7000-8000-000000000000"])).status_code == 404
    project_a.soft_delete()
    assert client.get(reverse("testing:project", args=[project_a.pk])).status_code == 404


def test_empty_list_says_what_to_do(client, tenant_a):
    """With no project the list invites the user to create one."""
    sign_in(client, tenant_a)
    page = client.get(reverse("testing:projects"))
    assert page.status_code == 200
    assert "No projects yet. Create one below" in page.content.decode()


def test_create_project_and_refuse_a_duplicate_name(client, tenant_a, tenant_b):
    """Creating a project opens its dashboard; the same name again is a field error."""
    make_project(tenant_b, "Shop")  # another tenant's name does not clash
    sign_in(client, tenant_a)
    response = client.post(reverse("testing:projects"), {"name": "Shop", "description": "d"})
    project = Project.objects.all_tenants().get(tenant=tenant_a, name="Shop")
    assert response.status_code == 302 and response.url == project.get_absolute_url()

    again = client.post(reverse("testing:projects"), {"name": "Shop"})
    assert again.status_code == 400
    assert "A project with this name already exists." in again.content.decode()
    missing = client.post(reverse("testing:projects"), {"name": ""})
    assert missing.status_code == 400 and field_errors(missing, "name")


def test_dashboard_counts_and_loads_recent_runs(client, tenant_a, project_a):
    """The dashboard counts the project's rows and loads its recent runs."""
    make(Environment, tenant_a, project=project_a, name="staging",
         base_url="https://staging.example.com")
    make(Scenario, tenant_a, project=project_a, name="Checkout")
    sign_in(client, tenant_a, all_design_codes() | {"execution:view"})
    page = client.get(reverse("testing:project", args=[project_a.pk]))
    assert page.status_code == 200
    counts = {str(item["label"]): item["count"] for item in page.context["counts"]}
    assert counts["Environments"] == 1 and counts["Scenarios"] == 1 and counts["Plans"] == 0
    assert not page.context["is_empty"]
    html = page.content.decode()
    assert reverse("testing:runs-recent", args=[project_a.pk]) in html
    assert 'aria-current="page"' in html


def test_empty_dashboard_says_what_to_do(client, tenant_a, project_a):
    """An empty project's dashboard points to the first thing to add."""
    sign_in(client, tenant_a)
    page = client.get(reverse("testing:project", args=[project_a.pk]))
    assert page.context["is_empty"]
    assert "This project is empty." in page.content.decode()


def test_edit_project(client, tenant_a, project_a):
    """Editing saves the new name; a blank name is a field error."""
    sign_in(client, tenant_a)
    url = reverse("testing:project-edit", args=[project_a.pk])
    assert client.get(url).status_code == 200
    assert client.post(url, {"name": "Renamed", "description": ""}).status_code == 302
    project_a.refresh_from_db()
    assert project_a.name == "Renamed"
    bad = client.post(url, {"name": ""})
    assert bad.status_code == 400 and field_errors(bad, "name")


def test_delete_project_asks_then_soft_deletes(client, tenant_a, project_a):
    """GET asks; POST soft-deletes and returns to the list."""
    sign_in(client, tenant_a)
    url = reverse("testing:project-delete", args=[project_a.pk])
    assert "Delete the project" in client.get(url).content.decode()
    response = client.post(url)
    assert response.status_code == 302 and response.url == reverse("testing:projects")
    assert Project._base_manager.get(pk=project_a.pk).is_deleted


@pytest.mark.parametrize("count", [2, 20])
def test_list_query_count_is_constant(client, tenant_a, count, django_assert_max_num_queries):
    """The list costs the same number of queries for 2 or 20 projects."""
    for index in range(count):
        make_project(tenant_a, f"P{index:02d}")
    sign_in(client, tenant_a)
    client.get(reverse("testing:projects"))
    with django_assert_max_num_queries(8):
        assert client.get(reverse("testing:projects")).status_code == 200


def every_page(tenant, project) -> list[str]:
    """Return one URL of each page of the design areas, with rows to show."""
    environment = make(Environment, tenant, project=project, name="staging")
    variable = make(Variable, tenant, project=project, environment=environment, name="v",
                    value="1")
    config = make(DatabaseConfig, tenant, project=project, name="D", variable_name="d",
                  db_type="mysql", host="h", port=3306, username="u")
    keyword = make(Keyword, tenant, project=project, name="K", method_name="run",
                   code="def run():\n    pass\n")
    function = make(GlobalFunction, tenant, class_name="C", method_name="m",
                    code="class C:\n    def m(self):\n        pass\n")
    dataset = make(Dataset, tenant, project=project, name="Users", csv_data="u\n1\n")
    plan = make(TestPlan, tenant, project=project, name="Nightly")
    scenario = make(Scenario, tenant, project=project, name="Login")
    entry = make(PlanScenario, tenant, plan=plan, scenario=scenario)
    pid = project.pk
    return [
        reverse("testing:projects"), reverse("testing:project", args=[pid]),
        reverse("testing:project-edit", args=[pid]),
        reverse("testing:project-delete", args=[pid]),
        reverse("testing:environments", args=[pid]),
        reverse("testing:environment-create", args=[pid]),
        reverse("testing:environment-edit", args=[pid, environment.pk]),
        reverse("testing:variable-create", args=[pid]),
        reverse("testing:variable-edit", args=[pid, variable.pk]),
        reverse("testing:databases", args=[pid]),
        reverse("testing:database-create", args=[pid]),
        reverse("testing:database-edit", args=[pid, config.pk]),
        reverse("testing:keywords", args=[pid]),
        reverse("testing:keyword-create", args=[pid]),
        reverse("testing:keyword-edit", args=[pid, keyword.pk]),
        reverse("testing:functions"), reverse("testing:function-create"),
        reverse("testing:function-edit", args=[function.pk]),
        reverse("testing:datasets", args=[pid]),
        reverse("testing:dataset-create", args=[pid]),
        reverse("testing:dataset", args=[pid, dataset.pk]),
        reverse("testing:plans", args=[pid]), reverse("testing:plan", args=[pid, plan.pk]),
        reverse("testing:plan-entry-edit", args=[pid, plan.pk, entry.pk]),
    ]


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_every_page_renders_labelled_in_both_languages(client, tenant_a, project_a, language):
    """Every page renders in English and Simplified Chinese; every input has a label and
    every id is unique (keyboard and screen-reader basics)."""
    urls = every_page(tenant_a, project_a)
    sign_in(client, tenant_a)
    for url in urls:
        response = client.get(url, HTTP_ACCEPT_LANGUAGE=language)
        assert response.status_code == 200, url
        html = response.content.decode()
        assert f'<html lang="{language}">' in html, url
        assert_accessible_forms(html)


def test_data_scope_own_records_hides_other_users_projects(client, tenant_a):
    """With a role limited to own records, another user's project is 404 and not listed."""
    other_user = make_staff_actor(tenant_a)
    with actor_context(other_user.pk):
        theirs = make_project(tenant_a, "Theirs")
    user = make_staff_actor(tenant_a, codes((Project, "view"), (Project, "create")),
                            data_scope=DataScope.SELF)
    client.force_login(user)
    client.post(reverse("testing:projects"), {"name": "Mine"})
    listed = client.get(reverse("testing:projects")).content.decode()
    assert "Mine" in listed and "Theirs" not in listed
    assert client.get(reverse("testing:project", args=[theirs.pk])).status_code == 404
