"""Deadlines: time budgets, the one watchdog thread, and deadlines on database work.

* ``TimeBudget(seconds)``: the end of a call's time, shared by its steps.
* ``watch(when, callback)``: the process's one watchdog thread runs ``callback`` at
  ``when`` (it shuts overrunning outbound sockets and interrupts late statements).
* ``deadline(seconds)``: refuse a block's statements once its time is up and interrupt the
  one running (PostgreSQL cancel, MariaDB ``KILL QUERY``, SQLite interrupt); ``exempt()``
  lets a block's own logging through.

Why and how, per backend, with the races handled and the limits: docs/deadlines.md.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.db import DatabaseError, OperationalError, connections, transaction
from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)

CANCEL_TIMEOUT = 5.0  # seconds a PostgreSQL cancel request may take
KILL_CONNECT_TIMEOUT = 5  # seconds to open the connection that sends KILL QUERY
RETRY_FIRST = 0.05  # seconds before a statement still in flight is interrupted again
RETRY_MAX = 1.0  # seconds, the longest wait between two interrupts of one statement

_monotonic = time.monotonic


class DeadlineExceeded(OperationalError):
    """A statement refused, or interrupted, because its deadline had passed."""


class _Slot:
    """One covered connection of a scope: whether a statement is in flight on it."""

    __slots__ = ("connection", "lock", "running", "interrupted", "raw", "thread_id")

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self.lock = threading.Lock()
        self.running = False
        self.interrupted = False
        self.raw = None  # the driver connection the statements run on
        self.thread_id = None  # its server thread id (MySQL), read on the owning thread

    def bind(self, raw: Any) -> None:
        """Remember what the watchdog needs of a new driver connection.

        mysqlclient refuses ``thread_id()`` from another thread while a query runs, so the
        id is read here, before the statement, on the thread that owns the connection.
        """
        self.thread_id = raw.thread_id() if self.connection.vendor == "mysql" else None
        self.raw = raw

    def finish(self) -> bool:
        """Mark the statement done; return whether an interrupt was sent during it."""
        with self.lock:
            self.running = False
            interrupted = self.interrupted
            self.interrupted = False
        return interrupted


class Deadline:
    """An active deadline: its covered connections and when it passes (monotonic clock)."""

    exempt = False

    def __init__(self, when: float, slots: dict[Any, _Slot], parent: Any) -> None:
        self.when = when
        self.slots = slots  # DatabaseWrapper -> _Slot
        self.parent = parent  # the enclosing Deadline or _Exempt, or None
        self.timer: Timer | None = None
        self.retry = RETRY_FIRST
        self.interrupts = 0  # interrupts the watchdog sent for this scope
        self.rolled_back = False  # the savepoint(s) of the block were rolled back

    def expired(self) -> bool:
        """Return whether the deadline has passed."""
        return _monotonic() >= self.when

    def remaining(self) -> float:
        """Return the seconds left before the deadline (negative once it has passed)."""
        return self.when - _monotonic()

    def watch(self) -> None:
        """Have the watchdog interrupt this scope's statements once the deadline passes."""
        self.timer = watch(self.when, self._on_due)

    def unwatch(self) -> None:
        """Stop watching (the block ended)."""
        if self.timer is not None:
            self.timer.cancel()

    def _on_due(self) -> float | None:
        """Interrupt what is in flight; come back soon (backing off) while anything was."""
        if not self.interrupt_running():
            return None
        again = _monotonic() + self.retry
        self.retry = min(self.retry * 2, RETRY_MAX)
        return again

    def interrupt_running(self) -> bool:
        """Interrupt the statements in flight; return whether there was any."""
        busy = False
        for slot in self.slots.values():
            if not slot.running:
                continue
            with slot.lock:
                if not slot.running:
                    continue
                busy = True
                slot.interrupted = True  # the statement is past its deadline either way
                try:
                    _interrupt(slot)
                except Exception:
                    logger.warning(
                        "could not interrupt a statement on %s",
                        slot.connection.alias,
                        exc_info=True,
                    )
                else:
                    self.interrupts += 1
        return busy


class _Exempt:
    """The marker ``exempt()`` pushes: statements run as if no deadline were active."""

    exempt = True

    def __init__(self, parent: Any) -> None:
        self.parent = parent


_current: ContextVar[Deadline | _Exempt | None] = ContextVar("atrium_db_deadline", default=None)


