"""Model Monitor, locally: a baseline from the churn training data, monitoring runs over captured traffic, violations.

The captured traffic is written here in the data-capture format the endpoints write (JSON Lines under
`<DestinationS3Uri>/<EndpointName>/<VariantName>/yyyy/mm/dd/hh/<uuid>.jsonl`); the endpoint's input rows are the
churn frame's columns without the label, CSV without a header. S3, EventBridge, SQS and Step Functions are the
directory conftest's moto mock.
"""
import base64
import json
import time
import uuid
from datetime import datetime, timezone

import boto3
import numpy as np
import pytest

from fixtures.churn import generate
from harness.sagemaker.monitor import (
    CaptureFormatError, NoCapturedData, run_monitoring, suggest_baseline)
from job_requests import BUCKET, REGION

ACCOUNT = "123456789012"
LABEL = "churned"
HOUR = datetime(2024, 6, 30, 13, 20, tzinfo=timezone.utc)  # when the traffic was captured
SCHEDULED = datetime(2024, 6, 30, 14, tzinfo=timezone.utc)  # the hourly execution that analyses it
CAPTURE = f"s3://{BUCKET}/monitor/capture"
REPORTS = f"s3://{BUCKET}/monitor/reports"
BASELINE = f"s3://{BUCKET}/monitor/baseline"
SHIFTED = {"monthly_charges", "login_frequency"}  # fixtures.churn's drift: prices x1.2, logins x0.6
STABLE = {"tenure_months", "support_tickets", "signup_date", "customer_id"}
RETRAIN_PATTERN = {"source": ["aws.sagemaker"], "detail-type": ["SageMaker Processing Job State Change"],
                   "detail": {"ExitMessage": [{"prefix": "CompletedWithViolations"}]}}


class Cloud:
    """What the monitor needs of `LocalCloud`: clients of the module's moto mock, the account and the region."""

    region, account = REGION, ACCOUNT

    def __init__(self):
        self._session = boto3.session.Session(region_name=REGION)
        self._clients = {}

    def client(self, service):
        if service not in self._clients:
            self._clients[service] = self._session.client(service)
        return self._clients[service]


@pytest.fixture(scope="module")
def cloud(s3):
    return Cloud()


@pytest.fixture(scope="module")
def baseline(cloud, s3):
    frame = generate(2000, seed=0).drop(columns=[LABEL])
    s3.put_object(Bucket=BUCKET, Key="monitor/train/train.csv", Body=frame.to_csv(index=False).encode())
    return suggest_baseline(cloud, f"s3://{BUCKET}/monitor/train/", BASELINE)


def features_csv(frame):
    return frame.drop(columns=[LABEL]).to_csv(index=False, header=False)


def capture(s3, endpoint, rows_csv, *, per_record=1, encoding="CSV", when=HOUR, variant="AllTraffic"):
    """Write captured requests as an endpoint does: one record per request of `per_record` CSV rows."""
    lines = rows_csv.strip("\n").split("\n")
    records = []
    for start in range(0, len(lines), per_record):
        body = "\n".join(lines[start:start + per_record])
        data = base64.b64encode(body.encode()).decode() if encoding == "BASE64" else body
        records.append(json.dumps({
            "captureData": {
                "endpointInput": {"observedContentType": "text/csv", "mode": "INPUT", "data": data,
                                  "encoding": encoding},
                "endpointOutput": {"observedContentType": "text/csv; charset=utf-8", "mode": "OUTPUT",
                                   "data": "0.5", "encoding": "CSV"}},
            "eventMetadata": {"eventId": str(uuid.uuid4()), "inferenceTime": when.strftime("%Y-%m-%dT%H:%M:%SZ")},
            "eventVersion": "0"}))
    key = f"monitor/capture/{endpoint}/{variant}/{when:%Y/%m/%d/%H}/{uuid.uuid4()}.jsonl"
    s3.put_object(Bucket=BUCKET, Key=key, Body=("\n".join(records) + "\n").encode())
    return key


def read_json(s3, uri):
    bucket, _, key = uri[len("s3://"):].partition("/")
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def checks(result, check_type):
    return {v["feature_name"] for v in result.violations if v["constraint_check_type"] == check_type}


def monitor(cloud, baseline, endpoint, **kwargs):
    return run_monitoring(cloud, endpoint=endpoint, capture=CAPTURE, output=REPORTS, baseline=BASELINE,
                          scheduled_time=SCHEDULED, **kwargs)


