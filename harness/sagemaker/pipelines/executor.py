"""Run one pipeline execution: steps in dependency order, independent ones at the same time.

Mirrors how SageMaker Pipelines schedules a run ("Pipeline steps", "Caching pipeline steps", "Retry policy for
pipeline steps"):
- a step depends on the steps its expressions refer to, on its `DependsOn`, and (for a step in IfSteps or
  ElseSteps) on its Condition step choosing that branch; a step whose dependencies all Succeeded starts at once,
  on a pool of `MaxParallelExecutionSteps` threads (jobs are wall-clock work, so threads are enough);
- CacheConfig: when `Enabled`, a step whose cache key (the Arguments AWS lists per step type, evaluated) equals
  that of a Succeeded run of the same step of the same pipeline, younger than `ExpireAfter`, does no work and
  takes that run's properties, metadata and property files; `CacheHitResult` names the source execution;
- RetryPolicies: a failure whose ExceptionType a policy lists is retried after IntervalSeconds * BackoffRate^n,
  at most MaxAttempts times (or until ExpireAfterMin); every attempt is a new job;
- a failing step stops the scheduling of new steps; those running finish; the execution is Failed, its
  FailureReason the Fail step's ErrorMessage or "Step failure: One or multiple steps failed.";
- StopPipelineExecution: Stopping, running steps are stopped, then Stopped.
"""
from __future__ import annotations

import json
import sys
import threading
import traceback
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

from harness.durability.cloud_state import mark
from harness.sagemaker.pipelines.definition import JOB_STEPS, PipelineDefinition, Step
from harness.sagemaker.pipelines.expressions import EvaluationError, Reference, select
from harness.sagemaker.pipelines.lineage import LineageStore
from harness.sagemaker.pipelines.platform import Platform, new_suffix
from harness.sagemaker.pipelines.steps import (RUNNERS, Callbacks, StepContext, StepFailure, StepOutcome,
                                               StepStopped, Unreadable)

STEP_FAILURE = "Step failure: One or multiple steps failed."
DEFAULT_MAX_PARALLEL = 50
# "Default cache key attributes by pipeline step type" (Caching pipeline steps): what must match for a hit.
CACHE_KEY_ATTRIBUTES = {
    "Processing": ("AppSpecification", "Environment", "ProcessingInputs"),
    "Training": ("AlgorithmSpecification", "CheckpointConfig", "DebugHookConfig", "DebugRuleConfigurations",
                 "Environment", "HyperParameters", "InputDataConfig"),
    "Transform": ("DataProcessing", "Environment", "ModelName", "TransformInput"),
}
CACHEABLE_TYPES = ("Processing", "Training", "Transform", "Lambda", "Callback")
CHANGED = "sagemaker-pipelines"  # the journal part (`drydock serve --state-dir`) a step's progress changes


def now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class StepRun:
    """One step of one execution, as ListPipelineExecutionSteps reports it."""

    name: str
    type: str
    display_name: str | None
    description: str | None
    status: str = "Starting"  # Starting | Executing | Stopping | Stopped | Failed | Succeeded
    start_time: datetime = field(default_factory=now)
    end_time: datetime | None = None
    failure_reason: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    attempt_count: int = 0
    cache_source: str | None = None  # CacheHitResult.SourcePipelineExecutionArn
    outcome: StepOutcome | None = None
    ran_work: bool = False  # False for a cache hit: nothing ran

    def to_api(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"StepName": self.name, "StartTime": self.start_time, "StepStatus": self.status,
                                 "Metadata": self.metadata, "AttemptCount": self.attempt_count}
        if self.display_name:
            entry["StepDisplayName"] = self.display_name
        if self.description:
            entry["StepDescription"] = self.description
        if self.end_time:
            entry["EndTime"] = self.end_time
        if self.failure_reason:
            entry["FailureReason"] = self.failure_reason
        if self.cache_source:
            entry["CacheHitResult"] = {"SourcePipelineExecutionArn": self.cache_source}
        return entry


@dataclass
class Execution:
    """One pipeline execution: its definition and parameter values, its status, its steps."""

    arn: str
    pipeline_name: str
    pipeline_arn: str
    definition: PipelineDefinition
    parameters: dict[str, Any]
    display_name: str | None = None
    description: str | None = None
    max_parallel: int = DEFAULT_MAX_PARALLEL
    status: str = "Executing"  # Executing | Stopping | Stopped | Failed | Succeeded
    failure_reason: str | None = None
    created: datetime = field(default_factory=now)
    modified: datetime = field(default_factory=now)
    steps: dict[str, StepRun] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    pipeline_version_id: int = 1
    experiment_config: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.arn.rsplit("/", 1)[-1]

    def wait(self, timeout: float | None = None) -> str:
        """Block until the execution ends (or `timeout` seconds pass); its status."""
        self.done.wait(timeout)
        return self.status

    def step_runs(self) -> list[StepRun]:
        with self.lock:
            return list(self.steps.values())


