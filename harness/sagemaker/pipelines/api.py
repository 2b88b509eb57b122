"""The SageMaker Pipelines API over drydock's executor: what CreatePipeline ... ListPipelineExecutionSteps answer.

Mirrors the SageMaker API reference for the pipeline actions (PIPELINE_ACTIONS). Requests and responses use the
boto3 shapes (times are datetimes); errors are `ApiError`s with AWS's code. `Pipelines` holds one account and
region; `PipelineService` holds them all and answers `handle(action, account, region, params)`. The read side of
ML Lineage Tracking (QueryLineage, ListArtifacts, ListActions, ListContexts, ListAssociations) answers from
the lineage executions record. Importing this
module registers the actions with `harness.overlay`, so boto3 in-process (and `drydock serve`) reach drydock's
executor instead of moto, which only records pipelines and calls every execution Succeeded at once.
"""
from __future__ import annotations

import json
import secrets
import string
import tempfile
import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from harness.durability.cloud_state import Regional, ServicePart, durable
from harness.sagemaker.pipelines.definition import DefinitionError, PipelineDefinition, parse_definition
from harness.sagemaker.pipelines.executor import (DEFAULT_MAX_PARALLEL, Execution, ExecutionScope, Services,
                                                  StepCache, now, resume_execution, run_execution)
from harness.sagemaker.pipelines.expressions import EvaluationError, compile_value
from harness.sagemaker.pipelines.lineage import LineageGraph, LineageStore
from harness.sagemaker.pipelines.platform import Platform, default_platform
from harness.sagemaker.pipelines.steps import Callbacks

PIPELINE_ACTIONS = (
    "CreatePipeline", "UpdatePipeline", "DescribePipeline", "DeletePipeline", "ListPipelines",
    "StartPipelineExecution", "DescribePipelineExecution", "ListPipelineExecutions", "ListPipelineExecutionSteps",
    "StopPipelineExecution", "SendPipelineExecutionStepSuccess", "SendPipelineExecutionStepFailure",
    "DescribePipelineDefinitionForExecution", "ListPipelineParametersForExecution",
)
# ML Lineage Tracking, read side: what pipeline executions recorded (moto has none of these actions).
LINEAGE_ACTIONS = ("QueryLineage", "ListArtifacts", "ListActions", "ListContexts", "ListAssociations")
DEFAULT_PAGE = 50
_ID_ALPHABET = string.ascii_lowercase + string.digits


class ApiError(Exception):
    """An error response: AWS's code (ValidationException, ResourceNotFound, ...), message and HTTP status."""

    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.status = code, message, status


@dataclass
class Pipeline:
    name: str
    arn: str
    definition_text: str
    definition: PipelineDefinition
    role_arn: str
    display_name: str | None = None
    description: str | None = None
    parallelism: dict[str, Any] | None = None
    tags: list[dict[str, str]] = field(default_factory=list)
    version_id: int = 1
    created: datetime = field(default_factory=now)
    modified: datetime = field(default_factory=now)
    last_run: datetime | None = None
    versions: dict[int, tuple[str, PipelineDefinition]] = field(default_factory=dict)


