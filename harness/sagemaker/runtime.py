"""Run one SageMaker training or processing job as the platform would, from its Create*Job request.

A job moves through the secondary statuses DescribeTrainingJob reports: Downloading (channels or processing
inputs, config files, source code), Training / Processing (a `Backend` runs the container command), Uploading
(model.tar.gz, output.tar.gz, processing outputs), then Completed, Failed or Stopped. A request that AWS would
reject raises `ClientError` (ValidationException, ResourceInUse) before anything runs; everything that goes
wrong afterwards is a Failed result with the FailureReason AWS would give.
Transform jobs are not here: batch inference goes through the serving contract (model_fn ... output_fn), not
a script with /opt/ml inputs; `harness.sagemaker.transform` runs them and answers with the same JobResult.
"""
from __future__ import annotations

import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Any, Iterator

from botocore.exceptions import ClientError
from botocore.validate import ParamValidator

from harness.sagemaker import container
from harness.sagemaker.backends import Backend, JobSpec, ProcessResult
from harness.sagemaker.service_model import model

FAILURE_REASON_LIMIT = 1024  # DescribeTrainingJob / DescribeProcessingJob FailureReason max length


@dataclass(frozen=True)
class Phase:
    """One secondary status and how long the job spent in it (SecondaryStatusTransition without the message)."""

    status: str
    started_at: datetime
    ended_at: datetime


@dataclass
class JobResult:
    """How a job ended, in the terms DescribeTrainingJob / DescribeProcessingJob use.

    `model_artifacts` is ModelArtifacts.S3ModelArtifacts (training only); `output_artifacts` maps "output" to
    output.tar.gz for training, or each ProcessingOutput's OutputName to its S3Uri; `final_metrics` has the
    FinalMetricDataList shape; `logs` are CloudWatch InputLogEvents of the container's stdout and stderr;
    `data_log` the platform's own lines about the data (batch transform's `/data-log` stream).
    """

    job_name: str
    job_type: str
    status: str
    secondary_status: str
    failure_reason: str | None = None
    model_artifacts: str | None = None
    output_artifacts: dict[str, str] = field(default_factory=dict)
    final_metrics: list[dict[str, Any]] = field(default_factory=list)
    phases: list[Phase] = field(default_factory=list)
    logs: list[dict[str, Any]] = field(default_factory=list)
    exit_code: int | None = None
    data_log: list[dict[str, Any]] = field(default_factory=list)

    @property
    def log_lines(self) -> list[str]:
        return [event["message"] for event in self.logs]

    @property
    def started_at(self) -> datetime:
        return self.phases[0].started_at

    @property
    def ended_at(self) -> datetime:
        return self.phases[-1].ended_at

    def seconds_in(self, status: str) -> float:
        return sum((p.ended_at - p.started_at).total_seconds() for p in self.phases if p.status == status)


def run_training_job(request: dict, s3: Any, backend: Backend, work_dir: Path) -> JobResult:
    """Run a CreateTrainingJob request to completion.

    Args:
        request: the CreateTrainingJob parameters, exactly as passed to boto3's `create_training_job`.
        s3: a boto3 S3 client holding the channels and receiving the artifacts.
        backend: what runs the container command (e.g. `ProcessBackend()`).
        work_dir: parent of the job root `<work_dir>/<TrainingJobName>`, which plays /opt/ml.

    Returns:
        The job's JobResult.

    Raises:
        ClientError: ValidationException for a request AWS would refuse; ResourceInUse if the job root exists.
    """
    validate_request("CreateTrainingJob", request)
    name = request["TrainingJobName"]
    root = _new_job_root(work_dir, name, "Training")
    phases = _Phases()
    try:
        with phases.timed("Downloading"):
            container.materialize_channels(request, root, s3)
            container.write_training_config(request, root)
            command, working_dir = container.training_command(request, root, s3)
    except container.PlatformError as error:
        return JobResult(name, "TrainingJob", "Failed", "Failed", _limit(str(error)), phases=phases)
    environment = container.training_environment(request, backend.opt_ml_path(root))
    max_runtime = request.get("StoppingCondition", {}).get("MaxRuntimeInSeconds")
    with phases.timed("Training"):
        process = backend.run(JobSpec(name, root, command, environment, working_dir, max_runtime,
                                      image=request["AlgorithmSpecification"].get("TrainingImage"),
                                      image_entrypoint=command == ["train"]))
    status, secondary_status, failure_reason = _outcome(process, root)
    artifacts: dict[str, str] = {}
    if status != "Failed":
        try:
            with phases.timed("Uploading"):
                artifacts = container.upload_training_artifacts(request, root, s3)
        except container.PlatformError as error:
            status, secondary_status, failure_reason = "Failed", "Failed", _limit(str(error))
    metric_definitions = request.get("AlgorithmSpecification", {}).get("MetricDefinitions", [])
    return JobResult(
        name, "TrainingJob", status, secondary_status, failure_reason,
        model_artifacts=artifacts.pop("model", None), output_artifacts=artifacts,
        final_metrics=final_metrics(metric_definitions, process.logs), phases=phases, logs=process.logs,
        exit_code=process.exit_code)


