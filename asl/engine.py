"""The interpreter: executions run as fibers on the scheduler, one runner per state type.

`Engine` owns the scheduler, the task handlers and the open task tokens; `Execution` is one run of
a program with its history. The data flow of each state (InputPath → Parameters → task →
ResultSelector → ResultPath → OutputPath, or Arguments/Output/Assign in JSONata) and the
Retry/Catch loop are shared by every state type; the runners only do what their type does.
"""
from __future__ import annotations

import functools
import inspect
import json
import random
import uuid
from typing import Any, Awaitable, Callable

from asl import errors as E
from asl.clock import Clock
from asl.context import execution_context, with_state
from asl.errors import StatesError
from asl.history import STATE_EVENTS, History, HistoryContext, payload_details, to_json
from asl.payload import Scope
from asl.program import JSONATA, Catcher, Program, State, compile_program
from asl.scheduler import Cancelled, Fiber, Future, Scheduler
from asl.tasks import HandlerTable, TaskHandlers

# States.DataLimitExceeded of a task result is caught by States.ALL (case error_handling_test_states_errors
# *data_limit_exceeded_on_large_utf8_response*)
UNCATCHABLE = {E.RUNTIME}
_RETRIABLE_TYPES = {"Task", "Map", "Parallel"}
MAX_PAYLOAD_BYTES = 256 * 1024  # AWS quota: "Maximum input or output size for a task, state, or execution"
AWS_MAX_HISTORY_EVENTS = 25_000  # AWS quota: "Maximum execution history size: 25,000 events"
_YIELD_EVERY = 64


