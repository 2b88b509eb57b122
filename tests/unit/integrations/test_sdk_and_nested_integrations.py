"""aws-sdk:*, states:startExecution, glue:startJobRun, and what resolve does with resources nobody serves."""
from __future__ import annotations

import json

from asl.tasks import parse_resource
from integration_kit import details, events_of, task

CHILD = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"child": True}, "End": True}}}
FAILING_CHILD = {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Nope", "Cause": "because"}}}


# --------------------------------------------------------------------------- aws-sdk
def test_s3_put_and_get_object_in_the_sdk_v2_shape(runner, cloud) -> None:
    cloud.client("s3").create_bucket(Bucket="bucket-one")
    put = runner.run(task("arn:aws:states:::aws-sdk:s3:putObject", {"Bucket": "bucket-one", "Key": "k", "Body": "text"}))
    assert put.status == "SUCCEEDED", put.cause
    assert put.output["ServerSideEncryption"] == "AES256" and put.output["ChecksumType"] == "FULL_OBJECT"
    got = runner.run(task("arn:aws:states:::aws-sdk:s3:getObject", {"Bucket": "bucket-one", "Key": "k"}))
    out = got.output
    assert out["Body"] == '"text"'  # a blob member gets the JSON text of the value
    assert out["ContentLength"] == 6 and out["ContentType"] == "binary/octet-stream"
    assert out["LastModified"].endswith("Z") and "ChecksumCRC32" not in out


def test_sdk_errors_are_named_after_the_v2_client(runner, cloud) -> None:
    cloud.client("s3").create_bucket(Bucket="bucket-one")
    ex = runner.run(task("arn:aws:states:::aws-sdk:s3:getObject", {"Bucket": "bucket-one", "Key": "missing"}))
    assert ex.error == "S3.NoSuchKeyException"
    assert ex.cause.startswith("The specified key does not exist. (Service: S3, Status Code: 404, Request ID: ")
    assert ex.cause.endswith(") (SDK Attempt Count: 1)") and "Extended Request ID" in ex.cause
    bucket = runner.run(task("arn:aws:states:::aws-sdk:s3:listObjects", {"Bucket": "no-such-bucket-here"}))
    assert bucket.error == "S3.NoSuchBucketException"


def test_pascal_case_members_both_ways(runner, cloud) -> None:
    ex = runner.run(task("arn:aws:states:::aws-sdk:sqs:createQueue", {"QueueName": "made"}))
    assert ex.status == "SUCCEEDED" and ex.output["QueueUrl"].endswith("/made")
    sfn = runner.run(task("arn:aws:states:::aws-sdk:sfn:sendTaskSuccess", {"TaskToken": "nope", "Output": "{}"}))
    assert sfn.error == "Sfn.InvalidTokenException"
    assert sfn.cause.startswith("Invalid Token: 'Invalid token' (Service: Sfn, Status Code: 400, Request ID: ")


def test_an_action_moto_lacks_is_not_supported_locally(runner) -> None:
    ex = runner.run(task("arn:aws:states:::aws-sdk:glue:startBlueprintRun", {"BlueprintName": "b", "RoleArn": "r"}))
    assert (ex.status, ex.error) == ("FAILED", "States.TaskFailed")
    assert ex.cause == "not supported locally: glue:startBlueprintRun"


def test_unknown_service_or_action_resolves_to_nothing(runner) -> None:
    handlers = runner.engine_for() and runner.handlers
    for arn in ("arn:aws:states:::aws-sdk:nosuchservice:doThing", "arn:aws:states:::aws-sdk:s3:noSuchAction",
                "arn:aws:states:::nosuch:action", "arn:aws:states:::sqs:sendMessage.sync",
                "arn:aws:states:::lambda:invoke.sync"):
        assert handlers.resolve(parse_resource(arn)) is None, arn
    ex = runner.run(task("arn:aws:states:::aws-sdk:nosuchservice:doThing"))
    assert ex.error == "States.TaskFailed" and "arn:aws:states:::aws-sdk:nosuchservice:doThing" in ex.cause
    assert [e["type"] for e in ex.history.events][2:5] == ["TaskScheduled", "TaskStarted", "TaskFailed"]


def test_secrets_manager_checks_the_name_as_aws_does(runner) -> None:
    ex = runner.run(task("arn:aws:states:::aws-sdk:secretsmanager:createSecret",
                         {"Name": "Invalid Name", "SecretString": "x"}))
    assert ex.error == "SecretsManager.SecretsManagerException"
    ok = runner.run(task("arn:aws:states:::aws-sdk:secretsmanager:createSecret", {"Name": "good", "SecretString": "x"}))
    assert ok.status == "SUCCEEDED" and ok.output["Name"] == "good" and ok.output["ARN"].startswith("arn:aws:")


# --------------------------------------------------------------------------- states:startExecution
def test_start_execution_plain_sync_and_sync2(runner, cloud) -> None:
    arn = f"arn:aws:states:{cloud.region}:{cloud.account}:stateMachine:child"
    runner.machines[arn] = CHILD
    plain = runner.run(task("arn:aws:states:::states:startExecution", {"StateMachineArn": arn, "Input": {"a": 1}}))
    assert plain.output["ExecutionArn"].startswith(arn.replace(":stateMachine:", ":execution:"))
    assert isinstance(plain.output["StartDate"], int) and "SdkHttpMetadata" in plain.output
    sync = runner.run(task("arn:aws:states:::states:startExecution.sync", {"StateMachineArn": arn, "Input": {"a": 1}}))
    assert sync.output["Status"] == "SUCCEEDED" and json.loads(sync.output["Output"]) == {"child": True}
    assert sync.output["Input"] == '{"a":1}'
    sync2 = runner.run(task("arn:aws:states:::states:startExecution.sync:2", {"StateMachineArn": arn}))
    assert sync2.output["Output"] == {"child": True}


def test_a_failed_child_fails_the_task(runner, cloud) -> None:
    arn = f"arn:aws:states:{cloud.region}:{cloud.account}:stateMachine:bad"
    runner.machines[arn] = FAILING_CHILD
    ex = runner.run(task("arn:aws:states:::states:startExecution.sync", {"StateMachineArn": arn}))
    assert ex.error == "States.TaskFailed"
    cause = json.loads(ex.cause)
    assert (cause["Status"], cause["Error"], cause["Cause"]) == ("FAILED", "Nope", "because")
    missing = runner.run(task("arn:aws:states:::states:startExecution", {"StateMachineArn": arn + "-gone"}))
    assert missing.error == "StepFunctions.StateMachineDoesNotExistException"


# --------------------------------------------------------------------------- glue
def test_glue_job_runs_its_script(runner, cloud) -> None:
    s3 = cloud.client("s3")
    s3.create_bucket(Bucket="scripts-bucket")
    s3.put_object(Bucket="scripts-bucket", Key="job.py", Body=b"import sys\nassert '--day' in sys.argv\n")
    s3.put_object(Bucket="scripts-bucket", Key="bad.py", Body=b"raise SystemExit('broken job')\n")
    glue = cloud.client("glue")
    for name, key in (("good", "job.py"), ("bad", "bad.py")):
        glue.create_job(Name=name, Role="r", Command={"Name": "pythonshell", "ScriptLocation": f"s3://scripts-bucket/{key}"})
    ok = runner.run(task("arn:aws:states:::glue:startJobRun.sync", {"JobName": "good", "Arguments": {"--day": "1"}}))
    assert ok.status == "SUCCEEDED", ok.cause
    assert ok.output["JobRunState"] == "SUCCEEDED" and ok.output["JobName"] == "good"
    bad = runner.run(task("arn:aws:states:::glue:startJobRun.sync", {"JobName": "bad"}))
    assert bad.error == "States.TaskFailed" and json.loads(bad.cause)["ErrorMessage"] == "broken job"
    fire = runner.run(task("arn:aws:states:::glue:startJobRun", {"JobName": "good"}))
    assert set(fire.output) >= {"JobRunId", "SdkHttpMetadata"}


def test_task_events_name_the_resource(runner, cloud) -> None:
    cloud.client("sqs").create_queue(QueueName="q")
    ex = runner.run(task("arn:aws:states:::aws-sdk:sqs:listQueues", {}))
    scheduled = details(events_of(ex, "TaskScheduled")[0])
    assert (scheduled["resource"], scheduled["resourceType"]) == ("listQueues", "aws-sdk:sqs")
    assert ex.output["QueueUrls"][0].endswith("/q")
