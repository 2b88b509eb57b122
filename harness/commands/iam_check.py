"""`drydock iam-check TEMPLATE`: the IAM permissions each state machine's role lacks, before any run.

For every state machine of a CloudFormation template, the role it runs as (RoleArn: `!GetAtt Role.Arn`
and the like, or SAM's Policies) is read with its inline, attached and standalone policies, and checked
against every integration call of the definition (`harness.iam.check`). Each finding names the state,
the IAM action and the resource ARN, at the template line of the state. Exit codes: 0 nothing missing,
1 findings, 2 unusable input (unreadable template, no state machine, a role the template does not declare).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from asl.errors import LoadError
from harness.cfn import load_template, state_machines
from harness.cfn.template import ACCOUNT, REGION
from harness.iam.check import Finding, check, needs
from harness.iam.policy import PolicyError, TemplateRoles

NAME = "iam-check"
HELP = "List the IAM permissions a template's state machine roles lack for their integration calls."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("template", help="a CloudFormation (or SAM) template, JSON or YAML")
    parser.add_argument("--json", action="store_true", help="print the findings as JSON")


def run(args: argparse.Namespace) -> int:
    try:
        text = Path(args.template).read_text(encoding="utf-8")
        template = load_template(text, args.template)
        roles = TemplateRoles(template)
    except OSError as exc:
        print(f"{args.template}: cannot read: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except (LoadError, UnicodeDecodeError) as exc:
        print(str(exc) if isinstance(exc, LoadError) else f"{args.template}: not UTF-8 text: {exc}", file=sys.stderr)
        return 2
    except PolicyError as exc:
        print(f"{args.template}: {exc}", file=sys.stderr)
        return 2
    machines = [m for m in state_machines(template) if m.definition is not None]
    if not machines:
        print(f"{args.template}: no state machine with a readable inline definition in this template", file=sys.stderr)
        return 2
    resources = template.body["Resources"]
    report: list[dict[str, Any]] = []
    lines: list[str] = []
    checked = 0
    for machine in machines:
        properties = resources[machine.logical_id].get("Properties") or {}
        try:
            role = roles.for_state_machine(machine.logical_id, properties)
        except PolicyError as exc:
            print(f"{args.template}: {machine.logical_id}: {exc}", file=sys.stderr)
            return 2
        if role is None:
            shown = json.dumps(properties.get("RoleArn", properties.get("Role")))
            print(f"{args.template}: {machine.logical_id}: its role ({shown}) is not declared in this template, so "
                  f"its policies cannot be read", file=sys.stderr)
            return 2
        name = properties.get("StateMachineName") if isinstance(properties.get("StateMachineName"), str) \
            else machine.logical_id
        arn = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}"
        checked += len(needs(machine.definition, region=REGION, account=ACCOUNT, state_machine_arn=arn))
        findings = check(machine.definition, role, region=REGION, account=ACCOUNT, state_machine_arn=arn,
                         roles=roles.lookup)
        for note in role.notes:
            lines.append(f"{args.template}: note: role {role.name}: {note}")
        for finding in findings:
            line, column = machine.position(finding.location)
            lines.append(_text(args.template, line, column, machine.logical_id, role.name, finding))
            report.append({"stateMachine": machine.logical_id, "role": role.name, "line": line, "column": column,
                           **finding.to_json()})
    if args.json:
        print(json.dumps({"result": "FAIL" if report else "OK", "findings": report}, indent=2))
    else:
        count = f"{len(machines)} state machine{'s' if len(machines) != 1 else ''}"
        if report:
            lines.append(f"{args.template}: {len(report)} missing permission(s) in {count}")
        else:
            lines.append(f"{args.template}: OK ({checked} permission(s) checked in {count})")
        print("\n".join(lines))
    return 1 if report else 0


def _text(source: str, line: int, column: int, machine: str, role: str, finding: Finding) -> str:
    why = {"explicit-deny": "explicitly denied", "boundary-deny": "outside the permissions boundary"}.get(
        finding.reason, "not allowed")
    when = {"sync": " (while the .sync task waits)", "stop": " (when the execution is stopped)"}.get(finding.phase, "")
    note = f" [{finding.note}]" if finding.note else ""
    return (f"{source}:{line}:{column}: {machine} {finding.location}: {finding.action} on {finding.resource} is {why} "
            f"for role {role}{when}{note}")
