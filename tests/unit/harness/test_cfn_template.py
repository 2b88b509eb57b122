"""CloudFormation templates: short-form tags, definition extraction, substitutions and template lines."""
import json
from pathlib import Path

import pytest

from asl.errors import INVALID_JSON_DESCRIPTION, LoadError
from asl.validate import validate
from harness.cfn import is_template, load_template, state_machines

SEED = Path(__file__).resolve().parents[3] / "fixtures" / "seed" / "state_machine.yaml"


@pytest.mark.parametrize("text, expected", [
    ("!Ref Bucket", {"Ref": "Bucket"}),
    ("!Condition IsProd", {"Condition": "IsProd"}),
    ("!GetAtt Role.Arn", {"Fn::GetAtt": ["Role", "Arn"]}),
    ("!GetAtt Stack.Outputs.Name", {"Fn::GetAtt": ["Stack", "Outputs.Name"]}),
    ("!GetAtt [Role, Arn]", {"Fn::GetAtt": ["Role", "Arn"]}),
    ("!Sub 'arn:${AWS::Partition}:s3:::${Bucket}'", {"Fn::Sub": "arn:${AWS::Partition}:s3:::${Bucket}"}),
    ("!Sub ['${A}-x', {A: !Ref B}]", {"Fn::Sub": ["${A}-x", {"A": {"Ref": "B"}}]}),
    ("!Join ['', [a, !Ref B]]", {"Fn::Join": ["", ["a", {"Ref": "B"}]]}),
    ("!If [IsProd, a, b]", {"Fn::If": ["IsProd", "a", "b"]}),
    ("!Equals [!Ref Env, prod]", {"Fn::Equals": [{"Ref": "Env"}, "prod"]}),
    ("!FindInMap [Map, !Ref AWS::Region, Key]", {"Fn::FindInMap": ["Map", {"Ref": "AWS::Region"}, "Key"]}),
    ("!Select [0, !GetAZs '']", {"Fn::Select": [0, {"Fn::GetAZs": ""}]}),
    ("!Split [',', 'a,b']", {"Fn::Split": [",", "a,b"]}),
    ("!ImportValue SharedTopic", {"Fn::ImportValue": "SharedTopic"}),
    ("!Base64 text", {"Fn::Base64": "text"}),
    ("!Not [!Condition A]", {"Fn::Not": [{"Condition": "A"}]}),
    ("!And [!Condition A, !Condition B]", {"Fn::And": [{"Condition": "A"}, {"Condition": "B"}]}),
    ("!Or [!Condition A, !Condition B]", {"Fn::Or": [{"Condition": "A"}, {"Condition": "B"}]}),
])
def test_short_form_tags_become_long_forms(text, expected):
    template = load_template(f"Resources:\n  X:\n    Value: {text}\n")
    assert template.body["Resources"]["X"]["Value"] == expected


def test_unknown_tag_is_a_load_error_with_its_place():
    with pytest.raises(LoadError, match="unknown CloudFormation tag !Bogus") as caught:
        load_template("Resources:\n  X:\n    Value: !Bogus x\n", "t.yaml")
    assert (caught.value.line, caught.value.column) == (3, 12)


def test_template_detection():
    assert is_template({"AWSTemplateFormatVersion": "2010-09-09"})
    assert is_template({"Resources": {}})
    assert not is_template({"StartAt": "A", "States": {}})


BLOCK = """\
AWSTemplateFormatVersion: '2010-09-09'
Resources:
  Machine:
    Type: AWS::StepFunctions::StateMachine
    Properties:
      DefinitionString: |
        {
          "StartAt": "A",
          "States": {
            "A": {"Type": "Pass", "Next": "Nowhere"}
          }
        }
"""


def test_literal_block_definition_maps_to_template_lines():
    (machine,) = state_machines(load_template(BLOCK))
    assert machine.logical_id == "Machine"
    assert (machine.line, machine.column) == (6, 7)
    assert (machine.line_offset, machine.column_offset) == (6, 8)
    diagnostic = validate(machine.definition)[0]  # then MISSING_END_STATE
    assert diagnostic.location == "/States/A/Next"
    assert machine.position(diagnostic.location) == (10, 35)
    assert BLOCK.splitlines()[9][34:].startswith('"Next"')


SUB = """\
Parameters:
  Env:
    Type: String
    Default: prod
Resources:
  Fn:
    Type: AWS::Lambda::Function
  Topic:
    Type: AWS::SNS::Topic
  Machine:
    Type: AWS::StepFunctions::StateMachine
    Properties:
      DefinitionString: !Sub |
        {
          "Comment": "${Env} in ${AWS::Region}, literally ${!Env}",
          "StartAt": "Call",
          "States": {
            "Call": {"Type": "Task", "Resource": "${Fn.Arn}", "Next": "Tell"},
            "Tell": {"Type": "Task", "Resource": "arn:aws:states:::sns:publish",
                     "Parameters": {"TopicArn": "${TopicArn}"}, "End": true}
          }
        }
      DefinitionSubstitutions:
        TopicArn: !Ref Topic
"""