# --------------------------------------------------------------------------- baseline
def test_baseline_has_model_monitor_schema(s3, baseline):
    frame = generate(2000, seed=0)
    statistics = read_json(s3, f"{BASELINE}/statistics.json")
    constraints = read_json(s3, f"{BASELINE}/constraints.json")
    assert statistics == baseline.statistics and constraints == baseline.constraints
    assert statistics["version"] == 0.0 and statistics["dataset"] == {"item_count": 2000}
    features = {f["name"]: f for f in statistics["features"]}
    assert list(features) == [c for c in frame.columns if c != LABEL]
    assert {name: f["inferred_type"] for name, f in features.items()} == {
        "customer_id": "String", "signup_date": "String", "last_login_date": "String", "tenure_months": "Integral",
        "plan": "String", "monthly_charges": "Fractional", "login_frequency": "Fractional",
        "avg_session_minutes": "Fractional", "sessions_last_30d": "Integral", "support_tickets": "Integral",
        "payment_failures": "Integral"}

    sessions = features["avg_session_minutes"]["numerical_statistics"]
    assert set(sessions) == {"common", "mean", "sum", "std_dev", "min", "max", "distribution"}
    present = int(frame["avg_session_minutes"].notna().sum())
    assert sessions["common"] == {"num_present": present, "num_missing": 2000 - present}
    assert sessions["mean"] == pytest.approx(frame["avg_session_minutes"].mean())
    assert sessions["sum"] == pytest.approx(frame["avg_session_minutes"].sum())
    assert sessions["std_dev"] == pytest.approx(frame["avg_session_minutes"].std(ddof=0))
    assert (sessions["min"], sessions["max"]) == (frame["avg_session_minutes"].min(),
                                                  frame["avg_session_minutes"].max())
    kll = sessions["distribution"]["kll"]
    assert len(kll["buckets"]) == 10 and set(kll["buckets"][0]) == {"lower_bound", "upper_bound", "count"}
    assert sum(b["count"] for b in kll["buckets"]) == present
    assert kll["buckets"][0]["lower_bound"] == sessions["min"] and kll["buckets"][-1]["upper_bound"] == sessions["max"]
    assert kll["sketch"]["parameters"] == {"c": 0.64, "k": 2048.0}
    assert sorted(kll["sketch"]["data"][0]) == sorted(frame["avg_session_minutes"].dropna())  # n <= k: exact

    plan = features["plan"]["string_statistics"]
    assert plan["common"] == {"num_present": 2000, "num_missing": 0} and plan["distinct_count"] == 3
    assert {b["value"]: b["count"] for b in plan["distribution"]["categorical"]["buckets"]} == \
        frame["plan"].value_counts().to_dict()

    by_name = {f["name"]: f for f in constraints["features"]}
    assert constraints["version"] == 0.0
    assert by_name["tenure_months"] == {"name": "tenure_months", "inferred_type": "Integral", "completeness": 1.0,
                                        "num_constraints": {"is_non_negative": True}}
    assert 0.9 < by_name["avg_session_minutes"]["completeness"] < present / 2000  # Deequ's retained completeness
    assert by_name["plan"]["string_constraints"] == {"domains": ["basic", "premium", "standard"]}
    assert "string_constraints" not in by_name["customer_id"]  # every value unique: no domain
    config = constraints["monitoring_config"]
    assert {k: config[k] for k in ("evaluate_constraints", "emit_metrics", "datatype_check_threshold",
                                   "domain_content_threshold")} == {
        "evaluate_constraints": "Enabled", "emit_metrics": "Enabled", "datatype_check_threshold": 1.0,
        "domain_content_threshold": 1.0}
    assert {k: config["distribution_constraints"][k] for k in ("perform_comparison", "comparison_threshold",
                                                              "comparison_method")} == {
        "perform_comparison": "Enabled", "comparison_threshold": 0.1, "comparison_method": "Robust"}


def test_baseline_without_header_names_columns_like_spark(cloud, s3):
    s3.put_object(Bucket=BUCKET, Key="monitor/noheader/train.csv", Body=features_csv(generate(300)).encode())
    found = suggest_baseline(cloud, f"s3://{BUCKET}/monitor/noheader/train.csv", f"s3://{BUCKET}/monitor/nh")
    assert [f["name"] for f in found.statistics["features"]] == [f"_c{i}" for i in range(11)]
    assert found.statistics["dataset"]["item_count"] == 300  # the first row was data, not a header
    assert found.statistics["features"][3]["inferred_type"] == "Integral"


