"""The static IAM check and `drydock iam-check`: the seed and a training template pass, a removed permission is named."""
import json
from pathlib import Path

import pytest

from harness.cfn import load_template, state_machines
from harness.cli import main
from harness.iam.actions import UNKNOWN, Partial, required, static_parameters
from harness.iam.check import check
from harness.iam.policy import TemplateRoles

ROOT = Path(__file__).resolve().parents[3]
SEED = ROOT / "fixtures" / "seed" / "state_machine.yaml"
TRAINING = ROOT / "tests" / "fixtures" / "iam" / "training.yaml"
CHURN = ROOT / "pipeline" / "state_machine.yaml"  # the churn workflow as a team writes it for AWS
REGION, ACCOUNT = "us-east-1", "123456789012"


def actions(resource, parameters):
    return [(p.action, p.resource, p.phase) for p in required(resource, parameters, region=REGION, account=ACCOUNT)]


# --------------------------------------------------------------------------- the table
def test_sagemaker_training_sync_needs_the_job_the_role_and_the_managed_rule():
    rule = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/StepFunctionsGetEventsForSageMakerTrainingJobsRule"
    job = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:training-job/churn-1"  # SageMaker ARNs carry lower-case names
    assert actions("arn:aws:states:::sagemaker:createTrainingJob.sync",
                   {"TrainingJobName": "Churn-1", "RoleArn": "arn:aws:iam::123456789012:role/SM",
                    "Tags": [{"Key": "team", "Value": "ml"}]}) == [
        ("sagemaker:CreateTrainingJob", job, "call"), ("sagemaker:AddTags", job, "call"),
        ("iam:PassRole", "arn:aws:iam::123456789012:role/SM", "call"),
        ("sagemaker:DescribeTrainingJob", job, "sync"), ("sagemaker:StopTrainingJob", job, "stop"),
        ("events:PutTargets", rule, "sync"), ("events:PutRule", rule, "sync"), ("events:DescribeRule", rule, "sync")]
    assert actions("arn:aws:states:::sagemaker:createTrainingJob", {"TrainingJobName": "j", "RoleArn": "r"}) == [
        ("sagemaker:CreateTrainingJob", f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:training-job/j", "call"),
        ("iam:PassRole", "r", "call")]


@pytest.mark.parametrize("resource, parameters, expected", [
    ("arn:aws:states:::lambda:invoke", {"FunctionName": "score"},
     [("lambda:InvokeFunction", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:score", "call")]),
    ("arn:aws:states:::lambda:invoke.waitForTaskToken", {"FunctionName": "arn:aws:lambda:eu-west-1:1:function:f:live"},
     [("lambda:InvokeFunction", "arn:aws:lambda:eu-west-1:1:function:f:live", "call")]),
    (f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:score", {},
     [("lambda:InvokeFunction", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:score", "call")]),
    ("arn:aws:states:::sns:publish", {"TopicArn": "arn:aws:sns:us-east-1:1:t"}, [("sns:Publish", "arn:aws:sns:us-east-1:1:t", "call")]),
    ("arn:aws:states:::sqs:sendMessage", {"QueueUrl": "https://sqs.eu-west-1.amazonaws.com/123456789012/q"},
     [("sqs:SendMessage", "arn:aws:sqs:eu-west-1:123456789012:q", "call")]),
    ("arn:aws:states:::dynamodb:putItem", {"TableName": "t"},
     [("dynamodb:PutItem", f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/t", "call")]),
    ("arn:aws:states:::states:startExecution.sync:2", {"StateMachineArn": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:child"},
     [("states:StartExecution", f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:child", "call"),
      ("states:DescribeExecution", f"arn:aws:states:{REGION}:{ACCOUNT}:execution:child:*", "sync"),
      ("states:StopExecution", f"arn:aws:states:{REGION}:{ACCOUNT}:execution:child:*", "stop"),
      *[(f"events:{v}", f"arn:aws:events:{REGION}:{ACCOUNT}:rule/StepFunctionsGetEventsForStepFunctionsExecutionRule",
         "sync") for v in ("PutTargets", "PutRule", "DescribeRule")]]),
    ("arn:aws:states:::aws-sdk:sagemaker:listModelPackages", {}, [("sagemaker:ListModelPackages", "*", "call")]),
    ("arn:aws:states:::aws-sdk:sfn:sendTaskSuccess", {}, [("states:SendTaskSuccess", "*", "call")]),
    ("arn:aws:states:::aws-sdk:s3:getObject", {"Bucket": "b", "Key": "k"}, [("s3:GetObject", "arn:aws:s3:::b/k", "call")]),
    ("arn:aws:states:::aws-sdk:s3:listObjectsV2", {"Bucket": "b"}, [("s3:ListBucket", "arn:aws:s3:::b", "call")]),
    ("arn:aws:states:::glue:startJobRun", {"JobName": "etl"}, [("glue:StartJobRun", f"arn:aws:glue:{REGION}:{ACCOUNT}:job/etl", "call")]),
    ("arn:aws:states:::events:putEvents", {"Entries": [{"Detail": {}}]},
     [("events:PutEvents", f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default", "call")]),
    (f"arn:aws:states:{REGION}:{ACCOUNT}:activity:approve", {}, []),
])
def test_integration_table(resource, parameters, expected):
    assert actions(resource, parameters) == expected


def test_values_known_only_at_run_time_leave_a_wildcard():
    params = static_parameters({"FunctionName.$": "$.fn", "Payload": {"x.$": "$.x"}})
    assert params == {"FunctionName": UNKNOWN, "Payload": {"x": UNKNOWN}}
    formatted = static_parameters({"TrainingJobName.$": "States.Format('Churn-{}-v1', $$.Execution.Name)"})
    assert formatted == {"TrainingJobName": Partial("Churn-*-v1")}
    permission = required("arn:aws:states:::sagemaker:createTrainingJob", formatted, region=REGION, account=ACCOUNT)[0]
    assert (permission.resource, permission.exact) == (
        f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:training-job/churn-*-v1", False)
    [permission] = required("arn:aws:states:::lambda:invoke", params, region=REGION, account=ACCOUNT)
    assert (permission.resource, permission.exact) == (f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:*", False)
    assert static_parameters("{% $states.input %}") is UNKNOWN


def test_an_integration_missing_from_the_table_gets_a_guess_with_a_note():
    [permission] = required("arn:aws:states:::mediaconvert:createJob", {}, region=REGION, account=ACCOUNT)
    assert (permission.action, permission.resource) == ("mediaconvert:CreateJob", "*")
    assert "guess" in permission.note


# --------------------------------------------------------------------------- templates
def machine_and_role(text: str):
    template = load_template(text)
    [machine] = state_machines(template)
    roles = TemplateRoles(template)
    properties = template.body["Resources"][machine.logical_id]["Properties"]
    return machine, roles.for_state_machine(machine.logical_id, properties), roles


def findings(text: str):
    machine, role, roles = machine_and_role(text)
    return [(f.location, f.action, f.resource, f.reason)
            for f in check(machine.definition, role, region=REGION, account=ACCOUNT, roles=roles.lookup)]


def test_seed_and_training_templates_pass():
    assert findings(SEED.read_text()) == []
    assert findings(TRAINING.read_text()) == []


def test_churn_template_passes_and_a_removed_permission_is_named():
    text = CHURN.read_text()
    assert findings(text) == []
    granted = "              - Sid: PrepareApprovalRequest\n                Effect: Allow\n                Action: lambda:InvokeFunction"
    assert granted in text
    found = findings(text.replace(granted, granted.replace("lambda:InvokeFunction", "lambda:GetFunction")))
    assert [(f[0], f[1]) for f in found] == [("/States/PrepareApprovalRequest", "lambda:InvokeFunction")]
    assert found[0][2].endswith(":function:PrepareApprovalRequestFunction")


def test_seed_with_one_permission_removed_names_exactly_it():
    text = SEED.read_text().replace("                  - sagemaker:CreateEndpoint\n", "")
    assert findings(text) == [("/States/CreateEndpoint", "sagemaker:CreateEndpoint",  # States.Format's literal part
                               f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/production-endpoint-*", "implicit-deny")]
    text = SEED.read_text().replace("- sns:Publish", "- sns:Subscribe")
    assert findings(text) == [("/States/WaitForApproval", "sns:Publish",
                               "arn:aws:sns:REGION:ACCOUNT_ID:MLPipelineApprovalTopic", "implicit-deny")]


@pytest.mark.parametrize("edit, expected", [
    (("Action: iam:PassRole", "Action: iam:GetRole"),
     ("/States/Train", "iam:PassRole", "arn:aws:iam:us-east-1:123456789012:role:SageMakerRole")),
    (("iam:PassedToService: sagemaker.amazonaws.com", "iam:PassedToService: glue.amazonaws.com"),
     ("/States/Train", "iam:PassRole", "arn:aws:iam:us-east-1:123456789012:role:SageMakerRole")),
    (("events:PutTargets, events:PutRule", "events:PutTargets"),
     ("/States/Train", "events:PutRule",
      "arn:aws:events:us-east-1:123456789012:rule/StepFunctionsGetEventsForSageMakerTrainingJobsRule")),
    (("sagemaker:CreateTrainingJob, sagemaker:DescribeTrainingJob", "sagemaker:CreateTrainingJob"),
     ("/States/Train", "sagemaker:DescribeTrainingJob", "arn:aws:sagemaker:us-east-1:123456789012:training-job/churn-*")),
    (("Resource: !Ref Topic", "Resource: !Sub '${Topic}-other'"),
     ("/States/Notify", "sns:Publish", "arn:aws:sns:us-east-1:123456789012:topic:Topic")),
])
def test_training_template_with_one_permission_removed_names_exactly_it(edit, expected):
    text = TRAINING.read_text()
    assert edit[0] in text
    found = findings(text.replace(edit[0], edit[1], 1))
    assert [f[:3] for f in found] == [expected]


def test_a_job_name_outside_the_granted_prefix_is_found():
    text = TRAINING.read_text().replace("training-job/churn-*", "training-job/fraud-*")
    assert {f[1] for f in findings(text)} == {"sagemaker:CreateTrainingJob", "sagemaker:DescribeTrainingJob",
                                              "sagemaker:StopTrainingJob"}


def test_an_explicit_deny_is_reported_as_such():
    text = TRAINING.read_text().replace("        - PolicyName: ScoreAndNotify", """\
        - PolicyName: NoLambda
          PolicyDocument:
            Statement:
              - {Effect: Deny, Action: 'lambda:*', Resource: '*'}
        - PolicyName: ScoreAndNotify""")
    assert findings(text) == [("/States/Score", "lambda:InvokeFunction",
                               f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:churn-score", "explicit-deny")]


NESTED = """\
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      ManagedPolicyArns: [arn:aws:iam::aws:policy/AmazonSNSFullAccess, !Ref Reading]
  Reading:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument:
        Statement: [{Effect: Allow, Action: 's3:GetObject', Resource: 'arn:aws:s3:::items/*'}]
  Extra:
    Type: AWS::IAM::Policy
    Properties:
      PolicyName: extra
      Roles: [!Ref Role]
      PolicyDocument:
        Statement: [{Effect: Allow, Action: 'dynamodb:PutItem', Resource: '*'}]
  Machine:
    Type: AWS::StepFunctions::StateMachine
    Properties:
      RoleArn: !GetAtt Role.Arn
      Definition:
        StartAt: Fan
        States:
          Fan:
            Type: Parallel
            End: true
            Branches:
              - StartAt: Each
                States:
                  Each:
                    Type: Map
                    End: true
                    ItemReader:
                      Resource: arn:aws:states:::s3:getObject
                      ReaderConfig: {InputType: JSON}
                      Parameters: {Bucket: items, Key: list.json}
                    ItemProcessor:
                      ProcessorConfig: {Mode: DISTRIBUTED, ExecutionType: STANDARD}
                      StartAt: Put
                      States:
                        Put:
                          Type: Task
                          Resource: arn:aws:states:::dynamodb:putItem
                          Parameters: {TableName: t, Item: {}}
                          Next: Tell
                        Tell:
                          Type: Task
                          Resource: arn:aws:states:::sns:publish
                          Parameters: {TopicArn: arn:aws:sns:us-east-1:123456789012:t, Message: hi}
                          Next: Invoke
                        Invoke:
                          Type: Task
                          Resource: arn:aws:states:::lambda:invoke
                          Parameters: {FunctionName: f}
                          End: true
"""


def test_nested_states_managed_and_standalone_policies():
    """AWS managed policies come from moto's copy; a template's ManagedPolicy and AWS::IAM::Policy attach too."""
    each = "/States/Fan/Branches/0/States/Each"
    assert findings(NESTED) == [
        (each, "states:StartExecution", f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:*", "implicit-deny"),
        (each, "states:DescribeExecution", f"arn:aws:states:{REGION}:{ACCOUNT}:execution:*/*", "implicit-deny"),
        (each, "states:StopExecution", f"arn:aws:states:{REGION}:{ACCOUNT}:execution:*/*", "implicit-deny"),
        (f"{each}/ItemProcessor/States/Invoke", "lambda:InvokeFunction",
         f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:f", "implicit-deny"),
    ]


# --------------------------------------------------------------------------- the command
def test_iam_check_command(tmp_path, capsys):
    assert main(["iam-check", str(SEED)]) == 0
    assert capsys.readouterr().out.strip().endswith("OK (6 permission(s) checked in 1 state machine)")

    removed = tmp_path / "removed.yaml"
    removed.write_text(SEED.read_text().replace("- sns:Publish", "- sns:Subscribe"))
    assert main(["iam-check", str(removed)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out == [f"{removed}:71:13: MLWorkflowStateMachine /States/WaitForApproval: sns:Publish on "
                   f"arn:aws:sns:REGION:ACCOUNT_ID:MLPipelineApprovalTopic is not allowed for role "
                   f"MLWorkflowStateMachineRole",
                   f"{removed}: 1 missing permission(s) in 1 state machine"]
    assert main(["iam-check", "--json", str(removed)]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["result"] == "FAIL"
    assert [(f["location"], f["action"], f["line"]) for f in report["findings"]] == [
        ("/States/WaitForApproval", "sns:Publish", 71)]


def test_iam_check_unusable_input(tmp_path, capsys):
    assert main(["iam-check", str(tmp_path / "missing.yaml")]) == 2
    elsewhere = tmp_path / "elsewhere.yaml"
    elsewhere.write_text("Resources:\n  M:\n    Type: AWS::StepFunctions::StateMachine\n    Properties:\n"
                         "      RoleArn: arn:aws:iam::123456789012:role/made-elsewhere\n"
                         "      Definition: {StartAt: P, States: {P: {Type: Pass, End: true}}}\n")
    assert main(["iam-check", str(elsewhere)]) == 2
    assert "is not declared in this template" in capsys.readouterr().err
    no_machine = tmp_path / "none.yaml"
    no_machine.write_text("Resources: {}\n")
    assert main(["iam-check", str(no_machine)]) == 2
