"""`drydock history` and `drydock graph` over the in-process Step Functions API, and their bad input."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from harness.cli import main
from harness.cloud import LocalCloud
from harness.graph import rule_label, to_dot
from harness.stepfunctions_api import StepFunctionsApi, install

HELLO = Path(__file__).resolve().parents[3] / "examples" / "hello" / "definition.json"
ROLE = "arn:aws:iam::123456789012:role/drydock"


@pytest.fixture(scope="module")
def execution_arn() -> str:
    api = StepFunctionsApi()
    previous = install(api)
    sfn = LocalCloud(None).client("stepfunctions")
    machine = sfn.create_state_machine(name="hello", definition=HELLO.read_text(), roleArn=ROLE)["stateMachineArn"]
    arn = sfn.start_execution(stateMachineArn=machine, input=json.dumps({"name": "a", "items": [11, 2]}))["executionArn"]
    yield arn
    install(previous)
    api.close()


def test_history_table_has_each_state_with_input_and_output(execution_arn: str, monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("COLUMNS", "220")
    assert main(["history", execution_arn]) == 0
    out = capsys.readouterr().out
    assert "SUCCEEDED" in out
    for name in ("Greet", "Big?", "Nap", "Double", "Twice", "Both", "Count", "Oops", "Done"):
        assert f" {name} " in out, name
    assert '{"name":"a","items":[11,2]}' in out  # Greet's input
    assert "│ 1.0h │" in out  # Nap took an hour of virtual time


def test_history_filters_by_state_and_type(execution_arn: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history", execution_arn, "--state", "Double", "--json"]) == 0
    events = json.loads(capsys.readouterr().out)["events"]
    assert events[0]["type"] == "MapStateEntered" and events[-1]["type"] == "MapStateExited"
    assert [e["stateEnteredEventDetails"]["input"] for e in events if e["type"] == "PassStateEntered"] == ["11", "2"]
    assert main(["history", execution_arn, "--type", "Map*", "--json"]) == 0
    types = {e["type"] for e in json.loads(capsys.readouterr().out)["events"]}
    assert types == {"MapStateEntered", "MapStateStarted", "MapIterationStarted", "MapIterationSucceeded",
                     "MapStateSucceeded", "MapStateExited"}


def test_history_json_is_get_execution_history_shaped(execution_arn: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history", execution_arn, "--json"]) == 0
    events = json.loads(capsys.readouterr().out)["events"]
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    assert events[0]["type"] == "ExecutionStarted" and "executionStartedEventDetails" in events[0]
    assert events[-1]["type"] == "ExecutionSucceeded"
    assert all({"timestamp", "type", "id", "previousEventId"} <= set(e) for e in events)


def test_history_of_an_unknown_execution_is_a_clear_error(execution_arn: str,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    unknown = execution_arn.rsplit(":", 1)[0] + ":nobody"
    assert main(["history", unknown]) == 2
    err = capsys.readouterr().err
    assert f"no execution {unknown}" in err


def test_dot_nests_bodies_labels_rules_and_dashes_catch() -> None:
    dot = to_dot(json.loads(HELLO.read_text()))
    assert dot.count("subgraph") == 5  # Map + its body, Parallel + its two branches
    assert 'label="#0 $.items[0] > 10"' in dot
    assert 'label="Default"' in dot
    assert '"Both" -> "Done" [label="Catch States.ALL", tooltip="Catch States.ALL", style="dashed"' in dot
    assert '"Double/0/Twice"' in dot and '"Both/1/Oops"' in dot


def test_dot_highlights_the_path_and_the_failed_state(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(HELLO), "--input", '{"name": "a", "items": [1]}', "--json"]) == 0
    events = json.loads(capsys.readouterr().out)["events"]
    dot = to_dot(json.loads(HELLO.read_text()), events)
    line = {l.split(" [")[0].strip(): l for l in dot.splitlines() if " [" in l}
    assert "fillcolor" in line['"Greet"'] and "#d9f2d9" in line['"Greet"']
    assert "#f4b6b6" in line['"Both/1/Oops"']  # the Fail state in the caught branch
    assert "fillcolor" not in line['"Nap"']  # not entered: items[0] is not > 10
    assert "penwidth=\"2.5\"" in line['"Big?" -> "Double"']  # the Default branch was taken
    both_done = [l for l in dot.splitlines() if l.strip().startswith('"Both" -> "Done"')]
    assert len(both_done) == 2  # Next and Catch
    assert ["penwidth" in l for l in both_done] == ["Catch" in l for l in both_done]  # caught: via the Catch


def test_rule_labels() -> None:
    assert rule_label({"Variable": "$.a", "StringEquals": "x"}) == '$.a == "x"'
    assert rule_label({"And": [{"Variable": "$.a", "IsPresent": True},
                               {"Not": {"Variable": "$.b", "NumericLessThanPath": "$.c"}}]}) == \
        "($.a IsPresent) and (not ($.b < $.c))"
    assert rule_label({"Condition": "{% $states.input.n > 1 %}"}) == "$states.input.n > 1"


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz is not installed (scripts/setup-debian.sh)")
def test_graph_command_writes_svg_and_png_of_an_execution(execution_arn: str, tmp_path: Path) -> None:
    svg, png = tmp_path / "g.svg", tmp_path / "g.png"
    assert main(["graph", str(HELLO), "--execution", execution_arn, "-o", str(svg)]) == 0
    text = svg.read_text()
    assert text.lstrip().startswith("<?xml") and "<svg" in text and "Twice" in text and "SUCCEEDED" in text
    assert main(["graph", "--execution", execution_arn, "-o", str(png)]) == 0  # the execution's own definition
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_graph_of_an_invalid_definition_prints_findings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"StartAt": "X", "States": {"A": {"Type": "Pass", "Next": "Nope"}}}))
    assert main(["graph", str(bad), "-o", str(tmp_path / "bad.svg")]) == 2
    err = capsys.readouterr().err
    assert "is not a valid state machine definition" in err
    assert "MISSING_TRANSITION_TARGET at /States/A/Next" in err and "MISSING_TRANSITION_TARGET at /StartAt" in err
    assert not (tmp_path / "bad.svg").exists()


def test_graph_of_an_unknown_execution_and_bad_output(execution_arn: str, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", "--execution", execution_arn + "x", "-o", str(tmp_path / "g.svg")]) == 2
    assert "no execution" in capsys.readouterr().err
    assert main(["graph", str(HELLO), "-o", str(tmp_path / "g.pdf")]) == 2
    assert "give a .svg, .png or .dot" in capsys.readouterr().err
