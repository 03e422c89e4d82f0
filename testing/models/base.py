"""What the models of the test domain share: the project they live in, names that are
identifiers, JSON fields validated against the schemas of ``testing/schemas/``, and code
that is syntax-checked but never run here (API testing 3/4 runs it in the sandbox).
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from tenants.models import TenantModel
from testing.schemas import schema_errors

identifier_validator = RegexValidator(
    r"^[A-Za-z_][A-Za-z0-9_]*\Z",
    _("Use letters, digits and '_', starting with a letter or '_' (an identifier)."),
    code="identifier",
)


class ProjectOwnedModel(TenantModel):
    """A row inside one project: reachable only through a live project of its tenant.

    The data scope of a row inside a project is its project's (own records: projects the
    user created; department: projects created in the department), so a tester who may
    see a project sees everything in it.
    """

    project = models.ForeignKey(
        "testing.Project", verbose_name=_("project"), on_delete=models.CASCADE,
        related_name="+",
    )

    rbac_owner_path = "project__created_by"

    class Meta(TenantModel.Meta):
        abstract = True

    def check_same_project(self, **related) -> dict[str, list]:
        """Return errors for each related row (``name=row``) that is not in this project."""
        errors: dict[str, list] = {}
        for name, row in related.items():
            if row is not None and self.project_id is not None and row.project_id != self.project_id:
                errors[name] = [ValidationError(_("Choose one of this project's records."),
                                                code="other_project")]
        return errors


def validate_json_field(instance: models.Model, field: str, schema: str,
                        errors: dict[str, list]) -> None:
    """Add to ``errors`` what the JSON schema ``schema`` finds wrong in ``instance.field``."""
    messages = schema_errors(schema, getattr(instance, field))
    if messages:
        errors.setdefault(field, []).extend(ValidationError(m, code="schema") for m in messages)


def code_errors(code: str, *, filename: str) -> list[str]:
    """Return why ``code`` is not acceptable Python (syntax, size); empty when it is.

    The code is compiled, never executed: ``compile()`` only parses and builds bytecode.
    """
    limit = settings.TESTING_CODE_MAX_BYTES
    size = len(code.encode("utf-8"))
    if size > limit:
        return [str(_("The code is %(size)d bytes; at most %(limit)d are accepted.")
                    % {"size": size, "limit": limit})]
    try:
        compile(code, filename, "exec", dont_inherit=True)
    except SyntaxError as exc:
        return [str(_("Line %(line)s, column %(column)s: %(message)s")
                    % {"line": exc.lineno, "column": exc.offset, "message": exc.msg})]
    except ValueError as exc:  # null bytes
        return [str(exc)]
    return []
