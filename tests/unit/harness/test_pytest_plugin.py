"""drydock's pytest plugin, exercised in inner pytest sessions (pytester): fixtures, assertions, strategies
and the state/transition coverage report."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[3]
MACHINE = {
    "Comment": "review",
    "StartAt": "Score",
    "States": {
        "Score": {"Type": "Pass", "Next": "Route"},
        "Route": {"Type": "Choice", "Default": "Manual",
                  "Choices": [{"Variable": "$.score", "NumericGreaterThan": 0.8, "Next": "Accept"},
                              {"Variable": "$.score", "NumericLessThan": 0.2, "Next": "Reject"}]},
        "Accept": {"Type": "Pass", "Result": "accepted", "End": True},
        "Reject": {"Type": "Fail", "Error": "Rejected"},
        "Manual": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                   "Parameters": {"FunctionName": "review", "Payload.$": "$"},
                   "Retry": [{"ErrorEquals": ["Review.Busy"], "MaxAttempts": 2, "IntervalSeconds": 60}],
                   "Catch": [{"ErrorEquals": ["Review.Down"], "ResultPath": "$.error", "Next": "Fallback"},
                             {"ErrorEquals": ["States.ALL"], "Next": "Reject"}],
                   "End": True},
        "Fallback": {"Type": "Map", "ItemsPath": "$.items", "ItemProcessor": {
            "StartAt": "Each", "States": {"Each": {"Type": "Pass", "End": True}}}, "End": True},
    },
}


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    (pytester.path / "machine.json").write_text(json.dumps(MACHINE))
    shutil.copy(ROOT / "examples" / "hello" / "definition.json", pytester.path / "hello.json")
    return pytester


HANDLERS = '''
from asl.errors import StatesError
from asl.tasks import HandlerTable

def reviewer(*outcomes):
    """A lambda:invoke handler answering with the given outcomes in turn (an exception name fails)."""
    answers = iter(outcomes)
    def handle(request):
        answer = next(answers)
        if isinstance(answer, str):
            raise StatesError(answer, "from the test")
        return answer
    table = HandlerTable()
    table.register("lambda", "invoke", handle)
    return table
'''


def test_fixtures_assertions_and_coverage_report(project: pytest.Pytester) -> None:
    project.makepyfile(handlers=HANDLERS, test_review='''
from handlers import reviewer
from harness.pytest_plugin import assert_output, assert_path

def test_accept(state_machine):
    ex = state_machine("machine.json", {"score": 0.9})
    assert_path(ex, ["Score", "Route", "Accept"])
    assert_output(ex, "accepted")

def test_manual_retried_then_approved(state_machine):
    ex = state_machine("machine.json", {"score": 0.5}, handlers=reviewer("Review.Busy", {"ok": True}))
    assert_path(ex, ["Score", "Route", "Manual"])
    assert_output(ex, {"ok": True})

def test_review_down_goes_to_the_fallback_map(state_machine):
    ex = state_machine("machine.json", {"score": 0.5, "items": [1, 2]}, handlers=reviewer("Review.Down"))
    assert_path(ex, ["Manual", "Fallback", "Each", "Each"], exact=False)
    assert_path(ex, ["Score", "Route", "Manual", "Fallback"], nested=False)
    assert ex.output == [1, 2]
''')
    result = project.runpytest("-p", "no:cacheprovider", "--drydock-coverage=cov/out.json")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines([
        "*drydock state machine coverage*",
        "machine.json (3 executions): states 6/7, choice rules 2/3, catches 1/2, retries 1/1",
        "  never: state Reject, choice Route[1], catch Manual[1]",
        "total: states 6/7 (85.7%), choice rules 2/3 (66.7%), catches 1/2 (50.0%), retries 1/1 (100.0%)",
        "written to *cov/out.json",
    ])
    report = json.loads((project.path / "cov" / "out.json").read_text())
    machine = report["machines"]["machine.json"]
    assert machine["states"] == {"Score": 3, "Route": 3, "Accept": 1, "Reject": 0, "Manual": 2, "Fallback": 1,
                                 "Fallback/Each": 2}
    assert machine["choices"] == {"Route": {"0": 1, "1": 0, "Default": 2}}
    assert machine["catches"] == {"Manual": {"0": 1, "1": 0}}
    assert machine["retries"] == {"Manual": {"0": 1}}
    assert report["totals"]["states"] == {"covered": 6, "total": 7, "percent": 85.7}


def test_assertion_failures_read_well(project: pytest.Pytester) -> None:
    project.makepyfile(test_fail='''
from harness.pytest_plugin import assert_output, assert_path

def test_path(state_machine):
    assert_path(state_machine("machine.json", {"score": 0.1}), ["Score", "Route", "Accept"])

def test_output(state_machine):
    assert_output(state_machine("machine.json", {"score": 0.9}), "rejected")

def test_status(state_machine):
    assert_output(state_machine("machine.json", {"score": 0.1}), "accepted")
''')
    result = project.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines([
        "*state path differs*", "*expected: Score -> Route -> Accept*", "*actual:   Score -> Route -> Reject*",
        "*status: FAILED, error: Rejected*",
        "*output differs*", '*expected: "rejected"*', '*actual:   "accepted"*',
        "*execution FAILED, expected SUCCEEDED*",
    ])


def test_hypothesis_inputs_reach_every_choice_rule(project: pytest.Pytester) -> None:
    project.makepyfile(test_props='''
import json
from hypothesis import given, settings, HealthCheck
from harness.pytest_plugin import inputs_for, json_values, run_state_machine

MACHINE = json.load(open("machine.json"))

@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(inputs_for(MACHINE))
def test_inputs_have_the_fields_rules_read(value):
    assert set(value) == {"score", "items"}  # Route's Variable and Fallback's ItemsPath
    assert isinstance(value["items"], list)

@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(json_values())
def test_json_values_are_json(value):
    assert json.loads(json.dumps(value)) == value

def test_routes_run(state_machine):
    from hypothesis import find
    for wanted in ("Accept", "Reject"):
        found = find(inputs_for(MACHINE), lambda v: isinstance(v["score"], (int, float))
                     and not isinstance(v["score"], bool) and (v["score"] > 0.8 if wanted == "Accept" else v["score"] < 0.2))
        assert wanted in [e["stateEnteredEventDetails"]["name"] for e in state_machine("machine.json", found).history.events
                          if e["type"].endswith("StateEntered")]
''')
    result = project.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["machine.json (2 executions): states 4/7, choice rules 2/3*"])


def test_local_cloud_is_isolated_per_test(project: pytest.Pytester) -> None:
    project.makepyfile(test_cloud='''
import json

def test_first(local_cloud):
    local_cloud.client("sqs").create_queue(QueueName="orders")
    sfn = local_cloud.client("stepfunctions")
    sfn.create_state_machine(name="m", roleArn="arn:aws:iam::123456789012:role/r",
                             definition=json.dumps({"StartAt": "A", "States": {"A": {"Type": "Succeed"}}}))
    assert len(local_cloud.client("sqs").list_queues()["QueueUrls"]) == 1

def test_second_sees_nothing(local_cloud):
    assert "QueueUrls" not in local_cloud.client("sqs").list_queues()
    assert local_cloud.client("stepfunctions").list_state_machines()["stateMachines"] == []
''')
    # in a subprocess: an in-process inner session would re-import moto's backends (pytester restores
    # sys.modules afterwards), which moto's stubber in this process does not survive
    result = project.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    assert "drydock state machine coverage" not in result.stdout.str()  # no state machine ran: no report


def test_the_plugin_is_registered_by_entry_point() -> None:
    from importlib.metadata import entry_points

    assert [e.value for e in entry_points(group="pytest11") if e.name == "drydock"] == ["harness.pytest_plugin"]
