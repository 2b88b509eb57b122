"""drydock answers some (service, action) pairs itself and moto answers the rest: the one routing table.

A module that takes over AWS actions registers a handler for them (`register("sagemaker", handler,
actions=[...])`, or every action of a service with `actions=None`); the handler gets a `Call`
(service, action, the request, the parsed parameters, the caller's account and region) and returns
the action's output as a dict, which is serialized in the service's wire shape by botocore's model
(moto's serializers: JSON protocols put datetimes as epoch seconds), or a ready `Answer`. It raises
`ServiceError(code, message)` for an AWS error. Two doors lead to the same table:

- in-process (`intercept_botocore`): a botocore `before-send` hook answers requests of any boto3
  client that targets AWS while drydock's in-process cloud is active. moto is told to pass the
  overlaid services through (its stubber would otherwise answer them too, and botocore keeps the
  first answer), so the hook forwards the actions drydock does not take to moto's backends itself;
- `drydock serve` (`wsgi_call`): the gateway finds the action of an HTTP request by `X-Amz-Target`
  (JSON protocols: `SageMaker.CreateTrainingJob`, `AWSStepFunctions.StartExecution`), by the
  `Action` parameter (query protocols) or by method and path (REST protocols), and hands it here
  when drydock registered it, to moto's server app otherwise.
"""
from __future__ import annotations

import functools
import io
import os
import re
import sys
import threading
import traceback
import uuid
from dataclasses import dataclass, field
from typing import Generic, TypeVar, Any, Callable, Iterable, NamedTuple
from urllib.parse import parse_qs, unquote, urlsplit

from moto.core.exceptions import ServiceException

from harness.cloud import DEFAULT_ACCOUNT, DEFAULT_REGION

T = TypeVar("T")
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/,\s]+)/([^/,\s]+)/")
# Modules that register drydock's own actions when imported; a missing one is skipped (work in progress).
BUILTIN_MODULES = ("harness.stepfunctions_api", "harness.sagemaker.service", "harness.sagemaker.endpoints",
                   "harness.sagemaker.pipelines.api", "harness.sagemaker.monitor.api",
                   "harness.sagemaker.featurestore")


class Answer(NamedTuple):
    """A complete HTTP answer: what a handler returns when it writes the wire format itself."""

    status: int
    headers: dict[str, str]
    body: bytes


class ServiceError(ServiceException):
    """An AWS error (`code` as the service model names it), serialized in the service's error shape."""

    def __init__(self, code: str, message: str, *, status: int | None = None):
        super().__init__(code, message)
        self.status = status


@dataclass
class Call:
    """One request drydock answers: which action, from whom, and its parameters as boto3 was given them."""

    service: str  # boto3's service name: "sagemaker", "stepfunctions", "sagemaker-runtime"
    action: str  # the operation name: "CreateTrainingJob"
    request: Any  # moto.core.request.Request (werkzeug): method, path, headers, get_data()
    account: str = DEFAULT_ACCOUNT
    region: str = DEFAULT_REGION
    url_params: dict[str, str] = field(default_factory=dict)  # labels of a REST request URI

    @property
    def body(self) -> bytes:
        return self.request.get_data(cache=True)

    @property
    def headers(self) -> Any:
        return self.request.headers

    @functools.cached_property
    def params(self) -> dict[str, Any]:
        """The operation's input, parsed by the service model (moto's protocol parsers)."""
        from moto.core.parse import PROTOCOL_PARSERS

        model = moto_service_model(self.service)
        parser = PROTOCOL_PARSERS[_protocol(model)](model.operation_model(self.action))
        return parser.parse({"method": self.request.method, "values": self.request.values,
                             "headers": self.request.headers, "body": self.body, "url_path": self.request.path,
                             "url_params": self.url_params})


Handler = Callable[[Call], "dict[str, Any] | Answer"]


@dataclass
class _Service:
    name: str
    model: Any  # botocore ServiceModel
    everything: Handler | None = None  # serves every action
    actions: dict[str, Handler] = field(default_factory=dict)
    moto_name: str | None = None

    def handler(self, action: str) -> Handler | None:
        return self.actions.get(action) or self.everything


