"""The cURL importer (issue 15, item 1): commands as Chrome and Firefox copy them (bash, and
Windows cmd), several at once, credentials moved into secret variables, and everything a
shell would evaluate refused, naming the command. No shell runs; no database."""

from __future__ import annotations

import json
import re
import shlex
import time
from pathlib import Path

import pytest
from django.test import override_settings
from django.utils import translation

from testing.engine.messages import Message, data_of, render
from testing.importers import curl
from testing.importers.base import SKIPPED, WARNING, ImportFailed, ImportPlan
from testing.tests.conftest import zh_hans_catalogue_with
from testing.tests.importer_checks import valid


def parsed(text: str, filename: str = "commands.txt") -> ImportPlan:
    plan = curl.parse(text.encode(), filename)
    assert valid(plan)
    assert ImportPlan.from_data(json.loads(json.dumps(plan.as_data()))) == plan
    return plan


def refused(text: str) -> ImportFailed:
    with pytest.raises(ImportFailed) as caught:
        curl.parse(text.encode(), "commands.txt")
    return caught.value


def messages(plan: ImportPlan) -> list[str]:
    return [p.message for p in plan.problems]


# How the browsers quote (ported from their sources, to produce exact inputs)


def chrome_bash(value: str) -> str:
    """Chrome DevTools' escapeStringPosix (NetworkLogView "Copy as cURL (bash)")."""
    if re.search(r"[\x00-\x1f\x7f-\x9f!']", value):
        escaped = (value.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n")
                   .replace("\r", "\\r"))
        escaped = re.sub(r"[\x00-\x1f\x7f-\x9f!]", lambda m: "\\u%04x" % ord(m.group(0)),
                         escaped)
        return "$'" + escaped + "'"
    return "'" + value + "'"


def chrome_cmd(value: str) -> str:
    """Chrome DevTools' escapeStringWin ("Copy as cURL (cmd)")."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    escaped = re.sub(r"[^a-zA-Z0-9\s_\-:=+~'/.',?;()*`]", lambda m: "^" + m.group(0), escaped)
    escaped = re.sub(r"%(?=[a-zA-Z0-9_])", "%^", escaped)
    escaped = re.sub(r"\r?\n", "^\n\n", escaped)
    return '^"' + escaped + '^"'


def firefox_bash(value: str) -> str:
    """Firefox DevTools' escapeStringPosix (devtools/client/shared/curl.js)."""
    def character(match):
        code = ord(match.group(0))
        return "\\x%02x" % code if code < 256 else "\\u%04x" % code
    if re.search(r"[^\x20-\x7e]|'", value):
        escaped = (value.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n")
                   .replace("\r", "\\r"))
        return "$'" + re.sub(r"[^\x20-\x7e]", character, escaped) + "'"
    return "'" + value + "'"


def chrome_command(url, *options, escape=chrome_bash, joiner=" \\\n  "):
    # Chrome escapes the URL's [ ] { } against curl's globbing.
    parts = ["curl " + re.sub(r"[\[{}\]]", lambda m: "\\" + m.group(0), escape(url))]
    for option, value in options:
        parts.append(f"{option} {escape(value)}" if value is not None else option)
    return joiner.join(parts)


TRICKY = {"name": "O'Brien!", "note": "café 你好 \U0001F36A", "lines": "a\nb\tc",
          "shell": "$(id) `id` ${HOME} | > < & ; \\ \"q\"", "pct": "100%PATH% %20"}


# Chrome and Firefox


def test_chrome_bash_with_ansi_c_strings_and_a_json_body():
    text = chrome_command(
        "https://api.example.com/v1/pets?page=2&sort=name",
        ("-H", "accept: application/json, text/plain, */*"),
        ("-H", "authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig"),
        ("-H", "content-type: application/json"),
        ("-b", "sid=abc; theme=dark"),
        ("-H", "user-agent: Mozilla/5.0 (X11; Linux x86_64)"),
        ("--data-raw", json.dumps(TRICKY, ensure_ascii=False)),
        ("--compressed", None))
    assert "$'" in text and "\\u0021" in text   # Chrome's ANSI-C quoting of "!" and "'"
    plan = parsed(text)
    [request] = plan.requests
    assert (request.method, request.url) == ("POST", "https://api.example.com/v1/pets")
    assert request.query == [{"name": "page", "value": "2", "enabled": True},
                             {"name": "sort", "value": "name", "enabled": True}]
    assert (request.body_type, request.body) == ("json", TRICKY)
    assert request.key == "POST https://api.example.com/v1/pets"
    assert request.name == "POST /v1/pets" and request.where == "command 1 (line 1)"
    assert {h["name"]: h["value"] for h in request.headers} == {
        "accept": "application/json, text/plain, */*",
        "authorization": "Bearer {{bearer_token}}", "content-type": "application/json",
        "user-agent": "Mozilla/5.0 (X11; Linux x86_64)", "Cookie": "{{cookie}}"}
    assert [(v.name, v.value, v.secret) for v in plan.variables] == [
        ("bearer_token", "eyJhbGciOiJIUzI1NiJ9.e30.sig", True),
        ("cookie", "sid=abc; theme=dark", True)]
    assert plan.base_urls == ["https://api.example.com"] and plan.problems == []


