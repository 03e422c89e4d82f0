"""Tenant dictionaries: the models, the cached lookup, the template tags and the admin.

Both tenants hold a ``user_status`` dictionary with the same values and different labels
("Alpha active", "Beta active"), so a leak between tenants shows in every assertion.
"""

from __future__ import annotations

import dataclasses

import pytest
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.template import Context, Template
from django.urls import reverse

from core import rls
from core.context import (
    TenantContextMissing,
    TenantScope,
    all_tenants,
    scope_context,
    tenant_context,
)
from rbac.catalogue import actions_of, code_for
from rbac.models import Permission
from rbac.services import assign_roles, ensure_admin_role
from tenants import dictionaries
from tenants.dictionaries import DictItem, dictionary_items, dictionary_label
from tenants.models import Dictionary, DictionaryItem, DictionaryStatus

pytestmark = pytest.mark.django_db

# The dictionary changelist's query count must not depend on how many rows it lists: the
# bound is the count measured with 3 rows plus a slack of 1, and must hold for 30 rows.
MAX_QUERIES_DICTIONARY_CHANGELIST = 7  # measured: 5 (tenant administrator), 6 (operator)


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def grant_dictionary_permissions(user) -> None:
    """Let ``user`` manage dictionaries and their items.

    Permissions come from RBAC: the codes go into the tenant's package and its
    administrator role, and the user gets that role. Kept in this one place so that a change
    in how permissions are granted touches only this function.
    """
    codes = [
        code_for(model, action)
        for model in (Dictionary, DictionaryItem)
        for action in actions_of(model)
    ]
    user.tenant.package.permissions.add(*Permission.objects.filter(code__in=codes))
    assign_roles(user=user, roles=[ensure_admin_role(user.tenant)])
    user.refresh_from_db()
    assert user.has_perm("tenants.change_dictionary")
    assert user.has_perm("tenants.add_dictionaryitem")


@pytest.fixture(autouse=True)
def empty_cache():
    """Start every test with an empty cache, so no entry of an earlier test is reused."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def client_a(client, admin_a):
    """A test client signed in as tenant A's administrator, allowed to manage dictionaries."""
    grant_dictionary_permissions(admin_a)
    client.force_login(admin_a)
    return client


def make_dictionary(tenant, dict_type: str = "user_status", items=None, **fields) -> Dictionary:
    """Create a dictionary of ``tenant`` with ``items``: (label, value, sort_order, ...) rows.

    By default the items are active, inactive and locked statuses labelled with the tenant's
    name, given out of sort order.
    """
    name = tenant.name.split()[0]
    if items is None:
        items = [
            (f"{name} inactive", "inactive", 20),
            (f"{name} active", "active", 10, {"is_default": True}),
            (f"{name} locked", "locked", 30),
        ]
    fields.setdefault("name", f"{name} statuses")
    with tenant_context(tenant):
        dictionary = Dictionary.objects.create(type=dict_type, **fields)
        for label, value, sort_order, *extra in items:
            DictionaryItem.objects.create(
                dictionary=dictionary,
                label=label,
                value=value,
                sort_order=sort_order,
                **(extra[0] if extra else {}),
            )
    return dictionary


def item_of(dictionary: Dictionary, value: str) -> DictionaryItem:
    """Return the live item of ``dictionary`` with ``value``."""
    return DictionaryItem.objects.all_tenants().get(dictionary=dictionary, value=value)


def values_of(tenant, dict_type: str = "user_status") -> list[str]:
    """Return the values ``dictionary_items`` gives for ``tenant``."""
    with tenant_context(tenant):
        return [item.value for item in dictionary_items(dict_type)]


def labels_of(tenant, dict_type: str = "user_status") -> list[str]:
    """Return the labels ``dictionary_items`` gives for ``tenant``."""
    with tenant_context(tenant):
        return [item.label for item in dictionary_items(dict_type)]


def request_scope(response) -> TenantScope:
    """Return the tenant scope the middleware set for the request behind ``response``."""
    return response.wsgi_request.tenant_scope


