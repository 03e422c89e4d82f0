"""The platform's guarded outbound HTTP client: any status comes back, nothing reaches an
address the platform must not call. One client serves the MCP gateway's external tools,
the test engine's HTTP steps and nothing else calls out.

``Session(policy)`` is the client, built on httpx (``httpx2``: keep-alive pool, cookies,
redirects, every body kind) with a network backend that checks every connection it opens
(``_GuardedBackend``); a test run keeps one per scenario run. ``request(method, url,
headers=, body=, budget=, policy=)`` sends one request on a session of its own, follows
redirects itself (dropping the caller's credential headers when a redirect leaves their
origin) and returns the ``Response`` whatever its status: the caller decides what a 404
or a 500 means (an MCP tool treats it as a failure, a test step asserts on it). Only
what prevents an answer raises ``OutboundError``, with a ``code`` and a neutral, safe
message that callers may reword (``OutboundError.reworded``): a refused address, an
invalid URL, a failed connection, a timeout, an unreadable answer.

Addresses (the SSRF guard)
--------------------------
Every host is resolved once per hop; each address is checked, and the socket connects to
exactly one of the addresses that passed, while the ``Host`` header, TLS SNI and certificate
verification keep using the host name of the URL. A DNS answer that changes between the
check and the connection (rebinding) therefore cannot reach another address: nothing
resolves the name again. Refused: loopback, private (RFC 1918, CGNAT 100.64/10,
unique-local fc00::/7), link-local (169.254/16 with the cloud metadata address,
fe80::/10), site-local fec0::/10, reserved and documentation ranges, and IPv4 addresses
hidden in IPv6 (IPv4-mapped, NAT64, 6to4). Addresses inside ``Policy.allowed_networks`` are
allowed even so, except the unspecified address, multicast and link-local (where the
cloud metadata services answer, with AWS's fd00:ec2::254), which are never a destination;
``Policy.refused_endpoints`` (the platform's own databases, broker and cache, from
``service_endpoints``) are refused whatever the networks allow. Of a name that resolves to several addresses only the allowed ones are tried;
none allowed: refused, before any connection is opened.

Redirects (301, 302, 303, 307, 308) are followed by this module, at most
``Policy.max_redirects``, each hop resolved and checked again; only http and https are
followed, and the headers named in ``credentials`` are dropped when a redirect leaves the
origin (scheme, host and port) they were meant for. Proxy environment variables are
ignored on purpose: a proxy would connect on the platform's behalf, past the check.

Time
----
``budget`` (``core.deadlines.TimeBudget``) covers the whole call: connection, TLS
handshake, every redirect hop and the reading of the answer. httpx's timeouts are set to
the time left, and the platform's watchdog (``core.deadlines.watch``) shuts the session's
sockets down when the time is up, so a server that drips bytes cannot stretch the call.
Name resolution itself uses the system resolver, which is bounded by its own settings
(resolv.conf), not by the budget.

The answer's body is read up to ``Policy.max_response_bytes``; a longer one is cut and
marked ``truncated``. No message of an ``OutboundError`` carries an upstream body, a secret
or an internal address; the details go to the application log.
"""

from __future__ import annotations

import http.client
import ipaddress
import logging
import re
import socket
import ssl
import time
import weakref
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from functools import lru_cache
from urllib.parse import urljoin, urlsplit

import httpcore2
import httpx2
from django.utils.translation import gettext as _

from core.deadlines import TimeBudget, watch

logger = logging.getLogger(__name__)

DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024
DEFAULT_MAX_REDIRECTS = 5
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
READ_CHUNK = 64 * 1024
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
NAT64_PREFIX = ipaddress.ip_network("64:ff9b::/96")
SITE_LOCAL_V6 = ipaddress.ip_network("fec0::/10")
# The IPv6 metadata address of AWS (inside fd00::/8, unique-local, so not link-local).
ALWAYS_REFUSED_V6 = ipaddress.ip_network("fd00:ec2::254/128")


