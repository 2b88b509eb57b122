"""JSONata as Step Functions evaluates it: templates, AWS's functions, undefined, errors, numbers."""
import json
import random
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from asl.errors import QUERY_EVALUATION_ERROR, StatesError
from asl.jsonata import UNDEFINED, JsonataSyntaxError, compile_expression, is_jsonata_template, template_body

CONFORMANCE = Path(__file__).resolve().parents[3].parent / "shared" / "conformance"


def evaluate(text, bindings=None, **options):
    return compile_expression(text).evaluate({} if bindings is None else bindings, **options)


def states(document):
    return {"states": {"input": document}}


# --------------------------------------------------------------------------- templates
@pytest.mark.parametrize("value, expected", [
    ("{% $x %}", True),
    ("{%$x%}", True),
    ("{%\n  $x + 1\n%}", True),
    (" {% states.input %} ", False),  # outputdecl BASE_LITERALS: whitespace outside is a literal
    ("{% $x", False),
    ("$states.input", False),
    ("{%}", False),
    (3, False),
    (None, False),
])
def test_is_jsonata_template(value, expected):
    assert is_jsonata_template(value) is expected


def test_template_body_strips_delimiters_and_whitespace():
    assert template_body("{% $x + 1 %}") == "$x + 1"
    assert template_body("{%\n\t$states.input\n%}") == "$states.input"
    with pytest.raises(ValueError):
        template_body("$x")


# --------------------------------------------------------------------------- syntax
@pytest.mark.parametrize("text, code, position", [
    ("1 +", "S0207", 3),
    ("$foo(", "S0203", 5),
    ("'abc", "S0101", 4),
    ("", "S0207", 0),
])
def test_syntax_error_carries_code_and_position(text, code, position):
    with pytest.raises(JsonataSyntaxError) as info:
        compile_expression(text)
    error = info.value
    assert isinstance(error, ValueError)
    assert (error.code, error.position, error.expression) == (code, position, text)
    assert f"at position {position}" in str(error) and code in str(error)


@pytest.mark.parametrize("text", ["3%~..", "\\ /", "/?/=]{1"])
def test_parser_crashes_become_syntax_errors(text):
    with pytest.raises(JsonataSyntaxError, match="S0201"):
        compile_expression(text)


# --------------------------------------------------------------------------- evaluation
def test_evaluates_over_states_and_variables():
    bindings = {"states": {"input": {"a": 41, "xs": [{"v": 1}, {"v": 5}]}}, "limit": 2}
    assert evaluate("$states.input.a + 1", bindings) == 42
    assert evaluate("$states.input.xs[v > $limit].v", bindings) == 5
    assert evaluate("$states.input.xs.{'double': v * 2}", bindings) == [{"double": 2}, {"double": 10}]


def test_compiled_once_evaluates_many_times():
    expression = compile_expression("$x * 2")
    assert [expression.evaluate({"x": n}) for n in range(4)] == [0, 2, 4, 6]
    assert expression.text == "$x * 2"


def test_no_match_is_undefined_not_null():
    bindings = {"states": {"input": {"n": None}}, "var": None}
    assert evaluate("$states.input.missing", bindings) is UNDEFINED
    assert evaluate("$doesNotExist", bindings) is UNDEFINED
    assert evaluate("[1, 2][5]", bindings) is UNDEFINED
    assert evaluate("$states.input.n", bindings) is None
    assert evaluate("null") is None
    # a variable holding null is null, not undefined
    assert evaluate("$var", bindings) is None
    assert evaluate("$exists($var)", bindings) is True
    assert evaluate("{'v': $var}", bindings) == {"v": None}


def test_whole_numbers_come_back_as_ints():
    assert evaluate("3 / 2 * 2") == 3 and isinstance(evaluate("3 / 2 * 2"), int)
    assert isinstance(evaluate("$sum([1.5, 1.5])"), int)
    assert evaluate("0.1") == 0.1
    assert evaluate("[1.0, {'a': 2.0, 'b': 2.5}]") == [1, {"a": 2, "b": 2.5}]
    assert json.dumps(evaluate("[1.0, {'a': 2.0}]")) == '[1, {"a": 2}]'


def test_evaluation_error_is_query_evaluation_error_with_aws_cause():
    expression = compile_expression("$randomSeeded($states.input.FunctionInput.fst)")
    with pytest.raises(StatesError) as info:
        expression.evaluate(states({"FunctionInput": "fst"}), field="Output/FunctionResult")
    assert info.value.error == QUERY_EVALUATION_ERROR
    assert info.value.location == "Output/FunctionResult"
    # case intrinsic_functions/test_math_operations_jsonata.py::test_math_random_seeded, minus the state prefix
    assert info.value.cause == (
        "The JSONata expression '$randomSeeded($states.input.FunctionInput.fst)' specified for the field "
        "'Output/FunctionResult' threw an error during evaluation. T1006: Attempted to invoke a non-function")


