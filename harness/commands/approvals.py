"""`drydock approvals`: the model approval requests waiting for a person, with the model's metrics.

Requests reach drydock through its inbox, an SQS queue subscribed to the workflow's approval topic
(`--subscribe TOPIC_ARN`, once, before the workflow asks); they are kept in a small store
(`.drydock/approvals.json`, or `--store`/$DRYDOCK_APPROVALS) that `drydock approve ID` and
`drydock reject ID --reason TEXT` (harness/commands/approve.py, reject.py) answer from, through the Step
Functions API of `drydock serve` (`--endpoint`). `--serve` opens the same list as a web page on loopback,
with Approve and Reject buttons. Exit codes: 0 done, 1 an approval that cannot be found or answered,
2 no endpoint or unusable arguments. See `harness.approvals`.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Callable

from harness.approvals import INBOX_QUEUE, Approval, ApprovalError, Approvals, ApprovalStore, Inbox

NAME = "approvals"
HELP = "List the model approval requests waiting for an answer (--serve: a web page with Approve/Reject)."
DEFAULT_ENDPOINT = "http://127.0.0.1:4566"
DEFAULT_STORE = ".drydock/approvals.json"
PREFERRED_METRICS = ("auc", "f1", "precision", "recall", "accuracy")
MAX_METRIC_COLUMNS = 6


def add_common(parser: argparse.ArgumentParser) -> None:
    """The options every approvals command takes: where the API, the inbox and the store are."""
    parser.add_argument("--endpoint", default=os.environ.get("AWS_ENDPOINT_URL") or DEFAULT_ENDPOINT,
                        help=f"drydock serve's URL (default $AWS_ENDPOINT_URL or {DEFAULT_ENDPOINT})")
    parser.add_argument("--region", default=os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
                        help="region of the workflow (default $AWS_DEFAULT_REGION or us-east-1)")
    parser.add_argument("--store", default=os.environ.get("DRYDOCK_APPROVALS") or DEFAULT_STORE,
                        help=f"file of the approvals seen so far (default $DRYDOCK_APPROVALS or {DEFAULT_STORE})")
    parser.add_argument("--queue", default=INBOX_QUEUE, help=f"the inbox queue (default {INBOX_QUEUE})")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common(parser)
    parser.add_argument("--subscribe", metavar="TOPIC_ARN", action="append", default=[],
                        help="subscribe the inbox to an approval topic (repeatable; again is harmless)")
    parser.add_argument("--all", action="store_true", help="also list answered and expired requests")
    parser.add_argument("--json", action="store_true", help="print the requests as JSON")
    parser.add_argument("--serve", action="store_true", help="serve the list as a web page on loopback")
    parser.add_argument("--port", type=int, default=8766, help="port of the web page (default 8766; 0: any free)")


def approver(args: argparse.Namespace) -> Approvals:
    """The approver the arguments describe: inbox and Step Functions at --endpoint, store at --store."""
    from harness.cloud import LocalCloud

    cloud = LocalCloud(args.endpoint, region=args.region)
    return Approvals(Inbox(cloud, args.queue), ApprovalStore(args.store), cloud.client("stepfunctions"))


def guarded(command: str, args: argparse.Namespace, body: Callable[[Approvals], int]) -> int:
    """Run `body` with the approver, turning the ways it fails into a message and an exit code."""
    from botocore.exceptions import ClientError, EndpointConnectionError

    from harness.cloud import RealAwsRequestBlocked

    try:
        return body(approver(args))
    except ApprovalError as err:
        print(f"drydock {command}: {err}", file=sys.stderr)
        return 1
    except EndpointConnectionError:
        print(f"drydock {command}: nothing answers at {args.endpoint}; is `drydock serve` running?", file=sys.stderr)
        return 2
    except ClientError as err:
        error = err.response.get("Error", {})
        print(f"drydock {command}: {error.get('Code')}: {error.get('Message')}", file=sys.stderr)
        return 2
    except (RealAwsRequestBlocked, OSError) as err:
        print(f"drydock {command}: {err}", file=sys.stderr)
        return 2


def run(args: argparse.Namespace) -> int:
    return guarded(NAME, args, lambda approvals: _run(approvals, args))


def _run(approvals: Approvals, args: argparse.Namespace) -> int:
    for topic in args.subscribe:
        approvals.inbox.subscribe(topic)
        print(f"drydock approvals: inbox {args.queue} subscribed to {topic}")
    if args.serve:
        return _serve(approvals, args)
    listed = approvals.all() if args.all else approvals.pending()
    if args.json:
        print(json.dumps([a.to_json() for a in listed], indent=2))
        return 0
    if listed:
        print(table(listed))
        if any(a.status == "PENDING" for a in listed):
            print("\nanswer: drydock approve ID [--comment TEXT]   or   drydock reject ID --reason TEXT")
        return 0
    topics = approvals.inbox.topics()
    which = "pending " if not args.all else ""
    if topics:
        print(f"no {which}approval requests (inbox {args.queue} is subscribed to {', '.join(topics)})")
    else:
        print(f"no {which}approval requests, and inbox {args.queue} is subscribed to no topic: run `drydock approvals "
              f"--subscribe <approval topic ARN>` before the workflow asks (SNS keeps nothing for late subscribers)")
    return 0


def table(approvals: list[Approval]) -> str:
    """The requests as a text table: ID, model package and version, metrics, received time, status."""
    names: list[str] = []
    for approval in approvals:
        names += [n for n in approval.scores if n not in names]
    names.sort(key=lambda n: (PREFERRED_METRICS.index(n.lower()) if n.lower() in PREFERRED_METRICS else 99, n))
    names = names[:MAX_METRIC_COLUMNS]
    header = ["ID", "MODEL PACKAGE", "VERSION", *[n.upper() for n in names], "RECEIVED", "STATUS"]
    rows = [header]
    for a in approvals:
        scores = a.scores
        rows.append([a.id, a.model_package_arn or "-", _text(a.model_package_version),
                     *[f"{scores[n]:.4f}" if n in scores else "-" for n in names],
                     a.to_json()["receivedIso"] or "-", a.status])
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows)


def _text(value: Any) -> str:
    return "-" if value is None else str(value)


def _serve(approvals: Approvals, args: argparse.Namespace) -> int:
    from harness.approvals import make_server
    from harness.web import serve_page

    return serve_page("approvals", lambda: make_server(approvals, "127.0.0.1", args.port), "127.0.0.1", args.port,
                      f"answers through {args.endpoint}")