def run_processing_job(request: dict, s3: Any, backend: Backend, work_dir: Path) -> JobResult:
    """Run a CreateProcessingJob request to completion.

    Args:
        request: the CreateProcessingJob parameters, exactly as passed to boto3's `create_processing_job`.
        s3: a boto3 S3 client holding the inputs and receiving the outputs.
        backend: what runs the container command (e.g. `ProcessBackend()`).
        work_dir: parent of the job root `<work_dir>/<ProcessingJobName>`, which plays /opt/ml.

    Returns:
        The job's JobResult; `secondary_status` mirrors `status`, processing jobs have no finer one.

    Raises:
        ClientError: ValidationException for a request AWS would refuse; ResourceInUse if the job root exists.
    """
    validate_request("CreateProcessingJob", request)
    name = request["ProcessingJobName"]
    root = _new_job_root(work_dir, name, "Processing")
    phases = _Phases()
    try:
        with phases.timed("Downloading"):
            container.materialize_processing_inputs(request, root, s3)
    except container.PlatformError as error:
        return JobResult(name, "ProcessingJob", "Failed", "Failed", _limit(str(error)), phases=phases)
    max_runtime = request.get("StoppingCondition", {}).get("MaxRuntimeInSeconds")
    app = request["AppSpecification"]
    spec = JobSpec(name, root, container.processing_command(request), dict(request.get("Environment", {})),
                   None, max_runtime, image=app["ImageUri"], image_entrypoint="ContainerEntrypoint" not in app)
    with phases.timed("Processing"):
        process = backend.run(spec)
    status, _, failure_reason = _outcome(process, root)
    outputs: dict[str, str] = {}
    if status == "Completed":
        try:
            with phases.timed("Uploading"):
                outputs = container.upload_processing_outputs(request, root, s3)
        except container.PlatformError as error:
            status, failure_reason = "Failed", _limit(str(error))
    return JobResult(name, "ProcessingJob", status, status, failure_reason, output_artifacts=outputs,
                     phases=phases, logs=process.logs, exit_code=process.exit_code)


def validate_request(operation: str, request: dict) -> None:
    """Refuse what SageMaker's Create*Job would refuse (shape, enums, regexes, paths), with a ValidationException."""
    report = ParamValidator().validate(request, _input_shape(operation))
    problems = [report.generate_report()] if report.has_errors() else []
    constraints = enum_problems(request, _input_shape(operation))
    if constraints:
        count = len(constraints)
        problems.append(f"{count} validation error{'s' if count > 1 else ''} detected: " + "; ".join(constraints))
    for definition in request.get("AlgorithmSpecification", {}).get("MetricDefinitions", []):
        try:
            re.compile(definition["Regex"])
        except re.error as error:
            problems.append(f"MetricDefinitions {definition['Name']!r}: invalid Regex ({error})")
    for processing_input in request.get("ProcessingInputs", []):
        if "S3Input" in processing_input and not processing_input.get("AppManaged"):
            local_path = processing_input["S3Input"].get("LocalPath", "(missing)")
            if not _under_processing(local_path):
                problems.append(f"ProcessingInputs {processing_input['InputName']!r}: LocalPath {local_path} "
                                f"must be under {container.PROCESSING_PREFIX}")
    for output in request.get("ProcessingOutputConfig", {}).get("Outputs", []):
        if "S3Output" in output and not output.get("AppManaged"):
            local_path = output["S3Output"].get("LocalPath", "(missing)")
            if not _under_processing(local_path):
                problems.append(f"ProcessingOutputs {output['OutputName']!r}: LocalPath {local_path} must be "
                                f"under {container.PROCESSING_PREFIX}")
    if problems:
        raise ClientError({"Error": {"Code": "ValidationException", "Message": "\n".join(problems)}}, operation)


