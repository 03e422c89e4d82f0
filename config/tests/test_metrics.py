"""Prometheus metrics at /metrics (config.metrics; issue 19, item 3).

The endpoint is scraped for real through the test client and its body read back with the
client library's own parser; the figures that must move are driven by real requests
(an API list, a failed sign-in, an unknown page), a real Celery task run and real SQL.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from prometheus_client.parser import text_string_to_metric_families

from config import metrics
from config.tests import BASE_DIR, platform_env

TOKEN = "scrape-token-7f3a9c"
AUTH = {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}


def scrape(client: Client, **headers) -> dict:
    """Return {sample name: {labels as a sorted tuple: value}} of one scrape."""
    response = client.get("/metrics", **(headers or AUTH))
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    samples: dict = {}
    families = list(text_string_to_metric_families(response.content.decode()))
    for family in families:
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = (
                sample.value
            )
    samples["__families__"] = {family.name for family in families}
    return samples


def value(samples: dict, name: str, **labels) -> float:
    """Return the sum of the samples of ``name`` whose labels include ``labels``."""
    return sum(
        v for key, v in samples.get(name, {}).items()
        if all(item in key for item in labels.items())
    )


def test_unconfigured_metrics_answer_404(client, settings):
    """With neither a token nor a network configured, /metrics does not exist."""
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = []
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer anything").status_code == 404


@pytest.mark.django_db
def test_metrics_refuse_a_missing_or_wrong_token(client, settings):
    """A scraper without the token, with another token or another scheme gets 401."""
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_NETWORKS = []
    for headers in ({}, {"HTTP_AUTHORIZATION": "Bearer wrong"},
                    {"HTTP_AUTHORIZATION": f"Basic {TOKEN}"},
                    {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}x"}):
        response = client.get("/metrics", **headers)
        assert response.status_code == 401, headers
        assert response["WWW-Authenticate"].startswith("Bearer")
        assert b"atrium_" not in response.content
    assert client.get("/metrics", **AUTH).status_code == 200


@pytest.mark.django_db
def test_metrics_allow_listed_networks_only(client, settings):
    """A network allow-list admits its addresses only, reading the client address the way
    the platform does (X-Forwarded-For trusted only with TRUSTED_PROXY_COUNT)."""
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = ["10.20.0.0/16", "fd00::/8"]
    settings.TRUSTED_PROXY_COUNT = 0
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.7").status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="10.20.3.4").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="fd00::1").status_code == 200
    # A forged header counts for nothing without a trusted proxy...
    spoofed = {"REMOTE_ADDR": "192.0.2.7", "HTTP_X_FORWARDED_FOR": "10.20.3.4"}
    assert client.get("/metrics", **spoofed).status_code == 403
    # ...and is the client's address behind one.
    settings.TRUSTED_PROXY_COUNT = 1
    assert client.get("/metrics", **spoofed).status_code == 200
    outside = {"REMOTE_ADDR": "10.20.3.4", "HTTP_X_FORWARDED_FOR": "198.51.100.9"}
    assert client.get("/metrics", **outside).status_code == 403


@pytest.mark.django_db
def test_metrics_with_token_or_network_either_suffices(client, settings):
    """With both configured, the token admits from anywhere and the network without it."""
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_NETWORKS = ["10.20.0.0/16"]
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.7").status_code == 401
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.7", **AUTH).status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="10.20.3.4").status_code == 200


@pytest.mark.django_db
def test_metrics_move_after_real_requests(client, settings, admin_a, admin_b, tenant_a,
                                          tenant_b):
    """Requests, SQL statements, sign-in failures of two tenants and a Celery task move
    their families; every other family is there, and the route label is the URL pattern,
    never the raw path."""
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_NETWORKS = []
    scraper = Client()
    before = scrape(scraper)

    api = Client()
    api.force_login(admin_a)
    assert api.get("/api/v1/users/").status_code == 200
    assert api.get("/api/v1/users/").status_code == 200
    assert api.get("/no-such-page-8812/").status_code == 404
    anonymous = Client()
    for code in (tenant_a.code, tenant_b.code):
        anonymous.post(reverse("accounts:login"),
                       {"tenant_code": code, "username": "admin", "password": "wrong-1"})
    from accounts.tasks import release_expired_locks

    release_expired_locks.apply()

    after = scrape(scraper)
    requests = "atrium_http_requests_total"
    route = "api/v1/users/$"  # the resolved pattern of /api/v1/users/
    users = {"route": route, "method": "GET", "status": "200"}
    assert value(after, requests, **users) - value(before, requests, **users) == 2
    duration = "atrium_http_request_duration_seconds_count"
    moved = (value(after, duration, route=route, status_class="2xx")
             - value(before, duration, route=route, status_class="2xx"))
    assert moved == 2
    assert value(after, requests, route=metrics.UNMATCHED_ROUTE, status="404") >= 1
    assert not any("no-such-page" in dict(key)["route"] for key in after[requests])

    alias = connection.alias
    queries = "atrium_db_queries_total"
    assert value(after, queries, alias=alias) > value(before, queries, alias=alias)
    assert (value(after, "atrium_db_query_duration_seconds_count", alias=alias)
            > value(before, "atrium_db_query_duration_seconds_count", alias=alias))

    assert (value(after, "atrium_signin_failures_last_hour")
            - value(before, "atrium_signin_failures_last_hour")) == 2
    task = "accounts.tasks.release_expired_locks"
    assert (value(after, "atrium_celery_tasks_total", task=task, outcome="success")
            - value(before, "atrium_celery_tasks_total", task=task, outcome="success")) == 1

    for family in ("atrium_celery_queue_length", "atrium_test_runs_last_hour",
                   "atrium_mcp_calls_last_hour", "atrium_partition_maintenance_runs_last_2d",
                   "atrium_celery_beat_last_seen_timestamp_seconds",
                   "atrium_db_slow_queries_last_hour", "atrium_db_deadlocks_last_hour",
                   "atrium_db_pool_connections_in_use"):
        assert family in after["__families__"], family
    # The default queue of the broker the tests use is read.
    assert ("atrium_celery_queue_length" in after
            and any(dict(key).get("queue") == "celery"
                    for key in after["atrium_celery_queue_length"]))
    if connection.vendor == "postgresql" and metrics.pools():
        assert value(after, "atrium_db_pool_connections_max", alias=alias) > 0


@pytest.mark.django_db
def test_partition_maintenance_and_test_runs_are_counted(client, settings):
    """A partition maintenance run and its status show in the scrape."""
    settings.METRICS_TOKEN = TOKEN
    from logs.maintenance import maintain_partitions

    before = scrape(client)
    maintain_partitions()
    after = scrape(client)
    runs = "atrium_partition_maintenance_runs_last_2d"
    assert value(after, runs) - value(before, runs) == 1
    assert value(after, "atrium_partition_maintenance_last_run_timestamp_seconds") > 0


def test_multiprocess_mode_adds_up_every_process(tmp_path):
    """With PROMETHEUS_MULTIPROC_DIR, figures of two processes are summed by the scrape
    registry, and clear_multiprocess_dir starts from nothing."""
    folder = tmp_path / "prom"
    folder.mkdir()
    env = platform_env(PROMETHEUS_MULTIPROC_DIR=str(folder),
                       DJANGO_SETTINGS_MODULE="config.settings")
    record = textwrap.dedent("""
        import django; django.setup()
        from config import metrics
        metrics.HTTP_REQUESTS.labels("r/", "GET", "200").inc(3)
    """)
    read = textwrap.dedent("""
        import django; django.setup()
        from config import metrics
        total = sum(s.value for f in metrics.process_registry().collect() for s in f.samples
                    if s.name == "atrium_http_requests_total")
        print(total)
    """)

    def run(code: str) -> str:
        done = subprocess.run([sys.executable, "-c", code], cwd=BASE_DIR, env=env,
                              capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    run(record)
    run(record)
    assert float(run(read)) == 6
    metrics.clear_multiprocess_dir(str(folder))
    assert not list(folder.glob("*.db"))
    assert float(run(read)) == 0


@pytest.mark.django_db
def test_example_alert_rules_load_and_name_exported_metrics(client, settings):
    """docs/operations/alerts.yml is valid YAML of Prometheus rule groups, and every
    atrium_ metric its expressions name is a family /metrics exports."""
    import re

    settings.METRICS_TOKEN = TOKEN
    text = (BASE_DIR / "docs" / "operations" / "alerts.yml").read_text()
    import yaml  # PyYAML: installed with drf-spectacular, which needs it

    document = yaml.safe_load(text)
    rules = [rule for group in document["groups"] for rule in group["rules"]]
    assert rules and all({"alert", "expr"} <= set(rule) for rule in rules)
    exported = scrape(client)["__families__"]
    named = {name for rule in rules for name in re.findall(r"\batrium_[a-z0-9_]+", rule["expr"])}
    assert named
    for name in named:
        family = re.sub(r"_(total|bucket|count|sum)$", "", name)
        assert family in exported, name
    thresholds = " ".join(rule["expr"] for rule in rules)
    for threshold in ("> 0.80", "> 0.85", "> 10", ">= 1000", "> 300"):
        assert threshold in thresholds, threshold


GUNICORN_CONFIG = '''
import os
from prometheus_client import multiprocess


def on_starting(server):
    from config.metrics import clear_multiprocess_dir

    clear_multiprocess_dir(os.environ["PROMETHEUS_MULTIPROC_DIR"])


def child_exit(server, worker):
    multiprocess.mark_process_dead(worker.pid)
'''


def test_gunicorn_workers_are_added_up(tmp_path):
    """Under a real gunicorn with two workers that each exit after five requests, a scrape
    counts every request served, by workers alive and gone (multiprocess mode; a worker's
    own figures would lose the requests of the workers that exited)."""
    import http.client
    import os
    import socket
    import time

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    folder = tmp_path / "prom"
    folder.mkdir()
    (folder / "stale_counter_999.db").write_bytes(b"")  # cleared at start
    config = tmp_path / "gunicorn.conf.py"
    config.write_text(GUNICORN_CONFIG)
    env = platform_env(
        PROMETHEUS_MULTIPROC_DIR=str(folder), METRICS_TOKEN=TOKEN,
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        DJANGO_SETTINGS_MODULE="config.settings",
        PYTHONPATH=str(BASE_DIR) + os.pathsep + os.environ.get("PYTHONPATH", ""),
    )
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "config.wsgi", "-c", str(config),
             "--bind", f"127.0.0.1:{port}", "--workers", "2", "--max-requests", "5",
             # Loaded once and forked: a replaced worker starts at once on a busy machine.
             "--preload", "--timeout", "120", "--log-level", "warning"],
            cwd=BASE_DIR, env=env, stdout=output, stderr=subprocess.STDOUT)

    retries = []

    def get(path: str, **headers) -> tuple[int, bytes]:
        deadline = time.monotonic() + 120
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                body = response.read()
                conn.close()
                return response.status, body
            except OSError:
                retries.append(path)
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"gunicorn did not answer:\n{log.read_text()}")
                time.sleep(0.2)

    try:
        for _ in range(20):
            assert get("/healthz")[0] == 200
        status, body = get("/metrics", Authorization=f"Bearer {TOKEN}")
    finally:
        server.terminate()
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
    assert status == 200, body[:500]
    assert not (folder / "stale_counter_999.db").exists()
    served = sum(
        sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
        if sample.name == "atrium_http_requests_total" and sample.labels["route"] == "healthz"
    )
    # A request the server counted may have been retried when its worker was replaced.
    assert 20 <= served <= 20 + retries.count("/healthz"), (served, retries)


def test_a_malformed_network_stops_start_up():
    """METRICS_ALLOWED_NETWORKS with something that is no network stops start-up, naming
    the variable."""
    from config.tests import manage

    done = manage("check", env=platform_env(METRICS_ALLOWED_NETWORKS="10.0.0.0/8,intranet"))
    assert done.returncode != 0
    assert "METRICS_ALLOWED_NETWORKS: 'intranet' is not a network" in done.stderr
