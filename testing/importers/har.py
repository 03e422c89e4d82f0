"""HAR 1.2 recordings (browsers' network panels, Charles, Fiddler, mitmproxy) into a plan.

What a recording holds and what becomes of it:

* Each entry's request becomes an ``ImportedRequest`` keyed ``"METHOD url-without-query"``
  (``#2``, ``#3``... for repeats, which are kept: a recording is a sequence), in a folder named
  after its host, asserting the status the server answered. All of them, in order, make one
  scenario: a recorded session replays as a sequence.
* Skipped, each kind counted in one problem rather than one per entry (a page load records
  hundreds): static assets of GET and HEAD requests (images, fonts, stylesheets, scripts,
  media; by the response's MIME type, the browser's resource type or the extension),
  ``data:`` and ``blob:`` URLs, CORS preflights (OPTIONS with
  ``Access-Control-Request-Method``) and URLs that are not HTTP (``ws:``, extensions).
* Headers the client sets itself are dropped: HTTP/2 pseudo-headers (``:authority``),
  hop-by-hop ones (Connection, Keep-Alive, Transfer-Encoding...), Host, Content-Length,
  Accept-Encoding (the platform's client negotiates its own compression) and the browser's
  ``Sec-*``. Content-Type goes to the request's content type, except for multipart bodies
  whose recorded boundary no longer matches the body the platform sends.
* Secrets leave the requests: the values of Authorization, Cookie and of headers, query
  parameters, form fields and JSON keys named like a secret (``core.redaction``) become secret
  variables, referenced as ``{{name}}``; one variable per distinct value. The Cookie header is
  kept that way, with a warning: it holds the recorded session, which expires.
* The query comes from the URL itself, decoded once: browsers disagree on whether a HAR's
  ``queryString`` values are decoded, and the URL is what was sent. ``queryString`` serves
  when the URL has no query. Likewise an urlencoded body is read from its text when there is
  one.
* A recorded redirect (3xx but 304) asserts no status: the platform follows redirects, so the
  step sees the final answer.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from django.utils.translation import gettext_noop

from core import json as capped_json
from core.redaction import is_secret_name
from testing.importers.base import (
    SKIPPED,
    WARNING,
    ImportedRequest,
    ImportedScenario,
    ImportedStep,
    ImportedVariable,
    ImportFailed,
    ImportPlan,
    Problem,
)
from testing.engine.messages import Message, message
from testing.importers.loading import MAX_DEPTH, load_json

FORMAT = "har"

METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}
DROPPED_HEADERS = {
    "host", "content-length", "connection", "keep-alive", "proxy-connection",
    "transfer-encoding", "upgrade", "te", "trailer", "accept-encoding", "priority",
}
SECRET_HEADERS = {"authorization", "proxy-authorization", "cookie"}

# Static assets, by the response's MIME type, the browser's resource type, the extension.
STATIC_MIME = (
    ("images", ("image/",)),
    ("fonts", ("font/", "application/font", "application/x-font", "application/vnd.ms-fontobject")),
    ("stylesheets", ("text/css",)),
    ("scripts", ("javascript", "ecmascript")),
    ("media", ("audio/", "video/")),
)
STATIC_RESOURCE_TYPES = {"image": "images", "font": "fonts", "stylesheet": "stylesheets",
                         "script": "scripts", "media": "media"}
STATIC_EXTENSIONS = {
    **dict.fromkeys((".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg", ".ico", ".bmp",
                     ".avif", ".tif", ".tiff"), "images"),
    **dict.fromkeys((".woff", ".woff2", ".ttf", ".otf", ".eot"), "fonts"),
    ".css": "stylesheets",
    **dict.fromkeys((".js", ".mjs", ".map"), "scripts"),
    **dict.fromkeys((".mp3", ".mp4", ".m4a", ".ogg", ".oga", ".ogv", ".wav", ".webm", ".flac",
                     ".aac", ".mov", ".avi", ".m3u8", ".ts"), "media"),
}
UNINFORMATIVE_MIME = {"", "application/octet-stream", "binary/octet-stream", "text/plain",
                      "x-unknown"}
INLINE_SCHEMES = ("data:", "blob:")
INLINE_DATA = "inline data (data: and blob: URLs)"
# The kinds of skipped requests as the preview names them, in the reader's language.
KIND_LABELS = {"images": gettext_noop("images"), "fonts": gettext_noop("fonts"),
               "stylesheets": gettext_noop("stylesheets"), "scripts": gettext_noop("scripts"),
               "media": gettext_noop("media"),
               INLINE_DATA: gettext_noop("inline data (data: and blob: URLs)")}
_SLUG = re.compile(r"[^a-z0-9]+")
LOG_RE = re.compile(rb'"log"\s*:\s*\{')


def looks_like(data: bytes, filename: str) -> bool:
    """Return whether ``data`` reads like a HAR: a JSON object with ``log`` and ``entries``."""
    head = data[:65536].lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head.startswith(b"{"):
        return False
    return LOG_RE.search(head) is not None and b'"entries"' in data


def parse(data: bytes, filename: str) -> ImportPlan:
    """Return the requests of the HAR ``data`` and the scenario that replays them."""
    document = load_json(data, filename)
    log = document.get("log") if isinstance(document, dict) else None
    if not isinstance(log, dict) or not isinstance(log.get("entries"), list):
        raise ImportFailed(filename, "/log/entries", message(gettext_noop(
            "not a HAR file: a HAR is a JSON object with log.entries, a list of requests")))
    return _Reader(filename).read(log)


def _is_secret(name: str) -> bool:
    lowered = name.strip().lower()
    compact = lowered.replace("-", "").replace("_", "")
    return (lowered in SECRET_HEADERS or is_secret_name(lowered.replace("-", "_"))
            or "apikey" in compact)


def _form_field(name: str, key: str) -> Message:
    """Return where a recording had a form field: "the form field password of POST /login"."""
    return message(gettext_noop("the form field %(name)s of %(key)s"), name=name, key=key)


def _list(value: Any) -> list:
    """Return ``value`` when it is a list, else an empty one (a HAR field of the wrong type)."""
    return value if isinstance(value, list) else []


def _pair(name: str, value: Any) -> dict:
    return {"name": name, "value": value if isinstance(value, str) else str(value),
            "enabled": True}


class _Reader:
    """One reading of a HAR: the plan, and the secrets and skips collected on the way."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.plan = ImportPlan(format=FORMAT, title=filename)
        self.secret_names: dict[str, str] = {}      # value -> variable name
        self.static: Counter[str] = Counter()
        self.not_http: Counter[str] = Counter()
        self.preflights = 0
        self.keys: Counter[str] = Counter()
        self.hosts: Counter[str] = Counter()
        self.cookies: dict[str, list[str]] = {}   # Cookie variable -> request keys

    def read(self, log: dict) -> ImportPlan:
        pages = log.get("pages")
        if isinstance(pages, list) and pages and isinstance(pages[0], dict):
            title = pages[0].get("title")
            if isinstance(title, str) and title.strip():
                self.plan.title = title.strip()[:255]
        steps = []
        for index, entry in enumerate(log["entries"]):
            request = self.entry(entry, f"/log/entries/{index}")
            if request is not None:
                self.plan.requests.append(request)
                steps.append(ImportedStep(request=request.key, title=request.name))
        self.summarise()
        self.plan.base_urls = [base for base, _ in self.hosts.most_common()]
        if steps:
            self.plan.scenarios.append(ImportedScenario(
                key=self.filename, name=self.plan.title, steps=steps,
                description=message(gettext_noop("Recorded in %(filename)s"),
                                    filename=self.filename), where="/log/entries"))
        return self.plan

    def problem(self, where: str, message: str, severity: str = WARNING, item: str = "") -> None:
        self.plan.problems.append(Problem(where=where, message=message, severity=severity,
                                          item=item))

    def entry(self, entry: Any, where: str) -> ImportedRequest | None:
        request = entry.get("request") if isinstance(entry, dict) else None
        if not isinstance(request, dict) or not isinstance(request.get("url"), str):
            self.problem(where, message(gettext_noop("not an entry with a request and its URL")),
                         SKIPPED)
            return None
        url = request["url"].strip()
        method = str(request.get("method") or "GET").strip().upper()
        if url.lower().startswith(INLINE_SCHEMES):
            self.static[INLINE_DATA] += 1
            return None
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 (raises ValueError for a port out of range)
        except ValueError as exc:
            self.problem(where + "/request/url", message(gettext_noop(
                "the URL %(url)s is invalid: %(reason)s"), url=repr(url[:200]), reason=str(exc)),
                SKIPPED)
            return None
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            self.not_http[(parts.scheme or "no scheme").lower()] += 1
            return None
        headers = [h for h in _list(request.get("headers")) if isinstance(h, dict)]
        if method == "OPTIONS" and any(
                str(h.get("name", "")).lower() == "access-control-request-method"
                for h in headers):
            self.preflights += 1
            return None
        response = entry.get("response") if isinstance(entry.get("response"), dict) else {}
        if method in ("GET", "HEAD"):
            kind = _static_kind(parts.path, response, entry.get("_resourceType"))
            if kind:
                self.static[kind] += 1
                return None
        if len(url) - len(parts.query) > 2000:
            self.problem(where + "/request/url", message(gettext_noop(
                "the URL is longer than an interface's URL holds (2048 characters beside its "
                "query)")), SKIPPED)
            return None
        if method not in METHODS:
            self.problem(where + "/request/method", message(gettext_noop(
                "%(request)s: the method is not one the platform sends (%(methods)s)"),
                request=f"{method[:20]} {url[:200]}", methods=", ".join(sorted(METHODS))),
                SKIPPED)
            return None
        return self.build(method, parts, request, headers, response, entry, where)

    def build(self, method: str, parts, request: dict, headers: list[dict], response: dict,
              entry: dict, where: str) -> ImportedRequest:
        hostname = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        host = hostname + (f":{parts.port}" if parts.port else "")
        netloc = host
        if parts.password:
            secret = self.secret("url_password", parts.password, message(gettext_noop(
                "the password in the URL of %(method)s %(host)s"), method=method, host=host))
            netloc = f"{parts.username or ''}:{secret}@{host}"
        elif parts.username:
            netloc = f"{parts.username}@{host}"
        base = f"{parts.scheme.lower()}://{host}"
        self.hosts[base] += 1
        path = parts.path or "/"
        plain_url = urlunsplit((parts.scheme.lower(), host, path, "", ""))
        key = f"{method} {plain_url[:580]}"  # an interface's import key holds 600
        self.keys[key] += 1
        if self.keys[key] > 1:
            key = f"{key}#{self.keys[key]}"
        item = ImportedRequest(
            key=key, name=f"{method} {path}"[:255], method=method,
            url=urlunsplit((parts.scheme.lower(), netloc, path, "", "")), folder=[host],
            description=str(entry.get("comment") or "")[:2000], where=where)
        item.query = self.query(parts.query, request.get("queryString"), key)
        content_type = self.headers(item, headers, request.get("cookies"), where)
        self.body(item, request.get("postData"), content_type, where)
        self.status(item, response, where)
        return item

    def query(self, raw: str, recorded: Any, key: str) -> list[dict]:
        if raw:
            pairs = parse_qsl(raw, keep_blank_values=True)
        else:
            pairs = [(str(p.get("name") or ""), p.get("value", "")) for p in _list(recorded)
                     if isinstance(p, dict)]
        return [self.secret_pair(name, value, message(gettext_noop(
                    "the query parameter %(name)s of %(key)s"), name=name, key=key))
                for name, value in pairs if name]

    def headers(self, item: ImportedRequest, headers: list[dict], cookies: Any,
                where: str) -> str:
        """Fill the request's headers; return the recorded Content-Type."""
        content_type = ""
        cookie_values: list[str] = []
        cookie_at = None
        for header in headers:
            name = str(header.get("name") or "").strip()
            value = header.get("value")
            value = "" if value is None else str(value)
            lowered = name.lower()
            if (not name or name.startswith(":") or lowered in DROPPED_HEADERS
                    or lowered.startswith("sec-")):
                continue
            if lowered == "content-type":
                content_type = value
            elif lowered == "cookie":
                # HTTP/2 sends each cookie as a header of its own: one header again.
                cookie_at = len(item.headers) if cookie_at is None else cookie_at
                cookie_values.append(value)
            else:
                item.headers.append(self.secret_pair(name, value, message(gettext_noop(
                    "the %(name)s header of %(key)s"), name=name, key=item.key)))
        if not cookie_values and isinstance(cookies, list):
            joined = "; ".join(f"{c.get('name')}={c.get('value', '')}" for c in cookies
                               if isinstance(c, dict) and c.get("name"))
            if joined:
                cookie_at, cookie_values = len(item.headers), [joined]
        if cookie_values:
            value = "; ".join(v for v in cookie_values if v)
            pair = self.secret_pair("Cookie", value, message(gettext_noop(
                "the Cookie header of %(key)s"), key=item.key))
            item.headers.insert(cookie_at, pair)
            if pair["value"] != value:
                self.cookies.setdefault(pair["value"], []).append(item.key)
        return content_type

    def body(self, item: ImportedRequest, post: Any, content_type: str, where: str) -> None:
        post = post if isinstance(post, dict) else {}
        mime = str(post.get("mimeType") or content_type or "").strip()
        base = mime.split(";")[0].strip().lower()
        text = post.get("text") if isinstance(post.get("text"), str) else ""
        params = [p for p in _list(post.get("params")) if isinstance(p, dict) and p.get("name")]
        if base.startswith("multipart/") and params:
            files = [str(p["name"]) for p in params if p.get("fileName")]
            if files:
                self.problem(where + "/request/postData/params", message(gettext_noop(
                    "the files of the fields %(fields)s are not in the recording: choose them "
                    "again (their values are left empty)"), fields=", ".join(files)),
                    item=item.key)
            # No content type: the recorded boundary belongs to the recorded body.
            item.body_type = "multipart"
            item.body = [self.secret_pair(str(p["name"]),
                                          "" if p.get("fileName") else p.get("value", ""),
                                          _form_field(str(p["name"]), item.key))
                         for p in params]
            return
        if (base == "application/x-www-form-urlencoded" and text) or (params and not text):
            # The text is what was sent; params only serve when a tool left it out.
            pairs = (parse_qsl(text, keep_blank_values=True) if text
                     else [(str(p["name"]), p.get("value", "")) for p in params])
            item.body_type, item.content_type = "form", mime[:200]
            item.body = [self.secret_pair(name, value, _form_field(name, item.key))
                         for name, value in pairs if name]
            return
        if not text:
            if content_type:
                item.headers.append(_pair("Content-Type", content_type))
            return
        item.content_type = mime[:200]
        if "json" in base:
            try:
                value = capped_json.loads(text, max_depth=MAX_DEPTH)
            except capped_json.TooDeep:
                self.problem(where + "/request/postData/text", message(gettext_noop(
                    "the JSON body nests deeper than %(depth)s levels: kept as text"),
                    depth=MAX_DEPTH), item=item.key)
            except ValueError:
                self.problem(where + "/request/postData/text", message(gettext_noop(
                    "the body is declared JSON but is not: kept as text")), item=item.key)
            else:
                item.body_type, item.body = "json", self.secret_json(value, item.key)
                return
        item.body_type, item.body = "raw", text

    def status(self, item: ImportedRequest, response: dict, where: str) -> None:
        status = response.get("status")
        if isinstance(status, bool) or not isinstance(status, int) or status <= 0:
            self.problem(where + "/response/status", message(gettext_noop(
                "no answer was recorded (the request was blocked, cancelled or failed): no "
                "status is asserted")), item=item.key)
            return
        if 300 <= status < 400 and status != 304:
            target = str(response.get("redirectURL") or "").strip()
            said = (message(gettext_noop(
                "the recorded answer was a redirect (%(status)s to %(target)s); the platform "
                "follows redirects, so no status is asserted"), status=status,
                target=target[:200]) if target else message(gettext_noop(
                    "the recorded answer was a redirect (%(status)s); the platform follows "
                    "redirects, so no status is asserted"), status=status))
            self.problem(where + "/response/status", said, item=item.key)
            return
        item.assertions.append({"type": "status_code", "operator": "eq",
                                "expected_value": status})

    def secret(self, label: str, value: str, origin: Message) -> str:
        """Return the reference to a secret variable holding ``value`` (one per value),
        described by where the recording had it (``origin``), in the committer's language."""
        name = self.secret_names.get(value)
        if name is None:
            base = _SLUG.sub("_", label.lower()).strip("_") or "secret"
            if base[0].isdigit():
                base = "_" + base
            base = base[:90]
            taken = {variable.name for variable in self.plan.variables}
            name, number = base, 2
            while name in taken:
                name, number = f"{base}_{number}", number + 1
            self.secret_names[value] = name
            description = message(gettext_noop("Recorded in %(filename)s as %(origin)s."),
                                  filename=self.filename, origin=origin)
            if len(description) > 1000:   # a name that long: kept short, in English only
                description = description[:1000]
            self.plan.variables.append(ImportedVariable(
                name=name, value=value, secret=True, description=description))
        return "{{" + name + "}}"

    def secret_pair(self, name: str, value: Any, origin: Message) -> dict:
        text = "" if value is None else str(value)
        if text and _is_secret(name):
            text = self.secret(name, text, origin)
        return _pair(name, text)

    def secret_json(self, value: Any, key: str) -> Any:
        if isinstance(value, dict):
            return {name: (self.secret(name, item, message(gettext_noop(
                               "the JSON field %(name)s of %(key)s"), name=name, key=key))
                           if isinstance(item, str) and item and _is_secret(name)
                           else self.secret_json(item, key))
                    for name, item in value.items()}
        if isinstance(value, list):
            return [self.secret_json(item, key) for item in value]
        return value

    def summarise(self) -> None:
        """List the skips by kind, and the recorded sessions once."""
        if self.cookies:
            keys = [key for used in self.cookies.values() for key in used]
            names = ", ".join(self.cookies)
            # One msgid per English number: the platform's languages have at most two forms.
            if len(keys) == 1:
                said = (message(gettext_noop(
                    "the Cookie header of 1 request holds the recording's session, kept as "
                    "the secret variable %(names)s: a session expires; log in in an earlier "
                    "step and let the scenario's session carry the cookies instead"),
                    names=names) if len(self.cookies) == 1 else message(gettext_noop(
                        "the Cookie header of 1 request holds the recording's session, kept "
                        "as the secret variables %(names)s: a session expires; log in in an "
                        "earlier step and let the scenario's session carry the cookies "
                        "instead"), names=names))
            else:
                said = (message(gettext_noop(
                    "the Cookie headers of %(count)s requests hold the recording's session, "
                    "kept as the secret variable %(names)s: a session expires; log in in an "
                    "earlier step and let the scenario's session carry the cookies instead"),
                    count=len(keys), names=names) if len(self.cookies) == 1 else message(
                        gettext_noop(
                            "the Cookie headers of %(count)s requests hold the recording's "
                            "session, kept as the secret variables %(names)s: a session "
                            "expires; log in in an earlier step and let the scenario's session "
                            "carry the cookies instead"), count=len(keys), names=names))
            self.problem("/log/entries", said, item=keys[0])
        if self.static:
            total = sum(self.static.values())
            kinds = [message(gettext_noop("%(kind)s: %(count)s"),
                             kind=message(KIND_LABELS[kind]), count=count)
                     for kind, count in sorted(self.static.items(),
                                               key=lambda kv: (-kv[1], kv[0]))]
            said = (message(gettext_noop("skipped 1 static asset (%(kinds)s)"), kinds=kinds)
                    if total == 1 else
                    message(gettext_noop("skipped %(count)s static assets (%(kinds)s)"),
                            count=total, kinds=kinds))
            self.problem("/log/entries", said, SKIPPED)
        if self.preflights:
            said = (message(gettext_noop(
                "skipped 1 CORS preflight (OPTIONS requests the browser sends before the real "
                "one)")) if self.preflights == 1 else message(gettext_noop(
                    "skipped %(count)s CORS preflights (OPTIONS requests the browser sends "
                    "before the real one)"), count=self.preflights))
            self.problem("/log/entries", said, SKIPPED)
        if self.not_http:
            total = sum(self.not_http.values())
            kinds = ", ".join(f"{scheme}: {count}" for scheme, count
                              in self.not_http.most_common())
            self.problem("/log/entries", message(gettext_noop(
                "skipped %(count)s requests that are not HTTP or HTTPS (%(kinds)s)"),
                count=total, kinds=kinds), SKIPPED)


def _static_kind(path: str, response: dict, resource_type: Any) -> str | None:
    """Return the kind of static asset a GET or HEAD fetched, or ``None`` for an API call.

    The answer's MIME type decides first, then the browser's resource type; the extension
    only when the MIME type says nothing (an API answering JSON at ``/logo.png`` is an API).
    """
    content = response.get("content") if isinstance(response.get("content"), dict) else {}
    mime = str(content.get("mimeType") or "").split(";")[0].strip().lower()
    for kind, markers in STATIC_MIME:
        if any(mime.startswith(m) if "/" in m else m in mime for m in markers):
            return kind
    if isinstance(resource_type, str) and resource_type.lower() in STATIC_RESOURCE_TYPES:
        return STATIC_RESOURCE_TYPES[resource_type.lower()]
    last = path.rsplit("/", 1)[-1].lower()
    if mime in UNINFORMATIVE_MIME and "." in last:
        return STATIC_EXTENSIONS.get("." + last.rsplit(".", 1)[-1])
    return None
