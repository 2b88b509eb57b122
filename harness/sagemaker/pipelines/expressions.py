"""The values of a pipeline definition: literals, `Get` references, `Std:Join` and `Std:JsonGet`, compiled once.

Mirrors the expression forms of the Pipeline Definition JSON Schema (Version 2020-12-01) as the SageMaker SDK v2
writes them: `{"Get": "Parameters.Name"}`, `{"Get": "Execution.PipelineExecutionId"}`,
`{"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}` (a property of the step's Describe* response, list items
picked by index or by name: `Outputs['train']`), `{"Std:Join": {"On": "/", "Values": [...]}}` and
`{"Std:JsonGet": {"PropertyFile": {"Get": "Steps.Eval.PropertyFiles.Report"}, "Path": "a.b[0]"}}` (or `"S3Uri"`
instead of the property file). Each node keeps the JSON pointer it was compiled from, so a value that cannot be
computed at run time names its place in the definition.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Iterator, Protocol

from asl.pointer import pointer


class ExpressionError(ValueError):
    """A malformed expression in the definition (found when compiling; `location` is a JSON pointer)."""

    def __init__(self, message: str, location: str):
        super().__init__(f"{message} (at {location or '/'})")
        self.location = location


class EvaluationError(Exception):
    """A value that cannot be computed at run time: a missing property, an unreadable property file."""


@dataclass(frozen=True)
class Key:
    """A `['name']` segment: a map key, or the list item whose `...Name` member is `name`."""

    name: str


Segment = str | int | Key  # .Member | [0] | ['name']


@dataclass(frozen=True)
class Reference:
    """A `Get` target: `Parameters.X`, `Execution.X` or `Steps.<step>.<path>` (path may be empty)."""

    kind: str  # "Parameters" | "Execution" | "Steps"
    name: str
    path: tuple[Segment, ...]
    text: str
    location: str

    @property
    def property_file(self) -> str | None:
        """The PropertyFile name of `Steps.<step>.PropertyFiles.<name>`, else None."""
        if self.kind == "Steps" and len(self.path) == 2 and self.path[0] == "PropertyFiles":
            return str(self.path[1])
        return None


class Scope(Protocol):
    """What evaluating an expression may read: the execution's parameters, variables, steps and S3."""

    def parameter(self, name: str) -> Any: ...

    def execution_variable(self, name: str) -> Any: ...

    def step_property(self, reference: Reference) -> Any: ...

    def property_file(self, reference: Reference) -> Any: ...

    def read_json(self, s3_uri: str) -> Any: ...


# ----------------------------------------------------------------------------------------------------- nodes
class Node:
    location: str = ""

    def evaluate(self, scope: Scope) -> Any:
        raise NotImplementedError

    def references(self) -> Iterator[Reference]:
        return iter(())


@dataclass(frozen=True)
class Literal(Node):
    value: Any
    location: str = ""

    def evaluate(self, scope: Scope) -> Any:
        return self.value


@dataclass(frozen=True)
class Get(Node):
    reference: Reference
    location: str = ""

    def evaluate(self, scope: Scope) -> Any:
        ref = self.reference
        if ref.kind == "Parameters":
            return scope.parameter(ref.name)
        if ref.kind == "Execution":
            return scope.execution_variable(ref.name)
        if ref.property_file is not None:
            return scope.property_file(ref)
        return scope.step_property(ref)

    def references(self) -> Iterator[Reference]:
        yield self.reference


@dataclass(frozen=True)
class Join(Node):
    on: Node
    values: tuple[Node, ...]
    location: str = ""

    def evaluate(self, scope: Scope) -> Any:
        return to_text(self.on.evaluate(scope)).join(to_text(value.evaluate(scope)) for value in self.values)

    def references(self) -> Iterator[Reference]:
        yield from self.on.references()
        for value in self.values:
            yield from value.references()


