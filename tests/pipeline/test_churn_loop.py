"""The churn loop for real: the template deployed, the SDK pipeline upserted, real jobs, a real endpoint, drift.

Nothing is mocked: pipeline/state_machine.yaml is deployed by `harness.cfn.deploy` into the in-process cloud,
pipeline/definition.py's pipeline is built and upserted with the SageMaker SDK v2, the process backend runs the
scripts of pipeline/scripts, the endpoint serves the trained booster, Model Monitor checks the captured traffic and
its violation event starts the workflow again (`harness.commands.demo.Scenario` holds the steps; `drydock demo`
runs the same ones). The paths the real services cannot be made to take on purpose (a rejection, nobody
answering, an update that rolled back, ...) are tests/pipeline/test_churn_workflow.py's, with SageMaker mocked;
both count into the state machine coverage report under one name.
"""
from __future__ import annotations

import json
from typing import Any

import pytest

from harness.approvals import APPROVED
from harness.commands.demo import Scenario, load_preprocess
from harness.plots import roc_points
from harness.pytest_plugin import count_execution, path_of, watch_engine

COVERAGE_NAME = "pipeline/state_machine.yaml#ChurnWorkflow"  # as in test_churn_workflow.py
ROWS = 1500


@pytest.fixture
def scenario(local_cloud, tmp_path, drydock_coverage):
    """The stack deployed in a fresh in-process cloud; the backend's engine counted into the coverage report."""
    sc = Scenario(rows=ROWS, out_dir=tmp_path / "out", work_dir=tmp_path / "work", feature_store=False)
    sc.start()
    sc.deploy()
    backend = sc.api.store.backend(sc.cloud.account, sc.cloud.region)
    revision = backend.state_machines[sc.machine_arn].revision
    machine = backend.pump.call(lambda: watch_engine(drydock_coverage, COVERAGE_NAME, json.loads(revision.definition),
                                                     backend.engine, revision.program))
    try:
        yield sc
    finally:
        for record in list(backend.executions.values()):
            if record.execution.done:
                count_execution(machine, record.execution)
        sc.close()


def execution(sc: Scenario, arn: str) -> Any:
    return sc.api.store.backend(sc.cloud.account, sc.cloud.region).executions[arn].execution


def task_output(ex: Any, state: str) -> Any:
    """The result of the (last) task of `state`, as its TaskSucceeded event carries it."""
    scheduled = [e["id"] for e in ex.history.events if e.get("stateEnteredEventDetails", {}).get("name") == state]
    found = [e for e in ex.history.events if e["type"] == "TaskSucceeded" and e["id"] > scheduled[-1]]
    return json.loads(found[0]["taskSucceededEventDetails"]["output"])


def notifications(sc: Scenario) -> list[dict[str, Any]]:
    sqs = sc.client("sqs")
    found = sqs.receive_message(QueueUrl=sc.notification_queue, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in found]


def listen_to_notifications(sc: Scenario) -> None:
    sqs, sns = sc.client("sqs"), sc.client("sns")
    sc.notification_queue = sqs.create_queue(QueueName="mlops-notifications")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=sc.notification_queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=sc.stack.outputs["NotificationTopicArn"], Protocol="sqs", Endpoint=arn,
                  Attributes={"RawMessageDelivery": "true"})


