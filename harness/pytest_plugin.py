"""drydock's pytest plugin (entry point `pytest11: drydock`): a local cloud per test, state machines to run,
path and output assertions, hypothesis strategies for inputs, and state/transition coverage.

Fixtures:
    local_cloud    an isolated in-process cloud: moto's backends emptied and a fresh Step Functions API
    drydock_coverage  the session's coverage, for engines a test makes itself (`watch_engine`, `count_execution`)
    state_machine  `state_machine(FILE_OR_DEFINITION, input={...}) -> Execution`, run to completion on the
                   virtual clock with drydock's integrations (or `handlers=`), recorded for coverage;
                   `mock_config=..., test_case="T"` mocks tasks and injects faults (`harness.mock_config`)

Helpers: `assert_path(execution, ["A", "B"])`, `assert_output(execution, {...})`, `json_values()`,
`inputs_for(definition)` (hypothesis strategies).

Coverage: every state entered, every Choice rule taken (by index, and Default), every Catcher and
Retrier that fired, per state machine; printed at the end of the session and written as JSON to
`--drydock-coverage=PATH` (default out/state-coverage.json) when a test ran a state machine.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import pytest

from asl.program import Program, Retrier, State

DEFAULT_COVERAGE = "out/state-coverage.json"


# --------------------------------------------------------------------------- coverage
@dataclasses.dataclass
class MachineCoverage:
    """What one state machine offers to cover, and how often each item was hit."""

    name: str
    states: dict[str, int]  # qualified state name ("Map/Inner") -> times entered
    choices: dict[str, dict[str, int]]  # choice state -> {"0": n, "1": n, "Default": n}
    catches: dict[str, dict[str, int]]  # state -> {"0": n, ...}
    retries: dict[str, dict[str, int]]
    executions: int = 0

    @classmethod
    def of(cls, name: str, definition: dict[str, Any]) -> "MachineCoverage":
        cov = cls(name, {}, {}, {}, {})
        for key, state in _walk(definition):
            cov.states[key] = 0
            if state.get("Type") == "Choice":
                rules = {str(i): 0 for i in range(len(state.get("Choices") or []))}
                if state.get("Default"):
                    rules["Default"] = 0
                cov.choices[key] = rules
            if state.get("Catch"):
                cov.catches[key] = {str(i): 0 for i in range(len(state["Catch"]))}
            if state.get("Retry"):
                cov.retries[key] = {str(i): 0 for i in range(len(state["Retry"]))}
        return cov

    def totals(self) -> dict[str, list[int]]:
        def count(table: dict[str, dict[str, int]]) -> list[int]:
            items = [n for rules in table.values() for n in rules.values()]
            return [sum(1 for n in items if n), len(items)]
        return {"states": [sum(1 for n in self.states.values() if n), len(self.states)],
                "choice_rules": count(self.choices), "catches": count(self.catches), "retries": count(self.retries)}

    def missed(self) -> list[str]:
        out = [f"state {k}" for k, n in self.states.items() if not n]
        for label, table in (("choice", self.choices), ("catch", self.catches), ("retry", self.retries)):
            out += [f"{label} {state}[{rule}]" for state, rules in table.items() for rule, n in rules.items() if not n]
        return out

    def to_json(self) -> dict[str, Any]:
        return {"executions": self.executions, "totals": self.totals(), "states": self.states,
                "choices": self.choices, "catches": self.catches, "retries": self.retries, "missed": self.missed()}


class Coverage:
    """Coverage of every state machine the session's tests ran (kept on the pytest config)."""

    def __init__(self) -> None:
        self.machines: dict[str, MachineCoverage] = {}

    def machine(self, name: str, definition: dict[str, Any]) -> MachineCoverage:
        if name not in self.machines:
            self.machines[name] = MachineCoverage.of(name, definition)
        return self.machines[name]

    def to_json(self) -> dict[str, Any]:
        totals: dict[str, list[int]] = {}
        for cov in self.machines.values():
            for key, (hit, all_) in cov.totals().items():
                acc = totals.setdefault(key, [0, 0])
                acc[0] += hit
                acc[1] += all_
        return {"totals": {k: {"covered": h, "total": t, "percent": round(100 * h / t, 1) if t else 100.0}
                           for k, (h, t) in totals.items()},
                "machines": {name: cov.to_json() for name, cov in sorted(self.machines.items())}}


