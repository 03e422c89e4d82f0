"""The platform's admin site: Django's, with a unique violation shown as a form error.

Two operators saving the same code at the same moment both pass the form's validation, and
the database refuses the second save (issue 10, item 4). Every admin view goes through
``AdminSite.admin_view``, so this site wraps each one: when a POST fails on a unique
violation, the view runs once more. The admin's change and delete views are atomic, so the
failed attempt left nothing behind, and the row that won the race is committed by then:
the second run's validation finds it and shows the usual field error, with everything the
operator typed still in the form. Should the second run fail the same way, the operator is
sent back to the page with the error as a message.
"""

from __future__ import annotations

import functools

from django.contrib import admin, messages
from django.db import IntegrityError
from django.http import HttpResponseRedirect

from core.integrity import unique_violation


def _models_of(view) -> list:
    model = getattr(getattr(view, "__self__", None), "model", None)
    return [model] if model is not None else []


def show_unique_violations(view):
    """Wrap an admin view so that a unique violation reads as a validation error."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except IntegrityError as exc:
            if request.method != "POST" or unique_violation(exc, models=_models_of(view)) is None:
                raise
        try:
            return view(request, *args, **kwargs)
        except IntegrityError as exc:
            error = unique_violation(exc, models=_models_of(view))
            if request.method != "POST" or error is None:
                raise
            for message in error.messages:
                messages.error(request, message)
            return HttpResponseRedirect(request.get_full_path())

    return wrapped


class AtriumAdminSite(admin.AdminSite):
    site_header = "Atrium"
    site_title = "Atrium"

    def admin_view(self, view, cacheable=False):
        return super().admin_view(show_unique_violations(view), cacheable)

    def autocomplete_view(self, request):
        # An operator's pickers span tenants: named with their tenant, narrowed to the
        # tenant a form has chosen (tenants.admin.TenantAutocompleteJsonView).
        from tenants.admin import TenantAutocompleteJsonView

        return TenantAutocompleteJsonView.as_view(admin_site=self)(request)
