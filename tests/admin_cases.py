"""Shared base test cases of the Django admin (NetBox ``utilities/testing/views.py`` style).

Issue 3: for every admin page, no permission -> 403, permission -> works, permission limited
by data scope -> the row outside does not open, another tenant's row -> does not open. A
model's test module declares one class mixing in the cases its admin supports:

* ``model``: the model, which names the admin URLs and the permission codes.
* ``make(tenant, index)``: create one row of ``tenant`` (run inside its tenant context).
* ``change_data(row)``: a valid POST of the change form, without the inlines (their
  management forms are taken from the GET of the page, so prefixes are never hard-coded).
* ``expected_change``: ``{field: value}`` the POST of ``change_data`` stores.
* ``in_scope(org)`` / ``out_of_scope(org)`` for ``DataScopeAdminCase``.
* ``make_platform_row(home)`` and ``refused`` for ``PlatformOnlyAdminCase``.

Every limited user is a staff user of tenant A holding one role that grants exactly the
codes a case needs (``make_staff_actor``), signed in with ``force_login``. A row the admin's
queryset does not hold gets Django's own answer: a redirect to the admin index saying the
object does not exist (``assert_missing_object``), never a 404 page that would tell it apart
from a row that does not exist at all.
"""

from __future__ import annotations

import uuid

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from accounts.models import User
from conftest import make_user
from core.context import tenant_context
from rbac.catalogue import code_for
from rbac.models import DataScope, Permission, Role
from rbac.services import assign_roles

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def make_staff_actor(
    tenant, codes=None, *, data_scope: str = DataScope.ALL, department=None
) -> User:
    """Return a staff user of ``tenant``; with ``codes``, holding one role granting exactly them.

    ``codes=None`` gives no role at all.
    """
    username = f"staff-{uuid.uuid4().hex[:10]}"
    user = make_user(tenant, username, is_staff=True, department=department)
    if codes is None:
        return user
    codes = set(codes)
    with tenant_context(tenant):
        role = Role.objects.create(code=f"r-{username}", name=username, data_scope=data_scope)
        role.permissions.set(Permission.objects.filter(code__in=codes))
    granted = set(role.permissions.values_list("code", flat=True))
    assert granted == codes, f"unknown codes: {codes - granted}"
    assign_roles(user=user, roles=[role])
    return user


def messages_of(response) -> list[str]:
    """Return the texts of the messages the request queued."""
    return [str(message) for message in get_messages(response.wsgi_request)]


def assert_missing_object(response) -> None:
    """Assert the admin answered as for an object that does not exist."""
    assert response.status_code == 302, response.status_code
    assert response.url == reverse("admin:index")
    assert any("doesn’t exist" in text for text in messages_of(response)), messages_of(response)


def listed(response) -> set[str]:
    """Return the primary keys of the rows a change list shows."""
    assert response.status_code == 200, response.status_code
    return {str(row.pk) for row in response.context["cl"].result_list}


def inline_management_data(response) -> dict:
    """Return the management forms of the change page's inlines, adding and keeping no rows.

    The prefixes come from the rendered formsets. Posting no forms leaves the existing
    inline rows as they are (the declared rows have none).
    """
    data = {}
    for inline in response.context["inline_admin_formsets"]:
        prefix = inline.formset.prefix
        data.update({
            f"{prefix}-TOTAL_FORMS": "0",
            f"{prefix}-INITIAL_FORMS": "0",
            f"{prefix}-MIN_NUM_FORMS": "0",
            f"{prefix}-MAX_NUM_FORMS": "1000",
        })
    return data


def stored(model, pk):
    """Return the row as stored now, whatever its tenant or deletion state."""
    return model._base_manager.get(pk=pk)


# ---------------------------------------------------------------------------
# The base every case shares
# ---------------------------------------------------------------------------


