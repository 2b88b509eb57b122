"""The Step Functions API in-process: boto3 clients of the in-process cloud reach drydock's engine."""
from __future__ import annotations

import json

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from asl.tasks import HandlerTable
from harness.cloud import LocalCloud
from harness.stepfunctions_api import StepFunctionsApi, install

ROLE = "arn:aws:iam::123456789012:role/drydock"
WAIT = "arn:aws:states:::sqs:sendMessage.waitForTaskToken"


def machine(*states: tuple[str, dict], start: str | None = None, **top: object) -> str:
    names = [name for name, _ in states]
    body = {}
    for i, (name, state) in enumerate(states):
        state = dict(state)
        if state["Type"] not in ("Choice", "Succeed", "Fail") and "Next" not in state and "End" not in state:
            state.update({"Next": names[i + 1]} if i + 1 < len(names) else {"End": True})
        body[name] = state
    return json.dumps({"StartAt": start or names[0], "States": body, **top})


PASS = machine(("Hello", {"Type": "Pass", "Result": {"hello": "world"}, "ResultPath": "$.greeting"}),
               ("Wait", {"Type": "Wait", "Seconds": 3600}), ("Done", {"Type": "Succeed"}))
TOKEN = machine(("Ask", {"Type": "Task", "Resource": WAIT, "Parameters": {"token.$": "$$.Task.Token"}}))


@pytest.fixture
def tokens() -> list[str]:
    return []


@pytest.fixture(scope="module")
def cloud() -> LocalCloud:
    return LocalCloud(None)


@pytest.fixture
def sfn(cloud: LocalCloud, tokens: list[str]):
    """A client of the in-process cloud, answered by a fresh API whose sqs:sendMessage handler records task tokens."""
    table = HandlerTable()
    table.register("sqs", "sendMessage", lambda request: tokens.append(request.task_token))
    api = StepFunctionsApi(table, activity_poll_seconds=0.05)
    previous = install(api)
    yield cloud.client("stepfunctions")
    install(previous)
    api.close()


def create(sfn, definition: str, name: str = "machine", **kwargs: object) -> str:
    return sfn.create_state_machine(name=name, definition=definition, roleArn=ROLE, **kwargs)["stateMachineArn"]


def error(excinfo: pytest.ExceptionInfo) -> tuple[str, str]:
    err = excinfo.value.response["Error"]
    return err["Code"], err["Message"]


# --------------------------------------------------------------------------- state machines and executions
def test_create_start_describe_history_list(sfn) -> None:
    arn = create(sfn, PASS, tags=[{"key": "team", "value": "ml"}])
    assert arn == "arn:aws:states:us-east-1:123456789012:stateMachine:machine"
    described = sfn.describe_state_machine(stateMachineArn=arn)
    assert (described["definition"], described["roleArn"], described["type"], described["status"]) == \
        (PASS, ROLE, "STANDARD", "ACTIVE")

    text = '{ "n" : 1 }'
    started = sfn.start_execution(stateMachineArn=arn, name="first", input=text)
    ex = sfn.describe_execution(executionArn=started["executionArn"])
    assert ex["status"] == "SUCCEEDED" and ex["input"] == text  # the input text, byte for byte
    assert json.loads(ex["output"]) == {"n": 1, "greeting": {"hello": "world"}}
    assert (ex["stopDate"] - ex["startDate"]).total_seconds() == 3600  # the hour passed on the virtual clock

    history = sfn.get_execution_history(executionArn=ex["executionArn"], maxResults=4)
    assert [e["id"] for e in history["events"]] == [1, 2, 3, 4]
    rest = sfn.get_execution_history(executionArn=ex["executionArn"], nextToken=history["nextToken"])
    types = [e["type"] for e in history["events"] + rest["events"]]
    assert types[0] == "ExecutionStarted" and types[-1] == "ExecutionSucceeded" and "nextToken" not in rest
    backwards = sfn.get_execution_history(executionArn=ex["executionArn"], reverseOrder=True, maxResults=2)
    assert [e["type"] for e in backwards["events"]] == ["ExecutionSucceeded", "SucceedStateExited"]
    page2 = sfn.get_execution_history(executionArn=ex["executionArn"], reverseOrder=True, maxResults=2,
                                      nextToken=backwards["nextToken"])
    assert [e["id"] for e in page2["events"]] == [len(types) - 2, len(types) - 3]
    bare = sfn.get_execution_history(executionArn=ex["executionArn"], includeExecutionData=False)["events"][0]
    assert "input" not in bare["executionStartedEventDetails"] and bare["executionStartedEventDetails"]["roleArn"] == ROLE

    sfn.start_execution(stateMachineArn=arn, name="second")
    listed = sfn.list_executions(stateMachineArn=arn, maxResults=1)
    assert [e["name"] for e in listed["executions"]] == ["second"]  # newest first
    more = sfn.list_executions(stateMachineArn=arn, nextToken=listed["nextToken"])
    assert [e["name"] for e in more["executions"]] == ["first"]
    assert sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING")["executions"] == []
    assert [m["name"] for m in sfn.list_state_machines()["stateMachines"]] == ["machine"]
    assert sfn.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "team", "value": "ml"}]


