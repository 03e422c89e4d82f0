"""The outbound call of external MCP tools (issue 5, item 2): argument mapping, credentials,
OAuth tokens, and the SSRF guard on the address actually connected to, redirects included.

Every positive case talks to a real threaded HTTP(S) server on a loopback address started by
the tests, allow-listed through ``settings``. The refused addresses (10.0.0.1,
169.254.169.254) are never connected to: an audit hook on ``socket.connect`` stops and
records any attempt, and every test ends by checking that none was made.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import itertools
import json
import logging
import socket
import ssl
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from urllib.parse import parse_qs, unquote_plus, urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django.core.exceptions import ValidationError

from core.context import tenant_context
from core.outbound import OutboundError, is_refused_address
from gateway.choices import AuthType, HttpMethod, ToolType
from gateway.models import McpTool
from gateway.outbound import OutboundResult, call_external, validate_auth_config

# The shared autouse fixtures of mcp/tests/conftest.py touch the database.
pytestmark = pytest.mark.django_db

REFUSED = ("The tool's URL resolves to an address the platform does not call (private, "
           "loopback or link-local).")
LOOPBACK_V4 = ["127.0.0.0/8"]

# Addresses no test may ever open a connection to.
NEVER_CONNECT = {ipaddress.ip_address("10.0.0.1"), ipaddress.ip_address("169.254.169.254")}
forbidden_attempts: list = []


def _tripwire(event: str, args: tuple) -> None:
    """Stop and record any connection to ``NEVER_CONNECT`` (a sys audit hook)."""
    if event != "socket.connect":
        return
    address = args[1]
    if not isinstance(address, tuple) or not address:
        return
    try:
        ip = ipaddress.ip_address(str(address[0]).split("%", 1)[0])
    except ValueError:
        return
    if getattr(ip, "ipv4_mapped", None) is not None:
        ip = ip.ipv4_mapped
    if ip in NEVER_CONNECT:
        forbidden_attempts.append(address)
        raise RuntimeError(f"test tripwire: connection to {address} attempted")


sys.addaudithook(_tripwire)


def ipv6_loopback_available() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


# The test servers


@dataclass
class Received:
    """One request as the test server saw it."""

    method: str
    path: str
    query: dict[str, list[str]]
    raw_query: str
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


@dataclass
class Reply:
    status: int = 200
    body: bytes | str | dict | list = b""
    headers: dict[str, str] = field(default_factory=dict)


class Upstream:
    """A threaded HTTP(S) server on a loopback address that records what reaches it.

    ``routes`` maps a raw path to a function of (request, handler) returning a ``Reply``,
    or None when the function wrote the answer itself.
    """

    def __init__(self, host: str = "127.0.0.1", tls: ssl.SSLContext | None = None) -> None:
        self.requests: list[Received] = []
        self.routes: dict = {}
        self.sni: list[str | None] = []
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def handle_any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                received = Received(
                    method=self.command, path=parts.path,
                    query=parse_qs(parts.query, keep_blank_values=True),
                    raw_query=parts.query,
                    headers={name.lower(): value for name, value in self.headers.items()},
                    body=body,
                )
                upstream.requests.append(received)
                route = upstream.routes.get(parts.path)
                reply = route(received, self) if route else Reply(404, b"no such route")
                if reply is None:
                    return
                payload = reply.body
                headers = dict(reply.headers)
                if isinstance(payload, (dict, list)):
                    payload = json.dumps(payload).encode()
                    headers.setdefault("Content-Type", "application/json")
                elif isinstance(payload, str):
                    payload = payload.encode()
                    headers.setdefault("Content-Type", "text/plain; charset=utf-8")
                self.send_response(reply.status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any

        class Server(ThreadingHTTPServer):
            address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
            daemon_threads = True

            def server_bind(self) -> None:
                # HTTPServer.server_bind looks up the FQDN, which may wait on DNS.
                TCPServer.server_bind(self)
                self.server_name, self.server_port = host, self.server_address[1]

            def handle_error(self, request, client_address) -> None:
                pass  # a client that gave up (timeout tests) is expected

        self.server = Server((host, 0), Handler)
        if tls is not None:
            tls.sni_callback = lambda sslobj, name, context: upstream.sni.append(name)
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.host = host
        self.port = self.server.server_address[1]
        self.scheme = "https" if tls else "http"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,),
                                       daemon=True)
        self.thread.start()

    def url(self, path: str = "/", host: str | None = None) -> str:
        host = host or self.host
        host = f"[{host}]" if ":" in host else host
        return f"{self.scheme}://{host}:{self.port}{path}"

    def route(self, path: str, reply) -> None:
        """Answer ``path`` with a fixed ``Reply`` or a function of (request, handler)."""
        self.routes[path] = reply if callable(reply) else (lambda request, handler: reply)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Pki:
    ca_file: str
    localhost: ssl.SSLContext
    other_name: ssl.SSLContext


def _certificate(subject_name: str, key, issuer_name: str, issuer_key, *, ca: bool,
                 san: list[str] | None = None) -> x509.Certificate:
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject_name)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, key_cert_sign=True, crl_sign=True,
            content_commitment=False, key_encipherment=False, data_encipherment=False,
            key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        builder = builder.add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    else:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(name) for name in san or []]),
            critical=False)
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False)
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Pki:
    """A test CA and server certificates for "localhost" and for another name."""
    folder = tmp_path_factory.mktemp("pki")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = _certificate("Atrium test CA", ca_key, "Atrium test CA", ca_key, ca=True)
    ca_file = folder / "ca.pem"
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))

    def server_context(name: str) -> ssl.SSLContext:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _certificate(name, key, "Atrium test CA", ca_key, ca=False, san=[name])
        cert_file, key_file = folder / f"{name}.pem", folder / f"{name}.key"
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        return context

    return Pki(ca_file=str(ca_file), localhost=server_context("localhost"),
               other_name=server_context("other.example"))


@pytest.fixture
def servers():
    """Start test servers on demand and stop them after the test."""
    started: list[Upstream] = []

    def start(host: str = "127.0.0.1", tls: ssl.SSLContext | None = None) -> Upstream:
        upstream = Upstream(host, tls)
        started.append(upstream)
        return upstream

    yield start
    for upstream in started:
        upstream.close()


@pytest.fixture
def upstream(servers) -> Upstream:
    return servers()


@pytest.fixture(autouse=True)
def outbound_settings(settings, pki):
    """Start every test from the defaults: nothing allow-listed, the test CA trusted."""
    settings.MCP_OUTBOUND_ALLOWED_NETWORKS = []
    settings.MCP_OUTBOUND_MAX_RESPONSE_BYTES = 1024 * 1024
    settings.MCP_OUTBOUND_MAX_REDIRECTS = 5
    settings.MCP_OUTBOUND_CA_BUNDLE = pki.ca_file
    return settings


@pytest.fixture(autouse=True)
def no_forbidden_connection():
    """End every test by checking that no refused address was connected to."""
    forbidden_attempts.clear()
    yield
    assert forbidden_attempts == []


counter = itertools.count()


@pytest.fixture
def make_tool(tenant_a):
    """Save an external tool of ``tenant_a`` and return it as loaded from the database."""

    def make(url: str, *, tenant=None, **fields) -> McpTool:
        tenant = tenant or tenant_a
        fields.setdefault("api_method", HttpMethod.GET)
        with tenant_context(tenant):
            tool = McpTool.objects.create(
                tenant=tenant, name=f"ext_{next(counter)}", tool_type=ToolType.EXTERNAL,
                external_url=url, permission_code="mcp_tool.call", **fields)
            # Loaded again so that auth_config has made the round trip through encryption.
            return McpTool.objects.get(pk=tool.pk)

    return make


def allow(settings, *networks: str) -> None:
    settings.MCP_OUTBOUND_ALLOWED_NETWORKS = list(networks)


# Mapping of the arguments


def test_get_sends_remaining_arguments_as_query(upstream, make_tool, settings):
    """GET fills the placeholders and sends the other arguments as the query string."""
    allow(settings, *LOOPBACK_V4)
    upstream.route("/items/a%20b%2Fc", Reply(200, {"ok": True}))
    tool = make_tool(upstream.url("/items/{item_id}?fixed=1"))
    arguments = {"item_id": "a b/c", "tag": ["x", "y"], "flag": True, "n": 3, "skip": None,
                 "filter": {"k": "v"}}

    result = call_external(tool, arguments, timeout=5)

    assert isinstance(result, OutboundResult)
    assert result.status == 200 and result.data == {"ok": True}
    assert result.headers == {"content-type": "application/json"}
    [received] = upstream.requests
    assert received.method == "GET"
    assert received.path == "/items/a%20b%2Fc"
    assert received.query == {"fixed": ["1"], "tag": ["x", "y"], "flag": ["true"], "n": ["3"],
                              "filter": ['{"k":"v"}']}
    assert received.body == b""
    assert received.headers["user-agent"] == "Atrium-MCP/1"
    assert received.headers["host"] == f"127.0.0.1:{upstream.port}"
    assert arguments["item_id"] == "a b/c", "the caller's arguments are left alone"


def test_delete_sends_arguments_as_query(upstream, make_tool, settings):
    """DELETE, like GET, carries its arguments in the query string."""
    allow(settings, *LOOPBACK_V4)
    upstream.route("/things/7", Reply(204))
    tool = make_tool(upstream.url("/things/{id}"), api_method=HttpMethod.DELETE)

    result = call_external(tool, {"id": 7, "force": False}, timeout=5)

    assert result.status == 204 and result.data == ""
    [received] = upstream.requests
    assert received.method == "DELETE" and received.query == {"force": ["false"]}


@pytest.mark.parametrize("method", [HttpMethod.POST, HttpMethod.PUT, HttpMethod.PATCH])
def test_body_methods_send_remaining_arguments_as_json(upstream, make_tool, settings, method):
    """POST, PUT and PATCH send the arguments not used by the URL as a JSON body."""
    allow(settings, *LOOPBACK_V4)
    upstream.route("/orgs/acme%2Fx/members", Reply(201, {"created": 1}))
    tool = make_tool(upstream.url("/orgs/{org}/members"), api_method=method)

    result = call_external(tool, {"org": "acme/x", "name": "Zoë", "roles": ["a", "b"]},
                           timeout=5)

    assert result.status == 201 and result.data == {"created": 1}
    [received] = upstream.requests
    assert received.method == method
    assert received.headers["content-type"] == "application/json"
    assert received.json() == {"name": "Zoë", "roles": ["a", "b"]}
    assert received.query == {}


def test_missing_placeholder_argument_is_not_retryable(upstream, make_tool, settings):
    """A placeholder without its argument fails before any request, naming the argument."""
    allow(settings, *LOOPBACK_V4)
    tool = make_tool(upstream.url("/items/{item_id}"))

    with pytest.raises(OutboundError) as caught:
        call_external(tool, {"other": 1}, timeout=5)

    assert caught.value.retryable is False
    assert "item_id" in caught.value.message
    assert upstream.requests == []


def test_placeholder_in_host_is_refused(make_tool):
    """The agent's arguments never choose the host: a placeholder there is a config error."""
    tool = make_tool("http://{host}.example.com/x")

    with pytest.raises(OutboundError) as caught:
        call_external(tool, {"host": "169.254.169.254"}, timeout=5)

    assert caught.value.retryable is False
    assert "path and query" in caught.value.message


