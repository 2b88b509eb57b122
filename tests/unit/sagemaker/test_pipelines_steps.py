"""How the executor runs steps: Callback and Lambda steps, retries, parallelism, failure, stop, DependsOn.

Pipelines are built with the SageMaker SDK v2 as a user writes them. Jobs go to `ScriptedPlatform`, which answers
in the Describe* shapes at once (or after a pause, or with the failure a test asks for), so these tests measure the
executor, not the scripts; Lambda and SQS are the in-process local cloud's.
"""
import io
import json
import tarfile
import threading
import time
import zipfile

import pytest
from botocore.exceptions import ClientError

from harness.sagemaker.pipelines import api
from harness.sagemaker.pipelines.platform import ClientPlatform, RuntimePlatform
from pipeline_kit import ROLE, local_cloud, pipeline_session, sdk_environment, steps_by_name, wait_for

BUCKET = "drydock-pipelines-steps"
SCRIPT = "print('hello')\n"


class ScriptedPlatform(RuntimePlatform):
    """Jobs that do no work: each answers Completed, unless `script[step name]` lists what its attempts do.

    An attempt is "ok", "throttle" (CreateJob refused with ThrottlingException), "internal" (the job fails with
    an InternalServerError FailureReason), "fail" (an AlgorithmError) or a number of seconds to run.
    """

    def __init__(self, cloud):
        super().__init__(cloud)
        self.script: dict[str, list] = {}
        self.calls: list[tuple[str, float, float]] = []
        self.lock = threading.Lock()
        self.transforms_through_api = False

    def run_job(self, kind, request, stop):
        if kind == "TransformJob":  # the real thing: batch inference through the serving contract, in-process
            if self.transforms_through_api:  # CreateTransformJob & Describe: drydock's SageMaker service runs it
                return ClientPlatform(self.cloud).run_job(kind, request, stop)
            return super().run_job(kind, request, stop)
        name = request[f"{kind}Name"]
        step = name.split("-")[2]
        with self.lock:
            attempts = self.script.get(step, [])
            action = attempts.pop(0) if attempts else "ok"
        started = time.monotonic()
        if action == "throttle":
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}},
                              f"Create{kind}")
        if isinstance(action, (int, float)):
            stop.wait(action)
        with self.lock:
            self.calls.append((step, started, time.monotonic()))
        resource = {"TrainingJob": "training-job", "ProcessingJob": "processing-job"}[kind]
        answer = {**request, f"{kind}Arn": self.cloud.arn("sagemaker", f"{resource}/{name.lower()}"),
                  f"{kind}Status": "Completed"}
        if stop.is_set():
            answer[f"{kind}Status"] = "Stopped"
        elif action == "internal":
            answer.update({f"{kind}Status": "Failed", "FailureReason": "InternalServerError: We encountered an "
                                                                       "internal error. Please try again."})
        elif action == "fail":
            answer.update({f"{kind}Status": "Failed", "FailureReason": "AlgorithmError: ValueError: bad input"})
        if kind == "TrainingJob":
            answer["ModelArtifacts"] = {"S3ModelArtifacts": f"{request['OutputDataConfig']['S3OutputPath']}/{name}/"
                                                            "output/model.tar.gz"}
        return answer


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    with sdk_environment(tmp_path_factory.mktemp("sdk")):
        cloud = local_cloud()
        cloud.client("s3").create_bucket(Bucket=BUCKET)
        yield cloud


