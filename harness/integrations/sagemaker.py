"""Step Functions -> Amazon SageMaker AI (connect-sagemaker.html): jobs, models, endpoint configs and endpoints.

Resources: `sagemaker:createTrainingJob`, `createProcessingJob`, `createTransformJob` and
`createHyperParameterTuningJob`, each also `.sync`; `createModel`, `createEndpointConfig`, `createEndpoint`,
`updateEndpoint` (request-response only).

Request: the API's request as it is, PascalCase (`{"TrainingJobName": ..., "AlgorithmSpecification": ...}`).

Response: request-response answers the API's own answer (`{"TrainingJobArn"}`) with the Java SDK v1
`SdkHttpMetadata` / `SdkResponseMetadata`, as the other optimized integrations do. `.sync` polls the job's
Describe* action on the execution's clock and answers with the Describe* output once the job is Completed
(timestamps as epoch milliseconds, as the Java SDK's JSON renders them); a job that ends Failed or
Stopped fails the task with `States.TaskFailed` and that output, FailureReason included, as the cause.
When the execution stops while a `.sync` job runs, the job is stopped too (Stop*).

Errors: an API error is `SageMaker.<Exception>` for the exceptions the SDK models (`SageMaker.ResourceInUseException`)
and `SageMaker.AmazonSageMakerException` for the others (ValidationException), with the SDK v1 cause.

Polling: the job runs on wall time (a worker thread) while the execution runs on its clock. On a virtual
clock each poll waits up to `POLL_WALL_SECONDS` of wall time for the job to move, then advances the
execution's clock by the wall time that passed: the history shows how long the job really took and the
poll costs nothing else (the engine thread is held at most that long per poll). On a wall clock the poll
simply sleeps `POLL_SECONDS`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore import xform_name

from asl.errors import StatesError
from asl.scheduler import Cancelled
from asl.tasks import TaskRequest
from harness.integrations import errors
from harness.integrations.registry import Services, integration
from harness.integrations.responses import compact, json_service_metadata, jsonable

JSON_1_1 = "application/x-amz-json-1.1"
POLL_SECONDS = 30.0
POLL_WALL_SECONDS = 0.25
# The Java SDK v1 client behind this integration: error prefix, service name in causes, base exception.
errors.V1_SERVICES.setdefault("sagemaker", ("SageMaker", "AmazonSageMaker", "AmazonSageMakerException"))


@dataclass(frozen=True)
class JobApi:
    """The actions behind one `.sync`-able job resource."""

    kind: str  # "TrainingJob"

    @property
    def create(self) -> str:
        return f"Create{self.kind}"

    @property
    def describe(self) -> str:
        return f"Describe{self.kind}"

    @property
    def stop(self) -> str:
        return f"Stop{self.kind}"

    @property
    def name_key(self) -> str:
        return f"{self.kind}Name"

    @property
    def status_key(self) -> str:
        return f"{self.kind}Status"


JOBS = {f"create{kind}": JobApi(kind) for kind in ("TrainingJob", "ProcessingJob", "TransformJob",
                                                    "HyperParameterTuningJob")}
REQUEST_RESPONSE = {"createModel": "CreateModel", "createEndpointConfig": "CreateEndpointConfig",
                    "createEndpoint": "CreateEndpoint", "updateEndpoint": "UpdateEndpoint"}


def _job_handler(api: JobApi) -> Any:
    async def run(services: Services, request: TaskRequest) -> Any:
        params = dict(request.parameters) if isinstance(request.parameters, dict) else {}
        client = services.client("sagemaker")
        answer = call(services, client, api.create, params)
        if request.resource.pattern != "sync":
            return _with_metadata(request, answer)
        request.submitted(answer)
        name = params.get(api.name_key)
        since = time.monotonic()
        try:
            while True:
                described = call(services, client, api.describe, {api.name_key: name})
                status = described.get(api.status_key)
                if status == "Completed":
                    return sync_output(described)
                if status in ("Failed", "Stopped"):
                    raise StatesError("States.TaskFailed", compact(sync_output(described)))
                since = await pause(services, request, api.kind, name, since)
        except Cancelled:  # the execution stopped or timed out: Step Functions stops the job it started
            try:
                call(services, client, api.stop, {api.name_key: name})
            except StatesError:
                pass
            raise
    run.__name__ = f"sagemaker_{api.create}"
    return run


def _request_response_handler(operation: str) -> Any:
    async def run(services: Services, request: TaskRequest) -> Any:
        params = dict(request.parameters) if isinstance(request.parameters, dict) else {}
        return _with_metadata(request, call(services, services.client("sagemaker"), operation, params))
    run.__name__ = f"sagemaker_{operation}"
    return run


for _action, _api in JOBS.items():
    integration("sagemaker", _action, patterns=("", "sync"))(_job_handler(_api))
for _action, _operation in REQUEST_RESPONSE.items():
    integration("sagemaker", _action)(_request_response_handler(_operation))


# --------------------------------------------------------------------------- calls and shapes
def call(services: Services, client: Any, operation: str, params: dict[str, Any]) -> dict[str, Any]:
    """One SageMaker API call; its errors as the integration names them."""
    from botocore.exceptions import ClientError, ParamValidationError

    try:
        answer = getattr(client, xform_name(operation))(**params)
    except ClientError as err:
        raise errors.v1_client_error("sagemaker", client, operation, err) from None
    except ParamValidationError as err:
        raise errors.v1_error("sagemaker", "ValidationException", str(err).replace("\n", " "), 400,
                              services.new_id()) from None
    answer.pop("ResponseMetadata", None)
    return answer


def _with_metadata(request: TaskRequest, answer: dict[str, Any]) -> dict[str, Any]:
    wire = jsonable(answer)
    return {**wire, **json_service_metadata(request, compact(wire), content_type=JSON_1_1)}


def sync_output(value: Any) -> Any:
    """A Describe* answer as `.sync` returns it: JSON, timestamps as epoch milliseconds."""
    if isinstance(value, dict):
        return {k: sync_output(v) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, list):
        return [sync_output(v) for v in value]
    if isinstance(value, datetime):
        return int(round(value.timestamp() * 1000))
    return jsonable(value)


async def pause(services: Services, request: TaskRequest, kind: str, name: Any, since: float) -> float:
    """Wait between two polls (see the module docstring); `since` is the wall time (monotonic) the execution's
    clock last caught up with, and the new one is returned."""
    engine = services.engine
    if engine is not None and not engine.scheduler.clock.virtual:
        await request.sleep(POLL_SECONDS)
        return time.monotonic()
    job = _local_job(services, kind, name)
    if job is not None:
        job.wait(POLL_WALL_SECONDS)  # returns as soon as the job moves
    else:
        time.sleep(POLL_WALL_SECONDS)
    now = time.monotonic()
    await request.sleep(now - since)  # the wall time since the last poll, calls included
    return now


# Describe* answers that say wall-clock work is still going on: (status member, statuses that will change).
IN_PROGRESS = {
    "DescribePipelineExecution": ("PipelineExecutionStatus", ("Executing", "Stopping")),
    "DescribeEndpoint": ("EndpointStatus", ("Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting")),
    "DescribeTrainingJob": ("TrainingJobStatus", ("InProgress", "Stopping")),
    "DescribeProcessingJob": ("ProcessingJobStatus", ("InProgress", "Stopping")),
    "DescribeTransformJob": ("TransformJobStatus", ("InProgress", "Stopping")),
}
HOLD_WALL_SECONDS = 1.0
HOLD_STEP_SECONDS = 0.05


async def hold_poll(services: Services, request: TaskRequest, operation: str, answer: dict[str, Any],
                    again: Any) -> dict[str, Any]:
    """Pace a polling loop (Wait -> `aws-sdk:sagemaker:describe*` -> Choice) over work that runs on wall time.

    The pipeline, the endpoint or the job runs on threads in wall time while the execution runs on its clock.
    On a virtual clock the loop's Wait costs no wall time, so without pacing it would poll thousands of times
    (and end in the 25,000-event history quota) before a 20-second pipeline finishes. So, as a `.sync` poll
    does: when the answer says the work is in progress, hold it up to HOLD_WALL_SECONDS of wall time, asking
    again (`again()`) until the status moves, and advance the execution's clock by the wall time spent; the
    answer is the latest one. On a wall clock the loop's own Wait paces it, and the answer is returned as it is.
    """
    watched = IN_PROGRESS.get(operation)
    engine = services.engine
    if watched is None or engine is None or not engine.scheduler.clock.virtual:
        return answer
    key, running = watched
    status = answer.get(key)
    if status not in running:
        return answer
    started = time.monotonic()
    while time.monotonic() - started < HOLD_WALL_SECONDS:
        time.sleep(HOLD_STEP_SECONDS)
        fresh = again()
        if fresh.get(key) != status:
            answer = fresh
            break
    await request.sleep(time.monotonic() - started)
    return answer


def _local_job(services: Services, kind: str, name: Any) -> Any:
    """The job record when drydock's SageMaker runs it in this process (not behind a remote endpoint)."""
    if services.cloud.endpoint_url is not None or not isinstance(name, str):
        return None
    try:
        from harness.sagemaker.service import SERVICE
    except ModuleNotFoundError:
        return None
    return SERVICE.find(services.account, services.region, kind, name) if kind in ("TrainingJob", "ProcessingJob",
                                                                                   "TransformJob") else None
