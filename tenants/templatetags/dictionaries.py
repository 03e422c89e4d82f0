"""``{% load dictionaries %}``: the tenant's dictionaries in templates.

``{% dict_label "user_status" user.status %}`` prints the label of a value (escaped like any
variable); ``{% dict_items "user_status" as statuses %}`` gives the active items for a loop.
Both read the tenant in context and fail closed without one (``tenants.dictionaries``);
under an operator's all-tenants scope, name the tenant: ``tenant=user.tenant_id``.
"""

from __future__ import annotations

from typing import Any

from django import template

from tenants.dictionaries import DictItem, dictionary_items, dictionary_label

register = template.Library()


@register.simple_tag
def dict_label(dict_type: str, value: Any, default: str | None = None, tenant: Any = None) -> str:
    """Return the label of ``value`` in the dictionary ``dict_type`` (see ``dictionary_label``)."""
    return dictionary_label(dict_type, value, default, tenant=tenant)


@register.simple_tag
def dict_items(dict_type: str, tenant: Any = None) -> list[DictItem]:
    """Return the active items of the dictionary ``dict_type``, in sort order."""
    return dictionary_items(dict_type, tenant=tenant)
