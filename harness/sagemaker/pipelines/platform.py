"""What a pipeline step asks of the rest of the local cloud, behind one small interface.

`Platform` is the executor's only way out: run a SageMaker job to its end and get its Describe* response,
stop one, create a model, register a model package, invoke a Lambda function, send an SQS message.
Two implementations:

- `ClientPlatform` talks to SageMaker through boto3 against the local cloud: CreateTrainingJob & co. then
  Describe* until the job ends. It needs something there that runs jobs (drydock's SageMaker service, in
  `harness.sagemaker.service`, answering through `harness.overlay`); moto alone only records them.
- `RuntimePlatform` runs jobs itself with `harness.sagemaker.runtime` (training, processing) and
  `harness.sagemaker.transform` (batch inference through the serving contract), and answers in the
  same Describe* shapes. Models and model packages still go through boto3, to whatever answers SageMaker.

`default_platform(cloud)` is an `AutoPlatform`: each job goes to drydock's SageMaker service when that service
answers its Create*Job action (registered with `harness.overlay`), to the runtime here otherwise.
"""
from __future__ import annotations

import json
import secrets
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

from botocore.exceptions import ClientError

TERMINAL_JOB_STATUSES = ("Completed", "Failed", "Stopped")
JOB_KINDS = ("TrainingJob", "ProcessingJob", "TransformJob")


class FunctionError(Exception):
    """A Lambda function that failed (raised, timed out, or does not exist); str() is the failure reason."""


class Platform(Protocol):
    def run_job(self, kind: str, request: dict[str, Any], stop: threading.Event) -> dict[str, Any]:
        """Create a TrainingJob / ProcessingJob / TransformJob and wait for it to end (or `stop` to be set).

        Returns the job's Describe* response (status Completed, Failed or Stopped).
        Raises ClientError when the job cannot be created (ValidationException, ThrottlingException...).
        """

    def stop_job(self, kind: str, name: str) -> None: ...

    def create_model(self, request: dict[str, Any]) -> dict[str, Any]:
        """CreateModel, then DescribeModel's response."""

    def create_model_package(self, request: dict[str, Any]) -> dict[str, Any]:
        """CreateModelPackage (creating the group when missing), then DescribeModelPackage's response."""

    def invoke_function(self, function_arn: str, payload: Any) -> Any:
        """Invoke a Lambda function synchronously; its parsed result. Raises FunctionError."""

    def send_message(self, queue_url: str, body: str) -> None: ...


class CloudPlatform:
    """Models, model packages, Lambda and SQS through the local cloud; subclasses say how jobs run."""

    def __init__(self, cloud: Any):
        self.cloud = cloud

    def _sagemaker(self) -> Any:
        return self.cloud.client("sagemaker")

    def create_model(self, request: dict[str, Any]) -> dict[str, Any]:
        client = self._sagemaker()
        client.create_model(**request)
        return _strip(client.describe_model(ModelName=request["ModelName"]))

    def create_model_package(self, request: dict[str, Any]) -> dict[str, Any]:
        client = self._sagemaker()
        group = request.get("ModelPackageGroupName")
        if group and not group.startswith("arn:"):
            try:
                client.describe_model_package_group(ModelPackageGroupName=group)
            except ClientError:  # the RegisterModel step creates a missing group, as SageMaker Pipelines does
                try:
                    client.create_model_package_group(ModelPackageGroupName=group)
                except ClientError as error:
                    if "exist" not in str(error).lower():
                        raise
        arn = client.create_model_package(**request)["ModelPackageArn"]
        return _strip(client.describe_model_package(ModelPackageName=arn))

    def invoke_function(self, function_arn: str, payload: Any) -> Any:
        try:
            from harness.integrations import lambda_
        except ImportError:
            return self._invoke_with_client(function_arn, payload)
        return _invoke_with_runtime(self.cloud, lambda_, function_arn, payload)

    def _invoke_with_client(self, function_arn: str, payload: Any) -> Any:
        try:
            answer = self.cloud.client("lambda").invoke(FunctionName=function_arn, Payload=json.dumps(payload))
        except ClientError as error:
            raise FunctionError(f"{error.response['Error'].get('Code')}: {error.response['Error'].get('Message')}") \
                from None
        text = answer["Payload"].read().decode()
        if answer.get("FunctionError"):
            raise FunctionError(_function_error_text(text))
        return json.loads(text) if text else None

    def send_message(self, queue_url: str, body: str) -> None:
        self.cloud.client("sqs").send_message(QueueUrl=queue_url, MessageBody=body)


