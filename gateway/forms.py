"""Forms of the MCP gateway's admin.

``McpToolForm`` edits a tool through the same validation as the API (``gateway.services.tools``): the
model's fields the admin shows, plus the write-only credentials of an external tool. The
stored ``auth_config`` is never put into the page: the credentials field starts empty,
does not echo what was typed when the form comes back with errors, and an empty field
keeps what is stored; a checkbox removes it. The field is named ``auth_credentials`` so
that the operation log masks the posted value by its name (``core.redaction.is_secret_name``).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models
from django.forms.models import construct_instance
from django.utils.translation import gettext_lazy as _

from gateway.models import McpTool
from gateway.services import tools
from rbac.forms import scope_list_formfield
from tenants.admin import TenantFormMixin
from tenants.models import Tenant

CREDENTIALS = "auth_credentials"
CLEAR_CREDENTIALS = "clear_credentials"


class WriteOnlyTextarea(forms.Textarea):
    """A textarea that never renders a value, neither stored nor just typed."""

    def format_value(self, value) -> None:
        return None


def formfield(db_field: models.Field, **kwargs) -> forms.Field | None:
    """Return the form field of a model field; URLs without a scheme mean https, required
    scopes are typed one per line."""
    if db_field.name == "required_scopes":
        return scope_list_formfield(db_field)
    if isinstance(db_field, models.URLField):
        kwargs.setdefault("assume_scheme", "https")
    return db_field.formfield(**kwargs)


class McpToolForm(TenantFormMixin, forms.ModelForm):
    """Add or change a tool; see the module docstring for the credentials."""

    auth_credentials = forms.JSONField(
        label=_("Authentication settings"),
        required=False,
        widget=WriteOnlyTextarea(attrs={"rows": 4, "cols": 60, "autocomplete": "off",
                                        "spellcheck": "false"}),
        help_text=_("A JSON object, stored encrypted and never shown again; leave blank to "
                    "keep the stored settings. Bearer: {\"token\": ...}; API key: "
                    "{\"header\": ..., \"value\": ...}; OAuth: {\"token_url\": ..., "
                    "\"client_id\": ..., \"client_secret\": ..., \"scope\": ...}."),
    )
    clear_credentials = forms.BooleanField(
        label=_("Remove stored credentials"), required=False,
    )

    class Meta:
        model = McpTool
        fields = "__all__"
        formfield_callback = formfield

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Nothing of the stored secret reaches the page, not even as the initial value.
        self.initial.pop(CREDENTIALS, None)
        self.initial.pop("auth_config", None)
        if "name" in self.fields:
            self.fields["name"].required = False
            self.fields["name"].help_text = _(
                "1 to 128 letters, digits, '_', '-' and '.'. An API tool left unnamed takes "
                "its operation's name.")
        for name in ("input_schema", "output_schema", "annotations"):
            if name in self.fields and self.instance._state.adding:
                self.fields[name].help_text = _(
                    "External tools only: API tools take it from their endpoint, script "
                    "tools from their global function's docs.")

    def credentials_change(self) -> Any:
        """Return what to do with the stored credentials (``gateway.services.tools`` semantics)."""
        data = getattr(self, "cleaned_data", {})
        if data.get(CLEAR_CREDENTIALS):
            return None
        typed = data.get(CREDENTIALS)
        return tools.UNCHANGED if typed in (None, "") else typed

    def sent(self) -> dict[str, Any]:
        """Return the values typed in fields that an API tool derives (refused if they differ)."""
        data = getattr(self, "cleaned_data", {})
        return {name: data[name] for name in (*tools.DERIVED_FIELDS, "external_url")
                if name in self.fields and data.get(name) not in (None, "", {}, [])}

    def clean(self):
        cleaned = super().clean()
        if cleaned.get(CLEAR_CREDENTIALS) and cleaned.get(CREDENTIALS) not in (None, ""):
            self.add_error(CLEAR_CREDENTIALS, _("Either remove the stored credentials or "
                                                "enter new ones, not both."))
        return cleaned

    def _post_clean(self) -> None:
        # The model's validation runs inside gateway.services.tools.prepare_tool, with the rules the
        # API applies too (derived fields, public tools, credentials).
        opts = self._meta
        try:
            self.instance = construct_instance(self, self.instance, opts.fields, opts.exclude)
        except ValidationError as exc:
            self._add_errors(exc)
            return
        if self.errors:
            return
        try:
            tools.prepare_tool(self.instance, auth_config=self.credentials_change(),
                               sent=self.sent())
        except ValidationError as exc:
            self._add_errors(exc)

    def _add_errors(self, exc: ValidationError) -> None:
        """Show errors on their fields; those of fields the form lacks above the form."""
        if not hasattr(exc, "error_dict"):
            self.add_error(None, exc)
            return
        for name, errors in exc.error_dict.items():
            target = CREDENTIALS if name == "auth_config" else name
            if target in self.fields:
                self.add_error(target, errors)
            elif name == NON_FIELD_ERRORS:
                self.add_error(None, errors)
            else:
                label = McpTool._meta.get_field(name).verbose_name if name in {
                    f.name for f in McpTool._meta.get_fields()} else name
                for error in errors:
                    for message in error.messages:
                        self.add_error(None, f"{label}: {message}")


class MakeToolsForm(forms.Form):
    """The intermediate page of the admin action that makes tools of endpoints."""

    tenant = forms.ModelChoiceField(
        label=_("Tenant"), queryset=Tenant.objects.order_by("code"),
        help_text=_("The tenant whose tools they become."),
    )
    is_public = forms.BooleanField(
        label=_("Offer to every tenant"), required=False,
        help_text=_("Only the platform tenant's tools can be public."),
    )

    def clean(self):
        cleaned = super().clean()
        tenant = cleaned.get("tenant")
        if cleaned.get("is_public") and tenant is not None and not tenant.is_platform:
            self.add_error("is_public", _("Only the platform's tools can be offered to every "
                                          "tenant."))
        return cleaned
