"""Time for executions: a virtual clock by default (waits cost nothing), wall time as an option.

History timestamps, `$$.State.EnteredTime`, Wait, retry back-off and timeouts all read the clock the
execution was given, so a 24-hour wait on the virtual clock takes no wall time and is repeatable.
"""
from __future__ import annotations

import datetime as dt
import functools
import time
from typing import Protocol

EPOCH = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)


class Clock(Protocol):
    virtual: bool

    def now(self) -> float:
        """Seconds since the Unix epoch."""

    def advance_to(self, when: float) -> None:
        """Move time forward (virtual) or sleep until then (wall)."""


class VirtualClock:
    """Simulated time that moves only when the scheduler skips to the next timer."""

    virtual = True

    def __init__(self, start: dt.datetime | float = EPOCH):
        self._now = start.timestamp() if isinstance(start, dt.datetime) else float(start)

    def now(self) -> float:
        return self._now

    def advance_to(self, when: float) -> None:
        if when > self._now:
            self._now = when

    def advance(self, seconds: float) -> None:
        self._now += seconds


class WallClock:
    """Real time: waits really wait."""

    virtual = False

    def now(self) -> float:
        return time.time()

    def advance_to(self, when: float) -> None:
        delay = when - time.time()
        if delay > 0:
            time.sleep(delay)


@functools.lru_cache(maxsize=64)
def to_datetime(seconds: float) -> dt.datetime:
    """The instant as an aware datetime (cached: on a virtual clock many events share one instant)."""
    return dt.datetime.fromtimestamp(seconds, tz=dt.timezone.utc)


@functools.lru_cache(maxsize=64)
def iso(seconds: float) -> str:
    """ISO-8601 with milliseconds and Z, as the context object shows times."""
    d = to_datetime(seconds)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond // 1000:03d}Z"
