"""Per-tenant dictionaries: named lists of label/value pairs (seed 000 sections 3.11, 3.12).

A dictionary (``user_status``, ``priority``, ...) is identified by its ``type``, unique among
one tenant's live dictionaries; its items' values are unique among the dictionary's live
items. Pages read them through the cached lookup in ``tenants.dictionaries``.

Soft-deleting a dictionary leaves its items as they are: lookups reach items only through a
live dictionary, so the items disappear with it and come back unchanged when it is restored.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _

from tenants.managers import TenantManager, TenantQuerySet
from tenants.models.base import CodeField, TenantModel, unique_live_per_tenant


class DictionaryStatus(models.TextChoices):
    """Whether a dictionary or an item is offered."""

    ACTIVE = "active", _("Active")
    INACTIVE = "inactive", _("Inactive")


class DictionaryQuerySet(TenantQuerySet):
    """Tenant-scoped querysets that drop cached lookups on bulk writes.

    ``save()`` and ``delete()`` of single rows invalidate through signals
    (``tenants.dictionaries``); ``update()`` (which the queryset's soft ``delete()`` uses)
    and ``bulk_create()`` send none, so they invalidate here.
    """

    def update(self, **kwargs: Any) -> int:
        """Update the rows, then drop the cached lookups of every tenant they belong to."""
        tenant_ids = set(self.order_by().values_list("tenant_id", flat=True).distinct())
        count = super().update(**kwargs)
        _invalidate(tenant_ids)
        return count

    update.alters_data = True
    update.queryset_only = False

    def bulk_create(self, objs, *args: Any, **kwargs: Any) -> list:
        """Create the rows, then drop the cached lookups of every tenant they belong to."""
        objs = super().bulk_create(objs, *args, **kwargs)
        _invalidate({obj.tenant_id for obj in objs})
        return objs

    bulk_create.alters_data = True


def _invalidate(tenant_ids) -> None:
    """Drop the cached dictionary lookups of ``tenant_ids``."""
    # Imported here: tenants.dictionaries imports these models.
    from tenants.dictionaries import invalidate_tenant

    for tenant_id in tenant_ids:
        if tenant_id is not None:
            invalidate_tenant(tenant_id)


class DictionaryManager(TenantManager.from_queryset(DictionaryQuerySet)):
    """The fail-closed tenant manager, with ``DictionaryQuerySet``'s invalidating writes."""


class Dictionary(TenantModel):
    """A named list of label/value pairs of one tenant (seed 000 section 3.11)."""

    type = CodeField(
        _("type"),
        max_length=50,
        help_text=_("The code pages look the dictionary up by, e.g. user_status."),
    )
    name = models.CharField(_("name"), max_length=100)
    description = models.TextField(_("description"), blank=True)
    status = models.CharField(
        _("status"),
        max_length=20,
        choices=DictionaryStatus.choices,
        default=DictionaryStatus.ACTIVE,
        help_text=_("An inactive dictionary offers no items."),
    )

    objects = DictionaryManager()

    class Meta(TenantModel.Meta):
        db_table = "dicts"
        verbose_name = _("dictionary")
        verbose_name_plural = _("dictionaries")
        ordering = ["type"]
        constraints = [
            *TenantModel.Meta.constraints,
            unique_live_per_tenant(
                "type",
                name="dicts_unique_type",
                message=_("A dictionary of this type already exists."),
            ),
        ]

    def __str__(self) -> str:
        """Return the name and the type."""
        return f"{self.name} ({self.type})"


class DictionaryItem(TenantModel):
    """One label/value pair of a dictionary (seed 000 section 3.12)."""

    dictionary = models.ForeignKey(
        Dictionary,
        verbose_name=_("dictionary"),
        on_delete=models.CASCADE,
        related_name="items",
    )
    label = models.CharField(_("label"), max_length=100)
    value = models.CharField(_("value"), max_length=100)
    sort_order = models.IntegerField(_("sort order"), default=0)
    status = models.CharField(
        _("status"),
        max_length=20,
        choices=DictionaryStatus.choices,
        default=DictionaryStatus.ACTIVE,
        help_text=_("An inactive item is no longer offered, but its label still shows."),
    )
    is_default = models.BooleanField(_("default"), default=False)

    objects = DictionaryManager()

    class Meta(TenantModel.Meta):
        db_table = "dict_items"
        verbose_name = _("dictionary item")
        verbose_name_plural = _("dictionary items")
        # UUIDv7 keys are time-ordered: equal sort orders list in creation order.
        ordering = ["sort_order", "id"]
        indexes = [
            models.Index(
                fields=["tenant", "dictionary", "sort_order"], name="dict_items_sort_idx"
            ),
        ]
        constraints = [
            *TenantModel.Meta.constraints,
            unique_live_per_tenant(
                "dictionary",
                "value",
                name="dict_items_unique_value",
                message=_("This dictionary already has an item with this value."),
            ),
        ]

    def __str__(self) -> str:
        """Return the label and the value."""
        return f"{self.label} ({self.value})"
