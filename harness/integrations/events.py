"""Step Functions -> Amazon EventBridge (connect-eventbridge.html): `events:putEvents` and its `.waitForTaskToken`.

Request: `Entries`, each `{"Detail", "DetailType", "Source", "EventBusName", "Resources", "Time", "TraceHeader"}`;
a `Detail` that is a JSON object is sent as its JSON text.

Response: `{"Entries": [{"EventId"} | {"ErrorCode", "ErrorMessage"}], "FailedEntryCount"}`, no HTTP metadata.
When an entry fails, the task fails with `EventBridge.FailedEntry` and that response as the cause
(cases `services_test_events_task_service*`).

Each accepted event goes through the bus's enabled rules; a matching rule delivers it to its targets:
SQS queues, SNS topics, Lambda functions (beside the execution), Step Functions state machines (a new
execution on the same engine) and other event buses.
"""
from __future__ import annotations

import json
import re
from typing import Any

from asl.clock import iso
from asl.errors import StatesError
from asl.tasks import TaskRequest
from harness.integrations import errors
from harness.integrations.registry import Services, integration
from harness.integrations.responses import compact


@integration("events", "putEvents", patterns=("", "waitForTaskToken"))
async def put_events(services: Services, request: TaskRequest) -> Any:
    entries = (request.parameters or {}).get("Entries")
    if not isinstance(entries, list) or not entries:
        raise errors.v1_error("events", "ValidationException", "1 validation error detected: Value null at 'entries' "
                              "failed to satisfy constraint: Member must not be null", 400, services.new_id())
    results = [put_event(services, request, entry) for entry in entries]
    failed = sum(1 for r in results if "ErrorCode" in r)
    answer = {"Entries": results, "FailedEntryCount": failed}
    if failed:
        raise StatesError("EventBridge.FailedEntry", compact(answer))
    return answer


def put_event(services: Services, request: TaskRequest | None, entry: dict[str, Any]) -> dict[str, Any]:
    """Validate one entry as PutEvents does; route it when it is accepted."""
    detail = entry.get("Detail")
    if not isinstance(detail, str) and detail is not None:
        detail = compact(detail)
    for field in ("Source", "DetailType", "Detail"):
        value = detail if field == "Detail" else entry.get(field)
        if not value:
            return {"ErrorCode": "InvalidArgument",
                    "ErrorMessage": f"Parameter {field} is not valid. Reason: {field} is a required argument."}
    try:
        parsed = json.loads(detail)  # type: ignore[arg-type]
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):  # EventBridge takes only a JSON object as the detail
        return {"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."}
    event_id = services.new_id()
    now = request.now() if request is not None else 0.0
    event = {"version": "0", "id": event_id, "detail-type": entry["DetailType"], "source": entry["Source"],
             "account": services.account, "time": entry.get("Time") or iso(now)[:19] + "Z",
             "region": services.region, "resources": entry.get("Resources") or [], "detail": parsed}
    route(services, request, entry.get("EventBusName") or "default", event)
    return {"EventId": event_id}


def route(services: Services, request: TaskRequest | None, bus: str, event: dict[str, Any], depth: int = 0) -> None:
    from moto.events.models import EventPattern

    client = services.client("events")
    bus_name = bus.rsplit("/", 1)[-1] if bus.startswith("arn:") else bus
    try:
        rules = client.list_rules(EventBusName=bus_name).get("Rules", [])
    except Exception:  # noqa: BLE001 - an unknown bus has no rules to match
        return
    for rule in rules:
        if rule.get("State", "ENABLED") != "ENABLED" or not rule.get("EventPattern"):
            continue
        if not EventPattern.load(rule["EventPattern"]).matches_event(event):
            continue
        targets = client.list_targets_by_rule(Rule=rule["Name"], EventBusName=bus_name).get("Targets", [])
        for target in targets:
            deliver(services, request, target, event, depth)


def _target_input(target: dict[str, Any], event: dict[str, Any]) -> str:
    if target.get("Input") is not None:
        return target["Input"]
    if target.get("InputPath"):
        from asl.paths import compile_query

        return compact(compile_query(target["InputPath"]).get(event, {}, {}))
    if target.get("InputTransformer"):
        return transform_input(target["InputTransformer"], event)
    return compact(event)


_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.-]+)>")


def transform_input(transformer: dict[str, Any], event: dict[str, Any]) -> str:
    """An InputTransformer's output (eb-transform-target-input.html): each `<name>` of InputTemplate replaced by
    the value its InputPathsMap path selects (or a predefined `aws.events.*` variable). A placeholder inside a
    JSON string gets the value's text; one outside gets the value as JSON (a string with its quotes), so
    `{"key": <key>}` stays JSON. A path that selects nothing gives null (outside a string) or "" (inside)."""
    from asl.paths import compile_query

    values: dict[str, Any] = {}
    for name, path in (transformer.get("InputPathsMap") or {}).items():
        try:
            values[name] = compile_query(path).get(event, {}, {})
        except Exception:  # noqa: BLE001 - a path that matches nothing
            values[name] = None
    values.setdefault("aws.events.event", event)
    values.setdefault("aws.events.event.json", event)
    values.setdefault("aws.events.event.ingestion-time", event.get("time"))
    template = transformer.get("InputTemplate")
    if template is None:
        return compact(event)
    out, in_string, escaped, last = [], False, False, 0
    for i, char in enumerate(template):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            in_string = not in_string
        elif char == "<":
            match = _PLACEHOLDER.match(template, i)
            if match and match.group(1) in values and i >= last:
                out.append(template[last:i])
                value = values[match.group(1)]
                if in_string:
                    text = value if isinstance(value, str) else ("" if value is None else compact(value))
                    out.append(json.dumps(text)[1:-1])
                else:
                    out.append(compact(value))
                last = match.end()
    out.append(template[last:])
    return "".join(out)


def deliver(services: Services, request: TaskRequest | None, target: dict[str, Any], event: dict[str, Any],
            depth: int) -> None:
    """Hand the event to one target; a target that cannot take it loses it (PutEvents has succeeded)."""
    try:
        _deliver(services, request, target, event, depth)
    except Exception:  # noqa: BLE001 - EventBridge retries and then drops; the task does not see it
        pass


def _deliver(services: Services, request: TaskRequest | None, target: dict[str, Any], event: dict[str, Any],
             depth: int) -> None:
    arn: str = target["Arn"]
    service = arn.split(":")[2]
    body = _target_input(target, event)
    if service == "sqs":
        from harness.integrations.sqs import queue_url_of_arn

        kwargs: dict[str, Any] = {"QueueUrl": queue_url_of_arn(services, arn), "MessageBody": body}
        group = (target.get("SqsParameters") or {}).get("MessageGroupId")
        if group:
            kwargs.update(MessageGroupId=group, MessageDeduplicationId=event["id"])
        services.client("sqs").send_message(**kwargs)
    elif service == "sns":
        from harness.integrations.sns import publish_message

        publish_message(services, request, {"TopicArn": arn, "Message": body})
    elif service == "lambda" and request is not None:
        from harness.integrations import lambda_

        async def invoke() -> None:
            try:
                await lambda_.call(services, request, arn, json.loads(body), qualifier=None)
            except Exception:  # noqa: BLE001 - a failed delivery does not fail PutEvents
                pass
        services.spawn(invoke())
    elif service == "states" and services.start_execution is not None:
        services.start_execution(arn, body, None)
    elif service == "events" and ":event-bus/" in arn and depth < 5:
        route(services, request, arn, event, depth + 1)
