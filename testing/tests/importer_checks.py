"""What every importer's tests ask of a plan: each row it gives passes the platform's own
validation (what the import checks before it writes), and the plan survives its JSON form
(an ``ImportJob`` stores it so). And where the tests find the shared corpus of third-party
files (``corpus``)."""

from __future__ import annotations

import re
from pathlib import Path

from conftest import skip_or_fail
from testing.choices import RequestMethod
from testing.importers.base import ImportPlan
from testing.models.interfaces import body_errors
from testing.models.scenarios import parse_csv
from testing.schemas import schema_errors

VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")
CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"


def corpus(*parts: str) -> Path:
    """Return the path of a file of the shared corpus (beside the checkout); a missing one
    skips the test locally and fails it in CI (``conftest.skip_or_fail``)."""
    path = CORPUS.joinpath(*parts)
    if not path.exists():
        skip_or_fail(f"the shared corpus is not beside the checkout ({path})")
    return path


def valid(plan: ImportPlan) -> bool:
    """Return True when every row of ``plan`` is valid, else fail naming the problems."""
    problems = []
    for request in plan.requests:
        assert request.method in RequestMethod.values, request.key
        for name, schema in (("query", "pairs"), ("headers", "pairs"),
                             ("assertions", "assertions"), ("extractors", "extractors")):
            problems += [f"{request.key} {name}: {m}"
                         for m in schema_errors(schema, getattr(request, name))]
        problems += [f"{request.key} body: {m}"
                     for m in body_errors(request.body_type, request.body)]
    for scenario in plan.scenarios:
        problems += [f"{scenario.key} variables: {m}"
                     for m in schema_errors("variables", scenario.variables)]
        for step in scenario.steps:
            parameters = {"assertions": step.assertions, "extractors": step.extractors,
                          "variables": step.variables}
            problems += [f"{scenario.key} step {step.request}: {m}"
                         for m in schema_errors("interface_step", parameters)]
        if scenario.dataset is not None:
            parse_csv(scenario.dataset.csv_data)
    for variable in plan.variables:
        assert VARIABLE_NAME.fullmatch(variable.name), variable.name
    assert not problems, problems
    assert ImportPlan.from_data(plan.as_data()) == plan
    return True
