"""Pattern 3: the SageMaker pipeline alone, as the primary orchestrator (no Step Functions).

    python examples/sagemaker_pipeline/run.py        (or: drydock demo --example examples/sagemaker_pipeline)

pipeline/definition.py's pipeline is built with the SageMaker SDK v2 against drydock's in-process cloud, upserted
and started with `pipeline.start()`, as a team runs it from a notebook or CI: preprocess, train, evaluate, the
LatestApprovedAuc Lambda step, the AUC condition, and a model version registered as PendingManualApproval. The
approval is then given with UpdateModelPackage, as a person does in SageMaker Studio.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
BUCKET = "churn-pipeline-example"
ROLE_NAME = "churn-pipeline-example"


def run(rows: int = 1500, sandbox=None, feature_group: str | None = None) -> dict:
    """Upsert and run the pipeline once; returns its description, its steps and the registered version."""
    from fixtures.churn import generate
    from harness.commands.demo import Sandbox
    from harness.sagemaker.sdk import pipeline_session
    from pipeline.definition import build_pipeline

    own = sandbox is None
    sandbox = (sandbox or Sandbox()).start()
    try:
        s3, iam, sm = sandbox.client("s3"), sandbox.client("iam"), sandbox.client("sagemaker")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key="data/churn.csv", Body=generate(rows, seed=2).to_csv(index=False).encode())
        trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {
            "Service": ["sagemaker.amazonaws.com", "lambda.amazonaws.com"]}}]}
        role = iam.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]

        pipeline = build_pipeline(pipeline_session(sandbox.cloud, BUCKET), role, BUCKET, name="churn-pipeline-alone",
                                  model_package_group="churn-models-alone", feature_group_name=feature_group)
        pipeline.upsert(role_arn=role)
        started = time.perf_counter()
        execution = pipeline.start(parameters={"InputData": f"s3://{BUCKET}/data/churn.csv"})
        described = sandbox.wait_pipeline(execution.arn)
        steps = execution.list_steps()
        packages = sm.list_model_packages(ModelPackageGroupName="churn-models-alone")["ModelPackageSummaryList"] \
            if described["PipelineExecutionStatus"] == "Succeeded" else []
        registered = sm.describe_model_package(ModelPackageName=packages[0]["ModelPackageArn"]) if packages else None
        if registered is not None:
            sm.update_model_package(ModelPackageArn=registered["ModelPackageArn"], ModelApprovalStatus="Approved",
                                    ApprovalDescription="looked good in the example")
        return {"execution": described, "steps": steps, "registered": registered,
                "seconds": time.perf_counter() - started, "pipeline": pipeline.name}
    finally:
        if own:
            sandbox.close()


def main() -> int:
    result = run()
    described = result["execution"]
    print(f"pipeline {result['pipeline']}: {described['PipelineExecutionStatus']} in {result['seconds']:.1f} s")
    for step in sorted(result["steps"], key=lambda s: s["StartTime"]):
        took = (step["EndTime"] - step["StartTime"]).total_seconds() if step.get("EndTime") else 0.0
        print(f"  {step['StepName']:36} {step['StepStatus']:10} {took:5.1f} s")
    registered = result["registered"]
    if registered is None:
        print(described.get("FailureReason", "no model version registered"))
        return 1
    print(f"registered {registered['ModelPackageArn']} ({registered['ModelApprovalStatus']}, then Approved)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
