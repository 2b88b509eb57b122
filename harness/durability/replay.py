"""Bring Step Functions back after a crash: run every journaled execution again against its own history.

The engine is deterministic: given the same calls at the same virtual times and the same task outcomes,
an execution makes the same events, task tokens and timers. So `restore` rebuilds each backend from
the journal on a fresh engine whose clock starts where the old one did:

- every journaled call (create, start, stop, task token answer, activity hand-out, tag) is applied again
  at its virtual time, and a call aimed at an execution only once that execution has as many events as
  it had when the call first came;
- a task attempt whose outcome the journal holds is not sent anywhere: `ReplayedTasks` plays back what
  its handler did (TaskSubmitted, then TaskSucceeded or TaskFailed, each at its recorded time); a task
  that waits for a token gets the same token again, so tokens handed out before the crash stay valid;
- an attempt the journal has no outcome for was in flight when the process died: it is run again for
  real (at least once, as AWS runs a task whose worker vanished), or, for a job already submitted whose
  integration can re-attach (`resume`), watched to its end;
- every event the replay makes is compared with the journaled one (type, ids, details, clock reading);
  any difference stops the restore with `ReplayDivergence` naming the execution and the event: a
  replay that cannot be exact says so rather than carry on with a different history.

Once every execution has caught up with the journal, the backend goes on live, writing new events.
"""
from __future__ import annotations

import functools
import json
import threading
import time
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from asl.engine import ApiError, maybe_await
from asl.errors import StatesError
from asl.tasks import Resource, TaskHandler, TaskHandlers, TaskRequest
from harness.durability.journal import Call, Event, Journal
from harness.durability.recorder import as_journaled

if TYPE_CHECKING:
    from asl.engine import Execution
    from harness.store import Backend, Store

_OUTCOMES = ("TaskSucceeded", "TaskFailed", "TaskTimedOut")
STALL_SECONDS = 60.0  # wall seconds without progress before a restore is reported stuck


class ReplayDivergence(RuntimeError):
    """Replaying the journal did not make the history it recorded: the restore cannot be exact."""


class Replay:
    """The replay of one backend; its methods run on the backend's pump thread (`restore` waits for `done`)."""

    def __init__(self, backend: Backend, journal: Journal):
        self.backend = backend
        self.scheduler = backend.engine.scheduler
        self.calls = journal.calls(backend.account, backend.region)
        self.recorded = journal.events(f"arn:aws:states:{backend.region}:{backend.account}:")
        self.tokens = journal.tokens()
        self._follows: dict[str, dict[int, list[Event]]] = {}
        self._waiting: dict[tuple[str, int], list[Call]] = defaultdict(list)
        self._unapplied = len(self.calls)
        self._behind = set(self.recorded)
        self.progress = 0  # calls applied and events checked: the stall detector watches it
        self.problem: str | None = None
        self.done = threading.Event()

    # ------------------------------------------------------------------ driving
    def start(self) -> None:
        recorder = self.backend.recorder
        assert recorder is not None
        recorder.replay = self
        self.backend.engine.handlers = ReplayedTasks(self.backend.engine.handlers, self)
        times = [call.at for call in self.calls] + [events[-1].at for events in self.recorded.values() if events]
        self.scheduler.replayed_until = max(times, default=float("-inf"))  # no waiting for answers already given
        for call in self.calls:
            self.scheduler.call_later(call.at, functools.partial(self._due, call))
        self._check_done()

    def _due(self, call: Call) -> None:
        if call.anchor is None:
            self._apply(call)
            return
        execution = self.backend.engine.executions.get(call.anchor)
        count = len(execution.history.events) if execution is not None else 0
        if count == (call.anchor_events or 0):
            self._apply(call)
        elif count < (call.anchor_events or 0):
            self._waiting[(call.anchor, call.anchor_events or 0)].append(call)
        else:
            self._diverge(f"the call {call.method} (journal entry {call.seq}) came when {call.anchor} had "
                          f"{call.anchor_events} events; on replay it already has {count}")

    def _apply(self, call: Call) -> None:
        recorder = self.backend.recorder
        assert recorder is not None
        recorder.applying = True
        try:
            getattr(self.backend, call.method)(**call.args)
        except ApiError:
            pass  # it failed the first time too: the journal holds calls before they run
        finally:
            recorder.applying = False
        self._unapplied -= 1
        self.progress += 1
        self._check_done()

    def check(self, execution: Execution, event_id: int, at: float, fields: dict[str, Any]) -> bool:
        """Compare a replayed event with the journal; False when the journal does not hold it (a new one)."""
        events = self.recorded.get(execution.arn)
        if events is None or event_id > len(events):
            return False
        recorded = events[event_id - 1]
        made = as_journaled(fields)
        if recorded.at != at or recorded.fields != made:
            self._diverge(f"{execution.arn} event {event_id}: the journal has {recorded.fields} at {recorded.at}, "
                          f"the replay made {made} at {at}")
        self.progress += 1
        if event_id == len(events):
            self._behind.discard(execution.arn)
        for call in self._waiting.pop((execution.arn, event_id), []):
            self.scheduler.call_soon_threadsafe(functools.partial(self._apply, call))  # after this step, as it came
        self._check_done()
        return True

    def check_token(self, execution: Execution, token: str) -> bool:
        """A task token made again: it must be the one handed out before the crash (workers still hold it);
        False for a token of the part not yet journaled (a new one)."""
        position = len(execution.history.events)
        if position >= self.recorded_count(execution.arn):
            return False
        if self.tokens.get(token) != (execution.arn, position):
            self._diverge(f"{execution.arn}: the replay made task token {token[:16]}... after event {position}, "
                          f"which the journal never handed out there")
        return True

    def _check_done(self) -> None:
        if self._unapplied == 0 and not self._behind and not self.done.is_set():
            self._finish()

    def _diverge(self, message: str) -> None:
        if self.problem is None:
            self.problem = message
        self._finish()

    def _finish(self) -> None:
        recorder = self.backend.recorder
        assert recorder is not None
        recorder.replay = None
        if isinstance(self.backend.engine.handlers, ReplayedTasks):
            self.backend.engine.handlers = self.backend.engine.handlers.live
        self.done.set()

    # ------------------------------------------------------------------ what the journal says of a task attempt
    def after(self, execution_arn: str, event_id: int) -> Event | None:
        """The journaled task event that follows `event_id` in its branch (submitted or an outcome), if any."""
        follows = self._follows.get(execution_arn)
        if follows is None:
            follows = defaultdict(list)
            for event in self.recorded.get(execution_arn, []):
                follows[event.fields.get("previousEventId", 0)].append(event)
            self._follows[execution_arn] = follows
        return next((e for e in follows.get(event_id, []) if e.fields["type"] in ("TaskSubmitted", *_OUTCOMES)), None)

    def recorded_count(self, execution_arn: str) -> int:
        return len(self.recorded.get(execution_arn, []))

    def lagging(self) -> list[str]:
        """What the replay still waits for, for a stuck restore's message."""
        engine = self.backend.engine
        out = [f"{arn}: {len(engine.executions[arn].history.events) if arn in engine.executions else 0} of "
               f"{self.recorded_count(arn)} events" for arn in sorted(self._behind)]
        if self._unapplied:
            out.append(f"{self._unapplied} journaled calls not yet applied")
        return out


