"""`drydock deploy TEMPLATE`: create a CloudFormation template's resources in `drydock serve` (harness.cfn.deploy).

What `aws cloudformation deploy` does on AWS, against the local endpoint: IAM roles and policies, S3 buckets (with
EventBridge notifications), SNS topics, SQS queues, Lambda functions (a local `Code` directory is zipped as
`aws cloudformation package` would upload it), EventBridge rules and targets, and state machines through the Step
Functions API with DefinitionSubstitutions filled in. `--subscribe-approvals` subscribes drydock's approvals inbox
(`drydock approvals`) to each topic a state machine sends approval requests to. Prints the resources and Outputs.
Exit codes: 0 deployed, 1 the template cannot be deployed (the message names the resource), 2 no endpoint.
"""
from __future__ import annotations

import argparse
import os
import sys

from botocore.exceptions import EndpointConnectionError

from harness.cloud import DEFAULT_REGION, LocalCloud, RealAwsRequestBlocked

NAME = "deploy"
HELP = "Create a CloudFormation template's resources in drydock serve (roles, buckets, topics, Lambda, rules, " \
       "state machines)"
DEFAULT_ENDPOINT = "http://127.0.0.1:4566"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("template", metavar="TEMPLATE", help="a CloudFormation template (YAML or JSON)")
    parser.add_argument("--parameter", action="append", default=[], metavar="KEY=VALUE",
                        help="a template parameter's value (repeatable)")
    parser.add_argument("--stack-name", default="drydock", help="AWS::StackName and the prefix of generated names")
    parser.add_argument("--subscribe-approvals", action="store_true",
                        help="subscribe drydock's approvals inbox to the state machines' approval topics")
    parser.add_argument("--endpoint-url", default=os.environ.get("AWS_ENDPOINT_URL") or DEFAULT_ENDPOINT,
                        help=f"drydock serve's URL (default $AWS_ENDPOINT_URL or {DEFAULT_ENDPOINT})")
    parser.add_argument("--region", default=os.environ.get("AWS_DEFAULT_REGION", DEFAULT_REGION))


def run(args: argparse.Namespace) -> int:
    from harness.cfn.deploy import DeployError, deploy

    parameters = {}
    for item in args.parameter:
        key, sep, value = item.partition("=")
        if not sep:
            print(f"drydock deploy: --parameter {item!r}: write KEY=VALUE", file=sys.stderr)
            return 2
        parameters[key] = value
    try:
        cloud = LocalCloud(args.endpoint_url, region=args.region)
        inbox = None
        if args.subscribe_approvals:
            from harness.approvals import Inbox

            inbox = Inbox(cloud)
        stack = deploy(cloud, args.template, parameters=parameters, stack_name=args.stack_name, inbox=inbox)
    except DeployError as err:
        print(f"drydock deploy: {err}", file=sys.stderr)
        return 1
    except (EndpointConnectionError, RealAwsRequestBlocked) as err:
        print(f"drydock deploy: nothing answers at {args.endpoint_url} ({err}); is `drydock serve` running?",
              file=sys.stderr)
        return 2
    for resource in stack.resources.values():
        print(f"{resource.logical_id:32} {resource.type:36} {resource.ref}")
    for name, value in stack.outputs.items():
        print(f"output {name} = {value}")
    for topic in stack.approval_topics:
        print(f"approval requests: {topic}" + (" (inbox subscribed)" if inbox is not None else ""))
    return 0
