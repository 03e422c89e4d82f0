"""The department tree: depth limit, moves, tenant boundaries, soft delete and codes."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from mptt.exceptions import InvalidMove

from accounts.models import DEPARTMENT_MAX_DEPTH, Department
from core.context import tenant_context

CHANGELIST = "admin:accounts_department_changelist"


# --------------------------------------------------------------------------- helpers


def make_department(tenant, code: str, parent: Department | None = None) -> Department:
    """Create a department of ``tenant`` under ``parent``."""
    with tenant_context(tenant):
        return Department.objects.create(code=code, name=code.upper(), parent=parent)


def make_chain(tenant, prefix: str, length: int, parent: Department | None = None):
    """Create ``length`` nested departments under ``parent`` and return them, top first."""
    chain = []
    for index in range(length):
        parent = make_department(tenant, f"{prefix}{index + 1}", parent)
        chain.append(parent)
    return chain


def fresh(department: Department) -> Department:
    """Return a fresh copy of ``department`` (tree fields change under other instances)."""
    return Department._tree_manager.get(pk=department.pk)


def tree_snapshot():
    """Return every department's tree fields, to show that nothing moved."""
    return sorted(
        Department._tree_manager.values_list("pk", "parent_id", "tree_id", "lft", "rght", "level")
    )


def move(node: Department, target: Department | None, position: str = "last-child"):
    return Department._tree_manager.move_node(fresh(node), target and fresh(target), position)


# --------------------------------------------------------------------------- depth


def test_five_levels_are_allowed(tenant_a):
    """Departments may nest five levels deep."""
    chain = make_chain(tenant_a, "d", DEPARTMENT_MAX_DEPTH)
    assert [fresh(d).level for d in chain] == [0, 1, 2, 3, 4]


def test_a_sixth_level_is_refused(tenant_a):
    """Creating a department on a sixth level raises ValidationError naming the limit."""
    chain = make_chain(tenant_a, "d", DEPARTMENT_MAX_DEPTH)
    before = tree_snapshot()
    with pytest.raises(ValidationError) as caught:
        make_department(tenant_a, "d6", chain[-1])
    assert "parent" in caught.value.message_dict
    assert caught.value.message_dict["parent"] == [
        "Departments nest at most 5 levels; this parent would make 6."
    ]
    assert tree_snapshot() == before


def test_full_clean_reports_a_sixth_level(tenant_a):
    """Model validation (forms, admin) reports the depth limit as a parent error."""
    chain = make_chain(tenant_a, "d", DEPARTMENT_MAX_DEPTH)
    with tenant_context(tenant_a):
        department = Department(code="d6", name="D6", parent=chain[-1], tenant=tenant_a)
        with pytest.raises(ValidationError) as caught:
            department.full_clean()
    assert "parent" in caught.value.message_dict


def test_reparenting_a_subtree_too_deep_on_save_is_refused(tenant_a):
    """Changing a parent on save counts the levels below the moved department too."""
    chain = make_chain(tenant_a, "d", 3)
    other = make_chain(tenant_a, "x", 3)  # x1 > x2 > x3: x1 has two levels below
    top = fresh(other[0])
    with tenant_context(tenant_a):
        top.parent = fresh(chain[1])  # level 1: x1 at 2, x3 at 4 -> five levels, fine
        top.save()
        top = fresh(other[0])
        top.parent = fresh(chain[2])  # level 2: x3 would be on a sixth level
        with pytest.raises(ValidationError):
            top.save()
    assert fresh(other[0]).parent_id == chain[1].pk


# --------------------------------------------------------------------------- moves


def test_a_move_that_would_exceed_five_levels_is_refused(tenant_a):
    """move_node refuses a move that would put part of the subtree on a sixth level."""
    chain = make_chain(tenant_a, "d", 4)  # levels 0..3
    subtree = make_chain(tenant_a, "x", 2)  # x1 > x2
    before = tree_snapshot()
    with pytest.raises(InvalidMove, match="at most 5 levels"):
        move(subtree[0], chain[3])  # x1 on level 4, x2 on level 5 (the sixth)
    assert tree_snapshot() == before


