"""The churn SageMaker pipeline, written with the SageMaker Python SDK v2 as it is deployed to AWS.

    Preprocess (SKLearnProcessor, scripts/preprocess.py: features, train/validation/test split, Feature Store)
      -> Train (XGBoost script mode, scripts/train.py)
      -> Evaluate (ScriptProcessor, scripts/evaluate.py -> evaluation.json, a PropertyFile)
    LatestApprovedAuc (Lambda, lambdas/latest_approved_auc.py: the AUC of the newest approved version, 0 when none)
    CheckAuc: AUC >= AucThreshold AND AUC >= LatestApprovedAuc
      -> RegisterChurnModel (Model Registry, PendingManualApproval, evaluation.json as ModelQuality statistics)
      -> else AucTooLow (Fail)

The Step Functions workflow (state_machine.yaml) starts it with the `InputData` parameter and, once it has
registered a version, asks a person to approve it and deploys it.

`build_pipeline(session, role, bucket, ...)` returns the `Pipeline`; `pipeline.upsert(role_arn=role)` creates or
updates it. `python -m pipeline.definition [-o FILE]` prints the definition JSON that `upsert` sends
(`drydock package` stores it): the SDK uploads the scripts while it builds the definition, so the command builds
it against drydock's in-process S3 (nothing leaves the machine) and the JSON names the S3 keys the scripts must be
copied to (docs/deploy.md).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SCRIPTS = HERE / "scripts"
LAMBDAS = HERE / "lambdas"
PIPELINE_NAME = "churn-pipeline"
MODEL_PACKAGE_GROUP = "churn-models"
LATEST_AUC_FUNCTION = "churn-latest-approved-auc"
SKLEARN_VERSION = "1.2-1"
XGBOOST_VERSION = "1.7-1"
HYPERPARAMETERS = {"max_depth": 4, "eta": 0.2, "subsample": 0.8, "objective": "binary:logistic",
                   "eval_metric": "auc", "early_stopping_rounds": 10}
AUC_PATH = "binary_classification_metrics.auc.value"


def build_pipeline(session: Any, role: str, bucket: str, *, name: str = PIPELINE_NAME,
                   model_package_group: str = MODEL_PACKAGE_GROUP, feature_group_name: str | None = None,
                   latest_auc_function_arn: str | None = None, lambda_role: str | None = None,
                   auc_threshold: float = 0.75, num_round: int = 50, hyperparameters: dict[str, Any] | None = None,
                   cache: bool = False) -> Any:
    """The churn pipeline.

    Args:
        session: a `sagemaker.workflow.pipeline_context.PipelineSession`.
        role: the SageMaker execution role the jobs run as (the stack's SageMakerExecutionRoleArn).
        bucket: where inputs default from and where code, models and reports go.
        name: the pipeline's name (the workflow's PipelineName).
        model_package_group: the Model Registry group versions are registered in.
        feature_group_name: the Feature Store group the preprocessing writes features to (none when None).
        latest_auc_function_arn: an existing LatestApprovedAuc function; when None the SDK creates or updates
            `churn-latest-approved-auc` from lambdas/latest_approved_auc.py as the definition is built, with
            `lambda_role` (default `role`) as its execution role.
        auc_threshold: AucThreshold's default.
        num_round: NumRound's default (boosting rounds).
        hyperparameters: overrides of the training hyperparameters.
        cache: let SageMaker Pipelines reuse an earlier run's Preprocess, Train and Evaluate (for an hour) when
            their inputs are the same. Off by default: a retrain started by a drift alarm must train again, not
            find the last run's model in the cache because the data object's URI did not change.
    """
    from sagemaker.inputs import TrainingInput
    from sagemaker.lambda_helper import Lambda
    from sagemaker.model import Model
    from sagemaker.model_metrics import MetricsSource, ModelMetrics
    from sagemaker.processing import ProcessingInput, ProcessingOutput, ScriptProcessor
    from sagemaker.sklearn.processing import SKLearnProcessor
    from sagemaker.workflow.condition_step import ConditionStep
    from sagemaker.workflow.conditions import ConditionGreaterThanOrEqualTo
    from sagemaker.workflow.fail_step import FailStep
    from sagemaker.workflow.functions import Join, JsonGet
    from sagemaker.workflow.lambda_step import LambdaOutput, LambdaOutputTypeEnum, LambdaStep
    from sagemaker.workflow.model_step import ModelStep
    from sagemaker.workflow.parameters import ParameterFloat, ParameterInteger, ParameterString
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.properties import PropertyFile
    from sagemaker.workflow.steps import CacheConfig, ProcessingStep, TrainingStep
    from sagemaker.xgboost.estimator import XGBoost

    input_data = ParameterString(name="InputData", default_value=f"s3://{bucket}/data/churn.csv")
    processing_instance_type = ParameterString(name="ProcessingInstanceType", default_value="ml.m5.xlarge")
    training_instance_type = ParameterString(name="TrainingInstanceType", default_value="ml.m5.xlarge")
    approval_status = ParameterString(name="ModelApprovalStatus", default_value="PendingManualApproval")
    threshold = ParameterFloat(name="AucThreshold", default_value=auc_threshold)
    rounds = ParameterInteger(name="NumRound", default_value=num_round)
    cache_config = CacheConfig(enable_caching=cache, expire_after="PT1H")
    prefix = f"s3://{bucket}/{name}"

    preprocessor = SKLearnProcessor(
        framework_version=SKLEARN_VERSION, role=role, instance_type=processing_instance_type, instance_count=1,
        base_job_name=f"{name}-preprocess", sagemaker_session=session,
        env={"FEATURE_GROUP_NAME": feature_group_name} if feature_group_name else None)
    preprocess = ProcessingStep(
        name="Preprocess", cache_config=cache_config,
        step_args=preprocessor.run(
            code=str(SCRIPTS / "preprocess.py"),
            inputs=[ProcessingInput(source=input_data, destination="/opt/ml/processing/input")],
            outputs=[ProcessingOutput(output_name=split, source=f"/opt/ml/processing/output/{split}")
                     for split in ("train", "validation", "test")]))
    splits = preprocess.properties.ProcessingOutputConfig.Outputs

    estimator = XGBoost(
        entry_point="train.py", source_dir=str(SCRIPTS), framework_version=XGBOOST_VERSION, role=role,
        instance_type=training_instance_type, instance_count=1, output_path=f"{prefix}/models",
        base_job_name=f"{name}-train", sagemaker_session=session,
        hyperparameters={**HYPERPARAMETERS, "num_round": rounds, **(hyperparameters or {})},
        metric_definitions=[{"Name": "validation:auc", "Regex": r"validation-auc:([0-9\.]+)"}])
    train = TrainingStep(name="Train", cache_config=cache_config, step_args=estimator.fit({
        "train": TrainingInput(splits["train"].S3Output.S3Uri, content_type="text/csv"),
        "validation": TrainingInput(splits["validation"].S3Output.S3Uri, content_type="text/csv")}))

    evaluator = ScriptProcessor(
        image_uri=estimator.training_image_uri(), command=["python3"], role=role,
        instance_type=processing_instance_type, instance_count=1, base_job_name=f"{name}-evaluate",
        sagemaker_session=session)
    report = PropertyFile(name="EvaluationReport", output_name="evaluation", path="evaluation.json")
    evaluate = ProcessingStep(
        name="Evaluate", cache_config=cache_config, property_files=[report],
        step_args=evaluator.run(
            code=str(SCRIPTS / "evaluate.py"),
            inputs=[ProcessingInput(source=train.properties.ModelArtifacts.S3ModelArtifacts,
                                    destination="/opt/ml/processing/model"),
                    ProcessingInput(source=splits["test"].S3Output.S3Uri, destination="/opt/ml/processing/test")],
            outputs=[ProcessingOutput(output_name="evaluation", source="/opt/ml/processing/evaluation")]))
    auc = JsonGet(step_name=evaluate.name, property_file=report, json_path=AUC_PATH)

    if latest_auc_function_arn is not None:
        function = Lambda(function_arn=latest_auc_function_arn, session=session)
    else:
        function = Lambda(function_name=LATEST_AUC_FUNCTION, execution_role_arn=lambda_role or role,
                          script=str(LAMBDAS / "latest_approved_auc.py"), handler="latest_approved_auc.handler",
                          timeout=60, session=session)
    latest = LambdaStep(
        name="LatestApprovedAuc", lambda_func=function, inputs={"ModelPackageGroupName": model_package_group},
        outputs=[LambdaOutput(output_name="auc", output_type=LambdaOutputTypeEnum.Float),
                 LambdaOutput(output_name="model_package_arn", output_type=LambdaOutputTypeEnum.String)])
    approved_auc = latest.properties.Outputs["auc"]

    evaluation_uri = evaluate.properties.ProcessingOutputConfig.Outputs["evaluation"].S3Output.S3Uri
    metrics = ModelMetrics(model_statistics=MetricsSource(
        s3_uri=Join(on="/", values=[evaluation_uri, "evaluation.json"]), content_type="application/json"))
    model = Model(image_uri=estimator.training_image_uri(), model_data=train.properties.ModelArtifacts.S3ModelArtifacts,
                  role=role, sagemaker_session=session)
    register = ModelStep(name="RegisterChurnModel", step_args=model.register(
        content_types=["text/csv"], response_types=["text/csv"], inference_instances=["ml.m5.large"],
        transform_instances=["ml.m5.large"], model_package_group_name=model_package_group,
        approval_status=approval_status, model_metrics=metrics,
        description="Churn classifier (XGBoost) trained by the churn pipeline"))
    too_low = FailStep(name="AucTooLow", error_message=Join(on=" ", values=[
        "The new model's AUC", auc, "is below the threshold", threshold, "or below the latest approved version's",
        approved_auc]))
    check = ConditionStep(
        name="CheckAuc",
        conditions=[ConditionGreaterThanOrEqualTo(left=auc, right=threshold),
                    ConditionGreaterThanOrEqualTo(left=auc, right=approved_auc)],
        if_steps=[register], else_steps=[too_low])
    return Pipeline(name=name, sagemaker_session=session,
                    parameters=[input_data, processing_instance_type, training_instance_type, approval_status,
                                threshold, rounds],
                    steps=[preprocess, train, evaluate, latest, check])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.definition",
                                     description="Print the churn pipeline's definition JSON (what pipeline.upsert "
                                                 "sends).")
    parser.add_argument("-o", "--output", help="write it to FILE instead of stdout")
    parser.add_argument("--account", default="123456789012", help="AWS account the ARNs name")
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--bucket", help="default: churn-mlops-<account>-<region>, the stack's data bucket")
    parser.add_argument("--role", help="SageMaker execution role ARN (default: the stack's churn-sagemaker-execution)")
    parser.add_argument("--feature-group", default="churn-features", help="Feature Store group ('' for none)")
    args = parser.parse_args(argv)
    bucket = args.bucket or f"churn-mlops-{args.account}-{args.region}"
    role = args.role or f"arn:aws:iam::{args.account}:role/churn-sagemaker-execution"
    function_arn = f"arn:aws:lambda:{args.region}:{args.account}:function:{LATEST_AUC_FUNCTION}"

    # No AWS account here: the SDK's uploads of the scripts land in drydock's in-process S3 and are dropped.
    # The SDK prints its config notices on stdout: they go to stderr, stdout carries the JSON alone.
    import contextlib

    from harness.cloud import LocalCloud
    from harness.sagemaker.sdk import pipeline_session, sdk_environment

    with contextlib.redirect_stdout(sys.stderr), sdk_environment():
        cloud = LocalCloud(region=args.region, account=args.account)
        cloud.client("s3").create_bucket(Bucket=bucket, **({} if args.region == "us-east-1" else {
            "CreateBucketConfiguration": {"LocationConstraint": args.region}}))
        pipeline = build_pipeline(pipeline_session(cloud, bucket), role, bucket,
                                  feature_group_name=args.feature_group or None, latest_auc_function_arn=function_arn)
        text = pipeline.definition()
    if args.output:
        Path(args.output).write_text(text + "\n")
    else:
        sys.stdout.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