def test_a_chrome_command_as_written_by_hand():
    plan = parsed(r"""curl 'https://shop.example.com/api/cart' \
  -X 'PATCH' \
  -H 'content-type: application/json' \
  --data-raw $'{"note":"it\'s \u0021 caf\u00e9","qty":2}' \
  --compressed""")
    [request] = plan.requests
    assert request.method == "PATCH"
    assert request.body == {"note": "it's ! café", "qty": 2}


def test_firefox_format_with_latin_1_escapes_and_a_form_body():
    text = ("curl " + firefox_bash("https://api.example.com/login") + " -X POST"
            " -H " + firefox_bash("User-Agent: Mozilla/5.0 (X11; rv:128.0) Firefox/128.0") +
            " -H " + firefox_bash("Accept: */*") +
            " -H " + firefox_bash("Content-Type: application/x-www-form-urlencoded") +
            " -H " + firefox_bash("Origin: https://api.example.com") +
            " -H " + firefox_bash("Connection: keep-alive") +
            " --data-raw " + firefox_bash("user=Ren%C3%A9e&city=Montr\u00e9al&pw=s%26c+x"))
    assert "\\xe9" in text   # Firefox writes é as the byte \xe9
    plan = parsed(text)
    [request] = plan.requests
    assert (request.method, request.body_type) == ("POST", "form")
    assert request.body == [{"name": "user", "value": "Renée", "enabled": True},
                            {"name": "city", "value": "Montréal", "enabled": True},
                            {"name": "pw", "value": "s&c x", "enabled": True}]
    assert request.headers[0] == {"name": "User-Agent",
                                  "value": "Mozilla/5.0 (X11; rv:128.0) Firefox/128.0",
                                  "enabled": True}


def test_chrome_cmd_format_with_caret_escapes():
    """"Copy as cURL (cmd)": ^ escapes and continues lines, %^ keeps cmd from expanding."""
    values = {**TRICKY, "lines": "a b", "shell": "$(id) `id` ${HOME} | > < & ; \"q\""}
    text = chrome_command("https://api.example.com/v1/items/[1]?q=a%20b",
                          ("-H", "content-type: application/json"),
                          ("--data-raw", json.dumps(values, ensure_ascii=False)),
                          ("--compressed", None), escape=chrome_cmd, joiner=" ^\n  ")
    assert "%^" in text and '^\\^"' in text
    plan = parsed(text)
    [request] = plan.requests
    assert request.url == "https://api.example.com/v1/items/[1]"
    assert request.query == [{"name": "q", "value": "a b", "enabled": True}]
    assert (request.body_type, request.body) == ("json", values)
    assert plan.problems == []
    # A line break inside a value: ^ and two line breaks.
    multi_line = "line 1\nline 2 100%PATH% \"q\" & | < > ^ !"
    text = chrome_command("https://api.example.com/notes", ("-H", "content-type: text/plain"),
                          ("--data-raw", multi_line), escape=chrome_cmd, joiner=" ^\n  ")
    assert "^\n\n" in text
    [request] = parsed(text).requests
    assert (request.body_type, request.body) == ("raw", multi_line)


def test_a_backslash_in_cmd_format_is_read_as_curl_exe_would_receive_it():
    """Chrome writes a backslash as two; the C runtime halves backslashes only before a
    quote, so curl.exe (and the import) gets two where no quote follows."""
    text = chrome_command("https://api.example.com/x", ("-H", "content-type: text/plain"),
                          ("--data-raw", 'a\\b \\"c'), escape=chrome_cmd, joiner=" ^\n  ")
    [request] = parsed(text).requests
    assert request.body == 'a\\\\b \\"c'


def test_several_cmd_commands_joined_by_ampersands():
    first = chrome_command("https://api.example.com/a", escape=chrome_cmd)
    second = chrome_command("https://api.example.com/b", ("-X", "DELETE"), escape=chrome_cmd,
                            joiner=" ^\n  ")
    plan = parsed(first + " &\r\n" + second)
    assert [(r.method, r.url, r.where) for r in plan.requests] == [
        ("GET", "https://api.example.com/a", "command 1 (line 1)"),
        ("DELETE", "https://api.example.com/b", "command 2 (line 2)")]


