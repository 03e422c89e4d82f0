"""Run the MCP SDK's coroutines for a synchronous Django view, and Django work back on its thread.

The SDK is asynchronous; the platform's views, ORM and transactions are synchronous and
bound to the request's thread (its database connection, its test transaction, its tenant
context). ``asgiref.async_to_sync`` would bridge the two, but it starts a new thread and a
new event loop for every call (about a millisecond, measured in ``bench/mcp_gateway.py``).
This module keeps one event loop per process, in a daemon thread started on first use:

* ``run(coroutine_function, *args)``, called from the request's thread, schedules the
  coroutine on the loop in a copy of the caller's context and, while it runs, executes on
  the calling thread whatever the coroutine hands back with ``run_sync``; it returns the
  coroutine's result or raises its exception;
* ``run_sync(fn, *args)``, awaited inside such a coroutine, runs ``fn`` on the request's
  thread (asgiref's ``CurrentThreadExecutor``, as ``sync_to_async`` does) in a copy of the
  coroutine's context.

Requests of different threads share the loop; each has its own executor. A process forked
after the loop started (a pre-forking server) starts its own loop on first use.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import os
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from asgiref.current_thread_executor import CurrentThreadExecutor

T = TypeVar("T")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_loop_pid: int | None = None
_executor: contextvars.ContextVar[CurrentThreadExecutor | None] = contextvars.ContextVar(
    "atrium_mcp_executor", default=None
)


def _running_loop() -> asyncio.AbstractEventLoop:
    """Return the process's loop, starting its thread on first use (and after a fork)."""
    global _loop, _loop_pid
    with _lock:
        if _loop is None or _loop_pid != os.getpid() or not _loop.is_running():
            loop = asyncio.new_event_loop()
            started = threading.Event()

            def serve() -> None:
                asyncio.set_event_loop(loop)
                loop.call_soon(started.set)
                loop.run_forever()

            threading.Thread(target=serve, name="atrium-mcp-loop", daemon=True).start()
            started.wait()
            _loop, _loop_pid = loop, os.getpid()
        return _loop


def run(coroutine_function: Callable[..., Awaitable[T]], *args: Any) -> T:
    """Run ``coroutine_function(*args)`` on the loop from a synchronous thread."""
    executor = CurrentThreadExecutor(_executor.get())
    context = contextvars.copy_context()
    context.run(_executor.set, executor)
    loop = _running_loop()
    outcome: concurrent.futures.Future = concurrent.futures.Future()

    def start() -> None:
        task = loop.create_task(coroutine_function(*args), context=context)

        def finish(done: asyncio.Task) -> None:
            if done.cancelled():
                outcome.cancel()
            elif done.exception() is not None:
                outcome.set_exception(done.exception())
            else:
                outcome.set_result(done.result())

        task.add_done_callback(finish)

    loop.call_soon_threadsafe(start)
    executor.run_until_future(outcome)
    return outcome.result()


async def run_sync(fn: Callable[..., T], *args: Any) -> T:
    """Run ``fn(*args)`` on the thread that called ``run``, and return its result."""
    executor = _executor.get()
    if executor is None:
        raise RuntimeError("run_sync is awaited only inside gateway.bridge.run.")
    context = contextvars.copy_context()
    return await asyncio.wrap_future(executor.submit(context.run, fn, *args))
