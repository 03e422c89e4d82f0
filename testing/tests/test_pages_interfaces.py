"""The interface tree and the interface editor (issue 12, item 3)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from core.context import tenant_context
from testing.models import Interface, InterfaceFolder, Scenario, ScenarioStep
from testing.tests import factories
from testing.tests.page_cases import codes
from tests.admin_cases import make_staff_actor

pytestmark = pytest.mark.django_db

EVERYTHING = codes(*[(model, action) for model in (Interface, InterfaceFolder)
                     for action in ("view", "create", "update", "delete")]) | {"project:view"}


def sign_in(client, tenant, wanted=EVERYTHING):
    user = make_staff_actor(tenant, wanted)
    client.force_login(user)
    return user


@pytest.fixture
def project_a(tenant_a):
    return factories.project(tenant_a, "Shop A")


@pytest.fixture
def project_b(tenant_b):
    return factories.project(tenant_b, "Shop B")


def folder(project, name="Orders", parent=None):
    return factories.make(InterfaceFolder, project.tenant, project=project, name=name,
                          parent=parent)


def management(prefix: str, total: int = 0, initial: int = 0) -> dict:
    return {f"{prefix}-TOTAL_FORMS": str(total), f"{prefix}-INITIAL_FORMS": str(initial),
            f"{prefix}-MIN_NUM_FORMS": "0", f"{prefix}-MAX_NUM_FORMS": "200"}


def interface_post(**fields) -> dict:
    """Return a valid POST of the editor: a GET with no rows, then ``fields`` over it."""
    data = {"name": "List orders", "method": "GET", "url": "/orders/", "description": "",
            "folder": "", "body_type": "none", "content_type": "", "body_json": "",
            "body_raw": "", "save": "1"}
    for prefix in ("query", "headers", "form_body", "assertions", "extractors"):
        data.update(management(prefix))
    data.update(fields)
    return data


def rows(prefix: str, *items: dict) -> dict:
    """Return the POST of a table holding ``items``."""
    data = management(prefix, len(items))
    for index, item in enumerate(items):
        for key, value in item.items():
            data[f"{prefix}-{index}-{key}"] = value
    return data


def edit_url(interface):
    return reverse("testing:interface", args=[interface.project_id, interface.pk])


# ---------------------------------------------------------------------------
# Access
# ---------------------------------------------------------------------------


def test_anonymous_visitor_is_sent_to_sign_in(client, project_a):
    """Every page of the tree asks an anonymous visitor to sign in."""
    response = client.get(reverse("testing:interfaces", args=[project_a.pk]))
    assert response.status_code == 302 and reverse("accounts:login") in response.url


def test_without_interface_codes_the_pages_are_refused(client, tenant_a, project_a):
    """project:view alone: the tree, the editor and every write are 403."""
    interface = factories.interface(project_a)
    dossier = folder(project_a)
    sign_in(client, tenant_a, {"project:view"})
    for url in (reverse("testing:interfaces", args=[project_a.pk]),
                reverse("testing:interface-new", args=[project_a.pk]), edit_url(interface)):
        assert client.get(url).status_code == 403, url
    for url in (reverse("testing:interface-move", args=[project_a.pk, interface.pk]),
                reverse("testing:interface-delete", args=[project_a.pk, interface.pk]),
                reverse("testing:folder-new", args=[project_a.pk]),
                reverse("testing:folder", args=[project_a.pk, dossier.pk]),
                reverse("testing:folder-delete", args=[project_a.pk, dossier.pk])):
        assert client.post(url, {"name": "x"}).status_code == 403, url


def test_view_only_reads_but_cannot_write(client, tenant_a, project_a):
    """interface:view shows the editor read-only; saving, creating and deleting are 403."""
    interface = factories.interface(project_a)
    sign_in(client, tenant_a, {"project:view", "interface:view", "interfacefolder:view"})
    page = client.get(edit_url(interface))
    assert page.status_code == 200
    assert page.context["read_only"] is True
    assert b"Save interface" not in page.content and b"New interface" not in page.content
    assert client.post(edit_url(interface), interface_post()).status_code == 403
    assert client.post(reverse("testing:interface-new", args=[project_a.pk]),
                       interface_post()).status_code == 403
    assert client.post(reverse("testing:interface-delete",
                               args=[project_a.pk, interface.pk])).status_code == 403


def test_another_tenants_rows_are_404_on_every_path(client, tenant_a, project_a, project_b):
    """Tenant B's project, folder and interface are not found, for a user with every code;
    nor is tenant B's interface through tenant A's project."""
    theirs = factories.interface(project_b)
    their_folder = folder(project_b)
    sign_in(client, tenant_a)
    gets = [reverse("testing:interfaces", args=[project_b.pk]),
            reverse("testing:interface-new", args=[project_b.pk]),
            edit_url(theirs),
            reverse("testing:interface", args=[project_a.pk, theirs.pk])]
    posts = [*gets,
             reverse("testing:interface-move", args=[project_b.pk, theirs.pk]),
             reverse("testing:interface-move", args=[project_a.pk, theirs.pk]),
             reverse("testing:interface-delete", args=[project_a.pk, theirs.pk]),
             reverse("testing:folder-new", args=[project_b.pk]),
             reverse("testing:folder", args=[project_a.pk, their_folder.pk]),
             reverse("testing:folder-delete", args=[project_a.pk, their_folder.pk])]
    for url in gets:
        assert client.get(url).status_code == 404, url
    for url in posts:
        assert client.post(url, interface_post()).status_code == 404, url
    with tenant_context(project_b.tenant):
        assert Interface.objects.get(pk=theirs.pk).name == "List orders"
        assert InterfaceFolder.objects.filter(pk=their_folder.pk).exists()


def test_interface_of_another_project_is_404(client, tenant_a, project_a):
    """An interface of another project of the same tenant is not reached through this one."""
    other = factories.project(tenant_a, "Other")
    interface = factories.interface(other)
    sign_in(client, tenant_a)
    assert client.get(reverse("testing:interface",
                              args=[project_a.pk, interface.pk])).status_code == 404


def test_folder_of_another_tenant_is_refused_as_a_choice(client, tenant_a, project_a, project_b):
    """Moving an interface into tenant B's folder is a field error, not a move."""
    interface = factories.interface(project_a)
    theirs = folder(project_b)
    sign_in(client, tenant_a)
    response = client.post(reverse("testing:interface-move", args=[project_a.pk, interface.pk]),
                           {"move-folder": str(theirs.pk)})
    assert response.status_code == 400
    assert response.context["move_form"].errors["folder"]
    with tenant_context(tenant_a):
        assert Interface.objects.get(pk=interface.pk).folder_id is None


