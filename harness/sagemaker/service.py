"""drydock's SageMaker control plane: the API actions that run jobs and keep the Model Registry; moto does the rest.

Registered with `harness.overlay`, so in-process boto3 clients and `drydock serve` reach the same state:

- CreateTrainingJob / CreateProcessingJob / CreateTransformJob start the job on a worker thread
  (`harness.sagemaker.jobs`) and answer at once, as AWS does; Describe*, List* and Stop* follow it through
  InProgress, Stopping, Completed, Failed and Stopped, with the real artifacts, metrics and CloudWatch logs.
  A transform job's model must exist when it is created (its container is read then, from moto's models);
  the batch inference itself is `harness.sagemaker.transform`;
- the Model Registry (`harness.sagemaker.registry`): model package groups, numbered versions and their
  approval, with the "SageMaker Model Package State Change" event routed to the default bus's rules.

Every other SageMaker action (CreateModel, CreateEndpointConfig, pipelines, ...) stays moto's, unless another
module registers it (`harness.sagemaker.endpoints` takes the endpoint actions). State is kept per account
and region, like moto's backends. https://docs.aws.amazon.com/sagemaker/latest/APIReference/
"""
from __future__ import annotations

import functools
import json
import re
import shutil
import sys
import tempfile
import threading
import traceback
from pathlib import Path
from typing import Any, Callable

from botocore.exceptions import ClientError
from botocore.validate import ParamValidator

from harness.durability.cloud_state import ServicePart, durable, mark
from harness.overlay import OVERLAY, Call, ServiceError
from harness.sagemaker import jobs
from harness.sagemaker.backends import Backend
from harness.sagemaker.backends.process import ProcessBackend
from harness.sagemaker.jobs import KINDS, PROCESSING, TRAINING, TRANSFORM, Job, Kind
from harness.sagemaker.listing import Fields, select
from harness.sagemaker.registry import Registry
from harness.sagemaker.runtime import validate_request
from harness.sagemaker.service_model import model
from harness.sagemaker.transform import TransformError, model_container, validate_transform_request

REGISTRY_ACTIONS = ("CreateModelPackageGroup", "DescribeModelPackageGroup", "ListModelPackageGroups",
                    "DeleteModelPackageGroup", "CreateModelPackage", "DescribeModelPackage", "ListModelPackages",
                    "UpdateModelPackage", "DeleteModelPackage")
JOB_ACTIONS = tuple(action for kind in KINDS for action in (f"Create{kind}", f"Describe{kind}", f"List{kind}s",
                                                             f"Stop{kind}"))
ACTIONS = (*JOB_ACTIONS, *REGISTRY_ACTIONS)


class Region:
    """SageMaker for one account in one region: its jobs and its model registry."""

    def __init__(self, account: str, region: str, work_dir: Path):
        self.account, self.region = account, region
        self.work_dir = work_dir / account / region
        self.jobs: dict[str, dict[str, Job]] = {kind: {} for kind in KINDS}
        self.lock = threading.Lock()
        self.registry = Registry(self.arn, self.emit, account=account, region=region)
        self._cloud: Any = None

    @property
    def cloud(self) -> Any:
        """The in-process local cloud (moto) the jobs read and write: S3, CloudWatch Logs, EventBridge."""
        if self._cloud is None:
            from harness.cloud import LocalCloud

            self._cloud = LocalCloud(region=self.region, account=self.account)
        return self._cloud

    def arn(self, resource_type: str, name: str) -> str:
        return f"arn:aws:sagemaker:{self.region}:{self.account}:{resource_type}/{name}"

    def job(self, kind: Kind, name: str) -> Job:
        job = self.jobs[kind.name].get(name)
        if job is None:
            message = ("Requested resource not found." if kind is TRAINING
                       else f"Could not find requested job with name {name}")
            raise ServiceError("ValidationException", message)
        return job

    def emit(self, event: dict[str, Any]) -> None:
        """Put an event raised by SageMaker on the default bus, where its rules route it (never fails the call)."""
        try:
            put_on_default_bus(self.cloud, event)
        except Exception:  # noqa: BLE001 - a delivery problem is the rule's, not the API call's
            traceback.print_exc(file=sys.stderr)