class OutboundError(Exception):
    """A request that produced no answer to hand back.

    ``code`` names the reason (``invalid_url``, ``credentials_in_url``, ``unresolvable``,
    ``refused_address``, ``redirect_refused``, ``too_many_redirects``, ``timeout``,
    ``tls``, ``unreachable``, ``unreadable``, ``unsendable``, or one of a caller's own);
    ``message`` is short, readable and safe to show; ``retryable`` is True for failures
    worth another try (connection, timeout); ``status`` and ``retry_after`` are set by
    callers that turn an answer into an error.
    """

    def __init__(self, message: str, *, retryable: bool, code: str = "error",
                 status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.code = code
        self.status = status
        self.retry_after = retry_after

    def reworded(self, messages: dict[str, str], **params) -> OutboundError:
        """Return this error with the caller's message for its code (formatted with
        ``params``), or itself when the caller has none."""
        message = messages.get(self.code)
        if message is None:
            return self
        error = OutboundError(message % params if params else message,
                              retryable=self.retryable, code=self.code, status=self.status,
                              retry_after=self.retry_after)
        error.__cause__ = self.__cause__
        return error


@dataclass(frozen=True)
class Policy:
    """Where and how much a caller's requests may go."""

    allowed_networks: tuple = ()
    # (address, port) pairs never connected to whatever the networks allow: the platform's
    # own databases, broker and cache (``service_endpoints``).
    refused_endpoints: frozenset = frozenset()
    max_redirects: int = DEFAULT_MAX_REDIRECTS
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    # None: the system's trust store; else a PEM file of CAs to trust.
    ca_bundle: str | None = None


@dataclass
class Response:
    """An answer, whatever its status."""

    status: int
    headers: http.client.HTTPMessage
    body: bytes = b""
    truncated: bool = False
    url: str = ""
    location: str | None = None


@lru_cache(maxsize=8)
def parse_networks(values: tuple[str, ...]) -> tuple:
    """Return the networks of CIDR strings; raise ``ValueError`` for one that is not."""
    return tuple(ipaddress.ip_network(value, strict=False) for value in values)


@lru_cache(maxsize=4)
def tls_context(cafile: str | None = None) -> ssl.SSLContext:
    """Return the TLS context of outbound calls (system CAs, or ``cafile``'s)."""
    # Loading the trust store costs milliseconds; one context serves every call.
    context = ssl.create_default_context(cafile=cafile)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


# Addresses


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """Return the IPv4 address an IPv6 address leads to (mapped, NAT64, 6to4), if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in NAT64_PREFIX:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    return None


def _is_special(ip) -> bool:
    """Return whether ``ip`` is anything but a public unicast address."""
    return (
        not ip.is_global or ip.is_private or ip.is_loopback or ip.is_link_local
        or ip.is_reserved or ip.is_multicast or ip.is_unspecified
        or (ip.version == 6 and ip in SITE_LOCAL_V6)
    )


def is_refused_address(address: str, allowed: tuple = ()) -> bool:
    """Return whether the platform refuses to connect to ``address`` (see the module docstring).

    ``allowed`` holds the operator's allow-listed networks.
    """
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return True
    candidates = [ip]
    if ip.version == 6:
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            # A mapped or NAT64 address goes where its IPv4 part says; 6to4 is judged both ways.
            candidates = [embedded] if ip.sixtofour is None else [ip, embedded]
    if any(c.is_unspecified or c.is_multicast or c.is_link_local or c in ALWAYS_REFUSED_V6
           for c in candidates):
        # Link-local holds the cloud metadata services: never a destination, allowed or not.
        return True
    if all(any(c in network for network in allowed) for c in candidates):
        return False
    return any(_is_special(c) for c in candidates)


def service_endpoints(allowed: tuple[str, ...] = ()) -> frozenset:
    """Return the ``(address, port)`` pairs of the platform's own services, minus ``allowed``.

    The services are the databases of ``DATABASES``, the Celery broker and result backend
    and the caches; ``allowed`` lists ``host:port`` pairs an operator lets callers reach
    even so (a single-server demo, the test suite). Host names are resolved here, once.
    """
    from urllib.parse import urlsplit as split

    from django.conf import settings

    pairs: set[tuple[str, int]] = set()
    defaults = {"mysql": 3306, "postgresql": 5432, "oracle": 1521}
    for database in settings.DATABASES.values():
        engine = database.get("ENGINE", "")
        vendor = next((name for name in defaults if name in engine), None)
        if vendor is None:
            continue
        host = database.get("HOST") or "127.0.0.1"
        if host.startswith("/"):
            continue  # a Unix socket is no network destination
        pairs.add((host, int(database.get("PORT") or defaults[vendor])))
    urls = [getattr(settings, "CELERY_BROKER_URL", ""), getattr(settings, "CELERY_RESULT_BACKEND", "")]
    urls += [cache.get("LOCATION", "") for cache in getattr(settings, "CACHES", {}).values()]
    ports = {"redis": 6379, "rediss": 6379, "amqp": 5672, "amqps": 5671, "memcached": 11211}
    for url in urls:
        for location in (url if isinstance(url, list | tuple) else [url]):
            if not isinstance(location, str) or "://" not in location:
                continue
            parts = split(location)
            if parts.hostname and parts.scheme in ports:
                pairs.add((parts.hostname, parts.port or ports[parts.scheme]))
    exempt = frozenset(tuple(item.rsplit(":", 1)) for item in allowed if ":" in item)
    key = (frozenset(pairs), exempt)
    cached = _ENDPOINTS.get(key)
    if cached is None or cached[0] < time.monotonic():
        # Resolved again after a while: a service that moves to another address stays refused.
        cached = (time.monotonic() + ENDPOINTS_TTL, _endpoint_addresses(*key))
        _ENDPOINTS[key] = cached
    return cached[1]


ENDPOINTS_TTL = 60.0  # seconds
_ENDPOINTS: dict[tuple, tuple[float, frozenset]] = {}


def _endpoint_addresses(pairs: frozenset, exempt: frozenset) -> frozenset:
    """Return the addresses of the ``(host, port)`` pairs not ``exempt``."""
    endpoints = set()
    for host, port in pairs:
        if (host, str(port)) in exempt:
            continue
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError):
            continue
        for info in infos:
            address = ipaddress.ip_address(info[4][0].split("%", 1)[0])
            if (str(address), str(port)) not in exempt:
                endpoints.add((address, port))
    return frozenset(endpoints)


def resolve(host: str, port: int, *, policy: Policy, budget: TimeBudget,
            what: str) -> list[tuple]:
    """Return ``(family, sockaddr)`` of every address of ``host`` the policy lets a caller
    reach; raise ``OutboundError`` (``refused_address``, ``unresolvable``) when none.

    For callers that open their own connection (a database driver): connect to one of the
    returned addresses, never to the name again.
    """
    return _resolve(host, port, budget, policy, what)


# Resolution, connections and the watchdog


def _resolve(host: str, port: int, budget: TimeBudget, policy: Policy, what: str) -> list[tuple]:
    """Return ``(family, sockaddr)`` of every allowed address of ``host``; refuse if none."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                   proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        logger.info("Outbound call of %s: host %s did not resolve (%s).", what, host, exc)
        raise OutboundError(
            _("The host name could not be resolved."),
            retryable=exc.errno == socket.EAI_AGAIN, code="unresolvable",
        ) from None
    except UnicodeError:
        raise _invalid_url() from None
    budget.left()
    allowed = policy.allowed_networks
    addresses, refused, seen = [], [], set()
    for family, _type, _proto, _name, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6) or sockaddr in seen:
            continue
        seen.add(sockaddr)
        if is_refused_address(sockaddr[0], allowed) or (
                (ipaddress.ip_address(sockaddr[0].split("%", 1)[0]), port)
                in policy.refused_endpoints):
            refused.append(sockaddr[0])
        else:
            addresses.append((family, sockaddr))
    if not addresses:
        # Operators see the host and addresses; the agent only learns that it was refused.
        logger.warning("Outbound call of %s refused: %s resolves to %s, outside the allowed "
                       "addresses.", what, host, ", ".join(refused) or "nothing usable")
        raise OutboundError(
            _("The URL resolves to an address the platform does not call (private, loopback "
              "or link-local)."), retryable=False, code="refused_address")
    if refused:
        logger.info("Outbound call of %s: skipping refused addresses %s of %s.", what,
                    ", ".join(refused), host)
    return addresses


