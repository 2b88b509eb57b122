"""Mocked service responses in Step Functions Local's MockConfigFile format (sfn-local-mock-cfg-file.html),
extended with fault injection: throttling, hangs, delays and live calls at chosen invocations.

```json
{"StateMachines": {"MyMachine": {"TestCases": {"HappyPath": {"LambdaState": "MockedLambdaSuccess"}}}},
 "MockedResponses": {"MockedLambdaSuccess": {"0": {"Return": {"StatusCode": 200, "Payload": {"ok": true}}},
                                             "1-2": {"Throw": {"Error": "Lambda.TooManyRequestsException",
                                                               "Cause": "Rate exceeded"}}}}}
```

A test case is chosen per execution as Step Functions Local does, by starting the execution with
`<stateMachineArn>#<TestCaseName>`; `split_test_case` takes that apart and `bind` ties the test case
to the execution. Within the execution, a state named in the test case answers with its mocked
response instead of calling the service; every other state calls its live integration, so mocked and
live tasks mix. The keys of a mocked response are the state's invocations, counted from 0 across
retries and Map iterations: `"0"`, or a range `"1-2"`; an invocation no key covers fails the task.

Each entry is an `Outcome`, looked up by its one key in `OUTCOMES`. Step Functions Local's two:

- `Return` — the task's result (for a `.waitForTaskToken` task: the answer the token brings);
- `Throw` — `{"Error", "Cause"}`: the task fails with that error.

drydock's fault injection adds, in the same table and at the same invocation numbers:

- `Throttle` — `{}`: the service refuses the call for its request rate, with the error Step Functions
  reports for that resource: `Lambda.TooManyRequestsException` (lambda:invoke, a function ARN),
  `SNS.ThrottledException`, `DynamoDB.ProvisionedThroughputExceededException` (item actions),
  `EventBridge.ThrottlingException`; a service whose SDK models no throttling error answers its base
  exception, the code in the cause: `SageMaker.AmazonSageMakerException` (sagemaker:*),
  `SageMaker.SageMakerException` (aws-sdk:sagemaker:*), `S3.S3Exception` (aws-sdk:s3:*, SlowDown, 503).
  `throttling_error` derives the name from botocore's model of the service.
- `Hang` — `{}`: the service never answers. The state's own timers end the task as they do on AWS:
  `TimeoutSeconds` with `States.Timeout` (a `TaskTimedOut` event); for a `.waitForTaskToken` or activity
  task the request is submitted (`TaskSubmitted`, output `{}`) and no answer comes, so `HeartbeatSeconds`
  fires first (`States.Timeout` in the history, matched by Retry/Catch on `States.HeartbeatTimeout`).
  A state with neither waits as AWS would — its default TimeoutSeconds (99999999 s) outlasts the
  execution — until the state machine's `TimeoutSeconds` or the one-year maximum of a Standard execution
  ends it with `ExecutionTimedOut`, which no Catch sees.
- `Delay` — `{"Seconds": N}` and optionally one other outcome (`{"Seconds": 90, "Return": {...}}`): that
  outcome happens N virtual seconds late, inside the state's TimeoutSeconds; without one, the live call
  is made late. On a callback task a delayed `Return` is a late answer (after `TaskSubmitted`, so
  `HeartbeatSeconds` can fire first).
- `Call` — `{}`: this invocation calls the live integration, as if the state were not mocked, so faults
  and live calls mix: `{"0": {"Throttle": {}}, "1": {"Call": {}}}`.

A test case may also target integrations instead of states: a key that is not a state of the machine is
a resource selector — a Task's Resource ARN (`"arn:aws:states:::lambda:invoke"`, exactly, pattern
included), a Lambda function ARN (the function, called by a bare ARN or by `lambda:invoke`'s
FunctionName), or `<service>:<action>` (`"lambda:invoke"`, `"aws-sdk:s3:headObject"`, any pattern; with
one, `"sagemaker:createTrainingJob.sync"`, only that pattern). A state named in the test case wins over
selectors; among selectors the most specific does. Invocations are counted per key of the test case: a
selector counts every task it answers for in the execution. A test case key that names neither a Task
state of the machine nor a resource one of its Task states uses is refused (`MockConfigError`), when
`bind` is given the definition, or at the execution's first task otherwise.
"""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol

from asl.errors import StatesError
from asl.tasks import Resource, TaskRequest, parse_resource


