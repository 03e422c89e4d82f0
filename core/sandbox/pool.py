"""The warm pool: sandboxes started ahead, each serving one call at a time.

A sandbox is one zygote (``child.py``) behind the barrier. A call forks a fresh child from
the zygote's clean state, so calls never share interpreter state, files or processes (see
``child.py``), while no call pays for starting a process and a Python. A sandbox that broke
a limit of its own (it stopped answering) is killed and replaced; one whose call merely
failed is reused.

Each process of the platform (a web worker, a Celery worker child) has its own pool,
started lazily and forgotten across ``fork()``.
"""

from __future__ import annotations

import atexit
import base64
import json
import os
import selectors
import struct
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from core.sandbox.barrier import Barrier, child_source

GRACE_SECONDS = 2.0      # beyond a call's wall clock before the zygote itself is given up
START_SECONDS = 30.0


class ZygoteGone(Exception):
    """The sandbox process stopped answering or died; it is discarded."""


class Zygote:
    """One sandbox process and its pipes."""

    def __init__(self, barrier: Barrier, config: dict) -> None:
        argv = [*barrier.argv_prefix, "-I", "-S", "-B", "-c", child_source()]
        self.process = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env={}, cwd="/", start_new_session=True, close_fds=True)
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.process.stdout, selectors.EVENT_READ)
        self.calls = 0
        try:
            self.send(config)
            self.receive(time.monotonic() + START_SECONDS)
        except ZygoteGone as exc:
            detail = self.stderr_tail()
            self.kill()
            raise ZygoteGone(f"the sandbox did not start: {detail or exc}") from None

    def send(self, data: dict) -> None:
        raw = json.dumps(data, allow_nan=False).encode()
        try:
            self.process.stdin.write(struct.pack(">I", len(raw)) + raw)
            self.process.stdin.flush()
        except (BrokenPipeError, OSError, ValueError) as exc:
            raise ZygoteGone(f"the sandbox closed its input ({exc})") from None

    def _read(self, size: int, deadline: float) -> bytes:
        fd = self.process.stdout.fileno()
        chunks = bytearray()
        while len(chunks) < size:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self.selector.select(remaining):
                raise ZygoteGone("the sandbox did not answer in time")
            chunk = os.read(fd, size - len(chunks))
            if not chunk:
                raise ZygoteGone("the sandbox ended")
            chunks.extend(chunk)
        return bytes(chunks)

    def receive(self, deadline: float) -> dict:
        (size,) = struct.unpack(">I", self._read(4, deadline))
        try:
            answer = json.loads(self._read(size, deadline))
        except (ValueError, RecursionError):
            raise ZygoteGone("the sandbox answered something that is not its protocol") from None
        if not isinstance(answer, dict):
            raise ZygoteGone("the sandbox answered something that is not its protocol")
        return answer

    def alive(self) -> bool:
        return self.process.poll() is None

    def stderr_tail(self) -> str:
        try:
            os.set_blocking(self.process.stderr.fileno(), False)
            data = self.process.stderr.read(4096) or b""
        except (OSError, ValueError, TypeError):
            data = b""
        lines = data.decode("utf-8", "replace").strip().splitlines()
        return lines[-1] if lines else ""

    def kill(self) -> None:
        try:
            os.killpg(self.process.pid, 9)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.process.kill()
            self.process.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self.close()

    def close(self) -> None:
        self.selector.close()
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            try:
                stream.close()
            except (OSError, ValueError):
                pass


class Pool:
    """Up to ``size`` sandboxes of one barrier, handed out one call at a time."""

    def __init__(self, barrier: Barrier, *, size: int, config: dict) -> None:
        self.barrier = barrier
        self.size = max(1, size)
        self.config = config
        self.idle: list[Zygote] = []
        self.started = 0
        self.replaced = 0
        self.condition = threading.Condition()
        self.closed = False

    def _new(self) -> Zygote:
        # bubblewrap's --die-with-parent follows the thread that started it: a sandbox
        # started by a request's thread would die with that thread. One long-lived thread
        # of the process starts them all.
        return _starter().submit(Zygote, self.barrier, self.config).result()

    def acquire(self) -> Zygote:
        with self.condition:
            while True:
                while self.idle:
                    zygote = self.idle.pop()
                    if zygote.alive():
                        return zygote
                    zygote.close()
                    self.started -= 1
                if self.started < self.size:
                    self.started += 1
                    break
                self.condition.wait()
        try:
            return self._new()
        except BaseException:
            with self.condition:
                self.started -= 1
                self.condition.notify()
            raise

    def release(self, zygote: Zygote, *, broken: bool = False) -> None:
        keep = not broken and zygote.alive() and not self.closed
        if not keep:
            zygote.kill()
        with self.condition:
            if keep:
                self.idle.append(zygote)
            else:
                self.started -= 1
                self.replaced += broken
            self.condition.notify()

    def warm(self) -> None:
        """Start every sandbox of the pool now rather than at the first calls."""
        zygotes = []
        with self.condition:
            missing = self.size - self.started
            self.started += missing
        try:
            for _ in range(missing):
                zygotes.append(self._new())
        finally:
            with self.condition:
                self.started -= missing - len(zygotes)
                self.idle.extend(zygotes)
                self.condition.notify_all()

    def call(self, request: dict) -> dict:
        """Send one call to a sandbox; return its answer (``ZygoteGone`` when it broke)."""
        zygote = self.acquire()
        deadline = time.monotonic() + float(request["limits"]["wall_seconds"]) + GRACE_SECONDS
        try:
            zygote.send(request)
            answer = zygote.receive(deadline)
        except BaseException:
            self.release(zygote, broken=True)
            raise
        zygote.calls += 1
        # A sandbox whose /tmp could not be emptied would hand a call's files to the next.
        self.release(zygote, broken=bool(answer.pop("retire", False)))
        return answer

    def close(self) -> None:
        with self.condition:
            self.closed = True
            idle, self.idle = self.idle, []
            self.started -= len(idle)
        for zygote in idle:
            zygote.kill()

    def forget(self) -> None:
        """In a forked child: drop the parent's sandboxes without touching them."""
        for zygote in self.idle:
            zygote.close()
        self.idle = []
        self.started = 0
        self.condition = threading.Condition()

    def state(self) -> dict[str, Any]:
        return {"size": self.size, "running": self.started, "idle": len(self.idle),
                "replaced": self.replaced}


def config_frame(barrier: Barrier, modules: dict[str, str], seccomp: bytes) -> dict:
    return {"modules": modules, "seccomp": base64.b64encode(seccomp).decode("ascii"),
            "tmp": barrier.tmp, "isolated": barrier.isolated}


_registered_exit = False
_executor: list[ThreadPoolExecutor] = []
_executor_lock = threading.Lock()


def _starter() -> ThreadPoolExecutor:
    with _executor_lock:
        if not _executor:
            _executor.append(ThreadPoolExecutor(max_workers=1,
                                                thread_name_prefix="sandbox-starter"))
        return _executor[0]


def forget_starter() -> None:
    """In a forked child: the parent's starter thread does not exist here."""
    global _executor_lock
    _executor.clear()
    _executor_lock = threading.Lock()


def register_exit(close) -> None:
    global _registered_exit
    if not _registered_exit:
        atexit.register(close)
        _registered_exit = True