def listed(response) -> list:
    """Return the rows of a changelist response, evaluated under the request's scope."""
    with scope_context(request_scope(response)):
        return list(response.context["cl"].result_list)


def form_errors(response) -> dict:
    """Return the errors of the admin form rendered in ``response``."""
    return response.context["adminform"].form.errors


def inline_errors(response) -> list:
    """Return the errors of the item inline rendered in ``response``."""
    formset = response.context["inline_admin_formsets"][0].formset
    return [*formset.non_form_errors(), *[e for e in formset.errors if e]]


def dictionary_data(dict_type: str, items=(), existing=(), dictionary=None, **overrides) -> dict:
    """Return a POST of the dictionary add/change form with its item inline.

    ``items`` are new rows as (label, value, sort_order); ``existing`` are the dictionary's
    current items, posted unchanged unless a dict of overrides follows one.
    """
    data = {
        "type": dict_type,
        "name": f"Dictionary {dict_type}",
        "status": "active",
        "description": "",
        "items-TOTAL_FORMS": str(len(existing) + len(items)),
        "items-INITIAL_FORMS": str(len(existing)),
        "items-MIN_NUM_FORMS": "0",
        "items-MAX_NUM_FORMS": "1000",
    }
    parent = str(dictionary.pk) if dictionary is not None else ""
    rows = [
        (index, row if isinstance(row, tuple) else (row, {}))
        for index, row in enumerate(existing)
    ]
    for index, (item, changes) in rows:
        data.update(
            {
                f"items-{index}-id": str(item.pk),
                f"items-{index}-dictionary": parent,
                f"items-{index}-label": item.label,
                f"items-{index}-value": item.value,
                f"items-{index}-sort_order": str(item.sort_order),
                f"items-{index}-status": item.status,
            }
        )
        if item.is_default:
            data[f"items-{index}-is_default"] = "on"
        data.update({f"items-{index}-{key}": value for key, value in changes.items()})
    for offset, (label, value, sort_order) in enumerate(items):
        index = len(existing) + offset
        data.update(
            {
                f"items-{index}-id": "",
                f"items-{index}-dictionary": parent,
                f"items-{index}-label": label,
                f"items-{index}-value": value,
                f"items-{index}-sort_order": str(sort_order),
                f"items-{index}-status": "active",
            }
        )
    data.update(overrides)
    return data


# ---------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------


def test_dictionary_type_is_unique_among_a_tenants_live_dictionaries(tenant_a):
    """A second live dictionary of the same type in one tenant is refused, by validation
    and by the database; types compare case-insensitively."""
    make_dictionary(tenant_a)

    with tenant_context(tenant_a):
        duplicate = Dictionary(tenant=tenant_a, type="User_Status", name="Again")
        with pytest.raises(ValidationError) as exc:
            duplicate.full_clean()
        assert "A dictionary of this type already exists." in exc.value.messages
        with pytest.raises(IntegrityError), transaction.atomic():
            Dictionary.objects.create(type="USER_STATUS", name="Again")


def test_same_dictionary_type_in_two_tenants(tenant_a, tenant_b):
    """Two tenants may each have a dictionary of the same type."""
    first = make_dictionary(tenant_a)
    second = make_dictionary(tenant_b)

    assert (first.type, second.type) == ("user_status", "user_status")
    assert first.tenant_id != second.tenant_id


def test_soft_deleting_a_dictionary_frees_its_type(tenant_a):
    """Once a dictionary is soft-deleted, a new one of the same type can be created, and
    the deleted one cannot be restored over it."""
    old = make_dictionary(tenant_a)

    with tenant_context(tenant_a):
        old.delete()
        new = Dictionary.objects.create(type="user_status", name="New statuses")
        with pytest.raises(ValidationError):
            old.restore()

    assert Dictionary.objects.all_tenants(include_deleted=True).get(pk=old.pk).is_deleted
    assert not new.is_deleted


