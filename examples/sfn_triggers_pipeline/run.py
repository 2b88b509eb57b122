"""Pattern 2, the flagship: Step Functions triggers the SageMaker pipeline, asks for approval, deploys, retrains.

    python examples/sfn_triggers_pipeline/run.py     (the same as `drydock demo` and `make demo`)

pipeline/state_machine.yaml (the workflow, its roles, topics, Lambda, bucket and EventBridge rules) is deployed
into drydock's in-process cloud; pipeline/definition.py's SageMaker pipeline is upserted with the SDK v2; uploading
data starts the workflow (S3-upload rule): the pipeline trains and registers a version, an approval policy answers
the approval request, the endpoint is created; drifted traffic makes Model Monitor raise violations whose event
starts the workflow again (DriftDetected rule), which retrains and updates the endpoint in place.
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def run(rows: int = 2000, feature_store: bool = True, out_dir: Path = Path("out"), say=None, work_dir=None):
    """The whole loop; returns `harness.commands.demo.Summary` (raises ScenarioError when a step goes wrong)."""
    from harness.commands.demo import Scenario

    scenario = Scenario(rows=rows, feature_store=feature_store, out_dir=out_dir, say=say, work_dir=work_dir)
    try:
        summary = scenario.run_loop()
        summary.record = scenario.feature_record() if feature_store else {}
        return summary
    finally:
        scenario.close()


def main() -> int:
    from harness.commands.demo import main as demo

    return demo([])


if __name__ == "__main__":
    sys.exit(main())