@pytest.mark.parametrize(("text", "where", "what"), [
    ('curl ^"https://x.example.com/%USERPROFILE%^" ^\n  --compressed', "command 1 (line 1)",
     "variable expansion '%USERPROFILE%'"),
    ('curl ^"https://x.example.com/^" ^\n  -H "a: b" && del x', "command 1 (line 2)",
     "a && list"),
    ('curl ^"https://x.example.com/a^" &\ncurl ^"https://x.example.com/^" | more',
     "command 2 (line 2)", "a pipe"),
    ('curl ^"https://x.example.com/^" ^\n  > out.txt', "command 1 (line 2)", "a redirection"),
])
def test_what_cmd_would_evaluate_is_refused(text, where, what):
    """The refusal names the command and the line of the offending text."""
    error = refused(text)
    assert error.where == where and what in error.reason


# Several commands


def test_several_commands_on_lines_after_semicolons_and_after_blank_lines():
    plan = parsed("curl https://a.example.com/x\n"
                  "curl -X POST https://a.example.com/y -d 'a=1' ; curl https://b.example.com/z\n"
                  "\n"
                  "# the same again\n"
                  "curl https://a.example.com/x \\\n  -H 'Accept: text/html'\n")
    assert [(r.key, r.where) for r in plan.requests] == [
        ("GET https://a.example.com/x", "command 1 (line 1)"),
        ("POST https://a.example.com/y", "command 2 (line 2)"),
        ("GET https://b.example.com/z", "command 3 (line 2)"),
        ("GET https://a.example.com/x #2", "command 4 (line 5)")]
    assert plan.requests[3].headers == [{"name": "Accept", "value": "text/html",
                                         "enabled": True}]
    assert plan.base_urls == ["https://a.example.com", "https://b.example.com"]
    assert plan.title == "4 cURL commands"


def test_chrome_copy_all_as_curl():
    commands = [chrome_command(f"https://api.example.com/{n}", ("-H", "accept: */*"))
                for n in ("a", "b", "c")]
    plan = parsed(" ;\n".join(commands))
    assert [r.url for r in plan.requests] == [f"https://api.example.com/{n}" for n in "abc"]


# Credentials


def test_basic_auth_moves_into_a_secret_variable():
    plan = parsed("curl -u 'ann:s3cr3t' https://api.example.com/me\n"
                  "curl --user ann:s3cr3t https://api.example.com/you\n"
                  "curl -u bob https://api.example.com/bob")
    headers = [r.headers for r in plan.requests]
    assert headers[0] == headers[1] == [{"name": "Authorization",
                                         "value": "Basic {{base64_encode(basic_credentials)}}",
                                         "enabled": True}]
    assert headers[2][0]["value"] == "Basic {{base64_encode(basic_credentials_2)}}"
    assert [(v.name, v.value, v.secret) for v in plan.variables] == [
        ("basic_credentials", "ann:s3cr3t", True), ("basic_credentials_2", "bob:", True)]
    assert any("without a password" in m for m in messages(plan))
    assert "s3cr3t" not in json.dumps([r.__dict__ for r in plan.requests])


def test_credentials_in_the_url_move_into_basic_auth():
    plan = parsed("curl https://ann:p%40ss@api.example.com/me")
    [request] = plan.requests
    assert request.url == "https://api.example.com/me"
    assert plan.variables[0].value == "ann:p@ss"


def test_an_authorization_header_wins_over_u_as_in_curl():
    plan = parsed("curl -u ann:pw -H 'Authorization: Token abc' https://api.example.com/me")
    [request] = plan.requests
    assert request.headers == [{"name": "Authorization", "value": "{{authorization}}",
                                "enabled": True}]
    assert [(v.name, v.value) for v in plan.variables] == [("authorization", "Token abc")]
    assert any("its own Authorization header" in m for m in messages(plan))


def test_oauth2_bearer_and_api_key_headers_become_secret_variables():
    plan = parsed("curl --oauth2-bearer tok -H 'X-Api-Key: k1' -H 'X-Other: plain' "
                  "https://api.example.com/")
    [request] = plan.requests
    assert {h["name"]: h["value"] for h in request.headers} == {
        "X-Api-Key": "{{x_api_key}}", "X-Other": "plain",
        "Authorization": "Bearer {{bearer_token}}"}


def test_digest_auth_is_not_imported():
    plan = parsed("curl --digest -u a:b https://api.example.com/")
    assert plan.requests[0].headers == [] and plan.variables == []
    assert any("Digest authentication is not imported" in m for m in messages(plan))


# Options