def test_large_dataset_sketch_is_a_weighted_quantile_summary(cloud, s3):
    from harness.sagemaker.monitor.baseline import sketch_cdf, sketch_data

    values = np.random.default_rng(3).normal(size=10_000)
    data = sketch_data(values)
    assert [len(c) for c in data[:-1]] == [0] * (len(data) - 1) and len(data[-1]) <= 2048
    items, ranks = sketch_cdf({"data": data})
    assert ranks[-1] == pytest.approx(10_000, rel=0.01)
    assert np.interp(0.0, items, ranks) / ranks[-1] == pytest.approx(0.5, abs=0.01)


# --------------------------------------------------------------------------- monitoring runs
def test_traffic_like_the_training_data_does_not_drift(cloud, s3, baseline):
    capture(s3, "churn-same", features_csv(generate(600, seed=1)), per_record=3)
    capture(s3, "churn-same", features_csv(generate(400, seed=2)), encoding="BASE64")
    result = monitor(cloud, baseline, "churn-same", schedule="hourly")
    assert result.records == 200 + 400
    assert checks(result, "baseline_drift_check") == set()
    assert not checks(result, "data_type_check") | checks(result, "missing_column_check") | \
        checks(result, "extra_column_check") | checks(result, "categorical_values_check")

    report = f"{REPORTS}/churn-same/hourly/2024/06/30/14"
    assert result.output_uri == report
    assert read_json(s3, f"{report}/constraint_violations.json") == {"violations": result.violations}
    assert read_json(s3, f"{report}/statistics.json")["dataset"] == {"item_count": 1000}


def test_training_data_itself_is_clean_and_sends_no_event(cloud, s3, baseline):
    capture(s3, "churn-itself", features_csv(generate(2000, seed=0)), per_record=50)
    result = monitor(cloud, baseline, "churn-itself")
    assert (result.status, result.violations, result.event) == ("Completed", [], None)


def test_drifted_traffic_violates_baseline_drift_on_the_shifted_features(cloud, s3, baseline):
    capture(s3, "churn-drifted", features_csv(generate(600, seed=1, drifted=True)), per_record=2)
    result = monitor(cloud, baseline, "churn-drifted", emit_event=False)
    drifted = checks(result, "baseline_drift_check")
    assert SHIFTED <= drifted and not drifted & STABLE
    assert result.status == "CompletedWithViolations"
    charges = next(v for v in result.violations if v["feature_name"] == "monthly_charges")
    assert charges["description"].startswith("Baseline drift distance: ")
    assert charges["description"].endswith(" exceeds threshold: 0.1")
    assert set(charges) == {"feature_name", "constraint_check_type", "description"}


def test_type_completeness_domain_and_column_checks(cloud, s3, baseline):
    rows = [line.split(",") for line in features_csv(generate(200, seed=4)).strip().split("\n")]
    for row in rows[:20]:
        row[3] = "twelve"  # tenure_months
        row[4] = "enterprise"  # plan: outside the domain
        row[5] = ""  # monthly_charges missing
    capture(s3, "churn-bad-values", "\n".join(",".join(r) for r in rows))
    result = monitor(cloud, baseline, "churn-bad-values", emit_event=False)
    assert checks(result, "data_type_check") == {"tenure_months"}
    assert checks(result, "completeness_check") >= {"monthly_charges"}
    assert checks(result, "categorical_values_check") == {"plan"}
    described = next(v for v in result.violations if v["constraint_check_type"] == "data_type_check")
    assert described["description"] == ("Data type match requirement is not met. Expected data type: Integral, "
                                        "Expected match: 100.0%. Observed: Only 90.0% of data is Integral.")

    capture(s3, "churn-narrow", "\n".join(",".join(r[:10]) for r in rows[20:]))
    assert checks(monitor(cloud, baseline, "churn-narrow", emit_event=False), "missing_column_check") == \
        {"payment_failures"}
    capture(s3, "churn-wide", "\n".join(",".join(r + ["1"]) for r in rows[20:]))
    wide = monitor(cloud, baseline, "churn-wide", emit_event=False)
    assert checks(wide, "extra_column_check") == {"_c11"}
    assert next(v for v in wide.violations if v["feature_name"] == "_c11")["description"] == (
        "There are extra columns in current dataset. Number of columns in current dataset: 12, Number of columns "
        "in baseline constraints: 11")


