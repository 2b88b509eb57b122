"""`drydock task succeed|fail|heartbeat TOKEN`: answer a waiting task by hand, through a drydock endpoint.

What a human approver or a test script does with the token a `.waitForTaskToken` task or an
activity handed out: SendTaskSuccess, SendTaskFailure or SendTaskHeartbeat against `drydock serve`.
Exit codes: 0 sent, 1 refused by the API (InvalidToken, TaskDoesNotExist, TaskTimedOut, ...), 2 no endpoint.
"""
from __future__ import annotations

import argparse
import os

from botocore.exceptions import ClientError

from harness.cloud import DEFAULT_REGION, LocalCloud
from harness.cloud_errors import CLOUD_ERRORS, report
from harness.commands.run import read_input

NAME = "task"
HELP = "Answer a task token (SendTaskSuccess/Failure/Heartbeat) through a drydock endpoint."
DEFAULT_ENDPOINT = "http://127.0.0.1:4566"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("token", help="the task token")
    common.add_argument("--endpoint", default=DEFAULT_ENDPOINT, help=f"drydock serve's URL (default {DEFAULT_ENDPOINT})")
    common.add_argument("--region", default=os.environ.get("AWS_DEFAULT_REGION", DEFAULT_REGION),
                        help="region of the execution (default $AWS_DEFAULT_REGION or us-east-1)")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    succeed = actions.add_parser("succeed", parents=[common], help="SendTaskSuccess: the task returns --output")
    succeed.add_argument("--output", required=True, help="the task's result: JSON text, or @PATH to read it from a file")
    fail = actions.add_parser("fail", parents=[common], help="SendTaskFailure: the task fails with --error/--cause")
    fail.add_argument("--error", help="error name the state's Retry/Catch match on")
    fail.add_argument("--cause", help="human-readable cause")
    actions.add_parser("heartbeat", parents=[common], help="SendTaskHeartbeat: the task is still being worked on")


def run(args: argparse.Namespace) -> int:
    try:
        client = LocalCloud(args.endpoint, region=args.region).client("stepfunctions")
        if args.action == "succeed":
            client.send_task_success(taskToken=args.token, output=read_input(args.output))
        elif args.action == "fail":
            client.send_task_failure(taskToken=args.token, **{k: v for k, v in (("error", args.error),
                                                                             ("cause", args.cause)) if v is not None})
        else:
            client.send_task_heartbeat(taskToken=args.token)
    except CLOUD_ERRORS as err:
        report(f"task {args.action}", err, args.endpoint)
        return 1 if isinstance(err, ClientError) else 2  # the service refused the token, or nothing was reached
    print(f"drydock task {args.action}: sent for token {args.token[:16]}...")
    return 0