class AdminCase:
    """URLs, actors and factories of one model's admin; declarations override the data."""

    pytestmark = [pytest.mark.django_db]
    model: type
    expected_change: dict = {"name": "Renamed"}

    # -- declarations ------------------------------------------------------

    def make(self, tenant, index: int):
        raise NotImplementedError

    def change_data(self, row) -> dict:
        raise NotImplementedError

    # -- fixtures ----------------------------------------------------------

    @pytest.fixture
    def home(self, tenant_a):
        return tenant_a

    @pytest.fixture
    def other(self, tenant_b):
        return tenant_b

    @pytest.fixture
    def row(self, home):
        return self.build(home, 0)

    @pytest.fixture
    def foreign(self, other):
        """A row of another tenant."""
        return self.build(other, 900)

    @pytest.fixture
    def sign_in(self, client, home):
        """Sign ``client`` in as a staff user of ``home`` holding exactly ``actions``' codes."""

        def login(*actions: str, **options) -> User:
            codes = [self.code(action) for action in actions] if actions else None
            user = make_staff_actor(home, codes, **options)
            client.force_login(user)
            return user

        return login

    # -- helpers -----------------------------------------------------------

    def build(self, tenant, index: int):
        with tenant_context(tenant):
            return self.make(tenant, index)

    def code(self, action: str) -> str:
        return code_for(self.model, action)

    def url(self, view: str, *args) -> str:
        opts = self.model._meta
        return reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=args)

    def post_change(self, client, row, page=None):
        """POST ``change_data`` with the inline management forms of the page (GET if needed)."""
        if page is None or page.status_code != 200:
            data = self.change_data(row)
        else:
            data = {**self.change_data(row), **inline_management_data(page)}
        return client.post(self.url("change", row.pk), data)

    def assert_unchanged(self, row) -> None:
        saved = stored(self.model, row.pk)
        for field, value in self.expected_change.items():
            assert getattr(saved, field) == getattr(row, field), field
            assert getattr(saved, field) != value, field


# ---------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------


class NoPermissionAdminCase(AdminCase):
    """A staff user without a role opens none of the model's pages."""

    def test_no_role_is_refused_every_page(self, client, sign_in, row):
        sign_in()
        assert client.get(self.url("changelist")).status_code == 403
        assert client.get(self.url("change", row.pk)).status_code == 403
        assert client.get(self.url("add")).status_code == 403
        assert self.post_change(client, row).status_code == 403
        self.assert_unchanged(row)


class ViewAdminCase(AdminCase):
    """The view code opens the change list and a read-only change page, nothing more."""

    def test_view_lists_own_tenant_rows_only(self, client, sign_in, row, foreign):
        sign_in("view")
        shown = listed(client.get(self.url("changelist")))
        assert str(row.pk) in shown
        assert str(foreign.pk) not in shown

    def test_view_opens_a_read_only_change_page(self, client, sign_in, row):
        sign_in("view")
        response = client.get(self.url("change", row.pk))
        assert response.status_code == 200
        assert response.context["has_change_permission"] is False
        assert b'name="_save"' not in response.content

    def test_view_does_not_open_the_add_page(self, client, sign_in):
        sign_in("view")
        assert client.get(self.url("add")).status_code == 403

    def test_view_does_not_save_changes(self, client, sign_in, row):
        sign_in("view")
        assert self.post_change(client, row).status_code == 403
        self.assert_unchanged(row)

    def test_other_tenants_row_does_not_open(self, client, sign_in, foreign):
        sign_in("view")
        assert_missing_object(client.get(self.url("change", foreign.pk)))


