"""The design domain's models: tenancy, live uniqueness, JSON Schemas, code checks, CSV,
secrets at rest, steps and delete policies."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import override_settings

from core.context import TenantContextMissing, tenant_context
from testing.choices import StepKind
from testing.keywords import BUILTINS, sync_builtin_keywords
from testing.models import (
    BuiltinKeyword,
    DatabaseConfig,
    GlobalFunction,
    Interface,
    InterfaceFolder,
    PlanScenario,
    Project,
    Scenario,
    ScenarioStep,
    Variable,
)
from testing.models.environments import MASK
from testing.tests import factories as f

pytestmark = pytest.mark.django_db


def errors_of(row) -> dict[str, list[str]]:
    """Return the validation errors of ``row`` (empty when valid)."""
    with tenant_context(row.tenant_id):
        try:
            row.full_clean()
        except ValidationError as exc:
            return exc.message_dict
    return {}


# Tenancy and uniqueness


def test_projects_are_fail_closed_and_per_tenant(tenant_a, tenant_b):
    """A tenant sees only its projects; without a tenant in scope nothing is read."""
    mine = f.project(tenant_a)
    f.project(tenant_b)  # the same name in another tenant is fine
    with tenant_context(tenant_a):
        assert list(Project.objects.all()) == [mine]
    with tenant_context(tenant_b):
        assert not Project.objects.filter(pk=mine.pk).exists()
    with pytest.raises(TenantContextMissing):
        list(Project.objects.all())


def test_project_names_are_unique_among_live_rows_and_restore_checks(tenant_a):
    """A deleted project's name can be taken again; restoring it then is refused."""
    first = f.project(tenant_a, "Payments")
    with pytest.raises(ValidationError):
        f.project(tenant_a, "Payments")
    with tenant_context(tenant_a):
        first.delete()
    f.project(tenant_a, "Payments")
    with tenant_context(tenant_a), pytest.raises(ValidationError):
        first.restore()


def test_variable_names_unique_per_environment_and_among_globals(tenant_a):
    """The same name may be global and per environment; twice in one place it may not."""
    project = f.project(tenant_a)
    staging = f.environment(project)
    f.make(Variable, tenant_a, project=project, name="token", value="g")
    f.make(Variable, tenant_a, project=project, environment=staging, name="token", value="e")
    with pytest.raises(ValidationError):
        f.make(Variable, tenant_a, project=project, name="token", value="again")
    with pytest.raises(ValidationError):
        f.make(Variable, tenant_a, project=project, environment=staging, name="token", value="x")


def test_rows_refuse_references_into_another_project(tenant_a):
    """An interface's folder, a variable's environment, a plan entry's scenario: same project."""
    one, other = f.project(tenant_a, "One"), f.project(tenant_a, "Two")
    folder = f.make(InterfaceFolder, tenant_a, project=other, name="Elsewhere")
    row = Interface(tenant=tenant_a, project=one, folder=folder, name="x", method="GET", url="/")
    assert "folder" in errors_of(row)
    variable = Variable(tenant=tenant_a, project=one, environment=f.environment(other), name="v")
    assert "environment" in errors_of(variable)
    plan = f.plan(one)
    entry = PlanScenario(tenant=tenant_a, plan=plan, scenario=f.scenario(other))
    assert "scenario" in errors_of(entry)


def test_rows_refuse_references_into_another_tenant(tenant_a, tenant_b):
    """A row of tenant B cannot be named by a row of tenant A."""
    mine, theirs = f.project(tenant_a), f.project(tenant_b)
    row = Interface(tenant=tenant_a, project=theirs, name="x", method="GET", url="/")
    assert "project" in errors_of(row)
    entry = PlanScenario(tenant=tenant_a, plan=f.plan(mine), scenario=f.scenario(theirs))
    assert "scenario" in errors_of(entry)


# JSON fields against the shipped schemas

VALID_ASSERTIONS = [
    {"type": "status_code", "operator": "==", "expected_value": 200},
    {"type": "json", "expression": "$.data.id", "operator": "exists"},
    {"type": "header", "expression": "Content-Type", "operator": "contains",
     "expected_value": "json"},
    {"type": "response_time", "operator": "<", "expected_value": 500},
]


