"""`drydock lineage EXECUTION_ARN`: what a SageMaker pipeline execution read and wrote, step by step.

Reads through the SageMaker API (QueryLineage from the execution, ListArtifacts / ListActions / ListContexts for
names and URIs, ListPipelineExecutionSteps for step names): from `drydock serve` with `--endpoint`, else from
this process's in-process cloud. Prints a tree: the execution, each step's action (its job, model or package)
with the artifacts that contributed to it (<-) and those it produced (->). `--json` prints the entities and
associations instead. Exit codes: 0 shown, 2 unknown execution or no endpoint.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from typing import Any

NAME = "lineage"
HELP = "Show the lineage (artifacts, actions, associations) of a SageMaker pipeline execution"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("execution_arn", metavar="EXECUTION_ARN", help="the pipeline execution's ARN")
    parser.add_argument("--endpoint", help="drydock serve's URL (default: the in-process cloud of this process)")
    parser.add_argument("--json", action="store_true", help="print {\"Entities\": [...], \"Associations\": [...]}")


def fetch(client: Any, execution_arn: str) -> dict[str, Any]:
    """The execution's lineage through a boto3 SageMaker client: entities, associations, steps, status.

    Raises:
        botocore.exceptions.ClientError: ResourceNotFound for an unknown execution.
    """
    described = client.describe_pipeline_execution(PipelineExecutionArn=execution_arn)
    vertices: list[dict[str, Any]] = []
    edges: list[dict[str, Any]] = []
    token = None
    while True:
        page = client.query_lineage(StartArns=[execution_arn], Direction="Both", IncludeEdges=True,
                                    **({"NextToken": token} if token else {}))
        vertices.extend(page.get("Vertices", []))
        for edge in page.get("Edges", []):
            if edge not in edges:
                edges.append(edge)
        token = page.get("NextToken")
        if not token:
            break
    details: dict[str, dict[str, Any]] = {}
    for kind in ("Artifact", "Action", "Context"):
        for page in client.get_paginator(f"list_{kind.lower()}s").paginate():
            for summary in page[f"{kind}Summaries"]:
                details[summary[f"{kind}Arn"]] = {**summary, "LineageType": kind}
    entities = [details.get(vertex["Arn"], {"Arn": vertex["Arn"], "LineageType": vertex["LineageType"],
                                            "Type": vertex["Type"]}) for vertex in vertices]
    steps: dict[str, str] = {}
    for page in client.get_paginator("list_pipeline_execution_steps").paginate(PipelineExecutionArn=execution_arn):
        for step in page["PipelineExecutionSteps"]:
            for value in step.get("Metadata", {}).values():
                if isinstance(value, dict) and value.get("Arn"):
                    steps[value["Arn"]] = step["StepName"]
    return {"PipelineExecutionArn": execution_arn, "PipelineExecutionStatus": described["PipelineExecutionStatus"],
            "Entities": entities, "Associations": edges, "Steps": steps}


def tree(lineage: dict[str, Any]) -> Any:
    """A rich Tree: execution -> step actions -> contributing (<-) and produced (->) artifacts."""
    from rich.markup import escape
    from rich.tree import Tree

    by_arn = {_arn(entity): entity for entity in lineage["Entities"]}
    status = lineage["PipelineExecutionStatus"]
    colour = "green" if status == "Succeeded" else "yellow" if status in ("Executing", "Stopping") else "red"
    root = Tree(f"[bold]{escape(lineage['PipelineExecutionArn'])}[/] [{colour}]{status}[/]")
    associations = lineage["Associations"]
    actions = [entity for entity in lineage["Entities"] if entity.get("LineageType") == "Action"]
    actions.sort(key=lambda entity: str(entity.get("CreationTime", "")))
    for action in actions:
        arn = _arn(action)
        source = action.get("Source", {}).get("SourceUri", "")
        step = lineage["Steps"].get(source) or action.get("ActionName", arn)
        branch = root.add(f"[bold]{escape(step)}[/] {escape(action.get('ActionType', ''))} "
                          f"[dim]{escape(source)}[/] {escape(action.get('Status', ''))}")
        for association in associations:
            if association["DestinationArn"] == arn and association["AssociationType"] == "ContributedTo":
                branch.add(_artifact_line("<-", by_arn.get(association["SourceArn"]), association["SourceArn"]))
        for association in associations:
            if association["SourceArn"] == arn and association["AssociationType"] == "Produced":
                branch.add(_artifact_line("->", by_arn.get(association["DestinationArn"]),
                                          association["DestinationArn"]))
    return root


def _artifact_line(arrow: str, entity: dict[str, Any] | None, arn: str) -> str:
    from rich.markup import escape

    if entity is None:
        return f"{arrow} {escape(arn)}"
    kind = entity.get("ArtifactType") or entity.get("Type") or ""
    uri = entity.get("Source", {}).get("SourceUri") or arn
    return f"{arrow} [cyan]{escape(kind):<12}[/] {escape(uri)}"


def _arn(entity: dict[str, Any]) -> str:
    return entity.get("ArtifactArn") or entity.get("ActionArn") or entity.get("ContextArn") or entity["Arn"]


def run(args: argparse.Namespace) -> int:
    from harness.cloud import LocalCloud
    from harness.cloud_errors import CLOUD_ERRORS, report

    if args.endpoint is None:
        import harness.sagemaker.pipelines.api  # noqa: F401 - registers the pipeline and lineage actions in-process
    parts = args.execution_arn.split(":")
    region = parts[3] if len(parts) > 3 and parts[3] else None
    try:
        client = LocalCloud(args.endpoint, **({"region": region} if region else {})).client("sagemaker")
        lineage = fetch(client, args.execution_arn)
    except CLOUD_ERRORS as err:
        report("lineage", err, args.endpoint, ("ResourceNotFound", f"pipeline execution {args.execution_arn}"))
        return 2
    if args.json:
        print(json.dumps({key: lineage[key] for key in ("PipelineExecutionArn", "PipelineExecutionStatus",
                                                       "Entities", "Associations")}, indent=1, default=_text))
        return 0
    from rich.console import Console

    # piped output keeps whole URIs on their lines; a terminal gets its own width
    Console(highlight=False, width=None if sys.stdout.isatty() else 1000).print(tree(lineage))
    return 0


def _text(value: Any) -> str:
    return value.isoformat() if isinstance(value, dt.datetime) else str(value)
