"""harness.store.Pump: calls from other threads, handed over or (scheduler idle, not settling) run in its place."""
from __future__ import annotations

import threading

from asl.clock import VirtualClock
from asl.scheduler import Scheduler
from harness.store import Pump


def test_an_idle_pump_lets_the_caller_run_in_its_place_and_then_runs_what_it_made_ready() -> None:
    scheduler = Scheduler(VirtualClock(0.0))
    pump = Pump(scheduler, idle_grace=1.0, name="test-pump")
    try:
        ran = threading.Event()
        seen: dict[str, object] = {}

        async def fiber() -> None:
            seen["fiber_thread"] = threading.current_thread().name
            ran.set()

        def fn() -> str:
            seen["caller_is_pump"] = pump.on_thread
            seen["nested"] = pump.call(lambda: threading.current_thread().name)  # re-entrant, no deadlock
            scheduler.spawn(fiber())
            return "answer"

        assert pump.call(fn) == "answer"
        assert seen["caller_is_pump"] is True and seen["nested"] == threading.current_thread().name
        assert not pump.on_thread  # only while the call runs
        assert ran.wait(5) and seen["fiber_thread"] == "test-pump"  # the pump ran the fiber the call spawned
        try:
            pump.call(lambda: 1 / 0)
        except ZeroDivisionError:
            pass
        else:
            raise AssertionError("the call's exception reaches the caller")
        assert pump.call(lambda: 2) == 2  # the lock was released
    finally:
        pump.close()


def test_a_settling_pump_still_answers_from_its_own_thread() -> None:
    pump = Pump(Scheduler(VirtualClock(0.0)), idle_grace=0.0, name="test-settle")
    try:
        assert pump.call(lambda: threading.current_thread().name) == "test-settle"
    finally:
        pump.close()
