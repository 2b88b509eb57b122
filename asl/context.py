"""The context object (`$$`): what an execution, the current state, a task and a Map item look like."""
from __future__ import annotations

from typing import Any

from asl.clock import iso


def execution_context(*, execution_arn: str, name: str, input_value: Any, role_arn: str, start: float,
                      state_machine_arn: str, state_machine_name: str) -> dict[str, Any]:
    return {
        "Execution": {"Id": execution_arn, "Input": input_value, "StartTime": iso(start), "Name": name,
                      "RoleArn": role_arn, "RedriveCount": 0},
        "StateMachine": {"Id": state_machine_arn, "Name": state_machine_name},
    }


def with_state(base: dict[str, Any], name: str, entered: float, retry_count: int | None = None) -> dict[str, Any]:
    """`$$.State`; RetryCount exists only for states that can retry (Task, Map, Parallel)."""
    ctx = dict(base)
    ctx["State"] = {"EnteredTime": iso(entered), "Name": name}
    if retry_count is not None:
        ctx["State"]["RetryCount"] = retry_count
    return ctx


def with_task_token(ctx: dict[str, Any], token: str) -> dict[str, Any]:
    out = dict(ctx)
    out["Task"] = {"Token": token}
    return out


def with_map_item(ctx: dict[str, Any], index: int, value: Any) -> dict[str, Any]:
    out = dict(ctx)
    out["Map"] = {"Item": {"Index": index, "Value": value}}
    return out
