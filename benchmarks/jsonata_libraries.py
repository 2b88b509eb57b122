"""Compare the Python JSONata libraries on what asl/jsonata.py needs from one.

For each library that imports in this interpreter it measures:
  * corpus: every `{% ... %}` expression of the JSONata cases in the conformance corpus, evaluated
    over the case input as `$states.input` (plus a synthetic `$states.context`). "ok" counts
    evaluations that ended without an unexpected exception (an expected JSONata error such as
    T1006 for `$randomSeeded` counts as ok); "errors" counts the rest.
  * standalone: the cases whose whole outcome is one JSONata evaluation (a single Pass state's
    Output, a Map state's Items whose iterator passes items through, a Fail state's Error);
    "correct" counts those whose result, or error cause text ("T1006: Attempted to invoke a
    non-function", "returned an unsupported result type."), matches what AWS recorded.
  * spec: expressions of the language with the results (or error codes) the JSONata reference
    implementation defines, as a check beyond the corpus's few features.
  * speed: µs per compile (of `object1k`) and per evaluation of typical expressions, 1,000 items
    for the *1k ones (best of 5 runs).
Each library gets the same Python implementations of AWS's extra functions ($partition, $range,
$hash, $parse, $uuid, and $random over a seeded generator), through its own registration hook;
a library without one runs without them.

Run: .venv/bin/python benchmarks/jsonata_libraries.py [--corpus DIR]
The libraries are optional; install them into a scratch venv to compare (jsonata-rs installs a
top-level `jsonata` package, the same name as jsonata-python, so it needs a venv of its own).
"""
from __future__ import annotations

import argparse
import glob
import hashlib
import importlib.metadata
import json
import os
import random
import timeit
import uuid
from pathlib import Path
from typing import Any, Callable

UNDEF = object()
RNG = random.Random(7)

AWS_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "partition": lambda array, size: [array[i:i + int(size)] for i in range(0, len(array), int(size))],
    "range": lambda start, end, step: list(range(int(start), int(end) + (1 if step > 0 else -1), int(step))),
    "hash": lambda value, algorithm: hashlib.new(algorithm.replace("-", "").lower(), value.encode()).hexdigest(),
    "parse": lambda text: json.loads(text),
    "uuid": lambda: str(uuid.UUID(int=RNG.getrandbits(128), version=4)),
}


def _random(*_seed: Any) -> float:
    return RNG.random()


# --------------------------------------------------------------------------- adapters
class Adapter:
    """compile(text) -> handle; evaluate(handle, bindings) -> value or UNDEF; raise on error."""

    name = ""
    distribution = ""
    module = ""
    custom_functions = True

    def available(self) -> bool:
        try:
            importlib.import_module(self.module)
            return self.module_is_ours()
        except ImportError:
            return False

    def module_is_ours(self) -> bool:
        return True

    def version(self) -> str:
        return importlib.metadata.version(self.distribution)

    def compile(self, text: str) -> Any:
        raise NotImplementedError

    def evaluate(self, handle: Any, bindings: dict[str, Any]) -> Any:
        raise NotImplementedError

    def code(self, exc: Exception) -> str:
        """The JSONata error code of an exception, '' if it carries none."""
        for attr in ("code", "error", "error_code"):
            value = getattr(exc, attr, None)
            if isinstance(value, str):
                return value
        text = str(exc)
        for token in text.replace(":", " ").split():
            if len(token) == 5 and token[0] in "STDUI" and token[1:].isdigit():
                return token
        return ""

    def describe(self, exc: Exception) -> str:
        """'CODE: message', the form AWS quotes in a QueryEvaluationError cause."""
        code, text = self.code(exc), str(exc)
        return text if text.startswith(code) else f"{code}: {text}"


class JsonataPython(Adapter):
    name, distribution, module = "jsonata-python", "jsonata-python", "jsonata"

    def module_is_ours(self) -> bool:
        import jsonata

        return hasattr(jsonata, "Functions")

    def compile(self, text):
        import jsonata

        expr = jsonata.Jsonata(text)
        expr.set_output_convert_nulls(False)
        for name, fn in AWS_FUNCTIONS.items():
            expr.register_lambda(name, fn)
        expr.register_lambda("random", _random)
        return expr

    def evaluate(self, handle, bindings):
        from jsonata.utils import Utils

        result = handle.evaluate(None, bindings)
        return UNDEF if result is None else Utils.convert_nulls(result)