def test_item_value_is_unique_among_a_dictionarys_live_items(tenant_a):
    """A dictionary holds a value once among its live items; another dictionary of the
    tenant may hold it too, and a soft-deleted item frees it."""
    statuses = make_dictionary(tenant_a)
    other = make_dictionary(tenant_a, "account_status", items=[("Active", "active", 0)])

    with tenant_context(tenant_a):
        duplicate = DictionaryItem(tenant=tenant_a, dictionary=statuses, label="X", value="active")
        with pytest.raises(ValidationError) as exc:
            duplicate.full_clean()
        assert "This dictionary already has an item with this value." in exc.value.messages
        with pytest.raises(IntegrityError), transaction.atomic():
            DictionaryItem.objects.create(dictionary=statuses, label="X", value="active")

        item_of(statuses, "active").delete()
        DictionaryItem.objects.create(dictionary=statuses, label="Active again", value="active")

    assert item_of(other, "active").label == "Active"
    assert item_of(statuses, "active").label == "Active again"


@pytest.mark.parametrize("by_instance", [True, False], ids=["instance", "id"])
def test_item_of_another_tenants_dictionary_is_refused(tenant_a, tenant_b, by_instance):
    """An item must belong to its dictionary's tenant: validation refuses another's."""
    dictionary_a = make_dictionary(tenant_a)
    reference = (
        {"dictionary": dictionary_a} if by_instance else {"dictionary_id": dictionary_a.pk}
    )

    with tenant_context(tenant_b):
        item = DictionaryItem(tenant=tenant_b, label="Stolen", value="stolen", **reference)
        with pytest.raises(ValidationError) as exc:
            item.full_clean()

    errors = exc.value.message_dict["dictionary"]
    if rls.enabled():
        # The database hides tenant A's dictionary from tenant B's scope: Django's own
        # foreign key check finds no such row, and that is the one error.
        assert errors in (["Choose a record of the same tenant."],
                          [f"dictionary instance with id {dictionary_a.pk!r} is not a valid "
                           "choice."])
    else:
        assert errors == ["Choose a record of the same tenant."]


# ---------------------------------------------------------------------------
# Lookup helper
# ---------------------------------------------------------------------------


def test_items_come_in_sort_order(tenant_a):
    """``dictionary_items`` returns the items in sort order, as label/value/default."""
    make_dictionary(tenant_a)

    with tenant_context(tenant_a):
        items = dictionary_items("user_status")

    assert items == [
        DictItem(label="Alpha active", value="active", is_default=True),
        DictItem(label="Alpha inactive", value="inactive", is_default=False),
        DictItem(label="Alpha locked", value="locked", is_default=False),
    ]
    with pytest.raises(dataclasses.FrozenInstanceError):
        items[0].label = "changed"


def test_items_of_equal_sort_order_come_in_creation_order(tenant_a):
    """Items of the same sort order keep the order they were created in."""
    make_dictionary(tenant_a, items=[("Zed", "z", 0), ("Alf", "a", 0), ("Mid", "m", 0)])

    assert values_of(tenant_a) == ["z", "a", "m"]


def test_inactive_items_are_not_offered_but_keep_their_label(tenant_a):
    """An inactive item is left out of the items, while its label still resolves (records
    may still hold its value)."""
    dictionary = make_dictionary(tenant_a)
    with tenant_context(tenant_a):
        locked = item_of(dictionary, "locked")
        locked.status = DictionaryStatus.INACTIVE
        locked.save()

        assert [item.value for item in dictionary_items("user_status")] == ["active", "inactive"]
        assert dictionary_label("user_status", "locked") == "Alpha locked"


@pytest.mark.parametrize("change", ["inactive", "deleted"])
def test_inactive_or_deleted_dictionary_offers_nothing(tenant_a, change):
    """An inactive or soft-deleted dictionary has no items and no labels."""
    dictionary = make_dictionary(tenant_a)
    with tenant_context(tenant_a):
        if change == "inactive":
            dictionary.status = DictionaryStatus.INACTIVE
            dictionary.save()
        else:
            dictionary.delete()

        assert dictionary_items("user_status") == []
        assert dictionary_label("user_status", "active") == "active"
        assert dictionary_label("user_status", "active", "?") == "?"


