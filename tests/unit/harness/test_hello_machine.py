"""examples/hello tested through drydock's pytest plugin: paths, output, generated inputs, and the coverage
that the session prints at its end (and writes to out/state-coverage.json)."""
from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings

from harness.pytest_plugin import assert_output, assert_path, inputs_for, load

HELLO = Path(__file__).resolve().parents[3] / "examples" / "hello" / "definition.json"
_, DEFINITION = load(HELLO)


def test_small_first_item_skips_the_nap(state_machine) -> None:
    ex = state_machine(HELLO, {"name": "Ada", "items": [1, 2]})
    assert_path(ex, ["Greet", "Big?", "Double", "Twice", "Twice", "Both", "Count", "Oops", "Done"])
    assert_output(ex, {"message": "Hello, Ada!", "doubled": [2, 4]}, partial=True)


def test_big_first_item_naps_an_hour_of_virtual_time(state_machine) -> None:
    ex = state_machine(HELLO, {"name": "Bob", "items": [11]})
    assert_path(ex, ["Greet", "Big?", "Nap", "Double", "Both", "Done"], nested=False)
    assert ex.stop - ex.start == 3600
    assert_output(ex, {"caught": {"Error": "Demo.Failure", "Cause": "caught below"}}, partial=True)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(inputs_for(DEFINITION))
def test_generated_inputs_never_crash_the_interpreter(state_machine, value) -> None:
    ex = state_machine(HELLO, value)
    # items that are not numbers fail the Choice or the intrinsic with an AWS error, never a Python one
    assert ex.status in ("SUCCEEDED", "FAILED")
    if ex.status == "FAILED":
        assert ex.error.startswith("States."), (ex.error, ex.cause)
