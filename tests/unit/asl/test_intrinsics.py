"""Intrinsic functions: parsing once, each of the 18 functions, and the recorded AWS executions."""
import hashlib
import importlib.util
import json
import random
import re
from pathlib import Path

import pytest

from asl.errors import INTRINSIC_FAILURE, RUNTIME, StatesError
from asl.intrinsics import IntrinsicSyntaxError, compile_intrinsic, is_intrinsic
from asl.paths import compile_query

CORPUS = Path(__file__).resolve().parents[3] / ".." / "shared" / "conformance"


def run(text, data=None, context=None, variables=None, seed=0):
    return compile_intrinsic(text).evaluate(data, context, variables, random.Random(seed))


def failure(text, data=None, error=INTRINSIC_FAILURE):
    with pytest.raises(StatesError) as info:
        run(text, data)
    assert info.value.error == error
    return info.value.cause


# --------------------------------------------------------------------------- syntax
@pytest.mark.parametrize("text, expected", [
    ("States.Format('x')", True),
    ("States.UUID()", True),
    ("States.Nope(1)", True),  # meant as a call; compile_intrinsic rejects it
    ("$.a", False),
    ("States.Format", False),
    ("Format('x')", False),
    (" States.UUID()", False),
    (3, False),
])
def test_is_intrinsic(text, expected):
    assert is_intrinsic(text) is expected


@pytest.mark.parametrize("text, problem", [
    ("States.Nope(1)", "unknown intrinsic function 'States.Nope'"),
    ("States.ArrayLength()", "takes 1 argument(s), but 0 were given"),
    ("States.ArrayLength($.a, $.b)", "takes 1 argument(s), but 2 were given"),
    ("States.MathRandom(1)", "takes 2 to 3 argument(s)"),
    ("States.Format()", "takes at least 1 argument(s)"),
    ("States.UUID(1)", "takes 0 argument(s), but 1 were given"),
    ("States.Format('{} {}', 1)", "2 placeholder(s) but 1 argument(s)"),
    ("States.Format('{}')", "1 placeholder(s) but 0 argument(s)"),
    ("States.Format(1, 2)", "first argument of States.Format must be a string"),
    ("States.Format('x'", "unbalanced parentheses"),
    ("States.Format('x', States.UUID()", "unbalanced parentheses"),
    ("States.Format('x", "unterminated string literal"),
    ("States.Format('it\\'s) 'x')", "expected ',' or ')'"),
    ("States.Format('x'))", "unexpected text ')'"),
    ("States.Array(1,)", "missing argument"),
    ("States.Array(,1)", "missing argument"),
    ("States.Array(tru)", "bad literal"),
    ("States.Array(1x)", "bad literal"),
    ("States.Array(\"x\")", "bad literal"),
    ("States.Array('\\n')", "bad escape '\\n'"),
    ("States.Array($.a[)", "bad path '$.a[)'"),
    ("States.Array($.)", "bad path '$.'"),
    ("States.Array(States.Nope())", "unknown intrinsic function 'States.Nope'"),
    ("$.a", "expected an intrinsic function call"),
])
def test_syntax_errors_name_the_problem(text, problem):
    with pytest.raises(IntrinsicSyntaxError) as info:
        compile_intrinsic(text)
    assert problem in str(info.value)
    assert isinstance(info.value, ValueError)


def test_compiled_once_keeps_text_and_reevaluates():
    fn = compile_intrinsic("States.Format('x={}', $.a)")
    assert fn.text == "States.Format('x={}', $.a)"
    assert fn.evaluate({"a": 1}, None, None, random.Random()) == "x=1"
    assert fn.evaluate({"a": "b"}, None, None, random.Random()) == "x=b"


def test_literals_of_every_kind():
    assert run("States.Array('a b', 1, -2, 1.5, -0.25, 1e3, true, false, null)") == \
        ["a b", 1, -2, 1.5, -0.25, 1000.0, True, False, None]
    assert type(run("States.Array(3)")[0]) is int


def test_string_escapes():
    assert run(r"States.Array('it\'s', '\{\}', 'back\\slash')") == ["it's", "{}", "back\\slash"]
    assert run("States.StringSplit('Hello\nWorld', '\n')") == ["Hello", "World"]  # a raw newline in the text


def test_whitespace_between_arguments():
    assert run("States.Array( 1 ,\t2 , States.Array( ) )") == [1, 2, []]


