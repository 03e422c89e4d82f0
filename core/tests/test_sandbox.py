"""Containment of user code (issue 14): every escape stays inside the sandbox.

Each test runs real user code through ``core.sandbox.run`` behind the real barrier and
checks three things: the escape is contained, the error says so in words, and the sandbox
serves the next call at once (``healthy``). The module runs on a fresh pool of one
sandbox, so a "next call" is served by the sandbox that served the escape, and with the
marker variable set in this process before that pool started.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import socket
import subprocess
import sys
import sysconfig
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import override_settings

from core import sandbox
from core.sandbox import Limits, SandboxError, SandboxUnavailable
from core.sandbox.barrier import SANDBOX_UID, SYSTEM_LIBRARY_DIRS, interpreter

pytestmark = pytest.mark.sandbox

MARKER_NAME = "ATRIUM_SANDBOX_MARKER"
MARKER = "atrium-platform-secret-5f1c9e"

HEALTH_CODE = """
import os

def f(x):
    others = sorted(int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid())
    return {"double": x * 2, "others": others, "tmp": sorted(os.listdir("/tmp"))}
"""


@contextmanager
def fresh_sandbox(**changes):
    """Run with these settings on a newly detected barrier and a new pool; restore after."""
    sandbox.close()
    saved = sandbox._state["barrier"]
    sandbox._state["barrier"] = None
    try:
        with override_settings(**changes):
            yield
    finally:
        sandbox.close()
        sandbox._state["barrier"] = saved


@pytest.fixture(scope="module", autouse=True)
def sandbox_under_test():
    """A pool of one sandbox, started after the marker entered this process's environment."""
    os.environ[MARKER_NAME] = MARKER
    try:
        with fresh_sandbox(SANDBOX_POOL_SIZE=1):
            yield
    finally:
        os.environ.pop(MARKER_NAME, None)


@pytest.fixture(autouse=True)
def low_limits(settings):
    settings.SANDBOX_CPU_SECONDS = 1
    settings.SANDBOX_WALL_SECONDS = 2


def serving_zygote() -> int:
    """Return the host PID of the sandbox that serves the next call (the pool holds one)."""
    (zygote,) = sandbox._state["pool"].idle
    return zygote.process.pid


@pytest.fixture
def healthy():
    """Return a check that the sandbox that served the test still serves calls: quickly,
    correctly, with no process but its own and an empty /tmp."""
    assert sandbox.run(HEALTH_CODE, "f", args=[1]).ok
    before = serving_zygote()
    checked = []

    def check() -> None:
        outcome = sandbox.run(HEALTH_CODE, "f", args=[21])
        assert outcome.ok, outcome.message
        assert outcome.value == {"double": 42, "others": [1], "tmp": []}
        assert outcome.duration_ms < 1000
        assert serving_zygote() == before, "the sandbox was replaced instead of containing"
        checked.append(True)

    yield check
    if not checked:
        sandbox.close()  # a failed test may have left it dirty: the next one starts afresh


def call(code: str, *args, **options) -> sandbox.Outcome:
    return sandbox.run(code, "f", args=list(args), **options)


# Limits


def test_an_infinite_loop_is_stopped_at_the_cpu_limit(settings, healthy):
    """An infinite loop ends after 1 s of CPU time, named so. (The wall clock is far off so
    that a busy machine, which gives the loop less than a CPU, cannot end it first.)"""
    settings.SANDBOX_WALL_SECONDS = 10
    outcome = call("def f():\n    while True:\n        pass\n")
    assert not outcome.ok and outcome.breach
    assert outcome.error == "exceeded 1 s of CPU time"
    healthy()


def test_a_sleep_is_stopped_at_the_wall_clock_limit(healthy):
    """A call that waits forever ends at its wall-clock limit (lowered per call)."""
    outcome = call("import time\n\ndef f():\n    time.sleep(100)\n",
                   limits=Limits(wall_seconds=0.5))
    assert not outcome.ok and outcome.breach
    assert outcome.error == "exceeded 0.5 s of wall-clock time"
    healthy()


