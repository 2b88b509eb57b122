"""Check a state machine's role against every integration call of its definition, before anything runs.

Each Task (in Parallel branches and Map processors too), each Map's ItemReader and ResultWriter, and a
distributed Map's child executions need the permissions `harness.iam.actions` lists. A resource is
taken from the Parameters/Arguments when it is written there literally and is `*` otherwise; such a
permission counts as granted when the role may allow it for some value, so a finding is a permission
that no value can get (strict mode checks the real values at run time, `harness.iam.enforce`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator

from asl.pointer import pointer
from harness.iam.actions import STOP, Permission, required, static_parameters
from harness.iam.policy import Decision, Role


@dataclass(frozen=True)
class Finding:
    """A permission the role lacks for the state at `location`."""

    location: str  # JSON pointer of the state in the definition, e.g. "/States/Train"
    action: str
    resource: str
    reason: str  # policy.IMPLICIT_DENY, EXPLICIT_DENY, BOUNDARY_DENY, or "unknown-role"
    role: str  # the ARN of the role that was checked
    phase: str = "call"
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        names = {"role": "roleArn"}
        return {names.get(k, k): v for k, v in self.__dict__.items() if v != ""}


@dataclass(frozen=True)
class Need:
    """One permission one state needs."""

    location: str
    permission: Permission
    assumed_role: str | None = None  # the Task's Credentials.RoleArn, when it runs as another role


def needs(definition: Any, *, region: str, account: str, state_machine_arn: str | None = None) -> list[Need]:
    """Every permission the definition's integration calls need, with the state that needs it."""
    machine = state_machine_arn or f"arn:aws:states:{region}:{account}:stateMachine:*"
    found: list[Need] = []
    for at, state in _states(definition, ()):
        found += _state_needs(at, state, region, account, machine)
    return found


def _states(body: Any, at: tuple[str | int, ...]) -> Iterator[tuple[tuple[str | int, ...], dict[str, Any]]]:
    states = body.get("States") if isinstance(body, dict) else None
    for name, state in (states.items() if isinstance(states, dict) else ()):
        if not isinstance(state, dict):
            continue
        here = (*at, "States", name)
        yield here, state
        branches = state.get("Branches")
        for i, branch in enumerate(branches if isinstance(branches, list) else []):
            yield from _states(branch, (*here, "Branches", i))
        for key in ("ItemProcessor", "Iterator"):
            if isinstance(state.get(key), dict):
                yield from _states(state[key], (*here, key))


def _parameters(holder: dict[str, Any]) -> Any:
    for key in ("Parameters", "Arguments"):
        if key in holder:
            return static_parameters(holder[key])
    return {}


def _state_needs(at: tuple[str | int, ...], state: dict[str, Any], region: str, account: str,
                 machine: str) -> list[Need]:
    where = pointer(*at)
    kind = state.get("Type")
    found: list[Need] = []
    if kind == "Task" and isinstance(state.get("Resource"), str):
        assumed = None
        credentials = state.get("Credentials")
        if isinstance(credentials, dict):
            assumed = credentials.get("RoleArn") if isinstance(credentials.get("RoleArn"), str) else "*"
            found.append(Need(where, Permission("sts:AssumeRole", assumed or "*", exact=assumed not in (None, "*"))))
        for permission in required(state["Resource"], _parameters(state), region=region, account=account):
            found.append(Need(where, permission, assumed))
    if kind == "Map":
        for key in ("ItemReader", "ResultWriter"):
            part = state.get(key)
            if isinstance(part, dict) and isinstance(part.get("Resource"), str):
                for permission in required(part["Resource"], _parameters(part), region=region, account=account):
                    found.append(Need(pointer(*at, key), permission))
        processor = state.get("ItemProcessor")
        config = processor.get("ProcessorConfig") if isinstance(processor, dict) else None
        if isinstance(config, dict) and config.get("Mode") == "DISTRIBUTED":
            # child workflow executions of a Distributed Map run as executions of this state machine
            name = machine.split(":")[6] if machine.count(":") >= 6 else "*"
            executions = f"arn:aws:states:{region}:{account}:execution:{name}/*"
            found += [Need(where, Permission("states:StartExecution", machine, exact="*" not in machine)),
                      Need(where, Permission("states:DescribeExecution", executions, exact=False)),
                      Need(where, Permission("states:StopExecution", executions, exact=False, phase=STOP))]
    return found


def check(definition: Any, role: Role, *, region: str, account: str, state_machine_arn: str | None = None,
          roles: Callable[[str], Role | None] | None = None) -> list[Finding]:
    """The permissions `role` lacks for the definition's integration calls.

    Args:
        definition: the state machine definition (a dict).
        role: the state machine's role.
        region: region the tasks run in (resources are built for it).
        account: account the tasks run in.
        state_machine_arn: the machine's own ARN (a Distributed Map starts executions of it).
        roles: role ARN -> Role, for Tasks whose Credentials name another role; such a Task is not
            checked when the role is unknown.

    Returns:
        Findings in definition order, each (state, action, resource) once.
    """
    findings: list[Finding] = []
    seen: set[tuple[str, str, str]] = set()
    for need in needs(definition, region=region, account=account, state_machine_arn=state_machine_arn):
        checked = role
        if need.assumed_role is not None:
            other = roles(need.assumed_role) if roles is not None and need.assumed_role != "*" else None
            if other is None:
                continue
            checked = other
        permission = need.permission
        decision: Decision = checked.evaluate(permission.action, permission.resource, context=dict(permission.context),
                                              exact=permission.exact)
        key = (need.location, permission.action, permission.resource)
        if decision.allowed or key in seen:
            continue
        seen.add(key)
        notes = [permission.note] if permission.note else []
        if decision.unsupported:
            notes.append(f"drydock could not evaluate {', '.join(decision.unsupported)} and assumed the worst")
        findings.append(Finding(need.location, permission.action, permission.resource, decision.reason, checked.arn,
                                permission.phase, "; ".join(notes)))
    return findings
