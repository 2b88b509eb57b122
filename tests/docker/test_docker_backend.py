"""The docker backend behaves as the process backend: the same churn jobs, the same outputs, the same failures.

The churn pipeline's own `preprocess.py` (scikit-learn image) and `train.py` (XGBoost image, script mode through
the image's `train` toolkit) run once per backend on the same small fixture data, from the same Create*Job
requests; their outputs are compared. The images' libraries are older than the host's (scikit-learn 1.2 against
1.9, xgboost 2.1 against 3.x), so models are compared by AUC on the same test rows, not bit for bit.
Needs the engine and the images: scripts/docker/build-images.sh, then `pytest -m docker tests/docker`.
"""
from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import boto3
import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from moto import mock_aws
from sklearn.metrics import roc_auc_score

from fixtures.churn import generate
from harness.sagemaker import run_processing_job, run_training_job
from harness.sagemaker.backends.docker import JOB_LABEL, DockerBackend
from harness.sagemaker.backends.process import ProcessBackend

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "sagemaker"))
from job_requests import (BUCKET, PIPELINE_SCRIPTS, REGION, XGBOOST_IMAGE, channel,  # noqa: E402
                          processing_request, s3_input, s3_output, s3_uri, training_request,
                          upload_source_dir, upload_text)

pytestmark = pytest.mark.docker

ROWS = 1200
SPLITS = ("train", "validation", "test")
HYPERPARAMETERS = {"max_depth": 4, "eta": 0.2, "num_round": 40}
METRICS = [{"Name": "validation:auc", "Regex": r"validation-auc:([0-9\.]+)"}]
AUC_TOLERANCE = 0.02


@pytest.fixture(scope="module")
def s3():
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                            "AWS_DEFAULT_REGION": REGION}.items():
            patch.setenv(name, value)
        for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
            patch.delenv(name, raising=False)
        with mock_aws():
            client = boto3.client("s3", region_name=REGION)
            client.create_bucket(Bucket=BUCKET)
            yield client


@pytest.fixture(scope="module")
def work_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("jobs")


@pytest.fixture(scope="module")
def docker_backend():
    return DockerBackend(stop_grace_seconds=2)


@pytest.fixture(scope="module")
def runs(s3, work_dir, docker_backend):
    """Preprocess and train once per backend; both trainings read the process backend's features, so the
    comparison of models measures the backend, not the preprocessing."""
    upload_text(s3, "raw/churn.csv", generate(ROWS, seed=7).to_csv(index=False))
    code = upload_text(s3, "code/preprocess.py", (PIPELINE_SCRIPTS / "preprocess.py").read_text())
    source = upload_source_dir(s3, "churn-train", {"train.py": (PIPELINE_SCRIPTS / "train.py").read_text()})
    out = {}
    for tag, backend in (("process", ProcessBackend()), ("docker", docker_backend)):
        started = time.monotonic()
        preprocess = run_processing_job(processing_request(
            f"preprocess-{tag}", code, inputs=[s3_input("input-1", s3_uri("raw"), "/opt/ml/processing/input")],
            outputs=[s3_output(split, s3_uri(f"{tag}/features/{split}"), f"/opt/ml/processing/output/{split}")
                     for split in SPLITS],
            arguments=["--random-state", "3"]), s3, backend, work_dir)
        out[f"preprocess-{tag}"] = preprocess
        features = s3_uri("process/features")
        out[f"train-{tag}"] = run_training_job(training_request(
            f"train-{tag}", [channel("train", f"{features}/train"), channel("validation", f"{features}/validation")],
            HYPERPARAMETERS, source, metric_definitions=METRICS), s3, backend, work_dir)
        out[f"seconds-{tag}"] = time.monotonic() - started
    return out


def read(s3, uri: str) -> bytes:
    bucket, _, key = uri[len("s3://"):].partition("/")
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def keys(s3, uri: str) -> list[str]:
    bucket, _, prefix = uri[len("s3://"):].partition("/")
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix + "/").get("Contents", [])
    return sorted(obj["Key"][len(prefix) + 1:] for obj in listed)


def containers_of(job_name: str) -> list[str]:
    proc = subprocess.run(["docker", "ps", "-aq", "--filter", f"label={JOB_LABEL}={job_name}"],
                          capture_output=True, text=True, timeout=30, check=True)
    return proc.stdout.split()


