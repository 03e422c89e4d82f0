"""Daily usage rollups and the usage dashboard (issue 4 item 6, seed 003 section 6.3).

``analytics_data`` lives on the routed datasource (``postgres_db``) when it is configured,
and on ``default`` through the development fallback otherwise; every test asks for both
aliases in the first case. The placement tests need ``postgres_db`` and skip without it
(or fail under ``ATRIUM_REQUIRE_SERVICES``), like ``config/tests/test_router.py``.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import DEFAULT_DB_ALIAS, connections
from django.urls import reverse

from config.routers import route_for_table
from conftest import make_user
from gateway.choices import CallerType
from gateway.models import McpToolCallLog
from logs.models import (
    BusinessType,
    LoginLog,
    LoginStatus,
    OperationLog,
    OperationStatus,
    UsageDaily,
)
from logs.tasks import rollup_usage
from gateway.usage import count_mcp_calls
from logs.usage import day_bounds, rollup_day, usage_for

ROUTED_ALIAS = "postgres_db"
ANALYTICS_ALIAS = route_for_table("analytics_data")
DATABASES = sorted({DEFAULT_DB_ALIAS, ANALYTICS_ALIAS})
DAY = dt.date(2026, 3, 10)
UTC = dt.timezone.utc

pytestmark = pytest.mark.django_db(databases=DATABASES)


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    """Return ``day`` at ``hour:minute`` UTC."""
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=UTC)


def login(tenant, user, status: str, when: dt.datetime) -> LoginLog:
    """Record a sign-in attempt at ``when``."""
    row = LoginLog.objects.create(
        tenant=tenant,
        user=user,
        tenant_code=tenant.code,
        username=user.username if user else "ghost",
        login_status=status,
    )
    LoginLog.objects.all_tenants().filter(pk=row.pk).update(created_at=when)
    return row


def operation(tenant, user, when: dt.datetime, *, business_type=BusinessType.OTHER,
              status=OperationStatus.SUCCESS, response_status=200, operator_tenant=None):
    """Record a logged request at ``when``."""
    row = OperationLog.objects.create(
        tenant=tenant,
        user=user,
        username=user.username if user else "",
        operator_tenant=operator_tenant,
        request_id="req",
        method="POST",
        uri="/api/v1/things/",
        business_type=business_type,
        response_status=response_status,
        status=status,
    )
    OperationLog.objects.all_tenants().filter(pk=row.pk).update(created_at=when)
    return row


@pytest.fixture
def activity(tenant_a, tenant_b, admin_a, admin_b, platform, operator):
    """A day of activity in both tenants, plus rows just outside the day."""
    bob = make_user(tenant_a, "bob")
    carol = make_user(tenant_a, "carol")
    # Tenant A: 3 sign-ins by 2 users, 4 failures, 4 writes, 2 errors, 3 active users.
    login(tenant_a, admin_a, LoginStatus.SUCCESS, at(DAY, 0, 0))
    login(tenant_a, admin_a, LoginStatus.SUCCESS, at(DAY, 12))
    login(tenant_a, bob, LoginStatus.SUCCESS, at(DAY, 23, 59))
    for hour in (1, 2, 3):
        login(tenant_a, bob, LoginStatus.FAILED, at(DAY, hour))
    login(tenant_a, None, LoginStatus.FAILED, at(DAY, 4))
    operation(tenant_a, admin_a, at(DAY, 9), business_type=BusinessType.CREATE)
    operation(tenant_a, carol, at(DAY, 10), business_type=BusinessType.UPDATE)
    operation(tenant_a, admin_a, at(DAY, 11), business_type=BusinessType.DELETE)
    operation(tenant_a, admin_a, at(DAY, 13), status=OperationStatus.FAILED, response_status=500)
    operation(tenant_a, admin_a, at(DAY, 14), response_status=503)
    operation(tenant_a, admin_a, at(DAY, 15), response_status=404)  # neither write nor error
    # An operator acting inside tenant A writes there but is not one of its users.
    operation(tenant_a, operator, at(DAY, 16), business_type=BusinessType.UPDATE,
              operator_tenant=platform)
    # Tenant B: 7 sign-ins by one user, one failed write.
    for minute in range(7):
        login(tenant_b, admin_b, LoginStatus.SUCCESS, at(DAY, 8, minute))
    operation(tenant_b, admin_b, at(DAY, 8, 30), business_type=BusinessType.CREATE,
              status=OperationStatus.FAILED, response_status=400)
    # Just outside the UTC day, for both tenants.
    before, after = at(DAY, 0) - dt.timedelta(seconds=1), at(DAY + dt.timedelta(days=1), 0)
    for tenant, user in ((tenant_a, admin_a), (tenant_b, admin_b)):
        login(tenant, user, LoginStatus.SUCCESS, before)
        login(tenant, user, LoginStatus.FAILED, after)
        operation(tenant, user, after, business_type=BusinessType.CREATE, response_status=500)


def mcp_call(tenant, user, when: dt.datetime, status=OperationStatus.SUCCESS) -> McpToolCallLog:
    """Record one MCP tool call at ``when``."""
    row = McpToolCallLog.objects.create(
        tenant=tenant,
        user=user,
        username=user.username if user else "",
        request_id="req",
        tool_name="list_users",
        caller_id=str(user.pk) if user else "anonymous",
        caller_type=CallerType.USER,
        status=status,
    )
    McpToolCallLog.objects.all_tenants().filter(pk=row.pk).update(created_at=when)
    return row


def numbers(tenant) -> dict:
    """Return ``tenant``'s counters of DAY as stored."""
    return usage_for(tenant, DAY, DAY).values(
        "logins", "failed_logins", "active_users", "writes", "errors", "mcp_calls"
    ).get()