def test_update_keeps_the_revision_an_execution_started_on(sfn, tokens) -> None:
    arn = create(sfn, TOKEN)
    ex = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    update = sfn.update_state_machine(stateMachineArn=arn, definition=PASS)
    assert sfn.describe_state_machine(stateMachineArn=arn)["revisionId"] == update["revisionId"]
    assert sfn.describe_state_machine_for_execution(executionArn=ex)["definition"] == TOKEN
    assert sfn.describe_state_machine(stateMachineArn=arn)["definition"] == PASS


def test_create_is_idempotent_and_names_are_unique(sfn) -> None:
    arn = create(sfn, PASS)
    assert create(sfn, PASS) == arn
    with pytest.raises(ClientError) as exc:
        create(sfn, TOKEN)
    assert error(exc) == ("StateMachineAlreadyExists", f"State Machine Already Exists: '{arn}'")
    sfn.start_execution(stateMachineArn=arn, name="once")
    with pytest.raises(ClientError) as exc:
        sfn.start_execution(stateMachineArn=arn, name="once")
    assert error(exc)[0] == "ExecutionAlreadyExists"
    sfn.delete_state_machine(stateMachineArn=arn)
    with pytest.raises(ClientError) as exc:
        sfn.describe_state_machine(stateMachineArn=arn)
    assert error(exc) == ("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{arn}'")


# --------------------------------------------------------------------------- task tokens
def test_send_task_success_resumes_the_execution(sfn, tokens) -> None:
    arn = create(sfn, TOKEN)
    ex = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    assert sfn.describe_execution(executionArn=ex)["status"] == "RUNNING" and len(tokens) == 1
    sfn.send_task_success(taskToken=tokens[0], output='{"approved": true}')
    described = sfn.describe_execution(executionArn=ex)
    assert (described["status"], described["output"]) == ("SUCCEEDED", '{"approved":true}')
    with pytest.raises(ClientError) as exc:  # a token answers once
        sfn.send_task_success(taskToken=tokens[0], output="{}")
    assert error(exc)[0] == "TaskDoesNotExist"


def test_send_task_failure_fails_the_execution(sfn, tokens) -> None:
    ex = sfn.start_execution(stateMachineArn=create(sfn, TOKEN))["executionArn"]
    sfn.send_task_failure(taskToken=tokens[0], error="Rejected", cause="not today")
    described = sfn.describe_execution(executionArn=ex)
    assert (described["status"], described["error"], described["cause"]) == ("FAILED", "Rejected", "not today")
    failed = [e for e in sfn.get_execution_history(executionArn=ex)["events"] if e["type"] == "TaskFailed"]
    assert failed[0]["taskFailedEventDetails"]["error"] == "Rejected"


def test_token_errors(sfn, tokens) -> None:
    with pytest.raises(ClientError) as exc:
        sfn.send_task_success(taskToken="no-such-token", output="{}")
    assert error(exc) == ("InvalidToken", "Invalid Token: 'no-such-token'")
    sfn.start_execution(stateMachineArn=create(sfn, TOKEN))
    with pytest.raises(ClientError) as exc:
        sfn.send_task_success(taskToken=tokens[0], output="not json")
    assert error(exc)[0] == "InvalidOutput"


def test_heartbeat_timeout_then_task_timed_out(sfn, tokens) -> None:
    definition = machine(("Ask", {"Type": "Task", "Resource": WAIT, "HeartbeatSeconds": 60,
                                  "Parameters": {"token.$": "$$.Task.Token"}}))
    ex = sfn.start_execution(stateMachineArn=create(sfn, definition))["executionArn"]
    described = sfn.describe_execution(executionArn=ex)  # no grace in-process: the minute passed at once
    assert (described["status"], described["error"]) == ("FAILED", "States.Timeout")  # as AWS reports a missed beat
    with pytest.raises(ClientError) as exc:
        sfn.send_task_success(taskToken=tokens[0], output="{}")
    assert error(exc)[0] == "TaskTimedOut"


