"""Batch transform through the SageMaker API (boto3 in-process and `drydock serve`): drydock runs the inference."""
from __future__ import annotations

import gzip
import io
import json
import re
import socket
import tarfile
import time

import numpy as np
import pytest
import xgboost as xgb
from botocore.exceptions import ClientError

from harness.cloud import LocalCloud
from job_requests import PIPELINE_SCRIPTS, REGION, ROLE, XGBOOST_IMAGE
from service_kit import (BUCKET, TRAIN_PY, churn_rows, linear_model, linear_scores, log_messages, put, shape_problems,
                         source_dir, tarball, training_request, transform_request, uri, wait_for)

GROUP = "/aws/sagemaker/TransformJobs"

pytestmark = pytest.mark.usefixtures("serve_process")  # started with the module: its start-up overlaps the tests


@pytest.fixture(scope="module")
def trained(cloud, sm) -> str:
    """model.tar.gz of a real training job (the pipeline's train.py, 3 features): its S3 URI."""
    s3 = cloud.client("s3")
    put(s3, "tx-train/data/train/train.csv", churn_rows(300, seed=11))
    put(s3, "tx-train/data/validation/validation.csv", churn_rows(100, seed=12))
    sm.create_training_job(**training_request(
        "svc-tx-train", source_dir(s3, "svc-tx-train", {"train.py": TRAIN_PY}),
        channels={"train": uri("tx-train/data/train"), "validation": uri("tx-train/data/validation")},
        hyperparameters={"num_round": 10, "max_depth": 3}))
    described, _ = wait_for(lambda: sm.describe_training_job(TrainingJobName="svc-tx-train"), "TrainingJobStatus")
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    return described["ModelArtifacts"]["S3ModelArtifacts"]


def booster_of(s3, artifact: str) -> xgb.Booster:
    body = s3.get_object(Bucket=BUCKET, Key=artifact.split(f"{BUCKET}/", 1)[1])["Body"].read()
    booster = xgb.Booster()
    booster.load_model(bytearray(tarfile.open(fileobj=io.BytesIO(body)).extractfile("xgboost-model").read()))
    return booster


def features(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, 3)).round(4)


def csv_text(rows) -> str:
    return "".join(",".join(str(v) for v in row) + "\n" for row in rows)


def read(s3, key: str) -> str:
    return s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()


def transform(sm, request: dict, timeout: float = 60.0) -> tuple[dict, list]:
    arn = sm.create_transform_job(**request)["TransformJobArn"]
    assert arn == f"arn:aws:sagemaker:us-east-1:123456789012:transform-job/{request['TransformJobName'].lower()}"
    return wait_for(lambda: sm.describe_transform_job(TransformJobName=request["TransformJobName"]),
                    "TransformJobStatus", timeout=timeout)


def error(exc: pytest.ExceptionInfo) -> tuple[str, str]:
    err = exc.value.response["Error"]
    return err["Code"], err["Message"]


def streams(logs, job: str) -> list[str]:
    return sorted(s["logStreamName"] for s in logs.describe_log_streams(
        logGroupName=GROUP, logStreamNamePrefix=f"{job}/")["logStreams"])


