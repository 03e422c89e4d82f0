"""Liveness and readiness probes (config.health).

Readiness queries every configured datasource for real and opens a real connection to the
broker named by ``settings.CELERY_BROKER_URL`` (the filesystem transport under the test
settings; an unreachable Redis for the failure case).
"""

from __future__ import annotations

import logging

import pytest
from django.conf import settings
from django.test import override_settings

# A Redis URL with a password on a port where nothing listens.
UNREACHABLE_BROKER = "redis://:hunter2-broker-secret@127.0.0.1:1/0"
BROKER_PASSWORD = "hunter2-broker-secret"


def test_healthz_answers_ok(client):
    """/healthz answers 200 {"status": "ok"} and is never cached."""
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db(databases="__all__")
def test_readyz_checks_every_datasource_and_the_broker(client):
    """/readyz answers 200 with an ok check per configured datasource and for the broker."""
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    body = response.json()
    expected = {f"database:{alias}": "ok" for alias in settings.DATABASES}
    expected["broker"] = "ok"
    from core import rls, sandbox

    assert body == {"status": "ok", "checks": expected, "sandbox": sandbox.state()["mode"],
                    "row_level_security": rls.status()["state"]}
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db(databases="__all__")
def test_readyz_reports_a_sandbox_that_cannot_be_set_up_without_failing(client, caplog):
    """Without bubblewrap the probe says "unavailable" (the log says why); the rest of the
    platform is still ready."""
    from core import sandbox

    saved = dict(sandbox._state)
    sandbox._state.update(barrier=None, pool=None)
    try:
        with override_settings(SANDBOX_BWRAP="/nonexistent/bwrap"), \
                caplog.at_level(logging.WARNING, logger="config.health"):
            response = client.get("/readyz")
    finally:
        sandbox._state.update(saved)
    assert response.status_code == 200
    assert response.json()["sandbox"] == "unavailable"
    assert "bubblewrap (/nonexistent/bwrap) is not installed" in caplog.text


@pytest.mark.django_db(databases="__all__")
def test_readyz_names_an_unreachable_broker_without_leaking_its_password(client, caplog):
    """With the broker setting on an unreachable Redis, /readyz answers 503 naming "broker".

    The datasources still answer; the error detail is the exception's class only, and the
    broker's password appears neither in the response nor in the log.
    """
    with override_settings(CELERY_BROKER_URL=UNREACHABLE_BROKER):
        with caplog.at_level(logging.WARNING, logger="config.health"):
            response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["broker"] == "failed"
    assert set(body["errors"]) == {"broker"}
    assert body["errors"]["broker"].isidentifier()  # a class name, no details
    for alias in settings.DATABASES:
        assert body["checks"][f"database:{alias}"] == "ok"
    assert BROKER_PASSWORD not in response.content.decode()
    assert "broker failed" in caplog.text
    assert BROKER_PASSWORD not in caplog.text


def test_readyz_reports_a_datasource_it_may_not_query(client):
    """A datasource that cannot be queried (here: database access blocked) fails the probe."""
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["database:default"] == "failed"
    assert "database:default" in body["errors"]
    assert body["checks"]["broker"] == "ok"


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_answer_get_only(client, path):
    """POST to a probe is refused with 405."""
    response = client.post(path)
    assert response.status_code == 405
    assert response["Allow"] == "GET"