def test_violations_reach_an_sqs_rule_and_start_the_retraining_state_machine(cloud, s3, baseline):
    events, sqs, sfn = cloud.client("events"), cloud.client("sqs"), cloud.client("stepfunctions")
    queue = sqs.create_queue(QueueName="monitor-violations")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    machine = sfn.create_state_machine(
        name="churn-retrain", roleArn=f"arn:aws:iam::{ACCOUNT}:role/StepFunctionsRole",
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}))
    events.put_rule(Name="retrain-on-drift", EventPattern=json.dumps(RETRAIN_PATTERN))
    events.put_targets(Rule="retrain-on-drift", Targets=[
        {"Id": "queue", "Arn": queue_arn},
        {"Id": "retrain", "Arn": machine["stateMachineArn"], "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/Events"}])
    try:
        capture(s3, "churn-loop", features_csv(generate(500, seed=5, drifted=True)), per_record=5)
        result = monitor(cloud, baseline, "churn-loop", schedule="hourly")

        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        assert len(messages) == 1
        event = json.loads(messages[0]["Body"])
        assert event == result.event
        assert (event["source"], event["detail-type"]) == ("aws.sagemaker", "SageMaker Processing Job State Change")
        detail = event["detail"]
        assert detail["ProcessingJobStatus"] == "Completed"
        assert detail["ExitMessage"] == (f"CompletedWithViolations: Job completed successfully with "
                                         f"{len(result.violations)} violations.")
        assert detail["ProcessingJobName"].startswith("model-monitoring-202406301400-")
        assert event["resources"] == [detail["ProcessingJobArn"]] == [result.processing_job_arn]
        assert detail["MonitoringScheduleArn"].endswith(":monitoring-schedule/hourly")
        assert detail["Environment"]["sagemaker_endpoint_name"] == "churn-loop"
        assert detail["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"] == result.output_uri

        executions = sfn.list_executions(stateMachineArn=machine["stateMachineArn"])["executions"]
        assert len(executions) == 1
        started = sfn.describe_execution(executionArn=executions[0]["executionArn"])
        assert json.loads(started["input"]) == event
    finally:
        events.remove_targets(Rule="retrain-on-drift", Ids=["queue", "retrain"])
        events.delete_rule(Name="retrain-on-drift")


# --------------------------------------------------------------------------- bad input
def test_malformed_capture_record_names_the_key_and_line(cloud, s3, baseline):
    key = capture(s3, "churn-broken", features_csv(generate(3, seed=6)))
    good = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode().splitlines()
    s3.put_object(Bucket=BUCKET, Key=key, Body="\n".join([good[0], '{"captureData": {"endpointInput": ', good[2]]))
    with pytest.raises(CaptureFormatError, match=rf"s3://{BUCKET}/{key} line 2: not a JSON capture record"):
        monitor(cloud, baseline, "churn-broken")

    s3.put_object(Bucket=BUCKET, Key=key, Body="\n".join([good[0], good[1], '{"eventVersion": "0"}']))
    with pytest.raises(CaptureFormatError, match=rf"{key} line 3: no \"captureData\" object"):
        monitor(cloud, baseline, "churn-broken")

    bad_base64 = json.loads(good[0])
    bad_base64["captureData"]["endpointInput"].update(encoding="BASE64", data="not base64!")
    s3.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(bad_base64))
    with pytest.raises(CaptureFormatError, match=rf"{key} line 1: endpointInput data is not base64"):
        monitor(cloud, baseline, "churn-broken")


def test_no_capture_in_the_window_is_an_error(cloud, s3, baseline):
    with pytest.raises(NoCapturedData, match="no captured data for endpoint churn-silent"):
        monitor(cloud, baseline, "churn-silent")
    capture(s3, "churn-earlier", features_csv(generate(5, seed=7)), when=datetime(2024, 6, 30, 9, tzinfo=timezone.utc))
    with pytest.raises(NoCapturedData):
        monitor(cloud, baseline, "churn-earlier", start=datetime(2024, 6, 30, 13, tzinfo=timezone.utc),
                end=SCHEDULED)


# --------------------------------------------------------------------------- CLI and API
def test_cli_prints_baseline_and_violation_tables(cloud, s3, baseline, capsys):
    from harness import cli
    from harness.commands import monitor as command

    args = cli.build_parser().parse_args(["monitor", "baseline", "--data", f"s3://{BUCKET}/monitor/train/train.csv",
                                          "-o", f"s3://{BUCKET}/monitor/cli-baseline"])
    assert command.baseline_command(cloud, args) == 0
    out = capsys.readouterr().out
    assert "login_frequency" in out and "Fractional" in out and f"s3://{BUCKET}/monitor/cli-baseline/" in out

    capture(s3, "churn-cli", features_csv(generate(400, seed=8, drifted=True)))
    args = cli.build_parser().parse_args(["monitor", "run", "--endpoint", "churn-cli", "--baseline",
                                          f"s3://{BUCKET}/monitor/cli-baseline", "--capture", CAPTURE, "--no-event"])
    assert command.run_command(cloud, args) == 1
    out = capsys.readouterr().out
    assert "baseline_drift_check" in out and "monthly_charges" in out and "CompletedWithViolations" in out
    assert f"s3://{BUCKET}/monitor/reports/churn-cli/churn-cli-data-quality/" in out  # default output and schedule


