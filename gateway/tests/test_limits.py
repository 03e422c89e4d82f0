"""Per-tenant and per-API-key rate limits of the MCP gateway (issue 5, item 6; gateway.limits).

Most behaviours run against both backends: the in-process limiter and Redis (database 13,
a key prefix unique to the test, its keys deleted afterwards). Time is passed explicitly
(``now``) wherever a delay is asserted; the concurrency tests use the real clocks with
limits per hour, so that no slot comes back while they run.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
import uuid

import pytest
import redis
from django.core.exceptions import ImproperlyConfigured

from accounts.services.api_keys import issue_api_key
from conftest import require_service
from gateway import limits
from gateway.limits import RateLimited, check_rate, parse_rate

pytestmark = pytest.mark.django_db

REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
REDIS_URL = f"redis://{REDIS_HOST}:{REDIS_PORT}/13"
# Nothing listens on port 1: connections are refused at once.
UNREACHABLE_URL = "redis://:s3cret-pass@127.0.0.1:1/0"
T0 = 1_000_000.0  # seconds on the limiter's clock, as passed through ``now``
BACKENDS = ["local", pytest.param("redis", marks=pytest.mark.services)]


def limits_setting(**plans) -> dict:
    """Return an MCP_RATE_LIMITS value: ``plan=(tenant, key)``; default unlimited."""
    value = {"default": {"tenant": None, "key": None}}
    for plan, (tenant, key) in plans.items():
        value[plan] = {"tenant": tenant, "key": key}
    return value


def attempt(tenant, api_key, *, now: float | None = T0, cost: int = 1) -> RateLimited | None:
    """Return None when the call is accepted, else the refusal."""
    try:
        check_rate(tenant=tenant, api_key=api_key, cost=cost, now=now)
    except RateLimited as refusal:
        return refusal
    return None


def accepted(tenant, api_key, count: int, *, now: float | None = T0) -> int:
    """Try ``count`` calls and return how many were accepted."""
    return sum(attempt(tenant, api_key, now=now) is None for _ in range(count))


@pytest.fixture(autouse=True)
def fresh_limiter():
    """Start and end every test with no buckets and no Redis pool."""
    limits.reset()
    yield
    limits.reset()


@pytest.fixture
def redis_store(settings):
    """Point the limiter at the local Redis under a unique prefix; delete its keys after."""
    require_service(REDIS_HOST, REDIS_PORT, "Redis")
    prefix = f"atrium-test:limits:{uuid.uuid4().hex}"
    settings.MCP_RATE_LIMIT_REDIS_URL = REDIS_URL
    settings.MCP_RATE_LIMIT_KEY_PREFIX = prefix
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
    yield {"client": client, "prefix": prefix}
    limits.reset()
    stored = list(client.scan_iter(match=f"{prefix}:*"))
    if stored:
        client.delete(*stored)
    client.close()


@pytest.fixture(params=BACKENDS)
def backend(request, settings):
    """Each backend in turn: "local" (no Redis URL) or "redis"."""
    if request.param == "redis":
        request.getfixturevalue("redis_store")
    else:
        settings.MCP_RATE_LIMIT_REDIS_URL = ""
    return request.param


@pytest.fixture
def keys(admin_a, admin_b):
    """Two API keys of tenant A and one of tenant B."""
    return {
        "a1": issue_api_key(user=admin_a, name="agent one", scopes=[])[0],
        "a2": issue_api_key(user=admin_a, name="agent two", scopes=[])[0],
        "b1": issue_api_key(user=admin_b, name="agent", scopes=[])[0],
    }


# The format of the setting --------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("60/minute", (60, 60)),
        ("1/second", (1, 1)),
        ("3600/hour", (3600, 3600)),
        (" 5 / minute ", (5, 60)),
    ],
)
def test_parse_rate_returns_count_and_seconds(text, expected):
    """A rate "N/second|minute|hour" is N calls per 1, 60 or 3600 seconds."""
    assert parse_rate(text) == expected


@pytest.mark.parametrize(
    "value",
    ["60/minit", "60/minutes", "60/day", "0/minute", "-1/minute", "1.5/second", "60", "",
     "/minute", "2000000/second", 60, None, ["60/minute"]],
)  # fmt: skip
def test_parse_rate_refuses_anything_else(value):
    """Anything but a whole number from 1 per second, minute or hour is refused, named."""
    with pytest.raises(ImproperlyConfigured, match=r"MCP_RATE_LIMITS\['free'\]\['key'\]"):
        parse_rate(value, entry="MCP_RATE_LIMITS['free']['key']")


@pytest.mark.parametrize(
    "value, named",
    [
        ("120/minute", "must map plans to limits"),
        ({"free": {"tenant": "1/second", "key": "1/second"}}, "needs a 'default' entry"),
        (limits_setting(entreprise=("1/second", None)), r"MCP_RATE_LIMITS\['entreprise'\]"),
        ({"default": {"tenant": "1/second"}}, r"MCP_RATE_LIMITS\['default'\] = .* exactly"),
        ({"default": {"tenent": None, "key": None}}, r"MCP_RATE_LIMITS\['default'\]"),
        ({"default": "60/minute"}, r"MCP_RATE_LIMITS\['default'\]"),
        (limits_setting(pro=("10/minute", "60/minit")), r"MCP_RATE_LIMITS\['pro'\]\['key'\]"),
        (limits_setting(free=(0, None)), r"MCP_RATE_LIMITS\['free'\]\['tenant'\] = 0"),
    ],
)
def test_a_malformed_setting_is_improperly_configured_naming_the_entry(
    settings, tenant_a, keys, value, named
):
    """A check under a malformed MCP_RATE_LIMITS stops with the entry to fix, as does the
    system check, whichever plan the caller is on."""
    settings.MCP_RATE_LIMIT_REDIS_URL = ""
    settings.MCP_RATE_LIMITS = value
    with pytest.raises(ImproperlyConfigured, match=named):
        check_rate(tenant=tenant_a, api_key=keys["a1"])
    [error] = limits.check_settings()
    assert error.id == "mcp.E101"


def test_the_shipped_defaults_pass_the_system_check(settings):
    """The built-in limits are valid and give every plan a tenant and a key limit."""
    del settings.MCP_RATE_LIMITS
    settings.MCP_RATE_LIMIT_REDIS_URL = ""
    assert limits.check_settings() == []
    for plan in ("free", "pro", "enterprise", "someday"):
        assert all(rate is not None for rate in limits.limits_for(plan).values())
    assert limits.limits_for("free") == {"tenant": (120, 60), "key": (60, 60)}


def test_a_redis_url_of_another_scheme_is_improperly_configured(settings, tenant_a, keys):
    """MCP_RATE_LIMIT_REDIS_URL must be a Redis URL."""
    settings.MCP_RATE_LIMITS = limits_setting(free=("1/second", None))
    settings.MCP_RATE_LIMIT_REDIS_URL = "http://127.0.0.1:6379/0"
    with pytest.raises(ImproperlyConfigured, match="MCP_RATE_LIMIT_REDIS_URL"):
        check_rate(tenant=tenant_a, api_key=keys["a1"])
    assert [error.id for error in limits.check_settings()] == ["mcp.E102"]


# Behaviour, on both backends ---------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
class TestLimits:
    """The limits behave the same in process and in Redis."""

    def test_a_key_gets_its_limit_then_a_refusal_with_the_exact_delay(
        self, backend, settings, tenant_a, keys
    ):
        """60/minute accepts 60 calls at once, then refuses for exactly one second."""
        settings.MCP_RATE_LIMITS = limits_setting(free=("1000/minute", "60/minute"))
        assert accepted(tenant_a, keys["a1"], 60) == 60
        refusal = attempt(tenant_a, keys["a1"])
        assert refusal.scope == "key" and refusal.retry_after == 1.0
        assert refusal.rate == (60, 60)
        assert refusal.message == (
            "Rate limit of 60 calls per minute for this API key reached; retry in 1 s."
        )
        assert attempt(tenant_a, keys["a1"], now=T0 + 0.25).retry_after == 0.75
        assert attempt(tenant_a, keys["a1"], now=T0 + 0.999999).retry_after == pytest.approx(
            0.000001, abs=1e-9
        )
        assert attempt(tenant_a, keys["a1"], now=T0 + 1.0) is None
        # Sustained: one call per second from there on.
        assert attempt(tenant_a, keys["a1"], now=T0 + 1.5).retry_after == 0.5
        assert attempt(tenant_a, keys["a1"], now=T0 + 2.0) is None

    def test_an_interval_that_is_not_a_whole_microsecond_is_rounded_up(
        self, backend, settings, tenant_a, keys
    ):
        """7/minute still accepts a burst of exactly 7; the next slot is 60/7 s later, up to a
        microsecond, never earlier."""
        settings.MCP_RATE_LIMITS = limits_setting(free=(None, "7/minute"))
        assert accepted(tenant_a, keys["a1"], 8) == 7
        retry = attempt(tenant_a, keys["a1"]).retry_after
        assert retry == 8.571429
        assert attempt(tenant_a, keys["a1"], now=T0 + 8.571428) is not None
        assert attempt(tenant_a, keys["a1"], now=T0 + retry) is None

    def test_two_tenants_do_not_share_a_budget(self, backend, settings, tenant_a, tenant_b, keys):
        """Tenant A spending its whole budget leaves tenant B's untouched."""
        settings.MCP_RATE_LIMITS = limits_setting(free=("3/minute", None))
        assert accepted(tenant_a, keys["a1"], 5) == 3
        assert accepted(tenant_b, keys["b1"], 5) == 3
        assert attempt(tenant_a, keys["a2"]).scope == "tenant"

    def test_two_keys_of_a_tenant_share_its_budget_but_not_the_key_budget(
        self, backend, settings, tenant_a, keys
    ):
        """Each key has its own key limit; both draw from the one tenant limit."""
        settings.MCP_RATE_LIMITS = limits_setting(free=("3/minute", "2/minute"))
        assert accepted(tenant_a, keys["a1"], 2) == 2
        refusal = attempt(tenant_a, keys["a1"])
        assert refusal.scope == "key" and refusal.retry_after == 30.0
        assert attempt(tenant_a, keys["a2"]) is None  # own key budget, the tenant's third
        refusal = attempt(tenant_a, keys["a2"])
        assert refusal.scope == "tenant" and refusal.retry_after == 20.0
        assert refusal.message == (
            "Rate limit of 3 calls per minute for this tenant reached; retry in 20 s."
        )

    def test_a_refusal_by_the_tenant_limit_consumes_nothing_of_the_key(
        self, backend, settings, tenant_a, keys
    ):
        """A call the tenant limit refuses leaves the key's bucket as it was."""
        settings.MCP_RATE_LIMITS = limits_setting(free=("1/minute", "2/minute"))
        assert attempt(tenant_a, keys["a1"]) is None
        for _ in range(5):
            assert attempt(tenant_a, keys["a1"]).scope == "tenant"
        settings.MCP_RATE_LIMITS = limits_setting(free=(None, "2/minute"))
        assert attempt(tenant_a, keys["a1"]) is None
        refusal = attempt(tenant_a, keys["a1"])
        assert refusal.scope == "key" and refusal.retry_after == 30.0

    def test_a_refusal_by_the_key_limit_consumes_nothing_of_the_tenant(
        self, backend, settings, tenant_a, keys
    ):
        """A call the key limit refuses leaves the tenant's budget for the other keys."""
        settings.MCP_RATE_LIMITS = limits_setting(free=("2/minute", "1/minute"))
        assert attempt(tenant_a, keys["a1"]) is None
        for _ in range(5):
            assert attempt(tenant_a, keys["a1"]).scope == "key"
        assert attempt(tenant_a, keys["a2"]) is None  # the tenant's second call
        assert attempt(tenant_a, keys["a2"]).scope == "key"

    def test_when_both_are_over_the_longer_wait_is_given(self, backend, settings, tenant_a, keys):
        """Over both limits, retry_after is the longer delay, named by its scope; after it
        the call is accepted."""
        settings.MCP_RATE_LIMITS = limits_setting(free=("2/minute", "2/hour"))
        assert accepted(tenant_a, keys["a1"], 2) == 2
        refusal = attempt(tenant_a, keys["a1"])
        assert refusal.scope == "key" and refusal.retry_after == 1800.0
        assert refusal.message.endswith("for this API key reached; retry in 1800 s.")
        assert attempt(tenant_a, keys["a1"], now=T0 + 1800.0) is None
        # On a tie the tenant is named.
        settings.MCP_RATE_LIMITS = limits_setting(free=("1/minute", "1/minute"))
        assert attempt(tenant_a, keys["a2"], now=T0 + 5000) is None
        assert attempt(tenant_a, keys["a2"], now=T0 + 5000).scope == "tenant"

    def test_limits_follow_the_tenant_plan(self, backend, settings, tenant_a, tenant_b, keys):
        """A pro tenant gets the pro limits, a free tenant the free ones."""
        tenant_a.plan = "pro"
        tenant_a.save()
        settings.MCP_RATE_LIMITS = limits_setting(
            free=("100/minute", "2/minute"), pro=("100/minute", "5/minute")
        )
        assert accepted(tenant_a, keys["a1"], 10) == 5
        assert accepted(tenant_b, keys["b1"], 10) == 2

    def test_a_plan_not_listed_gets_the_default_entry(self, backend, settings, tenant_a, keys):
        """An enterprise tenant, with no enterprise entry, gets the default limits."""
        tenant_a.plan = "enterprise"
        tenant_a.save()
        settings.MCP_RATE_LIMITS = {
            "free": {"tenant": "100/minute", "key": "50/minute"},
            "default": {"tenant": "4/hour", "key": None},
        }
        assert accepted(tenant_a, keys["a1"], 10) == 4
        assert attempt(tenant_a, keys["a2"]).retry_after == 900.0

    def test_none_means_unlimited(self, backend, settings, tenant_a, keys):
        """A null key limit leaves only the tenant's; two nulls never refuse."""
        settings.MCP_RATE_LIMITS = limits_setting(free=("3/second", None))
        assert accepted(tenant_a, keys["a1"], 2) + accepted(tenant_a, keys["a2"], 2) == 3
        settings.MCP_RATE_LIMITS = limits_setting(free=(None, None))
        assert accepted(tenant_a, keys["a1"], 500) == 500

    def test_a_costly_request_counts_as_several_calls(self, backend, settings, tenant_a, keys):
        """``cost`` calls are taken at once, or none; a cost over the limit never fits."""
        settings.MCP_RATE_LIMITS = limits_setting(free=(None, "5/minute"))
        assert attempt(tenant_a, keys["a1"], cost=3) is None
        refusal = attempt(tenant_a, keys["a1"], cost=3)
        assert refusal.retry_after == 12.0
        assert attempt(tenant_a, keys["a1"], cost=2) is None
        assert attempt(tenant_a, keys["a1"]).retry_after == 12.0
        too_much = attempt(tenant_a, keys["a2"], cost=6)
        assert too_much.scope == "key" and too_much.retry_after == 60.0
        assert "counts as 6 calls" in too_much.message and "cannot be accepted" in too_much.message
        for cost in (0, -1, 1.5, True):
            with pytest.raises(ValueError, match="cost"):
                check_rate(tenant=tenant_a, api_key=keys["a1"], cost=cost)

    def test_the_real_clock_is_used_without_now(self, backend, settings, tenant_a, keys):
        """With no ``now``, the backend's own clock decides (the Redis server's in Redis)."""
        settings.MCP_RATE_LIMITS = limits_setting(free=(None, "1/hour"))
        assert attempt(tenant_a, keys["a1"], now=None) is None
        refusal = attempt(tenant_a, keys["a1"], now=None)
        assert 3590 < refusal.retry_after <= 3600

    def test_exactly_the_limit_is_accepted_from_50_threads(
        self, backend, settings, tenant_a, keys
    ):
        """50 simultaneous calls against a limit of 20 accept exactly 20."""
        settings.MCP_RATE_LIMITS = limits_setting(free=("1000/hour", "20/hour"))
        results = run_in_threads(50, lambda _: attempt(tenant_a, keys["a1"], now=None))
        assert sum(result is None for result in results) == 20
        assert {result.scope for result in results if result is not None} == {"key"}

    def test_tenant_and_key_stay_exact_together_under_threads(
        self, backend, settings, tenant_a, admin_a
    ):
        """60 threads over 6 keys (limit 8 each), tenant limit 20: exactly 20 accepted, no
        key above 8, and the tenant's bucket holds exactly 20."""
        api_keys = [issue_api_key(user=admin_a, name=f"k{n}", scopes=[])[0] for n in range(7)]
        settings.MCP_RATE_LIMITS = limits_setting(free=("20/hour", "8/hour"))
        results = run_in_threads(
            60, lambda n: (n % 6, attempt(tenant_a, api_keys[n % 6], now=None))
        )
        per_key = [sum(r is None for k, r in results if k == n) for n in range(6)]
        assert sum(per_key) == 20 and max(per_key) <= 8
        # A fresh key meets a tenant bucket holding exactly 20 calls: refused (19 would
        # leave room) for one interval (21 would mean two), less the seconds elapsed.
        refusal = attempt(tenant_a, api_keys[6], now=None)
        assert refusal.scope == "tenant" and 170 < refusal.retry_after <= 180


