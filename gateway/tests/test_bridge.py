"""The bridge between the SDK's coroutines and Django's synchronous request thread."""

from __future__ import annotations

import asyncio
import contextvars
import threading

import pytest

from gateway import bridge
from tenants.models import Tenant

# The project's autouse fixtures reset caches, which may live in the database.
pytestmark = pytest.mark.django_db

marker: contextvars.ContextVar[str] = contextvars.ContextVar("bridge_test_marker", default="")


async def _echo(value):
    return value


def test_run_returns_the_coroutine_result_and_raises_its_exception():
    assert bridge.run(_echo, 42) == 42

    async def fail():
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        bridge.run(fail)


def test_run_sync_runs_on_the_calling_thread_outside_the_loop():
    Tenant.objects.create(code="bridge", name="Bridge")
    caller = threading.get_ident()
    seen = {}

    def work():
        seen["thread"] = threading.get_ident()
        with pytest.raises(RuntimeError):
            asyncio.get_running_loop()
        # The ORM refuses work while a loop runs on its thread; here it is allowed, and
        # it sees the test's own transaction (the same connection).
        return Tenant.objects.filter(code="bridge").count()

    async def handler():
        return await bridge.run_sync(work)

    assert bridge.run(handler) == 1
    assert seen["thread"] == caller


def test_an_exception_of_the_synchronous_work_reaches_the_coroutine():
    def work():
        raise KeyError("missing")

    async def handler():
        try:
            await bridge.run_sync(work)
        except KeyError:
            return "caught"
        return "not raised"

    assert bridge.run(handler) == "caught"


def test_context_flows_in_and_changes_do_not_leak_out():
    token = marker.set("outer")
    try:
        def work():
            seen = marker.get()
            marker.set("changed in work")
            return seen

        async def handler():
            inside = marker.get()
            from_work = await bridge.run_sync(work)
            marker.set("changed in coroutine")
            return inside, from_work

        assert bridge.run(handler) == ("outer", "outer")
        assert marker.get() == "outer"
    finally:
        marker.reset(token)


def test_the_thread_keeps_its_loop_and_resident_tasks_between_runs():
    ticks = []

    async def start():
        async def resident_work():
            while True:
                ticks.append(1)
                await asyncio.sleep(0)

        task = asyncio.get_running_loop().create_task(resident_work())
        bridge.resident(task)
        bridge.loop_state()["test-task"] = task
        return asyncio.get_running_loop()

    async def again():
        await asyncio.sleep(0)
        return asyncio.get_running_loop(), bridge.loop_state().get("test-task")

    first_loop = bridge.run(start)
    count = len(ticks)
    second_loop, task = bridge.run(again)
    assert second_loop is first_loop
    assert task is not None and not task.done()
    assert len(ticks) > count  # the resident task ran again with the second request
    task.cancel()
    bridge.run(_echo, None)


def test_tasks_a_run_started_are_finished_before_it_returns():
    finished = []

    async def handler():
        async def later():
            await asyncio.sleep(0.01)
            finished.append(True)

        asyncio.get_running_loop().create_task(later())
        return "answered"

    assert bridge.run(handler) == "answered"
    assert finished == [True]


def test_the_loop_of_a_finished_thread_is_shut_down_by_the_next_thread():
    loops = {}

    def serve(name):
        async def handler():
            async def forever():
                await asyncio.Event().wait()

            task = asyncio.get_running_loop().create_task(forever())
            bridge.resident(task)
            return asyncio.get_running_loop()

        loops[name] = bridge.run(handler)

    first = threading.Thread(target=serve, args=("first",))
    first.start()
    first.join()
    assert not loops["first"].is_closed()
    second = threading.Thread(target=serve, args=("second",))
    second.start()
    second.join()
    assert loops["first"].is_closed()
    assert loops["second"] is not loops["first"]


def test_a_nested_run_gets_a_loop_of_its_own():
    def work():
        return bridge.run(_loop_of_this_run)

    async def handler():
        inner = await bridge.run_sync(work)
        return asyncio.get_running_loop(), inner

    outer, inner = bridge.run(handler)
    assert inner is not outer
    assert inner.is_closed()
    assert not outer.is_closed()


async def _loop_of_this_run():
    return asyncio.get_running_loop()


def test_run_refuses_to_be_called_from_a_running_loop():
    async def inside_a_loop():
        bridge.run(_echo, 1)

    with pytest.raises(RuntimeError, match="synchronous code only"):
        asyncio.run(inside_a_loop())


def test_run_sync_and_loop_state_are_only_for_coroutines_run_by_the_bridge():
    with pytest.raises(RuntimeError):
        asyncio.run(bridge.run_sync(lambda: None))
    with pytest.raises(RuntimeError):
        bridge.loop_state()


def test_a_task_that_does_not_wind_down_is_reported_and_left(caplog, monkeypatch):
    monkeypatch.setattr(bridge, "SETTLE_SECONDS", 0.05)
    stuck = []

    async def handler():
        async def never():
            await asyncio.Event().wait()

        stuck.append(asyncio.get_running_loop().create_task(never(), name="stuck-task"))
        return "answered"

    assert bridge.run(handler) == "answered"
    assert "stuck-task" in caplog.text
    assert not stuck[0].done()
    stuck[0].cancel()
    bridge.run(_echo, None)  # the next run lets the cancellation finish
    assert stuck[0].cancelled()
