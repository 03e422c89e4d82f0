"""The operator's admin in a real browser (issue 17, item 5): on "Add user", once a tenant
is chosen, the position picker offers that tenant's positions only, each named with its
tenant; choosing another tenant empties it. The browser and the demo data are those of
``testing/tests/test_browser.py`` (Debian's chromium, driven by Playwright by its path)."""

from __future__ import annotations

import pytest

from testing.tests import test_browser
from testing.tests.test_browser import open_page

pytestmark = test_browser.pytestmark
demo = test_browser.demo
browser = test_browser.browser


def open_picker(page) -> None:
    """Open the position picker and wait for its choices."""
    page.click(".field-position .select2-selection")
    page.wait_for_selector(".select2-results__option:not(.loading-results)")
    page.wait_for_function("() => !document.querySelector('.select2-results__option"
                           ".loading-results')")


def offered(page) -> list[str]:
    """Open the position picker and return what it offers."""
    open_picker(page)
    options = page.locator(".select2-results__option").all_inner_texts()
    page.keyboard.press("Escape")
    return sorted(options)


@pytest.fixture
def names(demo):
    """The demo tenants' names by code (read before the browser starts)."""
    from tenants.models import Tenant

    return {tenant.code: (str(tenant.pk), str(tenant)) for tenant in Tenant.objects.all()}


def test_the_add_user_pickers_follow_the_chosen_tenant(names, browser, demo):
    operator = {**demo, "tenant": "platform", "username": "admin"}
    page = open_page(browser, operator)
    page.goto(demo["url"] + "/admin/accounts/user/add/")
    page.select_option("#id_tenant", value=names["acme"][0])
    acme = offered(page)
    assert acme and all(option.endswith(f" · {names['acme'][1]}") for option in acme)
    open_picker(page)
    page.locator(".select2-results__option").first.click()
    assert page.locator("#id_position").input_value()
    page.select_option("#id_tenant", value=names["globex"][0])
    assert page.locator("#id_position").input_value() == ""  # emptied with the tenant
    globex = offered(page)
    assert globex and all(option.endswith(f" · {names['globex'][1]}") for option in globex)
    assert page.script_errors == []


def test_a_tenant_admin_sees_no_tenant_names_in_pickers(browser, demo):
    page = open_page(browser, {**demo, "username": "admin"})
    page.goto(demo["url"] + "/admin/accounts/user/add/")
    options = offered(page)
    assert options and not any(" · " in option for option in options)
    assert page.script_errors == []
