"""validate(): every rule reports AWS's code at the right JSON pointer, and AWS-run definitions pass."""
import json
from pathlib import Path

import pytest

from asl.errors import MISSING_END_STATE, MISSING_TRANSITION_TARGET, SCHEMA_VALIDATION_FAILED
from asl.validate import COMPARISONS, validate

SVF, MTT = SCHEMA_VALIDATION_FAILED, MISSING_TRANSITION_TARGET
TASK = "arn:aws:states:::lambda:invoke"


def machine(states, **top):
    """A definition starting at the first of `states`."""
    return {"StartAt": next(iter(states)), "States": states, **top}


def one(state, **top):
    """A definition of the single state A."""
    return machine({"A": state}, **top)


def task(**fields):
    return {"Type": "Task", "Resource": TASK, "End": True, **fields}


def choice(*rules, **fields):
    return machine({"C": {"Type": "Choice", "Choices": list(rules), "Default": "D", **fields},
                    "D": {"Type": "Succeed"}})


def chosen(state):
    """A definition whose Choice may go to state A or, by default, succeed: A cannot break reachability."""
    return machine({"C": {"Type": "Choice", "Choices": [rule(IsNull=True, Next="A")], "Default": "D"},
                    "A": state, "D": {"Type": "Succeed"}})


def rule(**fields):
    return {"Variable": "$.x", "Next": "D", **fields}


def body(state):
    return {"StartAt": "X", "States": {"X": state}}


def guarded(target):
    """A body whose task X goes to `target`, with a catcher that reaches a terminal state."""
    return {"StartAt": "X", "States": {"X": task(End=False, Next=target, Catch=[{"ErrorEquals": ["States.ALL"],
                                                                                  "Next": "Z"}]),
                                       "Z": {"Type": "Succeed"}}}


def pass_end(**fields):
    return {"Type": "Pass", "End": True, **fields}


def jsonata(state):
    return one(state, QueryLanguage="JSONata")


def found(definition):
    return [(d.code, d.location) for d in validate(definition)]


