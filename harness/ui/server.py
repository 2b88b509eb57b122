"""`drydock ui`'s loopback web server: executions, the graph, the event timeline, each state's input and
output, and pending task tokens to approve or reject, all read and answered through the Step Functions API.

Stdlib `http.server`; the page is static vanilla JS (`harness/ui/static/`) over a small JSON API:

    GET  /api/executions                every execution of every STANDARD state machine, newest first
    GET  /api/execution?arn=ARN         DescribeExecution, events, state visits, pending task tokens
    GET  /api/graph.svg?arn=ARN         the state machine with the execution's path (`harness.graph`)
    POST /api/task-success              {"taskToken", "output"}            -> SendTaskSuccess
    POST /api/task-failure              {"taskToken", "error", "cause"}    -> SendTaskFailure
"""
from __future__ import annotations

import datetime as dt
import json
import mimetypes
import re
import threading
from http import HTTPStatus
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from harness.web import PageHandler

STATIC = Path(__file__).resolve().parent / "static"
_HEX_TOKEN = re.compile(r"^[0-9a-f]{64}$")
_MAX_BODY = 1 << 20


class UiError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class Ui:
    """What the page shows, read through a boto3 Step Functions client (in-process or `drydock serve`)."""

    def __init__(self, client: Any):
        self.client = client
        self._lock = threading.Lock()  # one boto3 client, used by the server's threads in turn

    def _call(self, action: str, **params: Any) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        with self._lock:
            try:
                return getattr(self.client, action)(**params)
            except ClientError as err:
                error = err.response["Error"]
                code = str(error.get("Code"))
                status = 404 if code.endswith("DoesNotExist") else 400
                raise UiError(status, code, str(error.get("Message"))) from None

    def executions(self) -> dict[str, Any]:
        out = []
        machines = self._call("list_state_machines").get("stateMachines", [])
        for machine in machines:
            if machine.get("type") == "EXPRESS":
                continue
            token = None
            while True:
                page = self._call("list_executions", stateMachineArn=machine["stateMachineArn"],
                                  **({"nextToken": token} if token else {}))
                for ex in page.get("executions", []):
                    out.append({**_jsonable(ex), "stateMachineName": machine["name"]})
                token = page.get("nextToken")
                if not token:
                    break
        out.sort(key=lambda e: e.get("startDate") or "", reverse=True)
        return {"executions": out}

    def _events(self, arn: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        token = None
        while True:
            page = self._call("get_execution_history", executionArn=arn, maxResults=1000,
                              **({"nextToken": token} if token else {}))
            events.extend(_jsonable(e) for e in page["events"])
            token = page.get("nextToken")
            if not token:
                return events

    def execution(self, arn: str) -> dict[str, Any]:
        from harness.visits import track

        described = _jsonable(self._call("describe_execution", executionArn=arn))
        events = self._events(arn)
        tracker = track(events)
        start = tracker.visits[0].start if tracker.visits else 0.0
        states = [{"id": v.entered["id"], "name": v.name, "type": v.type, "depth": v.depth, "input": v.input,
                   "output": v.output, "error": v.error, "cause": v.cause, "outcome": v.outcome,
                   "offsetSeconds": v.start - start, "seconds": v.virtual_seconds} for v in tracker.visits]
        return {"execution": described, "events": events, "states": states,
                "tokens": pending_tokens(events) if described.get("status") == "RUNNING" else []}

    def graph_svg(self, arn: str) -> bytes:
        from harness.graph import GraphvizMissing, render, to_dot

        definition = json.loads(self._call("describe_state_machine_for_execution", executionArn=arn)["definition"])
        described = self._call("describe_execution", executionArn=arn)
        dot = to_dot(definition, self._events(arn), title=f"{described['name']}: {described['status']}")
        try:
            return render(dot, "svg")
        except GraphvizMissing as err:
            raise UiError(503, "GraphvizMissing", str(err)) from None

    def send_task_success(self, body: dict[str, Any]) -> dict[str, Any]:
        output = body.get("output", "{}")
        if not isinstance(output, str):
            output = json.dumps(output)
        self._call("send_task_success", taskToken=_required(body, "taskToken"), output=output)
        return {}

    def send_task_failure(self, body: dict[str, Any]) -> dict[str, Any]:
        params = {k: body[k] for k in ("error", "cause") if body.get(k)}
        self._call("send_task_failure", taskToken=_required(body, "taskToken"), **params)
        return {}


def pending_tokens(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Task tokens an execution waits on, found in its history: a `.waitForTaskToken` task scheduled and
    not yet answered, with the token read from the parameters it was sent with (`$$.Task.Token`)."""
    from harness.visits import Tracker, details_of

    tracker = Tracker()
    waiting: dict[int, dict[str, Any]] = {}  # id(visit) -> the pending task
    for event in events:
        visit = tracker.add(event)
        kind = event["type"]
        if visit is None:
            continue
        if kind == "TaskScheduled" and str(details_of(event).get("resource", "")).endswith(".waitForTaskToken"):
            details = details_of(event)
            try:
                parameters = json.loads(details.get("parameters") or "null")
            except ValueError:
                parameters = None
            token = _find_token(parameters)
            if token:
                waiting[id(visit)] = {"taskToken": token, "state": visit.name, "scheduledEventId": event["id"],
                                      "resource": f"{details.get('resourceType')}:{details.get('resource')}",
                                      "parameters": parameters}
        elif kind in ("TaskSucceeded", "TaskFailed", "TaskTimedOut") or kind.endswith("StateExited"):
            waiting.pop(id(visit), None)
    return list(waiting.values())


def _find_token(value: Any) -> str | None:
    """The task token inside task parameters: a value under a key naming a token, else a 64-hex string."""
    found: list[tuple[int, str]] = []

    def walk(v: Any, key: str = "") -> None:
        if isinstance(v, dict):
            for k, item in v.items():
                walk(item, k)
        elif isinstance(v, list):
            for item in v:
                walk(item, key)
        elif isinstance(v, str):
            if "token" in key.lower():
                found.append((0, v))
            elif _HEX_TOKEN.match(v):
                found.append((1, v))
    walk(value)
    return min(found)[1] if found else None


def _required(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise UiError(400, "ValidationException", f"{key} is required")
    return value


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return value


class _Handler(PageHandler):
    ui: Ui
    server_version = "drydock-ui"

    def _json(self, status: int, value: Any) -> None:
        self._send(status, json.dumps(value, ensure_ascii=False).encode(), "application/json; charset=utf-8")

    def _guard(self, fn: Any) -> None:
        try:
            fn()
        except UiError as err:
            self._json(err.status, {"error": err.code, "message": err.message})
        except Exception as exc:  # a drydock bug: say so on the page
            self._json(500, {"error": type(exc).__name__, "message": str(exc)})

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}

        def answer() -> None:
            if url.path == "/api/executions":
                self._json(200, self.ui.executions())
            elif url.path == "/api/execution":
                self._json(200, self.ui.execution(_required(query, "arn")))
            elif url.path == "/api/graph.svg":
                self._send(200, self.ui.graph_svg(_required(query, "arn")), "image/svg+xml")
            else:
                self._static(url.path)
        self._guard(answer)

    def do_POST(self) -> None:  # noqa: N802
        url = urlsplit(self.path)

        def answer() -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > _MAX_BODY:
                raise UiError(413, "TooLarge", "request body too large")
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
            except ValueError:
                raise UiError(400, "SerializationException", "the request body is not JSON") from None
            if not isinstance(body, dict):
                raise UiError(400, "SerializationException", "the request body must be a JSON object")
            if url.path == "/api/task-success":
                self._json(200, self.ui.send_task_success(body))
            elif url.path == "/api/task-failure":
                self._json(200, self.ui.send_task_failure(body))
            else:
                raise UiError(404, "NotFound", f"no such endpoint: POST {url.path}")
        self._guard(answer)

    def _static(self, path: str) -> None:
        name = "index.html" if path in ("", "/") else path.lstrip("/")
        file = (STATIC / name).resolve()
        if STATIC not in file.parents or not file.is_file():
            raise UiError(404, "NotFound", f"no such page: {path}")
        kind = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        self._send(200, file.read_bytes(), f"{kind}; charset=utf-8" if kind.startswith("text/") or
                   kind.endswith("javascript") else kind)


def make_server(client: Any, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """A threaded HTTP server for the UI over `client` (a boto3 Step Functions client), bound and ready.

    Raises:
        OSError: the address cannot be bound.
    """
    handler = type("Handler", (_Handler,), {"ui": Ui(client)})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server
