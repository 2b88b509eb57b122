"""Helpers of the integration tests: a fresh in-process cloud per test, one engine per execution."""
from __future__ import annotations

import io
import json
import zipfile
from typing import Any

from asl.engine import Engine
from harness.cloud import LocalCloud
from harness.integrations import Integrations, build_handlers

ROLE = "arn:aws:iam::123456789012:role/lambda-role"


def fresh_cloud() -> LocalCloud:
    from moto.core.base_backend import BackendDict

    cloud = LocalCloud()
    BackendDict.reset()
    return cloud


class Runner:
    """Runs definitions on an engine wired to the integrations (and optionally mocks) of one cloud."""

    def __init__(self, cloud: LocalCloud):
        self.cloud = cloud
        self.machines: dict[str, dict[str, Any]] = {}
        self.engine: Engine | None = None
        self.handlers: Integrations | None = None

    def engine_for(self, mocks: Any = None, **kwargs: Any) -> Engine:
        def start_execution(arn: str, input_text: str, name: str | None = None) -> Any:
            from asl.engine import ApiError

            if arn not in self.machines:
                raise ApiError("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{arn}'")
            return self.engine.start(self.machines[arn], input_text, name=name, state_machine_arn=arn)  # type: ignore[union-attr]

        self.handlers = build_handlers(self.cloud, mocks=mocks, start_execution=start_execution, **kwargs)
        self.engine = Engine(self.handlers, account=self.cloud.account, region=self.cloud.region)
        self.handlers.bind(self.engine)
        return self.engine

    def run(self, definition: dict[str, Any], input_value: Any = None, *, mocks: Any = None, test_case: str | None = None,
            name: str = "machine", **kwargs: Any) -> Any:
        engine = self.engine_for(mocks, **kwargs)
        arn = f"arn:aws:states:{self.cloud.region}:{self.cloud.account}:stateMachine:{name}"
        ex = engine.start(definition, json.dumps({} if input_value is None else input_value), state_machine_arn=arn)
        if mocks is not None:
            mocks.bind(ex.arn, name, test_case)
        engine.run_to_completion(ex)
        return ex

    def create_function(self, name: str, source: str, *, timeout: int = 3, handler: str = "handler.handler",
                        file: str = "handler.py", env: dict[str, str] | None = None) -> str:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as archive:
            archive.writestr(file, source)
        iam = self.cloud.client("iam")
        try:
            iam.create_role(RoleName="lambda-role", AssumeRolePolicyDocument="{}")
        except Exception:  # noqa: BLE001 - already there
            pass
        kwargs: dict[str, Any] = {}
        if env:
            kwargs["Environment"] = {"Variables": env}
        return self.cloud.client("lambda").create_function(
            FunctionName=name, Runtime="python3.12", Role=ROLE, Handler=handler, Code={"ZipFile": buf.getvalue()},
            Timeout=timeout, **kwargs)["FunctionArn"]


def task(resource: str, parameters: Any = None, **extra: Any) -> dict[str, Any]:
    """A one-state machine around a Task."""
    state: dict[str, Any] = {"Type": "Task", "Resource": resource, "End": True, **extra}
    if parameters is not None:
        state["Parameters"] = parameters
    return {"StartAt": "Task", "States": {"Task": state}}


def events_of(ex: Any, *types: str) -> list[dict[str, Any]]:
    return [e for e in ex.history.events if e["type"] in types]


def details(event: dict[str, Any]) -> dict[str, Any]:
    return next(v for k, v in event.items() if k.endswith("EventDetails"))