def test_path_roots_input_context_variables():
    data = {"a": [{"x": "a,b"}, {"x": "c"}], "s": "v"}
    assert run("States.Array($, $.s, $$.Execution.Name, $v, $v.k)", data, {"Execution": {"Name": "e"}},
               {"v": {"k": 2}}) == [data, "v", "e", {"k": 2}, 2]
    # commas, parentheses and spaces inside brackets belong to the path
    assert run("States.Array($.a[?(@.x == 'a,b')].x, $.a.length())", data) == [["a,b"], 2]


def test_missing_path_is_a_runtime_error():
    cause = failure("States.Format('{}', $.missing)", {"a": 1}, error=RUNTIME)
    assert cause == "The JsonPath argument for the field '$.missing' could not be found in the input '{\"a\":1}'"
    assert failure("States.Array($nope)", {}, error=RUNTIME).startswith("The JsonPath argument for the field '$nope'")


# --------------------------------------------------------------------------- States.Format
def test_format_renders_values_as_aws_does():
    data = {"s": "str", "n": None, "i": 1, "f": 1.1, "b": True, "o": {"Arg1": 1, "Arg2": []}, "l": ["a", 1, None]}
    assert run("States.Format('{}|{}|{}|{}|{}', $.s, $.n, $.i, $.f, $.b)", data) == "str|null|1|1.1|true"
    # containers show as Java's toString, as recorded for test_format_1 on an object
    assert run("States.Format('{} {}', $.o, $.l)", data) == "{Arg1=1, Arg2=[]} [a, 1, null]"


def test_format_escaped_braces_are_not_placeholders():
    assert run(r"States.Format('\{\} and {}', 'x')") == "{} and x"
    assert run("States.Format('a { b } {}', 1)") == "a { b } 1"


def test_format_template_from_a_path():
    assert run("States.Format($.t, $.n)", {"t": "Hello, {}.", "n": "Arnav"}) == "Hello, Arnav."
    assert "1 placeholder(s) but 2 argument(s)" in failure("States.Format($.t, 1, 2)", {"t": "{}"})
    assert "must be a string" in failure("States.Format($.t)", {"t": 3})


def test_format_as_fail_state_error_and_cause():
    # case base/test_base.py::test_state_fail_intrinsic (ErrorPath / CausePath)
    data = {"Error": "error string", "Cause": "cause string"}
    assert run("States.Format('{}', $.Error)", data) == "error string"
    assert run("States.Format('This is a custom error message for {}, caused by {}.', $.Error, $.Cause)", data) == \
        "This is a custom error message for error string, caused by cause string."


# --------------------------------------------------------------------------- JSON
def test_string_to_json():
    assert run("States.StringToJson($.s)", {"s": '{"a": [1, 2.5, "x"]}'}) == {"a": [1, 2.5, "x"]}
    assert run("States.StringToJson($.s)", {"s": "-0"}) == 0
    assert run("States.StringToJson($.s)", {"s": "true"}) is True
    for blank in ("", "  ", "null"):
        assert run("States.StringToJson($.s)", {"s": blank}) is None
    assert "could not parse" in failure("States.StringToJson('\\{nope')")
    assert "could not parse" in failure("States.StringToJson('NaN')")
    assert "must be a string" in failure("States.StringToJson(1)")


def test_json_to_string_is_compact():
    compact = '{"test":"object","l":[1,null]}'
    assert run("States.JsonToString($.o)", {"o": {"test": "object", "l": [1, None]}}) == compact
    assert run("States.JsonToString($.s)", {"s": "x"}) == '"x"'
    assert run("States.JsonToString(1.5)") == "1.5"


def test_json_merge_is_shallow():
    data = {"a": {"a": {"a1": 1}, "b": 2, "d": 3}, "b": {"a": {"a3": 1}, "c": 3, "d": 4}}
    assert run("States.JsonMerge($.a, $.b, false)", data) == {"a": {"a3": 1}, "b": 2, "c": 3, "d": 4}
    assert data["a"] == {"a": {"a1": 1}, "b": 2, "d": 3}  # inputs untouched
    assert failure("States.JsonMerge($.a, $.b, true)", data) == \
        "Currently, Step Functions only supports the shallow merging mode; " \
        "therefore, you must specify the boolean value as false."
    assert "must be a boolean" in failure("States.JsonMerge($.a, $.b, 0)", data)
    cause = failure("States.JsonMerge($.a, 1, false)", data)
    assert "second argument of States.JsonMerge must be a JSON object" in cause


# --------------------------------------------------------------------------- arrays
def test_array():
    assert run("States.Array()") == []
    assert run("States.Array($.a, 'x', States.Array(1))", {"a": {"k": 1}}) == [{"k": 1}, "x", [1]]


