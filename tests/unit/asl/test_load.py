"""Loading definitions: JSON or YAML in, dict plus JSON-pointer source map out, errors with line:col."""
import pytest

from asl.errors import LoadError
from asl.load import SourceMap, load_definition, load_document
from asl.pointer import parts, pointer

JSON_TEXT = """{
  "StartAt": "Train",
  "States": {
    "Train": {
      "Type": "Pass",
      "Next": "a/b~c"
    },
    "a/b~c": {"Type": "Succeed"}
  }
}"""

YAML_TEXT = """\
StartAt: Train
States:
  Train:
    Type: Wait
    Timestamp: 2016-03-14T01:59:00Z
    Next: Done
  Done:
    Type: Succeed
"""


def test_pointer_escapes_tilde_and_slash():
    assert pointer("States", "a/b~c", "Next") == "/States/a~1b~0c/Next"
    assert pointer("Choices", 0) == "/Choices/0"
    assert pointer() == ""


def test_parts_inverts_pointer():
    assert parts(pointer("States", "a/b~c", 3)) == ["States", "a/b~c", "3"]
    assert parts("") == []
    with pytest.raises(ValueError):
        parts("States")


def test_json_definition_and_positions():
    definition, source_map = load_definition(JSON_TEXT)
    assert definition["States"]["Train"]["Next"] == "a/b~c"
    assert source_map.position("") == (1, 1)
    assert source_map.position("/StartAt") == (2, 3)
    assert source_map.position("/States/Train/Next") == (6, 7)
    assert source_map.position(pointer("States", "a/b~c")) == (8, 5)
    assert source_map.position("/States/Nope") is None


def test_yaml_definition_and_positions():
    definition, source_map = load_definition(YAML_TEXT, "machine.yaml")
    assert definition["States"]["Train"]["Next"] == "Done"
    assert source_map.position("/States/Train/Next") == (6, 5)
    assert source_map.position("/States/Done/Type") == (8, 5)


def test_yaml_timestamps_stay_text():
    definition, _ = load_definition(YAML_TEXT)
    assert definition["States"]["Train"]["Timestamp"] == "2016-03-14T01:59:00Z"


def test_array_items_are_placed_at_the_item():
    _, source_map = load_definition('{"StartAt": "P",\n "States": {"P": {"Type": "Parallel", "End": true,\n'
                                    '   "Branches": [\n     {"StartAt": "X", "States": {}}]}}}')
    assert source_map.position("/States/P/Branches/0") == (4, 6)
    assert source_map.position("/States/P/Branches/0/StartAt") == (4, 7)


def test_tabs_in_json_keep_columns():
    _, source_map = load_definition('{\n\t"StartAt":\t"A",\n\t"States": {}}')
    assert source_map.position("/StartAt") == (2, 2)
    assert source_map.position("/States") == (3, 2)


def test_nearest_falls_back_to_an_ancestor():
    _, source_map = load_definition(JSON_TEXT)
    assert source_map.nearest("/States/Train/Missing/Deeper") == (4, 5)
    assert source_map.nearest("/States/Train/Next") == (6, 7)


def test_shifted_and_subtree():
    source_map = SourceMap({"": (1, 1), "/States": (2, 3), "/States/A": (3, 5)})
    assert source_map.shifted(10, 4).position("/States/A") == (13, 9)
    sub = source_map.subtree("/States")
    assert sub.position("") == (2, 3) and sub.position("/A") == (3, 5) and sub.position("/States") is None


@pytest.mark.parametrize("text, line, column, fragment", [
    ('{"StartAt": "A",\n  "States": {"A": {"Type": "Pass", "End": true,}}}', 2, 48, "property name"),
    ('{\n  "StartAt": "A"\n  "States": {}\n}', 3, 3, "delimiter"),
    ('{"StartAt": "A", # a comment\n "States": {}}', 1, 18, "property name"),
    ('[1, 2', 1, 6, "Expecting"),
])
def test_malformed_json_reports_line_and_column(text, line, column, fragment):
    with pytest.raises(LoadError) as caught:
        load_definition(text, "machine.json")
    error = caught.value
    assert (error.line, error.column) == (line, column)
    assert fragment in error.message and error.message.startswith("invalid JSON")
    assert str(error).startswith(f"machine.json:{line}:{column}: ")


@pytest.mark.parametrize("text, line, column, fragment", [
    ("StartAt: A\nStates:\n  A:\n    Type: Pass\n   End: true\n", 5, 4, "expected <block end>"),
    ("StartAt: A\nStates:\n  A: [Type, Pass\n", 4, 1, "expected ',' or ']'"),
    ("StartAt: A\nStates:\n  A:\n    Type: Pass\n    Next: B: C\n", 5, 12, "mapping values are not allowed"),
    ("StartAt: A\nStartAt: 'B\n", 3, 1, "unexpected end of stream"),
])
def test_malformed_yaml_reports_line_and_column(text, line, column, fragment):
    with pytest.raises(LoadError) as caught:
        load_definition(text, "machine.yaml")
    assert (caught.value.line, caught.value.column) == (line, column)
    assert fragment in caught.value.message and caught.value.message.startswith("invalid YAML")


@pytest.mark.parametrize("text", ["[1, 2]", "- a\n- b\n", "just text"])
def test_a_definition_must_be_an_object(text):
    with pytest.raises(LoadError, match="must be a JSON object"):
        load_definition(text)


def test_empty_text_is_an_error():
    with pytest.raises(LoadError, match="empty") as caught:
        load_definition("  \n")
    assert caught.value.line == 1


def test_lenient_reads_json_with_comments_as_yaml():
    text = '{"StartAt": "A", # a comment\n "States": {"A": {"Type": "Succeed"}}}'
    definition, source_map = load_definition(text, lenient=True)
    assert definition["States"]["A"]["Type"] == "Succeed"
    assert source_map.position("/States/A/Type") == (2, 19)


def test_load_document_accepts_any_json_value():
    assert load_document("[1, 2]")[0] == [1, 2]
    assert load_document("a: 1")[0] == {"a": 1}
