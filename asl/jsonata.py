"""JSONata as Step Functions evaluates it: `{% ... %}` templates, compiled once per definition.

The language itself comes from jsonata-python, a port of jsonata-java; benchmarks/jsonata_libraries.py
and docs/jsonata-choice.md say why that library. This module adapts it to what a state machine
needs and the library does not do by itself:

* AWS's additional functions `$partition`, `$range`, `$hash`, `$random`, `$uuid` and `$parse`.
* Determinism: `$random`, `$uuid` and `$shuffle` draw from the `rng` of the execution, and
  `$now`/`$millis` read the engine's virtual clock (`now_ms`), one instant per evaluation.
* Undefined (no match) is returned as `UNDEFINED`, distinct from JSON null; what it means is the
  caller's decision (AWS fails most fields with "returned nothing (undefined).").
* Results are plain JSON values with whole numbers as ints, as AWS writes them (JSONata computes
  in doubles). A function or regex result is refused as AWS refuses it.
* Failures are `StatesError("States.QueryEvaluationError", cause)` with AWS's cause text minus the
  state prefix: "The JSONata expression '<expr>' specified for the field '<field>' threw an error
  during evaluation. T1006: Attempted to invoke a non-function". The engine prepends "An error
  occurred while executing the state '<name>' (entered at the event id #<n>). " and uses
  `expression.cause(problem, field)` for the problems it detects itself.
"""
from __future__ import annotations

import contextvars
import hashlib
import json
import math
import random
import re
import time
import uuid
from typing import Any, NamedTuple

from jsonata import Jsonata
from jsonata.functions import Functions
from jsonata.jexception import JException
from jsonata.utils import Utils

from asl.errors import QUERY_EVALUATION_ERROR, StatesError

__all__ = [
    "UNDEFINED",
    "JsonataExpression",
    "JsonataSyntaxError",
    "compile_expression",
    "is_jsonata_template",
    "template_body",
]


class _Undefined:
    def __repr__(self) -> str:
        return "UNDEFINED"


UNDEFINED = _Undefined()
"""What an expression that matches nothing evaluates to (JSONata's undefined, not JSON null)."""


class JsonataSyntaxError(ValueError):
    """An expression that does not parse; raised by `compile_expression`, never while running."""

    def __init__(self, expression: str, code: str, position: int | None, message: str):
        where = "" if position is None else f"at position {position} "
        super().__init__(f"{code}: {message} ({where}in JSONata expression {expression!r})")
        self.expression = expression
        self.code = code
        self.position = position
        self.message = message


def is_jsonata_template(value: Any) -> bool:
    """A string field value that Step Functions evaluates: exactly `{% ... %}`, nothing around it."""
    return isinstance(value, str) and len(value) >= 4 and value.startswith("{%") and value.endswith("%}")


def template_body(template: str) -> str:
    """The expression inside `{% ... %}`, without the whitespace around it."""
    if not is_jsonata_template(template):
        raise ValueError(f"not a JSONata template (expected '{{% ... %}}'): {template!r}")
    return template[2:-2].strip()


# --------------------------------------------------------------------------- per-evaluation state
class _Run(NamedTuple):
    rng: random.Random
    now_ms: int


_RUN: contextvars.ContextVar[_Run] = contextvars.ContextVar("jsonata_run")
_SYSTEM_RNG = random.Random()

_HASHES = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512"}
_MAX_RANGE = 1_000_000  # the cap JSONata puts on its own range operator `[a..b]` (D2014)


class _StepFunctions:
    """The functions Step Functions adds, and the nondeterministic built-ins made to obey `_RUN`."""

    @staticmethod
    def partition(array: list, size: float) -> list:
        if size != int(size) or size < 1:
            raise ValueError(f"$partition: the chunk size must be a positive integer, got {size}")
        size = int(size)
        return [array[i:i + size] for i in range(0, len(array), size)]

    @staticmethod
    def range(start: float, end: float, step: float) -> list:
        if step == 0:
            raise ValueError("$range: the step must not be 0")
        count = math.floor((end - start) / step) + 1
        if count > _MAX_RANGE:
            raise ValueError(f"$range: {count} items exceed the limit of {_MAX_RANGE}")
        return [start + i * step for i in range(max(count, 0))]

    @staticmethod
    def hash(value: str, algorithm: str) -> str:
        if algorithm not in _HASHES:
            raise ValueError(f"$hash: unsupported algorithm {algorithm!r}; use one of {', '.join(_HASHES)}")
        return hashlib.new(_HASHES[algorithm], value.encode("utf-8")).hexdigest()

    @staticmethod
    def parse(text: str) -> Any:
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"$parse: the argument is not valid JSON: {exc}") from None
        return Utils.NULL_VALUE if value is None else value

    @staticmethod
    def random(seed: float | None) -> float:
        return _RUN.get().rng.random() if seed is None else random.Random(seed).random()

    @staticmethod
    def uuid() -> str:
        return str(uuid.UUID(int=_RUN.get().rng.getrandbits(128), version=4))

    @staticmethod
    def shuffle(array: list | None) -> list | None:
        if array is None:
            return None
        result = list(array)
        _RUN.get().rng.shuffle(result)
        return result

    @staticmethod
    def now(picture: str | None, timezone: str | None) -> str:
        return Functions.datetime_from_millis(_RUN.get().now_ms, picture, timezone)

    @staticmethod
    def millis() -> int:
        return _RUN.get().now_ms