@pytest.mark.parametrize("code", [
    "def f():\n    return len(bytearray(2 * 1024 ** 3))\n",
    "def f():\n    chunks = []\n    while len(chunks) < 128:\n"
    "        chunks.append(b'x' * (16 * 1024 * 1024))\n    return len(chunks)\n",
], ids=["2 GB at once", "2 GB in 16 MB chunks"])
def test_allocating_2_gb_is_a_memory_error_naming_the_limit(settings, healthy, code):
    """Allocating 2 GB fails at the memory limit, and the error names that limit."""
    settings.SANDBOX_MEMORY_MB = 128
    outcome = call(code)
    assert not outcome.ok and outcome.breach
    assert outcome.error == "exceeded 128 MB of memory (MemoryError)"
    assert 'File "<code>"' in outcome.traceback
    healthy()


@pytest.mark.parametrize("code", [
    "import os\n\ndef f():\n    while True:\n        os.fork()\n",
    "import os, sys\n\ndef f():\n"
    "    return os.posix_spawn(sys.executable, [sys.executable, '-c', 'pass'], {})\n",
    "import pty\n\ndef f():\n    return pty.fork()\n",
    "import subprocess, sys\n\ndef f():\n"
    "    return subprocess.run([sys.executable, '-c', 'pass']).returncode\n",
    "import multiprocessing, os\n\ndef f():\n"
    "    process = multiprocessing.get_context('fork').Process(target=os.getpid)\n"
    "    process.start()\n    process.join()\n    return process.exitcode\n",
    "import multiprocessing, os\n\ndef f():\n"
    "    process = multiprocessing.get_context('spawn').Process(target=os.getpid)\n"
    "    process.start()\n    process.join()\n    return process.exitcode\n",
], ids=["fork bomb", "posix_spawn", "pty.fork", "subprocess", "multiprocessing fork",
        "multiprocessing spawn"])
def test_new_processes_are_refused(healthy, code):
    """Every way of starting a process is refused, and no process survives the call."""
    outcome = call(code)
    assert not outcome.ok
    assert outcome.exception == "PermissionError"
    assert "Operation not permitted" in outcome.error
    healthy()  # also: no process but the sandbox's own


@pytest.mark.parametrize(("code", "error"), [
    ("def f():\n    with open('/tmp/big', 'wb') as out:\n        for _ in range(1024):\n"
     "            out.write(b'x' * 1024 * 1024)\n", "wrote more than 8 MB to a file"),
    ("def f():\n    for n in range(256):\n        with open(f'/tmp/part{n}', 'wb') as out:\n"
     "            for _ in range(4):\n                out.write(b'x' * 1024 * 1024)\n",
     "OSError: [Errno 28] No space left on device"),
], ids=["one 1 GB file", "1 GB in 4 MB files"])
def test_writing_1_gb_to_tmp_is_stopped(healthy, code, error):
    """Writing 1 GB to /tmp in 1 MB chunks stops at the file-size limit or when the
    sandbox's small /tmp is full; the next call finds /tmp empty."""
    assert django_settings.SANDBOX_FILE_MB == 8 and django_settings.SANDBOX_TMP_MB == 16
    outcome = call(code)
    assert not outcome.ok
    assert outcome.error == error
    healthy()


@pytest.mark.parametrize(("code", "error"), [
    ("def f():\n    for _ in range(100):\n        print('x' * 1024 * 1024)\n",
     "printed more than 1 MB of output"),
    ("import os\n\ndef f():\n    for _ in range(100):\n        os.write(2, b'x' * 1024 * 1024)\n",
     "printed more than 1 MB of output"),
    ("def f():\n    return 'x' * 10 * 1024 * 1024\n", "returned more than 1 MB of output"),
], ids=["print 100 MB", "100 MB to stderr", "return 10 MB"])
def test_output_beyond_the_limit_is_cut(healthy, code, error):
    """Printing 100 MB (or returning 10 MB) ends the call at the output limit."""
    outcome = call(code)
    assert not outcome.ok and outcome.breach
    assert outcome.error == error
    assert len(outcome.output) <= 1024 * 1024
    healthy()


