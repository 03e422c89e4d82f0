"""The refusing pages and the icon in a real browser (issue 17, item 6).

The demo's member alice (no access to the administration site) opens the admin in English
and in Simplified Chinese (her own language setting): she meets a page in the platform's
layout that says so and leads her to her workspace or out, never the sign-in form again.
A missing page is the platform's 404 page in her language; every page's icon loads. An
anonymous visitor still gets the sign-in form at /admin/. The browser and the demo data are
those of ``testing/tests/test_browser.py`` (Debian's chromium, driven by Playwright by its
path).
"""

from __future__ import annotations

import pytest
from django.utils import translation
from django.utils.translation import gettext

from testing.tests import test_browser
from testing.tests.test_browser import open_page

pytestmark = test_browser.pytestmark
demo = test_browser.demo
browser = test_browser.browser


def text_in(language: str, message: str) -> str:
    with translation.override(language):
        return gettext(message)


@pytest.fixture
def member(demo, request):
    """The demo tenant's member alice, in ``request.param``'s language (her own setting)."""
    from accounts.models import User
    from core.context import tenant_context
    from tenants.models import Tenant

    language = getattr(request, "param", "en")
    with tenant_context(Tenant.objects.get(code=demo["tenant"])):
        User.objects.filter(username="alice").update(language=language)
    return {**demo, "username": "alice", "language": language}


def icon_status(page) -> list[int]:
    """Return the status of each icon the page links, fetched as the browser would."""
    return page.evaluate("""() => Promise.all(
        [...document.querySelectorAll('link[rel=icon]')].map(link => fetch(link.href)
            .then(response => response.status)))""")


@pytest.mark.parametrize("member", ["en", "zh-hans"], indirect=True)
def test_a_member_opening_the_admin_is_told_where_to_go(member, browser, demo):
    language = member["language"]
    page = open_page(browser, member)
    url = demo["url"]

    response = page.goto(url + "/admin/accounts/user/")
    assert response.status == 403
    assert page.get_attribute("html", "lang") == language
    assert page.inner_text("#no-admin-access h1") == text_in(
        language, "No access to the administration site")
    assert page.locator("input[type=password]").count() == 0
    assert page.locator("header.topbar").is_visible()
    assert text_in(language, "Sign out") in page.inner_text("header.topbar")
    assert icon_status(page) == [200, 200]

    # Her workspace is one click away.
    page.click(f"#no-admin-access a:text-is('{text_in(language, 'Go to your workspace')}')")
    page.wait_for_url(url + "/")
    assert page.locator("header.topbar").is_visible()

    # A page that does not exist: the platform's page, in her language.
    response = page.goto(url + "/no-such-page/")
    assert response.status == 404
    assert page.get_attribute("html", "lang") == language
    assert page.inner_text("#error-page h1") == text_in(language, "Page not found")
    assert icon_status(page) == [200, 200]

    # Signing out from the no-access page leads to the sign-in form, back to the admin.
    page.goto(url + "/admin/")
    page.click("#no-admin-access button[type=submit]")
    page.wait_for_url(lambda address: "/accounts/login/" in address)
    assert "next=/admin/" in page.url
    assert page.locator("input[type=password]").count() == 1
    assert page.script_errors == []


def test_the_icon_and_the_anonymous_admin(browser, demo):
    context = browser.new_context()
    page = context.new_page()
    response = page.goto(demo["url"] + "/favicon.ico")
    assert response.status == 200
    assert response.headers["content-type"] in ("image/x-icon", "image/vnd.microsoft.icon")
    assert response.request.redirected_from.url.endswith("/favicon.ico")

    page.goto(demo["url"] + "/admin/")
    assert "/accounts/login/" in page.url
    assert page.locator("input[type=password]").count() == 1
    assert icon_status(page) == [200, 200]

    # The tenant's administrator still gets the admin, with the icon.
    admin = open_page(browser, {**demo, "username": "admin"})
    response = admin.goto(demo["url"] + "/admin/")
    assert response.status == 200
    assert admin.locator("#site-name").is_visible()
    assert icon_status(admin) == [200, 200]
    context.close()
