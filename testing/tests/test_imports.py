"""Importing into a project (testing.services.imports): the preview of every item, the
all-or-nothing import, re-import that syncs without overwriting a tester's edits, two
tenants. Plans are built by hand here; each importer's own tests read real files."""

from __future__ import annotations

import pytest

from core.context import tenant_context
from testing.importers.base import (
    ImportedRequest,
    ImportedScenario,
    ImportedStep,
    ImportedVariable,
    ImportPlan,
    Problem,
)
from testing.models import (
    Environment,
    ImportJob,
    Interface,
    InterfaceFolder,
    Scenario,
    ScenarioStep,
    Variable,
)
from testing.services import imports

pytestmark = pytest.mark.django_db


def request(key, *, url=None, name=None, status=200, folder=("Pets",)):
    method, path = key.split(" ", 1)
    return ImportedRequest(key=key, name=name or key, method=method,
                           url=url or f"https://api.example.com{path}", folder=list(folder),
                           assertions=[{"type": "status_code", "operator": "eq",
                                        "expected_value": status}], where=f"/paths/{path}")


def plan_of(*requests, variables=(), scenarios=(), problems=()):
    return ImportPlan(format="openapi", title="Pets", base_urls=["https://api.example.com"],
                      requests=list(requests), variables=list(variables),
                      scenarios=list(scenarios), problems=list(problems))


def job_of(project, plan) -> ImportJob:
    with tenant_context(project.tenant):
        return ImportJob.objects.create(tenant=project.tenant, project=project,
                                        format=plan.format, filename="pets.yaml",
                                        title=plan.title, plan=plan.as_data())


def actions(preview) -> dict[str, str]:
    return {item.id: item.action for item in preview.items}


def run_import(project, plan, *, chosen=None, **options):
    job = job_of(project, plan)
    with tenant_context(project.tenant):
        preview = imports.preview(job, base_url=options.get("base_url", ""))
        imports.apply(job, chosen=chosen if chosen is not None
                      else imports.choices_default(preview), **options)
    return job


def test_a_first_import_creates_folders_interfaces_variables_and_a_scenario(project_a):
    plan = plan_of(
        request("GET /pets"), request("POST /pets", status=201),
        variables=[ImportedVariable("api_key", "", secret=True),
                   ImportedVariable("limit", 10)],
        scenarios=[ImportedScenario("pets", "Pets flow", steps=[
            ImportedStep("POST /pets", "Add"), ImportedStep("GET /pets", "List")])],
        problems=[Problem("/x", "oauth2 is not mapped")])
    job = job_of(project_a, plan)
    with tenant_context(project_a.tenant):
        preview = imports.preview(job)
        assert set(actions(preview).values()) == {"create"}
        imports.apply(job, chosen=imports.choices_default(preview),
                      base_url="https://api.example.com", environment="Imported")
        interfaces = {i.import_key: i for i in Interface.objects.filter(project=project_a)}
        assert set(interfaces) == {"openapi:GET /pets", "openapi:POST /pets"}
        assert interfaces["openapi:GET /pets"].url == "/pets"
        assert interfaces["openapi:GET /pets"].folder.name == "Pets"
        assert Environment.objects.get(project=project_a, name="Imported").base_url == \
            "https://api.example.com"
        secret = Variable.objects.get(project=project_a, name="api_key")
        assert secret.is_secret
        assert Variable.objects.get(project=project_a, name="limit").value == "10"
        scenario = Scenario.objects.get(project=project_a, name="Pets flow")
        assert [s.interface.import_key for s in ScenarioStep.objects.filter(
            scenario=scenario).order_by("sort_order")] == ["openapi:POST /pets",
                                                           "openapi:GET /pets"]
        job.refresh_from_db()
        assert job.status == "imported" and len(job.result["create"]) == 3


