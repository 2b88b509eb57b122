"""`drydock reject ID --reason TEXT`: reject a model version (SendTaskFailure, error ModelRejected, the reason as cause).

The ID is one `drydock approvals` lists (a unique prefix will do). See harness/commands/approvals.py.
"""
from __future__ import annotations

import argparse

from harness.commands.approvals import add_common, guarded

NAME = "reject"
HELP = "Reject a pending model approval request (SendTaskFailure ModelRejected)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("id", help="the approval's ID (as `drydock approvals` lists it)")
    parser.add_argument("--reason", required=True, help="why: the workflow records it on the model package")
    add_common(parser)


def run(args: argparse.Namespace) -> int:
    def reject(approvals) -> int:
        done = approvals.reject(args.id, args.reason)
        print(f"drydock reject: {done.id} rejected ({done.model_package_arn}): {args.reason}")
        return 0
    return guarded(NAME, args, reject)
