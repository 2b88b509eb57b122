"""SageMaker jobs through boto3 in-process: drydock runs them on a worker while the API answers as AWS does."""
from __future__ import annotations

import io
import re
import tarfile
import time

import pytest
from botocore.exceptions import ClientError

from service_kit import (BUCKET, TRAIN_PY, churn_rows, log_messages, processing_request, put, script_job,
                         shape_problems, source_dir, training_request, uri, wait_for)

RAISES = '''
print("loading the data")
def load():
    raise ValueError("label column has 3 classes, expected 2")
load()
'''
SLEEPS = '''
import time
print("started", flush=True)
time.sleep(60)
print("never printed")
'''
WRITES_OUTPUTS = '''
import os
print("processing")
for name in ("train", "test"):
    with open(f"/opt/ml/processing/output/{name}/{name}.csv", "w") as out:
        out.write(f"{name},1\\n")
'''


def error(exc: pytest.ExceptionInfo) -> tuple[str, str]:
    err = exc.value.response["Error"]
    return err["Code"], err["Message"]


def test_training_job_runs_the_pipelines_train_py(cloud, sm) -> None:
    s3, logs = cloud.client("s3"), cloud.client("logs")
    put(s3, "svc-train/data/train/train.csv", churn_rows(300, seed=1))
    put(s3, "svc-train/data/validation/validation.csv", churn_rows(100, seed=2))
    request = training_request(
        "svc-train", source_dir(s3, "svc-train", {"train.py": TRAIN_PY}),
        channels={"train": uri("svc-train/data/train"), "validation": uri("svc-train/data/validation")},
        hyperparameters={"num_round": 20, "max_depth": 3},
        metrics=[{"Name": "validation:auc", "Regex": r"validation-auc:([0-9\.]+)"}])

    arn = sm.create_training_job(**request)["TrainingJobArn"]
    assert arn == "arn:aws:sagemaker:us-east-1:123456789012:training-job/svc-train"
    first = sm.describe_training_job(TrainingJobName="svc-train")
    assert first["TrainingJobStatus"] == "InProgress"  # the call answers before the job ends, as on AWS
    described, seen = wait_for(lambda: sm.describe_training_job(TrainingJobName="svc-train"), "TrainingJobStatus")

    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    assert seen[0][0] == "InProgress" and seen[-1] == ("Completed", "Completed")
    assert shape_problems(sm, "DescribeTrainingJob", described) == ""
    transitions = described["SecondaryStatusTransitions"]
    assert [t["Status"] for t in transitions] == ["Starting", "Downloading", "Training", "Uploading", "Completed"]
    assert all(t["StartTime"] <= t["EndTime"] for t in transitions)
    assert described["TrainingStartTime"] <= described["TrainingEndTime"]
    assert described["HyperParameters"] == request["HyperParameters"]  # the request, echoed
    assert described["InputDataConfig"] == request["InputDataConfig"]

    artifact = described["ModelArtifacts"]["S3ModelArtifacts"]
    assert artifact == uri("models/svc-train/output/model.tar.gz")
    body = s3.get_object(Bucket=BUCKET, Key="models/svc-train/output/model.tar.gz")["Body"].read()
    assert "xgboost-model" in tarfile.open(fileobj=io.BytesIO(body)).getnames()
    (metric,) = described["FinalMetricDataList"]
    assert metric["MetricName"] == "validation:auc" and 0.5 < metric["Value"] <= 1.0

    (stream,) = logs.describe_log_streams(logGroupName="/aws/sagemaker/TrainingJobs",
                                          logStreamNamePrefix="svc-train/")["logStreams"]
    assert re.fullmatch(r"svc-train/algo-1-\d{10}", stream["logStreamName"])
    messages = log_messages(logs, "/aws/sagemaker/TrainingJobs", stream["logStreamName"])
    assert any(m.startswith("validation-auc:") for m in messages)

    listed = sm.list_training_jobs(NameContains="svc-train")["TrainingJobSummaries"]
    assert [(s["TrainingJobName"], s["TrainingJobStatus"], s["SecondaryStatus"]) for s in listed] == [
        ("svc-train", "Completed", "Completed")]
    assert shape_problems(sm, "ListTrainingJobs", {"TrainingJobSummaries": listed}) == ""