def test_credentials_in_the_url_are_refused(upstream, make_tool, settings):
    """A user name or password in the URL is refused: credentials belong in auth_config."""
    allow(settings, *LOOPBACK_V4)
    tool = make_tool(upstream.url("/x").replace("http://", "http://user:pw@"))

    with pytest.raises(OutboundError) as caught:
        call_external(tool, {}, timeout=5)

    assert caught.value.retryable is False and "pw" not in caught.value.message
    assert upstream.requests == []


# Credentials


def test_bearer_token_is_sent(upstream, make_tool, settings):
    """A bearer tool sends ``Authorization: Bearer <token>``."""
    allow(settings, *LOOPBACK_V4)
    upstream.route("/me", Reply(200, {"me": 1}))
    tool = make_tool(upstream.url("/me"), auth_type=AuthType.BEARER,
                     auth_config={"token": "tok-123"})

    call_external(tool, {}, timeout=5)

    assert upstream.requests[0].headers["authorization"] == "Bearer tok-123"


def test_api_key_header_is_sent(upstream, make_tool, settings):
    """An API-key tool sends its key in the header it names."""
    allow(settings, *LOOPBACK_V4)
    upstream.route("/me", Reply(200, {"me": 1}))
    tool = make_tool(upstream.url("/me"), auth_type=AuthType.API_KEY,
                     auth_config={"header": "X-API-Key", "value": "key-456"})

    call_external(tool, {}, timeout=5)

    received = upstream.requests[0]
    assert received.headers["x-api-key"] == "key-456"
    assert "authorization" not in received.headers


