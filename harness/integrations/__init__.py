"""Step Functions' service integrations over the local cloud: resource ARN -> task handler.

`build_handlers(cloud)` returns the `TaskHandlers` the engine asks with `resolve(resource)`:

- `arn:aws:states:::<service>:<action>[.sync|.sync:2|.waitForTaskToken]` -> the optimized integration
  registered for (service, action) in `lambda_`, `sqs`, `sns`, `dynamodb`, `events`, `states`, `glue`,
  `sagemaker`;
- `arn:aws:states:::aws-sdk:<service>:<action>` -> `aws_sdk`, for any action the SDK knows;
- a bare Lambda function ARN -> `lambda_.invoke_function_arn`;
- an activity ARN -> the activity dispatcher of the Step Functions API, when one is attached.

Anything else resolves to None and the engine fails the task naming the ARN. With a mock
configuration (`harness.mock_config`), a state (or a resource) named in the execution's test case answers
with its mocked outcome instead of its integration: a result, an error, a throttle, a hang, a delay, or
the live call (`_MockedCall` gives the outcomes the live integration and the engine's timers).
"""
from __future__ import annotations

import inspect
from typing import Any, Callable

from asl import errors as E
from asl.engine import ApiError
from asl.errors import StatesError
from asl.history import to_json
from asl.runners import MAX_EXECUTION_SECONDS
from asl.scheduler import Cancelled
from asl.tasks import Resource, TaskHandler, TaskRequest, no_handler_error
from harness.integrations import (aws_sdk, dynamodb, events, glue, lambda_, sagemaker, sns,  # noqa: F401 - registration
                                  sqs, states)
from harness.integrations.registry import REGISTRY, Integration, Services
from harness.integrations.s3_items import S3ItemStore

MAX_PAYLOAD_BYTES = 256 * 1024

__all__ = ["Integrations", "build_handlers", "REGISTRY", "S3ItemStore"]


class Integrations:
    """The engine's `TaskHandlers` for one local cloud (and, once bound, one engine)."""

    def __init__(self, services: Services, mocks: Any = None):
        self.services = services
        self.mocks = mocks
        self.map_readers = S3ItemStore(services.cloud)

    def bind(self, engine: Any) -> "Integrations":
        """Attach the engine: nested executions, task tokens and deliveries run on its scheduler."""
        self.services.engine = engine
        if getattr(engine, "map_readers", None) is None:
            engine.map_readers = self.map_readers
        return self

    def resolve(self, resource: Resource) -> TaskHandler | None:
        live = self._live(resource)
        if live is None and self.mocks is None:
            return None
        return self._handler(resource, live)

    def _live(self, resource: Resource) -> Callable[[Services, TaskRequest], Any] | None:
        if resource.kind == "lambda":
            return lambda_.invoke_function_arn
        if resource.kind == "activity":
            dispatcher = self.services.activities
            if dispatcher is None:
                return None
            dispatcher.check(resource.arn)  # an activity that does not exist fails before it is scheduled
            return _activity
        if resource.kind != "service":
            return None
        if resource.service.startswith("aws-sdk:"):
            if resource.pattern not in ("", "waitForTaskToken") or not aws_sdk.knows(resource):
                return None
            return aws_sdk.call
        found: Integration | None = REGISTRY.get((resource.service, resource.action))
        if found is None or resource.pattern not in found.patterns:
            return None
        return found.run

    def _handler(self, resource: Resource, live: Callable[[Services, TaskRequest], Any] | None) -> TaskHandler:
        services, mocks = self.services, self.mocks

        async def call_live(request: TaskRequest) -> Any:
            if live is None:
                raise no_handler_error(resource)
            result = live(services, request)
            if inspect.isawaitable(result):
                result = await result
            if len(to_json(result).encode()) > MAX_PAYLOAD_BYTES:
                raise StatesError(E.DATA_LIMIT_EXCEEDED, f"The state/task '{resource.service}' returned a result with "
                                                         f"a size exceeding the maximum number of bytes service limit.")
            return result

        async def handle(request: TaskRequest) -> Any:
            outcome = self._mocked(request) if mocks is not None else None
            if outcome is None:
                return await call_live(request)
            return await outcome.apply(_MockedCall(services, request, call_live))

        def replayed(request: TaskRequest) -> None:  # a journal replay answered this invocation: count it
            if mocks is not None:
                self._mocked(request)
        handle.replayed = replayed  # type: ignore[attr-defined]
        return handle

    def _mocked(self, request: TaskRequest) -> Any:
        """The mocked outcome of this invocation, the test case checked against the definition first."""
        from harness.mock_config import MockConfigError

        engine = self.services.engine
        ex = engine.executions.get(request.execution_arn) if engine is not None else None
        try:
            if ex is not None:
                self.mocks.check(request.execution_arn, ex.program.definition)
            return self.mocks.outcome(request.execution_arn, request.state_name, request.resource, request.parameters)
        except MockConfigError as err:
            if ex is None:
                raise
            # a configuration mistake must not look like a service failure a Catch could take: the execution stops
            engine.stop_execution(ex, "MockConfigError", str(err))
            raise Cancelled() from None