@pytest.fixture(scope="module")
def platform(cloud, tmp_path_factory):
    platform = ScriptedPlatform(cloud)
    service = api.PipelineService(platform_for=lambda _: platform, work_dir=tmp_path_factory.mktemp("pipelines"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(api, "SERVICE", service)
        yield platform
        service.close()


@pytest.fixture(scope="module")
def session(cloud, platform):
    return pipeline_session(cloud, BUCKET)


@pytest.fixture(scope="module")
def sm(cloud):
    return cloud.client("sagemaker")


@pytest.fixture(scope="module")
def code(tmp_path_factory):
    path = tmp_path_factory.mktemp("code") / "job.py"
    path.write_text(SCRIPT)
    return str(path)


def processing_step(session, code, name, **step_options):
    from sagemaker.processing import ProcessingOutput, ScriptProcessor
    from sagemaker.workflow.steps import ProcessingStep

    processor = ScriptProcessor(image_uri="683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:"
                                          "1.2-1-cpu-py3", command=["python3"], role=ROLE,
                                instance_type="ml.m5.large", instance_count=1, sagemaker_session=session)
    return ProcessingStep(name=name, step_args=processor.run(
        code=code, outputs=[ProcessingOutput(output_name="out", source="/opt/ml/processing/out")]), **step_options)


def start(pipeline, sm, **parameters):
    pipeline.upsert(role_arn=ROLE)
    execution = pipeline.start(parameters=parameters or None)
    return execution.arn, wait_for(sm, execution.arn, timeout=30), steps_by_name(sm, execution.arn)


def test_callback_step_waits_for_send_pipeline_execution_step_success(cloud, session, sm):
    from sagemaker.workflow.callback_step import CallbackOutput, CallbackOutputTypeEnum, CallbackStep
    from sagemaker.workflow.condition_step import ConditionStep
    from sagemaker.workflow.conditions import ConditionEquals
    from sagemaker.workflow.fail_step import FailStep
    from sagemaker.workflow.parameters import ParameterString
    from sagemaker.workflow.pipeline import Pipeline

    sqs = cloud.client("sqs")
    queue = sqs.create_queue(QueueName="approvals")["QueueUrl"]
    model = ParameterString(name="ModelName", default_value="churn-v1")
    approval = CallbackStep(name="Approve", sqs_queue_url=queue, inputs={"model": model},
                            outputs=[CallbackOutput(output_name="approved", output_type=CallbackOutputTypeEnum.Boolean),
                                     CallbackOutput(output_name="reviewer")])
    check = ConditionStep(name="Approved", conditions=[ConditionEquals(
        left=approval.properties.Outputs["approved"], right=True)], if_steps=[],
        else_steps=[FailStep(name="Rejected", error_message="not approved")])
    pipeline = Pipeline(name="callback-pipeline", parameters=[model], steps=[approval, check],
                        sagemaker_session=session)
    pipeline.upsert(role_arn=ROLE)
    execution = pipeline.start()

    message = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=5)["Messages"][0]
    body = json.loads(message["Body"])
    assert body["pipelineExecutionArn"] == execution.arn
    assert body["arguments"] == {"model": "churn-v1"}
    assert body["status"] == "Executing"
    waiting = steps_by_name(sm, execution.arn)["Approve"]
    assert waiting["StepStatus"] == "Executing"
    assert waiting["Metadata"]["Callback"] == {"CallbackToken": body["token"], "SqsQueueUrl": queue}
    assert sm.describe_pipeline_execution(PipelineExecutionArn=execution.arn)["PipelineExecutionStatus"] == "Executing"

    answer = sm.send_pipeline_execution_step_success(
        CallbackToken=body["token"], OutputParameters=[{"Name": "approved", "Value": "true"},
                                                       {"Name": "reviewer", "Value": "ana"}])
    assert answer["PipelineExecutionArn"] == execution.arn
    assert wait_for(sm, execution.arn)["PipelineExecutionStatus"] == "Succeeded"
    steps = steps_by_name(sm, execution.arn)
    assert steps["Approve"]["Metadata"]["Callback"]["OutputParameters"] == [
        {"Name": "approved", "Value": "true"}, {"Name": "reviewer", "Value": "ana"}]
    assert steps["Approved"]["Metadata"] == {"Condition": {"Outcome": "True"}}
    with pytest.raises(ClientError) as err:  # a token is answered once
        sm.send_pipeline_execution_step_success(CallbackToken=body["token"])
    assert err.value.response["Error"]["Code"] == "ResourceNotFound"

    failing = pipeline.start()
    token = json.loads(sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=5)["Messages"][0]["Body"])["token"]
    sm.send_pipeline_execution_step_failure(CallbackToken=token, FailureReason="reviewer said no")
    assert wait_for(sm, failing.arn)["PipelineExecutionStatus"] == "Failed"
    assert steps_by_name(sm, failing.arn)["Approve"]["FailureReason"] == "reviewer said no"


def test_stop_pipeline_execution_stops_a_waiting_step(cloud, session, sm):
    from sagemaker.workflow.callback_step import CallbackOutput, CallbackStep
    from sagemaker.workflow.pipeline import Pipeline

    queue = cloud.client("sqs").create_queue(QueueName="stops")["QueueUrl"]
    pipeline = Pipeline(name="stop-pipeline", steps=[CallbackStep(
        name="Wait", sqs_queue_url=queue, inputs={}, outputs=[CallbackOutput(output_name="x")])],
        sagemaker_session=session)
    pipeline.upsert(role_arn=ROLE)
    execution = pipeline.start()
    cloud.client("sqs").receive_message(QueueUrl=queue, WaitTimeSeconds=5)
    sm.stop_pipeline_execution(PipelineExecutionArn=execution.arn)
    assert wait_for(sm, execution.arn)["PipelineExecutionStatus"] == "Stopped"
    assert steps_by_name(sm, execution.arn)["Wait"]["StepStatus"] == "Stopped"
    with pytest.raises(ClientError) as err:
        sm.stop_pipeline_execution(PipelineExecutionArn=execution.arn)
    assert err.value.response["Error"]["Code"] == "ValidationException"


