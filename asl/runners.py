"""One runner per state type: what that type does, between its Entered and Exited events.

Each runner is `async (engine, execution, frame, state, data, ctx) -> (output, next, assigned)`;
the shared data flow and Retry/Catch live in `asl.engine`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from asl import errors as E
from asl.choice import parse_timestamp
from asl.context import with_map_item, with_task_token
from asl.errors import StatesError
from asl.history import History, HistoryContext, payload_details, to_json
from asl.payload import Scope
from asl.paths import PathNotFound
from asl.program import JSONATA, State
from asl.scheduler import Cancelled
from asl.tasks import TaskRequest, no_handler_error

if TYPE_CHECKING:
    from asl.engine import Engine, Execution, Frame

Result = tuple[Any, "str | None", "dict[str, Any] | None"]
MAX_EXECUTION_SECONDS = 365 * 24 * 3600  # AWS: a Standard execution lasts at most one year


# --------------------------------------------------------------------------- Pass, Succeed, Fail
async def run_pass(engine: "Engine", ex: "Execution", frame: "Frame", state: State, data: Any, ctx: dict) -> Result:
    if state.query_language == JSONATA:
        scope = engine.scope(ex, frame, data, ctx, state)
        assigned = state.assign(scope) if state.assign is not None else None
        output = state.output(scope) if state.output is not None else data
        engine.assign_variables(frame, assigned)
        return output, state.next, assigned
    effective = engine.input_path(state, data, ctx, frame)
    if state.parameters is not None:
        result = state.parameters(Scope(effective, ctx, frame.variables, ex.rng))
    elif state.has_result:
        result = state.result
    else:
        result = effective
    output, assigned = engine.apply_result(ex, frame, state, data, result, ctx)
    return output, state.next, assigned


async def run_succeed(engine: "Engine", ex: "Execution", frame: "Frame", state: State, data: Any, ctx: dict) -> Result:
    if state.query_language == JSONATA:
        scope = engine.scope(ex, frame, data, ctx, state)
        return (state.output(scope) if state.output is not None else data), None, None
    effective = engine.input_path(state, data, ctx, frame)
    return engine.output_path(state, effective, ctx, frame), None, None


async def run_fail(engine: "Engine", ex: "Execution", frame: "Frame", state: State, data: Any, ctx: dict) -> Result:
    scope = engine.scope(ex, frame, data, ctx, state)
    values: dict[str, Any] = {}
    for name in ("Error", "Cause"):
        if f"{name}Path" in state.extra:
            values[name] = state.extra[f"{name}Path"](scope)
            if not isinstance(values[name], str):
                raise StatesError(E.RUNTIME, f"The {name}Path field must resolve to a string, but was: "
                                             f"{to_json(values[name])}")
        elif name in state.extra:
            value = state.extra[name]
            values[name] = value(scope) if callable(value) else value
    raise StatesError(values.get("Error"), values.get("Cause"))  # type: ignore[arg-type]


# --------------------------------------------------------------------------- Choice
async def run_choice(engine: "Engine", ex: "Execution", frame: "Frame", state: State, data: Any, ctx: dict) -> Result:
    jsonata = state.query_language == JSONATA
    effective = data if jsonata else engine.input_path(state, data, ctx, frame)
    scope = engine.scope(ex, frame, effective, ctx, state) if jsonata else Scope(effective, ctx, frame.variables, ex.rng)
    chosen = None
    for predicate, next_name, rule_assign, rule_output in state.extra["choices"]:
        if predicate(scope):
            chosen = (next_name, rule_assign, rule_output)
            break
    if chosen is None:
        if state.extra["default"] is None:
            raise StatesError(E.NO_CHOICE_MATCHED, "No matching choice rule and no Default was specified.")
        chosen = (state.extra["default"], None, None)
    next_name, rule_assign, rule_output = chosen
    assign = rule_assign or state.assign
    assigned = assign(scope) if assign is not None else None
    if jsonata:
        output = rule_output(scope) if rule_output else (state.output(scope) if state.output else data)
    else:
        output = engine.output_path(state, effective, ctx, frame)
    engine.assign_variables(frame, assigned)
    return output, next_name, assigned


# --------------------------------------------------------------------------- Wait
def _wait_until(engine: "Engine", ex: "Execution", frame: "Frame", state: State, effective: Any, ctx: dict) -> float:
    extra, now = state.extra, engine.scheduler.clock.now()
    scope = engine.scope(ex, frame, effective, ctx, state)
    if "Seconds" in extra:
        seconds = extra["Seconds"]
        if callable(seconds):
            seconds = seconds(scope)
            if not isinstance(seconds, int) or isinstance(seconds, bool) or seconds < 0:
                raise StatesError(E.QUERY_EVALUATION_ERROR, f"The Seconds field must be a non-negative integer, "
                                                            f"but was: {to_json(seconds)}", location="Seconds")
        return now + seconds
    if "SecondsPath" in extra:
        text = extra["SecondsPathText"]
        value = _path_value(extra["SecondsPath"], effective, ctx, frame, text)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value) or \
                (isinstance(value, float) and not value.is_integer()):
            raise StatesError(E.RUNTIME, f"The SecondsPath parameter cannot be parsed as a long value: {text} == {value}")
        if value < 0:
            raise StatesError(E.RUNTIME, f"The SecondsPath parameter references a negative value: {text} == {value}")
        return now + int(value)
    if "Timestamp" in extra:
        value = extra["Timestamp"]
        if callable(value):
            value = value(scope)
            when = parse_timestamp(value)
            if when is None:
                raise StatesError(E.QUERY_EVALUATION_ERROR, f"The Timestamp field cannot be parsed as an ISO-8601 "
                                                             f"extended offset date-time format string: {value}",
                                  location="Timestamp", after_entry=True)
        else:
            when = parse_timestamp(value)
        return when.timestamp() if when else now
    text = extra["TimestampPathText"]
    value = _path_value(extra["TimestampPath"], effective, ctx, frame, text)
    when = parse_timestamp(value)
    if when is None:
        raise StatesError(E.RUNTIME, f"The TimestampPath parameter does not reference a valid ISO-8601 extended offset "
                                     f"date-time format string: {text} == {value}")
    return when.timestamp()


def _path_value(query: Any, data: Any, ctx: dict, frame: "Frame", text: str) -> Any:
    try:
        return query.get(data, ctx, frame.variables)
    except PathNotFound:
        raise StatesError(E.RUNTIME, f"Invalid path '{text}' : No results for path: {text}") from None


async def run_wait(engine: "Engine", ex: "Execution", frame: "Frame", state: State, data: Any, ctx: dict) -> Result:
    jsonata = state.query_language == JSONATA
    effective = data if jsonata else engine.input_path(state, data, ctx, frame)
    wake = _wait_until(engine, ex, frame, state, effective, ctx)
    if wake > ex.start + MAX_EXECUTION_SECONDS:  # past AWS's one-year maximum: the execution times out first
        await engine.scheduler.sleep_until(ex.start + MAX_EXECUTION_SECONDS)
        engine.time_out(ex)
        raise Cancelled()
    await engine.scheduler.sleep_until(wake)
    if jsonata:
        scope = engine.scope(ex, frame, data, ctx, state)
        assigned = state.assign(scope) if state.assign is not None else None
        output = state.output(scope) if state.output is not None else data
    else:
        assigned = state.assign(Scope(effective, ctx, frame.variables, ex.rng)) if state.assign is not None else None
        output = engine.output_path(state, effective, ctx, frame)
    engine.assign_variables(frame, assigned)
    return output, state.next, assigned


# --------------------------------------------------------------------------- Task
def _seconds(engine: "Engine", ex: "Execution", frame: "Frame", state: State, data: Any, ctx: dict, name: str) -> Any:
    if f"{name}Path" in state.extra:
        query = state.extra[f"{name}Path"]
        try:
            value = query.get(data, ctx, frame.variables)
        except PathNotFound:
            segments = "".join(f"['{s.name}']" if hasattr(s, "name") else f"[{s.index}]" for s in query.path.segments)
            raise StatesError(E.RUNTIME, f"Invalid path '{query.text}' : No results for path: ${segments}") from None
        return value
    value = state.extra.get(name)
    if callable(value):
        value = value(engine.scope(ex, frame, data, ctx, state))
    return value


async def run_task(engine: "Engine", ex: "Execution", frame: "Frame", state: State, data: Any, ctx: dict) -> Result:
    resource = state.extra["resource"]

    async def attempt(ctx: dict) -> tuple[Any, Any]:
        timeout = _seconds(engine, ex, frame, state, data, ctx, "TimeoutSeconds")
        heartbeat = _seconds(engine, ex, frame, state, data, ctx, "HeartbeatSeconds")
        token = wait = None
        if resource.pattern == "waitForTaskToken" or resource.kind == "activity":
            token, wait = engine.new_token(ex, None)
            ctx = with_task_token(ctx, token)
        params = engine.effective_input(ex, frame, state, data, ctx)
        credentials = None
        if "credentials" in state.extra:
            credentials = state.extra["credentials"](engine.scope(ex, frame, data, ctx, state)
                                                     if state.query_language == JSONATA
                                                     else Scope(data, ctx, frame.variables, ex.rng))
        result = await _invoke(engine, ex, frame, state, params, ctx, timeout, heartbeat, token, wait, credentials)
        return engine.apply_result(ex, frame, state, data, result, ctx)

    return await engine.with_retry_and_catch(ex, frame, state, data, ctx, attempt)


async def _invoke(engine: "Engine", ex: "Execution", frame: "Frame", state: State, params: Any, ctx: dict,
                  timeout: Any, heartbeat: Any, token: str | None, wait: Any, credentials: Any) -> Any:
    from asl.engine import maybe_await

    resource = state.extra["resource"]
    history, hctx = frame.history, frame.hctx
    activity = resource.kind == "activity"
    names = {"resource": resource.history_resource, "resourceType": resource.service} if not activity else {}
    scheduled: dict[str, Any] = {}
    if activity:
        scheduled = {"resource": resource.arn, **payload_details("input", to_json(params))}
    else:
        scheduled = {**names, "region": resource.region or engine.region, "parameters": to_json(params)}
    if timeout is not None:
        scheduled["timeoutInSeconds"] = timeout
    if heartbeat is not None:
        scheduled["heartbeatInSeconds"] = heartbeat
    if credentials is not None and not activity:
        scheduled["taskCredentials"] = {"roleArn": credentials.get("RoleArn") if isinstance(credentials, dict) else None}
    # resolved before scheduling: an activity that does not exist fails the state with no Activity* event
    # (case activities_test_activities *on_deleted*)
    handler = engine.handlers.resolve(resource)
    history.emit(hctx, "ActivityScheduled" if activity else "TaskScheduled", scheduled)
    deadline = engine.scheduler.clock.now() + float(timeout) if timeout is not None else None
    if handler is None and not activity:
        history.emit(hctx, "TaskStarted", dict(names))
        err = no_handler_error(resource)
        err.task_failure = True
        history.emit(hctx, "TaskFailed", {"error": err.error, "cause": err.cause, **names})
        raise err

    def started(worker_name: str | None = None) -> None:
        if activity:
            history.emit(hctx, "ActivityStarted", {"workerName": worker_name} if worker_name else {})
        else:
            history.emit(hctx, "TaskStarted", dict(names))

    def submitted(output: Any) -> None:
        history.emit(hctx, "TaskSubmitted", {**payload_details("output", to_json(output)), **names})

    request = TaskRequest(resource=resource, parameters=params, state_name=state.name, execution_arn=ex.arn,
                          region=resource.region or engine.region, account=engine.account, task_token=token,
                          credentials=credentials, context=ctx, sleep=engine.scheduler.sleep,
                          now=engine.scheduler.clock.now, submitted=submitted, started=started,
                          heartbeat_seconds=heartbeat, timeout_seconds=timeout)

    async def body() -> Any:
        if not activity:
            started()
        value = await maybe_await(handler(request)) if handler is not None else None
        if token is not None:
            if not activity:
                submitted(value)
            if heartbeat:
                wait.heartbeat_seconds = heartbeat
                engine._arm_heartbeat(wait)
            value = await wait.future
        return value

    try:
        result = await _with_deadline(engine, body(), deadline)
    except StatesError as err:
        if err.error in (E.TIMEOUT, E.HEARTBEAT_TIMEOUT):
            history.emit(hctx, "ActivityTimedOut" if activity else "TaskTimedOut",
                         {"error": err.error, **names} if not activity else {"error": err.error})
        else:
            details = {k: v for k, v in (("error", err.error), ("cause", err.cause)) if v is not None}
            history.emit(hctx, "ActivityFailed" if activity else "TaskFailed", {**details, **names})
            err.task_failure = True
        raise
    except Cancelled:
        raise
    except Exception as exc:  # a handler bug must fail the task, never the interpreter
        err = StatesError(E.TASK_FAILED, f"{type(exc).__name__}: {exc}", task_failure=True)
        history.emit(hctx, "TaskFailed", {"error": err.error, "cause": err.cause, **names})
        raise err from exc
    if wait is not None:
        wait.closed = True
    history.emit(hctx, "ActivitySucceeded" if activity else "TaskSucceeded",
                 {**payload_details("output", to_json(result)), **names})
    return result


async def _with_deadline(engine: "Engine", coro: Any, deadline: float | None) -> Any:
    if deadline is None:
        return await coro
    scheduler = engine.scheduler
    outcome = scheduler.future()

    async def runner() -> None:
        try:
            outcome.set_result(await coro)
        except Cancelled:
            raise
        except BaseException as exc:  # handed to the awaiting fiber
            outcome.set_exception(exc)

    fiber = scheduler.spawn(runner())

    def expire() -> None:
        if not outcome.done:
            from asl.engine import timeout_error

            outcome.set_exception(timeout_error())
            scheduler.cancel(fiber)
    timer = scheduler.call_later(deadline, expire)
    try:
        return await outcome
    finally:
        scheduler.cancel_timer(timer)
        if not fiber.done.done:
            scheduler.cancel(fiber)


# --------------------------------------------------------------------------- Parallel
async def run_parallel(engine: "Engine", ex: "Execution", frame: "Frame", state: State, data: Any, ctx: dict) -> Result:
    from asl.engine import Frame

    async def attempt(ctx: dict) -> tuple[Any, Any]:
        effective = engine.effective_input(ex, frame, state, data, ctx)
        frame.history.emit(frame.hctx, "ParallelStateStarted")
        children = [Frame(frame.hctx.child(), dict(frame.variables), frame.context, frame.history) for _ in state.extra["branches"]]
        fibers = [engine.scheduler.spawn(engine._run_program(ex, child, branch, effective))
                  for child, branch in zip(children, state.extra["branches"])]
        try:
            results = await _join_all(engine, fibers)
        except StatesError:
            for child in children:
                frame.hctx.integrate(child.hctx)
            raise
        for child in children:
            frame.hctx.integrate(child.hctx)
        frame.history.emit(frame.hctx, "ParallelStateSucceeded", update_source=False)
        return engine.apply_result(ex, frame, state, data, results, ctx)

    return await engine.with_retry_and_catch(ex, frame, state, data, ctx, attempt, failed_event="ParallelStateFailed")


async def _join_all(engine: "Engine", fibers: list[Any]) -> list[Any]:
    """Wait for every fiber; on the first failure cancel the rest and raise it."""
    results = []
    try:
        for fiber in fibers:
            results.append(await fiber.done)
    except BaseException:
        for fiber in fibers:
            engine.scheduler.cancel(fiber)
        raise
    return results


# --------------------------------------------------------------------------- Map
def _int_field(engine: "Engine", ex: "Execution", frame: "Frame", state: State, data: Any, ctx: dict, name: str,
               kind: str = "integer") -> Any:
    extra = state.extra
    if f"{name}Path" in extra:
        text = extra[f"{name}PathText"]
        try:
            value = extra[f"{name}Path"].get(data, ctx, frame.variables)
        except PathNotFound:
            raise StatesError(E.RUNTIME, f"Invalid path '{text}' : No results for path: {text}") from None
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and (kind == "float" or float(value).is_integer())
        if not ok:
            raise StatesError(E.RUNTIME, f"The {name}Path field refers to value \"{to_json(value) if not isinstance(value, str) else value}\" "
                                         f"which is not a valid {kind}: {text}")
        return value
    value = extra.get(name)
    if callable(value):
        value = value(engine.scope(ex, frame, data, ctx, state))
    return value


def _map_items(engine: "Engine", ex: "Execution", frame: "Frame", state: State, data: Any, ctx: dict) -> Any:
    if state.query_language == JSONATA:
        items_fn = state.extra["items"]
        if items_fn is None:
            items = data
            if not isinstance(items, list):
                err = StatesError(E.QUERY_EVALUATION_ERROR, f"Map state input must be an array but was: {to_json(items)}")
                raise err
            return items
        items = items_fn(engine.scope(ex, frame, data, ctx, state))
        if not isinstance(items, list):
            body = getattr(items_fn, "body", "")
            if callable(items) or items is None and False:
                raise StatesError(E.QUERY_EVALUATION_ERROR, f"The JSONata expression '{body}' specified for the field "
                                                            f"'Items' returned an unsupported result type.", location="Items")
            raise StatesError(E.QUERY_EVALUATION_ERROR, f"The JSONata expression '{body}' specified for the field 'Items' "
                                                        f"returned an unexpected result type. Expected 'array', but was "
                                                        f"'{_json_type(items)}' for value: {to_json(items)}",
                              location="Items")
        return items
    effective = engine.input_path(state, data, ctx, frame)
    query = state.extra["items_path"]
    items = effective if query is None else _path_value(query, effective, ctx, frame, query.text)
    if not isinstance(items, list):
        raise StatesError(E.RUNTIME, f"Map state input must be an array but was: {to_json(items)}")
    return items


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "function"


def _storage_hook(engine: "Engine", kind: str) -> Any:
    hook = engine.map_readers
    if hook is None:
        error = E.ITEM_READER_FAILED if kind == "ItemReader" else E.RESULT_WRITER_FAILED
        raise StatesError(error, f"{kind} needs a storage service; none is attached to this engine")
    return hook


def _hook_scope(engine: "Engine", ex: "Execution", state: State, data: Any, ctx: dict, frame: "Frame") -> dict:
    """What the harness's ItemReader/ResultWriter hook needs to evaluate its Parameters/Arguments."""
    if state.query_language == JSONATA:
        return {"scope": engine.scope(ex, frame, data, ctx, state), "language": JSONATA}
    return {}


