"""Breakpoints: pause an execution before chosen states, look at the input, continue, step or edit it.

A `Breakpoints` object is the engine's `before_state` hook (`Engine.before_state`). `drydock run --break`
answers each pause from the terminal; a test answers it with a function:

    bp = Breakpoints(["Check"], on_pause=lambda pause: Edit({"score": 0.1})).attach(engine)
    engine.run_to_completion(engine.start(definition, "{}"))
    assert [p.state for p in bp.hits] == ["Check"]
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

CONTINUE, STEP = "continue", "step"


@dataclass(frozen=True)
class Edit:
    """Replace the paused state's input with `input`, then go on as `then` says (CONTINUE or STEP)."""

    input: Any
    then: str = CONTINUE


@dataclass(frozen=True)
class Pause:
    """One stop: before `state` of `execution_arn` is entered, with the input it is about to get."""

    execution_arn: str
    state: str
    type: str
    input: Any
    reason: str  # "break": a breakpoint on the state; "step": the user stepped from the previous pause


def iter_states(definition: dict[str, Any], parents: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], str, dict[str, Any]]]:
    """(parents, name, state) for every state of a definition, Map and Parallel bodies included."""
    states = definition.get("States") if isinstance(definition, dict) else None
    for name, state in (states or {}).items() if isinstance(states, dict) else ():
        yield parents, name, state
        if not isinstance(state, dict):
            continue
        for branch in state.get("Branches") or []:
            yield from iter_states(branch, parents + (name,))
        body = state.get("ItemProcessor") or state.get("Iterator")
        if isinstance(body, dict):
            yield from iter_states(body, parents + (name,))


def unknown_states(definition: dict[str, Any], names: Iterable[str]) -> list[str]:
    """The `names` that are no state of `definition` (nested bodies searched)."""
    known = {name for _, name, _ in iter_states(definition)}
    return [n for n in names if n not in known]


class Breakpoints:
    """The `before_state` hook that pauses before the named states and, after a STEP, before the next one.

    Args:
        states: names of the states to pause before (in any Map or Parallel body too).
        on_pause: called at each pause; returns CONTINUE (or None), STEP, or `Edit(new_input)`.
            Without it every pause is recorded in `hits` and continues.
    """

    def __init__(self, states: Iterable[str] = (), on_pause: Callable[[Pause], Any] | None = None):
        self.states = set(states)
        self.on_pause = on_pause
        self.hits: list[Pause] = []
        self._stepping = False

    def attach(self, engine: Any) -> "Breakpoints":
        engine.before_state = self
        return self

    def __call__(self, execution: Any, state: Any, data: Any) -> Any:
        if not self._stepping and state.name not in self.states:
            return data
        pause = Pause(execution.arn, state.name, state.type, data, "break" if state.name in self.states else "step")
        self.hits.append(pause)
        decision = self.on_pause(pause) if self.on_pause is not None else None
        if isinstance(decision, Edit):
            data, decision = decision.input, decision.then
        if decision not in (None, CONTINUE, STEP):
            raise ValueError(f"a breakpoint answers {CONTINUE!r}, {STEP!r} or Edit(...), not {decision!r}")
        self._stepping = decision == STEP
        return data
