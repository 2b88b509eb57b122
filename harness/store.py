"""Step Functions state per account and region, and the engine thread that runs its executions.

The model half of the Step Functions API (moto's `models.py`; the wire half is
`harness.stepfunctions_api`): state machines with their revisions, executions, activities and
tags, in one `Backend` per account and region (moto's `BackendDict[account][region]`). A Backend
owns an `asl.engine.Engine`, whose scheduler is single-threaded, so a `Pump` thread runs that
scheduler and every other thread hands work to it and waits for the answer: backend objects are
only ever touched on their pump thread.
"""
from __future__ import annotations

import dataclasses
import functools
import inspect
import json
import random
import re
import threading
import traceback
import uuid
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar

from asl import errors as E
from asl.clock import Clock, VirtualClock
from asl.engine import UNCATCHABLE, ApiError, Engine, Execution
from asl.errors import DefinitionError, StatesError
from asl.history import STATE_EVENTS, to_json
from asl.program import Program, compile_program
from asl.scheduler import Scheduler
from asl.tasks import Resource, TaskHandler, TaskHandlers, TaskRequest

T = TypeVar("T")
MAX_TAGS = 50  # tags per resource
EXPRESS_MAX_SECONDS = 300  # an Express execution runs at most five minutes, then times out
_ARN = re.compile(r"^arn:aws[a-z-]*:states:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):(?P<type>[A-Za-z]+):(?P<rest>.+)$")
# Names: 1-80 characters, none of whitespace, < > { } [ ] ? * " # % \ ^ | ~ ` $ & , ; : / or control characters.
_BAD_NAME = re.compile(r"[\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]")


# --------------------------------------------------------------------------- the pump
class Pump:
    """The one thread that runs a scheduler; other threads hand it callables through `call`.

    `idle_grace` is how long (wall seconds) the scheduler waits for an outside answer (a task
    token, an activity worker) before it skips virtual time to a waiting task's next timer. With a
    virtual clock and no grace (in-process tests) `call` answers only once the scheduler has
    nothing left to do, so a caller that starts an execution finds it finished or parked on a
    token, never half way: the in-process API is deterministic. (So an execution that never stops
    moving on the clock, an endless polling loop, holds every call of its backend there.)
    Otherwise (`drydock serve`) a call that finds the scheduler idle runs `fn` on the caller's thread,
    in the pump's place and under the same lock, instead of handing it over and waiting for the answer
    to come back; the pump then runs whatever `fn` made ready.
    """

    def __init__(self, scheduler: Scheduler, *, idle_grace: float, name: str):
        self.scheduler = scheduler
        self.idle_grace = idle_grace
        self._settle = idle_grace == 0 and scheduler.clock.virtual
        self._settled: list[tuple[Future, Any, BaseException | None]] = []
        self._wake = threading.Event()
        self._closed = False
        self._running = threading.Lock()  # held while the scheduler runs, or while a caller runs in its place
        self._inline: int | None = None  # the thread running a call in the pump's place
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    @property
    def on_thread(self) -> bool:
        me = threading.get_ident()
        return me == self._thread.ident or me == self._inline

    def call(self, fn: Callable[[], T]) -> T:
        """Run `fn` on the pump thread (or in its place) and return its result (or raise its exception) here."""
        if self.on_thread:  # a task handler calling the API in-process
            return fn()
        if self._closed:
            raise RuntimeError(f"the Step Functions engine thread {self._thread.name} is closed")
        if not self._settle and self._running.acquire(blocking=False):
            self._inline = threading.get_ident()
            try:
                return fn()
            finally:
                self._inline = None
                self._running.release()
                self._wake.set()
        answer: Future = Future()

        def task() -> None:
            try:
                outcome: tuple[Any, BaseException | None] = (fn(), None)
            except Exception as exc:  # handed to the caller
                outcome = (None, exc)
            if self._settle:
                self._settled.append((answer, *outcome))
            else:
                _resolve(answer, *outcome)
        self.scheduler.call_soon_threadsafe(task)
        self._wake.set()
        return answer.result()

    def close(self) -> None:
        self._closed = True
        self._wake.set()
        self.scheduler.call_soon_threadsafe(lambda: None)  # wakes a scheduler waiting for outside input
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._closed:
            self._wake.wait()
            self._wake.clear()
            with self._running:
                try:
                    self.scheduler.run(until=lambda: self._closed, idle_grace=self.idle_grace)
                except Exception:  # a bug in one execution must not stop every other one
                    traceback.print_exc()
            settled, self._settled = self._settled, []
            for answer, value, error in settled:
                _resolve(answer, value, error)