def test_invalid_auth_config_fails_before_any_request(upstream, make_tool, settings):
    """Settings that do not validate give a non-retryable error and no request."""
    allow(settings, *LOOPBACK_V4)
    tool = make_tool(upstream.url("/me"), auth_type=AuthType.BEARER,
                     auth_config={"tokn": "typo-secret"})

    with pytest.raises(OutboundError) as caught:
        call_external(tool, {}, timeout=5)

    assert caught.value.retryable is False
    assert "typo-secret" not in caught.value.message
    assert upstream.requests == []


# OAuth client credentials


class TokenEndpoint:
    """A token route handing out numbered tokens and recording the requests it gets."""

    def __init__(self, server: Upstream, *, expires_in: int | None = 3600) -> None:
        self.server = server
        self.expires_in = expires_in
        self.issued: list[str] = []
        server.route("/token", self.answer)

    def answer(self, request: Received, handler) -> Reply:
        token = f"access-{len(self.issued) + 1}"
        self.issued.append(token)
        payload = {"access_token": token, "token_type": "Bearer"}
        if self.expires_in is not None:
            payload["expires_in"] = self.expires_in
        return Reply(200, payload)

    @property
    def requests(self) -> list[Received]:
        return [r for r in self.server.requests if r.path == "/token"]

    def config(self, **extra) -> dict:
        return {"token_url": self.server.url("/token", host="localhost"),
                "client_id": "client one", "client_secret": "s3cr:t&+/=",
                **extra}


@pytest.fixture
def token_endpoint(servers, pki, settings) -> TokenEndpoint:
    """An HTTPS token endpoint at https://localhost (token URLs must use TLS)."""
    allow(settings, *LOOPBACK_V4)
    return TokenEndpoint(servers(tls=pki.localhost))


def target_seeing_tokens(server: Upstream, path: str = "/data", valid=None) -> list[str]:
    """Route ``path`` to answer 200 for valid bearer tokens (all, or those in ``valid``)."""
    seen: list[str] = []

    def answer(request: Received, handler) -> Reply:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        seen.append(token)
        if valid is not None and token not in valid:
            return Reply(401, {"error": "invalid_token"})
        return Reply(200, {"token_ok": True})

    server.route(path, answer)
    return seen


def test_oauth_token_is_fetched_once_and_reused(upstream, token_endpoint, make_tool):
    """The first call gets a token (Basic client auth, form-encoded); later ones reuse it."""
    seen = target_seeing_tokens(upstream)
    tool = make_tool(upstream.url("/data"), auth_type=AuthType.OAUTH,
                     auth_config=token_endpoint.config(scope="read write", audience="api://x"))

    for _ in range(3):
        assert call_external(tool, {}, timeout=5).data == {"token_ok": True}

    assert seen == ["access-1"] * 3
    [token_request] = token_endpoint.requests
    assert token_request.method == "POST"
    assert token_request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert parse_qs(token_request.body.decode()) == {
        "grant_type": ["client_credentials"], "scope": ["read write"], "audience": ["api://x"]}
    scheme, _, encoded = token_request.headers["authorization"].partition(" ")
    client_id, _, client_secret = base64.b64decode(encoded).decode().partition(":")
    assert scheme == "Basic"
    # RFC 6749 section 2.3.1: each part form-encoded before base64.
    assert (unquote_plus(client_id), unquote_plus(client_secret)) == ("client one", "s3cr:t&+/=")
    assert ":" not in client_secret
    assert token_endpoint.server.sni == ["localhost"]


def test_oauth_token_is_fetched_again_after_expiry(upstream, token_endpoint, make_tool):
    """A token is kept until ``expires_in`` less the margin, then a new one is requested."""
    token_endpoint.expires_in = 2  # kept 1 second: half its lifetime for short tokens
    seen = target_seeing_tokens(upstream)
    tool = make_tool(upstream.url("/data"), auth_type=AuthType.OAUTH,
                     auth_config=token_endpoint.config())

    call_external(tool, {}, timeout=5)
    call_external(tool, {}, timeout=5)
    time.sleep(1.2)
    call_external(tool, {}, timeout=5)

    assert seen == ["access-1", "access-1", "access-2"]
    assert len(token_endpoint.requests) == 2


def test_oauth_token_is_refreshed_once_after_a_401(upstream, token_endpoint, make_tool):
    """A 401 drops the cached token and retries once with a new one."""
    seen = target_seeing_tokens(upstream, valid={"access-2"})
    tool = make_tool(upstream.url("/data"), auth_type=AuthType.OAUTH,
                     auth_config=token_endpoint.config())

    result = call_external(tool, {}, timeout=5)

    assert result.status == 200
    assert seen == ["access-1", "access-2"]
    # The fresh token is the cached one now.
    call_external(tool, {}, timeout=5)
    assert seen[-1] == "access-2" and len(token_endpoint.requests) == 2


