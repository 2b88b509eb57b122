"""The flagship state machine (pipeline/state_machine.yaml) run path by path, with the approval policy answering.

The definition is the template's own DefinitionString with its substitutions filled as CloudFormation would
fill them for the resources made here in the in-process cloud. S3 (headObject, getObject), the Lambda
function (pipeline/lambdas, zipped as `aws cloudformation package` zips it), SNS and the approvals inbox
are live; the SageMaker calls answer from a MockConfigFile test case per path (the SageMaker pipeline and
endpoints have their own tests), so each path is reached on purpose: first deployment, update in place,
an update that rolled back, a rejection, nobody answering, a failed pipeline, no new model, missing data.
"""
from __future__ import annotations

import hashlib
import io
import json
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from asl.engine import Engine
from harness.approvals import Approvals, ApprovalStore, EngineTokens, Inbox, attach_policy
from harness.cfn import TemplateLoader
from harness.cloud import LocalCloud
from harness.integrations import build_handlers
from harness.mock_config import MockConfig
from harness.pytest_plugin import count_execution, path_of, watch_engine
from asl.program import compile_program

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "pipeline" / "state_machine.yaml"
LAMBDAS = ROOT / "pipeline" / "lambdas"
ACCOUNT, REGION = "123456789012", "us-east-1"
MACHINE = "churn-mlops-workflow"
MACHINE_ARN = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{MACHINE}"
COVERAGE_NAME = "pipeline/state_machine.yaml#ChurnWorkflow"  # shared with test_churn_loop.py's real runs
BUCKET = "churn-mlops-data"
REPORT_KEY = "churn/evaluation/evaluation.json"
PACKAGE_ARN = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/churn-models/3"
PIPELINE_EXECUTION = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:pipeline/churn-pipeline/execution/abc123"
REPORT = {"binary_classification_metrics": {"auc": {"value": 0.912}, "f1": {"value": 0.71},
                                            "precision": {"value": 0.74}, "recall": {"value": 0.68}}}
HAPPY = ["ReadInput", "ApplyDefaults", "CheckInputData", "StartPipeline", "WaitForPipeline",
         "DescribePipelineExecution", "PipelineStatus", "WaitForPipeline", "DescribePipelineExecution",
         "PipelineStatus", "FindModelPackage", "ModelRegistered", "DescribeModelPackage", "PrepareApprovalRequest",
         "HasEvaluationReport", "GetEvaluationReport", "RequestApproval", "ApprovalDecision", "ApproveModelPackage",
         "NameDeployment", "CreateModel", "CreateEndpointConfig", "FindEndpoint"]


def definition_for(substitutions: dict[str, str]) -> dict[str, Any]:
    """The template's DefinitionString as Step Functions receives it: Fn::Sub, then DefinitionSubstitutions."""
    template = yaml.load(TEMPLATE.read_text(), Loader=TemplateLoader)
    text = template["Resources"]["ChurnWorkflow"]["Properties"]["DefinitionString"]["Fn::Sub"]
    text = text.replace("${AWS::Partition}", "aws")
    declared = template["Resources"]["ChurnWorkflow"]["Properties"]["DefinitionSubstitutions"]
    assert set(substitutions) == set(declared), "the test fills exactly what the template declares"
    for name, value in substitutions.items():
        text = text.replace("${!" + name + "}", value)
    assert "${" not in text
    return json.loads(text)