def test_missing_dictionary_has_no_items(tenant_a):
    """An unknown type, or one that is not even a code, has no items and no labels."""
    with tenant_context(tenant_a):
        assert dictionary_items("nope") == []
        assert dictionary_items("not a code!") == []
        assert dictionary_label("nope", "x") == "x"


def test_label_lookup(tenant_a):
    """``dictionary_label`` returns the label of a value (given as any type), else the default,
    else the value itself; ``None`` has no label."""
    make_dictionary(tenant_a, "priority", items=[("Low", "1", 0), ("High", "2", 1)])

    with tenant_context(tenant_a):
        assert dictionary_label("priority", "2") == "High"
        assert dictionary_label("priority", 1) == "Low"
        assert dictionary_label("PRIORITY", 1) == "Low"
        assert dictionary_label("priority", 9) == "9"
        assert dictionary_label("priority", 9, default="Unknown") == "Unknown"
        assert dictionary_label("priority", None) == ""
        assert dictionary_label("priority", None, default="-") == "-"


def test_second_lookup_is_served_from_the_cache(tenant_a, django_assert_num_queries):
    """The first lookup reads the database once; later ones, items or labels, do not."""
    make_dictionary(tenant_a)

    with tenant_context(tenant_a):
        with django_assert_num_queries(1):
            first = dictionary_items("user_status")
        with django_assert_num_queries(0):
            second = dictionary_items("user_status")
            label = dictionary_label("user_status", "locked")

    assert first == second
    assert label == "Alpha locked"


def test_missing_dictionary_is_cached_too(tenant_a, django_assert_num_queries):
    """A type with no dictionary is remembered as empty, until a dictionary is created."""
    with tenant_context(tenant_a):
        assert dictionary_items("priority") == []
        with django_assert_num_queries(0):
            assert dictionary_items("priority") == []
    make_dictionary(tenant_a, "priority", items=[("Low", "1", 0)])

    assert values_of(tenant_a, "priority") == ["1"]


def _rename_item(dictionary):
    item = item_of(dictionary, "active")
    item.label = "Renamed"
    item.save()


def _add_item(dictionary):
    DictionaryItem.objects.create(dictionary=dictionary, label="Added", value="added", sort_order=0)


def _soft_delete_item(dictionary):
    item_of(dictionary, "active").delete()


def _hard_delete_item(dictionary):
    item_of(dictionary, "active").hard_delete()


def _soft_delete_items_in_bulk(dictionary):
    DictionaryItem.objects.filter(dictionary=dictionary, value="active").delete()


def _update_items_in_bulk(dictionary):
    DictionaryItem.objects.filter(dictionary=dictionary, value="active").update(label="Renamed")


def _bulk_create_item(dictionary):
    DictionaryItem.objects.bulk_create(
        [DictionaryItem(tenant_id=dictionary.tenant_id, dictionary=dictionary, label="Added",
                        value="added", sort_order=0)]
    )


def _deactivate_dictionary(dictionary):
    dictionary.status = DictionaryStatus.INACTIVE
    dictionary.save()


def _soft_delete_dictionary(dictionary):
    dictionary.delete()


def _hard_delete_dictionary(dictionary):
    dictionary.hard_delete()


def _retype_dictionary(dictionary):
    dictionary.type = "account_status"
    dictionary.save()


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (_rename_item, ["Renamed", "Alpha inactive", "Alpha locked"]),
        (_add_item, ["Added", "Alpha active", "Alpha inactive", "Alpha locked"]),
        (_soft_delete_item, ["Alpha inactive", "Alpha locked"]),
        (_hard_delete_item, ["Alpha inactive", "Alpha locked"]),
        (_soft_delete_items_in_bulk, ["Alpha inactive", "Alpha locked"]),
        (_update_items_in_bulk, ["Renamed", "Alpha inactive", "Alpha locked"]),
        (_bulk_create_item, ["Added", "Alpha active", "Alpha inactive", "Alpha locked"]),
        (_deactivate_dictionary, []),
        (_soft_delete_dictionary, []),
        (_hard_delete_dictionary, []),
        (_retype_dictionary, []),
    ],
    ids=lambda value: value.__name__.strip("_") if callable(value) else None,
)
def test_a_write_invalidates_the_cached_lookup_at_once(tenant_a, change, expected):
    """Saving, deleting (soft or hard, one row or in bulk) a dictionary or an item shows in
    the very next lookup."""
    dictionary = make_dictionary(tenant_a)
    assert labels_of(tenant_a) == ["Alpha active", "Alpha inactive", "Alpha locked"]

    with tenant_context(tenant_a):
        change(dictionary)

    assert labels_of(tenant_a) == expected