def test_oauth_401_with_a_fresh_token_is_not_retried_again(upstream, token_endpoint,
                                                           make_tool):
    """A target that refuses the fresh token too gives a non-retryable 401, no loop."""
    seen = target_seeing_tokens(upstream, valid=set())
    tool = make_tool(upstream.url("/data"), auth_type=AuthType.OAUTH,
                     auth_config=token_endpoint.config())

    with pytest.raises(OutboundError) as caught:
        call_external(tool, {}, timeout=5)

    assert (caught.value.status, caught.value.retryable) == (401, False)
    assert caught.value.message == "The external API answered 401."
    assert seen == ["access-1", "access-2"] and len(token_endpoint.requests) == 2


def test_changed_oauth_config_is_not_served_the_old_token(upstream, token_endpoint,
                                                          make_tool):
    """Changing the client settings gets a new token: the cache key follows the config."""
    seen = target_seeing_tokens(upstream)
    tool = make_tool(upstream.url("/data"), auth_type=AuthType.OAUTH,
                     auth_config=token_endpoint.config())
    call_external(tool, {}, timeout=5)

    tool.auth_config = token_endpoint.config(client_secret="rotated-secret")
    with tenant_context(tool.tenant):
        tool.save()
        tool = McpTool.objects.get(pk=tool.pk)
    call_external(tool, {}, timeout=5)

    assert seen == ["access-1", "access-2"]


def test_oauth_tokens_are_kept_per_tool_and_tenant(upstream, token_endpoint, make_tool,
                                                   tenant_b):
    """Two tenants' tools with the same client settings never share a token."""
    seen = target_seeing_tokens(upstream)
    config = token_endpoint.config()
    tool_a = make_tool(upstream.url("/data"), auth_type=AuthType.OAUTH, auth_config=config)
    tool_b = make_tool(upstream.url("/data"), auth_type=AuthType.OAUTH, auth_config=config,
                       tenant=tenant_b)

    for tool in (tool_a, tool_b, tool_a, tool_b):
        call_external(tool, {}, timeout=5)

    assert seen == ["access-1", "access-2", "access-1", "access-2"]


def test_oauth_cache_holds_neither_secret_nor_token_in_clear(upstream, token_endpoint,
                                                             make_tool):
    """The cache key has no secret or token, and the cached value is sealed."""
    backend = caches["default"]
    if not isinstance(backend, LocMemCache):
        pytest.skip("inspects the local-memory cache's entries")
    target_seeing_tokens(upstream)
    tool = make_tool(upstream.url("/data"), auth_type=AuthType.OAUTH,
                     auth_config=token_endpoint.config())
    call_external(tool, {}, timeout=5)

    entries = {key: value for key, value in backend._cache.items() if str(tool.pk) in key}
    assert len(entries) == 1
    [(key, value)] = entries.items()
    for secret in ("access-1", "s3cr", "client one", "client+one"):
        assert secret not in key
        assert secret.encode() not in value


def test_oauth_token_endpoint_follows_the_address_rules(upstream, make_tool, settings):
    """A token URL on a refused address is refused before any connection, target unasked."""
    allow(settings, *LOOPBACK_V4)
    target_seeing_tokens(upstream)
    tool = make_tool(upstream.url("/data"), auth_type=AuthType.OAUTH, auth_config={
        "token_url": "https://10.0.0.1/token", "client_id": "id", "client_secret": "sec"})

    with pytest.raises(OutboundError) as caught:
        call_external(tool, {}, timeout=5)

    assert caught.value.message == REFUSED and caught.value.retryable is False
    assert upstream.requests == []


def test_oauth_token_endpoint_errors_are_classified(token_endpoint, upstream, make_tool):
    """A token endpoint refusing the client is not retryable; its body is not shown."""
    token_endpoint.server.route("/token", Reply(401, {"error": "invalid_client",
                                                      "detail": "secret s3cr wrong"}))
    target_seeing_tokens(upstream)
    tool = make_tool(upstream.url("/data"), auth_type=AuthType.OAUTH,
                     auth_config=token_endpoint.config())

    with pytest.raises(OutboundError) as caught:
        call_external(tool, {}, timeout=5)

    assert caught.value.message == "The OAuth token endpoint answered 401."
    assert (caught.value.retryable, caught.value.status) == (False, 401)
    assert upstream.requests == []


# Refused addresses


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:{port}/",
    "http://localhost:{port}/",
    "http://[::1]:{port}/",
    "http://[::ffff:127.0.0.1]:{port}/",
    "http://2130706433:{port}/",  # 127.0.0.1 spelt as one number
    "http://0.0.0.0:{port}/",
    "http://10.0.0.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::ffff:169.254.169.254]/",
    "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 form of 169.254.169.254
    "http://192.168.1.1/",
    "http://172.16.0.1/",
    "http://100.64.0.1/",
    "http://[fd00::1]/",
    "http://[fe80::1]/",
    "https://10.0.0.1/",
])
def test_refused_addresses_are_never_contacted(upstream, make_tool, url):
    """Loopback, private, link-local and metadata addresses are refused before connecting."""
    upstream.route("/", Reply(200, "reached"))
    tool = make_tool(url.format(port=upstream.port))

    with pytest.raises(OutboundError) as caught:
        call_external(tool, {}, timeout=5)

    assert caught.value.message == REFUSED
    assert (caught.value.retryable, caught.value.status) == (False, None)
    assert upstream.requests == []


