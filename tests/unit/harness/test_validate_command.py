"""`drydock validate FILE`: findings with file:line:col, the API's --json shape, and exit codes 0/1/2."""
import json
from pathlib import Path

import pytest

from harness.cli import main

SEED = Path(__file__).resolve().parents[3] / "fixtures" / "seed" / "state_machine.yaml"

GOOD = {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}
BAD_YAML = """\
StartAt: Train
States:
  Train:
    Type: Task
    Resource: arn:aws:states:::sagemaker:createTrainingJob.sync
    Next: Evaluate
  Report:
    Type: Succeed
"""


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_clean_definition_exits_0(tmp_path, capsys):
    path = write(tmp_path, "ok.json", json.dumps(GOOD))
    assert main(["validate", path]) == 0
    assert capsys.readouterr().out.strip() == f"{path}: OK (1 state machine)"


def test_findings_print_file_line_col_code_and_pointer(tmp_path, capsys):
    path = write(tmp_path, "bad.yaml", BAD_YAML)
    assert main(["validate", path]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        f"{path}:6:5: MISSING_TRANSITION_TARGET: Missing 'Next' target: Evaluate (at /States/Train/Next)",
        "    suggestion: add a state named \"Evaluate\" or point the transition at an existing state",
        f"{path}:7:3: SCHEMA_VALIDATION_FAILED: State \"Report\" is not reachable. (at /States/Report)",
        "    suggestion: nothing transitions to 'Report': point a Next, Default, Choice or Catch at it, or delete it",
        f"{path}: 2 error(s), 0 warning(s) in 1 state machine",
    ]


def test_json_output_has_the_api_shape(tmp_path, capsys):
    path = write(tmp_path, "bad.yaml", BAD_YAML)
    assert main(["validate", "--json", path]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["result"] == "FAIL" and report["truncated"] is False
    first = report["diagnostics"][0]
    assert first == {"severity": "ERROR", "code": "MISSING_TRANSITION_TARGET",
                     "message": "Missing 'Next' target: Evaluate", "location": "/States/Train/Next",
                     "line": 6, "column": 5,
                     "suggestion": "add a state named \"Evaluate\" or point the transition at an existing state"}


def test_json_output_when_clean(tmp_path, capsys):
    path = write(tmp_path, "ok.yaml", "StartAt: A\nStates:\n  A: {Type: Succeed}\n")
    assert main(["validate", "--json", path]) == 0
    assert json.loads(capsys.readouterr().out) == {"result": "OK", "diagnostics": [], "truncated": False}


def test_seed_template_reports_the_comment_with_its_template_line(capsys):
    assert main(["validate", str(SEED)]) == 1
    lines = capsys.readouterr().out.splitlines()
    findings = [line for line in lines if not line.startswith("    suggestion: ")]
    # findings come in template order; every one is followed by its suggestion (tests/unit/harness/test_lint.py)
    assert [line.split(": ", 1)[0] for line in findings[:-1]] == [
        f"{SEED}:{place}" for place in ("17:15", "19:57", "35:15", "51:19", "71:13", "75:17", "78:19", "93:13",
                                        "109:13", "118:13")]
    assert findings[1].startswith(f"{SEED}:19:57: INVALID_JSON_DESCRIPTION: DefinitionString is not valid JSON")
    assert findings[1].endswith("(at / in MLWorkflowStateMachine)")
    assert f"{SEED}:71:13: SCHEMA_VALIDATION_FAILED" in findings[4]
    assert "arn:aws:states:::aws-sdk:sagemaker:startPipelineExecution" in lines[lines.index(findings[0]) + 1]
    assert len(lines) == 2 * len(findings) - 1
    assert findings[-1] == f"{SEED}: 8 error(s), 2 warning(s) in 1 state machine"


def test_seed_template_json_names_the_state_machine(capsys):
    assert main(["validate", "--json", str(SEED)]) == 1
    report = json.loads(capsys.readouterr().out)
    codes = [(d["code"], d["line"], d["stateMachine"]) for d in report["diagnostics"]]
    assert codes[1] == ("INVALID_JSON_DESCRIPTION", 19, "MLWorkflowStateMachine")
    assert len(codes) == 10
    assert all(d["suggestion"] for d in report["diagnostics"])


def test_template_without_state_machines_exits_2(tmp_path, capsys):
    path = write(tmp_path, "t.yaml", "Resources:\n  B:\n    Type: AWS::S3::Bucket\n")
    assert main(["validate", path]) == 2
    assert "no state machine" in capsys.readouterr().err


def test_missing_file_exits_2(tmp_path, capsys):
    path = str(tmp_path / "absent.json")
    assert main(["validate", path]) == 2
    assert capsys.readouterr().err.startswith(f"{path}: cannot read")


@pytest.mark.parametrize("name, text, place", [
    ("broken.json", '{"StartAt": "A",\n "States": {"A": {"Type": "Pass",, "End": true}}}', ":2:34: invalid JSON"),
    ("broken.yaml", "StartAt: A\nStates:\n  A:\n    Type: Pass\n   End: true\n", ":5:4: invalid YAML"),
])
def test_unparsable_text_exits_2_with_line_and_column(tmp_path, capsys, name, text, place):
    path = write(tmp_path, name, text)
    assert main(["validate", path]) == 2
    assert capsys.readouterr().err.startswith(path + place)


def test_definition_that_is_not_an_object_exits_2(tmp_path, capsys):
    path = write(tmp_path, "list.json", "[1, 2]")
    assert main(["validate", path]) == 2
    assert "must be a JSON object" in capsys.readouterr().err
