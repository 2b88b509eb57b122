"""Lineage of pipeline executions: artifacts, actions, contexts and the associations between them.

Mirrors what SageMaker ML Lineage Tracking records for a pipeline run (the CreateArtifact / CreateAction /
CreateContext / AddAssociation entities; moto has none of these APIs, so drydock keeps them here):
- a Context per pipeline (ContextType "SageMakerPipeline") and per execution ("SageMakerPipelineExecution");
- an Action per step that did work (ActionType = the step type; SourceUri = the job, model or package ARN);
- an Artifact per S3 URI, image or model package the step read or wrote (ArtifactType "DataSet", "Model",
  "Image", "Code", "ModelPackage", "Metrics"), one per source URI across steps and executions (the first
  step to name it gives its type), so the model one step produced is the artifact the next step reads;
- Associations: Artifact -ContributedTo-> Action -Produced-> Artifact, Action -AssociatedWith-> execution
  Context -AssociatedWith-> pipeline Context. A cache hit associates the original step's Action with the new
  execution.
`lineage_graph(execution_arn)` gathers one execution's entities and associations.
"""
from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any


@dataclass
class Entity:
    arn: str
    kind: str  # "Artifact" | "Action" | "Context"
    name: str
    type: str  # ArtifactType / ActionType / ContextType
    source_uri: str
    created: datetime
    properties: dict[str, str] = field(default_factory=dict)
    status: str | None = None  # Actions: Completed / Failed / Stopped

    def to_api(self) -> dict[str, Any]:
        key = {"Artifact": "ArtifactType", "Action": "ActionType", "Context": "ContextType"}[self.kind]
        answer: dict[str, Any] = {f"{self.kind}Arn": self.arn, f"{self.kind}Name": self.name, key: self.type,
                                  "Source": {"SourceUri": self.source_uri}, "CreationTime": self.created,
                                  "Properties": dict(self.properties)}
        if self.status:
            answer["Status"] = self.status
        return answer

    def summary(self) -> dict[str, Any]:
        """The ArtifactSummary / ActionSummary / ContextSummary of List* (no Properties)."""
        answer = self.to_api()
        answer.pop("Properties")
        answer["LastModifiedTime"] = self.created
        return answer

    def vertex(self) -> dict[str, str]:
        return {"Arn": self.arn, "Type": self.type, "LineageType": self.kind}


@dataclass(frozen=True)
class Association:
    source_arn: str
    destination_arn: str
    type: str  # "ContributedTo" | "Produced" | "AssociatedWith" | "DerivedFrom"

    def to_api(self, entities: dict[str, Entity]) -> dict[str, Any]:
        source, destination = entities.get(self.source_arn), entities.get(self.destination_arn)
        return {"SourceArn": self.source_arn, "DestinationArn": self.destination_arn, "AssociationType": self.type,
                "SourceType": source.type if source else None, "DestinationType": destination.type if destination
                else None, "SourceName": source.name if source else None,
                "DestinationName": destination.name if destination else None}


@dataclass
class LineageGraph:
    execution_arn: str
    entities: list[Entity]
    associations: list[Association]

    def to_api(self) -> dict[str, Any]:
        by_arn = {entity.arn: entity for entity in self.entities}
        return {"PipelineExecutionArn": self.execution_arn,
                "Entities": [entity.to_api() for entity in self.entities],
                "Associations": [association.to_api(by_arn) for association in self.associations]}


