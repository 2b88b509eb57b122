#!/usr/bin/env python3
"""API latency: StartExecution → SUCCEEDED for a 3-Lambda workflow, through boto3, drydock against moto.

drydock: a `drydock serve` subprocess on a free loopback port; the three Lambda functions really run
(their Python handlers, locally). moto: its own Step Functions interpreter
(`execute_state_machine`) in-process. moto can only *run* Lambda code in Docker containers pulled
from a registry, which is out of reach here, so its side uses moto's documented non-Docker Lambda
(`lambda: use_docker False`), which answers without running the handler: moto gets the easier job.

Prints the median and p90 latency of each and the ratio, then where drydock's milliseconds go: the same two
boto3 calls against a server that answers instantly with canned bytes (the client's own floor), the
StartExecution round trip, and a DescribeExecution of a finished execution (one API round trip).
Usage: benchmarks/api_latency.py [--runs 20]
"""
from __future__ import annotations

import argparse
import io
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
ROLE = "arn:aws:iam::123456789012:role/bench"  # the state machine's role
HANDLER = "def handler(event, context):\n    event['steps'] = event.get('steps', 0) + 1\n    return event\n"


def zipped(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", source)
    return buffer.getvalue()


def definition(function_arns: list[str]) -> str:
    names = [f"Step{i}" for i in range(len(function_arns))]
    states = {}
    for i, (name, arn) in enumerate(zip(names, function_arns)):
        states[name] = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                        "Parameters": {"FunctionName": arn, "Payload.$": "$"}, "OutputPath": "$.Payload"}
        if i + 1 < len(names):
            states[name]["Next"] = names[i + 1]
        else:
            states[name]["End"] = True
    return json.dumps({"StartAt": names[0], "States": states})


def setup(clients) -> str:
    lam, sfn = clients("lambda"), clients("stepfunctions")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                     "Action": "sts:AssumeRole"}]}
    iam = clients("iam")
    role = iam.create_role(RoleName="bench", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    # the state machine runs as this role too: it may invoke the functions (drydock checks, as AWS does)
    invoke = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "lambda:InvokeFunction",
                                                      "Resource": "arn:aws:lambda:*:*:function:bench-*"}]}
    iam.put_role_policy(RoleName="bench", PolicyName="invoke", PolicyDocument=json.dumps(invoke))
    arns = [lam.create_function(FunctionName=f"bench-{i}", Runtime="python3.12", Role=role, Handler="handler.handler",
                                Code={"ZipFile": zipped(HANDLER)})["FunctionArn"] for i in range(3)]
    return sfn.create_state_machine(name="bench", definition=definition(arns), roleArn=ROLE)["stateMachineArn"]


def measure(sfn, machine: str, runs: int, label: str = "run") -> list[float]:
    latencies = []
    for i in range(runs):
        started = time.perf_counter()
        # an explicit name: moto's interpreter mode names every unnamed execution "None"
        arn = sfn.start_execution(stateMachineArn=machine, name=f"{label}-{i}", input=json.dumps({"run": i}))["executionArn"]
        while (status := sfn.describe_execution(executionArn=arn)["status"]) == "RUNNING":
            time.sleep(0.001)
        latencies.append(time.perf_counter() - started)
        if status != "SUCCEEDED":
            raise SystemExit(f"execution {arn} ended {status}")
    return latencies


def timed_calls(sfn, machine: str, runs: int) -> dict[str, list[float]]:
    """StartExecution's round trip, and DescribeExecution's on a finished execution."""
    out: dict[str, list[float]] = {"start": [], "describe": []}
    for i in range(runs):
        started = time.perf_counter()
        arn = sfn.start_execution(stateMachineArn=machine, name=f"timed-{i}", input="{}")["executionArn"]
        out["start"].append(time.perf_counter() - started)
        while sfn.describe_execution(executionArn=arn)["status"] == "RUNNING":
            time.sleep(0.001)
        started = time.perf_counter()
        sfn.describe_execution(executionArn=arn)
        out["describe"].append(time.perf_counter() - started)
    return out