class JsonataRs(Adapter):
    name, distribution, module = "jsonata-rs", "jsonata-rs", "jsonata"

    def module_is_ours(self) -> bool:
        import jsonata

        return hasattr(jsonata, "UNDEFINED")

    def compile(self, text):
        import jsonata

        expr = jsonata.Jsonata(text)
        expr.set_output_convert_nulls(False)
        for name, fn in AWS_FUNCTIONS.items():
            expr.register_function(name, fn)
        expr.register_function("random", _random)
        return expr

    def evaluate(self, handle, bindings):
        import jsonata

        result = handle.evaluate(None, bindings)
        return UNDEF if result is jsonata.UNDEFINED else result


class Jsonatapy(Adapter):
    name, distribution, module = "jsonatapy", "jsonatapy", "jsonatapy"

    def compile(self, text):
        import jsonatapy

        expr = jsonatapy.compile(text)
        for name, fn in AWS_FUNCTIONS.items():
            expr.register(name, fn)
        expr.register_override("random", _random)
        return expr

    def evaluate(self, handle, bindings):
        # evaluate() folds undefined into None; only the JSON-text variant tells them apart
        text = handle.evaluate_json_or_none(None, bindings)
        return UNDEF if text is None else json.loads(text)


class Jlens(Adapter):
    name, distribution, module = "jlens", "jlens", "jlens"

    def compile(self, text):
        import jlens

        expr = jlens.Expression(text)
        for name, fn in AWS_FUNCTIONS.items():
            expr.register_function(name, fn)
        expr.register_function("random", _random)
        return expr

    def evaluate(self, handle, bindings):
        # evaluate() folds undefined into None; only the JSON-text variant tells them apart
        text = handle.evaluate_json(None, bindings)
        return UNDEF if text is None else json.loads(text)


class Jsonata2py(Adapter):
    name, distribution, module = "jsonata2py", "jsonata2py", "jsonata2py"

    def compile(self, text):
        import jsonata2py

        expr = jsonata2py.compile(text)
        for name, fn in AWS_FUNCTIONS.items():
            expr.register_function(name, fn)
        expr.register_function("random", _random)  # does not replace the built-in
        return expr

    def evaluate(self, handle, bindings):
        import jsonata2py

        frame = jsonata2py.JsonataBindings()
        for name, value in bindings.items():
            frame.bind_value(name, value)
        result = handle.evaluate(None, frame)
        return UNDEF if result is jsonata2py.MISSING else result


class ZopyxPyjsonata(Adapter):
    name, distribution, module = "zopyx.pyjsonata", "zopyx.pyjsonata", "zopyx.pyjsonata"
    custom_functions = False

    def compile(self, text):
        from zopyx import pyjsonata

        return pyjsonata.Jsonata(text)  # syntax errors surface only at evaluation

    def evaluate(self, handle, bindings):
        from zopyx import pyjsonata

        result = handle.evaluate(pyjsonata.UNDEFINED, bindings)
        return UNDEF if result is pyjsonata.UNDEFINED else result


ADAPTERS = [JsonataPython(), Jsonatapy(), Jlens(), JsonataRs(), Jsonata2py(), ZopyxPyjsonata()]


# --------------------------------------------------------------------------- corpus
def _normalise(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in value.items()}
    return value


def _templates(node: Any, found: list[str]) -> list[str]:
    if isinstance(node, str):
        if node.startswith("{%") and node.endswith("%}"):
            found.append(node[2:-2].strip())
    elif isinstance(node, dict):
        for value in node.values():
            _templates(value, found)
    elif isinstance(node, list):
        for value in node:
            _templates(value, found)
    return found


def _context(case_input: Any) -> dict[str, Any]:
    return {
        "Execution": {"Id": "arn:aws:states:us-east-1:111111111111:execution:sm:exec", "Input": case_input,
                      "Name": "exec", "StartTime": "2024-01-01T00:00:00.000Z"},
        "State": {"Name": "State0", "EnteredTime": "2024-01-01T00:00:00.000Z"},
        "StateMachine": {"Id": "arn:aws:states:us-east-1:111111111111:stateMachine:sm", "Name": "sm"},
        "Map": {"Item": {"Index": 0, "Value": case_input}},
    }


