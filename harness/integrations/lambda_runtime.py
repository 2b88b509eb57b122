"""The Python Lambda runtime drydock runs a function in: a child process speaking JSON lines.

Run as `python lambda_runtime.py` with the function's code directory as the working directory.
It plays the part of AWS's bootstrap (awslambdaric): import the handler, build the context object,
call the handler with the event, and answer with the result or with the error payload AWS builds
(`errorMessage`, `errorType`, `requestId`, `stackTrace` with frames under `/var/task`).

Time is the parent's: `time.sleep(s)` asks the parent to sleep on the execution's clock (virtual by
default, so a function that sleeps 60 s costs no wall time) and `time.time()` reports that clock.

The process stays warm between invocations, as AWS keeps an execution environment: the module is
imported once and its globals persist; the parent reuses an idle runtime for the same function.

Protocol (one JSON object per line; the parent writes to stdin, the runtime to its original stdout,
while the handler's own prints go to stderr, the function's log), repeated per invocation:
  parent -> {"handler", "event" (JSON text), "context": {...}, "now", "deadline"}
  runtime -> {"sleep": seconds}            parent -> {"now": t}
  runtime -> {"result": JSON text} | {"error": {...}}
This file imports nothing from drydock: it must start fast and run in any Python.
"""
from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback

TASK_ROOT = "/var/task"


class Channel:
    def __init__(self) -> None:
        self.out = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
        os.dup2(2, 1)  # the handler's prints go to the log (stderr)
        sys.stdout = sys.stderr
        self.inp = sys.stdin

    def send(self, message: dict) -> None:
        self.out.write(json.dumps(message) + "\n")
        self.out.flush()

    def receive(self) -> dict:
        line = self.inp.readline()
        if not line:
            os._exit(0)  # the parent has gone: stop quietly
        return json.loads(line)


class Clock:
    """The parent's clock, as seen from the function: real time passes too, between two syncs."""

    def __init__(self, channel: Channel, now: float) -> None:
        self.channel = channel
        self.base, self.real = now, time.monotonic()
        self._sleep, self._time = time.sleep, time.time

    def sync(self, now: float) -> None:
        self.base, self.real = now, time.monotonic()

    def now(self) -> float:
        return self.base + (time.monotonic() - self.real)

    def sleep(self, seconds: float) -> None:
        seconds = float(seconds)
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        self.channel.send({"sleep": seconds})
        self.base, self.real = float(self.channel.receive()["now"]), time.monotonic()

    def install(self) -> None:
        time.sleep = self.sleep  # type: ignore[assignment]
        time.time = self.now  # type: ignore[assignment]


class LambdaContext:
    """The `context` argument of a Python handler."""

    def __init__(self, fields: dict, clock: Clock, deadline: float) -> None:
        self.function_name = fields["function_name"]
        self.function_version = fields.get("function_version", "$LATEST")
        self.invoked_function_arn = fields["invoked_function_arn"]
        self.memory_limit_in_mb = str(fields.get("memory_limit_in_mb", 128))
        self.aws_request_id = fields["aws_request_id"]
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = fields.get("log_stream_name", "drydock/[$LATEST]" + self.aws_request_id.replace("-", ""))
        self.identity = None
        self.client_context = fields.get("client_context")
        self.tenant_id = None
        self._clock, self._deadline = clock, deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - self._clock.now()) * 1000))


def stack_trace(tb, code_dir: str) -> list[str]:
    """AWS's `stackTrace`: the frames of the function's own code, paths under /var/task."""
    frames = [f for f in traceback.extract_tb(tb) if os.path.abspath(f.filename).startswith(code_dir + os.sep)]
    for frame in frames:
        frame.filename = TASK_ROOT + frame.filename[len(code_dir):]
    return traceback.format_list(frames)


def error_payload(exc: BaseException, request_id: str, code_dir: str, error_type: str | None = None) -> dict:
    return {"errorMessage": str(exc), "errorType": error_type or type(exc).__name__, "requestId": request_id,
            "stackTrace": stack_trace(exc.__traceback__, code_dir)}


def load_handler(name: str):
    module_name, _, function_name = name.rpartition(".")
    if not module_name:
        raise ValueError(f"Bad handler '{name}': not enough values to unpack (expected 2, got 1)")
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as exc:
        raise _Runtime("Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}") from None
    except SyntaxError as exc:
        raise _Runtime("Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {exc}") from None
    handler = getattr(module, function_name, None)
    if handler is None:
        raise _Runtime("Runtime.HandlerNotFound", f"Handler '{function_name}' missing on module '{module_name}'")
    return handler


class _Runtime(Exception):
    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


def main() -> None:
    code_dir = os.path.abspath(os.getcwd())
    sys.path.insert(0, code_dir)
    channel = Channel()
    init = channel.receive()
    clock = Clock(channel, float(init["now"]))
    clock.install()
    handlers: dict = {}
    while True:
        clock.sync(float(init["now"]))
        channel.send(invoke(init, handlers, clock, code_dir))
        init = channel.receive()


def invoke(init: dict, handlers: dict, clock: Clock, code_dir: str) -> dict:
    """One invocation: the answer to send back."""
    fields = init["context"]
    request_id = fields["aws_request_id"]
    try:
        if init["handler"] not in handlers:
            handlers[init["handler"]] = load_handler(init["handler"])
        handler = handlers[init["handler"]]
    except _Runtime as exc:
        return {"error": {"errorMessage": str(exc), "errorType": exc.error_type, "requestId": request_id,
                          "stackTrace": []}}
    context = LambdaContext(fields, clock, float(init["deadline"]))
    try:
        event = json.loads(init["event"]) if init["event"] else {}
    except ValueError as exc:
        return {"error": {"errorMessage": f"Unable to unmarshal input: {exc}", "errorType": "Runtime.UnmarshalError",
                          "requestId": request_id, "stackTrace": []}}
    try:
        result = handler(event, context)
    except Exception as exc:  # noqa: BLE001 - every failure of the handler is the function's error
        return {"error": error_payload(exc, request_id, code_dir)}
    try:
        text = result.decode() if isinstance(result, (bytes, bytearray)) else json.dumps(result)
    except (TypeError, ValueError, UnicodeDecodeError) as exc:
        return {"error": {"errorMessage": f"Unable to marshal response: {exc}", "errorType": "Runtime.MarshalError",
                          "requestId": request_id, "stackTrace": []}}
    return {"result": text}


if __name__ == "__main__":
    main()
