"""Step Functions -> Step Functions (connect-stepfunctions.html): `states:startExecution`, `.sync`, `.sync:2`,
`.waitForTaskToken` - a nested execution on the same engine.

Request: `StateMachineArn`, `Input` (a JSON value, or JSON text), `Name`, `TraceHeader`.

Response: `{"ExecutionArn", "StartDate", "SdkHttpMetadata", "SdkResponseMetadata"}` for the plain call;
`.sync` waits for the child and answers with DescribeExecution (`Input`/`Output` as JSON text), `.sync:2`
the same with `Input`/`Output` as JSON values. A child that fails, times out or is aborted fails the
task with `States.TaskFailed` and that description as the cause. An unknown state machine fails with
`StepFunctions.StateMachineDoesNotExistException`.

The nested execution comes from the `start_execution(state_machine_arn, input_text, name)` callable
given to `build_handlers`, which returns an `asl.engine.Execution` on the same scheduler.
"""
from __future__ import annotations

from typing import Any

from asl.errors import StatesError
from asl.scheduler import Cancelled
from asl.tasks import TaskRequest
from harness.integrations import errors
from harness.integrations.registry import Services, integration
from harness.integrations.responses import compact, json_service_metadata


@integration("states", "startExecution", patterns=("", "sync", "sync:2", "waitForTaskToken"))
async def start_execution(services: Services, request: TaskRequest) -> Any:
    from asl.engine import ApiError

    params = request.parameters if isinstance(request.parameters, dict) else {}
    if services.start_execution is None:
        raise errors.not_supported("states", "startExecution", "no state machine store is attached to the engine")
    arn = params.get("StateMachineArn")
    value = params.get("Input", {})
    input_text = value if isinstance(value, str) else compact(value)
    try:
        child = services.start_execution(arn, input_text, params.get("Name"))
    except ApiError as err:
        raise errors.v1_error("states", err.code, err.message, 400, services.new_id(),
                              exception=errors.exception_name(err.code)) from None
    if request.resource.pattern not in ("sync", "sync:2"):
        answer = {"ExecutionArn": child.arn, "StartDate": int(child.start * 1000)}
        return {**answer, **json_service_metadata(request, compact(answer))}
    try:
        await child.finished
    except Cancelled:
        if services.engine is not None and not child.done:
            services.engine.stop_execution(child)  # the parent gave up on it: so does AWS
        raise
    description = describe(child, parse=request.resource.pattern == "sync:2")
    if child.status != "SUCCEEDED":
        raise StatesError("States.TaskFailed", compact(describe(child, parse=False)))
    return description


def describe(ex: Any, *, parse: bool) -> dict[str, Any]:
    """DescribeExecution's answer for an engine execution (times in epoch milliseconds, as SDK v1 renders them)."""
    import json

    out: dict[str, Any] = {"ExecutionArn": ex.arn, "Input": json.loads(ex.input_text) if parse else ex.input_text,
                           "InputDetails": {"Included": True}, "Name": ex.name}
    if ex.status == "SUCCEEDED":
        out["Output"] = json.loads(ex.output_text) if parse else ex.output_text
        out["OutputDetails"] = {"Included": True}
    out.update({"RedriveCount": 0, "RedriveStatus": "NOT_REDRIVABLE", "StartDate": int(ex.start * 1000),
                "StateMachineArn": ex.state_machine_arn, "Status": ex.status})
    if ex.stop is not None:
        out["StopDate"] = int(ex.stop * 1000)
    if ex.error is not None:
        out["Error"] = ex.error
    if ex.cause is not None:
        out["Cause"] = ex.cause
    return out