# --------------------------------------------------------------------------- what runs
def test_a_trained_model_scores_every_file_with_the_framework_default(cloud, sm, trained) -> None:
    s3, logs = cloud.client("s3"), cloud.client("logs")
    first, second = features(25, 1), features(7, 2)
    put(s3, "tx-xgb/in/first.csv", csv_text(first))
    put(s3, "tx-xgb/in/more/second.csv", csv_text(second))
    sm.create_model(ModelName="svc-tx-xgb-model", ExecutionRoleArn=ROLE,
                    PrimaryContainer={"Image": XGBOOST_IMAGE, "ModelDataUrl": trained})
    request = transform_request("svc-tx-xgb", "svc-tx-xgb-model", uri("tx-xgb/in"), uri("tx-xgb/out"),
                                BatchStrategy="MultiRecord", MaxPayloadInMB=1)

    described, seen = transform(sm, request)

    assert described["TransformJobStatus"] == "Completed", described.get("FailureReason")
    assert seen[0][0] in ("InProgress", "Completed") and "FailureReason" not in described
    assert shape_problems(sm, "DescribeTransformJob", described) == ""
    assert described["CreationTime"] <= described["TransformStartTime"] <= described["TransformEndTime"]
    assert (described["TransformInput"], described["TransformOutput"]) == (request["TransformInput"],
                                                                         request["TransformOutput"])
    assert (described["ModelName"], described["BatchStrategy"]) == ("svc-tx-xgb-model", "MultiRecord")
    booster = booster_of(s3, trained)
    for key, rows in (("tx-xgb/out/first.csv.out", first), ("tx-xgb/out/more/second.csv.out", second)):
        text = read(s3, key)
        assert text.endswith("\n") and len(text.splitlines()) == len(rows)  # AssembleWith Line: one per line
        np.testing.assert_allclose([float(v) for v in text.split()], booster.predict(xgb.DMatrix(rows)), rtol=1e-5)

    instance = re.escape("svc-tx-xgb/") + r"i-[0-9a-f]{17}-\d{10}"
    container_stream, data_stream = streams(logs, "svc-tx-xgb")
    assert re.fullmatch(instance, container_stream) and data_stream == f"{container_stream}/data-log"
    assert log_messages(logs, GROUP, data_stream) == [
        "[sagemaker logs]: MaxConcurrentTransforms=1, MaxPayloadInMB=1, BatchStrategy=MULTI_RECORD"]

    (summary,) = sm.list_transform_jobs(NameContains="svc-tx-xgb")["TransformJobSummaries"]
    assert (summary["TransformJobName"], summary["TransformJobStatus"]) == ("svc-tx-xgb", "Completed")
    assert summary["TransformEndTime"] == described["TransformEndTime"]
    assert shape_problems(sm, "ListTransformJobs", {"TransformJobSummaries": [summary]}) == ""
    assert sm.list_transform_jobs(StatusEquals="Failed", NameContains="svc-tx-xgb")["TransformJobSummaries"] == []


def test_an_inference_script_with_gzip_input_join_and_filters(cloud, sm, trained) -> None:
    """The pipeline's inference.py over the trained model; rows carry an id the model must not see."""
    s3 = cloud.client("s3")
    rows = features(12, 3)
    ids = [f"c{i:03d}" for i in range(len(rows))]
    put(s3, "tx-join/in/customers.csv.gz", gzip.compress(
        "".join(f"{i}," + ",".join(str(v) for v in row) + "\n" for i, row in zip(ids, rows)).encode()))
    sm.create_model(ModelName="svc-tx-join-model", ExecutionRoleArn=ROLE, PrimaryContainer={
        "Image": XGBOOST_IMAGE, "ModelDataUrl": trained,
        "Environment": {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": source_dir(
            s3, "svc-tx-join", {"inference.py": (PIPELINE_SCRIPTS / "inference.py").read_text()})}})
    request = transform_request("svc-tx-join", "svc-tx-join-model", uri("tx-join/in/"), uri("tx-join/out/"),
                                DataProcessing={"InputFilter": "$[1:]", "JoinSource": "Input",
                                                "OutputFilter": "$[0,-1]"})
    request["TransformInput"]["CompressionType"] = "Gzip"

    described, _ = transform(sm, request)

    assert described["TransformJobStatus"] == "Completed", described.get("FailureReason")
    assert described["DataProcessing"] == request["DataProcessing"]
    lines = read(s3, "tx-join/out/customers.csv.gz.out").splitlines()
    assert [line.split(",")[0] for line in lines] == ids  # the id joined back, every other input column filtered
    expected = booster_of(s3, trained).predict(xgb.DMatrix(rows))
    np.testing.assert_allclose([float(line.split(",")[1]) for line in lines], expected, atol=1e-6)


def test_json_lines_single_records_concurrently_from_a_manifest(cloud, sm) -> None:
    s3 = cloud.client("s3")
    weights = [0.5, -1.0, 2.0]
    linear_model(s3, sm, "svc-tx-json-model", weights, bias=1.0)
    batches = {"a.jsonl": [[1, 2, 3], [0, 0, 0]], "b/c.jsonl": [[4, 5, 6]]}
    for name, rows in batches.items():
        put(s3, f"tx-json/data/{name}", "".join(json.dumps({"id": f"{name}:{n}", "features": row}) + "\n"
                                                for n, row in enumerate(rows)))
    manifest = put(s3, "tx-json/manifest.json", json.dumps([{"prefix": uri("tx-json/data/")}, *batches]))
    request = transform_request("svc-tx-json", "svc-tx-json-model", manifest, uri("tx-json/out"),
                                content_type="application/jsonlines", accept="application/jsonlines",
                                BatchStrategy="SingleRecord", MaxConcurrentTransforms=2,
                                DataProcessing={"InputFilter": "$.features", "JoinSource": "Input",
                                                "OutputFilter": "$['id','SageMakerOutput']"})
    request["TransformInput"]["DataSource"]["S3DataSource"]["S3DataType"] = "ManifestFile"

    described, _ = transform(sm, request)

    assert described["TransformJobStatus"] == "Completed", described.get("FailureReason")
    for name, rows in batches.items():
        records = [json.loads(line) for line in read(s3, f"tx-json/out/{name}.out").splitlines()]
        assert records == [{"id": f"{name}:{n}", "SageMakerOutput": {"score": score}}
                           for n, score in enumerate(linear_scores(weights, rows, bias=1.0))]


