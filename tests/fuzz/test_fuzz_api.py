"""Step Functions API requests of random shapes, through the in-process API: every answer is a 200 or an error
with a code AWS uses (the service model's errors, or the protocol's), never a 500 or a traceback."""
from __future__ import annotations

import json

import botocore.session
import pytest
from fuzz_kit import FUZZ, json_values
from hypothesis import given, note, settings
from hypothesis import strategies as st

from asl.tasks import HandlerTable
from harness.stepfunctions_api import TARGET_PREFIX, StepFunctionsApi

MODEL = botocore.session.get_session().get_service_model("stepfunctions")
OPERATIONS = sorted(MODEL.operation_names)
# the actions drydock implements come up four times as often as the others (which answer UnknownOperationException)
WEIGHTED = [op for op in OPERATIONS for _ in range(
    4 if hasattr(StepFunctionsApi, "".join("_" + c.lower() if c.isupper() else c for c in op).lstrip("_")) else 1)]
CODES = {shape.name for op in OPERATIONS for shape in MODEL.operation_model(op).error_shapes} | {
    "ValidationException", "SerializationException", "UnknownOperationException", "MissingRequiredParameter"}
ROLE = "arn:aws:iam::123456789012:role/fuzz"
PREFIX = "arn:aws:states:us-east-1:123456789012"
SAFE_DEFINITIONS = [
    {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 60, "Next": "Ask"},
                                "Ask": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                                        "Parameters": {"t.$": "$$.Task.Token"}, "End": True}}},
    {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"ok": True}, "End": True}}},
    {"QueryLanguage": "JSONata", "StartAt": "M", "States": {
        "M": {"Type": "Map", "Items": "{% [1, 2, 3] %}", "ItemProcessor": {"StartAt": "I", "States": {
            "I": {"Type": "Pass", "Output": "{% $states.input * 2 %}", "End": True}}}, "End": True}}},
    {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Boom", "Cause": "fuzz"}}},
]


class World:
    """An API with a few resources made, and pools of values to build requests from."""

    def __init__(self) -> None:
        self.tokens: list[str] = []
        table = HandlerTable()
        table.register("sqs", "sendMessage", lambda request: self.tokens.append(request.task_token))
        self.api = StepFunctionsApi(table, activity_poll_seconds=0.01)
        self.machine = self.call("CreateStateMachine", name="fuzz-standard", roleArn=ROLE,
                                 definition=json.dumps(SAFE_DEFINITIONS[0]))["stateMachineArn"]
        self.express = self.call("CreateStateMachine", name="fuzz-express", roleArn=ROLE, type="EXPRESS",
                                 definition=json.dumps(SAFE_DEFINITIONS[1]))["stateMachineArn"]
        self.activity = self.call("CreateActivity", name="fuzz-activity")["activityArn"]
        self.executions = [self.call("StartExecution", stateMachineArn=self.machine, name=f"e{i}")["executionArn"]
                           for i in range(3)]
        self.express_arns = [self.machine, self.express]

    def call(self, action: str, **params) -> dict:
        status, _, body = self.api.handle(TARGET_PREFIX + action, json.dumps(params).encode(), {})
        assert status == 200, body
        return json.loads(body)


@pytest.fixture(scope="module")
def world():
    made = World()
    yield made
    made.api.close()


def arn_values(world: World) -> st.SearchStrategy:
    known = st.sampled_from([world.machine, world.express, world.activity, *world.executions])
    return st.one_of(
        known, known, known,
        st.sampled_from([world.machine, world.express, world.activity, *world.executions, f"{PREFIX}:stateMachine:nope",
                         f"{PREFIX}:execution:fuzz-standard:nope", f"{PREFIX}:activity:nope", "arn:aws:states:::x",
                         f"{PREFIX}:stateMachine:fuzz-standard:1", f"{PREFIX}:mapRun:fuzz-standard/x:y",
                         "arn:aws:iam::123456789012:role/fuzz", "not an arn", "", f"{PREFIX}:express:fuzz-express:a:b"]),
        st.text(max_size=30))


