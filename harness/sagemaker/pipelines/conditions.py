"""A Condition step's conditions, compiled once and evaluated to True or False.

Mirrors "Condition step" in the SageMaker Pipelines developer guide and the condition forms the SDK v2 writes:
`{"Type": "Equals"|"GreaterThan"|"GreaterThanOrEqualTo"|"LessThan"|"LessThanOrEqualTo", "LeftValue", "RightValue"}`,
`{"Type": "In", "QueryValue", "Values": [...]}`, `{"Type": "Not", "Condition": {...}}` and
`{"Type": "Or", "Conditions": [...]}`. The step's list of conditions is a conjunction. Numbers compare as numbers
(a numeric string against a number is read as a number, as parameters and property files often give strings);
anything else compares as text.
"""
from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from harness.sagemaker.pipelines.expressions import (EvaluationError, ExpressionError, Node, Reference,
                                                     Scope, compile_value, pointer_join)

COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "Equals": operator.eq,
    "GreaterThan": operator.gt,
    "GreaterThanOrEqualTo": operator.ge,
    "LessThan": operator.lt,
    "LessThanOrEqualTo": operator.le,
}
CONDITION_TYPES = (*COMPARISONS, "In", "Not", "Or")


class Condition:
    location: str = ""

    def evaluate(self, scope: Scope) -> bool:
        raise NotImplementedError

    def references(self) -> Iterator[Reference]:
        raise NotImplementedError


@dataclass(frozen=True)
class Comparison(Condition):
    type: str
    left: Node
    right: Node
    location: str = ""

    def evaluate(self, scope: Scope) -> bool:
        left, right = comparable(self.left.evaluate(scope), self.right.evaluate(scope))
        try:
            return COMPARISONS[self.type](left, right)
        except TypeError:
            raise EvaluationError(f"condition {self.type} at {self.location}: cannot compare {left!r} with "
                                  f"{right!r}") from None

    def references(self) -> Iterator[Reference]:
        yield from self.left.references()
        yield from self.right.references()


@dataclass(frozen=True)
class In(Condition):
    query: Node
    values: tuple[Node, ...]
    location: str = ""

    def evaluate(self, scope: Scope) -> bool:
        query = self.query.evaluate(scope)
        for node in self.values:
            left, right = comparable(query, node.evaluate(scope))
            if left == right:
                return True
        return False

    def references(self) -> Iterator[Reference]:
        yield from self.query.references()
        for node in self.values:
            yield from node.references()


@dataclass(frozen=True)
class Not(Condition):
    condition: Condition
    location: str = ""

    def evaluate(self, scope: Scope) -> bool:
        return not self.condition.evaluate(scope)

    def references(self) -> Iterator[Reference]:
        return self.condition.references()


@dataclass(frozen=True)
class Or(Condition):
    conditions: tuple[Condition, ...]
    location: str = ""

    def evaluate(self, scope: Scope) -> bool:
        return any(condition.evaluate(scope) for condition in self.conditions)

    def references(self) -> Iterator[Reference]:
        for condition in self.conditions:
            yield from condition.references()


def compile_condition(raw: Any, location: str) -> Condition:
    """One condition dict -> Condition.

    Raises:
        ExpressionError: an unknown Type or a missing operand.
    """
    if not isinstance(raw, dict):
        raise ExpressionError("a condition must be an object with a Type", location)
    kind = raw.get("Type")
    if kind in COMPARISONS:
        for member in ("LeftValue", "RightValue"):
            if member not in raw:
                raise ExpressionError(f"condition {kind} needs {member}", location)
        return Comparison(kind, compile_value(raw["LeftValue"], pointer_join(location, "LeftValue")),
                          compile_value(raw["RightValue"], pointer_join(location, "RightValue")), location)
    if kind == "In":
        if "QueryValue" not in raw or not isinstance(raw.get("Values"), list):
            raise ExpressionError("condition In needs QueryValue and a Values list", location)
        return In(compile_value(raw["QueryValue"], pointer_join(location, "QueryValue")),
                  tuple(compile_value(value, pointer_join(location, "Values", index))
                        for index, value in enumerate(raw["Values"])), location)
    if kind == "Not":
        return Not(compile_condition(raw.get("Condition"), pointer_join(location, "Condition")), location)
    if kind == "Or":
        if not isinstance(raw.get("Conditions"), list) or not raw["Conditions"]:
            raise ExpressionError("condition Or needs a non-empty Conditions list", location)
        return Or(tuple(compile_condition(item, pointer_join(location, "Conditions", index))
                        for index, item in enumerate(raw["Conditions"])), location)
    raise ExpressionError(f"unknown condition Type {kind!r} (one of {', '.join(CONDITION_TYPES)})", location)


def compile_conditions(raw: Any, location: str) -> tuple[Condition, ...]:
    if not isinstance(raw, list):
        raise ExpressionError("Conditions must be a list", location)
    return tuple(compile_condition(item, pointer_join(location, index)) for index, item in enumerate(raw))


def evaluate_all(conditions: tuple[Condition, ...], scope: Scope) -> bool:
    """The Condition step's outcome: every condition holds."""
    return all(condition.evaluate(scope) for condition in conditions)


def comparable(left: Any, right: Any) -> tuple[Any, Any]:
    """Bring two operands to one kind: numbers when either side is a number and the other reads as one."""
    if _is_number(left) and isinstance(right, str):
        right = _number_or(right)
    elif _is_number(right) and isinstance(left, str):
        left = _number_or(left)
    return left, right


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _number_or(text: str) -> Any:
    try:
        return float(text)
    except ValueError:
        return text