def test_split_none_sends_each_object_whole_and_assembles_nothing(cloud, sm) -> None:
    s3 = cloud.client("s3")
    linear_model(s3, sm, "svc-tx-whole-model", [1.0, 1.0])
    put(s3, "tx-whole/in/rows.csv", "1,2\n3,4\n")
    request = transform_request("svc-tx-whole", "svc-tx-whole-model", uri("tx-whole/in/rows.csv"),
                                uri("tx-whole/out"), split="None", assemble="None")
    described, _ = transform(sm, request)
    assert described["TransformJobStatus"] == "Completed", described.get("FailureReason")
    assert read(s3, "tx-whole/out/rows.csv.out") == "3.0\n7.0"  # one request, its answer as it came


def test_drydock_serve_runs_transform_jobs(serve_process) -> None:
    server, port, log = serve_process
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"drydock serve did not start:\n{log.read_text()}")
            time.sleep(0.05)
    cloud = LocalCloud(f"http://127.0.0.1:{port}")
    s3, sm = cloud.client("s3"), cloud.client("sagemaker")
    s3.create_bucket(Bucket=BUCKET)
    linear_model(s3, sm, "served-model", [2.0, 0.0, 1.0])
    put(s3, "served/in/batch.csv", "1,5,1\n2,5,2\n")
    described, _ = transform(sm, transform_request("served-transform", "served-model", uri("served/in"),
                                                   uri("served/out")))
    assert described["TransformJobStatus"] == "Completed", described.get("FailureReason")
    assert read(s3, "served/out/batch.csv.out") == "3.0\n6.0\n"
    (stream,) = [s for s in streams(cloud.client("logs"), "served-transform") if s.endswith("/data-log")]
    assert stream.startswith("served-transform/i-")


# --------------------------------------------------------------------------- what goes wrong
def test_a_missing_model_is_refused_at_once(sm) -> None:
    with pytest.raises(ClientError) as exc:
        sm.create_transform_job(**transform_request("svc-tx-nomodel", "svc-no-such-model", uri("in"), uri("out")))
    assert error(exc) == ("ValidationException", 'Could not find model '
                                                 '"arn:aws:sagemaker:us-east-1:123456789012:model/svc-no-such-model".')
    with pytest.raises(ClientError) as exc:
        sm.describe_transform_job(TransformJobName="svc-tx-nomodel")
    assert error(exc) == ("ValidationException", "Could not find requested job with name svc-tx-nomodel")


def test_an_empty_input_prefix_fails_the_job_naming_it(cloud, sm) -> None:
    linear_model(cloud.client("s3"), sm, "svc-tx-empty-model", [1.0])
    described, _ = transform(sm, transform_request("svc-tx-empty", "svc-tx-empty-model", uri("tx-empty/nothing/"),
                                                   uri("tx-empty/out")))
    assert described["TransformJobStatus"] == "Failed"
    assert described["FailureReason"].startswith(
        f'ClientError: No S3 objects found under S3 URL "{uri("tx-empty/nothing/")}" given in input data source.')
    assert shape_problems(sm, "DescribeTransformJob", described) == ""
    logs = cloud.client("logs")
    (data_stream,) = streams(logs, "svc-tx-empty")
    assert data_stream.endswith("/data-log")
    assert 'No S3 objects found under S3 URL' in log_messages(logs, GROUP, data_stream)[-1]


