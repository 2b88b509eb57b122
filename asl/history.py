"""Execution history in GetExecutionHistory's shape; the only code that builds event dicts.

`previousEventId` follows AWS: each branch of execution carries a `HistoryContext` whose
`source_event_id` is the event the next one follows. Some events (MapIterationSucceeded,
MapStateSucceeded, ...) are published without becoming the source, and child contexts (Map
iterations, Parallel branches) fold back into their parent with `integrate`.
"""
from __future__ import annotations

import json
from typing import Any

from asl.clock import to_datetime

STATE_EVENTS: dict[str, tuple[str, str | None]] = {
    "Pass": ("PassStateEntered", "PassStateExited"),
    "Task": ("TaskStateEntered", "TaskStateExited"),
    "Choice": ("ChoiceStateEntered", "ChoiceStateExited"),
    "Wait": ("WaitStateEntered", "WaitStateExited"),
    "Succeed": ("SucceedStateEntered", "SucceedStateExited"),
    "Fail": ("FailStateEntered", None),
    "Parallel": ("ParallelStateEntered", "ParallelStateExited"),
    "Map": ("MapStateEntered", "MapStateExited"),
}

_DETAILS_KEY: dict[str, str] = {
    "ExecutionStarted": "executionStartedEventDetails",
    "ExecutionSucceeded": "executionSucceededEventDetails",
    "ExecutionFailed": "executionFailedEventDetails",
    "ExecutionAborted": "executionAbortedEventDetails",
    "ExecutionTimedOut": "executionTimedOutEventDetails",
    "EvaluationFailed": "evaluationFailedEventDetails",
    "TaskScheduled": "taskScheduledEventDetails",
    "TaskStarted": "taskStartedEventDetails",
    "TaskSubmitted": "taskSubmittedEventDetails",
    "TaskSucceeded": "taskSucceededEventDetails",
    "TaskFailed": "taskFailedEventDetails",
    "TaskTimedOut": "taskTimedOutEventDetails",
    "TaskStartFailed": "taskStartFailedEventDetails",
    "TaskSubmitFailed": "taskSubmitFailedEventDetails",
    "ActivityScheduled": "activityScheduledEventDetails",
    "ActivityStarted": "activityStartedEventDetails",
    "ActivitySucceeded": "activitySucceededEventDetails",
    "ActivityFailed": "activityFailedEventDetails",
    "ActivityTimedOut": "activityTimedOutEventDetails",
    "ActivityScheduleFailed": "activityScheduleFailedEventDetails",
    "LambdaFunctionScheduled": "lambdaFunctionScheduledEventDetails",
    "LambdaFunctionStarted": None,  # type: ignore[dict-item]
    "LambdaFunctionSucceeded": "lambdaFunctionSucceededEventDetails",
    "LambdaFunctionFailed": "lambdaFunctionFailedEventDetails",
    "LambdaFunctionTimedOut": "lambdaFunctionTimedOutEventDetails",
    "LambdaFunctionScheduleFailed": "lambdaFunctionScheduleFailedEventDetails",
    "LambdaFunctionStartFailed": "lambdaFunctionStartFailedEventDetails",
    "MapStateStarted": "mapStateStartedEventDetails",
    "MapIterationStarted": "mapIterationStartedEventDetails",
    "MapIterationSucceeded": "mapIterationSucceededEventDetails",
    "MapIterationFailed": "mapIterationFailedEventDetails",
    "MapIterationAborted": "mapIterationAbortedEventDetails",
    "MapRunStarted": "mapRunStartedEventDetails",
    "MapRunFailed": "mapRunFailedEventDetails",
    "MapRunRedriven": "mapRunRedrivenEventDetails",
}
for _entered, _exited in STATE_EVENTS.values():
    _DETAILS_KEY[_entered] = "stateEnteredEventDetails"
    if _exited:
        _DETAILS_KEY[_exited] = "stateExitedEventDetails"


_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def to_json(value: Any) -> str:
    """JSON text as Step Functions writes it: compact, non-ASCII kept (one encoder, built once)."""
    return _ENCODER.encode(value)


class HistoryContext:
    """Where the next event of one branch of execution hangs in the history."""

    __slots__ = ("source_event_id", "last_published_event_id")

    def __init__(self, previous_event_id: int = 0):
        self.source_event_id = previous_event_id
        self.last_published_event_id = previous_event_id

    def child(self) -> "HistoryContext":
        return HistoryContext(self.source_event_id)

    def integrate(self, other: "HistoryContext") -> None:
        self.source_event_id = max(self.source_event_id, other.last_published_event_id)
        self.last_published_event_id = max(self.last_published_event_id, other.last_published_event_id)


class History:
    """The event list of one execution. Events are appended, never changed."""

    def __init__(self, clock_now: Any):
        self.events: list[dict[str, Any]] = []
        self._now = clock_now
        self.closed = False
        self.listeners: list[Any] = []

    def emit(self, context: HistoryContext | None, type_: str, details: dict[str, Any] | None = None, *,
             update_source: bool = True, previous: int | None = None) -> int:
        """Append one event; its previousEventId comes from `context` (or `previous`)."""
        event_id = len(self.events) + 1
        prev = previous if previous is not None else (context.source_event_id if context is not None else 0)
        event: dict[str, Any] = {"timestamp": to_datetime(self._now()), "type": type_, "id": event_id,
                                 "previousEventId": prev}
        if details is not None:
            key = _DETAILS_KEY.get(type_)
            if key:
                event[key] = details
        if context is not None:
            context.last_published_event_id = event_id
            if update_source:
                context.source_event_id = event_id
        self.events.append(event)
        for listener in self.listeners:
            listener(event)
        return event_id


def payload_details(key: str, value_text: str) -> dict[str, Any]:
    """`{"output": text, "outputDetails": {"truncated": false}}` and the like."""
    return {key: value_text, f"{key}Details": {"truncated": False}}
