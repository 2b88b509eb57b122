"""Definition text (JSON or YAML) to a dict, with a map from JSON pointers back to line:col.

Step Functions takes JSON, while Workflow Studio and CloudFormation also speak YAML. Text that
does not parse is a `LoadError` that says where (1-based line and column); findings about a
parsed definition carry JSON pointers, which `SourceMap` turns back into places in the text.
YAML is a superset of JSON, so one YAML composer yields the node marks for both.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping

import yaml

from asl.errors import LoadError
from asl.pointer import parts, pointer

Position = tuple[int, int]  # (line, column), both 1-based

_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"


class YamlLoader(yaml.SafeLoader):
    """SafeLoader that keeps timestamps as text: ASL compares and parses them itself."""


YamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _TIMESTAMP_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass(frozen=True)
class SourceMap:
    """Where each node of a loaded document sits in its text.

    A member of an object is placed at its key (where `"Next": ...` begins), an array item at
    the item itself, and the document (pointer `""`) at its first token.
    """

    positions: Mapping[str, Position]

    def position(self, at: str) -> Position | None:
        """The line:col of the node at pointer `at`, or None when the text has no such node."""
        return self.positions.get(at)

    def nearest(self, at: str) -> Position | None:
        """The line:col of the node at `at`, or of its closest ancestor that is in the text."""
        tokens = parts(at)
        while True:
            found = self.positions.get(pointer(*tokens))
            if found is not None or not tokens:
                return found
            tokens.pop()

    def shifted(self, lines: int, columns: int) -> SourceMap:
        """This map for text embedded `lines` lines down and `columns` columns right in another."""
        return SourceMap({at: (line + lines, column + columns) for at, (line, column) in self.positions.items()})

    def subtree(self, prefix: str) -> SourceMap:
        """The map of the node at pointer `prefix`, with pointers relative to that node."""
        return SourceMap({
            at[len(prefix):]: place for at, place in self.positions.items()
            if at == prefix or at.startswith(prefix + "/")
        })


def load_definition(text: str, source: str = "<definition>", *, lenient: bool = False) -> tuple[dict[str, Any], SourceMap]:
    """Parse a state machine definition written in JSON or YAML.

    Args:
        text: the definition text.
        source: a name for the text (a file name), used in error messages.
        lenient: read JSON-looking text that is not JSON as YAML all the same (see `load_document`).

    Returns:
        The definition and the map from JSON pointers to places in `text`.

    Raises:
        LoadError: the text is neither JSON nor YAML, or is not an object.
    """
    document, source_map = load_document(text, source, lenient=lenient)
    if not isinstance(document, dict):
        line, column = source_map.position("") or (1, 1)
        raise LoadError("a state machine definition must be a JSON object", source=source, line=line, column=column)
    return document, source_map


def load_document(text: str, source: str = "<document>", loader: type[yaml.SafeLoader] = YamlLoader, *,
                  lenient: bool = False) -> tuple[Any, SourceMap]:
    """Parse any JSON or YAML document (JSON first, then YAML) and map its nodes to the text.

    Text that starts with `{` or `[` is JSON and must parse as JSON: YAML's flow syntax would
    otherwise let a trailing comma or a `#` comment slip through. `lenient` lifts that rule, for
    callers that have already reported the JSON error and still want the document's content.

    Args:
        text: the document text.
        source: a name for the text, used in error messages.
        loader: the YAML loader class; CloudFormation passes one that knows its short-form tags.
        lenient: read JSON-looking text as YAML when it is not JSON.

    Raises:
        LoadError: the text parses neither as JSON nor as YAML.
    """
    try:
        document = json.loads(text)
    except json.JSONDecodeError as json_error:
        if text.lstrip().startswith(("{", "[")) and not lenient:
            raise LoadError(f"invalid JSON: {json_error.msg}", source=source, line=json_error.lineno,
                            column=json_error.colno) from None
        return _load_yaml(text, source, loader)
    # A raw tab is only whitespace in valid JSON, but PyYAML rejects it there; the swap keeps columns.
    return document, _quiet_source_map(text.replace("\t", " "), loader)


def _load_yaml(text: str, source: str, loader: type[yaml.SafeLoader]) -> tuple[Any, SourceMap]:
    instance = loader(text)
    try:
        node = instance.get_single_node()
        document = instance.construct_document(node) if node is not None else None
    except yaml.YAMLError as yaml_error:
        raise _yaml_load_error(yaml_error, text, source) from None
    finally:
        instance.dispose()
    if node is None:
        raise LoadError("the document is empty", source=source, line=1, column=1)
    return document, SourceMap(_positions(node))


def _yaml_load_error(error: yaml.YAMLError, text: str, source: str) -> LoadError:
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    problem = getattr(error, "problem", None) or getattr(error, "reason", None) or str(error)
    if mark is not None:
        return LoadError(f"invalid YAML: {problem}", source=source, line=mark.line + 1, column=mark.column + 1)
    offset = getattr(error, "position", 0)  # a ReaderError (a character YAML forbids) has only an offset
    line = text.count("\n", 0, offset) + 1
    return LoadError(f"invalid YAML: {problem}", source=source, line=line, column=offset - text.rfind("\n", 0, offset))


def _quiet_source_map(text: str, loader: type[yaml.SafeLoader]) -> SourceMap:
    instance = loader(text)
    try:
        node = instance.get_single_node()
    except yaml.YAMLError:  # valid JSON that PyYAML cannot read (a key over 1024 characters): no places
        return SourceMap({})
    finally:
        instance.dispose()
    return SourceMap(_positions(node) if node is not None else {})


def _positions(root: yaml.Node) -> dict[str, Position]:
    found: dict[str, Position] = {}
    pending: list[tuple[yaml.Node, str, Any]] = [(root, "", root.start_mark)]
    while pending:
        node, at, mark = pending.pop()
        found.setdefault(at, (mark.line + 1, mark.column + 1))
        if isinstance(node, yaml.MappingNode):
            pending.extend((value, at + pointer(str(key.value)), key.start_mark) for key, value in node.value)
        elif isinstance(node, yaml.SequenceNode):
            pending.extend((item, at + pointer(index), item.start_mark) for index, item in enumerate(node.value))
    return found
