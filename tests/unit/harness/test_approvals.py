"""harness.approvals: requests from the SNS topic into the inbox and the store, answers through Step Functions,
and the policy that answers them for unattended runs on the engine's virtual clock."""
from __future__ import annotations

import json
import time

import pytest

from asl.engine import Engine
from harness.approvals import (APPROVED, EXPIRED, PENDING, Approval, ApprovalError, Approvals, ApprovalStore,
                               EngineTokens, Inbox, approval_id, attach_policy, flatten_metrics, parse_message,
                               parse_policy)
from harness.cloud import LocalCloud
from harness.integrations import build_handlers

REPORT = {"binary_classification_metrics": {"auc": {"value": 0.91, "standard_deviation": 0.01},
                                            "f1": {"value": 0.7},
                                            "confusion_matrix": {"0": {"0": 90, "1": 4}, "1": {"0": 3, "1": 3}}}}


# --------------------------------------------------------------------------- messages and metrics
def test_metrics_flatten_from_the_model_quality_shape_and_flat_ones():
    assert flatten_metrics(REPORT) == {"auc": 0.91, "f1": 0.7}
    assert flatten_metrics({"auc": 0.8, "note": "x", "ok": True}) == {"auc": 0.8}
    assert flatten_metrics({}) == {}


def envelope(message: dict, **extra) -> str:
    return json.dumps({"Type": "Notification", "MessageId": "m-1", "TopicArn": "arn:aws:sns:us-east-1:1:t",
                       "Subject": "Approve?", "Message": json.dumps(message), "Timestamp": "2024-01-01T00:00:05.000Z",
                       **extra})


def test_parse_an_sns_notification_and_a_raw_message():
    message = {"TaskToken": "tok", "ModelPackageArn": "arn:mp/3", "ModelPackageVersion": 3, "Metrics": REPORT,
               "ExecutionArn": "arn:ex"}
    approval = parse_message(envelope(message))
    assert (approval.id, approval.task_token, approval.model_package_arn) == (approval_id("tok"), "tok", "arn:mp/3")
    assert approval.received == 1704067205.0 and approval.subject == "Approve?" and approval.execution_arn == "arn:ex"
    assert approval.scores == {"auc": 0.91, "f1": 0.7}
    raw = parse_message(json.dumps(message), received=12.0)
    assert raw.received == 12.0 and raw.task_token == "tok"
    assert parse_message(envelope({"Event": "WorkflowFailed"})) is None  # not an approval request
    assert parse_message("not json") is None


# --------------------------------------------------------------------------- the store
def approval(token: str, **extra) -> Approval:
    return Approval(approval_id(token), token, "arn:mp", {"auc": 0.9}, 1.0, **extra)


def test_file_store_is_shared_and_finds_by_prefix(tmp_path):
    path = tmp_path / "state" / "approvals.json"
    first, second = ApprovalStore(path), ApprovalStore(path)
    a = approval("token-a")
    assert first.add(a) and not second.add(a)  # SQS delivers at least once
    assert second.get(a.id[:4]).task_token == "token-a"
    assert second.get("token-a").id == a.id  # the whole token works too
    with pytest.raises(ApprovalError, match="is not a known approval"):
        first.get("zzzz")
    twin = next(f"token-{n}" for n in range(1000) if approval_id(f"token-{n}")[0] == a.id[0])  # same first digit
    first.add(approval(twin))
    with pytest.raises(ApprovalError, match="is ambiguous"):
        first.get(a.id[0])
    assert json.loads(path.read_text())[a.id]["status"] == PENDING


# --------------------------------------------------------------------------- policies
@pytest.mark.parametrize("text, action, delay", [
    ("approve", "approve", 0), ("reject", "reject", 0), ("never", "never", 0), ("never answer", "never", 0),
    ("approve after 2h", "approve", 7200), ("Approve when AUC >= 0.8 and f1 > 0.5 after 30m", "approve", 1800),
])
def test_policy_forms(text, action, delay):
    policy = parse_policy(text)
    assert (policy.action, policy.delay) == (action, delay)