def test_plain_deep_recursion_is_a_short_readable_recursion_error(healthy):
    """Unbounded recursion is a RecursionError whose traceback folds the repeated lines."""
    outcome = call("def f():\n    def down(n):\n        return down(n + 1)\n    return down(0)\n")
    assert not outcome.ok and not outcome.breach
    assert outcome.error == "RecursionError: maximum recursion depth exceeded"
    assert "[Previous line repeated" in outcome.traceback
    assert len(outcome.traceback) < 2000
    healthy()


@pytest.mark.parametrize("code", [
    "import sys\n\ndef f():\n    sys.setrecursionlimit(10 ** 6)\n"
    "    def down(n):\n        return next(map(down, [n + 1]))\n    return down(0)\n",
    "import sys\n\nclass Deep:\n    def __getattr__(self, name):\n"
    "        return getattr(self, name)\n\n"
    "def f():\n    sys.setrecursionlimit(10 ** 6)\n    return Deep().anything\n",
], ids=["through map", "through __getattr__"])
def test_recursion_that_crashes_the_c_stack_is_contained(healthy, code):
    """With the recursion limit raised, recursion through C code overflows the stack: the
    call crashes alone, named so, and the sandbox goes on."""
    outcome = call(code)
    assert not outcome.ok and outcome.breach
    if sys.version_info < (3, 12):
        assert outcome.error.startswith("crashed with a segmentation fault")
    else:  # 3.12 bounds C recursion on its own
        assert outcome.error.startswith(("crashed with a segmentation fault", "RecursionError"))
    healthy()


# What the code can see


def test_project_files_secrets_and_database_sockets_are_not_there(healthy):
    """Settings, .env, the project folder and the database sockets do not exist inside."""
    base_dir = Path(django_settings.BASE_DIR)
    paths = list(dict.fromkeys([
        "/work/main/config/settings.py", str(base_dir / "config" / "settings.py"),
        str(base_dir / ".env"), str(base_dir), str(django_settings.VAR_DIR),
        "/var/run/mysqld/mysqld.sock", "/run/mysqld/mysqld.sock", "/run/postgresql",
        "/var/run/postgresql/.s.PGSQL.5432", "/var/run/redis/redis-server.sock", "/etc/passwd",
    ]))
    assert (base_dir / "config" / "settings.py").is_file()  # there to be found on the host
    outcome = call("import os\n\ndef f(paths):\n    found = {}\n    for path in paths:\n"
                   "        try:\n            os.stat(path)\n            found[path] = 'exists'\n"
                   "        except OSError as exc:\n"
                   "            found[path] = os.strerror(exc.errno)\n    return found\n", paths)
    assert outcome.ok, outcome.message
    assert outcome.value == dict.fromkeys(paths, os.strerror(errno.ENOENT))
    healthy()


def test_the_platforms_environment_is_invisible(healthy):
    """The marker in the platform's environment appears nowhere the code can read; the
    code's own environment holds only the PWD bubblewrap sets for its --chdir."""
    assert os.environ[MARKER_NAME] == MARKER
    outcome = call(
        "import os\n\ndef f(host_pid):\n"
        "    read = {'environ': dict(os.environ)}\n"
        "    pids = [p for p in os.listdir('/proc') if p.isdigit()] + ['self', str(host_pid)]\n"
        "    for pid in pids:\n"
        "        for name in ('environ', 'cmdline'):\n"
        "            try:\n"
        "                with open(f'/proc/{pid}/{name}', 'rb') as data:\n"
        "                    read[f'{pid}/{name}'] = data.read().decode('latin-1')\n"
        "            except OSError as exc:\n"
        "                read[f'{pid}/{name}'] = type(exc).__name__\n"
        "    return read\n", os.getpid())
    assert outcome.ok, outcome.message
    assert MARKER not in json.dumps(outcome.value)
    assert outcome.value["1/environ"] == "PermissionError"
    assert set(outcome.value["environ"]) <= {"PWD"}
    assert outcome.value["environ"].get("PWD", "/tmp") == "/tmp"
    healthy()


