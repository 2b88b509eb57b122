"""Property tests: whatever definition and input, the interpreter raises only its own documented errors.

Definitions are generated valid and broken (dangling Next, bad paths, odd field values); a run must
end in a terminal status with a well-formed history, or be refused with a DefinitionError.
"""
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asl.engine import Engine
from asl.errors import DefinitionError
from asl.validate import validate

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=False, allow_infinity=False,
                                                                                 width=16), st.text(max_size=5))
json_values = st.recursive(json_scalars, lambda kids: st.one_of(st.lists(kids, max_size=3),
                                                                 st.dictionaries(st.sampled_from("abcxy"), kids,
                                                                                 max_size=3)), max_leaves=8)
paths = st.sampled_from(["$", "$.a", "$.b[0]", "$.x.y", "$..a", "$.a[*]", "$[1:]", "$$.Execution.Input", "$.", "a",
                         "$var", "$['a']"])
intrinsics = st.sampled_from(["States.Format('{}', $.a)", "States.ArrayLength($.a)", "States.MathAdd($.a, 1)",
                              "States.StringToJson($.a)", "States.JsonMerge($.a, $.b, false)", "States.UUID()",
                              "States.ArrayGetItem($.a, 0)", "States.Hash($.a, 'SHA-256')", "States.Nope(1)",
                              "States.Array($.a, $.b"])


@st.composite
def states(draw, targets, depth=0):
    names = st.one_of(st.sampled_from(targets), st.sampled_from(targets), st.just("Nowhere"))
    kind = draw(st.sampled_from(["Pass", "Choice", "Wait", "Fail", "Succeed"] + (["Map", "Parallel"] if depth < 1 else [])))
    state: dict = {"Type": kind}
    if kind not in ("Choice", "Fail", "Succeed"):
        if draw(st.booleans()):
            state["Next"] = draw(names)
        else:
            state["End"] = True
    if kind in ("Pass", "Map", "Parallel", "Choice", "Wait", "Succeed") and draw(st.booleans()):
        state["InputPath"] = draw(st.one_of(paths, st.none()))
    if kind in ("Pass", "Map", "Parallel") and draw(st.booleans()):
        state["ResultPath"] = draw(st.one_of(paths, st.none()))
    if kind == "Pass":
        if draw(st.booleans()):
            state["Result"] = draw(json_values)
        if draw(st.booleans()):
            state["Parameters"] = {"p.$": draw(st.one_of(paths, intrinsics)), "k": draw(json_scalars)}
    elif kind == "Choice":
        op = draw(st.sampled_from(["NumericEquals", "StringEquals", "BooleanEquals", "IsPresent", "IsNull",
                                   "TimestampLessThan", "NumericGreaterThanPath"]))
        operand = {"NumericEquals": 1, "StringEquals": "x", "BooleanEquals": True, "IsPresent": True, "IsNull": False,
                   "TimestampLessThan": "2024-01-01T00:00:00Z", "NumericGreaterThanPath": "$.b"}[op]
        state["Choices"] = [{"Variable": draw(paths), op: operand, "Next": draw(names)}]
        if draw(st.booleans()):
            state["Default"] = draw(names)
    elif kind == "Wait":
        field = draw(st.sampled_from(["Seconds", "SecondsPath", "Timestamp", "TimestampPath"]))
        state[field] = {"Seconds": draw(st.integers(-1, 100)), "SecondsPath": draw(paths),
                        "Timestamp": "2024-01-01T00:00:00Z", "TimestampPath": draw(paths)}[field]
    elif kind == "Fail":
        if draw(st.booleans()):
            state["ErrorPath"] = draw(paths)
        else:
            state["Error"] = "Boom"
    elif kind == "Map":
        state["ItemsPath"] = draw(paths)
        state["ItemProcessor"] = draw(machines(depth + 1))
        state["MaxConcurrency"] = draw(st.integers(0, 3))
    elif kind == "Parallel":
        state["Branches"] = [draw(machines(depth + 1)) for _ in range(draw(st.integers(1, 2)))]
    if kind in ("Map", "Parallel") and draw(st.booleans()):
        state["Retry"] = [{"ErrorEquals": ["States.ALL"], "MaxAttempts": draw(st.integers(0, 2))}]
        state["Catch"] = [{"ErrorEquals": ["States.ALL"], "Next": draw(names)}]
    return state


@st.composite
def machines(draw, depth=0):
    chosen = draw(st.lists(st.sampled_from("ABCD"), min_size=1, max_size=4, unique=True))
    body = {n: draw(states(chosen, depth)) for n in chosen}
    if draw(st.integers(0, 3)):  # mostly give the machine a way out
        body[chosen[-1]] = {"Type": "Succeed"}
    return {"StartAt": draw(st.sampled_from(chosen + ["Z"]) if not draw(st.integers(0, 5)) else st.just(chosen[0])),
            "States": body}


def check_history(events):
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    assert all(0 <= e["previousEventId"] < e["id"] for e in events)
    assert events[0]["type"] == "ExecutionStarted"
    assert events[-1]["type"] in ("ExecutionSucceeded", "ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted")


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(machines(), json_values)
def test_any_definition_runs_to_a_terminal_status_or_is_refused(definition, value):
    engine = Engine()
    try:
        ex = engine.start(definition, json.dumps(value))
    except DefinitionError as err:
        assert err.diagnostics and all(d.location.startswith("/") or d.location == "" for d in err.diagnostics)
        return
    engine.run(until=lambda: ex.done or len(ex.history.events) > 2000)
    if not ex.done:  # a legal infinite loop (Choice back to itself); stop it as a user would
        engine.stop_execution(ex)
    assert ex.status in ("SUCCEEDED", "FAILED", "ABORTED")
    check_history(ex.history.events)
    if ex.status == "SUCCEEDED":
        json.loads(ex.output_text)


@settings(max_examples=300, deadline=None)
@given(st.recursive(json_values, lambda kids: st.dictionaries(st.sampled_from(
    ["StartAt", "States", "Type", "Next", "End", "Choices", "Branches", "ItemProcessor", "A", "Resource"]), kids,
    max_size=4), max_leaves=12))
def test_validate_never_crashes_on_arbitrary_documents(document):
    findings = validate(document) if isinstance(document, dict) else validate({"States": document})
    assert all(f.code and isinstance(f.location, str) for f in findings)