def load_corpus(directory: Path) -> tuple[list[tuple[str, Any]], list[tuple[Any, Any, dict]]]:
    """(expression, input) for every template; (template tree, case input, expected) for standalone cases."""
    occurrences: list[tuple[str, Any]] = []
    standalone: list[tuple[Any, Any, dict]] = []
    for path in sorted(glob.glob(str(directory / "cases" / "*.json"))):
        case = json.loads(Path(path).read_text())
        definition = case["definition"]
        top = definition.get("QueryLanguage")
        states = definition.get("States", {})
        if not any(s.get("QueryLanguage", top) == "JSONata" for s in states.values()):
            continue
        for text in _templates(definition, []):
            occurrences.append((text, case["input"]))
        if len(states) != 1:
            continue
        (state,) = states.values()
        tree = _standalone_tree(state)
        if tree is not None and _templates(tree, []):
            standalone.append((tree, case["input"], case["expected"]))
    return occurrences, standalone


def _standalone_tree(state: dict) -> Any:
    """The one field whose evaluation is the whole outcome of a single-state machine, or None."""
    kind = state["Type"]
    if kind == "Pass" and "Output" in state and set(state) <= {"Type", "Output", "End", "QueryLanguage", "Comment"}:
        return state["Output"]
    if kind == "Fail" and "Error" in state and "Cause" not in state:
        return {"Error": state["Error"]}
    if kind == "Map" and "Items" in state:
        processor = state["ItemProcessor"]["States"]
        if len(processor) == 1 and set(next(iter(processor.values()))) <= {"Type", "End"}:
            return state["Items"]
    return None


def _is_json(value: Any) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_json(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_is_json(v) for v in value)
    return value is None or isinstance(value, (str, int, float, bool))


def _evaluate_tree(lib: Adapter, node: Any, bindings: dict) -> Any:
    if isinstance(node, str) and node.startswith("{%") and node.endswith("%}"):
        value = lib.evaluate(lib.compile(node[2:-2].strip()), bindings)
        if value is UNDEF:
            raise LookupError("returned nothing (undefined).")
        if not _is_json(value):  # a function or a regex: AWS refuses it
            raise LookupError("returned an unsupported result type.")
        return value
    if isinstance(node, dict):
        return {k: _evaluate_tree(lib, v, bindings) for k, v in node.items()}
    if isinstance(node, list):
        return [_evaluate_tree(lib, v, bindings) for v in node]
    return node


EXPECTED_CODES = {"$randomSeeded($states.input.FunctionInput.fst)": "T1006"}


def run_corpus(lib: Adapter, occurrences, standalone) -> dict[str, int]:
    ok = errors = 0
    for text, case_input in occurrences:
        try:
            lib.evaluate(lib.compile(text), {"states": {"input": case_input, "context": _context(case_input)}})
            ok += text not in EXPECTED_CODES
            errors += text in EXPECTED_CODES
        except BaseException as exc:  # noqa: BLE001 - a panicking native library raises BaseException - any failure is a data point here
            expected = EXPECTED_CODES.get(text)
            ok += expected is not None and lib.code(exc) == expected
            errors += expected is None or lib.code(exc) != expected
    correct = 0
    for tree, case_input, expected in standalone:
        bindings = {"states": {"input": case_input, "context": _context(case_input)}}
        try:
            result = _normalise(_evaluate_tree(lib, tree, bindings))
        except LookupError as problem:
            correct += str(expected.get("cause")).endswith(f" {problem}")
            continue
        except BaseException as exc:  # noqa: BLE001 - a panicking native library raises BaseException
            correct += str(expected.get("cause")).endswith(f" threw an error during evaluation. {lib.describe(exc)}")
            continue
        if expected["status"] == "SUCCEEDED":
            correct += result == expected["output"] and type(result) is type(expected["output"])
        elif expected["error"] != "States.QueryEvaluationError":
            correct += isinstance(result, dict) and result.get("Error") == expected["error"]
        else:  # an Items value of the wrong type: the engine's check, any value will do
            correct += "returned an unexpected result type" in str(expected["cause"])
    return {"ok": ok, "errors": errors, "correct": correct}


# --------------------------------------------------------------------------- language spec
# Results as the JSONata reference implementation (jsonata-js) defines them; ("error", code) for
# an expected failure and UNDEF for no result. Evaluated against ORDERS as the input document.
ORDERS = {"Account": {"Name": "Firefly", "Order": [
    {"OrderID": "o1", "Product": [{"Name": "Bowler Hat", "Price": 34.45, "Quantity": 2},
                                  {"Name": "Trilby hat", "Price": 21.67, "Quantity": 1}]},
    {"OrderID": "o2", "Product": [{"Name": "Bowler Hat", "Price": 34.45, "Quantity": 4},
                                  {"Name": "Cloak", "Price": 107.99, "Quantity": 1}]}]}}
