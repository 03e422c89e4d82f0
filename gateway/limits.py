"""Per-tenant and per-API-key rate limits of the MCP gateway: GCRA buckets, in Redis in
production (one Lua script per check) and in process memory otherwise.

``check_rate`` is called once for every ``tools/call`` and ``tools/list``; over a limit it
raises ``RateLimited`` with the exact ``retry_after``. Limits come from
``settings.MCP_RATE_LIMITS`` per tenant plan. How GCRA decides, why a Redis outage fails
open to the per-process limiter, and the storage details: docs/rate-limits.md.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple

import redis
from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext, ngettext
from redis.backoff import NoBackoff
from redis.retry import Retry

logger = logging.getLogger(__name__)

# Used when settings.MCP_RATE_LIMITS is absent (config/settings.py sets the same values).
DEFAULT_RATE_LIMITS: dict[str, dict[str, str | None]] = {
    "free": {"tenant": "120/minute", "key": "60/minute"},
    "pro": {"tenant": "600/minute", "key": "300/minute"},
    "enterprise": {"tenant": "3000/minute", "key": "1000/minute"},
    "default": {"tenant": "120/minute", "key": "60/minute"},
}
DEFAULT_KEY_PREFIX = "atrium:mcp:rl"
DEFAULT_REDIS_TIMEOUT = 0.5  # seconds, to connect and per command
# Seconds during which Redis is not tried again after an error (the per-process limiter
# answers meanwhile), and the shortest gap between two warnings about it.
REDIS_RETRY_INTERVAL = 5.0
REDIS_WARNING_INTERVAL = 60.0

SCOPES = ("tenant", "key")
PERIODS = {"second": 1, "minute": 60, "hour": 3600}
MICROSECONDS = 1_000_000
_RATE = re.compile(r"\s*(\d+)\s*/\s*(second|minute|hour)\s*")
# The in-process limiter drops buckets that are full again every this many acceptances.
_SWEEP_EVERY = 1024


class Rate(NamedTuple):
    """``count`` calls per ``seconds``; compares equal to the plain tuple."""

    count: int
    seconds: int

    @property
    def interval_us(self) -> int:
        """Return the emission interval in microseconds, rounded up."""
        return -(-self.seconds * MICROSECONDS // self.count)

    @property
    def capacity_us(self) -> int:
        """Return the burst tolerance in microseconds (room for ``count`` calls)."""
        return self.count * self.interval_us

    @property
    def period_name(self) -> str:
        """Return the period as written in the setting ("minute")."""
        return next(name for name, seconds in PERIODS.items() if seconds == self.seconds)


class RateLimited(Exception):
    """A call refused by a rate limit.

    ``retry_after``: seconds (float, > 0) until the caller may try again; ``scope``:
    ``"tenant"`` or ``"key"``; ``rate``: the limit that refused; ``message``: readable text
    for an AI agent, in the active language.
    """

    def __init__(
        self, *, scope: str, retry_after: float, rate: Rate, message: str | None = None
    ) -> None:
        self.scope = scope
        self.retry_after = retry_after
        self.rate = rate
        self.message = message or _refusal_message(scope, rate, retry_after)
        super().__init__(self.message)


def _period_label(rate: Rate) -> str:
    labels = {"second": gettext("second"), "minute": gettext("minute"), "hour": gettext("hour")}
    return labels[rate.period_name]


def _refusal_message(scope: str, rate: Rate, retry_after: float) -> str:
    params = {
        "count": rate.count,
        "period": _period_label(rate),
        # Whole seconds, rounded up: retrying after the number shown always succeeds.
        "retry": max(1, math.ceil(retry_after)),
    }
    if scope == "tenant":
        text = ngettext(
            "Rate limit of %(count)d call per %(period)s for this tenant reached; "
            "retry in %(retry)d s.",
            "Rate limit of %(count)d calls per %(period)s for this tenant reached; "
            "retry in %(retry)d s.",
            rate.count,
        )
    else:
        text = ngettext(
            "Rate limit of %(count)d call per %(period)s for this API key reached; "
            "retry in %(retry)d s.",
            "Rate limit of %(count)d calls per %(period)s for this API key reached; "
            "retry in %(retry)d s.",
            rate.count,
        )
    return text % params


def _too_costly_message(scope: str, rate: Rate, cost: int) -> str:
    params = {"cost": cost, "count": rate.count, "period": _period_label(rate)}
    if scope == "tenant":
        text = ngettext(
            "This request counts as %(cost)d calls, more than the limit of %(count)d call "
            "per %(period)s for this tenant allows; it cannot be accepted.",
            "This request counts as %(cost)d calls, more than the limit of %(count)d calls "
            "per %(period)s for this tenant allows; it cannot be accepted.",
            rate.count,
        )
    else:
        text = ngettext(
            "This request counts as %(cost)d calls, more than the limit of %(count)d call "
            "per %(period)s for this API key allows; it cannot be accepted.",
            "This request counts as %(cost)d calls, more than the limit of %(count)d calls "
            "per %(period)s for this API key allows; it cannot be accepted.",
            rate.count,
        )
    return text % params


# Settings ------------------------------------------------------------------------------


@lru_cache(maxsize=256)
def _parse_rate_text(value: str) -> Rate | None:
    match = _RATE.fullmatch(value)
    if not match:
        return None
    count, seconds = int(match[1]), PERIODS[match[2]]
    # Below 1 the rate means nothing; above one call per microsecond the microsecond
    # arithmetic could not keep it.
    if not 1 <= count <= seconds * MICROSECONDS:
        return None
    return Rate(count, seconds)


def parse_rate(value: Any, *, entry: str = "rate") -> Rate:
    """Return ``(count, seconds)`` of a rate written ``"N/second|minute|hour"``.

    Raise ``ImproperlyConfigured`` naming ``entry`` for anything else (``None``, meaning
    unlimited, is the caller's business).
    """
    rate = _parse_rate_text(value) if isinstance(value, str) else None
    if rate is None:
        raise ImproperlyConfigured(
            f"{entry} = {value!r} is not a rate: write 'N/second', 'N/minute' or 'N/hour' "
            f"with N a whole number from 1 (e.g. '60/minute'), or null for unlimited."
        )
    return rate


def rate_limits(value: Any = None) -> dict[str, dict[str, Rate | None]]:
    """Return ``settings.MCP_RATE_LIMITS`` (or ``value``) validated and parsed.

    Raise ``ImproperlyConfigured`` naming the first malformed entry.
    """
    from tenants.models import (
        TenantPlan,  # the models are loaded by the time limits are read
    )

    if value is None:
        value = getattr(settings, "MCP_RATE_LIMITS", None) or DEFAULT_RATE_LIMITS
    example = '{"default": {"tenant": "120/minute", "key": "60/minute"}}'
    if not isinstance(value, dict):
        raise ImproperlyConfigured(
            f"MCP_RATE_LIMITS must map plans to limits, like {example}; got {value!r}."
        )
    if "default" not in value:
        raise ImproperlyConfigured(
            "MCP_RATE_LIMITS needs a 'default' entry, used for a plan that is not listed, "
            f"like {example}."
        )
    plans = {*TenantPlan.values, "default"}
    parsed: dict[str, dict[str, Rate | None]] = {}
    for plan, limits in value.items():
        name = f"MCP_RATE_LIMITS[{plan!r}]"
        if plan not in plans:
            raise ImproperlyConfigured(
                f"{name}: unknown plan; the plans are {', '.join(sorted(plans))}."
            )
        if not isinstance(limits, dict) or set(limits) != set(SCOPES):
            raise ImproperlyConfigured(
                f"{name} = {limits!r} must be an object with exactly the keys 'tenant' and "
                "'key', each a rate such as '60/minute' or null for unlimited."
            )
        parsed[plan] = {
            scope: None
            if limits[scope] is None
            else parse_rate(limits[scope], entry=f"{name}[{scope!r}]")
            for scope in SCOPES
        }
    return parsed


def limits_for(plan: str) -> dict[str, Rate | None]:
    """Return the ``{"tenant": rate, "key": rate}`` in force for ``plan`` (None: unlimited)."""
    limits = rate_limits()
    return limits.get(plan, limits["default"])


def check_settings(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Report a malformed ``MCP_RATE_LIMITS`` or ``MCP_RATE_LIMIT_REDIS_URL`` (system check)."""
    errors = []
    try:
        rate_limits()
    except ImproperlyConfigured as exc:
        errors.append(checks.Error(str(exc), id="mcp.E101"))
    try:
        _redis_settings()
    except ImproperlyConfigured as exc:
        errors.append(checks.Error(str(exc), id="mcp.E102"))
    return errors


def _redis_settings() -> tuple[str, float]:
    url = getattr(settings, "MCP_RATE_LIMIT_REDIS_URL", "") or ""
    timeout = getattr(settings, "MCP_RATE_LIMIT_REDIS_TIMEOUT", DEFAULT_REDIS_TIMEOUT)
    if url and not url.startswith(("redis://", "rediss://", "unix://")):
        raise ImproperlyConfigured(
            "MCP_RATE_LIMIT_REDIS_URL must start with redis://, rediss:// or unix:// "
            "(e.g. redis://127.0.0.1:6379/0), or be empty for per-process limits."
        )
    if not isinstance(timeout, int | float) or isinstance(timeout, bool) or timeout <= 0:
        raise ImproperlyConfigured(
            f"MCP_RATE_LIMIT_REDIS_TIMEOUT must be a number of seconds above 0; got {timeout!r}."
        )
    return url, float(timeout)


# The decision, shared by both backends ------------------------------------------------------


@dataclass(frozen=True)
class Bucket:
    """One limit to check: its scope, its storage key and its rate."""

    scope: str
    key: str
    rate: Rate


class Refusal(NamedTuple):
    """The bucket that needs the longest wait, and the wait in microseconds (> 0)."""

    bucket: Bucket
    wait_us: int


def _decide(
    tats: list[int | None], buckets: list[Bucket], cost: int, now_us: int
) -> tuple[Refusal | None, list[int]]:
    """Return the refusal (or None) and every bucket's new TAT, by GCRA.

    ``tats`` are the stored TATs (None: no record, a full bucket). The Lua script of
    :class:`RedisLimiter` is the same computation.
    """
    refusal = None
    new_tats = []
    for bucket, stored in zip(buckets, tats, strict=True):
        tat = now_us if stored is None else max(stored, now_us)
        new_tat = tat + cost * bucket.rate.interval_us
        excess = new_tat - bucket.rate.capacity_us - now_us
        if excess > 0 and (refusal is None or excess > refusal.wait_us):
            refusal = Refusal(bucket, excess)
        new_tats.append(new_tat)
    return refusal, new_tats


class LocalLimiter:
    """The buckets in this process's memory: exact among its threads, per process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tats: dict[str, int] = {}
        self._accepted = 0

    def acquire(self, buckets: list[Bucket], cost: int, now_us: int | None) -> Refusal | None:
        """Consume ``cost`` from every bucket, or from none and return the refusal."""
        with self._lock:
            if now_us is None:
                # Monotonic: a wall-clock step must not refill or drain every bucket.
                now_us = time.monotonic_ns() // 1000
            refusal, new_tats = _decide(
                [self._tats.get(bucket.key) for bucket in buckets], buckets, cost, now_us
            )
            if refusal is not None:
                return refusal
            for bucket, new_tat in zip(buckets, new_tats, strict=True):
                self._tats[bucket.key] = new_tat
            self._accepted += 1
            if self._accepted % _SWEEP_EVERY == 0:
                # A bucket whose TAT has passed is full: the same as no record.
                self._tats = {key: tat for key, tat in self._tats.items() if tat > now_us}
            return None

    def clear(self) -> None:
        """Forget every bucket."""
        with self._lock:
            self._tats.clear()
            self._accepted = 0


# KEYS: the buckets' keys. ARGV[1]: now in microseconds, or "" for the server's clock;
# ARGV[2]: cost; then per key its emission interval and capacity (microseconds).
# Returns {0, index of the refusing key, wait in microseconds} or {1, 0, 0}.
# Numbers are written with %.0f: Lua's tostring keeps 14 digits, a timestamp has 16.
GCRA_SCRIPT = """
local now
if ARGV[1] == '' then
  local clock = redis.call('TIME')
  now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
else
  now = tonumber(ARGV[1])
end
local cost = tonumber(ARGV[2])
local worst, worst_index = 0, 0
local new_tats = {}
for i = 1, #KEYS do
  local interval = tonumber(ARGV[1 + 2 * i])
  local capacity = tonumber(ARGV[2 + 2 * i])
  local tat = tonumber(redis.call('GET', KEYS[i]) or now)
  if tat < now then tat = now end
  local new_tat = tat + cost * interval
  local excess = new_tat - capacity - now
  if excess > worst then
    worst, worst_index = excess, i
  end
  new_tats[i] = new_tat
end
if worst_index > 0 then
  return {0, worst_index, string.format('%.0f', worst)}
end
for i = 1, #KEYS do
  local ttl = math.ceil((new_tats[i] - now) / 1000)
  redis.call('SET', KEYS[i], string.format('%.0f', new_tats[i]), 'PX', ttl)
end
return {1, 0, '0'}
"""


class RedisLimiter:
    """The buckets in Redis, one atomic script per check; exact across processes."""

    def __init__(self, url: str, timeout: float) -> None:
        # One immediate retry, for a pooled connection the server closed meanwhile; an
        # unreachable server then costs at most two timeouts per REDIS_RETRY_INTERVAL.
        pool = redis.ConnectionPool.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 1),
        )
        self.client = redis.Redis(connection_pool=pool)
        self._script = self.client.register_script(GCRA_SCRIPT)
        self._lock = threading.Lock()
        self._down_until = 0.0  # time.monotonic() before which Redis is not tried
        self._warned_at: float | None = None

    def acquire(self, buckets: list[Bucket], cost: int, now_us: int | None) -> Refusal | None:
        """Consume ``cost`` from every bucket, or from none and return the refusal.

        Raise ``redis.RedisError`` when Redis does not answer.
        """
        args: list[Any] = ["" if now_us is None else now_us, cost]
        for bucket in buckets:
            args += [bucket.rate.interval_us, bucket.rate.capacity_us]
        accepted, index, wait = self._script(keys=[bucket.key for bucket in buckets], args=args)
        if accepted:
            return None
        return Refusal(buckets[int(index) - 1], int(wait))

    def available(self) -> bool:
        """Return whether Redis may be tried (no error within the retry interval)."""
        return time.monotonic() >= self._down_until

    def failed(self, exc: Exception) -> None:
        """Stop trying Redis for a while and warn, at most once a minute."""
        with self._lock:
            now = time.monotonic()
            self._down_until = now + REDIS_RETRY_INTERVAL
            if self._warned_at is not None and now - self._warned_at < REDIS_WARNING_INTERVAL:
                return
            self._warned_at = now
        # The exception names host and port, never the URL's password.
        logger.warning(
            "MCP rate limiter: Redis did not answer (%s: %s); using per-process limits, "
            "retrying Redis in %d s.",
            type(exc).__name__,
            exc,
            REDIS_RETRY_INTERVAL,
        )

    def recovered(self) -> None:
        """Note that Redis answers again."""
        if self._warned_at is not None:
            with self._lock:
                self._warned_at = None
            logger.info("MCP rate limiter: Redis answers again; limits are shared again.")


_local = LocalLimiter()
_redis_limiters: dict[tuple[str, float], RedisLimiter] = {}
_redis_lock = threading.Lock()


def redis_limiter() -> RedisLimiter | None:
    """Return this process's Redis limiter for the configured URL, or None without one."""
    url, timeout = _redis_settings()
    if not url:
        return None
    limiter = _redis_limiters.get((url, timeout))
    if limiter is None:
        with _redis_lock:
            limiter = _redis_limiters.get((url, timeout))
            if limiter is None:
                try:
                    limiter = RedisLimiter(url, timeout)
                except ValueError as exc:  # redis-py's verdict on a malformed URL
                    raise ImproperlyConfigured(
                        f"MCP_RATE_LIMIT_REDIS_URL is not a valid Redis URL: {exc}"
                    ) from exc
                _redis_limiters[(url, timeout)] = limiter
    return limiter


def reset() -> None:
    """Forget the in-process buckets and the Redis connection pools (tests, reloads)."""
    _local.clear()
    with _redis_lock:
        limiters = list(_redis_limiters.values())
        _redis_limiters.clear()
    for limiter in limiters:
        limiter.client.close()
        limiter.client.connection_pool.disconnect()


def _acquire(buckets: list[Bucket], cost: int, now_us: int | None) -> Refusal | None:
    limiter = redis_limiter()
    if limiter is not None and limiter.available():
        try:
            refusal = limiter.acquire(buckets, cost, now_us)
        except redis.RedisError as exc:
            limiter.failed(exc)
        else:
            limiter.recovered()
            return refusal
    return _local.acquire(buckets, cost, now_us)


def check_rate(*, tenant, api_key, cost: int = 1, now: float | None = None) -> None:
    """Count one request of ``api_key`` of ``tenant``, or raise :class:`RateLimited`.

    ``cost`` is how many calls the request counts as. ``now`` (seconds, tests only) replaces
    the clock: the Redis server's, or this process's monotonic clock.
    """
    if isinstance(cost, bool) or not isinstance(cost, int) or cost < 1:
        raise ValueError(f"cost must be a whole number from 1, got {cost!r}.")
    limits = limits_for(tenant.plan)
    prefix = getattr(settings, "MCP_RATE_LIMIT_KEY_PREFIX", "") or DEFAULT_KEY_PREFIX
    # The tenant's id in braces is a Redis Cluster hash tag: both keys on one slot.
    keys = {
        "tenant": f"{prefix}:{{{tenant.pk}}}:tenant",
        "key": f"{prefix}:{{{tenant.pk}}}:key:{api_key.pk}",
    }
    buckets = [
        Bucket(scope, keys[scope], limits[scope]) for scope in SCOPES if limits[scope] is not None
    ]
    if not buckets:
        return
    for bucket in buckets:
        if cost > bucket.rate.count:
            # It would never fit, however long the caller waited.
            raise RateLimited(
                scope=bucket.scope,
                retry_after=float(bucket.rate.seconds),
                rate=bucket.rate,
                message=_too_costly_message(bucket.scope, bucket.rate, cost),
            )
    now_us = None if now is None else round(now * MICROSECONDS)
    refusal = _acquire(buckets, cost, now_us)
    if refusal is not None:
        raise RateLimited(
            scope=refusal.bucket.scope,
            retry_after=refusal.wait_us / MICROSECONDS,
            rate=refusal.bucket.rate,
        )
