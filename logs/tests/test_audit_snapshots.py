"""The old values of an update come from the loaded instance, without reading the row again.

``logs.audit`` remembers what an audited model instance was loaded (or saved, or refreshed)
with inside the current audit context. These tests hold that the diff stays right in every
case where that memory could be wrong, and that it saves the read where it is right.
"""

from __future__ import annotations

import copy
import pickle

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Position
from core.context import all_tenants, tenant_context
from logs import audit
from logs.models import AuditLog
from tenants.models import Tenant

pytestmark = pytest.mark.django_db


def updates(entity) -> list[AuditLog]:
    """Return the update rows written for ``entity``, oldest first."""
    with all_tenants():
        return list(AuditLog.objects.filter(
            entity_type=entity._meta.label_lower, entity_id=str(entity.pk), action="update",
        ).order_by("id"))


def diffs(entity) -> list[tuple[dict, dict]]:
    """Return the (old, new) values of ``entity``'s update rows, oldest first."""
    return [(row.old_value, row.new_value) for row in updates(entity)]


def test_an_instance_loaded_in_the_context_is_saved_without_reading_it_again(org_a, tenant_a):
    """Saving a position loaded in the audit context sends the UPDATE only, no SELECT."""
    with audit.audit_context() as state, tenant_context(tenant_a):
        position = Position.objects.get(pk=org_a["position"].pk)
        position.name = "Lead developer"
        with CaptureQueriesContext(connection) as queries:
            position.save()
        audit.flush_audit(state)
    statements = [q["sql"].split()[0].upper() for q in queries.captured_queries]
    assert "SELECT" not in statements, statements
    assert diffs(position) == [({"name": "Alpha Developer"}, {"name": "Lead developer"})]


def test_an_instance_loaded_outside_the_context_is_read_again(org_a, tenant_a):
    """A position loaded before the context began is diffed against the stored row."""
    position = org_a["position"]  # loaded (created) before the audit context
    with tenant_context(tenant_a):
        Position.objects.filter(pk=position.pk).update(name="Changed meanwhile")
    with audit.audit_context() as state, tenant_context(tenant_a):
        position.name = "Mine"
        position.save()
        audit.flush_audit(state)
    assert diffs(position) == [({"name": "Changed meanwhile"}, {"name": "Mine"})]


def test_json_changed_in_place_is_in_the_diff(tenant_a):
    """A JSON value changed in place differs from the value as loaded."""
    Tenant.objects.filter(pk=tenant_a.pk).update(settings={"theme": "light"})
    with audit.audit_context() as state:
        tenant = Tenant.objects.get(pk=tenant_a.pk)
        tenant.settings["theme"] = "dark"
        tenant.save()
        audit.flush_audit(state)
    assert diffs(tenant) == [({"settings": {"theme": "light"}}, {"settings": {"theme": "dark"}})]


def test_a_second_save_is_diffed_against_the_first(org_a, tenant_a):
    """Two saves in one request record two steps, the second from where the first left off."""
    with audit.audit_context() as state, tenant_context(tenant_a):
        position = Position.objects.get(pk=org_a["position"].pk)
        position.name = "Step one"
        position.save()
        position.name = "Step two"
        position.sort_order = 7
        position.save(update_fields=["name", "sort_order"])
        audit.flush_audit(state)
    assert diffs(position) == [
        ({"name": "Alpha Developer"}, {"name": "Step one"}),
        ({"name": "Step one", "sort_order": 0}, {"name": "Step two", "sort_order": 7}),
    ]


def test_a_refreshed_instance_is_diffed_against_what_it_was_refreshed_with(org_a, tenant_a):
    """refresh_from_db takes the stored values as the new starting point."""
    with audit.audit_context() as state, tenant_context(tenant_a):
        position = Position.objects.get(pk=org_a["position"].pk)
        Position.objects.filter(pk=position.pk).update(name="Bulk renamed")
        position.refresh_from_db()
        position.description = "Refreshed first"
        position.save()
        audit.flush_audit(state)
    assert diffs(position)[-1] == ({"description": ""}, {"description": "Refreshed first"})


def test_a_field_not_loaded_is_read_from_the_row(org_a, tenant_a):
    """Saving a deferred field reads its stored value; saving loaded fields does not."""
    with audit.audit_context() as state, tenant_context(tenant_a):
        position = Position.objects.only("id", "name").get(pk=org_a["position"].pk)
        position.name = "Only name"
        position.save()  # Django saves the loaded fields only
        position.description = "Deferred until now"
        position.save(update_fields=["description"])
        audit.flush_audit(state)
    assert diffs(position) == [
        ({"name": "Alpha Developer"}, {"name": "Only name"}),
        ({"description": ""}, {"description": "Deferred until now"}),
    ]


@pytest.mark.parametrize("duplicate", [copy.deepcopy, lambda obj: pickle.loads(pickle.dumps(obj))])
def test_a_copied_instance_is_read_again(org_a, tenant_a, duplicate):
    """A deep copy or an unpickled instance (a cache) is diffed against the stored row."""
    with audit.audit_context() as state, tenant_context(tenant_a):
        position = Position.objects.get(pk=org_a["position"].pk)
        Position.objects.filter(pk=position.pk).update(name="Changed meanwhile")
        twin = duplicate(position)
        twin.name = "Twin"
        twin.save()
        audit.flush_audit(state)
    assert diffs(position)[-1] == ({"name": "Changed meanwhile"}, {"name": "Twin"})


def test_an_instance_from_an_earlier_context_is_read_again(org_a, tenant_a):
    """What one request or task loaded is not trusted by the next one."""
    with audit.audit_context() as state, tenant_context(tenant_a):
        position = Position.objects.get(pk=org_a["position"].pk)
        audit.flush_audit(state)
    with tenant_context(tenant_a):
        Position.objects.filter(pk=position.pk).update(name="Changed meanwhile")
    with audit.audit_context() as state, tenant_context(tenant_a):
        position.name = "Later"
        position.save()
        audit.flush_audit(state)
    assert diffs(position) == [({"name": "Changed meanwhile"}, {"name": "Later"})]


def test_a_row_changed_by_a_bulk_update_is_read_again(org_a, tenant_a):
    """After QuerySet.update in the same request, saving a stale instance shows the revert."""
    with audit.audit_context() as state, tenant_context(tenant_a):
        position = Position.objects.get(pk=org_a["position"].pk)
        Position.objects.filter(pk=position.pk).update(status="inactive")
        position.name = "Renamed"
        position.save()  # writes the stale status back
        audit.flush_audit(state)
    bulk, save = diffs(position)
    assert bulk == ({"status": "active"}, {"status": "inactive"})
    assert save == ({"name": "Alpha Developer", "status": "inactive"},
                    {"name": "Renamed", "status": "active"})
