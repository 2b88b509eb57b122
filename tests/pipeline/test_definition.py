"""pipeline/definition.py: the definition JSON `python -m pipeline.definition` writes (what `pipeline.upsert` sends).

The pipeline runs in tests/pipeline/test_churn_loop.py and test_patterns.py; here its shape: parameters, steps, the
Lambda step's function, the two-part AUC condition and what the register step attaches.
"""
from __future__ import annotations

import json

from pipeline.definition import main


def test_the_definition_json_the_sdk_would_upsert(local_cloud, tmp_path):
    out = tmp_path / "pipeline.json"
    assert main(["-o", str(out), "--account", "111122223333", "--region", "us-east-1"]) == 0
    definition = json.loads(out.read_text())
    parameters = {p["Name"]: p for p in definition["Parameters"]}
    assert parameters["InputData"]["DefaultValue"] == "s3://churn-mlops-111122223333-us-east-1/data/churn.csv"
    assert (parameters["AucThreshold"]["Type"], parameters["AucThreshold"]["DefaultValue"]) == ("Float", 0.75)
    assert parameters["ModelApprovalStatus"]["DefaultValue"] == "PendingManualApproval"
    steps = {s["Name"]: s for s in definition["Steps"]}
    assert [(name, s["Type"]) for name, s in steps.items()] == [
        ("Preprocess", "Processing"), ("Train", "Training"), ("Evaluate", "Processing"),
        ("LatestApprovedAuc", "Lambda"), ("CheckAuc", "Condition")]
    assert steps["Preprocess"]["Arguments"]["Environment"] == {"FEATURE_GROUP_NAME": "churn-features"}
    assert steps["Train"]["Arguments"]["HyperParameters"]["sagemaker_program"] == '"train.py"'
    assert steps["Evaluate"]["PropertyFiles"] == [{"PropertyFileName": "EvaluationReport", "OutputName": "evaluation",
                                                   "FilePath": "evaluation.json"}]
    assert steps["LatestApprovedAuc"]["FunctionArn"] == \
        "arn:aws:lambda:us-east-1:111122223333:function:churn-latest-approved-auc"
    assert steps["LatestApprovedAuc"]["Arguments"] == {"ModelPackageGroupName": "churn-models"}

    check = steps["CheckAuc"]["Arguments"]
    left = {"Std:JsonGet": {"PropertyFile": {"Get": "Steps.Evaluate.PropertyFiles.EvaluationReport"},
                            "Path": "binary_classification_metrics.auc.value"}}
    assert [c["Type"] for c in check["Conditions"]] == ["GreaterThanOrEqualTo"] * 2
    assert [c["LeftValue"] for c in check["Conditions"]] == [left, left]
    assert [c["RightValue"] for c in check["Conditions"]] == [
        {"Get": "Parameters.AucThreshold"}, {"Get": "Steps.LatestApprovedAuc.OutputParameters['auc']"}]
    (register,) = check["IfSteps"]
    assert register["Type"] == "RegisterModel"
    assert register["Arguments"]["ModelApprovalStatus"] == {"Get": "Parameters.ModelApprovalStatus"}
    assert register["Arguments"]["ModelPackageGroupName"] == "churn-models"
    statistics = register["Arguments"]["ModelMetrics"]["ModelQuality"]["Statistics"]
    assert statistics["ContentType"] == "application/json" and "Std:Join" in statistics["S3Uri"]
    (fail,) = check["ElseSteps"]
    assert fail["Type"] == "Fail"
