"""State visits from an execution history: which state each event happened in, and each state's input and output.

Shared by `drydock run`'s live progress, `drydock history`, `drydock graph`, the UI and the pytest
plugin's coverage. Events are placed by `previousEventId` (GetExecutionHistory's links): an event is
inside whatever the event it follows is inside; a StateEntered opens a visit, a StateExited closes it,
and any visit still open between them was left by an error (a Fail state in a caught Parallel branch).
States of Map iterations and Parallel branches therefore nest under their Map or Parallel.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

FAILURES = {"TaskFailed", "ActivityFailed", "TaskTimedOut", "ActivityTimedOut", "LambdaFunctionFailed",
            "LambdaFunctionTimedOut", "TaskStartFailed", "TaskSubmitFailed", "ActivityScheduleFailed",
            "LambdaFunctionScheduleFailed", "LambdaFunctionStartFailed", "MapStateFailed", "ParallelStateFailed",
            "MapRunFailed"}
SUCCESSES = {"TaskSucceeded", "ActivitySucceeded", "LambdaFunctionSucceeded"}
EXECUTION_ENDS = {"ExecutionSucceeded", "ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted"}


def seconds(timestamp: Any) -> float:
    """An event timestamp (datetime, ISO text or epoch number) as epoch seconds."""
    if isinstance(timestamp, dt.datetime):
        return timestamp.timestamp()
    if isinstance(timestamp, str):
        return dt.datetime.fromisoformat(timestamp).timestamp()
    return float(timestamp)


def details_of(event: dict[str, Any]) -> dict[str, Any]:
    return next((v for k, v in event.items() if k.endswith("EventDetails") and isinstance(v, dict)), {})


class Visit:
    """One entry of a state: its events, input, output or error, outcome and durations."""

    def __init__(self, name: str, type_: str, parent: "Visit | None", entered: dict[str, Any], wall: float | None):
        self.name, self.type, self.parent = name, type_, parent
        self.depth = parent.depth + 1 if parent is not None else 0
        self.entered = entered
        self.exited: dict[str, Any] | None = None
        self.start = seconds(entered["timestamp"])
        self.stop: float | None = None
        self.wall_start: float | None = wall
        self.wall_stop: float | None = None
        self.input = details_of(entered).get("input")
        self.output: str | None = None
        self.error: str | None = None
        self.cause: str | None = None
        self.outcome = "failed" if type_ == "Fail" else "running"  # running | ok | caught | failed
        self.failures = 0  # failed attempts (retried or caught)
        self.recovered = True
        self.events: list[dict[str, Any]] = [entered]

    @property
    def open(self) -> bool:
        return self.stop is None

    @property
    def virtual_seconds(self) -> float | None:
        return None if self.stop is None else self.stop - self.start

    @property
    def wall_seconds(self) -> float | None:
        if self.wall_start is None or self.wall_stop is None or self.stop is None:
            return None
        return self.wall_stop - self.wall_start

    def close(self, at: float, wall: float | None, outcome: str) -> None:
        self.stop, self.wall_stop = at, wall
        if self.outcome == "running":
            self.outcome = outcome


class Tracker:
    """Reads events one by one (as a `History` listener or from a list) and keeps the visits."""

    def __init__(self) -> None:
        self.visits: list[Visit] = []
        self.status = "RUNNING"
        self.error: str | None = None
        self.cause: str | None = None
        self._inside: dict[int, Visit | None] = {}

    def add(self, event: dict[str, Any], wall: float | None = None) -> Visit | None:
        """Place one event; returns the visit it opened, closed, or happened in (None: the execution's own)."""
        kind = event["type"]
        at = seconds(event["timestamp"])
        inside = self._inside.get(event.get("previousEventId", 0))
        details = details_of(event)
        if kind.endswith("StateEntered"):
            visit = Visit(details.get("name", "?"), kind[: -len("StateEntered")], inside, event, wall)
            self.visits.append(visit)
            self._inside[event["id"]] = visit
            return visit
        if kind.endswith("StateExited"):
            visit = self._closing(inside, details.get("name", "?"), at, wall)
            if visit is None:
                self._inside[event["id"]] = inside
                return None
            visit.events.append(event)
            visit.exited, visit.output = event, details.get("output")
            visit.close(at, wall, "ok" if visit.recovered else "caught")
            self._inside[event["id"]] = visit.parent
            return visit
        self._inside[event["id"]] = inside
        owner = inside
        if kind in ("MapStateFailed", "ParallelStateFailed"):
            while owner is not None and owner.type != kind[: -len("StateFailed")]:
                owner = owner.parent
        if owner is not None:
            owner.events.append(event)
        if kind in FAILURES and owner is not None:
            owner.failures += 1
            owner.recovered = False
            owner.error, owner.cause = details.get("error", owner.error), details.get("cause", owner.cause)
        elif kind in SUCCESSES and owner is not None:
            owner.recovered = True
        elif kind in EXECUTION_ENDS:
            self.status = {"ExecutionSucceeded": "SUCCEEDED", "ExecutionFailed": "FAILED",
                           "ExecutionTimedOut": "TIMED_OUT", "ExecutionAborted": "ABORTED"}[kind]
            self.error, self.cause = details.get("error"), details.get("cause")
            failed = kind != "ExecutionSucceeded"
            for visit in self.visits:
                if visit.open:
                    if failed and visit.error is None:
                        visit.error, visit.cause = self.error, self.cause
                    visit.close(at, wall, "failed" if failed else "ok")
        return owner

    def _closing(self, inside: Visit | None, name: str, at: float, wall: float | None) -> Visit | None:
        visit = inside
        while visit is not None and visit.name != name:
            visit = visit.parent
        if visit is None:
            return next((v for v in reversed(self.visits) if v.name == name and v.open), None)
        left = inside
        while left is not None and left is not visit:
            if left.open:
                left.close(at, wall, "failed")
            left = left.parent
        return visit

    def failed_states(self) -> set[str]:
        return {v.name for v in self.visits if v.outcome == "failed"}

    def entered_states(self) -> list[str]:
        return [v.name for v in self.visits]


def track(events: list[dict[str, Any]]) -> Tracker:
    """All visits of a finished (or running) execution's events."""
    tracker = Tracker()
    for event in events:
        tracker.add(event)
    return tracker


def transitions(tracker: Tracker) -> set[tuple[str, str, str]]:
    """(from, to, via) transitions taken within each body; `via` is "catch" when a Catcher took an error, else "next"."""
    out: set[tuple[str, str, str]] = set()
    last: dict[int, Visit] = {}
    for visit in tracker.visits:
        key = id(visit.parent)
        previous = last.get(key)
        # a new Map iteration restarts the body: the previous visit ended with End or a terminal state
        if previous is not None and not previous.open and previous.exited is not None:
            if visit.entered["previousEventId"] == previous.exited["id"]:
                out.add((previous.name, visit.name, "catch" if previous.outcome == "caught" else "next"))
        last[key] = visit
    return out