class ClientPlatform(CloudPlatform):
    """Jobs through the SageMaker API of the local cloud: Create*Job, then Describe*Job every `poll_seconds`."""

    def __init__(self, cloud: Any, poll_seconds: float = 0.05):
        super().__init__(cloud)
        self.poll_seconds = poll_seconds

    def run_job(self, kind: str, request: dict[str, Any], stop: threading.Event) -> dict[str, Any]:
        client = self._sagemaker()
        name = request[f"{kind}Name"]
        getattr(client, f"create_{_snake(kind)}")(**request)
        describe = getattr(client, f"describe_{_snake(kind)}")
        stopping = False
        while True:
            answer = _strip(describe(**{f"{kind}Name": name}))
            if answer[f"{kind}Status"] in TERMINAL_JOB_STATUSES:
                return answer
            if stop.is_set() and not stopping:
                self.stop_job(kind, name)
                stopping = True
            time.sleep(self.poll_seconds)

    def stop_job(self, kind: str, name: str) -> None:
        try:
            getattr(self._sagemaker(), f"stop_{_snake(kind)}")(**{f"{kind}Name": name})
        except ClientError:
            pass  # it ended meanwhile


class RuntimePlatform(CloudPlatform):
    """Jobs run here and now by drydock's job runtime, on `backend` (the process backend by default)."""

    def __init__(self, cloud: Any, backend: Any = None, work_dir: Path | None = None):
        super().__init__(cloud)
        if backend is None:
            from harness.sagemaker.backends.process import ProcessBackend

            backend = ProcessBackend()
        self.backend = backend
        self.work_dir = Path(work_dir or tempfile.mkdtemp(prefix="drydock-pipeline-jobs-"))

    def run_job(self, kind: str, request: dict[str, Any], stop: threading.Event) -> dict[str, Any]:
        created = datetime.now(timezone.utc)
        if kind == "TransformJob":
            return self._run_transform(request, created)
        from harness.sagemaker import runtime

        run = runtime.run_training_job if kind == "TrainingJob" else runtime.run_processing_job
        result = run(request, self.cloud.client("s3"), self.backend, self.work_dir)
        return describe_job(kind, request, result, self.cloud, created)

    def stop_job(self, kind: str, name: str) -> None:
        return None  # the runtime runs a job to its end; the step reports Stopped when it returns

    def _run_transform(self, request: dict[str, Any], created: datetime) -> dict[str, Any]:
        """Batch transform with `harness.sagemaker.transform`, on this platform's backend, answered as
        DescribeTransformJob does."""
        from harness.sagemaker import transform
        from harness.sagemaker.runtime import JobResult

        name = request["TransformJobName"]
        try:
            model = self._sagemaker().describe_model(ModelName=request["ModelName"])
            result = transform.run_transform_job(request, self.cloud.client("s3"), self.backend, self.work_dir,
                                                 container=transform.model_container(model))
        except ClientError as error:
            result = JobResult(name, "TransformJob", "Failed", "Failed",
                               f"ClientError: {error.response['Error'].get('Message')}")
        except transform.TransformError as error:
            result = JobResult(name, "TransformJob", "Failed", "Failed", str(error))
        started = result.started_at if result.phases else created
        ended = result.ended_at if result.phases else created
        answer = {**request, "TransformJobArn": self.cloud.arn("sagemaker", f"transform-job/{name.lower()}"),
                  "TransformJobStatus": result.status, "CreationTime": created, "TransformStartTime": started,
                  "TransformEndTime": ended, "LastModifiedTime": ended}
        if result.failure_reason:
            answer["FailureReason"] = result.failure_reason[:1024]
        return answer