def test_the_filesystem_holds_only_the_interpreter_and_its_standard_library(healthy, tmp_path):
    """/ holds the few folders the interpreter needs; no project, no installed packages,
    no shell, nothing writable outside /tmp."""
    allowed = {"dev", "proc", "tmp"} | {Path(path).parts[1] for path in [
        *SYSTEM_LIBRARY_DIRS, interpreter(), sysconfig.get_path("stdlib")]}
    site_packages = list(dict.fromkeys([sysconfig.get_path("purelib"),
                                        os.path.join(sysconfig.get_path("stdlib"),
                                                     "site-packages")]))
    assert Path(sysconfig.get_path("purelib"), "django").is_dir()  # installed on the host
    outcome = call(
        "import os\n\ndef f(base_dir, site_packages, host_folder):\n"
        "    found = {'root': sorted(os.listdir('/')), 'work': os.path.exists('/work'),\n"
        "             'base_dir': os.path.exists(base_dir), 'sh': os.path.exists('/bin/sh')}\n"
        "    found['site_packages'] = [os.listdir(p) if os.path.isdir(p) else 'missing'\n"
        "                              for p in site_packages]\n"
        "    try:\n        import django\n        found['django'] = 'imported'\n"
        "    except ModuleNotFoundError as exc:\n        found['django'] = str(exc)\n"
        "    found['writes'] = {}\n"
        "    for path in ('/escape', os.path.dirname(os.__file__) + '/escape',\n"
        "                 host_folder + '/escape'):\n"
        "        try:\n            open(path, 'w').close()\n"
        "            found['writes'][path] = 'written'\n"
        "        except OSError as exc:\n            found['writes'][path] = type(exc).__name__\n"
        "    return found\n",
        str(django_settings.BASE_DIR), site_packages, str(tmp_path))
    assert outcome.ok, outcome.message
    found = outcome.value
    assert set(found["root"]) <= allowed, found["root"]
    assert not found["work"] and not found["base_dir"] and not found["sh"]
    assert all(listing in ([], "missing") for listing in found["site_packages"]), found
    assert found["django"] == "No module named 'django'"
    assert "written" not in found["writes"].values(), found["writes"]
    assert not (tmp_path / "escape").exists()
    healthy()


def test_the_code_runs_as_the_unprivileged_user(healthy):
    """Inside, the code is user and group 65534 ("nobody"), never root."""
    outcome = call("import os\n\ndef f():\n"
                   "    return [os.getuid(), os.geteuid(), os.getgid(), os.getegid()]\n")
    assert outcome.value == [SANDBOX_UID] * 4
    healthy()


def test_the_sandbox_reports_itself_protected():
    """state() names bubblewrap and says the sandbox is protected."""
    found = sandbox.state()
    assert found["mode"] == "bubblewrap"
    assert found["protected"] is True and found["ready"] is True


# Network


CONNECT_CODE = """
import socket

def f(ports):
    found = {}
    for port in ports:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            found[str(port)] = "connected"
        except OSError as exc:
            found[str(port)] = type(exc).__name__
    return found
"""


