"""The SageMaker inference container contract (`GET /ping`, `POST /invocations`), played on this machine.

Mirrors "Use Your Own Inference Code with Hosting Services" and the framework serving stacks the SageMaker SDK v2
deploys to: the platform unpacks the Model's `ModelDataUrl` (model.tar.gz) where the container sees /opt/ml/model,
the container loads the model once (`model_fn`) and answers each invocation with `input_fn` -> `predict_fn` ->
`output_fn` (or `transform_fn`). The hooks come from the user's inference script when there is one
(`SAGEMAKER_PROGRAM` + `SAGEMAKER_SUBMIT_DIRECTORY` as the SDK sets them, or `code/inference.py` inside the tarball);
any hook the script leaves out, or all of them when there is no script, is the framework's default: XGBoost
(`xgboost-model`; CSV, libsvm, JSON and JSON Lines in; scores out, as the SageMaker XGBoost container answers) or
scikit-learn (`model.joblib`).

`InProcessServer` is the `Server` drydock runs today: the model lives in this interpreter, behind a threaded HTTP
server on a free loopback port. A Docker-backed server (the framework image, `serve`) fits the same protocol.
`InvocationClient` is the platform's side of the wire: keep-alive connections, no per-request set-up.
"""
from __future__ import annotations

import http.client
import importlib.util
import inspect
import io
import json
import pickle
import shutil
import socket
import sys
import tarfile
import tempfile
import threading
import traceback
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Protocol

from harness.sagemaker.container import S3_ERRORS, parse_s3_uri

MODEL_DIR = "/opt/ml/model"  # where the container sees the unpacked model.tar.gz
PROGRAM_VARIABLE = "SAGEMAKER_PROGRAM"
SUBMIT_DIRECTORY_VARIABLE = "SAGEMAKER_SUBMIT_DIRECTORY"
DEFAULT_ACCEPT_VARIABLE = "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT"
DEFAULT_SCRIPT = "inference.py"
XGBOOST_MODEL_FILE = "xgboost-model"
SKLEARN_MODEL_FILE = "model.joblib"
CUSTOM_ATTRIBUTES_HEADER = "X-Amzn-SageMaker-Custom-Attributes"
CSV, JSON, JSONLINES, LIBSVM, NPY = "text/csv", "application/json", "application/jsonlines", "text/libsvm", \
    "application/x-npy"
HOOK_NAMES = ("model_fn", "input_fn", "predict_fn", "output_fn", "transform_fn")


class ModelLoadError(Exception):
    """The container could not start serving: its model or code could not be found or loaded."""


class InferenceError(Exception):
    """An invocation the container answers with an error status (4xx for bad input, 5xx for a failing hook)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Reply:
    """What a container answered on /invocations."""

    status: int
    body: bytes
    content_type: str
    custom_attributes: str | None = None
    detail: str | None = None  # in-process only: the traceback of a hook that raised (a container's log has it)


# --- model files: what the platform puts under /opt/ml/model ----------------------------------------------------

@dataclass(frozen=True)
class ModelFiles:
    """A container's model and code on this machine: `model_dir` plays /opt/ml/model."""

    model_dir: Path
    image: str = ""
    environment: dict[str, str] = field(default_factory=dict)
    code_dir: Path | None = None
    program: str | None = None


def materialize(container: dict[str, Any], s3: Any, root: Path) -> ModelFiles:
    """Unpack a Model container's ModelDataUrl and inference code under `root`, as the platform does.

    Args:
        container: a ContainerDefinition (DescribeModel's PrimaryContainer): Image, ModelDataUrl, Environment.
        s3: a boto3 S3 client that holds the model data and any uploaded source directory.
        root: an empty directory for this container; the model goes to `<root>/model`.

    Returns:
        Where the model and the inference script are.

    Raises:
        ModelLoadError: the model data or the submit directory cannot be read, with AWS's wording.
    """
    environment = {k: str(v) for k, v in (container.get("Environment") or {}).items()}
    model_dir = root / "model"
    model_dir.mkdir(parents=True, exist_ok=True)
    url = container.get("ModelDataUrl")
    if url:
        try:
            _fetch_into(s3, url, model_dir)
        except (ModelLoadError, *S3_ERRORS, tarfile.TarError, OSError) as error:
            raise ModelLoadError(
                f'Failed to download model data for container "container_1" from URL: "{url}". Please ensure that '
                f"there is an object located at the URL and that the role passed to CreateModel has permissions to "
                f"download the object. ({type(error).__name__}: {error})") from error
    program = environment.get(PROGRAM_VARIABLE) or None
    code_dir = _code_dir(environment.get(SUBMIT_DIRECTORY_VARIABLE, ""), model_dir, s3, root) if program else None
    if program is None and (model_dir / "code" / DEFAULT_SCRIPT).is_file():
        program, code_dir = DEFAULT_SCRIPT, model_dir / "code"
    return ModelFiles(model_dir, container.get("Image", ""), environment, code_dir, program)


