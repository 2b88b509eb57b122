"""Running one recorded AWS conformance case through drydock, in the `drydock run --json` shape.

Cases that need only the interpreter (`needs` of none/wait) run on the bare engine; cases that need
services run on an engine wired to drydock's integrations over a fresh in-process local cloud
(`harness.conformance_services`), with the case's resources created and its workers running as
fibers beside the execution.
"""
from __future__ import annotations

import datetime as dt
import json
from typing import Any

from asl.engine import Engine
from asl.errors import DefinitionError

ENGINE_ONLY_NEEDS = {"none", "wait"}
ACCOUNT = "111111111111"
REGION = "us-east-1"


def jsonable_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Events as JSON values: timestamps in ISO-8601, as `drydock run --json` prints them."""
    out = []
    for event in events:
        e = dict(event)
        ts = e.get("timestamp")
        if isinstance(ts, dt.datetime):
            e["timestamp"] = ts.isoformat()
        out.append(e)
    return out


def run_definition(definition: dict[str, Any], input_text: str, *, engine: Engine | None = None,
                   name: str = "conformance", state_machine_name: str = "conformance") -> dict[str, Any]:
    """Run a definition to completion on an engine; returns the run --json shape."""
    engine = engine or Engine(account=ACCOUNT, region=REGION)
    arn = f"arn:aws:states:{engine.region}:{engine.account}:stateMachine:{state_machine_name}"
    try:
        ex = engine.start(definition, input_text, name=name, state_machine_arn=arn)
    except DefinitionError as err:
        return {"status": "INVALID_DEFINITION", "output": None, "error": "States.InvalidDefinition",
                "cause": str(err), "events": []}
    engine.run_to_completion(ex)
    result = ex.result()
    result["events"] = jsonable_events(result["events"])
    return result


def runnable(case: dict[str, Any]) -> str | None:
    """Why a case cannot run here, or None when it can."""
    needs = set(case.get("needs") or ["none"])
    if needs <= ENGINE_ONLY_NEEDS:
        return None
    from harness.conformance_services import unsupported

    return unsupported(case)


def run_case(case: dict[str, Any]) -> dict[str, Any]:
    needs = set(case.get("needs") or ["none"])
    if needs <= ENGINE_ONLY_NEEDS:
        return run_definition(case["definition"], case["input_text"])
    from harness.conformance_services import run_service_case

    return run_service_case(case)


def dumps(result: dict[str, Any]) -> str:
    return json.dumps(result, indent=1, default=str)
