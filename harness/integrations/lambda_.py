"""Step Functions -> AWS Lambda (connect-lambda.html): `lambda:invoke`, its `.waitForTaskToken`, and the
bare function ARN (`arn:aws:lambda:<region>:<account>:function:<name>`).

Request: `FunctionName` (name, ARN or partial ARN, with an optional `:qualifier`), `Payload`
(a JSON value; a string is sent as it is, as the bytes of the request), `InvocationType`
(`RequestResponse` | `Event` | `DryRun`), `Qualifier`, `LogType` (`Tail`), `ClientContext`.

Response of `lambda:invoke`: `{"ExecutedVersion", "Payload", "SdkHttpMetadata", "SdkResponseMetadata",
"StatusCode"}` with the payload parsed as JSON; the bare-ARN form answers with the payload alone.

Errors: a handler that raises fails the task with its `errorType` as the error and Lambda's error
payload (`{"errorMessage","errorType","requestId","stackTrace"}`) as the cause; a function that runs
past its Timeout fails with `Sandbox.Timedout`; an unknown function fails with
`Lambda.ResourceNotFoundException` and the SDK v1 cause (case `error_handling_test_task_service_lambda*`).

The function's code is the zip stored in the local cloud's Lambda (or a directory given to
`build_handlers(lambda_code_dirs=...)`). It runs in a child process on drydock's Python with the
runtime in `lambda_runtime.py`; its `time.sleep` waits on the execution's clock.
"""
from __future__ import annotations

import atexit
import base64
import hashlib
import io
import json
import os
import select
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import zipfile
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from asl.errors import StatesError
from asl.tasks import TaskRequest
from harness.integrations import errors
from harness.integrations.registry import Services, integration
from harness.integrations.responses import compact, lambda_metadata

RUNTIME = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lambda_runtime.py")
_CODE_CACHE = os.path.join(tempfile.gettempdir(), f"drydock-lambda-{os.getuid() if hasattr(os, 'getuid') else 0}")


@dataclass
class Function:
    name: str
    arn: str
    version: str
    handler: str
    timeout: float
    memory: int
    runtime: str
    environment: dict[str, str]
    code_dir: str


@dataclass
class Invocation:
    """What Lambda's Invoke answers: status, payload text, and `FunctionError` when the function failed."""

    status: int
    payload: str
    version: str
    function_error: str | None = None
    log: str = ""


# --------------------------------------------------------------------------- the integrations
@integration("lambda", "invoke", patterns=("", "waitForTaskToken"))
async def invoke(services: Services, request: TaskRequest) -> Any:
    params = request.parameters if isinstance(request.parameters, dict) else {}
    name = params.get("FunctionName")
    if not isinstance(name, str) or not name:
        raise StatesError("States.Runtime", "The field 'FunctionName' is required for lambda:invoke")
    result = await call(services, request, name, params.get("Payload"), qualifier=params.get("Qualifier"),
                        invocation_type=params.get("InvocationType") or "RequestResponse",
                        client_context=params.get("ClientContext"))
    raise_function_error(result)
    payload = parse_payload(result.payload)
    output: dict[str, Any] = {"ExecutedVersion": result.version, "Payload": payload,
                              **lambda_metadata(request, len(result.payload.encode())),
                              "StatusCode": result.status}
    if result.status != 200:  # Event (202) and DryRun (204) invocations answer without a payload
        output["SdkHttpMetadata"]["HttpStatusCode"] = result.status
        output.pop("Payload")
    if params.get("LogType") == "Tail":
        output["LogResult"] = base64.b64encode(result.log.encode()[-4096:]).decode()
    return output


async def invoke_function_arn(services: Services, request: TaskRequest) -> Any:
    """The bare ARN form: the effective input is the event, the payload is the result."""
    result = await call(services, request, request.resource.arn, request.parameters, qualifier=None,
                        invocation_type="RequestResponse", as_event=True)
    raise_function_error(result)
    return parse_payload(result.payload)


def raise_function_error(result: Invocation) -> None:
    if result.function_error is None:
        return
    try:
        body = json.loads(result.payload)
    except ValueError:
        body = None
    error = body.get("errorType") if isinstance(body, dict) and body.get("errorType") else "Lambda.Unknown"
    raise StatesError(error, result.payload)


