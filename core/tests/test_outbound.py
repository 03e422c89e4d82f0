"""The guarded outbound client (core.outbound) as a general client: every status comes
back to the caller, the address policy holds on every hop, the budget bounds the call.

The MCP external tools' use of it (credentials, OAuth, rewording) is tested in
gateway/tests/test_outbound.py; here a plain threaded HTTP server on loopback answers.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from core import outbound
from core.deadlines import TimeBudget

LOOPBACK = outbound.Policy(allowed_networks=outbound.parse_networks(("127.0.0.0/8",)))


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's name
        if self.path.startswith("/status/"):
            code = int(self.path.rsplit("/", 1)[1])
            body = f'{{"status": {code}}}'.encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif self.path == "/to-metadata":
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/drip":
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            for _ in range(100):
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(0.05)
        elif self.path == "/big":
            self.send_response(200)
            self.send_header("Content-Length", "5000")
            self.end_headers()
            self.wfile.write(b"y" * 5000)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.mark.parametrize("code", [200, 404, 500, 503])
def test_every_status_comes_back_to_the_caller(server, code):
    response = outbound.request("GET", f"{server}/status/{code}", budget=TimeBudget(5),
                                policy=LOOPBACK)
    assert response.status == code
    assert response.body == f'{{"status": {code}}}'.encode()
    assert response.headers["Content-Type"] == "application/json"


def test_loopback_is_refused_unless_allowed(server):
    with pytest.raises(outbound.OutboundError) as refused:
        outbound.request("GET", f"{server}/status/200", budget=TimeBudget(5))
    assert refused.value.code == "refused_address" and not refused.value.retryable


def test_a_redirect_to_the_metadata_address_is_refused(server):
    with pytest.raises(outbound.OutboundError) as refused:
        outbound.request("GET", f"{server}/to-metadata", budget=TimeBudget(5), policy=LOOPBACK)
    assert refused.value.code == "refused_address"


def test_the_budget_bounds_a_dripping_answer(server):
    started = time.monotonic()
    with pytest.raises(outbound.OutboundError) as late:
        outbound.request("GET", f"{server}/drip", budget=TimeBudget(0.5), policy=LOOPBACK)
    assert late.value.code == "timeout" and late.value.retryable
    assert time.monotonic() - started < 2


def test_a_long_answer_is_cut_and_marked(server):
    policy = outbound.Policy(allowed_networks=LOOPBACK.allowed_networks,
                             max_response_bytes=1000)
    response = outbound.request("GET", f"{server}/big", budget=TimeBudget(5), policy=policy)
    assert response.truncated and len(response.body) == 1000


def test_callers_reword_the_neutral_messages():
    error = outbound.OutboundError("The server did not answer within 3 seconds.",
                                   retryable=True, code="timeout")
    reworded = error.reworded({"timeout": "The API did not answer within %(seconds)g s."},
                              seconds=3)
    assert reworded.message == "The API did not answer within 3 s."
    assert reworded.code == "timeout" and reworded.retryable
    assert error.reworded({}) is error
