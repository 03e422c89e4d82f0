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

Transport
---------
The request goes through the platform's guarded client (``core.outbound``): every address
actually connected to is checked (``MCP_OUTBOUND_ALLOWED_NETWORKS`` allows private ones),
on every redirect too, at most ``MCP_OUTBOUND_MAX_REDIRECTS``; the tool's credentials are
dropped when a redirect leaves the origin they were configured for; ``timeout`` covers the
whole call (the token request of an OAuth tool included); the answer is read up to
``MCP_OUTBOUND_MAX_RESPONSE_BYTES``. What that client reports neutrally is reworded here
for an agent (``TOOL_MESSAGES``), and a non-2xx answer becomes an ``OutboundError``.

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
import json
import logging
import re
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, quote_plus, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _

from core import outbound
from core.crypto import SecretUnreadable, seal, unseal
from core.deadlines import TimeBudget
from core.outbound import CONTROL_RE, OutboundError
from gateway.choices import AuthType, HttpMethod

logger = logging.getLogger(__name__)

USER_AGENT = "Atrium-MCP/1"
BODY_METHODS = frozenset({HttpMethod.POST, HttpMethod.PUT, HttpMethod.PATCH})
# Answer headers the dispatcher may pass on or log; everything else (cookies, server
# internals) stays here.
RESPONSE_HEADERS = frozenset({
    "content-type", "content-language", "etag", "last-modified", "retry-after",
    "x-request-id",
})
# An OAuth token is used no later than this long before the endpoint says it expires
# (seconds), and at most half its lifetime early, so short-lived tokens are cached too.
OAUTH_EXPIRY_MARGIN = 30
# Lifetime assumed when a token answer has no usable ``expires_in`` (seconds).
OAUTH_DEFAULT_LIFETIME = 300
OAUTH_CACHE_SALT = "atrium.gateway.outbound.oauth-token"

PLACEHOLDER_RE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.-]*)\}")
# RFC 9110 section 5.6.2 "token": the characters a header name may use.
HEADER_NAME_RE = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}\Z")
# Headers that frame the message or belong to the connection: http.client and this module
# set them, an API-key header must not replace them.
RESERVED_HEADERS = frozenset({
    "host", "content-length", "content-type", "transfer-encoding", "connection",
    "keep-alive", "te", "trailer", "upgrade", "expect", "proxy-authorization",
    "proxy-connection", "user-agent", "accept-encoding",
})
# What the guarded client reports, worded for an agent calling a tool (its codes).
TOOL_MESSAGES = {
    "invalid_url": _("The tool's URL is invalid; an operator must fix it."),
    "credentials_in_url": _("The tool's URL carries a user name or password; an operator must "
                            "move them to the authentication settings."),
    "unresolvable": _("The tool's host name could not be resolved."),
    "refused_address": _("The tool's URL resolves to an address the platform does not call "
                         "(private, loopback or link-local)."),
    "redirect_refused": _("The external API redirected to a URL the platform does not "
                          "follow."),
    "too_many_redirects": _("The external API redirected too many times."),
    "timeout": _("The external API did not answer within %(seconds)g seconds."),
    "tls": _("The external API's TLS certificate could not be verified."),
    "unreachable": _("The external API could not be reached."),
    "unreadable": _("The external API gave an unreadable answer."),
    "unsendable": _("The tool's settings produce a request that cannot be sent; an operator "
                    "must fix them."),
}

AUTH_KEYS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    AuthType.BEARER: (frozenset({"token"}), frozenset()),
    AuthType.API_KEY: (frozenset({"header", "value"}), frozenset()),
    AuthType.OAUTH: (
        frozenset({"token_url", "client_id", "client_secret"}),
        frozenset({"scope", "audience"}),
    ),
}


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


