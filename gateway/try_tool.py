"""The admin's "try this tool" page: a real call of a tool, as the signed-in person.

The call goes through the same service as ``tools/call`` (``gateway.services.calls.call_tool``):
the tool's own input schema, the in-process dispatch, the outbound client or the sandbox
(a script tool, shown with its global function's schemas as they are now), the call log
(caller type ``user``) and the counters. Nothing is simulated.

Who may try what: the policy of ``gateway.policy`` with the person as the caller, so a
tenant's administrator tries exactly the tools an agent of theirs could call. A platform
operator may also try any tenant's tool (their data scope is every tenant already); the
permission code of the tool still applies.
"""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.template.response import TemplateResponse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.context import clean_request_id
from gateway import policy, scripts
from gateway.models import McpTool
from gateway.services import calls


class TryToolForm(forms.Form):
    arguments = forms.CharField(
        label=_("Arguments (JSON object)"), widget=forms.Textarea(attrs={"rows": 10, "cols": 80}),
        initial="{}",
    )

    def clean_arguments(self):
        text = self.cleaned_data["arguments"]
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise forms.ValidationError(_("Enter valid JSON: %(error)s") % {"error": exc}) from None
        if not isinstance(value, dict):
            raise forms.ValidationError(_("Enter a JSON object."))
        return value


def example_arguments(schema: dict) -> dict:
    """Return a starting point for the form: the required properties with typed blanks."""
    blanks = {"string": "", "integer": 0, "number": 0, "boolean": False, "object": {},
              "array": []}
    properties = (schema or {}).get("properties") or {}
    return {
        name: blanks.get((properties.get(name) or {}).get("type"), None)
        for name in (schema or {}).get("required") or []
    }


def allowed(user, tool) -> bool:
    """Return whether ``user`` may try ``tool``."""
    caller = policy.Caller(user=user)
    if user.is_platform_operator:
        # An operator's data scope is every tenant: any tool whose permission they hold.
        return policy.allows(caller, tool, any_tenant=True)
    found = policy.find_tool(caller, tool.name)
    return found is not None and found.pk == tool.pk


def try_tool_view(model_admin: admin.ModelAdmin, request, object_id: str):
    """Show the form, and on POST call the tool and show what it answered."""
    tool = model_admin.get_object(request, object_id)
    if tool is None:
        raise Http404
    tool = McpTool.objects.all_tenants().select_related("endpoint").get(pk=tool.pk)
    if not allowed(request.user, tool):
        raise PermissionDenied
    # A script tool's schemas are its function's now; the call reads no function again.
    tool = scripts.resolved(tool)
    outcome = None
    if request.method == "POST":
        form = TryToolForm(request.POST)
        if form.is_valid():
            context = calls.CallContext(
                request_id=getattr(request, "request_id", None) or clean_request_id(None),
                protocol_version="admin", host=request.get_host(), secure=request.is_secure(),
            )
            caller = policy.Caller(
                user=request.user, ip=request.META.get("REMOTE_ADDR"),
                user_agent=request.headers.get("User-Agent", "")[:500],
                headers={name.lower(): value for name, value in request.headers.items()},
            )
            outcome = calls.call_tool(tool, form.cleaned_data["arguments"], caller=caller,
                                      context=context)
    else:
        form = TryToolForm(initial={"arguments": json.dumps(
            example_arguments(tool.input_schema), indent=2)})
    result_text = None
    if outcome is not None:
        result_text = calls.result_text(outcome)
        if outcome.ok and not isinstance(outcome.data, str):
            result_text = json.dumps(outcome.data, indent=2, ensure_ascii=False, default=str)
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": McpTool._meta,
        "title": gettext("Try %(name)s") % {"name": tool.name},
        "tool": tool,
        "form": form,
        "outcome": outcome,
        "result_text": result_text,
        "input_schema": json.dumps(tool.input_schema, indent=2),
    }
    return TemplateResponse(request, "admin/mcp/mcptool/try.html", context)
