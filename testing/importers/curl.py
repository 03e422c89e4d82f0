"""cURL commands (as browsers copy them) into an ``ImportPlan`` (issue 15, item 1).

The text holds one command or several, one after another (a newline or ``;`` between them,
``\\`` continuing a line), in the shell's syntax (Chrome's and Firefox's "Copy as cURL", with
``$'...'`` strings), or in Windows' ``cmd`` syntax ("Copy as cURL (cmd)": ``^`` escapes and
continues lines; then the C runtime's rules split the words). Nothing is ever run: the
words are split by the POSIX quoting rules (those of ``shlex``), and whatever a shell would
*evaluate* is refused, naming the command and the text: command substitution (``$(...)``, backticks), parameter expansion (``$VAR``,
``${VAR}``, cmd's ``%VAR%``), pipes, redirections, ``&&``, subshells, brace and ``~``
expansion, and every option that makes curl read a file (``-d @file``, ``-F x=@file``,
``-T``, ``-K``...): the importer reads no file.

Each command becomes an ``ImportedRequest``; credentials (``-u``, ``Authorization``,
``Cookie``, API key headers) move into secret variables.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import quote, unquote, unquote_plus, urlsplit

from django.conf import settings
from django.utils.translation import gettext_noop

from core.redaction import is_secret_name

from testing.importers.base import (
    SKIPPED,
    WARNING,
    ImportedRequest,
    ImportedVariable,
    ImportFailed,
    ImportPlan,
    Problem,
)
from testing.engine.messages import Message, message
from testing.importers.loading import text_of

FORMAT = "curl"

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
# Why a command is refused (the ``reason`` of ``ImportFailed``), in the reader's language.
REFUSED = message(gettext_noop(
    "refused: a shell would evaluate it, and the importer runs no shell"))
NO_FILE = message(gettext_noop("refused: the importer reads no file"))

# Options that take a value (the next word, or the rest of a short option's word).
SHORT_WITH_VALUE = set("XHdFubAeTKoxUmwDcErzYyQtCP")
SHORT_FLAGS = set("sSLkiIvfgGnNOJq#460123jlpRZaMVB:h")
LONG_WITH_VALUE = {
    "--request", "--header", "--data", "--data-raw", "--data-binary", "--data-ascii",
    "--data-urlencode", "--json", "--form", "--form-string", "--user", "--cookie",
    "--user-agent", "--referer", "--url", "--upload-file", "--config", "--url-query",
    "--output", "--proxy", "--proxy-user", "--max-time", "--connect-timeout", "--write-out",
    "--dump-header", "--cookie-jar", "--cacert", "--capath", "--cert", "--key", "--cert-type",
    "--key-type", "--pass", "--resolve", "--connect-to", "--interface", "--range",
    "--time-cond", "--max-redirs", "--retry", "--retry-delay", "--retry-max-time",
    "--limit-rate", "--local-port", "--speed-limit", "--speed-time", "--oauth2-bearer",
    "--aws-sigv4", "--unix-socket", "--abstract-unix-socket", "--ciphers", "--noproxy",
    "--proxy-header", "--variable", "--trace", "--trace-ascii", "--stderr", "--netrc-file",
    "--output-dir", "--quote", "--telnet-option", "--dns-servers", "--doh-url",
    "--expect100-timeout", "--keepalive-time", "--max-filesize", "--preproxy",
    "--proxy-cacert", "--proxy-cert", "--proxy-key", "--request-target", "--socks4",
    "--socks5", "--socks5-hostname", "--tls-max", "--pinnedpubkey", "--hsts", "--alt-svc",
    "--etag-save", "--etag-compare", "--rate", "--parallel-max", "--continue-at",
    "--ftp-port", "--happy-eyeballs-timeout-ms", "--tls13-ciphers", "--curves",
}
LONG_FLAGS = {
    "--compressed", "--insecure", "--location", "--location-trusted", "--silent",
    "--show-error", "--verbose", "--include", "--head", "--get", "--fail", "--fail-with-body",
    "--globoff", "--path-as-is", "--http1.0", "--http1.1", "--http2", "--http2-prior-knowledge",
    "--http3", "--http3-only", "--tlsv1", "--tlsv1.0", "--tlsv1.1", "--tlsv1.2", "--tlsv1.3",
    "--sslv2", "--sslv3", "--ssl", "--ssl-reqd", "--ssl-no-revoke", "--no-buffer",
    "--no-keepalive", "--no-sessionid", "--ipv4", "--ipv6", "--create-dirs", "--remote-name",
    "--remote-name-all", "--remote-header-name", "--progress-bar", "--no-progress-meter",
    "--raw", "--tr-encoding", "--basic", "--digest", "--ntlm", "--negotiate", "--anyauth",
    "--netrc", "--netrc-optional", "--disable", "--styled-output", "--retry-all-errors",
    "--retry-connrefused", "--tcp-nodelay", "--tcp-fastopen", "--next", "--proxy-insecure",
    "--post301", "--post302", "--post303", "--junk-session-cookies", "--xattr", "--parallel",
    "--parallel-immediate", "--no-alpn", "--no-npn", "--false-start", "--cert-status",
    "--suppress-connect-headers", "--ignore-content-length", "--manual", "--help",
    "--version", "--ca-native", "--compressed-ssh", "--clobber", "--remove-on-error",
}
SHORT_NAMES = {
    "X": "--request", "H": "--header", "d": "--data", "F": "--form", "u": "--user",
    "b": "--cookie", "A": "--user-agent", "e": "--referer", "T": "--upload-file",
    "K": "--config", "o": "--output", "x": "--proxy", "U": "--proxy-user", "m": "--max-time",
    "w": "--write-out", "D": "--dump-header", "c": "--cookie-jar", "E": "--cert",
    "r": "--range", "z": "--time-cond", "Y": "--speed-limit", "y": "--speed-time",
    "Q": "--quote", "t": "--telnet-option", "C": "--continue-at", "P": "--ftp-port",
    "h": "--help", "k": "--insecure", "L": "--location", "s": "--silent", "S": "--show-error",
    "v": "--verbose", "i": "--include", "I": "--head", "G": "--get", "f": "--fail",
    "g": "--globoff", "n": "--netrc", "N": "--no-buffer", "O": "--remote-name",
    "J": "--remote-header-name", "4": "--ipv4", "6": "--ipv6", "#": "--progress-bar",
    "0": "--http1.0", "Z": "--parallel", ":": "--next", "V": "--version", "M": "--manual",
}
# Options that change what is sent or how, not imported: named in a warning.
NOT_IMPORTED = {
    "--insecure": gettext_noop("TLS verification stays on"),
    "--proxy": gettext_noop("the platform sends requests without a proxy"),
    "--proxy-user": gettext_noop("the platform sends requests without a proxy"),
    "--preproxy": gettext_noop("the platform sends requests without a proxy"),
    "--socks4": gettext_noop("the platform sends requests without a proxy"),
    "--socks5": gettext_noop("the platform sends requests without a proxy"),
    "--socks5-hostname": gettext_noop("the platform sends requests without a proxy"),
    "--resolve": gettext_noop("the host is resolved as usual"),
    "--connect-to": gettext_noop("the host is connected to as usual"),
    "--unix-socket": gettext_noop("the request goes over TCP"),
    "--abstract-unix-socket": gettext_noop("the request goes over TCP"),
    "--request-target": gettext_noop("the request target is the URL's path"),
    "--max-time": gettext_noop("the platform's step timeout applies"),
    "--cert": gettext_noop("no client certificate is sent"),
    "--key": gettext_noop("no client certificate is sent"),
    "--aws-sigv4": gettext_noop("requests are not signed"),
    "--time-cond": gettext_noop("no If-Modified-Since header is added"),
    "--http1.0": gettext_noop("the platform chooses the HTTP version"),
    "--http2-prior-knowledge": gettext_noop("the platform chooses the HTTP version"),
    "--http3": gettext_noop("the platform chooses the HTTP version"),
    "--http3-only": gettext_noop("the platform chooses the HTTP version"),
    "--next": gettext_noop("only the first request of the command is imported"),
    "--post301": gettext_noop("redirects are followed as the platform follows them"),
    "--post302": gettext_noop("redirects are followed as the platform follows them"),
    "--post303": gettext_noop("redirects are followed as the platform follows them"),
    "--netrc": gettext_noop("no credentials are read from a .netrc file"),
    "--netrc-optional": gettext_noop("no credentials are read from a .netrc file"),
}
# Options whose value curl reads as a file name (always, or after a marker).
ALWAYS_A_FILE = {
    "--upload-file": message(gettext_noop("-T/--upload-file uploads a file")),
    "--config": message(gettext_noop("-K/--config reads options from a file")),
    "--netrc-file": message(gettext_noop("--netrc-file reads credentials from a file")),
}
OTHER_AUTH = {"--digest": "Digest", "--ntlm": "NTLM", "--negotiate": "Negotiate",
              "--anyauth": "any"}
# Besides the platform's secret names (core.redaction): API keys, sessions, X-Auth-*.
SENSITIVE_HEADER_RE = re.compile(r"api-?key|session|x-auth", re.I)
IDENTIFIER_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def looks_like(data: bytes, filename: str) -> bool:
    """Return whether ``data`` starts with a curl command (a cheap sniff)."""
    head = data[:2048].lstrip(b"\xef\xbb\xbf \t\r\n")
    return re.match(rb"curl(\.exe)?[ \t\r\n^]", head + b" ") is not None


def parse(data: bytes, filename: str) -> ImportPlan:
    """Return what the commands in ``data`` send; ``ImportFailed`` for one a shell would
    evaluate or that reads a file, naming it."""
    text = text_of(data, filename)
    commands = (_cmd_commands if _is_cmd(text) else _shell_commands)(text, filename)
    if not commands:
        raise ImportFailed(filename, "", message(gettext_noop("no curl command found")))
    return _Reader(filename).plan(commands)


@dataclass
class Command:
    """One command of the text: its number, its first line, its words and the text."""

    number: int
    line: int
    words: list[str]
    text: str

    @property
    def where(self) -> str:
        return _where(self.number, self.line)


def _where(number: int, line: int) -> Message:
    """Return where a command is in the text: its number and its first line."""
    return message(gettext_noop("command %(number)s (line %(line)s)"), number=number,
                   line=line)


# The shell's syntax


def _refuse(filename: str, number: int, line: int, what: str, text: str,
            reason: str = REFUSED) -> ImportFailed:
    """Return the refusal of command ``number``: ``what`` (a message) it holds, quoting
    ``text``, and why (a message); the quoted text is never translated."""
    snippet = text if len(text) <= 80 else text[:77] + "..."
    return ImportFailed(filename, _where(number, line), message(
        gettext_noop("%(what)s %(snippet)s: %(reason)s"), what=what, snippet=repr(snippet),
        reason=reason))


# What a refusal names (the ``what`` of ``_refuse``).
UNTERMINATED = message(gettext_noop("unterminated quote"))
COMMAND_SUBSTITUTION = message(gettext_noop("command substitution"))
BACKTICKS = message(gettext_noop("command substitution (backticks)"))
PARAMETER_EXPANSION = message(gettext_noop("parameter expansion"))
VARIABLE_EXPANSION = message(gettext_noop("variable expansion"))
A_PIPE = message(gettext_noop("a pipe"))
A_REDIRECTION = message(gettext_noop("a redirection"))
A_SUBSHELL = message(gettext_noop("a subshell"))
SHELL_OPERATORS = {"|": A_PIPE, "&": message(gettext_noop("a background or && list")),
                   "<": A_REDIRECTION, ">": A_REDIRECTION, "(": A_SUBSHELL,
                   ")": A_SUBSHELL}


def _never_closed(quote: str) -> Message:
    """Return why an unterminated quote is refused: ``quote`` is never closed."""
    return message(gettext_noop("the %(quote)s is never closed"), quote=quote)


_ANSI_ESCAPES = {"a": "\a", "b": "\b", "e": "\x1b", "E": "\x1b", "f": "\f", "n": "\n",
                 "r": "\r", "t": "\t", "v": "\v", "\\": "\\", "'": "'", '"': '"', "?": "?"}


def _ansi_c(body: str) -> str:
    """Return the value of a ``$'...'`` string (bash's ANSI-C quoting) from its inside.

    ``\\xHH`` and octal escapes are bytes: a run of them is read as UTF-8, else as Latin-1
    (Firefox writes ``é`` as ``\\xe9``). ``\\uHHHH`` are characters; Chrome and Firefox write
    those outside the BMP as two UTF-16 halves (``\\ud83c\\udf6a``), joined here.
    ``UnicodeError`` when a half is left alone."""
    pieces: list[str] = []
    run = bytearray()

    def flush() -> None:
        if run:
            try:
                pieces.append(run.decode("utf-8"))
            except UnicodeDecodeError:
                pieces.append(run.decode("latin-1"))
            run.clear()

    i = 0
    while i < len(body):
        char = body[i]
        nxt = body[i + 1] if i + 1 < len(body) else ""
        if char == "\\" and nxt in "01234567" and nxt:
            digits = re.match(r"[0-7]{1,3}", body[i + 1:]).group(0)
            run.append(int(digits, 8) & 0xFF)
            i += 1 + len(digits)
            continue
        if char == "\\" and nxt == "x" and re.match(r"[0-9a-fA-F]", body[i + 2:i + 3]):
            digits = re.match(r"[0-9a-fA-F]{1,2}", body[i + 2:]).group(0)
            run.append(int(digits, 16))
            i += 2 + len(digits)
            continue
        flush()
        if char != "\\" or not nxt:
            pieces.append(char)
            i += 1
        elif nxt in _ANSI_ESCAPES:
            pieces.append(_ANSI_ESCAPES[nxt])
            i += 2
        elif nxt in "uU" and re.match(r"[0-9a-fA-F]", body[i + 2:i + 3]):
            digits = re.match(r"[0-9a-fA-F]{1,%d}" % (4 if nxt == "u" else 8),
                              body[i + 2:]).group(0)
            pieces.append(chr(int(digits, 16)))
            i += 2 + len(digits)
        elif nxt == "c" and i + 2 < len(body):
            pieces.append(chr(ord(body[i + 2]) & 0x1F))
            i += 3
        else:
            pieces.append("\\" + nxt)
            i += 2
    flush()
    text = re.sub("[\ud800-\udbff][\udc00-\udfff]",
                  lambda m: m.group(0).encode("utf-16-le", "surrogatepass").decode("utf-16-le"),
                  "".join(pieces))
    if re.search("[\ud800-\udfff]", text):
        raise UnicodeError("half of a UTF-16 pair")
    return text


def _shell_commands(text: str, filename: str) -> list[Command]:
    """Split ``text`` into commands and words by the POSIX shell's quoting rules (those of
    ``shlex``, plus bash's ``$'...'`` that ``shlex`` does not read), refusing what a shell
    would evaluate. The words are built here: ``shlex`` grows a word one character at a
    time, in time quadratic in its length, and a copied body can be megabytes long."""
    text = text.replace("\r\n", "\n")
    commands: list[Command] = []
    words: list[str] = []
    word: list[str] = []
    in_word = False
    raw_start = 0
    start_line = 1
    line = 1
    i, n = 0, len(text)
    started = False   # whether the command has a word yet (its first line is start_line)

    def refuse(what: str, snippet: str, reason: str = REFUSED) -> ImportFailed:
        return _refuse(filename, len(commands) + 1, line, what, snippet, reason)

    def end_word() -> None:
        nonlocal word, in_word
        if in_word:
            words.append("".join(word))
        word, in_word = [], False

    def finish(end: int) -> None:
        nonlocal words, raw_start, started
        end_word()
        if words:
            commands.append(Command(len(commands) + 1, start_line, words,
                                    text[raw_start:end].strip()))
        words, raw_start, started = [], end + 1, False

    while i < n:
        char = text[i]
        if not started and not char.isspace():
            started, start_line = True, line
        if char == "\\" and i + 1 < n:
            if text[i + 1] == "\n":       # a continued line
                line += 1
            else:
                word.append(text[i + 1])
                in_word = True
            i += 2
            continue
        if char == "'":
            end = text.find("'", i + 1)
            if end == -1:
                raise refuse(UNTERMINATED, text[i:i + 40], _never_closed("'"))
            word.append(text[i + 1:end])
            in_word = True
            line += text.count("\n", i, end)
            i = end + 1
            continue
        if char == "$" and i + 1 < n:
            nxt = text[i + 1]
            if nxt == "'":
                j = i + 2
                while j < n and text[j] != "'":
                    j += 2 if text[j] == "\\" else 1
                if j >= n:
                    raise refuse(UNTERMINATED, text[i:i + 40], _never_closed("$'"))
                try:
                    word.append(_ansi_c(text[i + 2:j]))
                except UnicodeError:
                    raise refuse(message(gettext_noop("a $'...' string")), text[i:j + 1],
                                 message(gettext_noop("its escapes do not make text"))
                                 ) from None
                in_word = True
                line += text.count("\n", i, j)
                i = j + 1
                continue
            if nxt == "(":
                raise refuse(COMMAND_SUBSTITUTION, _around(text, i))
            if nxt == "{":
                raise refuse(PARAMETER_EXPANSION, _around(text, i))
            if nxt == '"':
                raise refuse(message(gettext_noop(
                    "a $\"...\" string (translated by the shell)")), _around(text, i))
            if re.match(r"[A-Za-z0-9_@*#?$!-]", nxt):
                raise refuse(VARIABLE_EXPANSION, _around(text, i))
        if char == '"':
            j = i + 1
            while j < n and text[j] != '"':
                if text[j] == "\\" and j + 1 < n and text[j + 1] in '$`"\\\n':
                    if text[j + 1] != "\n":
                        word.append(text[j + 1])
                    j += 2
                    continue
                if text[j] == "`":
                    raise refuse(BACKTICKS, _around(text, j))
                if text[j] == "$" and j + 1 < n and re.match(r"[A-Za-z0-9_@*#?$!({-]",
                                                             text[j + 1]):
                    what = (COMMAND_SUBSTITUTION if text[j + 1] == "(" else
                            PARAMETER_EXPANSION if text[j + 1] == "{" else
                            VARIABLE_EXPANSION)
                    raise refuse(what, _around(text, j))
                word.append(text[j])
                j += 1
            if j >= n:
                raise refuse(UNTERMINATED, text[i:i + 40], _never_closed('"'))
            in_word = True
            line += text.count("\n", i, j)
            i = j + 1
            continue
        if char == "`":
            raise refuse(BACKTICKS, _around(text, i))
        if char in "|&<>()":
            what = SHELL_OPERATORS[char]
            if char in "<>" and text[i + 1:i + 2] == "(":
                what = message(gettext_noop("process substitution"))
            raise refuse(what, _around(text, i))
        if char == "#" and not in_word:
            end = text.find("\n", i)
            i = n if end == -1 else end
            continue
        if char == "~" and not in_word:
            raise refuse(message(gettext_noop("home directory expansion")), _around(text, i))
        if char == "{" and re.compile(r"\{[^\s{}'\"]*(,|\.\.)[^\s{}'\"]*\}").match(text, i):
            raise refuse(message(gettext_noop("brace expansion")), _around(text, i))
        if char in ";\n":
            finish(i)
            if char == "\n":
                line += 1
            i += 1
            continue
        if char in " \t":
            end_word()
        else:
            word.append(char)
            in_word = True
        i += 1
    finish(n)
    return commands


def _around(text: str, index: int) -> str:
    """Return the word of ``text`` around ``index`` (what a refusal quotes)."""
    start = max(text.rfind(" ", 0, index), text.rfind("\n", 0, index)) + 1
    end = min((p for p in (text.find(" ", index), text.find("\n", index)) if p != -1),
              default=len(text))
    return text[start:end]


# Windows cmd's syntax


def _is_cmd(text: str) -> bool:
    """Return whether ``text`` is in cmd's syntax ("Copy as cURL (cmd)")."""
    return bool(re.search(r"\^\r?\n|curl(\.exe)?\s+\^\"", text))


def _cmd_commands(text: str, filename: str) -> list[Command]:
    """Split ``text`` as cmd.exe, then the C runtime, split a command line: ``^`` escapes the
    next character (a line break: the line goes on), ``"`` quotes; ``&`` runs the next
    command. Refused: ``%VAR%``, pipes, redirections, ``&&``."""
    commands: list[Command] = []
    current: list[str] = []
    line, start_line = 1, 1
    quoted = False
    i, n = 0, len(text)
    started = False
    def finish() -> None:
        nonlocal current, started
        started = False
        source = "".join(current).strip()
        if source:
            commands.append(Command(len(commands) + 1, start_line, _crt_words(source),
                                    source))
        current = []

    while i < n:
        char = text[i]
        if not started and not char.isspace():
            started, start_line = True, line
        if char == "\r":
            i += 1
            continue
        # cmd expands %NAME% everywhere, quotes or not (Chrome writes a % as %^).
        expansion = char == "%" and re.compile(r"%[A-Za-z_][A-Za-z0-9_]*%").match(text, i)
        if expansion:
            raise _refuse(filename, len(commands) + 1, line, VARIABLE_EXPANSION,
                          expansion.group(0))
        if quoted:
            if char == '"':
                quoted = False
            if char == "\n":
                raise _refuse(filename, len(commands) + 1, line, UNTERMINATED,
                              "".join(current)[-40:], message(gettext_noop(
                                  "the %(quote)s is never closed on its line"), quote='"'))
            current.append(char)
            i += 1
            continue
        if char == "^" and i + 1 < n:
            j = i + 1
            if text[j] == "\r":
                j += 1
            if text[j] == "\n":
                line += 1
                i = j + 1
                if i < n and text[i] in "\r\n":   # ^ + two line breaks: a line break
                    i += 2 if text[i] == "\r" else 1
                    line += 1
                    current.append("\n")
                continue
            current.append(text[j])
            i = j + 1
            continue
        if char == '"':
            quoted = True
            current.append(char)
            i += 1
            continue
        if char == "&":
            if text[i + 1:i + 2] == "&":
                raise _refuse(filename, len(commands) + 1, line,
                              message(gettext_noop("a && list")), text[i:i + 40])
            finish()
            i += 1
            continue
        if char in "|<>":
            what = A_PIPE if char == "|" else A_REDIRECTION
            raise _refuse(filename, len(commands) + 1, line, what, text[max(0, i - 20):i + 20])
        if char == "\n":
            finish()
            line += 1
            i += 1
            continue
        current.append(char)
        i += 1
    finish()
    return commands


def _crt_words(text: str) -> list[str]:
    """Split a command line into arguments as the Microsoft C runtime does."""
    words, current, quoted, have = [], [], False, False
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == "\\":
            j = i
            while j < n and text[j] == "\\":
                j += 1
            count = j - i
            if j < n and text[j] == '"':
                current.append("\\" * (count // 2))
                if count % 2:
                    current.append('"')
                    j += 1
                i = j
            else:
                current.append("\\" * count)
                i = j
            have = True
            continue
        if char == '"':
            if quoted and text[i + 1:i + 2] == '"':
                current.append('"')
                i += 2
                continue
            quoted, have = not quoted, True
            i += 1
            continue
        if char in " \t\n" and not quoted:
            if have or current:
                words.append("".join(current))
            current, have = [], False
            i += 1
            continue
        current.append(char)
        have = True
        i += 1
    if have or current:
        words.append("".join(current))
    return words


# Options


# An option given last, without its value ("option '-H': it needs a value").
OPTION = message(gettext_noop("option"))
NEEDS_A_VALUE = message(gettext_noop("it needs a value"))


def _sends_a_file(option: str) -> Message:
    """Return what ``-d @file`` and the like are: ``option`` sends a file."""
    return message(gettext_noop("%(option)s @file sends a file"), option=option)


class _Skip(Exception):
    """A command that is read but not imported, and why."""


@dataclass
class _Options:
    method: str = ""
    url: str = ""
    extra_urls: list[str] = field(default_factory=list)
    headers: list[tuple[str, str]] = field(default_factory=list)
    data: list[str] = field(default_factory=list)
    json_data: list[str] = field(default_factory=list)
    form: list[tuple[str, str]] = field(default_factory=list)
    url_query: list[str] = field(default_factory=list)
    user: str | None = None
    cookies: list[str] = field(default_factory=list)
    get: bool = False
    head: bool = False
    globoff: bool = False
    bearer: str = ""
    auth_scheme: str = ""
    warnings: list[str] = field(default_factory=list)


class _Reader:
    """One reading of the commands of a text into an ``ImportPlan``."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.problems: list[Problem] = []
        self.variables: list[ImportedVariable] = []
        self.keys: Counter[str] = Counter()

    def plan(self, commands: list[Command]) -> ImportPlan:
        requests = []
        for command in commands:
            try:
                requests.append(self.request(command))
            except _Skip as skip:
                self.problems.append(Problem(where=command.where, message=skip.args[0],
                                             severity=SKIPPED))
        urls = [r.url for r in requests]
        counts = Counter(b for b in map(_base_url, urls) if b)
        first = {}
        for index, base in enumerate(map(_base_url, urls)):
            first.setdefault(base, index)
        base_urls = sorted(counts, key=lambda b: (-counts[b], first[b]))
        title = (f"{requests[0].method} {requests[0].url}" if len(requests) == 1
                 else f"{len(commands)} cURL command" + ("s" if len(commands) > 1 else ""))
        return ImportPlan(format=FORMAT, title=title[:255], base_urls=base_urls,
                          requests=requests, variables=self.variables, problems=self.problems)

    def fail(self, command: Command, what: str, text: str, reason: str) -> ImportFailed:
        """Return the refusal of ``command``: ``what`` and ``reason`` are messages."""
        return _refuse(self.filename, command.number, command.line, what, text, reason)

    def options(self, command: Command) -> _Options:
        """Return what the words of ``command`` ask curl to do."""
        words = command.words
        if not words or words[0] not in ("curl", "curl.exe"):
            raise self.fail(command, message(gettext_noop("a command that is not curl")),
                            words[0] if words else command.text,
                            message(gettext_noop("each command must start with curl")))
        found = _Options()
        i = 1
        while i < len(words):
            word = words[i]
            i += 1
            if word.startswith("--"):
                name = word
                if name.startswith("--no-") and "--" + name[5:] in LONG_FLAGS:
                    continue
                if name in LONG_WITH_VALUE:
                    if i >= len(words):
                        raise self.fail(command, OPTION, name, NEEDS_A_VALUE)
                    self.option(command, found, name, words[i])
                    i += 1
                elif name in LONG_FLAGS:
                    self.option(command, found, name, None)
                else:
                    found.warnings.append(message(gettext_noop(
                        "unknown option %(option)s is not imported"), option=name))
                continue
            if word.startswith("-") and len(word) > 1:
                letters = word[1:]
                for index, letter in enumerate(letters):
                    if letter in SHORT_WITH_VALUE:
                        value = letters[index + 1:]
                        if not value:
                            if i >= len(words):
                                raise self.fail(command, OPTION, "-" + letter,
                                                NEEDS_A_VALUE)
                            value = words[i]
                            i += 1
                        self.option(command, found, SHORT_NAMES.get(letter, "-" + letter),
                                    value)
                        break
                    if letter in SHORT_FLAGS:
                        self.option(command, found, SHORT_NAMES.get(letter, "-" + letter), None)
                    else:
                        found.warnings.append(message(gettext_noop(
                            "unknown option %(option)s is not imported"), option="-" + letter))
                continue
            if not found.url:
                found.url = word
            else:
                found.extra_urls.append(word)
        return found

    def option(self, command: Command, found: _Options, name: str, value: str | None) -> None:
        """Record one option of ``command``; refuse one that reads a file."""
        if name in ALWAYS_A_FILE:
            raise self.fail(command, ALWAYS_A_FILE[name], value or name, NO_FILE)
        if name == "--request":
            found.method = value.upper()
        elif name == "--url":
            if found.url:
                found.extra_urls.append(value)
            else:
                found.url = value
        elif name == "--header":
            if value.startswith("@"):
                raise self.fail(command, message(gettext_noop(
                    "-H @file reads headers from a file")), value, NO_FILE)
            header, sep, content = value.partition(":")
            if not sep and header.endswith(";"):   # "Name;": a header with no value
                found.headers.append((header[:-1].strip(), ""))
            elif sep and content.strip():
                found.headers.append((header.strip(), content.strip()))
            # "Name:" removes a header curl would add: nothing to import.
        elif name in ("--data", "--data-ascii", "--data-binary"):
            if value.startswith("@"):
                raise self.fail(command, _sends_a_file(name), value, NO_FILE)
            found.data.append(value)
        elif name == "--data-raw":
            found.data.append(value)
        elif name == "--data-urlencode":
            found.data.append(self.urlencoded(command, name, value))
        elif name == "--url-query":
            found.url_query.append(self.urlencoded(command, name, value.lstrip("+")
                                                   if value.startswith("+") else value,
                                                   encode=not value.startswith("+")))
        elif name == "--json":
            if value.startswith("@"):
                raise self.fail(command, _sends_a_file(name), value, NO_FILE)
            found.json_data.append(value)
        elif name in ("--form", "--form-string"):
            part, sep, content = value.partition("=")
            if not sep:
                raise self.fail(command, message(gettext_noop(
                    "%(option)s without name=value"), option=name), value,
                    message(gettext_noop("curl refuses it too")))
            if name == "--form" and content[:1] in ("@", "<"):
                raise self.fail(command, message(gettext_noop(
                    "%(option)s %(field)s=%(marker)sfile sends a file"), option=name,
                    field=part, marker=content[:1]), value, NO_FILE)
            if name == "--form" and re.search(r";\s*(type|filename|headers|encoder)=", content):
                content = re.split(r";\s*(?:type|filename|headers|encoder)=", content)[0]
                found.warnings.append(message(gettext_noop(
                    "the ;type=/;filename= of form field %(field)s are not imported"),
                    field=part))
            found.form.append((part, content))
        elif name == "--user":
            found.user = value
        elif name == "--oauth2-bearer":
            found.bearer = value
        elif name == "--cookie":
            if "=" not in value:
                raise self.fail(command, message(gettext_noop(
                    "-b with a file name reads cookies from a file")), value, NO_FILE)
            found.cookies.append(value)
        elif name == "--user-agent":
            found.headers.append(("User-Agent", value))
        elif name == "--referer":
            found.headers.append(("Referer", value.removesuffix(";auto")))
        elif name == "--range":
            found.headers.append(("Range", f"bytes={value}"))
        elif name == "--get":
            found.get = True
        elif name == "--head":
            found.head = True
        elif name == "--globoff":
            found.globoff = True
        elif name in OTHER_AUTH:
            found.auth_scheme = OTHER_AUTH[name]
        elif name == "--variable" and value and re.match(r"[^=]*@", value):
            raise self.fail(command, message(gettext_noop(
                "--variable name@file reads a file")), value, NO_FILE)
        elif name in NOT_IMPORTED:
            found.warnings.append(message(gettext_noop("%(option)s: %(reason)s"), option=name,
                                          reason=message(NOT_IMPORTED[name])))

    def urlencoded(self, command: Command, name: str, value: str, encode: bool = True) -> str:
        """Return what ``--data-urlencode`` sends of ``value`` (``name=content``, ``=content``,
        ``content``); refuse ``@file`` and ``name@file``."""
        separator = re.search(r"[=@]", value)
        if separator and separator.group(0) == "@":
            raise self.fail(command, message(gettext_noop(
                "%(option)s %(field)s@file sends a file"), option=name,
                field=value[:separator.start()]), value, NO_FILE)
        if not encode:
            return value
        if separator:
            key, content = value[:separator.start()], value[separator.end():]
            return (f"{key}=" if key else "") + _percent(content)
        return _percent(value)

    # The request

    def request(self, command: Command) -> ImportedRequest:
        """Return the request ``command`` sends; ``_Skip`` for one the platform cannot."""
        found = self.options(command)
        where = command.where
        for warning in found.warnings:
            self.problem(where, warning)
        if not found.url:
            raise self.fail(command, message(gettext_noop("a command without a URL")),
                            command.text[:80], message(gettext_noop("curl needs one")))
        for extra in found.extra_urls:
            self.problem(where, message(gettext_noop(
                "curl requests %(url)s too; only the first URL is imported"), url=repr(extra)))
        url = found.url
        if not re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", url) and not url.startswith("{{"):
            url = "http://" + url
        url = url.split("#", 1)[0]
        if not found.globoff:
            if re.search(r"(?<!\\)\{[^{}]*,[^{}]*(?<!\\)\}|(?<!\\)\[[0-9a-z]+-[0-9a-z]+(?<!\\)\]",
                         url):
                self.problem(where, message(gettext_noop(
                    "curl would expand the {a,b} or [1-9] pattern of the URL into several "
                    "requests; it is imported as one, as written")))
            # Chrome writes [ ] { } of a URL as \[ \] \{ \}, which curl's globbing reads as
            # the characters themselves.
            url = re.sub(r"\\([\[\]{}])", r"\1", url)
        headers = [{"name": name, "value": value, "enabled": True}
                   for name, value in found.headers]
        url = self.credentials_in_url(url, found, where)
        body_type, body, content_type = self.body(found, headers, where)
        if found.get or found.head:
            if found.data or found.json_data:
                joined = "&".join(found.data + found.json_data)
                url += ("&" if "?" in url else "?") + joined
            body_type, body, content_type = "none", None, ""
        if found.url_query:
            url += ("&" if "?" in url else "?") + "&".join(found.url_query)
        method = found.method or ("HEAD" if found.head else
                                  "POST" if body_type != "none" else "GET")
        if method not in METHODS:
            raise _Skip(message(gettext_noop(
                "method %(method)s is not one the platform sends (%(methods)s)"),
                method=method, methods=", ".join(METHODS)))
        size = body_size(body_type, body)
        if size > settings.TESTING_BODY_MAX_BYTES:
            raise _Skip(message(gettext_noop(
                "the body is %(size)s bytes; an interface holds at most %(limit)s"),
                size=size, limit=settings.TESTING_BODY_MAX_BYTES))
        query: list[dict] = []
        split = _split_query(url)
        if split:
            url, pairs = split
            query = [{"name": k, "value": v, "enabled": True} for k, v in pairs]
        self.authorization(found, headers, where)
        if found.cookies:   # curl sends a Cookie header of its own and -b's cookies in one
            own = [h["value"] for h in headers if h["name"].lower() == "cookie"]
            headers = [h for h in headers if h["name"].lower() != "cookie"] + [
                {"name": "Cookie", "value": "; ".join(own + found.cookies), "enabled": True}]
        if any(h["name"].lower() == "content-length" for h in headers):
            headers = [h for h in headers if h["name"].lower() != "content-length"]
            self.problem(where, message(gettext_noop(
                "the Content-Length header is dropped: it is computed when the request is "
                "sent")))
        headers = [self.secret_header(h, where) for h in headers]
        try:
            path = url if url.startswith("{{") else urlsplit(url).path
        except ValueError:
            path = url
        key = f"{method} {url.split('?', 1)[0]}"
        self.keys[key] += 1
        if self.keys[key] > 1:
            key = f"{key} #{self.keys[key]}"
        return ImportedRequest(key=key, name=f"{method} {path or '/'}"[:255], method=method,
                               url=url, query=query, headers=headers, body_type=body_type,
                               body=body, content_type=content_type, where=where)

    def problem(self, where: str, message: str) -> None:
        self.problems.append(Problem(where=where, message=message, severity=WARNING))

    def body(self, found: _Options, headers: list[dict], where: str) -> tuple[str, object, str]:
        """Return the body type, the body and the content type the data options give."""
        declared = next((h["value"] for h in headers if h["name"].lower() == "content-type"),
                        "")
        if found.form and (found.data or found.json_data):
            self.problem(where, message(gettext_noop(
                "-d and -F together: curl refuses them; the form is imported")))
        if found.form:
            if declared:
                headers[:] = [h for h in headers if h["name"].lower() != "content-type"]
                self.problem(where, message(gettext_noop(
                    "the Content-Type header is dropped: the platform writes its own multipart "
                    "boundary")))
            return "multipart", [{"name": k, "value": v, "enabled": True}
                                 for k, v in found.form], ""
        if found.json_data:
            text = "".join(found.json_data)
            if not declared:
                headers.append({"name": "Content-Type", "value": "application/json",
                                "enabled": True})
            if not any(h["name"].lower() == "accept" for h in headers):
                headers.append({"name": "Accept", "value": "application/json",
                                "enabled": True})
            try:
                return "json", json.loads(text), ""
            except ValueError:
                return "raw", text, ""
        if not found.data:
            return "none", None, ""
        text = "&".join(found.data)
        if "json" in declared.lower():
            try:
                return "json", json.loads(text), ""
            except ValueError:
                return "raw", text, ""
        if not declared or "x-www-form-urlencoded" in declared.lower():
            pairs = _form_pairs(text)
            if pairs is not None:
                return "form", [{"name": k, "value": v, "enabled": True} for k, v in pairs], ""
            if not declared and text.lstrip()[:1] in ("{", "["):
                self.problem(where, message(gettext_noop(
                    "the data looks like JSON, but without a Content-Type header curl sends it "
                    "as a form (application/x-www-form-urlencoded); kept so")))
            return "raw", text, "" if declared else "application/x-www-form-urlencoded"
        return "raw", text, ""

    def credentials_in_url(self, url: str, found: _Options, where: str) -> str:
        """Move ``https://user:password@host`` into ``found.user``: the platform refuses to send
        a URL that carries credentials."""
        match = re.match(r"([A-Za-z][A-Za-z0-9+.-]*://)([^/?#]*)@([^/?#@]*)", url)
        if not match:
            return url
        if found.user is None:
            found.user = unquote(match.group(2))
        self.problem(where, message(gettext_noop(
            "the user name and password written in the URL moved into an Authorization header "
            "(basic auth) with a secret variable")))
        return match.group(1) + match.group(3) + url[match.end():]

    def authorization(self, found: _Options, headers: list[dict], where: str) -> None:
        """Add the Authorization header of ``-u`` or ``--oauth2-bearer`` to ``headers``."""
        if found.user is not None and found.auth_scheme:
            self.problem(where, message(gettext_noop(
                "%(scheme)s authentication is not imported: the requests are sent without "
                "credentials"), scheme=found.auth_scheme))
            return
        own = any(h["name"].lower() == "authorization" for h in headers)
        if own and (found.user is not None or found.bearer):
            self.problem(where, message(gettext_noop(
                "the command has its own Authorization header, which curl sends instead of the "
                "credentials of -u/--oauth2-bearer; those are not imported")))
            return
        if found.user is not None:
            user = found.user if ":" in found.user else found.user + ":"
            if ":" not in found.user:
                self.problem(where, message(gettext_noop(
                    "-u without a password (curl would ask for it): the password is empty; "
                    "fill in the secret variable")))
            name = self.secret("basic_credentials", user,
                               message(gettext_noop("The user:password of -u")))
            headers.append({"name": "Authorization",
                            "value": "Basic {{base64_encode(" + name + ")}}", "enabled": True})
        elif found.bearer:
            name = self.secret("bearer_token", found.bearer,
                               message(gettext_noop("The token of --oauth2-bearer")))
            headers.append({"name": "Authorization", "value": "Bearer {{" + name + "}}",
                            "enabled": True})

    def secret_header(self, header: dict, where: str) -> dict:
        """Return ``header`` with a credential it carries moved into a secret variable."""
        name, value = header["name"], header["value"]
        lowered = name.lower()
        if "{{" in value or not value:
            return header
        if lowered in ("authorization", "proxy-authorization"):
            scheme, _, credentials = value.partition(" ")
            if scheme.lower() == "bearer" and credentials.strip():
                reference = self.secret("bearer_token", credentials.strip(), message(
                    gettext_noop("The bearer token of the %(name)s header"), name=name))
                return {**header, "value": f"{scheme} {{{{{reference}}}}}"}
            reference = self.secret(_identifier(lowered), value, _value_of(name))
            return {**header, "value": "{{" + reference + "}}"}
        if (lowered == "cookie" or is_secret_name(lowered.replace("-", "_"))
                or SENSITIVE_HEADER_RE.search(lowered)):
            reference = self.secret(_identifier(lowered), value, _value_of(name))
            return {**header, "value": "{{" + reference + "}}"}
        return header

    def secret(self, base: str, value: str, description: Message) -> str:
        """Return the name of a secret variable holding ``value`` (reused for the same value),
        described by ``description``, which the commit writes in the committer's language."""
        for variable in self.variables:
            if variable.value == value and re.fullmatch(re.escape(base) + r"(_\d+)?",
                                                        variable.name):
                return variable.name
        taken = {v.name for v in self.variables}
        name, counter = base, 2
        while name in taken:
            name = f"{base}_{counter}"
            counter += 1
        self.variables.append(ImportedVariable(name=name, value=value, secret=True,
                                               description=description))
        return name


def body_size(body_type: str, body: object) -> int:
    """Return the size of a body as the platform weighs it (``Interface`` validation)."""
    if body_type in ("none", "form", "multipart"):
        return 0
    text = body if body_type == "raw" else json.dumps(body, ensure_ascii=False)
    return len(str(text).encode("utf-8"))


def _value_of(header: str) -> Message:
    """Return the description of a secret variable holding the value of ``header``."""
    return message(gettext_noop("The value of the %(name)s header"), name=header)


def _identifier(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_]", "_", name)[:100] or "_"
    return "_" + cleaned[:99] if cleaned[0].isdigit() else cleaned


def _percent(text: str) -> str:
    """Return ``text`` encoded as curl's ``--data-urlencode`` encodes it."""
    return quote(text, safe="-._~")


def _pairs(text: str) -> list[tuple[str, str]] | None:
    """Return the decoded ``name=value`` pairs of ``text`` (``&``-separated); None when a
    piece is not one (``?flag``, ``&&``) or does not decode."""
    pairs = []
    for piece in text.split("&"):
        if "=" not in piece:
            return None
        name, value = piece.split("=", 1)
        try:
            name, value = unquote_plus(name, errors="strict"), unquote_plus(value,
                                                                           errors="strict")
        except UnicodeDecodeError:
            return None
        if not name or len(name) > 200:
            return None
        pairs.append((name, value))
    return pairs


def _form_pairs(text: str) -> list[tuple[str, str]] | None:
    """Return the fields of urlencoded form data; None when it is not ``name=value&...`` or
    names a field twice (the engine sends a form as one value per name)."""
    pairs = _pairs(text)
    if pairs is None or len({name for name, _ in pairs}) != len(pairs):
        return None
    return pairs


def _split_query(url: str) -> tuple[str, list[tuple[str, str]]] | None:
    """Return the URL without its query and the query's pairs (decoded); None when the query
    is not ``name=value&...`` (``?flag``, ``&&``): it then stays in the URL as written."""
    if "?" not in url:
        return None
    base, query = url.split("?", 1)
    if not query:
        return base, []
    pairs = _pairs(query)
    return None if pairs is None else (base, pairs)


def _base_url(url: str) -> str:
    match = re.match(r"(https?://[^/?#@]+)(?=[/?#]|$)", url, re.I)
    return match.group(1) if match and "{{" not in match.group(1) else ""