SPEC: list[tuple[str, Any]] = [
    ("$doc.Account.Order[0].OrderID", "o1"),
    ("$doc.Account.Order.Product.Name", ["Bowler Hat", "Trilby hat", "Bowler Hat", "Cloak"]),
    ("$doc.Account.Order.Product[Price > 30].Name", ["Bowler Hat", "Bowler Hat", "Cloak"]),
    ("$round($sum($doc.Account.Order.Product.(Price * Quantity)), 2)", 336.36),
    ("$count($doc.Account.Order.Product)", 4),
    ("$doc.Account.Order.Product{Name: $sum(Quantity)}", {"Bowler Hat": 6, "Trilby hat": 1, "Cloak": 1}),
    ("$doc.Account.Order.Product^(>Price).Name", ["Cloak", "Bowler Hat", "Bowler Hat", "Trilby hat"]),
    ("$distinct($doc.Account.Order.Product.Name)", ["Bowler Hat", "Trilby hat", "Cloak"]),
    ("$doc.Account.Order.Product[0].Name", ["Bowler Hat", "Bowler Hat"]),
    ("($doc.Account.Order.Product)[0].Name", "Bowler Hat"),
    ("$doc.Account.Order.Product.%.OrderID", ["o1", "o1", "o2", "o2"]),
    ("$doc.Account.Order.Product.Price ~> $max()", 107.99),
    ("($doc ~> |Account.Order.Product|{'Price': 1}|).Account.Order.Product.Price", [1, 1, 1, 1]),
    ("$doc.Account.Nope", UNDEF),
    ("$exists($doc.Account.Nope)", False),
    ("null", None),
    ("[1, 2][5]", UNDEF),
    ("$join(['a', 'b', 'c'], '-')", "a-b-c"),
    ("$uppercase('hello')", "HELLO"),
    ("$substring('Hello World', 3, 5)", "lo Wo"),
    ("$substring('\U0001F600abc', 1, 2)", "ab"),
    ("$length('\U0001F600')", 1),
    ("$substringBefore('Hello World', ' ')", "Hello"),
    ("$split('a,b,c', ',')", ["a", "b", "c"]),
    ("$replace('John Smith', 'John', 'Mr')", "Mr Smith"),
    ("$match('ababbabbcc', /a(b+)/).match", ["ab", "abb", "abb"]),
    ("$contains('abc', /B/i)", True),
    ("$trim('  a  b  ')", "a b"),
    ("$pad('x', 3, '#')", "x##"),
    ("'a' & 1 & true", "a1true"),
    ("'hello' ~> $substring(1)", "ello"),
    ("$string(5)", "5"),
    ("$string(0.1 + 0.2)", "0.3"),
    ("$string({'a': 1})", '{"a":1}'),
    ("$number('1e2')", 100),
    ("$round(2.5)", 2),
    ("$round(3.5)", 4),
    ("$round(3.14159, 2)", 3.14),
    ("$floor(-1.5)", -2),
    ("$power(2, 10)", 1024),
    ("$sqrt(16)", 4),
    ("$abs(-5)", 5),
    ("$average([1, 2, 3, 4])", 2.5),
    ("$formatNumber(1234.5678, '#,##0.00')", "1,234.57"),
    ("$formatBase(255, 16)", "ff"),
    ("$formatInteger(1234, 'w')", "one thousand, two hundred and thirty-four"),
    ("$fromMillis(0)", "1970-01-01T00:00:00.000Z"),
    ("$toMillis('1970-01-01T00:00:01.000Z')", 1000),
    ("[1..5]", [1, 2, 3, 4, 5]),
    ("[1, 2, 3][$ > 1]", [2, 3]),
    ("[1, 2][-1]", 2),
    ("$map([1, 2, 3], function($v) { $v * 2 })", [2, 4, 6]),
    ("$filter([1, 2, 3, 4], function($v) { $v % 2 = 0 })", [2, 4]),
    ("$reduce([1, 2, 3, 4], function($a, $b) { $a + $b })", 10),
    ("$single([1, 2, 3], function($v) { $v = 2 })", 2),
    ("$sort([3, 1, 2])", [1, 2, 3]),
    ("$reverse([1, 2, 3])", [3, 2, 1]),
    ("$append([1, 2], [3])", [1, 2, 3]),
    ("$zip([1, 2], [3, 4])", [[1, 3], [2, 4]]),
    ("$keys({'a': 1, 'b': 2})", ["a", "b"]),
    ("$lookup({'a': 1}, 'a')", 1),
    ("$lookup({'a': 1}, 'b')", UNDEF),
    ("$spread({'a': 1, 'b': 2})", [{"a": 1}, {"b": 2}]),
    ("$merge([{'a': 1}, {'b': 2}])", {"a": 1, "b": 2}),
    ("$each({'a': 1, 'b': 2}, function($v, $k) { $k & $v })", ["a1", "b2"]),
    ("$sift({'a': 1, 'b': 2}, function($v) { $v > 1 })", {"b": 2}),
    ("$type([])", "array"),
    ("$type(null)", "null"),
    ("$boolean('')", False),
    ("1 = 1.0", True),
    ("'1' = 1", False),
    ("3 in [1, 2, 3]", True),
    ("($x := 5; $x * 2)", 10),
    ("'a' + 1", ("error", "T2001")),
    ("$nope()", ("error", "T1006")),
    ("$sort(1, 2)", ("error", "T0410")),
    ("$number('x')", ("error", "D3030")),
    ("1 / 0", ("error", "D1001")),
    ("$power(10, 400)", ("error", "D3061")),
    ("$sqrt(-1)", ("error", "D3060")),
    ("$toMillis('bad')", ("error", "D3110")),
    ("$single([1, 2], function($v) { $v > 0 })", ("error", "D3138")),
    ("$error('boom')", ("error", "D3137")),
    ("$assert(false, 'bad')", ("error", "D3141")),
]