def test_error_cause_without_field_and_for_python_failures():
    with pytest.raises(StatesError) as info:
        evaluate("'a' + 1")
    assert info.value.cause == ("The JSONata expression ''a' + 1' threw an error during evaluation. "
                                "T2001: The left side of the + operator must evaluate to a number")
    with pytest.raises(StatesError, match="threw an error during evaluation"):
        evaluate("1 / 0")
    with pytest.raises(StatesError, match="D1011: Stack overflow"):
        evaluate("($f := function($n) { $n = 0 ? 0 : 1 + $f($n - 1) }; $f(100000))")


@pytest.mark.parametrize("text", ["$fn := function($x){$x}", "$uppercase", "/abc/", "[function() { 1 }]"])
def test_function_results_are_refused(text):
    # case scenarios/test_base_scenarios.py::test_map_state_items_eval_jsonata_fail_function
    with pytest.raises(StatesError) as info:
        compile_expression(text).evaluate({}, field="Items")
    assert info.value.error == QUERY_EVALUATION_ERROR
    assert info.value.cause == f"The JSONata expression '{text}' specified for the field 'Items' returned an unsupported result type."


def test_cause_helper_for_problems_the_engine_detects():
    expression = compile_expression("$doesNotExist")
    assert expression.cause("returned nothing (undefined).", "Output/result") == (
        "The JSONata expression '$doesNotExist' specified for the field 'Output/result' returned nothing (undefined).")


def test_bindings_are_not_mutated():
    document = {"items": [{"v": 3}, {"v": 1}], "n": None}
    bindings = {"states": {"input": document}, "x": None}
    snapshot = json.dumps(bindings)
    evaluate("($states.input ~> |items|{'v': 0}|; $sort($states.input.items, function($a, $b) { $a.v > $b.v }))", bindings)
    assert json.dumps(bindings) == snapshot


def test_concurrent_evaluation_from_threads():
    mapper = compile_expression("$map($states.input.xs, function($v) { $v * $k }) ~> $sum()")
    draws = compile_expression("[$uuid(), $random()]")

    def work(seed):
        for k in range(20):
            assert mapper.evaluate({"states": {"input": {"xs": [1, 2, seed]}}, "k": k}) == (3 + seed) * k
        return {json.dumps(draws.evaluate({}, rng=random.Random(seed))) for _ in range(20)}

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(work, range(16)))
    assert all(len(r) == 1 for r in results)
    assert len(set().union(*results)) == 16


# --------------------------------------------------------------------------- AWS functions
@pytest.mark.parametrize("array, size, expected", [
    ([0, 1, 2, 3], 2, [[0, 1], [2, 3]]),
    ([0, 1, 2, 3], 3, [[0, 1, 2], [3]]),
    ([0, 1, 2], 4, [[0, 1, 2]]),
    ([], 2, []),
])
def test_partition(array, size, expected):
    assert evaluate("$partition($states.input.a, $states.input.n)", states({"a": array, "n": size})) == expected


@pytest.mark.parametrize("args, expected", [
    ("0, 10, 2", [0, 2, 4, 6, 8, 10]),  # AWS docs: inclusive at both ends
    ("0, 9, 3", [0, 3, 6, 9]),
    ("1, 9, 9", [1]),
    ("10, 0, -5", [10, 5, 0]),
    ("5, 1, 1", []),
])
def test_range(args, expected):
    assert evaluate(f"$range({args})") == expected


@pytest.mark.parametrize("algorithm, digest", [
    # recorded by AWS for States.Hash("input data", ...), the same computation
    ("MD5", "812f45842bc6d66ee14572ce20db8e86"),
    ("SHA-1", "aaff4a450a104cd177d28d18d74485e8cae074b7"),
    ("SHA-256", "b4a697a057313163aee33cd8d40c66e9f0f177e00cac2de32475ffff6169c3e3"),
    ("SHA-384", "d28a7d5cf25a74f11a50a18452b75e04bb3d70c9dd0510d6123aa008c756511b87525bdc835ebb27e1fb9e9374a15562"),
])
def test_hash(algorithm, digest):
    assert evaluate(f"$hash('input data', '{algorithm}')") == digest
    assert len(evaluate("$hash('x', 'SHA-512')")) == 128


@pytest.mark.parametrize("text, expected", [
    ('"-0"', 0), ('"1"', 1), ('"1.5"', 1.5), ('"true"', True), ('"null"', None),
    ('"\\"HelloWorld\\""', "HelloWorld"),
    ('"[1, 2, \\"HelloWorld\\"]"', [1, 2, "HelloWorld"]),
    ('"{\\"Arg1\\": 1, \\"Arg2\\": []}"', {"Arg1": 1, "Arg2": []}),
])
def test_parse(text, expected):
    result = evaluate("$parse($states.input.s)", states({"s": json.loads(text)}))
    assert result == expected and type(result) is type(expected)


