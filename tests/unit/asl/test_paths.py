"""JSONPath and reference paths: Jayway semantics as Step Functions applies them."""
import pytest

from asl.paths import PathNotFound, PathSyntaxError, compile_path, compile_query, compile_reference_path


def test_definite_path_reads_nested_value():
    assert compile_path("$.a[1].b").get({"a": [{}, {"b": 3}]}) == 3


def test_definite_path_miss_raises():
    with pytest.raises(PathNotFound):
        compile_path("$.a.b").get({"a": {}})


@pytest.mark.parametrize("text", ["$.items[*]", "$.items[1:]", "$.item.items[1:5].itemValue", "$[*]"])
def test_indefinite_path_on_missing_input_is_empty_list(text):
    # case base/test_base.py::test_json_path_array_wildcard_or_slice_with_no_input
    assert compile_path(text).get({}) == []


def test_quoted_names_and_filters():
    assert compile_path("$['a b']").get({"a b": 1}) == 1
    assert compile_path("$.a[?(@.x > 1)].x").get({"a": [{"x": 1}, {"x": 2}]}) == [2]
    assert compile_path("$..x").get({"a": {"x": 1}, "b": [{"x": 2}]}) == [1, 2]


def test_put_creates_objects_without_mutating():
    doc = {"a": {"b": 1}}
    out = compile_reference_path("$.a.c.d").put(doc, 5)
    assert out == {"a": {"b": 1, "c": {"d": 5}}}
    assert doc == {"a": {"b": 1}}


def test_reference_path_rejects_wildcards():
    with pytest.raises(PathSyntaxError):
        compile_reference_path("$.a[*]")


def test_context_and_variable_roots():
    assert compile_query("$$.Execution.Id").get(None, {"Execution": {"Id": "x"}}) == "x"
    assert compile_query("$v.x").get(None, None, {"v": {"x": 2}}) == 2
    with pytest.raises(PathNotFound):
        compile_query("$nope").get(None, None, {})


@pytest.mark.parametrize("bad", ["a.b", "$.", "$[", "$.a[1:2:3:4]", "$[?(foo)]"])
def test_syntax_errors_at_compile_time(bad):
    with pytest.raises(PathSyntaxError):
        compile_path(bad)