@dataclass
class _Target:
    """A URL taken apart for one request."""

    url: str
    scheme: str
    host: str
    port: int
    request_target: str

    @property
    def origin(self) -> tuple[str, str, int]:
        return (self.scheme, self.host, self.port)


def _invalid_url() -> OutboundError:
    return OutboundError(_("The URL is invalid."), retryable=False, code="invalid_url")


def _target(url: str) -> _Target:
    """Return the parts of ``url`` to connect to; refuse other schemes and credentials."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise _invalid_url() from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _invalid_url()
    if parts.username is not None or parts.password is not None:
        # Credentials belong in sealed settings, not in a URL that gets logged.
        raise OutboundError(_("The URL carries a user name or password."), retryable=False,
                            code="credentials_in_url")
    host = parts.hostname
    try:
        host = host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError:
        raise _invalid_url() from None
    path = parts.path or "/"
    request_target = path + ("?" + parts.query if parts.query else "")
    if CONTROL_RE.search(request_target) or " " in request_target:
        raise _invalid_url()
    default = 443 if parts.scheme == "https" else 80
    return _Target(url=url, scheme=parts.scheme, host=host, port=port or default,
                   request_target=request_target)


def _transport_error(exc: BaseException, budget: TimeBudget, what: str,
                     host: str) -> OutboundError:
    """Return the safe, classified error for a failure below HTTP (connect, TLS, read)."""
    if isinstance(exc, (TimeoutError, socket.timeout)) or budget.passed():
        logger.info("Outbound call of %s to %s timed out after %g s.", what, host,
                    budget.seconds)
        return OutboundError(
            _("The server did not answer within %(seconds)g seconds.")
            % {"seconds": budget.seconds}, retryable=True, code="timeout")
    if isinstance(exc, ssl.SSLCertVerificationError):
        logger.warning("Outbound call of %s to %s: TLS certificate not verified (%s).",
                       what, host, exc.verify_message)
        return OutboundError(_("The server's TLS certificate could not be verified."),
                             retryable=False, code="tls")
    if isinstance(exc, (OSError, http.client.IncompleteRead)):
        # Refused, reset or cut connections and TLS failures other than the certificate.
        logger.info("Outbound call of %s to %s failed: %s.", what, host, type(exc).__name__)
        return OutboundError(_("The server could not be reached."), retryable=True,
                             code="unreachable")
    if isinstance(exc, http.client.HTTPException):
        logger.info("Outbound call of %s to %s: malformed answer (%s).", what, host,
                    type(exc).__name__)
        return OutboundError(_("The server gave an unreadable answer."), retryable=False,
                             code="unreadable")
    if isinstance(exc, ValueError):
        # http.client refuses header values or targets it cannot send.
        logger.warning("Outbound call of %s: request refused by the HTTP client (%s).",
                       what, type(exc).__name__)
        return OutboundError(_("The request cannot be sent as it is (a header or the URL)."),
                             retryable=False, code="unsendable")
    logger.exception("Outbound call of %s to %s failed unexpectedly.", what, host)
    return OutboundError(_("The server could not be reached."), retryable=True,
                         code="unreachable")


def retry_after(headers: http.client.HTTPMessage) -> float | None:
    """Return the delay in seconds an answer's ``Retry-After`` asks for, if any."""
    value = headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def request(method: str, url: str, *, headers: dict[str, str] | None = None,
            body: bytes | None = None, budget: TimeBudget, policy: Policy = Policy(),
            credentials: frozenset[str] = frozenset(), what: str = "outbound") -> Response:
    """Send one request (following redirects) and return its answer, whatever the status.

    ``credentials`` names the headers (lower case) that only the first origin may receive;
    ``what`` names the caller in the application log. Raise ``OutboundError`` when no
    answer can be had (see the module docstring). One ``Session``, used once: redirects are
    followed here, each hop's connection checked by the session's backend.
    """
    target = _target(url)
    first_origin = target.origin
    headers = dict(headers or {})
    with Session(policy, what=what) as session:
        for hop in range(policy.max_redirects + 1):
            answer = session.send(method, target.url, headers=list(headers.items()),
                                  content=body, budget=budget, follow_redirects=False)
            message = http.client.HTTPMessage()
            for name, value in answer.headers:
                message[name] = value
            location = message.get("Location")
            if answer.status not in REDIRECT_STATUSES or not location:
                return Response(status=answer.status, headers=message, body=answer.body,
                                truncated=answer.truncated, url=target.url)
            if hop == policy.max_redirects:
                break
            location = urljoin(target.url, location)
            if urlsplit(location).scheme not in ("http", "https"):
                logger.warning("Outbound call of %s: redirect to a %s URL refused.", what,
                               urlsplit(location).scheme or "relative")
                raise OutboundError(
                    _("The server redirected to a URL the platform does not follow."),
                    retryable=False, code="redirect_refused")
            target = _target(location)
            if answer.status == 303 or (answer.status in (301, 302) and method == "POST"):
                # What browsers and RFC 9110 section 15.4 allow: the next request is a GET.
                method, body = "GET", None
                headers.pop("Content-Type", None)
            if target.origin != first_origin:
                headers = {name: value for name, value in headers.items()
                           if name.lower() not in credentials}
            logger.debug("Outbound call of %s: redirect %d to %s://%s.", what, answer.status,
                         target.scheme, target.host)
    logger.warning("Outbound call of %s: more than %d redirects.", what, policy.max_redirects)
    raise OutboundError(_("The server redirected too many times."), retryable=False,
                        code="too_many_redirects")