def member_value(world: World, name: str, shape, depth: int = 0, chaos: bool = False) -> st.SearchStrategy:
    """A value for one member: plausible for its name most of the time, of its type otherwise, or (in a chaotic
    request) of any type."""
    lowered = name.lower()
    plausible = None
    if lowered.endswith("arn") and shape.type_name == "string":
        plausible = arn_values(world)
    elif lowered == "definition":
        plausible = st.one_of(st.sampled_from([json.dumps(d) for d in SAFE_DEFINITIONS]),
                              json_values.map(json.dumps), st.text(max_size=20))
    elif lowered in ("input", "output"):
        plausible = st.one_of(json_values.map(json.dumps), st.text(max_size=10))
    elif lowered == "tasktoken":
        plausible = st.one_of(st.sampled_from(world.tokens or ["none"]), st.text(max_size=20))
    elif lowered == "nexttoken":
        plausible = st.one_of(st.just("eyJ4IjogMX0="), st.text(max_size=12))
    elif lowered in ("name", "workername", "statename"):
        plausible = st.one_of(st.sampled_from(["fuzz-standard", "fuzz-activity", "e0", "P", "W", "Ask"]),
                              st.text(max_size=12))
    typed = typed_value(world, shape, depth, chaos)
    anything = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5), st.lists(st.integers(), max_size=2))
    if not chaos:
        return st.one_of(plausible, plausible, typed) if plausible is not None else typed
    return st.one_of(plausible, typed, anything) if plausible is not None else st.one_of(typed, anything)


def typed_value(world: World, shape, depth: int, chaos: bool = False) -> st.SearchStrategy:
    kind = shape.type_name
    if kind == "string":
        if getattr(shape, "enum", None):
            return st.one_of(st.sampled_from(shape.enum), st.text(max_size=6))
        return st.text(max_size=int(shape.metadata.get("max", 40)) + 2 if shape.metadata.get("max", 40) < 40 else 40)
    if kind in ("integer", "long"):
        return st.integers(-5, 2000)
    if kind in ("float", "double"):
        return st.floats(allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "timestamp":
        return st.one_of(st.integers(0, 2**31), st.text(max_size=10))
    if kind == "blob":
        return st.text(max_size=10)
    if depth >= 2:
        return st.none()
    if kind == "list":
        return st.lists(typed_value(world, shape.member, depth + 1, chaos), max_size=3)
    if kind == "map":
        return st.dictionaries(st.text(max_size=5), typed_value(world, shape.value, depth + 1, chaos), max_size=2)
    if kind == "structure":
        return request(world, shape, depth + 1, chaos)
    return st.none()


def request(world: World, shape, depth: int = 0, chaos: bool = False) -> st.SearchStrategy:
    """A structure: its required members (each left out now and then in a chaotic request) and some optional ones."""
    required = {name: member_value(world, name, shape.members[name], depth, chaos) for name in shape.required_members}
    optional = {name: member_value(world, name, member, depth, chaos) for name, member in shape.members.items()
                if name not in shape.required_members}
    if chaos:
        optional, required = {**optional, **required}, {}
    return st.fixed_dictionaries(required, optional=optional)


def one_in(n: int) -> st.SearchStrategy:
    """True once in `n` draws (st.integers(0, n) == 0 would be far likelier: hypothesis favours boundaries)."""
    return st.sampled_from([False] * (n - 1) + [True])


@st.composite
def api_call(draw, world: World):
    if draw(one_in(30)):
        target = draw(st.sampled_from(["AWSStepFunctions.Nope", "AWSStepFunctions.", "Other.StartExecution", ""]))
        return target, b"{}"
    operation = draw(st.sampled_from(WEIGHTED))
    shape = MODEL.operation_model(operation).input_shape
    chaos = draw(one_in(5))  # one request in five may have members of any type
    params = draw(request(world, shape, chaos=chaos)) if shape is not None else {}
    body = json.dumps(params).encode()
    if draw(one_in(40)):
        body = draw(st.sampled_from([b"", b"[]", b"null", b"{", b"\xff\xfe", b'"text"', b"1e999", b'{"a": NaN}']))
    return TARGET_PREFIX + operation, body


@settings(FUZZ, max_examples=1800)
@given(data=st.data())
def test_any_request_gets_an_aws_answer(fuzz_cases, world, data):
    fuzz_cases.count("api")
    target, body = data.draw(api_call(world))
    note(f"{target} {body[:300]!r}")
    status, headers, answer = world.api.handle(target, body, {})
    assert headers["Content-Type"] == "application/x-amz-json-1.0"
    payload = json.loads(answer)
    assert status in (200, 400), payload
    if status == 400:
        code = payload["__type"].rsplit("#", 1)[-1]
        assert code in CODES, payload
        assert isinstance(payload.get("message"), str)


def test_a_member_sent_as_null_is_a_member_not_sent(world):
    """Found by this fuzz test: {"stateMachineArn": null} reached the backend and was a 500."""
    status, _, answer = world.api.handle(TARGET_PREFIX + "ListExecutions", b'{"stateMachineArn": null}', {})
    assert (status, json.loads(answer)["message"]) == (400, "Must provide a StateMachine ARN or MapRun ARN")