def test_name_resolving_to_the_metadata_address_is_refused(make_tool, monkeypatch):
    """A name the (cloud) DNS resolves to 169.254.169.254 is refused like the address."""
    real_getaddrinfo = socket.getaddrinfo

    def cloud_dns(host, port, *args, **kwargs):
        if host == "metadata.google.internal":
            return real_getaddrinfo("169.254.169.254", port, *args, **kwargs)
        return real_getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", cloud_dns)
    tool = make_tool("http://metadata.google.internal/computeMetadata/v1/")

    with pytest.raises(OutboundError) as caught:
        call_external(tool, {}, timeout=5)

    assert caught.value.message == REFUSED


def test_dns_rebinding_cannot_move_the_connection(upstream, make_tool, settings, monkeypatch):
    """The name is resolved once per request and the socket connects to that checked
    address: a DNS answer that turns into 169.254.169.254 afterwards is never used, and
    the Host header still names the host of the URL."""
    allow(settings, "127.0.0.1/32")
    upstream.route("/ok", Reply(200, {"ok": True}))
    real_getaddrinfo = socket.getaddrinfo
    lookups: list[str] = []

    def rebinding_dns(host, port, *args, **kwargs):
        if host != "rebind.test":
            return real_getaddrinfo(host, port, *args, **kwargs)
        lookups.append(host)
        address = "127.0.0.1" if len(lookups) == 1 else "169.254.169.254"
        return real_getaddrinfo(address, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding_dns)
    tool = make_tool(f"http://rebind.test:{upstream.port}/ok")

    assert call_external(tool, {}, timeout=5).data == {"ok": True}
    assert lookups == ["rebind.test"]
    assert upstream.requests[0].headers["host"] == f"rebind.test:{upstream.port}"

    # The next call resolves again and meets the rebound answer: refused, not connected.
    with pytest.raises(OutboundError) as caught:
        call_external(tool, {}, timeout=5)
    assert caught.value.message == REFUSED


def test_localhost_is_allowed_once_allow_listed(upstream, make_tool, settings):
    """An operator's allow-list opens a private range; the Host header keeps the name."""
    allow(settings, *LOOPBACK_V4)
    upstream.route("/ok", Reply(200, "fine"))
    tool = make_tool(upstream.url("/ok", host="localhost"))

    result = call_external(tool, {}, timeout=5)

    assert (result.status, result.data) == (200, "fine")
    assert upstream.requests[0].headers["host"] == f"localhost:{upstream.port}"


def test_a_tenants_outbound_networks_open_them_to_that_tenant_only(upstream, make_tool,
                                                                   tenant_a, tenant_b):
    """The tenant's own networks (set by an operator) serve its tools, not another's."""
    tenant_a.outbound_networks = ["127.0.0.0/8"]
    tenant_a.save()
    upstream.route("/ok", Reply(200, "fine"))
    mine, theirs = make_tool(upstream.url("/ok")), make_tool(upstream.url("/ok"), tenant=tenant_b)

    with tenant_context(tenant_a):
        assert call_external(mine, {}, timeout=5).status == 200
    with tenant_context(tenant_b), pytest.raises(OutboundError) as caught:
        call_external(theirs, {}, timeout=5)

    assert caught.value.message == REFUSED
    assert len(upstream.requests) == 1


def test_the_platforms_own_services_stay_refused(upstream, make_tool, settings):
    """A service endpoint of the platform is refused although its network is allowed."""
    allow(settings, *LOOPBACK_V4)
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{upstream.port}/0"
    upstream.route("/ok", Reply(200, "fine"))
    tool = make_tool(upstream.url("/ok"))

    with pytest.raises(OutboundError):
        call_external(tool, {}, timeout=5)
    settings.OUTBOUND_ALLOWED_SERVICE_ENDPOINTS = [f"127.0.0.1:{upstream.port}"]
    assert call_external(tool, {}, timeout=5).status == 200
    assert len(upstream.requests) == 1


def test_ipv6_loopback_server_when_allow_listed(servers, make_tool, settings):
    """An allow-listed IPv6 address is called, with the bracketed Host header."""
    if not ipv6_loopback_available():
        pytest.skip("no IPv6 loopback on this machine")
    allow(settings, "::1/128")
    server = servers("::1")
    server.route("/ok", Reply(200, {"v6": True}))
    tool = make_tool(server.url("/ok"))

    assert call_external(tool, {}, timeout=5).data == {"v6": True}
    assert server.requests[0].headers["host"] == f"[::1]:{server.port}"


def test_unspecified_address_is_refused_even_when_allow_listed(upstream, make_tool,
                                                               settings):
    """0.0.0.0 is no destination: an allow-list covering it does not open it."""
    allow(settings, "0.0.0.0/0")
    upstream.route("/", Reply(200, "reached"))
    tool = make_tool(f"http://0.0.0.0:{upstream.port}/")

    with pytest.raises(OutboundError) as caught:
        call_external(tool, {}, timeout=5)

    assert caught.value.message == REFUSED and upstream.requests == []


def test_invalid_allow_list_setting_fails_closed(upstream, make_tool, settings):
    """An allow-list that does not parse fails every call, as a configuration error."""
    allow(settings, "127.0.0.0/8", "not-a-network")
    tool = make_tool(upstream.url("/"))

    with pytest.raises(OutboundError) as caught:
        call_external(tool, {}, timeout=5)

    assert caught.value.retryable is False and upstream.requests == []


@pytest.mark.parametrize(("address", "refused"), [
    ("8.8.8.8", False),
    ("2606:4700:4700::1111", False),
    ("64:ff9b::808:808", False),  # NAT64 of a public address
    ("127.0.0.1", True),
    ("10.1.2.3", True),
    ("172.31.255.255", True),
    ("192.168.0.1", True),
    ("100.64.0.1", True),
    ("169.254.169.254", True),
    ("0.0.0.0", True),
    ("224.0.0.1", True),
    ("239.255.255.250", True),
    ("240.0.0.1", True),
    ("255.255.255.255", True),
    ("198.18.0.1", True),
    ("::", True),
    ("::1", True),
    ("fc00::1", True),
    ("fe80::1%eth0", True),
    ("fec0::1", True),
    ("ff02::1", True),
    ("::ffff:10.0.0.1", True),
    ("::ffff:169.254.169.254", True),
    ("64:ff9b::a00:1", True),
    ("2002:a9fe:a9fe::1", True),  # 6to4 of 169.254.169.254
    ("::127.0.0.1", True),
    ("not an address", True),
])
def test_address_rules(address, refused):
    """Only public unicast addresses are called when nothing is allow-listed."""
    assert is_refused_address(address) is refused


