"""`drydock run FILE`: run a state machine to completion locally and show what happened.

`--json` prints the machine-readable contract `{"status","output","error","cause","events"}`
(output and event fields as the AWS API returns them); without it, a readable history table.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from asl.errors import DefinitionError, LoadError
from asl.load import load_definition
from harness.conformance import jsonable_events

NAME = "run"
HELP = "Run a state machine definition (JSON or YAML) locally on a virtual clock"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="ASL definition, JSON or YAML")
    parser.add_argument("--input", default="{}", help="execution input: JSON text, or @PATH to read it from a file")
    parser.add_argument("--name", help="execution name (default: a deterministic UUID)")
    parser.add_argument("--seed", type=int, default=0, help="seed for States.UUID / States.MathRandom (default 0)")
    parser.add_argument("--json", action="store_true", help="print {status, output, error, cause, events} as JSON")


def read_input(value: str) -> str:
    if value.startswith("@"):
        return Path(value[1:]).read_text()
    return value


def run(args: argparse.Namespace) -> int:
    try:
        text = Path(args.file).read_text()
        definition, _ = load_definition(text, source=args.file)
        input_text = read_input(args.input)
        json.loads(input_text)
    except FileNotFoundError as err:
        print(f"drydock run: no such file: {err.filename}", file=sys.stderr)
        return 2
    except LoadError as err:
        print(f"drydock run: {err}", file=sys.stderr)
        return 2
    except json.JSONDecodeError as err:
        print(f"drydock run: --input is not JSON: {err.msg} at line {err.lineno} column {err.colno}", file=sys.stderr)
        return 2
    from harness.local_run import run_locally

    try:
        execution = run_locally(definition, input_text, name=args.name, seed=args.seed)
    except DefinitionError as err:
        for d in err.diagnostics:
            print(f"{args.file}: {d.code} at {d.location or '/'}: {d.message}", file=sys.stderr)
        return 2
    result = execution.result()
    result["events"] = jsonable_events(result["events"])
    if args.json:
        print(json.dumps(result, indent=1, default=str))
    else:
        print_history(result)
    return 0 if result["status"] == "SUCCEEDED" else 1


def _seconds(timestamp: str) -> float:
    import datetime as dt

    return dt.datetime.fromisoformat(timestamp).timestamp()


def _elapsed(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"


def _compact(value: Any) -> str:
    """JSON text fields shown as JSON, not as escaped strings."""
    if isinstance(value, str):
        try:
            return json.dumps(json.loads(value), ensure_ascii=False, separators=(",", ":"))
        except ValueError:
            return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def print_history(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Execution history", show_lines=False)
    for column in ("id", "prev", "t+", "type", "state", "details"):
        table.add_column(column, overflow="fold")
    start = _seconds(result["events"][0]["timestamp"]) if result["events"] else 0.0
    for event in result["events"]:
        details = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
        state = details.get("name", "") if isinstance(details, dict) else ""
        text = ", ".join(f"{k}={_compact(v)}" for k, v in details.items()
                         if k not in ("name", "inputDetails", "outputDetails", "assignedVariablesDetails"))
        table.add_row(str(event["id"]), str(event["previousEventId"]),
                      _elapsed(_seconds(event["timestamp"]) - start), event["type"], state,
                      text if len(text) <= 200 else text[:197] + "...")
    console = Console()
    console.print(table)
    colour = "green" if result["status"] == "SUCCEEDED" else "red"
    console.print(f"[bold {colour}]{result['status']}[/]")
    if result["status"] == "SUCCEEDED":
        console.print(f"output: {result['output']}")
    else:
        console.print(f"error: {result['error']}\ncause: {result['cause']}")