def test_lambda_step_invokes_the_function_and_publishes_its_outputs(cloud, session, sm):
    pytest.importorskip("harness.integrations.lambda_")
    from sagemaker.lambda_helper import Lambda
    from sagemaker.workflow.fail_step import FailStep
    from sagemaker.workflow.functions import Join
    from sagemaker.workflow.lambda_step import LambdaOutput, LambdaOutputTypeEnum, LambdaStep
    from sagemaker.workflow.parameters import ParameterInteger
    from sagemaker.workflow.pipeline import Pipeline

    cloud.client("iam").create_role(RoleName="lambda-role", AssumeRolePolicyDocument="{}")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("handler.py", "def handler(event, context):\n"
                                      "    return {'doubled': event['n'] * 2, 'note': 'n=' + str(event['n'])}\n")
    arn = cloud.client("lambda").create_function(
        FunctionName="double", Runtime="python3.12", Role="arn:aws:iam::123456789012:role/lambda-role",
        Handler="handler.handler", Code={"ZipFile": archive.getvalue()})["FunctionArn"]
    n = ParameterInteger(name="N", default_value=4)
    double = LambdaStep(name="Double", lambda_func=Lambda(function_arn=arn, session=session), inputs={"n": n},
                        outputs=[LambdaOutput(output_name="doubled", output_type=LambdaOutputTypeEnum.Integer),
                                 LambdaOutput(output_name="note")])
    report = FailStep(name="Report", error_message=Join(on=" ", values=[double.properties.Outputs["note"], "->",
                                                                        double.properties.Outputs["doubled"]]))
    pipeline = Pipeline(name="lambda-pipeline", parameters=[n], steps=[double, report], sagemaker_session=session)

    arn_run, described, steps = start(pipeline, sm, N=21)
    assert steps["Double"]["StepStatus"] == "Succeeded"
    assert steps["Double"]["Metadata"]["Lambda"] == {
        "Arn": arn, "OutputParameters": [{"Name": "doubled", "Value": "42"}, {"Name": "note", "Value": "n=21"}]}
    assert described["FailureReason"] == "n=21 -> 42"  # the outputs, typed, feed later steps


def test_retry_policies_retry_throttling_and_internal_errors(session, sm, code, platform):
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.retry import (SageMakerJobExceptionTypeEnum, SageMakerJobStepRetryPolicy,
                                          StepExceptionTypeEnum, StepRetryPolicy)

    step = processing_step(session, code, "Flaky", retry_policies=[
        StepRetryPolicy(exception_types=[StepExceptionTypeEnum.THROTTLING], interval_seconds=1, backoff_rate=1.0,
                        max_attempts=3),
        SageMakerJobStepRetryPolicy(failure_reason_types=[SageMakerJobExceptionTypeEnum.INTERNAL_ERROR],
                                    interval_seconds=0, max_attempts=1)])
    pipeline = Pipeline(name="retry-pipeline", steps=[step], sagemaker_session=session)
    platform.script["Flaky"] = ["throttle", "internal", "ok"]
    started = time.monotonic()
    _, described, steps = start(pipeline, sm)
    assert described["PipelineExecutionStatus"] == "Succeeded"
    assert steps["Flaky"]["AttemptCount"] == 3
    assert time.monotonic() - started >= 1.0  # IntervalSeconds before the throttled retry

    platform.script["Flaky"] = ["internal", "internal"]  # the internal-error policy allows one retry only
    _, described, steps = start(pipeline, sm)
    assert described["PipelineExecutionStatus"] == "Failed"
    assert steps["Flaky"]["AttemptCount"] == 2
    assert steps["Flaky"]["FailureReason"].startswith("InternalServerError")

    platform.script["Flaky"] = ["fail"]  # an AlgorithmError matches no policy
    _, described, steps = start(pipeline, sm)
    assert steps["Flaky"]["AttemptCount"] == 1
    assert described["FailureReason"] == "Step failure: One or multiple steps failed."


