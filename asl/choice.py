"""Choice rules compiled to predicates: every comparison operator, their `*Path` forms, the `Is*`
tests and And/Or/Not (JSONPath), and `Condition` (JSONata).

A comparison whose variable has the wrong type is simply false, as on AWS; a `Variable` path that
names nothing is a States.Runtime error (only `IsPresent` may look at a missing field).
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Any, Callable

from asl.errors import RUNTIME, StatesError
from asl.paths import PathNotFound, compile_query

Predicate = Callable[[Any], bool]  # takes a payload.Scope

_TIMESTAMP = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def parse_timestamp(value: Any) -> dt.datetime | None:
    """An RFC 3339 date-time (with 'T' and an offset), or None."""
    if not isinstance(value, str):
        return None
    m = _TIMESTAMP.match(value)
    if not m:
        return None
    try:
        frac = m.group(7) or ""
        micro = int((frac[1:] + "000000")[:6]) if frac else 0
        tz = dt.timezone.utc if m.group(8) == "Z" else dt.timezone(
            (1 if m.group(8)[0] == "+" else -1) * dt.timedelta(hours=int(m.group(8)[1:3]), minutes=int(m.group(8)[4:6])))
        return dt.datetime(int(m.group(1)), int(m.group(2)), int(m.group(3)), int(m.group(4)), int(m.group(5)),
                           int(m.group(6)), micro, tzinfo=tz)
    except ValueError:
        return None


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _string_matches(pattern: str) -> re.Pattern[str]:
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if c == "*" else re.escape(c))
        i += 1
    return re.compile("".join(out), re.DOTALL)


_ORDER = {
    "Equals": lambda a, b: a == b, "LessThan": lambda a, b: a < b, "GreaterThan": lambda a, b: a > b,
    "LessThanEquals": lambda a, b: a <= b, "GreaterThanEquals": lambda a, b: a >= b,
}
_KINDS: dict[str, Callable[[Any], Any]] = {
    "String": lambda v: v if isinstance(v, str) else None,
    "Numeric": lambda v: v if _is_number(v) else None,
    "Boolean": lambda v: v if isinstance(v, bool) else None,
    "Timestamp": parse_timestamp,
}
_IS_TESTS: dict[str, Callable[[Any], bool]] = {
    "IsNull": lambda v: v is None,
    "IsNumeric": _is_number,
    "IsString": lambda v: isinstance(v, str),
    "IsBoolean": lambda v: isinstance(v, bool),
    "IsTimestamp": lambda v: parse_timestamp(v) is not None,
}

COMPARISON_OPERATORS: set[str] = (
    {f"{k}{o}" for k in ("String", "Numeric", "Timestamp") for o in _ORDER}
    | {f"{k}{o}Path" for k in ("String", "Numeric", "Timestamp") for o in _ORDER}
    | {"BooleanEquals", "BooleanEqualsPath", "StringMatches", "IsPresent"} | set(_IS_TESTS)
)


def _variable_getter(text: str) -> Callable[[Any], Any]:
    query = compile_query(text)

    def get(scope: Any) -> Any:
        try:
            return query.get(scope.data, scope.context, scope.variables)
        except PathNotFound:
            raise StatesError(RUNTIME, f"Invalid path '{text}': The choice state's condition path references an "
                                       f"invalid value.") from None
    return get


def compile_rule(rule: dict[str, Any]) -> Predicate:
    """A JSONPath choice rule (without its Next) as a predicate over a Scope."""
    if "And" in rule:
        parts = [compile_rule(r) for r in rule["And"]]
        return lambda scope: all(p(scope) for p in parts)
    if "Or" in rule:
        parts = [compile_rule(r) for r in rule["Or"]]
        return lambda scope: any(p(scope) for p in parts)
    if "Not" in rule:
        inner = compile_rule(rule["Not"])
        return lambda scope: not inner(scope)
    variable = rule["Variable"]
    operator = next(k for k in rule if k in COMPARISON_OPERATORS)
    operand = rule[operator]
    if operator == "IsPresent":
        query = compile_query(variable)

        def is_present(scope: Any) -> bool:
            try:
                query.get(scope.data, scope.context, scope.variables)
                found = True
            except PathNotFound:
                found = False
            return found is bool(operand)
        return is_present
    get = _variable_getter(variable)
    if operator in _IS_TESTS:
        test = _IS_TESTS[operator]
        return lambda scope: test(get(scope)) is bool(operand)
    if operator == "StringMatches":
        rx = _string_matches(operand)
        return lambda scope: isinstance(v := get(scope), str) and rx.fullmatch(v) is not None
    by_path = operator.endswith("Path")
    base = operator[:-4] if by_path else operator
    kind = next(k for k in _KINDS if base.startswith(k))
    coerce, compare = _KINDS[kind], _ORDER[base[len(kind):]]
    if by_path:
        other = _variable_getter(operand)

        def by_path_rule(scope: Any) -> bool:
            a, b = coerce(get(scope)), coerce(other(scope))
            return a is not None and b is not None and compare(a, b)
        return by_path_rule
    expected = coerce(operand)

    def literal_rule(scope: Any) -> bool:
        a = coerce(get(scope))
        return a is not None and expected is not None and compare(a, expected)
    return literal_rule