def test_a_script_that_raises_fails_the_job_and_only_that_file(cloud, sm) -> None:
    s3, logs = cloud.client("s3"), cloud.client("logs")
    linear_model(s3, sm, "svc-tx-raises-model", [1.0, 1.0], raise_on=99)
    put(s3, "tx-raises/in/bad.csv", "1,1\n99,1\n")
    put(s3, "tx-raises/in/good.csv", "1,2\n")
    described, _ = transform(sm, transform_request("svc-tx-raises", "svc-tx-raises-model", uri("tx-raises/in/"),
                                                   uri("tx-raises/out"), ModelClientConfig={
                                                       "InvocationsMaxRetries": 0, "InvocationsTimeoutInSeconds": 30}))
    assert described["TransformJobStatus"] == "Failed"
    assert described["FailureReason"] == (
        f"AlgorithmError: {uri('tx-raises/in/bad.csv')}: Bad HTTP status received from algorithm: 500: "
        "ValueError: feature 0 is 99.0: the model cannot score it. See job logs for more information.")
    assert read(s3, "tx-raises/out/good.csv.out") == "3.0\n"  # the other files still go through, as on AWS
    with pytest.raises(ClientError):
        s3.head_object(Bucket=BUCKET, Key="tx-raises/out/bad.csv.out")
    container_stream, data_stream = streams(logs, "svc-tx-raises")
    container_log = log_messages(logs, GROUP, container_stream)
    assert "Traceback (most recent call last):" in container_log
    assert container_log[-1] == "ValueError: feature 0 is 99.0: the model cannot score it"
    assert log_messages(logs, GROUP, data_stream)[-1] == (
        f"[sagemaker logs]: {uri('tx-raises/in/bad.csv')}: AlgorithmError: Bad HTTP status received from "
        "algorithm: 500: ValueError: feature 0 is 99.0: the model cannot score it")


def test_a_model_that_cannot_load_fails_the_job(cloud, sm) -> None:
    s3 = cloud.client("s3")
    put(s3, "tx-noload/in/a.csv", "1\n")
    sm.create_model(ModelName="svc-tx-noload-model", ExecutionRoleArn=ROLE, PrimaryContainer={
        "Image": XGBOOST_IMAGE, "ModelDataUrl": uri("tx-noload/missing/model.tar.gz")})
    described, _ = transform(sm, transform_request("svc-tx-noload", "svc-tx-noload-model", uri("tx-noload/in"),
                                                   uri("tx-noload/out")))
    assert described["TransformJobStatus"] == "Failed"
    assert described["FailureReason"].startswith(
        'ClientError: Failed to download model data for container "container_1" from URL: '
        f'"{uri("tx-noload/missing/model.tar.gz")}".')

    put(s3, "tx-noload/bad-model.tar.gz", tarball({"xgboost-model": b"not a model"}))
    sm.create_model(ModelName="svc-tx-badmodel", ExecutionRoleArn=ROLE, PrimaryContainer={
        "Image": XGBOOST_IMAGE, "ModelDataUrl": uri("tx-noload/bad-model.tar.gz")})
    described, _ = transform(sm, transform_request("svc-tx-badmodel", "svc-tx-badmodel", uri("tx-noload/in"),
                                                   uri("tx-noload/out")))
    assert described["TransformJobStatus"] == "Failed"
    assert described["FailureReason"].startswith("AlgorithmError: the model container did not start: xgboost-model "
                                                 "is not an XGBoost model")


def test_records_the_filters_cannot_read_fail_their_file(cloud, sm) -> None:
    s3 = cloud.client("s3")
    linear_model(s3, sm, "svc-tx-badrec-model", [1.0])
    put(s3, "tx-badrec/in/a.jsonl", '{"id": 1}\n')
    request = transform_request("svc-tx-badrec", "svc-tx-badrec-model", uri("tx-badrec/in"), uri("tx-badrec/out"),
                                content_type="application/jsonlines", accept="application/jsonlines",
                                DataProcessing={"InputFilter": "$.features"})
    described, _ = transform(sm, request)
    assert described["TransformJobStatus"] == "Failed"
    assert described["FailureReason"] == (
        f"ClientError: {uri('tx-badrec/in/a.jsonl')}: $.features does not apply to the record (KeyError: "
        "'features'). See job logs for more information.")


