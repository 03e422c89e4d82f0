"""Operations the pages log read as words in the reader's language (issue 17, items 4 and 7).

A page's write is logged under its namespace (the module) and its URL name (``plan-run``);
the operation log shows what was done (``Run test plan``), and a URL name no label covers as
its words (``Plan detail``), never the raw code.
"""

from __future__ import annotations

import re

import pytest
from django.urls import get_resolver, reverse
from django.utils import translation
from django.utils.translation import gettext

from logs.admin import NAME_FORMAT, operation_label
from logs.models import OperationLog

PAGE_NAMESPACES = ("accounts", "notifications", "logs", "testing")


def page_url_names(namespace: str) -> list[str]:
    """Return the URL names of the page namespace ``namespace``."""
    _prefix, resolver = get_resolver().namespace_dict[namespace]
    return sorted(name for name in resolver.reverse_dict if isinstance(name, str))


def in_chinese(action: str, resource: str) -> str:
    """Return ``action resource`` as the catalogue words it in Chinese."""
    with translation.override("zh-hans"):
        return str(NAME_FORMAT) % {"action": gettext(action), "resource": gettext(resource)}


@pytest.mark.parametrize(("module", "code", "method", "label"), [
    ("testing", "plan-run", "POST", "Run test plan"),
    ("testing", "plan", "POST", "Change test plan"),
    ("testing", "plan", "GET", "View test plan"),
    ("testing", "plans", "POST", "Create test plan"),
    ("testing", "runs", "GET", "List executions"),
    ("testing", "run-terminate", "POST", "Stop execution"),
    ("testing", "plan-schedule-pause", "POST", "Pause plan schedule"),
    ("testing", "step-toggle", "POST", "Turn on or off scenario step"),
    ("testing", "database-test", "POST", "Test database configuration"),
    ("testing", "folder-new", "POST", "Add interface folder"),
    ("testing", "function-edit", "POST", "Change global function"),
    ("testing", "steps-order", "POST", "Reorder scenario steps"),
    ("testing", "testing:plan-delete", "POST", "Delete test plan"),
    ("testing", "testing:plan-detail", "GET", "Plan detail"),
    ("notifications", "read-all", "POST", "Mark all notifications as read"),
    ("logs", "usage-rollup", "POST", "Roll up usage"),
    ("testing", "testproject.create", "POST", "Create test project"),
    ("user", "change", "POST", "Change user"),
])
def test_page_operations_read_as_what_was_done(module, code, method, label):
    assert operation_label(module, code, method) == label


def test_page_operations_read_in_chinese():
    """The verbs and the models' names come from the catalogue."""
    with translation.override("zh-hans"):
        assert operation_label("testing", "plan-delete", "POST") == "删除测试计划"
        assert operation_label("testing", "plan", "POST") == "修改测试计划"
        assert operation_label("testing", "plans", "POST") == "新增测试计划"
        assert operation_label("testing", "plan-run", "POST") == in_chinese("Run", "test plan")
        assert operation_label("testing", "run-pause", "POST") == in_chinese("Pause", "execution")


@pytest.mark.parametrize("namespace", PAGE_NAMESPACES)
def test_no_page_operation_is_shown_as_its_code(namespace):
    """Every URL name of the platform's pages reads as words: no hyphen, colon or
    underscore, starting with a capital."""
    names = page_url_names(namespace)
    assert names
    for name in names:
        for method in ("POST", "GET"):
            label = operation_label(namespace, name, method)
            assert label and not re.search(r"[-_:]", label), (name, label)
            assert label[0].isupper(), (name, label)


@pytest.mark.django_db
def test_the_operation_log_names_a_pages_write(client_a, admin_b, tenant_a):
    """A real write on a page is logged under its URL name and shown as words in the
    operation log; tenant B's administrator does not see tenant A's row."""
    from django.test import Client

    response = client_a.post(reverse("testing:projects"), {"name": "Labelled project"})
    assert response.status_code == 302
    row = OperationLog.objects.all_tenants().get(uri=reverse("testing:projects"))
    assert (row.module, row.operation, row.tenant_id) == ("testing", "projects", tenant_a.pk)

    html = client_a.get(reverse("admin:logs_operationlog_changelist")).content.decode()
    assert "Create test project" in html
    assert ">projects<" not in html
    other = Client()
    other.force_login(admin_b)
    html = other.get(reverse("admin:logs_operationlog_changelist")).content.decode()
    assert "Create test project" not in html
    assert other.get(reverse("admin:logs_operationlog_change", args=[row.pk]),
                     follow=True).redirect_chain[-1][0] == reverse("admin:index")
