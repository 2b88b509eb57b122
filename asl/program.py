"""A definition compiled once into typed states: every path, template, intrinsic, JSONata
expression and choice rule is parsed here, so running a state never parses anything.

`compile_program` validates first and raises `DefinitionError` with every finding.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from asl import jsonata
from asl.choice import compile_rule
from asl.errors import DefinitionError
from asl.paths import compile_query, compile_reference_path
from asl.payload import (Evaluator, compile_jsonata_expression, compile_jsonata_template, compile_jsonpath_template,
                         compile_jsonpath_value)
from asl.tasks import Resource, parse_resource

JSONPATH, JSONATA = "JSONPath", "JSONata"


@dataclass
class Retrier:
    errors: tuple[str, ...]
    interval: float = 1.0
    max_attempts: int = 3
    backoff: float = 2.0
    max_delay: float | None = None
    jitter: str = "NONE"


@dataclass
class Catcher:
    errors: tuple[str, ...]
    next: str
    result_path: Any = None  # compiled reference path, "null" sentinel or None (default "$")
    discard_result: bool = False
    output: Evaluator | None = None  # JSONata
    assign: Evaluator | None = None


@dataclass
class State:
    """One state of a program; type-specific fields are filled by the matching compile function."""

    name: str
    type: str
    query_language: str
    next: str | None = None
    end: bool = False
    # JSONPath data flow
    input_path: Any = None  # Query or None ("$"); NULL_PATH for null
    output_path: Any = None
    parameters: Evaluator | None = None
    result_selector: Evaluator | None = None
    result_path: Any = None
    discard_input: bool = False  # InputPath: null
    discard_output: bool = False  # OutputPath: null
    discard_result: bool = False  # ResultPath: null
    result: Any = None  # Pass.Result
    has_result: bool = False
    # JSONata data flow
    arguments: Evaluator | None = None
    output: Evaluator | None = None
    assign: Evaluator | None = None
    # error handling
    retriers: list[Retrier] = field(default_factory=list)
    catchers: list[Catcher] = field(default_factory=list)
    # type specific
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Program:
    """A compiled state machine (or a Map/Parallel body)."""

    start_at: str
    states: dict[str, State]
    query_language: str
    timeout_seconds: int | None
    definition: dict[str, Any]


# --------------------------------------------------------------------------- helpers
def _jsonpath_assign(value: Any) -> Evaluator:
    """Assign in JSONPath states: `name.$` keys take a path or intrinsic, like Parameters."""
    return compile_jsonpath_template(value)


def _seconds_field(raw: dict[str, Any], name: str, lang: str) -> Any:
    value = raw.get(name)
    if lang == JSONATA and isinstance(value, str) and jsonata.is_jsonata_template(value):
        return compile_jsonata_expression(value, name)
    return value


def _nullable_path(raw: dict[str, Any], key: str, compile: Callable[[str], Any]) -> tuple[bool, Any]:
    """A path field: absent (default `$`), null (discard: `{}` or the input), or a path compiled once."""
    if key not in raw:
        return False, None
    if raw[key] is None:
        return True, None
    return False, compile(raw[key])


def _compile_common(raw: dict[str, Any], state: State) -> None:
    lang = state.query_language
    state.next = raw.get("Next")
    state.end = bool(raw.get("End", False))
    if lang == JSONPATH:
        state.discard_input, state.input_path = _nullable_path(raw, "InputPath", compile_query)
        state.discard_output, state.output_path = _nullable_path(raw, "OutputPath", compile_query)
        state.discard_result, state.result_path = _nullable_path(raw, "ResultPath", compile_reference_path)
        if "Parameters" in raw:
            state.parameters = compile_jsonpath_template(raw["Parameters"])
        if "ResultSelector" in raw:
            state.result_selector = compile_jsonpath_template(raw["ResultSelector"])
        if "Assign" in raw:
            state.assign = _jsonpath_assign(raw["Assign"])
    else:
        if "Arguments" in raw:
            state.arguments = compile_jsonata_template(raw["Arguments"], "Arguments")
        if "Output" in raw:
            state.output = compile_jsonata_template(raw["Output"], "Output")
        if "Assign" in raw:
            state.assign = compile_jsonata_template(raw["Assign"], "Assign")
    for r in raw.get("Retry", []):
        state.retriers.append(Retrier(tuple(r["ErrorEquals"]), float(r.get("IntervalSeconds", 1)),
                                      int(r.get("MaxAttempts", 3)), float(r.get("BackoffRate", 2.0)),
                                      r.get("MaxDelaySeconds"), r.get("JitterStrategy", "NONE")))
    for c in raw.get("Catch", []):
        catcher = Catcher(tuple(c["ErrorEquals"]), c["Next"])
        if lang == JSONPATH:
            catcher.discard_result, catcher.result_path = _nullable_path(c, "ResultPath", compile_reference_path)
            if "Assign" in c:
                catcher.assign = _jsonpath_assign(c["Assign"])
        else:
            if "Output" in c:
                catcher.output = compile_jsonata_template(c["Output"], "Output")
            if "Assign" in c:
                catcher.assign = compile_jsonata_template(c["Assign"], "Assign")
        state.catchers.append(catcher)


def _compile_pass(raw: dict[str, Any], state: State, program_lang: str) -> None:
    if "Result" in raw:
        state.result, state.has_result = raw["Result"], True


def _compile_task(raw: dict[str, Any], state: State, program_lang: str) -> None:
    lang = state.query_language
    resource = raw["Resource"]
    state.extra["resource"] = parse_resource(resource) if isinstance(resource, str) else Resource(str(resource), "other")
    for name in ("TimeoutSeconds", "HeartbeatSeconds"):
        state.extra[name] = _seconds_field(raw, name, lang)
        if f"{name}Path" in raw:
            state.extra[f"{name}Path"] = compile_query(raw[f"{name}Path"])
    if "Credentials" in raw:
        creds = raw["Credentials"]
        state.extra["credentials"] = (compile_jsonpath_template(creds) if lang == JSONPATH
                                      else compile_jsonata_template(creds, "Credentials"))


def _compile_choice(raw: dict[str, Any], state: State, program_lang: str) -> None:
    rules: list[tuple[Callable[[Any], bool], str, Evaluator | None, Evaluator | None]] = []
    for i, rule in enumerate(raw.get("Choices", [])):
        if state.query_language == JSONATA:
            cond = compile_jsonata_template(rule["Condition"], f"Choices[{i}].Condition")
            pred = (lambda scope, cond=cond: _truthy_condition(cond(scope)))
            assign = compile_jsonata_template(rule["Assign"], "Assign") if "Assign" in rule else None
            output = compile_jsonata_template(rule["Output"], "Output") if "Output" in rule else None
            rules.append((pred, rule["Next"], assign, output))
        else:
            assign = _jsonpath_assign(rule["Assign"]) if "Assign" in rule else None
            rules.append((compile_rule(rule), rule["Next"], assign, None))
    state.extra["choices"] = rules
    state.extra["default"] = raw.get("Default")


def _truthy_condition(value: Any) -> bool:
    if not isinstance(value, bool):
        from asl.errors import QUERY_EVALUATION_ERROR, StatesError
        raise StatesError(QUERY_EVALUATION_ERROR, f"The Condition field evaluated to a non-boolean value: {value!r}")
    return value


def _compile_wait(raw: dict[str, Any], state: State, program_lang: str) -> None:
    lang = state.query_language
    for name in ("Seconds", "Timestamp"):
        if name in raw:
            state.extra[name] = _seconds_field(raw, name, lang)
    for name in ("SecondsPath", "TimestampPath"):
        if name in raw:
            state.extra[name] = compile_query(raw[name])
            state.extra[name + "Text"] = raw[name]


def _compile_fail(raw: dict[str, Any], state: State, program_lang: str) -> None:
    lang = state.query_language
    for name in ("Error", "Cause"):
        if name in raw:
            value = raw[name]
            if lang == JSONATA and isinstance(value, str) and jsonata.is_jsonata_template(value):
                state.extra[name] = compile_jsonata_expression(value, name)
            else:
                state.extra[name] = value
        if f"{name}Path" in raw:
            state.extra[f"{name}Path"] = compile_jsonpath_value(raw[f"{name}Path"], f"{name}Path")


def _compile_parallel(raw: dict[str, Any], state: State, program_lang: str) -> None:
    state.extra["branches"] = [compile_body(b, state.query_language) for b in raw.get("Branches", [])]


def _compile_map(raw: dict[str, Any], state: State, program_lang: str) -> None:
    lang = state.query_language
    body = raw.get("ItemProcessor") or raw.get("Iterator")
    state.extra["processor"] = compile_body(body, lang)
    config = body.get("ProcessorConfig", {})
    state.extra["mode"] = config.get("Mode", "INLINE")
    state.extra["execution_type"] = config.get("ExecutionType", "STANDARD")
    state.extra["legacy_iterator"] = "Iterator" in raw
    if lang == JSONPATH:
        state.extra["items_path"] = compile_query(raw["ItemsPath"]) if "ItemsPath" in raw else None
        selector = raw.get("ItemSelector", raw.get("Parameters"))
        state.parameters = None  # Map's Parameters is the legacy ItemSelector, not a task input template
        state.extra["item_selector"] = compile_jsonpath_template(selector) if selector is not None else None
    else:
        state.extra["items"] = compile_jsonata_template(raw["Items"], "Items") if "Items" in raw else None
        selector = raw.get("ItemSelector")
        state.extra["item_selector"] = compile_jsonata_template(selector, "ItemSelector") if selector is not None else None
    for name in ("MaxConcurrency", "ToleratedFailureCount", "ToleratedFailurePercentage"):
        state.extra[name] = _seconds_field(raw, name, lang)
        if f"{name}Path" in raw:
            state.extra[f"{name}Path"] = compile_query(raw[f"{name}Path"])
            state.extra[f"{name}PathText"] = raw[f"{name}Path"]
    state.extra["item_reader"] = raw.get("ItemReader")
    state.extra["item_batcher"] = raw.get("ItemBatcher")
    state.extra["result_writer"] = raw.get("ResultWriter")
    state.extra["label"] = raw.get("Label")


_COMPILERS: dict[str, Callable[[dict[str, Any], State, str], None]] = {
    "Pass": _compile_pass, "Task": _compile_task, "Choice": _compile_choice, "Wait": _compile_wait,
    "Succeed": lambda raw, state, lang: None, "Fail": _compile_fail, "Parallel": _compile_parallel,
    "Map": _compile_map,
}


def compile_body(definition: dict[str, Any], inherited_language: str = JSONPATH) -> Program:
    lang = definition.get("QueryLanguage", inherited_language)
    states: dict[str, State] = {}
    for name, raw in definition["States"].items():
        state = State(name=name, type=raw["Type"], query_language=raw.get("QueryLanguage", lang))
        _compile_common(raw, state)
        _COMPILERS[state.type](raw, state, lang)
        states[name] = state
    return Program(definition["StartAt"], states, lang, definition.get("TimeoutSeconds"), definition)


def compile_program(definition: dict[str, Any]) -> Program:
    """Validate, then compile; raises DefinitionError listing every finding."""
    from asl.validate import validate

    findings = [d for d in validate(definition) if d.severity == "ERROR"]
    if findings:
        raise DefinitionError(findings)
    return compile_body(definition)