# ---------------------------------------------------------------------------
# The tree
# ---------------------------------------------------------------------------


def test_empty_tree_says_what_to_do(client, tenant_a, project_a):
    """A project without interfaces tells the tester how to start."""
    sign_in(client, tenant_a)
    page = client.get(reverse("testing:interfaces", args=[project_a.pk]))
    assert page.status_code == 200
    assert b"No interfaces yet." in page.content
    assert b"New interface" in page.content


def test_tree_shows_folders_and_interfaces(client, tenant_a, project_a,
                                           django_assert_max_num_queries):
    """Folders nest, each with its interfaces; interfaces without a folder follow."""
    top = folder(project_a, "Accounts")
    sub = folder(project_a, "Admin", parent=top)
    factories.interface(project_a, "Who am I", folder=top, url="/me/")
    factories.interface(project_a, "Ban user", folder=sub, method="POST", url="/ban/")
    factories.interface(project_a, "Health", url="/health/")
    sign_in(client, tenant_a)
    url = reverse("testing:interfaces", args=[project_a.pk])
    client.get(url)  # warm the permission cache
    with django_assert_max_num_queries(20):
        page = client.get(url)
    html = page.content.decode()
    html = html[html.index('id="tree-title"'):]
    assert html.index("Accounts") < html.index("Admin") < html.index("Ban user")
    assert "Who am I" in html and "Health" in html