class ReplayedTasks:
    """Task handlers during a replay: attempts the journal has an outcome for are played back, not sent."""

    def __init__(self, live: TaskHandlers, replay: Replay):
        self.live, self.replay = live, replay

    def resolve(self, resource: Resource) -> TaskHandler | None:
        handler = self.live.resolve(resource)
        if handler is None or resource.kind == "activity" or getattr(handler, "replay_safe", False):
            return handler  # activities are answered through journaled calls; pure handlers just run again
        return functools.partial(self._attempt, handler)

    async def _attempt(self, live: TaskHandler, request: TaskRequest) -> Any:
        replay, scheduler = self.replay, self.replay.scheduler
        execution = replay.backend.engine.executions[request.execution_arn]
        started = len(execution.history.events)  # the attempt's TaskStarted, just made
        if started > replay.recorded_count(execution.arn):
            return await maybe_await(live(request))
        follow = replay.after(execution.arn, started)
        if follow is None:  # in flight when the process died, nothing known of it: run it again
            return await maybe_await(live(request))
        _count(live, request)
        if follow.fields["type"] == "TaskSubmitted":
            await _until(scheduler, follow.at)
            submitted = json.loads(follow.fields["taskSubmittedEventDetails"]["output"])
            if request.resource.pattern == "waitForTaskToken":
                return submitted  # the engine makes TaskSubmitted and waits for the (same) token again
            request.submitted(submitted)
            follow = replay.after(execution.arn, follow.id)
            if follow is None:  # submitted (a job started), then the process died: watch it, or start again
                resume = getattr(live, "resume", None)
                return await maybe_await(resume(request, submitted) if resume is not None else live(request))
        await _until(scheduler, follow.at)
        kind = follow.fields["type"]
        if kind == "TaskSucceeded":
            return json.loads(follow.fields["taskSucceededEventDetails"]["output"])
        if kind == "TaskFailed":
            details = follow.fields["taskFailedEventDetails"]
            raise StatesError(details.get("error"), details.get("cause"))  # type: ignore[arg-type]
        await scheduler.future()  # TaskTimedOut: the engine's own timer ends the attempt, as it did
        raise AssertionError("unreachable: a future nobody resolves")


def _count(live: TaskHandler, request: TaskRequest) -> None:
    """Tell a handler that counts its invocations (mocked responses, `harness.mock_config`) that the journal
    answered one, so that the next live invocation has the number it had before the crash."""
    replayed = getattr(live, "replayed", None)
    if replayed is not None:
        replayed(request)


async def _until(scheduler: Any, at: float) -> None:
    """Suspend until the recorded time, only if time passed: a handler that answered at once (the
    common case) did not let other branches run in between, and neither does its replay. (A handler
    that waited without time passing, beside busy branches, may order events differently: the check
    of every replayed event reports it.)"""
    if at > scheduler.clock.now():
        await scheduler.sleep_until(at)


def restore(store: Store, journal: Journal) -> list[Backend]:
    """Rebuild every journaled backend in `store` and wait until each has caught up with the journal.

    Raises:
        ReplayDivergence: a replayed event differs from the journal, or the replay stopped moving for
            `STALL_SECONDS` (the message says which executions lag and by how much).
    """
    replays = []
    for account, region, _ in journal.backends():
        backend = store.backend(account, region)
        replay = Replay(backend, journal)
        backend.pump.call(replay.start)
        replays.append(replay)
    for replay in replays:
        _wait(replay)
        if replay.problem is not None:
            raise ReplayDivergence(f"cannot resume from {journal.path}: {replay.problem}")
    return [replay.backend for replay in replays]


def _wait(replay: Replay) -> None:
    seen, since = -1, time.monotonic()
    while not replay.done.wait(timeout=0.5):
        if replay.progress != seen:
            seen, since = replay.progress, time.monotonic()
        elif time.monotonic() - since > STALL_SECONDS:
            replay.problem = "the replay stopped before catching up with the journal: " + "; ".join(replay.lagging())
            return
