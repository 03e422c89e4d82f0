"""The outbound HTTP call of an ``external`` MCP tool (issue 5, item 2), guarded against SSRF.

``call_external(tool, arguments, timeout=...)`` makes ONE attempt; retries and their backoff
belong to the dispatcher, which reads ``OutboundError.retryable``.

Mapping of the arguments
------------------------
``{name}`` placeholders in the path and query of ``external_url`` are filled from the
arguments (percent-encoded, so a value can never change the URL's structure) and removed
from the rest. Placeholders in the scheme or the host are refused: the operator, not the
agent, decides where the platform calls. The remaining arguments go to the query string for
GET and DELETE (a list repeats its key, an object is sent as JSON text, ``None`` is left
out) and form the JSON body for POST, PUT and PATCH.

Addresses (the SSRF guard)
--------------------------
Every host is resolved once per hop; each address is checked, and the socket connects to
exactly one of the addresses that passed, while the ``Host`` header, TLS SNI and certificate
verification keep using the host name of the URL. A DNS answer that changes between the
check and the connection (rebinding) therefore cannot reach another address: nothing resolves
the name again. Refused: loopback, private (RFC 1918, CGNAT 100.64/10, unique-local fc00::/7),
link-local (169.254/16 with the cloud metadata address, fe80::/10), site-local fec0::/10,
reserved and documentation ranges, and IPv4 addresses hidden in IPv6 (IPv4-mapped, NAT64,
6to4). Addresses inside ``settings.MCP_OUTBOUND_ALLOWED_NETWORKS`` are allowed even so,
except the unspecified address and multicast, which are never a destination. Of a name that
resolves to several addresses only the allowed ones are tried; none allowed: refused, before
any connection is opened.

Redirects (301, 302, 303, 307, 308) are followed by this module, at most
``settings.MCP_OUTBOUND_MAX_REDIRECTS``, each hop resolved and checked again; only http and
https are followed, and the tool's credentials are dropped when a redirect leaves the
origin (scheme, host and port) they were configured for. Proxy environment variables are
ignored on purpose: a proxy would connect on the platform's behalf, past the check.

Timeout
-------
``timeout`` covers the whole call: resolution results, connection, TLS handshake, the token
request of an OAuth tool, every redirect hop and the reading of the answer. Socket timeouts
are set to the time left before each step, and a watchdog shuts the socket down when the
time is up, so a server that drips bytes cannot stretch the call. Name resolution itself
uses the system resolver, which is bounded by its own settings (resolv.conf), not by
``timeout``.

Authentication
--------------
``auth_config`` by ``auth_type`` (checked by ``validate_auth_config``, which the admin and
API forms call too): ``none``: empty; ``bearer``: ``{"token"}``; ``api_key``:
``{"header", "value"}``; ``oauth``: client credentials ``{"token_url", "client_id",
"client_secret", "scope"?, "audience"?}``. An OAuth token is requested with HTTP Basic client
authentication (RFC 6749 section 2.3.1), kept in Django's cache (sealed with
``core.crypto``) until ``expires_in`` less a safety margin, under a key made of the tool's
id and an HMAC of its config, and dropped and fetched again once when the target answers 401.

Nothing here logs ``auth_config``, tokens or credential headers, and no message of an
``OutboundError`` carries an upstream body, a secret or an internal address.
"""

from __future__ import annotations

import base64
import http.client
import ipaddress
import json
import logging
import re
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import Any
from urllib.parse import quote, quote_plus, urlencode, urljoin, urlsplit, urlunsplit

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _

from core.crypto import SecretUnreadable, seal, unseal
from gateway.choices import AuthType, HttpMethod

logger = logging.getLogger(__name__)