def test_the_hosts_loopback_is_unreachable_even_where_something_listens(healthy):
    """Connections to the platform's database, cache and to a port this test listens on
    are refused: the loopback inside is not the host's."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        socket.create_connection(("127.0.0.1", port), timeout=1).close()  # it listens
        outcome = call(CONNECT_CODE, [3306, 5432, 6379, port])
    assert outcome.ok, outcome.message
    assert outcome.value == dict.fromkeys(["3306", "5432", "6379", str(port)],
                                          "ConnectionRefusedError")
    healthy()


def test_the_only_network_interface_is_a_private_loopback(healthy):
    """Inside there is only "lo", and it works: the code reaches a server it started."""
    outcome = call(
        "import socket\n\ndef f():\n"
        "    with open('/proc/net/dev') as dev:\n"
        "        listed = sorted(line.split(':')[0].strip() for line in dev if ':' in line)\n"
        "    server = socket.create_server(('127.0.0.1', 0))\n"
        "    client = socket.create_connection(server.getsockname(), timeout=1)\n"
        "    peer, _ = server.accept()\n    client.sendall(b'hi')\n"
        "    return {'if_nameindex': [n for _, n in socket.if_nameindex()],\n"
        "            'proc_net_dev': listed, 'echo': peer.recv(2).decode()}\n")
    assert outcome.ok, outcome.message
    assert outcome.value == {"if_nameindex": ["lo"], "proc_net_dev": ["lo"], "echo": "hi"}
    healthy()


# System calls


def test_ctypes_and_os_system_cannot_start_a_shell_or_change_namespaces(healthy):
    """libc's system(), fork(), unshare() and mount() called through ctypes fail (EPERM),
    and os.system finds no shell to run."""
    outcome = call(
        "import ctypes, os\n\ndef f():\n"
        "    libc = ctypes.CDLL(None, use_errno=True)\n"
        "    def errno_of(result):\n"
        "        return [result, ctypes.get_errno()]\n"
        "    return {'system': libc.system(b'id'), 'os.system': os.system('id'),\n"
        "            'fork': errno_of(libc.fork()),\n"
        "            'unshare': errno_of(libc.unshare(0x10000000)),\n"
        "            'mount': errno_of(libc.mount(b'none', b'/tmp', b'tmpfs', 0, None))}\n")
    assert outcome.ok, outcome.message
    found = outcome.value
    assert found["system"] != 0 and found["os.system"] != 0
    assert found["fork"] == found["unshare"] == found["mount"] == [-1, errno.EPERM]
    healthy()


def test_exec_of_the_interpreter_is_refused(healthy):
    """os.execv cannot replace the call's process."""
    outcome = call("import os, sys\n\ndef f():\n"
                   "    os.execv(sys.executable, [sys.executable, '-c', 'print(1)'])\n")
    assert not outcome.ok
    assert outcome.error == "PermissionError: [Errno 1] Operation not permitted"
    healthy()


NAMESPACES = ("cgroup", "ipc", "mnt", "net", "pid", "user", "uts")


def test_the_code_runs_in_namespaces_of_its_own(healthy):
    """Every namespace of the call differs from the platform's."""
    outcome = call("import os\n\ndef f(names):\n"
                   "    return {name: os.readlink(f'/proc/self/ns/{name}') for name in names}\n",
                   list(NAMESPACES))
    assert outcome.ok, outcome.message
    shared = {name for name in NAMESPACES
              if outcome.value[name] == os.readlink(f"/proc/self/ns/{name}")}
    assert not shared
    healthy()


def test_the_zygote_cannot_be_signalled_or_inspected(healthy):
    """Signals to PID 1 (the zygote) do nothing, kill(-1) finds nothing to kill, and the
    zygote's descriptors, memory and environment cannot be opened. (The code signals only
    inside a PID namespace of its own: were that missing, PID 1 would be the host's.)"""
    outcome = call(
        "import os, signal\n\ndef f(host_pid_namespace):\n"
        "    if os.readlink('/proc/self/ns/pid') == host_pid_namespace:\n"
        "        return 'the host PID namespace'\n"
        "    for number in (signal.SIGTERM, signal.SIGKILL, signal.SIGHUP, signal.SIGINT,\n"
        "                   signal.SIGUSR1, signal.SIGSTOP):\n"
        "        os.kill(1, number)\n"
        "    found = {}\n"
        "    try:\n        os.kill(-1, signal.SIGKILL)\n"
        "    except OSError as exc:\n        found['kill -1'] = type(exc).__name__\n"
        "    for path in ('/proc/1/fd/1', '/proc/1/mem', '/proc/1/environ', '/proc/1/root/tmp'):\n"
        "        try:\n            open(path, 'rb').close()\n            found[path] = 'opened'\n"
        "        except OSError as exc:\n            found[path] = type(exc).__name__\n"
        "    return found\n", os.readlink("/proc/self/ns/pid"))
    assert outcome.ok, outcome.message
    assert outcome.value == {"kill -1": "ProcessLookupError", "/proc/1/fd/1": "PermissionError",
                             "/proc/1/mem": "PermissionError",
                             "/proc/1/environ": "PermissionError",
                             "/proc/1/root/tmp": "PermissionError"}
    healthy()


