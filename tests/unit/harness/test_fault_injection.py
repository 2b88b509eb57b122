"""Fault injection through the MockConfigFile (harness.mock_config): Throttle, Hang, Delay and Call next to
Return/Throw, at chosen invocations of a state or of a resource, run through the engine with Retry and Catch."""
from __future__ import annotations

import json
from typing import Any

import pytest

from asl.engine import Engine
from asl.runners import MAX_EXECUTION_SECONDS
from asl.tasks import parse_resource
from harness.integrations import build_handlers
from harness.mock_config import MockConfig, MockConfigError, throttling_error
from harness.pytest_plugin import path_of

LAMBDA = "arn:aws:states:::lambda:invoke"
FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:scorer"
OK = {"StatusCode": 200, "Payload": {"ok": True}}


def config(responses: dict[str, Any], **cases: dict[str, str]) -> dict[str, Any]:
    return {"StateMachines": {"machine": {"TestCases": cases}}, "MockedResponses": responses}


def run(local_cloud: Any, definition: dict[str, Any], document: dict[str, Any], case: str | None,
        input_value: Any = None) -> Any:
    mocks = MockConfig.load(document)
    handlers = build_handlers(local_cloud.cloud, mocks=mocks)
    engine = Engine(handlers, account=local_cloud.account, region=local_cloud.region)
    handlers.bind(engine)
    arn = f"arn:aws:states:{local_cloud.region}:{local_cloud.account}:stateMachine:machine"
    ex = engine.start(definition, json.dumps(input_value or {}), state_machine_arn=arn)
    mocks.bind(ex.arn, "machine", case)
    return engine.run_to_completion(ex)


def events(ex: Any, *types: str) -> list[dict[str, Any]]:
    return [e for e in ex.history.events if e["type"] in types]


def details(event: dict[str, Any]) -> dict[str, Any]:
    return next(v for k, v in event.items() if k.endswith("EventDetails"))


def elapsed(first: dict[str, Any], last: dict[str, Any]) -> float:
    return (last["timestamp"] - first["timestamp"]).total_seconds()


def call(resource: str = LAMBDA, parameters: Any = None, **extra: Any) -> dict[str, Any]:
    state: dict[str, Any] = {"Type": "Task", "Resource": resource, "End": True, **extra}
    state["Parameters"] = parameters if parameters is not None else {"FunctionName": FUNCTION, "Payload": {}}
    return {"StartAt": "Call", "States": {"Call": state}}


def retry(errors: list[str], attempts: int = 3, interval: int = 1) -> list[dict[str, Any]]:
    return [{"ErrorEquals": errors, "IntervalSeconds": interval, "MaxAttempts": attempts, "BackoffRate": 1}]


def catch(errors: list[str]) -> dict[str, Any]:
    return {"Catch": [{"ErrorEquals": errors, "ResultPath": "$.error", "Next": "Caught"}]}


def with_caught(definition: dict[str, Any]) -> dict[str, Any]:
    definition["States"]["Caught"] = {"Type": "Pass", "End": True}
    definition["States"]["Call"].pop("End")
    definition["States"]["Call"]["Next"] = "Done"
    definition["States"]["Done"] = {"Type": "Succeed"}
    return definition


# --------------------------------------------------------------------------- Throttle
def test_a_throttle_is_retried_then_the_mocked_answer_comes(local_cloud) -> None:
    definition = call(Retry=retry(["Lambda.TooManyRequestsException"]))
    document = config({"Busy": {"0-1": {"Throttle": {}}, "2": {"Return": OK}}}, T={"Call": "Busy"})
    ex = run(local_cloud, definition, document, "T")
    assert (ex.status, ex.output) == ("SUCCEEDED", OK)
    failed = [details(e) for e in events(ex, "TaskFailed")]
    assert [f["error"] for f in failed] == ["Lambda.TooManyRequestsException"] * 2
    assert failed[0]["cause"].startswith("Rate Exceeded. (Service: AWSLambda; Status Code: 429; "
                                         "Error Code: TooManyRequestsException; Request ID: ")
    assert failed[0]["resourceType"] == "lambda" and failed[0]["resource"] == "invoke"


