"""The navigation of the server-rendered pages, driven by menus (issue 3, item 4)."""

from __future__ import annotations

from dataclasses import dataclass

from accounts.choices import RecordStatus
from rbac.access import Access, get_access
from rbac.models import Menu


@dataclass(frozen=True)
class MenuEntry:
    """One entry of a user's sidebar."""

    name: str
    path: str
    icon: str
    level: int


def visible_menus(access: Access) -> list[MenuEntry]:
    """Return the entries the user may see, in tree and sort order.

    An entry shows when the user's roles and tenant package grant it, it is visible and
    active, its required permission (if any) is held, and every ancestor shows too.
    """
    if not access.menu_ids:
        return []
    menus = (
        Menu.objects.filter(pk__in=access.menu_ids)
        .select_related("permission")
        .order_by("tree_id", "lft")
    )
    shown: set = set()
    entries = []
    for menu in menus:
        if menu.status != RecordStatus.ACTIVE or not menu.is_visible:
            continue
        if menu.permission is not None and not access.allows(menu.permission.code):
            continue
        if menu.parent_id is not None and menu.parent_id not in shown:
            continue
        shown.add(menu.pk)
        entries.append(MenuEntry(name=menu.label, path=menu.path, icon=menu.icon, level=menu.level))
    return entries


def navigation(request) -> dict:
    """Context processor: the signed-in user's sidebar entries as ``navigation``."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"navigation": []}
    return {"navigation": visible_menus(get_access(user))}