def _code_dir(submit_directory: str, model_dir: Path, s3: Any, root: Path) -> Path:
    """SAGEMAKER_SUBMIT_DIRECTORY as the SDK writes it: /opt/ml/model/code (repacked), s3://... or file://..."""
    if not submit_directory:
        return model_dir / "code"
    if submit_directory.startswith(MODEL_DIR):
        return model_dir / submit_directory[len(MODEL_DIR):].lstrip("/")
    code_dir = root / "code"
    code_dir.mkdir(parents=True, exist_ok=True)
    try:
        _fetch_into(s3, submit_directory, code_dir)
    except (ModelLoadError, *S3_ERRORS, tarfile.TarError, OSError) as error:
        raise ModelLoadError(f"Failed to download the inference code from {SUBMIT_DIRECTORY_VARIABLE} "
                             f'"{submit_directory}": {type(error).__name__}: {error}') from error
    return code_dir


def _fetch_into(s3: Any, location: str, target: Path) -> None:
    """A .tar.gz (S3 object or local file) is unpacked into `target`; an S3 prefix or a local directory is copied."""
    if location.startswith("s3://"):
        bucket, key = parse_s3_uri(location)
        if key.endswith((".tar.gz", ".tgz", ".tar")):
            with tempfile.TemporaryFile() as archive:
                s3.download_fileobj(bucket, key, archive)
                archive.seek(0)
                with tarfile.open(fileobj=archive) as tar:
                    tar.extractall(target, filter="data")
            return
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key)
        keys = [o["Key"] for page in pages for o in page.get("Contents", []) if not o["Key"].endswith("/")]
        if not keys:
            raise ModelLoadError(f"no S3 objects under {location}")
        for found in keys:
            destination = (target / (found[len(key):].lstrip("/") or Path(found).name)).resolve()
            if not destination.is_relative_to(target.resolve()):
                raise ModelLoadError(f"S3 key {found!r} would be written outside {target}")
            destination.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(bucket, found, str(destination))
        return
    path = Path(location.removeprefix("file://"))
    if path.is_dir():
        shutil.copytree(path, target, dirs_exist_ok=True)
    elif path.is_file():
        with tarfile.open(path) as tar:
            tar.extractall(target, filter="data")
    else:
        raise ModelLoadError(f"{location} does not exist")


# --- hooks: the user's script over the framework's defaults -------------------------------------------------------

@dataclass(frozen=True)
class Hooks:
    """One serving stack: how the model is loaded and how an invocation is decoded, predicted and encoded."""

    model_fn: Callable[..., Any]
    input_fn: Callable[..., Any]
    predict_fn: Callable[..., Any]
    output_fn: Callable[..., Any]
    transform_fn: Callable[..., Any] | None = None
    default_accept: str = JSON
    default_content_type: str = JSON


def _media_type(value: str) -> str:
    return value.split(";", 1)[0].strip().lower()


def _unsupported(kind: str, value: str, supported: tuple[str, ...]) -> InferenceError:
    status = 415 if kind == "content type" else 406
    return InferenceError(status, f"{kind} {value!r} is not supported; use one of {', '.join(supported)}")


def _text(body: bytes | str) -> str:
    return body.decode("utf-8") if isinstance(body, (bytes, bytearray)) else body


