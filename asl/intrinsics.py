"""The Step Functions intrinsic functions (`States.Format(...)` and its 17 siblings), as AWS runs them.

JSONPath states may compute a value with an intrinsic call wherever a `.$` field (or ErrorPath,
CausePath, Assign, ...) accepts a path. A definition is compiled once, so each call text is parsed
once here into a tree of argument evaluators and checked (known function, arity, literals, paths);
`evaluate` then only walks that tree for each transition. The behaviour follows the executions
recorded on AWS in the conformance corpus: which arguments are rounded, how `States.Format`
renders values, how `States.StringSplit` tokenizes, the size limits.

Runtime failures are `StatesError`s: `States.IntrinsicFailure` when a function rejects its
arguments, and `States.Runtime` when a path argument names nothing. Their `cause` is the detail
only; for `States.Runtime` the caller prefixes AWS's "An error occurred while executing the
state '<name>' (entered at the event id #<n>). ".
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import random
import re
import uuid
from dataclasses import dataclass
from typing import Any, Callable

from asl.errors import INTRINSIC_FAILURE, RUNTIME, StatesError
from asl.paths import PathNotFound, PathSyntaxError, Query, compile_query

Evaluator = Callable[[Any, Any, Any, random.Random], Any]

_STRING_LIMIT = 10_000  # Hash, Base64Encode and Base64Decode inputs, in characters
_RANGE_LIMIT = 1000  # items an ArrayRange may produce
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1  # MathAdd / MathRandom work on Java ints
_ESCAPABLE = "'{}\\"
_FALLBACK_RNG = random.Random()
_NOT_LITERAL = object()  # what `_Parser.argument` reports for a path or a nested call


class IntrinsicSyntaxError(ValueError):
    """An intrinsic call that does not parse or cannot be called as written; raised at compile time."""


def is_intrinsic(text: str) -> bool:
    """Whether `text` is meant as an intrinsic call: `States.<Name>(`..."""
    return isinstance(text, str) and _CALL_HEAD.match(text) is not None


def compile_intrinsic(text: str) -> Intrinsic:
    """Parse and check an intrinsic call once; the result is evaluated per transition."""
    if not isinstance(text, str):
        raise IntrinsicSyntaxError(f"an intrinsic function call must be a string: {text!r}")
    parser = _Parser(text)
    evaluator = parser.call()
    parser.skip_spaces()
    if parser.pos != len(text):
        raise parser.error(f"unexpected text {text[parser.pos:]!r} after the closing ')'")
    return Intrinsic(text, evaluator)


@dataclass(frozen=True)
class Intrinsic:
    """A compiled intrinsic call; `text` is the call as written in the definition."""

    text: str
    _evaluate: Evaluator

    def evaluate(self, data: Any, context: Any = None, variables: dict[str, Any] | None = None,
                 rng: random.Random | None = None) -> Any:
        """The call's value over the state's data, the context object and the variables in scope."""
        return self._evaluate(data, context, variables, rng or _FALLBACK_RNG)


# --------------------------------------------------------------------------- value helpers
def _fail(cause: str) -> StatesError:
    return StatesError(INTRINSIC_FAILURE, cause)


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _java_round(x: float) -> int:
    """Java's Math.round: to the nearest integer, halves toward positive infinity."""
    floor = math.floor(x)
    return floor + 1 if x - floor >= 0.5 else floor


def _rounded_int(fn: str, what: str, value: Any) -> int:
    """A number argument that AWS rounds to an integer when it has a fraction."""
    if type(value) is int:
        return value
    if type(value) is float and math.isfinite(value):
        return _java_round(value)
    raise _fail(f"The {what} argument of {fn} must be a number, but got {_json(value)}")


def _java_int(fn: str, what: str, value: Any) -> int:
    number = _rounded_int(fn, what, value)
    if not _INT_MIN <= number <= _INT_MAX:
        raise _fail(f"The {what} argument of {fn} must be an integer between {_INT_MIN} and {_INT_MAX}, "
                    f"but got {_json(value)}")
    return number