class Stack:
    """The template's resources, made by hand in the in-process cloud, and the engine that runs the workflow."""

    def __init__(self, coverage: Any = None) -> None:
        from moto.core.base_backend import BackendDict

        self.coverage, self.machine, self.started = coverage, None, []

        self.cloud = LocalCloud()
        BackendDict.reset()
        s3, sns, sqs = (self.cloud.client(s) for s in ("s3", "sns", "sqs"))
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key="data/churn.csv", Body=b"customer_id,churned\n1,0\n")
        s3.put_object(Bucket=BUCKET, Key=REPORT_KEY, Body=json.dumps(REPORT).encode())
        self.approval_topic = sns.create_topic(Name="churn-model-approval")["TopicArn"]
        notifications = sns.create_topic(Name="churn-mlops-notifications")["TopicArn"]
        self.notifications_queue = sqs.create_queue(QueueName="notifications")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=self.notifications_queue,
                                             AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=notifications, Protocol="sqs", Endpoint=queue_arn,
                      Attributes={"RawMessageDelivery": "true"})
        self.inbox = Inbox(self.cloud)
        self.inbox.subscribe(self.approval_topic)
        function_arn = self._function()
        self.definition = definition_for({
            "DataBucket": BUCKET, "DefaultDataKey": "data/churn.csv", "PipelineName": "churn-pipeline",
            "PipelineInputParameter": "InputData", "ModelPackageGroupName": "churn-models",
            "PrepareApprovalRequestFunctionArn": function_arn, "ApprovalTopicArn": self.approval_topic,
            "NotificationTopicArn": notifications, "SageMakerRoleArn": f"arn:aws:iam::{ACCOUNT}:role/churn-sagemaker",
            "ProjectName": "churn", "EndpointName": "churn-endpoint", "EndpointInstanceType": "ml.m5.large"})

    def _function(self) -> str:
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as z:
            for path in LAMBDAS.glob("*.py"):
                z.write(path, path.name)
        self.cloud.client("iam").create_role(RoleName="churn-lambda", AssumeRolePolicyDocument="{}")
        return self.cloud.client("lambda").create_function(
            FunctionName="churn-prepare-approval-request", Runtime="python3.12",
            Role=f"arn:aws:iam::{ACCOUNT}:role/churn-lambda", Handler="approval_request.handler",
            Code={"ZipFile": archive.getvalue()}, Timeout=10)["FunctionArn"]

    def engine(self, mocks: MockConfig) -> Engine:
        handlers = build_handlers(self.cloud, mocks=mocks)
        engine = Engine(handlers, account=ACCOUNT, region=REGION)
        handlers.bind(engine)
        return engine

    def start(self, case: str, policy: str, execution_input: Any = None, *, name: str = "run-1") -> tuple[Any, Any]:
        """Start an execution of test case `case` with `policy` answering approvals; returns (engine, execution)."""
        mocks = MockConfig(mock_config(name))
        engine = self.engine(mocks)
        approvals = Approvals(self.inbox, ApprovalStore(), EngineTokens(engine), clock=engine.scheduler.clock.now)
        self.policy = attach_policy(engine, approvals, policy)
        self.approvals = approvals
        program = compile_program(self.definition)
        if self.coverage is not None:
            self.machine = watch_engine(self.coverage, COVERAGE_NAME, self.definition, engine, program)
        ex = engine.start(program, json.dumps(execution_input or {}), name=name, state_machine_arn=MACHINE_ARN)
        self.started.append(ex)
        mocks.bind(ex.arn, MACHINE, case)
        return engine, ex

    def run(self, case: str, policy: str, execution_input: Any = None) -> Any:
        engine, ex = self.start(case, policy, execution_input)
        return engine.run_to_completion(ex)

    def notifications(self) -> list[dict[str, Any]]:
        sqs = self.cloud.client("sqs")
        found = sqs.receive_message(QueueUrl=self.notifications_queue, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(m["Body"]) for m in found]


def deployment_name(execution_name: str, version: int = 3) -> str:
    """NameDeployment: churn-v<version>-<MD5 of the execution ARN>."""
    arn = MACHINE_ARN.replace(":stateMachine:", ":execution:") + f":{execution_name}"
    return f"churn-v{version}-{hashlib.md5(arn.encode()).hexdigest()}"


