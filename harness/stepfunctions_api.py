"""The AWS Step Functions API (JSON 1.0) over drydock's engine, for `drydock serve` and in-process boto3.

The wire half of the API (moto's `responses.py`; state lives in `harness.store`): `handle` turns a
request (`X-Amz-Target: AWSStepFunctions.StartExecution` and a JSON body) into a response, with
shapes and error codes as botocore's service model (stepfunctions 2016-11-23) says. Each action is
the snake_case method of its name, so dispatch needs no table; requests are checked against the
model first (required members, lengths, ranges, enums -> ValidationException, as AWS words it).

Every Step Functions action is registered with `harness.overlay`, which brings requests here from
in-process boto3 clients (a botocore hook) and from `drydock serve` (the gateway), and leaves every
other service to moto.
https://docs.aws.amazon.com/step-functions/latest/apireference/API_Operations.html
"""
from __future__ import annotations

import base64
import binascii
import functools
import json
import os
import re
import sys
import traceback
import uuid
from typing import Any, Callable

from asl.clock import Clock, VirtualClock
from asl.engine import ApiError
from asl.errors import INVALID_JSON_DESCRIPTION, Diagnostic
from asl.tasks import HandlerTable, TaskHandlers
from asl.validate import validate
from harness.cloud import LocalCloud
from harness.overlay import ActiveSlot, Answer, Call, register, request_identity
from harness.store import MAX_TAGS, Backend, ExecutionRecord, Store, run_test_state

TARGET_PREFIX = "AWSStepFunctions."
DEFAULT_PAGE = 100
_JSON_HEADERS = {"Content-Type": "application/x-amz-json-1.0"}
_ERROR_NAMESPACE = {"ValidationException": "com.amazon.coral.validate",
                    "SerializationException": "com.amazon.coral.service",
                    "UnknownOperationException": "com.amazon.coral.service",
                    "InternalFailure": "com.amazon.coral.service"}
# Actions that wait (or touch no backend) on the caller's thread; every other runs on the backend's pump.
_OFF_PUMP = {"start_sync_execution", "get_activity_task", "validate_state_machine_definition"}