# The pooled client


class _GuardedBackend(httpcore2.NetworkBackend):
    """httpcore's network backend that connects only to addresses the policy allows.

    Every new connection (the first request to an origin, and every redirect to another
    one) resolves the host here, checks each address and connects to one that passed; TLS
    still verifies the URL's host name, which httpcore passes to ``start_tls``.
    """

    def __init__(self, policy: Policy, what: str) -> None:
        self.policy = policy
        self.what = what
        self._sync = httpcore2.SyncBackend()
        # The session's sockets, which its watchdog shuts down when a call's time is up.
        self.sockets: weakref.WeakSet = weakref.WeakSet()

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        budget = TimeBudget(timeout or DEFAULT_SESSION_TIMEOUT)
        addresses = _resolve(host, port, budget, self.policy, self.what)
        failure: Exception | None = None
        for _family, sockaddr in addresses:
            try:
                stream = self._sync.connect_tcp(sockaddr[0], port, budget.left(),
                                                local_address, socket_options)
            except (httpcore2.ConnectError, httpcore2.ConnectTimeout) as exc:
                failure = exc
                continue
            self.sockets.add(stream.get_extra_info("socket"))
            return stream
        raise failure  # type: ignore[misc]  (addresses is never empty: _resolve refuses)

    def cut(self) -> None:
        """Shut down every socket of the session (the watchdog, when time is up)."""
        for sock in list(self.sockets):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def connect_unix_socket(self, *args, **kwargs):
        raise OutboundError(_("The URL is not valid."), retryable=False, code="invalid_url")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