def test_restoring_a_dictionary_brings_its_items_back(tenant_a):
    """Soft delete leaves the items as they were: restoring the dictionary offers them again."""
    dictionary = make_dictionary(tenant_a)
    with tenant_context(tenant_a):
        dictionary.delete()
        assert dictionary_items("user_status") == []
        dictionary.restore()

    assert values_of(tenant_a) == ["active", "inactive", "locked"]


def test_commit_drops_what_was_cached_before_it(tenant_a, django_capture_on_commit_callbacks):
    """An entry cached between a write and its commit (a concurrent reader still seeing the
    old rows) is not believed once the transaction commits."""
    dictionary = make_dictionary(tenant_a)
    with tenant_context(tenant_a):
        dictionary_items("user_status")
        stale = cache.get(dictionaries._entry_key(tenant_a.pk, "user_status"))

        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            _rename_item(dictionary)
            # A concurrent reader loads the old rows and stamps them with the new version.
            version = cache.get(dictionaries._version_key(tenant_a.pk))
            cache.set(
                dictionaries._entry_key(tenant_a.pk, "user_status"),
                dataclasses.replace(stale, version=version),
            )
            assert dictionary_label("user_status", "active") == "Alpha active"

        assert callbacks
        assert dictionary_label("user_status", "active") == "Renamed"


def test_lookup_without_a_tenant_fails_closed(tenant_a):
    """With no tenant in context the lookup raises instead of guessing a tenant."""
    make_dictionary(tenant_a)

    with pytest.raises(TenantContextMissing):
        dictionary_items("user_status")
    with pytest.raises(TenantContextMissing):
        dictionary_label("user_status", "active")


def test_operator_scope_must_name_the_tenant(tenant_a, tenant_b):
    """Under an all-tenants scope the lookup needs an explicit tenant, and then reads it."""
    make_dictionary(tenant_a)
    make_dictionary(tenant_b)

    with all_tenants():
        with pytest.raises(TenantContextMissing):
            dictionary_items("user_status")
        assert dictionary_label("user_status", "active", tenant=tenant_b) == "Beta active"
        assert dictionary_label("user_status", "active", tenant=str(tenant_a.pk)) == "Alpha active"


def test_a_tenant_cannot_name_another_tenant(tenant_a, tenant_b):
    """Under one tenant's scope, asking for another tenant's dictionary is refused."""
    make_dictionary(tenant_b)

    with tenant_context(tenant_a), pytest.raises(PermissionDenied):
        dictionary_items("user_status", tenant=tenant_b)


def test_tenants_never_see_each_others_items(tenant_a, tenant_b):
    """Each tenant reads its own dictionary of a type, cached or not, and a write in one
    tenant leaves the other's entry alone."""
    dictionary_a = make_dictionary(tenant_a)
    make_dictionary(tenant_b)
    make_dictionary(tenant_a, "priority", items=[("Alpha only", "1", 0)])

    for _ in range(2):  # the second round comes from the cache
        assert labels_of(tenant_a) == ["Alpha active", "Alpha inactive", "Alpha locked"]
        assert labels_of(tenant_b) == ["Beta active", "Beta inactive", "Beta locked"]
        assert values_of(tenant_b, "priority") == []

    with tenant_context(tenant_a):
        _rename_item(dictionary_a)
    assert labels_of(tenant_b) == ["Beta active", "Beta inactive", "Beta locked"]
    assert labels_of(tenant_a)[0] == "Renamed"