def _resolve(answer: Future, value: Any, error: BaseException | None) -> None:
    if error is not None:
        answer.set_exception(error)
    else:
        answer.set_result(value)


# --------------------------------------------------------------------------- resources
@dataclass(frozen=True)
class Revision:
    """One version of a state machine's definition and role; executions keep the one they started on."""

    definition: str
    program: Program
    role_arn: str
    revision_id: str
    date: float


@dataclass
class StateMachine:
    arn: str
    name: str
    type: str  # STANDARD | EXPRESS
    creation_date: float
    revision: Revision
    logging: dict[str, Any]
    tracing: dict[str, Any]
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class ExecutionRecord:
    """An engine execution with what the API also reports: its machine and the revision it runs."""

    seq: int
    execution: Execution
    machine: StateMachine
    revision: Revision


@dataclass
class ActivityTask:
    token: str
    input: str
    started: Callable[[str | None], None]


@dataclass
class Activity:
    arn: str
    name: str
    creation_date: float
    tags: dict[str, str] = field(default_factory=dict)
    tasks: deque[ActivityTask] = field(default_factory=deque)
    pollers: deque[tuple[Future, str | None]] = field(default_factory=deque)


def _check_name(name: str) -> None:
    if not 1 <= len(name) <= 80 or _BAD_NAME.search(name):
        raise ApiError("InvalidName", f"Invalid Name: '{name}'")


def _check_arn(arn: str, *types: str) -> None:
    """A Step Functions ARN of one of the resource `types` this call accepts, or InvalidArn."""
    m = _ARN.match(arn)
    if m is None:
        raise ApiError("InvalidArn", f"Invalid Arn: 'Invalid ARN prefix: {arn}'")
    if m.group("type") not in types:
        raise ApiError("InvalidArn", f"Invalid Arn: 'Resource type not valid in this context: {m.group('type')}'")


def _compile(text: str) -> Program:
    """Definition text as CreateStateMachine receives it -> a program, or InvalidDefinition naming each problem."""
    try:
        definition = json.loads(text)
    except json.JSONDecodeError as err:
        raise ApiError("InvalidDefinition", f"Invalid State Machine Definition: 'INVALID_JSON_DESCRIPTION: {err.msg} "
                                            f"at line {err.lineno}, column {err.colno}'") from None
    try:
        return compile_program(definition)
    except DefinitionError as err:
        raise ApiError("InvalidDefinition", str(err)) from None


# --------------------------------------------------------------------------- one account in one region
def _changes(aimed_at: Callable[[Backend, dict[str, Any]], str | None] | None = None) -> Callable[[Any], Any]:
    """Mark a Backend method that changes state: with a recorder attached (`drydock serve`'s journal,
    `harness.durability`), the call is journaled before it runs. `aimed_at` names the execution a call
    acts on (a stop, a task token answer), which is where a replay applies it again."""
    def mark(method: Callable[..., T]) -> Callable[..., T]:
        signature = inspect.signature(method)

        @functools.wraps(method)
        def changing(self: Backend, *args: Any, **kwargs: Any) -> T:
            if self.recorder is not None:
                values = signature.bind(self, *args, **kwargs).arguments
                values.pop("self")
                self.recorder.call(method.__name__, values, aimed_at(self, values) if aimed_at else None)
            return method(self, *args, **kwargs)
        return changing
    return mark


