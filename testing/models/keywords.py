"""Keywords (seed 001 section 3.8) and global functions (section 3.17).

A keyword is a reusable step: send a request, check a value, extract one, query a
database, or anything custom. The built-in keywords are platform code: they are declared
in ``testing.keywords`` and written into ``BuiltinKeyword`` by a sync after every
``migrate`` (as permissions are), never stored as user code, and offered to every tenant.
A tenant's own keywords (``Keyword``) belong to one project and carry Python code.

User code (a keyword's, a global function's) is syntax-checked with ``compile()`` on save
and runs only in the sandbox (``core.sandbox``), never in the platform's process.
"""

from __future__ import annotations

import ast

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from tenants.models import TenantModel, unique_live_per_tenant
from testing.choices import KeywordType
from testing.models.base import (
    ProjectOwnedModel,
    code_errors,
    identifier_validator,
    validate_json_field,
)
from testing.schemas import is_valid_schema

def empty_parameters() -> dict:
    """Return the parameter docs of a keyword without parameters."""
    return {"type": "object", "properties": {}}


def validate_parameter_docs(instance: models.Model, errors: dict[str, list]) -> None:
    """Add to ``errors`` what makes ``instance.parameters`` unusable as parameter docs."""
    if "parameters" in errors:
        return
    validate_json_field(instance, "parameters", "parameter_docs", errors)
    if "parameters" not in errors:
        for message in is_valid_schema(instance.parameters):
            errors.setdefault("parameters", []).append(ValidationError(message, code="schema"))


class BuiltinKeyword(models.Model):
    """A keyword the platform ships (``testing.keywords``), offered to every tenant.

    Rows are written by ``sync_builtin_keywords`` after ``migrate``: new ones added, changed
    ones updated, vanished ones deactivated (steps that use them keep pointing at them).
    """

    code = models.CharField(_("code"), max_length=100, unique=True)
    type = models.CharField(_("type"), max_length=20, choices=KeywordType.choices)
    name = models.CharField(_("name"), max_length=255)
    method_name = models.CharField(_("method name"), max_length=100)
    description = models.TextField(_("description"), blank=True)
    parameters = models.JSONField(_("parameter docs"), default=empty_parameters)
    is_active = models.BooleanField(_("active"), default=True)

    is_builtin = True
    rbac_actions = ("view",)  # generated from the code, never edited

    class Meta:
        db_table = "testing_builtin_keywords"
        verbose_name = _("built-in keyword")
        verbose_name_plural = _("built-in keywords")
        ordering = ["type", "name"]

    def __str__(self) -> str:
        return self.name


class Keyword(ProjectOwnedModel):
    """A keyword a tester wrote for one project: Python ``code`` defining ``method_name``."""

    type = models.CharField(_("type"), max_length=20, choices=KeywordType.choices,
                            default=KeywordType.CUSTOM)
    name = models.CharField(_("name"), max_length=255)
    method_name = models.CharField(_("method name"), max_length=100,
                                   validators=[identifier_validator],
                                   help_text=_("The function of the code that the step calls."))
    code = models.TextField(_("code"))
    parameters = models.JSONField(
        _("parameter docs"), default=empty_parameters, blank=True,
        help_text=_("A JSON Schema of an object: each property is one parameter, and a step's "
                    "form is generated from it. A parameter with \"format\": \"password\" is "
                    "secret: only such parameters receive values made from secret "
                    "variables."))
    description = models.TextField(_("description"), blank=True)
    is_enabled = models.BooleanField(_("enabled"), default=True)

    is_builtin = False

    class Meta(ProjectOwnedModel.Meta):
        db_table = "testing_keywords"
        verbose_name = _("keyword")
        verbose_name_plural = _("keywords")
        ordering = ["type", "name"]
        constraints = [
            *TenantModel.Meta.constraints,
            unique_live_per_tenant("project", "name", name="testing_keywords_unique_name",
                                   message=_("This project already has a keyword with this "
                                             "name.")),
        ]

    def __str__(self) -> str:
        return self.name

    def clean_fields(self, exclude=None) -> None:
        """Validate the fields, the parameter docs, and the code (compiled, never run)."""
        errors: dict[str, list] = {}
        try:
            super().clean_fields(exclude=exclude)
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
        validate_parameter_docs(self, errors)
        if "code" not in errors and self.code:
            problems = code_errors(self.code, filename=f"<keyword {self.name}>")
            if problems:
                errors["code"] = [ValidationError(m, code="syntax") for m in problems]
            elif "method_name" not in errors and not defines_function(self.code, self.method_name):
                errors["method_name"] = [ValidationError(
                    _("The code defines no top-level function named %(name)s.")
                    % {"name": self.method_name}, code="missing")]
        if errors:
            raise ValidationError(errors)

    def soft_delete_blockers(self) -> list[str]:
        """Refuse while live steps call this keyword."""
        from testing.models.scenarios import ScenarioStep

        if ScenarioStep.objects.all_tenants().filter(keyword=self,
                                                     scenario__is_deleted=False).exists():
            return [str(_("Scenario steps call this keyword; remove them first."))]
        return []