def test_a_throttle_that_outlasts_the_retrier_is_caught(local_cloud) -> None:
    definition = with_caught(call("arn:aws:states:::aws-sdk:sagemaker:startPipelineExecution",
                                  {"PipelineName": "p"}, Retry=retry(["SageMaker.SageMakerException"], 2),
                                  **catch(["States.ALL"])))
    document = config({"Busy": {"0-2": {"Throttle": {}}}}, T={"Call": "Busy"})
    ex = run(local_cloud, definition, document, "T")
    assert ex.status == "SUCCEEDED" and path_of(ex) == ["Call", "Caught"]
    assert len(events(ex, "TaskFailed")) == 3
    assert ex.output["error"] == {"Error": "SageMaker.SageMakerException", "Cause": ex.output["error"]["Cause"]}
    assert ex.output["error"]["Cause"].startswith("Rate exceeded (Service: SageMaker, Status Code: 400, Request ID: ")


@pytest.mark.parametrize("resource, error, code", [
    ("arn:aws:states:::lambda:invoke", "Lambda.TooManyRequestsException", "TooManyRequestsException"),
    (FUNCTION, "Lambda.TooManyRequestsException", "TooManyRequestsException"),
    ("arn:aws:states:::sns:publish", "SNS.ThrottledException", "Throttled"),
    ("arn:aws:states:::sns:publish.waitForTaskToken", "SNS.ThrottledException", "Throttled"),
    ("arn:aws:states:::sqs:sendMessage", "SQS.RequestThrottledException", "RequestThrottled"),
    ("arn:aws:states:::dynamodb:putItem", "DynamoDB.ProvisionedThroughputExceededException",
     "ProvisionedThroughputExceededException"),
    ("arn:aws:states:::events:putEvents", "EventBridge.ThrottlingException", "ThrottlingException"),
    ("arn:aws:states:::states:startExecution.sync:2", "StepFunctions.AWSStepFunctionsException", "ThrottlingException"),
    ("arn:aws:states:::glue:startJobRun.sync", "Glue.ThrottlingException", "ThrottlingException"),
    ("arn:aws:states:::sagemaker:createTrainingJob.sync", "SageMaker.AmazonSageMakerException", "ThrottlingException"),
    ("arn:aws:states:::aws-sdk:sagemaker:describeEndpoint", "SageMaker.SageMakerException", None),
    ("arn:aws:states:::aws-sdk:s3:headObject", "S3.S3Exception", None),
    ("arn:aws:states:::aws-sdk:dynamodb:getItem", "DynamoDb.ProvisionedThroughputExceededException", None),
    ("arn:aws:states:::aws-sdk:dynamodb:describeTable", "DynamoDb.ThrottlingException", None),
    ("arn:aws:states:::aws-sdk:sfn:startExecution", "Sfn.SfnException", None),
    ("arn:aws:states:::aws-sdk:lambda:invoke", "Lambda.TooManyRequestsException", None),
    ("arn:aws:states:::aws-sdk:ec2:describeInstances", "Ec2.Ec2Exception", None),
])
def test_the_throttling_error_is_the_services_own(resource, error, code) -> None:
    err = throttling_error(parse_resource(resource), "req-1")
    assert err.error == error
    if code is not None:  # optimized integrations: the Java SDK v1 cause carries the service's error code
        assert f"; Error Code: {code}; Request ID: req-1; Proxy: null)" in err.cause
    else:
        assert err.cause.endswith("Request ID: req-1) (SDK Attempt Count: 1)")  # SDK v2 wording, no error code
    if error.startswith("S3."):
        assert err.cause.startswith("Please reduce your request rate. (Service: S3, Status Code: 503")