# ---------------------------------------------------------------------------
# Template tags
# ---------------------------------------------------------------------------


def render(source: str, **context) -> str:
    """Render ``source`` after ``{% load dictionaries %}``."""
    return Template("{% load dictionaries %}" + source).render(Context(context))


def test_dict_label_tag_renders_the_label(tenant_a, tenant_b):
    """``{% dict_label %}`` prints the label of the tenant in context, or the fallbacks."""
    make_dictionary(tenant_a)
    make_dictionary(tenant_b)

    with tenant_context(tenant_a):
        assert render('{% dict_label "user_status" status %}', status="locked") == "Alpha locked"
        assert render('{% dict_label "user_status" status "?" %}', status="gone") == "?"
        assert render('{% dict_label "user_status" status %}', status="gone") == "gone"
    with tenant_context(tenant_b):
        assert render('{% dict_label "user_status" "locked" %}') == "Beta locked"


def test_dict_label_tag_escapes_the_label(tenant_a):
    """Labels are tenant input: the tag escapes them like any variable."""
    make_dictionary(tenant_a, "tags", items=[("<b>bold</b>", "b", 0)])

    with tenant_context(tenant_a):
        assert render('{% dict_label "tags" "b" %}') == "&lt;b&gt;bold&lt;/b&gt;"


def test_dict_items_tag_gives_the_items_for_a_loop(tenant_a):
    """``{% dict_items ... as items %}`` gives the active items in order."""
    make_dictionary(tenant_a)
    source = (
        '{% dict_items "user_status" as items %}'
        "{% for item in items %}{{ item.value }}={{ item.label }}"
        "{% if item.is_default %}*{% endif %};{% endfor %}"
    )

    with tenant_context(tenant_a):
        rendered = render(source)

    assert rendered == "active=Alpha active*;inactive=Alpha inactive;locked=Alpha locked;"


def test_tags_fail_closed_without_a_tenant(tenant_a):
    """Rendering a dictionary tag with no tenant in context raises."""
    make_dictionary(tenant_a)

    with pytest.raises(TenantContextMissing):
        render('{% dict_label "user_status" "active" %}')
    with pytest.raises(TenantContextMissing):
        render('{% dict_items "user_status" as items %}')


def test_tags_take_an_explicit_tenant_under_the_operator_scope(tenant_a, tenant_b):
    """Under an all-tenants scope the tags read the tenant they are given."""
    make_dictionary(tenant_b)

    with all_tenants():
        rendered = render('{% dict_label "user_status" "active" tenant=t %}', t=tenant_b)

    assert rendered == "Beta active"


# ---------------------------------------------------------------------------
# Admin
# ---------------------------------------------------------------------------


def test_tenant_admin_lists_only_own_dictionaries(client_a, tenant_a, tenant_b):
    """A tenant administrator's changelist holds their tenant's dictionaries only."""
    mine = make_dictionary(tenant_a)
    make_dictionary(tenant_b)

    response = client_a.get(reverse("admin:tenants_dictionary_changelist"))

    assert response.status_code == 200
    assert [row.pk for row in listed(response)] == [mine.pk]
    content = response.content.decode()
    assert "Alpha statuses" in content and "Beta statuses" not in content
    assert "tenant" not in response.context["cl"].list_display


def test_tenant_admin_changelist_filters_and_searches(client_a, tenant_a, tenant_b):
    """The status filter and the search stay inside the tenant."""
    make_dictionary(tenant_a)
    inactive = make_dictionary(tenant_a, "priority", items=[], status="inactive")
    make_dictionary(tenant_b, "priority", items=[], status="inactive")
    url = reverse("admin:tenants_dictionary_changelist")

    by_status = client_a.get(url, {"status__exact": "inactive"})
    by_search = client_a.get(url, {"q": "priority"})

    assert [row.pk for row in listed(by_status)] == [inactive.pk]
    assert [row.pk for row in listed(by_search)] == [inactive.pk]


