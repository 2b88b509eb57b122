"""Payload templates, compiled once: Parameters/ResultSelector/ItemSelector (JSONPath) and
Arguments/Output/Assign/... (JSONata), and the two ways of evaluating a single value.

A compiled template is a tree of `Value` nodes; evaluating it builds a fresh document without
copying the parts that are constants.
"""
from __future__ import annotations

from typing import Any, Callable

from asl import jsonata
from asl.errors import QUERY_EVALUATION_ERROR, RUNTIME, StatesError
from asl.history import to_json
from asl.intrinsics import compile_intrinsic, is_intrinsic
from asl.paths import PathNotFound, compile_query

Evaluator = Callable[["Scope"], Any]


class Scope:
    """What an expression can see: the data (`$` / `$states.input`), `$$`, variables and more."""

    __slots__ = ("data", "context", "variables", "rng", "now_ms", "states")

    def __init__(self, data: Any, context: Any, variables: dict[str, Any], rng: Any = None, now_ms: int | None = None,
                 states: dict[str, Any] | None = None):
        self.data = data
        self.context = context
        self.variables = variables
        self.rng = rng
        self.now_ms = now_ms
        self.states = states


def describe_input(value: Any) -> str:
    return to_json(value)


# --------------------------------------------------------------------------- JSONPath
def compile_jsonpath_value(text: str, field: str) -> Evaluator:
    """A `key.$` value: an intrinsic function call or a path (over $, $$ or a variable)."""
    if is_intrinsic(text):
        fn = compile_intrinsic(text)
        return lambda scope: fn.evaluate(scope.data, scope.context, scope.variables, scope.rng)
    query = compile_query(text)

    def get(scope: Scope) -> Any:
        try:
            return query.get(scope.data, scope.context, scope.variables)
        except PathNotFound:
            source = scope.context if query.root == "context" else scope.data
            if query.root == "variable":
                raise StatesError(RUNTIME, f"The JSONPath '{text}' specified for the field '{field}' could not be found "
                                           f"in the input '{describe_input(source)}'") from None
            raise StatesError(RUNTIME, f"The JSONPath '{text}' specified for the field '{field}' could not be found "
                                       f"in the input '{describe_input(scope.data)}'") from None
    return get


def compile_jsonpath_template(template: Any) -> Evaluator:
    """Parameters-style template: keys ending in `.$` take the value of a path or intrinsic."""
    if isinstance(template, dict):
        parts: list[tuple[str, bool, Any]] = []
        for key, value in template.items():
            if key.endswith(".$") and isinstance(value, str):
                parts.append((key[:-2], True, compile_jsonpath_value(value, key)))
            else:
                parts.append((key, False, compile_jsonpath_template(value)))

        def build(scope: Scope) -> dict[str, Any]:
            return {k: fn(scope) for k, _, fn in parts}
        return build
    if isinstance(template, list):
        items = [compile_jsonpath_template(v) for v in template]
        return lambda scope: [fn(scope) for fn in items]
    return lambda scope, v=template: v


# --------------------------------------------------------------------------- JSONata
def _jsonata_bindings(scope: Scope) -> dict[str, Any]:
    bindings = dict(scope.variables)
    bindings["states"] = scope.states
    return bindings


def compile_jsonata_expression(text: str, field: str) -> Evaluator:
    """One `{% expr %}` string; `field` is the location AWS names in errors ("Output/result")."""
    body = jsonata.template_body(text)
    expr = jsonata.compile_expression(body)

    def evaluate(scope: Scope) -> Any:
        value = expr.evaluate(_jsonata_bindings(scope), rng=scope.rng, now_ms=scope.now_ms, field=field)
        if value is jsonata.UNDEFINED:
            raise StatesError(QUERY_EVALUATION_ERROR, expr.cause("returned nothing (undefined).", field),
                              location=field)
        return value
    evaluate.body = body  # type: ignore[attr-defined]
    return evaluate


def compile_jsonata_template(template: Any, field: str) -> Evaluator:
    """Arguments/Output/Assign-style template: any string `{% %}` inside is evaluated."""
    if isinstance(template, str) and jsonata.is_jsonata_template(template):
        return compile_jsonata_expression(template, field)
    if isinstance(template, dict):
        parts = [(k, compile_jsonata_template(v, f"{field}/{k}")) for k, v in template.items()]
        return lambda scope: {k: fn(scope) for k, fn in parts}
    if isinstance(template, list):
        items = [compile_jsonata_template(v, f"{field}[{i}]") for i, v in enumerate(template)]
        return lambda scope: [fn(scope) for fn in items]
    return lambda scope, v=template: v