CANNED = r"""
import json, socket, sys, threading
start = json.dumps({"executionArn": "arn:aws:states:us-east-1:123456789012:execution:m:e", "startDate": 1.0}).encode()
done = json.dumps({"executionArn": "arn:aws:states:us-east-1:123456789012:execution:m:e", "status": "SUCCEEDED",
                   "stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:m", "name": "e",
                   "startDate": 1.0, "stopDate": 2.0, "input": "{}", "output": "{}"}).encode()
def serve(connection):
    stream = connection.makefile("rb")
    while stream.readline():
        length, target = 0, ""
        while (line := stream.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            length = int(value) if name.lower() == "content-length" else length
            target = value.strip() if name.lower() == "x-amz-target" else target
        stream.read(length)
        body = start if target.endswith("StartExecution") else done
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.0\r\nx-amzn-RequestId: r\r\n"
                           b"Content-Length: %d\r\n\r\n" % len(body) + body)
listening = socket.create_server(("127.0.0.1", 0))
print(listening.getsockname()[1], flush=True)
while True:
    connection, _ = listening.accept()
    connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    threading.Thread(target=serve, args=(connection,), daemon=True).start()
"""


def client_floor(runs: int) -> list[float]:
    """The same StartExecution + DescribeExecution through boto3, answered at once by canned bytes: what the
    client alone costs, whatever the server."""
    import boto3

    server = subprocess.Popen([sys.executable, "-c", CANNED], stdout=subprocess.PIPE, text=True)
    try:
        port = int(server.stdout.readline())
        sfn = boto3.session.Session(region_name="us-east-1").client("stepfunctions",
                                                                    endpoint_url=f"http://127.0.0.1:{port}")
        measure(sfn, "arn:aws:states:us-east-1:123456789012:stateMachine:m", 3, "warm-up")
        return measure(sfn, "arn:aws:states:us-east-1:123456789012:stateMachine:m", runs)
    finally:
        server.terminate()
        server.wait(timeout=10)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def drydock(runs: int) -> tuple[list[float], dict[str, list[float]]]:
    import boto3

    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "harness.cli", "serve", "--port", str(port)], cwd=REPO,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        endpoint = f"http://127.0.0.1:{port}"
        deadline = time.time() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.time() > deadline or server.poll() is not None:
                    raise SystemExit("drydock serve did not start")
                time.sleep(0.1)
        session = boto3.session.Session(region_name="us-east-1")
        clients = lambda service: session.client(service, endpoint_url=endpoint)  # noqa: E731
        machine = setup(clients)
        measure(clients("stepfunctions"), machine, 2, "warm-up")  # first imports in the server
        return measure(clients("stepfunctions"), machine, runs), timed_calls(clients("stepfunctions"), machine, runs)
    finally:
        server.terminate()
        server.wait(timeout=10)


def moto(runs: int) -> list[float]:
    import boto3
    from moto import mock_aws

    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}):
        clients = lambda service: boto3.client(service, region_name="us-east-1")  # noqa: E731
        machine = setup(clients)
        return measure(clients("stepfunctions"), machine, runs)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    (ours, calls), theirs, floor = drydock(args.runs), moto(args.runs), client_floor(args.runs)
    p90 = lambda xs: sorted(xs)[int(0.9 * (len(xs) - 1))]  # noqa: E731
    ms = lambda xs: f"{statistics.median(xs) * 1e3:.2f} ms"  # noqa: E731
    print(f"{'interpreter':<34}{'runs':>6}{'median ms':>12}{'p90 ms':>10}")
    print(f"{'drydock serve (handlers run)':<34}{len(ours):>6}{statistics.median(ours) * 1e3:>12.1f}{p90(ours) * 1e3:>10.1f}")
    print(f"{'moto interpreter (lambda stubbed)':<34}{len(theirs):>6}{statistics.median(theirs) * 1e3:>12.1f}"
          f"{p90(theirs) * 1e3:>10.1f}")
    ratio = statistics.median(theirs) / statistics.median(ours)
    print(f"drydock is {ratio:.1f}x faster (median); target >= 20x: {'met' if ratio >= 20 else 'NOT met'}")
    print(f"where drydock's time goes (medians): the boto3 client alone, same two calls answered at once: {ms(floor)}; "
          f"StartExecution round trip {ms(calls['start'])}; DescribeExecution of a finished execution "
          f"{ms(calls['describe'])}; the rest is the execution (3 Lambda runtimes) and the hand-offs between them")
    return 0


if __name__ == "__main__":
    sys.exit(main())
