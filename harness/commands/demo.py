"""`drydock demo`: the flagship scenario end to end on the default backend (process, in-process moto).

Until the churn pipeline is wired in, it runs the example state machine in `examples/hello`.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from asl.load import load_definition
from harness.commands.run import print_history
from harness.conformance import jsonable_events
from harness.local_run import run_locally

NAME = "demo"
HELP = "Run drydock's demo scenario end to end and print a summary"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "hello"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--example", default=str(EXAMPLE), help="example folder with definition.json and input.json")


def run(args: argparse.Namespace) -> int:
    folder = Path(args.example)
    definition, _ = load_definition((folder / "definition.json").read_text(), source=str(folder / "definition.json"))
    started = time.perf_counter()
    execution = run_locally(definition, (folder / "input.json").read_text())
    wall = time.perf_counter() - started
    result = execution.result()
    result["events"] = jsonable_events(result["events"])
    print_history(result)
    simulated = (execution.stop or execution.start) - execution.start
    print(f"{len(result['events'])} events, {simulated:.0f} s of simulated time in {wall:.3f} s of wall time")
    return 0 if execution.status == "SUCCEEDED" else 1