@pytest.mark.parametrize("size, expected", [
    (1, [[1], [2], [3], [4], [5]]), (2, [[1, 2], [3, 4], [5]]), (5, [[1, 2, 3, 4, 5]]), (9, [[1, 2, 3, 4, 5]]),
    (1.6, [[1, 2], [3, 4], [5]]),
])
def test_array_partition(size, expected):
    assert run("States.ArrayPartition($.a, $.n)", {"a": [1, 2, 3, 4, 5], "n": size}) == expected


def test_array_partition_errors():
    assert run("States.ArrayPartition($.a, 3)", {"a": []}) == []
    assert "greater than 0" in failure("States.ArrayPartition($.a, 0)", {"a": [1]})
    assert "must be an array" in failure("States.ArrayPartition('x', 1)")
    assert "chunk size argument" in failure("States.ArrayPartition($.a, 'x')", {"a": [1]})


def test_array_contains_uses_json_equality():
    assert run("States.ArrayContains($.a, $.v)", {"a": [[1, 2, 3], 2], "v": [1, 2, 3]}) is True
    assert run("States.ArrayContains($.a, $.v)", {"a": [{"1": 2, "2": []}], "v": {"2": [], "1": 2}}) is True
    assert run("States.ArrayContains($.a, true)", {"a": [1]}) is False
    assert run("States.ArrayContains($.a, 1)", {"a": [True]}) is False
    assert run("States.ArrayContains($.a, null)", {"a": []}) is False
    assert "must be an array" in failure("States.ArrayContains('abc', 'a')")


def test_array_range():
    assert run("States.ArrayRange(1, 9, 2)") == [1, 3, 5, 7, 9]
    assert run("States.ArrayRange(0, 10, 3)") == [0, 3, 6, 9]
    assert run("States.ArrayRange(5, 1, 1)") == []
    assert run("States.ArrayRange(0.5, 2.4, 1)") == [1, 2]
    assert len(run("States.ArrayRange(1, 1000, 1)")) == 1000
    assert failure("States.ArrayRange(0, 1000, 1)") == \
        "States.ArrayRange can create at most 1000 items, but the range has 1001"
    assert "greater than 0" in failure("States.ArrayRange(0, 3, 0)")
    assert "start argument" in failure("States.ArrayRange('0', 3, 1)")


def test_array_get_item():
    data = {"a": [1, 2, 3, 4, 5, 6, 7, 8, 9]}
    assert run("States.ArrayGetItem($.a, 5)", data) == 6
    assert run("States.ArrayGetItem($.a, 2.0)", data) == 3
    assert "out of bounds" in failure("States.ArrayGetItem($.a, 9)", data)
    assert "out of bounds" in failure("States.ArrayGetItem($.a, -1)", data)
    assert "must be an integer" in failure("States.ArrayGetItem($.a, 1.5)", data)
    assert "must be an integer" in failure("States.ArrayGetItem($.a, '1')", data)


def test_array_length_and_unique():
    assert run("States.ArrayLength($.a)", {"a": [1, None, []]}) == 3
    assert "must be an array" in failure("States.ArrayLength($.a)", {"a": {"k": 1}})
    values = [None, None, True, True, False, False, 1, 1, 1.1, 0, 0, "HelloWorld", "HelloWorld", [], [], [None],
              [None], {"a": 1, "b": 2}, {"a": 1, "b": 2}, {"a": 1, "b": 1}]
    assert run("States.ArrayUnique($.a)", {"a": values}) == \
        [None, True, False, 1, 1.1, 0, "HelloWorld", [], [None], {"a": 1, "b": 2}, {"a": 1, "b": 1}]
    assert run("States.ArrayUnique($.a)", {"a": [1, True, 1.0]}) == [1, True, 1.0]


# --------------------------------------------------------------------------- encoding, hashing
def test_base64():
    assert run("States.Base64Encode('Data to encode')") == "RGF0YSB0byBlbmNvZGU="
    assert run("States.Base64Decode('RGF0YSB0byBlbmNvZGU=')") == "Data to encode"
    assert run("States.Base64Decode(States.Base64Encode('héllo ✓'))") == "héllo ✓"
    assert run("States.Base64Encode('')") == "" == run("States.Base64Decode('')")
    assert "could not decode" in failure("States.Base64Decode('not base64!')")
    assert "at most 10000 characters" in failure("States.Base64Encode($.s)", {"s": "x" * 10_001})
    assert run("States.Base64Encode($.s)", {"s": "x" * 10_000}).startswith("eHh4")
    assert "at most 10000 characters" in failure("States.Base64Decode($.s)", {"s": "A" * 10_004})


