"""The interface tree of a project beside the interface editor (issue 12, item 3).

The tree shows the project's folders (django-mptt, at most five levels) and, in each, its
interfaces; folders are added, renamed, moved and deleted there, and the open interface
can be moved to another folder. The editor edits one interface: method and URL with a
preview line that marks every ``{{variable}}``, query parameters and headers as tables,
the body by its type, assertions and extractors as tables. Every form works without
JavaScript: "add a row" is a submit button that redraws the form with one more row;
``static/js/testing-editor.js`` adds rows in place and keeps the preview current.
"""

from __future__ import annotations

import re
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.forms.models import construct_instance
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from testing.choices import BodyType
from testing.forms_editor import (
    AssertionFormSet,
    ExtractorFormSet,
    FolderForm,
    InterfaceForm,
    MoveInterfaceForm,
    PairFormSet,
    apply_errors,
    quiet,
    table,
    with_extra_row,
)
from testing.models import Interface, InterfaceFolder
from testing.views.common import in_project, may, project_of, require

VARIABLE = re.compile(r"\{\{\s*(.+?)\s*\}\}")

# The tables of the editor (formset prefixes), and the input a new row of each starts in.
TABLES = ("query", "headers", "form_body", "assertions", "extractors")
FIRST_CELL = {"query": "name", "headers": "name", "form_body": "name", "assertions": "type",
              "extractors": "name"}


def marked(text: str) -> list[tuple[str, bool]]:
    """Split ``text`` into ``(part, is_reference)`` pieces, ``{{name}}`` references apart."""
    pieces: list[tuple[str, bool]] = []
    position = 0
    for match in VARIABLE.finditer(text):
        if match.start() > position:
            pieces.append((text[position:match.start()], False))
        pieces.append((match.group(0), True))
        position = match.end()
    if position < len(text):
        pieces.append((text[position:], False))
    return pieces


def referenced(*values: Any) -> list[str]:
    """Return the names of the variables (and helper calls) that ``values`` reference."""
    import json

    names: list[str] = []
    for value in values:
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        for match in VARIABLE.finditer(text):
            if match.group(1) not in names:
                names.append(match.group(1))
    return names


def request_line(interface: Interface) -> str:
    """Return the request line the preview shows: method, URL and enabled query."""
    query = "&".join(f"{item.get('name', '')}={item.get('value', '')}"
                     for item in (interface.query or [])
                     if isinstance(item, dict) and item.get("enabled", True) is not False)
    url = interface.url or ""
    if query:
        url += ("&" if "?" in url else "?") + query
    return f"{interface.method} {url}"


def permissions(request: HttpRequest) -> dict[str, bool]:
    """Return which buttons of the tree and the editor the user may use."""
    return {
        "interface_create": may(request, Interface, "create"),
        "interface_update": may(request, Interface, "update"),
        "interface_delete": may(request, Interface, "delete"),
        "folder_create": may(request, InterfaceFolder, "create"),
        "folder_update": may(request, InterfaceFolder, "update"),
        "folder_delete": may(request, InterfaceFolder, "delete"),
    }


def build_tree(project, folder_forms: dict) -> tuple[list, list]:
    """Return the nested folders (each with its interfaces) and the interfaces at the root.

    Every folder starts open (a tester may fold it: it is a ``<details>``).
    """
    folders = list(InterfaceFolder.objects.filter(project=project).order_by("tree_id", "lft"))
    interfaces = list(Interface.objects.filter(project=project)
                      .only("id", "name", "method", "folder_id", "sort_order"))
    by_folder: dict[Any, list] = {}
    for interface in interfaces:
        by_folder.setdefault(interface.folder_id, []).append(interface)
    nodes = {folder.pk: {"folder": folder, "children": [], "open": True,
                         "interfaces": by_folder.get(folder.pk, []),
                         "form": folder_forms.get(folder.pk) or FolderForm(
                             instance=folder, project=project, prefix=f"folder-{folder.pk}")}
             for folder in folders}
    roots = []
    for folder in folders:
        node = nodes[folder.pk]
        parent = nodes.get(folder.parent_id)
        (parent["children"] if parent else roots).append(node)
    return roots, by_folder.get(None, [])