def expired() -> bool:
    """Return whether the innermost active deadline of this context has passed.

    Inside ``exempt()`` the deadline around it still counts: exemption lets statements run,
    it does not stop the clock.
    """
    scope = _current.get()
    while scope is not None and scope.exempt:
        scope = scope.parent
    return scope is not None and _monotonic() >= scope.when


@contextmanager
def exempt() -> Iterator[None]:
    """Run the block's statements without refusal or interruption by any active deadline."""
    token = _current.set(_Exempt(_current.get()))
    try:
        yield
    finally:
        _current.reset(token)


def _refused() -> DeadlineExceeded:
    return DeadlineExceeded(_("The database work ran past its time limit."))


def _guard(execute, sql, params, many, context):
    """Refuse a statement once its deadline has passed; mark it in flight otherwise."""
    scope = _current.get()
    connection = context["connection"]
    while scope is not None:
        if scope.exempt:
            return execute(sql, params, many, context)
        slot = scope.slots.get(connection)
        if slot is not None:
            break
        scope = scope.parent
    else:
        return execute(sql, params, many, context)
    # In flight before the clock is read: a watchdog that saw no statement in flight had
    # already seen the deadline pass, so this statement is refused below.
    raw = connection.connection
    if raw is not slot.raw:
        slot.bind(raw)
    slot.running = True
    if _monotonic() >= scope.when:
        slot.finish()
        raise _refused()
    try:
        result = execute(sql, params, many, context)
    except Exception as exc:
        if slot.finish():
            raise _refused() from exc
        raise
    except BaseException:
        slot.finish()
        raise
    if slot.finish():
        raise _refused()
    return result


def _interrupt(slot: _Slot) -> None:
    """Interrupt the statement running on the slot's driver connection, if any."""
    raw = slot.raw
    if raw is None:
        return
    vendor = slot.connection.vendor
    if vendor == "sqlite":
        raw.interrupt()
    elif vendor == "postgresql":
        cancel_safe = getattr(raw, "cancel_safe", None)
        if cancel_safe is not None:
            cancel_safe(timeout=CANCEL_TIMEOUT)
        else:
            raw.cancel()
    elif vendor == "mysql":
        _kill_query(slot.connection, slot.thread_id)
    elif hasattr(raw, "cancel"):
        raw.cancel()


def _kill_query(connection: Any, thread_id: int) -> None:
    """Send ``KILL QUERY`` for ``thread_id`` over a new connection with the same settings."""
    import MySQLdb

    params = connection.get_connection_params()
    params.setdefault("connect_timeout", KILL_CONNECT_TIMEOUT)
    killer = MySQLdb.connect(**params)
    try:
        cursor = killer.cursor()
        try:
            cursor.execute("KILL QUERY %d" % int(thread_id))
        except MySQLdb.OperationalError as exc:
            if exc.args and exc.args[0] == 1094:  # unknown thread id: already gone
                return
            raise
    finally:
        killer.close()


class Timer:
    """A callback the watchdog runs at a time (``watch``); ``cancel()`` stops it."""

    __slots__ = ("when", "callback", "cancelled", "queued")

    def __init__(self, when: float, callback: Callable[[], float | None]) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False
        self.queued = False  # in the watchdog's heap (guarded by the watchdog's lock)

    def cancel(self) -> None:
        """Do not run the callback (again); harmless once it ran."""
        _get_watchdog().cancel(self)