@pytest.mark.parametrize("algorithm, digest", [
    ("MD5", "812f45842bc6d66ee14572ce20db8e86"),
    ("SHA-1", "aaff4a450a104cd177d28d18d74485e8cae074b7"),
    ("SHA-256", "b4a697a057313163aee33cd8d40c66e9f0f177e00cac2de32475ffff6169c3e3"),
    ("SHA-384", "d28a7d5cf25a74f11a50a18452b75e04bb3d70c9dd0510d6123aa008c756511b87525bdc835ebb27e1fb9e9374a15562"),
    ("SHA-512", hashlib.sha512(b"input data").hexdigest()),  # not in the public recordings
])
def test_hash(algorithm, digest):
    assert run("States.Hash('input data', $.alg)", {"alg": algorithm}) == digest


def test_hash_errors():
    assert "is not one of MD5, SHA-1, SHA-256, SHA-384, SHA-512" in failure("States.Hash('x', 'sha-256')")
    assert "at most 10000 characters" in failure("States.Hash($.s, 'MD5')", {"s": "x" * 10_001})
    assert "must be a string" in failure("States.Hash(1, 'MD5')")


# --------------------------------------------------------------------------- math
@pytest.mark.parametrize("a, b, total", [
    (0.5, 0, 1), (1.5, 0, 2), (-0.5, 0.5, 1), (-0.5, 0, 0), (-2.5, 0, -2), (1.49, 1.5, 3), (-3.5, 0, -3),
    (1.5, 1.51, 4), (-1.49, -1.5, -2), (-1.5, -1.51, -3), (1.49, -1.49, 0), (111, -1, 110),
])
def test_math_add_rounds_each_argument_like_java(a, b, total):
    result = run("States.MathAdd($.a, $.b)", {"a": a, "b": b})
    assert result == total and type(result) is int


def test_math_add_errors():
    assert "must be a number" in failure("States.MathAdd('1', 2)")
    assert "must be a number" in failure("States.MathAdd(true, 2)")
    assert "between -2147483648 and 2147483647" in failure("States.MathAdd(2147483648, 0)")
    assert run("States.MathAdd(2147483647, -2147483648)") == -1


def test_math_random_draws_from_the_execution_rng():
    values = [run("States.MathRandom(1, 999)", seed=s) for s in range(50)]
    assert all(1 <= v < 999 for v in values) and len(set(values)) > 1
    assert values == [run("States.MathRandom(1, 999)", seed=s) for s in range(50)]
    assert run("States.MathRandom(0, 1)") == 0


def test_math_random_with_a_seed_is_javas_random():
    # new java.util.Random(7).nextInt(99) == 79, new Random(42).nextInt(10) == 0, new Random(-5).nextInt(1000) == 411
    assert run("States.MathRandom(1, 100, 7)", seed=1) == run("States.MathRandom(1, 100, 7)", seed=2) == 80
    assert run("States.MathRandom(0, 10, 42)") == 0
    assert run("States.MathRandom(-500, 500, -5)") == -89
    assert "greater than the start" in failure("States.MathRandom(5, 5)")
    assert "seed argument" in failure("States.MathRandom(1, 5, 'x')")


# --------------------------------------------------------------------------- strings, uuid
@pytest.mark.parametrize("text, delimiters, parts", [
    ("1,2,3,4,5", ",", ["1", "2", "3", "4", "5"]),
    (", , ,", ",", [" ", " "]),
    (",,,,", ",", []),
    (" ", ",", [" "]),
    ("This.is+a,test=string", ".+,=", ["This", "is", "a", "test", "string"]),
    ("split on T and \nnew line", "T\n", ["split on ", " and ", "new line"]),
    ("a]b^c-d\\e", "]^-\\", ["a", "b", "c", "d", "e"]),
    ("abc", "", ["abc"]),
])
def test_string_split_on_any_delimiter_character_dropping_empty_parts(text, delimiters, parts):
    assert run("States.StringSplit($.t, $.d)", {"t": text, "d": delimiters}) == parts


def test_string_split_errors():
    assert "first argument of States.StringSplit must be a string" in failure("States.StringSplit(1, ',')")
    assert "second argument of States.StringSplit must be a string" in failure("States.StringSplit('a', 1)")


def test_uuid_is_v4_and_deterministic_per_rng():
    first = run("States.UUID()", seed=3)
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", first)
    assert first == run("States.UUID()", seed=3) != run("States.UUID()", seed=4)


