"""The built-in keywords: platform code offered to every tenant (seed 001 section 3.8).

Each is declared here with its parameter docs (a JSON Schema of an object, from which a
step's form is generated); ``sync_builtin_keywords`` writes them into ``BuiltinKeyword``
after every ``migrate``. The engine (API testing 2/4) implements each ``code``; nothing
here runs user code.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction

from testing.choices import KeywordType
from testing.engine import checks

VARIABLE = {"type": "string", "title": "Variable",
            "description": "The variable that receives the value."}
OPERATORS = [*checks.COMPARATORS, *checks.ALIASES]  # the names, and the symbols stored before


@dataclass(frozen=True)
class BuiltinSpec:
    """One built-in keyword."""

    code: str
    type: str
    name: str
    description: str
    properties: dict = field(default_factory=dict)
    required: tuple[str, ...] = ()

    @property
    def parameters(self) -> dict:
        """Return the parameter docs."""
        return {"type": "object", "properties": self.properties, "required": list(self.required),
                "additionalProperties": False}


BUILTINS = (
    BuiltinSpec(
        "http_request", KeywordType.REQUEST, "Send an HTTP request",
        "Send one request; the answer becomes the step's response for assertions and "
        "extraction.",
        {"method": {"type": "string", "title": "Method",
                    "enum": ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]},
         "url": {"type": "string", "title": "URL",
                 "description": "Absolute, or a path on the environment's base URL."},
         "headers": {"type": "object", "title": "Headers"},
         "query": {"type": "object", "title": "Query parameters"},
         "json": {"title": "JSON body", "format": "json"},
         "timeout": {"type": "number", "title": "Timeout (seconds)", "minimum": 0.1,
                     "maximum": 300}},
        ("method", "url"),
    ),
    BuiltinSpec(
        "assert_json", KeywordType.ASSERTION, "Check a value of the last response",
        "Compare the value a JSONPath finds in the last response's body with what is expected.",
        {"expression": {"type": "string", "title": "JSONPath", "description": "e.g. $.data.id"},
         "operator": {"type": "string", "title": "Operator", "enum": OPERATORS},
         "expected_value": {"title": "Expected value"}},
        ("expression", "operator"),
    ),
    BuiltinSpec(
        "assert_status", KeywordType.ASSERTION, "Check the last response's status",
        "Compare the HTTP status of the last response with the expected one.",
        {"expected": {"type": "integer", "title": "Expected status", "minimum": 100,
                      "maximum": 599}},
        ("expected",),
    ),
    BuiltinSpec(
        "assert_equal", KeywordType.ASSERTION, "Compare two values",
        "Compare two values, each possibly a {{variable}} reference.",
        {"actual": {"title": "Actual value"},
         "operator": {"type": "string", "title": "Operator", "enum": OPERATORS},
         "expected": {"title": "Expected value"}},
        ("actual", "operator"),
    ),
    BuiltinSpec(
        "extract_json", KeywordType.EXTRACT, "Keep a value of the last response",
        "Store the value a JSONPath finds in the last response's body in a variable.",
        {"expression": {"type": "string", "title": "JSONPath"}, "variable": VARIABLE,
         "default": {"title": "Default", "description": "Used when nothing is found."}},
        ("expression", "variable"),
    ),
    BuiltinSpec(
        "extract_header", KeywordType.EXTRACT, "Keep a header of the last response",
        "Store a header of the last response in a variable.",
        {"header": {"type": "string", "title": "Header"}, "variable": VARIABLE},
        ("header", "variable"),
    ),
    BuiltinSpec(
        "extract_regex", KeywordType.EXTRACT, "Keep a match in the last response",
        "Store the first group a regular expression matches in the last response's body.",
        {"pattern": {"type": "string", "title": "Regular expression"}, "variable": VARIABLE},
        ("pattern", "variable"),
    ),
    BuiltinSpec(
        "sql_query", KeywordType.DB, "Query a database",
        "Run SQL on one of the project's databases; the rows can be kept in a variable.",
        {"database": {"type": "string", "title": "Database",
                      "description": "The variable name of the project's database."},
         "sql": {"type": "string", "title": "SQL", "format": "sql"},
         "variable": {**VARIABLE, "description": "The variable that receives the rows."}},
        ("database", "sql"),
    ),
    BuiltinSpec(
        "set_variable", KeywordType.CUSTOM, "Set a variable",
        "Give a variable a value for the following steps.",
        {"name": {"type": "string", "title": "Variable"}, "value": {"title": "Value"}},
        ("name", "value"),
    ),
    BuiltinSpec(
        "wait", KeywordType.CUSTOM, "Wait",
        "Pause the scenario for a number of seconds.",
        {"seconds": {"type": "number", "title": "Seconds", "minimum": 0, "maximum": 300}},
        ("seconds",),
    ),
)


@transaction.atomic
def sync_builtin_keywords(using: str = "default") -> dict[str, int]:
    """Write the declared built-ins into ``BuiltinKeyword``; return the counts of changes."""
    from testing.models import BuiltinKeyword

    counts = {"created": 0, "updated": 0, "deactivated": 0}
    existing = {row.code: row for row in BuiltinKeyword.objects.using(using).all()}
    for spec in BUILTINS:
        values = {"type": spec.type, "name": spec.name, "method_name": spec.code,
                  "description": spec.description, "parameters": spec.parameters,
                  "is_active": True}
        row = existing.pop(spec.code, None)
        if row is None:
            BuiltinKeyword.objects.using(using).create(code=spec.code, **values)
            counts["created"] += 1
        elif any(getattr(row, name) != value for name, value in values.items()):
            for name, value in values.items():
                setattr(row, name, value)
            row.save(using=using)
            counts["updated"] += 1
    stale = [row.pk for row in existing.values() if row.is_active]
    counts["deactivated"] = BuiltinKeyword.objects.using(using).filter(pk__in=stale).update(
        is_active=False)
    return counts
