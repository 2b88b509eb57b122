"""`drydock graph FILE -o out.svg|png|dot`: draw a state machine, with an execution's path highlighted.

`--execution ARN` reads the execution's history through the Step Functions API (`--endpoint`, else
this process's in-process store; FILE may then be left out: the execution's own definition is drawn);
`--history FILE.json` takes events saved by `drydock run --json` or `drydock history --json`.
Exit codes: 0 written, 2 unusable input (invalid definition: its findings are printed; Graphviz
missing for SVG/PNG; unknown execution).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

NAME = "graph"
HELP = "Render a state machine as SVG/PNG/DOT (Map/Parallel nested), optionally with an execution's path"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", nargs="?", help="ASL definition, JSON or YAML (optional with --execution)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--execution", metavar="ARN", help="highlight this execution's path (read through the API)")
    source.add_argument("--history", metavar="FILE.json", help="highlight the path of saved events "
                                                                "(drydock run --json / drydock history --json)")
    parser.add_argument("--endpoint", help="drydock serve's URL for --execution (default: the in-process store)")
    parser.add_argument("-o", "--output", required=True, metavar="OUT",
                        help="output file: .svg, .png or .dot (format from the extension; '-' writes DOT to stdout)")


def run(args: argparse.Namespace) -> int:
    from asl.errors import LoadError
    from asl.load import load_definition
    from asl.validate import validate
    from harness.graph import GraphvizMissing, render, to_dot

    fmt = "dot" if args.output == "-" else Path(args.output).suffix.lower().lstrip(".")
    if fmt not in ("svg", "png", "dot", "gv"):
        print(f"drydock graph: -o {args.output}: give a .svg, .png or .dot file", file=sys.stderr)
        return 2
    fmt = "dot" if fmt == "gv" else fmt
    if args.file is None and args.execution is None:
        print("drydock graph: give a definition FILE, or --execution ARN to draw that execution's machine",
              file=sys.stderr)
        return 2
    events: list[dict[str, Any]] | None = None
    definition_text: str | None = None
    title = None
    source = args.file or args.execution
    try:
        if args.execution:
            described, events, definition_text = _execution(args.execution, args.endpoint)
            title = f"{described['name']}: {described['status']}"
        elif args.history:
            saved = json.loads(Path(args.history).read_text())
            events = saved["events"] if isinstance(saved, dict) else saved
            if not isinstance(events, list):
                raise ValueError("no event list")
        if args.file:
            definition_text = Path(args.file).read_text()
        definition, _ = load_definition(definition_text or "", source=source)
    except FileNotFoundError as err:
        print(f"drydock graph: no such file: {err.filename}", file=sys.stderr)
        return 2
    except LoadError as err:
        print(f"drydock graph: {err}", file=sys.stderr)
        return 2
    except (ValueError, KeyError, TypeError) as err:
        print(f"drydock graph: --history {args.history}: not saved events ({{\"events\": [...]}}): {err}",
              file=sys.stderr)
        return 2
    except _ApiFailure as err:
        print(f"drydock graph: {err}", file=sys.stderr)
        return 2
    findings = [d for d in validate(definition) if d.severity == "ERROR"]
    if findings:
        print(f"drydock graph: {source} is not a valid state machine definition:", file=sys.stderr)
        for d in findings:
            print(f"  {d.code} at {d.location or '/'}: {d.message}", file=sys.stderr)
        return 2
    dot = to_dot(definition, events, title=title)
    try:
        data = render(dot, fmt)
    except GraphvizMissing as err:
        print(f"drydock graph: {err}", file=sys.stderr)
        return 2
    if args.output == "-":
        sys.stdout.write(data.decode())
    else:
        Path(args.output).write_bytes(data)
        print(f"drydock graph: wrote {args.output}")
    return 0


class _ApiFailure(Exception):
    pass


def _execution(arn: str, endpoint: str | None) -> tuple[dict[str, Any], list[dict[str, Any]], str]:
    from botocore.exceptions import ClientError, EndpointConnectionError

    from harness.cloud import LocalCloud
    from harness.commands.history import _region_of, fetch

    try:
        client = LocalCloud(endpoint, region=_region_of(arn)).client("stepfunctions")
        described, events = fetch(client, arn)
        definition = client.describe_state_machine_for_execution(executionArn=arn)["definition"]
    except ClientError as err:
        error = err.response["Error"]
        if error.get("Code") == "ExecutionDoesNotExist":
            raise _ApiFailure(f"no execution {arn} in {endpoint or 'the in-process store'}") from None
        raise _ApiFailure(f"{error.get('Code')}: {error.get('Message')}") from None
    except EndpointConnectionError:
        raise _ApiFailure(f"nothing answers at {endpoint}; is `drydock serve` running?") from None
    return described, events, definition