def parse_payload(text: str) -> Any:
    if text == "":
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


# --------------------------------------------------------------------------- Invoke
async def call(services: Services, request: TaskRequest, name: str, payload: Any, *, qualifier: str | None,
               invocation_type: str = "RequestResponse", client_context: str | None = None,
               as_event: bool = False) -> Invocation:
    """Invoke a function of the local cloud, the way Lambda's Invoke API does."""
    function = find_function(services, name, qualifier)
    if as_event:
        event = compact(payload)
    elif payload is None:
        event = "{}"
    else:
        event = payload if isinstance(payload, str) else compact(payload)
    if invocation_type == "DryRun":
        return Invocation(204, "", function.version)
    if invocation_type == "Event":
        async def background() -> None:
            try:
                await run(services, request, function, event, client_context)
            except Exception:  # noqa: BLE001 - an async invocation's failure is the function's own business
                pass
        services.spawn(background())
        return Invocation(202, "", function.version)
    return await run(services, request, function, event, client_context)


def find_function(services: Services, name: str, qualifier: str | None = None) -> Function:
    """The function's configuration as Lambda's GetFunction answers it; `Lambda.ResourceNotFoundException`
    (SDK v1 cause) when there is none."""
    found = _find_in_process(services, name, qualifier)
    if found is not None:
        return found
    from botocore.exceptions import ClientError

    client = services.client("lambda")
    kwargs: dict[str, Any] = {"FunctionName": name}
    if qualifier:
        kwargs["Qualifier"] = qualifier
    try:
        answer = client.get_function(**kwargs)
    except ClientError as err:
        code = err.response.get("Error", {}).get("Code")
        if code == "ResourceNotFoundException":
            raise not_found(services, name, qualifier, errors.request_id_of(err)) from None
        raise errors.v1_client_error("lambda", client, "Invoke", err) from None
    return _function(services, answer["Configuration"], answer.get("Code", {}), qualifier)


def _find_in_process(services: Services, name: str, qualifier: str | None) -> Function | None:
    """GetFunction answered from moto's in-process backend, as moto's GetFunction handler answers it, without
    a boto3 round trip (about 1 ms of signing, stubbing and parsing per Invoke); None when moto does not run
    in this process or has no such function, so that the API call reports the error as AWS does."""
    if services.cloud.endpoint_url is not None:
        return None
    try:
        from moto.awslambda.models import lambda_backends
        from moto.awslambda.responses import LambdaResponse

        fn = lambda_backends[services.account][services.region].get_function(name, qualifier)
        config = LambdaResponse._set_configuration_qualifier(fn.get_configuration(), name, qualifier)
    except Exception:  # noqa: BLE001 - unknown function, or moto elsewhere: the API call answers
        return None
    return _function(services, config, {}, qualifier)


def _function(services: Services, config: dict[str, Any], code: dict[str, Any], qualifier: str | None) -> Function:
    if config.get("PackageType") == "Image":
        raise errors.not_supported("lambda", "invoke", f"container image function {config['FunctionName']}")
    return Function(name=config["FunctionName"], arn=config["FunctionArn"], version=config.get("Version", "$LATEST"),
                    handler=config.get("Handler") or "lambda_function.lambda_handler",
                    timeout=float(config.get("Timeout") or 3), memory=int(config.get("MemorySize") or 128),
                    runtime=config.get("Runtime") or "python3.12",
                    environment=dict(config.get("Environment", {}).get("Variables", {})),
                    code_dir=code_directory(services, config, code, qualifier))


def not_found(services: Services, name: str, qualifier: str | None, request_id: str) -> StatesError:
    if name.startswith("arn:"):
        arn = name
    else:
        arn = f"arn:aws:lambda:{services.region}:{services.account}:function:{name}"
    if arn.count(":") < 7:
        arn += f":{qualifier or '$LATEST'}"
    return errors.v1_error("lambda", "ResourceNotFoundException", f"Function not found: {arn}", 404, request_id,
                           exception="ResourceNotFoundException")