def mock_config(execution_name: str) -> dict[str, Any]:
    """The SageMaker answers of every path, in Step Functions Local's MockConfigFile format."""
    name = deployment_name(execution_name)
    ret = lambda value: {"0": {"Return": value}}  # noqa: E731
    described = {"ModelPackageArn": PACKAGE_ARN, "ModelPackageGroupName": "churn-models", "ModelPackageVersion": 3,
                 "ModelApprovalStatus": "PendingManualApproval",
                 "InferenceSpecification": {"Containers": [{
                     "Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",
                     "ImageDigest": "sha256:0", "ModelDataUrl": f"s3://{BUCKET}/churn/models/model.tar.gz"}]},
                 "ModelMetrics": {"ModelQuality": {"Statistics": {"ContentType": "application/json",
                                                                  "S3Uri": f"s3://{BUCKET}/{REPORT_KEY}"}}}}
    def status(value: str, **more: Any) -> dict[str, Any]:
        return {"PipelineExecutionArn": PIPELINE_EXECUTION, "PipelineExecutionStatus": value, **more}

    def endpoint(value: str, config: str) -> dict[str, Any]:
        return {"EndpointName": "churn-endpoint", "EndpointStatus": value, "EndpointConfigName": config}
    responses = {
        "Started": ret({"PipelineExecutionArn": PIPELINE_EXECUTION}),
        "RunsThenSucceeds": {"0": {"Return": status("Executing")}, "1": {"Return": status("Succeeded")}},
        "RunsThenFails": {"0": {"Return": status("Executing")},
                          "1": {"Return": status("Failed", FailureReason="Step Train failed: exit code 1")}},
        "OnePackage": ret({"ModelPackageSummaryList": [{"ModelPackageArn": PACKAGE_ARN, "ModelPackageVersion": 3}]}),
        "NoPackage": ret({"ModelPackageSummaryList": []}),
        "Package": ret(described),
        "Updated": ret({"ModelPackageArn": PACKAGE_ARN}),
        "ModelMade": ret({"ModelArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model/{name}"}),
        "ConfigMade": ret({"EndpointConfigArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint-config/{name}"}),
        # DescribeEndpoint of an endpoint that does not exist, three times: the call and FindEndpoint's two retries
        "NoEndpoint": {"0-2": {"Throw": {"Error": "SageMaker.SageMakerException", "Cause":
                                       'Could not find endpoint "arn:aws:sagemaker:us-east-1:123456789012:endpoint/'
                                       'churn-endpoint". (Service: SageMaker, Status Code: 400, Request ID: 1)'}}},
        "EndpointThere": ret(endpoint("InService", "churn-v2-old")),
        "EndpointMade": ret({"EndpointArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/churn-endpoint"}),
        "Creating": {"0": {"Return": endpoint("Creating", name)}, "1": {"Return": endpoint("InService", name)}},
        "Updating": {"0": {"Return": endpoint("Updating", "churn-v2-old")}, "1": {"Return": endpoint("InService", name)}},
        "RolledBack": {"0": {"Return": endpoint("Updating", "churn-v2-old")},
                       "1": {"Return": endpoint("InService", "churn-v2-old")}},
    }
    pipeline = {"StartPipeline": "Started", "DescribePipelineExecution": "RunsThenSucceeds",
                "FindModelPackage": "OnePackage", "DescribeModelPackage": "Package"}
    deploy = {**pipeline, "ApproveModelPackage": "Updated", "CreateModel": "ModelMade",
              "CreateEndpointConfig": "ConfigMade"}
    cases = {
        "FirstDeployment": {**deploy, "FindEndpoint": "NoEndpoint", "CreateEndpoint": "EndpointMade",
                            "DescribeEndpoint": "Creating"},
        "UpdateInPlace": {**deploy, "FindEndpoint": "EndpointThere", "UpdateEndpoint": "EndpointMade",
                          "DescribeEndpoint": "Updating"},
        "RolledBack": {**deploy, "FindEndpoint": "EndpointThere", "UpdateEndpoint": "EndpointMade",
                       "DescribeEndpoint": "RolledBack"},
        "Decided": {**pipeline, "RejectModelPackage": "Updated"},
        "PipelineFails": {"StartPipeline": "Started", "DescribePipelineExecution": "RunsThenFails"},
        "NothingRegistered": {**pipeline, "FindModelPackage": "NoPackage"},
    }
    return {"StateMachines": {MACHINE: {"TestCases": cases}}, "MockedResponses": responses}


@pytest.fixture
def stack(drydock_coverage) -> Stack:
    stack = Stack(drydock_coverage)
    yield stack
    for ex in stack.started:  # the state machine coverage report counts the states each run entered
        if ex.done:
            count_execution(stack.machine, ex)


def test_first_deployment_creates_the_endpoint(stack):
    ex = stack.run("FirstDeployment", "approve when auc >= 0.8")
    assert ex.status == "SUCCEEDED", ex.cause
    assert path_of(ex) == [*HAPPY, "EndpointMissing", "CreateEndpoint", "WaitForEndpoint", "DescribeEndpoint",
                           "EndpointStatus", "WaitForEndpoint", "DescribeEndpoint", "EndpointStatus", "NotifyDeployed",
                           "Deployed"]
    output = json.loads(ex.output_text)
    # the Lambda's view of the package, the report from S3, the approver's answer, the name the endpoint got
    assert output["ApprovalRequest"]["Container"] == {
        "Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",
        "ModelDataUrl": f"s3://{BUCKET}/churn/models/model.tar.gz"}
    assert output["Evaluation"]["Metrics"] == REPORT
    assert output["Approval"]["Decision"] == "Approved"
    assert output["Approval"]["ApprovedBy"] == "drydock policy"
    assert output["Endpoint"]["EndpointConfigName"] == deployment_name("run-1")
    (deployed,) = stack.notifications()
    assert deployed["Event"] == "ModelDeployed" and deployed["ModelPackageArn"] == PACKAGE_ARN


def test_the_approval_request_carries_token_package_and_metrics(stack):
    stack.run("FirstDeployment", "approve when auc >= 0.8")
    (approval,) = stack.approvals.store.all()
    assert approval.model_package_arn == PACKAGE_ARN and approval.model_package_version == 3
    assert approval.scores == {"auc": 0.912, "f1": 0.71, "precision": 0.74, "recall": 0.68}
    assert approval.execution_arn.endswith(":execution:churn-mlops-workflow:run-1")
    assert approval.subject == "Approve churn model version 3?"
    assert approval.status == "APPROVED" and approval.answer == "policy 'approve when auc >= 0.8': auc = 0.912"