_COVERAGE = pytest.StashKey[Coverage]()


def _walk(definition: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    states = definition.get("States") if isinstance(definition, dict) else None
    for name, state in (states.items() if isinstance(states, dict) else ()):
        if not isinstance(state, dict):
            continue
        key = f"{prefix}{name}"
        yield key, state
        for i, branch in enumerate(state.get("Branches") or []):
            yield from _walk(branch, f"{key}/{i}/" if len(state["Branches"]) > 1 else f"{key}/")
        body = state.get("ItemProcessor") or state.get("Iterator")
        if isinstance(body, dict):
            yield from _walk(body, f"{key}/")


def _program_states(program: Program, prefix: str = "") -> Iterator[tuple[str, State]]:
    for name, state in program.states.items():
        key = f"{prefix}{name}"
        yield key, state
        branches = state.extra.get("branches") or []
        for i, branch in enumerate(branches):
            yield from _program_states(branch, f"{key}/{i}/" if len(branches) > 1 else f"{key}/")
        if state.extra.get("processor") is not None:
            yield from _program_states(state.extra["processor"], f"{key}/")


class _WatchedRetrier(Retrier):
    """A Retrier that notices when it fires: the engine reads `interval` only to schedule a retry."""

    def __getattribute__(self, name: str) -> Any:
        if name == "interval":
            object.__getattribute__(self, "on_fire")()
        return object.__getattribute__(self, name)


def instrument(program: Program, cov: MachineCoverage) -> dict[int, str]:
    """Make `program` count Choice rules, Defaults and Retriers into `cov`; returns id(state) -> key."""
    keys: dict[int, str] = {}

    def bump(table: dict[str, dict[str, int]], key: str, rule: str) -> Callable[[], None]:
        def hit() -> None:
            rules = table.setdefault(key, {})
            rules[rule] = rules.get(rule, 0) + 1
        return hit

    for key, state in _program_states(program):
        keys[id(state)] = key
        if state.type == "Choice":
            # rules are tried in order until one matches: the one that returns True is taken; when the
            # last one returns False too, the Default is (or, without one, States.NoChoiceMatched)
            rules = []
            choices = state.extra["choices"]
            default = bump(cov.choices, key, "Default") if state.extra.get("default") else None
            for i, (predicate, *rest) in enumerate(choices):
                def counted(scope: Any, predicate: Any = predicate, hit: Any = bump(cov.choices, key, str(i)),
                            last: bool = i == len(choices) - 1, default: Any = default) -> bool:
                    taken = predicate(scope)
                    if taken:
                        hit()
                    elif last and default is not None:
                        default()
                    return taken
                rules.append((counted, *rest))
            state.extra = {**state.extra, "choices": rules}
        watched = []
        for i, retrier in enumerate(state.retriers):
            w = _WatchedRetrier(**{f.name: getattr(retrier, f.name) for f in dataclasses.fields(Retrier)})
            object.__setattr__(w, "on_fire", bump(cov.retries, key, str(i)))
            watched.append(w)
        state.retriers = watched
    return keys


def _engine_class() -> type:
    from asl.engine import Engine

    class CoverageEngine(Engine):
        """Counts the Catcher that takes an error (`caught_output` runs exactly then)."""

        coverage: MachineCoverage | None = None
        state_keys: dict[int, str] = {}

        def caught_output(self, ex: Any, frame: Any, state: Any, catcher: Any, data: Any, err: Any,
                          ctx: dict[str, Any]) -> Any:
            if self.coverage is not None:
                key = self.state_keys.get(id(state), state.name)
                rules = self.coverage.catches.setdefault(key, {})
                index = str(state.catchers.index(catcher))
                rules[index] = rules.get(index, 0) + 1
            return super().caught_output(ex, frame, state, catcher, data, err, ctx)
    return CoverageEngine


def _count_states(cov: MachineCoverage, events: list[dict[str, Any]]) -> None:
    from harness.visits import track

    for visit in track(events).visits:
        parts: list[str] = []
        v: Any = visit
        while v is not None:
            parts.append(v.name)
            v = v.parent
        names = list(reversed(parts))
        # map the visit's chain of names onto a qualified key of the definition (Parallel branches carry an index)
        key = next((k for k in cov.states if _strip_indexes(k) == "/".join(names)), "/".join(names))
        cov.states[key] = cov.states.get(key, 0) + 1


def _strip_indexes(key: str) -> str:
    return re.sub(r"/\d+/", "/", key)


def watch_engine(coverage: Coverage, name: str, definition: dict[str, Any], engine: Any,
                 program: Program) -> MachineCoverage:
    """Count what `engine` does with `program` (Choice rules, Retriers, Catchers) under `name`, for engines the
    `state_machine` fixture does not make: a test's own, a Step Functions API backend's (`backend.engine` and
    `backend.state_machines[arn].revision.program`). States entered are counted from each finished execution's
    history with `count_execution`."""
    cov = coverage.machine(name, definition)
    keys = instrument(program, cov)
    if not hasattr(engine, "state_keys"):
        engine.__class__ = _engine_class()  # the same engine, plus the Catch counting of CoverageEngine
        engine.state_keys = {}
    engine.coverage = cov
    engine.state_keys = {**engine.state_keys, **keys}
    return cov


def count_execution(cov: MachineCoverage, execution_or_events: Any) -> None:
    """One more execution of a watched machine: the states its history entered."""
    events = execution_or_events if isinstance(execution_or_events, list) else execution_or_events.history.events
    cov.executions += 1
    _count_states(cov, events)


# --------------------------------------------------------------------------- running state machines
def load(source: str | Path | dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(coverage name, definition) of a file (JSON/YAML) or a definition dict."""
    from asl.load import load_definition

    if isinstance(source, dict):
        text = json.dumps(source, sort_keys=True)
        name = source.get("Comment") or f"definition-{hashlib.sha1(text.encode()).hexdigest()[:10]}"
        return str(name), source
    path = Path(source)
    definition, _ = load_definition(path.read_text(), source=str(path))
    try:
        name = str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        name = str(path)
    return name, definition


def run_state_machine(source: str | Path | dict[str, Any], input: Any = None, *, coverage: Coverage | None = None,
                      handlers: Any = None, name: str | None = None, seed: int = 0, input_text: str | None = None,
                      before_state: Any = None, mock_config: Any = None, test_case: str | None = None) -> Any:
    """Run a state machine to completion on the virtual clock; returns the `asl.engine.Execution`.

    Args:
        source: a definition file (JSON or YAML) or a definition dict.
        input: the execution input as a JSON value (default {}), or `input_text` as JSON text.
        coverage: where to count states, Choice rules, Catchers and Retriers (the session's, in fixtures).
        handlers: task handlers (default: drydock's integrations over the in-process cloud).
        before_state: the engine's before_state hook, e.g. `asl.breakpoints.Breakpoints(...)`.
        mock_config: a MockConfigFile (`harness.mock_config`: a path, JSON text, a dict or a `MockConfig`) whose
            `test_case` the execution runs: mocked answers and injected faults (Throttle, Hang, Delay, Call),
            under the state machine the test case belongs to.
    """
    from asl.program import compile_program
    from harness.local_run import local_handlers

    key, definition = load(source)
    program = compile_program(definition)
    cov = coverage.machine(key, definition) if coverage is not None else None
    engine_class = _engine_class()
    mocks = machine_arn = cloud = None
    if mock_config is not None:
        from harness.cloud import LocalCloud
        from harness.integrations import build_handlers
        from harness.mock_config import MockConfig, MockConfigError

        mocks = mock_config if isinstance(mock_config, MockConfig) else MockConfig.load(mock_config)
        owners = [m for m, cases in mocks.test_cases.items() if test_case in cases]
        if len(owners) != 1:
            raise MockConfigError(f"the mock configuration has {len(owners)} state machines with a test case "
                                  f"{test_case!r}; exactly one is needed")
        machine_arn = f"arn:aws:states:us-east-1:123456789012:stateMachine:{owners[0]}"
        if handlers is not None:
            raise ValueError("mock_config builds drydock's integrations with the mocks; pass it or handlers, not both")
        cloud = LocalCloud()
        handlers = build_handlers(cloud, mocks=mocks)
    if handlers is None:
        handlers, cloud = local_handlers()
    engine = engine_class(handlers, seed=seed, region=getattr(cloud, "region", "us-east-1"),
                          account=getattr(cloud, "account", "123456789012"))
    if mocks is not None:
        handlers.bind(engine)
    if cov is not None:
        engine.coverage = cov
        engine.state_keys = instrument(program, cov)
    engine.before_state = before_state
    text = input_text if input_text is not None else json.dumps({} if input is None else input)
    execution = engine.start(program, text, name=name, state_machine_arn=machine_arn)
    if mocks is not None:
        mocks.bind(execution.arn, machine_arn, test_case, definition)
    execution = engine.run_to_completion(execution)
    if cov is not None:
        cov.executions += 1
        _count_states(cov, execution.history.events)
    return execution


# --------------------------------------------------------------------------- assertions
def path_of(execution: Any, *, nested: bool = True) -> list[str]:
    """The names of the states an execution entered, in order (Map/Parallel bodies too unless nested=False)."""
    from harness.visits import track

    events = execution if isinstance(execution, list) else execution.history.events
    return [v.name for v in track(events).visits if nested or v.depth == 0]


def assert_path(execution: Any, expected: Iterable[str], *, nested: bool = True, exact: bool = True) -> None:
    """Assert the states entered, in order; `exact=False` accepts them as a subsequence of the path."""
    __tracebackhide__ = True
    actual, wanted = path_of(execution, nested=nested), list(expected)
    if exact:
        ok = actual == wanted
    else:
        rest = iter(actual)
        ok = all(name in rest for name in wanted)
    if not ok:
        pytest.fail(f"state path differs\n  expected: {' -> '.join(wanted)}\n  actual:   {' -> '.join(actual)}"
                    + _failure(execution), pytrace=False)


def assert_output(execution: Any, expected: Any, *, status: str = "SUCCEEDED", partial: bool = False) -> None:
    """Assert the status (SUCCEEDED by default) and the output; `partial=True` checks only the keys given."""
    __tracebackhide__ = True
    if execution.status != status:
        pytest.fail(f"execution {execution.status}, expected {status}" + _failure(execution), pytrace=False)
    actual = execution.output
    if partial and isinstance(expected, dict) and isinstance(actual, dict):
        actual = {k: actual.get(k, "<missing>") for k in expected}
    if actual != expected:
        pytest.fail(f"output differs\n  expected: {json.dumps(expected, sort_keys=True)}\n"
                    f"  actual:   {json.dumps(actual, sort_keys=True)}", pytrace=False)


def _failure(execution: Any) -> str:
    if isinstance(execution, list) or execution.status == "SUCCEEDED":
        return ""
    return f"\n  status: {execution.status}, error: {execution.error}, cause: {execution.cause}"


# --------------------------------------------------------------------------- hypothesis strategies
def json_values(max_leaves: int = 20) -> Any:
    """Any JSON value: null, booleans, integers, finite floats, text, lists and objects of them."""
    from hypothesis import strategies as st

    scalars = st.none() | st.booleans() | st.integers(-10**6, 10**6) | \
        st.floats(allow_nan=False, allow_infinity=False, width=32) | st.text(max_size=20)
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.text(max_size=8), inner, max_size=4), max_leaves=max_leaves)


_NAME = re.compile(r"\.([A-Za-z_][\w-]*)|\['([^']+)'\]")


def _path_keys(path: Any) -> list[str] | None:
    if not isinstance(path, str) or not path.startswith("$.") or path.startswith("$$"):
        return None
    keys, pos = [], 1
    while pos < len(path):
        m = _NAME.match(path, pos)
        if not m:
            break
        keys.append(m.group(1) or m.group(2))
        pos = m.end()
    return keys or None


def _rule_values(rule: dict[str, Any], out: dict[tuple[str, ...], list[Any]]) -> None:
    for nested in rule.get("And", []) + rule.get("Or", []) + ([rule["Not"]] if "Not" in rule else []):
        _rule_values(nested, out)
    keys = _path_keys(rule.get("Variable"))
    if keys is None:
        return
    values = out.setdefault(tuple(keys), [])
    for op, value in rule.items():
        if op in ("Variable", "Next") or op.endswith("Path") or op.startswith("Is"):
            if op == "IsBoolean" or op == "IsString" or op == "IsNumeric":
                values += {"IsBoolean": [True], "IsString": ["s"], "IsNumeric": [1]}[op]
            continue
        if op.startswith("Numeric") and isinstance(value, (int, float)):
            values += [value, value + 1, value - 1]
        elif op.startswith("Boolean"):
            values += [True, False]
        elif op.startswith("String") and isinstance(value, str):
            values += [value.replace("*", "x"), value + "_other"]
        elif op.startswith("Timestamp") and isinstance(value, str):
            values += [value, "1999-01-01T00:00:00Z", "2999-01-01T00:00:00Z"]


def inputs_for(definition: dict[str, Any]) -> Any:
    """Inputs shaped for a definition: an object with every top-level field its Choice rules, InputPath,
    ItemsPath and Parameters read, valued near the Choice rules' literals so that each rule is reached."""
    from hypothesis import strategies as st

    wanted: dict[tuple[str, ...], list[Any]] = {}
    lists: set[tuple[str, ...]] = set()
    for _, state in _walk(definition):
        for rule in state.get("Choices") or []:
            if isinstance(rule, dict):
                _rule_values(rule, wanted)
        for field in ("InputPath", "ItemsPath"):
            keys = _path_keys(state.get(field))
            if keys:
                wanted.setdefault(tuple(keys), [])
                if field == "ItemsPath":
                    lists.add(tuple(keys))
        for value in _template_paths(state.get("Parameters")):
            wanted.setdefault(tuple(value), [])
    scalars = st.none() | st.booleans() | st.integers(-100, 100) | st.text(max_size=8)

    def build(prefix: tuple[str, ...]) -> Any:
        children = sorted({k[len(prefix)] for k in wanted if len(k) > len(prefix) and k[:len(prefix)] == prefix})
        if not children:
            if prefix in lists:
                return st.lists(scalars, max_size=4)
            literals = wanted.get(prefix, [])
            return st.sampled_from(literals) | scalars if literals else scalars
        return st.fixed_dictionaries({child: build(prefix + (child,)) for child in children})
    return build(()) if wanted else st.fixed_dictionaries({})


def _template_paths(template: Any) -> Iterator[list[str]]:
    if isinstance(template, dict):
        for key, value in template.items():
            if key.endswith(".$"):
                keys = _path_keys(value)
                if keys:
                    yield keys
            else:
                yield from _template_paths(value)
    elif isinstance(template, list):
        for item in template:
            yield from _template_paths(item)


# --------------------------------------------------------------------------- pytest hooks and fixtures
def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("drydock")
    group.addoption("--drydock-coverage", default=DEFAULT_COVERAGE, metavar="PATH",
                    help=f"write state machine coverage (states, Choice rules, Catch, Retry) as JSON to PATH "
                         f"(default {DEFAULT_COVERAGE}); written only when a test ran a state machine")


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_COVERAGE] = Coverage()


class LocalCloudHandle:
    """An isolated in-process cloud: boto3 clients (moto for AWS services, drydock for Step Functions)."""

    def __init__(self) -> None:
        from harness.cloud import LocalCloud
        from harness.stepfunctions_api import StepFunctionsApi, install

        self.cloud = LocalCloud(None)
        self.api = StepFunctionsApi()
        self._previous = install(self.api)

    def client(self, service: str) -> Any:
        return self.cloud.client(service)

    @property
    def region(self) -> str:
        return self.cloud.region

    @property
    def account(self) -> str:
        return self.cloud.account

    def close(self) -> None:
        from harness.stepfunctions_api import install

        install(self._previous)
        self.api.close()


def _reset_moto() -> None:
    """Empty every moto backend in place (each region's backend re-initialised; the dicts and their
    lookup caches kept, since moto's own `BackendDict.reset` leaves stale cached entries: moto#6592)."""
    from moto.core.base_backend import BackendDict, backend_lock

    with backend_lock:
        for backend in list(BackendDict._instances):  # type: ignore[attr-defined]
            for account_backend in list(backend.values()):
                account_backend.reset()


@pytest.fixture
def local_cloud() -> Iterator[LocalCloudHandle]:
    """A fresh in-process cloud for one test: moto's backends emptied, a new Step Functions API installed."""
    _reset_moto()
    handle = LocalCloudHandle()
    try:
        yield handle
    finally:
        handle.close()
        _reset_moto()


@pytest.fixture
def state_machine(request: pytest.FixtureRequest) -> Callable[..., Any]:
    """`state_machine(FILE_OR_DEFINITION, input={...}, handlers=None, ...)` -> the finished Execution.

    Relative paths are read from the test file's folder first, then from the working directory.
    """
    coverage = request.config.stash[_COVERAGE]
    here = Path(str(request.fspath)).parent

    def run(source: str | Path | dict[str, Any], input: Any = None, **kwargs: Any) -> Any:
        if isinstance(source, (str, Path)) and not Path(source).is_absolute() and (here / source).exists():
            source = here / source
        return run_state_machine(source, input, coverage=coverage, **kwargs)
    return run


@pytest.fixture
def drydock_coverage(request: pytest.FixtureRequest) -> Coverage:
    """The session's state machine coverage, for `watch_engine` / `count_execution`."""
    return request.config.stash[_COVERAGE]


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    coverage = config.stash.get(_COVERAGE, None)
    if coverage is None or not coverage.machines:
        return
    report = coverage.to_json()
    tr = terminalreporter
    tr.write_sep("=", "drydock state machine coverage")
    for name, machine in report["machines"].items():
        totals = machine["totals"]
        parts = ", ".join(f"{k.replace('_', ' ')} {h}/{t}" for k, (h, t) in totals.items() if t)
        tr.write_line(f"{name} ({machine['executions']} executions): {parts}")
        if machine["missed"]:
            tr.write_line(f"  never: {', '.join(machine['missed'][:20])}"
                          + (" ..." if len(machine["missed"]) > 20 else ""))
    overall = ", ".join(f"{k.replace('_', ' ')} {v['covered']}/{v['total']} ({v['percent']}%)"
                        for k, v in report["totals"].items() if v["total"])
    tr.write_line(f"total: {overall}")
    path = Path(config.getoption("--drydock-coverage"))
    if not path.is_absolute():
        path = Path(config.rootpath) / path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1) + "\n")
    tr.write_line(f"written to {path}")

