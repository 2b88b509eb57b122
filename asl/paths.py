"""JSONPath and reference paths as Step Functions evaluates them, compiled once per definition.

Step Functions uses Jayway JSONPath semantics: a *definite* path (names and indexes only) yields
one value or fails when absent; an *indefinite* path (wildcard, slice, filter, recursive descent)
yields a list, possibly empty. Reference paths (ResultPath, the `*Path` comparisons, ...) must be
definite. `$$` addresses the context object and `$name` a variable.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable

_MISSING = object()


class PathSyntaxError(ValueError):
    """A path that does not parse; raised at compile time, never while running."""


class PathNotFound(LookupError):
    """A definite path that names nothing in the document."""

    def __init__(self, path: str):
        super().__init__(path)
        self.path = path


# --------------------------------------------------------------------------- segments
@dataclass(frozen=True)
class _Key:
    name: str


@dataclass(frozen=True)
class _Index:
    index: int


@dataclass(frozen=True)
class _Wildcard:
    pass


@dataclass(frozen=True)
class _Slice:
    start: int | None
    stop: int | None
    step: int | None


@dataclass(frozen=True)
class _Descend:
    name: str | None  # None: every descendant


@dataclass(frozen=True)
class _Filter:
    predicate: Callable[[Any], bool]
    text: str


@dataclass(frozen=True)
class _Union:
    keys: tuple[Any, ...]


@dataclass(frozen=True)
class _Length:
    """Jayway's `length()` function at the end of a path."""


_NAME = re.compile(r"[^.\[\]()\s]+")
_INT = re.compile(r"-?\d+")


def _parse_segments(text: str, start: int) -> list[Any]:
    segs: list[Any] = []
    i, n = start, len(text)
    while i < n:
        c = text[i]
        if text.startswith("..", i):
            i += 2
            if i < n and text[i] == "*":
                segs.append(_Descend(None))
                i += 1
                continue
            if i < n and text[i] == "[":
                segs.append(_Descend(None))
                continue
            m = _NAME.match(text, i)
            if not m:
                raise PathSyntaxError(f"expected a name after '..' at position {i}")
            segs.append(_Descend(m.group()))
            i = m.end()
        elif c == ".":
            i += 1
            if i < n and text[i] == "*":
                segs.append(_Wildcard())
                i += 1
                continue
            if text.startswith("length()", i) and i + 8 == n:
                segs.append(_Length())
                i = n
                continue
            m = _NAME.match(text, i)
            if not m:
                raise PathSyntaxError(f"expected a field name at position {i}")
            segs.append(_Key(m.group()))
            i = m.end()
        elif c == "[":
            i = _parse_bracket(text, i, segs)
        else:
            raise PathSyntaxError(f"unexpected character {c!r} at position {i}")
    return segs


def _read_quoted(text: str, i: int) -> tuple[str, int]:
    quote = text[i]
    i += 1
    out = []
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text) and text[i + 1] in (quote, "\\"):
            out.append(text[i + 1])  # only the quote and the backslash are escapes (Jayway)
            i += 2
            continue
        if c == quote:
            return "".join(out), i + 1
        out.append(c)
        i += 1
    raise PathSyntaxError("unterminated quoted name")


def _parse_bracket(text: str, i: int, segs: list[Any]) -> int:
    i += 1
    n = len(text)
    if i < n and text[i] in "'\"":
        keys = []
        while True:
            key, i = _read_quoted(text, i)
            keys.append(key)
            while i < n and text[i] == " ":
                i += 1
            if i < n and text[i] == ",":
                i += 1
                while i < n and text[i] == " ":
                    i += 1
                continue
            break
        if i >= n or text[i] != "]":
            raise PathSyntaxError(f"expected ']' at position {i}")
        segs.append(_Key(keys[0]) if len(keys) == 1 else _Union(tuple(keys)))
        return i + 1
    end = _matching_bracket(text, i - 1)
    body = text[i:end].strip()
    if body == "*":
        segs.append(_Wildcard())
    elif body.startswith("?"):
        inner = body[1:].strip()
        if not (inner.startswith("(") and inner.endswith(")")):
            raise PathSyntaxError(f"malformed filter [{body}]")
        segs.append(_Filter(_compile_filter(inner[1:-1].strip()), body))
    elif ":" in body:
        parts = body.split(":")
        if len(parts) > 3 or not all(p.strip() == "" or _INT.fullmatch(p.strip()) for p in parts):
            raise PathSyntaxError(f"malformed slice [{body}]")
        vals = [int(p) if p.strip() else None for p in parts] + [None] * (3 - len(parts))
        if vals[2] == 0:  # refused when compiled, not a ValueError per evaluation (found by tests/fuzz)
            raise PathSyntaxError(f"malformed slice [{body}]: the step cannot be 0")
        segs.append(_Slice(vals[0], vals[1], vals[2]))
    elif "," in body:
        try:
            segs.append(_Union(tuple(int(p) for p in body.split(","))))
        except ValueError:
            raise PathSyntaxError(f"malformed index list [{body}]") from None
    elif _INT.fullmatch(body):
        segs.append(_Index(int(body)))
    else:
        raise PathSyntaxError(f"malformed bracket [{body}]")
    return end + 1