@pytest.mark.parametrize(("field", "value", "message"), [
    ("assertions", [{"type": "json", "operator": "=="}], "[0]: 'expression' is a required"),
    ("assertions", [VALID_ASSERTIONS[0], {"type": "status_code", "operator": "equals",
                                          "expected_value": 1}], "[1].operator"),
    ("assertions", [{"type": "status_code", "operator": "contains", "expected_value": 2}],
     "[0].operator"),
    ("assertions", [{"type": "json", "expression": "$.n", "operator": ">",
                     "expected_value": "ten"}], "[0].expected_value"),
    ("assertions", {"type": "json"}, "is not of type 'array'"),
    ("extractors", [{"name": "1st", "source": "json", "expression": "$.a"}], "[0].name"),
    ("extractors", [{"name": "token", "source": "json"}], "[0]: 'expression' is a required"),
    ("headers", [{"name": "Accept"}], "[0]: 'value' is a required"),
    ("query", [{"name": "", "value": "1"}], "[0].name"),
])
def test_interface_json_fields_are_checked_against_their_schemas(tenant_a, field, value, message):
    """A malformed JSON field is refused naming the field and the path inside it."""
    project = f.project(tenant_a)
    row = Interface(tenant=tenant_a, project=project, name="x", method="GET", url="/",
                    **{field: value})
    errors = errors_of(row)
    assert field in errors, errors
    assert any(message in text for text in errors[field]), errors[field]


def test_valid_interface_json_fields_pass(tenant_a):
    """Every assertion type and operator the schema documents is accepted."""
    f.interface(f.project(tenant_a), assertions=VALID_ASSERTIONS,
                extractors=[{"name": "order_id", "source": "json", "expression": "$.id"},
                            {"name": "status", "source": "status_code"}],
                headers=[{"name": "Authorization", "value": "Bearer {{token}}"}],
                query=[{"name": "page", "value": "{{page}}", "enabled": False}])


@pytest.mark.parametrize(("body_type", "body", "ok"), [
    ("none", None, True), ("none", {"a": 1}, False),
    ("json", {"a": [1, 2]}, True), ("json", "text is JSON too", True),
    ("form", [{"name": "q", "value": "1"}], True), ("form", {"q": 1}, False),
    ("multipart", [{"name": "f", "value": "x"}], True),
    ("raw", "<xml/>", True), ("raw", {"a": 1}, False),
])
def test_interface_body_matches_its_type(tenant_a, body_type, body, ok):
    """The body is checked against its type: pairs for forms, text for raw, any JSON."""
    row = Interface(tenant=tenant_a, project=f.project(tenant_a), name="x", method="POST",
                    url="/", body_type=body_type, body=body)
    assert ("body" not in errors_of(row)) is ok


@override_settings(TESTING_BODY_MAX_BYTES=1024)
def test_oversized_body_is_refused_naming_the_limit(tenant_a):
    row = Interface(tenant=tenant_a, project=f.project(tenant_a), name="x", method="POST",
                    url="/", body_type="raw", body="x" * 2000)
    assert any("at most 1024" in text for text in errors_of(row)["body"])


def test_scenario_tags_and_variables_are_checked(tenant_a):
    """Tags are distinct strings; variable names are identifiers."""
    project = f.project(tenant_a)
    row = Scenario(tenant=tenant_a, project=project, name="s", tags=["a", "a"],
                   variables={"not valid": 1})
    errors = errors_of(row)
    assert "has non-unique elements" in " ".join(errors["tags"])
    assert "'not valid' does not match" in " ".join(errors["variables"])


# Code: compiled, never run


def test_keyword_code_syntax_error_names_line_and_column(tenant_a):
    project = f.project(tenant_a)
    row = f.Keyword(tenant=tenant_a, project=project, name="k", method_name="run",
                    code="def run():\n    return (1\n")
    message = " ".join(errors_of(row)["code"])
    assert "Line 2" in message and "column" in message


def test_keyword_code_must_define_its_method(tenant_a):
    project = f.project(tenant_a)
    row = f.Keyword(tenant=tenant_a, project=project, name="k", method_name="run",
                    code="def other():\n    pass\n")
    assert "no top-level function named run" in " ".join(errors_of(row)["method_name"])


def test_keyword_code_is_never_executed(tenant_a, tmp_path):
    """Saving code with side effects at import time runs none of them."""
    marker = tmp_path / "ran"
    code = f"open({str(marker)!r}, 'w').write('x')\ndef run():\n    pass\n"
    f.keyword(f.project(tenant_a), method_name="run", code=code)
    assert not marker.exists()