@pytest.mark.parametrize("text, message", [
    ("$partition([1, 2], 0)", "positive integer"),
    ("$range(0, 5, 0)", "step must not be 0"),
    ("$range(0, 1e9, 1)", "exceed the limit"),
    ("$hash('x', 'CRC32')", "unsupported algorithm"),
    ("$hash(1, 'MD5')", "T0410"),
    ("$parse('{oops')", "not valid JSON"),
])
def test_aws_function_misuse_is_query_evaluation_error(text, message):
    with pytest.raises(StatesError, match=message) as info:
        evaluate(text)
    assert info.value.error == QUERY_EVALUATION_ERROR


def test_random_and_uuid_draw_from_the_execution_rng():
    expression = compile_expression("{'r': $random(), 'u': $uuid(), 's': $shuffle([1, 2, 3, 4, 5, 6])}")
    first = expression.evaluate({}, rng=random.Random(42))
    assert first == expression.evaluate({}, rng=random.Random(42))
    assert first != expression.evaluate({}, rng=random.Random(43))
    assert 0 <= first["r"] < 1
    assert uuid.UUID(first["u"]).version == 4
    assert sorted(first["s"]) == [1, 2, 3, 4, 5, 6]
    # unseeded runs still work, and a seed argument makes $random reproducible on its own
    assert 0 <= evaluate("$random()") < 1
    assert evaluate("$random(7)") == evaluate("$random(7)", rng=random.Random(1))


def test_now_and_millis_read_the_virtual_clock():
    now_ms = 1_700_000_000_123
    assert evaluate("$millis()", now_ms=now_ms) == now_ms
    assert evaluate("$now()", now_ms=now_ms) == "2023-11-14T22:13:20.123Z"
    assert evaluate("$now('[Y0001]-[M01]')", now_ms=now_ms) == "2023-11"
    both = evaluate("[$millis(), $millis()]")
    assert both[0] == both[1]  # one instant per evaluation


# --------------------------------------------------------------------------- corpus
def _single_state_field(case):
    """(field name, field value) of a single-state JSONata machine that one evaluation decides."""
    definition = case["definition"]
    if len(definition["States"]) != 1:
        return None
    (state,) = definition["States"].values()
    if state.get("QueryLanguage", definition.get("QueryLanguage")) != "JSONata":
        return None
    if "returned an unexpected result type" in str(case["expected"]["cause"]):
        return None  # the Map state's type check on Items, not the evaluation
    if state["Type"] == "Pass" and set(state) <= {"Type", "Output", "End", "QueryLanguage", "Comment"} and "Output" in state:
        return "Output", state["Output"]
    if state["Type"] == "Fail" and "Error" in state and "Cause" not in state:
        return "Error", state["Error"]
    if state["Type"] == "Map" and "Items" in state:
        iterator = state["ItemProcessor"]["States"]
        if len(iterator) == 1 and set(next(iter(iterator.values()))) <= {"Type", "End"}:
            return "Items", state["Items"]
    return None


def _corpus_cases():
    cases = []
    for path in sorted((CONFORMANCE / "cases").glob("*.json")):
        case = json.loads(path.read_text())
        field = _single_state_field(case)
        if field is not None and "{%" in json.dumps(field[1]):
            cases.append(pytest.param(case, *field, id=path.stem[:90]))
    return cases


def _resolve(value, bindings, field):
    """Evaluate every template in a field value as the engine does for Output/Items/Error."""
    if is_jsonata_template(value):
        expression = compile_expression(template_body(value))
        result = expression.evaluate(bindings, rng=random.Random(0), now_ms=0, field=field)
        if result is UNDEFINED:
            raise StatesError(QUERY_EVALUATION_ERROR, expression.cause("returned nothing (undefined).", field))
        return result
    if isinstance(value, dict):
        return {key: _resolve(item, bindings, f"{field}/{key}") for key, item in value.items()}
    if isinstance(value, list):
        return [_resolve(item, bindings, f"{field}[{index}]") for index, item in enumerate(value)]
    return value


CORPUS = _corpus_cases() if CONFORMANCE.is_dir() else []


@pytest.mark.skipif(not CORPUS, reason=f"conformance corpus not found at {CONFORMANCE}")
@pytest.mark.parametrize("case, field, value", CORPUS)
def test_corpus_single_evaluation(case, field, value):
    expected = case["expected"]
    try:
        result = _resolve(value, {"states": {"input": case["input"]}}, field)
    except StatesError as failure:
        assert expected["status"] == "FAILED"
        assert failure.error == expected["error"]
        assert expected["cause"].endswith(f"). {failure.cause}")  # after AWS's state prefix
        return
    if field == "Error":
        assert (expected["status"], expected["error"]) == ("FAILED", result)
    else:
        assert expected["status"] == "SUCCEEDED"
        assert json.dumps(result, sort_keys=True) == json.dumps(expected["output"], sort_keys=True)
