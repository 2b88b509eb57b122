"""Step Functions' SageMaker integrations over drydock's SageMaker, and the resources AWS does not offer."""
from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

import harness.integrations.sagemaker  # noqa: F401 - registers the integrations even where __init__ does not
from harness.integrations.catalog import check_resource
from harness.stepfunctions_api import StepFunctionsApi, install
from service_kit import BUCKET, linear_model, script_job, transform_request, wait_for

ROLE = "arn:aws:iam::123456789012:role/drydock"
TRAIN_SYNC = "arn:aws:states:::sagemaker:createTrainingJob.sync"
TRANSFORM_SYNC = "arn:aws:states:::sagemaker:createTransformJob.sync"
FAILS = 'raise SystemExit("the data has no label column")'


@pytest.fixture(scope="module")
def sfn(cloud):
    api = StepFunctionsApi()  # drydock's integrations, on a virtual clock
    previous = install(api)
    yield cloud.client("stepfunctions")
    install(previous)
    api.close()


def run(sfn, name: str, states: dict, input_: dict | None = None) -> dict:
    definition = json.dumps({"StartAt": next(iter(states)), "States": states})
    arn = sfn.create_state_machine(name=name, definition=definition, roleArn=ROLE)["stateMachineArn"]
    ex = sfn.start_execution(stateMachineArn=arn, input=json.dumps(input_ or {}))["executionArn"]
    return sfn.describe_execution(executionArn=ex)


def test_create_training_job_sync_returns_the_describe_output(cloud, sfn) -> None:
    request = script_job(cloud.client("s3"), "svc-sfn-train", "print('trained')")
    described = run(sfn, "svc-train-sync", {
        "Train": {"Type": "Task", "Resource": TRAIN_SYNC, "Parameters": request, "End": True}})
    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    assert (output["TrainingJobName"], output["TrainingJobStatus"], output["SecondaryStatus"]) == \
        ("svc-sfn-train", "Completed", "Completed")
    assert output["ModelArtifacts"]["S3ModelArtifacts"] == f"s3://{BUCKET}/models/svc-sfn-train/output/model.tar.gz"
    assert isinstance(output["CreationTime"], int) and output["TrainingEndTime"] >= output["TrainingStartTime"]
    assert [t["Status"] for t in output["SecondaryStatusTransitions"]][-1] == "Completed"
    # the execution's clock moved by about the time the job really took, not by polling intervals
    assert (described["stopDate"] - described["startDate"]).total_seconds() < 60