def _matching_bracket(text: str, i: int) -> int:
    depth, quote = 0, None
    for j in range(i, len(text)):
        c = text[j]
        if quote:
            if c == quote:
                quote = None
            continue
        if c in "'\"":
            quote = c
        elif c == "[":
            depth += 1
        elif c == "]":
            depth -= 1
            if depth == 0:
                return j
    raise PathSyntaxError("unbalanced '['")


# --------------------------------------------------------------------------- filters
_FILTER_CMP = re.compile(r"^(@[^\s=!<>]*)\s*(==|!=|<=|>=|<|>)\s*(.+)$")


def _compile_filter(expr: str) -> Callable[[Any], bool]:
    for op, join in (("||", any), ("&&", all)):
        if op in expr:
            parts = [_compile_filter(p.strip()) for p in expr.split(op)]
            return lambda item, parts=parts, join=join: join(p(item) for p in parts)
    m = _FILTER_CMP.match(expr)
    if m:
        getter = _relative(m.group(1))
        literal = _literal(m.group(3).strip())
        op = m.group(2)
        cmp = {
            "==": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
            "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
        }[op]

        def predicate(item: Any) -> bool:
            value = getter(item)
            if value is _MISSING:
                return False
            try:
                return bool(cmp(value, literal))
            except TypeError:
                return False
        return predicate
    if expr.startswith("@"):
        getter = _relative(expr)
        return lambda item: getter(item) is not _MISSING
    raise PathSyntaxError(f"unsupported filter expression ({expr})")


def _relative(text: str) -> Callable[[Any], Any]:
    segs = _parse_segments(text, 1)

    def get(item: Any) -> Any:
        cur = item
        for s in segs:
            if isinstance(s, _Key) and isinstance(cur, dict) and s.name in cur:
                cur = cur[s.name]
            elif isinstance(s, _Index) and isinstance(cur, list) and -len(cur) <= s.index < len(cur):
                cur = cur[s.index]
            else:
                return _MISSING
        return cur
    return get


def _literal(text: str) -> Any:
    if text[:1] in "'\"" and text[-1:] == text[:1]:
        return text[1:-1]
    if text in ("true", "false"):
        return text == "true"
    if text == "null":
        return None
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            raise PathSyntaxError(f"unsupported filter literal {text}") from None


# --------------------------------------------------------------------------- evaluation
def _step(values: Iterable[Any], seg: Any) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if isinstance(seg, _Wildcard):
            if isinstance(v, dict):
                out.extend(v.values())
            elif isinstance(v, list):
                out.extend(v)
        elif isinstance(seg, _Slice):
            if isinstance(v, list):
                out.extend(v[seg.start:seg.stop:seg.step])
        elif isinstance(seg, _Filter):
            items = v if isinstance(v, list) else list(v.values()) if isinstance(v, dict) else []
            out.extend(x for x in items if seg.predicate(x))
        elif isinstance(seg, _Union):
            for k in seg.keys:
                if isinstance(k, str) and isinstance(v, dict) and k in v:
                    out.append(v[k])
                elif isinstance(k, int) and isinstance(v, list) and -len(v) <= k < len(v):
                    out.append(v[k])
        elif isinstance(seg, _Descend):
            out.extend(_descendants(v, seg.name))
        elif isinstance(seg, _Key):
            if isinstance(v, dict) and seg.name in v:
                out.append(v[seg.name])
        elif isinstance(seg, _Index):
            if isinstance(v, list) and -len(v) <= seg.index < len(v):
                out.append(v[seg.index])
        elif isinstance(seg, _Length):
            if isinstance(v, (list, dict, str)):
                out.append(len(v))
    return out