@pytest.mark.parametrize(("text", "expected"), [
    ("curl -G -d 'q=1' --data-urlencode 'name=a b' https://h.example.com/s",
     ("GET", "https://h.example.com/s", [("q", "1"), ("name", "a b")], "none", None, "")),
    ("curl -I https://h.example.com/s", ("HEAD", "https://h.example.com/s", [], "none", None, "")),
    ("curl -X post https://h.example.com/s", ("POST", "https://h.example.com/s", [], "none",
                                              None, "")),
    ("curl -d a=1 -d b=2 https://h.example.com/s",
     ("POST", "https://h.example.com/s", [], "form",
      [{"name": "a", "value": "1", "enabled": True},
       {"name": "b", "value": "2", "enabled": True}], "")),
    ("curl --data-urlencode 'q=a&b' --data-urlencode '=x y' https://h.example.com/s",
     ("POST", "https://h.example.com/s", [], "raw", "q=a%26b&x%20y",
      "application/x-www-form-urlencoded")),
    ("curl -H 'Content-Type: text/xml' --data-binary '<a/>' https://h.example.com/s",
     ("POST", "https://h.example.com/s", [], "raw", "<a/>", "")),
    ("curl -H 'Content-Type: application/json' -d '{\"id\": {{id}}}' https://h.example.com/s",
     ("POST", "https://h.example.com/s", [], "raw", '{"id": {{id}}}', "")),
    ("curl --json '{\"a\": [1]}' https://h.example.com/s",
     ("POST", "https://h.example.com/s", [], "json", {"a": [1]}, "")),
    ("curl -F name=Rex --form-string 'bio=@not a file' https://h.example.com/s",
     ("POST", "https://h.example.com/s", [], "multipart",
      [{"name": "name", "value": "Rex", "enabled": True},
       {"name": "bio", "value": "@not a file", "enabled": True}], "")),
    ("curl --data-raw '@literal' https://h.example.com/s",
     ("POST", "https://h.example.com/s", [], "raw", "@literal",
      "application/x-www-form-urlencoded")),
    ("curl 'https://h.example.com/s?flag&x=1'",
     ("GET", "https://h.example.com/s?flag&x=1", [], "none", None, "")),
    ("curl h.example.com:8080/s", ("GET", "http://h.example.com:8080/s", [], "none", None, "")),
    ("curl -sSLk -XPUT https://h.example.com/s",
     ("PUT", "https://h.example.com/s", [], "none", None, "")),
    ("curl --url https://h.example.com/s -A 'agent/1'",
     ("GET", "https://h.example.com/s", [], "none", None, "")),
])
def test_options(text, expected):
    [request] = parsed(text).requests
    body = request.body
    assert (request.method, request.url, [(q["name"], q["value"]) for q in request.query],
            request.body_type, body, request.content_type) == expected


def test_headers_from_options_and_a_cookie_option():
    [request] = parsed("curl -A 'agent/1' -e https://ref.example.com -r 0-99 "
                       "-b 'a=1' -b 'b=2' -H 'Expect:' -H 'X-Empty;' "
                       "https://h.example.com/").requests
    assert [(h["name"], h["value"]) for h in request.headers] == [
        ("User-Agent", "agent/1"), ("Referer", "https://ref.example.com"),
        ("Range", "bytes=0-99"), ("X-Empty", ""), ("Cookie", "{{cookie}}")]


def test_options_that_change_what_is_sent_are_listed_and_harmless_ones_are_not():
    plan = parsed("curl -k --compressed -s -L -i -v --max-time 5 -x http://proxy:3128 "
                  "--frobnicate -Wq https://h.example.com/ https://other.example.com/")
    assert messages(plan) == [
        "--insecure: TLS verification stays on",
        "--max-time: the platform's step timeout applies",
        "--proxy: the platform sends requests without a proxy",
        "unknown option --frobnicate is not imported",
        "unknown option -W is not imported",
        "curl requests 'https://other.example.com/' too; only the first URL is imported"]
    assert all(p.severity == WARNING and p.where == "command 1 (line 1)"
               for p in plan.problems)


def test_json_data_without_a_content_type_stays_what_curl_sends():
    plan = parsed("curl -d '{\"a\": 1}' https://h.example.com/")
    [request] = plan.requests
    assert (request.body_type, request.body, request.content_type) == (
        "raw", '{"a": 1}', "application/x-www-form-urlencoded")
    assert any("looks like JSON" in m for m in messages(plan))


def test_a_multipart_content_type_and_a_content_length_are_dropped():
    plan = parsed("curl -H 'Content-Type: multipart/form-data; boundary=x' "
                  "-H 'Content-Length: 12' -F 'a=1;type=text/plain' https://h.example.com/")
    [request] = plan.requests
    assert request.headers == [] and request.body == [{"name": "a", "value": "1",
                                                       "enabled": True}]
    assert len(plan.problems) == 3


