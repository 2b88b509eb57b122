"""Helpers for the SageMaker service tests: an in-process cloud, a bucket of its own, small jobs, waiting."""
from __future__ import annotations

import io
import json
import tarfile
import time
from typing import Any

import numpy as np
from botocore.validate import ParamValidator

from job_requests import PIPELINE_SCRIPTS, ROLE, SKLEARN_IMAGE, XGBOOST_IMAGE

BUCKET = "drydock-service-tests"
SMALL_RUNTIME = 120


def uri(key: str) -> str:
    return f"s3://{BUCKET}/{key}"


def put(s3: Any, key: str, body: str | bytes) -> str:
    s3.put_object(Bucket=BUCKET, Key=key, Body=body.encode() if isinstance(body, str) else body)
    return uri(key)


def source_dir(s3: Any, job: str, files: dict[str, str]) -> str:
    """Pack {name: text} as the SDK packs source_dir; returns the sourcedir.tar.gz URI."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return put(s3, f"{job}/source/sourcedir.tar.gz", buffer.getvalue())


def churn_rows(n: int, seed: int) -> str:
    """Label first, no header (the built-in XGBoost CSV convention train.py reads)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    y = (x[:, 0] + 0.3 * rng.normal(size=n) > 0).astype(int)
    return "".join(f"{label}," + ",".join(f"{v:.4f}" for v in row) + "\n" for label, row in zip(y, x))


def training_request(job: str, submit_dir: str, *, channels: dict[str, str] | None = None,
                     hyperparameters: dict[str, Any] | None = None, metrics: list[dict[str, str]] | None = None,
                     program: str = "train.py") -> dict[str, Any]:
    encoded = {k: json.dumps(v) for k, v in (hyperparameters or {}).items()}
    encoded.update({"sagemaker_program": json.dumps(program), "sagemaker_submit_directory": json.dumps(submit_dir)})
    request = {
        "TrainingJobName": job,
        "AlgorithmSpecification": {"TrainingImage": XGBOOST_IMAGE, "TrainingInputMode": "File",
                                   "MetricDefinitions": metrics or []},
        "RoleArn": ROLE,
        "InputDataConfig": [{"ChannelName": name, "ContentType": "text/csv",
                             "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": location,
                                                             "S3DataDistributionType": "FullyReplicated"}}}
                            for name, location in (channels or {}).items()],
        "OutputDataConfig": {"S3OutputPath": uri("models")},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        "StoppingCondition": {"MaxRuntimeInSeconds": SMALL_RUNTIME},
        "HyperParameters": encoded,
    }
    if not request["InputDataConfig"]:
        del request["InputDataConfig"]  # optional, but at least one channel when given
    return request


def script_job(s3: Any, job: str, script: str) -> dict[str, Any]:
    """A training request whose entry point is `script` (no channels, so nothing but Python to start)."""
    return training_request(job, source_dir(s3, job, {"train.py": script}))


def processing_request(s3: Any, job: str, script: str, outputs: dict[str, str]) -> dict[str, Any]:
    code = put(s3, f"{job}/code/job.py", script)
    return {
        "ProcessingJobName": job,
        "ProcessingInputs": [{"InputName": "code", "S3Input": {
            "S3Uri": code, "LocalPath": "/opt/ml/processing/input/code", "S3DataType": "S3Prefix",
            "S3InputMode": "File"}}],
        "ProcessingOutputConfig": {"Outputs": [
            {"OutputName": name, "S3Output": {"S3Uri": location, "LocalPath": f"/opt/ml/processing/output/{name}",
                                              "S3UploadMode": "EndOfJob"}} for name, location in outputs.items()]},
        "ProcessingResources": {"ClusterConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1,
                                                  "VolumeSizeInGB": 10}},
        "StoppingCondition": {"MaxRuntimeInSeconds": SMALL_RUNTIME},
        "AppSpecification": {"ImageUri": SKLEARN_IMAGE,
                             "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/job.py"]},
        "RoleArn": ROLE,
    }