def run_in_threads(count: int, call) -> list:
    """Run ``call(n)`` for n in range(count) on as many threads released together."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(n: int) -> None:
        barrier.wait()
        results[n] = call(n)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    return results


def test_the_two_backends_decide_alike(settings, tenant_a, keys, redis_store):
    """The Lua script and the in-process limiter give the same answers, to the microsecond,
    for one sequence of calls, costs and times."""
    require_service(REDIS_HOST, REDIS_PORT, "Redis")
    settings.MCP_RATE_LIMITS = limits_setting(free=("11/minute", "7/minute"))
    sequence = [
        (key, T0 + offset, cost)
        for offset, key, cost in [
            (0, "a1", 1), (0, "a1", 3), (0.5, "a2", 2), (1, "a1", 3), (1, "a1", 1),
            (2.25, "a2", 4), (3, "a2", 1), (9, "a1", 2), (9.000001, "a2", 1), (17, "a2", 5),
            (30, "a1", 7), (31.5, "a2", 2), (60, "a1", 1), (61, "a2", 3), (200, "a1", 7),
        ]
    ]  # fmt: skip

    def run() -> list:
        outcome = []
        for key, now, cost in sequence:
            refusal = attempt(tenant_a, keys[key], now=now, cost=cost)
            outcome.append(None if refusal is None else (refusal.scope, refusal.retry_after))
        return outcome

    in_redis = run()
    settings.MCP_RATE_LIMIT_REDIS_URL = ""
    in_process = run()
    assert in_redis == in_process
    assert 0 < in_redis.count(None) < len(sequence)  # both accepted and refused calls


# Redis only ---------------------------------------------------------------------------


@pytest.mark.services
def test_redis_keys_carry_a_ttl_and_the_tenant_hash_tag(settings, tenant_a, keys, redis_store):
    """Both buckets are stored under the tenant's hash tag and expire when full again."""
    client, prefix = redis_store["client"], redis_store["prefix"]
    settings.MCP_RATE_LIMITS = limits_setting(free=("120/minute", "60/minute"))
    assert attempt(tenant_a, keys["a1"], now=None) is None
    tenant_key = f"{prefix}:{{{tenant_a.pk}}}:tenant"
    key_key = f"{prefix}:{{{tenant_a.pk}}}:key:{keys['a1'].pk}"
    assert sorted(client.scan_iter(match=f"{prefix}:*")) == sorted(
        [tenant_key.encode(), key_key.encode()]
    )
    assert 0 < client.pttl(tenant_key) <= 500
    assert 0 < client.pttl(key_key) <= 1000