def test_stop_execution_aborts(sfn, tokens) -> None:
    ex = sfn.start_execution(stateMachineArn=create(sfn, TOKEN))["executionArn"]
    stopped = sfn.stop_execution(executionArn=ex, error="Manual", cause="operator")
    described = sfn.describe_execution(executionArn=ex)
    assert described["status"] == "ABORTED" and described["stopDate"] == stopped["stopDate"]
    last = sfn.get_execution_history(executionArn=ex, reverseOrder=True, maxResults=1)["events"][0]
    assert last["type"] == "ExecutionAborted"
    assert last["executionAbortedEventDetails"] == {"error": "Manual", "cause": "operator"}


# --------------------------------------------------------------------------- malformed requests
def test_missing_required_member_is_a_validation_exception(sfn) -> None:
    # Any boto3 client of the process reaches drydock, this one without botocore's own checks.
    raw = boto3.client("stepfunctions", region_name="us-east-1", aws_access_key_id="testing",
                       aws_secret_access_key="testing", config=Config(parameter_validation=False))
    with pytest.raises(ClientError) as exc:
        raw.start_execution(name="x" * 81)
    assert error(exc) == ("ValidationException", "2 validation errors detected: Value null at 'stateMachineArn' failed "
                          "to satisfy constraint: Member must not be null; Value '" + "x" * 81 + "' at 'name' failed "
                          "to satisfy constraint: Member must have length less than or equal to 80")
    with pytest.raises(ClientError) as exc:
        raw.list_state_machines(maxResults="ten")
    assert error(exc)[0] == "SerializationException"


def test_bad_arns_and_names(sfn) -> None:
    with pytest.raises(ClientError) as exc:
        sfn.describe_execution(executionArn="not-an-arn")
    assert error(exc) == ("InvalidArn", "Invalid Arn: 'Invalid ARN prefix: not-an-arn'")
    arn = create(sfn, PASS)
    with pytest.raises(ClientError) as exc:
        sfn.describe_execution(executionArn=arn)
    assert error(exc) == ("InvalidArn", "Invalid Arn: 'Resource type not valid in this context: stateMachine'")
    with pytest.raises(ClientError) as exc:
        sfn.start_execution(stateMachineArn=arn, name="has space")
    assert error(exc) == ("InvalidName", "Invalid Name: 'has space'")
    with pytest.raises(ClientError) as exc:
        sfn.describe_execution(executionArn=arn.replace(":stateMachine:", ":execution:") + ":nope")
    assert error(exc)[0] == "ExecutionDoesNotExist"


def test_invalid_definition_names_the_json_pointer(sfn) -> None:
    broken = json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nowhere"}}})
    with pytest.raises(ClientError) as exc:
        create(sfn, broken)
    code, message = error(exc)
    assert code == "InvalidDefinition" and "MISSING_TRANSITION_TARGET" in message and "/States/A/Next" in message
    with pytest.raises(ClientError) as exc:
        create(sfn, "{not json")
    assert error(exc)[0] == "InvalidDefinition" and "INVALID_JSON_DESCRIPTION" in error(exc)[1]
    result = sfn.validate_state_machine_definition(definition=broken)
    assert result["result"] == "FAIL" and result["diagnostics"][0]["location"] == "/States/A/Next"
    assert sfn.validate_state_machine_definition(definition=PASS)["result"] == "OK"


# --------------------------------------------------------------------------- express, TestState, activities, tags
def test_start_sync_execution_runs_express_machines(sfn) -> None:
    quick = machine(("Hello", {"Type": "Pass", "Result": "world", "ResultPath": "$.hello"}))
    result = sfn.start_sync_execution(stateMachineArn=create(sfn, quick, name="fast", type="EXPRESS"), input='{"n": 2}')
    assert (result["status"], result["input"], result["output"]) == ("SUCCEEDED", '{"n": 2}', '{"n":2,"hello":"world"}')
    with pytest.raises(ClientError) as exc:
        sfn.start_sync_execution(stateMachineArn=create(sfn, PASS))
    assert error(exc)[0] == "StateMachineTypeNotSupported"


def test_express_executions_time_out_after_five_minutes(sfn, tokens) -> None:
    result = sfn.start_sync_execution(stateMachineArn=create(sfn, TOKEN, name="waits", type="EXPRESS"))
    assert (result["status"], result["error"]) == ("TIMED_OUT", "States.Timeout")
    assert (result["stopDate"] - result["startDate"]).total_seconds() == 300


