"""harness.lint: drydock's own findings (DRYDOCK_*) and the suggestion `drydock validate` prints for every finding.

The seed's template (fixtures/seed/state_machine.yaml, a faithful copy of ../shared/seed/) is the case that
matters: each of its defects is reported at its JSON pointer and template line, with a fix.
"""
import json
import sys
from pathlib import Path

import pytest

from asl.errors import Diagnostic
from harness.cli import main
from harness.lint import (IMPOSSIBLE_CHOICE, PLACEHOLDER_ARN, TOKEN_NOT_AWAITED, TOKEN_NOT_SENT, UNCHECKED_CHOICE,
                          UNSUPPORTED_INTEGRATION, lint, suggest)

ROOT = Path(__file__).resolve().parents[3]
SEED = ROOT / "fixtures" / "seed" / "state_machine.yaml"
SHARED_SEED = ROOT.parent / "shared" / "seed" / "state_machine.yaml"
FLAGSHIP = ROOT / "pipeline" / "state_machine.yaml"


def seed_findings(capsys) -> dict[str, dict]:
    assert main(["validate", "--json", str(SEED)]) == 1
    return {d["location"]: d for d in json.loads(capsys.readouterr().out)["diagnostics"]}


def codes(definition) -> list[tuple[str, str]]:
    return [(a.diagnostic.code, a.diagnostic.location) for a in lint(definition)]


# --------------------------------------------------------------------------- the seed, defect by defect
@pytest.mark.skipif(not SHARED_SEED.exists(), reason="../shared/seed is not next to this checkout")
def test_the_fixture_is_a_faithful_copy_of_the_seed():
    assert SEED.read_bytes() == SHARED_SEED.read_bytes()


def test_seed_json_comments(capsys):
    found = seed_findings(capsys)[""]
    assert (found["code"], found["line"], found["column"]) == ("INVALID_JSON_DESCRIPTION", 19, 57)
    # every `#` comment of the block, on the template lines the user edits
    assert "delete the 9 comment(s) on template line(s) 19, 21, 22, 37, 62, 75, 90, 91, 100" in found["suggestion"]


def test_seed_end_false_without_next(capsys):
    found = seed_findings(capsys)["/States/WaitForApproval"]
    assert (found["code"], found["line"]) == ("SCHEMA_VALIDATION_FAILED", 71)
    assert found["message"] == "One of 'Next' or '\"End\": true' is required"
    # the state written after it, which nothing reaches, is the Next that got lost
    assert "replace it with \"Next\": \"ModelDeployment\"" in found["suggestion"]
    assert ".waitForTaskToken" in found["suggestion"]


def test_seed_unreachable_states_point_at_the_missing_next(capsys):
    found = seed_findings(capsys)
    for state, line in (("ModelDeployment", 93), ("CreateEndpoint", 109), ("PipelineSuccess", 118)):
        finding = found[f"/States/{state}"]
        assert (finding["line"], finding["message"]) == (line, f'State "{state}" is not reachable.')
        assert "once 'WaitForApproval' gets its missing \"Next\": \"ModelDeployment\"" in finding["suggestion"]


def test_seed_create_pipeline_execution_is_not_an_integration(capsys):
    found = seed_findings(capsys)["/States/TriggerSageMakerPipeline/Resource"]
    # AWS's code when harness.integrations.catalog is there, drydock's own otherwise
    assert found["code"] in ("SCHEMA_VALIDATION_FAILED", UNSUPPORTED_INTEGRATION) and found["severity"] == "ERROR"
    assert (found["line"], found["column"]) == (17, 15)
    assert found["suggestion"].startswith('"Resource": "arn:aws:states:::aws-sdk:sagemaker:startPipelineExecution"')
    assert "PipelineExecutionArn" in found["suggestion"]