def test_tenant_admin_cannot_open_another_tenants_dictionary(client_a, tenant_b):
    """Another tenant's dictionary answers as if it did not exist."""
    theirs = make_dictionary(tenant_b)

    response = client_a.get(reverse("admin:tenants_dictionary_change", args=[theirs.pk]))

    assert response.status_code == 302
    assert response.url == reverse("admin:index")


def test_tenant_admin_adds_a_dictionary_with_items_in_own_tenant(client_a, tenant_a):
    """A dictionary and its inline items created by a tenant administrator belong to the
    administrator's tenant, and the lookup sees them."""
    response = client_a.post(
        reverse("admin:tenants_dictionary_add"),
        dictionary_data("user_status", items=[("On", "on", 2), ("Off", "off", 1)]),
    )

    assert response.status_code == 302, (form_errors(response), inline_errors(response))
    dictionary = Dictionary.objects.all_tenants().get(type="user_status")
    items = DictionaryItem.objects.all_tenants().filter(dictionary=dictionary)
    assert dictionary.tenant_id == tenant_a.pk
    assert {item.tenant_id for item in items} == {tenant_a.pk}
    assert values_of(tenant_a) == ["off", "on"]


def test_tenant_admin_edits_and_deletes_items_inline(client_a, tenant_a):
    """Changing an item inline shows in the lookup at once; deleting one soft-deletes it."""
    dictionary = make_dictionary(tenant_a)
    assert labels_of(tenant_a)[0] == "Alpha active"
    with tenant_context(tenant_a):
        active, inactive, locked = DictionaryItem.objects.filter(dictionary=dictionary)

    response = client_a.post(
        reverse("admin:tenants_dictionary_change", args=[dictionary.pk]),
        dictionary_data(
            "user_status",
            existing=[(active, {"label": "Enabled"}), inactive, (locked, {"DELETE": "on"})],
            dictionary=dictionary,
        ),
    )

    assert response.status_code == 302, (form_errors(response), inline_errors(response))
    assert labels_of(tenant_a) == ["Enabled", "Alpha inactive"]
    assert DictionaryItem.objects.all_tenants(include_deleted=True).get(pk=locked.pk).is_deleted


def test_duplicate_item_value_is_a_form_error(client_a, tenant_a, tenant_b):
    """A value already used in the dictionary, or twice in one post, is an inline error."""
    dictionary = make_dictionary(tenant_a)
    make_dictionary(tenant_b, "priority", items=[("High", "high", 0)])
    with tenant_context(tenant_a):
        existing = list(DictionaryItem.objects.filter(dictionary=dictionary))
    url = reverse("admin:tenants_dictionary_change", args=[dictionary.pk])

    taken = client_a.post(
        url, dictionary_data("user_status", existing=existing, items=[("Again", "active", 0)],
                             dictionary=dictionary)
    )
    twice = client_a.post(
        reverse("admin:tenants_dictionary_add"),
        dictionary_data("priority", items=[("High", "high", 0), ("Higher", "high", 1)]),
    )

    assert taken.status_code == 200
    assert "This dictionary already has an item with this value." in str(inline_errors(taken))
    assert twice.status_code == 200
    assert inline_errors(twice)
    assert not Dictionary.objects.all_tenants().filter(tenant=tenant_a, type="priority").exists()


def test_tenant_admin_type_taken_in_own_tenant_is_a_form_error(client_a, tenant_a, tenant_b):
    """A type taken in the tenant is a form error; one taken only by another tenant is not."""
    make_dictionary(tenant_a)
    make_dictionary(tenant_b, "priority", items=[])
    url = reverse("admin:tenants_dictionary_add")

    taken = client_a.post(url, dictionary_data("user_status"))
    free = client_a.post(url, dictionary_data("priority"))

    assert taken.status_code == 200
    assert "A dictionary of this type already exists." in str(form_errors(taken))
    assert free.status_code == 302, form_errors(free)