# ---------------------------------------------------------------------------
# Rollup
# ---------------------------------------------------------------------------


def test_rollup_counts_each_tenant_of_the_utc_day(activity, tenant_a, tenant_b, platform):
    """Each tenant gets its own day's numbers; every tenant gets a row, zeros included."""
    assert rollup_day(DAY) == 3

    assert numbers(tenant_a) == {
        "logins": 3, "failed_logins": 4, "active_users": 3, "writes": 4, "errors": 2,
        "mcp_calls": 0,
    }
    assert numbers(tenant_b) == {
        "logins": 7, "failed_logins": 0, "active_users": 1, "writes": 1, "errors": 1,
        "mcp_calls": 0,
    }
    assert numbers(platform) == dict.fromkeys(
        ("logins", "failed_logins", "active_users", "writes", "errors", "mcp_calls"), 0
    )


def test_rollup_counts_each_tenants_mcp_calls_of_the_day(tenant_a, tenant_b, admin_a, admin_b,
                                                         platform):
    """One per call-log row of the tenant and UTC day, failed calls included."""
    for minute in range(3):
        mcp_call(tenant_a, admin_a, at(DAY, 10, minute))
    mcp_call(tenant_a, admin_a, at(DAY, 23, 59), status=OperationStatus.FAILED)
    mcp_call(tenant_b, admin_b, at(DAY, 0, 0))
    # Just outside the day, for both tenants.
    before, after = at(DAY, 0) - dt.timedelta(seconds=1), at(DAY + dt.timedelta(days=1), 0)
    for tenant, user in ((tenant_a, admin_a), (tenant_b, admin_b)):
        mcp_call(tenant, user, before)
        mcp_call(tenant, user, after)

    assert count_mcp_calls(*day_bounds(DAY)) == {tenant_a.pk: 4, tenant_b.pk: 1}
    rollup_day(DAY)
    assert numbers(tenant_a)["mcp_calls"] == 4
    assert numbers(tenant_b)["mcp_calls"] == 1
    assert numbers(platform)["mcp_calls"] == 0
    next_day = DAY + dt.timedelta(days=1)
    rollup_day(next_day)
    assert usage_for(tenant_b, next_day, next_day).get().mcp_calls == 1


def test_rerunning_a_day_replaces_its_numbers(activity, tenant_a, tenant_b, admin_a):
    """A second rollup of the same day updates the rows instead of adding to them."""
    rollup_day(DAY)
    login(tenant_a, admin_a, LoginStatus.SUCCESS, at(DAY, 18))
    first_row = usage_for(tenant_a, DAY, DAY).get()

    assert rollup_day(DAY) == 3
    assert rollup_day(DAY) == 3

    rows = UsageDaily.objects.using(ANALYTICS_ALIAS).filter(day=DAY)
    assert rows.count() == 3
    assert numbers(tenant_a)["logins"] == 4
    assert numbers(tenant_b)["logins"] == 7
    assert usage_for(tenant_a, DAY, DAY).get().computed_at >= first_row.computed_at