def _read_items(engine: "Engine", ex: "Execution", state: State, data: Any, ctx: dict, frame: "Frame") -> list[Any]:
    """Items from the ItemReader (the harness's `map_readers.read`); AWS ignores ItemsPath then."""
    reader = _storage_hook(engine, "ItemReader")
    effective = data if state.query_language == JSONATA else engine.input_path(state, data, ctx, frame)
    return reader.read(state.extra["item_reader"], effective, ctx, frame.variables,
                       **_hook_scope(engine, ex, state, data, ctx, frame))


def _batches(engine: "Engine", ex: "Execution", frame: "Frame", state: State, items: list[Any], data: Any,
             ctx: dict, state_input: Any = None) -> list[Any]:
    """ItemBatcher: `{"BatchInput": ..., "Items": [...]}` per batch (case *item_batching*)."""
    batcher = state.extra["item_batcher"]
    if not batcher:
        return items
    jsonata = state.query_language == JSONATA
    compiled = state.extra.setdefault("item_batcher_compiled", {})

    def field(name: str) -> Any:
        if f"{name}Path" in batcher:
            from asl.paths import compile_query
            return compile_query(batcher[f"{name}Path"]).get(data, ctx, frame.variables)
        value = batcher.get(name)
        if jsonata and isinstance(value, str):
            from asl.payload import compile_jsonata_template
            if name not in compiled:
                compiled[name] = compile_jsonata_template(value, name)
            value = compiled[name](engine.scope(ex, frame, state_input, ctx, state))
        return value

    size = field("MaxItemsPerBatch")
    size = int(size) if size else len(items) or 1
    limit = field("MaxInputBytesPerBatch")
    limit = int(limit) if limit else 0
    batch_input = None
    if "BatchInput" in batcher:
        if "BatchInput" not in compiled:
            from asl.payload import compile_jsonata_template, compile_jsonpath_template
            compiled["BatchInput"] = (compile_jsonata_template(batcher["BatchInput"], "BatchInput") if jsonata
                                      else compile_jsonpath_template(batcher["BatchInput"]))
        batch_input = compiled["BatchInput"](engine.scope(ex, frame, state_input, ctx, state) if jsonata
                                             else Scope(data, ctx, frame.variables, ex.rng))
    chunks: list[list[Any]] = []
    for item in items:
        last = chunks[-1] if chunks else None
        if last is None or len(last) >= size or (limit and len(to_json(last + [item]).encode()) > limit):
            chunks.append([item])
        else:
            last.append(item)
    if batch_input is None:
        return [{"Items": chunk} for chunk in chunks]
    return [{"BatchInput": batch_input, "Items": chunk} for chunk in chunks]