class UpdateAdminCase(AdminCase):
    """The update code saves the change form; another tenant's row stays out of reach."""

    def test_update_saves_the_change_form(self, client, sign_in, row):
        sign_in("update")
        page = client.get(self.url("change", row.pk))
        assert page.status_code == 200
        assert page.context["has_change_permission"] is True
        response = self.post_change(client, row, page)
        errors = None
        if response.status_code == 200:
            errors = (response.context["adminform"].form.errors,
                      [f.errors for f in response.context["inline_admin_formsets"]])
        assert response.status_code == 302, errors
        assert response.url == self.url("changelist")
        saved = stored(self.model, row.pk)
        for field, value in self.expected_change.items():
            assert getattr(saved, field) == value, field

    def test_update_does_not_open_the_add_page(self, client, sign_in):
        sign_in("update")
        assert client.get(self.url("add")).status_code == 403

    def test_update_of_another_tenants_row_is_refused(self, client, sign_in, row, foreign):
        sign_in("view", "update")
        assert_missing_object(client.get(self.url("change", foreign.pk)))
        page = client.get(self.url("change", row.pk))  # the inline prefixes of a reachable row
        assert_missing_object(self.post_change(client, foreign, page))
        self.assert_unchanged(foreign)


class DataScopeAdminCase(AdminCase):
    """A role with data scope "dept" reaches the rows of the user's own department only."""

    def in_scope(self, org) -> list:
        raise NotImplementedError

    def out_of_scope(self, org) -> list:
        raise NotImplementedError

    scope_actions: tuple = ("view", "update")

    @pytest.fixture
    def scoped(self, sign_in, org_a):
        """Sign in as a staff user of org_a's child department holding ``scope_actions``
        with data scope "dept"."""
        return sign_in(*self.scope_actions, data_scope=DataScope.DEPARTMENT,
                       department=org_a["child"])

    @pytest.fixture
    def rows(self, home, org_a):
        with tenant_context(home):
            return self.in_scope(org_a), self.out_of_scope(org_a)

    def test_dept_scope_lists_own_department_only(self, client, rows, scoped):
        inside, outside = rows
        assert inside and outside
        shown = listed(client.get(self.url("changelist")))
        assert {str(row.pk) for row in inside} <= shown
        assert not {str(row.pk) for row in outside} & shown

    def test_dept_scope_row_outside_does_not_open(self, client, rows, scoped):
        inside, outside = rows
        page = client.get(self.url("change", inside[0].pk))
        assert page.status_code == 200
        for row in outside:
            assert_missing_object(client.get(self.url("change", row.pk)))
            if "update" in self.scope_actions:
                assert_missing_object(self.post_change(client, row, page))
            self.assert_unchanged(row)


class PlatformOnlyAdminCase:
    """Pages only platform operators open: a tenant administrator holding every code of the
    package is refused them; a platform operator (superuser) opens them.

    ``refused``: the requests refused to the tenant administrator, among ``changelist``,
    ``change``, ``add`` (GETs) and ``change_post``; ``operator_pages``: the GETs an
    operator opens.
    """

    pytestmark = [pytest.mark.django_db]
    model: type
    refused = ("changelist", "change", "add", "change_post")
    operator_pages = ("changelist", "change", "add")

    def make_platform_row(self, home):
        raise NotImplementedError

    def url(self, view: str, *args) -> str:
        opts = self.model._meta
        return reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=args)

    def request(self, client, page: str, row):
        if page == "changelist":
            return client.get(self.url("changelist"))
        if page == "change":
            return client.get(self.url("change", row.pk))
        if page == "add":
            return client.get(self.url("add"))
        if page == "change_post":
            return client.post(self.url("change", row.pk), {})
        raise ValueError(page)

    def test_tenant_admin_is_refused(self, client, admin_a, tenant_a):
        row = self.make_platform_row(tenant_a)
        client.force_login(admin_a)
        for page in self.refused:
            assert self.request(client, page, row).status_code == 403, page

    def test_operator_opens_the_pages(self, operator_client, tenant_a):
        row = self.make_platform_row(tenant_a)
        for page in self.operator_pages:
            assert self.request(operator_client, page, row).status_code == 200, page


# ---------------------------------------------------------------------------
# Bundles
# ---------------------------------------------------------------------------


class ReadOnlyAdminTestCase(NoPermissionAdminCase, ViewAdminCase):
    """Pages of rows nobody edits in the admin (logs)."""


class AdminTestCase(NoPermissionAdminCase, ViewAdminCase, UpdateAdminCase):
    """Change list, change page and the change form's save."""