def _token_owner(backend: Backend, values: dict[str, Any]) -> str | None:
    wait = backend.engine.tokens.get(values["token"])
    return wait.execution.arn if wait is not None else None


class Backend:
    """Step Functions for one account in one region; call its methods only on `pump`'s thread."""

    def __init__(self, account: str, region: str, handlers_for: Callable[[Backend], TaskHandlers], *, clock: Clock,
                 idle_grace: float, recorder: Callable[[Backend], Any] | None = None, mocks: Any = None):
        self.account, self.region = account, region
        self.mocks = mocks  # a MockConfigFile (`harness.mock_config`): `<arn>#<TestCase>` starts pick a test case
        self.engine = Engine(clock=clock, region=region, account=account)
        self._ids = random.Random(f"{account}:{region}")  # revision ids: the same again when a journal is replayed
        self.handlers = handlers_for(self)  # made once the engine exists: integrations bind to it
        self.engine.handlers = _WithActivities(self.handlers, self)
        self.pump = Pump(self.engine.scheduler, idle_grace=idle_grace, name=f"drydock-sfn-{account}-{region}")
        self.state_machines: dict[str, StateMachine] = {}
        self.executions: dict[str, ExecutionRecord] = {}
        self.activities: dict[str, Activity] = {}
        self._seq = 0
        self.recorder = recorder(self) if recorder is not None else None  # see `_changes`
        self.engine.recorder = self.recorder

    def now(self) -> float:
        return self.engine.scheduler.clock.now()

    def arn(self, resource_type: str, name: str) -> str:
        return f"arn:aws:states:{self.region}:{self.account}:{resource_type}:{name}"

    # ------------------------------------------------------------------ state machines
    @_changes()
    def create_state_machine(self, name: str, definition: str, role_arn: str, type_: str, tags: dict[str, str],
                             logging: dict[str, Any], tracing: dict[str, Any]) -> StateMachine:
        _check_name(name)
        _check_role(role_arn)
        program = _compile(definition)
        arn = self.arn("stateMachine", name)
        existing = self.state_machines.get(arn)
        if existing is not None:  # CreateStateMachine is idempotent for an identical request
            same = (existing.revision.definition, existing.revision.role_arn, existing.type) == (definition, role_arn, type_)
            if not same:
                raise ApiError("StateMachineAlreadyExists", f"State Machine Already Exists: '{arn}'")
            return existing
        now = self.now()
        machine = StateMachine(arn, name, type_, now, self._revision(definition, program, role_arn), logging, tracing,
                               tags)
        self.state_machines[arn] = machine
        return machine

    @_changes()
    def update_state_machine(self, arn: str, definition: str | None, role_arn: str | None,
                             logging: dict[str, Any] | None, tracing: dict[str, Any] | None) -> StateMachine:
        machine = self.state_machine(arn)
        if role_arn is not None:
            _check_role(role_arn)
        if definition is not None or role_arn is not None:
            text = definition if definition is not None else machine.revision.definition
            program = _compile(text) if definition is not None else machine.revision.program
            machine.revision = self._revision(text, program, role_arn or machine.revision.role_arn)
        machine.logging = logging if logging is not None else machine.logging
        machine.tracing = tracing if tracing is not None else machine.tracing
        return machine

    def state_machine(self, arn: str) -> StateMachine:
        _check_arn(arn, "stateMachine")
        machine = self.state_machines.get(arn)
        if machine is None:
            raise ApiError("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{arn}'")
        return machine

    @_changes()
    def delete_state_machine(self, arn: str) -> None:
        _check_arn(arn, "stateMachine")
        self.state_machines.pop(arn, None)

    def _revision(self, definition: str, program: Program, role_arn: str) -> Revision:
        return Revision(definition, program, role_arn, str(uuid.UUID(int=self._ids.getrandbits(128), version=4)),
                        self.now())

    # ------------------------------------------------------------------ executions
    @_changes()
    def start_execution(self, machine_arn: str, name: str | None, input_text: str) -> ExecutionRecord:
        """StartExecution; `machine_arn` may end in `#TestCase`, which runs that test case of the mock
        configuration, as Step Functions Local does."""
        from harness.mock_config import MockConfigError, split_test_case

        machine_arn, test_case = split_test_case(machine_arn)
        if test_case is not None and self.mocks is None:
            raise ApiError("ValidationException", f"'{machine_arn}#{test_case}' names the test case {test_case!r}, but "
                                                  f"no mock configuration is loaded (drydock serve --mock-config FILE, "
                                                  f"or SFN_MOCK_CONFIG)")
        machine = self.state_machine(machine_arn)
        if test_case is not None and test_case not in self.mocks.test_cases.get(machine.name, {}):
            raise ApiError("ValidationException", f"the mock configuration has no test case {test_case!r} for state "
                                                  f"machine {machine.name!r}")
        if name is not None:
            _check_name(name)
            previous = self.executions.get(f"{self.arn('execution', machine.name)}:{name}")
            if previous is not None:  # same name: the running execution with the same input, or an error
                if previous.execution.status == "RUNNING" and previous.execution.input_text == input_text:
                    return previous
                raise ApiError("ExecutionAlreadyExists", f"Execution Already Exists: '{previous.execution.arn}'")
        try:
            json.loads(input_text)
        except json.JSONDecodeError as err:
            raise ApiError("InvalidExecutionInput", f"Invalid State Machine Execution Input: '{err.msg} at line "
                                                    f"{err.lineno}, column {err.colno}'") from None
        revision = machine.revision
        program = revision.program
        if machine.type == "EXPRESS":
            program = dataclasses.replace(program, timeout_seconds=min(program.timeout_seconds or EXPRESS_MAX_SECONDS,
                                                                       EXPRESS_MAX_SECONDS))
        execution = self.engine.start(program, input_text, name=name, state_machine_arn=machine.arn,
                                      role_arn=revision.role_arn)
        if self.mocks is not None:
            try:
                self.mocks.bind(execution.arn, machine.name, test_case)
            except MockConfigError as err:
                raise ApiError("ValidationException", str(err)) from None
        self._seq += 1
        record = ExecutionRecord(self._seq, execution, machine, revision)
        self.executions[execution.arn] = record
        return record

    def execution(self, arn: str) -> ExecutionRecord:
        _check_arn(arn, "execution", "express")
        record = self.executions.get(arn)
        if record is None:
            raise ApiError("ExecutionDoesNotExist", f"Execution Does Not Exist: '{arn}'")
        return record

    @_changes(lambda backend, values: values["arn"])
    def stop_execution(self, arn: str, error: str | None, cause: str | None) -> Execution:
        execution = self.execution(arn).execution
        self.engine.stop_execution(execution, error, cause)
        return execution

    # ------------------------------------------------------------------ task tokens
    @_changes(_token_owner)
    def send_task_success(self, token: str, output: str) -> None:
        self.engine.send_task_success(token, output)

    @_changes(_token_owner)
    def send_task_failure(self, token: str, error: str | None, cause: str | None) -> None:
        self.engine.send_task_failure(token, error, cause)

    @_changes(_token_owner)
    def send_task_heartbeat(self, token: str) -> None:
        self.engine.send_task_heartbeat(token)

    def when_finished(self, record: ExecutionRecord) -> Future:
        """A thread-safe future resolved once the execution has stopped, whatever its status."""
        done: Future = Future()

        async def watch() -> None:
            await record.execution.finished
            done.set_result(record)
        self.engine.scheduler.spawn(watch(), name=f"watch {record.execution.arn}")
        return done

    # ------------------------------------------------------------------ activities
    @_changes()
    def create_activity(self, name: str, tags: dict[str, str]) -> Activity:
        _check_name(name)
        arn = self.arn("activity", name)
        if arn not in self.activities:  # CreateActivity is idempotent
            self.activities[arn] = Activity(arn, name, self.now(), tags)
        return self.activities[arn]

    def activity(self, arn: str) -> Activity:
        _check_arn(arn, "activity")
        activity = self.activities.get(arn)
        if activity is None:
            raise ApiError("ActivityDoesNotExist", f"Activity Does Not Exist: '{arn}'")
        return activity

    @_changes()
    def delete_activity(self, arn: str) -> None:
        _check_arn(arn, "activity")
        self.activities.pop(arn, None)

    def poll_activity(self, arn: str, worker_name: str | None) -> Future:
        """GetActivityTask's wait: a future for `{taskToken, input}`, done at once when a task is queued."""
        activity = self.activity(arn)
        poll: Future = Future()
        activity.pollers.append((poll, worker_name))
        self._hand_out(activity)
        return poll

    def cancel_poll(self, arn: str, poll: Future) -> dict[str, str]:
        """The long poll ran out: forget the poller, unless a task reached it meanwhile."""
        activity = self.activities.get(arn)
        if activity is not None:
            activity.pollers = deque(p for p in activity.pollers if p[0] is not poll)
        return poll.result() if poll.done() else {}

    def schedule_activity(self, request: TaskRequest) -> None:
        """The task handler of activity resources: park the task until a worker asks for it."""
        activity = self.activities.get(request.resource.arn)
        if activity is None:
            raise StatesError(E.TASK_FAILED, f"Activity Does Not Exist: '{request.resource.arn}'")
        activity.tasks.append(ActivityTask(request.task_token or "", to_json(request.parameters),
                                           request.started))
        self._hand_out(activity)

    def _hand_out(self, activity: Activity) -> None:
        while activity.pollers and activity.tasks:
            task = activity.tasks[0]
            wait = self.engine.tokens.get(task.token)
            if wait is None or wait.closed:  # its execution stopped or timed out before a worker came
                activity.tasks.popleft()
                continue
            poll, worker_name = activity.pollers.popleft()
            self.activity_started(activity.arn, task.token, worker_name)
            poll.set_result({"taskToken": task.token, "input": task.input})

    @_changes(_token_owner)
    def activity_started(self, arn: str, token: str, worker_name: str | None) -> None:
        """A worker took the activity task with this token (ActivityStarted)."""
        activity = self.activity(arn)
        task = next(t for t in activity.tasks if t.token == token)
        activity.tasks.remove(task)
        task.started(worker_name)

    # ------------------------------------------------------------------ tags
    @_changes()
    def tag(self, arn: str, tags: dict[str, str]) -> None:
        resource = self.tagged(arn)
        merged = {**resource.tags, **tags}
        if len(merged) > MAX_TAGS:
            raise ApiError("TooManyTags", f"Too many tags: '{arn}' would have {len(merged)}, the limit is {MAX_TAGS}")
        resource.tags = merged

    @_changes()
    def untag(self, arn: str, keys: list[str]) -> None:
        resource = self.tagged(arn)
        resource.tags = {k: v for k, v in resource.tags.items() if k not in keys}

    def tagged(self, arn: str) -> StateMachine | Activity:
        _check_arn(arn, "stateMachine", "activity")
        resource = self.state_machines.get(arn) or self.activities.get(arn)
        if resource is None:
            raise ApiError("ResourceNotFound", f"Resource not found: '{arn}'")
        return resource