def test_seed_describe_pipeline_execution_sync_becomes_a_polling_loop(capsys):
    found = seed_findings(capsys)["/States/WaitForPipelineCompletion/Resource"]
    assert found["code"] in ("SCHEMA_VALIDATION_FAILED", UNSUPPORTED_INTEGRATION)
    assert (found["line"], found["column"]) == (35, 15)
    fix = found["suggestion"]
    assert "a Wait" in fix and '"Resource": "arn:aws:states:::aws-sdk:sagemaker:describePipelineExecution"' in fix
    assert "a Choice on \"$.Described.PipelineExecutionStatus\"" in fix  # the status field, from the service model


def test_seed_task_token_sent_without_wait_for_task_token(capsys):
    found = seed_findings(capsys)["/States/WaitForApproval/Parameters/Message/TaskToken.$"]
    assert (found["code"], found["severity"], found["line"], found["column"]) == (TOKEN_NOT_AWAITED, "ERROR", 78, 19)
    assert found["suggestion"].startswith('"Resource": "arn:aws:states:::sns:publish.waitForTaskToken"')


def test_seed_choice_on_a_field_of_unknown_origin(capsys):
    found = seed_findings(capsys)["/States/CheckPipelineOutput/Choices/0/Variable"]
    assert (found["code"], found["severity"], found["line"]) == (UNCHECKED_CHOICE, "WARNING", 51)
    # its input is the result of a resource AWS does not offer: no shape to prove the field exists or not
    assert "'WaitForPipelineCompletion'" in found["message"] and "PipelineExecutionStatus" in found["message"]
    assert found["suggestion"].startswith("fix the resource of 'WaitForPipelineCompletion' first")


def test_seed_placeholder_topic_arn(capsys):
    found = seed_findings(capsys)["/States/WaitForApproval/Parameters/TopicArn"]
    assert (found["code"], found["severity"], found["line"]) == (PLACEHOLDER_ARN, "WARNING", 75)
    assert "region 'REGION' and account 'ACCOUNT_ID'" in found["message"]
    assert "DefinitionSubstitutions" in found["suggestion"]


def test_seed_report_is_complete(capsys):
    assert len(seed_findings(capsys)) == 10


def test_without_the_catalog_the_table_reports_the_unoffered_resources(monkeypatch):
    monkeypatch.setitem(sys.modules, "harness.integrations.catalog", None)  # import fails
    definition = {"StartAt": "Run", "States": {
        "Run": {"Type": "Task", "Resource": "arn:aws:states:::sagemaker:createPipelineExecution", "End": True}}}
    (advice,) = lint(definition)
    assert (advice.diagnostic.code, advice.diagnostic.location) == (UNSUPPORTED_INTEGRATION, "/States/Run/Resource")
    assert "aws-sdk:sagemaker:startPipelineExecution" in advice.suggestion


def test_the_flagship_template_is_clean(capsys):
    assert main(["validate", str(FLAGSHIP)]) == 0
    assert capsys.readouterr().out.strip() == f"{FLAGSHIP}: OK (1 state machine)"


# --------------------------------------------------------------------------- task tokens
def task(resource, parameters, **extra):
    return {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": resource, "Parameters": parameters,
                                             "End": True, **extra}}}


def test_token_inside_an_intrinsic_without_wait_is_reported():
    definition = task("arn:aws:states:::sqs:sendMessage",
                      {"QueueUrl": "q", "MessageBody": {"Text.$": "States.Format('token {}', $$.Task.Token)"}})
    (advice,) = lint(definition)
    assert advice.diagnostic.code == TOKEN_NOT_AWAITED
    assert advice.diagnostic.location == "/States/T/Parameters/MessageBody/Text.$"
    assert "sqs:sendMessage.waitForTaskToken" in advice.suggestion and "TimeoutSeconds" in advice.suggestion


def test_token_with_an_action_that_cannot_wait_suggests_one_that_can():
    definition = task("arn:aws:states:::dynamodb:putItem", {"TableName": "t", "Item": {"t": {"S.$": "$$.Task.Token"}}})
    (advice,) = lint(definition)
    assert advice.diagnostic.code == TOKEN_NOT_AWAITED
    assert "sns:publish.waitForTaskToken" in advice.suggestion


