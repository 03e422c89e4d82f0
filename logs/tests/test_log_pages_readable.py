"""The log pages read as words, not codes (issue 17, item 7).

A sign-in or sign-out is logged as such, never as "Create"; the operation log names its
module and operation in the reader's language, in the list, the filter and the detail; the
audit detail leaves out the columns a row keeps for itself (the live-row flag, the save
stamps, django-mptt's tree columns), names the fields as their models do, and wraps a long
value instead of pushing the page off-screen.
"""

from __future__ import annotations

import re

import pytest
from django.test import Client, RequestFactory
from django.urls import resolve, reverse
from django.utils import translation

from accounts.models import Department
from conftest import PASSWORD
from core.context import all_tenants, tenant_context
from logs import audit
from logs.admin import bookkeeping_columns, field_label, module_label, operation_label
from logs.middleware import describe_view
from logs.models import AuditLog, BusinessType, OperationLog

pytestmark = pytest.mark.django_db

LOGIN_URL = reverse("accounts:login")
LOGOUT_URL = reverse("accounts:logout")
OPERATIONS = reverse("admin:logs_operationlog_changelist")
LONG_NAME = "N" * 100


def logged(uri: str) -> list[OperationLog]:
    """Return the operation log rows of requests to ``uri``, oldest first."""
    return list(OperationLog.objects.all_tenants().filter(uri=uri).order_by("id"))


def business_types(html: str) -> list[str]:
    """Return the business type cells of an operation log changelist page."""
    return re.findall(r'<td class="field-business_type">([^<]*)</td>', html)


def admin_client(user) -> Client:
    """Return a client of its own signed in as ``user``."""
    client = Client()
    client.force_login(user)
    return client


def log_operation(tenant, user, module: str, operation: str) -> OperationLog:
    """Record an admin write of ``module``/``operation`` in ``tenant``'s operation log."""
    return OperationLog.objects.create(
        tenant=tenant, user=user, username=user.username, request_id="r", module=module,
        operation=operation, business_type=BusinessType.UPDATE, method="POST",
        uri="/admin/x/", response_status=302, status="success",
    )


# --------------------------------------------------------------------------- sign-in


def test_a_sign_in_through_the_login_page_is_logged_as_a_sign_in(client, admin_a, admin_b, tenant_a):
    """Signing in on the login page logs a "Sign in", not a "Create"; signing out logs a
    "Sign out". Tenant B's administrator does not see tenant A's sign-in."""
    response = client.post(LOGIN_URL, {"tenant_code": "alpha", "username": "admin",
                                       "password": PASSWORD})
    assert response.status_code == 302
    [row] = logged(LOGIN_URL)
    assert (row.module, row.operation, row.business_type, row.status, row.tenant_id) == (
        "accounts", "login", BusinessType.LOGIN, "success", tenant_a.pk)

    html = client.get(OPERATIONS).content.decode()
    assert business_types(html) == ["Sign in"]
    assert "Create" not in business_types(html)
    assert business_types(admin_client(admin_b).get(OPERATIONS).content.decode()) == []

    client.post(LOGOUT_URL)
    [row] = logged(LOGOUT_URL)
    assert (row.module, row.operation, row.business_type) == (
        "accounts", "logout", BusinessType.LOGOUT)


def test_a_refused_sign_in_is_logged_as_a_failed_sign_in(client, admin_a):
    """A wrong password is a failed sign-in, still no "Create"."""
    response = client.post(LOGIN_URL, {"tenant_code": "alpha", "username": "admin",
                                       "password": "wrong"})
    assert response.status_code == 400
    [row] = logged(LOGIN_URL)
    assert (row.business_type, row.status) == (BusinessType.LOGIN, "failed")


def test_sign_in_types_read_in_chinese():
    with translation.override("zh-hans"):
        assert str(BusinessType.LOGIN.label) == "登录"
        assert str(BusinessType.LOGOUT.label) == "退出登录"


def test_the_admins_own_pages_are_logged_under_the_admin():
    """The admin's sign-out is a sign-out, and its password page belongs to the admin
    module, not to a module named after the page."""
    factory = RequestFactory()
    for url, expected in (
        (reverse("admin:logout"), ("accounts", "logout", "logout")),
        (reverse("admin:password_change"), ("admin", "password_change", "update")),
        (reverse("admin:accounts_user_change", args=[7]), ("accounts", "user_change", "update")),
    ):
        request = factory.post(url)
        request.resolver_match = resolve(url)
        view = describe_view(request)
        assert (view["module"], view["operation"], view["business_type"]) == expected, url


# --------------------------------------------------------------------------- operation log


def test_admin_operations_read_as_words():
    assert operation_label("accounts", "user_change", "POST") == "Change user"
    assert operation_label("accounts", "user_password_change", "POST") == "Change password"
    assert operation_label("admin", "password_change", "POST") == "Change password"
    assert module_label("admin") == "Administration"
    with translation.override("zh-hans"):
        assert operation_label("accounts", "user_change", "POST") == "修改用户"
        assert module_label("accounts") == "账户"