def test_independent_steps_run_in_parallel_and_depends_on_orders(session, sm, code, platform):
    from sagemaker.workflow.pipeline import Pipeline

    left = processing_step(session, code, "Left")
    right = processing_step(session, code, "Right")
    after = processing_step(session, code, "After", depends_on=[left, right])
    pipeline = Pipeline(name="parallel-pipeline", steps=[left, right, after], sagemaker_session=session)
    platform.script.update({"Left": [0.5], "Right": [0.5]})
    platform.calls.clear()
    _, described, _ = start(pipeline, sm)
    assert described["PipelineExecutionStatus"] == "Succeeded"
    assert (described["LastModifiedTime"] - described["CreationTime"]).total_seconds() < 0.95
    times = {step: (begin, end) for step, begin, end in platform.calls}
    assert times["Left"][0] < times["Right"][1] and times["Right"][0] < times["Left"][1]  # they overlapped
    assert times["After"][0] >= max(times["Left"][1], times["Right"][1])


def test_a_failed_step_fails_the_execution_and_nothing_downstream_runs(session, sm, code, platform):
    from sagemaker.workflow.pipeline import Pipeline

    first = processing_step(session, code, "First")
    second = processing_step(session, code, "Second", depends_on=[first])
    pipeline = Pipeline(name="failing-pipeline", steps=[first, second], sagemaker_session=session)
    platform.script["First"] = ["fail"]
    _, described, steps = start(pipeline, sm)
    assert described["PipelineExecutionStatus"] == "Failed"
    assert described["FailureReason"] == "Step failure: One or multiple steps failed."
    assert steps["First"]["StepStatus"] == "Failed"
    assert steps["First"]["FailureReason"] == "AlgorithmError: ValueError: bad input"
    assert ":processing-job/pipelines-" in steps["First"]["Metadata"]["ProcessingJob"]["Arn"]
    assert "Second" not in steps


@pytest.mark.parametrize("through_api", [False, True], ids=["runtime", "transform-job-api"])
def test_model_and_transform_steps_score_a_batch(cloud, session, sm, platform, tmp_path, monkeypatch, through_api):
    import numpy as np
    import xgboost as xgb
    from sagemaker.model import Model
    from sagemaker.transformer import Transformer
    from sagemaker.workflow.model_step import ModelStep
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.steps import TransformStep

    monkeypatch.setattr(platform, "transforms_through_api", through_api)
    prefix = f"transform-{'api' if through_api else 'runtime'}"
    rows = np.random.default_rng(3).normal(size=(40, 3)).round(3)
    booster = xgb.train({"objective": "binary:logistic"}, xgb.DMatrix(rows, label=rows[:, 0] > 0), 5)
    booster.save_model(str(tmp_path / "xgboost-model"))
    with tarfile.open(tmp_path / "model.tar.gz", "w:gz") as tar:
        tar.add(tmp_path / "xgboost-model", arcname="xgboost-model")
    s3 = cloud.client("s3")
    s3.upload_file(str(tmp_path / "model.tar.gz"), BUCKET, f"{prefix}/model.tar.gz")
    s3.put_object(Bucket=BUCKET, Key=f"{prefix}/in/batch.csv",
                  Body="\n".join(",".join(map(str, row)) for row in rows).encode())

    image = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
    model = Model(image_uri=image, model_data=f"s3://{BUCKET}/{prefix}/model.tar.gz", role=ROLE,
                  sagemaker_session=session)
    make_model = ModelStep(name="MakeModel", step_args=model.create(instance_type="ml.m5.large"))
    transformer = Transformer(model_name=make_model.properties.ModelName, instance_type="ml.m5.large",
                              instance_count=1, accept="text/csv", assemble_with="Line",
                              output_path=f"s3://{BUCKET}/{prefix}/out", sagemaker_session=session)
    score = TransformStep(name="Score", step_args=transformer.transform(
        data=f"s3://{BUCKET}/{prefix}/in", content_type="text/csv", split_type="Line"))
    pipeline = Pipeline(name=f"{prefix}-pipeline", steps=[make_model, score], sagemaker_session=session)
    _, described, steps = start(pipeline, sm)
    assert described["PipelineExecutionStatus"] == "Succeeded", steps
    assert ":model/pipelines-" in steps["MakeModel-CreateModel"]["Metadata"]["Model"]["Arn"]
    assert ":transform-job/pipelines-" in steps["Score"]["Metadata"]["TransformJob"]["Arn"]
    scores = s3.get_object(Bucket=BUCKET, Key=f"{prefix}/out/batch.csv.out")["Body"].read().decode().split()
    expected = booster.predict(xgb.DMatrix(rows))
    assert np.allclose([float(value) for value in scores], expected, atol=1e-5)
