"""What a Step Functions backend writes to the journal, at the moment it happens.

A `Recorder` is attached to one `harness.store.Backend` (its `recorder`) and to its engine (`engine.recorder`):
the backend hands it every state-changing call before the call runs (`harness.store._changes`), the engine
every history event and task token as it is made. While the backend is being replayed after a crash, the
events the journal already holds are checked against it instead of written again.
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from harness.durability.journal import Journal

if TYPE_CHECKING:
    from asl.engine import Execution
    from harness.durability.replay import Replay
    from harness.store import Backend


class Recorder:
    def __init__(self, journal: Journal, backend: Backend):
        self.journal = journal
        self.backend = backend
        self.replay: Replay | None = None  # set while the backend is replayed
        self.applying = False  # a journaled call being applied again: not journaled twice

    def call(self, method: str, args: dict[str, Any], aimed_at: str | None) -> None:
        if self.applying:
            return
        engine = self.backend.engine
        execution = engine.executions.get(aimed_at) if aimed_at else None
        self.journal.call(self.backend.account, self.backend.region, engine.scheduler.clock.now(), method, args,
                          aimed_at, len(execution.history.events) if execution is not None else None)

    def event(self, execution: Execution, event: dict[str, Any]) -> None:
        fields = {key: value for key, value in event.items() if key != "timestamp"}
        at = self.backend.engine.scheduler.clock.now()
        if self.replay is not None and self.replay.check(execution, event["id"], at, fields):
            return
        self.journal.event(execution.arn, event["id"], at, fields)

    def token(self, execution: Execution, token: str) -> None:
        if self.replay is not None and self.replay.check_token(execution, token):
            return
        self.journal.token(token, execution.arn, len(execution.history.events))


def as_journaled(fields: dict[str, Any]) -> dict[str, Any]:
    """An event's fields as they read back from the journal (JSON round trip)."""
    return json.loads(json.dumps(fields, ensure_ascii=False))