def test_add_rename_move_and_delete_a_folder(client, tenant_a, project_a):
    """A folder is added, renamed and moved inside another, and deleted once empty."""
    sign_in(client, tenant_a)
    tree = reverse("testing:interfaces", args=[project_a.pk])
    response = client.post(reverse("testing:folder-new", args=[project_a.pk]),
                           {"new-folder-name": "Orders", "new-folder-parent": "", "next": tree})
    assert response.status_code == 302 and response.url == tree
    with tenant_context(tenant_a):
        orders = InterfaceFolder.objects.get(name="Orders")
    parent = folder(project_a, "Shop")
    prefix = f"folder-{orders.pk}"
    response = client.post(reverse("testing:folder", args=[project_a.pk, orders.pk]),
                           {f"{prefix}-name": "Purchase orders",
                            f"{prefix}-parent": str(parent.pk)})
    assert response.status_code == 302
    with tenant_context(tenant_a):
        orders.refresh_from_db()
    assert orders.name == "Purchase orders" and orders.parent_id == parent.pk
    # The parent is not empty: refused, with the reason.
    response = client.post(reverse("testing:folder-delete", args=[project_a.pk, parent.pk]),
                           follow=True)
    assert "move or delete them first" in response.content.decode()
    response = client.post(reverse("testing:folder-delete", args=[project_a.pk, orders.pk]))
    assert response.status_code == 302
    with tenant_context(tenant_a):
        assert not InterfaceFolder.objects.filter(pk=orders.pk).exists()


def test_folder_errors_name_the_field(client, tenant_a, project_a):
    """An empty name, or a folder moved under itself, is a field error (400), never a 500."""
    sign_in(client, tenant_a)
    response = client.post(reverse("testing:folder-new", args=[project_a.pk]),
                           {"new-folder-name": "", "new-folder-parent": ""})
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    top = folder(project_a, "Top")
    child = folder(project_a, "Child", parent=top)
    prefix = f"folder-{top.pk}"
    response = client.post(reverse("testing:folder", args=[project_a.pk, top.pk]),
                           {f"{prefix}-name": "Top", f"{prefix}-parent": str(child.pk)})
    assert response.status_code == 400
    assert "cannot be moved under itself" in response.content.decode()


def test_folder_depth_limit_is_a_field_error(client, tenant_a, project_a):
    """A sixth level is refused on the parent field."""
    parent = None
    for level in range(5):
        parent = folder(project_a, f"Level {level}", parent=parent)
    sign_in(client, tenant_a)
    response = client.post(reverse("testing:folder-new", args=[project_a.pk]),
                           {"new-folder-name": "Too deep", "new-folder-parent": str(parent.pk)})
    assert response.status_code == 400
    assert "at most 5 levels" in response.content.decode()


def test_move_interface_to_a_folder(client, tenant_a, project_a):
    """The open interface moves to another folder from the tree, and back to none."""
    interface = factories.interface(project_a)
    target = folder(project_a, "Orders")
    sign_in(client, tenant_a)
    move = reverse("testing:interface-move", args=[project_a.pk, interface.pk])
    assert client.post(move, {"move-folder": str(target.pk)}).status_code == 302
    with tenant_context(tenant_a):
        assert Interface.objects.get(pk=interface.pk).folder_id == target.pk
    assert client.post(move, {"move-folder": ""}).status_code == 302
    with tenant_context(tenant_a):
        assert Interface.objects.get(pk=interface.pk).folder_id is None


# ---------------------------------------------------------------------------
# The editor
# ---------------------------------------------------------------------------