@override_settings(TESTING_CODE_MAX_BYTES=1024)
def test_oversized_code_is_refused_naming_the_limit(tenant_a):
    row = f.Keyword(tenant=tenant_a, project=f.project(tenant_a), name="k", method_name="run",
                    code="def run():\n" + "    x = 1\n" * 200)
    assert "at most 1024" in " ".join(errors_of(row)["code"])


def test_keyword_parameter_docs_must_be_an_object_schema(tenant_a):
    row = f.Keyword(tenant=tenant_a, project=f.project(tenant_a), name="k", method_name="run",
                    code="def run():\n    pass\n", parameters={"type": "array"})
    assert "parameters" in errors_of(row)


def test_global_function_code_must_define_class_and_method(tenant_a):
    ok = GlobalFunction(tenant=tenant_a, class_name="Text", method_name="upper",
                        code="class Text:\n    def upper(self, s):\n        return s.upper()\n",
                        parameters=[{"name": "s", "type": "str"}],
                        return_value={"type": "str"})
    assert errors_of(ok) == {}
    wrong = GlobalFunction(tenant=tenant_a, class_name="Text", method_name="lower",
                           code=ok.code, parameters=[{"name": "s", "type": "string"}])
    errors = errors_of(wrong)
    assert "no class Text with a method lower" in " ".join(errors["code"])
    assert "[0].type" in " ".join(errors["parameters"])


# Datasets


@pytest.mark.parametrize(("csv_data", "message"), [
    ("", "empty"),
    ("user,1st\nann,1\n", "Line 1"),
    ("user,user\nann,1\n", "appears twice"),
    ("user,code\nann,1\nbob\n", "Line 3: 1 columns where the header has 2"),
    ('user,code\n"ann,1\n', "Line"),
])
def test_dataset_csv_errors_name_the_line(tenant_a, csv_data, message):
    row = f.Dataset(tenant=tenant_a, project=f.project(tenant_a), name="d", csv_data=csv_data)
    assert message in " ".join(errors_of(row)["csv_data"])


@override_settings(TESTING_DATASET_MAX_ROWS=2)
def test_dataset_row_limit(tenant_a):
    row = f.Dataset(tenant=tenant_a, project=f.project(tenant_a), name="d",
                    csv_data="n\n1\n2\n3\n")
    assert "More than 2 rows" in " ".join(errors_of(row)["csv_data"])


def test_dataset_preview(tenant_a):
    data = f.dataset(f.project(tenant_a), csv_data="\ufeffuser,code\r\nann,1\r\n\r\nbob,2\r\n")
    assert data.preview(limit=1) == (["user", "code"], [["ann", "1"]], 2)


# Secrets at rest


def raw_column(table: str, column: str, pk) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s",
                       [pk.hex if connection.vendor in ("sqlite", "mysql") else pk])
        return cursor.fetchone()[0]


def test_secret_variable_is_sealed_at_rest_and_masked(tenant_a):
    project = f.project(tenant_a)
    with tenant_context(tenant_a):
        variable = Variable(tenant=tenant_a, project=project, name="api_key", is_secret=True)
        variable.set_value("s3cr3t-value")
        variable.full_clean()
        variable.save()
        stored = Variable.objects.get(pk=variable.pk)
    assert stored.value == "" and stored.plain_value == "s3cr3t-value"
    assert stored.shown_value == MASK
    assert raw_column("testing_variables", "secret_value", variable.pk).startswith("enc:v1:")
    assert "s3cr3t" not in raw_column("testing_variables", "secret_value", variable.pk)


def test_database_password_is_sealed_at_rest(tenant_a):
    project = f.project(tenant_a)
    config = f.make(DatabaseConfig, tenant_a, project=project, name="Orders",
                    variable_name="orders_db", db_type="mysql", host="db.example.com",
                    port=3306, username="app", password="hunter2-pass")
    stored = raw_column("testing_database_configs", "password", config.pk)
    assert stored.startswith("enc:v1:") and "hunter2" not in stored


# Steps


def test_step_kind_names_exactly_what_it_needs(tenant_a):
    project = f.project(tenant_a)
    scenario = f.scenario(project)
    api = f.interface(project)
    assert "interface" in errors_of(ScenarioStep(tenant=tenant_a, scenario=scenario,
                                                 kind=StepKind.INTERFACE))
    both = ScenarioStep(tenant=tenant_a, scenario=scenario, kind=StepKind.KEYWORD,
                        keyword=f.keyword(project),
                        builtin_keyword=BuiltinKeyword.objects.get(code="wait"))
    assert "keyword" in errors_of(both)
    stray = ScenarioStep(tenant=tenant_a, scenario=scenario, kind=StepKind.REQUEST,
                         interface=api, parameters={"method": "GET", "url": "/"})
    assert "interface" in errors_of(stray)