def test_reference_variables_in_every_kind_of_call():
    # case assign/test_assign_reference_variables.py::BASE_REFERENCE_IN_INTRINSIC_FUNCTION
    variables = {"rawString": "Hello World", "encodedString": "SGVsbG8gV29ybGQ=", "inputString": "Hash this string",
                 "json1": {"a": 1, "b": 2}, "json2": {"c": 3, "d": 4}, "jsonString": '{"key":"value"}',
                 "jsonObject": {"test": "object"}, "value1": 5, "value2": 3, "csvString": "a,b,c,d,e",
                 "name": "John", "place": "LocalStack"}
    results = {text: run(text, {}, None, variables) for text in [
        "States.Base64Encode($rawString)", "States.Base64Decode($encodedString)",
        "States.Hash($inputString, 'SHA-256')",
        "States.JsonMerge($json1, $json2, false)", "States.StringToJson($jsonString)",
        "States.JsonToString($jsonObject)", "States.MathAdd($value1, $value2)", "States.StringSplit($csvString, ',')",
        "States.Format('Hello {}, welcome to {}!', $name, $place)"]}
    assert list(results.values()) == [
        "SGVsbG8gV29ybGQ=", "Hello World", "1cac63f39fd68d8c531f27b807610fb3d50f0fc3f186995767fb6316e7200a3e",
        {"a": 1, "b": 2, "c": 3, "d": 4}, {"key": "value"}, '{"test":"object"}', 8, ["a", "b", "c", "d", "e"],
        "Hello John, welcome to LocalStack!"]


# --------------------------------------------------------------------------- recorded AWS executions
# Corpus cases that cannot pass here, with the reason. None at present.
KNOWN_FAILURES: dict[str, str] = {}


def _corpus_cases():
    if not CORPUS.is_dir():
        return []
    cases = []
    for path in sorted((CORPUS / "cases").glob("intrinsic_functions_*.json")):
        if "jsonata" in path.name:
            continue
        case = json.loads(path.read_text())
        states = list(case["definition"]["States"].items())
        if len(states) == 1 and states[0][1].get("Type") == "Pass" and "Parameters" in states[0][1]:
            cases.append(pytest.param(case, id=path.stem))
    return cases


def _comparator():
    spec = importlib.util.spec_from_file_location("conformance_compare", CORPUS / "compare.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _resolve(template, data, context, rng):
    """Parameters as a Pass state builds them: `.$` values are intrinsics or paths, others literal."""
    if isinstance(template, dict):
        out = {}
        for key, value in template.items():
            if key.endswith(".$"):
                if is_intrinsic(value):
                    out[key[:-2]] = compile_intrinsic(value).evaluate(data, context, {}, rng)
                else:
                    out[key[:-2]] = compile_query(value).get(data, context, {})
            else:
                out[key] = _resolve(value, data, context, rng)
        return out
    if isinstance(template, list):
        return [_resolve(v, data, context, rng) for v in template]
    return template


@pytest.mark.parametrize("case", _corpus_cases())
def test_recorded_aws_execution(case):
    if not CORPUS.is_dir():
        pytest.skip("conformance corpus not present")
    if case["id"] in KNOWN_FAILURES:
        pytest.xfail(KNOWN_FAILURES[case["id"]])
    state_name, state = next(iter(case["definition"]["States"].items()))
    data = json.loads(case["input_text"])
    context = {
        "Execution": {"Id": "arn:aws:states:us-east-1:111111111111:execution:drydock-machine:run-1",
                      "Input": data, "Name": "run-1", "StartTime": "2024-01-01T10:00:00.000Z"},
        "StateMachine": {"Id": "arn:aws:states:us-east-1:111111111111:stateMachine:drydock-machine",
                         "Name": "drydock-machine"},
        "State": {"Name": state_name, "EnteredTime": "2024-01-01T10:00:00.000Z"},
    }
    try:
        output = _resolve(state["Parameters"], data, context, random.Random(0))
        actual = {"status": "SUCCEEDED", "output": json.dumps(output)}
    except StatesError as exc:
        prefix = f"An error occurred while executing the state '{state_name}' (entered at the event id #2). "
        cause = prefix + exc.cause if exc.error == RUNTIME else exc.cause
        actual = {"status": "FAILED", "error": exc.error, "cause": cause}
    result = _comparator().compare_outcome(case, actual)
    assert result["pass"], result["diff"]


def test_corpus_is_found_when_present():
    if not CORPUS.is_dir():
        pytest.skip("conformance corpus not present")
    assert len(_corpus_cases()) >= 70


def test_hash_with_a_non_string_algorithm_is_an_intrinsic_failure():
    # found by tests/fuzz: States.Hash('SHA-256', $) over [] raised TypeError instead of failing the state
    with pytest.raises(StatesError) as err:
        compile_intrinsic("States.Hash('SHA-256', $)").evaluate([], None, {}, random.Random(0))
    assert err.value.error == "States.IntrinsicFailure"
