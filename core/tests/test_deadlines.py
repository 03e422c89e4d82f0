"""Deadlines on database work (core.deadlines), on the real backend of the run.

A slow statement (MariaDB ``SLEEP``, PostgreSQL ``pg_sleep``, an SQLite recursive count to
1e9) is interrupted by the watchdog; statements after the deadline are refused before they
reach the database, seen by a counting execute wrapper installed inside the guard. The race
where an interrupt lands just after a statement finished is forced with a wrapper that holds
the finished statement "in flight" until the watchdog has fired, and the connection must
answer the next statement. Timings are generous: only "well under the sleep" is asserted.
"""

from __future__ import annotations

import contextvars
import os
import sqlite3
import threading
import time
from contextlib import nullcontext

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import (
    DEFAULT_DB_ALIAS,
    OperationalError,
    connection,
    connections,
    transaction,
)

from core import deadlines
from core.deadlines import DeadlineExceeded
from core.tests.slow_sql import SLOW_SQL

SHORT = 0.3  # seconds: the deadline of the interruption tests
WELL_UNDER = 2.0  # seconds: an interrupted statement ends before this


def run_slow() -> None:
    with connection.cursor() as cursor:
        cursor.execute(SLOW_SQL[connection.vendor])
        cursor.fetchall()


def select_one() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        return cursor.fetchone()[0]


def wait_for(predicate, timeout: float = 10.0) -> None:
    stop = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < stop, "timed out waiting"
        time.sleep(0.005)


class Counter:
    """An execute wrapper counting the statements that get past the wrappers outside it."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def held_until_interrupted(scope: deadlines.Deadline):
    """Return a wrapper that keeps a finished statement in flight until an interrupt is sent."""

    def wrapper(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        wait_for(lambda: scope.interrupts >= 1)
        return result

    return wrapper


def make_row(model: str) -> ContentType:
    return ContentType.objects.create(app_label="deadline_test", model=model)


def rows() -> set[str]:
    made = ContentType.objects.filter(app_label="deadline_test")
    return set(made.values_list("model", flat=True))


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_slow_statement_is_interrupted_near_the_deadline():
    """In autocommit, a statement still running at the deadline is interrupted and raises."""
    select_one()  # connect first: connecting is not bounded
    started = time.monotonic()
    with pytest.raises(DeadlineExceeded) as caught:
        with deadlines.deadline(SHORT) as scope:
            run_slow()
    elapsed = time.monotonic() - started
    assert elapsed < WELL_UNDER
    assert scope.interrupts >= 1
    assert isinstance(caught.value.__cause__, OperationalError)  # the driver's error
    assert select_one() == 1
    assert select_one() == 1


@pytest.mark.django_db
def test_an_interruption_inside_a_transaction_leaves_it_usable():
    """Inside an atomic block the block's savepoint is rolled back; the transaction goes on."""
    make_row("before")
    started = time.monotonic()
    with pytest.raises(DeadlineExceeded):
        with deadlines.deadline(SHORT) as scope:
            make_row("inside")
            run_slow()
    assert time.monotonic() - started < WELL_UNDER
    assert scope.rolled_back
    assert rows() == {"before"}
    make_row("after")
    assert rows() == {"before", "after"}


@pytest.mark.django_db
def test_an_expired_block_inside_a_transaction_is_rolled_back_even_without_error():
    """A block that overran its deadline without an error still leaves no write behind."""
    with deadlines.deadline(0.05) as scope:
        make_row("inside")
        time.sleep(0.1)
    assert scope.rolled_back
    assert rows() == set()


@pytest.mark.django_db
def test_a_block_in_time_inside_a_transaction_keeps_its_writes():
    """A block that ends before its deadline releases its savepoint: the writes stay."""
    with deadlines.deadline(60) as scope:
        make_row("inside")
    assert not scope.rolled_back
    assert rows() == {"inside"}


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_autocommit_writes_before_the_deadline_stay():
    """Outside a transaction nothing is wrapped: a write committed before the deadline stays."""
    with pytest.raises(DeadlineExceeded):
        with deadlines.deadline(SHORT):
            make_row("committed")
            run_slow()
    assert rows() == {"committed"}