@pytest.mark.parametrize("text", ["maybe", "approve when auc", "approve when auc >= high", "reject when auc < 1"])
def test_policy_errors_show_the_forms(text):
    with pytest.raises(ValueError, match="approve when auc >= 0.8"):
        parse_policy(text)


def test_policy_decisions():
    good = Approval("i", "t", "arn", REPORT, 0.0)
    assert parse_policy("approve when auc >= 0.9 and f1 >= 0.7").decide(good).action == "approve"
    low = parse_policy("approve when auc >= 0.95").decide(good)
    assert (low.action, low.reason) == ("reject", "policy 'approve when auc >= 0.95': auc = 0.91 is not >= 0.95")
    missing = parse_policy("approve when rmse < 2").decide(good)
    assert missing.action == "reject" and "has no metric 'rmse' (it has: auc, f1)" in missing.reason
    assert parse_policy("never answer").decide(good).action == "none"


# --------------------------------------------------------------------------- answering, in-process
APPROVAL_MACHINE = {
    "StartAt": "RequestApproval",
    "States": {
        "RequestApproval": {
            "Type": "Task", "Resource": "arn:aws:states:::sns:publish.waitForTaskToken", "TimeoutSeconds": 86400,
            "Parameters": {"TopicArn": "TOPIC", "Message": {"TaskToken.$": "$$.Task.Token", "ModelPackageArn": "arn:mp/1",
                                                             "ExecutionArn.$": "$$.Execution.Id", "Metrics.$": "$.report"}},
            "ResultPath": "$.Approval", "Next": "Approved",
            "Catch": [{"ErrorEquals": ["ModelRejected"], "ResultPath": "$.Approval", "Next": "Rejected"},
                      {"ErrorEquals": ["States.Timeout"], "ResultPath": "$.Failure", "Next": "TimedOut"}]},
        "Approved": {"Type": "Succeed"},
        "Rejected": {"Type": "Fail", "Error": "ModelRejected", "CausePath": "$.Approval.Cause"},
        "TimedOut": {"Type": "Fail", "Error": "ApprovalTimedOut"},
    },
}


@pytest.fixture
def world():
    """An in-process cloud with an approval topic, the inbox subscribed to it, and the machine pointed at it."""
    from moto.core.base_backend import BackendDict

    cloud = LocalCloud()
    BackendDict.reset()
    topic = cloud.client("sns").create_topic(Name="approvals")["TopicArn"]
    inbox = Inbox(cloud)
    assert inbox.subscribe(topic) == inbox.subscribe(topic)  # once
    assert inbox.topics() == [topic]
    definition = json.loads(json.dumps(APPROVAL_MACHINE).replace('"TOPIC"', json.dumps(topic)))
    return cloud, inbox, definition


def engine_for(cloud) -> Engine:
    handlers = build_handlers(cloud)
    engine = Engine(handlers)
    handlers.bind(engine)
    return engine


def waiting(world, auc: float = 0.91):
    """An engine whose execution has published its request and waits for the answer."""
    cloud, inbox, definition = world
    engine = engine_for(cloud)
    approvals = Approvals(inbox, ApprovalStore(), EngineTokens(engine), clock=engine.scheduler.clock.now)
    report = {"binary_classification_metrics": {"auc": {"value": auc}}}
    ex = engine.start(definition, json.dumps({"report": report}))
    engine.run(until=lambda: any(e["type"] == "TaskSubmitted" for e in ex.history.events))
    return engine, ex, approvals


def test_approve_sends_task_success_with_the_decision(world):
    engine, ex, approvals = waiting(world)
    (pending,) = approvals.pending()
    assert pending.scores == {"auc": 0.91} and pending.model_package_arn == "arn:mp/1"
    done = approvals.approve(pending.id[:5], by="ana", comment="looks good")
    engine.run_to_completion(ex)
    assert ex.status == "SUCCEEDED"
    assert json.loads(ex.output_text)["Approval"] == {"Decision": "Approved", "ApprovedBy": "ana",
                                                      "Comment": "looks good", "ModelPackageArn": "arn:mp/1"}
    assert done.status == APPROVED and approvals.pending() == []
    with pytest.raises(ApprovalError, match="already approved"):
        approvals.reject(pending.id, "changed my mind")