class MockConfigError(ValueError):
    """A mock configuration that does not follow the MockConfigFile format."""


class TaskCall(Protocol):
    """What the integrations hand an outcome: the task's request, its live integration and the engine's means."""

    request: TaskRequest

    async def live(self) -> Any:
        """The integration itself, as for a state no test case names."""

    def answer(self, value: Any, *, after: float = 0) -> Any:
        """The mocked result; on a callback task, the token's answer (sent `after` virtual seconds)."""

    async def hang(self) -> Any:
        """Never answer (returns at once on a callback task, whose token then waits for nothing)."""

    def new_id(self) -> str:
        """A request id for an error's cause."""


# --------------------------------------------------------------------------- outcomes
@dataclass(frozen=True)
class Return:
    """The task succeeds with this result."""

    value: Any

    async def apply(self, call: TaskCall) -> Any:
        return call.answer(self.value)


@dataclass(frozen=True)
class Throw:
    """The task fails with this error and cause, as the service would have failed it."""

    error: str
    cause: str | None = None

    async def apply(self, call: TaskCall) -> Any:
        raise StatesError(self.error, self.cause)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Throttle:
    """The service refuses the call for its request rate: its throttling error, as Step Functions names it."""

    async def apply(self, call: TaskCall) -> Any:
        raise throttling_error(call.request.resource, call.new_id())


@dataclass(frozen=True)
class Hang:
    """The service never answers; the state's TimeoutSeconds / HeartbeatSeconds, or the execution's limit, end it."""

    async def apply(self, call: TaskCall) -> Any:
        return await call.hang()


@dataclass(frozen=True)
class Call:
    """This invocation calls the live integration."""

    async def apply(self, call: TaskCall) -> Any:
        return await call.live()


@dataclass(frozen=True)
class Delay:
    """`then` (the live call by default) happens `seconds` virtual seconds late."""

    seconds: float
    then: Any = Call()

    async def apply(self, call: TaskCall) -> Any:
        if call.request.task_token and isinstance(self.then, Return):
            return call.answer(self.then.value, after=self.seconds)  # submitted now, answered late
        await call.request.sleep(self.seconds)
        return await self.then.apply(call)


def _return(spec: Any) -> Return:
    return Return(spec)


def _throw(spec: Any) -> Throw:
    if not isinstance(spec, dict) or not isinstance(spec.get("Error"), str):
        raise MockConfigError("a Throw needs an 'Error' string (and may have a 'Cause')")
    return Throw(spec["Error"], spec.get("Cause"))


def _empty(kind: str, made: Any, why: str) -> Callable[[Any], Any]:
    def parse(spec: Any) -> Any:
        if spec != {}:
            raise MockConfigError(f"a {kind} takes no fields, write {{\"{kind}\": {{}}}}: {why}")
        return made
    return parse


def _delay(spec: Any) -> Delay:
    if not isinstance(spec, dict) or "Seconds" not in spec:
        raise MockConfigError("a Delay needs 'Seconds' (and may hold one outcome: Return, Throw, Throttle, Hang, Call)")
    seconds = spec["Seconds"]
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
        raise MockConfigError(f"a Delay's 'Seconds' must be a number of seconds >= 0, not {seconds!r}")
    rest = {k: v for k, v in spec.items() if k != "Seconds"}
    if not rest:
        return Delay(seconds)
    if len(rest) != 1 or next(iter(rest)) not in OUTCOMES or "Delay" in rest:
        raise MockConfigError(f"a Delay holds 'Seconds' and at most one outcome of "
                              f"{', '.join(k for k in OUTCOMES if k != 'Delay')}, not {', '.join(rest)}")
    kind, body = next(iter(rest.items()))
    return Delay(seconds, OUTCOMES[kind](body))


OUTCOMES: dict[str, Callable[[Any], Any]] = {
    "Return": _return,
    "Throw": _throw,
    "Throttle": _empty("Throttle", Throttle(), "the error name comes from the task's resource"),
    "Hang": _empty("Hang", Hang(), "the state's TimeoutSeconds / HeartbeatSeconds end the task"),
    "Delay": _delay,
    "Call": _empty("Call", Call(), "the live integration answers"),
}


# --------------------------------------------------------------------------- throttling, as AWS names it
# error codes a service sends when it throttles, preferred in this order (KMS throttling is another matter)
THROTTLING_CODES = ("TooManyRequestsException", "ProvisionedThroughputExceededException", "RequestThrottled",
                    "Throttled", "ThrottledException", "ThrottlingException", "Throttling")