def code_directory(services: Services, config: dict[str, Any], code: dict[str, Any], qualifier: str | None) -> str:
    """Where the function's code is unpacked: a given directory, or the stored zip extracted once by digest."""
    name = config["FunctionName"]
    if name in services.lambda_code_dirs:
        return os.path.abspath(services.lambda_code_dirs[name])
    known = (config.get("FunctionArn"), config.get("CodeSha256"))
    if known[1] and known in _UNPACKED and os.path.isdir(_UNPACKED[known]):
        return _UNPACKED[known]  # this code was unpacked before: no need to read and hash the zip again
    data = _code_from_backend(services, name, qualifier) or _code_from_location(code.get("Location"))
    if data is None:
        raise errors.not_supported("lambda", "invoke", f"the code of {name} cannot be read from the local cloud")
    digest = hashlib.sha256(data).hexdigest()
    target = os.path.join(_CODE_CACHE, digest)
    if not os.path.isdir(target):
        staging = tempfile.mkdtemp(prefix="unpack-", dir=_ensure_dir(_CODE_CACHE))
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            archive.extractall(staging)
        try:
            os.rename(staging, target)
        except OSError:  # another invocation unpacked it first
            pass
    if known[1]:
        _UNPACKED[known] = target
    return target


_UNPACKED: dict[tuple[Any, Any], str] = {}  # (function ARN, CodeSha256) -> where its zip is unpacked


def _ensure_dir(path: str) -> str:
    os.makedirs(path, exist_ok=True)
    return path


def _code_from_backend(services: Services, name: str, qualifier: str | None) -> bytes | None:
    try:
        from moto.awslambda.models import lambda_backends

        fn = lambda_backends[services.account][services.region].get_function(name, qualifier)
        return fn.code_bytes or None
    except Exception:  # noqa: BLE001 - moto runs elsewhere, or has no such function
        return None


def _code_from_location(url: str | None) -> bytes | None:
    from harness.cloud import is_loopback_host

    if not url or not is_loopback_host(urlsplit(url).hostname):
        return None  # never fetch code from anywhere but the local cloud
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 - loopback only
            return answer.read()
    except OSError:
        return None


# --------------------------------------------------------------------------- the child process
def _environment(services: Services, function: Function) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({
        "AWS_LAMBDA_FUNCTION_NAME": function.name, "AWS_LAMBDA_FUNCTION_VERSION": function.version,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory), "AWS_LAMBDA_FUNCTION_TIMEOUT": str(int(function.timeout)),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function.name}", "AWS_EXECUTION_ENV": f"AWS_Lambda_{function.runtime}",
        "AWS_REGION": services.region, "AWS_DEFAULT_REGION": services.region, "LAMBDA_TASK_ROOT": function.code_dir,
        "_HANDLER": function.handler, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        # the function's SDK calls go to the local cloud, or nowhere: never to real AWS. An in-process cloud has
        # no URL of its own; when this process also serves it on loopback (`drydock serve`, the demo), that URL.
        "AWS_ENDPOINT_URL": services.cloud.endpoint_url or _served_endpoint() or "http://127.0.0.1:9",
        "PYTHONDONTWRITEBYTECODE": "1",
    })
    env.update({k: str(v) for k, v in function.environment.items()})
    return env


def _served_endpoint() -> str | None:
    """The loopback URL this process serves its in-process cloud on (DRYDOCK_ENDPOINT_URL), if any."""
    from harness.cloud import is_loopback_host

    url = os.environ.get("DRYDOCK_ENDPOINT_URL")
    return url if url and is_loopback_host(urlsplit(url).hostname) else None


class _Worker:
    """A warm runtime process for one function configuration, with its log file."""

    def __init__(self, function: Function, env: dict[str, str]):
        # append mode: the child shares this file's offset, so its writes must not follow our seeks
        self.log = tempfile.TemporaryFile(mode="a+", encoding="utf-8")
        self.proc = subprocess.Popen([sys.executable, "-u", RUNTIME], cwd=function.code_dir, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.log, env=env, text=True, encoding="utf-8")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_since(self, offset: int) -> str:
        self.log.seek(offset)
        return self.log.read()

    def log_end(self) -> int:
        return self.log.seek(0, os.SEEK_END)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()
        self.log.close()


_IDLE: dict[tuple[Any, ...], list[_Worker]] = {}
_IDLE_LOCK = threading.Lock()


