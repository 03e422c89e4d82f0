"""A newcomer's first hour in a real browser (issue 17, "Tests must show"): the demo's
tenant administrator walks the workspace and the admin in English and in Simplified Chinese
(their own language setting), and an operator the operator's pages. On a Chinese page no
English name the platform seeded is left; the usage charts have bars right after
``seed_demo``; the MCP tools list offers the platform's public tools; the roles inline and
the history name users and roles, never their ids. The browser and the demo data are those
of ``testing/tests/test_browser.py`` (Debian's chromium, driven by Playwright by its path).
"""

from __future__ import annotations

import re

import pytest

from testing.tests import test_browser
from testing.tests.test_browser import open_page

pytestmark = test_browser.pytestmark
demo = test_browser.demo
browser = test_browser.browser

# English the platform itself wrote into rows (menus) or columns, which a Chinese reader
# must not meet.
SEEDED_ENGLISH = ("Workspace", "Home", "Notifications", "Usage", "API documentation",
                  "Developers", "API testing", "Test projects", "Global functions",
                  "Administration site")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.fixture
def admin(demo, request):
    """The demo tenant's administrator in ``request.param``'s language (their own setting,
    the browser staying English), with alice's id for her change page."""
    from accounts.models import User
    from core.context import tenant_context
    from tenants.models import Tenant

    language = getattr(request, "param", "en")
    with tenant_context(Tenant.objects.get(code=demo["tenant"])):
        User.objects.filter(username="admin").update(language=language)
        alice = User.objects.get(username="alice").pk
    return {**demo, "username": "admin", "language": language, "alice": str(alice)}


def visible_text(page) -> str:
    return page.inner_text("body")


@pytest.mark.parametrize("admin", ["en", "zh-hans"], indirect=True)
def test_the_tenant_admins_first_hour(admin, browser, demo):
    chinese = admin["language"] == "zh-hans"
    page = open_page(browser, admin)
    url = demo["url"]

    # The workspace: the sidebar in the reader's language, the usage charts with bars.
    page.goto(url + "/usage/")
    sidebar = page.inner_text("nav.sidebar")
    left = [name for name in SEEDED_ENGLISH if re.search(rf"\b{re.escape(name)}\b", sidebar)]
    assert (left == []) if chinese else (len(left) >= 5), left
    heights = page.eval_on_selector_all(
        ".usage-chart svg rect[height]",
        "rects => rects.map(rect => parseFloat(rect.getAttribute('height')))")
    assert any(height > 0 for height in heights)  # today's sign-ins, counted live
    assert page.locator("#usage-missing").count() == 0  # seed_demo rolled the past up

    # The MCP tools: the platform's public ones, with their try page.
    page.goto(url + "/admin/mcp/mcptool/")
    public = page.inner_text("#mcp-public-tools")
    assert all(name in public for name in ("users_list", "departments_list", "me"))
    assert page.locator("#mcp-public-tools a[href$='/try/']").count() >= 1

    # alice's page: the roles inline names the role; its columns are in the reader's
    # language; the history names users and roles.
    page.goto(url + f"/admin/accounts/user/{admin['alice']}/change/")
    inline = page.inner_text("#user_roles-group")
    assert not UUID.search(inline)
    assert ("角色" in inline) if chinese else ("ROLE" in inline.upper())
    page.goto(url + f"/admin/accounts/user/{admin['alice']}/history/")
    assert not UUID.search(page.inner_text("#content"))
    if chinese:
        body = visible_text(page)
        assert not [name for name in SEEDED_ENGLISH if re.search(rf"\b{name}\b", body)]
    assert page.script_errors == []


def test_the_operator_sees_whose_rows_they_are(browser, demo):
    page = open_page(browser, {**demo, "tenant": "platform", "username": "admin"})
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(demo["url"] + "/admin/accounts/user/")
    headers = page.locator("#result_list thead th").all_inner_texts()
    assert headers[2].strip().upper() == "TENANT"  # beside the username, never cut off
    cell = page.locator("#result_list tbody tr >> nth=0").locator("td.field-tenant")
    box, table = cell.bounding_box(), page.locator("#changelist-form").bounding_box()
    assert box["x"] + box["width"] <= table["x"] + table["width"]
    assert page.script_errors == []