def test_allow_list_opens_private_ranges_but_not_unspecified_or_multicast():
    """The allow-list covers IPv4-mapped forms too; 0.0.0.0 and multicast stay refused."""
    allowed = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("0.0.0.0/0"))
    assert is_refused_address("10.0.0.5", allowed) is False
    assert is_refused_address("::ffff:10.0.0.5", allowed) is False
    assert is_refused_address("0.0.0.0", allowed) is True
    assert is_refused_address("224.0.0.1", allowed) is True


# Redirects


def test_redirects_are_followed(upstream, make_tool, settings):
    """A redirect to an allowed address is followed; 303 turns a POST into a GET."""
    allow(settings, *LOOPBACK_V4)
    upstream.route("/old", Reply(301, headers={"Location": "/new"}))
    upstream.route("/new", Reply(200, {"moved": True}))
    upstream.route("/submit", Reply(303, headers={"Location": "/result"}))
    upstream.route("/result", Reply(200, {"result": True}))

    assert call_external(make_tool(upstream.url("/old")), {}, timeout=5).data == {
        "moved": True}
    post = make_tool(upstream.url("/submit"), api_method=HttpMethod.POST)
    assert call_external(post, {"a": 1}, timeout=5).data == {"result": True}
    assert [(r.method, r.path) for r in upstream.requests] == [
        ("GET", "/old"), ("GET", "/new"), ("POST", "/submit"), ("GET", "/result")]


def test_307_keeps_method_and_body(upstream, make_tool, settings):
    """307 repeats the same method and body at the new location."""
    allow(settings, *LOOPBACK_V4)
    upstream.route("/a", Reply(307, headers={"Location": "/b"}))
    upstream.route("/b", Reply(200, {"ok": 1}))
    tool = make_tool(upstream.url("/a"), api_method=HttpMethod.PUT)

    call_external(tool, {"x": 1}, timeout=5)

    assert [(r.method, r.path, r.body) for r in upstream.requests] == [
        ("PUT", "/a", b'{"x":1}'), ("PUT", "/b", b'{"x":1}')]


@pytest.mark.parametrize("location", [
    "http://169.254.169.254/latest/meta-data/iam/",
    "http://10.0.0.1/admin",
    "http://[::ffff:169.254.169.254]/",
    "http://127.0.0.2:{port}/",
])
def test_redirect_to_a_refused_address_is_refused(upstream, make_tool, settings, location):
    """A redirect from an allow-listed server to a refused address is not followed."""
    allow(settings, "127.0.0.1/32")  # the test server's address only
    upstream.route("/go", Reply(302, headers={"Location": location.format(port=upstream.port)}))
    tool = make_tool(upstream.url("/go"))

    with pytest.raises(OutboundError) as caught:
        call_external(tool, {}, timeout=5)

    assert caught.value.message == REFUSED and caught.value.retryable is False
    assert [r.path for r in upstream.requests] == ["/go"]


@pytest.mark.parametrize("location", ["file:///etc/passwd", "gopher://127.0.0.1:70/x"])
def test_redirect_to_another_scheme_is_refused(upstream, make_tool, settings, location):
    """Only http and https redirects are followed."""
    allow(settings, *LOOPBACK_V4)
    upstream.route("/go", Reply(302, headers={"Location": location}))

    with pytest.raises(OutboundError) as caught:
        call_external(make_tool(upstream.url("/go")), {}, timeout=5)

    assert caught.value.retryable is False
    assert caught.value.message == (
        "The external API redirected to a URL the platform does not follow.")


def test_redirects_are_limited(upstream, make_tool, settings):
    """More redirects than MCP_OUTBOUND_MAX_REDIRECTS end the call."""
    allow(settings, *LOOPBACK_V4)
    settings.MCP_OUTBOUND_MAX_REDIRECTS = 2
    upstream.route("/loop", Reply(302, headers={"Location": "/loop"}))

    with pytest.raises(OutboundError) as caught:
        call_external(make_tool(upstream.url("/loop")), {}, timeout=5)

    assert caught.value.message == "The external API redirected too many times."
    assert caught.value.retryable is False
    assert len(upstream.requests) == 3


@pytest.mark.parametrize(("auth_type", "config", "header"), [
    (AuthType.BEARER, {"token": "tok-cross"}, "authorization"),
    (AuthType.API_KEY, {"header": "X-Key", "value": "key-cross"}, "x-key"),
])
def test_credentials_stay_with_their_origin(servers, make_tool, settings, auth_type, config,
                                            header):
    """Credentials follow a same-origin redirect but never one to another origin."""
    allow(settings, *LOOPBACK_V4)
    first, second = servers(), servers()
    first.route("/a", Reply(302, headers={"Location": "/b"}))
    first.route("/b", Reply(302, headers={"Location": second.url("/c", host="localhost")}))
    second.route("/c", Reply(200, {"ok": True}))
    tool = make_tool(first.url("/a"), auth_type=auth_type, auth_config=config)

    assert call_external(tool, {}, timeout=5).data == {"ok": True}

    assert [header in r.headers for r in first.requests] == [True, True]
    assert header not in second.requests[0].headers


# TLS