def test_a_retrain_updates_the_endpoint_in_place(stack):
    ex = stack.run("UpdateInPlace", "approve")
    assert ex.status == "SUCCEEDED", ex.cause
    assert path_of(ex)[len(HAPPY):] == ["UpdateEndpoint", "WaitForEndpoint", "DescribeEndpoint", "EndpointStatus",
                                        "WaitForEndpoint", "DescribeEndpoint", "EndpointStatus", "NotifyDeployed",
                                        "Deployed"]


def test_an_update_that_rolled_back_is_a_failed_deployment(stack):
    ex = stack.run("RolledBack", "approve")
    assert (ex.status, ex.error) == ("FAILED", "EndpointDeploymentFailed")
    assert path_of(ex)[-4:] == ["EndpointStatus", "DeploymentFailed", "NotifyFailure", "Failed"]
    (notice,) = stack.notifications()
    assert notice["Event"] == "WorkflowFailed" and notice["Error"] == "EndpointDeploymentFailed"


def test_a_rejected_model_is_marked_rejected_and_reported(stack):
    ex = stack.run("Decided", "approve when auc >= 0.95")
    assert (ex.status, ex.error) == ("FAILED", "ModelRejected")
    assert path_of(ex)[-5:] == ["RequestApproval", "RejectModelPackage", "ModelRejected", "NotifyFailure", "Failed"]
    assert "auc = 0.912 is not >= 0.95" in ex.cause
    reject = next(e for e in ex.history.events if e["type"] == "TaskScheduled"
                  and '"Rejected"' in e["taskScheduledEventDetails"]["parameters"])
    parameters = json.loads(reject["taskScheduledEventDetails"]["parameters"])
    assert parameters["ModelPackageArn"] == PACKAGE_ARN and "ModelRejected" in parameters["ApprovalDescription"]
    (notice,) = stack.notifications()
    assert notice["Error"] == "ModelRejected"


def test_nobody_answering_ends_in_the_timeout_branch_in_no_wall_time(stack):
    engine, ex = stack.start("Decided", "never answer")
    engine.run(until=lambda: any(e["type"] == "TaskSubmitted" and e["taskSubmittedEventDetails"]["resourceType"] == "sns"
                                 for e in ex.history.events))  # the request is out; the wait begins
    asked_at = engine.scheduler.clock.now()
    started = time.perf_counter()
    engine.run_to_completion(ex)
    assert time.perf_counter() - started < 1.0  # 24 simulated hours
    assert engine.scheduler.clock.now() - asked_at == 86400
    assert (ex.status, ex.error) == ("FAILED", "ApprovalTimedOut")
    assert path_of(ex)[-4:] == ["RequestApproval", "ApprovalTimedOut", "NotifyFailure", "Failed"]
    assert any(e["type"] == "TaskTimedOut" for e in ex.history.events)
    (approval,) = stack.approvals.store.all()
    assert approval.status == "PENDING"  # nobody answered; `drydock approvals` expires it once it looks


def test_a_failed_pipeline_goes_to_the_failure_branch_and_notifies(stack):
    ex = stack.run("PipelineFails", "approve")
    assert (ex.status, ex.error) == ("FAILED", "PipelineExecutionFailed")
    assert path_of(ex)[-4:] == ["PipelineStatus", "PipelineFailed", "NotifyFailure", "Failed"]
    assert "Step Train failed: exit code 1" in ex.cause
    (notice,) = stack.notifications()
    assert notice["Error"] == "PipelineExecutionFailed" and "exit code 1" in notice["Cause"]


def test_no_new_model_version_ends_quietly(stack):
    ex = stack.run("NothingRegistered", "approve")
    assert ex.status == "SUCCEEDED"
    assert path_of(ex)[-2:] == ["ModelRegistered", "NoModelRegistered"]


def test_missing_input_data_fails_naming_the_key(stack):
    ex = stack.run("FirstDeployment", "approve", {"DataKey": "data/2024-06-01.csv", "Trigger": "s3-upload"})
    assert (ex.status, ex.error) == ("FAILED", "InputDataMissing")
    assert path_of(ex) == ["ReadInput", "ApplyDefaults", "CheckInputData", "InputDataMissing", "NotifyFailure",
                           "Failed"]
    assert ex.cause.startswith(f"The input data s3://{BUCKET}/data/2024-06-01.csv does not exist or cannot be read")
    (notice,) = stack.notifications()
    assert "data/2024-06-01.csv" in notice["Cause"]
