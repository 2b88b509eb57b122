"""Whole-definition checks, reported the way ValidateStateMachineDefinition reports them.

Every finding is gathered (never just the first), each with AWS's code, a JSON pointer and a
message, so one run shows a user everything to fix. The engine refuses a definition with errors,
so a false positive here is a machine AWS would run and drydock would not: the recorded
conformance corpus (every definition in it ran on AWS) must validate clean.

The rules are tables: `STATE_SHAPES` says which fields each state type takes and which must or
may not appear together, `JSONPATH_ONLY`/`JSONATA_ONLY` remove the other query language's fields,
and `FIELD_CHECKS` says what value each field name takes, wherever it appears.
https://docs.aws.amazon.com/step-functions/latest/dg/concepts-amazon-states-language.html
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from asl.errors import MISSING_END_STATE, MISSING_TRANSITION_TARGET, SCHEMA_VALIDATION_FAILED, Diagnostic
from asl.paths import PathSyntaxError, compile_query, compile_reference_path
from asl.pointer import parts, pointer

try:
    from asl.intrinsics import compile_intrinsic, is_intrinsic
except ImportError:  # asl/intrinsics.py lands separately; until then a `States.` call is taken on trust
    def is_intrinsic(text: str) -> bool:
        return isinstance(text, str) and text.startswith("States.")

    def compile_intrinsic(text: str) -> Any:
        return text

try:
    from asl.jsonata import compile_expression
except ImportError:  # asl/jsonata.py lands separately; until then a `{% %}` expression is taken on trust
    def compile_expression(text: str) -> Any:
        return text

JSONPATH, JSONATA = "JSONPath", "JSONata"
ALL_ERRORS = "States.ALL"
MAX_STATE_NAME = 80
MAX_SECONDS = 99_999_999  # TimeoutSeconds, HeartbeatSeconds, Wait Seconds, MaxAttempts, IntervalSeconds
MAX_DELAY_SECONDS = 31_622_400  # a year and a day: the retrier's MaxDelaySeconds ceiling

Findings = Iterator[Diagnostic]
Check = Callable[[Any, str, str], Findings]  # (value, pointer, query language) -> findings


def validate(definition: dict[str, Any]) -> list[Diagnostic]:
    """Check a whole state machine definition.

    Args:
        definition: the parsed definition (see `asl.load.load_definition`).

    Returns:
        Every finding, body by body (a body's transitions after its states); `[]` when AWS would
        accept the definition.
    """
    if not isinstance(definition, dict):
        return [_error("", "The state machine definition must be a JSON object")]
    language = definition.get("QueryLanguage", JSONPATH)
    language = language if language in (JSONPATH, JSONATA) else JSONPATH
    return [*_body(definition, "", language, TOP_LEVEL), *_unique_names(definition)]


# --------------------------------------------------------------------------- findings
def _error(at: str, message: str, code: str = SCHEMA_VALIDATION_FAILED) -> Diagnostic:
    return Diagnostic("ERROR", code, message, at)


def _field_name(at: str) -> str:
    *_, parent, last = ["", "", *parts(at)]
    return f"{parent}[{last}]" if last.isdigit() and parent else last


def _must_be(at: str, what: str) -> Diagnostic:
    return _error(at, f"The value for the field '{_field_name(at)}' must be {what}")


# --------------------------------------------------------------------------- value checks
def _is_expression(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("{%") and value.endswith("%}") and len(value) >= 4


def _expression(text: str, at: str) -> Findings:
    try:
        compile_expression(text[2:-2].strip())  # the body of `{% ... %}`
    except ValueError as exc:
        yield _must_be(at, f"a valid JSONata expression ({exc})")


def _expressions(value: Any, at: str) -> Findings:
    """Every `{% %}` expression anywhere inside a JSONata field value."""
    if _is_expression(value):
        yield from _expression(value, at)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _expressions(item, at + pointer(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _expressions(item, at + pointer(index))


def _or_expression(check: Check) -> Check:
    """A field that, in a JSONata state, may instead hold a `{% %}` expression."""
    def checked(value: Any, at: str, language: str) -> Findings:
        if language == JSONATA and _is_expression(value):
            return _expression(value, at)
        return check(value, at, language)
    return checked


def _string(value: Any, at: str, language: str) -> Findings:
    if not isinstance(value, str):
        yield _must_be(at, "a string")


def _non_empty_string(value: Any, at: str, language: str) -> Findings:
    if not isinstance(value, str) or not value:
        yield _must_be(at, "a non-empty string")


def _boolean(value: Any, at: str, language: str) -> Findings:
    if not isinstance(value, bool):
        yield _must_be(at, "a boolean")


def _number(value: Any, at: str, language: str) -> Findings:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        yield _must_be(at, "a number")


def _object(value: Any, at: str, language: str) -> Findings:
    if not isinstance(value, dict):
        yield _must_be(at, "a JSON object")


def _integer(low: int, high: int | None = None) -> Check:
    what = f"an integer between {low} and {high}" if high is not None else f"an integer of at least {low}"

    def check(value: Any, at: str, language: str) -> Findings:
        integral = not isinstance(value, bool) and isinstance(value, (int, float)) and float(value).is_integer()
        if not integral or value < low or (high is not None and value > high):
            yield _must_be(at, what)
    return check


def _bounded(low: float, high: float | None = None) -> Check:
    what = f"a number between {low:g} and {high:g}" if high is not None else f"a number of at least {low:g}"

    def check(value: Any, at: str, language: str) -> Findings:
        numeric = not isinstance(value, bool) and isinstance(value, (int, float))
        if not numeric or value < low or (high is not None and value > high):
            yield _must_be(at, what)
    return check


def _one_of(*choices: str) -> Check:
    def check(value: Any, at: str, language: str) -> Findings:
        if value not in choices:
            yield _must_be(at, "one of " + ", ".join(choices))
    return check


_ARN = re.compile(r"arn:[^:\s]+:[^:\s]+:[^:\s]*:[^:\s]*:\S+")


def _arn(value: Any, at: str, language: str) -> Findings:
    if not isinstance(value, str) or not _ARN.fullmatch(value):
        yield _must_be(at, "an ARN")


# Step Functions timestamps: RFC 3339 with an uppercase T and Z (Wait state docs).
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")


def _timestamp(value: Any, at: str, language: str) -> Findings:
    if not isinstance(value, str) or not _TIMESTAMP.fullmatch(value):
        yield _must_be(at, "an RFC 3339 timestamp such as 2016-03-14T01:59:00Z")


def _path(value: Any, at: str, language: str) -> Findings:
    try:
        compile_query(value)
    except PathSyntaxError as exc:
        yield _must_be(at, f"a valid JSONPath ({exc})")


def _path_or_null(value: Any, at: str, language: str) -> Findings:
    if value is not None:
        yield from _path(value, at, language)


def _reference(value: Any, at: str, language: str) -> Findings:
    try:
        definite = compile_query(value).definite
    except PathSyntaxError as exc:
        yield _must_be(at, f"a valid reference path ({exc})")
        return
    if not definite:
        yield _must_be(at, "a valid reference path (names and indexes only)")


def _result_path(value: Any, at: str, language: str) -> Findings:
    if value is None:
        return
    try:
        compile_reference_path(value)
    except PathSyntaxError as exc:
        yield _must_be(at, f"a valid reference path ({exc})")


def _intrinsic(text: str, at: str) -> Findings:
    try:
        compile_intrinsic(text)
    except ValueError as exc:
        yield _must_be(at, f"a valid intrinsic function call ({exc})")


def _path_or_intrinsic(value: Any, at: str, language: str) -> Findings:
    """A `.$` field of a payload template, ErrorPath or CausePath: a path or an intrinsic call."""
    if is_intrinsic(value):
        yield from _intrinsic(value, at)
        return
    try:
        compile_query(value)
    except PathSyntaxError:
        yield _must_be(at, "a valid JSONPath or a valid intrinsic function call")


def _template_values(value: Any, at: str) -> Findings:
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and key.endswith(".$"):
                yield from _path_or_intrinsic(item, at + pointer(key), JSONPATH)
            else:
                yield from _template_values(item, at + pointer(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _template_values(item, at + pointer(index))


def _template(value: Any, at: str, language: str) -> Findings:
    """A payload template (Parameters, ResultSelector, ...) in JSONPath; expressions in JSONata."""
    if language == JSONATA:
        yield from _expressions(value, at)
    elif not isinstance(value, dict):
        yield _must_be(at, "a JSON object")
    else:
        yield from _template_values(value, at)


def _arguments(value: Any, at: str, language: str) -> Findings:
    if not (isinstance(value, dict) or _is_expression(value)):
        yield _must_be(at, "a JSON object or a JSONata expression")
    yield from _expressions(value, at)


def _items(value: Any, at: str, language: str) -> Findings:
    if not (isinstance(value, list) or _is_expression(value)):
        yield _must_be(at, "a JSON array or a JSONata expression")
    yield from _expressions(value, at)


def _output(value: Any, at: str, language: str) -> Findings:
    yield from _expressions(value, at)


_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,79}")


def _assign(value: Any, at: str, language: str) -> Findings:
    if not isinstance(value, dict):
        yield _must_be(at, "a JSON object")
        return
    for key in value:
        name = str(key)[:-2] if language == JSONPATH and str(key).endswith(".$") else str(key)
        if not _VARIABLE.fullmatch(name):
            yield _error(at + pointer(key), f"'{name}' is not a valid variable name: use at most 80 letters, digits "
                                            "and underscores, not starting with a digit")
    yield from _template(value, at, language)


def _error_equals(value: Any, at: str, language: str) -> Findings:
    if not isinstance(value, list) or not value:
        yield _must_be(at, "a non-empty array of error names")
        return
    for index, name in enumerate(value):
        if not isinstance(name, str) or not name:
            yield _must_be(at + pointer(index), "a non-empty string")
    if ALL_ERRORS in value and len(value) > 1:
        yield _error(at, f"{ALL_ERRORS} must appear alone in ErrorEquals")


def _strings(value: Any, at: str, language: str) -> Findings:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        yield _must_be(at, "an array of strings")


# --------------------------------------------------------------------------- shapes
@dataclass(frozen=True)
class Shape:
    """The fields an object takes, and which of them must or may not appear together."""

    fields: frozenset[str]
    required: tuple[str, ...] = ()
    exactly_one: tuple[tuple[str, ...], ...] = ()
    at_most_one: tuple[tuple[str, ...], ...] = ()


def _shape(fields: str, required: str = "", exactly_one: tuple[str, ...] = (), at_most_one: tuple[str, ...] = ()) -> Shape:
    """A Shape from space-separated field names (groups as space-separated strings)."""
    return Shape(frozenset(fields.split()), tuple(required.split()),
                 tuple(tuple(g.split()) for g in exactly_one), tuple(tuple(g.split()) for g in at_most_one))


STRING_COMPARISONS = ("StringEquals", "StringLessThan", "StringGreaterThan", "StringLessThanEquals", "StringGreaterThanEquals")
NUMERIC_COMPARISONS = ("NumericEquals", "NumericLessThan", "NumericGreaterThan", "NumericLessThanEquals", "NumericGreaterThanEquals")
TIMESTAMP_COMPARISONS = ("TimestampEquals", "TimestampLessThan", "TimestampGreaterThan", "TimestampLessThanEquals",
                         "TimestampGreaterThanEquals")
TYPE_TESTS = ("IsNull", "IsPresent", "IsNumeric", "IsString", "IsBoolean", "IsTimestamp")
COMPARISONS: dict[str, Check] = {
    **{op: _string for op in STRING_COMPARISONS}, "StringMatches": _string,
    **{op: _number for op in NUMERIC_COMPARISONS},
    **{op: _timestamp for op in TIMESTAMP_COMPARISONS},
    "BooleanEquals": _boolean,
    **{op: _boolean for op in TYPE_TESTS},
    **{op + "Path": _reference for op in (*STRING_COMPARISONS, *NUMERIC_COMPARISONS, *TIMESTAMP_COMPARISONS, "BooleanEquals")},
}
COMBINATORS = ("And", "Or", "Not")

_COMMON = "Type Comment QueryLanguage"
_IO = "InputPath OutputPath Output Assign"
_RESULT = "Parameters ResultPath ResultSelector Retry Catch"
STATE_SHAPES: dict[str, Shape] = {
    "Pass": _shape(f"{_COMMON} Next End {_IO} Parameters ResultPath Result"),
    "Task": _shape(f"{_COMMON} Next End {_IO} {_RESULT} Arguments Resource Credentials TimeoutSeconds TimeoutSecondsPath "
                   "HeartbeatSeconds HeartbeatSecondsPath", required="Resource",
                   at_most_one=("TimeoutSeconds TimeoutSecondsPath", "HeartbeatSeconds HeartbeatSecondsPath")),
    "Choice": _shape(f"{_COMMON} {_IO} Choices Default", required="Choices"),
    "Wait": _shape(f"{_COMMON} Next End {_IO} Seconds SecondsPath Timestamp TimestampPath",
                   exactly_one=("Seconds SecondsPath Timestamp TimestampPath",)),
    "Succeed": _shape(f"{_COMMON} InputPath OutputPath Output"),
    "Fail": _shape(f"{_COMMON} Error ErrorPath Cause CausePath", at_most_one=("Error ErrorPath", "Cause CausePath")),
    "Parallel": _shape(f"{_COMMON} Next End {_IO} {_RESULT} Arguments Branches", required="Branches"),
    "Map": _shape(f"{_COMMON} Next End {_IO} {_RESULT} ItemProcessor Iterator ItemsPath Items ItemSelector ItemReader "
                  "ItemBatcher ResultWriter MaxConcurrency MaxConcurrencyPath ToleratedFailureCount ToleratedFailureCountPath "
                  "ToleratedFailurePercentage ToleratedFailurePercentagePath Label",
                  exactly_one=("ItemProcessor Iterator",),
                  at_most_one=("ItemSelector Parameters", "Items ItemsPath", "MaxConcurrency MaxConcurrencyPath",
                               "ToleratedFailureCount ToleratedFailureCountPath",
                               "ToleratedFailurePercentage ToleratedFailurePercentagePath")),
}
TOP_LEVEL = _shape("StartAt States Comment Version TimeoutSeconds QueryLanguage", required="StartAt States")
BRANCH = _shape("StartAt States Comment", required="StartAt States")
PROCESSOR = _shape("StartAt States Comment ProcessorConfig", required="StartAt States")
RETRIER = _shape("ErrorEquals IntervalSeconds MaxAttempts BackoffRate MaxDelaySeconds JitterStrategy Comment",
                 required="ErrorEquals")
CATCHER = _shape("ErrorEquals Next ResultPath Comment Assign Output", required="ErrorEquals Next")
CHOICE_RULE = _shape(" ".join(("Next Comment Assign Output Condition Variable", *COMPARISONS, *COMBINATORS)))
NESTED_RULE = _shape(" ".join(("Comment Variable", *COMPARISONS, *COMBINATORS)))
ITEM_READER = _shape("Resource Parameters Arguments ReaderConfig", required="Resource")
READER_CONFIG = _shape("InputType CSVHeaderLocation CSVHeaders CSVDelimiter MaxItems MaxItemsPath ManifestType",
                       at_most_one=("MaxItems MaxItemsPath",))
ITEM_BATCHER = _shape("MaxItemsPerBatch MaxItemsPerBatchPath MaxInputBytesPerBatch MaxInputBytesPerBatchPath BatchInput",
                      at_most_one=("MaxItemsPerBatch MaxItemsPerBatchPath", "MaxInputBytesPerBatch MaxInputBytesPerBatchPath"))
RESULT_WRITER = _shape("Resource Parameters Arguments WriterConfig")
PROCESSOR_CONFIG = _shape("Mode ExecutionType")

# Fields of one query language only (JSONata docs, "JSONPath-only fields"): every `*Path` field is JSONPath.
JSONPATH_ONLY = frozenset({"Parameters", "ResultSelector", "Result", "Variable", *COMBINATORS, *COMPARISONS})
JSONATA_ONLY = frozenset({"Arguments", "Output", "Items", "Condition"})


def _language_of(field: Any) -> str | None:
    if field in JSONPATH_ONLY or (isinstance(field, str) and field.endswith("Path")):
        return JSONPATH
    return JSONATA if field in JSONATA_ONLY else None


def _fields(obj: dict[str, Any], shape: Shape, at: str, language: str) -> Findings:
    for name in obj:
        owner = _language_of(name)
        if name not in shape.fields:
            yield _error(at + pointer(name), f"Field '{name}' is not supported")
        elif owner not in (None, language):
            yield _error(at + pointer(name), f"Field '{name}' is not supported when QueryLanguage is {language}")


def _required(obj: dict[str, Any], names: tuple[str, ...], at: str) -> Findings:
    missing = [name for name in names if name not in obj]
    if missing:
        yield _error(at, "These fields are required: [" + ", ".join(missing) + "]")


def _presence(obj: dict[str, Any], shape: Shape, at: str) -> Findings:
    yield from _required(obj, shape.required, at)
    for group in shape.exactly_one:
        if sum(name in obj for name in group) != 1:
            yield _error(at, "Exactly one of these fields is required: [" + ", ".join(group) + "]")
    for group in shape.at_most_one:
        present = [name for name in group if name in obj]
        if len(present) > 1:
            yield _error(at, "These fields cannot be used together: [" + ", ".join(present) + "]")


def _object_of(shape: Shape) -> Check:
    """An object of the given shape whose present fields are each checked by FIELD_CHECKS."""
    def check(value: Any, at: str, language: str) -> Findings:
        if not isinstance(value, dict):
            yield _must_be(at, "a JSON object")
            return
        yield from _fields(value, shape, at, language)
        yield from _presence(value, shape, at)
        yield from _values(value, shape, at, language)
    return check


def _values(obj: dict[str, Any], shape: Shape, at: str, language: str) -> Findings:
    for name, value in obj.items():
        check = FIELD_CHECKS.get(name)
        if check is not None and name in shape.fields and _language_of(name) in (None, language):
            yield from check(value, at + pointer(name), language)


# --------------------------------------------------------------------------- structures
def _handlers(shape: Shape, kind: str) -> Check:
    """Retry or Catch: a list of retriers/catchers; States.ALL only in the last one."""
    one = _object_of(shape)

    def check(value: Any, at: str, language: str) -> Findings:
        if not isinstance(value, list):
            yield _must_be(at, "a JSON array")
            return
        for index, handler in enumerate(value):
            yield from one(handler, at + pointer(index), language)
            errors = handler.get("ErrorEquals") if isinstance(handler, dict) else None
            if isinstance(errors, list) and ALL_ERRORS in errors and index != len(value) - 1:
                yield _error(at + pointer(index, "ErrorEquals"), f"{ALL_ERRORS} must appear in the last {kind}")
    return check


def _rule(value: Any, at: str, language: str, nested: bool = False) -> Findings:
    """One Choice rule: a JSONata Condition, or exactly one comparison or combinator on a Variable."""
    yield from _object_of(NESTED_RULE if nested else CHOICE_RULE)(value, at, language)
    if not isinstance(value, dict):
        return
    if language == JSONATA:
        yield from _required(value, ("Condition", "Next"), at)
        return
    yield from _required(value, () if nested else ("Next",), at)
    yield from _operator(value, at)
    for name in ("And", "Or"):
        if name in value:
            yield from _rules(value[name], at + pointer(name), language, nested=True)
    if "Not" in value:
        yield from _rule(value["Not"], at + pointer("Not"), language, nested=True)


def _operator(rule: dict[str, Any], at: str) -> Findings:
    operators = [name for name in rule if name in COMPARISONS or name in COMBINATORS]
    if len(operators) != 1:
        found = ", ".join(operators) or "none"
        yield _error(at, f"A choice rule must have exactly one comparison operator, And, Or or Not (found: {found})")
    elif operators[0] in COMPARISONS:
        yield from _required(rule, ("Variable",), at)
    elif operators[0] in COMBINATORS and "Variable" in rule:
        yield _error(at + pointer("Variable"), f"Field 'Variable' is not supported with '{operators[0]}'")


def _rules(value: Any, at: str, language: str, nested: bool = False) -> Findings:
    """Choices, or the operand list of And/Or: a non-empty array of rules."""
    if not isinstance(value, list) or not value:
        yield _must_be(at, "a non-empty array of choice rules")
        return
    for index, rule in enumerate(value):
        yield from _rule(rule, at + pointer(index), language, nested)


def _processor_config(value: Any, at: str, language: str) -> Findings:
    yield from _object_of(PROCESSOR_CONFIG)(value, at, language)
    if isinstance(value, dict) and value.get("Mode") == "DISTRIBUTED" and "ExecutionType" not in value:
        yield _error(at, "These fields are required: [ExecutionType]")


def _branches(value: Any, at: str, language: str) -> Findings:
    if not isinstance(value, list) or not value:
        yield _must_be(at, "a non-empty array of branches")
        return
    for index, branch in enumerate(value):
        yield from _body(branch, at + pointer(index), language, BRANCH)


def _processor(shape: Shape) -> Check:
    def check(value: Any, at: str, language: str) -> Findings:
        return _body(value, at, language, shape)
    return check


_SECONDS = _or_expression(_integer(1, MAX_SECONDS))
_COUNT = _or_expression(_integer(0))

FIELD_CHECKS: dict[str, Check] = {
    # states and bodies
    "Comment": _string, "Version": _string, "StartAt": _string, "Next": _string, "Default": _string,
    "End": _boolean, "QueryLanguage": _one_of(JSONPATH, JSONATA), "Label": _string,
    "InputPath": _path_or_null, "OutputPath": _path_or_null, "ResultPath": _result_path,
    "Parameters": _template, "ResultSelector": _template, "ItemSelector": _template, "Credentials": _template,
    "Assign": _assign, "Arguments": _arguments, "Output": _output, "Items": _items, "ItemsPath": _reference,
    "Resource": _arn, "TimeoutSeconds": _SECONDS, "HeartbeatSeconds": _SECONDS,
    "TimeoutSecondsPath": _reference, "HeartbeatSecondsPath": _reference,
    "Seconds": _or_expression(_integer(0, MAX_SECONDS)), "Timestamp": _or_expression(_timestamp),
    "SecondsPath": _reference, "TimestampPath": _reference,
    "Error": _or_expression(_string), "Cause": _or_expression(_string),
    "ErrorPath": _path_or_intrinsic, "CausePath": _path_or_intrinsic,
    "Choices": _rules, "Condition": _or_expression(_boolean), "Variable": _path, **COMPARISONS,
    "Branches": _branches,
    "ItemProcessor": _processor(PROCESSOR), "Iterator": _processor(PROCESSOR),  # legacy Iterator too (corpus: map_state_legacy_config)
    "ProcessorConfig": _processor_config,
    "Mode": _one_of("INLINE", "DISTRIBUTED"), "ExecutionType": _one_of("STANDARD", "EXPRESS"),
    "MaxConcurrency": _COUNT, "MaxConcurrencyPath": _reference,
    "ToleratedFailureCount": _COUNT, "ToleratedFailureCountPath": _reference,
    "ToleratedFailurePercentage": _or_expression(_bounded(0, 100)), "ToleratedFailurePercentagePath": _reference,
    "ItemReader": _object_of(ITEM_READER), "ReaderConfig": _object_of(READER_CONFIG),
    "InputType": _non_empty_string, "CSVHeaderLocation": _one_of("FIRST_ROW", "GIVEN"), "CSVHeaders": _strings,
    "MaxItems": _COUNT, "MaxItemsPath": _reference,
    "ItemBatcher": _object_of(ITEM_BATCHER), "BatchInput": _template,
    "MaxItemsPerBatch": _COUNT, "MaxItemsPerBatchPath": _reference,
    "MaxInputBytesPerBatch": _COUNT, "MaxInputBytesPerBatchPath": _reference,
    "ResultWriter": _object_of(RESULT_WRITER), "WriterConfig": _object,
    # error handling
    "Retry": _handlers(RETRIER, "retrier"), "Catch": _handlers(CATCHER, "catcher"),
    "ErrorEquals": _error_equals, "MaxAttempts": _integer(0, MAX_SECONDS), "IntervalSeconds": _integer(1, MAX_SECONDS),
    "BackoffRate": _bounded(1.0), "MaxDelaySeconds": _integer(1, MAX_DELAY_SECONDS),
    "JitterStrategy": _one_of("FULL", "NONE"),
}


# --------------------------------------------------------------------------- states
def _state(name: str, state: Any, at: str, language: str) -> Findings:
    if len(str(name)) > MAX_STATE_NAME:
        yield _error(at, f"State name '{str(name)[:20]}...' is longer than {MAX_STATE_NAME} characters")
    if not isinstance(state, dict):
        yield _must_be(at, "a JSON object")
        return
    kind = state.get("Type")
    shape = STATE_SHAPES.get(kind) if isinstance(kind, str) else None
    if shape is None:
        yield _type_error(state, at)
        return
    own = state.get("QueryLanguage", language)
    if language == JSONATA and own == JSONPATH:
        yield _error(at + pointer("QueryLanguage"), "A state cannot use JSONPath when the state machine uses JSONata")
    own = own if own in (JSONPATH, JSONATA) else language
    yield from _fields(state, shape, at, own)
    yield from _presence(state, shape, at)
    yield from _values(state, shape, at, own)
    yield from _transition(state, shape, at)
    yield from _timeouts(state, at)


def _type_error(state: dict[str, Any], at: str) -> Diagnostic:
    if "Type" not in state:
        return _error(at, "These fields are required: [Type]")
    return _must_be(at + pointer("Type"), "one of " + ", ".join(STATE_SHAPES))


def _transition(state: dict[str, Any], shape: Shape, at: str) -> Findings:
    """Next or `"End": true`, not both, for every type that moves on (Choice/Succeed/Fail take neither)."""
    if "Next" not in shape.fields:
        return
    ends = state.get("End") is True
    if "Next" in state and ends:
        yield _error(at, "Either 'Next' or '\"End\": true' is allowed, not both")
    elif "Next" not in state and not ends:
        yield _error(at, "One of 'Next' or '\"End\": true' is required")


def _timeouts(state: dict[str, Any], at: str) -> Findings:
    timeout, heartbeat = state.get("TimeoutSeconds"), state.get("HeartbeatSeconds")
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (timeout, heartbeat))
    if numbers and heartbeat >= timeout:
        yield _error(at + pointer("HeartbeatSeconds"), "HeartbeatSeconds must be smaller than TimeoutSeconds")


# --------------------------------------------------------------------------- bodies
def _body(body: Any, at: str, language: str, shape: Shape) -> Findings:
    """A top level, a Parallel branch or a Map processor: its fields, its states, then its graph."""
    if not isinstance(body, dict):
        yield _must_be(at, "a JSON object")
        return
    yield from _fields(body, shape, at, language)
    yield from _presence(body, shape, at)
    yield from _values(body, shape, at, language)
    states = body.get("States")
    if not isinstance(states, dict) or not states:
        if "States" in body:
            yield _must_be(at + pointer("States"), "a JSON object with at least one state")
        return
    for name, state in states.items():
        yield from _state(name, state, at + pointer("States", name), language)
    yield from _graph(body, states, at)


def _targets(state: Any, at: str) -> Iterator[tuple[str, str]]:
    """Every (pointer, state name) transition a state names: Next, Default, Choices[].Next, Catch[].Next."""
    if not isinstance(state, dict):
        return
    for field in ("Next", "Default"):
        if isinstance(state.get(field), str):
            yield at + pointer(field), state[field]
    for field in ("Choices", "Catch"):
        entries = state.get(field)
        for index, entry in enumerate(entries if isinstance(entries, list) else []):
            if isinstance(entry, dict) and isinstance(entry.get("Next"), str):
                yield at + pointer(field, index, "Next"), entry["Next"]


def _terminal(state: Any) -> bool:
    return isinstance(state, dict) and (state.get("Type") in ("Succeed", "Fail") or state.get("End") is True)


def _graph(body: dict[str, Any], states: dict[str, Any], at: str) -> Findings:
    edges = {name: list(_targets(state, at + pointer("States", name))) for name, state in states.items()}
    for found in edges.values():
        for where, target in found:
            if target not in states:
                yield _error(where, f"Missing 'Next' target: {target}", MISSING_TRANSITION_TARGET)
    if not any(_terminal(state) for state in states.values()):
        yield _error(at + pointer("States"), "Workflow has no terminal state", MISSING_END_STATE)
    start = body.get("StartAt")
    if not isinstance(start, str):
        return
    if start not in states:
        yield _error(at + pointer("StartAt"), f"Missing 'StartAt' target: {start}", MISSING_TRANSITION_TARGET)
        return
    reached = _reachable(start, edges)
    for name in states:
        if name not in reached:
            yield _error(at + pointer("States", name), f'State "{name}" is not reachable.')


def _reachable(start: str, edges: dict[str, list[tuple[str, str]]]) -> set[str]:
    reached, pending = {start}, [start]
    while pending:
        for _, target in edges[pending.pop()]:
            if target in edges and target not in reached:
                reached.add(target)
                pending.append(target)
    return reached


# --------------------------------------------------------------------------- names
def _bodies(body: Any, at: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every (pointer, States object) of a definition, nested Parallel branches and Map processors included."""
    states = body.get("States") if isinstance(body, dict) else None
    if not isinstance(states, dict):
        return
    yield at, states
    for name, state in states.items():
        if not isinstance(state, dict):
            continue
        here = at + pointer("States", name)
        branches = state.get("Branches")
        for index, branch in enumerate(branches if isinstance(branches, list) else []):
            yield from _bodies(branch, here + pointer("Branches", index))
        for field in ("ItemProcessor", "Iterator"):
            yield from _bodies(state.get(field), here + pointer(field))


def _unique_names(definition: dict[str, Any]) -> Findings:
    """State names are unique in the whole state machine, across branches and processors."""
    first: dict[str, str] = {}
    for at, states in _bodies(definition, ""):
        for name in states:
            here = at + pointer("States", name)
            if name in first:
                yield _error(here, f"State name '{name}' is already used at {first[name]}")
            else:
                first[name] = here
