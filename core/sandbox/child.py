"""The program that runs inside the sandbox: a zygote that forks one child per call.

This file is never imported by the platform. ``core.sandbox.pool`` reads its text and starts
``python -I -S -B -c <text>`` inside the barrier, so it may use the standard library only
and nothing of the project. It speaks frames on its stdin and stdout: a four-byte
big-endian length, then UTF-8 JSON.

1. The first frame configures it: helper modules to offer (their source), the seccomp
   program to load in every child (raw BPF, base64), the size of ``/tmp``.
2. Every further frame is one call: code, the function to call, JSON arguments, limits.
   The zygote forks; the child lowers its limits, loads the seccomp program, redirects its
   output to a pipe, compiles and runs the code and writes the JSON result to a second
   pipe. The zygote reads both with a deadline and a size cap, then kills every other
   process of the sandbox (it is PID 1 of its own PID namespace) and empties ``/tmp``, so
   nothing a call started or wrote reaches the next call. The zygote itself never runs
   user code: each call starts from the zygote's clean interpreter state. When ``/tmp``
   cannot be emptied the answer says ``retire`` and the pool replaces the sandbox.
"""

import base64
import builtins
import ctypes
import errno
import inspect
import json
import linecache
import os
import resource
import select
import signal
import struct
import sys
import time
import traceback
import types

# Modules many keywords use, imported once here so that no call pays for them.
for _name in ("datetime", "decimal", "hashlib", "hmac", "math", "random", "re", "string",
              "uuid", "collections", "functools", "itertools", "urllib.parse"):
    __import__(_name)

PROTOCOL_IN = 0
PROTOCOL_OUT = 1
PR_SET_NO_NEW_PRIVS = 38
PR_SET_DUMPABLE = 4
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
RESULT_LIMIT_FACTOR = 1  # the result shares the output cap
# What the child's result may set in the answer; anything else it wrote is ignored.
RESULT_KEYS = ("ok", "value", "error", "traceback", "exception", "breach")


# The platform reads answers with the JSON decoder, which recurses: a result stays well
# within its depth (the reply wraps the value in two more levels).
MAX_DEPTH = 66