def test_create_interface_with_every_table(client, tenant_a, project_a):
    """The editor saves method, URL, query, headers, a JSON body, assertions, extractors."""
    target = folder(project_a, "Orders")
    sign_in(client, tenant_a)
    data = interface_post(
        name="Create order", method="POST", url="/orders/{{shop}}/", folder=str(target.pk),
        body_type="json", body_json='{"sku": "{{sku}}", "count": 2}',
        **rows("query", {"name": "dry_run", "value": "1", "enabled": "on"},
               {"name": "", "value": ""}),
        **rows("headers", {"name": "Authorization", "value": "Bearer {{token}}",
                           "enabled": "on"},
               {"name": "X-Off", "value": "x"}),
        **rows("assertions", {"type": "status_code", "operator": "==",
                              "expected_value": "201", "enabled": "on"},
               {"type": "json", "expression": "$.id", "operator": "exists",
                "expected_value": "", "enabled": "on"},
               {"type": "json", "expression": "$.sku", "operator": "==",
                "expected_value": "{{sku}}", "enabled": "on"}),
        **rows("extractors", {"name": "order_id", "source": "json", "expression": "$.id",
                              "default": ""}),
    )
    response = client.post(reverse("testing:interface-new", args=[project_a.pk]), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    with tenant_context(tenant_a):
        interface = Interface.objects.get(name="Create order")
    assert response.url == edit_url(interface)
    assert interface.folder_id == target.pk
    assert interface.query == [{"name": "dry_run", "value": "1", "enabled": True}]
    assert interface.headers == [
        {"name": "Authorization", "value": "Bearer {{token}}", "enabled": True},
        {"name": "X-Off", "value": "x", "enabled": False}]
    assert interface.body == {"sku": "{{sku}}", "count": 2}
    assert interface.assertions == [
        {"type": "status_code", "operator": "==", "expected_value": 201, "enabled": True},
        {"type": "json", "operator": "exists", "expression": "$.id", "enabled": True},
        {"type": "json", "operator": "==", "expression": "$.sku", "expected_value": "{{sku}}",
         "enabled": True}]
    assert interface.extractors == [{"name": "order_id", "source": "json", "expression": "$.id"}]


def test_editor_marks_variables_and_round_trips(client, tenant_a, project_a):
    """The preview marks each {{variable}}; saving the page unchanged keeps every value."""
    interface = factories.interface(
        project_a, url="/users/{{user_id}}/",
        query=[{"name": "q", "value": "{{name}}", "enabled": True, "description": "search"}],
        headers=[{"name": "Accept", "value": "application/json", "enabled": False}],
        body_type="form", method="POST",
        body=[{"name": "a", "value": "1", "enabled": True}],
        assertions=[{"type": "json", "expression": "$.code", "operator": "==",
                     "expected_value": "200", "description": "a string", "enabled": False}],
        extractors=[{"name": "token", "source": "header", "expression": "X-Token",
                     "default": None, "secret": True}])
    sign_in(client, tenant_a)
    page = client.get(edit_url(interface))
    html = page.content.decode()
    assert '<mark class="var">{{user_id}}</mark>' in html
    assert '<mark class="var">{{name}}</mark>' in html
    tables = page.context["tables"]
    # Post back exactly what the page shows.
    data = {"name": interface.name, "method": "POST", "url": interface.url, "folder": "",
            "description": "", "body_type": "form", "content_type": "", "body_json": "",
            "body_raw": "", "save": "1"}
    for prefix, formset in tables.items():
        data.update(management(prefix, len(formset.forms), len(formset.forms)))
        for row in formset.forms:
            for name, field in row.fields.items():
                value = row.initial.get(name)
                if name in ("enabled", "secret"):
                    if value:
                        data[row.add_prefix(name)] = "on"
                elif name != "DELETE":
                    data[row.add_prefix(name)] = "" if value is None else field.prepare_value(value)
    before = {f: getattr(interface, f) for f in ("query", "headers", "body", "assertions",
                                                  "extractors")}
    response = client.post(edit_url(interface), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    with tenant_context(tenant_a):
        interface.refresh_from_db()
    after = {f: getattr(interface, f) for f in before}
    # Every value kept: "200" stays a string, a null default stays null.
    assert after == before


def test_add_row_without_javascript_redraws_with_one_more_row(client, tenant_a, project_a):
    """"Add a header" posts the form, saves nothing, and shows one more empty row."""
    interface = factories.interface(project_a)
    sign_in(client, tenant_a)
    data = interface_post(name="", add_row="headers")
    data.pop("save")
    response = client.post(edit_url(interface), data)
    assert response.status_code == 200
    assert len(response.context["tables"]["headers"].forms) == 1
    assert "This field is required." not in response.content.decode()
    assert 'data-focus="id_headers-0-name"' in response.content.decode()
    with tenant_context(tenant_a):
        assert Interface.objects.get(pk=interface.pk).name == "List orders"


def test_removed_rows_are_dropped(client, tenant_a, project_a):
    """A row marked "Remove" is left out of the saved list."""
    interface = factories.interface(project_a, headers=[
        {"name": "A", "value": "1", "enabled": True}, {"name": "B", "value": "2",
                                                       "enabled": True}])
    sign_in(client, tenant_a)
    data = interface_post(**rows("headers", {"name": "A", "value": "1", "enabled": "on",
                                             "DELETE": "on"},
                                 {"name": "B", "value": "2", "enabled": "on"}))
    data["headers-INITIAL_FORMS"] = "2"
    assert client.post(edit_url(interface), data).status_code == 302
    with tenant_context(tenant_a):
        assert Interface.objects.get(pk=interface.pk).headers == [
            {"name": "B", "value": "2", "enabled": True}]


def test_bad_assertion_is_a_row_error_with_its_json_path(client, tenant_a, project_a):
    """An assertion missing its expected value: 400, the row names assertions[1]."""
    interface = factories.interface(project_a)
    sign_in(client, tenant_a)
    data = interface_post(**rows(
        "assertions",
        {"type": "status_code", "operator": "==", "expected_value": "200", "enabled": "on"},
        {"type": "json", "expression": "$.id", "operator": "==", "expected_value": "",
         "description": "no value", "enabled": "on"},
        {"type": "json", "expression": "", "operator": ">", "expected_value": "\"x\"",
         "enabled": "on"}))
    response = client.post(edit_url(interface), data)
    assert response.status_code == 400
    assertions = response.context["tables"]["assertions"]
    second = " ".join(assertions.forms[1].non_field_errors())
    assert "assertions[1]" in second and "expected_value" in second
    third = " ".join(assertions.forms[2].non_field_errors())
    assert "assertions[2]" in third
    assert "Some values were not accepted" in response.content.decode()
    with tenant_context(tenant_a):
        assert Interface.objects.get(pk=interface.pk).assertions == []


def test_bad_json_body_names_line_and_column(client, tenant_a, project_a):
    """A JSON body that does not parse is an error on the body with line and column."""
    interface = factories.interface(project_a)
    sign_in(client, tenant_a)
    response = client.post(edit_url(interface), interface_post(
        body_type="json", body_json='{\n  "a": 1,\n}'))
    assert response.status_code == 400
    errors = response.context["form"].errors["body_json"]
    assert "line 3" in errors[0] and "column 1" in errors[0]


def test_other_bad_input_never_500(client, tenant_a, project_a):
    """Unknown method, oversized field, bad extractor name, bad form body: field errors."""
    interface = factories.interface(project_a)
    sign_in(client, tenant_a)
    response = client.post(edit_url(interface), interface_post(
        method="FETCH", url="", name="x" * 300,
        **rows("extractors", {"name": "1bad", "source": "json", "expression": "$.a"}),
        body_type="multipart", **rows("form_body", {"name": "", "value": "orphan"})))
    assert response.status_code == 400
    form = response.context["form"]
    assert form.errors["method"] and form.errors["url"] and form.errors["name"]
    assert response.context["tables"]["form_body"].forms[0].errors["name"]
    response = client.post(edit_url(interface), interface_post(
        **rows("extractors", {"name": "1bad", "source": "json", "expression": "$.a"})))
    assert response.status_code == 400
    row_errors = " ".join(response.context["tables"]["extractors"].forms[0].non_field_errors())
    assert "extractors[0].name" in row_errors
    # A management form that is missing altogether.
    response = client.post(edit_url(interface), {"name": "x", "method": "GET", "url": "/"})
    assert response.status_code == 400


def test_raw_body_and_content_type(client, tenant_a, project_a):
    """A raw body keeps its text and content type."""
    interface = factories.interface(project_a)
    sign_in(client, tenant_a)
    response = client.post(edit_url(interface), interface_post(
        method="POST", body_type="raw", body_raw="<a>{{x}}</a>", content_type="text/xml"))
    assert response.status_code == 302
    with tenant_context(tenant_a):
        interface.refresh_from_db()
    assert interface.body == "<a>{{x}}</a>" and interface.content_type == "text/xml"


def test_delete_interface_and_refusal_while_a_step_sends_it(client, tenant_a, project_a):
    """An interface a scenario step sends is not deleted; the page says why."""
    used = factories.interface(project_a, "Used")
    free = factories.interface(project_a, "Free")
    scenario = factories.scenario(project_a)
    factories.step(scenario, kind="interface", interface=used)
    sign_in(client, tenant_a)
    response = client.post(reverse("testing:interface-delete", args=[project_a.pk, used.pk]),
                           follow=True)
    assert "Remove those steps first" in response.content.decode()
    response = client.post(reverse("testing:interface-delete", args=[project_a.pk, free.pk]))
    assert response.status_code == 302
    with tenant_context(tenant_a):
        assert Interface.objects.filter(pk=used.pk).exists()
        assert not Interface.objects.filter(pk=free.pk).exists()
        assert Scenario.objects.count() == 1 and ScenarioStep.objects.count() == 1


def test_new_interface_in_a_folder_from_the_tree(client, tenant_a, project_a):
    """?folder= preselects the folder of the new interface."""
    target = folder(project_a, "Orders")
    sign_in(client, tenant_a)
    page = client.get(reverse("testing:interface-new", args=[project_a.pk])
                      + f"?folder={target.pk}")
    assert page.status_code == 200
    assert page.context["form"]["folder"].value() == target.pk
    page = client.get(reverse("testing:interface-new", args=[project_a.pk]) + "?folder=nope")
    assert page.status_code == 200


def duplicate_ids(html: str) -> list[str]:
    """Return the ids that appear more than once outside <template> elements."""
    from html.parser import HTMLParser

    class Ids(HTMLParser):
        def __init__(self):
            super().__init__()
            self.depth = 0
            self.seen: list[str] = []

        def handle_starttag(self, tag, attrs):
            if tag == "template":
                self.depth += 1
            elif not self.depth:
                self.seen += [value for name, value in attrs if name == "id"]

        def handle_endtag(self, tag):
            if tag == "template":
                self.depth -= 1

    parser = Ids()
    parser.feed(html)
    return sorted({i for i in parser.seen if parser.seen.count(i) > 1})


def test_every_input_has_a_label_and_ids_are_unique(client, tenant_a, project_a):
    """Screen-reader basics of the editor: unique ids, a label for every visible input."""
    import re

    top = folder(project_a, "Accounts")
    interface = factories.interface(project_a, folder=top, headers=[
        {"name": "A", "value": "1", "enabled": True}])
    sign_in(client, tenant_a)
    html = client.get(edit_url(interface)).content.decode()
    assert duplicate_ids(html) == []
    outside = re.sub(r"<template.*?</template>", "", html, flags=re.S)
    inputs = re.findall(
        r'<(?:input|select|textarea)(?![^>]*type="hidden")[^>]*\bid="([^"]+)"', outside)
    labelled = set(re.findall(r'<label[^>]*\bfor="([^"]+)"', outside))
    assert inputs and [i for i in inputs if i not in labelled] == []