def _check_role(role_arn: str) -> None:
    if not re.match(r"^arn:aws[a-z-]*:iam::\d{12}:role/", role_arn):
        raise ApiError("InvalidArn", f"Invalid Arn: 'Invalid role ARN: {role_arn}'")


class _WithActivities:
    """The backend's task handlers: activities are served by the backend itself, the rest by `handlers`."""

    def __init__(self, handlers: TaskHandlers, backend: Backend):
        self._handlers, self._backend = handlers, backend

    def resolve(self, resource: Resource) -> TaskHandler | None:
        if resource.kind == "activity":
            return self._backend.schedule_activity
        return self._handlers.resolve(resource)


# --------------------------------------------------------------------------- every account and region
class Store:
    """Backends by account and region, made on first use (moto's BackendDict).

    `handlers_for(backend)` gives each backend the task handlers its engine uses. With a `journal`
    (`harness.durability.journal.Journal`) every backend journals its calls, events and tokens, and its
    virtual clock starts where the journal says it first started (so a replay makes the same times).
    With `mocks` (a `harness.mock_config.MockConfig`) StartExecution on `<arn>#<TestCase>` runs that test case.
    """

    def __init__(self, handlers_for: Callable[[Backend], TaskHandlers], *, idle_grace: float = 0.0,
                 clock: Callable[[], Clock] = VirtualClock, activity_poll_seconds: float = 60.0,
                 journal: Any = None, mocks: Any = None):
        self.handlers_for = handlers_for
        self.journal = journal
        self.mocks = mocks
        self.idle_grace = idle_grace
        self.activity_poll_seconds = activity_poll_seconds
        self._clock = clock
        self._backends: dict[tuple[str, str], Backend] = {}
        self._lock = threading.Lock()

    def backend(self, account: str, region: str) -> Backend:
        with self._lock:
            backend = self._backends.get((account, region))
            if backend is None:
                clock, recorder = self._clock(), None
                if self.journal is not None:
                    from harness.durability.recorder import Recorder

                    if not clock.virtual:
                        raise ValueError("durable executions replay on the virtual clock; a wall-clock backend "
                                         "cannot be journaled")
                    clock = VirtualClock(self.journal.backend(account, region, clock.now()))
                    recorder = functools.partial(Recorder, self.journal)
                backend = Backend(account, region, self.handlers_for, clock=clock, idle_grace=self.idle_grace,
                                  recorder=recorder, mocks=self.mocks)
                self._backends[(account, region)] = backend
            return backend

    def close(self) -> None:
        with self._lock:
            backends, self._backends = list(self._backends.values()), {}
        for backend in backends:
            backend.pump.close()


