"""The churn pipeline's own scripts, unchanged, as jobs on the process backend: preprocess -> train -> evaluate."""
import importlib.util
import io
import json
import tarfile

import pandas as pd
import pytest

from fixtures.churn import generate
from harness.sagemaker import ProcessBackend, run_processing_job, run_training_job
from job_requests import (BUCKET, PIPELINE_SCRIPTS, channel, processing_request, s3_input, s3_output, s3_uri,
                          training_request, upload_source_dir, upload_text)

ROWS = 3000
SPLITS = ("train", "validation", "test")
METRIC_DEFINITIONS = [
    {"Name": "train:auc", "Regex": r"train-auc:([0-9\.]+)"},
    {"Name": "validation:auc", "Regex": r"validation-auc:([0-9\.]+)"},
]


def script(name):
    return (PIPELINE_SCRIPTS / name).read_text()


@pytest.fixture(scope="module")
def pipeline_run(s3, work_dir):
    """Run the three jobs once for the module, each consuming the previous job's S3 outputs."""
    backend = ProcessBackend()
    upload_text(s3, "churn/raw/churn.csv", generate(ROWS, seed=7).to_csv(index=False))

    preprocess = run_processing_job(processing_request(
        "churn-preprocess",
        upload_text(s3, "churn/code/preprocess.py", script("preprocess.py")),
        inputs=[s3_input("input-1", s3_uri("churn/raw"), "/opt/ml/processing/input")],
        outputs=[s3_output(split, s3_uri(f"churn/features/{split}"), f"/opt/ml/processing/output/{split}")
                 for split in SPLITS],
        arguments=["--random-state", "3"],
    ), s3, backend, work_dir)

    source_dir = upload_source_dir(s3, "churn-train", {"train.py": script("train.py"),
                                                       "inference.py": script("inference.py")})
    train = run_training_job(training_request(
        "churn-train",
        [channel("train", preprocess.output_artifacts["train"]),
         channel("validation", preprocess.output_artifacts["validation"])],
        {"max_depth": 4, "eta": 0.2, "num_round": 60},
        source_dir, metric_definitions=METRIC_DEFINITIONS,
    ), s3, backend, work_dir)

    evaluate = run_processing_job(processing_request(
        "churn-evaluate",
        upload_text(s3, "churn/code/evaluate.py", script("evaluate.py")),
        inputs=[s3_input("input-1", train.model_artifacts or s3_uri("missing"), "/opt/ml/processing/model"),
                s3_input("input-2", preprocess.output_artifacts["test"], "/opt/ml/processing/test")],
        outputs=[s3_output("evaluation", s3_uri("churn/evaluation"), "/opt/ml/processing/evaluation")],
    ), s3, backend, work_dir)
    return {"preprocess": preprocess, "train": train, "evaluate": evaluate}


def read_s3(s3, uri):
    bucket, _, key = uri[len("s3://"):].partition("/")
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def test_preprocess_writes_labelled_headerless_splits(s3, pipeline_run):
    job = pipeline_run["preprocess"]
    assert job.status == "Completed", job.failure_reason
    frames = {split: pd.read_csv(io.BytesIO(read_s3(s3, f"{job.output_artifacts[split]}/{split}.csv")), header=None)
              for split in SPLITS}
    assert sum(len(frame) for frame in frames.values()) == ROWS
    assert len(frames["train"]) == pytest.approx(0.7 * ROWS, abs=2)
    assert {frame.shape[1] for frame in frames.values()} == {frames["train"].shape[1]}
    for frame in frames.values():
        assert set(frame[0].unique()) == {0.0, 1.0}  # the label, first
    assert any("features: " in line for line in job.log_lines)


def test_training_uploads_model_and_reports_metrics(s3, pipeline_run):
    job = pipeline_run["train"]
    assert job.status == "Completed", job.failure_reason
    assert job.model_artifacts == f"s3://{BUCKET}/models/churn-train/output/model.tar.gz"
    with tarfile.open(fileobj=io.BytesIO(read_s3(s3, job.model_artifacts))) as tar:
        assert tar.getnames() == ["xgboost-model"]
    metrics = {metric["MetricName"]: metric for metric in job.final_metrics}
    assert set(metrics) == {"train:auc", "validation:auc"}
    assert metrics["validation:auc"]["Value"] > 0.8
    assert metrics["validation:auc"]["Timestamp"].tzinfo is not None
    assert [phase.status for phase in job.phases] == ["Downloading", "Training", "Uploading"]
    assert any(line.startswith("[0]") and "validation-auc:" in line for line in job.log_lines)


def test_evaluation_report_has_model_quality_shape_and_auc_above_0_8(s3, pipeline_run):
    job = pipeline_run["evaluate"]
    assert job.status == "Completed", job.failure_reason
    report = json.loads(read_s3(s3, f"{job.output_artifacts['evaluation']}/evaluation.json"))
    metrics = report["binary_classification_metrics"]
    assert {"auc", "precision", "recall", "f1"} <= set(metrics)
    assert metrics["auc"]["value"] > 0.8
    assert 0 < metrics["f1"]["value"] <= 1


def test_inference_hooks_score_csv_rows_with_the_trained_model(s3, pipeline_run, tmp_path):
    with tarfile.open(fileobj=io.BytesIO(read_s3(s3, pipeline_run["train"].model_artifacts))) as tar:
        tar.extractall(tmp_path, filter="data")
    test_uri = pipeline_run["preprocess"].output_artifacts["test"]
    rows = read_s3(s3, f"{test_uri}/test.csv").decode().splitlines()[:3]
    body = "\n".join(row.split(",", 1)[1] for row in rows)  # features only, as a client sends them

    spec = importlib.util.spec_from_file_location("churn_inference", PIPELINE_SCRIPTS / "inference.py")
    inference = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(inference)
    model = inference.model_fn(str(tmp_path))
    prediction = inference.predict_fn(inference.input_fn(body, "text/csv"), model)
    text, content_type = inference.output_fn(prediction, "text/csv")

    assert content_type == "text/csv"
    probabilities = [float(value) for value in text.splitlines()]
    assert len(probabilities) == 3 and all(0 <= p <= 1 for p in probabilities)
    with pytest.raises(ValueError, match="unsupported content type"):
        inference.input_fn(body, "application/x-parquet")