def test_a_script_that_raises_fails_with_its_last_line_and_logs_everything(cloud, sm) -> None:
    sm.create_training_job(**script_job(cloud.client("s3"), "svc-raises", RAISES))
    described, _ = wait_for(lambda: sm.describe_training_job(TrainingJobName="svc-raises"), "TrainingJobStatus")
    assert (described["TrainingJobStatus"], described["SecondaryStatus"]) == ("Failed", "Failed")
    assert described["FailureReason"] == "AlgorithmError: ValueError: label column has 3 classes, expected 2"
    assert [t["Status"] for t in described["SecondaryStatusTransitions"]] == [
        "Starting", "Downloading", "Training", "Failed"]
    assert shape_problems(sm, "DescribeTrainingJob", described) == ""

    logs = cloud.client("logs")
    (stream,) = logs.describe_log_streams(logGroupName="/aws/sagemaker/TrainingJobs",
                                          logStreamNamePrefix="svc-raises/")["logStreams"]
    messages = log_messages(logs, "/aws/sagemaker/TrainingJobs", stream["logStreamName"])
    assert messages[0] == "loading the data"
    assert "Traceback (most recent call last):" in messages
    assert messages[-1] == "ValueError: label column has 3 classes, expected 2"


def test_stop_training_job_stops_the_process(cloud, sm) -> None:
    sm.create_training_job(**script_job(cloud.client("s3"), "svc-stop", SLEEPS))
    deadline = time.monotonic() + 30
    while sm.describe_training_job(TrainingJobName="svc-stop")["SecondaryStatus"] != "Training":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    stopped_at = time.monotonic()
    sm.stop_training_job(TrainingJobName="svc-stop")
    assert sm.describe_training_job(TrainingJobName="svc-stop")["TrainingJobStatus"] in ("Stopping", "Stopped")
    described, _ = wait_for(lambda: sm.describe_training_job(TrainingJobName="svc-stop"), "TrainingJobStatus")
    assert time.monotonic() - stopped_at < 10  # SIGTERM ended the sleeping script; nobody waited a minute
    assert (described["TrainingJobStatus"], described["SecondaryStatus"]) == ("Stopped", "Stopped")
    assert "FailureReason" not in described
    assert [t["Status"] for t in described["SecondaryStatusTransitions"]][-2:] == ["Stopping", "Stopped"]
    with pytest.raises(ClientError) as exc:
        sm.stop_training_job(TrainingJobName="svc-stop")
    assert error(exc) == ("ValidationException",
                          "The request was rejected because the training job is in status Stopped.")


def test_processing_job_uploads_its_outputs_and_logs(cloud, sm) -> None:
    s3 = cloud.client("s3")
    outputs = {"train": uri("svc-processing/out/train"), "test": uri("svc-processing/out/test")}
    request = processing_request(s3, "svc-processing", WRITES_OUTPUTS, outputs)
    arn = sm.create_processing_job(**request)["ProcessingJobArn"]
    assert arn.endswith(":processing-job/svc-processing")
    described, seen = wait_for(lambda: sm.describe_processing_job(ProcessingJobName="svc-processing"),
                               "ProcessingJobStatus")
    assert described["ProcessingJobStatus"] == "Completed", described.get("FailureReason")
    assert shape_problems(sm, "DescribeProcessingJob", described) == ""
    assert described["ProcessingOutputConfig"] == request["ProcessingOutputConfig"]
    assert described["ProcessingStartTime"] <= described["ProcessingEndTime"]
    assert s3.get_object(Bucket=BUCKET, Key="svc-processing/out/test/test.csv")["Body"].read() == b"test,1\n"
    logs = cloud.client("logs")
    (stream,) = logs.describe_log_streams(logGroupName="/aws/sagemaker/ProcessingJobs",
                                          logStreamNamePrefix="svc-processing/")["logStreams"]
    assert re.fullmatch(r"svc-processing/algo-1-\d{10}", stream["logStreamName"])
    assert log_messages(logs, "/aws/sagemaker/ProcessingJobs", stream["logStreamName"]) == ["processing"]
    (summary,) = sm.list_processing_jobs(NameContains="svc-processing", StatusEquals="Completed")[
        "ProcessingJobSummaries"]
    assert summary["ProcessingJobName"] == "svc-processing"