def test_a_sibling_move_that_would_exceed_five_levels_is_refused(tenant_a):
    """Moving next to a deep department counts the target's level too."""
    chain = make_chain(tenant_a, "d", 5)  # levels 0..4
    subtree = make_chain(tenant_a, "x", 2)
    with pytest.raises(InvalidMove):
        move(subtree[0], chain[4], "right")


def test_a_legal_move_works(tenant_a):
    """A move that keeps the tree within five levels re-parents the whole subtree."""
    chain = make_chain(tenant_a, "d", 4)
    subtree = make_chain(tenant_a, "x", 2)
    move(subtree[0], chain[2])  # x1 on level 3, x2 on level 4 (the fifth)
    top, bottom = fresh(subtree[0]), fresh(subtree[1])
    assert top.parent_id == chain[2].pk
    assert (top.level, bottom.level) == (3, 4)
    assert top.tree_id == fresh(chain[0]).tree_id
    assert bottom.parent_id == top.pk


def test_a_parent_of_another_tenant_is_refused_on_save(org_a, org_b):
    """A department cannot be created under another tenant's department."""
    before = tree_snapshot()
    with tenant_context(org_a["root"].tenant_id):
        with pytest.raises(ValidationError) as caught:
            Department.objects.create(code="ops", name="Ops", parent=org_b["root"])
        assert "parent" in caught.value.message_dict
        assert not Department.objects.filter(code="ops").exists()
    assert tree_snapshot() == before


def test_reparenting_under_another_tenant_is_refused_on_save(org_a, org_b):
    """An existing department cannot be re-parented under another tenant's department."""
    child = fresh(org_a["child"])
    other_root = fresh(org_b["root"])
    with tenant_context(child.tenant_id):
        child.parent = other_root
        with pytest.raises(ValidationError):
            child.save()
    assert fresh(org_a["child"]).parent_id == org_a["root"].pk


@pytest.mark.parametrize("position", ["last-child", "first-child", "left", "right"])
def test_a_move_to_another_tenant_is_refused(org_a, org_b, position):
    """move_node refuses a target of another tenant, whatever the position."""
    before = tree_snapshot()
    with pytest.raises(InvalidMove):
        move(org_a["child"], org_b["root"], position)
    assert tree_snapshot() == before


# --------------------------------------------------------------------------- admin drag and drop


def admin_move(client, cut_item, pasted_on, position="last-child"):
    return client.post(
        reverse(CHANGELIST),
        {
            "cmd": "move_node",
            "cut_item": str(cut_item.pk),
            "pasted_on": str(pasted_on.pk),
            "position": position,
        },
    )


def test_admin_drag_and_drop_moves_within_the_tenant(client, admin_a, org_a):
    """A tenant administrator can drag a department under another of their tenant."""
    ops = make_department(org_a["root"].tenant, "ops")
    client.force_login(admin_a)
    response = admin_move(client, org_a["child"], ops)
    assert response.status_code == 200
    assert response.content.decode() == "OK, moved."
    moved = fresh(org_a["child"])
    assert moved.parent_id == ops.pk
    assert moved.level == 1


def test_admin_drag_and_drop_refuses_too_deep(client, admin_a, tenant_a):
    """The drag-and-drop endpoint refuses a move beyond five levels."""
    chain = make_chain(tenant_a, "d", 5)
    subtree = make_chain(tenant_a, "x", 1)
    before = tree_snapshot()
    client.force_login(admin_a)
    response = admin_move(client, subtree[0], chain[4])
    assert response.content.decode() == "FAIL, invalid move."
    assert tree_snapshot() == before


def test_admin_drag_and_drop_cannot_reach_another_tenant(client, admin_a, org_a, org_b):
    """A target of another tenant is not found: nothing moves in either tenant."""
    before = tree_snapshot()
    client.force_login(admin_a)
    response = admin_move(client, org_a["child"], org_b["root"])
    assert response.content.decode() == "FAIL, invalid objects."
    assert tree_snapshot() == before


def test_admin_drag_and_drop_cannot_move_another_tenants_department(
    client, admin_a, org_a, org_b
):
    """A department of another tenant cannot be dragged either."""
    before = tree_snapshot()
    client.force_login(admin_a)
    response = admin_move(client, org_b["child"], org_a["root"])
    assert response.content.decode() == "FAIL, invalid objects."
    assert tree_snapshot() == before


