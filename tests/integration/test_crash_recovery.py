"""`drydock serve --state-dir` killed with SIGKILL and started again resumes as if nothing happened.

The server is a real subprocess; the kill is `kill -9`. What must survive: the moto state the flow made
(S3 objects, SQS messages, IAM roles), state machines, executions with their histories, task tokens
(still valid), timers (a Wait goes on where it stood).
"""
from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest
from served import Serve

ROLE_POLICY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}]})


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
    server = Serve(tmp_path / "state", cli_env, tmp_path / "serve.log")
    server.start()
    sfn, iam = server.client("stepfunctions"), server.client("iam")
    role = iam.create_role(RoleName="r", AssumeRolePolicyDocument=ROLE_POLICY)["Role"]["Arn"]
    machine = sfn.create_state_machine(name="p", roleArn=role, definition=json.dumps(
        {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}))["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=machine, name="e")["executionArn"]
    while sfn.describe_execution(executionArn=execution)["status"] == "RUNNING":
        time.sleep(0.05)
    server.kill()
    server.edit_journal("UPDATE events SET body = replace(body, '\"P\"', '\"Q\"') WHERE id = 2")
    result = server.start_refused()
    assert result.returncode == 2
    assert "cannot resume from" in result.stderr and "execution:p:e event 2" in result.stderr


MOCKED = {
    "StartAt": "Score",
    "States": {
        "Score": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                  "Parameters": {"FunctionName": "score", "Payload.$": "$"}, "ResultSelector": {"score.$": "$.Payload"},
                  "Retry": [{"ErrorEquals": ["Lambda.TooManyRequestsException"], "IntervalSeconds": 10}],
                  "ResultPath": "$.scored", "Next": "Ask"},
        "Ask": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Parameters": {"QueueUrl.$": "$.queue", "MessageBody": {"token.$": "$$.Task.Token"}},
                "ResultPath": "$.answer", "Next": "Again"},
        "Again": {"Type": "Choice", "Default": "Done",
                  "Choices": [{"Variable": "$.answer.again", "BooleanEquals": True, "Next": "Score"}]},
        "Done": {"Type": "Succeed"},
    },
}


def test_mock_config_test_cases_through_the_api_survive_a_kill(tmp_path: Path, cli_env: dict[str, str]):
    """`drydock serve --mock-config`: `<arn>#<TestCase>` mocks the named states (a throttle, then answers)
    while SQS runs live; killed while waiting for the token, the mocks' invocation counts carry on."""
    config = {"StateMachines": {"scored": {"TestCases": {"Throttled": {"Score": "ThrottleThenScore"}}}},
              "MockedResponses": {"ThrottleThenScore": {
                  "0": {"Throttle": {}}, "1": {"Return": {"StatusCode": 200, "Payload": 0.9}},
                  "2": {"Return": {"StatusCode": 200, "Payload": 0.7}}}}}
    path = tmp_path / "mocks.json"
    path.write_text(json.dumps(config))
    server = Serve(tmp_path / "state", cli_env, tmp_path / "serve.log", "--mock-config", str(path))
    server.start()
    try:
        sqs, iam, sfn = (server.client(name) for name in ("sqs", "iam", "stepfunctions"))
        queue = sqs.create_queue(QueueName="asks")["QueueUrl"]
        role = iam.create_role(RoleName="m", AssumeRolePolicyDocument=ROLE_POLICY)["Role"]["Arn"]
        machine = sfn.create_state_machine(name="scored", roleArn=role, definition=json.dumps(MOCKED))["stateMachineArn"]
        with pytest.raises(sfn.exceptions.ClientError, match="no test case 'Nope'"):
            sfn.start_execution(stateMachineArn=f"{machine}#Nope", input="{}")
        execution = sfn.start_execution(stateMachineArn=f"{machine}#Throttled", name="t",
                                        input=json.dumps({"queue": queue}))["executionArn"]
        assert execution.endswith(":execution:scored:t")
        token = next_token(sqs, queue)
        server.kill()
        server.start()
        sqs, sfn = server.client("sqs"), server.client("stepfunctions")
        sfn.send_task_success(taskToken=token, output=json.dumps({"again": True}))
        sfn.send_task_success(taskToken=next_token(sqs, queue), output=json.dumps({"again": False}))
        deadline = time.monotonic() + 30
        while sfn.describe_execution(executionArn=execution)["status"] == "RUNNING" and time.monotonic() < deadline:
            time.sleep(0.1)
        described = sfn.describe_execution(executionArn=execution)
        assert described["status"] == "SUCCEEDED", (described.get("error"), described.get("cause"))
        # invocation 0 throttled and was retried (1: 0.9); after the restart Score's next call is invocation 2
        assert json.loads(described["output"])["scored"] == {"score": 0.7}
        failed = [e for e in sfn.get_execution_history(executionArn=execution)["events"] if e["type"] == "TaskFailed"]
        assert [e["taskFailedEventDetails"]["error"] for e in failed] == ["Lambda.TooManyRequestsException"]
    finally:
        server.stop()


def next_token(sqs, queue: str) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for message in sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1).get("Messages", []):
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
            return json.loads(message["Body"])["token"]
    raise AssertionError("no task token reached the queue")


def test_a_damaged_saved_state_stops_the_server_with_the_reason(tmp_path: Path, cli_env: dict[str, str]):
    server = Serve(tmp_path / "state", cli_env, tmp_path / "serve.log")
    server.start()
    server.client("s3").create_bucket(Bucket="kept")
    server.kill()
    server.edit_journal("UPDATE cloud SET body = ? WHERE name = 's3'", (b"not a pickle",))
    result = server.start_refused()
    assert result.returncode == 2
    assert "cannot restore the services saved in" in result.stderr and "UnpicklingError" in result.stderr
    db = sqlite3.connect(tmp_path / "state" / "journal.sqlite3")  # and the journal was left as it was
    assert db.execute("SELECT body FROM cloud WHERE name = 's3'").fetchone()[0] == b"not a pickle"
