"""The pages that refuse, and the icon (issue 17, item 6).

A signed-in user without access to the administration site gets a page in the platform's
layout saying so (403), never the sign-in form again; an anonymous visitor still gets the
sign-in form; staff get the admin. Pages that do not exist, or are another tenant's, answer
404 in the platform's layout and the reader's language (the tests run with DEBUG off, as
production does). The 500 page renders with no request and no database. ``/favicon.ico``
leads to the platform's icon.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext
from django.views.defaults import server_error

from conftest import make_user
from core.context import tenant_context

pytestmark = pytest.mark.django_db

NO_ACCESS = "No access to the administration site"


def text_in(language: str, message: str) -> str:
    """Return ``message`` as the catalogue has it in ``language``."""
    with translation.override(language):
        return gettext(message)


@pytest.fixture
def member_b(tenant_b):
    """A user of tenant B without access to the administration site."""
    return make_user(tenant_b, "bob", name="Bob Beta")


@pytest.fixture
def member_b_client(member_b) -> Client:
    client = Client()
    client.force_login(member_b)
    return client


def assert_platform_layout(response, *, signed_in_as: str | None) -> str:
    """Return the page's HTML after checking it is the platform's layout, not a form."""
    html = response.content.decode()
    assert 'class="topbar"' in html and 'href="/static/css/atrium.css"' in html
    assert 'name="password"' not in html
    if signed_in_as:
        assert signed_in_as in html
    return html


@pytest.mark.parametrize("path", [
    "/admin/", "/admin/accounts/user/", "/admin/accounts/", "/admin/no-such-page/",
    "/admin/logs/operationlog/",
])
def test_a_signed_in_user_without_admin_access_is_told_so(member_b_client, path):
    """Every admin URL answers a signed-in non-staff user with the no-access page (403)."""
    response = member_b_client.get(path)
    assert response.status_code == 403
    assert [t.name for t in response.templates][0] == "admin/no_access.html"
    html = assert_platform_layout(response, signed_in_as="bob")
    assert NO_ACCESS in html and "Bob Beta" in html
    assert f'href="{reverse("home")}"' in html  # where to go instead
    assert f'action="{reverse("accounts:logout")}"' in html
    assert "no-store" in response["Cache-Control"]


def test_the_no_access_page_posts_too(member_b_client):
    """A POST to an admin page (a form kept open from an earlier session) is refused the same
    way, and changes nothing."""
    response = member_b_client.post("/admin/accounts/user/add/", {"username": "mallory"})
    assert response.status_code == 403
    assert NO_ACCESS in response.content.decode()
    from accounts.models import User
    from core.context import all_tenants

    with all_tenants():
        assert not User.objects.filter(username="mallory").exists()


def test_the_no_access_page_in_the_users_language(member_b, member_b_client):
    """A Chinese-speaking user reads the page in Chinese (their own setting)."""
    member_b.language = "zh-hans"
    member_b.save(update_fields=["language"])
    response = member_b_client.get("/admin/")
    html = response.content.decode()
    assert response.status_code == 403
    assert '<html lang="zh-hans">' in html
    assert text_in("zh-hans", "Sign out") == "退出登录" and "退出登录" in html
    assert text_in("zh-hans", NO_ACCESS) in html


def test_signing_out_from_the_no_access_page_leads_to_the_sign_in_form(member_b_client):
    """The page's sign-out goes back to the sign-in form, which brings the next user to the
    admin."""
    html = member_b_client.get("/admin/").content.decode()
    assert 'name="next" value="/accounts/login/?next=/admin/"' in html
    response = member_b_client.post(reverse("accounts:logout"),
                                    {"next": "/accounts/login/?next=/admin/"})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/admin/"
    response = member_b_client.get("/admin/", follow=True)
    assert 'name="password"' in response.content.decode()


def test_an_anonymous_visitor_still_gets_the_sign_in_form(client):
    response = client.get("/admin/accounts/user/", follow=True)
    assert response.status_code == 200
    assert response.redirect_chain[-1][0].startswith(reverse("accounts:login"))
    html = response.content.decode()
    assert 'name="password"' in html and NO_ACCESS not in html


def test_staff_still_get_the_admin(client_a):
    response = client_a.get("/admin/")
    assert response.status_code == 200
    assert "admin/index.html" in [t.name for t in response.templates]
    assert NO_ACCESS not in response.content.decode()


def test_another_tenants_user_sees_nothing_of_tenant_a_in_its_admin(org_a, member_b_client,
                                                                    admin_b):
    """Tenant B's member is refused tenant A's user page outright; tenant B's administrator
    is told the user does not exist. Neither page shows tenant A's data."""
    path = f"/admin/accounts/user/{org_a['user'].pk}/change/"
    refused = member_b_client.get(path)
    assert refused.status_code == 403
    admin_client = Client()
    admin_client.force_login(admin_b)
    missing = admin_client.get(path, follow=True)
    assert missing.redirect_chain[-1][0] == reverse("admin:index")
    for response in (refused, missing):
        html = response.content.decode()
        assert "Alpha" not in html and 'name="username"' not in html


