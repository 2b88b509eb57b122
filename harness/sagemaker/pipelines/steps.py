"""One runner per step type: what a step does with its evaluated Arguments, and what it leaves behind.

Mirrors "Pipeline steps" in the SageMaker developer guide. A runner gets a `StepContext` (the step, its
Arguments already evaluated, the platform, the stop signal) and returns a `StepOutcome`: the step's properties
(the Describe* response `Steps.<name>.<path>` reads), its ListPipelineExecutionSteps Metadata, the property
files it published and its lineage. It raises `StepFailure` (FailureReason, and the retry ExceptionType it
counts as) or `StepStopped`.

| Type          | does                                              | Metadata                                   |
|---------------|---------------------------------------------------|--------------------------------------------|
| Processing    | CreateProcessingJob, waits; reads PropertyFiles   | ProcessingJob.Arn                          |
| Training      | CreateTrainingJob, waits                          | TrainingJob.Arn                            |
| Transform     | CreateTransformJob, waits                         | TransformJob.Arn                           |
| Model         | CreateModel                                       | Model.Arn                                  |
| RegisterModel | CreateModelPackage (PendingManualApproval unless  | RegisterModel.Arn                          |
|               | ModelApprovalStatus says otherwise)               |                                            |
| Condition     | evaluates Conditions (all must hold)              | Condition.Outcome "True" / "False"         |
| Fail          | fails the execution with ErrorMessage             | Fail.ErrorMessage                          |
| Lambda        | invokes FunctionArn with Arguments as the event   | Lambda.Arn, Lambda.OutputParameters        |
| Callback      | sends {token, arguments...} to SqsQueueUrl, waits | Callback.CallbackToken, SqsQueueUrl,       |
|               | for SendPipelineExecutionStepSuccess/Failure      | OutputParameters                           |
"""
from __future__ import annotations

import json
import secrets
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

from botocore.exceptions import ClientError

from harness.sagemaker.pipelines import lineage
from harness.sagemaker.pipelines.conditions import evaluate_all
from harness.sagemaker.pipelines.definition import JOB_STEPS, Step
from harness.sagemaker.pipelines.expressions import EvaluationError, Scope
from harness.sagemaker.pipelines.platform import FunctionError, Platform

STOP_GRACE_SECONDS = 30.0
THROTTLING_CODES = {"ThrottlingException", "Throttling", "ThrottledException", "TooManyRequestsException",
                    "RequestLimitExceeded", "SlowDown"}
SERVICE_FAULT_CODES = {"InternalFailure", "InternalServerError", "InternalError", "ServiceUnavailable",
                       "ServiceUnavailableException", "ServiceFault"}


class StepFailure(Exception):
    """The step failed: `reason` is its FailureReason; `exception_type` what a RetryPolicy may match."""

    def __init__(self, reason: str, exception_type: str | None = None, metadata: dict[str, Any] | None = None):
        super().__init__(reason)
        self.reason = reason
        self.exception_type = exception_type
        self.metadata = metadata or {}


class StepStopped(Exception):
    def __init__(self, metadata: dict[str, Any] | None = None):
        super().__init__("stopped")
        self.metadata = metadata or {}


@dataclass
class StepOutcome:
    properties: dict[str, Any]
    metadata: dict[str, Any]
    property_files: dict[str, Any] = field(default_factory=dict)
    lineage: tuple[str, list[tuple[str, str]], list[tuple[str, str]]] | None = None  # (source, inputs, outputs)


@dataclass
class StepContext:
    step: Step
    arguments: dict[str, Any]  # the step's Arguments, evaluated for this attempt
    resource_name: str  # the job / model name of this attempt (pipelines-<execution id>-<step>-<suffix>)
    scope: Scope
    platform: Platform
    stop: threading.Event
    execution_arn: str
    callbacks: "Callbacks"
    publish: Callable[[dict[str, Any]], None] = lambda metadata: None  # Metadata while the step runs
    read_json: Callable[[str], Any] = lambda uri: None