def test_step_parameters_follow_the_keyword_docs(tenant_a):
    """A keyword step's parameters are validated against the keyword's parameter docs."""
    scenario = f.scenario(f.project(tenant_a))
    wait = BuiltinKeyword.objects.get(code="wait")
    bad = ScenarioStep(tenant=tenant_a, scenario=scenario, kind=StepKind.KEYWORD,
                       builtin_keyword=wait, parameters={"seconds": 900, "extra": 1})
    message = " ".join(errors_of(bad)["parameters"])
    assert "seconds: 900 is greater than the maximum of 300" in message
    assert "'extra' was unexpected" in message
    f.step(scenario, kind=StepKind.KEYWORD, builtin_keyword=wait, parameters={"seconds": 1})


def test_inline_request_step_is_checked_as_a_request(tenant_a):
    scenario = f.scenario(f.project(tenant_a))
    bad = ScenarioStep(tenant=tenant_a, scenario=scenario, kind=StepKind.REQUEST,
                       parameters={"method": "FETCH", "url": ""})
    message = " ".join(errors_of(bad)["parameters"])
    assert "method" in message and "url" in message


def test_step_interface_must_be_of_the_scenario_project(tenant_a):
    one, two = f.project(tenant_a, "One"), f.project(tenant_a, "Two")
    step = ScenarioStep(tenant=tenant_a, scenario=f.scenario(one), kind=StepKind.INTERFACE,
                        interface=f.interface(two))
    assert "interface" in errors_of(step)


# Delete policies


def test_used_rows_refuse_soft_delete_naming_the_user(tenant_a):
    """An interface a step sends, a keyword a step calls, a scenario a plan runs."""
    project = f.project(tenant_a)
    scenario = f.scenario(project)
    api, kw = f.interface(project), f.keyword(project)
    f.step(scenario, kind=StepKind.INTERFACE, interface=api)
    f.step(scenario, kind=StepKind.KEYWORD, keyword=kw, parameters={"payload": "x"})
    f.make(PlanScenario, tenant_a, plan=f.plan(project), scenario=scenario)
    with tenant_context(tenant_a):
        for row, text in ((api, "Checkout"), (kw, "keyword"), (scenario, "Nightly")):
            with pytest.raises(ValidationError) as caught:
                row.delete()
            assert text in " ".join(caught.value.messages)


def test_hard_delete_of_a_project_takes_everything_inside(tenant_a):
    """The RESTRICT references between a project's rows do not block its own deletion."""
    project = f.project(tenant_a)
    scenario = f.scenario(project)
    f.step(scenario, kind=StepKind.INTERFACE, interface=f.interface(project))
    f.make(PlanScenario, tenant_a, plan=f.plan(project), scenario=scenario)
    with tenant_context(tenant_a):
        project.hard_delete()
        assert not Interface.objects.including_deleted().exists()
        assert not ScenarioStep.objects.including_deleted().exists()


def test_folders_nest_at_most_five_levels(tenant_a):
    project = f.project(tenant_a)
    parent = None
    for depth in range(5):
        parent = f.make(InterfaceFolder, tenant_a, project=project, name=f"L{depth}",
                        parent=parent)
    with pytest.raises(ValidationError) as caught:
        f.make(InterfaceFolder, tenant_a, project=project, name="L5", parent=parent)
    assert "at most 5 levels" in " ".join(caught.value.messages)


def test_folder_with_interfaces_refuses_soft_delete(tenant_a):
    project = f.project(tenant_a)
    folder = f.make(InterfaceFolder, tenant_a, project=project, name="Orders")
    f.interface(project, folder=folder)
    with tenant_context(tenant_a), pytest.raises(ValidationError):
        folder.delete()


# Built-in keywords


def test_builtin_keywords_are_synced_after_migrate_and_idempotent():
    assert set(BuiltinKeyword.objects.values_list("code", flat=True)) == {b.code for b in BUILTINS}
    assert sync_builtin_keywords() == {"created": 0, "updated": 0, "deactivated": 0}
    BuiltinKeyword.objects.create(code="retired", type="custom", name="Retired", method_name="r")
    assert sync_builtin_keywords()["deactivated"] == 1
    assert not BuiltinKeyword.objects.get(code="retired").is_active
