"""`drydock approve ID`: approve a model version waiting for a person (SendTaskSuccess {"Decision": "Approved"}).

The ID is one `drydock approvals` lists (a unique prefix will do). See harness/commands/approvals.py.
"""
from __future__ import annotations

import argparse

from harness.commands.approvals import add_common, guarded

NAME = "approve"
HELP = "Approve a pending model approval request (SendTaskSuccess)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("id", help="the approval's ID (as `drydock approvals` lists it)")
    parser.add_argument("--comment", default="", help="recorded with the decision (ApprovalDescription)")
    add_common(parser)


def run(args: argparse.Namespace) -> int:
    def approve(approvals) -> int:
        done = approvals.approve(args.id, comment=args.comment)
        print(f"drydock approve: {done.id} approved ({done.model_package_arn}); the workflow deploys it")
        return 0
    return guarded(NAME, args, approve)
