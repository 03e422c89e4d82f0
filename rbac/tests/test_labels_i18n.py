"""What the platform itself names is shown in the reader's language (issue 17, item 4): the
menus it seeds (their names are message ids), permission names (composed from the action
and the resource in the active language; the stored name is the platform's), and the
column headers of association inlines."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.utils import translation

from rbac.catalogue import label
from rbac.models import Menu, Permission, RoleMenu, RolePermission, UserRole
from rbac.navigation import visible_menus

pytestmark = pytest.mark.django_db


def test_seeded_menus_read_in_chinese_and_other_names_as_written():
    with translation.override("zh-hans"):
        assert Menu(name="Home").label == "首页"
        assert Menu(name="Workspace").label == "工作台"
        assert str(Menu(name="Quarterly reports")) == "Quarterly reports"
    assert Menu(name="Home").label == "Home"


@pytest.mark.django_db(databases="__all__")  # seed_demo's usage rollup: the analytics alias
def test_the_sidebar_of_a_chinese_reader_is_chinese(tenant_a):
    from io import StringIO

    from accounts.models import User
    from core.context import all_tenants
    from rbac.access import get_access

    call_command("seed_demo", stdout=StringIO())
    with all_tenants():
        admin = User.objects.get(tenant__code="acme", username="admin")
    with translation.override("zh-hans"):
        names = [entry.name for entry in visible_menus(get_access(admin))]
    assert "首页" in names and "工作台" in names and "管理站点" in names
    assert not {"Home", "Workspace", "Usage", "Administration site"} & set(names)


def test_permission_names_follow_the_reader():
    permission = Permission.objects.get(code="user:view")
    assert permission.name == "View user"  # stored in the platform's language
    with translation.override("zh-hans"):
        assert permission.label == "查看用户" and str(permission) == "user:view (查看用户)"
        assert label("user:unlock") not in (None, "Unlock accounts")
    assert label("user:view") == "View user" and label("gone:view") is None


def test_association_inline_headers_are_translated():
    with translation.override("zh-hans"):
        for model, field, text in ((UserRole, "role", "角色"), (RolePermission, "permission",
                                                                   "权限"),
                                   (RoleMenu, "menu", "菜单")):
            assert str(model._meta.get_field(field).verbose_name) == text
