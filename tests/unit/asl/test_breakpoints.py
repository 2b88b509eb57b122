"""Breakpoints from Python: the engine's before_state hook pauses, steps and edits input."""
from __future__ import annotations

import json

import pytest

from asl.breakpoints import CONTINUE, STEP, Breakpoints, Edit, unknown_states
from asl.engine import Engine

MACHINE = {
    "StartAt": "Prepare",
    "States": {
        "Prepare": {"Type": "Pass", "Next": "Check"},
        "Check": {"Type": "Choice", "Choices": [{"Variable": "$.score", "NumericGreaterThan": 0.5, "Next": "Good"}],
                  "Default": "Bad"},
        "Good": {"Type": "Pass", "Result": "good", "Next": "Each"},
        "Bad": {"Type": "Pass", "Result": "bad", "Next": "Each"},
        "Each": {"Type": "Map", "ItemsPath": "$$.Execution.Input.items", "ResultPath": "$",
                 "ItemProcessor": {"StartAt": "Inner", "States": {"Inner": {"Type": "Pass", "End": True}}},
                 "End": True},
    },
}


def run(bp: Breakpoints, data: dict) -> object:
    engine = Engine()
    bp.attach(engine)
    ex = engine.run_to_completion(engine.start(MACHINE, json.dumps(data)))
    assert ex.status == "SUCCEEDED", (ex.error, ex.cause)
    return ex


def test_no_hook_by_default() -> None:
    assert Engine().before_state is None


def test_pauses_before_the_named_state_with_its_input() -> None:
    bp = Breakpoints(["Check"])
    ex = run(bp, {"score": 0.9, "items": []})
    assert [(p.state, p.type, p.input, p.reason) for p in bp.hits] == [("Check", "Choice", {"score": 0.9, "items": []},
                                                                       "break")]
    assert bp.hits[0].execution_arn == ex.arn
    assert ex.output == []


def test_breakpoint_in_a_map_body_pauses_once_per_iteration() -> None:
    bp = Breakpoints(["Inner"])
    run(bp, {"score": 0, "items": [1, 2, 3]})
    assert [p.input for p in bp.hits] == [1, 2, 3]


def test_step_pauses_before_the_next_state_then_continue_stops_stepping() -> None:
    answers = iter([STEP, STEP, CONTINUE])
    bp = Breakpoints(["Prepare"], on_pause=lambda pause: next(answers))
    run(bp, {"score": 0.9, "items": [1]})
    assert [(p.state, p.reason) for p in bp.hits] == [("Prepare", "break"), ("Check", "step"), ("Good", "step")]


def test_edit_replaces_the_input_and_changes_the_branch_taken() -> None:
    bp = Breakpoints(["Check"], on_pause=lambda pause: Edit({**pause.input, "score": 0.1}))
    ex = run(bp, {"score": 0.9, "items": []})
    entered = [e["stateEnteredEventDetails"] for e in ex.history.events if e["type"].endswith("StateEntered")]
    assert [d["name"] for d in entered] == ["Prepare", "Check", "Bad", "Each"]
    assert json.loads(entered[1]["input"]) == {"score": 0.1, "items": []}  # the history shows the edited input


def test_edit_then_step() -> None:
    answers = iter([Edit({"score": 1, "items": []}, then=STEP), CONTINUE])
    bp = Breakpoints(["Check"], on_pause=lambda pause: next(answers))
    run(bp, {"score": 0, "items": []})
    assert [(p.state, p.input) for p in bp.hits] == [("Check", {"score": 0, "items": []}),
                                                     ("Good", {"score": 1, "items": []})]


def test_an_unknown_answer_is_refused() -> None:
    engine = Engine()
    Breakpoints(["Check"], on_pause=lambda pause: "jump").attach(engine)
    ex = engine.start(MACHINE, '{"score": 1, "items": []}')
    engine.run()
    assert ex.status == "RUNNING"  # the execution's fiber stopped on the hook's error, before Check
    with pytest.raises(ValueError, match="continue"):
        ex.fiber.done.result()


def test_unknown_states_searches_nested_bodies() -> None:
    assert unknown_states(MACHINE, ["Inner", "Check", "Nope"]) == ["Nope"]