@dataclass(frozen=True)
class JsonGet(Node):
    source: Node  # a Get of a PropertyFile, or an S3 URI expression
    path: tuple[Segment, ...]
    path_text: str
    location: str = ""

    def evaluate(self, scope: Scope) -> Any:
        if isinstance(self.source, Get) and self.source.reference.property_file is not None:
            document = self.source.evaluate(scope)
            origin = self.source.reference.text
        else:
            uri = self.source.evaluate(scope)
            if not isinstance(uri, str) or not uri.startswith("s3://"):
                raise EvaluationError(f"Std:JsonGet at {self.location}: S3Uri evaluated to {uri!r}, not an s3:// URI")
            document, origin = scope.read_json(uri), uri
        try:
            return select(document, self.path)
        except LookupError:
            raise EvaluationError(f"Std:JsonGet at {self.location}: path {self.path_text!r} not found in "
                                  f"{origin}") from None

    def references(self) -> Iterator[Reference]:
        yield from self.source.references()


@dataclass(frozen=True)
class Obj(Node):
    items: tuple[tuple[str, Node], ...]
    location: str = ""

    def evaluate(self, scope: Scope) -> Any:
        return {key: node.evaluate(scope) for key, node in self.items}

    def references(self) -> Iterator[Reference]:
        for _, node in self.items:
            yield from node.references()


@dataclass(frozen=True)
class Arr(Node):
    items: tuple[Node, ...]
    location: str = ""

    def evaluate(self, scope: Scope) -> Any:
        return [node.evaluate(scope) for node in self.items]

    def references(self) -> Iterator[Reference]:
        for node in self.items:
            yield from node.references()


# ----------------------------------------------------------------------------------------------------- compile
def compile_value(raw: Any, location: str = "") -> Node:
    """Compile a definition value into a node; JSON without expressions stays one `Literal`.

    Args:
        raw: the JSON value as it appears in the definition.
        location: its JSON pointer, kept on every node for error messages.

    Raises:
        ExpressionError: a malformed `Get`, `Std:Join` or `Std:JsonGet`.
    """
    if isinstance(raw, dict):
        if len(raw) == 1:
            (key, body), = raw.items()
            if key == "Get":
                return Get(parse_reference(body, pointer_join(location, "Get")), location)
            if key == "Std:Join":
                return _compile_join(body, pointer_join(location, key))
            if key == "Std:JsonGet":
                return _compile_json_get(body, pointer_join(location, key))
            if key.startswith("Std:"):
                raise ExpressionError(f"unknown function {key} (drydock knows Std:Join and Std:JsonGet)", location)
        items = tuple((key, compile_value(value, pointer_join(location, key))) for key, value in raw.items())
        if all(isinstance(node, Literal) for _, node in items):
            return Literal(raw, location)
        return Obj(items, location)
    if isinstance(raw, list):
        nodes = tuple(compile_value(value, pointer_join(location, index)) for index, value in enumerate(raw))
        if all(isinstance(node, Literal) for node in nodes):
            return Literal(raw, location)
        return Arr(nodes, location)
    return Literal(raw, location)


def _compile_join(body: Any, location: str) -> Join:
    if not isinstance(body, dict) or not isinstance(body.get("Values"), list):
        raise ExpressionError("Std:Join needs {\"On\": ..., \"Values\": [...]}", location)
    on = compile_value(body.get("On", ""), pointer_join(location, "On"))
    values = tuple(compile_value(value, pointer_join(location, "Values", index))
                   for index, value in enumerate(body["Values"]))
    return Join(on, values, location)


def _compile_json_get(body: Any, location: str) -> JsonGet:
    if not isinstance(body, dict) or not isinstance(body.get("Path"), str):
        raise ExpressionError("Std:JsonGet needs a \"Path\" and a \"PropertyFile\" or \"S3Uri\"", location)
    if ("PropertyFile" in body) == ("S3Uri" in body):
        raise ExpressionError("Std:JsonGet needs exactly one of \"PropertyFile\" and \"S3Uri\"", location)
    if "PropertyFile" in body:
        source = compile_value(body["PropertyFile"], pointer_join(location, "PropertyFile"))
        if not (isinstance(source, Get) and source.reference.property_file is not None):
            raise ExpressionError("Std:JsonGet's PropertyFile must be {\"Get\": \"Steps.<step>.PropertyFiles.<name>\"}",
                                  pointer_join(location, "PropertyFile"))
    else:
        source = compile_value(body["S3Uri"], pointer_join(location, "S3Uri"))
    try:
        path = parse_json_path(body["Path"])
    except ValueError as error:
        raise ExpressionError(f"Std:JsonGet Path {body['Path']!r}: {error}", pointer_join(location, "Path")) from None
    return JsonGet(source, path, body["Path"], location)