# --------------------------------------------------------------------------- TestState
class _Inspector(Engine):
    """An engine that remembers what TestState reports about the tested state: the error a Catcher
    took (CAUGHT_ERROR) and, for inspection levels DEBUG and TRACE, the data after each step of its
    data flow (InputPath, Parameters / Arguments, the raw result, ResultSelector, ResultPath)."""

    tested = ""
    caught: StatesError | None = None
    catch_index: int | None = None
    inspection: dict[str, Any] | None = None  # filled when not None

    def caught_output(self, ex: Any, frame: Any, state: Any, catcher: Any, data: Any, err: StatesError,
                      ctx: dict[str, Any]) -> Any:
        if state.name == self.tested:
            self.caught = err
            self.catch_index = state.catchers.index(catcher)
        return super().caught_output(ex, frame, state, catcher, data, err, ctx)

    def input_path(self, state: Any, data: Any, ctx: dict[str, Any], frame: Any) -> Any:  # type: ignore[override]
        value = Engine.input_path(state, data, ctx, frame)
        if self.inspection is not None and state.name == self.tested:
            self.inspection["afterInputPath"] = to_json(value)
        return value

    def effective_input(self, ex: Any, frame: Any, state: Any, data: Any, ctx: dict[str, Any]) -> Any:
        value = super().effective_input(ex, frame, state, data, ctx)
        if self.inspection is not None and state.name == self.tested:
            self.inspection["afterArguments" if state.query_language == "JSONata" else "afterParameters"] = to_json(value)
        return value

    def apply_result(self, ex: Any, frame: Any, state: Any, data: Any, result: Any,
                     ctx: dict[str, Any]) -> tuple[Any, dict[str, Any] | None]:
        record = self.inspection if self.inspection is not None and state.name == self.tested else None
        if record is not None:
            from asl.payload import Scope

            record["result"] = to_json(result)
            if state.query_language != "JSONata":
                if state.type == "Pass" and "afterParameters" not in record:
                    record["afterParameters"] = to_json(result) if state.parameters is not None \
                        else record.get("afterInputPath", to_json(data))
                selected = state.result_selector(Scope(result, ctx, frame.variables, ex.rng)) \
                    if state.result_selector is not None else result
                record["afterResultSelector"] = to_json(selected)
                record["afterResultPath"] = to_json(self.result_path(state.discard_result, state.result_path, data,
                                                                     selected))
        output, assigned = super().apply_result(ex, frame, state, data, result, ctx)
        if record is not None and assigned:
            record["variables"] = to_json(frame.variables)
        return output, assigned


