"""Environments and variables (seed 001 sections 3.6 and 3.7).

A variable belongs to one environment, or to no environment: a project global, shared by
every environment (the seed's ``is_global``). Precedence at run time, highest first:
dataset row, extracted in the run, plan overrides, scenario variables, environment
variables, project globals (``TESTING.md``).

A secret variable keeps its value sealed with the platform's field encryption in
``secret_value``; ``value`` stays empty, and every page, API answer, log and export shows
it masked.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from core.crypto import EncryptedJSONField
from tenants.models import TenantModel, unique_live_per_tenant
from testing.models.base import ProjectOwnedModel, identifier_validator

MASK = "••••••"
VALUE_MAX_LENGTH = 65536


class Environment(ProjectOwnedModel):
    """Where a project's requests go: a base URL and its variables (seed 001 §3.6)."""

    name = models.CharField(_("name"), max_length=255)
    base_url = models.CharField(
        _("base URL"), max_length=1024, blank=True,
        validators=[URLValidator(schemes=["http", "https"])],
        help_text=_("Joined to interfaces whose URL is a path, e.g. https://staging.example.com"),
    )
    description = models.TextField(_("description"), blank=True)

    class Meta(ProjectOwnedModel.Meta):
        db_table = "testing_environments"
        verbose_name = _("environment")
        verbose_name_plural = _("environments")
        ordering = ["name"]
        constraints = [
            *TenantModel.Meta.constraints,
            unique_live_per_tenant("project", "name", name="testing_environments_unique_name",
                                   message=_("This project already has an environment with "
                                             "this name.")),
        ]

    def __str__(self) -> str:
        return self.name


class Variable(ProjectOwnedModel):
    """A named value of an environment, or a project global when ``environment`` is empty."""

    environment = models.ForeignKey(Environment, verbose_name=_("environment"),
                                    on_delete=models.CASCADE, null=True, blank=True,
                                    related_name="variables",
                                    help_text=_("Empty: a global variable of the project, "
                                                "shared by every environment."))
    name = models.CharField(_("name"), max_length=100, validators=[identifier_validator])
    value = models.TextField(_("value"), blank=True, max_length=VALUE_MAX_LENGTH)
    secret_value = EncryptedJSONField(_("secret value"), null=True, blank=True, editable=False)
    is_secret = models.BooleanField(
        _("secret"), default=False,
        help_text=_("Sealed at rest and masked in every page, result, log and export."))
    description = models.TextField(_("description"), blank=True)
    # The environment's id, or "" for a global: NULLs are distinct in unique indexes, so the
    # uniqueness of global names needs a non-null column (MariaDB has no partial indexes).
    scope_key = models.CharField(max_length=36, editable=False, default="")

    class Meta(ProjectOwnedModel.Meta):
        db_table = "testing_variables"
        verbose_name = _("variable")
        verbose_name_plural = _("variables")
        ordering = ["name"]
        indexes = [models.Index(fields=["tenant", "project", "scope_key"],
                                name="testing_variables_scope_idx")]
        constraints = [
            *TenantModel.Meta.constraints,
            unique_live_per_tenant("project", "scope_key", "name",
                                   name="testing_variables_unique_name",
                                   message=_("A variable with this name already exists here.")),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Save, keeping the scope key in step with the environment."""
        self.scope_key = str(self.environment_id or "")
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            kwargs["update_fields"] = {*update_fields, "scope_key"}
        super().save(*args, **kwargs)

    def validate_constraints(self, exclude=None) -> None:
        """Check uniqueness with the scope key the row will be saved with."""
        self.scope_key = str(self.environment_id or "")
        super().validate_constraints(exclude=exclude)

    def clean(self) -> None:
        """Refuse an environment of another project."""
        super().clean()
        errors = self.check_same_project(environment=self.environment)
        if errors:
            raise ValidationError(errors)

    def set_value(self, value: str) -> None:
        """Set the value, sealing it when the variable is secret."""
        if self.is_secret:
            self.secret_value, self.value = value, ""
        else:
            self.secret_value, self.value = None, value

    def make_secret(self) -> None:
        """Seal the current value (a variable once secret stays sealed until rewritten)."""
        if not self.is_secret:
            self.is_secret = True
            self.set_value(self.value)

    @property
    def plain_value(self) -> str:
        """Return the real value (unsealed): for the worker that sends it, never for display."""
        return (self.secret_value or "") if self.is_secret else self.value

    @property
    def shown_value(self) -> str:
        """Return the value as pages and answers show it: masked when secret."""
        return MASK if self.is_secret else self.value

    @property
    def is_global(self) -> bool:
        """Return whether the variable is shared by every environment of the project."""
        return self.environment_id is None
