"""`drydock run FILE`: run a state machine to completion locally and show what happened.

`--json` prints the machine-readable contract `{"status","output","error","cause","events"}`
(output and event fields as the AWS API returns them); without it, each state is shown live as it
is entered and exited (virtual and wall durations), then a summary table per state. `--break STATE`
pauses before STATE (`asl.breakpoints`): continue, step to the next state, or edit the input.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
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
    parser.add_argument("--break", dest="breaks", action="append", default=[], metavar="STATE",
                        help="pause before STATE (repeatable; states in Map/Parallel bodies too): show its input, "
                             "then [c]ontinue, [s]tep to the next state or [e]dit the input ($EDITOR, else a prompt)")
    parser.add_argument("--history", action="store_true", help="also print the full event history table")
    parser.add_argument("--mock-config", metavar="FILE",
                        help="Step Functions Local's MockConfigFile: mocked responses and injected faults")
    parser.add_argument("--test-case", metavar="[MACHINE#]CASE",
                        help="the test case of --mock-config to run (MACHINE may be left out when the file has "
                             "one state machine); the execution runs as that state machine")


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
    from asl.breakpoints import Breakpoints, iter_states, unknown_states

    missing = unknown_states(definition, args.breaks)
    if missing:
        known = ", ".join(sorted({name for _, name, _ in iter_states(definition)})) or "none"
        for name in missing:
            print(f"drydock run: --break {name}: {args.file} has no state named {name!r} (its states: {known})",
                  file=sys.stderr)
        return 2
    from rich.console import Console

    from asl.engine import Engine
    from harness.local_run import local_handlers

    console = Console(stderr=args.json, highlight=False)
    try:
        mocks, machine, case = _mocks(args)
    except ValueError as err:
        print(f"drydock run: {err}", file=sys.stderr)
        return 2
    handlers, cloud = local_handlers(mocks)
    engine = Engine(handlers, seed=args.seed, region=getattr(cloud, "region", "us-east-1"),
                    account=getattr(cloud, "account", "123456789012"))
    if args.breaks:
        Breakpoints(args.breaks, on_pause=TerminalPause(console)).attach(engine)
    try:
        machine_arn = f"arn:aws:states:{engine.region}:{engine.account}:stateMachine:{machine}" if machine else None
        execution = engine.start(definition, input_text, name=args.name, state_machine_arn=machine_arn)
        if mocks is not None:
            mocks.bind(execution.arn, machine or "drydock", case, definition)
    except DefinitionError as err:
        for d in err.diagnostics:
            print(f"{args.file}: {d.code} at {d.location or '/'}: {d.message}", file=sys.stderr)
        return 2
    progress = None
    if not args.json:
        progress = Progress(console)
        for event in execution.history.events:  # ExecutionStarted, emitted by start
            progress(event)
        execution.history.listeners.append(progress)
    engine.run_to_completion(execution)
    result = execution.result()
    result["events"] = jsonable_events(result["events"])
    if args.json:
        print(json.dumps(result, indent=1, default=str))
    else:
        if args.history:
            print_history(result, console)
        assert progress is not None
        progress.summary(result)
    return 0 if result["status"] == "SUCCEEDED" else 1


def _mocks(args: argparse.Namespace) -> tuple[Any, str | None, str | None]:
    """--mock-config and --test-case: the loaded configuration, the state machine and the test case.

    Raises:
        ValueError: an unreadable or invalid file, a test case it does not have, or one option without the other.
    """
    if not args.mock_config:
        if args.test_case:
            raise ValueError("--test-case needs --mock-config FILE")
        return None, None, None
    from harness.mock_config import MockConfig, MockConfigError

    try:
        mocks = MockConfig.load(Path(args.mock_config))
    except (OSError, ValueError, MockConfigError) as err:
        raise ValueError(f"cannot load the mock configuration {args.mock_config}: {err}") from None
    if not args.test_case:
        raise ValueError(f"--mock-config needs --test-case naming one of its test cases "
                         f"({', '.join(f'{m}#{c}' for m, cases in mocks.test_cases.items() for c in cases) or 'none'})")
    machine, sep, case = args.test_case.rpartition("#")
    if not sep:
        if len(mocks.test_cases) != 1:
            raise ValueError(f"--test-case {case}: {args.mock_config} has {len(mocks.test_cases)} state machines; "
                             f"say which: MACHINE#{case}")
        machine = next(iter(mocks.test_cases))
    if case not in mocks.test_cases.get(machine, {}):
        raise ValueError(f"{args.mock_config} has no test case {case!r} for state machine {machine!r}")
    return mocks, machine, case


# --------------------------------------------------------------------------- live progress
class Progress:
    """A `History` listener that prints each state as it is entered and exited, with its durations
    (virtual: the execution's clock; wall: what running it took here). States of Map iterations and
    Parallel branches are indented under their Map or Parallel (`harness.visits`)."""

    def __init__(self, console: Any):
        from harness.visits import Tracker

        self.console = console
        self.tracker = Tracker()
        self._start: float | None = None

    @property
    def visits(self) -> list[Any]:
        return self.tracker.visits

    def __call__(self, event: dict[str, Any]) -> None:
        from rich.markup import escape

        from harness.visits import FAILURES, details_of, seconds

        virtual = seconds(event["timestamp"])
        if self._start is None:
            self._start = virtual
        visit = self.tracker.add(event, time.perf_counter())
        kind = event["type"]
        t = f"[dim]t+{_elapsed(virtual - self._start):>6}[/]"
        if visit is not None and kind.endswith("StateEntered"):
            self.console.print(f"{t} {'  ' * visit.depth}[cyan]→[/] {escape(visit.name)} [dim]({visit.type})[/]")
        elif visit is not None and kind.endswith("StateExited"):
            colour = "green" if visit.outcome == "ok" else "yellow"
            notes = " · error caught" if visit.outcome == "caught" else ""
            if visit.failures and visit.outcome == "ok":
                notes += f" · {visit.failures} failed attempt{'s' if visit.failures > 1 else ''} retried"
            self.console.print(f"{t} {'  ' * visit.depth}[{colour}]←[/] {escape(visit.name)} [dim]virtual "
                               f"{_duration(visit.virtual_seconds)} · wall {_duration(visit.wall_seconds)}{notes}[/]")
        elif kind in FAILURES:
            details = details_of(event)
            error, cause = details.get("error"), details.get("cause")
            depth = visit.depth + 1 if visit is not None else 0
            self.console.print(f"{t} {'  ' * depth}[red]✗ {kind}[/]" + (f" {escape(str(error))}" if error else "")
                               + (f" [dim]{escape(str(cause)[:160])}[/]" if cause else ""))

    def summary(self, result: dict[str, Any]) -> None:
        """The final table: one row per state with entries, virtual and wall time, and outcome."""
        from rich.markup import escape
        from rich.table import Table

        rows: dict[str, dict[str, Any]] = {}
        for visit in self.visits:
            row = rows.setdefault(visit.name, {"type": visit.type, "entered": 0, "virtual": 0.0, "wall": 0.0,
                                               "outcomes": {}})
            row["entered"] += 1
            row["virtual"] += visit.virtual_seconds or 0.0
            row["wall"] += visit.wall_seconds or 0.0
            row["outcomes"][visit.outcome] = row["outcomes"].get(visit.outcome, 0) + 1
        table = Table(title="States")
        for column, justify in (("state", "left"), ("type", "left"), ("entered", "right"), ("virtual", "right"),
                                ("wall", "right"), ("outcome", "left")):
            table.add_column(column, justify=justify)  # type: ignore[arg-type]
        for name, row in rows.items():
            outcome = ", ".join(k if n == 1 and row["entered"] == 1 else f"{k}×{n}" for k, n in row["outcomes"].items())
            colour = "red" if "failed" in row["outcomes"] else "yellow" if "caught" in row["outcomes"] else "green"
            table.add_row(escape(name), row["type"], str(row["entered"]), _duration(row["virtual"]),
                          _duration(row["wall"]), f"[{colour}]{outcome}[/]")
        self.console.print(table)
        colour = "green" if result["status"] == "SUCCEEDED" else "red"
        self.console.print(f"[bold {colour}]{result['status']}[/]")
        if result["status"] == "SUCCEEDED":
            self.console.print(f"output: {escape(str(result['output']))}", soft_wrap=True)
        else:
            self.console.print(f"error: {escape(str(result['error']))}\ncause: {escape(str(result['cause']))}",
                               soft_wrap=True)


# --------------------------------------------------------------------------- breakpoints in a terminal
class TerminalPause:
    """Answers a breakpoint from the terminal: shows the state's input, reads c / s / e."""

    def __init__(self, console: Any, read_line: Any = None):
        self.console = console
        self.read_line = read_line or (lambda prompt: console.input(prompt))

    def __call__(self, pause: Any) -> Any:
        from rich.markup import escape

        from asl.breakpoints import CONTINUE, STEP, Edit

        why = "breakpoint" if pause.reason == "break" else "step"
        self.console.print(f"[bold yellow]⏸ paused before {escape(pause.state)}[/] [dim]({pause.type}, {why})[/]")
        self.console.print(f"input: {escape(json.dumps(pause.input, indent=2, ensure_ascii=False))}")
        value = pause.input
        edited = False
        while True:
            try:
                answer = self.read_line(escape("[c]ontinue, [s]tep, [e]dit input > ")).strip().lower()
            except EOFError:
                self.console.print("[dim](no terminal input: continuing)[/]")
                answer = "c"
            if answer in ("c", "continue", ""):
                return Edit(value, CONTINUE) if edited else CONTINUE
            if answer in ("s", "step"):
                return Edit(value, STEP) if edited else STEP
            if answer in ("e", "edit"):
                new = self._edit(value)
                if new is not _UNCHANGED:
                    value, edited = new, True
                    self.console.print(f"new input: {escape(json.dumps(value, ensure_ascii=False))}")
                continue
            self.console.print(f"[red]unknown answer {escape(answer)!r}[/]: c, s or e")

    def _edit(self, value: Any) -> Any:
        editor = os.environ.get("VISUAL") or os.environ.get("EDITOR")
        if editor:
            with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
                json.dump(value, f, indent=2, ensure_ascii=False)
                path = f.name
            try:
                subprocess.run([*shlex.split(editor), path], check=False)
                text = Path(path).read_text()
            finally:
                os.unlink(path)
        else:
            try:
                text = self.read_line("new input (JSON, one line) > ")
            except EOFError:
                return _UNCHANGED
        try:
            return json.loads(text)
        except json.JSONDecodeError as err:
            self.console.print(f"[red]not JSON ({err.msg} at column {err.colno}): input unchanged[/]")
            return _UNCHANGED


_UNCHANGED = object()


# --------------------------------------------------------------------------- formatting
def _seconds(timestamp: str) -> float:
    import datetime as dt

    return dt.datetime.fromisoformat(timestamp).timestamp()


def _elapsed(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds == 0:
        return "0s"
    if seconds < 1:
        return f"{seconds * 1000:.1f}ms"
    if seconds < 120:
        return f"{seconds:.1f}s"
    return _elapsed(seconds)


def _compact(value: Any) -> str:
    """JSON text fields shown as JSON, not as escaped strings."""
    if isinstance(value, str):
        try:
            return json.dumps(json.loads(value), ensure_ascii=False, separators=(",", ":"))
        except ValueError:
            return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def print_history(result: dict[str, Any], console: Any = None) -> None:
    from rich.console import Console
    from rich.markup import escape
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
                      _elapsed(_seconds(event["timestamp"]) - start), event["type"], escape(state),
                      escape(text if len(text) <= 200 else text[:197] + "..."))
    console = console or Console()
    console.print(table)