def _typed(fn: str, what: str, value: Any, kind: type) -> Any:
    if type(value) is not kind:
        name = {str: "a string", list: "an array", dict: "a JSON object", bool: "a boolean"}[kind]
        raise _fail(f"The {what} argument of {fn} must be {name}, but got {_json(value)}")
    return value


def _limited(fn: str, text: str) -> str:
    if len(text) > _STRING_LIMIT:
        raise _fail(f"The input of {fn} must be at most {_STRING_LIMIT} characters long, but has {len(text)}")
    return text


def _same(a: Any, b: Any) -> bool:
    """JSON equality: true is not 1, 1 is not 1.0, and containers compare member by member."""
    if type(a) is not type(b):
        return False
    if type(a) is list:
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if type(a) is dict:
        return a.keys() == b.keys() and all(_same(v, b[k]) for k, v in a.items())
    return a == b


def _format_text(value: Any) -> str:
    """How States.Format shows a value: strings bare, scalars as JSON, containers as Java's toString."""
    if type(value) is str:
        return value
    if type(value) is list:
        return "[" + ", ".join(_format_text(v) for v in value) + "]"
    if type(value) is dict:
        return "{" + ", ".join(f"{k}={_format_text(v)}" for k, v in value.items()) + "}"
    return json.dumps(value)


@dataclass(frozen=True)
class _Template:
    """A States.Format template written as a literal: the text around its unescaped `{}`s."""

    pieces: tuple[str, ...]


def _java_random_int(seed: int, bound: int) -> int:
    """`new java.util.Random(seed).nextInt(bound)`, so a seeded MathRandom draws what AWS draws."""
    mask = (1 << 48) - 1
    state = (seed ^ 0x5DEECE66D) & mask

    def next31() -> int:
        nonlocal state
        state = (state * 0x5DEECE66D + 0xB) & mask
        return state >> 17

    if bound & -bound == bound:
        return (bound * next31()) >> 31
    while True:
        bits = next31()
        value = bits % bound
        if bits - value + (bound - 1) < 2**31:
            return value


# --------------------------------------------------------------------------- the functions
_FUNCTIONS: dict[str, Callable[[list[Any], random.Random], Any]] = {}
_ARITY: dict[str, tuple[int, int | None]] = {}  # (min, max); max None: any number


def _intrinsic(name: str, min_args: int, max_args: int | None):
    def register(fn):
        _FUNCTIONS[name] = fn
        _ARITY[name] = (min_args, max_args)
        return fn
    return register


@_intrinsic("States.Format", 1, None)
def _format(args: list[Any], rng: random.Random) -> str:
    template, values = args[0], args[1:]
    if type(template) is _Template:
        pieces = template.pieces
    elif type(template) is str:
        pieces = tuple(template.split("{}"))
    else:
        raise _fail(f"The format string of States.Format must be a string, but got {_json(template)}")
    if len(pieces) - 1 != len(values):
        raise _fail(f"States.Format has {len(pieces) - 1} placeholder(s) but {len(values)} argument(s) to fill them")
    out = [pieces[0]]
    for value, piece in zip(values, pieces[1:]):
        out.append(_format_text(value))
        out.append(piece)
    return "".join(out)


@_intrinsic("States.StringToJson", 1, 1)
def _string_to_json(args: list[Any], rng: random.Random) -> Any:
    text = args[0]
    if text is None:
        return None
    _typed("States.StringToJson", "first", text, str)
    if not text.strip():
        return None
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except ValueError as exc:
        raise _fail(f"States.StringToJson could not parse {_json(text)} as JSON: {exc}") from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


@_intrinsic("States.JsonToString", 1, 1)
def _json_to_string(args: list[Any], rng: random.Random) -> str:
    return _json(args[0])


@_intrinsic("States.Array", 0, None)
def _array(args: list[Any], rng: random.Random) -> list[Any]:
    return list(args)