def enum_problems(value: Any, shape: Any, path: str = "") -> list[str]:
    """Values outside their member's enum, in AWS's words (botocore's validator does not check enums)."""
    found: list[str] = []
    if shape.type_name == "structure" and isinstance(value, dict):
        for name, member in shape.members.items():
            if name in value:
                where = name[:1].lower() + name[1:]
                found += enum_problems(value[name], member, f"{path}.{where}" if path else where)
    elif shape.type_name == "list" and isinstance(value, list):
        for index, item in enumerate(value, 1):
            found += enum_problems(item, shape.member, f"{path}.{index}.member")
    elif shape.type_name == "string" and getattr(shape, "enum", None) and isinstance(value, str) \
            and value not in shape.enum:
        found.append(f"Value '{value}' at '{path}' failed to satisfy constraint: Member must satisfy enum value "
                     f"set: [{', '.join(shape.enum)}]")
    return found


def final_metrics(definitions: list[dict[str, str]], logs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The last value each MetricDefinition's regex captured in the logs, as FinalMetricDataList entries."""
    patterns = [(definition["Name"], re.compile(definition["Regex"])) for definition in definitions]
    last: dict[str, tuple[float, int]] = {}
    for event in logs:
        for metric_name, pattern in patterns:
            for match in pattern.finditer(event["message"]):
                try:
                    last[metric_name] = (float(match.group(1)), event["timestamp"])
                except (IndexError, ValueError):
                    continue
    return [
        {"MetricName": metric_name, "Value": value,
         "Timestamp": datetime.fromtimestamp(timestamp / 1000, tz=timezone.utc)}
        for metric_name, (value, timestamp) in last.items()
    ]


@lru_cache(maxsize=None)
def _input_shape(operation: str) -> Any:
    return model().operation_model(operation).input_shape


def _under_processing(local_path: str) -> bool:
    return PurePosixPath(local_path).is_relative_to(container.PROCESSING_PREFIX)


def _new_job_root(work_dir: Path, name: str, kind: str) -> Path:
    root = Path(work_dir) / name
    try:
        root.mkdir(parents=True)
    except FileExistsError:
        raise ClientError(
            {"Error": {"Code": "ResourceInUse",
                       "Message": f"{kind} job names must be unique within an AWS account and region, and a "
                                  f"{kind.lower()} job with this name already exists ({name})"}},
            f"Create{kind}Job") from None
    return root


def _outcome(process: ProcessResult, root: Path) -> tuple[str, str, str | None]:
    """(status, secondary status, FailureReason) from how the container ended."""
    if process.launch_error:
        return "Failed", "Failed", _limit(f"ClientError: {process.launch_error}")
    if process.timed_out:
        return "Stopped", "MaxRuntimeExceeded", None
    if process.exit_code == 0:
        return "Completed", "Completed", None
    reason = container.read_failure(root) or _last_log_line(process.logs)
    if not reason:
        reason = f"exit code {process.exit_code}; see the job logs"
    return "Failed", "Failed", _limit(f"AlgorithmError: {reason}")


def _last_log_line(logs: list[dict[str, Any]]) -> str | None:
    return next((event["message"].strip() for event in reversed(logs) if event["message"].strip()), None)


def _limit(reason: str) -> str:
    return reason[:FAILURE_REASON_LIMIT]


class _Phases(list):
    @contextmanager
    def timed(self, status: str) -> Iterator[None]:
        started_at = datetime.now(timezone.utc)
        try:
            yield
        finally:
            self.append(Phase(status, started_at, datetime.now(timezone.utc)))