@dataclass
class CacheEntry:
    execution_arn: str
    ended: datetime
    outcome: StepOutcome
    metadata: dict[str, Any]


class StepCache:
    """Succeeded step runs by (pipeline, step, cache key), newest last."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str, str], list[CacheEntry]] = {}
        self._lock = threading.Lock()

    def lookup(self, pipeline_arn: str, step: Step, key: str, at: datetime) -> CacheEntry | None:
        assert step.cache is not None
        with self._lock:
            entries = list(self._entries.get((pipeline_arn, step.name, key), ()))
        for entry in reversed(entries):
            if step.cache.expire_after is None or entry.ended + step.cache.expire_after >= at:
                return entry
        return None

    def store(self, pipeline_arn: str, step_name: str, key: str, entry: CacheEntry) -> None:
        with self._lock:
            self._entries.setdefault((pipeline_arn, step_name, key), []).append(entry)


@dataclass
class Services:
    """What executions share: the way out, the cache, lineage, callback tokens and S3 for property files."""

    platform: Platform
    s3: Any
    cache: StepCache = field(default_factory=StepCache)
    lineage: LineageStore | None = None
    callbacks: Callbacks = field(default_factory=Callbacks)
    clock: Callable[[], datetime] = now


class ExecutionScope:
    """What a step's expressions read: parameters, execution variables, earlier steps' properties, S3 JSON."""

    def __init__(self, execution: Execution, services: Services, step: Step | None = None,
                 resource_name: str | None = None):
        self.execution, self.services, self.step, self.resource_name = execution, services, step, resource_name

    def parameter(self, name: str) -> Any:
        return self.execution.parameters[name]

    def execution_variable(self, name: str) -> Any:
        execution = self.execution
        if name == "StartDateTime":
            return _iso(execution.created)
        if name == "CurrentDateTime":
            return _iso(self.services.clock())
        if name in ("TrainingJobName", "ProcessingJobName"):
            wanted = "Training" if name == "TrainingJobName" else "Processing"
            if self.step is None or self.step.type != wanted or self.resource_name is None:
                raise EvaluationError(f"Execution.{name} is only set inside a {wanted} step")
            return self.resource_name
        return {"PipelineName": execution.pipeline_name, "PipelineArn": execution.pipeline_arn,
                "PipelineExecutionId": execution.id, "PipelineExecutionArn": execution.arn}[name]

    def _outcome(self, reference: Reference) -> StepOutcome:
        run = self.execution.steps.get(reference.name)
        if run is None or run.outcome is None:
            raise EvaluationError(f"{reference.text}: step {reference.name!r} has not succeeded in this execution")
        return run.outcome

    def step_property(self, reference: Reference) -> Any:
        outcome = self._outcome(reference)
        try:
            return select(outcome.properties, reference.path)
        except LookupError:
            raise EvaluationError(f"{reference.text}: step {reference.name!r} has no such property") from None

    def property_file(self, reference: Reference) -> Any:
        outcome = self._outcome(reference)
        name = reference.property_file or ""
        if name not in outcome.property_files:
            raise EvaluationError(f"{reference.text}: step {reference.name!r} published no property file {name!r}")
        document = outcome.property_files[name]
        if isinstance(document, Unreadable):
            raise EvaluationError(f"{reference.text}: property file {name} of step {reference.name!r} cannot be "
                                  f"read: {document.reason}")
        return document

    def read_json(self, uri: str) -> Any:
        return read_s3_json(self.services.s3, uri)


def read_s3_json(s3: Any, uri: str) -> Any:
    from botocore.exceptions import ClientError

    bucket, _, key = uri[len("s3://"):].partition("/")
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as error:
        raise EvaluationError(f"cannot read {uri}: {error.response['Error'].get('Code')}") from None
    try:
        return json.loads(body)
    except ValueError as error:
        raise EvaluationError(f"{uri} is not JSON: {error}") from None


def run_execution(execution: Execution, services: Services) -> None:
    """Drive `execution` to its end on this thread (the API starts it on a thread of its own)."""
    if services.lineage is not None:
        services.lineage.record_execution(execution.pipeline_name, execution.pipeline_arn, execution.arn)
    _drive(execution, services)


def resume_execution(execution: Execution, services: Services) -> None:
    """Go on with an execution restored from `drydock serve`'s journal: steps that ended keep their outcome,
    steps that were running start again (their attempt count goes on)."""
    with execution.lock:
        for name, run in list(execution.steps.items()):
            if run.status not in ("Succeeded", "Failed", "Stopped"):
                del execution.steps[name]
                execution.extra.setdefault("restarted_attempts", {})[name] = run.attempt_count
    _drive(execution, services)


def _drive(execution: Execution, services: Services) -> None:
    definition = execution.definition
    pending = [name for name in definition.steps if name not in execution.steps]
    running: dict[Future[None], str] = {}
    failed = any(run.status == "Failed" for run in execution.step_runs())
    with ThreadPoolExecutor(max_workers=max(1, execution.max_parallel),
                            thread_name_prefix=f"pipeline-{execution.id}") as pool:
        while True:
            if not failed and not execution.stop.is_set():
                for name in [name for name in pending if _ready(execution, definition.steps[name])]:
                    pending.remove(name)
                    step = definition.steps[name]
                    with execution.lock:
                        execution.steps[name] = StepRun(name, step.type, step.display_name, step.description,
                                                        start_time=services.clock(), attempt_count=execution.extra.get(
                                                            "restarted_attempts", {}).get(name, 0))
                    mark(CHANGED)
                    running[pool.submit(run_step, execution, step, services)] = name
            if not running:
                break
            finished, _ = wait(list(running), timeout=0.5, return_when=FIRST_COMPLETED)
            for future in finished:
                name = running.pop(future)
                future.result()  # run_step never raises; a bug would show here
                if execution.steps[name].status == "Failed":
                    failed = True
    _finish(execution, services)


def _ready(execution: Execution, step: Step) -> bool:
    for dependency in step.dependencies:
        run = execution.steps.get(dependency)
        if run is None or run.status != "Succeeded":
            return False
    if step.branch is not None:
        condition, outcome = step.branch
        chosen = execution.steps[condition].outcome
        if chosen is None or chosen.properties.get("Outcome") is not outcome:
            return False
    return True


def _finish(execution: Execution, services: Services) -> None:
    runs = execution.step_runs()
    with execution.lock:
        if execution.stop.is_set():
            execution.status = "Stopped"
        elif any(run.status == "Failed" for run in runs):
            execution.status = "Failed"
            fail = next((run for run in runs if run.type == "Fail" and run.status == "Failed"), None)
            execution.failure_reason = fail.failure_reason if fail is not None else STEP_FAILURE
        else:
            execution.status = "Succeeded"
        execution.modified = services.clock()
    mark(CHANGED)
    execution.done.set()


def run_step(execution: Execution, step: Step, services: Services) -> None:
    """One step to its end: cache lookup, attempts with retries, and the StepRun's final status."""
    run = execution.steps[step.name]
    with execution.lock:
        run.status = "Executing"
    try:
        outcome = _attempts(execution, step, services, run)
    except StepStopped as stopped:
        _end(execution, run, services, "Stopped", metadata=stopped.metadata)
    except StepFailure as failure:
        _end(execution, run, services, "Failed", failure.reason, metadata=failure.metadata)
    except EvaluationError as error:
        _end(execution, run, services, "Failed", str(error))
    except Exception as error:  # noqa: BLE001 - a drydock bug: fail the step, say where
        traceback.print_exc(file=sys.stderr)
        _end(execution, run, services, "Failed", f"drydock failed running step {step.name}: "
                                                 f"{type(error).__name__}: {error}")
    else:
        with execution.lock:
            run.outcome = outcome
        _end(execution, run, services, "Succeeded", metadata=outcome.metadata)