def test_tls_verifies_the_url_host_while_connecting_to_the_checked_address(
        servers, pki, make_tool, settings):
    """https://localhost connects to the checked 127.0.0.1 with SNI and certificate checks
    for "localhost"."""
    allow(settings, *LOOPBACK_V4)
    server = servers(tls=pki.localhost)
    server.route("/secure", Reply(200, {"tls": True}))
    tool = make_tool(server.url("/secure", host="localhost"))

    assert call_external(tool, {}, timeout=5).data == {"tls": True}
    assert server.sni == ["localhost"]
    assert server.requests[0].headers["host"] == f"localhost:{server.port}"


def test_certificate_for_another_name_is_refused(servers, pki, make_tool, settings):
    """A certificate that does not name the URL's host fails, not retryable."""
    allow(settings, *LOOPBACK_V4)
    server = servers(tls=pki.other_name)
    server.route("/secure", Reply(200, {"tls": True}))

    with pytest.raises(OutboundError) as caught:
        call_external(make_tool(server.url("/secure", host="localhost")), {}, timeout=5)

    assert caught.value.message == "The external API's TLS certificate could not be verified."
    assert caught.value.retryable is False and server.requests == []


def test_untrusted_certificate_is_refused(servers, pki, make_tool, settings):
    """Without the test CA in the trust store, the same server is refused."""
    allow(settings, *LOOPBACK_V4)
    settings.MCP_OUTBOUND_CA_BUNDLE = None
    server = servers(tls=pki.localhost)

    with pytest.raises(OutboundError) as caught:
        call_external(make_tool(server.url("/", host="localhost")), {}, timeout=5)

    assert caught.value.retryable is False and server.requests == []


# Failures and their classes


def test_slow_answer_times_out_quickly_and_is_retryable(upstream, make_tool, settings):
    """A server that does not answer in time gives a retryable timeout, on time."""
    allow(settings, *LOOPBACK_V4)

    def slow(request, handler):
        time.sleep(3)
        return Reply(200, "late")

    upstream.route("/slow", slow)
    started = time.monotonic()

    with pytest.raises(OutboundError) as caught:
        call_external(make_tool(upstream.url("/slow")), {}, timeout=0.5)

    elapsed = time.monotonic() - started
    assert caught.value.retryable is True and caught.value.status is None
    assert caught.value.message == "The external API did not answer within 0.5 seconds."
    assert elapsed < 1.5


def test_timeout_covers_the_whole_answer(upstream, make_tool, settings):
    """A server dripping its headers byte by byte cannot stretch the call past its timeout."""
    allow(settings, *LOOPBACK_V4)

    def drip(request, handler):
        for byte in b"HTTP/1.1 200 OK\r\nX-Padding: " + b"x" * 200:
            try:
                handler.wfile.write(bytes([byte]))
                handler.wfile.flush()
            except OSError:
                return None
            time.sleep(0.05)
        return None

    upstream.route("/drip", drip)
    started = time.monotonic()

    with pytest.raises(OutboundError) as caught:
        call_external(make_tool(upstream.url("/drip")), {}, timeout=0.6)

    assert caught.value.retryable is True
    assert caught.value.message == "The external API did not answer within 0.6 seconds."
    assert time.monotonic() - started < 1.5


def test_closed_port_is_retryable(make_tool, settings):
    """A refused connection is a retryable failure."""
    allow(settings, *LOOPBACK_V4)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    with pytest.raises(OutboundError) as caught:
        call_external(make_tool(f"http://127.0.0.1:{port}/"), {}, timeout=5)

    assert caught.value.retryable is True
    assert caught.value.message == "The external API could not be reached."


@pytest.mark.parametrize(("status", "retryable"), [
    (500, True), (502, True), (503, True), (429, True), (404, False), (400, False),
    (403, False), (401, False),
])
def test_error_statuses_are_classified(upstream, make_tool, settings, status, retryable):
    """5xx and 429 are retryable, other 4xx are not; the upstream body is never shown."""
    allow(settings, *LOOPBACK_V4)
    upstream.route("/fail", Reply(status, {"trace": "Traceback ... db password hunter2"},
                                  headers={"Retry-After": "7"}))

    with pytest.raises(OutboundError) as caught:
        call_external(make_tool(upstream.url("/fail")), {}, timeout=5)

    error = caught.value
    assert error.message == f"The external API answered {status}."
    assert (error.status, error.retryable) == (status, retryable)
    assert error.retry_after == 7
    assert "hunter2" not in str(error)


def test_large_answer_is_truncated_with_a_marker(upstream, make_tool, settings):
    """An answer over MCP_OUTBOUND_MAX_RESPONSE_BYTES is cut there and marked."""
    allow(settings, *LOOPBACK_V4)
    settings.MCP_OUTBOUND_MAX_RESPONSE_BYTES = 1000
    upstream.route("/text", Reply(200, "x" * 5000))
    upstream.route("/json", Reply(200, [{"row": n} for n in range(500)]))
    upstream.route("/fits", Reply(200, "y" * 1000))

    text = call_external(make_tool(upstream.url("/text")), {}, timeout=5)
    as_json = call_external(make_tool(upstream.url("/json")), {}, timeout=5)
    fits = call_external(make_tool(upstream.url("/fits")), {}, timeout=5)

    marker = "\n[truncated: the answer exceeded 1000 bytes]"
    assert text.truncated and text.data == "x" * 1000 + marker
    assert as_json.truncated and isinstance(as_json.data, str)
    assert as_json.data.endswith(marker) and len(as_json.data) == 1000 + len(marker)
    assert not fits.truncated and fits.data == "y" * 1000


def test_only_allow_listed_answer_headers_are_kept(upstream, make_tool, settings):
    """Cookies and other upstream headers stay out of the result."""
    allow(settings, *LOOPBACK_V4)
    upstream.route("/h", Reply(200, {"a": 1}, headers={
        "Set-Cookie": "session=abc", "X-Internal-Host": "db-3.corp", "ETag": '"v1"',
        "X-Request-Id": "req-9"}))

    result = call_external(make_tool(upstream.url("/h")), {}, timeout=5)

    assert result.headers == {"content-type": "application/json", "etag": '"v1"',
                              "x-request-id": "req-9"}