async def run_map(engine: "Engine", ex: "Execution", frame: "Frame", state: State, data: Any, ctx: dict) -> Result:
    async def attempt(ctx: dict) -> tuple[Any, Any]:
        # with an ItemReader the items are read inside the map run: MapStateStarted shows length 0 and a
        # reading failure is a MapRunFailed (cases scenarios_test_base_scenarios *item_reader*)
        reading = state.extra["item_reader"] is not None
        items = [] if reading else _map_items(engine, ex, frame, state, data, ctx)
        effective = data if state.query_language == JSONATA else engine.input_path(state, data, ctx, frame)
        concurrency = _int_field(engine, ex, frame, state, effective, ctx, "MaxConcurrency") or 0
        distributed = state.extra["mode"] == "DISTRIBUTED"
        if distributed and not reading:
            items = _batches(engine, ex, frame, state, items, effective, ctx, data)
        frame.history.emit(frame.hctx, "MapStateStarted", {"length": len(items)})
        tolerated_count = _int_field(engine, ex, frame, state, effective, ctx, "ToleratedFailureCount")
        tolerated_pct = _int_field(engine, ex, frame, state, effective, ctx, "ToleratedFailurePercentage", "float")
        if tolerated_count is not None and tolerated_count < 0:
            raise StatesError(E.RUNTIME, "ToleratedFailureCount cannot be negative.")
        if tolerated_pct is not None and not 0 <= tolerated_pct <= 100:
            raise StatesError(E.RUNTIME, "ToleratedFailurePercentage must be between 0 and 100.")
        selector = state.extra["item_selector"]

        def select(items: list[Any]) -> list[Any]:
            inputs = []
            for index, item in enumerate(items):
                if selector is None:
                    inputs.append(item)
                    continue
                item_ctx = with_map_item(ctx, index, item)
                if state.query_language == JSONATA:
                    scope = engine.scope(ex, frame, data, item_ctx, state)
                    inputs.append(selector(scope))
                else:
                    inputs.append(selector(Scope(effective, item_ctx, frame.variables, ex.rng)))
            return inputs

        def read() -> list[Any]:
            items = _read_items(engine, ex, state, data, ctx, frame)
            return select(_batches(engine, ex, frame, state, items, effective, ctx, data) if distributed else items)

        if reading and not distributed:
            inputs = read()
        else:
            inputs = [] if reading else select(items)
        if distributed:
            writer = None
            if state.extra.get("result_writer") is not None:
                def writer(results: list[Any], map_run_arn: str) -> Any:
                    hook = _storage_hook(engine, "ResultWriter")
                    return hook.write(state.extra["result_writer"], results, map_run_arn=map_run_arn,
                                      effective=effective, ctx=ctx, variables=frame.variables,
                                      **_hook_scope(engine, ex, state, data, ctx, frame))
            results = await _run_map_run(engine, ex, frame, state, inputs, concurrency, tolerated_count, tolerated_pct,
                                         load=read if reading else None, writer=writer)
        else:
            results = await _run_inline(engine, ex, frame, state, inputs, concurrency, tolerated_count, tolerated_pct)
            frame.history.emit(frame.hctx, "MapStateSucceeded", update_source=False)
        return engine.apply_result(ex, frame, state, data, results, ctx)

    return await engine.with_retry_and_catch(ex, frame, state, data, ctx, attempt, failed_event="MapStateFailed")


