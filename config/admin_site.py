"""The platform's admin site: Django's, with a unique violation shown as a form error.

Two operators saving the same code at the same moment both pass the form's validation, and
the database refuses the second save (issue 10, item 4). Every admin view goes through
``AdminSite.admin_view``, so this site wraps each one: when a POST fails on a unique
violation, the view runs once more. The admin's change and delete views are atomic, so the
failed attempt left nothing behind, and the row that won the race is committed by then:
the second run's validation finds it and shows the usual field error, with everything the
operator typed still in the form. Should the second run fail the same way, the operator is
sent back to the page with the error as a message.

A signed-in user without access to the site (not staff) is not sent to the sign-in form,
which would greet them by name and ask them to sign in again (issue 17, item 6): every admin
URL answers 403 with a page in the platform's layout saying so and where to go instead. An
anonymous visitor still goes to the sign-in page.
"""

from __future__ import annotations

import functools

from django.contrib import admin, messages
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.utils.cache import add_never_cache_headers

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
        guarded = super().admin_view(show_unique_violations(view), cacheable)

        @functools.wraps(guarded)
        def refuse_signed_in_outsiders(request, *args, **kwargs):
            if request.user.is_authenticated and not self.has_permission(request):
                return self.no_access_view(request)
            return guarded(request, *args, **kwargs)

        return refuse_signed_in_outsiders

    def no_access_view(self, request: HttpRequest) -> TemplateResponse:
        """Tell a signed-in user that the site is not theirs, and where to go (403)."""
        response = TemplateResponse(request, "admin/no_access.html", status=403)
        add_never_cache_headers(response)
        return response

    def get_urls(self):
        from django.urls import path

        return [
            path("operations/", self.admin_view(self.operations_view), name="operations"),
            *super().get_urls(),
        ]

    def operations_view(self, request):
        # The thresholds of seed 001 section 8.1 against current values, for operators
        # (issue 19, item 4; config/ops.py); anybody else gets 403.
        from config import ops

        return ops.operations_view(request, site=self)

    def get_app_list(self, request, app_label=None):
        # The operations page is listed on the index for the operators who may open it.
        from django.urls import reverse
        from django.utils.translation import gettext

        from config import ops

        app_list = super().get_app_list(request, app_label)
        if app_label is None and ops.may_see_operations(request.user):
            url = reverse("admin:operations", current_app=self.name)
            name = gettext("Operations")
            app_list.append({
                "name": name, "app_label": "operations", "app_url": url,
                "has_module_perms": True,
                "models": [{
                    "name": name, "object_name": "Operations", "admin_url": url,
                    "add_url": None, "view_only": True, "perms": {"view": True},
                }],
            })
        return app_list

    def autocomplete_view(self, request):
        # An operator's pickers span tenants: named with their tenant, narrowed to the
        # tenant a form has chosen (tenants.admin.TenantAutocompleteJsonView).
        from tenants.admin import TenantAutocompleteJsonView

        return TenantAutocompleteJsonView.as_view(admin_site=self)(request)