class ApiError(Exception):
    """An error of the Step Functions API (InvalidToken, TaskDoesNotExist, ...), with AWS's code."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code, self.message = code, message


class Frame:
    """One line of execution: the main program, a Parallel branch or a Map iteration."""

    __slots__ = ("hctx", "variables", "context", "history", "entered_id", "entered_prev")

    def __init__(self, hctx: HistoryContext, variables: dict[str, Any], context: dict[str, Any], history: History):
        self.hctx = hctx
        self.history = history
        self.variables = variables
        self.context = context
        self.entered_id = 0
        self.entered_prev = 0


class _TokenWait:
    __slots__ = ("future", "execution", "heartbeat_seconds", "heartbeat_timer", "closed")

    def __init__(self, future: Future, execution: "Execution", heartbeat_seconds: float | None):
        self.future, self.execution, self.heartbeat_seconds = future, execution, heartbeat_seconds
        self.heartbeat_timer: list[Any] | None = None
        self.closed = False


class Execution:
    """One run of a program: status, output, error and the history, as DescribeExecution shows them."""

    def __init__(self, engine: "Engine", program: Program, *, input_text: str, name: str, arn: str,
                 state_machine_arn: str, role_arn: str, seed: int):
        self.engine = engine
        self.program = program
        self.input_text = input_text
        self.input = json.loads(input_text)
        self.name = name
        self.arn = arn
        self.state_machine_arn = state_machine_arn
        self.role_arn = role_arn
        self.status = "RUNNING"
        self.output: Any = None
        self.output_text: str | None = None
        self.error: str | None = None
        self.cause: str | None = None
        self.start = engine.scheduler.clock.now()
        self.stop: float | None = None
        self.history = History(engine.scheduler.clock.now)
        if engine.recorder is not None:  # journaled before anyone can read it (harness.durability)
            self.history.listeners.append(functools.partial(engine.recorder.event, self))
        self.rng = random.Random(f"{seed}:{name}")
        self.fiber: Fiber | None = None
        self.finished = engine.scheduler.future()
        self.map_run_counter = 0

    @property
    def done(self) -> bool:
        return self.status != "RUNNING"

    def new_uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def result(self) -> dict[str, Any]:
        """The `drydock run --json` shape: status, output (JSON text), error, cause, events."""
        return {"status": self.status, "output": self.output_text, "error": self.error, "cause": self.cause,
                "events": self.history.events}


class Engine:
    """Runs executions of compiled programs against task handlers on one scheduler."""

    def __init__(self, handlers: TaskHandlers | None = None, *, clock: Clock | None = None, region: str = "us-east-1",
                 account: str = "123456789012", seed: int = 0, map_readers: Any = None,
                 max_history_events: int = AWS_MAX_HISTORY_EVENTS):
        self.scheduler = Scheduler(clock)
        self.max_history_events = max_history_events  # raise only to measure beyond AWS's quota (benchmarks)
        self.handlers: TaskHandlers = handlers or HandlerTable()
        self.region, self.account, self.seed = region, account, seed
        self.tokens: dict[str, _TokenWait] = {}
        self.map_readers = map_readers  # harness hook: ItemReader / ResultWriter for distributed Maps
        self.executions: dict[str, Execution] = {}
        self._names = random.Random(seed)
        # before_state(execution, state, input) -> input: called before each state is entered (breakpoints,
        # `asl.breakpoints`); what it returns (or awaits to) becomes the state's input. None costs nothing.
        self.before_state: Callable[[Execution, State, Any], Any] | None = None
        # recorder.event(execution, event) for every history event, recorder.token(execution, token) for every
        # task token, as they are made (the durable journal, `harness.durability`). None costs nothing.
        self.recorder: Any = None

    # ------------------------------------------------------------------ public API
    def start(self, program: Program | dict[str, Any], input_text: str = "{}", *, name: str | None = None,
              state_machine_arn: str | None = None, role_arn: str | None = None,
              seed: int | None = None) -> Execution:
        if isinstance(program, dict):
            program = compile_program(program)
        name = name or str(uuid.UUID(int=self._names.getrandbits(128), version=4))
        sm_arn = state_machine_arn or f"arn:aws:states:{self.region}:{self.account}:stateMachine:drydock"
        sm_name = sm_arn.rsplit(":", 1)[-1]
        arn = sm_arn.replace(":stateMachine:", ":execution:") + f":{name}"
        role = role_arn or f"arn:aws:iam::{self.account}:role/drydock-execution-role"
        ex = Execution(self, program, input_text=input_text, name=name, arn=arn, state_machine_arn=sm_arn,
                       role_arn=role, seed=self.seed if seed is None else seed)
        self.executions[arn] = ex
        base = execution_context(execution_arn=arn, name=name, input_value=ex.input, role_arn=role, start=ex.start,
                                 state_machine_arn=sm_arn, state_machine_name=sm_name)
        ex.history.emit(None, "ExecutionStarted", {"input": input_text, "inputDetails": {"truncated": False},
                                                   "roleArn": role})
        ex.fiber = self.scheduler.spawn(self._run_execution(ex, base), name=arn)
        if program.timeout_seconds:
            self.scheduler.call_later(ex.start + program.timeout_seconds, lambda: self.time_out(ex))
        return ex

    def run(self, *, until: Callable[[], bool] | None = None, idle_grace: float = 0.0) -> None:
        self.scheduler.run(until=until, idle_grace=idle_grace)

    def run_to_completion(self, ex: Execution) -> Execution:
        self.run(until=lambda: ex.done)
        return ex

    def stop_execution(self, ex: Execution, error: str | None = None, cause: str | None = None) -> None:
        if ex.done:
            return
        self._finish(ex, "ABORTED", None, error, cause)
        details = {k: v for k, v in (("error", error), ("cause", cause)) if v is not None}
        ex.history.emit(None, "ExecutionAborted", details, previous=self._last_id(ex))
        if ex.fiber is not None:
            self.scheduler.cancel(ex.fiber)

    def send_task_success(self, token: str, output_text: str) -> None:
        wait = self._token(token)
        try:
            value = json.loads(output_text)
        except (TypeError, ValueError):
            raise ApiError("InvalidOutput", f"Invalid output: {output_text!r} is not JSON") from None
        wait.closed = True
        self.scheduler.cancel_timer(wait.heartbeat_timer)
        wait.future.set_result(value)

    def send_task_failure(self, token: str, error: str | None = None, cause: str | None = None) -> None:
        wait = self._token(token)
        wait.closed = True
        self.scheduler.cancel_timer(wait.heartbeat_timer)
        # a failure sent without error or cause still shows both in a Catch's output, as null
        # (case callback_test_callback *no_error_field*)
        err = StatesError(error, cause, error_output={"Error": error, "Cause": cause})
        wait.future.set_exception(err)

    def send_task_heartbeat(self, token: str) -> None:
        wait = self._token(token)
        if wait.heartbeat_seconds:
            self._arm_heartbeat(wait)

    # ------------------------------------------------------------------ execution
    async def _run_execution(self, ex: Execution, base_context: dict[str, Any]) -> None:
        frame = Frame(HistoryContext(0), {}, base_context, ex.history)
        try:
            output = await self._run_program(ex, frame, ex.program, ex.input, first_input_text=ex.input_text)
        except StatesError as err:
            if not ex.done:
                details = {k: v for k, v in (("error", err.error), ("cause", err.cause)) if v is not None}
                frame.history.emit(frame.hctx, "ExecutionFailed", details)
                self._finish(ex, "FAILED", None, err.error, err.cause)
            return
        except Cancelled:
            return
        if not ex.done:
            text = to_json(output)
            frame.history.emit(frame.hctx, "ExecutionSucceeded", payload_details("output", text))
            self._finish(ex, "SUCCEEDED", output, None, None, text)

    def _finish(self, ex: Execution, status: str, output: Any, error: str | None, cause: str | None,
                output_text: str | None = None) -> None:
        ex.status, ex.output, ex.output_text, ex.error, ex.cause = status, output, output_text, error, cause
        ex.stop = self.scheduler.clock.now()
        for token, wait in list(self.tokens.items()):
            if wait.execution is ex:
                wait.closed = True
                self.scheduler.cancel_timer(wait.heartbeat_timer)
                if not wait.future.done:
                    wait.future.set_exception(Cancelled())
        ex.finished.set_result(status)

    def time_out(self, ex: Execution) -> None:
        """End the execution with ExecutionTimedOut (TimeoutSeconds, or AWS's one-year maximum)."""
        if ex.done:
            return
        self._finish(ex, "TIMED_OUT", None, E.TIMEOUT, None)
        ex.history.emit(None, "ExecutionTimedOut", {"error": E.TIMEOUT}, previous=self._last_id(ex))
        if ex.fiber is not None:
            self.scheduler.cancel(ex.fiber)

    @staticmethod
    def _last_id(ex: Execution) -> int:
        return ex.history.events[-1]["id"] if ex.history.events else 0

    async def _run_program(self, ex: Execution, frame: Frame, program: Program, data: Any,
                           first_input_text: str | None = None) -> Any:
        name: str | None = program.start_at
        input_text = first_input_text
        transitions = 0
        while name is not None:
            if len(frame.history.events) >= self.max_history_events:
                raise StatesError(E.RUNTIME, f"The execution reached the maximum number of events in its history "
                                             f"({self.max_history_events}).", located=True)
            state = program.states[name]
            data, name = await self._run_state(ex, frame, state, data, input_text)
            input_text = None
            if state.type in ("Succeed",) or (state.end and name is None):
                break
            transitions += 1
            if transitions % _YIELD_EVERY == 0:  # let timers, stops and other branches in: no fiber hogs the loop
                await self.scheduler.sleep(0)
        return data

    async def _run_state(self, ex: Execution, frame: Frame, state: State, data: Any,
                         input_text: str | None) -> tuple[Any, str | None]:
        if self.before_state is not None:
            replaced = await maybe_await(self.before_state(ex, state, data))
            if replaced is not data:
                data, input_text = replaced, None
        entered, exited = STATE_EVENTS[state.type]
        frame.entered_prev = frame.hctx.source_event_id
        frame.entered_id = frame.history.emit(frame.hctx, entered, {
            "input": input_text if input_text is not None else to_json(data), "inputDetails": {"truncated": False},
            "name": state.name})
        ctx = with_state(frame.context, state.name, self.scheduler.clock.now(),
                         0 if state.type in _RETRIABLE_TYPES else None)
        try:
            output, next_name, assigned = await _RUNNERS[state.type](self, ex, frame, state, data, ctx)
        except StatesError as err:
            raise self._located(ex, frame, state, err)
        if exited is not None:
            details: dict[str, Any] = {"name": state.name}
            if assigned:
                details["assignedVariables"] = {k: to_json(v) for k, v in assigned.items()}
                details["assignedVariablesDetails"] = {"truncated": False}
            text = to_json(output)
            if len(text) > MAX_PAYLOAD_BYTES // 4 and len(text.encode()) > MAX_PAYLOAD_BYTES:
                raise StatesError(E.DATA_LIMIT_EXCEEDED, f"The state/task '{state.name}' returned a result with a size "
                                                         f"exceeding the maximum number of bytes service limit.")
            details.update(payload_details("output", text))
            frame.history.emit(frame.hctx, exited, details)
        return output, next_name

    def _located(self, ex: Execution, frame: Frame, state: State, err: StatesError) -> StatesError:
        """Runtime and evaluation errors carry AWS's "An error occurred while executing the state" prefix."""
        if err.error not in (E.RUNTIME, E.QUERY_EVALUATION_ERROR) or err.located:
            return err
        located = StatesError(err.error, f"An error occurred while executing the state '{state.name}' (entered at the "
                                         f"event id #{frame.entered_id}). {err.cause}", location=err.location,
                              located=True)
        if err.error == E.QUERY_EVALUATION_ERROR:
            details = {"cause": located.cause, "error": located.error}
            if err.location:
                details["location"] = err.location
            details["state"] = state.name
            prev = None if err.after_entry else frame.entered_prev
            frame.history.emit(frame.hctx, "EvaluationFailed", details, previous=prev)
        return located

    # ------------------------------------------------------------------ shared data flow
    def scope(self, ex: Execution, frame: Frame, data: Any, ctx: dict[str, Any], state: State,
              result: Any = None, error_output: Any = None, has_result: bool = False) -> Scope:
        states = None
        if state.query_language == JSONATA:
            states = {"input": data, "context": ctx}
            if has_result:
                states["result"] = result
            if error_output is not None:
                states["errorOutput"] = error_output
        return Scope(data, ctx, frame.variables, ex.rng, int(self.scheduler.clock.now() * 1000), states)

    def effective_input(self, ex: Execution, frame: Frame, state: State, data: Any, ctx: dict[str, Any]) -> Any:
        """InputPath then Parameters (JSONPath); Arguments (JSONata)."""
        if state.query_language == JSONATA:
            if state.arguments is not None:
                return state.arguments(self.scope(ex, frame, data, ctx, state))
            return data
        value = self.input_path(state, data, ctx, frame)
        if state.parameters is not None:
            value = state.parameters(Scope(value, ctx, frame.variables, ex.rng))
        return value

    @staticmethod
    def input_path(state: State, data: Any, ctx: dict[str, Any], frame: Frame) -> Any:
        if state.discard_input:
            return {}
        if state.input_path is None:
            return data
        return _get_path(state.input_path, data, ctx, frame.variables, "InputPath")

    def apply_result(self, ex: Execution, frame: Frame, state: State, data: Any, result: Any,
                     ctx: dict[str, Any]) -> tuple[Any, dict[str, Any] | None]:
        """ResultSelector → Assign → ResultPath → OutputPath (JSONPath) or Assign + Output (JSONata)."""
        if state.query_language == JSONATA:
            scope = self.scope(ex, frame, data, ctx, state, result=result, has_result=True)
            assigned = state.assign(scope) if state.assign is not None else None
            output = state.output(scope) if state.output is not None else result
            self.assign_variables(frame, assigned)
            return output, assigned
        if state.result_selector is not None:
            result = state.result_selector(Scope(result, ctx, frame.variables, ex.rng))
        assigned = state.assign(Scope(result, ctx, frame.variables, ex.rng)) if state.assign is not None else None
        output = self.result_path(state.discard_result, state.result_path, data, result)
        output = self.output_path(state, output, ctx, frame)
        self.assign_variables(frame, assigned)
        return output, assigned

    @staticmethod
    def result_path(discard: bool, path: Any, data: Any, result: Any) -> Any:
        if discard:
            return data
        if path is None:
            return result
        try:
            return path.put(data, result)
        except LookupError:
            raise StatesError(E.RESULT_PATH_MATCH_FAILURE,
                              f"Unable to apply ResultPath \"{path.text}\" to input \"{to_json(data)}\"") from None

    @staticmethod
    def output_path(state: State, output: Any, ctx: dict[str, Any], frame: Frame) -> Any:
        if state.discard_output:
            return {}
        if state.output_path is None:
            return output
        return _get_path(state.output_path, output, ctx, frame.variables, "OutputPath")

    @staticmethod
    def assign_variables(frame: Frame, assigned: dict[str, Any] | None) -> None:
        if assigned:
            frame.variables = {**frame.variables, **assigned}

    async def with_retry_and_catch(self, ex: Execution, frame: Frame, state: State, data: Any, ctx: dict[str, Any],
                                   attempt: Callable[[dict[str, Any]], Awaitable[Any]],
                                   failed_event: str | None = None) -> tuple[Any, str | None, Any]:
        """Run attempts until one succeeds, a Retrier gives up or a Catcher takes the error.

        `failed_event` (MapStateFailed, ParallelStateFailed) is written once retries are exhausted.
        """
        counts = [0] * len(state.retriers)
        retry_count = 0
        entered = ctx["State"]["EnteredTime"]
        while True:
            try:
                output, assigned = await attempt(ctx)
                return output, state.next, assigned
            except StatesError as err:
                err = self._located(ex, frame, state, err)
                if err.error in UNCATCHABLE:
                    raise err
                retrier = next((i for i, r in enumerate(state.retriers) if _matches(r.errors, err)), None)
                if retrier is not None and counts[retrier] < state.retriers[retrier].max_attempts:
                    r = state.retriers[retrier]
                    delay = r.interval * (r.backoff ** counts[retrier])
                    if r.max_delay is not None:
                        delay = min(delay, float(r.max_delay))
                    if r.jitter == "FULL":
                        delay = ex.rng.uniform(0, delay)
                    counts[retrier] += 1
                    retry_count += 1
                    await self.scheduler.sleep(delay)
                    ctx = {**ctx, "State": {"EnteredTime": entered, "Name": state.name, "RetryCount": retry_count}}
                    continue
                if failed_event is not None:
                    frame.history.emit(frame.hctx, failed_event)
                catcher = next((c for c in state.catchers if _matches(c.errors, err)), None)
                if catcher is None:
                    raise err
                output, assigned = self.caught_output(ex, frame, state, catcher, data, err, ctx)
                return output, catcher.next, assigned

    def caught_output(self, ex: Execution, frame: Frame, state: State, catcher: Catcher, data: Any,
                      err: StatesError, ctx: dict[str, Any]) -> tuple[Any, dict[str, Any] | None]:
        error_output = err.error_output
        if error_output is None:
            error_output = {"Error": err.error} if err.cause is None else {"Error": err.error, "Cause": err.cause}
        if state.query_language == JSONATA:
            scope = self.scope(ex, frame, data, ctx, state, error_output=error_output)
            assigned = catcher.assign(scope) if catcher.assign is not None else None
            output = catcher.output(scope) if catcher.output is not None else error_output
        else:
            assigned = catcher.assign(Scope(error_output, ctx, frame.variables, ex.rng)) if catcher.assign else None
            output = self.result_path(catcher.discard_result, catcher.result_path, data, error_output)
        self.assign_variables(frame, assigned)
        return output, assigned

    # ------------------------------------------------------------------ tokens
    def _token(self, token: str) -> _TokenWait:
        wait = self.tokens.get(token)
        if wait is None:
            raise ApiError("InvalidToken", f"Invalid Token: '{token}'")
        if wait.closed:
            if wait.future.done and isinstance(wait.future._error, StatesError) and \
                    wait.future._error.error in (E.TIMEOUT, E.HEARTBEAT_TIMEOUT):
                raise ApiError("TaskTimedOut", f"Task Timed Out: '{token}'")
            raise ApiError("TaskDoesNotExist", f"Task Does Not Exist: '{token}'")
        return wait

    def new_token(self, ex: Execution, heartbeat: float | None) -> tuple[str, _TokenWait]:
        token = ex.new_uuid().replace("-", "") + ex.new_uuid().replace("-", "")
        wait = _TokenWait(self.scheduler.future(external=True), ex, heartbeat)
        self.tokens[token] = wait
        if self.recorder is not None:
            self.recorder.token(ex, token)
        if heartbeat:
            self._arm_heartbeat(wait)
        return token, wait

    def _arm_heartbeat(self, wait: _TokenWait) -> None:
        self.scheduler.cancel_timer(wait.heartbeat_timer)

        def expire() -> None:
            if not wait.future.done:
                wait.closed = True
                wait.future.set_exception(timeout_error(heartbeat=True))
        wait.heartbeat_timer = self.scheduler.call_later(self.scheduler.clock.now() + float(wait.heartbeat_seconds or 0),
                                                         expire)


def timeout_error(*, heartbeat: bool = False) -> StatesError:
    """A task that ran out of time: `States.Timeout` in the history (also for a missed heartbeat, as the
    recordings show: timeouts_test_heartbeats), `{"Error", "Cause": ""}` in a Catch's output
    (error_handling_test_task_service_lambda *invoke_timeout*); Retry/Catch on States.HeartbeatTimeout
    still match a missed heartbeat."""
    return StatesError(E.TIMEOUT, None, error_output={"Error": E.TIMEOUT, "Cause": ""}, heartbeat=heartbeat)


def _matches(names: tuple[str, ...], err: StatesError) -> bool:
    error = err.error
    if error in names:
        return True
    if err.heartbeat and E.HEARTBEAT_TIMEOUT in names:
        return True
    # States.TaskFailed matches any failure of the task itself except a timeout (concepts-error-handling;
    # case error_handling_test_task_service_lambda *raise_exception_catch*)
    if E.TASK_FAILED in names and err.task_failure and error != E.TIMEOUT:
        return True
    return E.ALL in names and error not in UNCATCHABLE


def _get_path(query: Any, data: Any, ctx: Any, variables: dict[str, Any], field: str) -> Any:
    from asl.paths import PathNotFound

    try:
        return query.get(data, ctx, variables)
    except PathNotFound:
        segments = "".join(f"['{s.name}']" if hasattr(s, "name") else f"[{s.index}]" for s in query.path.segments)
        raise StatesError(E.RUNTIME, f"Invalid path '{query.text}' : No results for path: ${segments}") from None


async def maybe_await(value: Any) -> Any:
    if inspect.isawaitable(value):
        return await value
    return value


from asl.runners import RUNNERS as _RUNNERS  # noqa: E402  (runners import Engine's helpers)