def _csv_rows(body: bytes | str) -> list[list[float]]:
    rows = []
    for line in _text(body).splitlines():
        if line.strip():
            rows.append([float(cell) if cell.strip() else float("nan") for cell in line.split(",")])
    if not rows:
        raise InferenceError(400, "the request body has no CSV rows")
    return rows


def _json_rows(body: bytes | str) -> list[Any]:
    """JSON as the XGBoost container takes it: {"instances": [...]}, {"features": [...]}, a row, or rows."""
    data = json.loads(_text(body))
    if isinstance(data, dict):
        data = data.get("instances", data.get("features", data.get("inputs")))
        if data is None:
            raise InferenceError(400, 'a JSON request holds "instances" (rows) or "features" (one row)')
    rows = data if isinstance(data, list) and data and isinstance(data[0], (list, dict)) else [data]
    return [row.get("features", row.get("values")) if isinstance(row, dict) else row for row in rows]


def _jsonlines_rows(body: bytes | str) -> list[Any]:
    rows = [json.loads(line) for line in _text(body).splitlines() if line.strip()]
    return [row.get("features") if isinstance(row, dict) else row for row in rows]


def _numbers(prediction: Any) -> Any:
    return prediction.tolist() if hasattr(prediction, "tolist") else prediction


def _csv_text(values: list[Any]) -> str:
    return "\n".join(",".join(str(v) for v in row) if isinstance(row, list) else str(row) for row in values)


# XGBoost: sagemaker-xgboost-container's serving defaults

def xgboost_model_fn(model_dir: str) -> Any:
    import xgboost as xgb

    directory = Path(model_dir)
    path = directory / XGBOOST_MODEL_FILE
    if not path.is_file():
        files = [p for p in directory.iterdir() if p.is_file()]
        if len(files) != 1:
            raise ModelLoadError(f"no {XGBOOST_MODEL_FILE} in the model data (found: "
                                 f"{', '.join(sorted(p.name for p in files)) or 'nothing'})")
        path = files[0]
    booster = xgb.Booster()
    try:
        booster.load_model(bytearray(path.read_bytes()))  # from a buffer: the format is detected, not guessed by name
        return booster
    except xgb.core.XGBoostError as saved_format_error:
        try:  # script-mode estimators of older containers pickled the Booster
            with path.open("rb") as handle:
                loaded = pickle.load(handle)
        except Exception:
            reason = str(saved_format_error).strip().splitlines()[0]  # XGBoost appends its native stack trace
            raise ModelLoadError(f"{path.name} is not an XGBoost model (the container loads {XGBOOST_MODEL_FILE}, "
                                 f"or the only file of the model data): {reason}") from None
        return loaded.get_booster() if hasattr(loaded, "get_booster") else loaded


def xgboost_input_fn(request_body: bytes | str, content_type: str) -> Any:
    import numpy as np
    import xgboost as xgb

    media = _media_type(content_type)
    try:
        if media == CSV:
            return xgb.DMatrix(np.asarray(_csv_rows(request_body), dtype=np.float32))
        if media in (LIBSVM, "text/x-libsvm"):
            from sklearn.datasets import load_svmlight_file

            features, _ = load_svmlight_file(io.BytesIO(request_body if isinstance(request_body, bytes)
                                                         else request_body.encode()), zero_based=True)
            return xgb.DMatrix(features)
        if media == JSON:
            return xgb.DMatrix(np.asarray(_json_rows(request_body), dtype=np.float32))
        if media in (JSONLINES, "application/json-lines"):
            return xgb.DMatrix(np.asarray(_jsonlines_rows(request_body), dtype=np.float32))
    except InferenceError:
        raise
    except (ValueError, TypeError, UnicodeDecodeError) as error:
        raise InferenceError(400, f"Loading {media} data failed with Exception, please ensure data is in "
                                  f"{media} format: {type(error).__name__}: {error}") from None
    raise _unsupported("content type", content_type, (CSV, LIBSVM, JSON, JSONLINES))


def xgboost_predict_fn(input_data: Any, model: Any) -> Any:
    return model.predict(input_data, validate_features=False)