def describe_job(kind: str, request: dict[str, Any], result: Any, cloud: Any, created: datetime) -> dict[str, Any]:
    """A runtime JobResult as DescribeTrainingJob / DescribeProcessingJob answers."""
    name = request[f"{kind}Name"]
    resource = {"TrainingJob": "training-job", "ProcessingJob": "processing-job"}[kind]
    started = result.started_at if result.phases else created
    ended = result.ended_at if result.phases else created
    answer = {**request, f"{kind}Arn": cloud.arn("sagemaker", f"{resource}/{name.lower()}"),
              f"{kind}Status": result.status, "CreationTime": created, "LastModifiedTime": ended}
    if result.failure_reason:
        answer["FailureReason"] = result.failure_reason
    if kind == "TrainingJob":
        answer.update({
            "SecondaryStatus": result.secondary_status, "TrainingStartTime": started, "TrainingEndTime": ended,
            "ModelArtifacts": {"S3ModelArtifacts": result.model_artifacts or ""},
            "FinalMetricDataList": result.final_metrics,
            "SecondaryStatusTransitions": [
                {"Status": phase.status, "StartTime": phase.started_at, "EndTime": phase.ended_at}
                for phase in result.phases],
            "TrainingTimeInSeconds": int(result.seconds_in("Training")),
            "BillableTimeInSeconds": int((ended - started).total_seconds()),
        })
    else:
        answer.update({"ProcessingStartTime": started, "ProcessingEndTime": ended})
        if result.exit_code not in (None, 0):
            answer["ExitMessage"] = (result.log_lines[-1] if result.log_lines else "")[:1024]
    return answer


def default_platform(cloud: Any, **runtime_options: Any) -> Platform:
    """Jobs through drydock's SageMaker service where it runs them, through the runtime here otherwise."""
    return AutoPlatform(cloud, **runtime_options)


class AutoPlatform(RuntimePlatform):
    """A RuntimePlatform that hands each kind of job to drydock's SageMaker service once that service runs it.

    The check is made per job (a table lookup): the service module may register its actions after this
    platform was made.
    """

    def __init__(self, cloud: Any, backend: Any = None, work_dir: Path | None = None, poll_seconds: float = 0.05):
        super().__init__(cloud, backend, work_dir)
        self.client_platform = ClientPlatform(cloud, poll_seconds)

    def run_job(self, kind: str, request: dict[str, Any], stop: threading.Event) -> dict[str, Any]:
        if service_runs(kind):
            return self.client_platform.run_job(kind, request, stop)
        return super().run_job(kind, request, stop)

    def stop_job(self, kind: str, name: str) -> None:
        if service_runs(kind):
            self.client_platform.stop_job(kind, name)


def service_runs(kind: str) -> bool:
    """Does drydock's SageMaker service (not bare moto, which only records jobs) run Create<kind> here?

    The service registers every job action it knows with the overlay, and lists the ones it runs in
    `JOB_ACTIONS`.
    """
    try:
        from harness.overlay import OVERLAY
    except ImportError:
        return False
    if OVERLAY.handler("sagemaker", f"Create{kind}") is None:
        return False
    try:
        from harness.sagemaker import service
    except ImportError:
        return True  # someone else answers; trust them
    runs = getattr(service, "JOB_ACTIONS", None)
    return runs is None or f"Create{kind}" in runs


def new_suffix(length: int = 10) -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    return "".join(secrets.choice(alphabet) for _ in range(length))


def _snake(kind: str) -> str:
    return {"TrainingJob": "training_job", "ProcessingJob": "processing_job", "TransformJob": "transform_job"}[kind]


def _strip(answer: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in answer.items() if key != "ResponseMetadata"}


def _function_error_text(payload: str) -> str:
    try:
        body = json.loads(payload)
    except ValueError:
        return payload
    if isinstance(body, dict) and ("errorType" in body or "errorMessage" in body):
        return f"{body.get('errorType', 'Error')}: {body.get('errorMessage', '')}"
    return payload


class _WallRequest:
    """The little of a Step Functions TaskRequest the Lambda runtime uses, on the wall clock."""

    def __init__(self, execution_arn: str):
        self.execution_arn = execution_arn

    @staticmethod
    def now() -> float:
        return time.time()

    @staticmethod
    async def sleep(seconds: float) -> None:
        time.sleep(seconds)


def _invoke_with_runtime(cloud: Any, lambda_: Any, function_arn: str, payload: Any) -> Any:
    """Run the function with drydock's Lambda runtime (`harness.integrations.lambda_`), on this thread."""
    from harness.integrations.registry import Services

    services = Services(cloud)
    coroutine = lambda_.call(services, _WallRequest(function_arn), function_arn, payload, qualifier=None)
    try:
        while True:
            coroutine.send(None)
    except StopIteration as done:
        result = done.value
    except Exception as error:  # noqa: BLE001 - not found, unreadable code: the step's failure reason
        cause = getattr(error, "cause", "") or str(error)
        raise FunctionError(f"{getattr(error, 'error', type(error).__name__)}: {cause}") from None
    if result.function_error is not None:
        raise FunctionError(_function_error_text(result.payload))
    return lambda_.parse_payload(result.payload)