def test_monitoring_schedule_api_through_boto3(cloud, s3, baseline):
    pytest.importorskip("harness.overlay")
    from harness.overlay import OVERLAY
    from harness.sagemaker.monitor import api

    capture(s3, "churn-api", features_csv(generate(300, seed=9, drifted=True)),
            when=datetime.now(timezone.utc))
    service = api.MonitorService(lambda account, region: cloud, capture_destination=lambda c, endpoint: CAPTURE)
    previous = api.install(service)
    OVERLAY.intercept_botocore(True)
    try:
        sagemaker = boto3.session.Session(region_name=REGION).client("sagemaker")
        definition = {
            "BaselineConfig": {"ConstraintsResource": {"S3Uri": f"{BASELINE}/constraints.json"},
                               "StatisticsResource": {"S3Uri": f"{BASELINE}/statistics.json"}},
            "MonitoringInputs": [{"EndpointInput": {"EndpointName": "churn-api",
                                                    "LocalPath": "/opt/ml/processing/input/endpoint"}}],
            "MonitoringOutputConfig": {"MonitoringOutputs": [{"S3Output": {
                "S3Uri": REPORTS, "LocalPath": "/opt/ml/processing/output", "S3UploadMode": "EndOfJob"}}]},
            "MonitoringResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge",
                                                      "VolumeSizeInGB": 20}},
            "MonitoringAppSpecification": {"ImageUri": "156813124566.dkr.ecr.us-east-1.amazonaws.com/"
                                                       "sagemaker-model-monitor-analyzer"},
            "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/SageMakerExecutionRole"}
        arn = sagemaker.create_monitoring_schedule(MonitoringScheduleName="churn-hourly", MonitoringScheduleConfig={
            "ScheduleConfig": {"ScheduleExpression": "cron(0 * ? * * *)"}, "MonitoringJobDefinition": definition,
            "MonitoringType": "DataQuality"})["MonitoringScheduleArn"]
        described = sagemaker.describe_monitoring_schedule(MonitoringScheduleName="churn-hourly")
        assert (described["MonitoringScheduleArn"], described["MonitoringScheduleStatus"],
                described["EndpointName"]) == (arn, "Scheduled", "churn-api")

        execution = service.run_schedule(ACCOUNT, REGION, "churn-hourly")  # the next hour's execution
        assert execution.status == "CompletedWithViolations", execution.failure_reason
        summaries = sagemaker.list_monitoring_executions(MonitoringScheduleName="churn-hourly")[
            "MonitoringExecutionSummaries"]
        assert [s["MonitoringExecutionStatus"] for s in summaries] == ["CompletedWithViolations"]
        assert summaries[0]["ProcessingJobArn"].split("/")[-1].startswith("model-monitoring-")
        last = sagemaker.describe_monitoring_schedule(MonitoringScheduleName="churn-hourly")[
            "LastMonitoringExecutionSummary"]
        assert last["MonitoringExecutionStatus"] == "CompletedWithViolations"

        sagemaker.create_monitoring_schedule(MonitoringScheduleName="churn-now", MonitoringScheduleConfig={
            "ScheduleConfig": {"ScheduleExpression": "NOW", "DataAnalysisStartTime": "-PT1H",
                               "DataAnalysisEndTime": "-PT0H"},
            "MonitoringJobDefinition": {**definition, "MonitoringInputs": [
                {"EndpointInput": {"EndpointName": "churn-silent", "LocalPath": "/opt/ml/processing/input"}}]}})
        deadline = time.monotonic() + 10
        while True:
            (summary,) = sagemaker.list_monitoring_executions(MonitoringScheduleName="churn-now")[
                "MonitoringExecutionSummaries"]
            if summary["MonitoringExecutionStatus"] in api.TERMINAL or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        assert summary["MonitoringExecutionStatus"] == "Failed"
        assert "no captured data for endpoint churn-silent" in summary["FailureReason"]

        with pytest.raises(sagemaker.exceptions.ClientError) as refused:
            sagemaker.describe_monitoring_schedule(MonitoringScheduleName="nope")
        assert refused.value.response["Error"]["Code"] == "ResourceNotFound"
    finally:
        OVERLAY.intercept_botocore(False)
        api.install(previous)
