"""Step Functions Local's MockConfigFile: test cases per execution, invocation ranges, mocked and live tasks mixed."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.mock_config import MockConfig, MockConfigError, split_test_case
from integration_kit import events_of

CORPUS = Path(__file__).resolve().parents[4] / "shared" / "conformance"
LAMBDA = "arn:aws:states:::lambda:invoke"

RETRYING = {"StartAt": "Call", "States": {
    "Call": {"Type": "Task", "Resource": LAMBDA, "Parameters": {"FunctionName": "never-created"},
             "Retry": [{"ErrorEquals": ["Lambda.TooManyRequestsException"], "IntervalSeconds": 1, "MaxAttempts": 3}],
             "End": True}}}

CONFIG = {
    "StateMachines": {"machine": {"TestCases": {
        "HappyPath": {"Call": "Ok"},
        "RetryPath": {"Call": "ThrottledTwice"},
        "Broken": {"Call": "AlwaysFails"},
    }}},
    "MockedResponses": {
        "Ok": {"0": {"Return": {"StatusCode": 200, "Payload": {"ok": True}}}},
        "ThrottledTwice": {"0-1": {"Throw": {"Error": "Lambda.TooManyRequestsException", "Cause": "Rate exceeded"}},
                           "2": {"Return": {"StatusCode": 200, "Payload": "third time"}}},
        "AlwaysFails": {"0": {"Throw": {"Error": "Lambda.ServiceException", "Cause": "down"}}},
    },
}


def test_split_test_case() -> None:
    assert split_test_case("arn:aws:states:us-east-1:1:stateMachine:m#HappyPath") == (
        "arn:aws:states:us-east-1:1:stateMachine:m", "HappyPath")
    assert split_test_case("arn:aws:states:us-east-1:1:stateMachine:m") == ("arn:aws:states:us-east-1:1:stateMachine:m",
                                                                            None)


def test_the_test_case_picks_the_response(runner) -> None:
    mocks = MockConfig.load(json.dumps(CONFIG))
    happy = runner.run(RETRYING, mocks=mocks, test_case="HappyPath")
    assert (happy.status, happy.output) == ("SUCCEEDED", {"StatusCode": 200, "Payload": {"ok": True}})
    assert [e["type"] for e in happy.history.events][2:5] == ["TaskScheduled", "TaskStarted", "TaskSucceeded"]
    broken = runner.run(RETRYING, mocks=mocks, test_case="Broken")
    assert (broken.error, broken.cause) == ("Lambda.ServiceException", "down")


def test_invocation_ranges_count_retries(runner) -> None:
    ex = runner.run(RETRYING, mocks=MockConfig.load(CONFIG), test_case="RetryPath")
    assert ex.status == "SUCCEEDED" and ex.output["Payload"] == "third time"
    assert len(events_of(ex, "TaskFailed")) == 2 and len(events_of(ex, "TaskScheduled")) == 3


def test_an_invocation_no_range_covers_fails_the_task(runner) -> None:
    config = {"StateMachines": {"machine": {"TestCases": {"T": {"Call": "Once"}}}},
              "MockedResponses": {"Once": {"0": {"Throw": {"Error": "Lambda.TooManyRequestsException"}}}}}
    ex = runner.run(RETRYING, mocks=MockConfig.load(config), test_case="T")
    assert ex.error == "States.TaskFailed" and "defines no answer for invocation 1" in ex.cause


def test_mocked_and_live_states_mix(runner, cloud) -> None:
    url = cloud.client("sqs").create_queue(QueueName="live")["QueueUrl"]
    definition = {"StartAt": "Mocked", "States": {
        "Mocked": {"Type": "Task", "Resource": LAMBDA, "Parameters": {"FunctionName": "absent"}, "ResultPath": "$.m",
                   "Next": "Live"},
        "Live": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage", "ResultPath": "$.l",
                 "Parameters": {"QueueUrl": url, "MessageBody.$": "$.m.Payload"}, "End": True}}}
    config = {"StateMachines": {"machine": {"TestCases": {"T": {"Mocked": "Ok"}}}},
              "MockedResponses": {"Ok": {"0": {"Return": {"StatusCode": 200, "Payload": "from the mock"}}}}}
    ex = runner.run(definition, mocks=MockConfig.load(config), test_case="T")
    assert ex.status == "SUCCEEDED", ex.cause
    body = cloud.client("sqs").receive_message(QueueUrl=url)["Messages"][0]["Body"]
    assert body == "from the mock" and "MessageId" in ex.output["l"]


def test_without_a_test_case_everything_is_live(runner) -> None:
    ex = runner.run(RETRYING, mocks=MockConfig.load(CONFIG), test_case=None)
    assert ex.error == "Lambda.ResourceNotFoundException"


def test_a_mocked_callback_does_not_wait_and_unknown_resources_can_be_mocked(runner) -> None:
    definition = {"StartAt": "Wait", "States": {
        "Wait": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                 "Parameters": {"QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/none",
                                "MessageBody": {"t.$": "$$.Task.Token"}}, "Next": "Exotic"},
        "Exotic": {"Type": "Task", "Resource": "arn:aws:states:::nosuch:service", "End": True}}}
    config = {"StateMachines": {"machine": {"TestCases": {"T": {"Wait": "Answer", "Exotic": "Answer"}}}},
              "MockedResponses": {"Answer": {"0": {"Return": {"approved": True}}}}}
    ex = runner.run(definition, mocks=MockConfig.load(config), test_case="T")
    assert (ex.status, ex.output) == ("SUCCEEDED", {"approved": True})


@pytest.mark.parametrize("document, message", [
    ({"StateMachines": {"m": {"TestCases": {"T": {"S": "Missing"}}}}, "MockedResponses": {}}, "does not define"),
    ({"MockedResponses": {"R": {"zero": {"Return": 1}}}}, "not an invocation number"),
    ({"MockedResponses": {"R": {"0": {"Return": 1, "Throw": {"Error": "E"}}}}}, "exactly one of"),
    ({"MockedResponses": {"R": {"0": {"Throw": {"Cause": "no error"}}}}}, "needs an 'Error'"),
])
def test_bad_configurations_are_refused(document, message) -> None:
    with pytest.raises(MockConfigError, match=message):
        MockConfig.load(document)


def test_bind_refuses_an_unknown_test_case() -> None:
    with pytest.raises(MockConfigError, match="no test case 'Nope'"):
        MockConfig.load(CONFIG).bind("arn:exec", "arn:aws:states:us-east-1:1:stateMachine:machine", "Nope")


@pytest.mark.skipif(not (CORPUS / "compare.py").is_file(), reason="the conformance corpus is not here")
def test_mocked_lambda_reproduces_the_recorded_execution(runner) -> None:
    """A corpus local_mocking case, its Lambda mocked with the recorded answer: the history still matches AWS."""
    import importlib.util

    path = next((CORPUS / "cases").glob("local_mocking_test_base_scenarios.py_*lambda_service_invoke*.json"))
    case = json.loads(path.read_text())
    recorded = next(e for e in case["expected"]["events"] if e["type"] == "TaskSucceeded")
    answer = recorded["taskSucceededEventDetails"]["output"]
    config = {"StateMachines": {"machine": {"TestCases": {"Recorded": {"Start": "Lambda"}}}},
              "MockedResponses": {"Lambda": {"0": {"Return": answer}}}}
    ex = runner.run(case["definition"], json.loads(case["input_text"]), mocks=MockConfig.load(config),
                    test_case="Recorded")
    spec = importlib.util.spec_from_file_location("corpus_compare", CORPUS / "compare.py")
    compare = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(compare)  # type: ignore[union-attr]
    from harness.conformance import dumps, jsonable_events

    result = json.loads(dumps({**ex.result(), "events": jsonable_events(ex.result()["events"])}))
    verdict = compare.compare_case(case, result)
    assert verdict["outcome"]["pass"] and verdict["history"]["pass"], verdict