def test_the_operation_log_detail_names_module_and_operation(admin_a, admin_b, tenant_a, tenant_b):
    """The detail of an admin write shows "Accounts" and "Change user", not the stored
    codes; the codes stay stored. Tenant B's administrator cannot open tenant A's row."""
    row = log_operation(tenant_a, admin_a, "accounts", "user_change")
    url = reverse("admin:logs_operationlog_change", args=[row.pk])
    html = admin_client(admin_a).get(url).content.decode()
    assert '<div class="readonly">Accounts</div>' in html
    assert '<div class="readonly">Change user</div>' in html
    assert "user_change" not in html
    row.refresh_from_db()
    assert (row.module, row.operation) == ("accounts", "user_change")

    response = admin_client(admin_b).get(url, follow=True)
    assert "Change user" not in response.content.decode()


def test_the_module_filter_names_the_readers_own_modules(admin_a, admin_b, tenant_a, tenant_b):
    """The module filter offers the modules of the reader's rows, as words, and narrows the
    list to one of them."""
    mine = log_operation(tenant_a, admin_a, "accounts", "user_change")
    log_operation(tenant_a, admin_a, "logs", "usage-rollup")
    log_operation(tenant_b, admin_b, "testing", "plan-run")
    client = admin_client(admin_a)

    response = client.get(OPERATIONS)
    [spec] = [spec for spec in response.context["cl"].filter_specs
              if getattr(spec, "parameter_name", "") == "module"]
    assert spec.lookup_choices == [("accounts", "Accounts"), ("logs", "Logs")]

    response = client.get(OPERATIONS, {"module": "accounts"})
    with all_tenants():
        assert [row.pk for row in response.context["cl"].result_list] == [mine.pk]


# --------------------------------------------------------------------------- audit detail


@pytest.fixture
def department_created(tenant_a, admin_a) -> AuditLog:
    """The audit row of a department created with a 100-character unbroken name."""
    with tenant_context(tenant_a), audit.audit_context("req-dept", user=admin_a) as state:
        department = Department.objects.create(code="long", name=LONG_NAME)
        audit.flush_audit(state, admin_a.pk)
    with all_tenants():
        return AuditLog.objects.get(entity_type="accounts.department",
                                    entity_id=str(department.pk), action="create")


def test_the_audit_detail_leaves_out_bookkeeping_columns(client_a, department_created):
    """The stored row keeps the tree columns and the live-row flag; the detail shows the
    fields someone set, by their verbose names."""
    stored = department_created.new_value
    assert {"lft", "rght", "tree_id", "level", "alive", "name"} <= stored.keys()

    url = reverse("admin:logs_auditlog_change", args=[department_created.pk])
    html = client_a.get(url).content.decode()
    diff = html[html.index('class="audit-diff"'):]
    diff = diff[:diff.index("</table>")]
    headers = re.findall(r"<th title=\"([^\"]+)\">([^<]*)</th>", diff)
    shown = dict(headers)
    for column in ("lft", "rght", "tree_id", "level", "alive", "updated_at"):
        assert column not in shown, column
    assert shown["name"] == str(field_label(Department, "name"))
    assert shown["parent_id"] == str(field_label(Department, "parent_id"))
    assert shown["name"] != "name"
    assert LONG_NAME in diff


def test_a_long_value_wraps_in_the_audit_detail(client_a, department_created):
    """The detail page's values wrap anywhere (a class of the logs' change form)."""
    url = reverse("admin:logs_auditlog_change", args=[department_created.pk])
    html = client_a.get(url).content.decode()
    assert re.search(r'<body[^>]*class="[^"]*\blog-detail\b', html)
    assert ".log-detail .audit-diff pre { white-space: pre-wrap; overflow-wrap: anywhere;" in html


def test_another_tenants_audit_detail_stays_hidden(admin_b, department_created):
    url = reverse("admin:logs_auditlog_change", args=[department_created.pk])
    response = admin_client(admin_b).get(url, follow=True)
    assert LONG_NAME not in response.content.decode()


def test_bookkeeping_columns_of_a_row_whose_model_is_unknown():
    """Without a model, the tree columns count only together: a lone ``level`` is a field."""
    assert bookkeeping_columns(None, {"lft": 1, "rght": 2, "tree_id": 3, "level": 0,
                                      "alive": True, "name": "x"}) == {
        "lft", "rght", "tree_id", "level", "alive"}
    assert bookkeeping_columns(None, {"level": "warning", "alive": True}) == {"alive"}


def test_the_entity_type_filter_names_the_readers_own_types(client_a, department_created, tenant_b):
    """The audit log's entity type filter offers the types of the reader's rows, as the
    models name them."""
    with all_tenants():
        AuditLog.objects.create(tenant=tenant_b, request_id="r", entity_type="accounts.position",
                                entity_id="1", action="create")
    response = client_a.get(reverse("admin:logs_auditlog_changelist"))
    [spec] = [spec for spec in response.context["cl"].filter_specs
              if getattr(spec, "parameter_name", "") == "entity_type"]
    assert spec.lookup_choices == [("accounts.department", str(Department._meta.verbose_name))]
    response = client_a.get(reverse("admin:logs_auditlog_changelist"),
                            {"entity_type": "accounts.position"})
    with all_tenants():
        assert list(response.context["cl"].result_list) == []