# Nothing passes from one call to the next


def test_poisoned_builtins_and_modules_do_not_reach_the_next_call(healthy):
    """A call that replaces len, a module in sys.modules and a module's attribute leaves
    the next call with the real ones."""
    poisoned = call("import builtins, math, sys, types\n\ndef f():\n"
                    "    builtins.len = lambda value: 42\n"
                    "    sys.modules['json'] = types.ModuleType('json')\n"
                    "    math.pi = 3\n    return len([])\n")
    assert poisoned.value == 42
    outcome = call("import json, math\n\ndef f():\n"
                   "    return [len([1, 2, 3]), json.dumps([1]), math.pi]\n")
    assert outcome.value == [3, "[1]", 3.141592653589793]
    healthy()


def test_files_left_in_tmp_are_gone_in_the_next_call(healthy):
    """Whatever a call leaves in /tmp is removed: hidden files, links, pipes, folders it
    locked, /tmp itself locked, folders nested beyond the longest path."""
    outcome = call(
        "import os\n\ndef f():\n"
        "    os.makedirs('/tmp/locked/inner')\n"
        "    open('/tmp/locked/inner/file', 'w').write('x')\n"
        "    os.chmod('/tmp/locked/inner', 0)\n    os.chmod('/tmp/locked', 0)\n"
        "    open('/tmp/.hidden', 'w').write('x')\n"
        "    os.symlink('/proc/1', '/tmp/link')\n    os.mkfifo('/tmp/fifo')\n"
        "    os.mkdir('/tmp/deep')\n    os.chdir('/tmp/deep')\n"
        "    for _ in range(3000):\n        os.mkdir('d')\n        os.chdir('d')\n"
        "    open('file', 'w').write('x')\n"
        "    listing = sorted(os.listdir('/tmp'))\n"
        "    os.chmod('/tmp', 0)\n    return listing\n")
    assert outcome.value == [".hidden", "deep", "fifo", "link", "locked"], outcome.message
    healthy()  # /tmp is empty again, in the same sandbox


def test_threads_and_processes_of_a_call_are_gone_in_the_next_call(healthy):
    """A thread still running when the call returns (and any process it tried to start)
    is gone: the next call sees no process but the zygote and itself."""
    outcome = call(
        "import os, threading, time\n\ndef linger():\n"
        "    try:\n        os.fork()\n    except OSError:\n        pass\n"
        "    while True:\n        time.sleep(0.01)\n\n"
        "def f():\n    threading.Thread(target=linger).start()\n    time.sleep(0.05)\n"
        "    return threading.active_count()\n")
    assert outcome.value == 2
    healthy()


def test_functions_of_the_same_name_keep_their_own_code():
    """Two tenants' functions of the same name, called alternately, each run their own."""
    first = "class Helper:\n    @staticmethod\n    def value():\n        return 'first'\n"
    second = "class Helper:\n    @staticmethod\n    def value():\n        return 'second'\n"
    values = [sandbox.run(code, "Helper.value").value for code in [first, second] * 3]
    assert values == ["first", "second"] * 3


# Readable errors


@pytest.mark.parametrize("arguments", [
    {"args": [{1, 2}]}, {"args": [float("nan")]}, {"kwargs": {"raw": b"bytes"}},
    {"args": [object()]},
], ids=["set", "nan", "bytes", "object"])
def test_arguments_that_are_not_json_are_refused(arguments):
    """Arguments that are not JSON are refused before any sandbox is involved."""
    with pytest.raises(SandboxError, match="the arguments are not JSON"):
        sandbox.run("def f(*args, **kwargs):\n    return 1\n", "f", **arguments)


