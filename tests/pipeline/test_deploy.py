"""harness.cfn.deploy: a template's resources made in the local cloud, and the templates it refuses.

The churn template (pipeline/state_machine.yaml) deploys with every reference resolved to what was made; small
templates check the S3-upload rule's delivery (InputTransformer) to a state machine, inline Lambda code, and each
malformed template's error, which names the resource and what is wrong before anything is made.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from harness.approvals import Inbox
from harness.cfn.deploy import DeployError, deploy
from harness.local_run import run_locally

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "pipeline" / "state_machine.yaml"
SEED_TEMPLATE = ROOT / "fixtures" / "seed" / "state_machine.yaml"

PASS_MACHINE = """
AWSTemplateFormatVersion: '2010-09-09'
Resources:
  Bucket:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: uploads
      NotificationConfiguration:
        EventBridgeConfiguration:
          EventBridgeEnabled: true
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument: {Version: '2012-10-17', Statement: []}
  Echo:
    Type: AWS::StepFunctions::StateMachine
    Properties:
      RoleArn: !GetAtt Role.Arn
      DefinitionString: !Sub '{"StartAt": "Echo", "States": {"Echo": {"Type": "Pass", "Parameters": {"bucket": "${!Where}", "input.$": "$"}, "End": true}}}'
      DefinitionSubstitutions:
        Where: !Ref Bucket
  OnUpload:
    Type: AWS::Events::Rule
    Properties:
      EventPattern:
        source: [aws.s3]
        detail-type: [Object Created]
        detail:
          bucket: {name: [!Ref Bucket]}
          object: {key: [{prefix: in/}]}
      Targets:
        - Id: Echo
          Arn: !Ref Echo
          RoleArn: !GetAtt Role.Arn
          InputTransformer:
            InputPathsMap: {key: $.detail.object.key, size: $.detail.object.size}
            InputTemplate: '{"key": <key>, "size": <size>, "note": "uploaded <key>"}'
"""


@pytest.fixture
def cloud(local_cloud):
    return local_cloud


def test_the_churn_template_deploys_with_every_reference_resolved(cloud):
    inbox = Inbox(cloud)
    stack = deploy(cloud, TEMPLATE, stack_name="churn-mlops", inbox=inbox)
    assert sorted(r.type for r in stack.resources.values()) == sorted(
        ["AWS::S3::Bucket", "AWS::SNS::Topic", "AWS::SNS::Topic", "AWS::Lambda::Function"] + ["AWS::IAM::Role"] * 4
        + ["AWS::StepFunctions::StateMachine"] + ["AWS::Events::Rule"] * 3)  # the two email subscriptions: no address
    bucket = stack.outputs["DataBucketName"]
    assert bucket == "churn-mlops-123456789012-us-east-1"
    s3 = cloud.client("s3")
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"

    definition = json.loads(cloud.client("stepfunctions").describe_state_machine(
        stateMachineArn=stack.outputs["StateMachineArn"])["definition"])
    states = definition["States"]
    assert states["RequestApproval"]["Parameters"]["TopicArn"] == stack.outputs["ApprovalTopicArn"]
    assert states["PrepareApprovalRequest"]["Parameters"]["FunctionName"] == stack.arn("PrepareApprovalRequestFunction")
    assert states["CreateModel"]["Parameters"]["ExecutionRoleArn"] == stack.outputs["SageMakerExecutionRoleArn"]
    assert states["CheckInputData"]["Resource"] == "arn:aws:states:::aws-sdk:s3:headObject"  # Fn::Sub's partition
    assert "${" not in json.dumps(definition)

    # the approvals inbox listens on the topic the state machine asks on
    assert stack.approval_topics == [stack.outputs["ApprovalTopicArn"]]
    assert inbox.topics() == [stack.outputs["ApprovalTopicArn"]]
    code = cloud.client("lambda").get_function(FunctionName="churn-prepare-approval-request")
    assert code["Configuration"]["Handler"] == "approval_request.handler"

    events = cloud.client("events")
    rules = {r["Name"].split("-")[-2]: r for r in events.list_rules()["Rules"]}
    assert rules["NightlyRetraining"]["ScheduleExpression"] == "cron(0 2 * * ? *)"
    (target,) = events.list_targets_by_rule(Rule=rules["DriftDetected"]["Name"])["Targets"]
    assert target["Arn"] == stack.outputs["StateMachineArn"]
    assert json.loads(target["Input"]) == {"DataBucket": bucket, "DataKey": "data/churn.csv", "Trigger": "drift"}
    role = cloud.client("iam").get_role_policy(RoleName=stack.ref("StateMachineRole"), PolicyName="ChurnWorkflow")
    assert role["PolicyDocument"]["Statement"][0]["Resource"] == f"arn:aws:s3:::{bucket}/*"


def test_an_upload_reaches_the_state_machine_through_the_rule_and_its_input_transformer(cloud):
    stack = deploy(cloud, PASS_MACHINE)
    sfn = cloud.client("stepfunctions")
    machine = stack.ref("Echo")
    cloud.client("s3").put_object(Bucket="uploads", Key="elsewhere/a.csv", Body=b"x")  # the pattern's prefix: no
    cloud.client("s3").put_object(Bucket="uploads", Key="in/a.csv", Body=b"1,2\n")
    deadline = time.monotonic() + 10
    while not (executions := sfn.list_executions(stateMachineArn=machine)["executions"]) \
            or executions[0]["status"] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    (execution,) = executions
    output = json.loads(sfn.describe_execution(executionArn=execution["executionArn"])["output"])
    assert output == {"bucket": "uploads", "input": {"key": "in/a.csv", "size": 4, "note": "uploaded in/a.csv"}}


def test_inline_lambda_code_and_parameters(cloud):
    template = """