class SageMakerService:
    """The actions of `ACTIONS` for every account and region; one snake_case method per action.

    Args:
        work_dir: where job roots (each job's /opt/ml tree) live while jobs run; a temporary directory by default.
        backend: makes the backend that runs one job's container; by default `default_backend`: `make_backend`,
            which reads DRYDOCK_BACKEND (process, the default, or docker) when the job starts.
    """

    def __init__(self, work_dir: Path | None = None, backend: Callable[[], Backend] | None = None):
        self._work_dir = work_dir
        self.backend = backend or default_backend
        self._regions: dict[tuple[str, str], Region] = {}
        self._lock = threading.Lock()

    @property
    def work_dir(self) -> Path:
        if self._work_dir is None:
            self._work_dir = Path(tempfile.mkdtemp(prefix="drydock-sagemaker-"))
        return self._work_dir

    def region(self, account: str, region: str) -> Region:
        with self._lock:
            found = self._regions.get((account, region))
            if found is None:
                found = self._regions[(account, region)] = Region(account, region, self.work_dir)
            return found

    def handle(self, call: Call) -> dict[str, Any]:
        """Answer one overlaid SageMaker action (the overlay serializes the dict)."""
        name = re.sub(r"(?<!^)(?=[A-Z])", "_", call.action).lower()
        params = call.params
        check_request(call.action, params)
        return getattr(self, name)(self.region(call.account, call.region), params)

    def find(self, account: str, region: str, kind: str, name: str) -> Job | None:
        """A job by kind ("TrainingJob") and name, or None: for waiters such as the `.sync` integrations."""
        found = self._regions.get((account, region))
        return found.jobs[kind].get(name) if found is not None else None

    # ------------------------------------------------------------------ jobs
    def _create(self, r: Region, kind: Kind, p: dict[str, Any],
                options: Callable[[], dict[str, Any]] | None = None) -> dict[str, Any]:
        """Validate, register and start a job; `options()` (called after the name is checked) gives the extra
        keyword arguments of its runner, or raises ServiceError."""
        try:
            (validate_transform_request if kind is TRANSFORM else
             functools.partial(validate_request, f"Create{kind.name}"))(p)
        except ClientError as err:
            raise ServiceError("ValidationException", err.response["Error"]["Message"]) from None
        name = p[f"{kind.name}Name"]
        with r.lock:
            if name in r.jobs[kind.name]:
                existing = r.jobs[kind.name][name]
                raise ServiceError("ResourceInUse", f"{kind.noun.capitalize()} names must be unique within an AWS "
                                                    f"account and region, and a {kind.noun} with this name already "
                                                    f"exists ({existing.arn})")
        extra = options() if options else {}
        with r.lock:
            if name in r.jobs[kind.name]:
                raise ServiceError("ResourceInUse", f"a {kind.noun} named {name} was created meanwhile "
                                                    f"({r.jobs[kind.name][name].arn})")
            job = Job(kind, p, r.arn(kind.arn_type, name.lower()), extra)
            r.jobs[kind.name][name] = job
        self._start(r, job)
        return {f"{kind.name}Arn": job.arn}

    def _start(self, r: Region, job: Job) -> None:
        """Run the job on a worker thread."""
        work_dir = r.work_dir / job.kind.arn_type
        work_dir.mkdir(parents=True, exist_ok=True)
        cloud = r.cloud

        def work() -> None:
            try:
                jobs.run(job, cloud.client("s3"), cloud.client("logs"), work_dir, self.backend())
            finally:
                shutil.rmtree(work_dir / job.name, ignore_errors=True)  # its /opt/ml tree: its data is in S3 now
                mark(DURABLE_NAME)
        threading.Thread(target=work, daemon=True, name=f"drydock-sagemaker-{job.kind.arn_type}-{job.name}").start()

    # ------------------------------------------------------------------ durability (`drydock serve --state-dir`)
    def dump(self) -> dict[tuple[str, str], dict[str, Any]]:
        """Every region's jobs and Model Registry, as plain data."""
        with self._lock:
            regions = dict(self._regions)
        saved = {}
        for key, r in regions.items():
            with r.lock:
                found = {kind: dict(named) for kind, named in r.jobs.items()}
            saved[key] = {"jobs": found, "groups": dict(r.registry.groups), "packages": dict(r.registry.packages)}
        return saved

    def load(self, state: dict[tuple[str, str], dict[str, Any]]) -> None:
        for (account, region), saved in state.items():
            r = self.region(account, region)
            with r.lock:
                r.jobs = saved["jobs"]
            r.registry.groups, r.registry.packages = saved["groups"], saved["packages"]

    def resume(self) -> None:
        """Jobs that had not ended run again from the start, under the same name (see `Job.restart`)."""
        with self._lock:
            regions = list(self._regions.values())
        for r in regions:
            with r.lock:
                unfinished = [job for named in r.jobs.values() for job in named.values() if not job.done]
            for job in unfinished:
                if job.status == "Stopping":  # it was being stopped: it is
                    job.finish(jobs.JobResult(job.name, job.kind.name, "Stopped", "Stopped", None))
                    continue
                job.restart()
                self._start(r, job)

    def _stop(self, r: Region, kind: Kind, name: str) -> dict[str, Any]:
        job = r.job(kind, name)
        if not job.stop():
            raise ServiceError("ValidationException", f"The request was rejected because the {kind.noun} is in "
                                                      f"status {job.status}.")
        return {}

    def _list(self, r: Region, kind: Kind, p: dict[str, Any]) -> dict[str, Any]:
        with r.lock:
            found = list(r.jobs[kind.name].values())
        page, token = select(found, p, Fields(lambda j: j.name, lambda j: j.created, lambda j: j.modified,
                                              lambda j: j.status))
        return {f"{kind.name}Summaries": [j.summary() for j in page], **token}

    def create_training_job(self, r: Region, p: dict[str, Any]) -> dict[str, Any]:
        return self._create(r, TRAINING, p)

    def describe_training_job(self, r: Region, p: dict[str, Any]) -> dict[str, Any]:
        return r.job(TRAINING, p["TrainingJobName"]).describe()

    def list_training_jobs(self, r: Region, p: dict[str, Any]) -> dict[str, Any]:
        return self._list(r, TRAINING, p)

    def stop_training_job(self, r: Region, p: dict[str, Any]) -> dict[str, Any]:
        return self._stop(r, TRAINING, p["TrainingJobName"])

    def create_processing_job(self, r: Region, p: dict[str, Any]) -> dict[str, Any]:
        return self._create(r, PROCESSING, p)

    def describe_processing_job(self, r: Region, p: dict[str, Any]) -> dict[str, Any]:
        return r.job(PROCESSING, p["ProcessingJobName"]).describe()

    def list_processing_jobs(self, r: Region, p: dict[str, Any]) -> dict[str, Any]:
        return self._list(r, PROCESSING, p)

    def stop_processing_job(self, r: Region, p: dict[str, Any]) -> dict[str, Any]:
        return self._stop(r, PROCESSING, p["ProcessingJobName"])

    def create_transform_job(self, r: Region, p: dict[str, Any]) -> dict[str, Any]:
        def options() -> dict[str, Any]:
            try:
                model = r.cloud.client("sagemaker").describe_model(ModelName=p["ModelName"])
            except ClientError:
                arn = r.arn("model", p["ModelName"].lower())
                raise ServiceError("ValidationException", f'Could not find model "{arn}".') from None
            try:
                container = model_container(model)
            except TransformError as error:
                raise ServiceError("ValidationException", str(error).removeprefix("ClientError: ")) from None
            return {"container": container}
        return self._create(r, TRANSFORM, p, options)

    def describe_transform_job(self, r: Region, p: dict[str, Any]) -> dict[str, Any]:
        return r.job(TRANSFORM, p["TransformJobName"]).describe()

    def list_transform_jobs(self, r: Region, p: dict[str, Any]) -> dict[str, Any]:
        return self._list(r, TRANSFORM, p)

    def stop_transform_job(self, r: Region, p: dict[str, Any]) -> dict[str, Any]:
        return self._stop(r, TRANSFORM, p["TransformJobName"])

    # ------------------------------------------------------------------ model registry
    def create_model_package_group(self, r: Region, p: dict[str, Any]) -> dict[str, Any]:
        return r.registry.create_model_package_group(p)

    def describe_model_package_group(self, r: Region, p: dict[str, Any]) -> dict[str, Any]:
        return r.registry.describe_model_package_group(p)

    def list_model_package_groups(self, r: Region, p: dict[str, Any]) -> dict[str, Any]:
        return r.registry.list_model_package_groups(p)

    def delete_model_package_group(self, r: Region, p: dict[str, Any]) -> dict[str, Any]:
        return r.registry.delete_model_package_group(p)

    def create_model_package(self, r: Region, p: dict[str, Any]) -> dict[str, Any]:
        return r.registry.create_model_package(p)

    def describe_model_package(self, r: Region, p: dict[str, Any]) -> dict[str, Any]:
        return r.registry.describe_model_package(p)

    def list_model_packages(self, r: Region, p: dict[str, Any]) -> dict[str, Any]:
        return r.registry.list_model_packages(p)

    def update_model_package(self, r: Region, p: dict[str, Any]) -> dict[str, Any]:
        return r.registry.update_model_package(p)

    def delete_model_package(self, r: Region, p: dict[str, Any]) -> dict[str, Any]:
        return r.registry.delete_model_package(p)