class StepFunctionsApi:
    """Step Functions for every account and region of one `Store`.

    Args:
        handlers: the task handlers executions use; default: drydock's integrations over the
            in-process cloud, one set per region bound to its engine (an empty table when
            `harness.integrations` is absent).
        idle_grace: wall seconds the engine waits for a task token or a worker before it skips
            virtual time (0: in-process and deterministic; see `harness.store.Pump`).
        clock: makes each region's clock (virtual by default; `WallClock` for real time).
        activity_poll_seconds: how long GetActivityTask waits for a task (AWS: 60).
        journal: a `harness.durability.journal.Journal` to write every change to (`drydock serve`).
        mocks: a `harness.mock_config.MockConfig`: StartExecution on `<stateMachineArn>#<TestCase>` mocks the
            states (and resources) that test case names, live integrations answering the rest.
    """

    def __init__(self, handlers: TaskHandlers | None = None, *, idle_grace: float = 0.0,
                 clock: Callable[[], Clock] = VirtualClock, activity_poll_seconds: float = 60.0, journal: Any = None,
                 mocks: Any = None):
        fixed = handlers
        self.store = Store(_integrations if fixed is None else lambda backend: fixed, idle_grace=idle_grace, clock=clock,
                           activity_poll_seconds=activity_poll_seconds, journal=journal, mocks=mocks)

    def close(self) -> None:
        self.store.close()

    def handle(self, target: str, body: bytes, headers: Any) -> tuple[int, dict[str, str], bytes]:
        """Answer one request: (status, headers, JSON body), errors included."""
        try:
            result = self._dispatch(target, body, headers)
            status = 200
        except ApiError as err:
            status, result = 400, {"__type": f"{_ERROR_NAMESPACE.get(err.code, 'com.amazonaws.swf.service.model')}"
                                              f"#{err.code}", "message": err.message}
        except Exception as exc:  # a drydock bug: say so, keep serving
            traceback.print_exc(file=sys.stderr)
            status, result = 500, {"__type": "com.amazon.coral.service#InternalFailure",
                                   "message": f"drydock failed on {target}: {type(exc).__name__}: {exc}"}
        out = {**_JSON_HEADERS, "x-amzn-RequestId": str(uuid.uuid4())}
        return status, out, json.dumps(result, ensure_ascii=False).encode()

    def _dispatch(self, target: str, body: bytes, headers: Any) -> dict[str, Any]:
        action = target[len(TARGET_PREFIX):] if target.startswith(TARGET_PREFIX) else ""
        if action not in _model().operation_names:
            raise ApiError("UnknownOperationException", f"Unknown operation: X-Amz-Target '{target}'")
        name = re.sub(r"(?<!^)(?=[A-Z])", "_", action).lower()
        method = getattr(self, name, None)
        if method is None:
            raise ApiError("UnknownOperationException", f"drydock does not implement the Step Functions action {action}")
        try:
            params = json.loads(body or b"{}")
        except (ValueError, UnicodeDecodeError) as err:
            raise ApiError("SerializationException", f"The request body of {action} is not JSON: {err}") from None
        if not isinstance(params, dict):
            raise ApiError("SerializationException", f"The request body of {action} must be a JSON object")
        # a member sent as null is a member not sent (found by tests/fuzz: {"stateMachineArn": null} was a 500)
        params = {key: value for key, value in params.items() if value is not None}
        check_request(action, params)
        backend = self.store.backend(*request_identity(headers))
        if name in _OFF_PUMP:
            return method(backend, params)
        return backend.pump.call(lambda: method(backend, params))

    # ------------------------------------------------------------------ state machines
    def create_state_machine(self, b: Backend, p: dict[str, Any]) -> dict[str, Any]:
        _refuse_versions(p)
        _refuse_resources(p["definition"])
        machine = b.create_state_machine(p["name"], p["definition"], p["roleArn"], p.get("type", "STANDARD"),
                                         _tag_dict(p.get("tags", []), p["name"]),
                                         p.get("loggingConfiguration") or {"level": "OFF", "includeExecutionData": False},
                                         p.get("tracingConfiguration") or {"enabled": False})
        return {"stateMachineArn": machine.arn, "creationDate": _ts(machine.creation_date)}

    def update_state_machine(self, b: Backend, p: dict[str, Any]) -> dict[str, Any]:
        _refuse_versions(p)
        changes = ("definition", "roleArn", "loggingConfiguration", "tracingConfiguration")
        if not any(k in p for k in changes):
            raise ApiError("MissingRequiredParameter", "Either the definition, the role ARN, the LoggingConfiguration, "
                                                       "or the TracingConfiguration must be specified")
        if p.get("definition") is not None:
            _refuse_resources(p["definition"])
        machine = b.update_state_machine(p["stateMachineArn"], p.get("definition"), p.get("roleArn"),
                                         p.get("loggingConfiguration"), p.get("tracingConfiguration"))
        return {"updateDate": _ts(machine.revision.date), "revisionId": machine.revision.revision_id}

    def describe_state_machine(self, b: Backend, p: dict[str, Any]) -> dict[str, Any]:
        m = b.state_machine(p["stateMachineArn"])
        return {"stateMachineArn": m.arn, "name": m.name, "status": "ACTIVE", "definition": m.revision.definition,
                "roleArn": m.revision.role_arn, "type": m.type, "creationDate": _ts(m.creation_date),
                "loggingConfiguration": m.logging, "tracingConfiguration": m.tracing,
                "revisionId": m.revision.revision_id}

    def list_state_machines(self, b: Backend, p: dict[str, Any]) -> dict[str, Any]:
        machines = sorted(b.state_machines.values(), key=lambda m: m.arn)
        page, token = _page(machines, lambda m: m.arn, p)
        items = [{"stateMachineArn": m.arn, "name": m.name, "type": m.type, "creationDate": _ts(m.creation_date)}
                 for m in page]
        return {"stateMachines": items, **_next(token)}

    def delete_state_machine(self, b: Backend, p: dict[str, Any]) -> dict[str, Any]:
        b.delete_state_machine(p["stateMachineArn"])
        return {}

    def describe_state_machine_for_execution(self, b: Backend, p: dict[str, Any]) -> dict[str, Any]:
        record = b.execution(p["executionArn"])
        m, r = record.machine, record.revision
        return {"stateMachineArn": m.arn, "name": m.name, "definition": r.definition, "roleArn": r.role_arn,
                "updateDate": _ts(r.date), "loggingConfiguration": m.logging, "tracingConfiguration": m.tracing,
                "revisionId": r.revision_id}

    # ------------------------------------------------------------------ executions
    def start_execution(self, b: Backend, p: dict[str, Any]) -> dict[str, Any]:
        ex = b.start_execution(p["stateMachineArn"], p.get("name"), p.get("input", "{}")).execution
        return {"executionArn": ex.arn, "startDate": _ts(ex.start)}

    def start_sync_execution(self, b: Backend, p: dict[str, Any]) -> dict[str, Any]:
        if b.pump.on_thread:
            raise ApiError("ValidationException", "StartSyncExecution cannot wait inside a task handler: the engine "
                                                  "would wait for itself (use the startExecution.sync integration)")

        def start() -> tuple[ExecutionRecord, Any]:
            machine = b.state_machine(p["stateMachineArn"])
            if machine.type != "EXPRESS":
                raise ApiError("StateMachineTypeNotSupported",
                               f"This operation is not supported by this type of state machine: '{machine.arn}' is "
                               f"{machine.type}; StartSyncExecution runs EXPRESS state machines")
            record = b.start_execution(machine.arn, p.get("name"), p.get("input", "{}"))
            return record, b.when_finished(record)
        record, finished = b.pump.call(start)
        finished.result()
        described = b.pump.call(lambda: _describe(record, "ALL_DATA"))
        fields = ("executionArn", "stateMachineArn", "name", "startDate", "stopDate", "status", "error", "cause",
                  "input", "inputDetails", "output", "outputDetails")
        return {k: described[k] for k in fields if k in described}

    def describe_execution(self, b: Backend, p: dict[str, Any]) -> dict[str, Any]:
        return _describe(b.execution(p["executionArn"]), p.get("includedData", "ALL_DATA"))

    def list_executions(self, b: Backend, p: dict[str, Any]) -> dict[str, Any]:
        if "mapRunArn" in p:
            raise ApiError("ResourceNotFound", f"Resource not found: '{p['mapRunArn']}' (drydock lists no Map Runs)")
        if "stateMachineArn" not in p:
            raise ApiError("ValidationException", "Must provide a StateMachine ARN or MapRun ARN")
        machine = b.state_machine(p["stateMachineArn"])
        if machine.type == "EXPRESS":
            raise ApiError("StateMachineTypeNotSupported",
                           f"This operation is not supported by this type of state machine: '{machine.arn}' is EXPRESS")
        status = p.get("statusFilter")
        records = sorted((r for r in b.executions.values() if r.machine.arn == machine.arn
                          and (status is None or r.execution.status == status)), key=lambda r: -r.seq)
        page, token = _page(records, lambda r: -r.seq, p)
        items = []
        for record in page:
            ex = record.execution
            item = {"executionArn": ex.arn, "stateMachineArn": ex.state_machine_arn, "name": ex.name,
                    "status": ex.status, "startDate": _ts(ex.start)}
            if ex.stop is not None:
                item["stopDate"] = _ts(ex.stop)
            items.append(item)
        return {"executions": items, **_next(token)}

    def get_execution_history(self, b: Backend, p: dict[str, Any]) -> dict[str, Any]:
        events = list(b.execution(p["executionArn"]).execution.history.events)
        reverse = bool(p.get("reverseOrder"))
        if reverse:
            events.reverse()
        page, token = _page(events, lambda e: -e["id"] if reverse else e["id"], p)
        with_data = p.get("includeExecutionData", True)
        return {"events": [_event(e, with_data) for e in page], **_next(token)}

    def stop_execution(self, b: Backend, p: dict[str, Any]) -> dict[str, Any]:
        ex = b.stop_execution(p["executionArn"], p.get("error"), p.get("cause"))
        return {"stopDate": _ts(ex.stop or b.now())}

    # ------------------------------------------------------------------ task tokens
    def send_task_success(self, b: Backend, p: dict[str, Any]) -> dict[str, Any]:
        b.send_task_success(p["taskToken"], p["output"])
        return {}

    def send_task_failure(self, b: Backend, p: dict[str, Any]) -> dict[str, Any]:
        b.send_task_failure(p["taskToken"], p.get("error"), p.get("cause"))
        return {}

    def send_task_heartbeat(self, b: Backend, p: dict[str, Any]) -> dict[str, Any]:
        b.send_task_heartbeat(p["taskToken"])
        return {}

    # ------------------------------------------------------------------ definitions
    def validate_state_machine_definition(self, b: Backend, p: dict[str, Any]) -> dict[str, Any]:
        try:
            definition = json.loads(p["definition"])
            diagnostics = validate(definition) + resource_findings(definition)
        except json.JSONDecodeError as err:
            diagnostics = [Diagnostic("ERROR", INVALID_JSON_DESCRIPTION,
                                      f"{err.msg} at line {err.lineno}, column {err.colno}", "")]
        failed = any(d.severity == "ERROR" for d in diagnostics)
        if p.get("severity") == "ERROR":
            diagnostics = [d for d in diagnostics if d.severity == "ERROR"]
        limit = p.get("maxResults") or DEFAULT_PAGE
        return {"result": "FAIL" if failed else "OK", "diagnostics": [d.to_api() for d in diagnostics[:limit]],
                "truncated": len(diagnostics) > limit}

    def test_state(self, b: Backend, p: dict[str, Any]) -> dict[str, Any]:
        """TestState: one state on its own, with an optional mocked result or error; inspectionData at
        DEBUG and TRACE (see `harness.store.run_test_state`)."""
        unsupported = [k for k in ("variables", "context", "stateConfiguration") if k in p]
        if unsupported:
            raise ApiError("ValidationException", f"drydock's TestState does not support {', '.join(unsupported)}")
        try:
            definition = json.loads(p["definition"])
        except json.JSONDecodeError as err:
            raise ApiError("InvalidDefinition", f"Invalid State Machine Definition: 'INVALID_JSON_DESCRIPTION: "
                                                f"{err.msg} at line {err.lineno}, column {err.colno}'") from None
        if not isinstance(definition, dict):
            raise ApiError("InvalidDefinition", "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: "
                                                "the definition must be a JSON object at /'")
        language = None
        name = p.get("stateName", "TestState")
        state = definition
        if "States" in definition:  # a whole state machine: stateName picks the state to test
            states = definition["States"] if isinstance(definition["States"], dict) else {}
            if name not in states:
                raise ApiError("ValidationException", f"stateName '{name}' is not a state of the definition "
                                                      f"(states: {', '.join(states) or 'none'})")
            state, language = states[name], definition.get("QueryLanguage")
        if not isinstance(state, dict) or not isinstance(state.get("Type"), str):
            raise ApiError("InvalidDefinition", "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: "
                                                "a state must be an object with a Type at /Type'")
        input_text = p.get("input", "{}")
        try:
            json.loads(input_text)
        except json.JSONDecodeError as err:
            raise ApiError("InvalidExecutionInput", f"Invalid State Machine Execution Input: '{err.msg}'") from None
        return run_test_state(b.handlers, state, name, input_text, query_language=language,
                              account=b.account, region=b.region, inspection_level=p.get("inspectionLevel", "INFO"),
                              mock=p.get("mock"))

    # ------------------------------------------------------------------ activities
    def create_activity(self, b: Backend, p: dict[str, Any]) -> dict[str, Any]:
        activity = b.create_activity(p["name"], _tag_dict(p.get("tags", []), p["name"]))
        return {"activityArn": activity.arn, "creationDate": _ts(activity.creation_date)}

    def describe_activity(self, b: Backend, p: dict[str, Any]) -> dict[str, Any]:
        a = b.activity(p["activityArn"])
        return {"activityArn": a.arn, "name": a.name, "creationDate": _ts(a.creation_date)}

    def list_activities(self, b: Backend, p: dict[str, Any]) -> dict[str, Any]:
        page, token = _page(sorted(b.activities.values(), key=lambda a: a.arn), lambda a: a.arn, p)
        return {"activities": [{"activityArn": a.arn, "name": a.name, "creationDate": _ts(a.creation_date)}
                               for a in page], **_next(token)}

    def delete_activity(self, b: Backend, p: dict[str, Any]) -> dict[str, Any]:
        b.delete_activity(p["activityArn"])
        return {}

    def get_activity_task(self, b: Backend, p: dict[str, Any]) -> dict[str, Any]:
        """Long poll: a queued task at once, else wait up to `activity_poll_seconds`, then `{}`."""
        arn = p["activityArn"]
        poll = b.pump.call(lambda: b.poll_activity(arn, p.get("workerName")))
        try:
            return poll.result(timeout=0 if b.pump.on_thread else self.store.activity_poll_seconds)
        except TimeoutError:
            return b.pump.call(lambda: b.cancel_poll(arn, poll))

    # ------------------------------------------------------------------ tags
    def tag_resource(self, b: Backend, p: dict[str, Any]) -> dict[str, Any]:
        b.tag(p["resourceArn"], _tag_dict(p["tags"], p["resourceArn"]))
        return {}

    def untag_resource(self, b: Backend, p: dict[str, Any]) -> dict[str, Any]:
        b.untag(p["resourceArn"], p["tagKeys"])
        return {}

    def list_tags_for_resource(self, b: Backend, p: dict[str, Any]) -> dict[str, Any]:
        return {"tags": [{"key": k, "value": v} for k, v in b.tagged(p["resourceArn"]).tags.items()]}