def page(request: HttpRequest, project, *, interface: Interface | None = None, form=None,
         tables: dict | None = None, folder_forms: dict | None = None, new_folder_form=None,
         move_form=None, focus: str = "", status: int = 200) -> HttpResponse:
    """Render the tree, with the editor of ``interface`` beside it when one is open."""
    folder_forms = folder_forms or {}
    roots, loose = build_tree(project, folder_forms)
    context: dict[str, Any] = {
        "project": project,
        "roots": roots,
        "loose_interfaces": loose,
        "has_anything": bool(roots or loose),
        "interface": interface,
        "is_new": interface is not None and interface._state.adding,
        "can": permissions(request),
        "new_folder_form": new_folder_form or FolderForm(project=project, prefix="new-folder"),
        "focus": focus,
        "here": request.get_full_path(),
    }
    if interface is not None:
        context.update({
            "form": form,
            "tables": tables,
            "move_form": move_form or MoveInterfaceForm(
                project=project, prefix="move", initial={"folder": interface.folder_id}),
            "has_errors": form is not None and form.is_bound and (
                bool(form.errors) or any(t.has_errors() for t in tables.values())),
            "preview": marked(request_line(interface)),
            "variables": referenced(interface.url, interface.query, interface.headers,
                                    interface.body, interface.assertions, interface.extractors),
            "body_types": BodyType,
            "read_only": not may(request, Interface,
                                 "create" if interface._state.adding else "update"),
        })
    return render(request, "testing/interfaces/page.html", context, status=status)


def back(request: HttpRequest, project) -> str:
    """Return the page a folder action came from (``next``), or the tree."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()},
                                                   require_https=request.is_secure()):
        return target
    return reverse("testing:interfaces", args=[project.pk])


def error_messages(exc: ValidationError) -> list[str]:
    """Return the messages of ``exc``, each naming its field when it has one."""
    if hasattr(exc, "error_dict"):
        return [f"{field}: {message}" if field != "__all__" else message
                for field, messages_ in exc.message_dict.items() for message in messages_]
    return exc.messages


# ---------------------------------------------------------------------------
# The tree
# ---------------------------------------------------------------------------


@login_required
def interface_tree(request: HttpRequest, project_id) -> HttpResponse:
    """Show the project's folders and interfaces; the editor opens from here."""
    project = project_of(request, project_id)
    require(request, Interface, "view")
    return page(request, project)


@login_required
@require_POST
def folder_new(request: HttpRequest, project_id) -> HttpResponse:
    """Add a folder (at the top level or inside another one)."""
    project = project_of(request, project_id)
    require(request, InterfaceFolder, "create")
    folder = InterfaceFolder(project=project, tenant_id=project.tenant_id)
    form = FolderForm(request.POST, instance=folder, project=project, prefix="new-folder")
    if save_folder(form, folder):
        messages.success(request, _("Folder “%(name)s” added.") % {"name": folder.name})
        return redirect(back(request, project))
    return page(request, project, new_folder_form=form, focus="new-folder", status=400)


@login_required
@require_POST
def folder_update(request: HttpRequest, project_id, folder_id) -> HttpResponse:
    """Rename a folder, or move it inside another one."""
    project = project_of(request, project_id)
    folder = in_project(request, project, InterfaceFolder, folder_id, action="update")
    form = FolderForm(request.POST, instance=folder, project=project,
                      prefix=f"folder-{folder.pk}")
    if save_folder(form, folder):
        messages.success(request, _("Folder “%(name)s” saved.") % {"name": folder.name})
        return redirect(back(request, project))
    return page(request, project, folder_forms={folder.pk: form}, focus=f"folder-{folder.pk}",
                status=400)


