"""SageMaker training, processing and transform jobs: records that move through AWS's statuses as a worker runs them.

A `Job` is created InProgress (training: SecondaryStatus Starting) and a worker thread runs it with the job
runtime (`harness.sagemaker.runtime`); the backend is wrapped so the record follows the job as it goes:
Downloading, Training, Uploading, then Completed, Failed or Stopped (MaxRuntimeExceeded when the stopping
condition ends it). When the job ends, SecondaryStatusTransitions are rebuilt from the runtime's timed
phases and the container's output goes to CloudWatch Logs under `/aws/sagemaker/TrainingJobs` (or
`ProcessingJobs`), stream `<job>/algo-1-<epoch seconds>`, before the final status shows: a caller that
sees Completed finds the logs and the artifacts in place. Transform jobs (`harness.sagemaker.transform`) have no
secondary status; their logs go to `/aws/sagemaker/TransformJobs`, streams `<job>/<instance id>-<epoch seconds>`
(the model container) and `.../data-log` (the platform's lines about the data). `describe` answers in the shape
of DescribeTrainingJob / DescribeProcessingJob / DescribeTransformJob, `summary` in that of the List* summaries.
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DescribeTrainingJob.html
"""
from __future__ import annotations

import sys
import threading
import traceback
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from harness.sagemaker.backends import Backend, JobSpec, ProcessResult
from harness.sagemaker.runtime import JobResult, Phase, run_processing_job, run_training_job
from harness.sagemaker.service_model import output_members, shape_members
from harness.sagemaker.transform import instance_id, run_transform_job

TERMINAL = ("Completed", "Failed", "Stopped")
RESTARTED = "Restarting the job: drydock serve was restarted while it ran"
LOG_BATCH = 10_000  # PutLogEvents: at most 10,000 events ...
LOG_BATCH_BYTES = 1_000_000  # ... and about 1 MB per call
# What DescribeTrainingJob says of each secondary status (as SageMaker words it in the console and the API).
STATUS_MESSAGES = {
    "Starting": "Preparing the instances for training",
    "Downloading": "Downloading input data",
    "Training": "Training image download completed. Training in progress.",
    "Uploading": "Uploading generated training model",
    "Stopping": "Stopping the training job",
    "Stopped": "Training job stopped",
    "MaxRuntimeExceeded": "Training job stopped because the MaxRuntimeInSeconds stopping condition was reached",
    "Completed": "Training job completed",
    "Failed": "Training job failed",
}


def _algo_1(job_name: str) -> str:
    return "algo-1"


@dataclass(frozen=True)
class Kind:
    """What differs between job types: names, ARN type, log group, the runtime entry and the container phase."""

    name: str  # "TrainingJob": the API's own word, as in TrainingJobName / TrainingJobStatus
    arn_type: str  # "training-job"
    log_group: str
    container_phase: str  # the runtime phase in which the container runs
    run: Callable[..., JobResult]  # (request, s3, backend, work_dir, **Job.options) -> JobResult
    secondary: bool  # whether Describe reports SecondaryStatus
    host: Callable[[str], str] = _algo_1  # the instance in log stream names, from the job's name
    stop_flag: bool = False  # `run` takes `stopped` (a callable) and checks it itself; no backend to stop

    @property
    def noun(self) -> str:  # "training job"
        return self.arn_type.replace("-", " ")

    def __reduce__(self) -> tuple[Any, tuple[str]]:  # pickled by name: a restored job's kind `is` TRAINING & co.
        return _kind, (self.name,)


def _kind(name: str) -> Kind:
    return KINDS[name]


TRAINING = Kind("TrainingJob", "training-job", "/aws/sagemaker/TrainingJobs", "Training", run_training_job, True)
PROCESSING = Kind("ProcessingJob", "processing-job", "/aws/sagemaker/ProcessingJobs", "Processing",
                  run_processing_job, False)