# --------------------------------------------------------------------------- soft delete


def test_a_department_with_live_children_cannot_be_deleted(tenant_a):
    """Soft-deleting a department that has live sub-departments is refused."""
    parent, _child = make_chain(tenant_a, "d", 2)
    with tenant_context(tenant_a):
        parent = Department.objects.get(pk=parent.pk)
        with pytest.raises(ValidationError, match="sub-departments"):
            parent.soft_delete()
        assert not Department.objects.including_deleted().get(pk=parent.pk).is_deleted


def test_a_department_whose_children_are_deleted_can_be_deleted(tenant_a):
    """Soft-deleted sub-departments do not block deleting their parent."""
    parent, child = make_chain(tenant_a, "d", 2)
    with tenant_context(tenant_a):
        Department.objects.get(pk=child.pk).soft_delete()
        Department.objects.get(pk=parent.pk).soft_delete()
        assert not Department.objects.filter(pk=parent.pk).exists()


def test_a_department_with_live_users_cannot_be_deleted(org_a):
    """Soft-deleting a department that users belong to is refused."""
    with tenant_context(org_a["child"].tenant_id):
        child = Department.objects.get(pk=org_a["child"].pk)
        with pytest.raises(ValidationError, match="Users belong"):
            child.soft_delete()
        assert Department.objects.filter(pk=child.pk).exists()


def test_a_leaf_without_users_can_be_deleted_and_restored(org_a):
    """A leaf department with no users is soft-deleted, then restored."""
    tenant_id = org_a["root"].tenant_id
    leaf = make_department(org_a["root"].tenant, "ops", org_a["root"])
    with tenant_context(tenant_id):
        Department.objects.get(pk=leaf.pk).soft_delete()
        assert not Department.objects.filter(pk=leaf.pk).exists()
        deleted = Department.objects.deleted().get(pk=leaf.pk)
        assert deleted.alive is None and deleted.deleted_at is not None

        deleted.restore()
        restored = Department.objects.get(pk=leaf.pk)
        assert restored.alive is True and restored.deleted_at is None
        assert restored.parent_id == org_a["root"].pk


def test_a_deleted_code_can_be_reused_and_then_blocks_the_restore(org_a):
    """After a soft delete the code is free; restoring the old department then fails."""
    tenant = org_a["root"].tenant
    old = make_department(tenant, "ops", org_a["root"])
    with tenant_context(tenant):
        Department.objects.get(pk=old.pk).soft_delete()
    new = make_department(tenant, "ops", org_a["root"])
    with tenant_context(tenant):
        old = Department.objects.deleted().get(pk=old.pk)
        with pytest.raises(ValidationError, match="already exists"):
            old.restore()
        assert old.is_deleted
        assert Department.objects.deleted().filter(pk=old.pk).exists()
        assert list(Department.objects.filter(code="ops")) == [new]


# --------------------------------------------------------------------------- codes


def test_codes_are_unique_within_a_tenant(org_a):
    """A second live department with the same code (in any case) is refused."""
    tenant = org_a["root"].tenant
    with tenant_context(tenant):
        duplicate = Department(code="HQ", name="Another HQ", tenant=tenant)
        with pytest.raises(ValidationError) as caught:
            duplicate.full_clean()
        assert "A department with this code already exists." in caught.value.messages
        with pytest.raises(IntegrityError), transaction.atomic():
            Department.objects.create(code="HQ", name="Another HQ")
        assert Department.objects.filter(code="hq").count() == 1


def test_the_same_code_is_fine_in_two_tenants(org_a, org_b):
    """Two tenants may each have a department with the same code."""
    assert org_a["root"].code == org_b["root"].code == "hq"
    with tenant_context(org_b["root"].tenant_id):
        department = Department(code="ops", name="Beta Ops", tenant=org_b["root"].tenant)
        department.full_clean()
    make_department(org_a["root"].tenant, "ops")
    department.save()
    assert Department.objects.all_tenants().filter(code="ops").count() == 2