def test_preprocess_outputs_match(s3, runs):
    process, docker = runs["preprocess-process"], runs["preprocess-docker"]
    assert process.status == docker.status == "Completed", (process.failure_reason, docker.failure_reason)
    assert set(process.output_artifacts) == set(docker.output_artifacts) == set(SPLITS)
    for split in SPLITS:
        assert keys(s3, process.output_artifacts[split]) == keys(s3, docker.output_artifacts[split]) == [
            f"{split}.csv"]
        frames = [pd.read_csv(io.BytesIO(read(s3, f"{job.output_artifacts[split]}/{split}.csv")), header=None)
                  for job in (process, docker)]
        assert frames[0].shape == frames[1].shape, split
        assert (frames[0][0] == frames[1][0]).all(), f"{split}: labels differ"  # same stratified split
    assert [p.status for p in docker.phases] == [p.status for p in process.phases]
    # the script saw container paths in the container, host paths under the process backend's shim
    assert any(line.startswith("wrote ") and "/opt/ml/processing/output/" in line for line in docker.log_lines)
    assert not containers_of("preprocess-docker")


def test_training_models_predict_alike(s3, runs, tmp_path):
    process, docker = runs["train-process"], runs["train-docker"]
    assert process.status == docker.status == "Completed", (process.failure_reason, docker.failure_reason)
    test = pd.read_csv(io.BytesIO(read(s3, s3_uri("process/features/test/test.csv"))), header=None)
    aucs = {}
    for tag, job in (("process", process), ("docker", docker)):
        with tarfile.open(fileobj=io.BytesIO(read(s3, job.model_artifacts))) as tar:
            assert tar.getnames() == ["xgboost-model"], tag
            tar.extractall(tmp_path / tag, filter="data")
        booster = xgb.Booster()
        booster.load_model(str(tmp_path / tag / "xgboost-model"))
        predictions = booster.predict(xgb.DMatrix(test.iloc[:, 1:].values))
        assert np.all((predictions >= 0) & (predictions <= 1))
        aucs[tag] = roc_auc_score(test[0], predictions)
    assert aucs["process"] > 0.7, aucs
    assert abs(aucs["process"] - aucs["docker"]) < AUC_TOLERANCE, aucs
    metrics = {tag: {m["MetricName"]: m["Value"] for m in job.final_metrics} for tag, job in
               (("process", process), ("docker", docker))}
    assert set(metrics["docker"]) == set(metrics["process"]) == {"validation:auc"}
    assert abs(metrics["docker"]["validation:auc"] - metrics["process"]["validation:auc"]) < AUC_TOLERANCE
    assert [p.status for p in docker.phases] == ["Downloading", "Training", "Uploading"]
    # script mode went through the image's sagemaker-training toolkit, as SageMaker and the SDK's local mode do
    assert any("sagemaker-training-toolkit" in line for line in docker.log_lines)
    assert any(line.startswith("[0]") and "validation-auc:" in line for line in docker.log_lines)
    assert not containers_of("train-docker")


def test_container_exiting_non_zero_fails_the_job_with_its_last_line(s3, work_dir, docker_backend):
    code = upload_text(s3, "code/exits.py", "import sys\nprint('loading')\nprint('disk quota exceeded', "
                                            "file=sys.stderr)\nsys.exit(3)\n")
    result = run_processing_job(processing_request("exits-non-zero", code), s3, docker_backend, work_dir)
    assert result.status == "Failed"
    assert result.exit_code == 3
    assert result.failure_reason == "AlgorithmError: disk quota exceeded"
    assert result.log_lines == ["loading", "disk quota exceeded"]
    assert not containers_of("exits-non-zero")


def test_training_failure_file_is_the_failure_reason(s3, work_dir, docker_backend):
    """train.py writes /opt/ml/output/failure on error; the toolkit keeps it (it writes its own only if absent)."""
    source = upload_source_dir(s3, "train-fails", {"train.py": (PIPELINE_SCRIPTS / "train.py").read_text()})
    upload_text(s3, "empty-channel/readme.txt", "no csv here")
    result = run_training_job(training_request(
        "train-fails", [channel("train", s3_uri("empty-channel")), channel("validation", s3_uri("empty-channel"))],
        HYPERPARAMETERS, source), s3, docker_backend, work_dir)
    assert result.status == "Failed"
    assert result.failure_reason == ("AlgorithmError: ValueError: no CSV files in the train channel "
                                     "(/opt/ml/input/data/train)")
    assert not containers_of("train-fails")


def test_missing_image_names_the_build_script(s3, work_dir, docker_backend):
    code = upload_text(s3, "code/never.py", "print('never runs')\n")
    image = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-nothing:0.0-1"
    result = run_processing_job(processing_request("missing-image", code, image=image), s3, docker_backend,
                                work_dir)
    assert result.status == "Failed"
    assert result.failure_reason.startswith(f"ClientError: Docker image '{image}' is not present locally")
    assert "scripts/docker/build-images.sh" in result.failure_reason
    assert result.log_lines == []