# --------------------------------------------------------------------------- requests and events
def default_backend() -> Backend:
    """A new backend for one job: the one DRYDOCK_BACKEND names (`backends.make_backend`), else a process one."""
    try:
        from harness.sagemaker.backends import make_backend  # type: ignore[attr-defined]
    except ImportError:
        return ProcessBackend()
    return make_backend()


def check_request(action: str, params: dict[str, Any]) -> None:
    """Required members, types, lengths and enums, as the service model says (ValidationException)."""
    report = ParamValidator().validate(params, model().operation_model(action).input_shape)
    if report.has_errors():
        raise ServiceError("ValidationException", report.generate_report())


def put_on_default_bus(cloud: Any, event: dict[str, Any]) -> None:
    """Route an AWS service event through the default bus's rules to their targets.

    drydock's EventBridge integration routes it when present (SQS, SNS, Lambda, Step Functions and bus
    targets); otherwise moto's PutEvents does (SQS, log group and bus targets).
    """
    try:
        from harness.integrations import events as bridge
        from harness.integrations.registry import Services
    except ModuleNotFoundError:
        bridge = None
    if bridge is not None:
        def start_execution(arn: str, input_text: str, name: str | None) -> Any:
            sfn = cloud.client("stepfunctions")
            return sfn.start_execution(stateMachineArn=arn, input=input_text, **({"name": name} if name else {}))
        bridge.route(Services(cloud, start_execution=start_execution), None, "default", event)
        return
    cloud.client("events").put_events(Entries=[{
        "Source": event["source"], "DetailType": event["detail-type"], "Detail": json.dumps(event["detail"]),
        "Resources": event["resources"]}])


SERVICE = SageMakerService()
OVERLAY.register("sagemaker", SERVICE.handle, ACTIONS)
DURABLE_NAME = "sagemaker-jobs"


durable(ServicePart(DURABLE_NAME, lambda: SERVICE), "sagemaker", ACTIONS)