class Overlay:
    """The table of (service, action) -> handler, and the two doors (botocore hook, WSGI) into it."""

    def __init__(self) -> None:
        self._services: dict[str, _Service] = {}
        self._lock = threading.RLock()
        self._intercepting = False
        self._builtins_loaded = False
        self._loading = False
        self._load_lock = threading.RLock()

    # ------------------------------------------------------------------ the table
    def register(self, service: str, handler: Handler, actions: Iterable[str] | None = None) -> None:
        """Answer `actions` of `service` (every action when None) with `handler`; a later registration wins.

        Raises:
            ValueError: an action the service model does not have.
        """
        with self._lock:
            entry = self._services.get(service)
            if entry is None:
                entry = self._services[service] = _Service(service, _botocore_model(service))
                entry.moto_name = _moto_name(entry.model)
            if actions is None:
                entry.everything = handler
            else:
                unknown = sorted(set(actions) - set(entry.model.operation_names))
                if unknown:
                    raise ValueError(f"{service} has no action {', '.join(unknown)}")
                entry.actions.update(dict.fromkeys(actions, handler))
            if self._intercepting:
                _moto_passthrough(entry, True)

    def unregister(self, service: str, actions: Iterable[str] | None = None) -> None:
        """Give `actions` (all of the service's when None) back to moto."""
        with self._lock:
            entry = self._services.get(service)
            if entry is None:
                return
            if actions is None:
                entry.everything, entry.actions = None, {}
            else:
                for action in actions:
                    entry.actions.pop(action, None)
            if entry.everything is None and not entry.actions:
                del self._services[service]
                _moto_passthrough(entry, False)

    def handler(self, service: str, action: str) -> Handler | None:
        self.load_builtins()
        entry = self._services.get(service)
        return entry.handler(action) if entry is not None else None

    def registered(self) -> dict[str, list[str] | None]:
        """service -> the actions drydock answers (None: all of them)."""
        self.load_builtins()
        return {name: None if s.everything else sorted(s.actions) for name, s in self._services.items()}

    def load_builtins(self) -> None:
        """Import the modules that register drydock's actions (once; those not written yet are skipped)."""
        if self._builtins_loaded:
            return
        import importlib

        with self._load_lock:
            if self._builtins_loaded or self._loading:  # done, or this thread is importing them right now
                return
            self._loading = True
            try:
                for module in BUILTIN_MODULES:
                    try:
                        importlib.import_module(module)
                    except ModuleNotFoundError as err:
                        if not err.name or not (module == err.name or module.startswith(err.name + ".")):
                            raise
            finally:
                self._loading = False
                self._builtins_loaded = True

    # ------------------------------------------------------------------ answering
    def answer(self, call: Call) -> Answer:
        """Run the call's handler and serialize what it returns (errors included) in the service's wire shape."""
        handler = self.handler(call.service, call.action)
        request_id = str(uuid.uuid4())
        try:
            if handler is None:
                raise ServiceError("UnknownOperationException", f"drydock does not answer {call.service} "
                                                                f"{call.action}")
            result = handler(call)
        except ServiceError as err:
            result = err
        except Exception as exc:  # a drydock bug: say so, keep serving
            traceback.print_exc(file=sys.stderr)
            result = ServiceError("InternalFailure", f"drydock failed on {call.service} {call.action}: "
                                                     f"{type(exc).__name__}: {exc}", status=500)
        if isinstance(result, Answer):
            return result
        return serialize(call.service, call.action, result, request_id)

    # ------------------------------------------------------------------ in-process: botocore
    def intercept_botocore(self, enabled: bool) -> None:
        """Answer (or stop answering) the overlaid actions of boto3 clients that target AWS.

        Registered with botocore's built-in handlers, so it reaches every session made afterwards,
        as moto's own stubber does; a client bound to an endpoint (`drydock serve`) is left alone.
        """
        from botocore.handlers import BUILTIN_HANDLERS

        self.load_builtins()
        if ("before-send", self._botocore_hook) not in BUILTIN_HANDLERS:
            BUILTIN_HANDLERS.append(("before-send", self._botocore_hook))
        with self._lock:
            self._intercepting = enabled
            for entry in self._services.values():
                _moto_passthrough(entry, enabled)

    def _botocore_hook(self, request: Any, event_name: str = "", **_: Any) -> Any:
        if not self._intercepting:
            return None
        _, _, rest = event_name.partition(".")  # before-send.<service id>.<Operation>
        service_id, _, action = rest.partition(".")
        entry = self._by_service_id(service_id)
        if entry is None:
            return None
        host = urlsplit(request.url).hostname or ""
        if not host.endswith((".amazonaws.com", ".amazonaws.com.cn")):
            return None
        from botocore.awsrequest import AWSResponse
        from moto.core.botocore_stubber import MockRawResponse

        handler = entry.handler(action)
        answered = _ask_moto(request) if handler is None else None  # moto passes the service through: ask it
        if answered is not None:
            status, headers, body = answered
        elif handler is None and entry.moto_name is not None:
            return None
        else:
            from moto.core.request import Request

            moto_request = Request.from_primitives(request.method, request.url, request.headers, request.body)
            call = Call(entry.name, action, moto_request, *request_identity(moto_request.headers),
                        url_params=_uri_labels(entry.model, action, moto_request.path))
            status, headers, body = self.answer(call)
        return AWSResponse(request.url, status, headers, MockRawResponse(body))

    def _by_service_id(self, service_id: str) -> _Service | None:
        for entry in list(self._services.values()):
            if entry.model.service_id.hyphenize() == service_id:
                return entry
        return None

    # ------------------------------------------------------------------ drydock serve: WSGI
    def wsgi_call(self, environ: dict[str, Any]) -> Call | None:
        """The Call of an HTTP request when drydock answers its action; None sends it to moto.

        May read the request body (query protocols carry `Action` there); it is put back for moto.
        """
        self.load_builtins()
        if not self._services:
            return None
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target:
            prefix, _, action = target.partition(".")
            for entry in list(self._services.values()):
                if entry.model.metadata.get("targetPrefix") == prefix and entry.handler(action):
                    return self._wsgi(entry, action, environ)
            return None
        signing = _signing_name(environ.get("HTTP_AUTHORIZATION", ""))
        for entry in list(self._services.values()):
            if signing and entry.model.signing_name != signing:
                continue
            protocol = entry.model.protocol
            if protocol in ("query", "ec2"):
                action = _query_action(environ)
                if action and entry.handler(action):
                    return self._wsgi(entry, action, environ)
            elif protocol in ("rest-json", "rest-xml"):
                path = unquote(environ.get("PATH_INFO", "/"))
                method = environ.get("REQUEST_METHOD", "GET")
                for action in (list(entry.actions) if entry.everything is None else entry.model.operation_names):
                    labels = _match_uri(entry.model.operation_model(action), method, path)
                    if labels is not None and entry.handler(action):
                        return self._wsgi(entry, action, environ, labels)
        return None

    @staticmethod
    def _wsgi(entry: _Service, action: str, environ: dict[str, Any], labels: dict[str, str] | None = None) -> Call:
        from moto.core.request import Request

        request = Request(environ)
        return Call(entry.name, action, request, *request_identity(request.headers), url_params=labels or {})