def test_a_method_the_platform_does_not_send_is_skipped():
    plan = parsed("curl -X PROPFIND https://h.example.com/\ncurl https://h.example.com/ok")
    assert [r.url for r in plan.requests] == ["https://h.example.com/ok"]
    assert (plan.problems[0].where, plan.problems[0].severity) == ("command 1 (line 1)", SKIPPED)


def test_a_url_glob_curl_would_expand_is_imported_as_written():
    plan = parsed("curl 'https://h.example.com/items/[1-3]'")
    assert plan.requests[0].url == "https://h.example.com/items/[1-3]"
    assert any("several requests" in m for m in messages(plan))
    assert parsed("curl -g 'https://h.example.com/items/[1-3]'").problems == []
    escaped = parsed("curl 'https://h.example.com/items/\\[1-3\\]/\\{a,b\\}'")
    assert escaped.requests[0].url == "https://h.example.com/items/[1-3]/{a,b}"
    assert escaped.problems == []


# What a shell would evaluate, and files


@pytest.mark.parametrize(("text", "command", "what", "quoted"), [
    ("curl https://h.example.com/$(id)", 1, "command substitution", "$(id)"),
    ('curl https://h.example.com/ -H "X-User: $(whoami)"', 1, "command substitution",
     "$(whoami)"),
    ("curl https://h.example.com/`id`", 1, "command substitution (backticks)", "`id`"),
    ('curl "https://h.example.com/`id`"', 1, "command substitution (backticks)", "`id`"),
    ("curl https://h.example.com/$HOME", 1, "variable expansion", "$HOME"),
    ('curl "https://h.example.com/${HOME}"', 1, "parameter expansion", "${HOME}"),
    ("curl https://h.example.com/ | sh", 1, "a pipe", "|"),
    ("curl https://h.example.com/ && rm -rf ~", 1, "a background or && list", "&&"),
    ("curl https://h.example.com/ > /tmp/out", 1, "a redirection", ">"),
    ("curl -d <(cat /etc/passwd) https://h.example.com/", 1, "process substitution", "<("),
    ("curl https://h.example.com/ok\ncurl https://h.example.com/ ; rm -rf /", 3,
     "a command that is not curl", "rm"),
    ("curl https://h.example.com/{a,b}", 1, "brace expansion", "{a,b}"),
    ("curl ~/x", 1, "home directory expansion", "~/x"),
    ("curl -d @/etc/passwd https://h.example.com/", 1, "--data @file", "@/etc/passwd"),
    ("curl --data-binary @/etc/passwd https://h.example.com/", 1, "--data-binary @file",
     "@/etc/passwd"),
    ("curl -d@secrets.json https://h.example.com/", 1, "--data @file", "@secrets.json"),
    ("curl --data-urlencode name@file.txt https://h.example.com/", 1, "name@file",
     "name@file.txt"),
    ("curl --json @body.json https://h.example.com/", 1, "--json @file", "@body.json"),
    ("curl -F 'photo=@/home/me/rex.png' https://h.example.com/", 1, "--form photo=@file",
     "photo=@/home/me/rex.png"),
    ("curl -F 'notes=</etc/hosts' https://h.example.com/", 1, "--form notes=<file",
     "notes=</etc/hosts"),
    ("curl -T /etc/passwd https://h.example.com/", 1, "-T/--upload-file", "/etc/passwd"),
    ("curl -K file https://h.example.com/", 1, "-K/--config", "file"),
    ("curl --config=x https://h.example.com/", None, None, None),
    ("curl -H @headers.txt https://h.example.com/", 1, "-H @file", "@headers.txt"),
    ("curl -b cookies.txt https://h.example.com/", 1, "-b with a file name", "cookies.txt"),
    ("curl --netrc-file creds https://h.example.com/", 1, "--netrc-file", "creds"),
    ("ls -la", 1, "a command that is not curl", "ls"),
])
def test_what_a_shell_would_evaluate_or_a_file_read_is_refused_naming_the_command(
        text, command, what, quoted):
    if command is None:   # curl has no --opt=value: an unknown option, not a file read
        assert "unknown option --config=x" in messages(parsed(text))[0]
        return
    error = refused(text)
    assert error.where.startswith(f"command {command} ")
    assert what in error.reason and quoted in error.reason
    assert error.reason.endswith(("refused: a shell would evaluate it, and the importer runs "
                                  "no shell", "refused: the importer reads no file",
                                  "each command must start with curl"))
    assert str(error).startswith("commands.txt, command")