def _integrations(backend: Backend) -> TaskHandlers:
    """drydock's service integrations over the in-process cloud, bound to `backend`'s engine.

    `states:startExecution` starts its nested execution in the same backend; without
    `harness.integrations` every task but an activity fails, naming its resource.
    """
    try:
        from harness.integrations import build_handlers
    except ModuleNotFoundError as err:
        if err.name != "harness.integrations":
            raise
        return HandlerTable()

    def start_nested(state_machine_arn: str, input_text: str, name: str | None) -> Any:
        return backend.start_execution(state_machine_arn, name, input_text).execution
    cloud = LocalCloud(region=backend.region, account=backend.account)
    handlers = build_handlers(cloud, start_execution=start_nested, mocks=backend.mocks).bind(backend.engine)
    mode = os.environ.get("DRYDOCK_IAM", "warn")  # each call checked against the role in moto's IAM (harness.iam)
    if mode == "off":
        return handlers
    from harness.iam import IamRoles, enforce

    return enforce(handlers, IamRoles(cloud), mode=mode)


# --------------------------------------------------------------------------- response shapes
def _ts(seconds: float) -> float:
    """Timestamps travel as epoch seconds (JSON numbers) in the JSON protocol."""
    return round(seconds, 3)


def _describe(record: ExecutionRecord, included: str) -> dict[str, Any]:
    ex = record.execution
    out: dict[str, Any] = {"executionArn": ex.arn, "stateMachineArn": ex.state_machine_arn, "name": ex.name,
                           "status": ex.status, "startDate": _ts(ex.start)}
    if ex.stop is not None:
        out["stopDate"] = _ts(ex.stop)
    if included != "METADATA_ONLY":
        out.update({"input": ex.input_text, "inputDetails": {"included": True}})
        if ex.output_text is not None:
            out.update({"output": ex.output_text, "outputDetails": {"included": True}})
    out.update({k: v for k, v in (("error", ex.error), ("cause", ex.cause)) if v is not None})
    return out