@_intrinsic("States.ArrayPartition", 2, 2)
def _array_partition(args: list[Any], rng: random.Random) -> list[list[Any]]:
    array = _typed("States.ArrayPartition", "first", args[0], list)
    size = _rounded_int("States.ArrayPartition", "chunk size", args[1])
    if size <= 0:
        raise _fail(f"The chunk size argument of States.ArrayPartition must be greater than 0, but got {size}")
    return [array[i:i + size] for i in range(0, len(array), size)]


@_intrinsic("States.ArrayContains", 2, 2)
def _array_contains(args: list[Any], rng: random.Random) -> bool:
    array = _typed("States.ArrayContains", "first", args[0], list)
    return any(_same(item, args[1]) for item in array)


@_intrinsic("States.ArrayRange", 3, 3)
def _array_range(args: list[Any], rng: random.Random) -> list[int]:
    start = _rounded_int("States.ArrayRange", "start", args[0])
    end = _rounded_int("States.ArrayRange", "end", args[1])
    step = _rounded_int("States.ArrayRange", "step", args[2])
    if step <= 0:
        raise _fail(f"The step argument of States.ArrayRange must be greater than 0, but got {step}")
    count = max(0, (end - start) // step + 1)
    if count > _RANGE_LIMIT:
        raise _fail(f"States.ArrayRange can create at most {_RANGE_LIMIT} items, but the range has {count}")
    return list(range(start, end + 1, step))


@_intrinsic("States.ArrayGetItem", 2, 2)
def _array_get_item(args: list[Any], rng: random.Random) -> Any:
    array = _typed("States.ArrayGetItem", "first", args[0], list)
    index = args[1]
    if type(index) is float and index.is_integer():
        index = int(index)
    if type(index) is not int:
        raise _fail(f"The index argument of States.ArrayGetItem must be an integer, but got {_json(args[1])}")
    if not 0 <= index < len(array):
        raise _fail(f"The index {index} is out of bounds for States.ArrayGetItem on an array of length {len(array)}")
    return array[index]


@_intrinsic("States.ArrayLength", 1, 1)
def _array_length(args: list[Any], rng: random.Random) -> int:
    return len(_typed("States.ArrayLength", "first", args[0], list))


@_intrinsic("States.ArrayUnique", 1, 1)
def _array_unique(args: list[Any], rng: random.Random) -> list[Any]:
    unique: list[Any] = []
    for item in _typed("States.ArrayUnique", "first", args[0], list):
        if not any(_same(item, seen) for seen in unique):
            unique.append(item)
    return unique


@_intrinsic("States.Base64Encode", 1, 1)
def _base64_encode(args: list[Any], rng: random.Random) -> str:
    text = _limited("States.Base64Encode", _typed("States.Base64Encode", "first", args[0], str))
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


@_intrinsic("States.Base64Decode", 1, 1)
def _base64_decode(args: list[Any], rng: random.Random) -> str:
    text = _limited("States.Base64Decode", _typed("States.Base64Decode", "first", args[0], str))
    try:
        return base64.b64decode(text.encode("ascii"), validate=True).decode("utf-8")
    except (ValueError, binascii.Error):
        raise _fail(f"States.Base64Decode could not decode {_json(text)}: "
                    "it is not Base64 text of UTF-8 data") from None


_HASHES = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512"}


@_intrinsic("States.Hash", 2, 2)
def _hash(args: list[Any], rng: random.Random) -> str:
    text = _limited("States.Hash", _typed("States.Hash", "first", args[0], str))
    algorithm = args[1]
    if not isinstance(algorithm, str) or algorithm not in _HASHES:
        raise _fail(f"The hash algorithm {_json(algorithm)} of States.Hash is not one of {', '.join(_HASHES)}")
    return hashlib.new(_HASHES[algorithm], text.encode("utf-8")).hexdigest()


@_intrinsic("States.JsonMerge", 3, 3)
def _json_merge(args: list[Any], rng: random.Random) -> dict[str, Any]:
    first = _typed("States.JsonMerge", "first", args[0], dict)
    second = _typed("States.JsonMerge", "second", args[1], dict)
    if _typed("States.JsonMerge", "third", args[2], bool):
        raise _fail("Currently, Step Functions only supports the shallow merging mode; "
                    "therefore, you must specify the boolean value as false.")
    return {**first, **second}


@_intrinsic("States.MathRandom", 2, 3)
def _math_random(args: list[Any], rng: random.Random) -> int:
    start = _java_int("States.MathRandom", "start", args[0])
    end = _java_int("States.MathRandom", "end", args[1])
    if end <= start:
        raise _fail(f"The end argument of States.MathRandom must be greater than the start, but got {start} and {end}")
    if len(args) == 3:
        return start + _java_random_int(_rounded_int("States.MathRandom", "seed", args[2]), end - start)
    return rng.randrange(start, end)


@_intrinsic("States.MathAdd", 2, 2)
def _math_add(args: list[Any], rng: random.Random) -> int:
    return _java_int("States.MathAdd", "first", args[0]) + _java_int("States.MathAdd", "second", args[1])


@_intrinsic("States.StringSplit", 2, 2)
def _string_split(args: list[Any], rng: random.Random) -> list[str]:
    text = _typed("States.StringSplit", "first", args[0], str)
    delimiters = _typed("States.StringSplit", "second", args[1], str)
    if not delimiters:
        return [text] if text else []
    return [part for part in re.split("[" + re.escape(delimiters) + "]", text) if part]


@_intrinsic("States.UUID", 0, 0)
def _uuid(args: list[Any], rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


# --------------------------------------------------------------------------- parsing
_CALL_HEAD = re.compile(r"States\.([A-Za-z0-9]+)\(")
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?")
_WORD_END = re.compile(r"(?=[\s,)]|$)")
_KEYWORDS = {"true": True, "false": False, "null": None}


def _constant(value: Any) -> Evaluator:
    return lambda data, context, variables, rng: value


def _path(query: Query) -> Evaluator:
    def evaluate(data: Any, context: Any, variables: Any, rng: random.Random) -> Any:
        try:
            return query.get(data, context, variables)
        except PathNotFound:
            if query.root == "variable":
                root = (variables or {}).get(query.variable)
            else:
                root = data if query.root == "input" else context
            raise StatesError(RUNTIME, f"The JsonPath argument for the field '{query.text}' "
                                       f"could not be found in the input '{_json(root)}'") from None
    return evaluate


def _call(fn: Callable[[list[Any], random.Random], Any], args: list[Evaluator]) -> Evaluator:
    def evaluate(data: Any, context: Any, variables: Any, rng: random.Random) -> Any:
        return fn([arg(data, context, variables, rng) for arg in args], rng)
    return evaluate


class _Parser:
    """Recursive descent over one call text; produces evaluators, never re-reads text later."""

    def __init__(self, text: str):
        self.text = text
        self.pos = 0

    def error(self, message: str) -> IntrinsicSyntaxError:
        return IntrinsicSyntaxError(f"{message} (at position {self.pos} in {self.text!r})")

    def skip_spaces(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def call(self) -> Evaluator:
        head = _CALL_HEAD.match(self.text, self.pos)
        if head is None:
            raise self.error("expected an intrinsic function call such as States.Format(...)")
        name = f"States.{head.group(1)}"
        if name not in _FUNCTIONS:
            raise self.error(f"unknown intrinsic function {name!r}")
        self.pos = head.end()
        args, template = self.arguments(name)
        low, high = _ARITY[name]
        if len(args) < low or (high is not None and len(args) > high):
            expected = f"{low}" if low == high else f"{low} to {high}" if high is not None else f"at least {low}"
            raise self.error(f"{name} takes {expected} argument(s), but {len(args)} were given")
        if name == "States.Format":
            args[0] = self.format_template(args, template)
        return _call(_FUNCTIONS[name], args)

    def arguments(self, name: str) -> tuple[list[Evaluator], Any]:
        """The evaluators of the arguments up to the closing ')', and the first one's literal value."""
        args: list[Evaluator] = []
        first_literal: Any = _NOT_LITERAL
        self.skip_spaces()
        if self.text.startswith(")", self.pos):
            self.pos += 1
            return args, first_literal
        while True:
            self.skip_spaces()
            if self.pos >= len(self.text):
                raise self.error(f"unbalanced parentheses: {name}( is never closed")
            evaluator, literal = self.argument()
            if not args:
                first_literal = literal
            args.append(evaluator)
            self.skip_spaces()
            if self.pos >= len(self.text):
                raise self.error(f"unbalanced parentheses: {name}( is never closed")
            c = self.text[self.pos]
            self.pos += 1
            if c == ")":
                return args, first_literal
            if c != ",":
                self.pos -= 1
                raise self.error(f"expected ',' or ')' in the arguments of {name}, found {c!r}")

    def argument(self) -> tuple[Evaluator, Any]:
        """One argument's evaluator, plus its literal value (a string literal: its `_Template`)."""
        text, c = self.text, self.text[self.pos]
        if c == "'":
            value, template = self.string()
            return _constant(value), template
        if c == "$":
            return self.path(), _NOT_LITERAL
        if text.startswith("States.", self.pos):
            return self.call(), _NOT_LITERAL
        if c == "," or c == ")":
            raise self.error("missing argument")
        number = _NUMBER.match(text, self.pos)
        if number and _WORD_END.match(text, number.end()):
            self.pos = number.end()
            literal = number.group()
            value = float(literal) if number.group(1) or number.group(2) else int(literal)
            return _constant(value), value
        for word, value in _KEYWORDS.items():
            if text.startswith(word, self.pos) and _WORD_END.match(text, self.pos + len(word)):
                self.pos += len(word)
                return _constant(value), value
        raise self.error("bad literal: expected a 'string', a number, true, false, null, a path or a States. call")

    def string(self) -> tuple[str, _Template]:
        """A single-quoted literal with AWS's escapes \\' \\{ \\} \\\\, and its Format pieces."""
        start = self.pos
        self.pos += 1
        pieces: list[str] = []
        current: list[str] = []
        text = self.text
        while self.pos < len(text):
            c = text[self.pos]
            if c == "\\":
                escaped = text[self.pos + 1:self.pos + 2]
                if not escaped or escaped not in _ESCAPABLE:
                    raise self.error(f"bad escape '\\{escaped}' in a string literal: "
                                     "only \\' \\{ \\} and \\\\ are allowed")
                current.append(escaped)
                self.pos += 2
            elif c == "'":
                self.pos += 1
                pieces.append("".join(current))
                return "{}".join(pieces), _Template(tuple(pieces))
            elif text.startswith("{}", self.pos):
                pieces.append("".join(current))
                current = []
                self.pos += 2
            else:
                current.append(c)
                self.pos += 1
        self.pos = start
        raise self.error("unterminated string literal: the closing quote is missing")

    def path(self) -> Evaluator:
        """A path runs to the ',' or ')' (or space) that is not inside brackets or quotes."""
        start, text, depth, quote = self.pos, self.text, 0, None
        while self.pos < len(text):
            c = text[self.pos]
            if quote:
                if c == "\\":
                    self.pos += 1
                elif c == quote:
                    quote = None
            elif c in "'\"" and depth:
                quote = c
            elif c in "[(":
                depth += 1
            elif c in "])" and depth:
                depth -= 1
            elif depth == 0 and (c in ",)" or c.isspace()):
                break
            self.pos += 1
        path_text = text[start:self.pos]
        try:
            return _path(compile_query(path_text))
        except PathSyntaxError as exc:
            self.pos = start
            raise self.error(f"bad path {path_text!r}: {exc}") from None

    def format_template(self, args: list[Evaluator], template: Any) -> Evaluator:
        """States.Format's first argument; a literal template is split and checked here, once."""
        if template is _NOT_LITERAL:
            return args[0]
        if type(template) is not _Template:
            raise self.error(f"the first argument of States.Format must be a string, not {_json(template)}")
        if len(template.pieces) - 1 != len(args) - 1:
            raise self.error(f"States.Format has {len(template.pieces) - 1} placeholder(s) "
                             f"but {len(args) - 1} argument(s) to fill them")
        return _constant(template)