def save_folder(form: FolderForm, folder: InterfaceFolder) -> bool:
    """Validate and save the folder of ``form``; put the model's errors on the form."""
    from mptt.exceptions import InvalidMove

    if not form.is_valid():
        return False
    construct_instance(form, folder, fields=["name", "parent"])
    try:
        folder.full_clean()
        folder.save()
    except ValidationError as exc:
        apply_errors(exc, form)
        return False
    except InvalidMove as exc:
        form.add_error("parent", str(exc))
        return False
    return True


@login_required
@require_POST
def folder_delete(request: HttpRequest, project_id, folder_id) -> HttpResponse:
    """Delete an empty folder; one that still holds anything says what to do first."""
    project = project_of(request, project_id)
    folder = in_project(request, project, InterfaceFolder, folder_id, action="delete")
    try:
        folder.soft_delete()
    except ValidationError as exc:
        for message in error_messages(exc):
            messages.error(request, message)
    else:
        messages.success(request, _("Folder “%(name)s” deleted.") % {"name": folder.name})
    return redirect(back(request, project))


# ---------------------------------------------------------------------------
# The editor
# ---------------------------------------------------------------------------


def editor_tables(interface: Interface, data=None) -> dict:
    """Return the tables of the editor, bound to ``data`` or showing ``interface``."""
    form_body = interface.body if interface.body_type in (BodyType.FORM, BodyType.MULTIPART) \
        and isinstance(interface.body, list) else []
    return {
        "query": table(PairFormSet, "query", interface.query or [], data),
        "headers": table(PairFormSet, "headers", interface.headers or [], data),
        "form_body": table(PairFormSet, "form_body", form_body, data),
        "assertions": table(AssertionFormSet, "assertions", interface.assertions or [], data),
        "extractors": table(ExtractorFormSet, "extractors", interface.extractors or [], data),
    }


def edit(request: HttpRequest, project, interface: Interface) -> HttpResponse:
    """Show the editor of ``interface``, or save what was posted (a new one is created)."""
    adding = interface._state.adding
    if request.method != "POST":
        form = InterfaceForm(instance=interface, project=project)
        return page(request, project, interface=interface, form=form,
                    tables=editor_tables(interface))
    require(request, Interface, "create" if adding else "update")
    data = request.POST
    added = data.get("add_row")
    if added in TABLES:
        data = with_extra_row(data, added)
    form = InterfaceForm(data, instance=interface, project=project)
    tables = editor_tables(interface, data)
    if added in TABLES:
        # "Add a row" without JavaScript: redraw with one more row, nothing saved or
        # checked yet (the tester has not finished typing).
        quiet(form, *tables.values())
        new_row = tables[added].forms[-1] if tables[added].forms else None
        if new_row is not None:
            new_row.fields[FIRST_CELL[added]].widget.attrs["autofocus"] = True
        focus = f"id_{added}-{int(data[f'{added}-TOTAL_FORMS']) - 1}-{FIRST_CELL[added]}"
        return page(request, project, interface=interface, form=form, tables=tables,
                    focus=focus)
    valid = form.is_valid()
    valid = all([formset.is_valid() for formset in tables.values()]) and valid
    if valid and save_interface(interface, form, tables):
        messages.success(request, _("Interface “%(name)s” saved.") % {"name": interface.name})
        return redirect("testing:interface", project.pk, interface.pk)
    return page(request, project, interface=interface, form=form, tables=tables, status=400)


def save_interface(interface: Interface, form: InterfaceForm, tables: dict) -> bool:
    """Set the interface from the form and tables, validate it whole, and save it."""
    construct_instance(form, interface, fields=InterfaceForm._meta.fields)
    interface.query = tables["query"].items()
    interface.headers = tables["headers"].items()
    interface.assertions = tables["assertions"].items()
    interface.extractors = tables["extractors"].items()
    body_type = interface.body_type
    aliases = {}
    error_tables = {name: tables[name] for name in ("query", "headers", "assertions",
                                                     "extractors")}
    if body_type == BodyType.JSON:
        interface.body = form.cleaned_data.get("body_json")
        aliases["body"] = "body_json"
    elif body_type == BodyType.RAW:
        interface.body = form.cleaned_data.get("body_raw") or ""
        aliases["body"] = "body_raw"
    elif body_type in (BodyType.FORM, BodyType.MULTIPART):
        interface.body = tables["form_body"].items()
        error_tables["body"] = tables["form_body"]
    else:
        interface.body = None
    try:
        interface.full_clean()
    except ValidationError as exc:
        apply_errors(exc, form, error_tables, aliases=aliases)
        return False
    interface.save()
    return True


