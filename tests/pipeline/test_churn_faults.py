"""The churn workflow (pipeline/state_machine.yaml) through its Retry and Catch paths, with faults injected.

The stack and the SageMaker answers are test_churn_workflow.py's (S3, the Lambda function, SNS and the
approvals inbox live; SageMaker from a MockConfigFile test case); each test case here adds faults to one
of that file's paths (`harness.mock_config`): a throttle at the first invocation of every Task state,
which each Retrier must absorb; a service that stays throttled (or fails otherwise), which the state's
Catchers must route; a hang. Several test cases target resources rather than states
(`aws-sdk:s3:headObject`, `lambda:invoke`, `arn:aws:states:::sns:publish`), and live calls follow the
injected faults at the next invocation (`Call`).

Two findings the faults make visible, asserted below as the workflow behaves today: SNS throttles with
`SNS.ThrottledException`, which the notification and approval Retriers (`SNS.AmazonSNSException`,
`SNS.SdkClientException`) do not retry; and a throttled S3 HeadObject (`S3.S3Exception`, SlowDown) ends in
the InputDataMissing branch, as if the data were not there.
"""
from __future__ import annotations

import json
from typing import Any

import pytest

from asl.program import compile_program
from harness.approvals import Approvals, ApprovalStore, EngineTokens, attach_policy
from harness.mock_config import MockConfig
from harness.pytest_plugin import count_execution, path_of, watch_engine
from test_churn_workflow import COVERAGE_NAME, HAPPY, MACHINE, MACHINE_ARN, Stack, mock_config

THROTTLE = {"Throttle": {}}
CALL = {"Call": {}}
ALWAYS = "0-99"
SNS_DOWN = {"Throw": {"Error": "SNS.AmazonSNSException",
                      "Cause": "Service Unavailable (Service: AmazonSNS; Status Code: 503; Error Code: "
                               "ServiceUnavailable; Request ID: 1; Proxy: null)"}}
NOTIFY = "arn:aws:states:::sns:publish"  # NotifyDeployed and NotifyFailure, not RequestApproval's callback
FIRST_DEPLOYMENT_TAIL = ["EndpointMissing", "CreateEndpoint", "WaitForEndpoint", "DescribeEndpoint", "EndpointStatus",
                         "WaitForEndpoint", "DescribeEndpoint", "EndpointStatus", "NotifyDeployed", "Deployed"]


def shifted(response: dict[str, Any], first: dict[str, Any]) -> dict[str, Any]:
    """`first` at invocation 0, then the response's own answers one invocation later."""
    out = {"0": first}
    for key, entry in response.items():
        low, dash, high = key.partition("-")
        out[f"{int(low) + 1}-{int(high) + 1}" if dash else str(int(low) + 1)] = entry
    return out