def test_a_throttle_where_no_service_answers_says_so(local_cloud) -> None:
    definition = call("arn:aws:states:::nosuch:service", {})
    ex = run(local_cloud, definition, config({"Busy": {"0": {"Throttle": {}}}}, T={"Call": "Busy"}), "T")
    assert ex.error == "States.TaskFailed" and "a Throttle needs a service to name the error after" in ex.cause


# --------------------------------------------------------------------------- Hang
def test_a_hang_ends_at_timeout_seconds_and_is_retried(local_cloud) -> None:
    definition = call(TimeoutSeconds=30, Retry=retry(["States.Timeout"], interval=5))
    document = config({"Stuck": {"0": {"Hang": {}}, "1": {"Return": OK}}}, T={"Call": "Stuck"})
    ex = run(local_cloud, definition, document, "T")
    assert (ex.status, ex.output) == ("SUCCEEDED", OK)
    (timed_out,) = events(ex, "TaskTimedOut")
    assert details(timed_out) == {"error": "States.Timeout", "resource": "invoke", "resourceType": "lambda"}
    first_start = events(ex, "TaskStarted")[0]
    assert elapsed(first_start, timed_out) == 30
    assert ex.stop - ex.start == 35  # the timeout, the retry interval, and an immediate answer


def test_a_hang_caught_as_states_timeout(local_cloud) -> None:
    definition = with_caught(call(TimeoutSeconds=10, **catch(["States.Timeout"])))
    ex = run(local_cloud, definition, config({"Stuck": {"0": {"Hang": {}}}}, T={"Call": "Stuck"}), "T")
    assert path_of(ex) == ["Call", "Caught"]
    assert ex.output["error"] == {"Error": "States.Timeout", "Cause": ""}
    assert [e["type"] for e in ex.history.events][2:7] == ["TaskScheduled", "TaskStarted", "TaskTimedOut",
                                                          "TaskStateExited", "PassStateEntered"]


def test_a_hung_callback_misses_its_heartbeat(local_cloud) -> None:
    definition = with_caught(call("arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                                  {"QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/q",
                                   "MessageBody": {"Token.$": "$$.Task.Token"}},
                                  TimeoutSeconds=600, HeartbeatSeconds=20, **catch(["States.HeartbeatTimeout"])))
    ex = run(local_cloud, definition, config({"Silent": {"0": {"Hang": {}}}}, T={"Call": "Silent"}), "T")
    assert path_of(ex) == ["Call", "Caught"]
    submitted, timed_out = events(ex, "TaskSubmitted", "TaskTimedOut")
    assert details(submitted)["output"] == "{}"
    assert details(timed_out)["error"] == "States.Timeout"  # AWS names a missed heartbeat so in the history
    assert elapsed(submitted, timed_out) == 20


def test_a_hang_without_timeout_seconds_lasts_until_the_execution_times_out(local_cloud) -> None:
    definition = with_caught(call(**catch(["States.ALL"])))
    ex = run(local_cloud, definition, config({"Stuck": {"0": {"Hang": {}}}}, T={"Call": "Stuck"}), "T")
    assert (ex.status, ex.error) == ("TIMED_OUT", "States.Timeout")
    assert ex.stop - ex.start == MAX_EXECUTION_SECONDS  # AWS's one-year maximum; no Catch sees it
    assert ex.history.events[-1]["type"] == "ExecutionTimedOut" and not events(ex, "TaskTimedOut")
    definition["TimeoutSeconds"] = 3600
    ex = run(local_cloud, definition, config({"Stuck": {"0": {"Hang": {}}}}, T={"Call": "Stuck"}), "T")
    assert ex.status == "TIMED_OUT" and ex.stop - ex.start == 3600