class _Mocked:
    """TestState's `mock`: every task of the tested state returns `result` or fails with `errorOutput`."""

    def __init__(self, mock: dict[str, Any]):
        self.mock = mock

    def resolve(self, resource: Resource) -> TaskHandler:
        return self.answer

    def answer(self, request: TaskRequest) -> Any:
        if "errorOutput" in self.mock:
            failure = self.mock["errorOutput"]
            raise StatesError(failure.get("error"), failure.get("cause"))  # type: ignore[arg-type]
        return json.loads(self.mock["result"])


def run_test_state(handlers: TaskHandlers, state: dict[str, Any], name: str, input_text: str, *,
                   query_language: str | None, account: str, region: str, inspection_level: str = "INFO",
                   mock: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run one state on its own engine, as TestState does (test-state-isolation.html).

    The state runs once, without its Retry (a retriable error is reported, not retried); each
    transition target becomes a Succeed stub, so the stub entered next names `nextState`. With
    `mock` (`{"result": JSON text}` or `{"errorOutput": {"error", "cause"}}`) a Task state's
    service is not called: its result or error is the mock's.

    Returns:
        TestState's response: status, and output / error, cause / nextState as they apply; at
        inspectionLevel DEBUG or TRACE also `inspectionData` (input, afterInputPath,
        afterParameters or afterArguments, result, afterResultSelector, afterResultPath, variables,
        errorDetails). TRACE adds HTTP request/response only for HTTP Tasks, which drydock does not
        run, so TRACE answers as DEBUG.

    Raises:
        ApiError: InvalidDefinition for a state that does not compile; ValidationException for a
            state that waits for a worker or a task token, which nobody can answer here, or a mock
            of a state that is not a Task.
    """
    runnable = {k: v for k, v in state.items() if k != "Retry"}
    if mock is not None:
        if state.get("Type") != "Task":
            raise ApiError("ValidationException", f"drydock's TestState mocks Task states only, not a "
                                                  f"{state.get('Type')} state")
        if "result" in mock:
            try:
                json.loads(mock["result"])
            except (TypeError, json.JSONDecodeError) as err:
                raise ApiError("ValidationException", f"mock.result is not JSON: {err}") from None
        elif "errorOutput" not in mock:
            raise ApiError("ValidationException", "mock needs either result or errorOutput")
        runnable["Resource"] = "arn:aws:states:::drydock:mock"  # no token to wait for, no job to poll
        handlers = _Mocked(mock)
    stubs: dict[str, str] = {}  # stub state name -> the transition target it stands for

    def stub(target: Any, kind: str) -> Any:
        if not isinstance(target, str):
            return target  # left for validation to report
        stub_name = f"drydock:{kind}:{len(stubs)}"
        stubs[stub_name] = target
        return stub_name
    if "Next" in runnable:
        runnable["Next"] = stub(runnable["Next"], "next")
    if "Default" in runnable:
        runnable["Default"] = stub(runnable["Default"], "next")
    if isinstance(runnable.get("Choices"), list):
        runnable["Choices"] = [{**c, "Next": stub(c.get("Next"), "next")} if isinstance(c, dict) else c
                               for c in runnable["Choices"]]
    if isinstance(runnable.get("Catch"), list):
        runnable["Catch"] = [{**c, "Next": stub(c.get("Next"), "catch")} if isinstance(c, dict) else c
                             for c in runnable["Catch"]]
    definition: dict[str, Any] = {"StartAt": name, "States": {name: runnable, **{s: {"Type": "Succeed"} for s in stubs}}}
    if query_language:
        definition["QueryLanguage"] = query_language
    try:
        program = compile_program(definition)
    except DefinitionError as err:
        raise ApiError("InvalidDefinition", str(err)) from None
    engine = _Inspector(handlers, account=account, region=region)
    engine.tested = name
    inspecting = inspection_level in ("DEBUG", "TRACE")
    if inspecting:
        engine.inspection = {"input": to_json(json.loads(input_text))}
    ex = engine.start(program, input_text, name="TestState",
                      state_machine_arn=f"arn:aws:states:{region}:{account}:stateMachine:TestState")
    engine.run_to_completion(ex)
    if not ex.done:
        engine.stop_execution(ex)
        raise ApiError("ValidationException", f"TestState cannot run state '{name}': it waits for an activity worker "
                                              f"or a task token, which nobody can answer during TestState")
    events = ex.history.events
    inspection = engine.inspection if inspecting else None

    def inspected(fields: dict[str, Any], error_details: dict[str, Any] | None = None) -> dict[str, Any]:
        if inspection is not None:
            fields["inspectionData"] = {**inspection, **({"errorDetails": error_details} if error_details else {})}
        return _present(fields)
    failure = engine.caught or (StatesError(ex.error, ex.cause) if ex.status == "FAILED" else None)  # type: ignore[arg-type]
    retry_index = _retriable(state.get("Retry"), failure.error) if failure is not None else None
    if failure is not None and retry_index is not None:
        retrier = state["Retry"][retry_index]
        return inspected({"status": "RETRIABLE", "error": failure.error, "cause": failure.cause},
                         {"retryIndex": retry_index,
                          "retryBackoffIntervalSeconds": int(retrier.get("IntervalSeconds", 1))})
    if engine.caught is None and failure is not None:
        return inspected({"status": "FAILED", "error": failure.error, "cause": failure.cause})
    exited_type = STATE_EVENTS[state["Type"]][1]
    output = next((e["stateExitedEventDetails"]["output"] for e in events
                   if e["type"] == exited_type and e["stateExitedEventDetails"]["name"] == name), None)
    following = next((stubs[e["stateEnteredEventDetails"]["name"]] for e in events
                      if e["type"] == "SucceedStateEntered" and e["stateEnteredEventDetails"]["name"] in stubs), None)
    status = "SUCCEEDED" if engine.caught is None else "CAUGHT_ERROR"
    caught = {"error": engine.caught.error, "cause": engine.caught.cause} if engine.caught else {}
    return inspected({"status": status, "output": output, **caught, "nextState": following},
                     {"catchIndex": engine.catch_index} if engine.caught is not None else None)


def _retriable(retry: Any, error: str | None) -> int | None:
    """The index of the state's Retrier that would take `error` on a first failure (attempts left), or None."""
    for index, retrier in enumerate(retry if isinstance(retry, list) else []):
        names = retrier.get("ErrorEquals", [])
        if error in names or (E.ALL in names and error not in UNCATCHABLE):
            return index if retrier.get("MaxAttempts", 3) > 0 else None
    return None


def _present(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}