# ------------------------------------------------------------------------------------------------ job steps
def run_job_step(ctx: StepContext) -> StepOutcome:
    kind = JOB_STEPS[ctx.step.type]
    request = {**ctx.arguments, f"{kind}Name": ctx.resource_name}
    answer = _run_job(ctx, kind, request)
    metadata = {kind: {"Arn": answer[f"{kind}Arn"]}}
    status = answer[f"{kind}Status"]
    if status == "Stopped" and ctx.stop.is_set():
        raise StepStopped(metadata)
    if status != "Completed":
        reason = answer.get("FailureReason") or f"{kind} {ctx.resource_name} ended {status}"
        if status == "Stopped":
            reason = answer.get("FailureReason") or f"{kind} {ctx.resource_name} was stopped (MaxRuntimeExceeded)"
        raise StepFailure(reason, job_failure_type(reason), metadata)
    inputs, outputs = lineage.step_artifacts(ctx.step.type, request, answer)
    return StepOutcome(answer, metadata, read_property_files(ctx, answer),
                       (answer[f"{kind}Arn"], inputs, outputs))


def _run_job(ctx: StepContext, kind: str, request: dict[str, Any]) -> dict[str, Any]:
    """platform.run_job on a helper thread, so a stop request is answered even while the job runs."""
    done = threading.Event()
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["answer"] = ctx.platform.run_job(kind, request, ctx.stop)
        except BaseException as error:  # noqa: BLE001 - handed to the step's thread
            box["error"] = error
        finally:
            done.set()

    threading.Thread(target=work, name=f"job-{request[f'{kind}Name']}", daemon=True).start()
    ctx.publish({kind: {"Arn": _job_arn(ctx, kind, request[f"{kind}Name"])}})
    while not done.wait(0.05):
        if ctx.stop.is_set():
            ctx.platform.stop_job(kind, request[f"{kind}Name"])
            if not done.wait(STOP_GRACE_SECONDS):
                raise StepStopped({kind: {"Arn": _job_arn(ctx, kind, request[f"{kind}Name"])}})
            break
    if "error" in box:
        error = box["error"]
        if isinstance(error, ClientError):
            code = error.response.get("Error", {}).get("Code", "")
            message = error.response.get("Error", {}).get("Message", str(error))
            raise StepFailure(f"{code}: {message}", client_error_type(code, error)) from None
        raise error
    return box["answer"]


def _job_arn(ctx: StepContext, kind: str, name: str) -> str:
    region, account = ctx.execution_arn.split(":")[3:5]
    resource = {"TrainingJob": "training-job", "ProcessingJob": "processing-job", "TransformJob": "transform-job"}
    return f"arn:aws:sagemaker:{region}:{account}:{resource[kind]}/{name.lower()}"


def read_property_files(ctx: StepContext, answer: dict[str, Any]) -> dict[str, Any]:
    """Each PropertyFile of a Processing step, read from its output once the job has completed.

    A file that cannot be read does not fail the job's step: the step that reads it (Std:JsonGet) fails, naming
    the file and why, as on SageMaker.
    """
    documents: dict[str, Any] = {}
    outputs = {output["OutputName"]: output for output in answer.get("ProcessingOutputConfig", {}).get("Outputs", [])}
    for name, spec in ctx.step.property_files.items():
        output = outputs.get(spec.output_name)
        if output is None or "S3Output" not in output:
            documents[name] = Unreadable(f"the step has no S3 output named {spec.output_name!r}")
            continue
        uri = f"{output['S3Output']['S3Uri'].rstrip('/')}/{spec.file_path.lstrip('/')}"
        try:
            documents[name] = ctx.read_json(uri)
        except EvaluationError as error:
            documents[name] = Unreadable(str(error))
    return documents


@dataclass(frozen=True)
class Unreadable:
    """A PropertyFile that could not be read, and why."""

    reason: str


def job_failure_type(reason: str) -> str | None:
    """The SageMaker.* ExceptionType a job's FailureReason counts as for RetryPolicies."""
    if reason.startswith(("InternalServerError", "InternalFailure")):
        return "SageMaker.JOB_INTERNAL_ERROR"
    if reason.startswith(("CapacityError", "InsufficientCapacity")):
        return "SageMaker.CAPACITY_ERROR"
    if reason.startswith("ResourceLimitExceeded"):
        return "SageMaker.RESOURCE_LIMIT"
    return None