def _threshold_exceeded(failures: int, total: int, count: Any, pct: Any) -> bool:
    if count is None and pct is None:
        return failures > 0
    allowed_by_count = count is not None and failures <= count
    allowed_by_pct = pct is not None and total > 0 and failures * 100.0 / total <= pct
    return not (allowed_by_count or allowed_by_pct)


async def _run_inline(engine: "Engine", ex: "Execution", frame: "Frame", state: State, inputs: list[Any],
                      concurrency: int, tolerated_count: Any, tolerated_pct: Any) -> list[Any]:
    from asl.engine import Frame

    processor = state.extra["processor"]
    history, scheduler = frame.history, engine.scheduler
    total = len(inputs)
    results: list[Any] = [None] * total
    next_index = [0]
    failures = [0]
    failure: list[StatesError] = []
    running: dict[int, Any] = {}
    iteration = {"name": state.name}

    async def worker(hctx: HistoryContext) -> None:
        while next_index[0] < total and not failure:
            index = next_index[0]
            next_index[0] += 1
            details = {"index": index, **iteration}
            history.emit(hctx, "MapIterationStarted", details)
            child = Frame(hctx, dict(frame.variables), frame.context, frame.history)
            running[index] = child
            try:
                results[index] = await engine._run_program(ex, child, processor, inputs[index])
            except StatesError as err:
                del running[index]
                frame.hctx.integrate(hctx)
                history.emit(hctx, "MapIterationFailed", details, update_source=False)
                failures[0] += 1
                results[index] = {"Error": err.error, "Cause": err.cause}
                if _threshold_exceeded(failures[0], total, tolerated_count, tolerated_pct) and not failure:
                    failure.append(err if tolerated_count is None and tolerated_pct is None else StatesError(
                        E.EXCEEDED_TOLERATED_FAILURE_THRESHOLD, "The specified tolerated failure threshold was exceeded"))
                continue
            except Cancelled:
                running.pop(index, None)
                history.emit(hctx, "MapIterationAborted", details, update_source=False)
                raise
            del running[index]
            history.emit(hctx, "MapIterationSucceeded", details, update_source=False)

    workers_n = total if not concurrency else min(int(concurrency), total)
    contexts = [frame.hctx.child() for _ in range(workers_n)]
    fibers = [scheduler.spawn(worker(c)) for c in contexts]
    for fiber in fibers:
        try:
            await fiber.done
        except StatesError:
            pass
        if failure:
            for other in fibers:
                scheduler.cancel(other)
    for fiber in fibers:
        if not fiber.done.done:
            try:
                await fiber.done
            except (Cancelled, StatesError):
                pass
    if failure:
        raise failure[0]
    for c in contexts:
        frame.hctx.integrate(c)
    return results