@pytest.mark.django_db
def test_a_statement_after_the_deadline_is_refused_without_reaching_the_database():
    """Once the deadline has passed, statements are refused before they are sent."""
    select_one()
    counter = Counter()
    with deadlines.deadline(0.05):
        time.sleep(0.1)
        assert deadlines.expired()
        with connection.execute_wrapper(counter):
            with pytest.raises(DeadlineExceeded):
                ContentType.objects.count()
            with pytest.raises(DeadlineExceeded):
                make_row("refused")
    assert counter.count == 0
    assert rows() == set()


@pytest.mark.django_db
def test_exempt_statements_run_after_the_deadline():
    """Statements inside exempt() run after expiry; the deadline still counts as passed."""
    with deadlines.deadline(0.05):
        time.sleep(0.1)
        with deadlines.exempt():
            assert deadlines.expired()
            make_row("audit")
            assert rows() == {"audit"}
        with pytest.raises(DeadlineExceeded):
            select_one()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_exempt_statements_are_not_interrupted():
    """The watchdog leaves an exempt statement running past the deadline alone."""
    select_one()
    with deadlines.deadline(0.05) as scope:
        with deadlines.exempt():
            with connection.cursor() as cursor:
                cursor.execute(
                    {
                        "mysql": "SELECT SLEEP(0.3)",
                        "postgresql": "SELECT pg_sleep(0.3)",
                        "sqlite": SLOW_SQL["sqlite"].replace("1000000000", "3000000"),
                    }[connection.vendor]
                )
                cursor.fetchall()
    assert scope.interrupts == 0


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_an_interrupt_racing_the_end_of_a_statement_does_not_break_the_next_one():
    """An interrupt sent after the statement finished on the server spares the next statement.

    The statement is held "in flight" after it returned until the watchdog has fired, so
    the interrupt (MariaDB KILL QUERY, PostgreSQL cancel, SQLite interrupt) hits an idle
    connection; the statement reports the deadline and the connection answers afterwards.
    """
    select_one()
    with pytest.raises(DeadlineExceeded) as caught:
        with deadlines.deadline(0.05) as scope:
            with connection.execute_wrapper(held_until_interrupted(scope)):
                select_one()
    assert scope.interrupts >= 1
    assert caught.value.__cause__ is None
    assert select_one() == 1
    assert select_one() == 1
    make_row("next")
    assert rows() == {"next"}


@pytest.mark.django_db
def test_an_interrupt_racing_the_end_of_a_statement_inside_a_transaction():
    """Inside a transaction the late interrupt neither breaks it nor keeps the block's writes."""
    make_row("before")
    with pytest.raises(DeadlineExceeded):
        with deadlines.deadline(0.05) as scope:
            make_row("inside")
            with connection.execute_wrapper(held_until_interrupted(scope)):
                select_one()
    assert scope.interrupts >= 1
    assert select_one() == 1
    assert rows() == {"before"}


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("in_transaction", [False, True])
def test_an_interrupt_of_an_idle_connection_is_harmless(in_transaction):
    """Interrupting a connection with no statement running does not fail the next ones."""
    select_one()
    with transaction.atomic() if in_transaction else nullcontext():
        select_one()
        slot = deadlines._Slot(connection)
        slot.bind(connection.connection)
        deadlines._interrupt(slot)
        time.sleep(0.05)  # let an asynchronous cancel arrive
        assert select_one() == 1
        make_row("next")
        assert select_one() == 1
    assert rows() == {"next"}


@pytest.mark.django_db
def test_an_earlier_inner_deadline_applies_then_the_outer_one_again():
    """The inner, earlier deadline refuses; after it ends the outer one applies."""
    with deadlines.deadline(1.0) as outer:
        with deadlines.deadline(0.05):
            time.sleep(0.1)
            assert deadlines.expired()
            with pytest.raises(DeadlineExceeded):
                select_one()
        assert not deadlines.expired()
        assert select_one() == 1
        time.sleep(max(outer.remaining(), 0) + 0.05)
        assert deadlines.expired()
        with pytest.raises(DeadlineExceeded):
            select_one()
    assert not deadlines.expired()
    assert select_one() == 1