def test_usage_for_returns_only_the_tenants_rows_in_range(tenant_a, tenant_b):
    """The selector filters by tenant id and by day, both ends included."""
    now = dt.datetime.now(UTC)
    for offset in range(5):
        for tenant in (tenant_a, tenant_b):
            UsageDaily.objects.using(ANALYTICS_ALIAS).create(
                tenant_id=tenant.pk, day=DAY + dt.timedelta(days=offset), computed_at=now
            )
    rows = list(usage_for(tenant_a, DAY + dt.timedelta(days=1), DAY + dt.timedelta(days=3)))
    assert [row.day.day for row in rows] == [11, 12, 13]
    assert {row.tenant_id for row in rows} == {tenant_a.pk}


def test_the_task_rolls_up_yesterday_and_catches_up_missing_days(tenant_a):
    """Through Celery, the task does yesterday and every missing day of the week before."""
    yesterday = dt.datetime.now(UTC).date() - dt.timedelta(days=1)

    result = rollup_usage.apply()

    assert result.successful(), result.traceback
    days = [dt.date.fromisoformat(day) for day in result.get()]
    assert days == [yesterday - dt.timedelta(days=n) for n in range(6, -1, -1)]
    assert usage_for(tenant_a, yesterday - dt.timedelta(days=6), yesterday).count() == 7

    again = rollup_usage.apply()
    assert again.get() == [yesterday.isoformat()]


def test_the_command_rolls_up_one_day(activity, tenant_b):
    """``manage.py rollup_usage --day`` rolls up that day."""
    out = StringIO()
    call_command("rollup_usage", "--day", DAY.isoformat(), stdout=out)
    assert "2026-03-10" in out.getvalue()
    assert numbers(tenant_b)["logins"] == 7


def test_the_rollup_is_scheduled_daily():
    """Celery beat runs the rollup once a day."""
    entries = [
        entry for entry in settings.CELERY_BEAT_SCHEDULE.values()
        if entry["task"] == "logs.tasks.rollup_usage"
    ]
    assert [entry["schedule"] for entry in entries] == [24 * 3600.0]


# ---------------------------------------------------------------------------
# Placement on the routed datasource
# ---------------------------------------------------------------------------


@pytest.fixture(scope="class")
def routed_datasource() -> str:
    """Skip (or fail under ATRIUM_REQUIRE_SERVICES) when postgres_db is not configured."""
    if ROUTED_ALIAS not in settings.DATABASES:
        message = (
            f"The routed datasource {ROUTED_ALIAS!r} is not configured "
            "(set DATABASE_URL_POSTGRES_DB; scripts/test_backends.py does when PostgreSQL "
            "answers)."
        )
        if os.environ.get("ATRIUM_REQUIRE_SERVICES"):
            pytest.fail(message)
        pytest.skip(message)
    return ROUTED_ALIAS


@pytest.mark.usefixtures("routed_datasource")
@pytest.mark.django_db(databases=["default", "postgres_db"])
class TestPlacement:
    """analytics_data rows live on postgres_db; the table does not exist on default."""

    def test_rollup_rows_are_stored_on_the_routed_datasource(self, activity, tenant_b):
        """Rows written by the rollup are found with raw SQL on postgres_db."""
        rollup_day(DAY)
        with connections[ROUTED_ALIAS].cursor() as cursor:
            cursor.execute(
                "SELECT logins FROM analytics_data WHERE tenant_id = %s AND day = %s",
                [tenant_b.pk, DAY],
            )
            assert cursor.fetchall() == [(7,)]

    def test_analytics_data_exists_only_on_the_routed_datasource(self):
        """The migration creates analytics_data on postgres_db and not on default."""
        assert "analytics_data" in connections[ROUTED_ALIAS].introspection.table_names()
        assert "analytics_data" not in connections[DEFAULT_DB_ALIAS].introspection.table_names()


# ---------------------------------------------------------------------------
# Dashboard
# ---------------------------------------------------------------------------

URL = "/usage/"


@pytest.fixture
def dashboard_data(tenant_a, tenant_b):
    """Yesterday's usage for both tenants, with numbers that appear nowhere else."""
    yesterday = dt.datetime.now(UTC).date() - dt.timedelta(days=1)
    now = dt.datetime.now(UTC)
    UsageDaily.objects.using(ANALYTICS_ALIAS).create(
        tenant_id=tenant_a.pk, day=yesterday, logins=4321, writes=1234, computed_at=now
    )
    UsageDaily.objects.using(ANALYTICS_ALIAS).create(
        tenant_id=tenant_b.pk, day=yesterday, logins=98765, writes=56789, computed_at=now
    )