TRANSFORM = Kind("TransformJob", "transform-job", "/aws/sagemaker/TransformJobs", "Transforming", run_transform_job,
                 False, instance_id, stop_flag=True)
KINDS = {kind.name: kind for kind in (TRAINING, PROCESSING, TRANSFORM)}


def now() -> datetime:
    return datetime.now(timezone.utc)


class Job:
    """One job: its request, where it is, and how it ended; every change wakes `wait`ers."""

    def __init__(self, kind: Kind, request: dict[str, Any], arn: str, options: dict[str, Any] | None = None):
        self.kind = kind
        self.request = request
        self.options = options or {}  # more keyword arguments of kind.run, plain data (a transform's model container)
        self.name: str = request[f"{kind.name}Name"]
        self.arn = arn
        self.created = self.modified = now()
        self.status = "InProgress"
        self.secondary = "Starting"
        self.transitions: list[dict[str, Any]] = [_transition("Starting", self.created)]
        self.failure_reason: str | None = None
        self.result: JobResult | None = None
        self.started: datetime | None = None
        self.ended: datetime | None = None
        self.stop_requested: datetime | None = None
        self.log_stream: str | None = None
        self.backend: Any = None  # the backend running the container, while it runs
        self.restarted: datetime | None = None  # when a restarted `drydock serve` began the job again
        self._changed = threading.Condition()

    @property
    def done(self) -> bool:
        return self.status in TERMINAL

    def __getstate__(self) -> dict[str, Any]:  # `drydock serve`'s journal: what the job is, not what runs it
        state = dict(self.__dict__)
        del state["_changed"]
        state["backend"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._changed = threading.Condition()

    def restart(self) -> None:
        """Start over after `drydock serve` was killed while the job ran: as SageMaker does when it loses a
        job's instance, the job stays InProgress and runs again from the beginning (Starting again)."""
        with self._changed:
            at = now()
            self.transitions[-1].setdefault("EndTime", at)
            self.transitions.append(_restarting(at))
            self.secondary, self.modified, self.result, self.backend, self.restarted = "Starting", at, None, None, at

    def move(self, secondary: str) -> None:
        """Enter a secondary status (closing the current one's transition)."""
        with self._changed:
            if self.done or self.secondary == secondary or (self.stop_requested and secondary != "Stopping"):
                return
            at = now()
            self.transitions[-1]["EndTime"] = at
            self.transitions.append(_transition(secondary, at))
            self.secondary, self.modified = secondary, at
            if secondary == "Downloading" and self.started is None:
                self.started = at
            self._changed.notify_all()

    def stop(self) -> bool:
        """StopTrainingJob / StopProcessingJob: False when the job is not InProgress."""
        with self._changed:
            if self.status != "InProgress":
                return False
            self.stop_requested = now()
            self.status = "Stopping"
        self.move("Stopping")
        backend = self.backend
        if backend is not None and hasattr(backend, "stop"):
            backend.stop()
        return True

    def finish(self, result: JobResult) -> None:
        """Record how the job ended; the transitions become the runtime's timed phases."""
        with self._changed:
            end = now()
            status, secondary, reason = result.status, result.secondary_status, result.failure_reason
            if self.stop_requested is not None and status != "Completed":
                status, secondary, reason = "Stopped", "Stopped", None
            self.result = result
            self.started = result.phases[0].started_at if result.phases else self.started or self.created
            self.ended = result.phases[-1].ended_at if result.phases else end
            self.transitions = _transitions(self.created, result.phases, self.stop_requested, secondary, self.ended)
            if self.restarted is not None:  # the attempt cut short left no phases; say that it was begun again
                self.transitions[0] = {**_restarting(self.created), **{k: v for k, v in self.transitions[0].items()
                                                                        if k == "EndTime"}}
            self.status, self.secondary, self.failure_reason, self.modified = status, secondary, reason, end
            self._changed.notify_all()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait (wall time) until the job changes or ends; returns whether it has ended."""
        with self._changed:
            if not self.done:
                self._changed.wait(timeout)
            return self.done

    # ------------------------------------------------------------------ shapes
    def describe(self) -> dict[str, Any]:
        """The Describe*Job answer: the request as AWS echoes it, plus where the job is and what it made."""
        kind, result = self.kind, self.result
        out = {k: v for k, v in self.request.items() if k in output_members(f"Describe{kind.name}")}
        out.update({f"{kind.name}Arn": self.arn, f"{kind.name}Status": self.status,
                    "CreationTime": self.created, "LastModifiedTime": self.modified})
        if self.failure_reason:
            out["FailureReason"] = self.failure_reason
        if kind is TRAINING:
            artifact = result.model_artifacts if result and result.model_artifacts else (
                f"{self.request['OutputDataConfig']['S3OutputPath'].rstrip('/')}/{self.name}/output/model.tar.gz")
            out.update({"ModelArtifacts": {"S3ModelArtifacts": artifact}, "SecondaryStatus": self.secondary,
                        "SecondaryStatusTransitions": [dict(t) for t in self.transitions],
                        "EnableNetworkIsolation": self.request.get("EnableNetworkIsolation", False),
                        "EnableInterContainerTrafficEncryption":
                            self.request.get("EnableInterContainerTrafficEncryption", False),
                        "EnableManagedSpotTraining": self.request.get("EnableManagedSpotTraining", False)})
            if self.started is not None:
                out["TrainingStartTime"] = self.started
            if self.done:
                out["TrainingEndTime"] = self.ended
                seconds = max(1, round((self.ended - self.started).total_seconds())) if self.started else 0
                out.update({"TrainingTimeInSeconds": seconds, "BillableTimeInSeconds": seconds})
            if result and result.final_metrics:
                out["FinalMetricDataList"] = result.final_metrics
        elif kind is TRANSFORM:
            if self.started is not None:
                out["TransformStartTime"] = self.started
            if self.done:
                out["TransformEndTime"] = self.ended
        else:
            if self.started is not None:
                out["ProcessingStartTime"] = self.started
            if self.done:
                out["ProcessingEndTime"] = self.ended
                if self.status == "Failed" and self.failure_reason:
                    out["ExitMessage"] = self.failure_reason
        return out

    def summary(self) -> dict[str, Any]:
        """The List*Jobs summary: the members of TrainingJobSummary / ProcessingJobSummary Describe has."""
        described = self.describe()
        if self.kind is TRAINING and self.done:
            described["TrainingEndTime"] = self.ended
        return {k: v for k, v in described.items() if k in shape_members(f"{self.kind.name}Summary")}


def _restarting(start: datetime) -> dict[str, Any]:
    return {**_transition("Starting", start), "StatusMessage": RESTARTED}


def _transition(status: str, start: datetime, end: datetime | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"Status": status, "StartTime": start}
    if end is not None:
        out["EndTime"] = end
    out["StatusMessage"] = STATUS_MESSAGES.get(status, status)
    return out


def _transitions(created: datetime, phases: list[Phase], stop_requested: datetime | None, final: str,
                 end: datetime) -> list[dict[str, Any]]:
    first = phases[0].started_at if phases else end
    out = [_transition("Starting", created, first)]
    out += [_transition(p.status, p.started_at, p.ended_at) for p in phases if p.status in STATUS_MESSAGES]
    if stop_requested is not None and final == "Stopped":
        out.append(_transition("Stopping", stop_requested, end))
    out.append(_transition(final, end, end))
    return out


# --------------------------------------------------------------------------- the worker
class _Staged:
    """The job's backend, wrapped so the record moves to Training when the container starts and to
    Uploading when it ends well; a job stopped before its container starts never starts it."""

    def __init__(self, job: Job, inner: Backend):
        self.job, self.inner = job, inner

    @property
    def serving(self) -> str:
        """Where a transform job's model runs: "process" (this process) or "docker" (`serve` in its image)."""
        return getattr(self.inner, "serving", "process")

    def opt_ml_path(self, root: Path) -> str:
        return self.inner.opt_ml_path(root)

    def run(self, spec: JobSpec) -> ProcessResult:
        job = self.job
        if job.stop_requested is not None:
            at = now()
            return ProcessResult(None, at, at, timed_out=True)
        if job.kind.secondary:
            job.move(job.kind.container_phase)
        job.backend = self.inner
        if job.stop_requested is not None and hasattr(self.inner, "stop"):  # stopped meanwhile
            self.inner.stop()
        try:
            result = self.inner.run(spec)
        finally:
            job.backend = None
        if job.kind.secondary and job.stop_requested is None and (result.exit_code == 0 or result.timed_out):
            job.move("Uploading")
        return result


def run(job: Job, s3: Any, logs: Any, work_dir: Path, backend: Backend) -> None:
    """The worker: run the job to its end, write its logs, then publish how it ended."""
    job.move("Downloading")
    try:
        options = dict(job.options)
        if job.kind.stop_flag:
            options["stopped"] = lambda: job.stop_requested is not None
        result = job.kind.run(job.request, s3, _Staged(job, backend), work_dir, **options)
    except Exception as exc:  # a drydock bug or a request the runtime refused late: the job fails, visibly
        traceback.print_exc(file=sys.stderr)
        reason = getattr(exc, "response", {}).get("Error", {}).get("Message") or f"{type(exc).__name__}: {exc}"
        result = JobResult(job.name, job.kind.name, "Failed", "Failed", f"InternalServerError: {reason}"[:1024])
    try:
        job.log_stream = write_logs(logs, job.kind, job.name, result)
    except Exception:  # logs are a courtesy: a job does not fail because CloudWatch refused them
        traceback.print_exc(file=sys.stderr)
    job.finish(result)


def start(job: Job, s3: Any, logs: Any, work_dir: Path, backend: Backend) -> threading.Thread:
    worker = threading.Thread(target=run, args=(job, s3, logs, work_dir, backend), daemon=True,
                              name=f"drydock-sagemaker-{job.kind.arn_type}-{job.name}")
    worker.start()
    return worker


def write_logs(logs: Any, kind: Kind, name: str, result: JobResult) -> str | None:
    """Put the container's output in CloudWatch Logs as SageMaker does; returns the stream name.

    A job whose container never started (its data could not be downloaded) has no stream. A transform job's
    platform lines (`result.data_log`) go to the stream `<stream>/data-log`, even when its container did not start.
    """
    container = next((p for p in result.phases if p.status == kind.container_phase), None)
    first = container or (result.phases[0] if result.phases else None)
    if first is None or (container is None and not result.data_log):
        return None
    stream = f"{name}/{kind.host(name)}-{int(first.started_at.timestamp())}"
    try:
        logs.create_log_group(logGroupName=kind.log_group)
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    if result.data_log:
        _put_events(logs, kind.log_group, f"{stream}/data-log", result.data_log)
    if container is None:
        return None
    _put_events(logs, kind.log_group, stream, result.logs)
    return stream


def _put_events(logs: Any, group: str, stream: str, log_events: list[dict[str, Any]]) -> None:
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    events = sorted(({"timestamp": e["timestamp"], "message": e["message"] or " "} for e in log_events),
                    key=lambda e: e["timestamp"])
    batch: list[dict[str, Any]] = []
    size = 0
    for event in events:
        event_size = len(event["message"].encode()) + 26
        if batch and (len(batch) == LOG_BATCH or size + event_size > LOG_BATCH_BYTES):
            logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=batch)
            batch, size = [], 0
        batch.append(event)
        size += event_size
    if batch:
        logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=batch)