USER_AGENT = "Atrium-MCP/1"
DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024
DEFAULT_MAX_REDIRECTS = 5
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
BODY_METHODS = frozenset({HttpMethod.POST, HttpMethod.PUT, HttpMethod.PATCH})
# Answer headers the dispatcher may pass on or log; everything else (cookies, server
# internals) stays here.
RESPONSE_HEADERS = frozenset({
    "content-type", "content-language", "etag", "last-modified", "retry-after",
    "x-request-id",
})
READ_CHUNK = 64 * 1024

# An OAuth token is used no later than this long before the endpoint says it expires
# (seconds), and at most half its lifetime early, so short-lived tokens are cached too.
OAUTH_EXPIRY_MARGIN = 30
# Lifetime assumed when a token answer has no usable ``expires_in`` (seconds).
OAUTH_DEFAULT_LIFETIME = 300
OAUTH_CACHE_SALT = "atrium.gateway.outbound.oauth-token"

PLACEHOLDER_RE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.-]*)\}")
# RFC 9110 section 5.6.2 "token": the characters a header name may use.
HEADER_NAME_RE = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}\Z")
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
# Headers that frame the message or belong to the connection: http.client and this module
# set them, an API-key header must not replace them.
RESERVED_HEADERS = frozenset({
    "host", "content-length", "content-type", "transfer-encoding", "connection",
    "keep-alive", "te", "trailer", "upgrade", "expect", "proxy-authorization",
    "proxy-connection", "user-agent", "accept-encoding",
})
NAT64_PREFIX = ipaddress.ip_network("64:ff9b::/96")
SITE_LOCAL_V6 = ipaddress.ip_network("fec0::/10")

AUTH_KEYS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    AuthType.BEARER: (frozenset({"token"}), frozenset()),
    AuthType.API_KEY: (frozenset({"header", "value"}), frozenset()),
    AuthType.OAUTH: (
        frozenset({"token_url", "client_id", "client_secret"}),
        frozenset({"scope", "audience"}),
    ),
}