def defines_function(code: str, name: str) -> bool:
    """Return whether ``code`` defines a top-level function named ``name``."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    return any(isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name
               for node in tree.body)


def defines_method(code: str, class_name: str, method_name: str) -> bool:
    """Return whether ``code`` defines class ``class_name`` with a method ``method_name``."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            return any(isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))
                       and item.name == method_name for item in node.body)
    return False


class GlobalFunction(TenantModel):
    """A helper function of the tenant, callable as ``{{ClassName.method(args)}}``
    (seed 001 section 3.17, ``global_params``): stored and syntax-checked here, run only in
    the sandbox (``core.sandbox``); MCP ``script`` tools call it too."""

    class_name = models.CharField(_("class name"), max_length=100,
                                  validators=[identifier_validator])
    method_name = models.CharField(_("method name"), max_length=100,
                                   validators=[identifier_validator])
    code = models.TextField(_("code"))
    description = models.TextField(_("description"), blank=True)
    parameters = models.JSONField(_("parameters"), default=list, blank=True)
    return_value = models.JSONField(_("return value"), default=dict, blank=True)

    class Meta(TenantModel.Meta):
        db_table = "testing_global_functions"
        verbose_name = _("global function")
        verbose_name_plural = _("global functions")
        ordering = ["class_name", "method_name"]
        constraints = [
            *TenantModel.Meta.constraints,
            unique_live_per_tenant("class_name", "method_name",
                                   name="testing_functions_unique_name",
                                   message=_("A global function with this class and method "
                                             "name already exists.")),
        ]

    def __str__(self) -> str:
        return f"{self.class_name}.{self.method_name}"

    def clean_fields(self, exclude=None) -> None:
        """Validate the fields, the docs, and the code (compiled, never run)."""
        from testing.schemas import schema_errors

        errors: dict[str, list] = {}
        try:
            super().clean_fields(exclude=exclude)
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
        if "parameters" not in errors:
            for message in schema_errors("function_docs", {"parameters": self.parameters}):
                errors.setdefault("parameters", []).append(
                    ValidationError(message.removeprefix("parameters"), code="schema"))
        if "return_value" not in errors and self.return_value:
            for message in schema_errors("function_docs", {"return_value": self.return_value}):
                errors.setdefault("return_value", []).append(
                    ValidationError(message.removeprefix("return_value"), code="schema"))
        if "code" not in errors and self.code:
            problems = code_errors(self.code, filename=f"<function {self}>")
            if problems:
                errors["code"] = [ValidationError(m, code="syntax") for m in problems]
            elif not {"class_name", "method_name"} & set(errors) and not defines_method(
                    self.code, self.class_name, self.method_name):
                errors["code"] = [ValidationError(
                    _("The code defines no class %(cls)s with a method %(method)s.")
                    % {"cls": self.class_name, "method": self.method_name}, code="missing")]
        if errors:
            raise ValidationError(errors)