_FUNCTIONS = {
    name: Jsonata.function(name, signature, _StepFunctions, name)
    for name, signature in {
        "partition": "<an:a>",
        "range": "<nnn:a>",
        "hash": "<ss:s>",
        "parse": "<s:j>",
        "random": "<n?:n>",
        "uuid": "<:s>",
        "shuffle": "<a:a>",
        "now": "<s?s?:s>",
        "millis": "<:n>",
    }.items()
}


# --------------------------------------------------------------------------- expressions
class _Unsupported(Exception):
    """A result that is no JSON value (a function or a regex)."""


def _plain(value: Any) -> Any:
    """The JSON value as AWS writes it: JSONata nulls as None, whole doubles as ints."""
    if value is Utils.NULL_VALUE:
        return None
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    raise _Unsupported(type(value).__name__)


class JsonataExpression:
    """A compiled expression; `evaluate` may be called any number of times, from any thread."""

    def __init__(self, text: str, program: Jsonata):
        self.text = text
        self._program = program

    def __repr__(self) -> str:
        return f"JsonataExpression({self.text!r})"

    def cause(self, problem: str, field: str | None = None) -> str:
        """AWS's cause text for a problem with this expression, e.g. "returned nothing (undefined)."."""
        where = f" specified for the field '{field}'" if field else ""
        return f"The JSONata expression '{self.text}'{where} {problem}"

    def evaluate(
        self,
        bindings: dict[str, Any],
        *,
        rng: random.Random | None = None,
        now_ms: int | None = None,
        field: str | None = None,
    ) -> Any:
        """The value of the expression with `$name` bound to `bindings[name]`, or `UNDEFINED`.

        `field` (e.g. "Output/result") only names the field in error causes and locations.
        """
        # a variable bound to None would read as undefined; JSONata's null is a distinct object
        frame = {name: Utils.NULL_VALUE if value is None else value for name, value in bindings.items()}
        clock = time.time_ns() // 1_000_000 if now_ms is None else now_ms
        token = _RUN.set(_Run(_SYSTEM_RNG if rng is None else rng, clock))
        try:
            result = self._program.evaluate(None, frame)
        except JException as exc:
            raise self._failure(f"{exc.error}: {exc}", field) from exc
        except RecursionError as exc:  # the library's own name for it, which it raises only under a Timebox
            raise self._failure(f"D1011: {JException('D1011', -1)}", field) from exc
        except Exception as exc:  # a Python error escaping the library or one of _StepFunctions
            raise self._failure(str(exc) or type(exc).__name__, field) from exc
        finally:
            _RUN.reset(token)
        if result is None:
            return UNDEFINED
        try:
            return _plain(result)
        except _Unsupported:
            raise StatesError(QUERY_EVALUATION_ERROR, self.cause("returned an unsupported result type.", field),
                              location=field) from None

    def _failure(self, detail: str, field: str | None) -> StatesError:
        return StatesError(QUERY_EVALUATION_ERROR, self.cause(f"threw an error during evaluation. {detail}", field),
                           location=field)


def compile_expression(text: str) -> JsonataExpression:
    """Parse an expression (the body of a template, see `template_body`) once, for many evaluations."""
    try:
        program = Jsonata(text)
    except JException as exc:
        raise JsonataSyntaxError(text, exc.error, exc.location, str(exc)) from None
    except (LookupError, re.error) as exc:  # the parser trips over some malformed text; no position then
        raise JsonataSyntaxError(text, "S0201", None, f"Syntax error: {exc}") from None
    program.set_output_convert_nulls(False)
    for name, function in _FUNCTIONS.items():
        program.register_function(name, function)
    return JsonataExpression(text, program)