class _MockedCall:
    """A mocked invocation's means (`harness.mock_config.TaskCall`): the live call, late answers, a hang."""

    def __init__(self, services: Services, request: TaskRequest, call_live: Callable[[TaskRequest], Any]):
        self.services, self.request, self._call_live = services, request, call_live

    async def live(self) -> Any:
        return await self._call_live(self.request)

    def new_id(self) -> str:
        return self.services.new_id()

    def answer(self, value: Any, *, after: float = 0) -> Any:
        engine, token = self.services.engine, self.request.task_token
        if token and engine is not None:
            # a mocked callback answers itself: the mocked result is what the token would bring
            if not after:
                engine.send_task_success(token, to_json(value))
            else:
                def late() -> None:
                    try:
                        engine.send_task_success(token, to_json(value))
                    except ApiError:  # the task timed out (or the execution ended) before the answer came
                        pass
                engine.scheduler.call_later(self.request.now() + after, late)
        return value

    async def hang(self) -> Any:
        engine = self.services.engine
        ex = engine.executions.get(self.request.execution_arn) if engine is not None else None
        if ex is None:
            raise StatesError(E.TASK_FAILED, "a Hang needs the engine the integrations are bound to")
        limit = ex.start + MAX_EXECUTION_SECONDS
        if self.request.task_token:
            # submitted, never answered: the engine's heartbeat and timeout timers take it from here; with
            # neither, and no TimeoutSeconds on the state machine, only the one-year maximum ends the execution
            if not (self.request.heartbeat_seconds or self.request.timeout_seconds or ex.program.timeout_seconds):
                engine.scheduler.call_later(limit, lambda: engine.time_out(ex))
            return {}
        # the task's deadline (TimeoutSeconds) or the execution's TimeoutSeconds cancels this sleep first, if any;
        # a Task without TimeoutSeconds waits as AWS's does (99999999 s by default), past the execution's year
        await self.request.sleep(limit - self.request.now())
        engine.time_out(ex)
        raise Cancelled()


async def _activity(services: Services, request: TaskRequest) -> None:
    """Put the task on the activity's queue; a worker's GetActivityTask takes it (and the token) from there."""
    services.activities.schedule(request)


def build_handlers(cloud: Any, *, mocks: Any = None, start_execution: Callable[..., Any] | None = None,
                   sfn_api: Any = None, activities: Any = None, lambda_code_dirs: dict[str, str] | None = None,
                   seed: int = 0) -> Integrations:
    """The task handlers of drydock's integrations over `cloud` (a `harness.cloud.LocalCloud`).

    Args:
        cloud: the local cloud whose clients the integrations call.
        mocks: a `harness.mock_config.MockConfig`; states and resources named in an execution's test case are
            mocked or have faults injected.
        start_execution: `(state_machine_arn, input_text, name) -> asl.engine.Execution`, for
            `states:startExecution` and EventBridge targets (a nested execution on the same engine).
        sfn_api: the Step Functions API object (snake_case methods taking boto3's arguments) that
            `aws-sdk:sfn:*` calls; by default the engine's own task tokens answer them.
        activities: the dispatcher of activity tasks (`check(arn)`, `schedule(request)`).
        lambda_code_dirs: function name -> a directory holding its code, instead of the stored zip.
        seed: makes message and request ids repeatable.

    Returns:
        An `Integrations`; call `.bind(engine)` once the engine exists.
    """
    services = Services(cloud, start_execution=start_execution, sfn_api=sfn_api, lambda_code_dirs=lambda_code_dirs,
                        seed=seed)
    services.activities = activities
    return Integrations(services, mocks)