def test_quoted_and_escaped_shell_characters_are_only_text():
    plan = parsed("curl 'https://h.example.com/a?q=$(id)' -H 'X: `id` | > ;' "
                  "-H X-Price:\\ \\$5 -H \"X-Q: \\$HOME \\`x\\`\" --data-raw $'$(id)\\x21'")
    [request] = plan.requests
    assert request.query == [{"name": "q", "value": "$(id)", "enabled": True}]
    assert [h["value"] for h in request.headers] == ["`id` | > ;", "$5", "$HOME `x`"]
    assert request.body == "$(id)!"
    assert not Path("/tmp/pwned").exists()


@pytest.mark.parametrize("text", [
    "curl 'https://h.example.com/a b' -H \"X: a'b\" -d a\\ b\\'c -d \"q\\\"uote\\\\\"",
    "curl https://h.example.com/ -H 'A: 1'\"2\"3 -d '' -d \"\" -H x#y",
    "curl -H 'multi\nline' https://h.example.com/\\\n  -d 1",
])
def test_words_split_as_shlex_splits_them(text):
    """Where shlex can read a command, the importer's words are shlex's."""
    [command] = curl._shell_commands(text, "x")
    assert command.words == shlex.split(text.replace("\\\n", ""), posix=True)


def test_a_long_body_is_split_in_linear_time():
    body = "x" * 1_000_000   # shlex takes some ten seconds over it
    started = time.monotonic()
    [request] = parsed(f"curl -H 'Content-Type: text/plain' --data-raw '{body}' "
                       f"https://h.example.com/").requests
    assert request.body == body and time.monotonic() - started < 5


@override_settings(TESTING_BODY_MAX_BYTES=1024)
def test_a_body_larger_than_an_interface_holds_is_skipped():
    plan = parsed(f"curl --data-raw '{'x' * 2000}' https://h.example.com/big\n"
                  "curl https://h.example.com/small")
    assert [r.url for r in plan.requests] == ["https://h.example.com/small"]
    assert (plan.problems[0].severity, plan.problems[0].message) == (
        SKIPPED, "the body is 2000 bytes; an interface holds at most 1024")


def test_unreadable_text_is_refused():
    for text, reason in [("", "no curl command"), ("curl 'https://h.example.com/", "never closed"),
                         ("curl -H", "needs a value"), ("curl -s", "without a URL")]:
        assert reason in str(refused(text))
    with pytest.raises(ImportFailed) as caught:
        curl.parse(b"curl \xff", "x.txt")
    assert "not UTF-8" in caught.value.reason


def test_looks_like():
    assert curl.looks_like(b"  curl https://x.example.com", "x.txt")
    assert curl.looks_like(b'curl ^"https://x.example.com^" ^\r\n', "x.cmd")
    assert curl.looks_like(b"curl.exe https://x", "x.txt")
    assert not curl.looks_like(b"curly braces", "x.txt")
    assert not curl.looks_like(b'{"info": {}}', "x.json")


# Refusals in the reader's language (issue 17, item 4)


# The Simplified Chinese of every refusal, given to the zh-hans catalogue for the tests
# (``zh_hans_catalogue_with``) until the lead adds it to ``locale/``.
ZH = {
    "%(filename)s, %(where)s: %(reason)s": "%(filename)s，%(where)s：%(reason)s",
    "%(filename)s: %(reason)s": "%(filename)s：%(reason)s",
    "command %(number)s (line %(line)s)": "第 %(number)s 条命令（第 %(line)s 行）",
    "%(what)s %(snippet)s: %(reason)s": "%(what)s %(snippet)s：%(reason)s",
    "refused: a shell would evaluate it, and the importer runs no shell":
        "已拒绝：shell 会对其求值，而导入器不运行 shell",
    "refused: the importer reads no file": "已拒绝：导入器不读取文件",
    "no curl command found": "未找到 curl 命令",
    "a command that is not curl": "不是 curl 的命令",
    "each command must start with curl": "每条命令都必须以 curl 开头",
    "a command without a URL": "没有 URL 的命令",
    "curl needs one": "curl 需要一个 URL",
    "option": "选项",
    "it needs a value": "需要一个值",
    "unterminated quote": "未闭合的引号",
    "the %(quote)s is never closed": "%(quote)s 始终没有闭合",
    "the %(quote)s is never closed on its line": "%(quote)s 在本行内没有闭合",
    "a $'...' string": "$'...' 字符串",
    "its escapes do not make text": "其中的转义序列不构成文本",
    "a $\"...\" string (translated by the shell)": "$\"...\" 字符串（由 shell 翻译）",
    "command substitution": "命令替换",
    "command substitution (backticks)": "命令替换（反引号）",
    "parameter expansion": "参数展开",
    "variable expansion": "变量展开",
    "a pipe": "管道",
    "a background or && list": "后台命令或 && 列表",
    "a && list": "&& 列表",
    "a redirection": "重定向",
    "a subshell": "子 shell",
    "process substitution": "进程替换",
    "home directory expansion": "主目录展开",
    "brace expansion": "花括号展开",
    "-T/--upload-file uploads a file": "-T/--upload-file 会上传文件",
    "-K/--config reads options from a file": "-K/--config 会从文件读取选项",
    "--netrc-file reads credentials from a file": "--netrc-file 会从文件读取凭据",
    "-H @file reads headers from a file": "-H @文件 会从文件读取请求头",
    "-b with a file name reads cookies from a file": "带文件名的 -b 会从文件读取 Cookie",
    "--variable name@file reads a file": "--variable 名称@文件 会读取文件",
    "%(option)s @file sends a file": "%(option)s @文件 会发送文件",
    "%(option)s %(field)s=%(marker)sfile sends a file":
        "%(option)s %(field)s=%(marker)s文件 会发送文件",
    "%(option)s %(field)s@file sends a file": "%(option)s %(field)s@文件 会发送文件",
    "%(option)s without name=value": "不是“名称=值”形式的 %(option)s",
    "curl refuses it too": "curl 也会拒绝",
}
# What the Chinese keeps as written, as the catalogue does elsewhere: the program's name and
# terms of the trade.
KEPT_WORDS = re.compile(r"\b(curl|shell|URL|Cookie)\b")
# Option names are never translated, in the msgid ("-H @file ...") or given as a parameter.
OPTION_NAME = re.compile(r"(?<![\w-])--?[A-Za-z][\w.-]*(/--[\w.-]+)?")
# The parameters of a refusal that are values (the quoted text, an option, numbers), not
# words of the platform: a "what" or a "reason" given as plain English would show here.
VALUES = {"filename", "number", "line", "snippet", "option", "field", "marker", "quote"}