def client_error_type(code: str, error: ClientError | None = None) -> str | None:
    """The ExceptionType of an API error met while creating the step's resource."""
    if code in THROTTLING_CODES:
        return "Step.THROTTLING"
    if code == "ResourceLimitExceeded":
        return "SageMaker.RESOURCE_LIMIT"
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) if error is not None else 0
    if code in SERVICE_FAULT_CODES or status >= 500:
        return "Step.SERVICE_FAULT"
    return None


# ------------------------------------------------------------------------------------------------ model steps
def run_model_step(ctx: StepContext) -> StepOutcome:
    request = {**ctx.arguments, "ModelName": ctx.resource_name}
    answer = _call_platform(lambda: ctx.platform.create_model(request))
    inputs, outputs = lineage.step_artifacts("Model", request, answer)
    return StepOutcome(answer, {"Model": {"Arn": answer["ModelArn"]}}, lineage=(answer["ModelArn"], inputs, outputs))


def run_register_model_step(ctx: StepContext) -> StepOutcome:
    request = dict(ctx.arguments)
    request.setdefault("ModelApprovalStatus", "PendingManualApproval")
    if request.get("ModelPackageGroupName"):
        request.pop("ModelPackageName", None)  # the SDK pops it too: the group names the version
    request["ModelMetrics"] = _without_empty(request.get("ModelMetrics"))
    if not request["ModelMetrics"]:
        request.pop("ModelMetrics")
    # one version per step of an execution, however often the step is run (a restarted `drydock serve`)
    request.setdefault("ClientToken", str(uuid.uuid5(uuid.NAMESPACE_URL, f"{ctx.execution_arn}/{ctx.step.name}")))
    answer = _call_platform(lambda: ctx.platform.create_model_package(request))
    arn = answer["ModelPackageArn"]
    inputs, outputs = lineage.step_artifacts("RegisterModel", request, answer)
    return StepOutcome(answer, {"RegisterModel": {"Arn": arn}}, lineage=(arn, inputs, outputs))


def _without_empty(value: Any) -> Any:
    """ModelMetrics as the SDK writes it carries `"Bias": {}`; CreateModelPackage takes only filled groups."""
    if isinstance(value, dict):
        cleaned = {key: _without_empty(item) for key, item in value.items()}
        return {key: item for key, item in cleaned.items() if item not in ({}, None)}
    return value