OVERLAY = Overlay()


class ActiveSlot(Generic[T]):
    """Which instance of a service module the overlay's handlers answer from: made on first use
    (`factory`), or installed by a test or a server (`install` returns the previous one)."""

    def __init__(self, factory: Callable[[], T]):
        self._factory = factory
        self._value: T | None = None
        self._lock = threading.Lock()

    def install(self, value: T | None) -> T | None:
        with self._lock:
            previous, self._value = self._value, value
        return previous

    def get(self) -> T:
        with self._lock:
            if self._value is None:
                self._value = self._factory()
            return self._value


def register(service: str, actions: Iterable[str] | None = None) -> Callable[[Handler], Handler]:
    """Decorator form of `OVERLAY.register`."""

    def add(handler: Handler) -> Handler:
        OVERLAY.register(service, handler, actions)
        return handler
    return add


def intercept_botocore(enabled: bool) -> None:
    OVERLAY.intercept_botocore(enabled)


# --------------------------------------------------------------------------- wire shapes
def serialize(service: str, action: str, result: Any, request_id: str | None = None) -> Answer:
    """An action's output (a dict of boto3-style values) or a ServiceError, in the service's wire format."""
    from moto.core.serialize import SerializationContext, get_serializer_class

    model = moto_service_model(service)
    serializer = get_serializer_class(service, _protocol(model))(model.operation_model(action),
                                                                 SerializationContext(request_id))
    out = serializer.serialize(result)
    status = out["status_code"]
    if isinstance(result, ServiceError) and result.status is not None:
        status = result.status
    body = out["body"]
    headers = {**out["headers"], "x-amzn-RequestId": request_id or str(uuid.uuid4())}
    return Answer(status, headers, body.encode() if isinstance(body, str) else body)


@functools.cache
def moto_service_model(service: str) -> Any:
    from moto.core.utils import get_service_model

    return get_service_model(service)


@functools.cache
def _botocore_model(service: str) -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model(service)


def _protocol(model: Any) -> str:
    """The wire protocol boto3 speaks to the service: json, query, rest-json, rest-xml or ec2 (not CBOR)."""
    return str(model.protocol)