@dataclass
class SessionResponse:
    """An answer of ``Session.send``, whatever its status."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes
    truncated: bool
    url: str
    elapsed_ms: float
    encoding: str | None = None
    http_version: str = ""

    def text(self) -> str:
        """Return the body decoded with its declared charset (else UTF-8), never failing."""
        try:
            return self.body.decode(self.encoding or "utf-8", errors="replace")
        except LookupError:  # an unknown charset
            return self.body.decode("utf-8", errors="replace")


DEFAULT_SESSION_TIMEOUT = 30.0


class Session:
    """A client for many requests under one policy: a test run's keep-alive pool and cookies.

    Built on httpx (``httpx2``): redirects, cookies, multipart and keep-alive are its own;
    what this adds is the address check of every connection (``_GuardedBackend``), no proxy
    from the environment, the response size cap and the classified ``OutboundError``.
    ``close()`` (or ``with``) releases the pool.
    """

    def __init__(self, policy: Policy = Policy(), *, what: str = "outbound",
                 verify: bool = True, max_connections: int = 10) -> None:
        self.policy = policy
        self.what = what
        if verify:
            context = tls_context(policy.ca_bundle)
        else:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        transport = httpx2.HTTPTransport(verify=context, trust_env=False)
        # The transport builds its pool without a way to name the network backend; the pool
        # it builds is replaced by the same pool with the guarded backend.
        self._backend = _GuardedBackend(policy, what)
        transport._pool = httpcore2.ConnectionPool(
            ssl_context=context, max_connections=max_connections,
            max_keepalive_connections=max_connections, keepalive_expiry=30.0,
            network_backend=self._backend,
        )
        self.client = httpx2.Client(transport=transport, trust_env=False,
                                    max_redirects=policy.max_redirects)

    @property
    def cookies(self) -> dict[str, str]:
        """Return the cookies kept so far (name to value)."""
        return {cookie.name: cookie.value for cookie in self.client.cookies.jar}

    def restore_cookies(self, cookies: list[dict]) -> None:
        """Put back cookies saved by ``saved_cookies`` (a resumed run)."""
        for cookie in cookies:
            self.client.cookies.set(cookie["name"], cookie["value"], domain=cookie["domain"],
                                    path=cookie["path"])

    def saved_cookies(self) -> list[dict]:
        """Return the cookies as plain data, for a checkpoint."""
        return [{"name": c.name, "value": c.value, "domain": c.domain, "path": c.path}
                for c in self.client.cookies.jar]

    def send(self, method: str, url: str, *, headers: list[tuple[str, str]] | None = None,
             params: list[tuple[str, str]] | None = None, content: bytes | str | None = None,
             data: dict | None = None, files: list | None = None,
             timeout: float | None = None, budget: TimeBudget | None = None,
             follow_redirects: bool = True) -> SessionResponse:
        """Send one request and return its answer; raise ``OutboundError`` when none came.

        ``timeout`` (seconds) or ``budget`` bounds the whole call, redirects and the body
        included: the platform's watchdog shuts the session's sockets when it is up, so a
        server that drips bytes cannot stretch it.
        """
        if budget is None:
            budget = TimeBudget(timeout if timeout is not None else DEFAULT_SESSION_TIMEOUT)
        timer = watch(budget.at, self._backend.cut)
        try:
            return self._send(method, url, headers=headers, params=params, content=content,
                              data=data, files=files, budget=budget,
                              follow_redirects=follow_redirects)
        finally:
            timer.cancel()

    def _send(self, method, url, *, headers, params, content, data, files, budget,
              follow_redirects) -> SessionResponse:
        host = urlsplit(url).hostname or ""
        if "@" in (urlsplit(url).netloc or ""):
            raise OutboundError(_("The URL must not carry a user name or password."),
                                retryable=False, code="credentials_in_url")
        started = time.monotonic()
        try:
            request = self.client.build_request(
                method, url, headers=headers, params=params, content=content, data=data,
                files=files, timeout=httpx2.Timeout(max(budget.at - time.monotonic(), 0.001)),
            )
            response = self.client.send(request, stream=True, follow_redirects=follow_redirects)
        except OutboundError:
            raise
        except (httpx2.InvalidURL, httpx2.UnsupportedProtocol) as exc:
            logger.info("Outbound call of %s: URL refused by the client (%s).", self.what, exc)
            raise _invalid_url() from None
        except httpx2.TooManyRedirects:
            raise OutboundError(_("The server redirected too many times."), retryable=False,
                                code="too_many_redirects") from None
        except httpx2.TimeoutException as exc:
            raise _transport_error(TimeoutError(), budget, self.what, host) from exc
        except httpx2.TransportError as exc:
            raise self._classified(exc, budget, host) from exc
        except TimeoutError as exc:  # the budget ran out between the steps of the call
            raise _transport_error(exc, budget, self.what, host) from exc
        try:
            body, truncated = self._read(response, budget, host)
        finally:
            response.close()
        return SessionResponse(
            status=response.status_code, headers=list(response.headers.multi_items()),
            body=body, truncated=truncated, url=str(response.url),
            elapsed_ms=(time.monotonic() - started) * 1000, encoding=response.charset_encoding,
            http_version=response.http_version,
        )

    def _read(self, response, budget: TimeBudget, host: str) -> tuple[bytes, bool]:
        limit = self.policy.max_response_bytes
        body = bytearray()
        try:
            for chunk in response.iter_bytes():
                body.extend(chunk)
                if len(body) > limit:
                    return bytes(body[:limit]), True
                if budget.passed():
                    raise TimeoutError
        except (TimeoutError, httpx2.TimeoutException) as exc:
            raise _transport_error(TimeoutError(), budget, self.what, host) from exc
        except httpx2.TransportError as exc:
            raise self._classified(exc, budget, host) from exc
        except httpx2.DecodingError:
            raise OutboundError(_("The server gave an unreadable answer."), retryable=False,
                                code="unreadable") from None
        return bytes(body), False

    def _classified(self, exc: httpx2.TransportError, budget: TimeBudget,
                    host: str) -> OutboundError:
        """Return the ``OutboundError`` of a failure httpx reported."""
        if budget.passed():  # the watchdog shut the socket: whatever broke, time was up
            return _transport_error(TimeoutError(), budget, self.what, host)
        if isinstance(exc, httpx2.ProtocolError):
            logger.info("Outbound call of %s to %s: malformed answer (%s).", self.what, host,
                        exc)
            return OutboundError(_("The server gave an unreadable answer."), retryable=False,
                                 code="unreadable")
        root: BaseException = exc
        # httpx's error, httpcore's, then the socket's (a cause, or only a context).
        while (root.__cause__ or root.__context__) is not None:
            root = root.__cause__ or root.__context__
        return _transport_error(root, budget, self.what, host)

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
