"""`drydock validate FILE`: every problem of a state machine definition, before anything runs.

Mirrors ValidateStateMachineDefinition (same codes, messages and `--json` shape) and adds what the
API cannot: the file line and column of each finding, for a bare definition (JSON or YAML) or for
each state machine of a CloudFormation template; drydock's own findings (`harness.lint`: DRYDOCK_*
codes, for definitions AWS accepts that cannot work); and a "suggestion:" with the fix for each
finding. Exit codes: 0 clean, 1 findings, 2 unusable input.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from asl.errors import Diagnostic, LoadError
from asl.load import Position, load_definition, load_document
from asl.validate import validate
from harness.cfn import Template, TemplateLoader, is_template, state_machines
from harness.lint import Advice, lint, suggest

NAME = "validate"
HELP = "Check a state machine definition (JSON/YAML) or a CloudFormation template, as AWS would."


@dataclass(frozen=True)
class Finding:
    """A diagnostic with its place in the file and, for templates, the state machine it is about."""

    diagnostic: Diagnostic
    line: int
    column: int
    state_machine: str | None = None
    suggestion: str | None = None

    def to_json(self) -> dict[str, Any]:
        place = {"line": self.line, "column": self.column}
        machine = {"stateMachine": self.state_machine} if self.state_machine else {}
        fix = {"suggestion": self.suggestion} if self.suggestion else {}
        return {**self.diagnostic.to_api(), **place, **machine, **fix}

    def to_text(self, source: str) -> str:
        where = self.diagnostic.location or "/"
        if self.state_machine:
            where = f"{where} in {self.state_machine}"
        text = f"{source}:{self.line}:{self.column}: {self.diagnostic.code}: {self.diagnostic.message} (at {where})"
        return text + (f"\n    suggestion: {self.suggestion}" if self.suggestion else "")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="an ASL definition (.json/.yaml) or a CloudFormation template")
    parser.add_argument("--json", action="store_true", help="print the result as ValidateStateMachineDefinition does")


def run(args: argparse.Namespace) -> int:
    try:
        text = Path(args.file).read_text(encoding="utf-8")
        findings, checked = check_text(text, args.file)
    except OSError as exc:
        print(f"{args.file}: cannot read: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except (LoadError, UnicodeDecodeError) as exc:
        print(str(exc) if isinstance(exc, LoadError) else f"{args.file}: not UTF-8 text: {exc}", file=sys.stderr)
        return 2
    if not checked:
        print(f"{args.file}: no state machine with an inline definition in this template", file=sys.stderr)
        return 2
    print(_json_report(findings) if args.json else _text_report(findings, args.file, checked))
    return 1 if findings else 0


def check_text(text: str, source: str) -> tuple[list[Finding], int]:
    """Findings for a definition or template text, sorted by place, and how many definitions were checked.

    Raises:
        LoadError: the text is neither JSON nor YAML.
    """
    document, source_map = load_document(text, source, TemplateLoader)
    if is_template(document):
        return _check_template(Template(document, source_map, text))
    definition, source_map = load_definition(text, source)
    return _located(_advised(definition, _checked(definition), text), source_map.nearest), 1


def _check_template(template: Template) -> tuple[list[Finding], int]:
    machines = state_machines(template)
    findings = []
    for machine in machines:
        findings += [Finding(d, line, column, machine.logical_id,
                             suggest(d, machine.definition, text=machine.text, line_offset=machine.line_offset))
                     for d, (line, column) in machine.problems]
        if machine.definition is not None:
            advised = _advised(machine.definition, _checked(machine.definition), machine.text, machine.line_offset)
            findings += _located(advised, machine.position, machine.logical_id)
    return sorted(findings, key=lambda f: (f.line, f.column)), len(machines)


def _checked(definition: Any) -> list[Diagnostic]:
    """The definition's findings, and those of Task resources AWS does not offer (as CreateStateMachine reports)."""
    from harness.integrations.catalog import check_resources

    return validate(definition) + check_resources(definition)


def _advised(definition: Any, diagnostics: list[Diagnostic], text: str, line_offset: int | None = None) -> list[Advice]:
    """AWS's findings with drydock's suggestion for each, then drydock's own findings (`harness.lint`)."""
    advised = [Advice(d, suggest(d, definition, text=text, line_offset=line_offset)) for d in diagnostics]
    return advised + lint(definition)


def _located(advice: list[Advice], place: Callable[[str], Position | None],
             state_machine: str | None = None) -> list[Finding]:
    findings = [Finding(a.diagnostic, *(place(a.diagnostic.location) or (1, 1)), state_machine, a.suggestion)
                for a in advice]
    return sorted(findings, key=lambda f: (f.line, f.column))


def _text_report(findings: list[Finding], source: str, checked: int) -> str:
    lines = [finding.to_text(source) for finding in findings]
    machines = f"{checked} state machines" if checked != 1 else "1 state machine"
    if findings:
        errors = sum(f.diagnostic.severity == "ERROR" for f in findings)
        lines.append(f"{source}: {errors} error(s), {len(findings) - errors} warning(s) in {machines}")
    else:
        lines.append(f"{source}: OK ({machines})")
    return "\n".join(lines)


def _json_report(findings: list[Finding]) -> str:
    failed = any(f.diagnostic.severity == "ERROR" for f in findings)
    report = {"result": "FAIL" if failed else "OK", "diagnostics": [f.to_json() for f in findings], "truncated": False}
    return json.dumps(report, indent=2)