_MESSAGES = {  # (botocore service, code) -> the service's own wording; others say "Rate exceeded"
    ("lambda", "TooManyRequestsException"): "Rate Exceeded.",
    ("dynamodb", "ProvisionedThroughputExceededException"): "The level of configured provisioned throughput for the "
                                                            "table was exceeded. Consider increasing your provisioning "
                                                            "level with the UpdateTable API.",
    ("s3", "SlowDown"): "Please reduce your request rate.",
}
_BOTO_NAMES = {"states": "stepfunctions"}  # optimized integrations whose botocore name differs


def throttling_error(resource: Resource, request_id: str) -> StatesError:
    """The error Step Functions reports when the service behind `resource` throttles the call.

    The code is the operation's own throttling error in botocore's service model, else the service's,
    else the unmodeled one AWS sends (`ThrottlingException`, 400; `Throttling` for query services;
    EC2's `RequestLimitExceeded`; S3's `SlowDown`, 503). Optimized integrations word it as the Java SDK v1
    does, aws-sdk:* as v2 (`harness.integrations.errors`), so Retry/Catch see what they would on AWS.

    Raises:
        MockConfigError: the resource is no service call (an activity, an unknown ARN).
    """
    import botocore.session

    from harness.integrations import aws_sdk, errors

    sdk = resource.service.startswith("aws-sdk:")
    if resource.kind == "lambda":
        service = "lambda"
    elif resource.kind == "service" and (sdk or resource.service in errors.V1_SERVICES):
        service = resource.service.split(":", 1)[1] if sdk else resource.service
    else:
        raise MockConfigError(f"a Throttle needs a service to name the error after; {resource.arn!r} is none "
                              f"drydock knows (use Throw with the error name)")
    boto_name = aws_sdk.boto_service(service) if sdk else _BOTO_NAMES.get(service, service)
    model = botocore.session.get_session().get_service_model(boto_name)
    operation = aws_sdk.operation_name(model, resource.action)
    code, status = _throttling_code(model, operation)
    message = _MESSAGES.get((model.service_name, code), "Rate exceeded")
    shim = type("Client", (), {"meta": type("Meta", (), {"service_model": model})})
    exception = errors.modeled_exception(shim, operation, code)
    if sdk:
        name = errors.sdk_service_name(model.service_id)
        return errors.v2_error(name, exception or f"{name}Exception", message, status, request_id,
                               extended=model.service_name == "s3")
    return errors.v1_error(service, code, message, status, request_id, exception=exception)


def _throttling_code(model: Any, operation: str | None) -> tuple[str, int]:
    shapes = list(model.operation_model(operation).error_shapes) if operation else []
    # the operation's own errors first; of the service's, not a per-resource one (DynamoDB's table throughput)
    for group, codes in ((shapes, THROTTLING_CODES),
                         (list(model.error_shapes), [c for c in THROTTLING_CODES if "Provisioned" not in c])):
        by_code: dict[str, tuple[str, int]] = {}
        for shape in group:
            error = shape.metadata.get("error", {})
            for alias in (shape.name, error.get("code")):
                if alias:
                    by_code.setdefault(alias, (error.get("code") or shape.name, error.get("httpStatusCode") or 400))
        for code in codes:
            if code in by_code:
                return by_code[code]
    if model.service_name == "s3":
        return "SlowDown", 503
    protocol = model.metadata.get("protocol")
    if protocol == "ec2":
        return "RequestLimitExceeded", 503
    return ("Throttling" if protocol == "query" else "ThrottlingException"), 400


# --------------------------------------------------------------------------- resource selectors
@dataclass(frozen=True)
class _Selector:
    """A test case key that targets an integration rather than a state."""

    key: str
    arn: str | None = None  # an exact Task Resource ARN
    function: tuple[str, str] | None = None  # a Lambda function: (ARN, name)
    service: str = ""
    action: str = ""
    pattern: str | None = None  # None: any pattern

    @property
    def rank(self) -> int:
        return 3 if self.arn else 2 if self.function else 1 if self.pattern is not None else 0

    def matches(self, resource: Resource, parameters: Any) -> bool:
        if self.arn is not None:
            return resource.arn == self.arn
        if self.function is not None:
            if resource.kind == "lambda":
                return resource.arn == self.function[0]
            name = parameters.get("FunctionName") if isinstance(parameters, dict) else None
            return resource.service == "lambda" and resource.action == "invoke" and name in self.function
        return (resource.service, resource.action) == (self.service, self.action) and \
            (self.pattern is None or resource.pattern == self.pattern)