@pytest.mark.services
def test_unlimited_calls_never_touch_redis(settings, tenant_a, keys, redis_store):
    """With both limits null nothing is stored."""
    settings.MCP_RATE_LIMITS = limits_setting(free=(None, None))
    assert accepted(tenant_a, keys["a1"], 10) == 10
    assert list(redis_store["client"].scan_iter(match=f"{redis_store['prefix']}:*")) == []


def _attempt_in_child(tenant, api_key, barrier, accepted_count, tries: int) -> None:
    """Run in a forked process: try ``tries`` calls, add the accepted ones to the count."""
    barrier.wait(timeout=30)
    mine = sum(attempt(tenant, api_key, now=None) is None for _ in range(tries))
    with accepted_count.get_lock():
        accepted_count.value += mine


@pytest.mark.services
def test_exactly_the_limit_is_accepted_across_processes(settings, tenant_a, keys, redis_store):
    """Five processes making ten calls each against a limit of 20 get exactly 20 in all:
    Redis holds one budget for every process."""
    settings.MCP_RATE_LIMITS = limits_setting(free=("20/hour", None))
    assert attempt(tenant_a, keys["a1"], now=None) is None  # the parent's pool exists
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(5)
    accepted_count = context.Value("i", 0)
    processes = [
        context.Process(
            target=_attempt_in_child, args=(tenant_a, keys["a1"], barrier, accepted_count, 10)
        )
        for _ in range(5)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=60)
    assert [process.exitcode for process in processes] == [0] * 5
    assert accepted_count.value == 19


