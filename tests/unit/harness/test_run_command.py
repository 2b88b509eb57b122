"""`drydock run`: live progress and the summary table; --break's bad input; --json keeps its contract."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main

HELLO = Path(__file__).resolve().parents[3] / "examples" / "hello" / "definition.json"


def test_progress_shows_each_state_entered_and_exited_then_a_summary(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", str(HELLO), "--input", '{"name": "x", "items": [11, 3]}'])
    out = capsys.readouterr().out
    assert code == 0
    for line in ("→ Greet (Pass)", "← Greet virtual 0s · wall", "→ Nap (Wait)", "← Nap virtual 1.0h",
                 "  → Twice (Pass)", "  → Oops (Fail)", "✗ ParallelStateFailed", "← Both virtual 0s", "error caught"):
        assert line in out, line
    summary = out[out.index("States"):]
    assert "│ Twice  │ Pass     │       2 │" in summary
    assert "│ Oops   │ Fail     │       1 │" in summary and "failed" in summary
    assert "SUCCEEDED" in summary


def test_failed_execution_marks_the_failing_state(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    machine = tmp_path / "m.json"
    machine.write_text(json.dumps({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Fail", "Error": "Bad.Thing", "Cause": "because"}}}))
    assert main(["run", str(machine)]) == 1
    out = capsys.readouterr().out
    assert "│ B     │ Fail │       1 │" in out and "failed" in out
    assert "error: Bad.Thing" in out and "cause: because" in out


def test_break_on_a_missing_state_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(HELLO), "--break", "Nope", "--break", "Twice"]) == 2
    err = capsys.readouterr().err
    assert "--break Nope" in err and "has no state named 'Nope'" in err and "Twice" in err  # lists the states


def test_json_contract_is_unchanged_by_break(monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(HELLO), "--input", '{"name": "x", "items": [1]}', "--json"]) == 0
    plain = json.loads(capsys.readouterr().out)
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("c\n"))
    assert main(["run", str(HELLO), "--input", '{"name": "x", "items": [1]}', "--json", "--break", "Twice"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out) == plain
    assert set(plain) == {"status", "output", "error", "cause", "events"}
    assert "paused before Twice" in captured.err  # the pause talks on stderr, stdout stays JSON


SCORED = {"StartAt": "Score", "States": {"Score": {
    "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": "score"},
    "Retry": [{"ErrorEquals": ["Lambda.TooManyRequestsException"], "IntervalSeconds": 5}],
    "ResultSelector": {"score.$": "$.Payload"}, "End": True}}}
MOCKS = {"StateMachines": {"scored": {"TestCases": {"Throttled": {"Score": "ThrottleOnce"}}}},
         "MockedResponses": {"ThrottleOnce": {"0": {"Throttle": {}},
                                              "1": {"Return": {"StatusCode": 200, "Payload": 0.8}}}}}


def test_run_with_a_mock_config_test_case(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    machine, mocks = tmp_path / "m.json", tmp_path / "mocks.json"
    machine.write_text(json.dumps(SCORED))
    mocks.write_text(json.dumps(MOCKS))
    assert main(["run", str(machine), "--mock-config", str(mocks), "--test-case", "Throttled", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert json.loads(result["output"]) == {"score": 0.8}
    assert [e["type"] for e in result["events"]].count("TaskFailed") == 1  # the throttle, then the retry


@pytest.mark.parametrize("options, message", [
    (["--test-case", "Throttled"], "--test-case needs --mock-config FILE"),
    (["--mock-config", "MOCKS"], "--mock-config needs --test-case naming one of its test cases (scored#Throttled)"),
    (["--mock-config", "MOCKS", "--test-case", "scored#Nope"], "has no test case 'Nope' for state machine 'scored'"),
    (["--mock-config", "missing.json", "--test-case", "Throttled"], "cannot load the mock configuration missing.json"),
])
def test_run_mock_config_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str], options: list[str],
                                   message: str) -> None:
    machine, mocks = tmp_path / "m.json", tmp_path / "mocks.json"
    machine.write_text(json.dumps(SCORED))
    mocks.write_text(json.dumps(MOCKS))
    assert main(["run", str(machine), *[str(mocks) if o == "MOCKS" else o for o in options]]) == 2
    assert message in capsys.readouterr().err
