"""The table of integrations, keyed by (service, action) as the Resource ARN names them.

Each service module registers its handlers with `@integration("sqs", "sendMessage", patterns=...)`;
a handler is `async (services, request) -> result` and raises `StatesError` to fail the task.
`Services` is what every handler may use: the local cloud's clients, the clock of the execution,
deterministic request ids, and the engine hooks (nested executions, task tokens).
"""
from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from asl.tasks import TaskRequest

Handler = Callable[["Services", TaskRequest], Awaitable[Any]]


@dataclass(frozen=True)
class Integration:
    service: str
    action: str
    patterns: frozenset[str]
    run: Handler


REGISTRY: dict[tuple[str, str], Integration] = {}


def integration(service: str, action: str, *, patterns: tuple[str, ...] = ("",)) -> Callable[[Handler], Handler]:
    """Register `fn` for `arn:aws:states:::<service>:<action>[.<pattern>]`."""

    def register(fn: Handler) -> Handler:
        REGISTRY[(service, action)] = Integration(service, action, frozenset(patterns), fn)
        return fn
    return register


class Services:
    """What handlers share for one engine: the cloud, ids, and the hooks into the engine."""

    def __init__(self, cloud: Any, *, start_execution: Callable[..., Any] | None = None, sfn_api: Any = None,
                 lambda_code_dirs: dict[str, str] | None = None, seed: int = 0):
        self.cloud = cloud
        self.region = cloud.region
        self.account = cloud.account
        self.engine: Any = None
        self.start_execution = start_execution
        self.sfn_api = sfn_api
        self.lambda_code_dirs = dict(lambda_code_dirs or {})
        self.activities: Any = None  # dispatcher of activity tasks (the Step Functions API's store)
        self._ids = random.Random(f"drydock-integrations:{seed}")

    def client(self, service: str) -> Any:
        return self.cloud.client(service)

    def new_id(self) -> str:
        """A UUID for message ids and request ids: random-looking, repeatable for a seed."""
        return str(uuid.UUID(int=self._ids.getrandbits(128), version=4))

    def spawn(self, coro: Any) -> None:
        """Run a coroutine beside the execution (a fire-and-forget delivery) on the engine's scheduler."""
        if self.engine is not None:
            self.engine.scheduler.spawn(coro)
            return
        try:  # no engine bound: drive it to the end here, its waits taking no time
            while True:
                coro.send(None)
        except StopIteration:
            pass