def test_stop_transform_job_stops_between_requests(cloud, sm) -> None:
    s3 = cloud.client("s3")
    linear_model(s3, sm, "svc-tx-stop-model", [1.0], sleep=0.2)
    put(s3, "tx-stop/in/many.csv", "".join(f"{i}\n" for i in range(200)))
    sm.create_transform_job(**transform_request("svc-tx-stop", "svc-tx-stop-model", uri("tx-stop/in"),
                                                uri("tx-stop/out"), BatchStrategy="SingleRecord"))
    time.sleep(0.5)
    stopped_at = time.monotonic()
    sm.stop_transform_job(TransformJobName="svc-tx-stop")
    assert sm.describe_transform_job(TransformJobName="svc-tx-stop")["TransformJobStatus"] in ("Stopping", "Stopped")
    described, _ = wait_for(lambda: sm.describe_transform_job(TransformJobName="svc-tx-stop"), "TransformJobStatus")
    assert time.monotonic() - stopped_at < 5  # not the 40 s the whole file takes
    assert described["TransformJobStatus"] == "Stopped" and "FailureReason" not in described
    with pytest.raises(ClientError):
        s3.head_object(Bucket=BUCKET, Key="tx-stop/out/many.csv.out")
    with pytest.raises(ClientError) as exc:
        sm.stop_transform_job(TransformJobName="svc-tx-stop")
    assert error(exc) == ("ValidationException",
                          "The request was rejected because the transform job is in status Stopped.")


def test_refusals_name_the_field(cloud, sm) -> None:
    linear_model(cloud.client("s3"), sm, "svc-tx-refused-model", [1.0])

    def refused(**changes) -> str:
        request = transform_request("svc-tx-refused", "svc-tx-refused-model", uri("in"), uri("out"))
        for path, value in changes.items():
            *parents, last = path.split("__")
            target = request
            for parent in parents:
                target = target.setdefault(parent, {})
            target[last] = value
        with pytest.raises(ClientError) as exc:
            sm.create_transform_job(**request)
        code, message = error(exc)
        assert code == "ValidationException"
        return message

    assert "TransformInput.SplitType RecordIO" in refused(TransformInput__SplitType="RecordIO")
    assert "TransformInput.DataSource.S3DataSource.S3DataType AugmentedManifestFile" in refused(
        TransformInput__DataSource__S3DataSource__S3DataType="AugmentedManifestFile")
    assert "DataCaptureConfig" in refused(DataCaptureConfig={"DestinationS3Uri": uri("capture")})
    assert "DataProcessing.InputFilter '$..x'" in refused(DataProcessing={"InputFilter": "$..x"})
    assert "DataProcessing.JoinSource Input needs TransformInput.ContentType" in refused(
        TransformInput__ContentType="image/png", DataProcessing={"JoinSource": "Input"})
    assert "TransformOutput.Accept application/jsonlines does not match" in refused(
        TransformOutput__Accept="application/jsonlines", DataProcessing={"JoinSource": "Input"})
    assert "MaxPayloadInMB 0" in refused(MaxPayloadInMB=0)
    assert refused(BatchStrategy="AllAtOnce") == (  # the service model's enum, in AWS's words
        "1 validation error detected: Value 'AllAtOnce' at 'batchStrategy' failed to satisfy constraint: Member must "
        "satisfy enum value set: [MultiRecord, SingleRecord]")

    sm.create_transform_job(**transform_request("svc-tx-twice", "svc-tx-refused-model", uri("tx-twice/in"),
                                                uri("out")))
    with pytest.raises(ClientError) as exc:
        sm.create_transform_job(**transform_request("svc-tx-twice", "svc-tx-refused-model", uri("tx-twice/in"),
                                                    uri("out")))
    assert error(exc)[0] == "ResourceInUse" and "svc-tx-twice" in error(exc)[1]
    wait_for(lambda: sm.describe_transform_job(TransformJobName="svc-tx-twice"), "TransformJobStatus")


def test_jobs_survive_the_journal_as_they_were(cloud, sm) -> None:
    """`drydock serve --state-dir` pickles job records: a restored transform (or training) job describes the same."""
    import pickle

    from harness.sagemaker.service import SERVICE

    linear_model(cloud.client("s3"), sm, "svc-tx-journal-model", [1.0])
    put(cloud.client("s3"), "tx-journal/in/a.csv", "1\n")
    described, _ = transform(sm, transform_request("svc-tx-journal", "svc-tx-journal-model", uri("tx-journal/in"),
                                                   uri("tx-journal/out")))
    job = SERVICE.find(cloud.account, cloud.region, "TransformJob", "svc-tx-journal")
    restored = pickle.loads(pickle.dumps(job))
    assert restored.describe() == job.describe()
    assert restored.options == {"container": job.options["container"]}  # plain data: the model's container
    training = next(iter(SERVICE.region(cloud.account, cloud.region).jobs["TrainingJob"].values()), None)
    if training is not None:
        assert pickle.loads(pickle.dumps(training)).describe() == training.describe()
