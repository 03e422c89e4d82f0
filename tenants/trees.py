"""Trees of tenant-owned rows (django-mptt) written safely under concurrency.

django-mptt numbers trees across the whole table and rewrites ``lft``/``rght`` with
relative UPDATEs computed from values it has just read, so two concurrent writes can
corrupt a tree. Every tree write therefore holds a row lock on its tenant, and the
allocation of a new tree id holds one on the platform tenant (the one lock shared by all
tenants). Tree edits are rare; the cost is one row lock each.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from mptt.exceptions import InvalidMove
from mptt.managers import TreeManager

from tenants.models import Tenant


def lock_tenant(tenant_id: Any) -> None:
    """Hold a row lock on the tenant until the transaction ends."""
    Tenant.objects.select_for_update().filter(pk=tenant_id).exists()


class TenantTreeManager(TreeManager):
    """django-mptt's internal manager for a tenant's tree: unscoped, serialising writes.

    ``max_depth`` bounds the levels of a tree (counted from 1); ``depth_message`` names the
    limit in the model's words, with ``%(max)d`` and ``%(depth)d``.
    """

    max_depth: int = 5
    depth_message: str = "Trees nest at most %(max)d levels; this move would make %(depth)d."
    move_message: str = "A node can only move within its own tenant."

    def _get_next_tree_id(self) -> int:
        Tenant.objects.select_for_update().filter(is_platform=True).exists()
        return super()._get_next_tree_id()

    def move_node(self, node, target, position: str = "last-child"):
        """Move ``node``, refusing another tenant's target or a tree deeper than allowed."""
        with transaction.atomic(using=self.db):
            lock_tenant(node.tenant_id)
            if target is not None and target.tenant_id != node.tenant_id:
                raise InvalidMove(str(self.move_message))
            if target is None:
                new_level = 0
            elif position in ("first-child", "last-child"):
                new_level = target.level + 1
            else:
                new_level = target.level
            depth = new_level + node.subtree_height() + 1
            if depth > self.max_depth:
                raise InvalidMove(str(self.depth_message) % {"max": self.max_depth, "depth": depth})
            return super().move_node(node, target, position)
