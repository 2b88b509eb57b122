#!/usr/bin/env python3
"""drydock's `serve` for the XGBoost image: the SageMaker inference contract.

SageMaker (and the SDK's local mode, through compose's `command: serve`) starts the
container with `serve` and expects an HTTP server on port 8080 that answers

    GET  /ping                  200 once the model is loaded
    POST /invocations           the request body -> predictions
    GET  /execution-parameters  batch-transform hints (optional in the contract)

The model is what SageMaker extracted from model.tar.gz into /opt/ml/model. A user
script (SageMaker's "inference.py") may define any of

    model_fn(model_dir) -> model
    input_fn(request_body, request_content_type) -> data
    predict_fn(data, model) -> prediction
    output_fn(prediction, accept) -> body | (body, content_type)
    transform_fn(model, request_body, content_type, accept)  (replaces the three above)

and the defaults fill in the rest. The script is found, as in SageMaker's containers,
through SAGEMAKER_PROGRAM in SAGEMAKER_SUBMIT_DIRECTORY (a folder, file://, or an
s3:// tarball fetched with boto3 and S3_ENDPOINT_URL), else as inference.py in
/opt/ml/model/code or /opt/ml/code. Bodies of text/csv and application/json requests
reach a user input_fn decoded to str, as in sagemaker-inference.

Defaults: the model is an XGBoost model file (`xgboost-model` as SageMaker's XGBoost
writes it, or *.json/*.ubj/*.bst/*.model, or a pickle/joblib file); text/csv rows
(no header) or JSON ({"instances": [[...]]} or [[...]]) are scored; a Booster gives
what it predicts (probabilities for binary:logistic), a scikit-learn style classifier
its predict_proba (the positive class's column when binary). Output is text/csv, one
prediction per line, or application/json {"predictions": [...]} when asked by Accept.

Standard library only for the server itself (http.server); numpy/xgboost are imported
only by the defaults that need them.

Usage: serve [--host 0.0.0.0] [--port 8080] [--model-dir /opt/ml/model]
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import io
import json
import os
import pickle
import signal
import sys
import tarfile
import threading
import time
import traceback
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

DEFAULT_MODEL_DIR = "/opt/ml/model"
DEFAULT_PORT = 8080
CSV = "text/csv"
JSON = "application/json"
NPY = "application/x-npy"
UTF8_TYPES = (CSV, JSON)
MODEL_SUFFIXES = (".json", ".ubj", ".bst", ".model", ".xgb")
PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib")


def log(msg: str) -> None:
    print(f"[serve] {msg}", file=sys.stderr, flush=True)


class RequestError(Exception):
    """A client error: reported with the given HTTP status and message."""

    def __init__(self, status: HTTPStatus, message: str):
        super().__init__(message)
        self.status = status


# ---------------------------------------------------------------- defaults
def _find_model_file(model_dir: Path) -> Path:
    if not model_dir.is_dir():
        raise FileNotFoundError(f"model directory {model_dir} does not exist")
    named = model_dir / "xgboost-model"
    if named.is_file():
        return named
    files = sorted(p for p in model_dir.iterdir() if p.is_file())
    for suffixes in (MODEL_SUFFIXES, PICKLE_SUFFIXES):
        for p in files:
            if p.suffix.lower() in suffixes:
                return p
    tarball = model_dir / "model.tar.gz"
    if tarball.is_file():  # not extracted by whoever started us: do it ourselves
        target = Path(os.environ.get("TMPDIR", "/tmp")) / "drydock-serve-model"
        target.mkdir(parents=True, exist_ok=True)
        with tarfile.open(tarball) as tf:
            tf.extractall(target)  # noqa: S202 - the job's own artifact
        return _find_model_file(target)
    listing = ", ".join(p.name for p in files) or "nothing"
    raise FileNotFoundError(
        f"no model file in {model_dir} (looked for xgboost-model, *{', *'.join(MODEL_SUFFIXES + PICKLE_SUFFIXES)}; found {listing})"
    )


def default_model_fn(model_dir: str) -> Any:
    path = _find_model_file(Path(model_dir))
    if path.suffix.lower() in PICKLE_SUFFIXES:
        return _load_pickle(path)
    import xgboost as xgb

    booster = xgb.Booster()
    try:
        booster.load_model(str(path))
        return booster
    except Exception as native_error:  # xgboost-model is often a pickled Booster
        try:
            return _load_pickle(path)
        except Exception:
            raise native_error from None


def _load_pickle(path: Path) -> Any:
    try:
        with open(path, "rb") as fh:
            return pickle.load(fh)  # noqa: S301 - the job's own artifact
    except Exception:
        import joblib

        return joblib.load(path)


def _parse_csv(text: str) -> Any:
    import numpy as np

    rows = [row for row in csv.reader(io.StringIO(text)) if row and any(c.strip() for c in row)]
    if not rows:
        raise RequestError(HTTPStatus.BAD_REQUEST, "empty text/csv payload")
    width = len(rows[0])
    if any(len(r) != width for r in rows):
        raise RequestError(HTTPStatus.BAD_REQUEST, "text/csv rows have different numbers of columns")
    try:
        return np.array([[float(c) if c.strip() else np.nan for c in r] for r in rows], dtype=np.float32)
    except ValueError as e:
        raise RequestError(HTTPStatus.BAD_REQUEST, f"text/csv payload is not numeric (no header row allowed): {e}") from None


def default_input_fn(request_body: Any, request_content_type: str) -> Any:
    import numpy as np

    if isinstance(request_body, (bytes, bytearray)) and request_content_type in UTF8_TYPES:
        request_body = request_body.decode("utf-8")
    if request_content_type == CSV:
        return _parse_csv(request_body)
    if request_content_type == JSON:
        try:
            doc = json.loads(request_body)
        except json.JSONDecodeError as e:
            raise RequestError(HTTPStatus.BAD_REQUEST, f"invalid JSON: {e}") from None
        if isinstance(doc, dict):
            doc = doc.get("instances", doc.get("inputs", doc.get("features")))
        if not isinstance(doc, list):
            raise RequestError(HTTPStatus.BAD_REQUEST, 'JSON payload must be [[...]] or {"instances": [[...]]}')
        arr = np.array(doc, dtype=np.float32)
        return arr.reshape(1, -1) if arr.ndim == 1 else arr
    if request_content_type == NPY:
        arr = np.load(io.BytesIO(request_body), allow_pickle=False)
        return arr.reshape(1, -1) if arr.ndim == 1 else arr
    raise RequestError(
        HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
        f"content type {request_content_type!r} is not supported by the default input_fn ({CSV}, {JSON}, {NPY})",
    )


def default_predict_fn(input_data: Any, model: Any) -> Any:
    try:
        import xgboost as xgb
    except ImportError:  # pragma: no cover - the image has it
        xgb = None
    if xgb is not None and isinstance(model, xgb.Booster):
        names = model.feature_names
        if names is not None and getattr(input_data, "shape", (0, 0))[-1] == len(names) and not hasattr(input_data, "columns"):
            dmatrix = xgb.DMatrix(input_data, feature_names=names)
        else:
            dmatrix = xgb.DMatrix(input_data)
        return model.predict(dmatrix)
    if hasattr(model, "predict_proba"):
        proba = model.predict_proba(input_data)
        return proba[:, 1] if proba.ndim == 2 and proba.shape[1] == 2 else proba
    return model.predict(input_data)


def _tolist(prediction: Any) -> Any:
    return prediction.tolist() if hasattr(prediction, "tolist") else prediction


def default_output_fn(prediction: Any, accept: str) -> tuple[bytes, str]:
    values = _tolist(prediction)
    if accept == JSON:
        return json.dumps({"predictions": values}).encode(), JSON
    if accept == CSV:
        if not isinstance(values, list):
            values = [values]
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        for row in values:
            writer.writerow(row if isinstance(row, list) else [row])
        return out.getvalue().encode(), CSV
    raise RequestError(HTTPStatus.NOT_ACCEPTABLE, f"accept type {accept!r} is not supported by the default output_fn ({CSV}, {JSON})")


# ---------------------------------------------------------------- user script
def _fetch_s3_tarball(uri: str, target: Path) -> Path:
    import boto3  # in the image through sagemaker-training

    bucket, _, key = uri[len("s3://"):].partition("/")
    s3 = boto3.client("s3", endpoint_url=os.environ.get("S3_ENDPOINT_URL") or None)
    target.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    s3.download_fileobj(bucket, key, buf)
    buf.seek(0)
    with tarfile.open(fileobj=buf) as tf:
        tf.extractall(target)  # noqa: S202 - the job's own code
    return target


def find_user_script(model_dir: Path) -> Path | None:
    program = os.environ.get("SAGEMAKER_PROGRAM", "").strip()
    submit = os.environ.get("SAGEMAKER_SUBMIT_DIRECTORY", "").strip()
    dirs: list[Path] = []
    if submit:
        if submit.startswith("s3://"):
            dirs.append(_fetch_s3_tarball(submit, Path("/opt/ml/code") if os.access("/opt/ml", os.W_OK) else Path("/tmp/drydock-code")))
        else:
            dirs.append(Path(submit.removeprefix("file://")))
    dirs += [model_dir / "code", Path("/opt/ml/code")]
    if program:
        for d in dirs:
            if (d / program).is_file():
                return d / program
        raise FileNotFoundError(f"SAGEMAKER_PROGRAM={program} not found in {', '.join(map(str, dirs))}")
    for d in dirs:
        if (d / "inference.py").is_file():
            return d / "inference.py"
    return None


def load_user_module(path: Path) -> ModuleType:
    sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module


class Handlers:
    """The model and the four functions, user-defined where the script defines them."""

    def __init__(self, model_dir: str, user: ModuleType | None = None):
        self.user = user
        pick: Callable[[str, Callable], Callable] = lambda name, default: getattr(user, name, None) or default  # noqa: E731
        self.model_fn = pick("model_fn", default_model_fn)
        self.input_fn = pick("input_fn", default_input_fn)
        self.predict_fn = pick("predict_fn", default_predict_fn)
        self.output_fn = pick("output_fn", default_output_fn)
        self.transform_fn = getattr(user, "transform_fn", None)
        self.model_dir = model_dir
        self.model = self.model_fn(model_dir)
        self.lock = threading.Lock()

    def invoke(self, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
        with self.lock:
            # As sagemaker-inference does: CSV and JSON bodies reach the functions as str.
            data: Any = body.decode("utf-8") if content_type in UTF8_TYPES else body
            if self.transform_fn is not None:
                result = self.transform_fn(self.model, data, content_type, accept)
            else:
                result = self.output_fn(self.predict_fn(self.input_fn(data, content_type), self.model), accept)
        out_type = accept
        if isinstance(result, tuple):
            result, out_type = result
        if isinstance(result, str):
            result = result.encode("utf-8")
        elif not isinstance(result, (bytes, bytearray)):
            result = json.dumps(_tolist(result)).encode()
        return bytes(result), out_type


# ---------------------------------------------------------------- HTTP
def _media_type(header: str | None, default: str) -> str:
    if not header:
        return default
    first = header.split(",")[0].split(";")[0].strip().lower()
    return default if first in ("", "*/*") else first


class InferenceHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "drydock-serve/1"
    disable_nagle_algorithm = True  # headers and body are two writes: Nagle + delayed ACK held each reply ~40 ms
    handlers: Handlers  # set on the class by make_server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        log(f"{self.address_string()} {format % args}")

    def _send(self, status: int, body: bytes = b"", content_type: str = "text/plain") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_GET(self) -> None:  # noqa: N802
        path = self.path.split("?")[0]
        if path == "/ping":
            self._send(HTTPStatus.OK)
        elif path == "/execution-parameters":
            params = {"MaxConcurrentTransforms": 1, "BatchStrategy": "MULTI_RECORD", "MaxPayloadInMB": 6}
            self._send(HTTPStatus.OK, json.dumps(params).encode(), JSON)
        else:
            self._send(HTTPStatus.NOT_FOUND, f"no route GET {path}\n".encode())

    do_HEAD = do_GET  # noqa: N815

    def do_POST(self) -> None:  # noqa: N802
        path = self.path.split("?")[0]
        body = self._read_body()
        if path != "/invocations":
            self._send(HTTPStatus.NOT_FOUND, f"no route POST {path}\n".encode())
            return
        content_type = _media_type(self.headers.get("Content-Type"), CSV)
        accept = _media_type(self.headers.get("Accept"), os.environ.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", CSV))
        try:
            out, out_type = self.handlers.invoke(body, content_type, accept)
        except RequestError as e:
            self._send(e.status, f"{e}\n".encode())
        except Exception as e:  # the user's code failed: 500 with its message, traceback in the log
            log("invocation failed:\n" + traceback.format_exc())
            self._send(HTTPStatus.INTERNAL_SERVER_ERROR, f"{type(e).__name__}: {e}\n".encode())
        else:
            self._send(HTTPStatus.OK, out, out_type)


def make_server(host: str, port: int, handlers: Handlers) -> ThreadingHTTPServer:
    handler_cls = type("BoundInferenceHandler", (InferenceHandler,), {"handlers": handlers})
    ThreadingHTTPServer.allow_reuse_address = True
    server = ThreadingHTTPServer((host, port), handler_cls)
    server.daemon_threads = True
    return server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="serve", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default=os.environ.get("SAGEMAKER_BIND_TO_HOST", "0.0.0.0"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("SAGEMAKER_BIND_TO_PORT", DEFAULT_PORT)))
    parser.add_argument("--model-dir", default=os.environ.get("DRYDOCK_MODEL_DIR", DEFAULT_MODEL_DIR))
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    try:
        script = find_user_script(Path(args.model_dir))
        user = load_user_module(script) if script else None
        handlers = Handlers(args.model_dir, user)
    except Exception:
        log("could not load the model:\n" + traceback.format_exc())
        return 1
    log(
        f"model from {args.model_dir} loaded in {time.perf_counter() - t0:.2f} s"
        f" ({type(handlers.model).__name__}; user script: {script or 'none'})"
    )
    server = make_server(args.host, args.port, handlers)

    def stop(signum: int, _frame: Any) -> None:
        log(f"signal {signum}: shutting down")
        threading.Thread(target=server.shutdown, daemon=True).start()

    # As PID 1 in a container, a signal without a handler is ignored: `docker stop` would wait 10 s.
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log(f"listening on {args.host}:{args.port} (GET /ping, POST /invocations)")
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