Parameters:
  Greeting: {Type: String, Default: hello, AllowedValues: [hello, hi]}
Conditions:
  IsHi: !Equals [!Ref Greeting, hi]
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument: {Version: '2012-10-17', Statement: []}
  Greeter:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      Role: !GetAtt Role.Arn
      Environment:
        Variables:
          GREETING: !If [IsHi, !Sub '${Greeting}!', !Ref Greeting]
      Code:
        ZipFile: |
          import os
          def handler(event, context):
              return {"said": os.environ["GREETING"] + " " + event["name"]}
Outputs:
  Function: {Value: !GetAtt Greeter.Arn}
"""
    stack = deploy(cloud, template, parameters={"Greeting": "hi"}, stack_name="greet")
    invoke = {"StartAt": "Greet", "States": {"Greet": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "OutputPath": "$.Payload", "End": True,
        "Parameters": {"FunctionName": stack.outputs["Function"], "Payload": {"name": "ana"}}}}}
    execution = run_locally(invoke)  # drydock's Lambda runtime runs the inline code CloudFormation zipped
    assert (execution.status, execution.output) == ("SUCCEEDED", {"said": "hi! ana"})
    with pytest.raises(DeployError, match=r"parameter Greeting='hey' is not one of its AllowedValues"):
        deploy(cloud, template, parameters={"Greeting": "hey"})


@pytest.mark.parametrize("body, message", [
    ("Resources:\n  Queue:\n    Type: AWS::SQS::Queue\n  Net:\n    Type: AWS::EC2::VPC\n    Properties: {}\n",
     r"cannot deploy resource Net \(AWS::EC2::VPC\)"),
    ("Resources:\n  Topic:\n    Type: AWS::SNS::Topic\n    Properties:\n      DisplayName: !Ref Nowhere\n",
     r"Ref Nowhere names no parameter, pseudo parameter or resource"),
    ("Resources:\n  Topic:\n    Type: AWS::SNS::Topic\n    Properties: {DisplayName: !GetAtt Ghost.Arn}\n",
     r"resource Topic refers to Ghost, which the template does not declare"),
    ("Resources:\n  A:\n    Type: AWS::SNS::Topic\n    Properties: {DisplayName: !GetAtt B.TopicName}\n"
     "  B:\n    Type: AWS::SNS::Topic\n    Properties: {DisplayName: !GetAtt A.TopicName}\n",
     r"circular dependency between resources: A -> B -> A"),
    ("Resources:\n  Topic: {Type: AWS::SNS::Topic\n", r"not valid JSON or YAML"),
    ("Parameters:\n  P: {Type: String}\nResources:\n  T: {Type: AWS::SNS::Topic}\n", r"parameter P has no Default"),
    ("Description: nothing\n", r"needs a Resources section"),
    ("Resources:\n  Thing:\n    Properties: {}\n", r"resource Thing has no Type"),
])
def test_a_malformed_template_is_refused_naming_what_is_wrong(cloud, body, message):
    with pytest.raises(DeployError, match=message):
        deploy(cloud, body)
    assert cloud.client("sqs").list_queues().get("QueueUrls", []) == []  # checked before anything is made


def test_the_seeds_template_is_refused_by_create_state_machine(cloud):
    with pytest.raises(DeployError) as refused:
        deploy(cloud, SEED_TEMPLATE)
    text = str(refused.value)
    assert "MLWorkflowStateMachine (AWS::StepFunctions::StateMachine): CreateStateMachine refused the definition" in text
    assert "InvalidDefinition" in text  # the JSON comments: drydock validate explains each of its defects


def test_drydock_deploy_creates_the_stack_in_a_served_cloud(local_cloud, tmp_path, capsys):
    from harness import cli
    from harness.commands.demo import Sandbox

    with Sandbox(tmp_path) as sandbox:  # serves the in-process cloud on a loopback port, as drydock serve does
        code = cli.main(["deploy", str(TEMPLATE), "--stack-name", "churn-mlops", "--subscribe-approvals",
                         "--endpoint-url", sandbox.endpoint_url])
        out = capsys.readouterr().out
        assert code == 0, out
        assert "ChurnWorkflow" in out and "output EndpointName = churn-endpoint" in out
        assert "approval requests: arn:aws:sns:us-east-1:123456789012:churn-model-approval (inbox subscribed)" in out
        machines = sandbox.client("stepfunctions").list_state_machines()["stateMachines"]
        assert [m["name"] for m in machines] == ["churn-mlops-workflow"]
        assert cli.main(["deploy", str(SEED_TEMPLATE), "--endpoint-url", sandbox.endpoint_url]) == 1
        assert "CreateStateMachine refused the definition" in capsys.readouterr().err
