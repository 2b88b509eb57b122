"""The seed's three architecture patterns, each its runnable example under examples/, end to end (`make test-e2e`).

1. Step Functions calls SageMaker's job APIs itself (examples/sfn_sagemaker_jobs: `.sync` jobs, no pipeline);
2. Step Functions triggers the SageMaker pipeline (examples/sfn_triggers_pipeline: the flagship loop, `drydock demo`);
3. the SageMaker pipeline alone (examples/sagemaker_pipeline).

Each runs once per job backend: the process backend, and the Docker backend (the SageMaker images built by
scripts/docker/build-images.sh), skipped when no engine answers or the images are missing. DRYDOCK_BACKEND, when
set, keeps only its own pass. In containers 127.0.0.1 is the container, so on the Docker backend the preprocessing
job does not write to Feature Store (it would need the cloud's address on docker0).
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
JOB_STATES = ["Locations", "Preprocess", "Train", "Evaluate", "ReadReport", "GoodEnough", "CreateModel", "ModelReady"]


def _docker_missing() -> str | None:
    """Why the Docker pass cannot run here, or None."""
    from harness.sagemaker.backends.docker import images_module

    images = images_module()
    if images is None:
        return "scripts/docker/images.py is not there"
    try:
        missing = images.missing_images([images.SKLEARN_IMAGE, images.XGBOOST_IMAGE])
    except images.DockerImageError as err:
        return f"no Docker engine: {err}"
    return f"missing images {', '.join(missing)}: run make docker-images" if missing else None


@pytest.fixture(params=["process", pytest.param("docker", marks=pytest.mark.docker)])
def backend(request, monkeypatch):
    name = request.param
    chosen = os.environ.get("DRYDOCK_BACKEND")
    if chosen and chosen != name:
        pytest.skip(f"DRYDOCK_BACKEND={chosen} runs the {chosen} pass only")
    if name == "docker":
        reason = _docker_missing()
        if reason:
            pytest.skip(reason)
    monkeypatch.setenv("DRYDOCK_BACKEND", name)
    return name


def example(name: str):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / name / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.e2e
def test_step_functions_calls_the_job_apis(local_cloud, backend, tmp_path):
    from harness.commands.demo import Sandbox

    with Sandbox(tmp_path) as sandbox:
        result = example("sfn_sagemaker_jobs").run(rows=1500, sandbox=sandbox)
        jobs = sandbox.client("sagemaker").list_training_jobs()["TrainingJobSummaries"]
    assert result["execution"]["status"] == "SUCCEEDED", result["execution"].get("cause")
    assert result["states"] == JOB_STATES
    output = result["output"]
    assert output["Train"]["ModelArtifacts"].endswith("/output/model.tar.gz")
    assert output["Evaluation"]["Metrics"]["binary_classification_metrics"]["auc"]["value"] > 0.75
    assert [m["ModelName"] for m in result["models"]] == [f"churn-{result['execution']['name']}"]
    assert [j["TrainingJobStatus"] for j in jobs] == ["Completed"]
    # .sync waited on the job: the task's result is DescribeTrainingJob's answer once Completed
    assert any(e["type"] == "TaskSubmitted" for e in result["events"])


@pytest.mark.e2e
def test_step_functions_triggers_the_pipeline_and_the_loop_closes(local_cloud, backend, tmp_path):
    feature_store = backend == "process"
    summary = example("sfn_triggers_pipeline").run(rows=2000, feature_store=feature_store, out_dir=tmp_path / "out",
                                                   work_dir=tmp_path / "work")
    assert summary.ok
    assert [(run.trigger, run.status) for run in summary.runs] == [("s3-upload", "SUCCEEDED"), ("drift", "SUCCEEDED")]
    assert summary.model_package_version == 2 and summary.endpoint_config.startswith("churn-v2-")
    assert summary.auc > 0.8
    assert summary.drift["clean"]["violations"] == [] and summary.drift["drifted"]["violations"]
    assert all(path.is_file() for path in summary.files.values()) and {"roc", "confusion_matrix"} <= set(summary.files)
    assert 0.0 <= summary.sample[1] <= 1.0
    if feature_store:
        assert float(summary.record["tenure_months"]) >= 1 and "days_since_last_login" in summary.record


@pytest.mark.e2e
def test_the_pipeline_alone(local_cloud, backend, tmp_path):
    from harness.commands.demo import Sandbox

    with Sandbox(tmp_path) as sandbox:
        result = example("sagemaker_pipeline").run(rows=1500, sandbox=sandbox)
    assert result["execution"]["PipelineExecutionStatus"] == "Succeeded", result["execution"].get("FailureReason")
    assert {s["StepName"]: s["StepStatus"] for s in result["steps"]} == {
        "Preprocess": "Succeeded", "Train": "Succeeded", "Evaluate": "Succeeded", "LatestApprovedAuc": "Succeeded",
        "CheckAuc": "Succeeded", "RegisterChurnModel-RegisterModel": "Succeeded"}
    registered = result["registered"]
    assert registered["ModelApprovalStatus"] == "PendingManualApproval"  # as registered, before the approval
    assert registered["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"].endswith("/evaluation.json")


def test_the_hello_example_still_runs(capsys):
    from harness.commands.demo import run_example

    assert run_example(EXAMPLES / "hello") == 0
    assert "simulated time" in capsys.readouterr().out