_DATA_FIELDS = ("input", "inputDetails", "output", "outputDetails")


def _event(event: dict[str, Any], with_data: bool) -> dict[str, Any]:
    out = {**event, "timestamp": _ts(event["timestamp"].timestamp())}
    if not with_data:
        for key, details in event.items():
            if key.endswith("EventDetails") and isinstance(details, dict):
                out[key] = {k: v for k, v in details.items() if k not in _DATA_FIELDS}
    return out


def _tag_dict(tags: list[dict[str, str]], resource: str) -> dict[str, str]:
    if len(tags) > MAX_TAGS:
        raise ApiError("TooManyTags", f"Too many tags: {len(tags)} for '{resource}', the limit is {MAX_TAGS}")
    missing = [i for i, t in enumerate(tags, 1) if "key" not in t]
    if missing:
        raise ApiError("ValidationException", f"Value null at 'tags.{missing[0]}.member.key' failed to satisfy "
                                              f"constraint: Member must not be null")
    return {t["key"]: t.get("value", "") for t in tags}


def resource_findings(definition: Any) -> list[Diagnostic]:
    """Task resources AWS does not offer (`harness.integrations.catalog`); none when that module is absent."""
    try:
        from harness.integrations.catalog import check_resources
    except ModuleNotFoundError as err:
        if err.name not in ("harness.integrations", "harness.integrations.catalog"):
            raise
        return []
    return check_resources(definition)


