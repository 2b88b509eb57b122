"""Pattern 1: Step Functions calls SageMaker's job APIs itself (`sagemaker:createProcessingJob.sync`,
`createTrainingJob.sync`, `createModel`); no SageMaker pipeline.

    python examples/sfn_sagemaker_jobs/run.py        (or: drydock demo --example examples/sfn_sagemaker_jobs)

template.yaml is deployed into drydock's in-process cloud (harness.cfn.deploy); the churn scripts of
pipeline/scripts are uploaded where the template's state machine looks for them; the execution runs them as real
jobs (DRYDOCK_BACKEND=process, the default, or docker) and creates the model when the AUC is good enough.
"""
from __future__ import annotations

import io
import json
import sys
import tarfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
SCRIPTS = ROOT / "pipeline" / "scripts"


def run(rows: int = 1500, sandbox=None) -> dict:
    """Deploy, upload, run once; returns the execution's description, its output and the jobs it ran."""
    from fixtures.churn import generate
    from harness.cfn.deploy import deploy
    from harness.commands.demo import Sandbox

    own = sandbox is None
    sandbox = (sandbox or Sandbox()).start()
    try:
        stack = deploy(sandbox.cloud, HERE / "template.yaml", stack_name="churn-jobs")
        bucket, s3 = stack.outputs["Bucket"], sandbox.client("s3")
        s3.put_object(Bucket=bucket, Key="data/churn.csv", Body=generate(rows, seed=1).to_csv(index=False).encode())
        for script in ("preprocess.py", "evaluate.py"):
            s3.put_object(Bucket=bucket, Key=f"code/{script}", Body=(SCRIPTS / script).read_bytes())
        s3.put_object(Bucket=bucket, Key="code/sourcedir.tar.gz", Body=source_tarball(SCRIPTS / "train.py"))
        started = time.perf_counter()
        arn = sandbox.client("stepfunctions").start_execution(
            stateMachineArn=stack.outputs["StateMachineArn"], input=json.dumps({"DataKey": "data/churn.csv"}))[
            "executionArn"]
        described = sandbox.wait_execution(arn)
        history = sandbox.backend().executions[arn].execution.history.events
        return {"execution": described, "output": json.loads(described.get("output") or "{}"),
                "seconds": time.perf_counter() - started, "events": history,
                "states": [e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e],
                "models": sandbox.client("sagemaker").list_models()["Models"]}
    finally:
        if own:
            sandbox.close()


def source_tarball(*files: Path) -> bytes:
    """sourcedir.tar.gz as the SDK packs an estimator's source_dir."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in files:
            tar.add(path, arcname=path.name)
    return buffer.getvalue()


def main() -> int:
    result = run()
    described, output = result["execution"], result["output"]
    print(f"execution {described['name']}: {described['status']} in {result['seconds']:.1f} s")
    print("states:", " → ".join(result["states"]))
    if described["status"] == "SUCCEEDED":
        metrics = output["Evaluation"]["Metrics"]["binary_classification_metrics"]
        print(f"jobs: {output['Preprocess']['JobName']}, {output['Train']['JobName']}, {output['Evaluate']['JobName']}")
        print(f"AUC {metrics['auc']['value']:.4f}, F1 {metrics['f1']['value']:.4f}; model {output['Model']['ModelArn']}")
        return 0
    print(f"{described.get('error')}: {described.get('cause')}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