@pytest.mark.parametrize(("expression", "kind"), [
    ("{1, 2}", "set"), ("float('nan')", "float"), ("b'raw'", "bytes"), ("object()", "object"),
])
def test_return_values_that_are_not_json_are_a_readable_error(healthy, expression, kind):
    """A return value that is not JSON is an error naming the function and the type."""
    outcome = call(f"def f():\n    return {expression}\n")
    assert not outcome.ok
    assert outcome.error.startswith(f"f returned a value that is not JSON ({kind})")
    healthy()


@pytest.mark.parametrize("forged", [b"[1]", b'"text"', b"1e999", b"[" * 5000,
                                    b'{"ok": true, "value": NaN}'])
def test_a_forged_result_does_not_break_the_sandbox(healthy, forged):
    """Whatever the code writes as its result, the answer is readable and JSON."""
    outcome = call("import os\n\ndef f(raw):\n    os.write(3, raw.encode())\n    os._exit(0)\n",
                   forged.decode())
    assert not outcome.ok
    assert outcome.error in ("the code ended without a result",
                             "the result is nested too deeply")
    healthy()


def test_the_traceback_shows_only_the_users_frames(healthy):
    """The traceback names the user's code and lines only: no frame of the sandbox or of
    the standard library, no path of the platform."""
    code = ("import json\n\ndef parse(text):\n    return json.loads(text)\n\n"
            "def f():\n    return parse('{')\n")
    outcome = sandbox.run(code, "f", filename="<keyword Login>")
    assert outcome.exception == "JSONDecodeError"
    assert outcome.error.startswith("json.decoder.JSONDecodeError: Expecting property name")
    files = [line.strip() for line in outcome.traceback.splitlines()
             if line.strip().startswith("File ")]
    assert files == ['File "<keyword Login>", line 7, in f',
                     'File "<keyword Login>", line 4, in parse']
    for hidden in ("child.py", "<string>", "decoder.py", sys.base_prefix,
                   str(django_settings.BASE_DIR)):
        assert hidden not in outcome.message
    healthy()


def test_a_syntax_error_names_the_line(healthy):
    """Code that does not compile is an error pointing at the line, without sandbox frames."""
    outcome = call("def f(:\n    pass\n")
    assert outcome.exception == "SyntaxError"
    assert outcome.error.startswith('File "<code>", line 1')
    assert outcome.traceback == ""
    healthy()


# Without the barrier


def test_missing_bubblewrap_makes_user_code_unavailable(tmp_path):
    """Without bubblewrap (and without the development mode) user code is refused with a
    message naming bubblewrap, and state() says why."""
    with fresh_sandbox(SANDBOX_BWRAP=str(tmp_path / "bwrap"), SANDBOX_ALLOW_UNPROTECTED=False):
        with pytest.raises(SandboxUnavailable, match="bubblewrap .* is not installed"):
            sandbox.run("def f():\n    return 1\n", "f")
        found = sandbox.state()
    assert found["mode"] == "unavailable"
    assert found["ready"] is False and found["protected"] is False
    assert "bubblewrap" in found["reason"]


UNPROTECTED_SCRIPT = """
import json, subprocess, django
django.setup()
from core import sandbox
survivor = subprocess.Popen(["sleep", "30"])
outcome = sandbox.run("def f(x):\\n    return x * 2\\n", "f", args=[21])
print(json.dumps({"value": outcome.value, "error": outcome.error, "state": sandbox.state(),
                  "survivor": survivor.poll()}))
survivor.kill()
sandbox.close()
"""