def faults(execution_name: str, base_case: str, targets: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """test_churn_workflow's configuration, its `base_case` test case with faults: target -> mocked response."""
    document = mock_config(execution_name)
    case = dict(document["StateMachines"][MACHINE]["TestCases"][base_case])
    for target, response in targets.items():
        name = f"Fault{len(document['MockedResponses'])}"
        document["MockedResponses"][name] = response
        case[target] = name
    document["StateMachines"][MACHINE]["TestCases"]["Faults"] = case
    return document


def throttled_once(execution_name: str, base_case: str,
                   live: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """Every mocked state of `base_case` throttled at its first invocation; `live` targets fail once, then call."""
    document = mock_config(execution_name)
    base = document["StateMachines"][MACHINE]["TestCases"][base_case]
    targets = {state: shifted(document["MockedResponses"][name], THROTTLE) for state, name in base.items()
               if state != "FindEndpoint"}  # FindEndpoint's retries already answer "no endpoint" three times
    for target, first in (live or {}).items():
        targets[target] = {"0": first, "1-99": CALL}
    return faults(execution_name, base_case, targets)


class FaultStack(Stack):
    def run_faults(self, document: dict[str, Any], policy: str, execution_input: Any = None) -> Any:
        """Run test case 'Faults' of `document` with `policy` answering approvals (test_churn_workflow's start)."""
        mocks = MockConfig(document)
        engine = self.engine(mocks)
        self.approvals = Approvals(self.inbox, ApprovalStore(), EngineTokens(engine), clock=engine.scheduler.clock.now)
        self.policy = attach_policy(engine, self.approvals, policy)
        program = compile_program(self.definition)
        if self.coverage is not None:
            self.machine = watch_engine(self.coverage, COVERAGE_NAME, self.definition, engine, program)
        ex = engine.start(program, json.dumps(execution_input or {}), name="run-1", state_machine_arn=MACHINE_ARN)
        self.started.append(ex)
        mocks.bind(ex.arn, MACHINE, "Faults", self.definition)  # every target checked against the definition
        return engine.run_to_completion(ex)


@pytest.fixture
def stack(drydock_coverage) -> FaultStack:
    stack = FaultStack(drydock_coverage)
    yield stack
    for ex in stack.started:  # counted in the churn workflow's coverage, with test_churn_workflow.py's runs
        if ex.done:
            count_execution(stack.machine, ex)


def failures(ex: Any) -> dict[str, list[str]]:
    """State -> the errors its task attempts failed with, in order."""
    out: dict[str, list[str]] = {}
    state = ""
    for event in ex.history.events:
        if event["type"] == "TaskStateEntered":
            state = event["stateEnteredEventDetails"]["name"]
        elif event["type"] in ("TaskFailed", "TaskTimedOut"):
            details = event.get("taskFailedEventDetails") or event["taskTimedOutEventDetails"]
            out.setdefault(state, []).append(details["error"])
    return out


# --------------------------------------------------------------------------- every Retrier recovers
def test_a_throttle_at_every_task_of_a_first_deployment_is_retried(stack):
    document = throttled_once("run-1", "FirstDeployment", {
        "aws-sdk:s3:headObject": THROTTLE, "lambda:invoke": THROTTLE, "GetEvaluationReport": THROTTLE,
        "RequestApproval": SNS_DOWN, NOTIFY: SNS_DOWN})
    ex = stack.run_faults(document, "approve when auc >= 0.8")
    assert ex.status == "SUCCEEDED", ex.cause
    assert path_of(ex) == [*HAPPY, *FIRST_DEPLOYMENT_TAIL]  # the same path as without faults
    sdk, optimized = "SageMaker.SageMakerException", "SageMaker.AmazonSageMakerException"
    assert failures(ex) == {
        "CheckInputData": ["S3.S3Exception"], "StartPipeline": [sdk], "DescribePipelineExecution": [sdk],
        "FindModelPackage": [sdk], "DescribeModelPackage": [sdk],
        "PrepareApprovalRequest": ["Lambda.TooManyRequestsException"], "GetEvaluationReport": ["S3.S3Exception"],
        "RequestApproval": ["SNS.AmazonSNSException"], "ApproveModelPackage": [sdk], "CreateModel": [optimized],
        "CreateEndpointConfig": [optimized], "FindEndpoint": [sdk, sdk, sdk], "CreateEndpoint": [optimized],
        "DescribeEndpoint": [sdk], "NotifyDeployed": ["SNS.AmazonSNSException"]}
    # the live calls after the faults did their work: the approver answered, the notification went out
    assert json.loads(ex.output_text)["Approval"]["Decision"] == "Approved"
    (deployed,) = stack.notifications()
    assert deployed["Event"] == "ModelDeployed"


def test_a_throttled_update_in_place_is_retried(stack):
    ex = stack.run_faults(throttled_once("run-1", "UpdateInPlace"), "approve")
    assert ex.status == "SUCCEEDED", ex.cause
    assert failures(ex)["UpdateEndpoint"] == ["SageMaker.AmazonSageMakerException"]
    assert path_of(ex)[-2:] == ["NotifyDeployed", "Deployed"]


def test_a_throttled_rejection_and_a_failing_failure_notice_are_retried(stack):
    ex = stack.run_faults(throttled_once("run-1", "Decided", {NOTIFY: SNS_DOWN}), "approve when auc >= 0.95")
    assert (ex.status, ex.error) == ("FAILED", "ModelRejected")
    assert failures(ex) == {**{s: ["SageMaker.SageMakerException"] for s in (
        "StartPipeline", "DescribePipelineExecution", "FindModelPackage", "DescribeModelPackage",
        "RejectModelPackage")}, "RequestApproval": ["ModelRejected"], "NotifyFailure": ["SNS.AmazonSNSException"]}
    (notice,) = stack.notifications()  # sent at the second attempt
    assert notice["Error"] == "ModelRejected"


# --------------------------------------------------------------------------- every Catcher routes
@pytest.mark.parametrize("state, base_case, attempts, error", [
    ("StartPipeline", "FirstDeployment", 4, "SageMaker.SageMakerException"),
    ("DescribePipelineExecution", "FirstDeployment", 6, "SageMaker.SageMakerException"),
    ("FindModelPackage", "FirstDeployment", 4, "SageMaker.SageMakerException"),
    ("DescribeModelPackage", "FirstDeployment", 4, "SageMaker.SageMakerException"),
    ("lambda:invoke", "FirstDeployment", 4, "Lambda.TooManyRequestsException"),
    ("GetEvaluationReport", "FirstDeployment", 4, "S3.S3Exception"),
    ("RequestApproval", "FirstDeployment", 1, "SNS.ThrottledException"),  # not among its Retrier's errors
    ("RejectModelPackage", "Decided", 4, "SageMaker.SageMakerException"),
    ("ApproveModelPackage", "FirstDeployment", 4, "SageMaker.SageMakerException"),
    ("CreateModel", "FirstDeployment", 4, "SageMaker.AmazonSageMakerException"),
    ("CreateEndpointConfig", "FirstDeployment", 4, "SageMaker.AmazonSageMakerException"),
    ("CreateEndpoint", "FirstDeployment", 4, "SageMaker.AmazonSageMakerException"),
    ("UpdateEndpoint", "UpdateInPlace", 6, "SageMaker.AmazonSageMakerException"),
    ("DescribeEndpoint", "FirstDeployment", 6, "SageMaker.SageMakerException"),
])
def test_a_service_that_stays_throttled_is_caught_and_reported(stack, state, base_case, attempts, error):
    policy = "approve when auc >= 0.95" if base_case == "Decided" else "approve"
    ex = stack.run_faults(faults("run-1", base_case, {state: {ALWAYS: THROTTLE}}), policy)
    failing = "PrepareApprovalRequest" if state == "lambda:invoke" else state
    assert (ex.status, ex.error) == ("FAILED", error)
    assert failures(ex)[failing] == [error] * attempts  # the Retrier's attempts, then the Catcher
    assert path_of(ex)[-3:] == [failing, "NotifyFailure", "Failed"]
    (notice,) = stack.notifications()
    assert notice["Event"] == "WorkflowFailed" and notice["Error"] == error and "rate" in notice["Cause"].lower()


def test_a_throttled_input_check_reads_as_missing_data(stack):
    ex = stack.run_faults(faults("run-1", "FirstDeployment", {"aws-sdk:s3:headObject": {ALWAYS: THROTTLE}}), "approve")
    assert (ex.status, ex.error) == ("FAILED", "InputDataMissing")
    assert failures(ex) == {"CheckInputData": ["S3.S3Exception"] * 3}
    assert path_of(ex) == ["ReadInput", "ApplyDefaults", "CheckInputData", "InputDataMissing", "NotifyFailure",
                           "Failed"]
    assert "(S3.S3Exception: Please reduce your request rate. (Service: S3, Status Code: 503" in ex.cause


def test_an_unreachable_s3_goes_to_the_general_catcher(stack):
    unreachable = {"Throw": {"Error": "S3.SdkClientException", "Cause": "Unable to execute HTTP request: Connect to "
                             "churn-mlops-data.s3.amazonaws.com:443 failed: connect timed out"}}
    ex = stack.run_faults(faults("run-1", "FirstDeployment", {"CheckInputData": {ALWAYS: unreachable}}), "approve")
    assert (ex.status, ex.error) == ("FAILED", "S3.SdkClientException")
    assert failures(ex) == {"CheckInputData": ["S3.SdkClientException"] * 3}
    assert path_of(ex)[-3:] == ["CheckInputData", "NotifyFailure", "Failed"]


@pytest.mark.parametrize("fault, tail, error", [
    # DescribeEndpoint's ResourceNotFoundException: the first Catcher creates the endpoint
    ({"Throw": {"Error": "SageMaker.ResourceNotFoundException", "Cause": "Endpoint churn-endpoint not found"}},
     ["FindEndpoint", "CreateEndpoint", "WaitForEndpoint"], None),
    # throttled until the Retrier gives up: a SageMakerException that is no "Could not find endpoint"
    (THROTTLE, ["FindEndpoint", "EndpointMissing", "EndpointCheckFailed", "NotifyFailure", "Failed"],
     "SageMaker.SageMakerException"),
    # the SDK cannot reach SageMaker: the last Catcher
    ({"Throw": {"Error": "SageMaker.SdkClientException", "Cause": "Unable to execute HTTP request"}},
     ["FindEndpoint", "NotifyFailure", "Failed"], "SageMaker.SdkClientException"),
])
def test_find_endpoint_routes_each_error_to_its_catcher(stack, fault, tail, error):
    ex = stack.run_faults(faults("run-1", "FirstDeployment", {"FindEndpoint": {ALWAYS: fault}}), "approve")
    path = path_of(ex)
    assert path[path.index("FindEndpoint"):][:len(tail)] == tail
    if error is None:
        assert ex.status == "SUCCEEDED", ex.cause
    else:
        assert (ex.status, ex.error) == ("FAILED", error)


def test_a_throttled_deployment_notice_still_ends_deployed(stack):
    ex = stack.run_faults(faults("run-1", "FirstDeployment", {NOTIFY: {ALWAYS: THROTTLE}}), "approve")
    assert ex.status == "SUCCEEDED" and path_of(ex)[-2:] == ["NotifyDeployed", "Deployed"]
    assert failures(ex)["NotifyDeployed"] == ["SNS.ThrottledException"]  # not retried: see the module docstring
    assert json.loads(ex.output_text)["NotificationError"]["Error"] == "SNS.ThrottledException"
    assert stack.notifications() == []


def test_a_throttled_failure_notice_still_fails_with_the_workflows_error(stack):
    ex = stack.run_faults(faults("run-1", "PipelineFails", {NOTIFY: {ALWAYS: THROTTLE}}), "approve")
    assert (ex.status, ex.error) == ("FAILED", "PipelineExecutionFailed")
    assert failures(ex) == {"NotifyFailure": ["SNS.ThrottledException"]}
    assert path_of(ex)[-3:] == ["PipelineFailed", "NotifyFailure", "Failed"]
    assert stack.notifications() == []


def test_an_approval_request_that_hangs_times_out_after_24_hours(stack):
    ex = stack.run_faults(faults("run-1", "Decided", {"RequestApproval": {"0": {"Hang": {}}}}), "never answer")
    assert (ex.status, ex.error) == ("FAILED", "ApprovalTimedOut")
    assert failures(ex) == {"RequestApproval": ["States.Timeout"]}
    submitted, timed_out = (e for e in ex.history.events if e["type"] in ("TaskSubmitted", "TaskTimedOut"))
    assert (timed_out["timestamp"] - submitted["timestamp"]).total_seconds() == 86400
    assert path_of(ex)[-4:] == ["RequestApproval", "ApprovalTimedOut", "NotifyFailure", "Failed"]