def test_reject_sends_task_failure_with_the_reason(world):
    engine, ex, approvals = waiting(world)
    (pending,) = approvals.pending()
    with pytest.raises(ApprovalError, match="needs a reason"):
        approvals.reject(pending.id, "  ")
    approvals.reject(pending.id, "recall too low for the retention campaign", by="ben")
    engine.run_to_completion(ex)
    assert (ex.status, ex.error) == ("FAILED", "ModelRejected")
    assert ex.cause == "recall too low for the retention campaign (rejected by ben)"


def test_an_answer_after_the_timeout_expires_the_request(world):
    engine, ex, approvals = waiting(world)
    (pending,) = approvals.pending()
    engine.run_to_completion(ex)  # nobody answered: 24 virtual hours pass
    assert ex.error == "ApprovalTimedOut"
    # AWS answers TaskTimedOut; drydock's engine, whose deadline closes the wait, TaskDoesNotExist: both expire it
    with pytest.raises(ApprovalError, match=r"can no longer be answered \(Task(TimedOut|DoesNotExist)"):
        approvals.approve(pending.id)
    assert approvals.store.get(pending.id).status == EXPIRED


def test_listing_expires_requests_whose_execution_ended(world):
    engine, ex, approvals = waiting(world)
    approvals.collect()
    engine.stop_execution(ex, "Stopped", "by hand")
    assert approvals.pending() == []
    (expired,) = approvals.all()
    assert (expired.status, expired.answer) == (EXPIRED, "the execution is ABORTED")


@pytest.mark.parametrize("policy, auc, status, error, virtual_seconds", [
    ("approve when auc >= 0.8", 0.91, "SUCCEEDED", None, 0),
    ("approve when auc >= 0.8", 0.62, "FAILED", "ModelRejected", 0),
    ("reject", 0.99, "FAILED", "ModelRejected", 0),
    ("approve after 3h", 0.5, "SUCCEEDED", None, 3 * 3600),
    ("never answer", 0.99, "FAILED", "ApprovalTimedOut", 86400),
    ("approve after 2d", 0.99, "FAILED", "ApprovalTimedOut", 86400),  # the answer would come too late
])
def test_policies_answer_inside_the_scheduler(world, policy, auc, status, error, virtual_seconds):
    cloud, inbox, definition = world
    engine = engine_for(cloud)
    approvals = Approvals(inbox, ApprovalStore(), EngineTokens(engine), clock=engine.scheduler.clock.now)
    hook = attach_policy(engine, approvals, policy)
    started = time.perf_counter()
    ex = engine.start(definition, json.dumps({"report": {"binary_classification_metrics": {"auc": {"value": auc}}}}))
    engine.run_to_completion(ex)
    assert time.perf_counter() - started < 1.0
    assert (ex.status, ex.error) == (status, error)
    assert ex.stop - ex.start == virtual_seconds
    if error == "ModelRejected":
        assert "rejected by drydock policy" in ex.cause
    if policy.startswith("approve when") and status == "SUCCEEDED":
        assert hook.decisions[0][1].reason == "policy 'approve when auc >= 0.8': auc = 0.91"
    hook.detach()
    assert engine.handlers is hook.inner


def test_a_policy_without_a_subscribed_inbox_says_so(world, capsys):
    cloud, _, definition = world
    engine = engine_for(cloud)
    lonely = Inbox(cloud, "not-subscribed")
    attach_policy(engine, Approvals(lonely, ApprovalStore(), EngineTokens(engine)), "approve")
    ex = engine.run_to_completion(engine.start(definition, json.dumps({"report": {}})))
    assert ex.error == "ApprovalTimedOut"
    assert "found no approval request" in capsys.readouterr().err
