"""Mocked service responses in Step Functions Local's MockConfigFile format (sfn-local-mock-cfg-file.html).

```json
{"StateMachines": {"MyMachine": {"TestCases": {"HappyPath": {"LambdaState": "MockedLambdaSuccess"}}}},
 "MockedResponses": {"MockedLambdaSuccess": {"0": {"Return": {"StatusCode": 200, "Payload": {"ok": true}}},
                                             "1-2": {"Throw": {"Error": "Lambda.TooManyRequestsException",
                                                               "Cause": "Rate exceeded"}}}}}
```

A test case is chosen per execution as Step Functions Local does, by starting the execution with
`<stateMachineArn>#<TestCaseName>`; `split_test_case` takes that apart and `bind` ties the test case
to the execution. Within the execution, a state named in the test case answers with its mocked
response instead of calling the service; every other state calls its live integration, so mocked and
live tasks mix. The keys of a mocked response are the state's invocations, counted from 0 across
retries and Map iterations: `"0"`, or a range `"1-2"`; an invocation no key covers fails the task.

Each entry is an `Outcome`, looked up by its one key in `OUTCOMES`: `Return` (the task's result) and
`Throw` (a task failure). Fault injection extends the same table: an outcome that times out, throttles
(`Throw` with the service's throttling error) or delays, chosen at the same invocation numbers.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from asl.errors import StatesError


@dataclass(frozen=True)
class Return:
    """The task succeeds with this result."""

    value: Any

    async def apply(self, request: Any) -> Any:
        return self.value


@dataclass(frozen=True)
class Throw:
    """The task fails with this error and cause, as the service would have failed it."""

    error: str
    cause: str | None = None

    async def apply(self, request: Any) -> Any:
        raise StatesError(self.error, self.cause)  # type: ignore[arg-type]


def _return(spec: Any) -> Return:
    return Return(spec)


def _throw(spec: Any) -> Throw:
    if not isinstance(spec, dict) or not isinstance(spec.get("Error"), str):
        raise MockConfigError("a Throw needs an 'Error' string (and may have a 'Cause')")
    return Throw(spec["Error"], spec.get("Cause"))


OUTCOMES: dict[str, Callable[[Any], Any]] = {"Return": _return, "Throw": _throw}


class MockConfigError(ValueError):
    """A mock configuration that does not follow the MockConfigFile format."""


def split_test_case(state_machine_arn: str) -> tuple[str, str | None]:
    """'arn:...:stateMachine:Name#HappyPath' -> ('arn:...:stateMachine:Name', 'HappyPath')."""
    arn, sep, case = state_machine_arn.partition("#")
    return arn, (case or None) if sep else None


@dataclass
class _Response:
    ranges: list[tuple[int, int, Any]]

    def at(self, invocation: int) -> Any | None:
        for low, high, outcome in self.ranges:
            if low <= invocation <= high:
                return outcome
        return None


class MockConfig:
    """A loaded MockConfigFile, plus which test case each execution runs and how often each state ran."""

    def __init__(self, document: dict[str, Any]):
        self.document = document
        self.responses = {name: self._parse_response(name, spec)
                          for name, spec in (document.get("MockedResponses") or {}).items()}
        self.test_cases: dict[str, dict[str, dict[str, str]]] = {}
        for machine, spec in (document.get("StateMachines") or {}).items():
            cases = (spec or {}).get("TestCases") or {}
            for case, states in cases.items():
                for state, response in (states or {}).items():
                    if response not in self.responses:
                        raise MockConfigError(f"test case {machine}#{case}: state {state!r} names the mocked response "
                                              f"{response!r}, which MockedResponses does not define")
            self.test_cases[machine] = cases
        self._bound: dict[str, tuple[str, str]] = {}
        self._counts: dict[tuple[str, str], int] = {}

    @classmethod
    def load(cls, source: str | Path | dict[str, Any]) -> "MockConfig":
        """From a file path, JSON text, or the parsed document."""
        if isinstance(source, dict):
            return cls(source)
        text = str(source)
        if isinstance(source, Path) or not text.lstrip().startswith("{"):
            text = Path(source).read_text()
        return cls(json.loads(text))

    @staticmethod
    def _parse_response(name: str, spec: Any) -> _Response:
        if not isinstance(spec, dict) or not spec:
            raise MockConfigError(f"mocked response {name!r} must map invocation numbers to a Return or a Throw")
        ranges = []
        for key, entry in spec.items():
            low, _, high = str(key).partition("-")
            try:
                span = (int(low), int(high or low))
            except ValueError:
                raise MockConfigError(f"mocked response {name!r}: {key!r} is not an invocation number or range "
                                      f"such as '0' or '1-2'") from None
            if not isinstance(entry, dict) or len(entry) != 1 or next(iter(entry)) not in OUTCOMES:
                raise MockConfigError(f"mocked response {name!r}[{key!r}] must hold exactly one of "
                                      f"{', '.join(OUTCOMES)}")
            kind, body = next(iter(entry.items()))
            ranges.append((span[0], span[1], OUTCOMES[kind](body)))
        return _Response(sorted(ranges, key=lambda r: r[0]))

    # ------------------------------------------------------------------ per execution
    def bind(self, execution_arn: str, state_machine: str, test_case: str | None) -> None:
        """Run `execution_arn` with `test_case` of `state_machine` (a name or an ARN)."""
        if test_case is None:
            return
        name = state_machine.rsplit(":", 1)[-1]
        if test_case not in self.test_cases.get(name, {}):
            raise MockConfigError(f"the mock configuration has no test case {test_case!r} for state machine {name!r}")
        self._bound[execution_arn] = (name, test_case)
        for key in [k for k in self._counts if k[0] == execution_arn]:
            del self._counts[key]  # a new execution under a reused ARN counts from 0 again

    def outcome(self, execution_arn: str, state_name: str) -> Any | None:
        """The mocked outcome of this invocation of a state, or None when the state calls its service."""
        bound = self._bound.get(execution_arn)
        if bound is None:
            return None
        machine, case = bound
        response_name = self.test_cases[machine][case].get(state_name)
        if response_name is None:
            return None
        key = (execution_arn, state_name)
        invocation = self._counts.get(key, 0)
        self._counts[key] = invocation + 1
        outcome = self.responses[response_name].at(invocation)
        if outcome is None:
            return Throw("States.TaskFailed", f"The mocked response {response_name!r} of state {state_name!r} "
                                              f"(test case {machine}#{case}) defines no answer for invocation "
                                              f"{invocation}")
        return outcome
