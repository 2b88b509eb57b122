"""A deterministic cooperative scheduler: every branch, iteration and wait is a fiber on one clock.

Fibers are plain `async def` coroutines driven by `send()`; they suspend only on the awaitables
below (sleep, a Future, joining children). Ready fibers run in FIFO order, timers in time order, so
the same program and input always interleave the same way. When nothing is ready the scheduler
skips the clock to the next timer (virtual time) or sleeps until it (wall time); Futures resolved
from another thread (SendTaskSuccess through an API server) wake it through `call_soon_threadsafe`.
"""
from __future__ import annotations

import heapq
import itertools
import threading
from collections import deque
from typing import Any, Awaitable, Callable, Coroutine, Generator

from asl.clock import Clock, VirtualClock


class Cancelled(BaseException):
    """Thrown into a fiber that is being stopped (a failed sibling branch, a timeout, StopExecution)."""


class _Suspend:
    """What a fiber yields to the scheduler: one request, handled by `Scheduler._park`."""

    __slots__ = ("kind", "arg")

    def __init__(self, kind: str, arg: Any):
        self.kind, self.arg = kind, arg

    def __await__(self) -> Generator["_Suspend", Any, Any]:
        return (yield self)


class Future:
    """A value that arrives later: a task token answered, an activity worked, a child finished."""

    __slots__ = ("_done", "_value", "_error", "_waiters", "_scheduler", "external")

    def __init__(self, scheduler: "Scheduler", *, external: bool = False):
        self._done = False
        self._value: Any = None
        self._error: BaseException | None = None
        self._waiters: list[Fiber] = []
        self._scheduler = scheduler
        self.external = external  # answered from outside the scheduler (a person, an API call)

    @property
    def done(self) -> bool:
        return self._done

    def set_result(self, value: Any) -> None:
        self._resolve(value, None)

    def set_exception(self, error: BaseException) -> None:
        self._resolve(None, error)

    def _resolve(self, value: Any, error: BaseException | None) -> None:
        if self._done:
            return
        self._done, self._value, self._error = True, value, error
        if self.external:
            self._scheduler.external_waits -= 1
        for fiber in self._waiters:
            self._scheduler._wake(fiber, self)
        self._waiters.clear()

    def result(self) -> Any:
        if self._error is not None:
            raise self._error
        return self._value

    def __await__(self) -> Generator[_Suspend, Any, Any]:
        if not self._done:
            yield _Suspend("future", self)
        return self.result()


class Fiber:
    """One coroutine being run by the scheduler, with its own completion Future."""

    __slots__ = ("coro", "done", "parked_on", "timer", "cancel_requested", "name")

    def __init__(self, scheduler: "Scheduler", coro: Coroutine[Any, Any, Any], name: str = ""):
        self.coro = coro
        self.done = Future(scheduler)
        self.parked_on: Future | None = None
        self.timer: list[Any] | None = None
        self.cancel_requested = False
        self.name = name