def _call_platform(call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        return call()
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        message = error.response.get("Error", {}).get("Message", str(error))
        raise StepFailure(f"{code}: {message}", client_error_type(code, error)) from None


# ------------------------------------------------------------------------------------------------ control steps
def run_condition_step(ctx: StepContext) -> StepOutcome:
    outcome = evaluate_all(ctx.step.conditions, ctx.scope)
    return StepOutcome({"Outcome": outcome}, {"Condition": {"Outcome": "True" if outcome else "False"}})


def run_fail_step(ctx: StepContext) -> StepOutcome:
    message = ctx.arguments.get("ErrorMessage", "")
    text = message if isinstance(message, str) else json.dumps(message)
    raise StepFailure(text, metadata={"Fail": {"ErrorMessage": text}})


# ------------------------------------------------------------------------------------------------ Lambda, Callback
def run_lambda_step(ctx: StepContext) -> StepOutcome:
    arn = ctx.step.function_arn or ""
    try:
        result = ctx.platform.invoke_function(arn, ctx.arguments)
    except FunctionError as error:
        raise StepFailure(f"Lambda function {arn} failed: {error}", metadata={"Lambda": {"Arn": arn}}) from None
    outputs = _outputs(ctx.step, result if isinstance(result, dict) else {}, f"the result of {arn}")
    metadata = {"Lambda": {"Arn": arn, "OutputParameters": _output_list(outputs)}}
    return StepOutcome({"OutputParameters": outputs}, metadata)


def run_callback_step(ctx: StepContext) -> StepOutcome:
    url = ctx.step.sqs_queue_url or ""
    token = secrets.token_urlsafe(24)
    waiter = ctx.callbacks.open(token, ctx.execution_arn, ctx.step.name)
    metadata: dict[str, Any] = {"Callback": {"CallbackToken": token, "SqsQueueUrl": url}}
    try:
        body = {"token": token, "pipelineExecutionArn": ctx.execution_arn, "arguments": ctx.arguments,
                "status": "Executing"}
        try:
            ctx.platform.send_message(url, json.dumps(body, default=str))
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            raise StepFailure(f"Callback step could not send to {url}: {code}: "
                              f"{error.response.get('Error', {}).get('Message', '')}", client_error_type(code, error),
                              metadata) from None
        ctx.publish(metadata)
        while not waiter.done.wait(0.05):
            if ctx.stop.is_set():
                raise StepStopped(metadata)
    finally:
        ctx.callbacks.close(token)
    if waiter.failure is not None:
        raise StepFailure(waiter.failure, metadata=metadata)
    given = {item["Name"]: item.get("Value") for item in waiter.outputs}
    outputs = _outputs(ctx.step, given, "SendPipelineExecutionStepSuccess's OutputParameters")
    metadata["Callback"]["OutputParameters"] = _output_list(outputs)
    return StepOutcome({"OutputParameters": outputs}, metadata)


def _outputs(step: Step, given: dict[str, Any], origin: str) -> dict[str, Any]:
    outputs = {}
    for name, output_type in step.outputs:
        if name not in given:
            raise StepFailure(f"output parameter {name!r} is missing from {origin}")
        try:
            outputs[name] = convert_output(given[name], output_type)
        except ValueError as error:
            raise StepFailure(f"output parameter {name!r}: {error}") from None
    return outputs


def convert_output(value: Any, output_type: str) -> Any:
    if output_type == "Integer":
        return int(value)
    if output_type == "Float":
        return float(value)
    if output_type == "Boolean":
        if isinstance(value, bool):
            return value
        if str(value).lower() not in ("true", "false"):
            raise ValueError(f"{value!r} is not a Boolean")
        return str(value).lower() == "true"
    return value if isinstance(value, str) else json.dumps(value)


def _output_list(outputs: dict[str, Any]) -> list[dict[str, str]]:
    return [{"Name": name, "Value": value if isinstance(value, str) else json.dumps(value)}
            for name, value in outputs.items()]


class Waiter:
    def __init__(self, execution_arn: str, step_name: str):
        self.execution_arn, self.step_name = execution_arn, step_name
        self.done = threading.Event()
        self.outputs: list[dict[str, Any]] = []
        self.failure: str | None = None


class Callbacks:
    """Callback tokens handed out and not yet answered (SendPipelineExecutionStepSuccess/Failure answer them)."""

    def __init__(self) -> None:
        self._waiters: dict[str, Waiter] = {}
        self._lock = threading.Lock()

    def open(self, token: str, execution_arn: str, step_name: str) -> Waiter:
        with self._lock:
            waiter = self._waiters[token] = Waiter(execution_arn, step_name)
        return waiter

    def close(self, token: str) -> None:
        with self._lock:
            self._waiters.pop(token, None)

    def answer(self, token: str, *, outputs: list[dict[str, Any]] | None = None,
               failure: str | None = None) -> Waiter:
        """Answer a waiting Callback step.

        Raises:
            KeyError: no step waits with this token (unknown, already answered, or its execution ended).
        """
        with self._lock:
            waiter = self._waiters.get(token)
            if waiter is None or waiter.done.is_set():
                raise KeyError(token)
            waiter.outputs = list(outputs or [])
            waiter.failure = failure
            waiter.done.set()
        return waiter


RUNNERS: dict[str, Callable[[StepContext], StepOutcome]] = {
    "Processing": run_job_step,
    "Training": run_job_step,
    "Transform": run_job_step,
    "Model": run_model_step,
    "RegisterModel": run_register_model_step,
    "Condition": run_condition_step,
    "Fail": run_fail_step,
    "Lambda": run_lambda_step,
    "Callback": run_callback_step,
}