# (definition, code, pointer, message fragment): each definition has exactly this one finding
RULES = {
    # top level
    "StartAt required": ({"States": {"A": pass_end()}}, SVF, "", "required: [StartAt]"),
    "States required": ({"StartAt": "A"}, SVF, "", "required: [States]"),
    "States not empty": ({"StartAt": "A", "States": {}}, SVF, "/States", "at least one state"),
    "unknown top-level field": (one(pass_end(), Foo=1), SVF, "/Foo", "'Foo' is not supported"),
    "Comment is a string": (one(pass_end(), Comment=1), SVF, "/Comment", "a string"),
    "Version is a string": (one(pass_end(), Version=1.0), SVF, "/Version", "a string"),
    "machine TimeoutSeconds positive": (one(pass_end(), TimeoutSeconds=0), SVF, "/TimeoutSeconds", "integer between 1"),
    "QueryLanguage values": (one(pass_end(), QueryLanguage="XPath"), SVF, "/QueryLanguage", "JSONPath, JSONata"),
    # transitions
    "StartAt resolves": ({"StartAt": "Nope", "States": {"A": pass_end()}}, MTT, "/StartAt", "Nope"),
    "Next resolves": (machine({"A": task(End=False, Next="Nope", Catch=[{"ErrorEquals": ["States.ALL"], "Next": "B"}]),
                               "B": pass_end()}), MTT, "/States/A/Next", "Nope"),
    "Default resolves": (machine({"C": {"Type": "Choice", "Choices": [rule(IsNull=True)], "Default": "Nope"},
                                  "D": {"Type": "Succeed"}}), MTT, "/States/C/Default", "Nope"),
    "Choices Next resolves": (choice(rule(IsNull=True, Next="Nope")), MTT, "/States/C/Choices/0/Next", "Nope"),
    "Catch Next resolves": (one(task(Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Nope"}])), MTT,
                            "/States/A/Catch/0/Next", "Nope"),
    "unreachable state": (machine({"A": pass_end(), "B": pass_end()}), SVF, "/States/B", 'State "B" is not reachable'),
    "terminal state required": (machine({"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "Next": "A"}}),
                                MISSING_END_STATE, "/States", "no terminal state"),
    "Next and End": (machine({"A": {"Type": "Pass", "Next": "B", "End": True}, "B": pass_end()}), SVF, "/States/A",
                     "not both"),
    "End false without Next": (chosen({"Type": "Pass", "End": False}), SVF, "/States/A", "is required"),
    "Choice takes no End": (choice(rule(IsNull=True), End=True), SVF, "/States/C/End", "'End' is not supported"),
    "Succeed takes no Next": (machine({"A": {"Type": "Succeed", "Next": "B"}, "B": pass_end()}), SVF,
                              "/States/A/Next", "'Next' is not supported"),
    "Fail takes no End": (one({"Type": "Fail", "End": True}), SVF, "/States/A/End", "'End' is not supported"),
    # states
    "Type required": (one({"End": True}), SVF, "/States/A", "required: [Type]"),
    "Type known": (one({"Type": "Lambda", "End": True}), SVF, "/States/A/Type", "one of Pass"),
    "state name length": (machine({"N" * 81: pass_end()}), SVF, "/States/" + "N" * 81, "longer than 80"),
    "unknown state field": (one(pass_end(Foo=1)), SVF, "/States/A/Foo", "'Foo' is not supported"),
    "unique names across branches": (
        machine({"X": {"Type": "Parallel", "End": True, "Branches": [body(pass_end())]}}), SVF,
        "/States/X/Branches/0/States/X", "already used at /States/X"),
    "state is an object": (chosen([]), SVF, "/States/A", "a JSON object"),
    # query languages
    "JSONata: no Parameters": (jsonata(pass_end(Parameters={})), SVF, "/States/A/Parameters", "when QueryLanguage is JSONata"),
    "JSONata: no InputPath": (jsonata(pass_end(InputPath="$")), SVF, "/States/A/InputPath", "JSONata"),
    "JSONata: no OutputPath": (jsonata(pass_end(OutputPath="$")), SVF, "/States/A/OutputPath", "JSONata"),
    "JSONata: no ResultPath": (jsonata(pass_end(ResultPath="$")), SVF, "/States/A/ResultPath", "JSONata"),
    "JSONata: no Result": (jsonata(pass_end(Result=1)), SVF, "/States/A/Result", "JSONata"),
    "JSONata: no ResultSelector": (jsonata(task(ResultSelector={})), SVF, "/States/A/ResultSelector", "JSONata"),
    "JSONata: no SecondsPath": (jsonata({"Type": "Wait", "SecondsPath": "$.s", "End": True}), SVF,
                                "/States/A/SecondsPath", "JSONata"),
    "JSONata: no ItemsPath": (jsonata({"Type": "Map", "End": True, "ItemsPath": "$.a", "ItemProcessor": body(pass_end())}),
                              SVF, "/States/A/ItemsPath", "JSONata"),
    "JSONPath: no Arguments": (one(task(Arguments={})), SVF, "/States/A/Arguments", "when QueryLanguage is JSONPath"),
    "JSONPath: no Output": (one(pass_end(Output={})), SVF, "/States/A/Output", "JSONPath"),
    "JSONPath: no Items": (one({"Type": "Map", "End": True, "Items": [], "ItemProcessor": body(pass_end())}), SVF,
                           "/States/A/Items", "JSONPath"),
    "JSONPath: no Condition": (choice(rule(IsNull=True, Condition=True)), SVF, "/States/C/Choices/0/Condition", "JSONPath"),
    "JSONata machine, JSONPath state": (jsonata(pass_end(QueryLanguage="JSONPath")), SVF, "/States/A/QueryLanguage",
                                        "cannot use JSONPath"),
    # paths
    "InputPath syntax": (one(pass_end(InputPath="$.a[")), SVF, "/States/A/InputPath", "valid JSONPath"),
    "OutputPath starts with $": (one(pass_end(OutputPath="a.b")), SVF, "/States/A/OutputPath", "valid JSONPath"),
    "ResultPath is a reference path": (one(pass_end(ResultPath="$.a[*]")), SVF, "/States/A/ResultPath", "reference path"),
    "ResultPath is not the context": (one(pass_end(ResultPath="$$.Execution")), SVF, "/States/A/ResultPath", "reference"),
    "SecondsPath is a reference path": (one({"Type": "Wait", "SecondsPath": "$..s", "End": True}), SVF,
                                        "/States/A/SecondsPath", "reference path"),
    "ItemsPath is a reference path": (one({"Type": "Map", "End": True, "ItemsPath": "$.a[?(@.x)]",
                                           "ItemProcessor": body(pass_end())}), SVF, "/States/A/ItemsPath", "reference"),
    "comparison Path is a reference path": (choice(rule(StringEqualsPath="$.a[*]")), SVF,
                                            "/States/C/Choices/0/StringEqualsPath", "reference path"),
    "Variable is a path": (choice(rule(Variable="x", IsNull=True)), SVF, "/States/C/Choices/0/Variable", "JSONPath"),
    "ErrorPath is a path or intrinsic": (one({"Type": "Fail", "ErrorPath": "error"}), SVF, "/States/A/ErrorPath",
                                         "JSONPath or a valid intrinsic"),
    "CausePath intrinsic syntax": (one({"Type": "Fail", "CausePath": "States.Format('{}'"}), SVF, "/States/A/CausePath",
                                   "intrinsic function call"),
    # payload templates
    "Parameters .$ is a path or intrinsic": (one(pass_end(Parameters={"x.$": "hello"})), SVF,
                                            "/States/A/Parameters/x.$", "valid JSONPath or a valid intrinsic"),
    "Parameters .$ nested in arrays": (one(pass_end(Parameters={"l": [{"y.$": "$.a["}]})), SVF,
                                      "/States/A/Parameters/l/0/y.$", "valid JSONPath"),
    "Parameters .$ is a string": (one(pass_end(Parameters={"x.$": 1})), SVF, "/States/A/Parameters/x.$", "JSONPath"),
    "intrinsic arity": (one(pass_end(Parameters={"x.$": "States.ArrayLength()"})), SVF, "/States/A/Parameters/x.$",
                        "intrinsic function call"),
    "intrinsic name": (one(pass_end(Parameters={"x.$": "States.Nope(1)"})), SVF, "/States/A/Parameters/x.$",
                       "intrinsic function call"),
    "ResultSelector .$": (one(task(ResultSelector={"r.$": "nope"})), SVF, "/States/A/ResultSelector/r.$", "JSONPath"),
    "ItemSelector .$": (one({"Type": "Map", "End": True, "ItemSelector": {"i.$": "$$.Map.Item.Value["},
                             "ItemProcessor": body(pass_end())}), SVF, "/States/A/ItemSelector/i.$", "JSONPath"),
    "Parameters is an object": (one(pass_end(Parameters="$.a")), SVF, "/States/A/Parameters", "JSON object"),
    "Assign .$": (one(pass_end(Assign={"v.$": "nope"})), SVF, "/States/A/Assign/v.$", "JSONPath"),
    "Assign variable names": (one(pass_end(Assign={"1st": 1})), SVF, "/States/A/Assign/1st", "not a valid variable name"),
    "Assign on Fail": (one({"Type": "Fail", "Assign": {}}), SVF, "/States/A/Assign", "'Assign' is not supported"),
    # JSONata expressions
    "JSONata Output syntax": (jsonata(pass_end(Output="{% $states.input. %}")), SVF, "/States/A/Output", "JSONata"),
    "JSONata Arguments syntax, nested": (jsonata(task(Arguments={"a": {"b": "{% ) %}"}})), SVF,
                                         "/States/A/Arguments/a/b", "JSONata"),
    "JSONata Assign syntax": (jsonata(pass_end(Assign={"v": "{% 1 + %}"})), SVF, "/States/A/Assign/v", "JSONata"),
    "JSONata TimeoutSeconds syntax": (jsonata(task(TimeoutSeconds="{% $x + %}")), SVF, "/States/A/TimeoutSeconds",
                                      "JSONata"),
    "JSONata Condition type": (machine({"C": {"Type": "Choice", "Choices": [{"Condition": "yes", "Next": "D"}]},
                                        "D": {"Type": "Succeed"}}, QueryLanguage="JSONata"), SVF,
                               "/States/C/Choices/0/Condition", "a boolean"),
    "JSONata Condition required": (machine({"C": {"Type": "Choice", "Choices": [{"Next": "D"}]}, "D": {"Type": "Succeed"}},
                                           QueryLanguage="JSONata"), SVF, "/States/C/Choices/0", "[Condition]"),
    "JSONata Items type": (jsonata({"Type": "Map", "End": True, "Items": {}, "ItemProcessor": body(pass_end())}), SVF,
                           "/States/A/Items", "array or a JSONata expression"),
    # Retry and Catch
    "ErrorEquals not empty": (one(task(Retry=[{"ErrorEquals": []}])), SVF, "/States/A/Retry/0/ErrorEquals", "non-empty"),
    "ErrorEquals required": (one(task(Retry=[{"MaxAttempts": 1}])), SVF, "/States/A/Retry/0", "[ErrorEquals]"),
    "States.ALL alone": (one(task(Retry=[{"ErrorEquals": ["States.ALL", "X"]}])), SVF, "/States/A/Retry/0/ErrorEquals",
                         "alone"),
    "States.ALL in the last retrier": (one(task(Retry=[{"ErrorEquals": ["States.ALL"]}, {"ErrorEquals": ["X"]}])), SVF,
                                       "/States/A/Retry/0/ErrorEquals", "last retrier"),
    "States.ALL in the last catcher": (machine({"A": task(Catch=[{"ErrorEquals": ["States.ALL"], "Next": "B"},
                                                                 {"ErrorEquals": ["X"], "Next": "B"}]), "B": pass_end()}),
                                       SVF, "/States/A/Catch/0/ErrorEquals", "last catcher"),
    "MaxAttempts non-negative": (one(task(Retry=[{"ErrorEquals": ["X"], "MaxAttempts": -1}])), SVF,
                                 "/States/A/Retry/0/MaxAttempts", "integer between 0"),
    "BackoffRate at least 1": (one(task(Retry=[{"ErrorEquals": ["X"], "BackoffRate": 0.5}])), SVF,
                               "/States/A/Retry/0/BackoffRate", "at least 1"),
    "IntervalSeconds at least 1": (one(task(Retry=[{"ErrorEquals": ["X"], "IntervalSeconds": 0}])), SVF,
                                   "/States/A/Retry/0/IntervalSeconds", "integer between 1"),
    "MaxDelaySeconds positive": (one(task(Retry=[{"ErrorEquals": ["X"], "MaxDelaySeconds": 0}])), SVF,
                                 "/States/A/Retry/0/MaxDelaySeconds", "integer between 1"),
    "JitterStrategy values": (one(task(Retry=[{"ErrorEquals": ["X"], "JitterStrategy": "HALF"}])), SVF,
                              "/States/A/Retry/0/JitterStrategy", "FULL, NONE"),
    "unknown retrier field": (one(task(Retry=[{"ErrorEquals": ["X"], "Next": "A"}])), SVF, "/States/A/Retry/0/Next",
                              "not supported"),
    "Catch needs Next": (one(task(Catch=[{"ErrorEquals": ["X"]}])), SVF, "/States/A/Catch/0", "[Next]"),
    "Retry is an array": (one(task(Retry={"ErrorEquals": ["X"]})), SVF, "/States/A/Retry", "JSON array"),
    "Retry on Pass": (one(pass_end(Retry=[])), SVF, "/States/A/Retry", "'Retry' is not supported"),
    # Choice rules
    "Choices not empty": (choice(), SVF, "/States/C/Choices", "non-empty"),
    "one operator per rule": (choice(rule(IsNull=True, IsString=True)), SVF, "/States/C/Choices/0", "exactly one"),
    "an operator per rule": (choice(rule()), SVF, "/States/C/Choices/0", "found: none"),
    "Variable required": (choice({"IsNull": True, "Next": "D"}), SVF, "/States/C/Choices/0", "[Variable]"),
    "no Variable with And": (choice(rule(And=[{"Variable": "$.a", "IsNull": True}])), SVF,
                             "/States/C/Choices/0/Variable", "not supported with 'And'"),
    "And not empty": (choice({"And": [], "Next": "D"}), SVF, "/States/C/Choices/0/And", "non-empty"),
    "nested rules have no Next": (choice({"Or": [{"Variable": "$.a", "IsNull": True, "Next": "D"}], "Next": "D"}), SVF,
                                  "/States/C/Choices/0/Or/0/Next", "not supported"),
    "top rules need Next": (choice({"Variable": "$.a", "IsNull": True}), SVF, "/States/C/Choices/0", "[Next]"),
    "Not holds a rule": (choice({"Not": {"Variable": "$.a"}, "Next": "D"}), SVF, "/States/C/Choices/0/Not", "exactly one"),
    "String operand": (choice(rule(StringEquals=1)), SVF, "/States/C/Choices/0/StringEquals", "a string"),
    "StringMatches operand": (choice(rule(StringMatches=None)), SVF, "/States/C/Choices/0/StringMatches", "a string"),
    "Numeric operand": (choice(rule(NumericLessThan="1")), SVF, "/States/C/Choices/0/NumericLessThan", "a number"),
    "Numeric operand not boolean": (choice(rule(NumericEquals=True)), SVF, "/States/C/Choices/0/NumericEquals", "number"),
    "Boolean operand": (choice(rule(BooleanEquals="true")), SVF, "/States/C/Choices/0/BooleanEquals", "a boolean"),
    "Timestamp operand": (choice(rule(TimestampGreaterThan="yesterday")), SVF,
                          "/States/C/Choices/0/TimestampGreaterThan", "RFC 3339"),
    "type test operand": (choice(rule(IsTimestamp="yes")), SVF, "/States/C/Choices/0/IsTimestamp", "a boolean"),
    "unknown operator": (choice(rule(IsNull=True, StringContains="a")), SVF, "/States/C/Choices/0/StringContains", "not supported"),
    # Wait
    "Wait needs a time": (one({"Type": "Wait", "End": True}), SVF, "/States/A", "Exactly one of"),
    "Wait takes one time": (one({"Type": "Wait", "Seconds": 1, "SecondsPath": "$.s", "End": True}), SVF, "/States/A",
                            "Exactly one of"),
    "Wait Seconds non-negative": (one({"Type": "Wait", "Seconds": -1, "End": True}), SVF, "/States/A/Seconds", "integer"),
    "Wait Timestamp format": (one({"Type": "Wait", "Timestamp": "2016-03-14 01:59:00", "End": True}), SVF,
                              "/States/A/Timestamp", "RFC 3339"),
    # Fail
    "Error and ErrorPath": (one({"Type": "Fail", "Error": "E", "ErrorPath": "$.e"}), SVF, "/States/A",
                            "cannot be used together: [Error, ErrorPath]"),
    "Cause and CausePath": (one({"Type": "Fail", "Cause": "C", "CausePath": "$.c"}), SVF, "/States/A",
                            "cannot be used together: [Cause, CausePath]"),
    # Map
    "Map needs a processor": (one({"Type": "Map", "End": True}), SVF, "/States/A", "[ItemProcessor, Iterator]"),
    "Map takes one processor": (one({"Type": "Map", "End": True, "ItemProcessor": body(pass_end()),
                                     "Iterator": {"StartAt": "Y", "States": {"Y": pass_end()}}}), SVF, "/States/A",
                                "[ItemProcessor, Iterator]"),
    "ProcessorConfig Mode": (one({"Type": "Map", "End": True, "ItemProcessor": {**body(pass_end()),
                                                                                "ProcessorConfig": {"Mode": "LOCAL"}}}),
                             SVF, "/States/A/ItemProcessor/ProcessorConfig/Mode", "INLINE, DISTRIBUTED"),
    "DISTRIBUTED needs ExecutionType": (one({"Type": "Map", "End": True, "ItemProcessor": {
        **body(pass_end()), "ProcessorConfig": {"Mode": "DISTRIBUTED"}}}), SVF, "/States/A/ItemProcessor/ProcessorConfig",
        "[ExecutionType]"),
    "MaxConcurrency non-negative": (one({"Type": "Map", "End": True, "MaxConcurrency": -1,
                                         "ItemProcessor": body(pass_end())}), SVF, "/States/A/MaxConcurrency", "integer"),
    "MaxConcurrency and its Path": (one({"Type": "Map", "End": True, "MaxConcurrency": 1, "MaxConcurrencyPath": "$.m",
                                         "ItemProcessor": body(pass_end())}), SVF, "/States/A", "cannot be used together"),
    "ToleratedFailurePercentage range": (one({"Type": "Map", "End": True, "ToleratedFailurePercentage": 101,
                                              "ItemProcessor": body(pass_end())}), SVF,
                                         "/States/A/ToleratedFailurePercentage", "between 0 and 100"),
    "ToleratedFailureCount and its Path": (one({"Type": "Map", "End": True, "ToleratedFailureCount": 1,
                                                "ToleratedFailureCountPath": "$.t", "ItemProcessor": body(pass_end())}),
                                           SVF, "/States/A", "cannot be used together"),
    "ItemSelector and Parameters": (one({"Type": "Map", "End": True, "ItemSelector": {}, "Parameters": {},
                                         "ItemProcessor": body(pass_end())}), SVF, "/States/A", "cannot be used together"),
    "ItemReader needs Resource": (one({"Type": "Map", "End": True, "ItemReader": {"Parameters": {}},
                                       "ItemProcessor": body(pass_end())}), SVF, "/States/A/ItemReader", "[Resource]"),
    "ReaderConfig MaxItems and its Path": (one({"Type": "Map", "End": True, "ItemReader": {
        "Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"MaxItems": 1, "MaxItemsPath": "$.m"}},
        "ItemProcessor": body(pass_end())}), SVF, "/States/A/ItemReader/ReaderConfig", "cannot be used together"),
    "ItemBatcher fields": (one({"Type": "Map", "End": True, "ItemBatcher": {"MaxItems": 1},
                                "ItemProcessor": body(pass_end())}), SVF, "/States/A/ItemBatcher/MaxItems", "not supported"),
    "ResultWriter fields": (one({"Type": "Map", "End": True, "ResultWriter": {"Bucket": "b"},
                                 "ItemProcessor": body(pass_end())}), SVF, "/States/A/ResultWriter/Bucket", "not supported"),
    "processor states are checked": (one({"Type": "Map", "End": True, "ItemProcessor": guarded("Y")}), MTT,
                                     "/States/A/ItemProcessor/States/X/Next", "Y"),
    "processor has no outside targets": (machine({"A": {"Type": "Map", "Next": "B", "ItemProcessor": guarded("B")},
                                                  "B": pass_end()}), MTT, "/States/A/ItemProcessor/States/X/Next", "B"),
    # Parallel
    "Branches required": (one({"Type": "Parallel", "End": True}), SVF, "/States/A", "[Branches]"),
    "Branches not empty": (one({"Type": "Parallel", "End": True, "Branches": []}), SVF, "/States/A/Branches", "non-empty"),
    "branch states are checked": (one({"Type": "Parallel", "End": True, "Branches": [body(pass_end()), {
        "StartAt": "Y", "States": {"Y": {"Type": "Wait", "End": True}}}]}), SVF, "/States/A/Branches/1/States/Y",
        "Exactly one of"),
    "branch fields": (one({"Type": "Parallel", "End": True, "Branches": [{**body(pass_end()), "ProcessorConfig": {}}]}),
                      SVF, "/States/A/Branches/0/ProcessorConfig", "not supported"),
    # Task
    "Resource required": (one({"Type": "Task", "End": True}), SVF, "/States/A", "[Resource]"),
    "Resource is an ARN": (one(task(Resource="my-function")), SVF, "/States/A/Resource", "an ARN"),
    "TimeoutSeconds positive": (one(task(TimeoutSeconds=0)), SVF, "/States/A/TimeoutSeconds", "integer between 1"),
    "TimeoutSeconds and its Path": (one(task(TimeoutSeconds=5, TimeoutSecondsPath="$.t")), SVF, "/States/A",
                                    "[TimeoutSeconds, TimeoutSecondsPath]"),
    "HeartbeatSeconds and its Path": (one(task(HeartbeatSeconds=5, HeartbeatSecondsPath="$.t")), SVF, "/States/A",
                                      "[HeartbeatSeconds, HeartbeatSecondsPath]"),
    "Heartbeat below Timeout": (one(task(TimeoutSeconds=5, HeartbeatSeconds=5)), SVF, "/States/A/HeartbeatSeconds",
                                "smaller than TimeoutSeconds"),
    "Credentials is an object": (one(task(Credentials="role")), SVF, "/States/A/Credentials", "JSON object"),
}


@pytest.mark.parametrize("definition, code, location, fragment", RULES.values(), ids=RULES.keys())
def test_rule(definition, code, location, fragment):
    diagnostics = validate(definition)
    assert [(d.code, d.location) for d in diagnostics] == [(code, location)], diagnostics
    assert fragment in diagnostics[0].message
    assert diagnostics[0].severity == "ERROR"


VALID = {
    "minimal": one(pass_end()),
    "null paths": one(pass_end(InputPath=None, OutputPath=None, ResultPath=None)),
    "context and variable paths": one(pass_end(InputPath="$$.Execution.Input", Parameters={
        "a.$": "$$.Execution.Id", "b.$": "$v.x", "c.$": "States.Format('{}', $.x)", "d": [{"e.$": "$.e"}]})),
    "ErrorPath intrinsic": one({"Type": "Fail", "ErrorPath": "States.Format('E{}', $.x)", "CausePath": "$.c"}),
    "Assign on moving states": machine({
        "P": {"Type": "Pass", "Assign": {"a": 1, "b.$": "$.b"}, "Next": "W"},
        "W": {"Type": "Wait", "Seconds": 0, "Assign": {"c": 2}, "Next": "C"},
        "C": {"Type": "Choice", "Assign": {"d": 3}, "Choices": [{**rule(IsNull=True, Next="T"), "Assign": {"e": 4}}],
              "Default": "T"},
        "T": task(End=False, Next="M", Assign={"f": 5}, Catch=[{"ErrorEquals": ["States.ALL"], "Next": "M",
                                                                 "Assign": {"g": 6}}]),
        "M": {"Type": "Map", "ItemProcessor": body(pass_end()), "Assign": {"h": 7}, "Next": "Par"},
        "Par": {"Type": "Parallel", "Branches": [{"StartAt": "Y", "States": {"Y": pass_end()}}], "Assign": {"i": 8},
                "End": True}}),
    "JSONata state in a JSONPath machine": machine({
        "A": {"Type": "Pass", "QueryLanguage": "JSONata", "Output": "{% $states.input %}", "Next": "B"},
        "B": pass_end(ResultPath="$.b")}),
    "JSONata fields": jsonata(task(
        Arguments="{% $states.input %}", Output={"x": "{% $states.result.Payload %}"}, TimeoutSeconds="{% 30 %}",
        Assign={"v": "{% $states.input.v %}"}, Retry=[{"ErrorEquals": ["States.ALL"], "MaxAttempts": 2}],
        Catch=[{"ErrorEquals": ["States.ALL"], "Next": "A", "Output": "{% $states.errorOutput %}"}])),
    "JSONata Map keeps ItemSelector": jsonata({"Type": "Map", "End": True, "Items": "{% [1, 2] %}", "MaxConcurrency": 2,
                                               "ItemSelector": {"v": "{% $states.context.Map.Item.Value %}"},
                                               "ItemProcessor": body(pass_end())}),
    "JSONata Choice": machine({"C": {"Type": "Choice", "Choices": [{"Condition": "{% $states.input.x > 1 %}",
                                                                    "Next": "D", "Output": {"a": 1}}, {
        "Condition": True, "Next": "D"}], "Default": "D"}, "D": {"Type": "Succeed", "Output": "{% 1 %}"}},
        QueryLanguage="JSONata"),
    "Wait variants": machine({
        "A": {"Type": "Wait", "Timestamp": "2016-03-14T01:59:00.123+01:00", "Next": "B"},
        "B": {"Type": "Wait", "TimestampPath": "$.t", "Next": "C"},
        "C": {"Type": "Wait", "SecondsPath": "$$.Execution.Input.s", "End": True}}),
    "distributed Map": one({"Type": "Map", "End": True, "Label": "L", "MaxConcurrencyPath": "$.m",
                            "ToleratedFailurePercentagePath": "$.p", "ToleratedFailureCount": 0,
                            "ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
                                           "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW",
                                                            "MaxItemsPath": "$.n"}, "Parameters": {"Bucket.$": "$.b"}},
                            "ItemBatcher": {"MaxItemsPerBatch": 10, "BatchInput": {"k.$": "$.k"}},
                            "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "b"}},
                            "ItemProcessor": {**body(pass_end()),
                                              "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"}}}),
    "legacy Iterator with Parameters": one({"Type": "Map", "End": True, "ItemsPath": "$.items", "MaxConcurrency": 0,
                                            "Parameters": {"v.$": "$$.Map.Item.Value"}, "Iterator": body(pass_end())}),
    "Task timing": one(task(TimeoutSeconds=60, HeartbeatSeconds=10, Credentials={"RoleArn.$": "$.role"})),
    "activity ARN": one(task(Resource="arn:aws:states:us-east-1:123456789012:activity:approve")),
    "a state named with a slash": machine({"a/b": {"Type": "Pass", "Next": "c~d"}, "c~d": {"Type": "Succeed"}}),
    "retry everything": one(task(Retry=[{"ErrorEquals": ["Custom"], "IntervalSeconds": 1, "MaxAttempts": 0,
                                         "BackoffRate": 1, "MaxDelaySeconds": 5, "JitterStrategy": "FULL"},
                                        {"ErrorEquals": ["States.ALL"], "Comment": "last"}])),
}


@pytest.mark.parametrize("definition", VALID.values(), ids=VALID.keys())
def test_valid_definitions_have_no_findings(definition):
    assert validate(definition) == []


def _operand(operator):
    if operator.endswith("Path"):
        return "$.other"
    if operator.startswith(("String", "StringMatches")):
        return "a*"
    if operator.startswith("Numeric"):
        return 1.5
    if operator.startswith("Timestamp"):
        return "2024-01-01T00:00:00Z"
    return True


@pytest.mark.parametrize("operator", sorted(COMPARISONS))
def test_every_comparison_operator_is_accepted(operator):
    assert validate(choice(rule(**{operator: _operand(operator)}))) == []
    nested = choice({"Not": {"And": [{"Variable": "$.a", operator: _operand(operator)}]}, "Next": "D"})
    assert validate(nested) == []


def test_all_faults_are_reported_with_their_pointers():
    definition = {
        "StartAt": "Train",
        "Bogus": True,
        "States": {
            "Train": {"Type": "Task", "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync",
                      "Parameters": {"TrainingJobName.$": "States.Format('job-{}')"},
                      "Retry": [{"ErrorEquals": ["States.ALL"], "BackoffRate": 0.5}],
                      "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Cleanup"}],
                      "Next": "Check"},
            "Check": {"Type": "Choice", "Choices": [{"Variable": "$.Status", "StringEquals": "Completed",
                                                     "NumericEquals": 1, "Next": "Fan"}], "Default": "Failed"},
            "Fan": {"Type": "Map", "ItemsPath": "$.models", "Next": "Done",
                    "ItemProcessor": {"StartAt": "Score", "States": {
                        "Score": {"Type": "Pass", "ResultPath": "$.a[0:2]", "Next": "Nowhere"}}}},
            "Done": {"Type": "Succeed", "End": True},
            "Orphan": {"Type": "Pass", "End": True},
        },
    }
    assert found(definition) == [
        (SVF, "/Bogus"),
        (SVF, "/States/Train/Parameters/TrainingJobName.$"),
        (SVF, "/States/Train/Retry/0/BackoffRate"),
        (SVF, "/States/Check/Choices/0"),
        (SVF, "/States/Fan/ItemProcessor/States/Score/ResultPath"),
        (MTT, "/States/Fan/ItemProcessor/States/Score/Next"),
        (MISSING_END_STATE, "/States/Fan/ItemProcessor/States"),
        (SVF, "/States/Done/End"),
        (MTT, "/States/Train/Catch/0/Next"),
        (MTT, "/States/Check/Default"),
        (SVF, "/States/Orphan"),
    ]