def wait_for(describe: Any, status_key: str, *, timeout: float = 60.0) -> tuple[dict[str, Any], list[tuple]]:
    """Poll a Describe* call until the job ends; returns the last answer and every (status, secondary) seen."""
    seen: list[tuple] = []
    deadline = time.monotonic() + timeout
    while True:
        answer = describe()
        state = (answer[status_key], answer.get("SecondaryStatus"))
        if not seen or seen[-1] != state:
            seen.append(state)
        if answer[status_key] in ("Completed", "Failed", "Stopped"):
            answer.pop("ResponseMetadata", None)
            return answer, seen
        assert time.monotonic() < deadline, f"the job did not end in {timeout} s: {seen}"
        time.sleep(0.02)


def shape_problems(client: Any, operation: str, answer: dict[str, Any]) -> str:
    """What in `answer` breaks the operation's output shape in botocore's model ("" when nothing does)."""
    shape = client.meta.service_model.operation_model(operation).output_shape
    report = ParamValidator().validate({k: v for k, v in answer.items() if k != "ResponseMetadata"}, shape)
    return report.generate_report() if report.has_errors() else ""


def log_messages(logs: Any, group: str, stream: str) -> list[str]:
    return [e["message"] for e in logs.get_log_events(logGroupName=group, logStreamName=stream,
                                                      startFromHead=True)["events"]]


TRAIN_PY = (PIPELINE_SCRIPTS / "train.py").read_text()


# --- batch transform ----------------------------------------------------------------------------------------------

LINEAR_SCRIPT = '''
"""A tiny model with SDK-style serving hooks: a weighted sum of each row's features."""
import json
import os
import time


def model_fn(model_dir):
    with open(os.path.join(model_dir, "weights.json")) as f:
        return json.load(f)


def input_fn(body, content_type):
    text = body.decode() if isinstance(body, bytes) else body
    lines = [line for line in text.splitlines() if line.strip()]
    if content_type == "text/csv":
        return [[float(v) for v in line.split(",")] for line in lines]
    if content_type in ("application/jsonlines", "application/json"):
        return [json.loads(line) for line in lines]
    raise ValueError("unsupported content type " + content_type)


def predict_fn(rows, model):
    for row in rows:
        if row[0] == model.get("raise_on"):
            raise ValueError("feature 0 is %s: the model cannot score it" % row[0])
    time.sleep(model.get("sleep", 0))
    return [round(sum(w * x for w, x in zip(model["weights"], row)) + model.get("bias", 0), 6) for row in rows]


def output_fn(scores, accept):
    if accept == "application/jsonlines":
        return "\\n".join(json.dumps({"score": s}) for s in scores), accept
    return "\\n".join(str(s) for s in scores), "text/csv"
'''


def tarball(files: dict[str, str | bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, content in files.items():
            data = content.encode() if isinstance(content, str) else content
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def linear_model(s3: Any, sm: Any, name: str, weights: list[float], **settings: Any) -> str:
    """CreateModel for LINEAR_SCRIPT (its source dir as the SDK uploads it) over weights.json in model.tar.gz;
    `settings` go into weights.json (bias, raise_on, sleep). Returns the model name."""
    model_data = put(s3, f"{name}/model/model.tar.gz",
                     tarball({"weights.json": json.dumps({"weights": weights, **settings})}))
    source = put(s3, f"{name}/source/sourcedir.tar.gz", tarball({"inference.py": LINEAR_SCRIPT}))
    sm.create_model(ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer={
        "Image": SKLEARN_IMAGE, "ModelDataUrl": model_data,
        "Environment": {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": source}})
    return name


def linear_scores(weights: list[float], rows: list[list[float]], bias: float = 0.0) -> list[float]:
    return [round(sum(w * x for w, x in zip(weights, row)) + bias, 6) for row in rows]


def transform_request(job: str, model: str, input_uri: str, output_uri: str, *, content_type: str | None = "text/csv",
                      split: str = "Line", accept: str | None = "text/csv", assemble: str = "Line",
                      **extra: Any) -> dict[str, Any]:
    """A CreateTransformJob request as `sagemaker.transformer.Transformer.transform` sends it."""
    transform_input: dict[str, Any] = {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": input_uri}},
                                       "SplitType": split}
    if content_type:
        transform_input["ContentType"] = content_type
    output: dict[str, Any] = {"S3OutputPath": output_uri, "AssembleWith": assemble}
    if accept:
        output["Accept"] = accept
    return {"TransformJobName": job, "ModelName": model, "TransformInput": transform_input,
            "TransformOutput": output, "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
            **extra}