@login_required
def interface_new(request: HttpRequest, project_id) -> HttpResponse:
    """Create an interface (in the folder of ``?folder=`` when given)."""
    project = project_of(request, project_id)
    require(request, Interface, "create")
    interface = Interface(project=project, tenant_id=project.tenant_id)
    folder_id = request.GET.get("folder")
    if folder_id and request.method != "POST":
        try:
            interface.folder = InterfaceFolder.objects.filter(project=project,
                                                              pk=folder_id).first()
        except ValidationError:
            interface.folder = None
    return edit(request, project, interface)


@login_required
def interface_detail(request: HttpRequest, project_id, interface_id) -> HttpResponse:
    """Edit one interface."""
    project = project_of(request, project_id)
    interface = in_project(request, project, Interface, interface_id)
    return edit(request, project, interface)


@login_required
@require_POST
def interface_move(request: HttpRequest, project_id, interface_id) -> HttpResponse:
    """Move an interface to another folder of its project (or out of every folder)."""
    project = project_of(request, project_id)
    interface = in_project(request, project, Interface, interface_id, action="update")
    form = MoveInterfaceForm(request.POST, project=project, prefix="move")
    if not form.is_valid():
        return page(request, project, interface=interface,
                    form=InterfaceForm(instance=interface, project=project),
                    tables=editor_tables(interface), move_form=form, status=400)
    interface.folder = form.cleaned_data["folder"]
    try:
        interface.full_clean()
    except ValidationError as exc:
        for message in error_messages(exc):
            form.add_error(None, message)
        return page(request, project, interface=interface,
                    form=InterfaceForm(instance=interface, project=project),
                    tables=editor_tables(interface), move_form=form, status=400)
    interface.save(update_fields=["folder"])
    messages.success(request, _("Interface “%(name)s” moved.") % {"name": interface.name})
    return redirect("testing:interface", project.pk, interface.pk)


@login_required
@require_POST
def interface_delete(request: HttpRequest, project_id, interface_id) -> HttpResponse:
    """Delete an interface no scenario step sends."""
    project = project_of(request, project_id)
    interface = in_project(request, project, Interface, interface_id, action="delete")
    try:
        interface.soft_delete()
    except ValidationError as exc:
        for message in error_messages(exc):
            messages.error(request, message)
        return redirect("testing:interface", project.pk, interface.pk)
    messages.success(request, _("Interface “%(name)s” deleted.") % {"name": interface.name})
    return redirect("testing:interfaces", project.pk)


urlpatterns = [
    path("projects/<uuid:project_id>/interfaces/", interface_tree, name="interfaces"),
    path("projects/<uuid:project_id>/interfaces/new/", interface_new, name="interface-new"),
    path("projects/<uuid:project_id>/interfaces/<uuid:interface_id>/", interface_detail,
         name="interface"),
    path("projects/<uuid:project_id>/interfaces/<uuid:interface_id>/move/", interface_move,
         name="interface-move"),
    path("projects/<uuid:project_id>/interfaces/<uuid:interface_id>/delete/", interface_delete,
         name="interface-delete"),
    path("projects/<uuid:project_id>/interfaces/folders/new/", folder_new, name="folder-new"),
    path("projects/<uuid:project_id>/interfaces/folders/<uuid:folder_id>/", folder_update,
         name="folder"),
    path("projects/<uuid:project_id>/interfaces/folders/<uuid:folder_id>/delete/",
         folder_delete, name="folder-delete"),
]