EVERY_REFUSAL = [
    "",
    "ls -la",
    "curl -s",
    "curl -H",
    "curl https://h.example.com/ --header",
    "curl https://h.example.com/$(id)",
    "curl https://h.example.com/`id`",
    'curl "https://h.example.com/${HOME}"',
    "curl https://h.example.com/$HOME",
    "curl https://h.example.com/ | sh",
    "curl https://h.example.com/ && rm -rf ~",
    "curl https://h.example.com/ > /tmp/out",
    "curl https://h.example.com/ (x)",
    "curl -d <(cat /etc/passwd) https://h.example.com/",
    "curl ~/x",
    "curl https://h.example.com/{a,b}",
    "curl 'https://h.example.com/",
    "curl $'https://h.example.com/",
    'curl "https://h.example.com/',
    "curl $'\\ud83c' https://h.example.com/",
    'curl $"hello" https://h.example.com/',
    'curl ^"https://x.example.com/%USERPROFILE%^" ^\n  --compressed',
    'curl ^"https://x.example.com/^" ^\n  -H "a: b\n',
    'curl ^"https://x.example.com/^" ^\n  -H "a: b" && del x',
    'curl ^"https://x.example.com/^" | more',
    'curl ^"https://x.example.com/^" ^\n  > out.txt',
    "curl -T /etc/passwd https://h.example.com/",
    "curl -K file https://h.example.com/",
    "curl --netrc-file creds https://h.example.com/",
    "curl -H @headers.txt https://h.example.com/",
    "curl -b cookies.txt https://h.example.com/",
    "curl --variable name@file https://h.example.com/",
    "curl -d @/etc/passwd https://h.example.com/",
    "curl --json @body.json https://h.example.com/",
    "curl -F photo https://h.example.com/",
    "curl -F 'photo=@/home/me/rex.png' https://h.example.com/",
    "curl -F 'notes=</etc/hosts' https://h.example.com/",
    "curl --data-urlencode name@file.txt https://h.example.com/",
]


def msgids_and_values(data: dict) -> tuple[set[str], dict[str, object]]:
    """Return the msgids of a stored message and of those nested in it, and its plain
    parameters (name: value) at every level."""
    msgids, values = {data["msgid"]}, {}
    for name, value in data["params"].items():
        if isinstance(value, dict):
            nested_msgids, nested_values = msgids_and_values(value)
            msgids |= nested_msgids
            values.update(nested_values)
        else:
            values[name] = value
    return msgids, values


def in_chinese(error: ImportFailed) -> str:
    with zh_hans_catalogue_with(ZH), translation.override("zh-hans"):
        return error.text()