def test_test_state(sfn) -> None:
    passed = sfn.test_state(definition=json.dumps({"Type": "Pass", "Result": 1, "ResultPath": "$.x", "Next": "B"}),
                            input='{"a": 0}', roleArn=ROLE)
    assert (passed["status"], json.loads(passed["output"]), passed["nextState"]) == ("SUCCEEDED", {"a": 0, "x": 1}, "B")
    failing = {"Type": "Task", "Resource": "arn:aws:states:::glue:startJobRun", "Next": "B",
               "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Recover", "ResultPath": "$.err"}]}
    caught = sfn.test_state(definition=json.dumps(failing), input="{}", roleArn=ROLE)
    assert (caught["status"], caught["error"], caught["nextState"]) == ("CAUGHT_ERROR", "States.TaskFailed", "Recover")
    assert json.loads(caught["output"])["err"]["Error"] == "States.TaskFailed"
    retried = sfn.test_state(definition=json.dumps({**failing, "Retry": [{"ErrorEquals": ["States.TaskFailed"]}]}),
                             roleArn=ROLE)
    assert (retried["status"], retried["error"]) == ("RETRIABLE", "States.TaskFailed") and "output" not in retried
    failed = sfn.test_state(definition=json.dumps({"Type": "Fail", "Error": "Boom", "Cause": "why"}), roleArn=ROLE)
    assert (failed["status"], failed["error"], failed["cause"]) == ("FAILED", "Boom", "why")
    whole = json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Succeed"}}})
    assert sfn.test_state(definition=whole, stateName="A", roleArn=ROLE)["nextState"] == "B"


def test_activities(sfn) -> None:
    activity = sfn.create_activity(name="review")["activityArn"]
    assert sfn.describe_activity(activityArn=activity)["name"] == "review"
    assert sfn.get_activity_task(activityArn=activity).get("taskToken") is None  # the long poll ran out
    definition = machine(("Review", {"Type": "Task", "Resource": activity}))
    ex = sfn.start_execution(stateMachineArn=create(sfn, definition), input='{"doc": 7}')["executionArn"]
    task = sfn.get_activity_task(activityArn=activity, workerName="alice")
    assert json.loads(task["input"]) == {"doc": 7}
    sfn.send_task_success(taskToken=task["taskToken"], output='{"ok": 1}')
    assert sfn.describe_execution(executionArn=ex)["output"] == '{"ok":1}'
    started = [e for e in sfn.get_execution_history(executionArn=ex)["events"] if e["type"] == "ActivityStarted"]
    assert started[0]["activityStartedEventDetails"] == {"workerName": "alice"}
    assert [a["name"] for a in sfn.list_activities()["activities"]] == ["review"]
    sfn.delete_activity(activityArn=activity)
    with pytest.raises(ClientError) as exc:
        sfn.describe_activity(activityArn=activity)
    assert error(exc) == ("ActivityDoesNotExist", f"Activity Does Not Exist: '{activity}'")


def test_tags(sfn) -> None:
    arn = create(sfn, PASS)
    sfn.tag_resource(resourceArn=arn, tags=[{"key": "a", "value": "1"}, {"key": "b", "value": "2"}])
    sfn.untag_resource(resourceArn=arn, tagKeys=["a"])
    assert sfn.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "b", "value": "2"}]
    with pytest.raises(ClientError) as exc:
        sfn.list_tags_for_resource(resourceArn=arn + "-gone")
    assert error(exc)[0] == "ResourceNotFound"


def test_default_api_runs_drydocks_integrations(cloud: LocalCloud) -> None:
    pytest.importorskip("harness.integrations")
    api = StepFunctionsApi()
    previous = install(api)
    try:
        sfn, sqs = cloud.client("stepfunctions"), cloud.client("sqs")
        queue = sqs.create_queue(QueueName="approvals")["QueueUrl"]
        child = create(sfn, machine(("Hi", {"Type": "Pass", "Result": {"child": True}})), name="child")
        parent = machine(
            ("Nest", {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2",
                      "Parameters": {"StateMachineArn": child}, "OutputPath": "$.Output"}),
            ("Ask", {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                     "Parameters": {"QueueUrl": queue, "MessageBody.$": "$$.Task.Token"}, "ResultPath": "$.answer"}))
        ex = sfn.start_execution(stateMachineArn=create(sfn, parent, name="parent"))["executionArn"]
        token = sqs.receive_message(QueueUrl=queue)["Messages"][0]["Body"]
        sfn.send_task_success(taskToken=token, output='"yes"')
        assert sfn.describe_execution(executionArn=ex)["output"] == '{"child":true,"answer":"yes"}'
        assert len(sfn.list_executions(stateMachineArn=child)["executions"]) == 1  # nested in the same store
    finally:
        install(previous)
        api.close()