_STEP_NAME = re.compile(r"[A-Za-z0-9_\-]+")
_SEGMENT = re.compile(r"\.([A-Za-z0-9_\-:]+)|\[(\d+)\]|\['([^']*)'\]|\[\"([^\"]*)\"\]")


def parse_reference(text: Any, location: str) -> Reference:
    """`Parameters.X` | `Execution.X` | `Steps.<step>[.<path>]` -> Reference."""
    if not isinstance(text, str):
        raise ExpressionError(f"Get takes a string, not {text!r}", location)
    kind, dot, rest = text.partition(".")
    if kind in ("Parameters", "Execution"):
        if not dot or not _STEP_NAME.fullmatch(rest):
            raise ExpressionError(f"Get {text!r}: expected {kind}.<name>", location)
        return Reference(kind, rest, (), text, location)
    if kind != "Steps" or not dot:
        raise ExpressionError(f"Get {text!r}: a reference starts with Parameters., Execution. or Steps.", location)
    match = _STEP_NAME.match(rest)
    if not match:
        raise ExpressionError(f"Get {text!r}: no step name after Steps.", location)
    try:
        path = parse_segments(rest[match.end():])
    except ValueError as error:
        raise ExpressionError(f"Get {text!r}: {error}", location) from None
    return Reference("Steps", match.group(), path, text, location)


def parse_segments(text: str) -> tuple[Segment, ...]:
    """`.A.B['k'][0]` -> ("A", "B", Key("k"), 0)."""
    segments: list[Segment] = []
    position = 0
    while position < len(text):
        match = _SEGMENT.match(text, position)
        if not match:
            raise ValueError(f"cannot read the path from {text[position:]!r}")
        member, index, single, double = match.groups()
        if member is not None:
            segments.append(member)
        elif index is not None:
            segments.append(int(index))
        else:
            segments.append(Key(single if single is not None else double))
        position = match.end()
    return tuple(segments)


def parse_json_path(text: str) -> tuple[Segment, ...]:
    """A JsonGet Path (`a.b[0]`, `$.a.b`, `['a b'].c`) -> segments."""
    body = text[1:] if text.startswith("$") else text
    if body and not body.startswith((".", "[")):
        body = "." + body
    if not body:
        return ()
    return parse_segments(body)


def pointer_join(location: str, *parts: str | int) -> str:
    return location + pointer(*parts)


# ----------------------------------------------------------------------------------------------------- values
def select(value: Any, path: tuple[Segment, ...]) -> Any:
    """Follow `path` into `value`.

    A `Key` on a list picks the item one of whose `...Name` members equals it (`Outputs['train']` is the
    output whose OutputName is "train", `FinalMetricDataList['validation:auc']` the metric whose MetricName is).

    Raises:
        LookupError: a segment that is not there.
    """
    for segment in path:
        if isinstance(segment, int):
            if not isinstance(value, list) or segment >= len(value):
                raise LookupError(segment)
            value = value[segment]
        elif isinstance(value, dict):
            name = segment.name if isinstance(segment, Key) else segment
            if name not in value:
                raise LookupError(name)
            value = value[name]
        elif isinstance(value, list) and isinstance(segment, Key):
            value = _named_item(value, segment.name)
        else:
            raise LookupError(segment)
    return value


def _named_item(items: list[Any], name: str) -> Any:
    for item in items:
        if isinstance(item, dict) and any(key.endswith("Name") and item[key] == name for key in item):
            return item
    raise LookupError(name)


def format_path(path: tuple[Segment, ...]) -> str:
    text = ""
    for segment in path:
        if isinstance(segment, int):
            text += f"[{segment}]"
        elif isinstance(segment, Key):
            text += f"['{segment.name}']"
        else:
            text += f".{segment}"
    return text


def to_text(value: Any) -> str:
    """How a value reads inside Std:Join: JSON spelling for booleans and null, plain text otherwise."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(value, separators=(",", ":"), default=str)