class OutboundError(Exception):
    """A call that did not produce a usable answer.

    ``message`` is short, readable and safe to show an AI agent (never the raw upstream
    body, a secret or a stack); ``retryable`` is True for connection failures, timeouts, 429
    and 5xx and False otherwise (refused address, other 4xx, bad configuration); ``status``
    is the upstream HTTP status or None; ``retry_after`` is the delay in seconds the upstream
    asked for with ``Retry-After``, if any.
    """

    def __init__(self, message: str, *, retryable: bool, status: int | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after


@dataclass
class OutboundResult:
    """A 2xx answer of the external API."""

    status: int
    # Parsed JSON when the body is JSON, else the decoded text (with a marker when truncated).
    data: Any
    # Only the headers of ``RESPONSE_HEADERS``, names in lower case.
    headers: dict[str, str] = field(default_factory=dict)
    truncated: bool = False


# Authentication settings


def validate_auth_config(auth_type: str, config: Any) -> None:
    """Raise ``ValidationError`` (on ``auth_config``) unless ``config`` suits ``auth_type``.

    The messages name the keys that are wrong, never the values, which are secrets.
    """
    if auth_type not in AuthType.values:
        raise ValidationError({"auth_type": ValidationError(
            _("Choose one of the offered authentication types."), code="invalid_choice")})
    if auth_type == AuthType.NONE:
        if config not in (None, {}):
            raise ValidationError({"auth_config": ValidationError(
                _("A tool without authentication takes no authentication settings; "
                  "leave them empty."), code="not_empty")})
        return
    required, optional = AUTH_KEYS[auth_type]
    if not isinstance(config, dict):
        raise ValidationError({"auth_config": ValidationError(
            _("Enter a JSON object with the keys %(keys)s."),
            code="not_object", params={"keys": ", ".join(sorted(required))})})
    errors: list[ValidationError] = []
    unknown = sorted(str(key) for key in config if key not in required | optional)
    if unknown:
        errors.append(ValidationError(
            _("Unknown keys: %(unknown)s. This authentication type takes %(allowed)s."),
            code="unknown_keys",
            params={"unknown": ", ".join(unknown),
                    "allowed": ", ".join(sorted(required | optional))}))
    for key in sorted(required | optional):
        value = config.get(key)
        if key in optional and value in (None, ""):
            continue
        if key in required and (value is None or value == ""):
            errors.append(ValidationError(
                _("\"%(key)s\" is required."), code="required", params={"key": key}))
        elif not isinstance(value, str) or not value.strip():
            errors.append(ValidationError(
                _("\"%(key)s\" must be a non-empty string."), code="not_string",
                params={"key": key}))
        elif CONTROL_RE.search(value):
            errors.append(ValidationError(
                _("\"%(key)s\" must not contain line breaks or other control characters."),
                code="control_characters", params={"key": key}))
    if auth_type == AuthType.API_KEY:
        header = config.get("header")
        if isinstance(header, str) and header.strip():
            if not HEADER_NAME_RE.match(header):
                errors.append(ValidationError(
                    _("\"header\" must be an HTTP header name such as X-API-Key (letters, "
                      "digits and - only)."), code="header_name"))
            elif header.lower() in RESERVED_HEADERS:
                errors.append(ValidationError(
                    _("\"header\" cannot be %(header)s: the platform sets that header "
                      "itself."), code="reserved_header", params={"header": header}))
    if auth_type == AuthType.OAUTH:
        token_url = config.get("token_url")
        if isinstance(token_url, str) and token_url.strip() and not _is_token_url(token_url):
            errors.append(ValidationError(
                _("\"token_url\" must be an https:// URL with a host name, without user "
                  "name, password or fragment."), code="token_url"))
    if errors:
        raise ValidationError({"auth_config": errors})


def _is_token_url(url: str) -> bool:
    """Return whether ``url`` may receive client credentials (https, host, no userinfo)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return False
    return (
        parts.scheme == "https" and bool(parts.hostname) and parts.username is None
        and parts.password is None and not parts.fragment
    )


# Settings, read at call time


@lru_cache(maxsize=8)
def _parse_networks(values: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(value, strict=False) for value in values)


def allowed_networks() -> tuple:
    """Return the networks of ``MCP_OUTBOUND_ALLOWED_NETWORKS``, parsed.

    A setting that does not parse makes every call fail as misconfigured rather than fall
    back to some guess about what the operator meant.
    """
    raw = getattr(settings, "MCP_OUTBOUND_ALLOWED_NETWORKS", ()) or ()
    if isinstance(raw, str):
        raw = [part for part in re.split(r"[\s,]+", raw) if part]
    try:
        return _parse_networks(tuple(str(value).strip() for value in raw))
    except ValueError:
        logger.error("MCP_OUTBOUND_ALLOWED_NETWORKS holds a value that is not a network "
                     "(CIDR such as 10.20.0.0/16); every external tool call fails until "
                     "it is fixed.")
        raise OutboundError(
            _("The platform's outbound network settings are invalid; an operator must fix "
              "them."), retryable=False) from None


def _max_response_bytes() -> int:
    return max(1, int(getattr(settings, "MCP_OUTBOUND_MAX_RESPONSE_BYTES",
                              DEFAULT_MAX_RESPONSE_BYTES)))


def _max_redirects() -> int:
    return max(0, int(getattr(settings, "MCP_OUTBOUND_MAX_REDIRECTS", DEFAULT_MAX_REDIRECTS)))


@lru_cache(maxsize=4)
def _tls_context(cafile: str | None) -> ssl.SSLContext:
    # Loading the trust store costs milliseconds; one context serves every call.
    context = ssl.create_default_context(cafile=cafile)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def tls_context() -> ssl.SSLContext:
    """Return the TLS context of outbound calls (system CAs or ``MCP_OUTBOUND_CA_BUNDLE``)."""
    return _tls_context(getattr(settings, "MCP_OUTBOUND_CA_BUNDLE", None) or None)


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
    if any(c.is_unspecified or c.is_multicast for c in candidates):
        return True
    if all(any(c in network for network in allowed) for c in candidates):
        return False
    return any(_is_special(c) for c in candidates)


class _Deadline:
    """The end of a call's time budget, shared by every step of the call."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds

    def left(self) -> float:
        """Return the seconds left, or raise ``TimeoutError`` when none are."""
        left = self.at - time.monotonic()
        if left <= 0:
            raise TimeoutError("deadline passed")
        return left


def _resolve(host: str, port: int, deadline: _Deadline, what: str) -> list[tuple]:
    """Return ``(family, sockaddr)`` of every allowed address of ``host``; refuse if none."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                   proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        logger.info("Outbound call of %s: host %s did not resolve (%s).", what, host, exc)
        raise OutboundError(
            _("The tool's host name could not be resolved."),
            retryable=exc.errno == socket.EAI_AGAIN,
        ) from None
    except UnicodeError:
        raise _invalid_url() from None
    deadline.left()
    allowed = allowed_networks()
    addresses, refused, seen = [], [], set()
    for family, _type, _proto, _name, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6) or sockaddr in seen:
            continue
        seen.add(sockaddr)
        if is_refused_address(sockaddr[0], allowed):
            refused.append(sockaddr[0])
        else:
            addresses.append((family, sockaddr))
    if not addresses:
        # Operators see the host and addresses; the agent only learns that it was refused.
        logger.warning("Outbound call of %s refused: %s resolves to %s, outside the allowed "
                       "addresses.", what, host, ", ".join(refused) or "nothing usable")
        raise OutboundError(
            _("The tool's URL resolves to an address the platform does not call (private, "
              "loopback or link-local)."), retryable=False)
    if refused:
        logger.info("Outbound call of %s: skipping refused addresses %s of %s.", what,
                    ", ".join(refused), host)
    return addresses


# HTTP over a checked address


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """An HTTP connection to exactly the addresses given, named by the URL's host."""

    def __init__(self, host: str, port: int, *, addresses: list[tuple],
                 deadline: _Deadline) -> None:
        super().__init__(host, port)
        self._addresses = addresses
        self._deadline = deadline

    def connect(self) -> None:
        """Connect to the first checked address that answers; never resolve ``host`` again."""
        error: OSError | None = None
        for family, sockaddr in self._addresses:
            sock = socket.socket(family, socket.SOCK_STREAM)
            self.sock = sock  # reachable by the watchdog while connecting
            try:
                sock.settimeout(self._deadline.left())
                sock.connect(sockaddr)
            except OSError as exc:
                sock.close()
                self.sock = None
                error = exc
                self._deadline.left()
                continue
            break
        else:
            raise error or ConnectionError("no address to connect to")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._after_connect(sock)

    def _after_connect(self, sock: socket.socket) -> None:
        pass


class _PinnedHTTPSConnection(_PinnedHTTPConnection):
    """The TLS variant: SNI and certificate checks for the URL's host, not the address."""

    default_port = http.client.HTTPS_PORT

    def _after_connect(self, sock: socket.socket) -> None:
        tls_sock = tls_context().wrap_socket(sock, server_hostname=self.host,
                                             do_handshake_on_connect=False)
        self.sock = tls_sock
        tls_sock.settimeout(self._deadline.left())
        tls_sock.do_handshake()


class _Watchdog:
    """Shut a connection's socket down when the deadline passes, whatever it is doing."""

    def __init__(self, connection: http.client.HTTPConnection, deadline: _Deadline) -> None:
        self.fired = False
        self._connection = connection
        self._timer = threading.Timer(max(0.0, deadline.at - time.monotonic()), self._fire)
        self._timer.daemon = True

    def __enter__(self) -> _Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._timer.cancel()

    def _fire(self) -> None:
        self.fired = True
        sock = self._connection.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


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
    return OutboundError(_("The tool's URL is invalid; an operator must fix it."),
                         retryable=False)


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
        # Credentials belong in the encrypted auth settings, not in a URL that gets logged.
        raise OutboundError(
            _("The tool's URL carries a user name or password; an operator must move them to "
              "the authentication settings."), retryable=False)
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


@dataclass
class _Answer:
    """What one exchange brought back."""

    status: int
    headers: http.client.HTTPMessage
    body: bytes = b""
    truncated: bool = False
    location: str | None = None


def _exchange(target: _Target, method: str, headers: dict[str, str], body: bytes | None,
              deadline: _Deadline, what: str) -> _Answer:
    """Send one request to a checked address of ``target`` and read the answer (bounded)."""
    addresses = _resolve(target.host, target.port, deadline, what)
    cls = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    connection = cls(target.host, target.port, addresses=addresses, deadline=deadline)
    limit = _max_response_bytes()
    try:
        with _Watchdog(connection, deadline) as watchdog:
            try:
                connection.connect()
                connection.sock.settimeout(deadline.left())
                connection.request(method, target.request_target, body=body, headers=headers)
                connection.sock.settimeout(deadline.left())
                response = connection.getresponse()
                answer = _Answer(status=response.status, headers=response.headers)
                location = response.headers.get("Location")
                if response.status in REDIRECT_STATUSES and location:
                    answer.location = location
                    return answer
                chunks, size = [], 0
                while size <= limit:
                    connection.sock.settimeout(deadline.left())
                    chunk = response.read(min(READ_CHUNK, limit + 1 - size))
                    if not chunk:
                        break
                    chunks.append(chunk)
                    size += len(chunk)
                body_bytes = b"".join(chunks)
                answer.truncated = len(body_bytes) > limit
                answer.body = body_bytes[:limit]
            except (OSError, http.client.HTTPException):
                if watchdog.fired:
                    raise TimeoutError("deadline passed") from None
                raise
            if watchdog.fired:
                # The socket was shut mid-read: what arrived may be cut short.
                raise TimeoutError("deadline passed")
            return answer
    finally:
        connection.close()


def _send(method: str, url: str, headers: dict[str, str], body: bytes | None,
          deadline: _Deadline, *, credentials: frozenset[str], what: str) -> _Answer:
    """Send a request, following redirects by hand with every hop checked again.

    ``credentials`` names the headers (lower case) that only the first origin may receive.
    """
    target = _target(url)
    first_origin = target.origin
    headers = dict(headers)
    for hop in range(_max_redirects() + 1):
        try:
            answer = _exchange(target, method, headers, body, deadline, what)
        except OutboundError:
            raise
        except Exception as exc:  # noqa: BLE001 - mapped to a safe message, logged for operators
            raise _transport_error(exc, deadline, what, target.host) from exc
        if answer.location is None:
            return answer
        if hop == _max_redirects():
            break
        location = urljoin(target.url, answer.location)
        if urlsplit(location).scheme not in ("http", "https"):
            logger.warning("Outbound call of %s: redirect to a %s URL refused.", what,
                           urlsplit(location).scheme or "relative")
            raise OutboundError(
                _("The external API redirected to a URL the platform does not follow."),
                retryable=False)
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
    logger.warning("Outbound call of %s: more than %d redirects.", what, _max_redirects())
    raise OutboundError(_("The external API redirected too many times."), retryable=False)


def _transport_error(exc: BaseException, deadline: _Deadline, what: str,
                     host: str) -> OutboundError:
    """Return the safe, classified error for a failure below HTTP (connect, TLS, read)."""
    if isinstance(exc, (TimeoutError, socket.timeout)) or time.monotonic() >= deadline.at:
        logger.info("Outbound call of %s to %s timed out after %g s.", what, host,
                    deadline.seconds)
        return OutboundError(
            _("The external API did not answer within %(seconds)g seconds.")
            % {"seconds": deadline.seconds}, retryable=True)
    if isinstance(exc, ssl.SSLCertVerificationError):
        logger.warning("Outbound call of %s to %s: TLS certificate not verified (%s).",
                       what, host, exc.verify_message)
        return OutboundError(
            _("The external API's TLS certificate could not be verified."), retryable=False)
    if isinstance(exc, (OSError, http.client.IncompleteRead)):
        # Refused, reset or cut connections and TLS failures other than the certificate.
        logger.info("Outbound call of %s to %s failed: %s.", what, host, type(exc).__name__)
        return OutboundError(_("The external API could not be reached."), retryable=True)
    if isinstance(exc, http.client.HTTPException):
        logger.info("Outbound call of %s to %s: malformed answer (%s).", what, host,
                    type(exc).__name__)
        return OutboundError(_("The external API gave an unreadable answer."),
                             retryable=False)
    if isinstance(exc, ValueError):
        # http.client refuses header values or targets it cannot send.
        logger.warning("Outbound call of %s: request refused by the HTTP client (%s).",
                       what, type(exc).__name__)
        return OutboundError(
            _("The tool's settings produce a request that cannot be sent; an operator must "
              "fix them."), retryable=False)
    logger.exception("Outbound call of %s to %s failed unexpectedly.", what, host)
    return OutboundError(_("The external API could not be reached."), retryable=True)


# Arguments


def _text(value: Any) -> str:
    """Return an argument as it goes into a URL: JSON spelling for non-strings."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _fill_url(template: str, arguments: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Return the URL with its placeholders filled, and the arguments not used by them."""
    parts = urlsplit(template)
    if PLACEHOLDER_RE.search(parts.scheme + parts.netloc):
        logger.warning("External tool URL has a placeholder in its scheme or host.")
        raise OutboundError(
            _("The tool's URL may have placeholders only in its path and query; an operator "
              "must fix it."), retryable=False)
    used: set[str] = set()

    def fill(match: re.Match) -> str:
        name = match.group(1)
        if arguments.get(name) is None:
            raise OutboundError(
                _("The argument \"%(name)s\" is needed to build the tool's URL.")
                % {"name": name}, retryable=False)
        used.add(name)
        return quote(_text(arguments[name]), safe="")

    path = PLACEHOLDER_RE.sub(fill, parts.path)
    query = PLACEHOLDER_RE.sub(fill, parts.query)
    url = urlunsplit((parts.scheme, parts.netloc, path, query, ""))
    return url, {key: value for key, value in arguments.items() if key not in used}


def _add_query(url: str, arguments: dict[str, Any]) -> str:
    """Return ``url`` with the arguments appended to its query (lists repeat the key)."""
    pairs: list[tuple[str, str]] = []
    for key, value in arguments.items():
        values = value if isinstance(value, (list, tuple)) else [value]
        pairs.extend((str(key), _text(item)) for item in values if item is not None)
    if not pairs:
        return url
    parts = urlsplit(url)
    query = "&".join(filter(None, [parts.query, urlencode(pairs, quote_via=quote)]))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


# OAuth client credentials


def _oauth_cache_key(tool, config: dict[str, Any]) -> str:
    """Return the cache key of a tool's token: its id and an HMAC of its settings.

    A changed config gets another key, so the old token is never served for it; the HMAC
    (keyed by ``SECRET_KEY``) keeps the secret from being guessed from the key.
    """
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"))
    digest = salted_hmac(OAUTH_CACHE_SALT, canonical, algorithm="sha256").hexdigest()
    return f"mcp:outbound:oauth:{tool.pk}:{digest}"


def _cached_token(key: str) -> str | None:
    try:
        stored = cache.get(key)
    except Exception:  # noqa: BLE001 - a cache outage costs a token request, not the call
        logger.warning("OAuth token cache unavailable; requesting a new token.")
        return None
    if not isinstance(stored, str):
        return None
    try:
        entry = unseal(stored)
    except SecretUnreadable:
        return None
    if not isinstance(entry, dict) or entry.get("expires_at", 0) <= time.time():
        return None
    return entry.get("access_token")


def _forget_token(key: str) -> None:
    try:
        cache.delete(key)
    except Exception:  # noqa: BLE001 - see _cached_token
        logger.warning("OAuth token cache unavailable; could not drop a refused token.")


def _lifetime(value: Any) -> float:
    try:
        lifetime = float(value)
    except (TypeError, ValueError):
        return OAUTH_DEFAULT_LIFETIME
    return lifetime if lifetime > 0 else OAUTH_DEFAULT_LIFETIME


def _fetch_token(tool, config: dict[str, Any], key: str, deadline: _Deadline) -> str:
    """Request a token from the tool's token endpoint (RFC 6749 section 4.4) and cache it."""
    what = f"tool {tool.pk} (token endpoint)"
    form = {"grant_type": "client_credentials"}
    for name in ("scope", "audience"):
        if config.get(name):
            form[name] = config[name]
    # RFC 6749 section 2.3.1: form-encode id and secret before joining them for Basic.
    basic = base64.b64encode(
        f"{quote_plus(config['client_id'])}:{quote_plus(config['client_secret'])}".encode()
    ).decode("ascii")
    headers = {
        "User-Agent": USER_AGENT,
        "Accept": "application/json",
        "Content-Type": "application/x-www-form-urlencoded",
        "Authorization": f"Basic {basic}",
    }
    answer = _send("POST", config["token_url"], headers, urlencode(form).encode("ascii"),
                   deadline, credentials=frozenset({"authorization"}), what=what)
    if not 200 <= answer.status < 300:
        logger.warning("Outbound call of tool %s: the token endpoint answered %d.", tool.pk,
                       answer.status)
        raise OutboundError(
            _("The OAuth token endpoint answered %(status)d.") % {"status": answer.status},
            retryable=_retryable_status(answer.status), status=answer.status,
            retry_after=_retry_after(answer.headers))
    try:
        payload = json.loads(answer.body) if not answer.truncated else None
    except ValueError:
        payload = None
    token = payload.get("access_token") if isinstance(payload, dict) else None
    token_type = payload.get("token_type", "bearer") if isinstance(payload, dict) else None
    if not isinstance(token, str) or not token or CONTROL_RE.search(token) or (
            str(token_type).lower() != "bearer"):
        logger.warning("Outbound call of tool %s: the token endpoint gave no usable bearer "
                       "token.", tool.pk)
        raise OutboundError(_("The OAuth token endpoint gave no usable access token."),
                            retryable=False)
    lifetime = _lifetime(payload.get("expires_in"))
    keep = lifetime - min(OAUTH_EXPIRY_MARGIN, lifetime / 2)
    if keep >= 1:
        try:
            cache.set(key, seal({"access_token": token, "expires_at": time.time() + keep}),
                      timeout=int(keep))
        except Exception:  # noqa: BLE001 - see _cached_token
            logger.warning("OAuth token cache unavailable; the token is used once.")
    logger.info("Outbound call of tool %s: new OAuth token, kept %d s.", tool.pk, int(keep))
    return token


def _oauth_token(tool, config: dict[str, Any], deadline: _Deadline, *,
                 fresh: bool = False) -> str:
    key = _oauth_cache_key(tool, config)
    if fresh:
        _forget_token(key)
    else:
        token = _cached_token(key)
        if token:
            return token
    return _fetch_token(tool, config, key, deadline)


# Answers


def _retryable_status(status: int) -> bool:
    return status == 429 or status >= 500


def _retry_after(headers: http.client.HTTPMessage) -> float | None:
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


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def _decode(answer: _Answer) -> Any:
    """Return the body as JSON when it is JSON, else as text with a truncation marker."""
    charset = answer.headers.get_content_charset() or "utf-8"
    try:
        text = answer.body.decode(charset, errors="replace")
    except LookupError:
        text = answer.body.decode("utf-8", errors="replace")
    if answer.truncated:
        return text + _("\n[truncated: the answer exceeded %(limit)d bytes]") % {
            "limit": _max_response_bytes()}
    content_type = answer.headers.get("Content-Type", "")
    looks_json = text.lstrip()[:1] in ("{", "[")
    if _is_json(content_type) or (not content_type and looks_json):
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


# The call


def call_external(tool, arguments: dict, *, timeout: float) -> OutboundResult:
    """Call an external tool's API once and return its 2xx answer.

    Raise ``OutboundError`` for anything else: a refused address, a bad configuration, a
    failed connection, a timeout (``timeout`` seconds for the whole call) or a non-2xx answer.
    """
    started = time.monotonic()
    deadline = _Deadline(float(timeout))
    what = f"tool {tool.pk}"
    config = tool.auth_config
    try:
        validate_auth_config(tool.auth_type, config)
    except ValidationError:
        logger.warning("Outbound call of %s: authentication settings do not validate.", what)
        raise OutboundError(
            _("The tool's authentication settings are incomplete; an operator must fix "
              "them."), retryable=False) from None
    method = str(tool.api_method or "").upper()
    if method not in HttpMethod.values:
        raise OutboundError(_("The tool's HTTP method is not supported."), retryable=False)
    if not isinstance(arguments, dict):
        raise OutboundError(_("The arguments must be a JSON object."), retryable=False)

    url, rest = _fill_url(tool.external_url or "", arguments)
    headers = {"User-Agent": USER_AGENT, "Accept": "application/json, */*;q=0.5",
               "Connection": "close"}
    body = None
    if method in BODY_METHODS:
        body = json.dumps(rest, separators=(",", ":")).encode("utf-8")
        headers["Content-Type"] = "application/json"
    else:
        url = _add_query(url, rest)

    credentials = frozenset()
    if tool.auth_type == AuthType.BEARER:
        headers["Authorization"] = f"Bearer {config['token']}"
        credentials = frozenset({"authorization"})
    elif tool.auth_type == AuthType.API_KEY:
        headers[config["header"]] = config["value"]
        credentials = frozenset({config["header"].lower()})
    elif tool.auth_type == AuthType.OAUTH:
        headers["Authorization"] = f"Bearer {_oauth_token(tool, config, deadline)}"
        credentials = frozenset({"authorization"})

    answer = _send(method, url, headers, body, deadline, credentials=credentials, what=what)
    if answer.status == 401 and tool.auth_type == AuthType.OAUTH:
        # The token may have been revoked before its time: one fresh token, one more try.
        logger.info("Outbound call of %s: 401 with a cached OAuth token; fetching a new one.",
                    what)
        headers["Authorization"] = f"Bearer {_oauth_token(tool, config, deadline, fresh=True)}"
        answer = _send(method, url, headers, body, deadline, credentials=credentials,
                       what=what)
    elapsed_ms = int((time.monotonic() - started) * 1000)
    # Debug only: the dispatcher writes every call to the call log already.
    logger.debug("Outbound call of %s: %s %s answered %d in %d ms.", what, method,
                _target(url).host, answer.status, elapsed_ms)
    if not 200 <= answer.status < 300:
        raise OutboundError(
            _("The external API answered %(status)d.") % {"status": answer.status},
            retryable=_retryable_status(answer.status), status=answer.status,
            retry_after=_retry_after(answer.headers))
    return OutboundResult(
        status=answer.status,
        data=_decode(answer),
        headers={name.lower(): value for name, value in answer.headers.items()
                 if name.lower() in RESPONSE_HEADERS},
        truncated=answer.truncated,
    )