class Pipelines:
    """Pipelines, their executions, the step cache and lineage of one account and region.

    Args:
        cloud: where S3, SageMaker (models, model packages), Lambda and SQS are (a `harness.cloud.LocalCloud`).
        platform: how steps reach jobs and models; default `default_platform(cloud)`.
        work_dir: parent of the job roots when jobs run in this process.
    """

    def __init__(self, cloud: Any, platform: Platform | None = None, work_dir: Path | None = None):
        self.cloud = cloud
        self.account, self.region = cloud.account, cloud.region
        work_dir = Path(work_dir or tempfile.mkdtemp(prefix="drydock-pipelines-"))
        self.services = Services(platform or default_platform(cloud, work_dir=work_dir), cloud.client("s3"),
                                 StepCache(), LineageStore(self.region, self.account), Callbacks())
        self.pipelines: dict[str, Pipeline] = {}
        self.executions: dict[str, Execution] = {}
        self._tokens: dict[tuple[str, str], str] = {}
        self._lock = threading.RLock()

    # ------------------------------------------------------------------------------------------- pipelines
    def create_pipeline(self, p: dict[str, Any]) -> dict[str, Any]:
        name = _required(p, "PipelineName")
        text, definition = self._definition(p, required=True)
        with self._lock:
            if name in self.pipelines:
                raise ApiError("ValidationException", f"Pipeline names must be unique within an AWS account and "
                                                      f"region. Pipeline with name ({name}) already exists.")
            pipeline = Pipeline(name, self._pipeline_arn(name), text, definition, _required(p, "RoleArn"),
                                p.get("PipelineDisplayName"), p.get("PipelineDescription"),
                                p.get("ParallelismConfiguration"), list(p.get("Tags") or []))
            pipeline.versions[1] = (text, definition)
            self.pipelines[name] = pipeline
        return {"PipelineArn": pipeline.arn}

    def update_pipeline(self, p: dict[str, Any]) -> dict[str, Any]:
        pipeline = self._pipeline(_required(p, "PipelineName"))
        text, definition = self._definition(p, required=False)
        with self._lock:
            if definition is not None:
                pipeline.definition_text, pipeline.definition = text, definition
            for key, attribute in (("RoleArn", "role_arn"), ("PipelineDisplayName", "display_name"),
                                   ("PipelineDescription", "description"), ("ParallelismConfiguration", "parallelism")):
                if key in p:
                    setattr(pipeline, attribute, p[key])
            pipeline.version_id += 1
            pipeline.versions[pipeline.version_id] = (pipeline.definition_text, pipeline.definition)
            pipeline.modified = now()
        return {"PipelineArn": pipeline.arn, "PipelineVersionId": pipeline.version_id}

    def describe_pipeline(self, p: dict[str, Any]) -> dict[str, Any]:
        pipeline = self._pipeline(_required(p, "PipelineName"))
        text = pipeline.definition_text
        if p.get("PipelineVersionId") is not None:
            version = pipeline.versions.get(int(p["PipelineVersionId"]))
            if version is None:
                raise ApiError("ResourceNotFound", f"Pipeline version {p['PipelineVersionId']} of {pipeline.arn} "
                                                   "does not exist.")
            text = version[0]
        answer = {"PipelineArn": pipeline.arn, "PipelineName": pipeline.name,
                  "PipelineDisplayName": pipeline.display_name or pipeline.name, "PipelineDefinition": text,
                  "RoleArn": pipeline.role_arn, "PipelineStatus": "Active", "CreationTime": pipeline.created,
                  "LastModifiedTime": pipeline.modified, "CreatedBy": {}, "LastModifiedBy": {}}
        if pipeline.description:
            answer["PipelineDescription"] = pipeline.description
        if pipeline.last_run:
            answer["LastRunTime"] = pipeline.last_run
        if pipeline.parallelism:
            answer["ParallelismConfiguration"] = pipeline.parallelism
        return answer

    def delete_pipeline(self, p: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            pipeline = self._pipeline(_required(p, "PipelineName"))
            del self.pipelines[pipeline.name]
        return {"PipelineArn": pipeline.arn}

    def list_pipelines(self, p: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            pipelines = list(self.pipelines.values())
        prefix = p.get("PipelineNamePrefix") or ""
        pipelines = [x for x in pipelines if x.name.startswith(prefix) and _within(x.created, p)]
        key: Callable[[Pipeline], Any] = (lambda x: x.name) if p.get("SortBy") == "Name" else (lambda x: x.created)
        pipelines.sort(key=key, reverse=p.get("SortOrder", "Descending") == "Descending")
        page, token = _page(pipelines, p)
        summaries = []
        for x in page:
            summary = {"PipelineArn": x.arn, "PipelineName": x.name, "PipelineDisplayName": x.display_name or x.name,
                       "RoleArn": x.role_arn, "CreationTime": x.created, "LastModifiedTime": x.modified}
            if x.description:
                summary["PipelineDescription"] = x.description
            if x.last_run:
                summary["LastExecutionTime"] = x.last_run
            summaries.append(summary)
        return _with_token({"PipelineSummaries": summaries}, token)

    # ------------------------------------------------------------------------------------------- executions
    def start_pipeline_execution(self, p: dict[str, Any]) -> dict[str, Any]:
        pipeline = self._pipeline(_required(p, "PipelineName"))
        token = p.get("ClientRequestToken")
        with self._lock:
            if token and (pipeline.name, token) in self._tokens:
                return {"PipelineExecutionArn": self._tokens[(pipeline.name, token)]}
        if p.get("SelectiveExecutionConfig"):
            raise ApiError("ValidationException", "drydock does not run selective executions "
                                                  "(SelectiveExecutionConfig); start the whole pipeline")
        definition = pipeline.definition
        version_id = pipeline.version_id
        if p.get("PipelineVersionId") is not None:
            version = pipeline.versions.get(int(p["PipelineVersionId"]))
            if version is None:
                raise ApiError("ResourceNotFound", f"Pipeline version {p['PipelineVersionId']} does not exist.")
            definition, version_id = version[1], int(p["PipelineVersionId"])
        parameters = resolve_parameters(definition, p.get("PipelineParameters") or [])
        parallelism = p.get("ParallelismConfiguration") or pipeline.parallelism or {}
        execution_id = "".join(secrets.choice(_ID_ALPHABET) for _ in range(12))
        execution = Execution(
            arn=f"{pipeline.arn}/execution/{execution_id}", pipeline_name=pipeline.name, pipeline_arn=pipeline.arn,
            definition=definition, parameters=parameters, display_name=p.get("PipelineExecutionDisplayName"),
            description=p.get("PipelineExecutionDescription"),
            max_parallel=int(parallelism.get("MaxParallelExecutionSteps", DEFAULT_MAX_PARALLEL)),
            pipeline_version_id=version_id)
        execution.extra["parallelism"] = parallelism
        execution.experiment_config = self._experiment_config(execution)
        with self._lock:
            self.executions[execution.arn] = execution
            pipeline.last_run = execution.created
            if token:
                self._tokens[(pipeline.name, token)] = execution.arn
        threading.Thread(target=run_execution, args=(execution, self.services), daemon=True,
                         name=f"pipeline-execution-{execution_id}").start()
        return {"PipelineExecutionArn": execution.arn}

    def describe_pipeline_execution(self, p: dict[str, Any]) -> dict[str, Any]:
        execution = self.execution(_required(p, "PipelineExecutionArn"))
        with execution.lock:
            answer = {"PipelineArn": execution.pipeline_arn, "PipelineExecutionArn": execution.arn,
                      "PipelineExecutionDisplayName": execution.display_name or execution.id,
                      "PipelineExecutionStatus": execution.status, "CreationTime": execution.created,
                      "LastModifiedTime": execution.modified, "CreatedBy": {}, "LastModifiedBy": {},
                      "PipelineVersionId": execution.pipeline_version_id}
            if execution.description:
                answer["PipelineExecutionDescription"] = execution.description
            if execution.failure_reason:
                answer["FailureReason"] = execution.failure_reason
            if execution.experiment_config:
                answer["PipelineExperimentConfig"] = execution.experiment_config
            if execution.extra.get("parallelism"):
                answer["ParallelismConfiguration"] = execution.extra["parallelism"]
        return answer

    def list_pipeline_executions(self, p: dict[str, Any]) -> dict[str, Any]:
        pipeline = self._pipeline(_required(p, "PipelineName"))
        with self._lock:
            executions = [e for e in self.executions.values() if e.pipeline_arn == pipeline.arn
                          and _within(e.created, p)]
        key: Callable[[Execution], Any] = (lambda e: e.arn) if p.get("SortBy") == "PipelineExecutionArn" \
            else (lambda e: e.created)
        executions.sort(key=key, reverse=p.get("SortOrder", "Descending") == "Descending")
        page, token = _page(executions, p)
        summaries = []
        for e in page:
            summary = {"PipelineExecutionArn": e.arn, "StartTime": e.created, "PipelineExecutionStatus": e.status,
                       "PipelineExecutionDisplayName": e.display_name or e.id}
            if e.description:
                summary["PipelineExecutionDescription"] = e.description
            if e.failure_reason:
                summary["PipelineExecutionFailureReason"] = e.failure_reason
            summaries.append(summary)
        return _with_token({"PipelineExecutionSummaries": summaries}, token)

    def list_pipeline_execution_steps(self, p: dict[str, Any]) -> dict[str, Any]:
        execution = self.execution(_required(p, "PipelineExecutionArn"))
        with execution.lock:
            steps = [run.to_api() for run in execution.steps.values()]
        steps.sort(key=lambda entry: entry["StartTime"], reverse=p.get("SortOrder", "Descending") == "Descending")
        page, token = _page(steps, p)
        return _with_token({"PipelineExecutionSteps": page}, token)

    def stop_pipeline_execution(self, p: dict[str, Any]) -> dict[str, Any]:
        execution = self.execution(_required(p, "PipelineExecutionArn"))
        with execution.lock:
            if execution.status in ("Succeeded", "Failed", "Stopped"):
                raise ApiError("ValidationException", f"Pipeline execution {execution.arn} is {execution.status} "
                                                      "and cannot be stopped.")
            execution.status = "Stopping"
            execution.modified = now()
            for run in execution.steps.values():
                if run.status in ("Starting", "Executing"):
                    run.status = "Stopping"
        execution.stop.set()
        return {"PipelineExecutionArn": execution.arn}

    def send_pipeline_execution_step_success(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._answer_callback(p, outputs=list(p.get("OutputParameters") or []))

    def send_pipeline_execution_step_failure(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._answer_callback(p, failure=p.get("FailureReason") or "The callback step was failed.")

    def describe_pipeline_definition_for_execution(self, p: dict[str, Any]) -> dict[str, Any]:
        execution = self.execution(_required(p, "PipelineExecutionArn"))
        return {"PipelineDefinition": json.dumps(execution.definition.raw), "CreationTime": execution.created}

    def list_pipeline_parameters_for_execution(self, p: dict[str, Any]) -> dict[str, Any]:
        execution = self.execution(_required(p, "PipelineExecutionArn"))
        values = [{"Name": name, "Value": _parameter_text(value)} for name, value in execution.parameters.items()]
        page, token = _page(values, p)
        return _with_token({"PipelineParameters": page}, token)

    # ------------------------------------------------------------------------------------------- lineage
    def query_lineage(self, p: dict[str, Any]) -> dict[str, Any]:
        lineage = self._lineage()
        entities, edges = lineage.query(list(p.get("StartArns") or []), p.get("Direction") or "Ascendants",
                                        int(p.get("MaxDepth") or 10))
        wanted = (p.get("Filters") or {}).get("LineageTypes")
        vertices = [entity.vertex() for entity in entities if not wanted or entity.kind in wanted]
        page, token = _page(vertices, p)
        answer: dict[str, Any] = {"Vertices": page}
        if p.get("IncludeEdges", True):
            answer["Edges"] = [{"SourceArn": a.source_arn, "DestinationArn": a.destination_arn,
                                "AssociationType": a.type} for a in edges]
        return _with_token(answer, token)

    def list_artifacts(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._list_entities("Artifact", p)

    def list_actions(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._list_entities("Action", p)

    def list_contexts(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._list_entities("Context", p)

    def list_associations(self, p: dict[str, Any]) -> dict[str, Any]:
        lineage = self._lineage()
        filters = {"SourceArn": "source_arn", "DestinationArn": "destination_arn", "AssociationType": "type"}
        chosen = [a for a in list(lineage.associations)
                  if all(p.get(key) in (None, getattr(a, attribute)) for key, attribute in filters.items())]
        summaries = []
        for association in chosen:
            summary = association.to_api(lineage.entities)
            if p.get("SourceType") not in (None, summary["SourceType"]) or \
                    p.get("DestinationType") not in (None, summary["DestinationType"]):
                continue
            summaries.append({key: value for key, value in summary.items() if value is not None})
        page, token = _page(summaries, p)
        return _with_token({"AssociationSummaries": page}, token)

    def _list_entities(self, kind: str, p: dict[str, Any]) -> dict[str, Any]:
        entities = [e for e in self._lineage().list(kind) if p.get("SourceUri") in (None, e.source_uri)
                    and p.get(f"{kind}Type") in (None, e.type) and _within(e.created, p)]
        key: Callable[[Any], Any] = (lambda e: e.name) if p.get("SortBy") == "Name" else (lambda e: e.created)
        entities.sort(key=key, reverse=p.get("SortOrder", "Descending") == "Descending")
        page, token = _page(entities, p)
        return _with_token({f"{kind}Summaries": [entity.summary() for entity in page]}, token)

    def _lineage(self) -> LineageStore:
        assert self.services.lineage is not None
        return self.services.lineage

    # ------------------------------------------------------------------------------------------- beyond AWS
    def execution(self, arn: str) -> Execution:
        with self._lock:
            execution = self.executions.get(arn)
        if execution is None:
            raise ApiError("ResourceNotFound", f"Pipeline execution '{arn}' does not exist.")
        return execution

    def lineage_graph(self, execution_arn: str) -> LineageGraph:
        """The artifacts, actions and associations one execution recorded (see `lineage.py`)."""
        self.execution(execution_arn)
        assert self.services.lineage is not None
        return self.services.lineage.lineage_graph(execution_arn)

    def close(self) -> None:
        with self._lock:
            executions = list(self.executions.values())
        for execution in executions:
            execution.stop.set()

    # ------------------------------------------------------------------------------------------- durability
    def state(self) -> dict[str, Any]:
        """Pipelines, executions (with their steps' outcomes), the step cache and lineage, for the journal."""
        with self._lock:
            return {"pipelines": dict(self.pipelines), "executions": dict(self.executions),
                    "tokens": dict(self._tokens), "cache": self.services.cache, "lineage": self.services.lineage}

    def restore(self, state: dict[str, Any]) -> None:
        with self._lock:
            self.pipelines, self.executions, self._tokens = state["pipelines"], state["executions"], state["tokens"]
            self.services.cache, self.services.lineage = state["cache"], state["lineage"]

    def resume(self) -> None:
        """Go on with every execution that was running: steps that had ended keep their outcome, steps cut short
        run again from the start (a new attempt, as SageMaker retries a step whose instance was lost)."""
        with self._lock:
            running = [e for e in self.executions.values() if e.status in ("Executing", "Stopping")]
        for execution in running:
            if execution.status == "Stopping":
                execution.stop.set()
            threading.Thread(target=resume_execution, args=(execution, self.services), daemon=True,
                             name=f"pipeline-execution-{execution.id}").start()

    # ------------------------------------------------------------------------------------------- internals
    def _pipeline_arn(self, name: str) -> str:
        return f"arn:aws:sagemaker:{self.region}:{self.account}:pipeline/{name.lower()}"

    def _pipeline(self, name_or_arn: str) -> Pipeline:
        name = name_or_arn.rsplit("/", 1)[-1] if name_or_arn.startswith("arn:") else name_or_arn
        with self._lock:
            pipeline = self.pipelines.get(name) or next(
                (x for x in self.pipelines.values() if x.arn == name_or_arn or x.name.lower() == name.lower()), None)
        if pipeline is None:
            raise ApiError("ResourceNotFound", f"Pipeline '{self._pipeline_arn(name)}' does not exist.")
        return pipeline

    def _definition(self, p: dict[str, Any], *, required: bool) -> tuple[str, Any]:
        text = p.get("PipelineDefinition")
        location = p.get("PipelineDefinitionS3Location")
        if text is None and location:
            kwargs = {"Bucket": location["Bucket"], "Key": location["ObjectKey"]}
            if location.get("VersionId"):
                kwargs["VersionId"] = location["VersionId"]
            try:
                text = self.cloud.client("s3").get_object(**kwargs)["Body"].read().decode()
            except Exception as error:  # noqa: BLE001 - any S3 failure is the caller's bad location
                raise ApiError("ValidationException", f"cannot read PipelineDefinitionS3Location "
                                                      f"s3://{location['Bucket']}/{location['ObjectKey']}: {error}")
        if text is None:
            if required:
                raise ApiError("ValidationException", "Either PipelineDefinition or PipelineDefinitionS3Location "
                                                      "must be specified.")
            return "", None
        try:
            return text, parse_definition(text)
        except DefinitionError as error:
            raise ApiError("ValidationException", f"Invalid pipeline definition: {error}") from None

    def _experiment_config(self, execution: Execution) -> dict[str, Any] | None:
        raw = execution.definition.raw.get("PipelineExperimentConfig")
        if not raw:
            return None
        try:
            return compile_value(raw).evaluate(ExecutionScope(execution, self.services))
        except EvaluationError:
            return None

    def _answer_callback(self, p: dict[str, Any], **answer: Any) -> dict[str, Any]:
        token = _required(p, "CallbackToken")
        try:
            waiter = self.services.callbacks.answer(token, **answer)
        except KeyError:
            raise ApiError("ResourceNotFound", f"No pipeline execution step waits for callback token {token}; it "
                                               "is unknown, already answered, or its execution has ended.") from None
        return {"PipelineExecutionArn": waiter.execution_arn}


def resolve_parameters(definition: PipelineDefinition, given: list[dict[str, Any]]) -> dict[str, Any]:
    """Parameter values for an execution: the definition's defaults, overridden by PipelineParameters.

    Raises:
        ApiError: ValidationException for an unknown name, a value of the wrong type or a missing value.
    """
    values = {name: parameter.default for name, parameter in definition.parameters.items() if parameter.has_default}
    for item in given:
        name = item.get("Name")
        parameter = definition.parameters.get(name or "")
        if parameter is None:
            known = ", ".join(definition.parameters) or "none"
            raise ApiError("ValidationException", f"Pipeline parameter {name!r} is not defined in the pipeline "
                                                  f"(parameters: {known}).")
        try:
            values[parameter.name] = parameter.convert(item.get("Value"))
        except ValueError as error:
            raise ApiError("ValidationException", str(error)) from None
    missing = [name for name in definition.parameters if name not in values]
    if missing:
        raise ApiError("ValidationException", f"Pipeline parameters {', '.join(missing)} have no default value "
                                              "and were not given in PipelineParameters.")
    return {name: values[name] for name in definition.parameters}


def _required(p: dict[str, Any], name: str) -> Any:
    value = p.get(name)
    if value in (None, ""):
        raise ApiError("ValidationException", f"1 validation error detected: Value null at '{name}' failed to "
                                              "satisfy constraint: Member must not be null")
    return value


def _within(moment: datetime, p: dict[str, Any]) -> bool:
    after, before = p.get("CreatedAfter"), p.get("CreatedBefore")
    return (after is None or moment > _as_datetime(after)) and (before is None or moment < _as_datetime(before))


def _as_datetime(value: Any) -> datetime:
    from datetime import timezone

    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return datetime.fromtimestamp(float(value), tz=timezone.utc)


def _page(items: list[Any], p: dict[str, Any]) -> tuple[list[Any], str | None]:
    start = int(p.get("NextToken") or 0)
    size = int(p.get("MaxResults") or DEFAULT_PAGE)
    end = start + size
    return items[start:end], (str(end) if end < len(items) else None)


def _with_token(answer: dict[str, Any], token: str | None) -> dict[str, Any]:
    if token:
        answer["NextToken"] = token
    return answer


def _parameter_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# ----------------------------------------------------------------------------------------------- every region
class PipelineService(Regional):
    """`Pipelines` for every account and region, created on first use.

    Args:
        cloud_for: (account, region) -> the cloud of that account and region (default: in-process LocalCloud).
        platform_for: cloud -> Platform (default: `default_platform`).
    """

    def __init__(self, cloud_for: Callable[[str, str], Any] | None = None,
                 platform_for: Callable[[Any], Platform] | None = None, work_dir: Path | None = None):
        self._cloud_for = cloud_for or _in_process_cloud
        self._platform_for = platform_for
        self._work_dir = work_dir
        self._regions: dict[tuple[str, str], Pipelines] = {}
        self._lock = threading.Lock()

    @property
    def work_dir(self) -> Path:
        """Parent of every region's job roots: a temporary directory made on first use unless given."""
        if self._work_dir is None:
            self._work_dir = Path(tempfile.mkdtemp(prefix="drydock-pipelines-"))
        return self._work_dir

    def region(self, account: str, region: str) -> Pipelines:
        with self._lock:
            pipelines = self._regions.get((account, region))
            if pipelines is None:
                cloud = self._cloud_for(account, region)
                directory = self.work_dir / account / region
                directory.mkdir(parents=True, exist_ok=True)
                platform = self._platform_for(cloud) if self._platform_for else None
                pipelines = self._regions[(account, region)] = Pipelines(cloud, platform, directory)
            return pipelines

    def handle(self, action: str, account: str, region: str, params: dict[str, Any]) -> dict[str, Any]:
        """Answer one action of PIPELINE_ACTIONS for an account and region."""
        if action not in PIPELINE_ACTIONS and action not in LINEAGE_ACTIONS:
            raise ApiError("UnknownOperationException", f"drydock's pipelines do not answer {action}")
        method = getattr(self.region(account, region), _snake(action))
        return method(params)

    def find_execution(self, execution_arn: str) -> Pipelines:
        """The Pipelines that holds an execution, from the account and region in its ARN."""
        parts = execution_arn.split(":")
        if len(parts) < 6 or parts[2] != "sagemaker":
            raise ApiError("ValidationException", f"{execution_arn} is not a pipeline execution ARN")
        return self.region(parts[4], parts[3])

    def close(self) -> None:
        with self._lock:
            regions, self._regions = list(self._regions.values()), {}
        for pipelines in regions:
            pipelines.close()



def _snake(action: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in action).lstrip("_")


def _in_process_cloud(account: str, region: str) -> Any:
    from harness.cloud import LocalCloud

    return LocalCloud(region=region, account=account)


SERVICE = PipelineService()
durable(ServicePart("sagemaker-pipelines", lambda: SERVICE), "sagemaker", PIPELINE_ACTIONS + LINEAGE_ACTIONS)


def _overlay_handler(call: Any) -> dict[str, Any]:
    from harness.overlay import ServiceError

    try:
        return SERVICE.handle(call.action, call.account, call.region, call.params)
    except ApiError as error:
        raise ServiceError(error.code, error.message, status=error.status) from None


def register_with_overlay() -> bool:
    """Route PIPELINE_ACTIONS and LINEAGE_ACTIONS of `sagemaker` to SERVICE (done on import); False without an
    overlay."""
    try:
        from harness import overlay
    except ImportError:
        return False
    overlay.OVERLAY.register("sagemaker", _overlay_handler, PIPELINE_ACTIONS + LINEAGE_ACTIONS)
    return True


register_with_overlay()