def depth(value):
    """Return how deeply ``value`` nests lists and objects (without recursing)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (list, dict)):
            deepest = max(deepest, level)
            if level > MAX_DEPTH:
                return level
            stack.extend((child, level + 1) for child in
                         (item.values() if isinstance(item, dict) else item))
    return deepest


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def read_exact(fd, size):
    chunks = []
    while size:
        chunk = os.read(fd, size)
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def read_frame():
    (size,) = struct.unpack(">I", read_exact(PROTOCOL_IN, 4))
    return json.loads(read_exact(PROTOCOL_IN, size))


def write_frame(data):
    raw = json.dumps(data).encode()
    os.write(PROTOCOL_OUT, struct.pack(">I", len(raw)))
    view = memoryview(raw)
    while view:
        view = view[os.write(PROTOCOL_OUT, view):]


def human_bytes(size):
    if size >= 1024 * 1024 and size % (1024 * 1024) == 0:
        return f"{size // (1024 * 1024)} MB"
    if size >= 1024 and size % 1024 == 0:
        return f"{size // 1024} KB"
    return f"{size} bytes"


class Zygote:
    def __init__(self, config):
        self.tmp = config.get("tmp") or ""
        self.tmp_mode = os.stat(self.tmp).st_mode & 0o7777 if self.tmp else 0
        # Inside bubblewrap this process is PID 1 of its own namespace, and every other
        # process there belongs to the call. Without it (the unprotected development mode)
        # only the child's own session may be killed.
        self.isolated = bool(config.get("isolated"))
        self.seccomp = base64.b64decode(config.get("seccomp") or "")
        self.libc = ctypes.CDLL(None, use_errno=True)
        for name, source in (config.get("modules") or {}).items():
            module = types.ModuleType(name)
            exec(compile(source, f"<{name}>", "exec"), module.__dict__)
            sys.modules[name] = module
        # Nothing may read this process's memory or descriptors through /proc.
        self.libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)

    # The zygote's side of a call

    def serve(self):
        while True:
            try:
                request = read_frame()
            except EOFError:
                return
            write_frame(self.call(request))

    def call(self, request):
        limits = request["limits"]
        output_cap = int(limits["output_bytes"])
        result_r, result_w = os.pipe()
        output_r, output_w = os.pipe()
        started = time.monotonic()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(result_r)
                os.close(output_r)
                self.child(request, limits, result_w, output_w)
            finally:
                os._exit(70)
        os.close(result_w)
        os.close(output_w)
        deadline = started + float(limits["wall_seconds"])
        result, output = bytearray(), bytearray()
        breach = None
        open_fds = {result_r: result, output_r: output}
        while open_fds and breach is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                breach = f"exceeded {limits['wall_seconds']:g} s of wall-clock time"
                break
            ready, _, _ = select.select(list(open_fds), [], [], remaining)
            for fd in ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    os.close(fd)
                    del open_fds[fd]
                    continue
                buffer = open_fds[fd]
                buffer.extend(chunk)
                if len(buffer) > output_cap:
                    what = "printed" if fd == output_r else "returned"
                    breach = f"{what} more than {human_bytes(output_cap)} of output"
                    break
        for fd in open_fds:
            os.close(fd)
        status, usage = self.reap(pid)
        wall_ms = (time.monotonic() - started) * 1000
        cpu_ms = (usage.ru_utime + usage.ru_stime) * 1000 if usage else 0.0
        answer = {"wall_ms": round(wall_ms, 3), "cpu_ms": round(cpu_ms, 3),
                  "output": output[:output_cap].decode("utf-8", "replace")}
        if not self.reset():
            answer["retire"] = True
        if breach is None:
            breach = self.breach_of(status, limits, cpu_ms, result)
        if breach is not None:
            answer.update(ok=False, breach=True, error=breach)
            return answer
        answer.update(self.reply_of(result))
        return answer

    @staticmethod
    def reply_of(result):
        """Return the answer's part that the child wrote, or why there is none. User code
        can write anything to descriptor 3: only a JSON object with JSON values counts."""
        try:
            reply = json.loads(bytes(result))
            json.dumps(reply, allow_nan=False)
        except RecursionError:
            return {"ok": False, "error": "the result is nested too deeply"}
        except ValueError:
            reply = None
        if not isinstance(reply, dict) or "ok" not in reply:
            return {"ok": False, "error": "the code ended without a result"}
        if depth(reply) > MAX_DEPTH:
            return {"ok": False, "error": f"the result is nested more than {MAX_DEPTH - 2} "
                                          "levels deep"}
        return {key: reply[key] for key in RESULT_KEYS if key in reply}

    def reap(self, pid):
        """Kill the call's processes (every process of the namespace but this one); return
        the child's wait status and resource usage."""
        status, usage = None, None
        try:
            if self.isolated:
                os.kill(-1, signal.SIGKILL)
            else:
                os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        while True:
            try:
                waited, wait_status, wait_usage = os.wait4(-1 if self.isolated else pid, 0)
            except ChildProcessError:
                break
            if waited == pid:
                status, usage = wait_status, wait_usage
        return status, usage

    def breach_of(self, status, limits, cpu_ms, result):
        if status is None or not os.WIFSIGNALED(status):
            return None
        number = os.WTERMSIG(status)
        if number == signal.SIGKILL and result:
            return None  # killed by the reset after it wrote its result and exited its work
        if number in (signal.SIGXCPU,) or (number == signal.SIGKILL
                                            and cpu_ms >= limits["cpu_seconds"] * 1000 * 0.95):
            return f"exceeded {limits['cpu_seconds']:g} s of CPU time"
        if number == signal.SIGSEGV:
            return ("crashed with a segmentation fault (the usual cause is recursion deeper "
                    "than the stack allows)")
        if number == signal.SIGKILL:
            return "was killed"
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = str(number)
        return f"was killed by signal {name}"

    def reset(self):
        """Empty /tmp: what one call wrote never reaches the next one. Return False when
        something could not be removed (the sandbox must not serve another call)."""
        if not self.tmp:
            return True
        # Depth-first by relative names, opening each folder up first: a call may leave
        # folders without permissions (``/tmp`` itself too), or nested deeper than a path
        # or Python's recursion can reach.
        entered = []
        try:
            os.chmod(self.tmp, self.tmp_mode)
            os.chdir(self.tmp)
            while True:
                with os.scandir(".") as entries:
                    entry = next(entries, None)
                if entry is None:
                    if not entered:
                        return True
                    os.chdir("..")
                    os.rmdir(entered.pop())
                elif entry.is_dir(follow_symlinks=False):
                    os.chmod(entry.name, 0o700)
                    os.chdir(entry.name)
                    entered.append(entry.name)
                else:
                    os.unlink(entry.name)
        except OSError:
            return False

    # The child's side of a call

    def child(self, request, limits, result_w, output_w):
        os.setsid()
        null = os.open("/dev/null", os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(output_w, 1)
        os.dup2(output_w, 2)
        for fd in (null, output_w):
            os.close(fd)
        # The result goes to descriptor 3; everything else the zygote had open is closed.
        if result_w != 3:
            os.dup2(result_w, 3)
            os.close(result_w)
        os.closerange(4, 65536)
        sys.stdout = open(1, "w", encoding="utf-8", errors="replace", closefd=False,
                          buffering=1)
        sys.stderr = sys.stdout
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # an oversized write raises EFBIG
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        cpu = int(limits["cpu_seconds"] + 0.999)
        for name, value in ((resource.RLIMIT_CPU, (cpu, cpu + 1)),
                            (resource.RLIMIT_AS, (limits["memory_bytes"],) * 2),
                            (resource.RLIMIT_NPROC, (limits["processes"],) * 2),
                            (resource.RLIMIT_FSIZE, (limits["file_bytes"],) * 2),
                            (resource.RLIMIT_NOFILE, (limits["open_files"],) * 2),
                            (resource.RLIMIT_CORE, (0, 0))):
            resource.setrlimit(name, value)
        self.load_seccomp()
        reply = self.run(request, limits)
        try:
            raw = json.dumps(reply, allow_nan=False).encode()
        except (TypeError, ValueError) as exc:
            raw = json.dumps({"ok": False, "error": f"the result is not JSON: {exc}"}).encode()
        sys.stdout.flush()
        view = memoryview(raw)
        while view:
            view = view[os.write(3, view):]
        os._exit(0)

    def load_seccomp(self):
        if not self.seccomp:
            return
        program = ctypes.create_string_buffer(self.seccomp, len(self.seccomp))
        fprog = SockFprog(len(self.seccomp) // 8, ctypes.cast(program, ctypes.c_void_p))
        if self.libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 or self.libc.prctl(
                PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
            os.write(3, json.dumps({"ok": False, "error": "the system call filter could not "
                                    "be loaded: " + os.strerror(ctypes.get_errno())}).encode())
            os._exit(0)

    def run(self, request, limits):
        filename = request.get("filename") or "<code>"
        code = request["code"]
        linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
        namespace = {"__name__": "__user__", "__builtins__": builtins}
        try:
            exec(compile(code, filename, "exec"), namespace)
            function = self.resolve(namespace, request["entry"])
            if isinstance(function, str):
                return {"ok": False, "error": function}
            value = function(*request.get("args", []), **request.get("kwargs", {}))
        except BaseException as exc:  # noqa: BLE001 - every error of user code is the answer
            return self.failure(exc, filename, limits)
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as exc:
            return {"ok": False, "error": f"{request['entry']} returned a value that is not "
                                          f"JSON ({type(value).__name__}): {exc}"}
        return {"ok": True, "value": value}

    @staticmethod
    def resolve(namespace, entry):
        """Return the function ``entry`` names ("name" or "Class.method"), or why not."""
        name, _, method = entry.partition(".")
        target = namespace.get(name)
        if target is None:
            return f"the code defines no {name}"
        if method:
            if not isinstance(target, type):
                return f"{name} is not a class"
            static = inspect.getattr_static(target, method, None)
            if static is None:
                return f"the class {name} has no method {method}"
            if not isinstance(static, (staticmethod, classmethod)):
                target = target()  # an instance method: called on a new instance
            target = getattr(target, method)
        if not callable(target):
            return f"{entry} is not a function"
        return target

    def failure(self, exc, filename, limits):
        frames = [frame for frame in traceback.extract_tb(exc.__traceback__)
                  if frame.filename == filename]
        lines = traceback.format_list(frames)
        message = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        breach = False
        if isinstance(exc, MemoryError):
            breach = True
            message = (f"exceeded {human_bytes(limits['memory_bytes'])} of memory "
                       f"(MemoryError)")
        elif isinstance(exc, OSError) and exc.errno == errno.EFBIG:
            breach = True
            message = f"wrote more than {human_bytes(limits['file_bytes'])} to a file"
        elif isinstance(exc, RecursionError):
            message = f"RecursionError: {exc}"
        return {"ok": False, "error": message, "traceback": "".join(lines).rstrip(),
                "exception": type(exc).__name__, "breach": breach}


def main():
    config = read_frame()
    zygote = Zygote(config)
    write_frame({"ready": True, "pid": os.getpid()})
    zygote.serve()


main()