def test_a_missing_page_for_a_signed_in_user(member_b_client):
    """DEBUG is off: a missing page is the platform's 404 page with the user's header."""
    response = member_b_client.get("/no-such-page/")
    assert response.status_code == 404
    assert "404.html" in [t.name for t in response.templates]
    html = assert_platform_layout(response, signed_in_as="bob")
    assert "Page not found" in html
    assert f'href="{reverse("home")}"' in html


def test_a_missing_page_for_an_anonymous_visitor(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    html = assert_platform_layout(response, signed_in_as=None)
    assert "Page not found" in html and f'href="{reverse("accounts:login")}"' in html


@pytest.mark.parametrize("signed_in", [True, False])
def test_a_missing_page_in_the_readers_language(member_b, signed_in):
    """The user's own language, or the browser's for an anonymous visitor."""
    client = Client(headers={"accept-language": "zh-hans"})
    if signed_in:
        member_b.language = "zh-hans"
        member_b.save(update_fields=["language"])
        client.force_login(member_b)
    response = client.get("/no-such-page/")
    html = response.content.decode()
    assert response.status_code == 404
    assert '<html lang="zh-hans">' in html
    link = "Sign out" if signed_in else "Sign in"
    assert text_in("zh-hans", link) != link and text_in("zh-hans", link) in html
    assert text_in("zh-hans", "Page not found") in html


def test_another_tenants_project_is_a_404_page_without_its_name(tenant_a, admin_b):
    """Tenant B's administrator (who may see projects) opening tenant A's project."""
    from testing.models import Project

    with tenant_context(tenant_a):
        project = Project.objects.create(name="Alpha secret project", tenant=tenant_a)
    client = Client()
    client.force_login(admin_b)
    response = client.get(f"/testing/projects/{project.pk}/")
    assert response.status_code == 404
    html = assert_platform_layout(response, signed_in_as="admin")
    assert "Alpha secret project" not in html and "Page not found" in html


@pytest.mark.django_db(databases=[])
@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_server_error_page_needs_neither_request_context_nor_database(rf, language):
    """Rendered as Django's handler renders it; any query would fail this test (no database
    is allowed), so would a context processor or a reversed URL."""
    with translation.override(language):
        response = server_error(rf.get("/"))
    html = response.content.decode()
    assert response.status_code == 500
    assert f'<html lang="{language}">' in html and "Atrium" in html
    assert text_in(language, "Server error") in html
    assert "<link" not in html and "<script" not in html  # nothing more to fetch


def test_the_favicon_answers(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 302
    assert response["Location"] == "/static/favicon.ico"
    assert "max-age=86400" in response["Cache-Control"]
    icon = client.get(response["Location"])
    assert icon.status_code == 200
    body = b"".join(icon.streaming_content)
    assert body[:4] == b"\x00\x00\x01\x00"  # an ICO file's header
    svg = client.get("/static/favicon.svg")
    assert svg.status_code == 200 and b"<svg" in b"".join(svg.streaming_content)


def test_pages_link_the_icon(client, client_a):
    """The platform's pages and the admin's name the icon in their head."""
    links = ('<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">',
             '<link rel="icon" href="/static/favicon.ico"')
    for response in (Client().get(reverse("accounts:login")), client_a.get("/admin/"),
                     client_a.get("/admin/accounts/user/")):
        assert response.status_code == 200
        html = response.content.decode()
        assert all(link in html for link in links)