def test_refusals_name_the_problem(cloud, sm) -> None:
    s3 = cloud.client("s3")
    with pytest.raises(ClientError) as exc:
        sm.describe_training_job(TrainingJobName="svc-never-created")
    assert error(exc) == ("ValidationException", "Requested resource not found.")

    request = script_job(s3, "svc-twice", "print('once')")
    sm.create_training_job(**request)
    with pytest.raises(ClientError) as exc:
        sm.create_training_job(**request)
    code, message = error(exc)
    assert code == "ResourceInUse" and "svc-twice" in message
    wait_for(lambda: sm.describe_training_job(TrainingJobName="svc-twice"), "TrainingJobStatus")

    bad = script_job(s3, "svc-bad-regex", "print(1)")
    bad["AlgorithmSpecification"]["MetricDefinitions"] = [{"Name": "auc", "Regex": "auc:([0-9"}]
    with pytest.raises(ClientError) as exc:
        sm.create_training_job(**bad)
    assert error(exc)[0] == "ValidationException" and "invalid Regex" in error(exc)[1]

    bad = script_job(s3, "svc-bad-enum", "print(1)")
    bad["AlgorithmSpecification"]["TrainingInputMode"] = "Streaming"
    with pytest.raises(ClientError) as exc:
        sm.create_training_job(**bad)
    assert error(exc) == ("ValidationException", "1 validation error detected: Value 'Streaming' at "
                                                 "'algorithmSpecification.trainingInputMode' failed to satisfy "
                                                 "constraint: Member must satisfy enum value set: [Pipe, File, "
                                                 "FastFile]")


def test_what_drydock_does_not_take_stays_with_moto(cloud, sm) -> None:
    model = sm.create_model(ModelName="svc-moto-model", ExecutionRoleArn="arn:aws:iam::123456789012:role/r",
                            PrimaryContainer={"Image": "img", "ModelDataUrl": uri("m.tar.gz")})
    assert model["ModelArn"].endswith(":model/svc-moto-model")
    assert sm.describe_model(ModelName="svc-moto-model")["PrimaryContainer"]["Image"] == "img"


def test_a_job_cut_short_by_a_restart_runs_again_under_its_name(cloud, sm, tmp_path) -> None:
    """`drydock serve --state-dir`: the jobs part saved while a job runs, loaded in a new service, resumed."""
    from harness.overlay import OVERLAY
    from harness.sagemaker import service

    marker = tmp_path / "first-attempt-ran"
    script = f'''
import pathlib, time
marker = pathlib.Path({str(marker)!r})
if not marker.exists():
    marker.write_text("x")
    print("first attempt: the server dies during it", flush=True)
    time.sleep(60)
print("second attempt: done", flush=True)
'''
    sm.create_training_job(**script_job(cloud.client("s3"), "svc-restart", script))
    deadline = time.monotonic() + 30
    while not marker.exists():
        assert time.monotonic() < deadline
        time.sleep(0.02)
    before = service.SERVICE
    saved = before.dump()  # what the journal holds when the process is killed
    restarted = service.SageMakerService()
    try:
        service.SERVICE = restarted
        OVERLAY.register("sagemaker", restarted.handle, service.ACTIONS)
        restarted.load(saved)
        restarted.resume()
        described, _ = wait_for(lambda: sm.describe_training_job(TrainingJobName="svc-restart"), "TrainingJobStatus")
    finally:
        service.SERVICE = before
        OVERLAY.register("sagemaker", before.handle, service.ACTIONS)
        before.find(cloud.account, cloud.region, "TrainingJob", "svc-restart").stop()  # the first attempt
    assert described["TrainingJobStatus"] == "Completed"
    first = described["SecondaryStatusTransitions"][0]
    assert (first["Status"], first["StatusMessage"]) == ("Starting", service.jobs.RESTARTED)
    logs = cloud.client("logs")
    streams = logs.describe_log_streams(logGroupName="/aws/sagemaker/TrainingJobs",
                                        logStreamNamePrefix="svc-restart/")["logStreams"]
    said = [m for s in streams for m in log_messages(logs, "/aws/sagemaker/TrainingJobs", s["logStreamName"])]
    assert "second attempt: done" in said