def test_a_failed_sync_job_goes_to_the_catch(cloud, sfn) -> None:
    request = script_job(cloud.client("s3"), "svc-sfn-fails", FAILS)
    described = run(sfn, "svc-train-fails", {
        "Train": {"Type": "Task", "Resource": TRAIN_SYNC, "Parameters": request, "End": True,
                  "Catch": [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.error", "Next": "Failed"}]},
        "Failed": {"Type": "Pass", "End": True}})
    assert described["status"] == "SUCCEEDED"
    caught = json.loads(described["output"])["error"]
    assert caught["Error"] == "States.TaskFailed"
    cause = json.loads(caught["Cause"])
    assert (cause["TrainingJobStatus"], cause["FailureReason"]) == \
        ("Failed", "AlgorithmError: the data has no label column")


def test_request_response_and_api_errors(cloud, sfn) -> None:
    request = script_job(cloud.client("s3"), "svc-sfn-rr", "print('hi')")
    started = run(sfn, "svc-train-rr", {
        "Train": {"Type": "Task", "Resource": "arn:aws:states:::sagemaker:createTrainingJob",
                  "Parameters": request, "Next": "Again"},
        "Again": {"Type": "Task", "Resource": "arn:aws:states:::sagemaker:createTrainingJob",
                  "Parameters": request, "End": True,
                  "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Done"}]},
        "Done": {"Type": "Pass", "End": True}})
    output = json.loads(started["output"])
    assert output["error"]["Error"] == "SageMaker.ResourceInUseException"  # the SDK models ResourceInUse
    assert "(Service: AmazonSageMaker; Status Code: 400; Error Code: ResourceInUse;" in output["error"]["Cause"]

    model = run(sfn, "svc-create-model", {
        "Model": {"Type": "Task", "Resource": "arn:aws:states:::sagemaker:createModel", "End": True,
                  "Parameters": {"ModelName": "svc-sfn-model", "ExecutionRoleArn": ROLE,
                                 "PrimaryContainer": {"Image": "img", "ModelDataUrl": f"s3://{BUCKET}/m.tar.gz"}}}})
    answer = json.loads(model["output"])
    assert answer["ModelArn"].endswith(":model/svc-sfn-model")
    assert answer["SdkHttpMetadata"]["HttpStatusCode"] == 200

    missing = run(sfn, "svc-transform-no-model", {
        "Transform": {"Type": "Task", "Resource": "arn:aws:states:::sagemaker:createTransformJob.sync",
                      "End": True, "Parameters": transform_request("svc-sfn-no-model", "svc-sfn-no-such-model",
                                                                   f"s3://{BUCKET}/in", f"s3://{BUCKET}/out")}})
    assert (missing["status"], missing["error"]) == ("FAILED", "SageMaker.AmazonSageMakerException")
    assert 'Could not find model "arn:aws:sagemaker:us-east-1:123456789012:model/svc-sfn-no-such-model".' in \
        missing["cause"]


def test_create_transform_job_sync_returns_the_describe_output(cloud, sfn) -> None:
    s3, sm = cloud.client("s3"), cloud.client("sagemaker")
    linear_model(s3, sm, "svc-sfn-linear", [1.0, 10.0])
    s3.put_object(Bucket=BUCKET, Key="sfn-transform/in/rows.csv", Body=b"1,2\n3,4\n")
    score = transform_request("svc-sfn-transform", "svc-sfn-linear", "(from the input)",
                              f"s3://{BUCKET}/sfn-transform/out")
    score["TransformInput.$"] = "$.input"  # the request, partly from the execution's input
    del score["TransformInput"]
    described = run(sfn, "svc-transform-sync", {
        "Score": {"Type": "Task", "Resource": TRANSFORM_SYNC, "ResultPath": "$.transform", "Next": "Empty",
                  "Parameters": score},
        "Empty": {"Type": "Task", "Resource": TRANSFORM_SYNC, "End": True,
                  "Parameters": transform_request("svc-sfn-empty", "svc-sfn-linear",
                                                  f"s3://{BUCKET}/sfn-transform/nothing/", f"s3://{BUCKET}/o"),
                  "Catch": [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.error", "Next": "Caught"}]},
        "Caught": {"Type": "Pass", "End": True}},
        {"input": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix",
                                                   "S3Uri": f"s3://{BUCKET}/sfn-transform/in"}},
                   "ContentType": "text/csv", "SplitType": "Line"}})
    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    transform = output["transform"]
    assert (transform["TransformJobName"], transform["TransformJobStatus"]) == ("svc-sfn-transform", "Completed")
    assert transform["TransformJobArn"].endswith(":transform-job/svc-sfn-transform")
    assert transform["TransformOutput"]["S3OutputPath"] == f"s3://{BUCKET}/sfn-transform/out"
    assert isinstance(transform["CreationTime"], int)  # epoch milliseconds, as the Java SDK renders them
    assert transform["TransformEndTime"] >= transform["TransformStartTime"] >= transform["CreationTime"]
    body = s3.get_object(Bucket=BUCKET, Key="sfn-transform/out/rows.csv.out")["Body"].read()
    assert body == b"21.0\n43.0\n"
    cause = json.loads(output["error"]["Cause"])
    assert (cause["TransformJobName"], cause["TransformJobStatus"]) == ("svc-sfn-empty", "Failed")
    assert f's3://{BUCKET}/sfn-transform/nothing/' in cause["FailureReason"]


