"""Helpers of the pipeline tests: the SageMaker SDK v2 pointed at the in-process local cloud, and nothing else.

`sdk_environment` turns the SDK's telemetry off (its own defaults file, TelemetryOptOut; sessions also get the
same defaults as `sagemaker_config=`, which spares the file reads); sessions get `default_bucket=` so the SDK
never asks STS for an account; the session-wide network guard (tests/conftest.py) refuses anything else.
`churn_pipeline` builds the churn pipeline the way a user writes it: SKLearnProcessor -> XGBoost script mode ->
ScriptProcessor evaluation with a PropertyFile -> ConditionStep(JsonGet auc >= parameter) -> ModelStep(register) /
FailStep.
"""
from __future__ import annotations

import time
from pathlib import Path

from harness.sagemaker.sdk import SDK_DEFAULTS, TELEMETRY_OFF, pipeline_session, sdk_environment  # noqa: F401 (the kit's API)

ROLE = "arn:aws:iam::123456789012:role/SageMakerExecutionRole"
REGION = "us-east-1"
SCRIPTS = Path(__file__).resolve().parents[3] / "pipeline" / "scripts"
TERMINAL = ("Succeeded", "Failed", "Stopped")


def local_cloud():
    """The in-process local cloud, with drydock's overlay answering (a test module may have turned it off)."""
    from harness.cloud import LocalCloud
    from harness.overlay import OVERLAY

    cloud = LocalCloud()
    OVERLAY.intercept_botocore(True)
    return cloud


def churn_pipeline(session, name: str, bucket: str, group: str, *, cache: bool = True):
    """The churn pipeline, as a user writes it with the SDK v2."""
    from sagemaker.inputs import TrainingInput
    from sagemaker.model import Model
    from sagemaker.model_metrics import MetricsSource, ModelMetrics
    from sagemaker.processing import ProcessingInput, ProcessingOutput, ScriptProcessor
    from sagemaker.sklearn.processing import SKLearnProcessor
    from sagemaker.workflow.condition_step import ConditionStep
    from sagemaker.workflow.conditions import ConditionGreaterThanOrEqualTo
    from sagemaker.workflow.fail_step import FailStep
    from sagemaker.workflow.functions import Join, JsonGet
    from sagemaker.workflow.model_step import ModelStep
    from sagemaker.workflow.parameters import ParameterFloat, ParameterInteger, ParameterString
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.properties import PropertyFile
    from sagemaker.workflow.steps import CacheConfig, ProcessingStep, TrainingStep
    from sagemaker.xgboost.estimator import XGBoost

    input_data = ParameterString(name="InputData", default_value=f"s3://{bucket}/churn/raw")
    instance_type = ParameterString(name="ProcessingInstanceType", default_value="ml.m5.xlarge")
    num_round = ParameterInteger(name="NumRound", default_value=40)
    auc_threshold = ParameterFloat(name="AucThreshold", default_value=0.7)
    cache_config = CacheConfig(enable_caching=cache, expire_after="PT1H")

    preprocessor = SKLearnProcessor(framework_version="1.2-1", role=ROLE, instance_type=instance_type,
                                    instance_count=1, sagemaker_session=session)
    preprocess = ProcessingStep(
        name="Preprocess", cache_config=cache_config,
        step_args=preprocessor.run(
            code=str(SCRIPTS / "preprocess.py"),
            inputs=[ProcessingInput(source=input_data, destination="/opt/ml/processing/input")],
            outputs=[ProcessingOutput(output_name=split, source=f"/opt/ml/processing/output/{split}")
                     for split in ("train", "validation", "test")],
            arguments=["--random-state", "3"]))
    splits = preprocess.properties.ProcessingOutputConfig.Outputs

    estimator = XGBoost(entry_point="train.py", source_dir=str(SCRIPTS), framework_version="1.7-1", role=ROLE,
                        instance_type="ml.m5.xlarge", instance_count=1, output_path=f"s3://{bucket}/churn/models",
                        hyperparameters={"max_depth": 4, "eta": 0.2, "num_round": num_round},
                        sagemaker_session=session)
    train = TrainingStep(name="Train", cache_config=cache_config, step_args=estimator.fit({
        "train": TrainingInput(splits["train"].S3Output.S3Uri, content_type="text/csv"),
        "validation": TrainingInput(splits["validation"].S3Output.S3Uri, content_type="text/csv")}))

    evaluator = ScriptProcessor(image_uri=estimator.training_image_uri(), command=["python3"], role=ROLE,
                                instance_type=instance_type, instance_count=1, sagemaker_session=session)
    report = PropertyFile(name="EvaluationReport", output_name="evaluation", path="evaluation.json")
    evaluate = ProcessingStep(
        name="Evaluate", cache_config=cache_config, property_files=[report],
        step_args=evaluator.run(
            code=str(SCRIPTS / "evaluate.py"),
            inputs=[ProcessingInput(source=train.properties.ModelArtifacts.S3ModelArtifacts,
                                    destination="/opt/ml/processing/model"),
                    ProcessingInput(source=splits["test"].S3Output.S3Uri, destination="/opt/ml/processing/test")],
            outputs=[ProcessingOutput(output_name="evaluation", source="/opt/ml/processing/evaluation")]))

    evaluation_uri = evaluate.properties.ProcessingOutputConfig.Outputs["evaluation"].S3Output.S3Uri
    metrics = ModelMetrics(model_statistics=MetricsSource(
        s3_uri=Join(on="/", values=[evaluation_uri, "evaluation.json"]), content_type="application/json"))
    model = Model(image_uri=estimator.training_image_uri(), model_data=train.properties.ModelArtifacts.S3ModelArtifacts,
                  role=ROLE, sagemaker_session=session)
    register = ModelStep(name="Register", step_args=model.register(
        content_types=["text/csv"], response_types=["text/csv"], inference_instances=["ml.m5.large"],
        transform_instances=["ml.m5.large"], model_package_group_name=group, model_metrics=metrics))
    too_low = FailStep(name="AucTooLow", error_message=Join(on=" ", values=["AUC below", auc_threshold]))
    check = ConditionStep(
        name="CheckAuc",
        conditions=[ConditionGreaterThanOrEqualTo(
            left=JsonGet(step_name=evaluate.name, property_file=report,
                         json_path="binary_classification_metrics.auc.value"),
            right=auc_threshold)],
        if_steps=[register], else_steps=[too_low])
    return Pipeline(name=name, parameters=[input_data, instance_type, num_round, auc_threshold],
                    steps=[preprocess, train, evaluate, check], sagemaker_session=session)


def wait_for(client, execution_arn: str, timeout: float = 120.0) -> dict:
    """DescribePipelineExecution until the execution ends (the SDK's waiter polls every 30 s by default)."""
    deadline = time.monotonic() + timeout
    while True:
        answer = client.describe_pipeline_execution(PipelineExecutionArn=execution_arn)
        if answer["PipelineExecutionStatus"] in TERMINAL or time.monotonic() > deadline:
            return answer
        time.sleep(0.05)


def steps_by_name(client, execution_arn: str) -> dict[str, dict]:
    pages = client.get_paginator("list_pipeline_execution_steps").paginate(PipelineExecutionArn=execution_arn)
    return {step["StepName"]: step for page in pages for step in page["PipelineExecutionSteps"]}