def test_json_body_without_content_type_and_text_with_charset(upstream, make_tool, settings):
    """A JSON body is parsed; text is decoded with the charset it declares."""
    allow(settings, *LOOPBACK_V4)
    upstream.route("/latin", Reply(200, "café".encode("latin-1"),
                                   headers={"Content-Type": "text/plain; charset=latin-1"}))
    upstream.route("/problem", Reply(200, b'{"p": 1}',
                                     headers={"Content-Type": "application/problem+json"}))
    upstream.route("/broken", Reply(200, b"{not json", headers={
        "Content-Type": "application/json"}))

    assert call_external(make_tool(upstream.url("/latin")), {}, timeout=5).data == "café"
    assert call_external(make_tool(upstream.url("/problem")), {}, timeout=5).data == {"p": 1}
    assert call_external(make_tool(upstream.url("/broken")), {}, timeout=5).data == "{not json"


# Secrets stay out of logs


def test_secrets_never_reach_the_logs(upstream, token_endpoint, make_tool, caplog):
    """Tokens, client secrets, API keys and access tokens are absent from every log record."""
    caplog.set_level(logging.DEBUG)
    target_seeing_tokens(upstream)
    upstream.route("/fail", Reply(500, "boom"))
    upstream.route("/away", Reply(302, headers={"Location": "http://169.254.169.254/"}))
    secrets = ["tok-SECRET-1", "key-SECRET-2", "s3cr:t&+/=", "access-1", "access-2"]
    tools = [
        make_tool(upstream.url("/data"), auth_type=AuthType.BEARER,
                  auth_config={"token": "tok-SECRET-1"}),
        make_tool(upstream.url("/fail"), auth_type=AuthType.API_KEY,
                  auth_config={"header": "X-Key", "value": "key-SECRET-2"}),
        make_tool(upstream.url("/away"), auth_type=AuthType.BEARER,
                  auth_config={"token": "tok-SECRET-1"}),
        make_tool(upstream.url("/data"), auth_type=AuthType.OAUTH,
                  auth_config=token_endpoint.config()),
    ]
    errors = []
    for tool in tools:
        try:
            call_external(tool, {}, timeout=5)
        except OutboundError as error:
            errors.append(error.message)

    # The calls happened and were logged, the failures raised.
    assert len(token_endpoint.requests) == 1 and len(errors) == 2
    assert any(record.name == "gateway.outbound" for record in caplog.records)
    logged = caplog.text + "".join(errors)
    basic = base64.b64encode(b"client+one:s3cr%3At%26%2B%2F%3D").decode()
    for secret in [*secrets, "s3cr%3At", basic]:
        assert secret not in logged


# Validation of auth_config


@pytest.mark.parametrize(("auth_type", "config"), [
    (AuthType.NONE, None),
    (AuthType.NONE, {}),
    (AuthType.BEARER, {"token": "t"}),
    (AuthType.API_KEY, {"header": "X-API-Key", "value": "v"}),
    (AuthType.API_KEY, {"header": "Authorization", "value": "Token v"}),
    (AuthType.OAUTH, {"token_url": "https://id.example.com/oauth/token", "client_id": "c",
                      "client_secret": "s"}),
    (AuthType.OAUTH, {"token_url": "https://id.example.com/t", "client_id": "c",
                      "client_secret": "s", "scope": "a b", "audience": "x"}),
])
def test_valid_auth_configs(auth_type, config):
    """Each authentication type accepts its documented keys."""
    validate_auth_config(auth_type, config)


@pytest.mark.parametrize(("auth_type", "config", "expected"), [
    (AuthType.NONE, {"token": "leftover-secret"}, "leave them empty"),
    (AuthType.BEARER, None, "JSON object with the keys token"),
    (AuthType.BEARER, {}, '"token" is required.'),
    (AuthType.BEARER, {"token": "   "}, '"token" must be a non-empty string.'),
    (AuthType.BEARER, {"token": 12345}, '"token" must be a non-empty string.'),
    (AuthType.BEARER, {"token": "a\r\nX-Evil: 1"}, "control characters"),
    (AuthType.BEARER, {"token": "t", "extra": 1}, "Unknown keys: extra"),
    (AuthType.API_KEY, {"header": "X API Key", "value": "leftover-secret"}, "header name"),
    (AuthType.API_KEY, {"header": "Host", "value": "leftover-secret"}, "sets that header"),
    (AuthType.API_KEY, {"header": "X-Key"}, '"value" is required.'),
    (AuthType.OAUTH, {"token_url": "http://id.example.com/t", "client_id": "c",
                      "client_secret": "leftover-secret"}, "https://"),
    (AuthType.OAUTH, {"token_url": "https://u:p@id.example.com/t", "client_id": "c",
                      "client_secret": "leftover-secret"}, "without user name"),
    (AuthType.OAUTH, {"token_url": "https://id.example.com/t", "client_id": "c"},
     '"client_secret" is required.'),
    (AuthType.OAUTH, {"token_url": "https://id.example.com/t", "client_id": "c",
                      "client_secret": "leftover-secret", "scope": 3},
     '"scope" must be a non-empty string.'),
])
def test_invalid_auth_configs_name_the_problem(auth_type, config, expected):
    """A bad config is a ValidationError on auth_config naming the key, never the secret."""
    with pytest.raises(ValidationError) as caught:
        validate_auth_config(auth_type, config)

    messages = caught.value.message_dict["auth_config"]
    assert any(expected in message for message in messages), messages
    assert not any("leftover-secret" in message for message in messages)


def test_unknown_auth_type_is_an_error_on_auth_type():
    """An auth type outside the choices is reported on that field."""
    with pytest.raises(ValidationError) as caught:
        validate_auth_config("kerberos", {})

    assert list(caught.value.message_dict) == ["auth_type"]