def xgboost_output_fn(prediction: Any, accept: str) -> tuple[str, str]:
    values = _numbers(prediction)
    media = _media_type(accept)
    if media == CSV:
        return _csv_text(values), CSV
    if media == JSON:
        return json.dumps({"predictions": [{"score": v} for v in values]}), JSON
    if media in (JSONLINES, "application/json-lines"):
        return "\n".join(json.dumps({"score": v}) for v in values), JSONLINES
    raise _unsupported("accept type", accept, (CSV, JSON, JSONLINES))


# scikit-learn and scripts without a framework: the inference toolkit's decoders and encoders

def sklearn_model_fn(model_dir: str) -> Any:
    import joblib

    path = Path(model_dir) / SKLEARN_MODEL_FILE
    if not path.is_file():
        raise ModelLoadError(f"no {SKLEARN_MODEL_FILE} in the model data; save the estimator with "
                             f"joblib.dump(model, os.path.join(model_dir, '{SKLEARN_MODEL_FILE}')) or provide model_fn")
    return joblib.load(path)


def array_input_fn(request_body: bytes | str, content_type: str) -> Any:
    import numpy as np

    media = _media_type(content_type)
    try:
        if media == CSV:
            return np.asarray(_csv_rows(request_body))
        if media == JSON:
            return np.asarray(json.loads(_text(request_body)))
        if media == NPY:
            return np.load(io.BytesIO(request_body if isinstance(request_body, bytes) else request_body.encode()),
                           allow_pickle=False)
    except InferenceError:
        raise
    except (ValueError, TypeError, UnicodeDecodeError) as error:
        raise InferenceError(400, f"cannot decode the {media} request: {type(error).__name__}: {error}") from None
    raise _unsupported("content type", content_type, (CSV, JSON, NPY))


def model_predict_fn(input_data: Any, model: Any) -> Any:
    return model.predict(input_data) if hasattr(model, "predict") else model(input_data)


def array_output_fn(prediction: Any, accept: str) -> tuple[bytes | str, str]:
    media = _media_type(accept)
    if media == JSON:
        return json.dumps(_numbers(prediction)), JSON
    if media == CSV:
        values = _numbers(prediction)
        return _csv_text(values if isinstance(values, list) else [values]), CSV
    if media == NPY:
        import numpy as np

        buffer = io.BytesIO()
        np.save(buffer, np.asarray(prediction))
        return buffer.getvalue(), NPY
    raise _unsupported("accept type", accept, (JSON, CSV, NPY))


def _no_model_fn(model_dir: str) -> Any:
    raise ModelLoadError("the inference script defines no model_fn, and no framework default applies "
                         f"(the model data holds no {XGBOOST_MODEL_FILE} or {SKLEARN_MODEL_FILE})")


XGBOOST = Hooks(xgboost_model_fn, xgboost_input_fn, xgboost_predict_fn, xgboost_output_fn,
                default_accept=CSV, default_content_type=CSV)
SKLEARN = Hooks(sklearn_model_fn, array_input_fn, model_predict_fn, array_output_fn)
GENERIC = Hooks(_no_model_fn, array_input_fn, model_predict_fn, array_output_fn)


def framework_hooks(image: str, model_dir: Path) -> Hooks | None:
    """The framework serving stack an image stands for (or, without a known image, the model file suggests)."""
    name = image.rsplit("/", 1)[-1].lower()
    if "xgboost" in name:
        return XGBOOST
    if "scikit-learn" in name or "sklearn" in name:
        return SKLEARN
    if (model_dir / XGBOOST_MODEL_FILE).is_file():
        return XGBOOST
    if (model_dir / SKLEARN_MODEL_FILE).is_file():
        return SKLEARN
    return None