@pytest.mark.parametrize(("text", "chinese"), [
    pytest.param("", "commands.txt：未找到 curl 命令", id="no command"),
    pytest.param("ls -la", "commands.txt，第 1 条命令（第 1 行）：不是 curl 的命令 'ls'：每条命令都必须以 "
                 "curl 开头", id="not curl"),
    pytest.param("curl https://h.example.com/ok\ncurl https://h.example.com/$HOME",
                 "commands.txt，第 2 条命令（第 2 行）：变量展开 'https://h.example.com/$HOME'：已拒绝："
                 "shell 会对其求值，而导入器不运行 shell", id="variable expansion"),
    pytest.param('curl ^"https://x.example.com/%USERPROFILE%^"',
                 "commands.txt，第 1 条命令（第 1 行）：变量展开 '%USERPROFILE%'：已拒绝：shell 会对其求"
                 "值，而导入器不运行 shell", id="cmd variable expansion"),
    pytest.param("curl 'https://h.example.com/",
                 "commands.txt，第 1 条命令（第 1 行）：未闭合的引号 \"'https://h.example.com/\"：' 始终"
                 "没有闭合", id="unterminated quote"),
    pytest.param("curl -H", "commands.txt，第 1 条命令（第 1 行）：选项 '-H'：需要一个值",
                 id="option without its value"),
    pytest.param("curl -H @headers.txt https://h.example.com/",
                 "commands.txt，第 1 条命令（第 1 行）：-H @文件 会从文件读取请求头 '@headers.txt'：已拒"
                 "绝：导入器不读取文件", id="-H @file"),
    pytest.param("curl -d @/etc/passwd https://h.example.com/",
                 "commands.txt，第 1 条命令（第 1 行）：--data @文件 会发送文件 '@/etc/passwd'：已拒绝："
                 "导入器不读取文件", id="-d @file"),
    pytest.param("curl -T /etc/passwd https://h.example.com/",
                 "commands.txt，第 1 条命令（第 1 行）：-T/--upload-file 会上传文件 '/etc/passwd'：已拒"
                 "绝：导入器不读取文件", id="-T file"),
])
def test_a_refusal_reads_in_the_readers_language(text, chinese):
    """The refusal reads in Chinese for a Chinese reader, the quoted text as written; the
    English one stays what the refusal says."""
    error = refused(text)
    assert in_chinese(error) == chinese
    with translation.override("en"):
        assert error.text() == str(error)


@pytest.mark.parametrize("text", EVERY_REFUSAL)
def test_no_english_of_the_platform_is_left_in_a_chinese_refusal(text):
    """Every refusal is messages down to its values: in Chinese, only the quoted text, the
    option names, the numbers and the file name are left in Latin letters."""
    error = refused(text)
    msgids, values = msgids_and_values(data_of(error.args[0]))
    assert set(values) <= VALUES, f"plain text where a message belongs: {values}"
    assert msgids <= set(ZH), f"no translation given for {msgids - set(ZH)}"
    rest = in_chinese(error)
    for value in sorted(map(str, values.values()), key=len, reverse=True):
        rest = rest.replace(value, " ")
    rest = KEPT_WORDS.sub(" ", OPTION_NAME.sub(" ", rest))
    assert not re.search(r"[A-Za-z]", rest), (in_chinese(error), rest)


def test_every_msgid_given_in_chinese_is_one_a_refusal_uses():
    """The translations above are all in use (a renamed msgid leaves none behind)."""
    used = set()
    for text in EVERY_REFUSAL:
        used |= msgids_and_values(data_of(refused(text).args[0]))[0]
    assert used == set(ZH)


def test_a_refusal_keeps_its_msgid_and_parameters_through_its_stored_form():
    """An import job stores the refusal as data (``ImportJob.error_i18n``): the msgids and
    the values, which give back the same English text and render in Chinese."""
    error = refused("curl https://h.example.com/ok\ncurl -d @/etc/passwd https://h.example.com/")
    stored = json.loads(json.dumps(data_of(error.args[0])))
    assert stored == {"msgid": "%(filename)s, %(where)s: %(reason)s", "params": {
        "filename": "commands.txt",
        "where": {"msgid": "command %(number)s (line %(line)s)",
                  "params": {"number": 2, "line": 2}},
        "reason": {"msgid": "%(what)s %(snippet)s: %(reason)s", "params": {
            "what": {"msgid": "%(option)s @file sends a file", "params": {"option": "--data"}},
            "snippet": "'@/etc/passwd'",
            "reason": {"msgid": "refused: the importer reads no file", "params": {}}}}}}
    restored = Message.from_data(stored)
    assert restored == str(error) == ("commands.txt, command 2 (line 2): --data @file sends a "
                                      "file '@/etc/passwd': refused: the importer reads no file")
    assert restored.as_data() == stored
    assert error.where.as_data() == stored["params"]["where"]
    assert error.reason.as_data() == stored["params"]["reason"]
    with zh_hans_catalogue_with(ZH), translation.override("zh-hans"):
        assert render(stored) == ("commands.txt，第 2 条命令（第 2 行）：--data @文件 会发送文件 "
                                  "'@/etc/passwd'：已拒绝：导入器不读取文件")