@pytest.mark.django_db
def test_a_later_inner_deadline_does_not_extend_the_outer_one():
    """A nested deadline ends no later than the one around it."""
    with deadlines.deadline(0.05):
        with deadlines.deadline(60) as inner:
            assert inner.remaining() < 0.1
            time.sleep(0.1)
            assert deadlines.expired()
            with pytest.raises(DeadlineExceeded):
                select_one()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_an_earlier_inner_deadline_interrupts_a_running_statement():
    """A statement running under an earlier inner deadline is interrupted at that deadline."""
    select_one()
    started = time.monotonic()
    with deadlines.deadline(60):
        with pytest.raises(DeadlineExceeded):
            with deadlines.deadline(SHORT):
                run_slow()
        assert time.monotonic() - started < WELL_UNDER
        assert select_one() == 1


@pytest.mark.django_db
def test_without_a_deadline_queries_run_unguarded():
    """No deadline: expired() is False, queries run, and no guard stays installed."""
    assert not deadlines.expired()
    assert deadlines._guard not in connection.execute_wrappers
    assert select_one() == 1
    with deadlines.deadline(60):
        assert deadlines._guard in connection.execute_wrappers
        assert not deadlines.expired()
        assert select_one() == 1
        with deadlines.deadline(30):
            assert connection.execute_wrappers.count(deadlines._guard) == 1
    assert deadlines._guard not in connection.execute_wrappers
    assert not deadlines.expired()
    make_row("plain")
    assert rows() == {"plain"}


@pytest.mark.django_db
def test_only_the_aliases_named_are_covered():
    """A deadline on no alias leaves the default connection alone."""
    with deadlines.deadline(0.01, using=[]):
        time.sleep(0.05)
        assert deadlines.expired()
        assert select_one() == 1
    with deadlines.deadline(0.01, using=[DEFAULT_DB_ALIAS]):
        time.sleep(0.05)
        with pytest.raises(DeadlineExceeded):
            select_one()


@pytest.mark.django_db
@pytest.mark.parametrize("in_transaction", [False, True])
def test_the_block_s_exceptions_are_not_swallowed(in_transaction):
    """deadline() re-raises what the block raised, before and after expiry."""
    with transaction.atomic() if in_transaction else nullcontext():
        with pytest.raises(ValueError):
            with deadlines.deadline(60):
                raise ValueError("block")
        with pytest.raises(KeyError):
            with deadlines.deadline(0.01):
                time.sleep(0.05)
                raise KeyError("block")
        assert select_one() == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_another_thread_running_a_copied_context_is_not_guarded():
    """The context travels, but another thread's connection has no guard: it runs."""
    answers = []

    def work():
        try:
            answers.append(select_one())
        finally:
            connections.close_all()

    with deadlines.deadline(0.01):
        time.sleep(0.05)
        context = contextvars.copy_context()
        thread = threading.Thread(target=context.run, args=(work,))
        thread.start()
        thread.join(10)
        with pytest.raises(DeadlineExceeded):
            select_one()
    assert answers == [1]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_starts_its_own_watchdog():
    """After fork the child starts a watchdog of its own, which interrupts a statement."""
    parent_watchdog = deadlines._get_watchdog()
    pid = os.fork()
    if pid == 0:  # the child: report through the exit code only
        code = 3
        try:
            watchdog = deadlines._get_watchdog()
            if watchdog is parent_watchdog or not watchdog.thread.is_alive():
                code = 4
            else:
                raw = sqlite3.connect(":memory:")

                class Wrapper:
                    vendor = "sqlite"
                    alias = "fork"
                    connection = raw

                slot = deadlines._Slot(Wrapper)
                slot.bind(raw)
                scope = deadlines.Deadline(time.monotonic() + 0.2, {Wrapper: slot}, None)
                scope.watch()
                slot.running = True
                try:
                    raw.execute(SLOW_SQL["sqlite"]).fetchall()
                    code = 5
                except sqlite3.OperationalError:
                    code = 0 if slot.finish() else 6
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