def test_the_dashboard_url_is_usage():
    """The page is mounted at /usage/."""
    assert reverse("logs:usage") == URL


def test_the_dashboard_needs_sign_in(client, db):
    """An anonymous visitor is sent to the login page."""
    response = client.get(URL)
    assert response.status_code == 302
    assert reverse("accounts:login") in response["Location"]


def test_the_dashboard_needs_the_view_permission(client, tenant_a, dashboard_data):
    """A signed-in user without usagedaily:view is refused."""
    client.force_login(make_user(tenant_a, "nobody"))
    assert client.get(URL).status_code == 403


def test_the_dashboard_shows_only_the_users_tenant(client_a, dashboard_data):
    """Tenant A's administrator sees A's numbers as SVG charts and a table, never B's."""
    response = client_a.get(URL)

    assert response.status_code == 200
    html = response.content.decode()
    assert "4321" in html and "1234" in html
    assert "98765" not in html and "56789" not in html
    assert html.count("<svg viewBox") == 2
    assert "<rect" in html
    assert "<script" not in html
    assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", html, re.IGNORECASE)


def test_a_tenant_user_cannot_pick_another_tenant(client_a, dashboard_data):
    """?tenant= is ignored for anybody but a platform operator."""
    html = client_a.get(URL, {"tenant": "beta"}).content.decode()
    assert "98765" not in html
    assert "4321" in html


def test_an_operator_sees_the_platform_and_may_pick_a_tenant(operator_client, dashboard_data):
    """An operator sees the platform tenant by default and another tenant on request."""
    html = operator_client.get(URL).content.decode()
    assert "98765" not in html and "4321" not in html

    picked = operator_client.get(URL, {"tenant": "beta"})
    assert picked.status_code == 200
    assert "98765" in picked.content.decode()
    assert "4321" not in picked.content.decode()
    assert operator_client.get(URL, {"tenant": "nope"}).status_code == 404


# ---------------------------------------------------------------------------
# Today live, days not rolled up, rolling up on demand (issue 17, item 1)
# ---------------------------------------------------------------------------


def today_row(html: str) -> str:
    return html[html.index('<tr class="today">'):].split("</tr>", 1)[0]


def test_today_is_counted_live_for_the_tenant_alone(client_a, tenant_a, tenant_b, admin_a,
                                                   admin_b):
    now = dt.datetime.now(UTC)
    for _ in range(3):
        login(tenant_a, admin_a, LoginStatus.SUCCESS, now)
    for _ in range(5):
        login(tenant_b, admin_b, LoginStatus.FAILED, now)
    row = today_row(client_a.get(URL).content.decode())
    assert re.findall(r"<td>(\d+)</td>", row)[:3] == ["3", "0", "1"]


def test_missing_days_are_said_and_an_operator_rolls_them_up(operator, client_a, tenant_a,
                                                            dashboard_data):
    from django.test import Client

    operator_client = Client()
    operator_client.force_login(operator)
    html = client_a.get(URL).content.decode()
    assert "28 past days have no figures yet" in html
    assert "usage-rollup" not in html and reverse("logs:usage-rollup") not in html
    assert client_a.post(reverse("logs:usage-rollup")).status_code == 403
    page = operator_client.get(URL, {"tenant": tenant_a.code}).content.decode()
    assert reverse("logs:usage-rollup") in page
    response = operator_client.post(reverse("logs:usage-rollup"), {"tenant": tenant_a.code})
    assert response.status_code == 302 and response.url == f"{URL}?tenant={tenant_a.code}"
    html = client_a.get(URL).content.decode()
    assert 'id="usage-missing"' not in html and "Not rolled up" not in html
    yesterday = dt.datetime.now(UTC).date() - dt.timedelta(days=1)
    assert usage_for(tenant_a, yesterday, yesterday).get().logins == 0  # counted again


def test_seed_demo_leaves_no_day_without_figures(client):
    call_command("seed_demo", stdout=StringIO())
    from accounts.models import User
    from core.context import all_tenants

    with all_tenants():
        client.force_login(User.objects.get(tenant__code="acme", username="admin"))
    html = client.get(URL).content.decode()
    assert 'id="usage-missing"' not in html and "Not rolled up" not in html


def test_empty_charts_have_a_plain_axis_and_say_they_are_empty(client_a):
    html = client_a.get(URL).content.decode()
    assert "No sign-ins in these 30 days." in html
    labels = re.findall(r'dominant-baseline="middle" fill="#5b6b7c">(\d+)</text>', html)
    assert labels[:2] == ["0", "1"]
