"""The plain data of a scenario run, as the service layer hands it to the engine.

Nothing here knows the models: ``testing.services.runs`` builds these from a plan, a
scenario or an interface, with secret values unsealed only in the worker. Everything but
``DatabaseSpec.password`` and secret variable values is safe to store and show.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# What a step does.
HTTP = "http"            # an interface or an inline request, or the http_request keyword
SQL = "sql"              # the sql_query keyword
SET_VARIABLE = "set_variable"
WAIT = "wait"
ASSERT = "assert"        # assert_json, assert_status, assert_equal: on the last response
EXTRACT = "extract"      # extract_json, extract_header, extract_regex: from the last response
BROKEN = "broken"        # a step that cannot run as defined (its interface was deleted, ...)
CODE = "code"            # a project's keyword: its Python runs in the sandbox (core.sandbox)


@dataclass
class CodeSpec:
    """A project's keyword as a step calls it: code, function, and how its arguments pass."""

    name: str
    code: str
    entry: str               # the function the step calls
    filename: str            # how tracebacks name the code: "<keyword Name>"
    keyword_type: str = "custom"   # assertion and extract keywords act on what they return
    secret_parameters: list[str] = field(default_factory=list)
    takes_response: bool = False   # the function has a parameter named "response"


@dataclass
class DatabaseSpec:
    """One of the project's databases, as a step reaches it by its variable name."""

    name: str
    db_type: str
    host: str
    port: int
    database: str
    username: str
    password: str = field(default="", repr=False)
    label: str = ""


@dataclass
class StepSpec:
    """One step of a scenario."""

    key: str                 # the scenario step's id: stable across a pause and a restart
    title: str
    action: str
    request: dict | None = None       # method, url, query, headers, body_type, body, ...
    assertions: list[dict] = field(default_factory=list)
    extractors: list[dict] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)   # a keyword's parameters
    variables: dict[str, Any] = field(default_factory=dict)  # the step's own variables
    keyword: str = ""        # the built-in keyword's code, for ASSERT and EXTRACT
    retries: int = 0
    problem: str = ""        # why a BROKEN step cannot run
    user_code: CodeSpec | None = None  # what a CODE step calls


@dataclass
class RunSettings:
    """Limits of a run, from the platform's settings."""

    timeout: float = 30.0             # seconds per request, unless the step says otherwise
    stored_body_bytes: int = 65536    # a response body is stored up to this size
    response_bytes: int = 10 * 1024 * 1024  # and read up to this size
    verify_tls: bool = True
    retry_backoff: float = 0.5        # seconds before the first retry, doubled each time
    statement_timeout: float = 10.0   # seconds per SQL statement
    max_rows: int = 1000              # rows a SQL step keeps
    max_wait: float = 300.0           # the wait keyword's ceiling


@dataclass
class ScenarioRunSpec:
    """One run of a scenario (one dataset row when data-driven)."""

    name: str
    steps: list[StepSpec]
    base_url: str = ""
    layers: dict[str, dict[str, Any]] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    secrets: list[str] = field(default_factory=list)
    databases: dict[str, DatabaseSpec] = field(default_factory=dict)
    database: str = ""                # the scenario's database, for pre/post SQL
    pre_sql: str = ""
    post_sql: str = ""
    settings: RunSettings = field(default_factory=RunSettings)
    row_number: int | None = None
    # The tenant's global functions by "Class.method", for {{Class.method(args)}}
    # (core.sandbox.functions.UserFunction).
    functions: dict[str, Any] = field(default_factory=dict)
