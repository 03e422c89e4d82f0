"""A project's keywords with their code (seed 001 section 3.8), the built-in keywords read
only, and the tenant's global functions (section 3.17, not per project).

Code is compiled when saved, never run in this process: a syntax error is a field error
naming the line and the column, oversize code is refused naming the limit (both from the
model's validation). A keyword's and a function's edit pages carry a "try it" panel
(``try_code``) that runs the saved code once in the sandbox with sample arguments.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from tenants.scoping import restrict
from testing.forms import GlobalFunctionForm, KeywordForm
from testing.models import BuiltinKeyword, GlobalFunction, Keyword, Project
from testing.views import try_code
from testing.views.common import (
    delete_page,
    in_project,
    is_htmx,
    may,
    posted,
    project_of,
    require,
)

NEW_KEYWORD_CODE = '''def run(value, expected=None):
    """Return what the step's result should be; raise AssertionError to fail it."""
    return value
'''


def page_url(project: Project) -> str:
    """Return the project's keywords page."""
    return reverse("testing:keywords", args=[project.pk])


def parameter_rows(parameters: dict) -> list[dict]:
    """Return a keyword's parameter docs (a JSON Schema of an object) as table rows."""
    if not isinstance(parameters, dict):
        return []
    required = set(parameters.get("required") or ())
    rows = []
    for name, spec in (parameters.get("properties") or {}).items():
        spec = spec if isinstance(spec, dict) else {}
        rows.append({"name": name, "title": spec.get("title", ""),
                     "type": spec.get("type", ""), "required": name in required,
                     "description": spec.get("description", ""),
                     "choices": spec.get("enum") or []})
    return rows


@login_required
def keyword_list_view(request: HttpRequest, project_id) -> HttpResponse:
    """List the project's keywords, then the built-in ones with their parameter docs."""
    project = project_of(request, project_id)
    require(request, Keyword, "view")
    builtins = []
    if may(request, BuiltinKeyword, "view"):
        builtins = [{"keyword": keyword, "parameters": parameter_rows(keyword.parameters)}
                    for keyword in BuiltinKeyword.objects.filter(is_active=True)]
    return render(request, "testing/keywords.html", {
        "project": project,
        "keywords": Keyword.objects.filter(project=project),
        "builtins": builtins,
        "may_create": may(request, Keyword, "create"),
        "may_update": may(request, Keyword, "update"),
        "may_delete": may(request, Keyword, "delete"),
    })


@login_required
def keyword_create_view(request: HttpRequest, project_id) -> HttpResponse:
    """Add a keyword to the project."""
    project = project_of(request, project_id)
    require(request, Keyword, "create")
    form = KeywordForm(posted(request),
                       instance=Keyword(project=project, tenant_id=project.tenant_id),
                       initial={"method_name": "run", "code": NEW_KEYWORD_CODE})
    if request.method == "POST" and form.is_valid():
        keyword = form.save()
        messages.success(request, _("Added the keyword “%(name)s”.") % {"name": keyword})
        return redirect(page_url(project))
    return render(request, "testing/keyword_form.html",
                  {"project": project, "form": form, "title": _("New keyword")},
                  status=400 if form.errors else 200)


def keyword_try_url(keyword: Keyword) -> str:
    """Return where a keyword's "try it" panel posts."""
    return reverse("testing:keyword-try", args=[keyword.project_id, keyword.pk])


def keyword_page(request: HttpRequest, project: Project, keyword: Keyword, form: KeywordForm,
                 panel: try_code.Panel, *, status: int) -> HttpResponse:
    """Render a keyword's edit page: the form, then the "try it" panel."""
    return render(request, "testing/keyword_form.html",
                  {"project": project, "form": form, "keyword": keyword,
                   "title": _("Edit keyword"), "try_panel": panel}, status=status)


@login_required
def keyword_edit_view(request: HttpRequest, project_id, pk) -> HttpResponse:
    """Change a keyword; its code is compiled again."""
    project = project_of(request, project_id)
    keyword = in_project(request, project, Keyword, pk, action="update")
    form = KeywordForm(posted(request), instance=keyword)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Saved the keyword “%(name)s”.") % {"name": keyword})
        return redirect(page_url(project))
    saved = Keyword.objects.get(pk=keyword.pk) if form.is_bound else keyword
    panel = try_code.keyword_panel(saved, keyword_try_url(saved))
    return keyword_page(request, project, keyword, form, panel,
                        status=400 if form.errors else 200)


@login_required
@require_http_methods(["GET", "POST"])
def keyword_try_view(request: HttpRequest, project_id, pk) -> HttpResponse:
    """Run the keyword's saved code once with sample arguments (POST; needs the update code).

    htmx gets the panel alone, swapped in place; a plain POST gets the whole edit page with
    the panel filled in. A GET goes to the edit page.
    """
    project = project_of(request, project_id)
    keyword = in_project(request, project, Keyword, pk, action="update")
    if request.method != "POST":
        return redirect(reverse("testing:keyword-edit", args=[project.pk, keyword.pk])
                        + "#try-panel")
    panel = try_code.try_keyword(
        keyword, try_code.keyword_panel(keyword, request.path, request.POST))
    if is_htmx(request):
        return render(request, "testing/_try_panel.html",
                      {"try_panel": panel, "live": panel.announcement}, status=panel.status)
    return keyword_page(request, project, keyword, KeywordForm(instance=keyword), panel,
                        status=panel.status)


@login_required
def keyword_delete_view(request: HttpRequest, project_id, pk) -> HttpResponse:
    """Delete a keyword (refused while scenario steps call it)."""
    project = project_of(request, project_id)
    keyword = in_project(request, project, Keyword, pk, action="delete")
    return delete_page(request, keyword, project=project, what=_("keyword"),
                       cancel_url=page_url(project), done_url=page_url(project))


def functions_url() -> str:
    """Return the global functions page."""
    return reverse("testing:functions")


def function_of(request: HttpRequest, pk, action: str) -> GlobalFunction:
    """Return the tenant's global function ``pk`` within the user's data scope, or 404."""
    require(request, GlobalFunction, action)
    try:
        return get_object_or_404(restrict(GlobalFunction.objects.all(), request.user), pk=pk)
    except (ValueError, ValidationError):
        raise Http404 from None


@login_required
def function_list_view(request: HttpRequest) -> HttpResponse:
    """List the tenant's global functions, callable as {{Class.method(args)}}."""
    require(request, GlobalFunction, "view")
    return render(request, "testing/functions.html", {
        "functions": restrict(GlobalFunction.objects.all(), request.user),
        "may_create": may(request, GlobalFunction, "create"),
        "may_update": may(request, GlobalFunction, "update"),
        "may_delete": may(request, GlobalFunction, "delete"),
    })


@login_required
def function_create_view(request: HttpRequest) -> HttpResponse:
    """Add a global function to the tenant."""
    require(request, GlobalFunction, "create")
    form = GlobalFunctionForm(posted(request),
                              instance=GlobalFunction(tenant_id=request.user.tenant_id))
    if request.method == "POST" and form.is_valid():
        function = form.save()
        messages.success(request, _("Added the global function %(name)s.") % {"name": function})
        return redirect(functions_url())
    return render(request, "testing/function_form.html",
                  {"form": form, "title": _("New global function")},
                  status=400 if form.errors else 200)


def function_try_url(function: GlobalFunction) -> str:
    """Return where a global function's "try it" panel posts."""
    return reverse("testing:function-try", args=[function.pk])


def function_page(request: HttpRequest, function: GlobalFunction, form: GlobalFunctionForm,
                  panel: try_code.Panel, *, status: int) -> HttpResponse:
    """Render a global function's edit page: the form, then the "try it" panel."""
    return render(request, "testing/function_form.html",
                  {"form": form, "function": function, "title": _("Edit global function"),
                   "try_panel": panel}, status=status)


@login_required
def function_edit_view(request: HttpRequest, pk) -> HttpResponse:
    """Change a global function; its code is compiled again."""
    function = function_of(request, pk, "update")
    form = GlobalFunctionForm(posted(request), instance=function)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Saved the global function %(name)s.") % {"name": function})
        return redirect(functions_url())
    saved = GlobalFunction.objects.get(pk=function.pk) if form.is_bound else function
    panel = try_code.function_panel(saved, function_try_url(saved))
    return function_page(request, function, form, panel, status=400 if form.errors else 200)


@login_required
@require_http_methods(["GET", "POST"])
def function_try_view(request: HttpRequest, pk) -> HttpResponse:
    """Run the global function's saved code once with sample arguments (POST; needs the
    update code). htmx gets the panel alone; a plain POST gets the whole edit page."""
    function = function_of(request, pk, "update")
    if request.method != "POST":
        return redirect(reverse("testing:function-edit", args=[function.pk]) + "#try-panel")
    panel = try_code.try_function(
        function, try_code.function_panel(function, request.path, request.POST))
    if is_htmx(request):
        return render(request, "testing/_try_panel.html",
                      {"try_panel": panel, "live": panel.announcement}, status=panel.status)
    return function_page(request, function, GlobalFunctionForm(instance=function), panel,
                         status=panel.status)


@login_required
def function_delete_view(request: HttpRequest, pk) -> HttpResponse:
    """Delete a global function (soft)."""
    function = function_of(request, pk, "delete")
    return delete_page(request, function, project=None, what=_("global function"),
                       cancel_url=functions_url(), done_url=functions_url())


# A sample argument may be a real token: the operation log keeps none of them.
keyword_try_view.log_masked_fields = function_try_view.log_masked_fields = (
    try_code.MASKED_FIELDS)

urlpatterns = [
    path("projects/<uuid:project_id>/keywords/", keyword_list_view, name="keywords"),
    path("projects/<uuid:project_id>/keywords/new/", keyword_create_view,
         name="keyword-create"),
    path("projects/<uuid:project_id>/keywords/<uuid:pk>/edit/", keyword_edit_view,
         name="keyword-edit"),
    path("projects/<uuid:project_id>/keywords/<uuid:pk>/delete/", keyword_delete_view,
         name="keyword-delete"),
    path("projects/<uuid:project_id>/keywords/<uuid:pk>/try/", keyword_try_view,
         name="keyword-try"),
    path("functions/", function_list_view, name="functions"),
    path("functions/new/", function_create_view, name="function-create"),
    path("functions/<uuid:pk>/edit/", function_edit_view, name="function-edit"),
    path("functions/<uuid:pk>/delete/", function_delete_view, name="function-delete"),
    path("functions/<uuid:pk>/try/", function_try_view, name="function-try"),
]