def test_re_import_syncs_and_never_overwrites_an_edit_silently(project_a):
    run_import(project_a, plan_of(request("GET /pets"), request("GET /pets/{id}"),
                                  request("DELETE /pets/{id}")))
    with tenant_context(project_a.tenant):
        edited = Interface.objects.get(import_key="openapi:GET /pets/{id}")
        edited.description = "my note"
        edited.save()
    changed = plan_of(request("GET /pets", status=206), request("GET /pets/{id}", status=206),
                      request("PUT /pets/{id}"))
    job = job_of(project_a, changed)
    with tenant_context(project_a.tenant):
        preview = imports.preview(job)
        assert actions(preview) == {
            "request:GET /pets": "update", "request:GET /pets/{id}": "conflict",
            "request:PUT /pets/{id}": "create", "remove:openapi:DELETE /pets/{id}": "remove"}
        assert imports.choices_default(preview) == {"request:GET /pets",
                                                    "request:PUT /pets/{id}"}
        imports.apply(job, chosen=imports.choices_default(preview))
        assert Interface.objects.get(import_key="openapi:GET /pets").assertions[0][
            "expected_value"] == 206
        kept = Interface.objects.get(import_key="openapi:GET /pets/{id}")
        assert kept.description == "my note" and kept.assertions[0]["expected_value"] == 200
        assert Interface.objects.filter(import_key="openapi:DELETE /pets/{id}").exists()
    # The same file again: nothing to do.
    job = job_of(project_a, changed)
    with tenant_context(project_a.tenant):
        assert actions(imports.preview(job))["request:GET /pets"] == "unchanged"
        assert actions(imports.preview(job))["request:GET /pets/{id}"] == "conflict"


def test_a_chosen_conflict_and_removal_are_applied(project_a):
    run_import(project_a, plan_of(request("GET /a"), request("GET /b")))
    with tenant_context(project_a.tenant):
        Interface.objects.filter(import_key="openapi:GET /a").update(description="edit")
    plan = plan_of(request("GET /a", status=204))
    job = job_of(project_a, plan)
    with tenant_context(project_a.tenant):
        imports.apply(job, chosen={"request:GET /a", "remove:openapi:GET /b"})
        updated = Interface.objects.get(import_key="openapi:GET /a")
        assert updated.description == "" and updated.assertions[0]["expected_value"] == 204
        assert not Interface.objects.filter(import_key="openapi:GET /b").exists()


def test_one_invalid_item_writes_nothing_and_names_the_item(project_a):
    bad = request("GET /bad")
    bad.assertions = [{"type": "status_code", "operator": "nonsense", "expected_value": 1}]
    job = job_of(project_a, plan_of(request("GET /good"), bad))
    with tenant_context(project_a.tenant):
        with pytest.raises(imports.ImportRefused, match="GET /bad"):
            imports.apply(job, chosen={"request:GET /good", "request:GET /bad"})
        assert not Interface.objects.filter(project=project_a).exists()
        assert not InterfaceFolder.objects.filter(project=project_a).exists()
        job.refresh_from_db()
        assert job.status == "previewed"


def test_an_existing_variable_and_scenario_are_kept(project_a):
    run_import(project_a, plan_of(request("GET /a"), variables=[ImportedVariable("x", 1)],
                                  scenarios=[ImportedScenario("s", "S", steps=[
                                      ImportedStep("GET /a")])]))
    job = job_of(project_a, plan_of(request("GET /a"), variables=[ImportedVariable("x", 2)],
                                    scenarios=[ImportedScenario("s", "S")]))
    with tenant_context(project_a.tenant):
        found = actions(imports.preview(job))
        assert found["variable::x"] == "skip" and found["scenario:s"] == "skip"


def test_imports_of_two_tenants_never_meet(project_a, project_b):
    run_import(project_a, plan_of(request("GET /pets")))
    job = job_of(project_b, plan_of(request("GET /pets")))
    with tenant_context(project_b.tenant):
        assert actions(imports.preview(job)) == {"request:GET /pets": "create"}
        assert not Interface.objects.filter(import_key="openapi:GET /pets").exclude(
            project=project_b).exists()