def allowed_networks() -> tuple:
    """Return the networks of ``MCP_OUTBOUND_ALLOWED_NETWORKS``, parsed.

    A setting that does not parse makes every call fail as misconfigured rather than fall
    back to some guess about what the operator meant.
    """
    raw = getattr(settings, "MCP_OUTBOUND_ALLOWED_NETWORKS", ()) or ()
    if isinstance(raw, str):
        raw = [part for part in re.split(r"[\s,]+", raw) if part]
    try:
        return outbound.parse_networks(tuple(str(value).strip() for value in raw))
    except ValueError:
        logger.error("MCP_OUTBOUND_ALLOWED_NETWORKS holds a value that is not a network "
                     "(CIDR such as 10.20.0.0/16); every external tool call fails until "
                     "it is fixed.")
        raise OutboundError(
            _("The platform's outbound network settings are invalid; an operator must fix "
              "them."), retryable=False) from None


def _max_response_bytes() -> int:
    return max(1, int(getattr(settings, "MCP_OUTBOUND_MAX_RESPONSE_BYTES",
                              outbound.DEFAULT_MAX_RESPONSE_BYTES)))


def policy() -> outbound.Policy:
    """Return the guarded client's policy for the external tools of the tenant in context.

    The tenant's policy (``tenants.network``: the platform's and the tenant's allowed
    networks, the platform's own services refused) plus ``MCP_OUTBOUND_ALLOWED_NETWORKS``
    and the gateway's limits.
    """
    from core.context import get_current_tenant_id
    from tenants.models import Tenant
    from tenants.network import outbound_policy

    tenant_id = get_current_tenant_id()
    tenant = Tenant.objects.filter(pk=tenant_id).first() if tenant_id is not None else None
    networks = allowed_networks()  # parsed first: a bad setting fails as misconfigured
    try:
        return outbound_policy(
            tenant, networks=tuple(str(network) for network in networks),
            max_redirects=max(0, int(getattr(settings, "MCP_OUTBOUND_MAX_REDIRECTS",
                                             outbound.DEFAULT_MAX_REDIRECTS))),
            max_response_bytes=_max_response_bytes(),
            ca_bundle=getattr(settings, "MCP_OUTBOUND_CA_BUNDLE", None) or None,
        )
    except ValueError:
        logger.error("OUTBOUND_ALLOWED_NETWORKS or a tenant's outbound networks hold a value "
                     "that is not a network; external tool calls fail until it is fixed.")
        raise OutboundError(
            _("The platform's outbound network settings are invalid; an operator must fix "
              "them."), retryable=False) from None


def _send(method: str, url: str, headers: dict[str, str], body: bytes | None,
          budget: TimeBudget, *, credentials: frozenset[str], what: str) -> outbound.Response:
    """Send through the guarded client; reword what it reports for an agent."""
    try:
        return outbound.request(method, url, headers=headers, body=body, budget=budget,
                                policy=policy(), credentials=credentials, what=what)
    except OutboundError as exc:
        raise exc.reworded(TOOL_MESSAGES, seconds=budget.seconds) from exc.__cause__


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


def _fetch_token(tool, config: dict[str, Any], key: str, deadline: TimeBudget) -> str:
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
            retry_after=outbound.retry_after(answer.headers))
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


def _oauth_token(tool, config: dict[str, Any], deadline: TimeBudget, *,
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


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def _decode(answer: outbound.Response) -> Any:
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
    deadline = TimeBudget(float(timeout))
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
                urlsplit(url).hostname, answer.status, elapsed_ms)
    if not 200 <= answer.status < 300:
        raise OutboundError(
            _("The external API answered %(status)d.") % {"status": answer.status},
            retryable=_retryable_status(answer.status), status=answer.status,
            retry_after=outbound.retry_after(answer.headers))
    return OutboundResult(
        status=answer.status,
        data=_decode(answer),
        headers={name.lower(): value for name, value in answer.headers.items()
                 if name.lower() in RESPONSE_HEADERS},
        truncated=answer.truncated,
    )