@atexit.register
def _close_idle_workers() -> None:
    with _IDLE_LOCK:
        workers = [w for pool in _IDLE.values() for w in pool]
        _IDLE.clear()
    for worker in workers:
        worker.close()


def _checkout(services: Services, function: Function) -> tuple[tuple[Any, ...], _Worker]:
    """A warm runtime of this function configuration, or a new one. A runtime keeps the environment it started
    with, as a Lambda execution environment does: the function's configuration (its Environment included) and
    the endpoint its SDK calls reach make the key; the host's variables are read when a runtime starts."""
    key = (function.arn, function.version, function.code_dir, function.handler, function.timeout, function.memory,
           function.runtime, tuple(sorted(function.environment.items())), services.cloud.endpoint_url,
           os.environ.get("DRYDOCK_ENDPOINT_URL"))
    with _IDLE_LOCK:
        pool = _IDLE.get(key, [])
        while pool:
            worker = pool.pop()
            if worker.alive():
                return key, worker
            worker.close()
    return key, _Worker(function, _environment(services, function))


def _checkin(key: tuple[Any, ...], worker: _Worker) -> None:
    with _IDLE_LOCK:
        _IDLE.setdefault(key, []).append(worker)


async def run(services: Services, request: TaskRequest, function: Function, event: str,
              client_context: str | None = None) -> Invocation:
    """Run one invocation in a warm runtime for the function (a new one on a cold start); its sleeps are
    awaited on the execution's clock. A runtime that timed out or died is discarded, as AWS discards
    an execution environment after a timeout."""
    request_id = services.new_id()
    start = request.now()
    deadline = start + function.timeout
    key, worker = _checkout(services, function)
    proc, offset, reusable = worker.proc, worker.log_end(), False
    budget = function.timeout  # wall seconds the function may compute (its sleeps are on the clock)
    try:
        _send(proc, {"handler": function.handler, "event": event, "now": start, "deadline": deadline,
                     "context": {"function_name": function.name, "function_version": function.version,
                                 "invoked_function_arn": function.arn, "memory_limit_in_mb": function.memory,
                                 "aws_request_id": request_id, "client_context": client_context}})
        while True:
            began = time.monotonic()
            message = _receive(proc, budget)
            budget -= time.monotonic() - began
            if message is None:
                if proc.poll() is None:  # still computing when its time ran out
                    return _timed_out(function, request_id, worker.log_since(offset))
                return Invocation(200, compact({"errorType": "Runtime.ExitError", "errorMessage":
                                                f"RequestId: {request_id} Error: Runtime exited with error: exit "
                                                f"status {proc.returncode}"}), function.version, "Unhandled",
                                  worker.log_since(offset))
            if "sleep" in message:
                wake = request.now() + float(message["sleep"])
                if wake >= deadline:
                    await request.sleep(max(0.0, deadline - request.now()))
                    return _timed_out(function, request_id, worker.log_since(offset))
                await request.sleep(float(message["sleep"]))
                _send(proc, {"now": request.now()})
                continue
            reusable = True
            if "error" in message:
                return Invocation(200, compact(message["error"]), function.version, "Unhandled",
                                  worker.log_since(offset))
            return Invocation(200, message["result"], function.version, None, worker.log_since(offset))
    finally:
        if reusable and worker.alive():
            _checkin(key, worker)
        else:
            worker.close()


def _timed_out(function: Function, request_id: str, log: str) -> Invocation:
    payload = {"errorType": "Sandbox.Timedout",
               "errorMessage": f"RequestId: {request_id} Error: Task timed out after {function.timeout:.2f} seconds"}
    return Invocation(200, compact(payload), function.version, "Unhandled", log)


def _send(proc: subprocess.Popen, message: dict[str, Any]) -> None:
    try:
        proc.stdin.write(json.dumps(message) + "\n")  # type: ignore[union-attr]
        proc.stdin.flush()  # type: ignore[union-attr]
    except (BrokenPipeError, OSError):
        pass  # the child has died; its exit is reported when its answer is read


def _receive(proc: subprocess.Popen, budget: float) -> dict[str, Any] | None:
    stream = proc.stdout
    ready, _, _ = select.select([stream], [], [], max(0.0, budget))
    if not ready:
        return None
    line = stream.readline()  # type: ignore[union-attr]
    if not line:
        proc.wait()
        return None
    return json.loads(line)