def test_operator_lists_every_tenants_dictionaries(operator_client, tenant_a, tenant_b):
    """A platform operator sees every tenant's dictionaries, with a tenant column and filter."""
    first = make_dictionary(tenant_a)
    second = make_dictionary(tenant_b)
    url = reverse("admin:tenants_dictionary_changelist")

    response = operator_client.get(url)
    narrowed = operator_client.get(url, {"tenant__id__exact": str(tenant_b.pk)})

    assert {row.pk for row in listed(response)} == {first.pk, second.pk}
    assert "tenant" in response.context["cl"].list_display
    assert [row.pk for row in listed(narrowed)] == [second.pk]


def test_operator_must_choose_the_tenant(operator_client, tenant_b):
    """An operator adding a dictionary must choose its tenant: without one nothing is made."""
    url = reverse("admin:tenants_dictionary_add")
    form = operator_client.get(url).context["adminform"].form
    assert form.fields["tenant"].required
    assert form.fields["tenant"].initial is None

    response = operator_client.post(url, dictionary_data("user_status", items=[("On", "on", 0)]))

    assert response.status_code == 200
    assert "tenant" in form_errors(response)
    assert not Dictionary.objects.all_tenants().exists()
    assert not DictionaryItem.objects.all_tenants().exists()


def test_operator_adds_a_dictionary_with_items_for_tenant_b(operator_client, tenant_a, tenant_b):
    """The dictionary and its inline items go to the tenant the operator chose."""
    response = operator_client.post(
        reverse("admin:tenants_dictionary_add"),
        dictionary_data("user_status", items=[("On", "on", 0), ("Off", "off", 1)],
                        tenant=str(tenant_b.pk)),
    )

    assert response.status_code == 302, (form_errors(response), inline_errors(response))
    dictionary = Dictionary.objects.all_tenants().get(type="user_status")
    items = DictionaryItem.objects.all_tenants().filter(dictionary=dictionary)
    assert dictionary.tenant_id == tenant_b.pk
    assert sorted((item.value, item.tenant_id) for item in items) == [
        ("off", tenant_b.pk), ("on", tenant_b.pk)
    ]
    assert values_of(tenant_b) == ["on", "off"]
    assert values_of(tenant_a) == []


def test_operator_adds_items_to_a_tenants_dictionary(operator_client, tenant_b):
    """Items the operator adds to an existing dictionary take the dictionary's tenant, and
    uniqueness is checked within it."""
    dictionary = make_dictionary(tenant_b)
    with all_tenants():
        existing = list(DictionaryItem.objects.filter(dictionary=dictionary))
    url = reverse("admin:tenants_dictionary_change", args=[dictionary.pk])

    taken = operator_client.post(
        url, dictionary_data("user_status", existing=existing, items=[("X", "locked", 0)],
                             dictionary=dictionary)
    )
    added = operator_client.post(
        url, dictionary_data("user_status", existing=existing, items=[("New", "new", 99)],
                             dictionary=dictionary)
    )

    assert taken.status_code == 200
    assert "This dictionary already has an item with this value." in str(inline_errors(taken))
    assert added.status_code == 302, (form_errors(added), inline_errors(added))
    assert item_of(dictionary, "new").tenant_id == tenant_b.pk
    assert values_of(tenant_b)[-1] == "new"


@pytest.mark.parametrize("rows", [3, 30])
@pytest.mark.parametrize("who", ["tenant_admin", "operator"])
def test_dictionary_changelist_query_count_is_constant(
    request, tenant_a, tenant_b, rows, who, django_assert_max_num_queries
):
    """The dictionary changelist runs a fixed number of queries, however many it lists."""
    client = request.getfixturevalue("client_a" if who == "tenant_admin" else "operator_client")
    for index in range(rows):
        make_dictionary(tenant_a, f"type{index:02d}", items=[("One", "1", 0), ("Two", "2", 1)])

    client.get(reverse("admin:tenants_dictionary_changelist"))  # warm-up: permission cache
    with django_assert_max_num_queries(MAX_QUERIES_DICTIONARY_CHANGELIST):
        response = client.get(reverse("admin:tenants_dictionary_changelist"))

    assert len(listed(response)) == rows
    assert {row.live_item_count for row in listed(response)} == {2}