def test_max_runtime_stops_and_removes_the_container(s3, work_dir, docker_backend):
    code = upload_text(s3, "code/sleeps.py", "import time\nprint('sleeping', flush=True)\ntime.sleep(600)\n")
    started = time.monotonic()
    result = run_processing_job(processing_request("sleeps-too-long", code, max_runtime=2), s3, docker_backend,
                                work_dir)
    assert result.status == "Stopped"  # processing jobs have no secondary status (training: MaxRuntimeExceeded)
    assert result.log_lines == ["sleeping"]
    assert time.monotonic() - started < 30
    assert not containers_of("sleeps-too-long")


def test_training_without_script_mode_runs_the_images_own_train(s3, work_dir, docker_backend):
    """No sagemaker_program: SageMaker runs `docker run IMAGE train`; the XGBoost image's toolkit finds no entry point
    and writes /opt/ml/output/failure (drydock's images carry no built-in algorithm)."""
    request = training_request("no-program", [channel("train", s3_uri("process/features/train"))], {}, "unused")
    request["HyperParameters"] = {}
    result = run_training_job(request, s3, docker_backend, work_dir)
    assert result.status == "Failed"
    assert result.failure_reason.startswith("AlgorithmError: The training entry point name is empty."), result
    assert not containers_of("no-program")


def test_drydock_backend_docker_runs_service_jobs_in_containers(monkeypatch):
    """DRYDOCK_BACKEND=docker: CreateProcessingJob through boto3 runs in a container; StopProcessingJob stops it
    (and removes it); the container's output is in CloudWatch Logs."""
    from harness.cloud import LocalCloud

    monkeypatch.setenv("DRYDOCK_BACKEND", "docker")
    cloud = LocalCloud(None)
    s3, sm, logs = cloud.client("s3"), cloud.client("sagemaker"), cloud.client("logs")
    bucket = "drydock-docker-service"
    s3.create_bucket(Bucket=bucket)

    def request(name: str, script: str) -> dict:
        s3.put_object(Bucket=bucket, Key=f"{name}/job.py", Body=script.encode())
        job = processing_request(name, f"s3://{bucket}/{name}/job.py")
        job["ProcessingInputs"][-1]["S3Input"]["S3Uri"] = f"s3://{bucket}/{name}/job.py"
        return job

    def wait(name: str, until=("Completed", "Failed", "Stopped"), timeout: float = 90) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            answer = sm.describe_processing_job(ProcessingJobName=name)
            if answer["ProcessingJobStatus"] in until or time.monotonic() > deadline:
                return answer
            time.sleep(0.1)

    sm.create_processing_job(**request("svc-hostname", "import socket\nprint('host', socket.gethostname())\n"))
    done = wait("svc-hostname")
    assert done["ProcessingJobStatus"] == "Completed", done.get("FailureReason")
    stream = logs.describe_log_streams(logGroupName="/aws/sagemaker/ProcessingJobs",
                                       logStreamNamePrefix="svc-hostname/")["logStreams"][0]["logStreamName"]
    events = logs.get_log_events(logGroupName="/aws/sagemaker/ProcessingJobs", logStreamName=stream)["events"]
    assert [e["message"] for e in events] == ["host algo-1"]  # in a container: the process backend says the host's

    sm.create_processing_job(**request("svc-stopped", "import time\nprint('up', flush=True)\ntime.sleep(600)\n"))
    deadline = time.monotonic() + 60
    while not containers_of("svc-stopped"):
        assert time.monotonic() < deadline, "no container started"
        time.sleep(0.1)
    sm.stop_processing_job(ProcessingJobName="svc-stopped")
    stopped = wait("svc-stopped", timeout=180)  # SIGTERM ends the script at once; the grace period is 120 s
    assert stopped["ProcessingJobStatus"] == "Stopped"
    assert not containers_of("svc-stopped")


# --- endpoints: `serve` in the model's image --------------------------------------------------------------------

def _model_archive(booster) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        data = bytes(booster.save_raw("json"))
        info = tarfile.TarInfo("xgboost-model")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.fixture
def endpoint_cloud(monkeypatch, tmp_path):
    """The in-process cloud with a fresh endpoint service; DRYDOCK_BACKEND=docker, so endpoints serve in Docker."""
    from harness.cloud import LocalCloud
    from harness.overlay import OVERLAY
    from harness.sagemaker import endpoints

    monkeypatch.setenv("DRYDOCK_BACKEND", "docker")
    cloud = LocalCloud(None)
    OVERLAY.intercept_botocore(True)
    service = endpoints.EndpointService(work_dir=tmp_path)
    previous = endpoints.install(service)
    cloud.client("s3").create_bucket(Bucket="drydock-docker-endpoints")
    yield cloud, service.region(cloud.account, cloud.region)
    service.close()
    endpoints.install(previous)