def test_a_hung_callback_without_timers_lasts_a_year(local_cloud) -> None:
    definition = call("arn:aws:states:::sns:publish.waitForTaskToken",
                      {"TopicArn": "arn:aws:sns:us-east-1:123456789012:t", "Message.$": "$$.Task.Token"})
    ex = run(local_cloud, definition, config({"Silent": {"0": {"Hang": {}}}}, T={"Call": "Silent"}), "T")
    assert ex.status == "TIMED_OUT" and ex.stop - ex.start == MAX_EXECUTION_SECONDS


# --------------------------------------------------------------------------- Delay
def test_a_delayed_answer_comes_late_and_may_miss_the_timeout(local_cloud) -> None:
    definition = call(TimeoutSeconds=60, Retry=retry(["States.Timeout"], interval=1))
    document = config({"Slow": {"0": {"Delay": {"Seconds": 90, "Return": {"late": True}}},
                                "1": {"Delay": {"Seconds": 45, "Return": OK}}}}, T={"Call": "Slow"})
    ex = run(local_cloud, definition, document, "T")
    assert (ex.status, ex.output) == ("SUCCEEDED", OK)
    assert len(events(ex, "TaskTimedOut")) == 1
    assert ex.stop - ex.start == 60 + 1 + 45


def test_a_delayed_throw_and_a_delayed_live_call(local_cloud) -> None:
    url = local_cloud.client("sqs").create_queue(QueueName="later")["QueueUrl"]
    definition = call("arn:aws:states:::sqs:sendMessage", {"QueueUrl": url, "MessageBody": "hello"},
                      Retry=retry(["SQS.AmazonSQSException"], interval=2))
    document = config({"Slow": {"0": {"Delay": {"Seconds": 10, "Throw": {"Error": "SQS.AmazonSQSException",
                                                                         "Cause": "InternalError"}}},
                                "1": {"Delay": {"Seconds": 5}}}}, T={"Call": "Slow"})
    ex = run(local_cloud, definition, document, "T")
    assert ex.status == "SUCCEEDED" and "MessageId" in ex.output  # the live queue answered
    assert ex.stop - ex.start == 10 + 2 + 5
    assert local_cloud.client("sqs").receive_message(QueueUrl=url)["Messages"][0]["Body"] == "hello"


def test_a_late_callback_answer_races_the_heartbeat(local_cloud) -> None:
    definition = call("arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                      {"QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/q",
                       "MessageBody": {"Token.$": "$$.Task.Token"}},
                      HeartbeatSeconds=30, Retry=retry(["States.HeartbeatTimeout"], interval=1))
    document = config({"Late": {"0": {"Delay": {"Seconds": 40, "Return": {"first": True}}},
                                "1": {"Delay": {"Seconds": 20, "Return": {"second": True}}}}}, T={"Call": "Late"})
    ex = run(local_cloud, definition, document, "T")
    assert (ex.status, ex.output) == ("SUCCEEDED", {"second": True})  # the first answer came after the heartbeat
    assert [e["type"] for e in events(ex, "TaskSubmitted", "TaskTimedOut", "TaskSucceeded")] == [
        "TaskSubmitted", "TaskTimedOut", "TaskSubmitted", "TaskSucceeded"]
    assert ex.stop - ex.start == 30 + 1 + 20