def test_resources_aws_does_not_offer_are_refused_with_the_alternative(sfn) -> None:
    definition = json.dumps({"StartAt": "Run", "States": {
        "Run": {"Type": "Task", "Resource": "arn:aws:states:::sagemaker:createPipelineExecution", "Next": "Wait"},
        "Wait": {"Type": "Task", "Resource": "arn:aws:states:::sagemaker:describePipelineExecution.sync",
                 "End": True}}})
    with pytest.raises(ClientError) as exc:
        sfn.create_state_machine(name="svc-pipeline", definition=definition, roleArn=ROLE)
    err = exc.value.response["Error"]
    assert err["Code"] == "InvalidDefinition"
    assert err["Message"].startswith("Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: The resource "
                                     "provided arn:aws:states:::sagemaker:createPipelineExecution is not recognized.")
    assert "arn:aws:states:::aws-sdk:sagemaker:startPipelineExecution" in err["Message"]
    assert "at /States/Run/Resource'" in err["Message"]

    report = sfn.validate_state_machine_definition(definition=definition)
    assert report["result"] == "FAIL"
    assert [(d["code"], d["location"]) for d in report["diagnostics"]] == [
        ("SCHEMA_VALIDATION_FAILED", "/States/Run/Resource"), ("SCHEMA_VALIDATION_FAILED", "/States/Wait/Resource")]
    assert "arn:aws:states:::aws-sdk:sagemaker:describePipelineExecution" in report["diagnostics"][1]["message"]


def test_a_sync_task_that_times_out_stops_its_job(cloud, sfn) -> None:
    request = script_job(cloud.client("s3"), "svc-sfn-timeout", "import time\nprint('up', flush=True)\ntime.sleep(60)")
    described = run(sfn, "svc-train-timeout", {
        "Train": {"Type": "Task", "Resource": TRAIN_SYNC, "Parameters": request, "TimeoutSeconds": 2, "End": True}})
    assert (described["status"], described["error"]) == ("FAILED", "States.Timeout")
    sm = cloud.client("sagemaker")
    job, _ = wait_for(lambda: sm.describe_training_job(TrainingJobName="svc-sfn-timeout"), "TrainingJobStatus",
                      timeout=20)
    assert (job["TrainingJobStatus"], job["SecondaryStatus"]) == ("Stopped", "Stopped")


@pytest.mark.parametrize("arn, hint", [
    ("arn:aws:states:::sagemaker:createModel.sync", "sagemaker:createModel supports request-response, "
                                                    ".waitForTaskToken; .sync is not offered."),
    ("arn:aws:states:::aws-sdk:sagemaker:describeTrainingJob.sync", "AWS SDK integrations have no .sync"),
    ("arn:aws:states:::sagemaker:createTrainingJobs", "aws-sdk:sagemaker:createTrainingJob"),
    ("arn:aws:states:::dynamodb:query", "arn:aws:states:::aws-sdk:dynamodb:query"),
    ("arn:aws:states:::dynamodb:zzz", "dynamodb offers deleteItem, getItem, putItem, updateItem."),
    ("arn:aws:states:::states:startExecution.sync:2", None),
    ("arn:aws:states:::sagemaker:createTransformJob.sync", None),
    ("arn:aws:states:::mediaconvert:createJob", None),  # a service this catalog does not judge
])
def test_the_catalog_of_offered_resources(arn, hint) -> None:
    finding = check_resource(arn, "/States/X/Resource")
    if hint is None:
        assert finding is None
    else:
        assert finding.code == "SCHEMA_VALIDATION_FAILED" and finding.location == "/States/X/Resource"
        assert finding.message.startswith(f"The resource provided {arn} is not recognized.") and hint in finding.message