def _serving_containers() -> list[str]:
    proc = subprocess.run(["docker", "ps", "-aq", "--filter", "label=org.drydock.serve"], capture_output=True,
                          text=True, timeout=30, check=True)
    return proc.stdout.split()


def test_endpoint_serves_in_the_xgboost_image_with_the_users_inference_script(endpoint_cloud):
    cloud, api = endpoint_cloud
    s3, sm, runtime = cloud.client("s3"), cloud.client("sagemaker"), cloud.client("sagemaker-runtime")
    bucket = "drydock-docker-endpoints"
    rng = np.random.default_rng(5)
    features = rng.normal(size=(300, 4))
    # base_score fixed: xgboost 3 (host) saves an estimated intercept as "[5.37E-1]", which the image's 2.1 misreads
    booster = xgb.train({"objective": "binary:logistic", "max_depth": 3, "base_score": 0.5}, xgb.DMatrix(
        features, label=(features[:, 0] + features[:, 1] > 0).astype(int)), num_boost_round=10)
    s3.put_object(Bucket=bucket, Key="model/model.tar.gz", Body=_model_archive(booster))
    code = io.BytesIO()
    with tarfile.open(fileobj=code, mode="w:gz") as tar:
        tar.add(PIPELINE_SCRIPTS / "inference.py", arcname="inference.py")
    s3.put_object(Bucket=bucket, Key="code/sourcedir.tar.gz", Body=code.getvalue())
    before = set(_serving_containers())
    sm.create_model(ModelName="docker-served", ExecutionRoleArn="arn:aws:iam::123456789012:role/Sm", PrimaryContainer={
        "Image": XGBOOST_IMAGE, "ModelDataUrl": f"s3://{bucket}/model/model.tar.gz",
        "Environment": {"SAGEMAKER_PROGRAM": "inference.py",
                        "SAGEMAKER_SUBMIT_DIRECTORY": f"s3://{bucket}/code/sourcedir.tar.gz"}})
    sm.create_endpoint_config(EndpointConfigName="docker-served", ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": "docker-served", "InitialInstanceCount": 1,
        "InstanceType": "ml.m5.large"}])
    sm.create_endpoint(EndpointName="docker-served", EndpointConfigName="docker-served")
    assert api.wait("docker-served", timeout=120) == "InService", sm.describe_endpoint(
        EndpointName="docker-served").get("FailureReason")
    [served] = set(_serving_containers()) - before

    rows = features[:5]
    body = "\n".join(",".join(f"{v:.6f}" for v in row) for row in rows).encode()
    answer = runtime.invoke_endpoint(EndpointName="docker-served", Body=body, ContentType="text/csv",
                                     Accept="application/json")
    predictions = json.loads(answer["Body"].read())["predictions"]  # inference.py's output_fn shape
    np.testing.assert_allclose(predictions, booster.predict(xgb.DMatrix(np.round(rows, 6))), atol=1e-5)
    with pytest.raises(Exception) as raised:  # inference.py refuses JSON input: ModelError from the container
        runtime.invoke_endpoint(EndpointName="docker-served", Body=b"{}", ContentType="application/json")
    assert raised.value.response["Error"]["Code"] == "ModelError"

    sm.delete_endpoint(EndpointName="docker-served")
    deadline = time.monotonic() + 90  # the retired deployment drains, then its container is removed
    while served in _serving_containers():
        assert time.monotonic() < deadline, "the serving container outlived DeleteEndpoint"
        time.sleep(0.2)


def test_endpoint_with_a_missing_image_fails_naming_the_build_script(endpoint_cloud):
    cloud, api = endpoint_cloud
    sm = cloud.client("sagemaker")
    cloud.client("s3").put_object(Bucket="drydock-docker-endpoints", Key="none/model.tar.gz",
                                  Body=_model_archive(xgb.train({}, xgb.DMatrix(np.ones((4, 2)), label=[0, 1] * 2), 1)))
    image = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-nothing:0.0-1"
    sm.create_model(ModelName="no-image", ExecutionRoleArn="arn:aws:iam::123456789012:role/Sm", PrimaryContainer={
        "Image": image, "ModelDataUrl": "s3://drydock-docker-endpoints/none/model.tar.gz"})
    sm.create_endpoint_config(EndpointConfigName="no-image", ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": "no-image", "InitialInstanceCount": 1,
        "InstanceType": "ml.m5.large"}])
    sm.create_endpoint(EndpointName="no-image", EndpointConfigName="no-image")
    assert api.wait("no-image", timeout=60) == "Failed"
    reason = sm.describe_endpoint(EndpointName="no-image")["FailureReason"]
    assert f"Docker image '{image}' is not present locally" in reason
    assert "scripts/docker/build-images.sh" in reason