# --------------------------------------------------------------------------- Call: faults and live calls mixed
def test_faults_and_live_calls_mix_in_one_execution(local_cloud) -> None:
    s3, sqs = local_cloud.client("s3"), local_cloud.client("sqs")
    s3.create_bucket(Bucket="data")
    s3.put_object(Bucket="data", Key="in.csv", Body=b"a,b\n1,2\n")
    url = sqs.create_queue(QueueName="out")["QueueUrl"]
    definition = {"StartAt": "Head", "States": {
        "Head": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:headObject",
                 "Parameters": {"Bucket": "data", "Key": "in.csv"}, "ResultSelector": {"Size.$": "$.ContentLength"},
                 "ResultPath": "$.head", "Retry": retry(["S3.S3Exception"]), "Next": "Score"},
        "Score": {"Type": "Task", "Resource": LAMBDA, "Parameters": {"FunctionName": FUNCTION, "Payload.$": "$"},
                  "ResultSelector": {"Score.$": "$.Payload.score"}, "ResultPath": "$.score",
                  "Retry": retry(["Lambda.TooManyRequestsException"]), "Next": "Send"},
        "Send": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
                 "Parameters": {"QueueUrl": url, "MessageBody.$": "States.JsonToString($.score)"}, "ResultPath": None,
                 "End": True}}}
    document = config({"ThrottledThenLive": {"0": {"Throttle": {}}, "1": {"Call": {}}},
                       "ThrottledThenScored": {"0": {"Throttle": {}}, "1": {"Return": {"Payload": {"score": 0.9}}}}},
                      T={"Head": "ThrottledThenLive", "Score": "ThrottledThenScored"})
    ex = run(local_cloud, definition, document, "T")
    assert ex.status == "SUCCEEDED", ex.cause
    assert ex.output["head"] == {"Size": 8}  # the live S3 object, after one S3 SlowDown
    assert [details(e)["error"] for e in events(ex, "TaskFailed")] == ["S3.S3Exception",
                                                                      "Lambda.TooManyRequestsException"]
    assert json.loads(sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"]) == {"Score": 0.9}  # Send: live


def test_a_live_call_after_a_fault_fails_as_the_service_does_and_is_caught(local_cloud) -> None:
    local_cloud.client("s3").create_bucket(Bucket="data")
    definition = with_caught(call("arn:aws:states:::aws-sdk:s3:getObject", {"Bucket": "data", "Key": "missing"},
                                  Retry=retry(["S3.S3Exception"]), **catch(["S3.NoSuchKeyException"])))
    document = config({"Busy": {"0": {"Throttle": {}}, "1": {"Call": {}}}}, T={"aws-sdk:s3:getObject": "Busy"})
    ex = run(local_cloud, definition, document, "T")
    assert path_of(ex) == ["Call", "Caught"]
    assert [details(e)["error"] for e in events(ex, "TaskFailed")] == ["S3.S3Exception", "S3.NoSuchKeyException"]


def test_a_delay_past_the_timeout_is_caught(local_cloud) -> None:
    definition = with_caught(call(TimeoutSeconds=5, **catch(["States.Timeout"])))
    document = config({"Slow": {"0": {"Delay": {"Seconds": 6, "Return": OK}}}}, T={"Call": "Slow"})
    ex = run(local_cloud, definition, document, "T")
    assert path_of(ex) == ["Call", "Caught"] and ex.output["error"]["Error"] == "States.Timeout"
    assert ex.stop - ex.start == 5


def test_call_on_a_resource_nothing_serves_fails_as_unmocked(local_cloud) -> None:
    ex = run(local_cloud, call("arn:aws:states:::nosuch:service", {}),
             config({"Live": {"0": {"Call": {}}}}, T={"Call": "Live"}), "T")
    assert ex.error == "States.TaskFailed" and "No task handler serves the resource" in ex.cause


# --------------------------------------------------------------------------- faults by resource
TWO_LAMBDAS = {"StartAt": "A", "States": {
    "A": {"Type": "Task", "Resource": LAMBDA, "Parameters": {"FunctionName": FUNCTION}, "ResultPath": "$.a",
          "Retry": retry(["Lambda.TooManyRequestsException"]), "Next": "B"},
    "B": {"Type": "Task", "Resource": LAMBDA, "Parameters": {"FunctionName": "other"}, "ResultPath": "$.b",
          "Retry": retry(["Lambda.TooManyRequestsException"]), "Next": "C"},
    "C": {"Type": "Task", "Resource": FUNCTION, "ResultPath": "$.c", "End": True}}}


def test_a_resource_selector_answers_for_every_state_that_uses_it_counting_across_them(local_cloud) -> None:
    document = config({"EveryOther": {"0": {"Throttle": {}}, "1": {"Return": "one"}, "2": {"Throttle": {}},
                                      "3": {"Return": "three"}},
                       "Direct": {"0": {"Return": "c"}}},
                      T={"lambda:invoke": "EveryOther", "C": "Direct"})
    ex = run(local_cloud, TWO_LAMBDAS, document, "T")
    assert ex.status == "SUCCEEDED", ex.cause
    assert (ex.output["a"], ex.output["b"], ex.output["c"]) == ("one", "three", "c")
    assert [details(e)["error"] for e in events(ex, "TaskFailed")] == ["Lambda.TooManyRequestsException"] * 2


def test_the_most_specific_target_wins(local_cloud) -> None:
    document = config({"ByAction": {"0-9": {"Return": "action"}}, "ByFunction": {"0-9": {"Return": "function"}},
                       "ByState": {"0": {"Return": "state"}}},
                      T={"lambda:invoke": "ByAction", FUNCTION: "ByFunction", "B": "ByState"})
    ex = run(local_cloud, TWO_LAMBDAS, document, "T")
    # A calls FUNCTION through lambda:invoke, B is named itself, C calls FUNCTION by its ARN
    assert (ex.output["a"], ex.output["b"], ex.output["c"]) == ("function", "state", "function")


def test_an_exact_resource_arn_selects_its_pattern_only(local_cloud) -> None:
    topic = local_cloud.client("sns").create_topic(Name="t")["TopicArn"]
    definition = {"StartAt": "Ask", "States": {
        "Ask": {"Type": "Task", "Resource": "arn:aws:states:::sns:publish.waitForTaskToken", "ResultPath": "$.ask",
                "Parameters": {"TopicArn": topic, "Message.$": "$$.Task.Token"}, "Next": "Tell"},
        "Tell": {"Type": "Task", "Resource": "arn:aws:states:::sns:publish", "ResultPath": "$.tell",
                 "Parameters": {"TopicArn": topic, "Message": "done"},
                 "Catch": [{"ErrorEquals": ["SNS.ThrottledException"], "ResultPath": "$.tell", "Next": "Done"}],
                 "Next": "Done"},
        "Done": {"Type": "Succeed"}}}
    document = config({"Answer": {"0": {"Return": {"approved": True}}}, "Busy": {"0": {"Throttle": {}}}},
                      T={"sns:publish.waitForTaskToken": "Answer", "arn:aws:states:::sns:publish": "Busy"})
    ex = run(local_cloud, definition, document, "T")
    assert ex.output["ask"] == {"approved": True}
    assert ex.output["tell"]["Error"] == "SNS.ThrottledException"


# --------------------------------------------------------------------------- bad configurations
@pytest.mark.parametrize("entry, message", [
    ({"Thorw": {"Error": "E"}}, "unknown outcome 'Thorw'; it must hold exactly one of Return, Throw, Throttle, Hang, "
                                "Delay, Call"),
    ({"Throttle": {"Error": "Lambda.TooManyRequestsException"}}, "a Throttle takes no fields"),
    ({"Hang": {"Seconds": 3}}, "a Hang takes no fields"),
    ({"Call": None}, "a Call takes no fields"),
    ({"Delay": {"Return": 1}}, "a Delay needs 'Seconds'"),
    ({"Delay": {"Seconds": -1}}, "'Seconds' must be a number of seconds >= 0"),
    ({"Delay": {"Seconds": "10"}}, "'Seconds' must be a number of seconds >= 0"),
    ({"Delay": {"Seconds": 1, "Return": 1, "Throw": {"Error": "E"}}}, "at most one outcome"),
    ({"Delay": {"Seconds": 1, "Delay": {"Seconds": 1}}}, "at most one outcome"),
    ({"Delay": {"Seconds": 1, "Throw": {}}}, r"\['0'\]: a Throw needs an 'Error'"),
])
def test_bad_outcomes_are_refused(entry, message) -> None:
    with pytest.raises(MockConfigError, match=message):
        MockConfig.load({"MockedResponses": {"R": {"0": entry}}})


@pytest.mark.parametrize("key", ["2-1", "-1", "1-", "one", "0-x"])
def test_bad_ranges_are_refused(key) -> None:
    with pytest.raises(MockConfigError, match=f"'{key}' is not an invocation number or range"):
        MockConfig.load({"MockedResponses": {"R": {key: {"Return": 1}}}})


def test_overlapping_ranges_are_refused() -> None:
    with pytest.raises(MockConfigError, match="'2' overlaps the invocations 1-3"):
        MockConfig.load({"MockedResponses": {"R": {"1-3": {"Return": 1}, "2": {"Throttle": {}}}}})


def test_a_test_case_names_responses_by_string() -> None:
    with pytest.raises(MockConfigError, match=r"'A' must name a mocked response \(a string\)"):
        MockConfig.load(config({"R": {"0": {"Return": 1}}}, T={"A": {"0": {"Return": 1}}}))


@pytest.mark.parametrize("key, message", [
    ("Typo", "'Typo' is neither a Task state of the state machine nor a resource one of its Task states uses "
             r"\(Task states: A, B, C; resources: arn:aws:lambda"),
    ("sns:publish", "'sns:publish' is neither a Task state"),
    ("arn:aws:states:::lambda:invoke.waitForTaskToken", "is neither a Task state"),
])
def test_unknown_states_and_unused_resources_are_refused_at_bind(key, message) -> None:
    mocks = MockConfig.load(config({"R": {"0": {"Return": 1}}}, T={key: "R"}))
    with pytest.raises(MockConfigError, match=message):
        mocks.bind("arn:exec", "machine", "T", TWO_LAMBDAS)


def test_a_state_that_calls_no_service_is_refused() -> None:
    definition = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
    mocks = MockConfig.load(config({"R": {"0": {"Return": 1}}}, T={"P": "R"}))
    with pytest.raises(MockConfigError, match="'P' is a Pass state; only Task states call a service"):
        mocks.bind("arn:exec", "machine", "T", definition)


def test_selectors_that_match_are_accepted_at_bind() -> None:
    keys = ["A", "lambda:invoke", "arn:aws:states:::lambda:invoke", FUNCTION,
            "arn:aws:lambda:us-east-1:123456789012:function:other"]
    mocks = MockConfig.load(config({"R": {"0": {"Return": 1}}}, T={k: "R" for k in keys}))
    mocks.bind("arn:exec", "machine", "T", TWO_LAMBDAS)


def test_an_unknown_state_met_at_run_time_stops_the_execution_loudly(local_cloud) -> None:
    definition = with_caught(call(**catch(["States.ALL"])))
    ex = run(local_cloud, definition, config({"R": {"0": {"Return": OK}}}, T={"Cal": "R"}), "T")
    # not a task failure a Catch could take for a service error: the execution is aborted, naming the key
    assert (ex.status, ex.error) == ("ABORTED", "MockConfigError")
    assert "test case machine#T: 'Cal' is neither a Task state" in ex.cause and "Task states: Call" in ex.cause


# --------------------------------------------------------------------------- through the pytest plugin
def test_the_state_machine_fixture_takes_a_mock_config(state_machine) -> None:
    definition = {"Comment": "fault injection through the pytest plugin", **call(Retry=retry(
        ["Lambda.TooManyRequestsException"]))}
    document = {"StateMachines": {"Scorer": {"TestCases": {"Throttled": {"Call": "Busy"}}}},
                "MockedResponses": {"Busy": {"0": {"Throttle": {}}, "1": {"Return": OK}}}}
    ex = state_machine(definition, {}, mock_config=document, test_case="Throttled")
    assert (ex.status, ex.output) == ("SUCCEEDED", OK)
    assert ex.state_machine_arn.endswith(":stateMachine:Scorer")
    assert [details(e)["error"] for e in events(ex, "TaskFailed")] == ["Lambda.TooManyRequestsException"]
