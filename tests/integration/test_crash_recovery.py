"""`drydock serve --state-dir` killed with SIGKILL and started again resumes as if nothing happened.

The server is a real subprocess; the kill is `kill -9`. What must survive: the moto state the flow made
(S3 objects, SQS messages, IAM roles), state machines, executions with their histories, task tokens
(still valid), timers (a Wait goes on where it stood).
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

ROOT = Path(__file__).resolve().parents[2]

ROLE_POLICY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}]})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Serve:
    """One `drydock serve` on a fixed port and state directory, that can be killed and started again."""

    def __init__(self, state_dir: Path, env: dict[str, str], log: Path):
        self.port, self.state_dir, self.env, self.log = free_port(), state_dir, env, log
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log.open("a") as out:
            self.process = subprocess.Popen([sys.executable, "-m", "harness.cli", "serve", "--port", str(self.port),
                                             "--state-dir", str(self.state_dir), "--idle-grace", "0.5"],
                                            cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        client = self.client("stepfunctions")
        deadline = time.monotonic() + 60
        while True:
            try:
                client.list_state_machines()
                return
            except Exception:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"drydock serve did not come up:\n{self.log.read_text()}")
                time.sleep(0.1)

    def kill(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def client(self, service: str):
        return boto3.client(service, endpoint_url=self.url, region_name="us-east-1", aws_access_key_id="testing",
                            aws_secret_access_key="testing", config=Config(retries={"max_attempts": 1}))


@pytest.fixture
def serve(tmp_path: Path, cli_env: dict[str, str]):
    server = Serve(tmp_path / "state", cli_env, tmp_path / "serve.log")
    server.start()
    yield server
    server.stop()


DEFINITION = {
    "StartAt": "Ask",
    "States": {
        "Ask": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Parameters": {"QueueUrl.$": "$.queue", "MessageBody": {"token.$": "$$.Task.Token"}},
                "ResultPath": "$.answer", "Next": "Nap"},
        "Nap": {"Type": "Wait", "Seconds": 86400, "Next": "Read"},
        "Read": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
                 "Parameters": {"Bucket": "crash-data", "Key": "input.json"},
                 "ResultSelector": {"body.$": "States.StringToJson($.Body)"}, "ResultPath": "$.read", "End": True},
    },
}


def test_kill_9_while_waiting_for_a_token_then_resume(serve: Serve):
    s3, sqs, iam, sfn = (serve.client(name) for name in ("s3", "sqs", "iam", "stepfunctions"))
    s3.create_bucket(Bucket="crash-data")
    s3.put_object(Bucket="crash-data", Key="input.json", Body=b'{"rows": 3}')
    queue = sqs.create_queue(QueueName="approvals")["QueueUrl"]
    role = iam.create_role(RoleName="crash-role", AssumeRolePolicyDocument=ROLE_POLICY)["Role"]["Arn"]
    machine = sfn.create_state_machine(name="crash", definition=json.dumps(DEFINITION), roleArn=role)["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=machine, name="one",
                                    input=json.dumps({"queue": queue}))["executionArn"]
    deadline = time.monotonic() + 30
    messages: list = []
    while not messages and time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1).get("Messages", [])
    token = json.loads(messages[0]["Body"])["token"]
    before = sfn.get_execution_history(executionArn=execution)["events"]

    serve.kill()
    serve.start()
    s3, sqs, sfn = (serve.client(name) for name in ("s3", "sqs", "stepfunctions"))

    assert sfn.describe_execution(executionArn=execution)["status"] == "RUNNING"
    assert sfn.get_execution_history(executionArn=execution)["events"] == before
    assert s3.get_object(Bucket="crash-data", Key="input.json")["Body"].read() == b'{"rows": 3}'
    sfn.send_task_success(taskToken=token, output=json.dumps({"approved": True}))  # the old token still works
    deadline = time.monotonic() + 30
    while sfn.describe_execution(executionArn=execution)["status"] == "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.1)
    described = sfn.describe_execution(executionArn=execution)
    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    assert output["answer"] == {"approved": True} and output["read"] == {"body": {"rows": 3}}
    events = sfn.get_execution_history(executionArn=execution)["events"]
    waited = [e for e in events if e["type"] in ("WaitStateEntered", "WaitStateExited")]
    assert (waited[1]["timestamp"] - waited[0]["timestamp"]).total_seconds() == 86400  # the timer went on


def test_a_journal_that_cannot_be_replayed_stops_the_server_with_the_reason(tmp_path: Path, cli_env: dict[str, str]):
    import sqlite3

    server = Serve(tmp_path / "state", cli_env, tmp_path / "serve.log")
    server.start()
    sfn, iam = server.client("stepfunctions"), server.client("iam")
    role = iam.create_role(RoleName="r", AssumeRolePolicyDocument=ROLE_POLICY)["Role"]["Arn"]
    machine = sfn.create_state_machine(name="p", roleArn=role, definition=json.dumps(
        {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}))["stateMachineArn"]
    sfn.start_execution(stateMachineArn=machine, name="e")
    server.kill()
    db = sqlite3.connect(tmp_path / "state" / "journal.sqlite3")
    db.execute("UPDATE events SET body = replace(body, '\"P\"', '\"Q\"') WHERE id = 2")
    db.commit()
    db.close()
    result = subprocess.run([sys.executable, "-m", "harness.cli", "serve", "--port", str(free_port()), "--state-dir",
                             str(tmp_path / "state")], cwd=ROOT, env=cli_env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2
    assert "cannot resume from" in result.stderr and "execution:p:e event 2" in result.stderr