async def _run_map_run(engine: "Engine", ex: "Execution", frame: "Frame", state: State, inputs: list[Any],
                       concurrency: int, tolerated_count: Any, tolerated_pct: Any, *, load: Any = None,
                       writer: Any = None) -> Any:
    """A Distributed Map: iterations are child executions whose events stay out of this history."""
    from asl.engine import Frame

    history = frame.history
    label = state.extra.get("label") or state.name
    sm_name = ex.state_machine_arn.rsplit(":", 1)[-1]
    map_run_arn = (ex.state_machine_arn.replace(":stateMachine:", ":mapRun:").rsplit(":", 1)[0]
                   + f":{sm_name}/{label}:{ex.new_uuid()}")
    history.emit(frame.hctx, "MapRunStarted", {"mapRunArn": map_run_arn})
    if load is not None:
        try:
            inputs = load()
        except StatesError as err:
            history.emit(frame.hctx, "MapRunFailed", {"error": err.error, "cause": err.cause})
            raise
    processor = state.extra["processor"]
    results: list[Any] = [None] * len(inputs)
    failures = 0
    for index, value in enumerate(inputs):
        child = Frame(HistoryContext(0), dict(frame.variables), frame.context, History(engine.scheduler.clock.now))
        try:
            results[index] = await engine._run_program(ex, child, processor, value)
        except StatesError:
            failures += 1
    if _threshold_exceeded(failures, len(inputs), tolerated_count, tolerated_pct):
        err = StatesError(E.EXCEEDED_TOLERATED_FAILURE_THRESHOLD, "The specified tolerated failure threshold was exceeded")
        history.emit(frame.hctx, "MapRunFailed", {"error": err.error, "cause": err.cause})
        raise err
    output: Any = results
    if writer is not None:
        try:
            output = writer(results, map_run_arn)
        except StatesError as err:
            history.emit(frame.hctx, "MapRunFailed", {"error": err.error, "cause": err.cause})
            raise
    # Since late 2024 AWS hangs MapStateExited on MapRunStarted (recordings before that show
    # MapRunSucceeded): neither MapRunSucceeded nor MapStateSucceeded becomes the source.
    run_succeeded = history.emit(frame.hctx, "MapRunSucceeded", update_source=False)
    history.emit(frame.hctx, "MapStateSucceeded", update_source=False, previous=run_succeeded)
    return output


RUNNERS = {
    "Pass": run_pass, "Succeed": run_succeed, "Fail": run_fail, "Choice": run_choice, "Wait": run_wait,
    "Task": run_task, "Parallel": run_parallel, "Map": run_map,
}