class Scheduler:
    """Runs fibers to quiescence on a clock; see the module docstring for the ordering rules."""

    def __init__(self, clock: Clock | None = None):
        self.clock: Clock = clock or VirtualClock()
        self._ready: deque[tuple[Fiber, Any, BaseException | None]] = deque()
        self._timers: list[list[Any]] = []
        self._seq = itertools.count()
        self._lock = threading.Condition()
        self._inbox: deque[Callable[[], None]] = deque()
        self.external_waits = 0
        # Timers up to this time fire without first waiting `idle_grace` for outside answers: time that has
        # already passed once, which a replay of a journal runs through again (`harness.durability`).
        self.replayed_until = float("-inf")

    # ------------------------------------------------------------------ awaitables for fibers
    def sleep_until(self, when: float) -> Awaitable[None]:
        return _Suspend("sleep", when)

    def sleep(self, seconds: float) -> Awaitable[None]:
        return _Suspend("sleep", self.clock.now() + max(0.0, seconds))

    def future(self, *, external: bool = False) -> Future:
        if external:
            self.external_waits += 1
        return Future(self, external=external)

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str = "") -> Fiber:
        fiber = Fiber(self, coro, name)
        self._ready.append((fiber, None, None))
        return fiber

    def cancel(self, fiber: Fiber) -> None:
        """Stop a fiber at its next suspension point by throwing Cancelled into it."""
        if fiber.done.done or fiber.cancel_requested:
            return
        fiber.cancel_requested = True
        if fiber.parked_on is not None:
            future, fiber.parked_on = fiber.parked_on, None
            if fiber in future._waiters:
                future._waiters.remove(fiber)
        if fiber.timer is not None:
            fiber.timer[2] = None
            fiber.timer = None
        self._ready.append((fiber, None, Cancelled()))

    def call_later(self, when: float, callback: Callable[[], None]) -> list[Any]:
        """Run `callback` (not a fiber) at clock time `when`; returns a handle for `cancel_timer`."""
        entry = [when, next(self._seq), callback]
        heapq.heappush(self._timers, entry)
        return entry

    @staticmethod
    def cancel_timer(entry: list[Any] | None) -> None:
        if entry is not None:
            entry[2] = None

    def call_soon_threadsafe(self, callback: Callable[[], None]) -> None:
        """Run `callback` on the scheduler's thread (resolving a Future from an API thread)."""
        with self._lock:
            self._inbox.append(callback)
            self._lock.notify_all()

    # ------------------------------------------------------------------ the loop
    def _wake(self, fiber: Fiber, future: Future) -> None:
        if fiber.parked_on is future:
            fiber.parked_on = None
            if future._error is not None:
                self._ready.append((fiber, None, future._error))
            else:
                self._ready.append((fiber, future._value, None))

    def _step(self, fiber: Fiber, value: Any, error: BaseException | None) -> None:
        try:
            request = fiber.coro.throw(error) if error is not None else fiber.coro.send(value)
        except StopIteration as stop:
            fiber.done.set_result(stop.value)
            return
        except BaseException as exc:  # the fiber's own failure, reported to whoever joins it
            fiber.done.set_exception(exc)
            return
        self._park(fiber, request)

    def _park(self, fiber: Fiber, request: _Suspend) -> None:
        if request.kind == "sleep":
            when = request.arg
            if when <= self.clock.now():
                self._ready.append((fiber, None, None))
                return

            def wake(fiber: Fiber = fiber) -> None:
                fiber.timer = None
                self._ready.append((fiber, None, None))
            fiber.timer = self.call_later(when, wake)
        elif request.kind == "future":
            future: Future = request.arg
            if future.done:
                self._ready.append((fiber, future._value, future._error) if future._error else (fiber, future._value, None))
            else:
                fiber.parked_on = future
                future._waiters.append(fiber)
        else:  # pragma: no cover - only the awaitables above exist
            raise RuntimeError(f"unknown scheduler request {request.kind}")

    def _drain_inbox(self) -> None:
        with self._lock:
            calls = list(self._inbox)
            self._inbox.clear()
        for call in calls:
            call()

    def run_ready(self, until: Callable[[], bool] | None = None) -> None:
        """Run every ready fiber (and what they make ready) until none is ready or `until()` holds."""
        ready = self._ready
        while True:
            if self._inbox:
                self._drain_inbox()
            if not ready or (until is not None and until()):
                return
            fiber, value, error = ready.popleft()
            if fiber.done.done:
                continue
            self._step(fiber, value, error)

    def next_timer(self) -> float | None:
        while self._timers and self._timers[0][2] is None:
            heapq.heappop(self._timers)
        return self._timers[0][0] if self._timers else None

    def fire_due_timers(self) -> None:
        now = self.clock.now()
        while self._timers and self._timers[0][0] <= now:
            _, _, callback = heapq.heappop(self._timers)
            if callback is not None:
                callback()

    def run(self, *, until: Callable[[], bool] | None = None, idle_grace: float = 0.0) -> None:
        """Run until `until()` holds or nothing can happen without outside input.

        With a virtual clock, time skips to the next timer whenever no fiber is ready. When
        fibers wait on outside answers (`external` futures), the scheduler first waits up to
        `idle_grace` wall seconds for one before skipping time.
        """
        while True:
            self.run_ready(until)
            if until is not None and until():
                return
            when = self.next_timer()
            if when is None:
                if self.external_waits and idle_grace > 0 and self._wait_inbox(idle_grace):
                    continue
                return
            if self.external_waits and idle_grace > 0 and when > self.replayed_until and \
                    self._wait_inbox(idle_grace if self.clock.virtual else max(0.0, when - self.clock.now())):
                continue
            if not self.clock.virtual:
                if self._wait_inbox(max(0.0, when - self.clock.now())):
                    continue
            self.clock.advance_to(when)
            self.fire_due_timers()

    def _wait_inbox(self, seconds: float) -> bool:
        with self._lock:
            if not self._inbox:
                self._lock.wait(timeout=seconds)
            return bool(self._inbox)
