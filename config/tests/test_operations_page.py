"""The admin's operations page and the /readyz details (config.ops; issue 19, item 4).

Operators see the thresholds of seed 001 section 8.1 against current values; tenant
administrators of either tenant, a platform staff member without the permission and the
public see nothing of them. The broker figures are read from a real broker: a filesystem
broker folder of the test's own with a real message published to it, and Redis (database
15) when it answers.
"""

from __future__ import annotations

import time

import pytest
from django.db import connection
from django.test import Client

from config import ops
from conftest import make_user, require_service

OPERATIONS_URL = "/admin/operations/"
TOKEN = "scrape-token-7f3a9c"
KEYS = ("slow_queries", "deadlocks", "broker_backlog", "beat_last_seen")


@pytest.fixture
def own_broker(settings, tmp_path):
    """A filesystem broker folder of this test's own."""
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_BROKER_FOLDER = tmp_path / "broker"
    return settings.CELERY_BROKER_FOLDER


def publish(broker_url: str) -> None:
    """Publish one real task message to the default queue of ``broker_url``."""
    from config.celery import app, broker_transport_options

    with app.connection_for_write(
        url=broker_url, transport_options=broker_transport_options(broker_url)
    ) as conn:
        app.send_task("accounts.tasks.release_expired_locks", connection=conn)


@pytest.mark.django_db
def test_operator_sees_every_threshold(operator_client, own_broker):
    """An operator's page lists every signal with its threshold and state; the index links
    to it."""
    response = operator_client.get(OPERATIONS_URL)
    assert response.status_code == 200
    body = response.content.decode()
    for key in (*KEYS, f"pool_usage:{connection.alias}", f"disk_usage:{connection.alias}",
                f"replication_lag:{connection.alias}"):
        assert f'data-key="{key}"' in body, key
    checks = {check["key"]: check for check in response.context["checks"]}
    assert checks["broker_backlog"]["value"] == 0 and checks["broker_backlog"]["state"] == "ok"
    # No beat has run against this test's broker: never seen is a warning.
    assert checks["beat_last_seen"]["state"] == "warning"
    assert "≥ 80%" in checks[f"pool_usage:{connection.alias}"]["threshold"]
    assert checks[f"replication_lag:{connection.alias}"]["shown"] == "no replica configured"
    index = operator_client.get("/admin/")
    assert OPERATIONS_URL.encode() in index.content


@pytest.mark.django_db
def test_states_follow_the_current_values(operator_client, own_broker, settings):
    """A real queued message and beat's heartbeat move their rows between OK and warning."""
    settings.OPS_BROKER_BACKLOG_WARN = 2
    publish("filesystem://")
    ops.record_beat_heartbeat(time.time() - 2 * settings.OPS_BEAT_SILENT_SECONDS)
    checks = {c["key"]: c for c in operator_client.get(OPERATIONS_URL).context["checks"]}
    assert (checks["broker_backlog"]["value"], checks["broker_backlog"]["state"]) == (1, "ok")
    assert checks["beat_last_seen"]["state"] == "warning"

    publish("filesystem://")
    ops.record_beat_heartbeat()
    checks = {c["key"]: c for c in operator_client.get(OPERATIONS_URL).context["checks"]}
    assert (checks["broker_backlog"]["value"], checks["broker_backlog"]["state"]) == (
        2, "warning")
    assert checks["beat_last_seen"]["state"] == "ok"


@pytest.mark.django_db
def test_beat_init_records_a_heartbeat(own_broker):
    """Beat's start records its heartbeat, and so does each task beat publishes."""
    from celery.signals import before_task_publish, beat_init

    assert ops.beat_last_seen() is None
    beat_init.send(sender=None)
    first = ops.beat_last_seen()
    assert first is not None and abs(first - time.time()) < 60
    try:
        ops._beat_written = 0.0
        publish("filesystem://")
        assert ops.beat_last_seen() >= first
    finally:
        before_task_publish.disconnect(dispatch_uid="atrium-beat-beat")


