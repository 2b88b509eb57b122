"""JSONPath, intrinsic functions and JSONata over generated expressions and documents: each either compiles or is
refused with its syntax error, and evaluates to JSON or fails with the States.* error AWS names."""
from __future__ import annotations

import json
import random

from fuzz_kit import FUZZ, intrinsic_calls, json_paths, json_values, jsonata_texts, queries
from hypothesis import example, given, settings
from hypothesis import strategies as st

from asl import jsonata
from asl.errors import INTRINSIC_FAILURE, QUERY_EVALUATION_ERROR, RUNTIME, StatesError
from asl.intrinsics import IntrinsicSyntaxError, compile_intrinsic
from asl.paths import PathNotFound, PathSyntaxError, compile_query, compile_reference_path

CONTEXT = {"Execution": {"Name": "fuzz", "Input": {"a": 1}}, "State": {"Name": "S"}, "Map": {"Item": {"Index": 0}}}

documents = st.one_of(json_values, st.fixed_dictionaries(
    {"a": json_values, "b": json_values, "items": st.lists(json_values, max_size=5),
     "n": st.one_of(st.integers(), st.floats(allow_nan=False), st.text(max_size=3)),
     "s": st.text(max_size=10), "o": st.dictionaries(st.text(max_size=2), json_values, max_size=3)}))


@settings(FUZZ, max_examples=1800)
@given(text=queries, doc=documents)
@example(text="$[0:1:0]", doc=[1])  # a zero step was a ValueError at every evaluation
def test_jsonpath_compiles_or_is_refused_and_reads_or_names_nothing(fuzz_cases, text, doc):
    fuzz_cases.count("jsonpath")
    try:
        query = compile_query(text)
    except PathSyntaxError:
        return
    try:
        value = query.get(doc, CONTEXT, {"var": doc})
    except PathNotFound:
        return
    json.dumps(value)


@settings(FUZZ, max_examples=600)
@given(text=json_paths, doc=documents, value=json_values)
def test_reference_paths_write_or_name_nothing(fuzz_cases, text, doc, value):
    fuzz_cases.count("reference-paths")
    try:
        path = compile_reference_path(text)
    except PathSyntaxError:
        return
    try:
        written = path.put(doc, value)
    except PathNotFound:
        return
    assert path.get(written) == value or path.text == "$"
    json.dumps(written)


@settings(FUZZ, max_examples=1800)
@given(text=intrinsic_calls(), doc=documents, seed=st.integers(0, 2**16))
def test_intrinsics_compile_or_are_refused_and_fail_only_as_aws_does(fuzz_cases, text, doc, seed):
    fuzz_cases.count("intrinsics")
    try:
        call = compile_intrinsic(text)
    except IntrinsicSyntaxError:
        return
    try:
        value = call.evaluate(doc, CONTEXT, {"var": doc}, random.Random(seed))
    except StatesError as err:
        assert err.error in (INTRINSIC_FAILURE, RUNTIME), (err.error, err.cause)
        assert isinstance(err.cause, str) and err.cause
        return
    json.dumps(value)


@settings(FUZZ, max_examples=1200)
@given(text=jsonata_texts(), doc=documents, seed=st.integers(0, 2**16))
def test_jsonata_compiles_or_is_refused_and_fails_only_as_aws_does(fuzz_cases, text, doc, seed):
    fuzz_cases.count("jsonata")
    try:
        expression = jsonata.compile_expression(text)
    except jsonata.JsonataSyntaxError:
        return
    states = {"input": doc, "context": CONTEXT}
    try:
        value = expression.evaluate({"states": states, "x": doc}, rng=random.Random(seed), now_ms=0, field="Output")
    except StatesError as err:
        assert err.error == QUERY_EVALUATION_ERROR, (err.error, err.cause)
        assert err.cause.startswith(f"The JSONata expression '{text}' specified for the field 'Output'")
        return
    if value is not jsonata.UNDEFINED:
        json.dumps(value, allow_nan=False)
