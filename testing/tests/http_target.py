"""A real HTTP server on loopback for the engine's tests and benchmark (no mocked transport).

``Target()`` starts a threaded HTTP/1.1 server (keep-alive) on 127.0.0.1 and a free port;
``.url`` is its base URL, ``.hits`` counts requests per path, ``.close()`` stops it.

Routes (any method unless said):
- ``/anything[/...]``: echoes method, path, query (``args``, lists), headers, body text,
  parsed JSON (``json``) and form fields (``form``).
- ``/status/<code>``: answers that status with an empty JSON object.
- ``/json``: a fixed document: ``{"data": {"token": "tok-123", "items": [...]}, ...}``.
- ``/cookies/set?name=value...``: sets those cookies; ``/cookies``: echoes those received.
- ``/redirect-to?url=...&status=302``: redirects there.
- ``/delay/<seconds>``: answers after that long (at most 10 s).
- ``/html``: a small HTML page. ``/bytes/<n>``: n bytes of ``x``.
- ``/login`` (POST ``{"username", "password"}``): a token when the password is ``s3cret``;
  ``/me``: 200 with ``Authorization: Bearer <that token>``, else 401.
- ``/flaky/<key>/<n>``: 500 for the first n requests of that key, then 200.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

DOCUMENT = {
    "data": {"token": "tok-123", "count": 3, "ratio": 0.5, "active": True, "missing": None,
             "items": [{"id": 1, "name": "alpha"}, {"id": 2, "name": "beta"}]},
    "message": "ok",
}
TOKEN = "tok-5ecret-token"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Without TCP_NODELAY a keep-alive client waits ~40 ms per request on a delayed ACK.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format, *args) -> None:  # noqa: A002 (the base class's name)
        pass

    def _send(self, status: int, body: bytes | str | dict | list = b"", *,
              content_type: str = "application/json", headers: list | None = None) -> None:
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers or []:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _handle(self) -> None:
        parts = urlsplit(self.path)
        path = parts.path
        query = parse_qs(parts.query, keep_blank_values=True)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        self.server.count(path)
        segments = [s for s in path.split("/") if s]
        head = segments[0] if segments else ""
        if head == "anything":
            text = raw.decode("utf-8", errors="replace")
            try:
                parsed = json.loads(text) if text else None
            except ValueError:
                parsed = None
            form = {}
            if self.headers.get("Content-Type", "").startswith(
                    "application/x-www-form-urlencoded"):
                form = {k: v[0] for k, v in parse_qs(text).items()}
            self._send(200, {"method": self.command, "path": path, "args": query,
                             "headers": dict(self.headers.items()), "data": text,
                             "json": parsed, "form": form})
        elif head == "status" and len(segments) == 2:
            self._send(int(segments[1]), {})
        elif head == "json":
            self._send(200, DOCUMENT)
        elif head == "cookies" and segments[1:] == ["set"]:
            cookies = [("Set-Cookie", f"{name}={values[0]}; Path=/")
                       for name, values in query.items()]
            self._send(200, {"set": {k: v[0] for k, v in query.items()}}, headers=cookies)
        elif head == "cookies":
            received = {}
            for item in (self.headers.get("Cookie") or "").split(";"):
                if "=" in item:
                    name, value = item.strip().split("=", 1)
                    received[name] = value
            self._send(200, {"cookies": received})
        elif head == "redirect-to":
            status = int(query.get("status", ["302"])[0])
            self._send(status, b"", headers=[("Location", query["url"][0])])
        elif head == "delay":
            time.sleep(min(float(segments[1]), 10))
            self._send(200, {"delayed": float(segments[1])})
        elif head == "html":
            self._send(200, "<html><body><h1>Hello</h1></body></html>",
                       content_type="text/html; charset=utf-8")
        elif head == "bytes":
            self._send(200, b"x" * int(segments[1]), content_type="application/octet-stream")
        elif head == "login":
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                body = {}
            if body.get("password") == "s3cret":
                self._send(200, {"token": TOKEN, "user": body.get("username")})
            else:
                self._send(401, {"error": "bad credentials"})
        elif head == "me":
            if self.headers.get("Authorization") == f"Bearer {TOKEN}":
                self._send(200, {"username": "tester"})
            else:
                self._send(401, {"error": "no token"})
        elif head == "flaky" and len(segments) == 3:
            seen = self.server.hits[path]
            self._send(500 if seen <= int(segments[2]) else 200, {"attempt": seen})
        else:
            self._send(404, {"error": "not found"})

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.hits: Counter = Counter()
        self._lock = threading.Lock()

    def count(self, path: str) -> None:
        with self._lock:
            self.hits[path] += 1


class Target:
    """The running server."""

    def __init__(self) -> None:
        self.server = _Server()
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def hits(self) -> Counter:
        return self.server.hits

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