def _end(execution: Execution, run: StepRun, services: Services, status: str, reason: str | None = None,
         metadata: dict[str, Any] | None = None) -> None:
    with execution.lock:
        run.status = status
        run.failure_reason = reason
        if metadata:
            run.metadata = metadata
        run.end_time = services.clock()
        execution.modified = run.end_time
    mark(CHANGED)


def _attempts(execution: Execution, step: Step, services: Services, run: StepRun) -> StepOutcome:
    retries: dict[int, int] = {}
    first_failure: datetime | None = None
    while True:
        resource_name = job_name(execution.id, step.name)
        scope = ExecutionScope(execution, services, step, resource_name)
        arguments = step.arguments.evaluate(scope)
        if run.attempt_count == 0 and step.cache is not None and step.cache.enabled and step.type in CACHEABLE_TYPES:
            key = cache_key(step, arguments)
            hit = services.cache.lookup(execution.pipeline_arn, step, key, services.clock())
            if hit is not None:
                with execution.lock:
                    run.cache_source = hit.execution_arn
                if services.lineage is not None and hit.outcome.lineage is not None:
                    services.lineage.record_cache_hit(execution.arn, hit.outcome.lineage[0])
                return hit.outcome
        else:
            key = None
        with execution.lock:
            run.attempt_count += 1
            run.ran_work = True
        ctx = StepContext(step, arguments, resource_name, scope, services.platform, execution.stop, execution.arn,
                          services.callbacks, publish=_publisher(execution, run),
                          read_json=lambda uri: read_s3_json(services.s3, uri))
        try:
            outcome = RUNNERS[step.type](ctx)
        except StepFailure as failure:
            first_failure = first_failure or services.clock()
            delay = _retry_delay(step, failure, retries, first_failure, services.clock())
            if delay is None or execution.stop.is_set():
                _record_lineage(services, execution, step, failure.metadata, "Failed")
                raise
            if execution.stop.wait(delay):
                raise StepStopped(failure.metadata) from None
            continue
        _record_lineage(services, execution, step, outcome.metadata, "Completed", outcome)
        if key is not None:
            services.cache.store(execution.pipeline_arn, step.name, key,
                                 CacheEntry(execution.arn, services.clock(), outcome, outcome.metadata))
        return outcome