def test_data_to_approval_to_endpoint_to_drift_to_retrained_endpoint(scenario):
    sc = scenario
    listen_to_notifications(sc)
    sc.upsert_pipeline()
    sc.attach_policy("approve when auc >= 0.75")

    # new data in S3: the NewTrainingData rule starts the workflow on it
    first = sc.upload_data()
    assert first is not None, "the S3 upload started no execution"
    ex1 = execution(sc, first)
    assert json.loads(ex1.input_text) == {"DataBucket": sc.bucket, "DataKey": "data/churn.csv", "Trigger": "s3-upload"}
    run1 = sc.follow(first, "s3-upload")
    assert run1.status == "SUCCEEDED", (run1.error, run1.cause)
    steps = {s["StepName"]: s for s in run1.pipeline_steps}
    assert {name: s["StepStatus"] for name, s in steps.items()} == {
        "Preprocess": "Succeeded", "Train": "Succeeded", "Evaluate": "Succeeded", "LatestApprovedAuc": "Succeeded",
        "CheckAuc": "Succeeded", "RegisterChurnModel-RegisterModel": "Succeeded"}

    # the pipeline registered version 1 waiting for a person; the policy approved it with its metrics
    registered = task_output(ex1, "DescribeModelPackage")
    assert (registered["ModelPackageVersion"], registered["ModelApprovalStatus"]) == (1, "PendingManualApproval")
    auc = run1.output["Evaluation"]["Metrics"]["binary_classification_metrics"]["auc"]["value"]
    assert auc > 0.8
    (approval,) = sc.approvals.store.all()
    assert approval.status == APPROVED and approval.model_package_version == 1
    assert approval.answer == f"policy 'approve when auc >= 0.75': auc = {auc:.4g}"
    v1 = sc.package(1)
    assert v1["ModelApprovalStatus"] == "Approved"

    # deployed: the endpoint serves version 1's artifact
    state = sc.endpoint_state()
    assert state["EndpointStatus"] == "InService" and state["EndpointConfigName"].startswith("churn-v1-")
    assert state["ModelDataUrl"] == v1["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
    assert "CreateEndpoint" in path_of(ex1) and "UpdateEndpoint" not in path_of(ex1)
    assert [n["Event"] for n in notifications(sc)] == ["ModelDeployed"]

    # predictions: the endpoint's scores of the test split give the AUC the evaluation job reported
    splits = sc.splits(run1)
    test = sc.read_csv(splits["test"])
    scores = sc.invoke(test.iloc[:, 1:])
    assert len(scores) == len(test) and all(0.0 <= s <= 1.0 for s in scores)
    assert roc_points(test.iloc[:, 0].astype(int), scores)[2] == pytest.approx(auc, abs=1e-6)

    # the traffic was captured; normal traffic passes the baseline, drifted traffic does not
    baseline = sc.baseline(splits["train"])
    assert [f["name"] for f in baseline.constraints["features"]] == load_preprocess().FEATURE_NAMES
    clean = sc.monitor_now("loop-normal", baseline)
    assert (clean["status"], clean["violations"]) == ("Completed", [])
    known = sc.executions()
    sc.invoke(sc.drifted_features(2 * len(test)))
    drift = sc.monitor_now("loop-drifted", baseline)
    assert drift["status"] == "CompletedWithViolations"
    assert {v["constraint_check_type"] for v in drift["violations"]} == {"baseline_drift_check"}
    assert {"login_frequency", "charges_per_login"} <= {v["feature_name"] for v in drift["violations"]}

    # the violation event: the DriftDetected rule starts the workflow again, which retrains and updates in place
    second = sc.wait_for_new_execution(known)
    ex2 = execution(sc, second)
    assert json.loads(ex2.input_text)["Trigger"] == "drift"
    run2 = sc.follow(second, "drift")
    assert run2.status == "SUCCEEDED", (run2.error, run2.cause)
    assert not any(s.get("CacheHitResult") for s in run2.pipeline_steps), "the retrain ran its jobs again"
    assert task_output(ex2, "DescribeModelPackage")["ModelPackageVersion"] == 2
    latest = {s["StepName"]: s for s in run2.pipeline_steps}["LatestApprovedAuc"]["Metadata"]["Lambda"]
    assert {p["Name"]: p["Value"] for p in latest["OutputParameters"]}["model_package_arn"] == v1["ModelPackageArn"]
    assert "UpdateEndpoint" in path_of(ex2) and "CreateEndpoint" not in path_of(ex2)
    v2 = sc.package(2)
    assert v2["ModelApprovalStatus"] == "Approved"
    state = sc.endpoint_state()
    assert state["EndpointStatus"] == "InService" and state["EndpointConfigName"].startswith("churn-v2-")
    assert state["ModelDataUrl"] == v2["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
    assert state["ModelDataUrl"] != v1["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
    assert len(sc.invoke(test.iloc[:3, 1:])) == 3
    assert [n["Event"] for n in notifications(sc)] == ["ModelDeployed"]
    assert run1.history_path.is_file() and run2.history_path.is_file()


def test_a_training_script_crash_fails_the_run_and_notifies(scenario):
    sc = scenario
    listen_to_notifications(sc)
    sc.upsert_pipeline(hyperparameters={"objective": "binary:no-such-objective"})  # xgboost refuses it in train.py
    sc.attach_policy("approve")
    run = sc.follow(sc.upload_data(), "s3-upload")
    assert (run.status, run.error) == ("FAILED", "PipelineExecutionFailed")
    ex = execution(sc, run.arn)
    assert path_of(ex)[-4:] == ["PipelineStatus", "PipelineFailed", "NotifyFailure", "Failed"]
    steps = {s["StepName"]: s for s in run.pipeline_steps}
    assert {n: s["StepStatus"] for n, s in steps.items()} == {"Preprocess": "Succeeded", "LatestApprovedAuc": "Succeeded", "Train": "Failed"}
    assert "no-such-objective" in steps["Train"]["FailureReason"]  # train.py's /opt/ml/output/failure
    assert "Evaluate" not in steps
    assert "Failed" in run.cause and run.pipeline_execution_arn in run.cause
    (notice,) = notifications(sc)
    assert notice["Event"] == "WorkflowFailed" and notice["Error"] == "PipelineExecutionFailed"
    assert sc.approvals.store.all() == []  # nothing was registered, nobody was asked