@pytest.mark.services
def test_an_unreachable_redis_fails_open_to_per_process_limits(
    settings, tenant_a, keys, caplog, monkeypatch
):
    """With Redis down the gateway keeps answering: one warning (no password in it), the
    per-process limiter enforces the limits, and Redis is not retried until the retry
    interval has passed."""
    settings.MCP_RATE_LIMIT_REDIS_URL = UNREACHABLE_URL
    settings.MCP_RATE_LIMITS = limits_setting(free=(None, "2/hour"))
    limiter = limits.redis_limiter()
    tries = []
    get_connection = limiter.client.connection_pool.get_connection

    def counting_get_connection(*args, **kwargs):
        tries.append(1)
        return get_connection(*args, **kwargs)

    monkeypatch.setattr(limiter.client.connection_pool, "get_connection", counting_get_connection)
    with caplog.at_level(logging.WARNING, logger="gateway.limits"):
        assert accepted(tenant_a, keys["a1"], 3) == 2
        refusal = attempt(tenant_a, keys["a1"])
    assert refusal.scope == "key" and refusal.retry_after == 1800.0
    [warning] = [record for record in caplog.records if record.name == "gateway.limits"]
    assert "Redis did not answer" in warning.getMessage()
    assert "per-process limits" in warning.getMessage()
    assert "s3cret" not in caplog.text
    assert len(tries) == 1  # not retried within the interval
    monkeypatch.setattr(limits, "REDIS_RETRY_INTERVAL", 0.0)
    limiter._down_until = 0.0
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="gateway.limits"):
        assert attempt(tenant_a, keys["a2"]) is None
        assert attempt(tenant_a, keys["a2"]) is None
    assert len(tries) == 3  # retried each time once the interval is over
    assert not [record for record in caplog.records if record.name == "gateway.limits"]