def test_awaited_token_is_fine_and_a_wait_without_token_is_not():
    assert lint(task("arn:aws:states:::lambda:invoke.waitForTaskToken",
                     {"FunctionName": "f", "Payload": {"token.$": "$$.Task.Token"}})) == []
    (advice,) = lint(task("arn:aws:states:::sns:publish.waitForTaskToken", {"TopicArn": "t", "Message": "hi"}))
    assert (advice.diagnostic.code, advice.diagnostic.location) == (TOKEN_NOT_SENT, "/States/T/Resource")
    assert '"Message": {"TaskToken.$": "$$.Task.Token"' in advice.suggestion


def test_jsonata_token_counts_as_sent():
    definition = {"QueryLanguage": "JSONata", "StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken", "End": True,
        "Arguments": {"QueueUrl": "q", "MessageBody": "{% $states.context.Task.Token %}"}}}}
    assert lint(definition) == []


# --------------------------------------------------------------------------- choices on impossible fields
def choice_after(state, variable, **rule):
    return {"StartAt": "S", "States": {
        "S": {**state, "Next": "C"},
        "C": {"Type": "Choice", "Choices": [{"Variable": variable, **(rule or {"StringEquals": "x"}), "Next": "End"}],
              "Default": "End"},
        "End": {"Type": "Succeed"}}}


def test_choice_on_a_field_the_result_selector_dropped():
    definition = choice_after({"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:sagemaker:describePipelineExecution",
                               "Parameters": {"PipelineExecutionArn.$": "$.arn"},
                               "ResultSelector": {"Status.$": "$.PipelineExecutionStatus"}},
                              "$.PipelineExecutionStatus")
    (advice,) = lint(definition)
    assert (advice.diagnostic.code, advice.diagnostic.severity) == (IMPOSSIBLE_CHOICE, "ERROR")
    assert advice.diagnostic.location == "/States/C/Choices/0/Variable"
    assert "it can only have Status (from the ResultSelector of 'S')" in advice.diagnostic.message
    assert advice.suggestion.startswith('did you mean "$.Status"?')


def test_choice_on_a_misspelt_field_of_a_modeled_aws_sdk_result():
    definition = choice_after({"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:sagemaker:describePipelineExecution",
                               "Parameters": {"PipelineExecutionArn.$": "$.arn"}, "ResultPath": "$.Execution"},
                              "$.Execution.Status")
    (advice,) = lint(definition)
    assert advice.diagnostic.code == IMPOSSIBLE_CHOICE
    assert "$.Execution in its input never has a field 'Status'" in advice.diagnostic.message
    assert advice.suggestion.startswith('did you mean "$.Execution.PipelineExecutionStatus"?')
    # the same path, spelt right, is fine
    fixed = json.loads(json.dumps(definition).replace("$.Execution.Status", "$.Execution.PipelineExecutionStatus"))
    assert lint(fixed) == []


@pytest.mark.parametrize("state, variable, have", [
    ({"Type": "Pass", "Result": {"auc": 0.9}}, "$.accuracy", "auc"),
    ({"Type": "Pass", "Parameters": {"a.$": "$.x", "b": 1}}, "$.c", "a, b"),
    ({"Type": "Pass", "InputPath": None}, "$.x", "no fields at all"),
    ({"Type": "Parallel", "Branches": [{"StartAt": "B", "States": {"B": {"Type": "Succeed"}}}]}, "$.status",
     "no fields at all"),
    ({"Type": "Task", "Resource": "arn:aws:states:::sns:publish", "Parameters": {"TopicArn": "t", "Message": "m"}},
     "$.Status", "MessageId, SdkHttpMetadata"),
])
def test_closed_inputs(state, variable, have):
    (advice,) = lint(choice_after(state, variable))
    assert advice.diagnostic.code == IMPOSSIBLE_CHOICE
    assert f"it can only have {have}" in advice.diagnostic.message


