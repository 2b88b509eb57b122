"""`drydock history EXECUTION_ARN`: an execution's states with their input and output, or its events.

Reads through the Step Functions API (GetExecutionHistory, DescribeExecution): from `drydock serve`
with `--endpoint`, else from this process's in-process store. `--json` prints GetExecutionHistory's
response shape (`{"events": [...]}`, timestamps as ISO-8601 text, as `drydock run --json` prints them).
Exit codes: 0 shown, 2 unknown execution or no endpoint.
"""
from __future__ import annotations

import argparse
import datetime as dt
import fnmatch
import json
from typing import Any

NAME = "history"
HELP = "Show an execution's states (input, output, error) or events, read through the Step Functions API"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("execution_arn", metavar="EXECUTION_ARN", help="the execution's ARN")
    parser.add_argument("--endpoint", help="drydock serve's URL (default: the in-process store of this process)")
    parser.add_argument("--region", help="region of the execution (default: the one in its ARN)")
    parser.add_argument("--state", action="append", default=[], metavar="NAME",
                        help="only this state (repeatable): its visits, or the events that happened in it")
    parser.add_argument("--type", action="append", default=[], metavar="TYPE",
                        help="only events of this type (repeatable; wildcards allowed: 'Task*'); shows events")
    parser.add_argument("--events", action="store_true", help="one row per event instead of one per state visit")
    parser.add_argument("--json", action="store_true", help="print {\"events\": [...]} as GetExecutionHistory does")


def fetch(client: Any, arn: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(DescribeExecution, every event of GetExecutionHistory) through a boto3 Step Functions client."""
    described = client.describe_execution(executionArn=arn)
    events: list[dict[str, Any]] = []
    for page in client.get_paginator("get_execution_history").paginate(executionArn=arn):
        events.extend(page["events"])
    return described, events


def select(events: list[dict[str, Any]], states: list[str], types: list[str]) -> list[dict[str, Any]]:
    """The events of the named states (their own and those that happened in them) and of matching types."""
    from harness.visits import Tracker

    if states:
        tracker = Tracker()
        keep: set[int] = set()
        for event in events:
            visit = tracker.add(event)
            while visit is not None:
                if visit.name in states:
                    keep.add(event["id"])
                    break
                visit = visit.parent
        events = [e for e in events if e["id"] in keep]
    if types:
        events = [e for e in events if any(fnmatch.fnmatchcase(e["type"], t) for t in types)]
    return events


def run(args: argparse.Namespace) -> int:
    from harness.cloud import LocalCloud
    from harness.cloud_errors import CLOUD_ERRORS, report

    region = args.region or _region_of(args.execution_arn)
    try:
        client = LocalCloud(args.endpoint, region=region).client("stepfunctions")
        described, events = fetch(client, args.execution_arn)
    except CLOUD_ERRORS as err:
        report("history", err, args.endpoint, ("ExecutionDoesNotExist", f"execution {args.execution_arn}"))
        return 2
    events = [_jsonable(e) for e in events]
    shown = select(events, args.state, args.type)
    if args.json:
        print(json.dumps({"events": shown}, indent=1, ensure_ascii=False))
        return 0
    from rich.console import Console

    console = Console(highlight=False)
    if args.events or args.type:
        console.print(event_table(shown, events))
    else:
        console.print(state_table(events, args.state))
    status = described["status"]
    colour = "green" if status == "SUCCEEDED" else "yellow" if status == "RUNNING" else "red"
    console.print(f"[bold {colour}]{status}[/] {described['executionArn']}", soft_wrap=True)
    if described.get("error") or described.get("cause"):
        console.print(f"error: {described.get('error')}\ncause: {described.get('cause')}", soft_wrap=True, markup=False)
    return 0


def state_table(events: list[dict[str, Any]], states: list[str]) -> Any:
    """One row per state visit: when, how long (virtual), input, output or error."""
    from rich.markup import escape
    from rich.table import Table

    from harness.visits import track

    tracker = track(events)
    start = tracker.visits[0].start if tracker.visits else 0.0
    table = Table(title="States", show_lines=True)
    for column in ("#", "state", "type", "t+", "took", "input", "output / error", "outcome"):
        table.add_column(column, overflow="fold")
    for visit in tracker.visits:
        if states and visit.name not in states:
            continue
        result = visit.output if visit.output is not None and visit.outcome != "failed" else \
            f"{visit.error or ''}: {visit.cause or ''}" if visit.error or visit.cause else ""
        colour = {"ok": "green", "caught": "yellow", "failed": "red"}.get(visit.outcome, "cyan")
        table.add_row(str(visit.entered["id"]), escape("  " * visit.depth + visit.name), visit.type,
                      _elapsed(visit.start - start), _elapsed(visit.virtual_seconds) if not visit.open else "…",
                      escape(_compact(visit.input)), escape(_compact(result)), f"[{colour}]{visit.outcome}[/]")
    return table


def event_table(shown: list[dict[str, Any]], events: list[dict[str, Any]]) -> Any:
    from rich.markup import escape
    from rich.table import Table

    from harness.visits import details_of, seconds

    start = seconds(events[0]["timestamp"]) if events else 0.0
    table = Table(title="Events")
    for column in ("id", "prev", "t+", "type", "state", "details"):
        table.add_column(column, overflow="fold")
    for event in shown:
        details = details_of(event)
        text = ", ".join(f"{k}={_compact(v)}" for k, v in details.items()
                         if k not in ("name", "inputDetails", "outputDetails", "assignedVariablesDetails"))
        table.add_row(str(event["id"]), str(event.get("previousEventId", 0)),
                      _elapsed(seconds(event["timestamp"]) - start), event["type"], escape(details.get("name", "")),
                      escape(text if len(text) <= 300 else text[:297] + "..."))
    return table


def _region_of(arn: str) -> str:
    parts = arn.split(":")
    return parts[3] if len(parts) > 3 and parts[3] else "us-east-1"


def _jsonable(event: dict[str, Any]) -> dict[str, Any]:
    ts = event.get("timestamp")
    if isinstance(ts, dt.datetime):
        event = {**event, "timestamp": ts.isoformat()}
    return event


def _elapsed(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.3g}s" if seconds else "0s"
    if seconds < 3600:
        return f"{seconds / 60:.1f}m"
    return f"{seconds / 3600:.1f}h"


def _compact(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return value
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= 400 else text[:397] + "..."