def load_script(path: Path) -> Any:
    """Import a user's inference script as a module of its own; its directory goes on sys.path, as in the container."""
    directory = str(path.parent)
    if directory not in sys.path:
        sys.path.insert(0, directory)
    spec = importlib.util.spec_from_file_location(f"drydock_inference_{uuid.uuid4().hex}", path)
    if spec is None or spec.loader is None:
        raise ModelLoadError(f"cannot import the inference script {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- the transformer: one loaded model answering invocations ------------------------------------------------------

class Transformer:
    """A loaded model and the hooks that serve it: what answers /invocations inside the container."""

    def __init__(self, files: ModelFiles):
        framework = framework_hooks(files.image, files.model_dir)
        hooks = framework or GENERIC
        if files.program:
            script = (files.code_dir or files.model_dir / "code") / files.program
            if not script.is_file():
                where = files.environment.get(SUBMIT_DIRECTORY_VARIABLE) or "code/ in the model data"
                raise ModelLoadError(f"the inference script {files.program} is not in the submit directory ({where})")
            try:
                module = load_script(script)
            except Exception as error:
                raise ModelLoadError(f"importing {files.program} failed: {_describe(error)}") from error
            hooks = Hooks(*(getattr(module, name, None) or getattr(hooks, name) for name in HOOK_NAMES[:4]),
                          transform_fn=getattr(module, "transform_fn", None),
                          default_accept=hooks.default_accept, default_content_type=hooks.default_content_type)
        elif framework is None:
            raise ModelLoadError("no inference script (SAGEMAKER_PROGRAM, or code/inference.py in the model data) and "
                                 f"no model file a framework container loads ({XGBOOST_MODEL_FILE}, "
                                 f"{SKLEARN_MODEL_FILE}); the image {files.image or '(none)'} is not one drydock "
                                 "serves by default")
        self.hooks = hooks
        self.default_accept = files.environment.get(DEFAULT_ACCEPT_VARIABLE) or hooks.default_accept
        try:
            self.model = _with_context(hooks.model_fn, 1)(str(files.model_dir))
        except ModelLoadError:
            raise
        except Exception as error:
            raise ModelLoadError(f"model_fn failed: {_describe(error)}") from error
        self.script_dir = str(files.code_dir) if files.program and files.code_dir else None
        self._transform = _with_context(hooks.transform_fn, 4) if hooks.transform_fn else None
        self._input, self._predict, self._output = (_with_context(hooks.input_fn, 2),
                                                    _with_context(hooks.predict_fn, 2),
                                                    _with_context(hooks.output_fn, 2))

    def invoke(self, body: bytes, content_type: str | None, accept: str | None) -> Reply:
        """One invocation; never raises (a failure is a 4xx/5xx Reply with the message as body)."""
        content_type = content_type or self.hooks.default_content_type
        if not accept or accept == "*/*":
            accept = self.default_accept
        try:
            if self._transform is not None:
                result = self._transform(self.model, body, content_type, accept)
            else:
                result = self._output(self._predict(self._input(body, content_type), self.model), accept)
        except InferenceError as error:
            return Reply(error.status, error.message.encode(), "text/plain")
        except Exception as error:
            trace = traceback.format_exc()
            sys.stderr.write(trace)
            return Reply(500, _describe(error).encode(), "text/plain", detail=trace)
        response, response_type = result if isinstance(result, tuple) else (result, accept)
        return Reply(200, _as_bytes(response), response_type or accept)


def _with_context(hook: Callable[..., Any], arity: int) -> Callable[..., Any]:
    """Hooks may take a trailing `context` argument (inference toolkit >= 1.6); drydock passes None."""
    try:
        takes_context = len(inspect.signature(hook).parameters) == arity + 1
    except (TypeError, ValueError):
        takes_context = False
    return (lambda *args: hook(*args, None)) if takes_context else hook


def _as_bytes(value: Any) -> bytes:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8")
    return json.dumps(_numbers(value)).encode()


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


# --- servers --------------------------------------------------------------------------------------------------

class Server(Protocol):
    """One serving container: started (model loaded, /ping healthy), reachable at `url`, then stopped."""

    url: str

    def start(self) -> None:
        """Load the model and listen; raises ModelLoadError when the container would fail its health check."""

    def stop(self) -> None:
        """Stop listening and drop open connections."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the platform reuses its connections
    disable_nagle_algorithm = True  # headers and body go out in two writes; Nagle would hold the body ~40 ms
    server: _HttpServer
    timeout = 120

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        if self.path == "/ping":
            self._send(200, b"\n", "text/plain")
        elif self.path == "/execution-parameters":  # batch transform asks this once
            self._send(200, b'{"MaxConcurrentTransforms": 1, "BatchStrategy": "MULTI_RECORD", "MaxPayloadInMB": 6}',
                       JSON)
        else:
            self._send(404, b"not found\n", "text/plain")

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path != "/invocations":
            self._send(404, b"not found\n", "text/plain")
            return
        reply = self.server.transformer.invoke(body, self.headers.get("Content-Type"), self.headers.get("Accept"))
        self._send(reply.status, reply.body, reply.content_type, reply.custom_attributes)

    def _send(self, status: int, body: bytes, content_type: str, custom_attributes: str | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if custom_attributes:
            self.send_header(CUSTOM_ATTRIBUTES_HEADER, custom_attributes)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's name)
        pass


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, transformer: Transformer):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.transformer = transformer
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def drop_connections(self) -> None:
        with self.connections_lock:
            open_connections, self.connections = self.connections, set()
        for connection in open_connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class InProcessServer:
    """A serving container as a thread of this process: the model is loaded here, the HTTP server is on loopback."""

    def __init__(self, files: ModelFiles):
        self.files = files
        self.url = ""
        self._http: _HttpServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        transformer = Transformer(self.files)
        self._http = _HttpServer(transformer)
        host, port = self._http.server_address[:2]
        self.url = f"http://{host}:{port}"
        self._thread = threading.Thread(target=self._http.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"drydock-serving-{port}", daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return self._http.server_address[1] if self._http else 0

    def stop(self) -> None:
        if self._http is None:
            return
        self._http.shutdown()
        self._http.server_close()
        self._http.drop_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)
        script_dir = self._http.transformer.script_dir
        if script_dir in sys.path:
            sys.path.remove(script_dir)
        self._http = None


class InvocationClient:
    """The platform's connection to one container: a pool of keep-alive connections, safe across threads."""

    def __init__(self, url: str, timeout: float = 60.0):
        parts = url.removeprefix("http://").rstrip("/").rsplit(":", 1)
        self.host, self.port = parts[0], int(parts[1])
        self.timeout = timeout
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self._closed = False

    def ping(self) -> bool:
        try:
            return self._request("GET", "/ping", b"", {}).status == 200
        except OSError:
            return False

    def invoke(self, body: bytes, content_type: str | None = None, accept: str | None = None,
               custom_attributes: str | None = None) -> Reply:
        """POST /invocations. Raises OSError when the container cannot be reached."""
        headers = {"Content-Type": content_type or "application/octet-stream"}
        if accept:
            headers["Accept"] = accept
        if custom_attributes:
            headers[CUSTOM_ATTRIBUTES_HEADER] = custom_attributes
        return self._request("POST", "/invocations", body, headers)

    def _request(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> Reply:
        for attempt in (0, 1):
            connection, reused = self._checkout()
            try:
                connection.request(method, path, body=body, headers=headers)
                response = connection.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
                    http.client.CannotSendRequest, http.client.BadStatusLine):
                connection.close()
                if attempt or not reused:  # only a reused connection may have gone stale: retry that once
                    raise
                continue
            except BaseException:
                connection.close()
                raise
            self._checkin(connection, response.will_close)
            return Reply(response.status, data, response.getheader("Content-Type") or "application/octet-stream",
                         response.getheader(CUSTOM_ATTRIBUTES_HEADER))
        raise AssertionError("unreachable")

    def _checkout(self) -> tuple[http.client.HTTPConnection, bool]:
        with self._lock:
            if self._idle:
                return self._idle.pop(), True
        return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout), False

    def _checkin(self, connection: http.client.HTTPConnection, will_close: bool) -> None:
        with self._lock:
            if not will_close and not self._closed:
                self._idle.append(connection)
                return
        connection.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()


def start_server(container: dict[str, Any], s3: Any, root: Path) -> InProcessServer:
    """Materialize a Model container under `root` and start serving it. Raises ModelLoadError."""
    server = InProcessServer(materialize(container, s3, root))
    server.start()
    return server


__all__ = ["Hooks", "InProcessServer", "InferenceError", "InvocationClient", "ModelFiles", "ModelLoadError", "Reply",
           "Server", "Transformer", "framework_hooks", "materialize", "start_server"]