@pytest.mark.parametrize("state", [
    {"Type": "Pass"},  # the execution input: whatever the caller sends
    {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": "f"},
     "OutputPath": "$.Payload"},  # a Lambda payload
    {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f"},
    {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
     "Parameters": {"QueueUrl": "q", "MessageBody": {"t.$": "$$.Task.Token"}}},  # the callback's answer
    {"Type": "Pass", "Result": {"x": 1}, "ResultPath": "$.y"},  # input fields are kept, y added
])
def test_open_inputs_are_not_reported(state):
    assert lint(choice_after(state, "$.x")) == []


def test_is_present_asks_about_absent_fields_on_purpose():
    assert lint(choice_after({"Type": "Pass", "Result": {}}, "$.x", IsPresent=False)) == []


def test_caught_errors_and_path_operands():
    definition = {"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": "f"},
              "ResultSelector": {"Ok.$": "$.StatusCode"}, "Next": "C",
              "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "C"}]},
        "C": {"Type": "Choice", "Default": "E", "Choices": [
            {"And": [{"Variable": "$.Error", "IsPresent": True},
                     {"Variable": "$.Cause", "StringEqualsPath": "$.Reason"}], "Next": "E"}]},
        "E": {"Type": "Succeed"}}}
    # two predecessors: {Ok} from Next, {Error, Cause} from Catch; Cause may exist, Reason never does
    (advice,) = lint(definition)
    assert advice.diagnostic.location == "/States/C/Choices/0/And/1/StringEqualsPath"
    assert "it can only have Cause, Error, Ok" in advice.diagnostic.message


def test_choices_inside_branches_have_their_pointer():
    inner = choice_after({"Type": "Pass", "Result": {"a": 1}}, "$.b")
    definition = {"StartAt": "P", "States": {"P": {"Type": "Parallel", "Branches": [inner], "End": True}}}
    (advice,) = lint(definition)
    assert advice.diagnostic.location == "/States/P/Branches/0/States/C/Choices/0/Variable"


def test_jsonata_states_are_not_judged():
    definition = choice_after({"Type": "Pass", "Result": {"a": 1}}, "$.b")
    definition["States"]["S"]["QueryLanguage"] = "JSONata"
    definition["States"]["S"]["Output"] = definition["States"]["S"].pop("Result")
    assert lint(definition) == []


def test_a_loop_converges():
    definition = {"StartAt": "Wrap", "States": {
        "Wrap": {"Type": "Pass", "ResultPath": "$.inner", "Next": "Again"},
        "Again": {"Type": "Choice", "Choices": [{"Variable": "$.inner.inner.inner.inner.inner.x", "StringEquals": "y",
                                                  "Next": "Done"}], "Default": "Wrap"},
        "Done": {"Type": "Succeed"}}}
    assert lint(definition) == []


# --------------------------------------------------------------------------- suggestions for AWS's findings
def test_missing_target_suggests_the_closest_state():
    definition = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Trian"}, "Train": {"Type": "Succeed"}}}
    finding = Diagnostic("ERROR", "MISSING_TRANSITION_TARGET", "Missing 'Next' target: Trian", "/States/A/Next")
    assert suggest(finding, definition).startswith('did you mean "Train"?')


def test_text_output_prints_a_suggestion_under_each_finding(tmp_path, capsys):
    path = tmp_path / "token.json"
    path.write_text(json.dumps(task("arn:aws:states:::sns:publish", {"TopicArn": "arn:aws:sns:us-east-1:123456789012:t",
                                                                     "Message": {"t.$": "$$.Task.Token"}}), indent=1))
    assert main(["validate", str(path)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"{path}:") and f": {TOKEN_NOT_AWAITED}: 'T' sends the task token" in lines[0]
    assert lines[0].endswith("(at /States/T/Parameters/Message/t.$)")
    assert lines[1].startswith('    suggestion: "Resource": "arn:aws:states:::sns:publish.waitForTaskToken"')
    assert lines[2] == f"{path}: 1 error(s), 0 warning(s) in 1 state machine"
