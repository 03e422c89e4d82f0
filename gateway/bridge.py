"""Run the MCP SDK's coroutines for a synchronous Django view, with the Django work on the view's thread.

The SDK is asynchronous; the platform's views, ORM and transactions are synchronous and
bound to the request's thread (its database connection, its test transaction, its tenant
context). ``asgiref.async_to_sync`` would bridge the two, but it starts a thread and an
event loop for every call; a shared loop in a thread of its own costs four thread
hand-offs per request instead (both measured in ``bench/mcp_gateway.py``). This module
drives an event loop on the calling thread itself, one loop per thread, kept between
requests:

* ``run(coroutine_function, *args)``, called from synchronous code, runs the coroutine to
  completion on the thread's loop, in a copy of the caller's context, and returns its
  result or raises its exception;
* ``run_sync(fn, *args)``, awaited inside such a coroutine, pauses the loop and runs
  ``fn`` on the same thread *outside* the running loop (Django refuses ORM work while a
  loop runs on its thread), in a copy of the coroutine's context, then resumes the loop
  with ``fn``'s result.

Tasks the coroutine leaves behind on purpose (the SDK's session manager, see
``gateway.server``) stay on the thread's loop and run again with the next request.
``loop_state()`` is where such a task's owner keeps it: one dictionary per loop. A loop
whose thread has ended (a server that starts a thread per request) is shut down, its
tasks cancelled, when the next thread starts its loop. A process forked after the parent
used a loop starts its own. A ``run`` nested in the Django work of another (nothing does
this today) gets a loop of its own for its duration.
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import logging
import os
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")
logger = logging.getLogger("atrium.mcp")
RESIDENTS = "bridge.residents"
# How long a finished request waits for the tasks it started to wind down (they take well
# under a millisecond; a task still running after this is reported and left on the loop).
SETTLE_SECONDS = 1.0


@dataclass
class _ThreadLoop:
    loop: asyncio.AbstractEventLoop
    thread: threading.Thread
    pid: int
    state: dict = field(default_factory=dict)
    busy: bool = False


@dataclass
class _Run:
    """One ``run``: its loop and the synchronous work its coroutine handed back."""

    loop: asyncio.AbstractEventLoop
    state: dict
    work: collections.deque = field(default_factory=collections.deque)


_lock = threading.Lock()
_loops: dict[int, _ThreadLoop] = {}  # thread ident -> its loop
_local = threading.local()
_run: contextvars.ContextVar[_Run | None] = contextvars.ContextVar("atrium_mcp_run", default=None)


def _shutdown(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel the tasks left on a loop that is not running, and close it."""
    if loop.is_closed():
        return
    tasks = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.close()


def _thread_loop() -> _ThreadLoop:
    """Return the calling thread's loop, creating it (and reaping dead threads' loops)."""
    entry: _ThreadLoop | None = getattr(_local, "entry", None)
    if entry is not None and entry.pid == os.getpid() and not entry.loop.is_closed():
        return entry
    pid = os.getpid()
    with _lock:
        if any(other.pid != pid for other in _loops.values()):
            _loops.clear()  # forked: the parent's loops are not this process's to close
        dead = [ident for ident, other in _loops.items() if not other.thread.is_alive()]
        dead_loops = [_loops.pop(ident) for ident in dead]
        entry = _ThreadLoop(loop=asyncio.new_event_loop(), thread=threading.current_thread(),
                            pid=pid)
        _loops[threading.get_ident()] = entry
    for other in dead_loops:
        _shutdown(other.loop)
    _local.entry = entry
    return entry


def _settle(loop: asyncio.AbstractEventLoop, state: dict, earlier: set) -> None:
    """Let the tasks a request started (beyond the loop's resident ones) finish now.

    The SDK ends a stateless request's server task after the answer is written; left
    pending, it would finish during the next request (or never, on a thread that ends).
    """
    residents = state.get(RESIDENTS, ())
    pending = [t for t in asyncio.all_tasks(loop)
               if not t.done() and t not in residents and t not in earlier]
    if pending:
        _done, still = loop.run_until_complete(asyncio.wait(pending, timeout=SETTLE_SECONDS))
        if still:
            logger.warning("%d task(s) of an MCP request still running after %.1f s: %s",
                           len(still), SETTLE_SECONDS, ", ".join(sorted(
                               task.get_name() for task in still)))


def resident(task: asyncio.Task) -> None:
    """Mark ``task`` as living as long as the loop: ``run`` does not wait for it."""
    loop_state().setdefault(RESIDENTS, set()).add(task)


def loop_state() -> dict:
    """Return the dictionary that lives as long as the running loop (for long-lived tasks)."""
    current = _run.get()
    if current is None:
        raise RuntimeError("loop_state() is called only inside gateway.bridge.run.")
    return current.state


def run(coroutine_function: Callable[..., Awaitable[T]], *args: Any) -> T:
    """Run ``coroutine_function(*args)`` to completion on this thread and return its result."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        raise RuntimeError("gateway.bridge.run is called from synchronous code only.")
    entry = _thread_loop()
    nested = entry.busy
    loop = asyncio.new_event_loop() if nested else entry.loop
    entry.busy = True
    this_run = _Run(loop=loop, state={} if nested else entry.state)
    context = contextvars.copy_context()
    context.run(_run.set, this_run)
    try:
        earlier = asyncio.all_tasks(loop)
        task = loop.create_task(coroutine_function(*args), context=context)
        task.add_done_callback(lambda _: loop.stop())
        try:
            while True:
                loop.run_forever()
                while this_run.work:
                    fn, fn_args, fn_context, future = this_run.work.popleft()
                    if future.cancelled():
                        continue
                    try:
                        result = fn_context.run(fn, *fn_args)
                    except Exception as exc:  # handed to the awaiting coroutine
                        future.set_exception(exc)
                    else:
                        future.set_result(result)
                if task.done():
                    _settle(loop, this_run.state, earlier)
                    return task.result()
        finally:
            if not task.done():  # a BaseException (KeyboardInterrupt, SystemExit) cut it short
                task.cancel()
                loop.run_until_complete(asyncio.gather(task, return_exceptions=True))
    finally:
        if nested:
            _shutdown(loop)
        else:
            entry.busy = False


async def run_sync(fn: Callable[..., T], *args: Any) -> T:
    """Run ``fn(*args)`` on the thread that called ``run``, outside the loop; return its result."""
    current = _run.get()
    if current is None:
        raise RuntimeError("run_sync is awaited only inside gateway.bridge.run.")
    future = current.loop.create_future()
    current.work.append((fn, args, contextvars.copy_context(), future))
    current.loop.stop()
    return await future