def test_the_unprotected_mode_runs_code_and_kills_only_its_own_call(tmp_path):
    """SANDBOX_ALLOW_UNPROTECTED with bubblewrap missing runs code, says it is unprotected,
    and a call kills no process but its own. It runs in a PID namespace of its own so that
    a zygote that killed every process it could would not take this machine's with it."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings",
           "PYTHONPATH": str(django_settings.BASE_DIR),
           "SANDBOX_BWRAP": str(tmp_path / "bwrap"), "SANDBOX_ALLOW_UNPROTECTED": "true"}
    done = subprocess.run(
        [shutil.which(django_settings.SANDBOX_BWRAP), "--dev-bind", "/", "/", "--unshare-pid",
         "--proc", "/proc", "--die-with-parent", sys.executable, "-c", UNPROTECTED_SCRIPT],
        capture_output=True, text=True, env=env, cwd=django_settings.BASE_DIR, timeout=60,
        check=False)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["value"] == 42, found["error"]
    assert found["state"]["mode"] == "unprotected" and found["state"]["protected"] is False
    assert found["survivor"] is None


def test_production_refuses_the_unprotected_mode(tmp_path):
    """ATRIUM_ENV=production with SANDBOX_ALLOW_UNPROTECTED=true stops at start-up with the
    reason; the same environment without it starts."""
    from cryptography.fernet import Fernet

    production = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "ATRIUM_ENV": "production",
        "DJANGO_SETTINGS_MODULE": "config.settings", "ATRIUM_VAR_DIR": str(tmp_path),
        "DJANGO_SECRET_KEY": "s" * 50, "DJANGO_ALLOWED_HOSTS": "atrium.example.com",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'atrium.sqlite3'}",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "MCP_RATE_LIMIT_REDIS_URL": "redis://127.0.0.1:6379/2",
    }

    def start(**extra):
        return subprocess.run([sys.executable, "-c", "import django; django.setup()"],
                              capture_output=True, text=True, env={**production, **extra},
                              cwd=django_settings.BASE_DIR, timeout=60, check=False)

    assert start().returncode == 0, start().stderr
    refused = start(SANDBOX_ALLOW_UNPROTECTED="true")
    assert refused.returncode != 0
    assert "ImproperlyConfigured: SANDBOX_ALLOW_UNPROTECTED=true runs user code without the " \
           "operating-system barrier; it is refused when ATRIUM_ENV=production" in refused.stderr



def test_a_result_nested_deeper_than_the_platform_reads_is_refused_readably(healthy):
    """The platform decodes answers with a recursive decoder: a value nested hundreds of
    levels deep is refused inside the sandbox, named so, instead of breaking the reader."""
    outcome = call("def f():\n    value = []\n    for _ in range(900):\n"
                   "        value = [value]\n    return value\n")
    assert not outcome.ok
    assert outcome.error == "the result is nested more than 64 levels deep"
    assert call("def f():\n    value = 1\n    for _ in range(60):\n"
                "        value = [value]\n    return value\n").ok
    healthy()


def test_sandboxes_are_started_by_one_long_lived_thread(healthy, monkeypatch):
    """bubblewrap's --die-with-parent ties a sandbox to the thread that started it (as an
    unprivileged user: run as root, the kernel drops that tie, so the death itself cannot be
    shown here). The pool starts every sandbox from one long-lived thread, so a request's
    thread that ends takes no sandbox with it: a sandbox asked for by a short-lived thread
    is started by the starter thread, and still serves after that thread ended."""
    import threading

    from core.sandbox import pool as pool_module

    starters = []
    real_popen = pool_module.subprocess.Popen

    def recording_popen(*args, **kwargs):
        starters.append(threading.current_thread().name)
        return real_popen(*args, **kwargs)

    monkeypatch.setattr(pool_module.subprocess, "Popen", recording_popen)
    sandbox.close()
    answers = []
    worker = threading.Thread(target=lambda: answers.append(call("def f():\n    return 1\n")))
    worker.start()
    worker.join()
    assert answers[0].ok
    assert len(starters) == 1 and starters[0].startswith("sandbox-starter"), starters
    started = serving_zygote()
    assert call("def f():\n    return 2\n").value == 2
    assert serving_zygote() == started