class LineageStore:
    """Every lineage entity of one account and region."""

    def __init__(self, region: str, account: str):
        self.region, self.account = region, account
        self.entities: dict[str, Entity] = {}
        self.associations: list[Association] = []
        self._by_source: dict[tuple[str, str, str], str] = {}
        self._lock = threading.Lock()

    # --------------------------------------------------------------------------------------------- recording
    def context(self, name: str, context_type: str, source_uri: str) -> str:
        return self._entity("Context", name, context_type, source_uri)

    def artifact(self, source_uri: str, artifact_type: str) -> str:
        return self._entity("Artifact", _short_name(source_uri), artifact_type, source_uri)

    def action(self, name: str, action_type: str, source_uri: str, status: str,
               properties: dict[str, str] | None = None) -> str:
        arn = self._entity("Action", name, action_type, source_uri, properties)
        with self._lock:
            self.entities[arn].status = status
        return arn

    def associate(self, source_arn: str, destination_arn: str, association_type: str) -> None:
        association = Association(source_arn, destination_arn, association_type)
        with self._lock:
            if association not in self.associations:
                self.associations.append(association)

    def record_execution(self, pipeline_name: str, pipeline_arn: str, execution_arn: str) -> str:
        """The contexts of a pipeline and one of its executions; returns the execution's context ARN."""
        pipeline_context = self.context(f"{pipeline_name}-pipeline", "SageMakerPipeline", pipeline_arn)
        execution_context = self.context(f"{execution_arn.rsplit('/', 1)[-1]}-execution",
                                         "SageMakerPipelineExecution", execution_arn)
        self.associate(execution_context, pipeline_context, "AssociatedWith")
        return execution_context

    def record_step(self, execution_arn: str, step_name: str, step_type: str, source_uri: str, status: str,
                    inputs: list[tuple[str, str]], outputs: list[tuple[str, str]]) -> str:
        """One step's work: an Action, its input and output Artifacts ((uri, ArtifactType) pairs)."""
        action = self.action(f"{step_name}-{_digest(source_uri)}", step_type, source_uri, status,
                             {"StepName": step_name})
        self.associate(action, self._execution_context(execution_arn), "AssociatedWith")
        for uri, artifact_type in inputs:
            self.associate(self.artifact(uri, artifact_type), action, "ContributedTo")
        for uri, artifact_type in outputs:
            self.associate(action, self.artifact(uri, artifact_type), "Produced")
        return action

    def record_cache_hit(self, execution_arn: str, source_uri: str) -> None:
        """A cached step: the original step's Action now also serves this execution."""
        with self._lock:
            actions = [e.arn for e in self.entities.values() if e.kind == "Action" and e.source_uri == source_uri]
        for action in actions:
            self.associate(action, self._execution_context(execution_arn), "AssociatedWith")

    # --------------------------------------------------------------------------------------------- reading
    def lineage_graph(self, execution_arn: str) -> LineageGraph:
        """The execution's context, its pipeline, the actions of its steps and the artifacts they touched."""
        context_arn = self._by_source.get(("Context", "SageMakerPipelineExecution", execution_arn))
        if context_arn is None:
            raise KeyError(execution_arn)
        with self._lock:
            actions = {a.source_arn for a in self.associations
                       if a.destination_arn == context_arn and a.type == "AssociatedWith"
                       and self.entities[a.source_arn].kind == "Action"}
            parents = {a.destination_arn for a in self.associations if a.source_arn == context_arn}
            chosen = [a for a in self.associations
                      if a.source_arn == context_arn or a.destination_arn in actions
                      or (a.source_arn in actions and (a.type != "AssociatedWith" or a.destination_arn == context_arn))]
            arns = {context_arn, *parents, *actions}
            for association in chosen:
                arns.update((association.source_arn, association.destination_arn))
            entities = [entity for arn, entity in self.entities.items() if arn in arns]
        return LineageGraph(execution_arn, entities, chosen)

    def query(self, start_arns: list[str], direction: str = "Ascendants", max_depth: int = 10) -> tuple[
            list[Entity], list[Association]]:
        """QueryLineage: entities reachable from `start_arns` within `max_depth` associations.

        A pipeline execution ARN among the start ARNs stands for its whole `lineage_graph`.
        """
        entities: dict[str, Entity] = {}
        edges: list[Association] = []
        frontier: list[str] = []
        for arn in start_arns:
            if ("Context", "SageMakerPipelineExecution", arn) in self._by_source:
                graph = self.lineage_graph(arn)
                entities.update((entity.arn, entity) for entity in graph.entities)
                edges.extend(a for a in graph.associations if a not in edges)
            elif arn in self.entities:
                entities[arn] = self.entities[arn]
                frontier.append(arn)
        with self._lock:
            associations = list(self.associations)
        for _ in range(max_depth):
            following = []
            for association in associations:
                ahead = direction in ("Descendants", "Both") and association.source_arn in frontier
                behind = direction in ("Ascendants", "Both") and association.destination_arn in frontier
                if not (ahead or behind):
                    continue
                if association not in edges:
                    edges.append(association)
                other = association.destination_arn if ahead else association.source_arn
                if other not in entities and other in self.entities:
                    entities[other] = self.entities[other]
                    following.append(other)
            if not following:
                break
            frontier = following
        return list(entities.values()), edges

    def list(self, kind: str) -> list[Entity]:
        with self._lock:
            return [entity for entity in self.entities.values() if entity.kind == kind]

    # --------------------------------------------------------------------------------------------- internals
    def _execution_context(self, execution_arn: str) -> str:
        return self._by_source[("Context", "SageMakerPipelineExecution", execution_arn)]

    def _entity(self, kind: str, name: str, entity_type: str, source_uri: str,
                properties: dict[str, str] | None = None) -> str:
        key = (kind, "" if kind == "Artifact" else entity_type, source_uri)  # one artifact per URI, first type wins
        with self._lock:
            arn = self._by_source.get(key)
            if arn is None:
                resource = {"Artifact": "artifact", "Action": "action", "Context": "context"}[kind]
                arn = f"arn:aws:sagemaker:{self.region}:{self.account}:{resource}/" + (
                    _digest(f"{entity_type}:{source_uri}") if kind == "Artifact" else name.lower())
                self.entities[arn] = Entity(arn, kind, name, entity_type, source_uri, datetime.now(timezone.utc),
                                            dict(properties or {}))
                self._by_source[key] = arn
            return arn


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _short_name(uri: str) -> str:
    tail = uri.rstrip("/").rsplit("/", 1)[-1] or uri
    return f"{tail[:80]}-{_digest(uri)[:8]}"


