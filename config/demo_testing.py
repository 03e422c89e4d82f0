"""The demo project of API testing (``seed_demo``): Acme's tests of the platform's own REST
API at the local server that ``make run`` starts.

A newcomer signs in as Acme's tester and finds a project with a "Local" environment
(``http://127.0.0.1:8000``), a secret ``api_key`` variable holding a real, read-only API key
of the tester, two interfaces (``/api/v1/me/`` and ``/api/v1/users/``), a three-step
scenario that extracts a value and checks it, a dataset and a plan, and, written in
Python, a keyword and a global function with a second scenario that uses them (they run in
the sandbox of user code; the "Smoke" plan does not need it). Everything here is real data,
nothing pretends to have run.
"""

from __future__ import annotations

from accounts.models import User
from accounts.models import ApiKey
from accounts.services.api_keys import issue_api_key
from testing.models import (
    BuiltinKeyword,
    Dataset,
    GlobalFunction,
    Keyword,
    Environment,
    Interface,
    InterfaceFolder,
    PlanScenario,
    Project,
    Scenario,
    ScenarioStep,
    TestPlan,
    Variable,
)

PROJECT = "Atrium REST API"
KEY_NAME = "Demo API tests"
PAGE_KEYWORD = """\
def at_most(response, max_items):
    \"\"\"Fail unless the last response lists at most max_items results.\"\"\"
    results = response["json"]["results"]
    assert len(results) <= max_items, f"{len(results)} results, more than {max_items}"
    return len(results)
"""
TEXT_FUNCTION = """\
class Text:
    @staticmethod
    def initials(name):
        \"\"\"Return the upper-case first letter of each part of a name.\"\"\"
        parts = name.replace("_", " ").replace(".", " ").split()
        return "".join(part[0].upper() for part in parts)
"""
AUTH = [{"name": "Authorization", "value": "Bearer {{api_key}}", "enabled": True},
        {"name": "Accept", "value": "application/json", "enabled": True}]


def _make(model, **fields):
    """Create a validated row (the demo data passes the same checks as a tester's)."""
    row = model(**fields)
    row.assign_tenant_from_context()
    row.full_clean()
    row.save()
    return row


def demo_project(tester: User) -> Project:
    """Create (once) the demo project of ``tester``'s tenant; return it."""
    existing = Project.objects.filter(name=PROJECT).first()
    if existing is not None:
        return existing
    project = _make(Project, 
        name=PROJECT, description="Tests of this platform's own REST API, at the server "
                                  "`make run` starts on 127.0.0.1:8000.")
    local = _make(Environment, project=project, name="Local",
                                       base_url="http://127.0.0.1:8000",
                                       description="The server of `make run`.")
    # The plaintext of an earlier demo key is gone (only its hash is kept): replace it
    # (deleting a key revokes it).
    for earlier in ApiKey.objects.filter(user=tester, name=KEY_NAME):
        earlier.delete()
    _, key = issue_api_key(user=tester, name=KEY_NAME, scopes=["user:view"])
    secret = Variable(project=project, environment=local, name="api_key", is_secret=True,
                      description="A read-only API key of the demo tester.")
    secret.set_value(key)
    secret.assign_tenant_from_context()
    secret.full_clean()
    secret.save()
    _make(Variable, project=project, name="page_size", value="5",
                            description="A global variable shared by every environment.")
    folder = _make(InterfaceFolder, project=project, name="Accounts")
    me = _make(Interface, 
        project=project, folder=folder, name="Who am I", method="GET", url="/api/v1/me/",
        headers=AUTH,
        assertions=[
            {"type": "status_code", "operator": "==", "expected_value": 200},
            {"type": "json", "expression": "$.username", "operator": "exists"},
        ],
        extractors=[{"name": "username", "source": "json", "expression": "$.username"}],
        sort_order=10,
    )
    users = _make(Interface, 
        project=project, folder=folder, name="Find users", method="GET", url="/api/v1/users/",
        query=[{"name": "search", "value": "{{username}}", "enabled": True},
               {"name": "page_size", "value": "{{page_size}}", "enabled": True}],
        headers=AUTH,
        assertions=[
            {"type": "status_code", "operator": "==", "expected_value": 200},
            {"type": "json", "expression": "$.count", "operator": ">=", "expected_value": 1},
        ],
        extractors=[{"name": "first_username", "source": "json",
                     "expression": "$.results[0].username"}],
        sort_order=20,
    )
    scenario = _make(Scenario, 
        project=project, name="Who am I, and am I listed", priority="P1",
        tags=["smoke", "accounts"], variables={"expected_status": 200},
        description="Read the key's user, search the user list for that name, and check that "
                    "the first match is the same user.",
    )
    _make(ScenarioStep, scenario=scenario, sort_order=10, kind="interface", interface=me,
                                description="Read the key's own user")
    _make(ScenarioStep, scenario=scenario, sort_order=20, kind="interface",
                                interface=users, description="Search the users for that name")
    _make(ScenarioStep, 
        scenario=scenario, sort_order=30, kind="keyword",
        builtin_keyword=BuiltinKeyword.objects.get(code="assert_equal"),
        parameters={"actual": "{{first_username}}", "operator": "==", "expected": "{{username}}"},
        description="The first match is the key's user",
    )
    dataset = _make(Dataset, 
        project=project, scenario=scenario, name="Page sizes",
        csv_data="page_size,expected_status\n1,200\n5,200\n20,200\n",
    )
    plan = _make(TestPlan, project=project, name="Smoke", environment=local,
                                   description="The scenario once per page size.")
    _make(PlanScenario, plan=plan, scenario=scenario, dataset=dataset, environment=local,
                                sort_order=10)
    _code_demo(project, users)
    return project


def _code_demo(project: Project, users: Interface) -> None:
    """A keyword and a global function in Python, and a scenario that calls both."""
    keyword = _make(Keyword, project=project, type="assertion", name="At most N results",
                    method_name="at_most", code=PAGE_KEYWORD,
                    description="Checks the length of the last response's results.",
                    parameters={"type": "object", "required": ["max_items"], "properties": {
                        "max_items": {"type": "integer", "title": "Most results"}}})
    if not GlobalFunction.objects.filter(class_name="Text", method_name="initials").exists():
        _make(GlobalFunction, class_name="Text", method_name="initials", code=TEXT_FUNCTION,
              description="The initials of a name, as {{Text.initials(name)}}.",
              parameters=[{"name": "name", "type": "str", "description": "A name."}],
              return_value={"type": "str", "description": "The initials, upper case."})
    scenario = _make(Scenario, project=project, name="Checks written in Python", priority="P2",
                     tags=["code"], variables={"username": "tester"},
                     description="A keyword and a global function of the project, run in "
                                 "the sandbox.")
    _make(ScenarioStep, scenario=scenario, sort_order=10, kind="interface", interface=users,
          description="Search the users")
    _make(ScenarioStep, scenario=scenario, sort_order=20, kind="keyword", keyword=keyword,
          parameters={"max_items": 20}, description="The page holds at most 20 users")
    _make(ScenarioStep, scenario=scenario, sort_order=30, kind="keyword",
          builtin_keyword=BuiltinKeyword.objects.get(code="assert_equal"),
          parameters={"actual": "{{Text.initials(first_username)}}", "operator": "==",
                      "expected": "T"},
          description="The first match's initials")
