"""`drydock invoke ENDPOINT --body CSV`: send rows to an endpoint through a drydock endpoint and print the predictions.

sagemaker-runtime InvokeEndpoint against `drydock serve`, as `aws sagemaker-runtime invoke-endpoint` would send it.
Predictions print one per line whether the model answers CSV or JSON (`{"predictions": [...]}`, with numbers or
`{"score": ...}` items); `--raw` prints the body as the model returned it.
Exit codes: 0 answered, 1 the model failed (ModelError), 2 no such endpoint, no endpoint URL, or unusable input.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from botocore.exceptions import ClientError, EndpointConnectionError

from harness.cloud import DEFAULT_REGION, LocalCloud, RealAwsRequestBlocked

NAME = "invoke"
HELP = "Send a request to a SageMaker endpoint (InvokeEndpoint) through a drydock endpoint and print the predictions."
DEFAULT_ENDPOINT = "http://127.0.0.1:4566"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("endpoint", metavar="ENDPOINT", help="the SageMaker endpoint's name")
    parser.add_argument("--body", required=True,
                        help="the request: CSV rows (features only, one row per line), @PATH to read a file, or - "
                             "for standard input")
    parser.add_argument("--content-type", default="text/csv", help="the body's content type (default text/csv)")
    parser.add_argument("--accept", help="the response content type to ask for (default: the model's)")
    parser.add_argument("--variant", help="send to this production variant (TargetVariant)")
    parser.add_argument("--raw", action="store_true", help="print the response body as it is")
    parser.add_argument("--endpoint-url", default=os.environ.get("AWS_ENDPOINT_URL") or DEFAULT_ENDPOINT,
                        help=f"drydock serve's URL (default $AWS_ENDPOINT_URL or {DEFAULT_ENDPOINT})")
    parser.add_argument("--region", default=os.environ.get("AWS_DEFAULT_REGION", DEFAULT_REGION),
                        help="the endpoint's region (default $AWS_DEFAULT_REGION or us-east-1)")


def run(args: argparse.Namespace) -> int:
    try:
        body = read_body(args.body)
    except OSError as err:
        print(f"drydock invoke: cannot read the body: {err}", file=sys.stderr)
        return 2
    params = {"EndpointName": args.endpoint, "Body": body, "ContentType": args.content_type}
    params.update({k: v for k, v in (("Accept", args.accept), ("TargetVariant", args.variant)) if v})
    try:
        response = LocalCloud(args.endpoint_url, region=args.region).client("sagemaker-runtime").invoke_endpoint(
            **params)
    except ClientError as err:
        error = err.response["Error"]
        code, message = error.get("Code"), error.get("Message")
        if code == "ValidationError" and "not found" in (message or ""):
            print(f"drydock invoke: no endpoint named {args.endpoint} in {args.region} at {args.endpoint_url} "
                  f"({message}); `aws --endpoint-url {args.endpoint_url} sagemaker list-endpoints` lists them",
                  file=sys.stderr)
            return 2
        print(f"drydock invoke: {code}: {message}", file=sys.stderr)
        return 1 if code == "ModelError" else 2
    except EndpointConnectionError:
        print(f"drydock invoke: nothing answers at {args.endpoint_url}; is `drydock serve` running?", file=sys.stderr)
        return 2
    except (RealAwsRequestBlocked, OSError) as err:
        print(f"drydock invoke: {err}", file=sys.stderr)
        return 2
    answer = response["Body"].read()
    text = answer.decode("utf-8", "replace")
    lines = text.rstrip("\n").splitlines() if args.raw else predictions(text, response.get("ContentType", ""))
    for line in lines:
        print(line)
    return 0


def read_body(value: str) -> bytes:
    if value == "-":
        return sys.stdin.buffer.read()
    if value.startswith("@"):
        return Path(value[1:]).read_bytes()
    return value.replace("\\n", "\n").encode()


def predictions(text: str, content_type: str) -> list[str]:
    """One prediction per line, from CSV or from the JSON shapes SageMaker's containers answer with."""
    if "json" not in content_type:
        return text.rstrip("\n").splitlines()
    try:
        document = json.loads(text)
    except ValueError:
        return text.rstrip("\n").splitlines()
    items = document.get("predictions", document) if isinstance(document, dict) else document
    if not isinstance(items, list):
        return [json.dumps(items)]
    lines = []
    for item in items:
        if isinstance(item, dict) and len(item) == 1:
            item = next(iter(item.values()))  # {"score": 0.42}
        lines.append(",".join(str(v) for v in item) if isinstance(item, list) else
                     str(item) if isinstance(item, (int, float, str)) else json.dumps(item))
    return lines