def test_sub_definition_string_resolves_references_to_valid_arns():
    (machine,) = state_machines(load_template(SUB))
    states = machine.definition["States"]
    assert machine.definition["Comment"] == "prod in us-east-1, literally ${Env}"
    assert states["Call"]["Resource"] == "arn:aws:lambda:us-east-1:123456789012:function:Fn"
    assert states["Tell"]["Parameters"]["TopicArn"] == "arn:aws:sns:us-east-1:123456789012:topic:Topic"
    assert validate(machine.definition) == []
    assert machine.line_offset == 13 and machine.position("/States/Tell") == (19, 13)


def test_join_definition_string():
    template = {"Resources": {"M": {"Type": "AWS::StepFunctions::StateMachine", "Properties": {
        "DefinitionString": {"Fn::Join": ["", ['{"StartAt": "A", "States": {"A": {',
                                                 '"Type": "Task", "Resource": "', {"Fn::GetAtt": ["Fn", "Arn"]},
                                                 '", "End": true}}}']]}}}}}
    (machine,) = state_machines(load_template(json.dumps(template, indent=2)))
    assert machine.definition["States"]["A"]["Resource"].endswith(":resource:Fn")
    assert validate(machine.definition) == []
    assert machine.line_offset is None
    assert machine.position("/States/A") == (machine.line, machine.column)


def test_definition_object_with_substitutions_keeps_template_places():
    text = """\
Resources:
  Machine:
    Type: AWS::StepFunctions::StateMachine
    Properties:
      DefinitionSubstitutions:
        Queue: !GetAtt Jobs.Arn
      Definition:
        StartAt: Send
        States:
          Send:
            Type: Task
            Resource: arn:aws:states:::sqs:sendMessage
            Parameters:
              QueueUrl: ${Queue}
            Next: Missing
  Jobs:
    Type: AWS::SQS::Queue
"""
    (machine,) = state_machines(load_template(text))
    assert machine.definition["States"]["Send"]["Parameters"]["QueueUrl"] == \
        "arn:aws:sqs:us-east-1:123456789012:queue:Jobs"
    assert json.loads(machine.text) == machine.definition
    diagnostic = validate(machine.definition)[0]  # then MISSING_END_STATE
    assert machine.position(diagnostic.location) == (15, 13)


def test_json_template_with_a_definition_string():
    definition = {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}
    text = json.dumps({"AWSTemplateFormatVersion": "2010-09-09", "Resources": {
        "M": {"Type": "AWS::StepFunctions::StateMachine", "Properties": {"DefinitionString": json.dumps(definition)}},
        "Other": {"Type": "AWS::S3::Bucket"}}}, indent=2)
    (machine,) = state_machines(load_template(text))
    assert machine.definition == definition and machine.problems == ()


def test_machines_without_an_inline_definition_are_skipped():
    text = "Resources:\n  M:\n    Type: AWS::StepFunctions::StateMachine\n    Properties:\n" \
           "      DefinitionS3Location: {Bucket: b, Key: k}\n"
    assert state_machines(load_template(text)) == []


def test_definition_string_that_is_not_an_object():
    text = "Resources:\n  M:\n    Type: AWS::StepFunctions::StateMachine\n    Properties:\n" \
           "      DefinitionString: '[1, 2]'\n"
    (machine,) = state_machines(load_template(text))
    (diagnostic, place), = machine.problems
    assert diagnostic.code == INVALID_JSON_DESCRIPTION and place == (5, 7)
    assert machine.definition is None


def test_seed_template_reports_the_json_comment_at_its_template_line():
    text = SEED.read_text()
    (machine,) = state_machines(load_template(text, str(SEED)))
    assert machine.logical_id == "MLWorkflowStateMachine"
    (diagnostic, (line, column)), = machine.problems
    assert diagnostic.code == INVALID_JSON_DESCRIPTION
    assert (line, column) == (19, 57)
    assert text.splitlines()[line - 1][column - 1:].startswith("# Must match SageMaker Pipeline name")


def test_seed_template_definition_is_still_checked_past_the_comments():
    (machine,) = state_machines(load_template(SEED.read_text()))
    findings = {(d.location, machine.position(d.location)) for d in validate(machine.definition)}
    assert findings == {
        ("/States/WaitForApproval", (71, 13)),  # "End": false and no Next
        ("/States/ModelDeployment", (93, 13)),  # nothing leads to it...
        ("/States/CreateEndpoint", (109, 13)),  # ...nor to what follows it
        ("/States/PipelineSuccess", (118, 13)),
    }