def request_identity(headers: Any) -> tuple[str, str]:
    """(account, region) of a signed request: region from the credential scope, account as moto derives it."""
    m = _CREDENTIAL.search(str(headers.get("Authorization") or ""))
    if m is None:
        return os.environ.get("MOTO_ACCOUNT_ID", DEFAULT_ACCOUNT), DEFAULT_REGION
    from moto.iam.models import get_account_id_from

    return os.environ.get("MOTO_ACCOUNT_ID") or get_account_id_from(m.group(1)), m.group(2)


def _signing_name(authorization: str) -> str | None:
    m = _CREDENTIAL.search(authorization)
    return m.group(3) if m else None


def _query_action(environ: dict[str, Any]) -> str | None:
    action = parse_qs(environ.get("QUERY_STRING", "")).get("Action")
    if action:
        return action[0]
    if not environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        return None
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)  # put back for moto or the Call
    found = parse_qs(body.decode("utf-8", "replace")).get("Action")
    return found[0] if found else None


@functools.lru_cache(maxsize=None)
def _uri_pattern(uri: str) -> re.Pattern[str]:
    path = uri.split("?", 1)[0]
    out, last = [], 0
    for m in re.finditer(r"\{([A-Za-z0-9_]+)(\+?)\}", path):
        out.append(re.escape(path[last:m.start()]))
        out.append(f"(?P<{m.group(1)}>{'.+' if m.group(2) else '[^/]+'})")
        last = m.end()
    out.append(re.escape(path[last:]))
    return re.compile("".join(out) + "/?")


def _match_uri(operation: Any, method: str, path: str) -> dict[str, str] | None:
    http = operation.http
    if http.get("method", "POST") != method:
        return None
    m = _uri_pattern(http.get("requestUri", "/")).fullmatch(path)
    return {k: unquote(v) for k, v in m.groupdict().items()} if m else None


def _uri_labels(model: Any, action: str, path: str) -> dict[str, str]:
    if model.protocol not in ("rest-json", "rest-xml"):
        return {}
    return _match_uri(model.operation_model(action), model.operation_model(action).http.get("method", "POST"),
                      unquote(path)) or {}


# --------------------------------------------------------------------------- moto, in-process
def _moto_name(model: Any) -> str | None:
    """moto's name for a service (its backend index key), found by the service's AWS host."""
    import moto.backend_index as backend_index

    url = f"https://{model.endpoint_prefix}.us-east-1.amazonaws.com/"
    return next((name for name, pattern in backend_index.backend_url_patterns if pattern.match(url)), None)


def _moto_passthrough(entry: _Service, enabled: bool) -> None:
    """Make moto's botocore stubber leave a service alone (drydock's hook answers it), or not.

    A service moto has no backend for is passed through by its host: moto's stubber would answer it
    "404 Not yet implemented" (and the hook answers its actions drydock does not take with an error).
    """
    from moto.core.config import default_user_config

    passthrough = default_user_config.setdefault("core", {}).setdefault("passthrough", {})
    name = entry.moto_name
    if name is None:
        host = re.escape(entry.model.endpoint_prefix)
        name, passthrough = rf"https?://{host}\.[^/]+\.amazonaws\.com(\.cn)?/", passthrough.setdefault("urls", [])
    else:
        passthrough = passthrough.setdefault("services", [])
    if enabled and name not in passthrough:
        passthrough.append(name)
    elif not enabled and name in passthrough:
        passthrough.remove(name)


def _ask_moto(request: Any) -> tuple[int, dict[str, str], Any] | None:
    """What moto's stubber answers for a request of a service it was told to pass through."""
    import moto.backend_index as backend_index
    import moto.backends as backends
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.core.base_backend import BackendDict
    from moto.core.exceptions import HTTPException
    from moto.core.request import normalize_request
    from moto.core.utils import get_equivalent_url_in_aws_domain
    from moto.moto_api import recorder

    parsed, _ = get_equivalent_url_in_aws_domain(request.url)
    clean_url = f"{parsed.scheme}://{parsed.netloc}{parsed.path}"
    for service, pattern in backend_index.backend_url_patterns:
        if not pattern.match(clean_url):
            continue
        backend_dict = backends.get_backend(service)  # type: ignore[call-overload]
        if isinstance(backend_dict, BackendDict):
            regions = backend_dict[DEFAULT_ACCOUNT_ID]
            backend = regions["us-east-1"] if "us-east-1" in regions else regions["aws"]
        else:
            backend = backend_dict["global"]
        for url, method in backend.urls.items():
            if re.compile(url).match(clean_url):
                normalized = normalize_request(request)
                try:
                    recorder._record_request(normalized)
                    return method(normalized, normalized.raw_url, normalized.headers)
                except HTTPException as e:
                    return e.code, e.get_headers(), e.get_body()
    return None