class _Watchdog:
    """The process's one thread that runs timers when they are due (a heap by time)."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.cond = threading.Condition(threading.Lock())
        self.heap: list[tuple[float, int, Timer]] = []
        self.stale = 0  # heap entries of cancelled timers
        self.sequence = itertools.count()
        self.thread = threading.Thread(target=self.run, name="atrium-watchdog", daemon=True)
        self.thread.start()

    def schedule(self, timer: Timer) -> None:
        """Run ``timer`` at its time, unless it is cancelled first."""
        with self.cond:
            if not timer.cancelled:
                self._push(timer)

    def cancel(self, timer: Timer) -> None:
        """Cancel ``timer``; drop cancelled entries once they are half of the heap."""
        with self.cond:
            timer.cancelled = True
            if timer.queued:
                self.stale += 1
                if self.stale > 32 and 2 * self.stale > len(self.heap):
                    self.heap = [entry for entry in self.heap if not entry[2].cancelled]
                    heapq.heapify(self.heap)
                    for entry in self.heap:
                        entry[2].queued = True
                    self.stale = 0

    def _push(self, timer: Timer) -> None:
        entry = (timer.when, next(self.sequence), timer)
        heapq.heappush(self.heap, entry)
        timer.queued = True
        if self.heap[0] is entry:
            self.cond.notify()

    def _next_due(self) -> Timer:
        with self.cond:
            while True:
                while self.heap and self.heap[0][2].cancelled:
                    heapq.heappop(self.heap)[2].queued = False
                    self.stale -= 1
                if self.heap:
                    wait = self.heap[0][0] - _monotonic()
                    if wait <= 0:
                        timer = heapq.heappop(self.heap)[2]
                        timer.queued = False
                        return timer
                    self.cond.wait(wait)
                else:
                    self.cond.wait()

    def run(self) -> None:
        while True:
            timer = self._next_due()
            try:
                again = timer.callback()
            except Exception:  # never let the watchdog die
                logger.exception("watchdog callback failed")
                again = None
            if again is not None:
                with self.cond:
                    if not timer.cancelled:
                        timer.when = again
                        self._push(timer)


_watchdog: _Watchdog | None = None
_watchdog_lock = threading.Lock()


def _reset_after_fork() -> None:
    global _watchdog_lock
    _watchdog_lock = threading.Lock()  # another thread of the parent may have held it


os.register_at_fork(after_in_child=_reset_after_fork)


def _get_watchdog() -> _Watchdog:
    """Return this process's watchdog, starting it on first use and again after a fork."""
    global _watchdog
    watchdog = _watchdog
    if watchdog is None or watchdog.pid != os.getpid():
        with _watchdog_lock:
            watchdog = _watchdog
            if watchdog is None or watchdog.pid != os.getpid():
                watchdog = _watchdog = _Watchdog()
    return watchdog


def watch(when: float, callback: Callable[[], float | None]) -> Timer:
    """Run ``callback`` on the watchdog thread at ``when`` (``time.monotonic``), unless the
    returned timer is cancelled first. A callback returning a time runs again then.

    Callbacks run one at a time on that thread: keep them short.
    """
    timer = Timer(when, callback)
    _get_watchdog().schedule(timer)
    return timer


class TimeBudget:
    """The end of a call's time, shared by every step of the call."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = _monotonic() + seconds

    def left(self) -> float:
        """Return the seconds left, or raise ``TimeoutError`` when none are."""
        left = self.at - _monotonic()
        if left <= 0:
            raise TimeoutError("deadline passed")
        return left

    def passed(self) -> bool:
        """Return whether the time is up."""
        return _monotonic() >= self.at


class _Savepoint:
    """The savepoint around a block started inside a transaction; rolled back once expired."""

    def __init__(self, alias: str, scope: Deadline) -> None:
        self.alias = alias
        self.scope = scope
        self.atomic = transaction.atomic(using=alias)

    def __enter__(self) -> None:
        with exempt():
            self.atomic.__enter__()

    def __exit__(self, exc_type, exc, traceback) -> bool:
        expired_now = self.scope.expired()
        with exempt():
            if expired_now:
                transaction.set_rollback(True, using=self.alias)
                self.scope.rolled_back = True
            try:
                self.atomic.__exit__(exc_type, exc, traceback)
            except DatabaseError:
                if not expired_now:
                    raise
                # The transaction was aborted by the interruption; the outer block learns
                # it from Django's needs_rollback, the caller from DeadlineExceeded.
                logger.info("savepoint of an expired deadline failed on exit", exc_info=True)
        return False


@contextmanager
def deadline(seconds: float, using: Iterable[str] | None = None) -> Iterator[Deadline]:
    """Refuse and interrupt this thread's statements on ``using`` after ``seconds``.

    ``using`` names the aliases covered (every alias in ``settings.DATABASES`` when None).
    Yield the active ``Deadline``; exceptions of the block are never swallowed.
    """
    parent = _current.get()
    when = _monotonic() + seconds
    if parent is not None and not parent.exempt:
        when = min(when, parent.when)
    aliases = list(settings.DATABASES if using is None else using)
    wrappers = [connections[alias] for alias in aliases]
    scope = Deadline(when, {connection: _Slot(connection) for connection in wrappers}, parent)
    with ExitStack() as stack:
        for alias, connection in zip(aliases, wrappers):
            # A transaction already marked for rollback refuses every statement anyway.
            if connection.in_atomic_block and not connection.needs_rollback:
                stack.enter_context(_Savepoint(alias, scope))
        for connection in wrappers:
            if _guard not in connection.execute_wrappers:
                stack.enter_context(connection.execute_wrapper(_guard))
        token = _current.set(scope)
        scope.watch()
        try:
            yield scope
        finally:
            scope.unwatch()
            _current.reset(token)
