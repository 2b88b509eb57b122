"""TestState's inspection levels and mocks (test-state-isolation.html), through boto3 in-process."""
from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from harness.cloud import LocalCloud
from harness.stepfunctions_api import StepFunctionsApi, install

ROLE = "arn:aws:iam::123456789012:role/drydock"
TASK = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "InputPath": "$.payload",
        "Parameters": {"FunctionName": "score", "Payload.$": "$"}, "ResultSelector": {"code.$": "$.StatusCode"},
        "ResultPath": "$.res", "OutputPath": "$.res",
        "Retry": [{"ErrorEquals": ["Lambda.TooManyRequestsException"], "IntervalSeconds": 3}],
        "Catch": [{"ErrorEquals": ["Custom.Error"], "Next": "Other"},
                  {"ErrorEquals": ["States.ALL"], "Next": "Handle"}], "Next": "After"}
INPUT = json.dumps({"payload": {"a": 1}, "keep": True})
RESULT = json.dumps({"StatusCode": 200, "Payload": {"ok": True}})


@pytest.fixture(scope="module")
def sfn():
    api = StepFunctionsApi()
    previous = install(api)
    yield LocalCloud(None).client("stepfunctions")
    install(previous)
    api.close()


def test_state(sfn, definition: dict, **kwargs) -> dict:
    answer = sfn.test_state(definition=json.dumps(definition), roleArn=ROLE, **kwargs)
    answer.pop("ResponseMetadata")
    return answer


test_state.__test__ = False  # a helper, not a test


def test_info_has_no_inspection_data(sfn) -> None:
    answer = test_state(sfn, TASK, input=INPUT, mock={"result": RESULT})
    assert answer == {"status": "SUCCEEDED", "output": '{"code":200}', "nextState": "After"}


@pytest.mark.parametrize("level", ["DEBUG", "TRACE"])
def test_debug_shows_the_data_after_each_step(sfn, level: str) -> None:
    answer = test_state(sfn, TASK, input=INPUT, mock={"result": RESULT}, inspectionLevel=level)
    assert answer["status"] == "SUCCEEDED" and answer["output"] == '{"code":200}'
    assert answer["inspectionData"] == {
        "input": '{"payload":{"a":1},"keep":true}',
        "afterInputPath": '{"a":1}',
        "afterParameters": '{"FunctionName":"score","Payload":{"a":1}}',
        "result": RESULT.replace(" ", ""),
        "afterResultSelector": '{"code":200}',
        "afterResultPath": '{"payload":{"a":1},"keep":true,"res":{"code":200}}',
    }


def test_mocked_error_a_retrier_takes_is_retriable(sfn) -> None:
    answer = test_state(sfn, TASK, input=INPUT, inspectionLevel="DEBUG",
                        mock={"errorOutput": {"error": "Lambda.TooManyRequestsException", "cause": "slow down"}})
    assert answer["status"] == "RETRIABLE" and answer["error"] == "Lambda.TooManyRequestsException"
    assert answer["inspectionData"]["errorDetails"] == {"retryIndex": 0, "retryBackoffIntervalSeconds": 3}
    assert answer["inspectionData"]["afterParameters"] == '{"FunctionName":"score","Payload":{"a":1}}'
    assert "result" not in answer["inspectionData"]


def test_mocked_error_a_catcher_takes_names_the_catch(sfn) -> None:
    answer = test_state(sfn, TASK, input=INPUT, inspectionLevel="DEBUG",
                        mock={"errorOutput": {"error": "Some.Error", "cause": "no"}})
    assert answer["status"] == "CAUGHT_ERROR" and answer["nextState"] == "Handle"
    assert answer["error"] == "Some.Error" and answer["cause"] == "no"
    assert answer["inspectionData"]["errorDetails"] == {"catchIndex": 1}


def test_pass_state_parameters_and_result_path(sfn) -> None:
    answer = test_state(sfn, {"Type": "Pass", "Parameters": {"x.$": "$.a"}, "ResultPath": "$.r", "End": True},
                        input='{"a": 1}', inspectionLevel="DEBUG")
    data = answer["inspectionData"]
    assert (data["afterInputPath"], data["afterParameters"], data["afterResultPath"]) == \
        ('{"a":1}', '{"x":1}', '{"a":1,"r":{"x":1}}')


def test_jsonata_state_shows_arguments_and_variables(sfn) -> None:
    state = {"Type": "Task", "QueryLanguage": "JSONata", "Resource": "arn:aws:states:::lambda:invoke",
             "Arguments": {"FunctionName": "f", "Payload": "{% $states.input.n * 2 %}"},
             "Assign": {"last": "{% $states.result.Payload %}"}, "Output": "{% $states.result.Payload %}", "End": True}
    answer = test_state(sfn, state, input='{"n": 21}', inspectionLevel="DEBUG", mock={"result": '{"Payload": 42}'})
    data = answer["inspectionData"]
    assert answer["output"] == "42"
    assert data["afterArguments"] == '{"FunctionName":"f","Payload":42}'
    assert data["result"] == '{"Payload":42}' and data["variables"] == '{"last":42}'


def test_mock_is_for_task_states_and_must_be_json(sfn) -> None:
    with pytest.raises(ClientError, match="mocks Task states only"):
        test_state(sfn, {"Type": "Pass", "End": True}, mock={"result": "{}"})
    with pytest.raises(ClientError, match="mock.result is not JSON"):
        test_state(sfn, TASK, input=INPUT, mock={"result": "{nope"})
