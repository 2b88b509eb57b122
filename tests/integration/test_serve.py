"""`drydock serve` as a user meets it: boto3 and the AWS CLI against one endpoint, Step Functions and moto."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from harness.cli import main

ROOT = Path(__file__).resolve().parents[2]
AWS = str(Path(sys.executable).with_name("aws"))
ROLE = "arn:aws:iam::123456789012:role/drydock"


def approval(activity_arn: str) -> str:
    return json.dumps({"StartAt": "Approve", "States": {
        "Approve": {"Type": "Task", "Resource": activity_arn, "Next": "Done"},
        "Done": {"Type": "Pass", "Parameters": {"approved.$": "$.approved"}, "End": True}}})


def aws(endpoint: str, env: dict[str, str], *args: str) -> dict:
    done = subprocess.run([AWS, "--endpoint-url", endpoint, "--output", "json", *args], env=env,
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout) if done.stdout.strip() else {}


def drydock(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True)


def test_boto3_token_flow(cloud) -> None:
    sfn = cloud.client("stepfunctions")
    activity = sfn.create_activity(name="boto3-approval")["activityArn"]
    arn = sfn.create_state_machine(name="boto3-flow", definition=approval(activity), roleArn=ROLE)["stateMachineArn"]
    ex = sfn.start_execution(stateMachineArn=arn, input='{"doc": 1}')["executionArn"]
    task = sfn.get_activity_task(activityArn=activity, workerName="tester")
    assert json.loads(task["input"]) == {"doc": 1}
    sfn.send_task_success(taskToken=task["taskToken"], output='{"approved": true}')
    described = sfn.describe_execution(executionArn=ex)
    assert (described["status"], described["output"]) == ("SUCCEEDED", '{"approved":true}')
    types = [e["type"] for e in sfn.get_execution_history(executionArn=ex)["events"]]
    assert types[:4] == ["ExecutionStarted", "TaskStateEntered", "ActivityScheduled", "ActivityStarted"]
    assert types[-1] == "ExecutionSucceeded"


def test_boto3_start_sync_execution(cloud) -> None:
    sfn = cloud.client("stepfunctions")
    quick = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": 1, "End": True}}})
    arn = sfn.create_state_machine(name="sync", definition=quick, roleArn=ROLE, type="EXPRESS")["stateMachineArn"]
    assert sfn.start_sync_execution(stateMachineArn=arn)["output"] == "1"


def test_cli_token_flow(endpoint, cli_env) -> None:
    activity = aws(endpoint, cli_env, "stepfunctions", "create-activity", "--name", "cli-approval")["activityArn"]
    arn = aws(endpoint, cli_env, "stepfunctions", "create-state-machine", "--name", "cli-flow",
              "--definition", approval(activity), "--role-arn", ROLE)["stateMachineArn"]
    ex = aws(endpoint, cli_env, "stepfunctions", "start-execution", "--state-machine-arn", arn,
             "--input", '{"doc": 2}')["executionArn"]
    task = aws(endpoint, cli_env, "stepfunctions", "get-activity-task", "--activity-arn", activity)
    answered = drydock(cli_env, "task", "succeed", task["taskToken"], "--output", '{"approved": false}',
                       "--endpoint", endpoint)
    assert answered.returncode == 0, answered.stderr
    again = drydock(cli_env, "task", "succeed", task["taskToken"], "--output", "{}", "--endpoint", endpoint)
    assert again.returncode == 1 and "TaskDoesNotExist" in again.stderr
    described = aws(endpoint, cli_env, "stepfunctions", "describe-execution", "--execution-arn", ex)
    assert (described["status"], described["output"]) == ("SUCCEEDED", '{"approved":false}')
    history = aws(endpoint, cli_env, "stepfunctions", "get-execution-history", "--execution-arn", ex,
                  "--reverse-order", "--max-items", "1")
    assert history["events"][0]["type"] == "ExecutionSucceeded"


def test_other_services_are_moto(endpoint, cloud, cli_env) -> None:
    cloud.client("s3").create_bucket(Bucket="drydock-serve-test")
    listed = aws(endpoint, cli_env, "s3api", "list-buckets")
    assert "drydock-serve-test" in [b["Name"] for b in listed["Buckets"]]


def test_port_in_use_is_one_clear_line(endpoint, cli_env) -> None:
    port = endpoint.rsplit(":", 1)[1]
    refused = drydock(cli_env, "serve", "--port", port)
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [
        f"drydock serve: port {port} is already in use on 127.0.0.1; stop what holds it or pick another with --port"]


def test_non_loopback_host_is_refused(capsys) -> None:
    assert main(["serve", "--host", "0.0.0.0"]) == 2
    assert "--allow-non-loopback" in capsys.readouterr().err


def test_connections_stay_open_between_requests(endpoint) -> None:
    """HTTP/1.1 keep-alive, as AWS endpoints answer: one connection carries many calls, a large body and an
    answer without a body (HEAD) included."""
    import http.client
    from urllib.parse import urlsplit

    target = urlsplit(endpoint)
    connection = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
    headers = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "AWSStepFunctions.ListStateMachines",
               "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20250101/us-east-1/states/aws4_request, "
                                "SignedHeaders=host, Signature=0"}
    for body in ("{}", "{}", json.dumps({"maxResults": 5, "padding": "x" * 70000})):
        connection.request("POST", "/", body=body, headers=headers)
        answer = connection.getresponse()
        assert answer.status == 200 and "stateMachines" in json.loads(answer.read())
        assert answer.getheader("Connection") != "close"
    sock = connection.sock
    connection.request("HEAD", "/drydock-no-such-bucket")  # moto's S3: 404, no body
    answer = connection.getresponse()
    answer.read()
    connection.request("POST", "/", body="{}", headers=headers)
    assert connection.getresponse().status == 200
    assert connection.sock is sock  # the same connection all along
    connection.close()


def test_malformed_requests_answer_with_aws_error_codes(endpoint) -> None:
    """Bad HTTP requests to `drydock serve` get Step Functions' error codes (JSON 1.0 `__type`), never a 500."""
    import http.client
    from urllib.parse import urlsplit

    target = urlsplit(endpoint)
    connection = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
    auth = ("AWS4-HMAC-SHA256 Credential=testing/20250101/us-east-1/states/aws4_request, SignedHeaders=host, "
            "Signature=0")

    def post(action: str, body: str) -> tuple[int, str, str]:
        connection.request("POST", "/", body=body, headers={
            "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": f"AWSStepFunctions.{action}",
            "Authorization": auth})
        answer = connection.getresponse()
        error = json.loads(answer.read())
        return answer.status, error["__type"].rpartition("#")[2], error.get("message", "")

    status, code, message = post("ListStateMachines", "{not json")
    assert (status, code) == (400, "SerializationException") and "not JSON" in message
    status, code, _ = post("ListStateMachines", "[1, 2]")
    assert (status, code) == (400, "SerializationException")
    status, code, message = post("NoSuchAction", "{}")
    assert (status, code) == (400, "UnknownOperationException") and "NoSuchAction" in message
    status, code, message = post("StartExecution", "{}")
    assert (status, code) == (400, "ValidationException") and "'stateMachineArn'" in message
    status, code, _ = post("DescribeExecution", json.dumps({"executionArn": "not-an-arn"}))
    assert (status, code) == (400, "InvalidArn")
    status, code, _ = post("ListStateMachines", json.dumps({"maxResults": "ten"}))
    assert (status, code) == (400, "SerializationException")
    connection.close()