def _retry_delay(step: Step, failure: StepFailure, retries: dict[int, int], first_failure: datetime,
                 at: datetime) -> float | None:
    """Seconds until the next attempt under the first policy that lists the failure's type; None: no retry."""
    if failure.exception_type is None:
        return None
    for index, policy in enumerate(step.retry_policies):
        if failure.exception_type not in policy.exception_types:
            continue
        done = retries.get(index, 0)
        if policy.max_attempts is not None and done >= policy.max_attempts:
            return None
        if policy.expire_after_min is not None and (at - first_failure).total_seconds() > 60 * policy.expire_after_min:
            return None
        retries[index] = done + 1
        return policy.delay(done + 1)
    return None


def _record_lineage(services: Services, execution: Execution, step: Step, metadata: dict[str, Any], status: str,
                    outcome: StepOutcome | None = None) -> None:
    if services.lineage is None:
        return
    if outcome is not None and outcome.lineage is not None:
        source, inputs, outputs = outcome.lineage
        services.lineage.record_step(execution.arn, step.name, step.type, source, status, inputs, outputs)
        return
    arn = next((value.get("Arn") for value in metadata.values() if isinstance(value, dict) and value.get("Arn")),
               None)
    if arn:
        services.lineage.record_step(execution.arn, step.name, step.type, arn, status, [], [])


def _publisher(execution: Execution, run: StepRun) -> Callable[[dict[str, Any]], None]:
    def publish(metadata: dict[str, Any]) -> None:
        with execution.lock:
            run.metadata = metadata
    return publish


def cache_key(step: Step, arguments: dict[str, Any]) -> str:
    """The evaluated arguments that decide a cache hit, as canonical JSON."""
    names = CACHE_KEY_ATTRIBUTES.get(step.type)
    if names is not None:
        chosen: Any = {name: arguments[name] for name in names if name in arguments}
    else:
        chosen = {"Arguments": arguments, "FunctionArn": step.function_arn, "SqsQueueUrl": step.sqs_queue_url,
                  "OutputParameters": step.outputs}
    return json.dumps({"Type": step.type, **chosen}, sort_keys=True, default=str, separators=(",", ":"))


def job_name(execution_id: str, step_name: str) -> str:
    """`pipelines-<execution id>-<step>-<suffix>`, as SageMaker Pipelines names its jobs, within 63 characters."""
    prefix, suffix = f"pipelines-{execution_id}-", f"-{new_suffix()}"
    room = 63 - len(prefix) - len(suffix)
    cleaned = "".join(c if c.isalnum() or c == "-" else "-" for c in step_name)[:room].strip("-") or "step"
    return f"{prefix}{cleaned}{suffix}"


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


__all__ = ["Execution", "ExecutionScope", "JOB_STEPS", "Services", "StepCache", "StepRun", "run_execution"]
