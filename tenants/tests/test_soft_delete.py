"""Soft delete, restore and uniqueness among live rows, enforced by the database itself."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Q

from accounts.models import Position
from core.context import actor_context, tenant_context


def insert_position(tenant, code: str, **fields) -> Position:
    """Insert with bulk_create: no model validation, so only the database can refuse."""
    return Position.objects.bulk_create([Position(tenant=tenant, code=code, name=code, **fields)])[0]


def test_database_refuses_duplicate_live_codes(tenant_a):
    """Two live rows of one tenant with the same code are refused by the database."""
    insert_position(tenant_a, "dup")
    with pytest.raises(IntegrityError), transaction.atomic():
        insert_position(tenant_a, "dup")


def test_same_code_in_two_tenants_is_fine(tenant_a, tenant_b):
    """Uniqueness is scoped by tenant."""
    insert_position(tenant_a, "dup")
    insert_position(tenant_b, "dup")
    assert Position.objects.all_tenants().filter(code="dup").count() == 2


def test_soft_deleted_rows_never_block_the_same_code(tenant_a, admin_a):
    """Deleting marks the row, keeps it, and frees its code for a new row, repeatedly."""
    with tenant_context(tenant_a), actor_context(admin_a.pk):
        for _ in range(3):
            position = Position.objects.create(code="dup", name="Dup")
            position.delete()
        live = Position.objects.create(code="dup", name="Dup")
        assert Position.objects.count() == 1
        assert Position.objects.deleted().count() == 3
        assert Position.objects.including_deleted().count() == 4
    position.refresh_from_db()
    assert position.is_deleted and position.alive is None
    assert position.deleted_by_id == admin_a.pk and position.deleted_at is not None
    assert live.alive is True


def test_restore_brings_a_row_back(tenant_a):
    """A restored row is live again with its deletion marks cleared."""
    with tenant_context(tenant_a):
        position = Position.objects.create(code="qa", name="QA")
        position.delete()
        assert not Position.objects.filter(pk=position.pk).exists()
        position.restore()
        assert Position.objects.get(pk=position.pk).deleted_at is None
    assert position.alive is True and not position.is_deleted


def test_restore_is_refused_when_a_live_row_holds_the_code(tenant_a):
    """Restoring cannot create a duplicate: it is refused with a message, the row stays deleted."""
    with tenant_context(tenant_a):
        old = Position.objects.create(code="qa", name="QA")
        old.delete()
        Position.objects.create(code="qa", name="QA again")
        with pytest.raises(ValidationError, match="already exists"):
            old.restore()
    old.refresh_from_db()
    assert old.is_deleted and old.alive is None


def test_queryset_delete_soft_deletes_within_the_tenant(tenant_a, tenant_b):
    """QuerySet.delete() soft-deletes the tenant's rows only; hard_delete removes them."""
    insert_position(tenant_a, "one")
    insert_position(tenant_a, "two")
    insert_position(tenant_b, "one")
    with tenant_context(tenant_a):
        count, _ = Position.objects.all().delete()
        assert count == 2
        assert Position.objects.deleted().count() == 2
        Position.objects.deleted().hard_delete()
    assert Position.objects.all_tenants(include_deleted=True).count() == 1


def test_database_keeps_alive_and_is_deleted_consistent(tenant_a):
    """A row cannot be live and deleted at once: the check constraint refuses it."""
    position = insert_position(tenant_a, "qa")
    with pytest.raises(IntegrityError), transaction.atomic():
        Position.objects.all_tenants().filter(pk=position.pk).update(is_deleted=True)


def test_unique_index_starts_with_the_tenant(tenant_a):
    """The live-uniqueness index leads with tenant_id, so tenant queries can use it."""
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, "positions")
    unique = constraints["positions_unique_code"]
    assert unique["unique"] and unique["columns"] == ["tenant_id", "code", "alive"]


def test_codes_are_lowercased_everywhere(tenant_a):
    """Codes are case-insensitive on every backend: stored lowercase, duplicates refused."""
    with tenant_context(tenant_a):
        position = Position.objects.create(code="QA", name="QA")
        assert position.code == "qa"
        with pytest.raises(ValidationError):
            Position(code="Qa", name="x").full_clean()
        assert Position.objects.filter(Q(code="qa")).count() == 1
