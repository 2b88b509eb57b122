"""The one plug-in point between the language and the outside world: resource ARN -> task handler.

A handler gets a `TaskRequest` (the parsed resource, the effective parameters, the execution's
context) and returns the task's result, raises `StatesError(error, cause)` to fail it, or awaits
`request.sleep(...)` while it polls (the `.sync` pattern). For `.waitForTaskToken` the handler
sends the token somewhere and returns; the engine then waits for SendTaskSuccess/Failure.
Handlers may be plain functions or `async def`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Protocol

from asl.errors import StatesError

_STATES_ARN = re.compile(r"^arn:(?P<partition>[^:]+):states:(?P<region>[^:]*):(?P<account>[^:]*):(?P<rest>.+)$")
_LAMBDA_ARN = re.compile(r"^arn:(?P<partition>[^:]+):lambda:(?P<region>[^:]+):(?P<account>\d+):function:(?P<name>[^:]+)(?::(?P<qualifier>[^:]+))?$")
_PATTERNS = (".waitForTaskToken", ".sync:2", ".sync")


@dataclass(frozen=True)
class Resource:
    """A Task's Resource ARN, parsed once: what service, what action, which integration pattern."""

    arn: str
    kind: str  # "service" (arn:aws:states:::svc:action), "activity", "lambda" (bare function ARN), "other"
    service: str = ""  # resourceType in history: "lambda", "sqs", "aws-sdk:s3", ...
    action: str = ""  # e.g. "invoke", "sendMessage", "getObject"
    pattern: str = ""  # "", "sync", "sync:2", "waitForTaskToken"
    region: str = ""
    account: str = ""

    @property
    def history_resource(self) -> str:
        """The `resource` field of Task* events: the action with its pattern suffix."""
        return self.action + (f".{self.pattern}" if self.pattern else "")


def parse_resource(arn: str) -> Resource:
    m = _STATES_ARN.match(arn)
    if m:
        rest = m.group("rest")
        if rest.startswith("activity:"):
            return Resource(arn, "activity", "activity", rest.split(":", 1)[1], "", m.group("region"), m.group("account"))
        pattern = ""
        for suffix in _PATTERNS:
            if rest.endswith(suffix):
                pattern, rest = suffix[1:], rest[: -len(suffix)]
                break
        if rest.startswith("aws-sdk:"):
            parts = rest.split(":")
            if len(parts) == 3:
                return Resource(arn, "service", f"aws-sdk:{parts[1]}", parts[2], pattern, m.group("region"), m.group("account"))
        elif ":" in rest:
            service, action = rest.split(":", 1)
            return Resource(arn, "service", service, action, pattern, m.group("region"), m.group("account"))
        return Resource(arn, "other", pattern=pattern)
    m = _LAMBDA_ARN.match(arn)
    if m:
        return Resource(arn, "lambda", "lambda", "invoke", "", m.group("region"), m.group("account"))
    return Resource(arn, "other")


@dataclass
class TaskRequest:
    """Everything a handler may use to do one task attempt."""

    resource: Resource
    parameters: Any
    state_name: str
    execution_arn: str
    region: str
    account: str
    task_token: str | None
    credentials: Any
    context: dict[str, Any]
    sleep: Callable[[float], Awaitable[None]]
    now: Callable[[], float]
    submitted: Callable[[Any], None] = field(default=lambda output: None)
    started: Callable[..., None] = field(default=lambda worker_name=None: None)  # an activity worker took it
    heartbeat_seconds: int | None = None
    timeout_seconds: int | None = None


class TaskHandler(Protocol):
    def __call__(self, request: TaskRequest) -> Any | Awaitable[Any]: ...


class TaskHandlers(Protocol):
    """What the engine asks for a handler; `None` means nothing here serves that resource."""

    def resolve(self, resource: Resource) -> TaskHandler | None: ...


class HandlerTable:
    """The simplest TaskHandlers: exact ARN first, then (service, action), then service alone."""

    def __init__(self) -> None:
        self._by_arn: dict[str, TaskHandler] = {}
        self._by_action: dict[tuple[str, str], TaskHandler] = {}
        self._by_service: dict[str, TaskHandler] = {}

    def register_arn(self, arn: str, handler: TaskHandler) -> None:
        self._by_arn[arn] = handler

    def register(self, service: str, action: str | None, handler: TaskHandler) -> None:
        if action is None:
            self._by_service[service] = handler
        else:
            self._by_action[(service, action)] = handler

    def resolve(self, resource: Resource) -> TaskHandler | None:
        return (self._by_arn.get(resource.arn)
                or self._by_action.get((resource.service, resource.action))
                or self._by_service.get(resource.service))


def no_handler_error(resource: Resource) -> StatesError:
    return StatesError("States.TaskFailed",
                       f"No task handler serves the resource '{resource.arn}' (not supported locally)")