def test_a_definition_must_be_an_object():
    assert found([]) == [(SVF, "")]


def test_diagnostics_have_the_api_shape():
    diagnostic = validate(one(pass_end(Foo=1)))[0]
    assert diagnostic.to_api() == {"severity": "ERROR", "code": SVF, "message": "Field 'Foo' is not supported",
                                   "location": "/States/A/Foo"}


# --------------------------------------------------------------------------- the recorded corpus
CORPUS = Path(__file__).resolve().parents[3].parent / "shared" / "conformance" / "cases"
VALIDATION_ERRORS = ("States.Validation", "ValidationException", "InvalidDefinition")


def _corpus_cases():
    if not CORPUS.is_dir():
        return []
    return sorted(CORPUS.glob("*.json"))


def _deployable(case):
    """The definition as the recording created it: placeholder ARNs of created resources made concrete."""
    text = json.dumps(case["definition"])
    for kind, entries in (case.get("resources") or {}).items():
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, dict) and "placeholder_arn" in entry:
                text = text.replace(entry["placeholder_arn"], f"arn:aws:states:us-east-1:111111111111:{kind}:x")
    return json.loads(text)


@pytest.mark.skipif(not _corpus_cases(), reason="conformance corpus not found beside the repository")
def test_every_definition_that_ran_on_aws_validates_clean():
    false_positives = {}
    for path in _corpus_cases():
        case = json.loads(path.read_text())
        if any(name in (case["expected"].get("error") or "") for name in VALIDATION_ERRORS):
            continue  # a deliberately invalid definition (none in the public split today)
        diagnostics = validate(_deployable(case))
        if diagnostics:
            false_positives[path.name] = [f"{d.location}: {d.message}" for d in diagnostics]
    assert false_positives == {}
