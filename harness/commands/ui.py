"""`drydock ui`: a page on loopback with executions, their graph, timeline, states' input/output and
pending task tokens to approve or reject (`harness.ui.server`).

With `--endpoint` the page reads `drydock serve`; without, it reads this process's in-process store,
which `--start FILE [--input JSON]` fills with an execution of FILE (a state machine named after it).
Exit codes: 0 stopped with Ctrl-C, 2 unusable input (port taken, bad definition, non-loopback host).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from harness.cloud import is_loopback_host

NAME = "ui"
HELP = "Serve a page on loopback: executions, graph, event timeline, state input/output, task tokens"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port to listen on (default 8765; 0: any free port)")
    parser.add_argument("--endpoint", help="drydock serve's URL (default: an in-process store)")
    parser.add_argument("--start", metavar="FILE", help="in-process: create FILE's state machine and start it")
    parser.add_argument("--input", default="{}", help="input of --start: JSON text, or @PATH")


def run(args: argparse.Namespace) -> int:
    if not is_loopback_host(args.host):
        print(f"drydock ui: refusing to listen on {args.host}: the page can answer task tokens and has no "
              f"authentication; use a loopback address", file=sys.stderr)
        return 2
    from botocore.exceptions import ClientError

    from harness.cloud import LocalCloud
    from harness.commands.run import read_input
    from harness.ui.server import make_server

    client = LocalCloud(args.endpoint).client("stepfunctions")
    if args.start:
        if args.endpoint:
            print("drydock ui: --start runs in the in-process store; with --endpoint start executions through "
                  "drydock serve instead", file=sys.stderr)
            return 2
        try:
            started = _start(client, Path(args.start), read_input(args.input))
        except (OSError, ValueError, ClientError) as err:
            print(f"drydock ui: --start {args.start}: {_message(err)}", file=sys.stderr)
            return 2
        print(f"drydock ui: started {started}")
    from harness.web import serve_page

    return serve_page("ui", lambda: make_server(client, args.host, args.port), args.host, args.port)


def _start(client: object, path: Path, input_text: str) -> str:
    from asl.load import load_definition

    definition, _ = load_definition(path.read_text(), source=str(path))
    json.loads(input_text)
    stem = path.resolve().parent.name if path.stem in ("definition", "state_machine", "machine") else path.stem
    name = "".join(c if c.isalnum() or c in "-_" else "-" for c in stem)[:80] or "machine"
    machine = client.create_state_machine(  # type: ignore[attr-defined]
        name=name, definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/drydock-ui")
    return client.start_execution(stateMachineArn=machine["stateMachineArn"],  # type: ignore[attr-defined]
                                  input=input_text)["executionArn"]


def _message(err: Exception) -> str:
    response = getattr(err, "response", None)
    if response:
        return f"{response['Error'].get('Code')}: {response['Error'].get('Message')}"
    return str(err)