def _descendants(v: Any, name: str | None) -> list[Any]:
    out: list[Any] = []
    if isinstance(v, dict):
        if name is not None and name in v:
            out.append(v[name])
        for x in v.values():
            if name is None:
                out.append(x)
            out.extend(_descendants(x, name))
    elif isinstance(v, list):
        for x in v:
            if name is None:
                out.append(x)
            out.extend(_descendants(x, name))
    return out


class Path:
    """A compiled path over one document. `get` reads; `put` writes (reference paths only)."""

    __slots__ = ("text", "segments", "definite", "_keys")

    def __init__(self, text: str, segments: list[Any]):
        self.text = text
        self.segments = tuple(segments)
        self.definite = all(isinstance(s, (_Key, _Index, _Length)) for s in segments)
        self._keys = tuple(s.name if isinstance(s, _Key) else s.index for s in segments) \
            if all(isinstance(s, (_Key, _Index)) for s in segments) else None

    def __repr__(self) -> str:
        return f"Path({self.text!r})"

    def get(self, doc: Any) -> Any:
        """The value at this path; a definite path that names nothing raises PathNotFound."""
        keys = self._keys
        if keys is not None:
            cur = doc
            for k in keys:
                if type(k) is str:
                    if type(cur) is dict and k in cur:
                        cur = cur[k]
                        continue
                elif type(cur) is list and -len(cur) <= k < len(cur):
                    cur = cur[k]
                    continue
                raise PathNotFound(self.text)
            return cur
        values = [doc]
        for seg in self.segments:
            values = _step(values, seg)
        if self.definite:
            if not values:
                raise PathNotFound(self.text)
            return values[0]
        return values

    def put(self, doc: Any, value: Any) -> Any:
        """A copy of `doc` with `value` at this path, creating objects on the way (ResultPath)."""
        if self._keys is None:
            raise PathSyntaxError(f"'{self.text}' is not a reference path")
        return _put(doc, self._keys, value, self.text)


def _put(doc: Any, keys: tuple[Any, ...], value: Any, text: str) -> Any:
    if not keys:
        return value
    head, rest = keys[0], keys[1:]
    if isinstance(head, str):
        if doc is None or not isinstance(doc, dict):
            raise PathNotFound(text)
        new = dict(doc)
        new[head] = _put(doc.get(head, {}) if rest else None, rest, value, text) if rest else value
        return new
    if not isinstance(doc, list) or not -len(doc) <= head < len(doc):
        raise PathNotFound(text)
    new_list = list(doc)
    new_list[head] = _put(doc[head], rest, value, text)
    return new_list


# --------------------------------------------------------------------------- entry points
@dataclass(frozen=True)
class Query:
    """A path with its root: the state's data (`$`), the context object (`$$`) or a variable (`$x`)."""

    text: str
    root: str  # "input", "context" or "variable"
    variable: str | None
    path: Path

    @property
    def definite(self) -> bool:
        return self.path.definite

    def get(self, data: Any, context: Any = None, variables: dict[str, Any] | None = None) -> Any:
        if self.root == "input":
            return self.path.get(data)
        if self.root == "context":
            return self.path.get(context)
        if variables is None or self.variable not in variables:
            raise PathNotFound(self.text)
        return self.path.get(variables[self.variable])


_VAR = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


def compile_path(text: str) -> Path:
    """Compile a JSONPath rooted at `$` over a single document."""
    if not isinstance(text, str) or not text.startswith("$"):
        raise PathSyntaxError(f"a path must start with '$': {text!r}")
    return Path(text, _parse_segments(text, 1))


def compile_query(text: str, *, allow_context: bool = True, allow_variables: bool = True) -> Query:
    """Compile a path that may address the input, the context object or a variable."""
    if not isinstance(text, str) or not text.startswith("$"):
        raise PathSyntaxError(f"a path must start with '$': {text!r}")
    if text.startswith("$$"):
        if not allow_context:
            raise PathSyntaxError(f"the context object is not allowed here: {text}")
        return Query(text, "context", None, Path(text[1:], _parse_segments(text, 2)))
    m = _VAR.match(text)
    if m:
        if not allow_variables:
            raise PathSyntaxError(f"variables are not allowed here: {text}")
        return Query(text, "variable", m.group(1), Path("$" + text[m.end():], _parse_segments(text, m.end())))
    return Query(text, "input", None, compile_path(text))


def compile_reference_path(text: str) -> Path:
    """Compile a reference path: `$` followed only by names and indexes (ResultPath and the like)."""
    path = compile_path(text)
    if path._keys is None:
        raise PathSyntaxError(f"'{text}' is not a valid reference path (no wildcards, slices or filters)")
    return path