def _refuse_resources(text: str) -> None:
    """CreateStateMachine refuses a definition naming a resource AWS does not offer (InvalidDefinition)."""
    try:
        definition = json.loads(text)
    except (TypeError, ValueError):
        return  # the store reports the text itself
    findings = resource_findings(definition)
    if findings:
        listed = ", ".join(f"'{d.code}: {d.message} at {d.location or '/'}'" for d in findings)
        raise ApiError("InvalidDefinition", f"Invalid State Machine Definition: {listed}")


def _refuse_versions(p: dict[str, Any]) -> None:
    if p.get("publish"):
        raise ApiError("ValidationException", "drydock does not publish state machine versions: leave publish unset")


def _page(items: list[Any], key: Callable[[Any], Any], p: dict[str, Any]) -> tuple[list[Any], str | None]:
    """One page of `items` (sorted ascending by `key`); the token is the key of the next page's first item."""
    token = p.get("nextToken")
    if token is not None:
        try:
            start = json.loads(base64.urlsafe_b64decode(token.encode()))
        except (ValueError, binascii.Error):
            raise ApiError("InvalidToken", f"Invalid Token: '{token}'") from None
        try:
            items = [item for item in items if key(item) >= start]
        except TypeError:  # a token of another list
            raise ApiError("InvalidToken", f"Invalid Token: '{token}'") from None
    size = p.get("maxResults") or DEFAULT_PAGE
    page, rest = items[:size], items[size:]
    return page, base64.urlsafe_b64encode(json.dumps(key(rest[0])).encode()).decode() if rest else None