@pytest.mark.django_db
def test_redis_broker_backlog_and_beat(settings):
    """With a Redis broker the backlog is the LLEN of the queues and beat's heartbeat is a
    key beside them."""
    require_service("127.0.0.1", 6379, "Redis")
    import redis

    url = "redis://127.0.0.1:6379/15"
    settings.CELERY_BROKER_URL = url
    client = redis.Redis.from_url(url)
    client.delete("celery", ops.BEAT_KEY)
    try:
        assert ops.broker_backlog()["celery"] == 0
        publish(url)
        publish(url)
        assert ops.broker_backlog()["celery"] == 2
        ops.record_beat_heartbeat(1234.5)
        assert ops.beat_last_seen() == 1234.5
    finally:
        client.delete("celery", ops.BEAT_KEY)


@pytest.mark.django_db
def test_slow_queries_and_deadlocks_come_from_dbwatch(operator_client, own_broker, settings):
    """The slow-query row counts what core.dbwatch counted in the last hour."""
    settings.SLOW_QUERY_MS = 1
    from core import dbwatch

    before = dbwatch.recent_counts()["slow_queries"]
    sql = {
        "postgresql": "SELECT pg_sleep(0.05)",
        "mysql": "SELECT SLEEP(0.05)",
    }.get(connection.vendor,
          "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300000) "
          "SELECT count(*) FROM n")
    with connection.cursor() as cursor:
        cursor.execute(sql)
    settings.SLOW_QUERY_MS = 10_000
    checks = {c["key"]: c for c in operator_client.get(OPERATIONS_URL).context["checks"]}
    assert checks["slow_queries"]["value"] >= before + 1
    assert checks["slow_queries"]["state"] == "warning"
    assert checks["deadlocks"]["state"] in {"ok", "warning"}


@pytest.mark.django_db
def test_disk_usage_where_readable(operator_client, own_broker):
    """The data directory's disk is measured where this host can read it; else the row
    says so."""
    checks = {c["key"]: c for c in operator_client.get(OPERATIONS_URL).context["checks"]}
    disk = checks[f"disk_usage:{connection.alias}"]
    directory = ops.data_directory(connection.alias)
    if directory is None:
        assert (disk["shown"], disk["state"]) == ("not readable", "n/a")
    else:
        assert 0 < disk["value"] < 1 and disk["state"] in {"ok", "warning"}


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["admin_a", "admin_b"])
def test_tenant_admins_are_refused(client, who, request, own_broker):
    """A tenant administrator (staff of tenant A or B) gets 403 and no figures."""
    client.force_login(request.getfixturevalue(who))
    response = client.get(OPERATIONS_URL)
    assert response.status_code in (403, 404)
    assert b"data-key=" not in response.content
    assert OPERATIONS_URL.encode() not in client.get("/admin/").content


@pytest.mark.django_db
def test_platform_staff_without_the_permission_is_refused(client, platform, own_broker):
    """Platform staff without the permission to view tenants gets 403."""
    client.force_login(make_user(platform, "helper", is_staff=True))
    assert client.get(OPERATIONS_URL).status_code in (403, 404)


@pytest.mark.django_db
def test_anonymous_is_sent_to_sign_in(client, own_broker):
    """The public sees no figures: the admin sends it to the sign-in page."""
    response = client.get(OPERATIONS_URL)
    assert response.status_code in (302, 403, 404)
    assert b"data-key=" not in response.content
    if response.status_code == 302:
        assert "/login/" in response["Location"]


@pytest.mark.django_db(databases="__all__")
def test_readyz_details_for_operators_only(client, operator, admin_a, settings, own_broker):
    """/readyz shows the details to an operator and to the metrics token, never to the
    public or a tenant administrator."""
    settings.METRICS_TOKEN = TOKEN
    public = client.get("/readyz")
    assert public.status_code == 200 and "details" not in public.json()
    wrong = client.get("/readyz", HTTP_AUTHORIZATION="Bearer nope")
    assert "details" not in wrong.json()

    tenant_admin = Client()
    tenant_admin.force_login(admin_a)
    assert "details" not in tenant_admin.get("/readyz").json()

    scraper = client.get("/readyz", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").json()
    assert set(KEYS) <= set(scraper["details"])

    operator_client = Client()
    operator_client.force_login(operator)
    details = operator_client.get("/readyz").json()["details"]
    assert details["broker_backlog"] == {"value": 0, "threshold": "≥ 1000", "state": "ok"}