@functools.lru_cache(maxsize=1024)
def _selector(key: str) -> _Selector | None:
    if key.startswith("arn:"):
        parsed = parse_resource(key)
        if parsed.kind == "lambda":
            return _Selector(key, function=(key, key.split(":")[6]))
        return _Selector(key, arn=key) if parsed.kind == "service" else None
    if ":" not in key:
        return None
    parsed = parse_resource(f"arn:aws:states:::{key}")
    if parsed.kind != "service" or not parsed.action:
        return None
    explicit = key.endswith((".sync", ".sync:2", ".waitForTaskToken"))
    return _Selector(key, service=parsed.service, action=parsed.action, pattern=parsed.pattern if explicit else None)


def _states(definition: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every state of a definition, Parallel branches and Map bodies included."""
    states = definition.get("States") if isinstance(definition, dict) else None
    for name, state in (states.items() if isinstance(states, dict) else ()):
        if not isinstance(state, dict):
            continue
        yield name, state
        for branch in state.get("Branches") or []:
            yield from _states(branch)
        body = state.get("ItemProcessor") or state.get("Iterator")
        if isinstance(body, dict):
            yield from _states(body)


# --------------------------------------------------------------------------- the configuration
def split_test_case(state_machine_arn: str) -> tuple[str, str | None]:
    """'arn:...:stateMachine:Name#HappyPath' -> ('arn:...:stateMachine:Name', 'HappyPath')."""
    arn, sep, case = state_machine_arn.partition("#")
    return arn, (case or None) if sep else None


@dataclass
class _Response:
    ranges: list[tuple[int, int, Any]]

    def at(self, invocation: int) -> Any | None:
        for low, high, outcome in self.ranges:
            if low <= invocation <= high:
                return outcome
        return None


class MockConfig:
    """A loaded MockConfigFile, plus which test case each execution runs and how often each target ran."""

    def __init__(self, document: dict[str, Any]):
        self.document = document
        self.responses = {name: self._parse_response(name, spec)
                          for name, spec in (document.get("MockedResponses") or {}).items()}
        self.test_cases: dict[str, dict[str, dict[str, str]]] = {}
        for machine, spec in (document.get("StateMachines") or {}).items():
            cases = (spec or {}).get("TestCases") or {}
            for case, states in cases.items():
                for state, response in (states or {}).items():
                    if not isinstance(response, str):
                        raise MockConfigError(f"test case {machine}#{case}: {state!r} must name a mocked response "
                                              f"(a string), not {json.dumps(response)}")
                    if response not in self.responses:
                        raise MockConfigError(f"test case {machine}#{case}: state {state!r} names the mocked response "
                                              f"{response!r}, which MockedResponses does not define")
            self.test_cases[machine] = cases
        self._bound: dict[str, tuple[str, str]] = {}
        self._counts: dict[tuple[str, str], int] = {}
        self._checked: set[str] = set()

    @classmethod
    def load(cls, source: str | Path | dict[str, Any]) -> "MockConfig":
        """From a file path, JSON text, or the parsed document."""
        if isinstance(source, dict):
            return cls(source)
        text = str(source)
        if isinstance(source, Path) or not text.lstrip().startswith("{"):
            text = Path(source).read_text()
        return cls(json.loads(text))

    @staticmethod
    def _parse_response(name: str, spec: Any) -> _Response:
        if not isinstance(spec, dict) or not spec:
            raise MockConfigError(f"mocked response {name!r} must map invocation numbers to outcomes "
                                  f"({', '.join(OUTCOMES)})")
        ranges = []
        for key, entry in spec.items():
            low, dash, high = str(key).partition("-")
            try:
                span = (int(low), int(high if dash else low))
            except ValueError:
                raise MockConfigError(f"mocked response {name!r}: {key!r} is not an invocation number or range "
                                      f"such as '0' or '1-2'") from None
            if span[0] < 0 or span[1] < span[0]:
                raise MockConfigError(f"mocked response {name!r}: {key!r} is not an invocation number or range "
                                      f"such as '0' or '1-2' (from low to high, counted from 0)")
            if not isinstance(entry, dict) or len(entry) != 1:
                raise MockConfigError(f"mocked response {name!r}[{key!r}] must hold exactly one of "
                                      f"{', '.join(OUTCOMES)}")
            kind, body = next(iter(entry.items()))
            if kind not in OUTCOMES:
                raise MockConfigError(f"mocked response {name!r}[{key!r}]: unknown outcome {kind!r}; it must hold "
                                      f"exactly one of {', '.join(OUTCOMES)}")
            try:
                outcome = OUTCOMES[kind](body)
            except MockConfigError as err:
                raise MockConfigError(f"mocked response {name!r}[{key!r}]: {err}") from None
            for low, high, _ in ranges:
                if span[0] <= high and low <= span[1]:
                    raise MockConfigError(f"mocked response {name!r}: {key!r} overlaps the invocations "
                                          f"{low}-{high} another key already answers")
            ranges.append((span[0], span[1], outcome))
        return _Response(sorted(ranges, key=lambda r: r[0]))

    # ------------------------------------------------------------------ per execution
    def bind(self, execution_arn: str, state_machine: str, test_case: str | None,
             definition: dict[str, Any] | None = None) -> None:
        """Run `execution_arn` with `test_case` of `state_machine` (a name or an ARN).

        With the state machine's `definition`, the test case's keys are checked now (see `check`).
        """
        if test_case is None:
            return
        name = state_machine.rsplit(":", 1)[-1]
        if test_case not in self.test_cases.get(name, {}):
            raise MockConfigError(f"the mock configuration has no test case {test_case!r} for state machine {name!r}")
        self._bound[execution_arn] = (name, test_case)
        self._checked.discard(execution_arn)
        for key in [k for k in self._counts if k[0] == execution_arn]:
            del self._counts[key]  # a new execution under a reused ARN counts from 0 again
        if definition is not None:
            self.check(execution_arn, definition)

    def check(self, execution_arn: str, definition: dict[str, Any]) -> None:
        """Refuse a test case key that is neither a Task state of `definition` nor a resource one of them uses.

        Raises:
            MockConfigError: naming the key and what the state machine offers instead.
        """
        bound = self._bound.get(execution_arn)
        if bound is None or execution_arn in self._checked:
            return
        machine, case = bound
        states = dict(_states(definition))
        tasks = {name: state for name, state in states.items() if state.get("Type") == "Task"}
        resources = [parse_resource(state["Resource"]) for state in tasks.values()
                     if isinstance(state.get("Resource"), str)]
        for key in self.test_cases[machine][case]:
            if key in tasks:
                continue
            if key in states:
                raise MockConfigError(f"test case {machine}#{case}: {key!r} is a {states[key].get('Type')} state; "
                                      f"only Task states call a service")
            selector = _selector(key)
            lambdas = [r for r in resources if r.service == "lambda"]
            if selector is not None and (selector.function and lambdas or any(
                    selector.matches(r, None) for r in resources)):
                continue
            raise MockConfigError(
                f"test case {machine}#{case}: {key!r} is neither a Task state of the state machine nor a resource "
                f"one of its Task states uses (Task states: {', '.join(sorted(tasks)) or 'none'}; resources: "
                f"{', '.join(sorted({r.arn for r in resources})) or 'none'})")
        self._checked.add(execution_arn)

    def outcome(self, execution_arn: str, state_name: str, resource: Resource | None = None,
                parameters: Any = None) -> Any | None:
        """The mocked outcome of this invocation of a state, or None when the state calls its service.

        The state's own key in the test case answers first; otherwise the most specific resource
        selector matching `resource` (and, for a Lambda function, `parameters`' FunctionName).
        """
        bound = self._bound.get(execution_arn)
        if bound is None:
            return None
        machine, case = bound
        targets = self.test_cases[machine][case]
        key: str | None = state_name if state_name in targets else None
        if key is None and resource is not None:
            matching = [s for s in map(_selector, targets) if s is not None and s.matches(resource, parameters)]
            key = max(matching, key=lambda s: s.rank).key if matching else None
        if key is None:
            return None
        response_name = targets[key]
        invocation = self._counts.get((execution_arn, key), 0)
        self._counts[(execution_arn, key)] = invocation + 1
        outcome = self.responses[response_name].at(invocation)
        if outcome is None:
            target = f"state {state_name!r}" if key == state_name else f"{key!r} (state {state_name!r})"
            return Throw("States.TaskFailed", f"The mocked response {response_name!r} of {target} "
                                              f"(test case {machine}#{case}) defines no answer for invocation "
                                              f"{invocation}")
        return outcome