def step_artifacts(step_type: str, request: dict[str, Any], answer: dict[str, Any]) -> tuple[
        list[tuple[str, str]], list[tuple[str, str]]]:
    """The (uri, ArtifactType) inputs and outputs of a step, from its request and Describe* answer."""
    inputs: list[tuple[str, str]] = []
    outputs: list[tuple[str, str]] = []
    if step_type == "Training":
        image = request.get("AlgorithmSpecification", {}).get("TrainingImage")
        if image:
            inputs.append((image, "Image"))
        for channel in request.get("InputDataConfig", []):
            uri = channel.get("DataSource", {}).get("S3DataSource", {}).get("S3Uri")
            if uri:
                inputs.append((uri, "DataSet"))
        code = _json_string(request.get("HyperParameters", {}).get("sagemaker_submit_directory"))
        if code:
            inputs.append((code, "Code"))
        model = answer.get("ModelArtifacts", {}).get("S3ModelArtifacts")
        if model:
            outputs.append((model, "Model"))
    elif step_type == "Processing":
        image = request.get("AppSpecification", {}).get("ImageUri")
        if image:
            inputs.append((image, "Image"))
        for item in request.get("ProcessingInputs", []):
            uri = item.get("S3Input", {}).get("S3Uri")
            if uri:
                inputs.append((uri, "Code" if item.get("InputName") == "code" else "DataSet"))
        for item in request.get("ProcessingOutputConfig", {}).get("Outputs", []):
            uri = item.get("S3Output", {}).get("S3Uri")
            if uri:
                outputs.append((uri, "DataSet"))
    elif step_type == "Transform":
        uri = request.get("TransformInput", {}).get("DataSource", {}).get("S3DataSource", {}).get("S3Uri")
        if uri:
            inputs.append((uri, "DataSet"))
        uri = request.get("TransformOutput", {}).get("S3OutputPath")
        if uri:
            outputs.append((uri, "DataSet"))
    elif step_type in ("Model", "RegisterModel"):
        containers = request.get("Containers") or request.get("InferenceSpecification", {}).get("Containers") or []
        if request.get("PrimaryContainer"):
            containers = [request["PrimaryContainer"], *containers]
        for container in containers:
            if container.get("Image"):
                inputs.append((container["Image"], "Image"))
            if container.get("ModelDataUrl"):
                inputs.append((container["ModelDataUrl"], "Model"))
        for group in (request.get("ModelMetrics") or {}).values():
            for metric in (group or {}).values():
                if isinstance(metric, dict) and metric.get("S3Uri"):
                    inputs.append((metric["S3Uri"], "Metrics"))
        if step_type == "RegisterModel" and answer.get("ModelPackageArn"):
            outputs.append((answer["ModelPackageArn"], "ModelPackage"))
        elif answer.get("ModelArn"):
            outputs.append((answer["ModelArn"], "Model"))
    return inputs, outputs


def _json_string(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    return value.strip('"') or None