def _next(token: str | None) -> dict[str, str]:
    return {"nextToken": token} if token else {}


# --------------------------------------------------------------------------- requests
@functools.cache
def _model() -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model("stepfunctions")


_JSON_TYPES: dict[str, Any] = {"string": str, "boolean": bool, "integer": int, "long": int, "float": (int, float),
                               "double": (int, float), "timestamp": (int, float, str), "blob": str, "list": list,
                               "structure": dict, "map": dict}


def check_request(action: str, params: dict[str, Any]) -> None:
    """Check a request against the model's input shape, as AWS does before any action runs.

    Raises:
        ApiError: SerializationException for a value of the wrong JSON type; ValidationException
            listing every constraint a value breaks ("1 validation error detected: Value null at
            'stateMachineArn' failed to satisfy constraint: Member must not be null").
    """
    problems: list[str] = []
    _check(_model().operation_model(action).input_shape, params, "", problems)
    if problems:
        count = f"{len(problems)} validation error{'s' if len(problems) > 1 else ''} detected"
        raise ApiError("ValidationException", f"{count}: {'; '.join(problems)}")


def _check(shape: Any, value: Any, path: str, problems: list[str]) -> None:
    kind = shape.type_name
    if not isinstance(value, _JSON_TYPES[kind]) or (kind in ("integer", "long", "float", "double")
                                                    and isinstance(value, bool)):
        raise ApiError("SerializationException", f"Unexpected value for '{path}': {json.dumps(value)[:60]} is not a {kind}")
    meta = getattr(shape, "metadata", {})

    def breaks(rule: str) -> None:
        shown = "" if meta.get("sensitive") else f" '{value}'"
        problems.append(f"Value{shown} at '{path}' failed to satisfy constraint: Member must {rule}")
    if kind in ("string", "list"):
        if "min" in meta and len(value) < meta["min"]:
            breaks(f"have length greater than or equal to {meta['min']}")
        if "max" in meta and len(value) > meta["max"]:
            breaks(f"have length less than or equal to {meta['max']}")
    if kind in ("integer", "long", "float", "double"):
        if "min" in meta and value < meta["min"]:
            breaks(f"have value greater than or equal to {meta['min']}")
        if "max" in meta and value > meta["max"]:
            breaks(f"have value less than or equal to {meta['max']}")
    if getattr(shape, "enum", None) and value not in shape.enum:
        breaks(f"satisfy enum value set: [{', '.join(shape.enum)}]")
    if kind == "structure":
        for name, member in shape.members.items():
            at = f"{path}.{name}" if path else name
            if value.get(name) is None:
                if name in shape.required_members:
                    problems.append(f"Value null at '{at}' failed to satisfy constraint: Member must not be null")
            else:
                _check(member, value[name], at, problems)
    if kind == "list":
        for i, item in enumerate(value, 1):
            _check(shape.member, item, f"{path}.{i}.member", problems)


# --------------------------------------------------------------------------- in-process boto3 and serve
_SLOT: ActiveSlot[StepFunctionsApi] = ActiveSlot(StepFunctionsApi)
install = _SLOT.install  # the API boto3 clients and drydock serve reach
active_api = _SLOT.get


@register("stepfunctions")  # every action: Step Functions is drydock's engine, not moto's
def _answer(call: Call) -> Answer:
    status, headers, body = active_api().handle(TARGET_PREFIX + call.action, call.body, call.headers)
    return Answer(status, headers, body)