def run_spec(lib: Adapter) -> int:
    passed = 0
    for text, expected in SPEC:
        try:
            result = lib.evaluate(lib.compile(text), {"doc": ORDERS})
        except BaseException as exc:  # noqa: BLE001 - a panicking native library raises BaseException
            passed += isinstance(expected, tuple) and lib.code(exc) == expected[1]
            continue
        if result is UNDEF or expected is UNDEF:
            passed += result is expected
        elif not isinstance(expected, tuple):
            result = _normalise(result)
            passed += result == expected and type(result) is type(expected)
    return passed


# --------------------------------------------------------------------------- speed
ITEMS = [{"id": i, "price": i % 100, "qty": i % 7} for i in range(1000)]
SPEED_CASES = {
    "simple": ("$states.input.a + 1", {"a": 41}),
    "filter1k": ("$states.input.items[price > 50].id", {"items": ITEMS}),
    "map1k": ("$map($states.input.items, function($v) { $v.price * $v.qty })", {"items": ITEMS}),
    "object1k": ('$states.input.items[qty = 3].{"id": id, "total": price * qty}', {"items": ITEMS}),
}


def best_us(fn: Callable[[], Any], number: int) -> float:
    return min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e6


def run_speed(lib: Adapter) -> dict[str, float]:
    out = {"compile": best_us(lambda: lib.compile(SPEED_CASES["object1k"][0]), 50)}
    for key, (text, doc) in SPEED_CASES.items():
        handle = lib.compile(text)
        bindings = {"states": {"input": doc}}
        try:
            lib.evaluate(handle, bindings)
        except BaseException:  # noqa: BLE001
            out[key] = float("nan")
            continue
        out[key] = best_us(lambda: lib.evaluate(handle, bindings), 2000 if key == "simple" else 10)
    return out


def main() -> None:
    default = Path(__file__).resolve().parents[1].parent / "shared" / "conformance"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=Path(os.environ.get("DRYDOCK_CONFORMANCE", default)))
    args = parser.parse_args()
    occurrences, standalone = load_corpus(args.corpus)
    print(f"corpus: {len(occurrences)} expression occurrences ({len({t for t, _ in occurrences})} distinct), "
          f"{len(standalone)} standalone cases\n")
    header = (f"{'library':<16} {'version':<8} {'corpus ok':>9} {'errors':>6} {'standalone':>10} {'spec':>7} "
              f"{'compile':>8} " + " ".join(f"{k:>9}" for k in SPEED_CASES) + "   (µs)")
    print(header)
    print("-" * len(header))
    for lib in ADAPTERS:
        if not lib.available():
            print(f"{lib.name:<16} not installed")
            continue
        corpus = run_corpus(lib, occurrences, standalone)
        speed = run_speed(lib)
        note = "" if lib.custom_functions else "  (no custom functions)"
        print(f"{lib.name:<16} {lib.version():<8} {corpus['ok']:>9} {corpus['errors']:>6} "
              f"{corpus['correct']:>6}/{len(standalone):<3} {run_spec(lib):>3}/{len(SPEC):<3} {speed['compile']:>8.1f} "
              + " ".join(f"{speed[k]:>9.1f}" for k in SPEED_CASES) + note)


if __name__ == "__main__":
    main()
