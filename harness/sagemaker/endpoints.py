"""SageMaker real-time endpoints that really serve: CreateEndpoint starts a serving container per production variant.

Mirrors the SageMaker API's endpoint actions (CreateEndpoint, DescribeEndpoint, ListEndpoints, UpdateEndpoint,
DeleteEndpoint), `sagemaker-runtime` InvokeEndpoint and "Capture data from real-time endpoint"
(https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-data-capture-endpoint.html). moto keeps the
endpoint configs and models; drydock reads them (EndpointConfig -> ProductionVariants -> Model -> PrimaryContainer)
and runs one `serving.InProcessServer` per variant. Creating and updating happen on a thread of their own:
Creating -> InService (or Failed with FailureReason), Updating -> InService. An update starts the new config's
servers next to the old ones, switches traffic in one assignment once they answer, lets requests already on the old
servers finish, then stops them, so no request fails while traffic flows.

Requests and responses use the boto3 shapes (`Body` is bytes, times are datetimes); errors are the overlay's
`ServiceError`s with the AWS code. The actions are registered with `harness.overlay`, so boto3 clients of the
in-process cloud and `drydock serve` reach them; `install(service)` picks the `EndpointService` they reach.
"""
from __future__ import annotations

import base64
import json
import random
import shutil
import sys
import tempfile
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Protocol

from botocore.exceptions import ClientError

from harness.durability.cloud_state import Regional, ServicePart, durable, mark
from harness.overlay import ActiveSlot, Answer, Call, ServiceError, register
from harness.sagemaker import serving
from harness.sagemaker.backends import start_server
from harness.sagemaker.container import S3_ERRORS, parse_s3_uri

SAGEMAKER_ACTIONS = ("CreateEndpoint", "DescribeEndpoint", "ListEndpoints", "UpdateEndpoint", "DeleteEndpoint")
RUNTIME_ACTIONS = ("InvokeEndpoint",)
DRAIN_SECONDS = 60.0  # how long a retired config's servers wait for requests already sent to them
CAPTURE_FLUSH_SECONDS = 1.0
CAPTURE_BATCH = 1000  # records per capture file at most
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024  # InvokeEndpoint's request limit


def api_error(code: str, message: str, status: int | None = None, **members: Any) -> ServiceError:
    """An AWS error as the overlay serializes it; `members` are the error shape's extra members (ModelError's)."""
    error = ServiceError(code, message, status=status)
    for name, value in members.items():
        setattr(error, name, value)
    return error


class ClientSource(Protocol):
    """Where boto3 clients for one account and region come from (`harness.cloud.LocalCloud` is one)."""

    def client(self, service: str) -> Any: ...


def _now() -> datetime:
    return datetime.now(timezone.utc)


# --- data capture ---------------------------------------------------------------------------------------------

class CaptureWriter:
    """Writes sampled requests and responses of one endpoint config to S3 as JSON Lines, in AWS's capture format.

    Records are buffered and written by a background thread every CAPTURE_FLUSH_SECONDS (AWS also batches; it
    writes within minutes) into `<DestinationS3Uri>/<EndpointName>/<VariantName>/yyyy/mm/dd/hh/<uuid>.jsonl`,
    the hour being the records' inference time. `flush()` writes what is buffered now.
    """

    def __init__(self, config: dict[str, Any], endpoint_name: str, s3: Any):
        self.endpoint_name = endpoint_name
        self.destination = config["DestinationS3Uri"].rstrip("/")
        self.sampling = float(config.get("InitialSamplingPercentage", 100))
        modes = {option.get("CaptureMode") for option in config.get("CaptureOptions") or []}
        self.capture_input = not modes or "Input" in modes
        self.capture_output = not modes or "Output" in modes
        headers = config.get("CaptureContentTypeHeader") or {}
        self.csv_types = {_media(t) for t in headers.get("CsvContentTypes", [])}
        self.json_types = {_media(t) for t in headers.get("JsonContentTypes", [])}
        self.kms_key = config.get("KmsKeyId")
        self.s3 = s3
        self._buffer: dict[tuple[str, str], list[str]] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=f"drydock-capture-{endpoint_name}", daemon=True)
        self._thread.start()

    def sampled(self) -> bool:
        return self.sampling >= 100 or random.random() * 100 < self.sampling

    def record(self, variant: str, request: tuple[bytes, str], response: tuple[bytes, str],
               inference_id: str | None = None, when: datetime | None = None) -> None:
        when = when or _now()
        capture: dict[str, Any] = {}
        if self.capture_input:
            capture["endpointInput"] = self._payload(*request, "INPUT")
        if self.capture_output:
            capture["endpointOutput"] = self._payload(*response, "OUTPUT")
        metadata = {"eventId": str(uuid.uuid4()), "inferenceTime": when.strftime("%Y-%m-%dT%H:%M:%SZ")}
        if inference_id:
            metadata["inferenceId"] = inference_id
        line = json.dumps({"captureData": capture, "eventMetadata": metadata, "eventVersion": "0"})
        with self._lock:
            self._buffer.setdefault((variant, when.strftime("%Y/%m/%d/%H")), []).append(line)

    def _payload(self, body: bytes, content_type: str, mode: str) -> dict[str, str]:
        media = _media(content_type)
        encoding = "CSV" if media in self.csv_types else "JSON" if media in self.json_types else "BASE64"
        try:
            data = base64.b64encode(body).decode() if encoding == "BASE64" else body.decode("utf-8")
        except UnicodeDecodeError:
            encoding, data = "BASE64", base64.b64encode(body).decode()
        return {"observedContentType": content_type, "mode": mode, "data": data, "encoding": encoding}

    def flush(self) -> None:
        with self._lock:
            buffered, self._buffer = self._buffer, {}
        bucket, prefix = parse_s3_uri(self.destination)
        for (variant, hour), lines in buffered.items():
            for start in range(0, len(lines), CAPTURE_BATCH):
                key = "/".join(p for p in (prefix, self.endpoint_name, variant, hour, f"{uuid.uuid4()}.jsonl") if p)
                extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self.kms_key} if self.kms_key else {}
                try:
                    self.s3.put_object(Bucket=bucket, Key=key, ContentType="application/jsonlines",
                                       Body=("\n".join(lines[start:start + CAPTURE_BATCH]) + "\n").encode(), **extra)
                except S3_ERRORS as error:  # AWS drops captures it cannot deliver; the endpoint keeps serving
                    print(f"drydock: data capture for {self.endpoint_name} could not be written to "
                          f"s3://{bucket}/{key}: {error}", file=sys.stderr)

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(CAPTURE_FLUSH_SECONDS)
            self.flush()

    def close(self) -> None:
        self._closed = True
        self._wake.set()
        self._thread.join(timeout=10)
        self.flush()


def _media(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


# --- deployments: one endpoint config, running ----------------------------------------------------------------

@dataclass
class Variant:
    """One production variant of a deployment: its model's serving container and the connection to it."""

    name: str
    spec: dict[str, Any]  # the ProductionVariant of the endpoint config
    image: str
    server: serving.Server
    client: serving.InvocationClient
    created: datetime

    @property
    def weight(self) -> float:
        return float(self.spec.get("InitialVariantWeight", 1.0))

    def summary(self) -> dict[str, Any]:
        """ProductionVariantSummary; one server stands for every instance of the variant."""
        count = self.spec.get("InitialInstanceCount")
        out: dict[str, Any] = {"VariantName": self.name,
                               "DeployedImages": [{"SpecifiedImage": self.image, "ResolvedImage": self.image,
                                                   "ResolutionTime": self.created}],
                               "CurrentWeight": self.weight, "DesiredWeight": self.weight}
        if count is not None:
            out.update(CurrentInstanceCount=count, DesiredInstanceCount=count)
        if "ServerlessConfig" in self.spec:
            out.update(CurrentServerlessConfig=self.spec["ServerlessConfig"],
                       DesiredServerlessConfig=self.spec["ServerlessConfig"])
        return out


class Deployment:
    """The servers of one endpoint config. Requests hold it (`acquire`/`release`) so retiring waits for them."""

    def __init__(self, config: dict[str, Any], variants: list[Variant], capture: CaptureWriter | None, root: Path):
        self.config = config
        self.config_name: str = config["EndpointConfigName"]
        self.variants = {v.name: v for v in variants}
        self._choices = list(self.variants.values())
        self._weights = [max(v.weight, 0.0) for v in self._choices]
        if not any(self._weights):
            self._weights = [1.0] * len(self._choices)
        self.capture = capture
        self.root = root
        self._in_flight = 0
        self._idle = threading.Condition()

    def pick(self, target: str | None) -> Variant:
        if target:
            return self.variants[target]
        if len(self._choices) == 1:
            return self._choices[0]
        return random.choices(self._choices, self._weights)[0]

    def acquire(self) -> None:
        with self._idle:
            self._in_flight += 1

    def release(self) -> None:
        with self._idle:
            self._in_flight -= 1
            if not self._in_flight:
                self._idle.notify_all()

    def retire(self, drain_seconds: float = DRAIN_SECONDS) -> None:
        """Wait for the requests it is serving, then stop its servers and write the last captures."""
        with self._idle:
            self._idle.wait_for(lambda: not self._in_flight, timeout=drain_seconds)
        for variant in self.variants.values():
            variant.client.close()
            variant.server.stop()
        if self.capture is not None:
            self.capture.close()
        shutil.rmtree(self.root, ignore_errors=True)

    def data_capture_summary(self) -> dict[str, Any] | None:
        config = self.config.get("DataCaptureConfig")
        if not config:
            return None
        enabled = bool(config.get("EnableCapture", True))
        summary = {"EnableCapture": enabled, "CaptureStatus": "Started" if enabled else "Stopped",
                   "CurrentSamplingPercentage": config.get("InitialSamplingPercentage", 100),
                   "DestinationS3Uri": config.get("DestinationS3Uri")}
        if config.get("KmsKeyId"):
            summary["KmsKeyId"] = config["KmsKeyId"]
        return summary


@dataclass
class Endpoint:
    name: str
    arn: str
    config_name: str
    tags: list[dict[str, str]]
    status: str = "Creating"
    failure_reason: str | None = None
    created: datetime = field(default_factory=_now)
    modified: datetime = field(default_factory=_now)
    live: Deployment | None = None  # the deployment taking traffic
    pending: tuple[str, datetime] | None = None  # (config name, start) of an update in progress
    deleted: bool = False
    settled: threading.Event = field(default_factory=threading.Event)


# --- one account and region -----------------------------------------------------------------------------------

class Endpoints:
    """The endpoints of one account and region; each action is the snake_case method of its name.

    Args:
        account: the AWS account id, for ARNs and error messages.
        region: the region, for ARNs.
        clients: boto3 clients for this account and region: `sagemaker` (moto, for endpoint configs and models)
            and `s3` (model data, inference code, captured data).
        work_dir: where model data is unpacked, one directory per deployment.
        start: starts a serving container from (ContainerDefinition, s3 client, directory); the default,
            `backends.start_server`, runs `serving.InProcessServer`, or `serve` in the model's image when
            DRYDOCK_BACKEND=docker.
    """

    def __init__(self, account: str, region: str, clients: ClientSource, work_dir: Path,
                 start: Callable[[dict[str, Any], Any, Path], serving.Server] = start_server):
        self.account = account
        self.region = region
        self.clients = clients
        self.work_dir = work_dir
        self.start = start
        self._endpoints: dict[str, Endpoint] = {}
        self._lock = threading.Lock()

    def arn(self, name: str) -> str:
        return f"arn:aws:sagemaker:{self.region}:{self.account}:endpoint/{name.lower()}"

    def config_arn(self, name: str) -> str:
        return f"arn:aws:sagemaker:{self.region}:{self.account}:endpoint-config/{name.lower()}"

    # ---------------------------------------------------------------- control plane
    def create_endpoint(self, p: dict[str, Any]) -> dict[str, Any]:
        name = p["EndpointName"]
        config = self._endpoint_config(p["EndpointConfigName"])
        with self._lock:
            if name in self._endpoints:
                raise api_error("ValidationException", f'Cannot create already existing endpoint "{self.arn(name)}".')
            endpoint = Endpoint(name, self.arn(name), config["EndpointConfigName"], list(p.get("Tags") or []))
            self._endpoints[name] = endpoint
        threading.Thread(target=self._create, args=(endpoint, config), name=f"drydock-endpoint-{name}",
                         daemon=True).start()
        return {"EndpointArn": endpoint.arn}

    def describe_endpoint(self, p: dict[str, Any]) -> dict[str, Any]:
        endpoint = self._endpoint(p["EndpointName"])
        with self._lock:
            live, pending = endpoint.live, endpoint.pending
            out: dict[str, Any] = {"EndpointName": endpoint.name, "EndpointArn": endpoint.arn,
                                   "EndpointConfigName": endpoint.config_name}
            if live is not None:
                out["ProductionVariants"] = [v.summary() for v in live.variants.values()]
                capture = live.data_capture_summary()
                if capture:
                    out["DataCaptureConfig"] = capture
            out["EndpointStatus"] = endpoint.status
            if endpoint.failure_reason:
                out["FailureReason"] = endpoint.failure_reason
            out.update(CreationTime=endpoint.created, LastModifiedTime=endpoint.modified)
            if pending is not None:
                out["PendingDeploymentSummary"] = {"EndpointConfigName": pending[0], "StartTime": pending[1]}
        return out

    def list_endpoints(self, p: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            endpoints = list(self._endpoints.values())
        filters: list[Callable[[Endpoint], bool]] = []
        if p.get("NameContains"):
            filters.append(lambda e: p["NameContains"] in e.name)
        if p.get("StatusEquals"):
            filters.append(lambda e: e.status == p["StatusEquals"])
        for key, attribute, before in (("CreationTimeBefore", "created", True), ("CreationTimeAfter", "created", False),
                                       ("LastModifiedTimeBefore", "modified", True),
                                       ("LastModifiedTimeAfter", "modified", False)):
            if p.get(key) is not None:
                limit = _as_datetime(p[key])
                filters.append(lambda e, a=attribute, b=before, t=limit: getattr(e, a) < t if b else getattr(e, a) > t)
        endpoints = [e for e in endpoints if all(f(e) for f in filters)]
        sort_key: Callable[[Endpoint], Any] = {"Name": lambda e: e.name, "Status": lambda e: e.status}.get(
            p.get("SortBy", "CreationTime"), lambda e: e.created)
        endpoints.sort(key=sort_key, reverse=p.get("SortOrder", "Descending") == "Descending")
        start = int(p["NextToken"]) if str(p.get("NextToken", "")).isdigit() else 0
        size = int(p.get("MaxResults") or 10)
        page = endpoints[start:start + size]
        out: dict[str, Any] = {"Endpoints": [{"EndpointName": e.name, "EndpointArn": e.arn, "CreationTime": e.created,
                                              "LastModifiedTime": e.modified, "EndpointStatus": e.status}
                                             for e in page]}
        if start + size < len(endpoints):
            out["NextToken"] = str(start + size)
        return out

    def update_endpoint(self, p: dict[str, Any]) -> dict[str, Any]:
        endpoint = self._endpoint(p["EndpointName"])
        config = self._endpoint_config(p["EndpointConfigName"])
        with self._lock:
            if endpoint.status != "InService" or endpoint.live is None:
                raise api_error("ValidationException", f'Cannot update in-progress endpoint "{endpoint.arn}".'
                               if endpoint.status in ("Creating", "Updating", "Deleting") else
                               f'Cannot update endpoint "{endpoint.arn}" in status {endpoint.status}.')
            endpoint.status, endpoint.modified = "Updating", _now()
            endpoint.pending = (config["EndpointConfigName"], endpoint.modified)
            endpoint.settled.clear()
        threading.Thread(target=self._update, args=(endpoint, config), name=f"drydock-endpoint-{endpoint.name}",
                         daemon=True).start()
        return {"EndpointArn": endpoint.arn}

    def delete_endpoint(self, p: dict[str, Any]) -> dict[str, Any]:
        endpoint = self._endpoint(p["EndpointName"])
        with self._lock:
            self._endpoints.pop(endpoint.name, None)
            endpoint.deleted, endpoint.status = True, "Deleting"
            live, endpoint.live = endpoint.live, None
        if live is not None:
            live.retire()
        endpoint.settled.set()
        return {}

    # ---------------------------------------------------------------- runtime
    def invoke_endpoint(self, p: dict[str, Any]) -> dict[str, Any]:
        name = p["EndpointName"]
        body = p.get("Body") or b""
        if isinstance(body, str):
            body = body.encode()
        elif not isinstance(body, bytes):
            body = body.read()
        with self._lock:
            endpoint = self._endpoints.get(name)
            deployment = endpoint.live if endpoint is not None else None
            if deployment is None:
                raise api_error("ValidationError", f"Endpoint {name} of account {self.account} not found.")
            deployment.acquire()
        try:
            target = p.get("TargetVariant")
            if target and target not in deployment.variants:
                raise api_error("ValidationError", f"Target variant {target} not found for endpoint {name} of account "
                                                  f"{self.account}.")
            if len(body) > MAX_PAYLOAD_BYTES:
                raise api_error("ValidationError", f"Request payload of {len(body)} bytes is larger than the maximum "
                                                  f"allowed ({MAX_PAYLOAD_BYTES} bytes).")
            variant = deployment.pick(target)
            content_type = p.get("ContentType") or "application/octet-stream"
            when = _now()
            try:
                reply = variant.client.invoke(body, content_type, p.get("Accept"), p.get("CustomAttributes"))
            except OSError as error:
                raise api_error("ServiceUnavailable", f"The production variant {variant.name} of endpoint {name} "
                                                     f"could not be reached: {error}", 503) from None
            capture = deployment.capture
            if capture is not None and reply.status == 200 and capture.sampled():  # failed requests are not captured
                capture.record(variant.name, (body, content_type), (reply.body, reply.content_type),
                               p.get("InferenceId"), when)
        finally:
            deployment.release()
        if reply.status != 200:
            kind = "client" if reply.status < 500 else "server"
            message = reply.body.decode("utf-8", "replace")
            group = f"/aws/sagemaker/Endpoints/{name}"
            raise api_error("ModelError", f'Received {kind} error ({reply.status}) from primary with message '
                                         f'"{message}". See https://{self.region}.console.aws.amazon.com/cloudwatch/'
                                         f"home?region={self.region}#logEventViewer:group={group} in account "
                                         f"{self.account} for more information.", 424,
                           OriginalStatusCode=reply.status, OriginalMessage=message,
                           LogStreamArn=f"arn:aws:logs:{self.region}:{self.account}:log-group:{group}")
        out: dict[str, Any] = {"Body": reply.body, "ContentType": reply.content_type,
                               "InvokedProductionVariant": variant.name}
        if reply.custom_attributes:
            out["CustomAttributes"] = reply.custom_attributes
        return out

    # ---------------------------------------------------------------- for drydock and tests
    def wait(self, name: str, timeout: float = 60.0) -> str:
        """Block until the endpoint leaves Creating/Updating; returns its status."""
        endpoint = self._endpoint(name)
        if not endpoint.settled.wait(timeout):
            raise TimeoutError(f"endpoint {name} still {endpoint.status} after {timeout} s")
        return endpoint.status

    def flush_capture(self) -> None:
        """Write every buffered data-capture record to S3 now."""
        with self._lock:
            writers = [e.live.capture for e in self._endpoints.values() if e.live and e.live.capture]
        for writer in writers:
            writer.flush()

    def close(self) -> None:
        """Stop every endpoint's servers (what deleting them all would do, without the API)."""
        with self._lock:
            endpoints, self._endpoints = list(self._endpoints.values()), {}
        for endpoint in endpoints:
            endpoint.deleted = True
            if endpoint.live is not None:
                endpoint.live.retire(drain_seconds=5.0)

    # ---------------------------------------------------------------- durability (`drydock serve --state-dir`)
    def state(self) -> list[dict[str, Any]]:
        """What each endpoint is, without its running servers: they are started again by `resume`."""
        with self._lock:
            return [{"name": e.name, "arn": e.arn, "config_name": e.config_name, "tags": e.tags, "status": e.status,
                     "failure_reason": e.failure_reason, "created": e.created, "modified": e.modified,
                     "pending": e.pending} for e in self._endpoints.values()]

    def restore(self, saved: list[dict[str, Any]]) -> None:
        with self._lock:
            for s in saved:
                self._endpoints[s["name"]] = Endpoint(s["name"], s["arn"], s["config_name"], s["tags"], s["status"],
                                                      s["failure_reason"], s["created"], s["modified"],
                                                      pending=s["pending"])

    def resume(self) -> None:
        """Start the servers again: an endpoint InService serves before this returns (as it did before the
        restart); one being created or updated goes on as CreateEndpoint or UpdateEndpoint would."""
        with self._lock:
            endpoints = list(self._endpoints.values())
        for endpoint in endpoints:
            if endpoint.status not in ("Creating", "InService", "Updating"):
                endpoint.settled.set()
                continue
            current = self._endpoint_config(endpoint.config_name)
            if endpoint.status == "Creating":
                threading.Thread(target=self._create, args=(endpoint, current), daemon=True,
                                 name=f"drydock-endpoint-{endpoint.name}").start()
                continue
            pending, modified = endpoint.pending, endpoint.modified
            self._create(endpoint, current)
            with self._lock:
                endpoint.modified = modified
            if pending is not None:
                with self._lock:
                    endpoint.status, endpoint.pending = "Updating", pending
                    endpoint.settled.clear()
                threading.Thread(target=self._update, args=(endpoint, self._endpoint_config(pending[0])),
                                 daemon=True, name=f"drydock-endpoint-{endpoint.name}").start()

    # ---------------------------------------------------------------- internals
    def _endpoint(self, name: str) -> Endpoint:
        with self._lock:
            endpoint = self._endpoints.get(name)
        if endpoint is None:
            raise api_error("ValidationException", f'Could not find endpoint "{self.arn(name)}".')
        return endpoint

    def _endpoint_config(self, name: str) -> dict[str, Any]:
        try:
            return self.clients.client("sagemaker").describe_endpoint_config(EndpointConfigName=name)
        except ClientError:
            raise api_error("ValidationException",
                           f'Could not find endpoint configuration "{self.config_arn(name)}".') from None

    def _create(self, endpoint: Endpoint, config: dict[str, Any]) -> None:
        try:
            deployment = self._deploy(endpoint, config)
        except ServiceError as error:
            with self._lock:
                endpoint.status, endpoint.failure_reason, endpoint.modified = "Failed", error.message, _now()
            mark(DURABLE.name)
            endpoint.settled.set()
            return
        with self._lock:
            if not endpoint.deleted:
                endpoint.live, endpoint.status, endpoint.modified = deployment, "InService", _now()
        if endpoint.deleted:
            deployment.retire()
        mark(DURABLE.name)
        endpoint.settled.set()

    def _update(self, endpoint: Endpoint, config: dict[str, Any]) -> None:
        try:
            deployment = self._deploy(endpoint, config)
        except ServiceError as error:  # AWS rolls back: the old config keeps serving, the reason is reported
            with self._lock:
                endpoint.status, endpoint.pending, endpoint.modified = "InService", None, _now()
                endpoint.failure_reason = error.message
            endpoint.settled.set()
            return
        with self._lock:  # the switch: from here on every request goes to the new servers
            old = endpoint.live
            if not endpoint.deleted:
                endpoint.live, endpoint.config_name = deployment, deployment.config_name
                endpoint.status, endpoint.pending, endpoint.failure_reason = "InService", None, None
                endpoint.modified = _now()
        if endpoint.deleted:
            deployment.retire()
        elif old is not None:
            old.retire()
        mark(DURABLE.name)
        endpoint.settled.set()

    def _deploy(self, endpoint: Endpoint, config: dict[str, Any]) -> Deployment:
        """Start a server per production variant of `config`. Raises ServiceError with the FailureReason."""
        root = Path(tempfile.mkdtemp(prefix=f"{endpoint.name}-{config['EndpointConfigName']}-", dir=self.work_dir))
        s3 = self.clients.client("s3")
        sagemaker = self.clients.client("sagemaker")
        variants: list[Variant] = []
        try:
            for spec in config.get("ProductionVariants", []):
                try:
                    model = sagemaker.describe_model(ModelName=spec["ModelName"])
                except ClientError:
                    raise api_error("ValidationException", f"Could not find model \"arn:aws:sagemaker:{self.region}:"
                                                          f"{self.account}:model/{spec['ModelName'].lower()}\".")
                container = model.get("PrimaryContainer") or (model.get("Containers") or [{}])[0]
                try:
                    server = self.start(container, s3, root / spec["VariantName"])
                except serving.ModelLoadError as error:
                    raise api_error("ValidationException", f"The primary container for production variant "
                                                          f"{spec['VariantName']} did not pass the ping health check: "
                                                          f"{error}") from None
                client = serving.InvocationClient(server.url)
                variants.append(Variant(spec["VariantName"], spec, container.get("Image", ""), server, client, _now()))
                if not client.ping():
                    raise api_error("ValidationException", f"The primary container for production variant "
                                                          f"{spec['VariantName']} did not pass the ping health check.")
            capture_config = config.get("DataCaptureConfig") or {}
            capture = (CaptureWriter(capture_config, endpoint.name, s3)
                       if capture_config.get("EnableCapture", bool(capture_config)) else None)
        except BaseException:
            for variant in variants:
                variant.client.close()
                variant.server.stop()
            shutil.rmtree(root, ignore_errors=True)
            raise
        return Deployment(config, variants, capture, root)


def _as_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, timezone.utc)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


# --- every account and region ---------------------------------------------------------------------------------

class EndpointService(Regional):
    """Endpoints for every account and region, created on first use.

    Args:
        clients: (account, region) -> a `ClientSource`; default: `harness.cloud.LocalCloud` in-process.
        work_dir: parent of the unpacked models (default: a fresh temporary directory).
    """

    def __init__(self, clients: Callable[[str, str], ClientSource] | None = None, work_dir: Path | None = None):
        self._clients = clients or _in_process_clients
        self.work_dir = work_dir or Path(tempfile.mkdtemp(prefix="drydock-endpoints-"))
        self._regions: dict[tuple[str, str], Endpoints] = {}
        self._lock = threading.Lock()

    def region(self, account: str, region: str) -> Endpoints:
        with self._lock:
            endpoints = self._regions.get((account, region))
            if endpoints is None:
                directory = self.work_dir / account / region
                directory.mkdir(parents=True, exist_ok=True)
                endpoints = Endpoints(account, region, self._clients(account, region), directory)
                self._regions[(account, region)] = endpoints
            return endpoints

    def handle(self, action: str, account: str, region: str, params: dict[str, Any]) -> dict[str, Any]:
        """Answer one SageMaker or sagemaker-runtime action (a name in SAGEMAKER_ACTIONS or RUNTIME_ACTIONS)."""
        if action not in SAGEMAKER_ACTIONS and action not in RUNTIME_ACTIONS:
            raise api_error("UnknownOperationException", f"drydock's endpoints do not answer {action}")
        method = getattr(self.region(account, region), _snake(action))
        return method(params)

    def close(self) -> None:
        with self._lock:
            regions, self._regions = list(self._regions.values()), {}
        for endpoints in regions:
            endpoints.close()



def _snake(action: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in action).lstrip("_")


def _in_process_clients(account: str, region: str) -> ClientSource:
    from harness.cloud import LocalCloud

    return LocalCloud(region=region, account=account)


# --- the overlay: boto3 in-process and `drydock serve` reach the active service -----------------------------------

_SLOT: ActiveSlot[EndpointService] = ActiveSlot(EndpointService)
install = _SLOT.install  # the service boto3 clients and drydock serve reach
active_service = _SLOT.get


DURABLE = durable(ServicePart("sagemaker-endpoints", active_service), "sagemaker", SAGEMAKER_ACTIONS)


@register("sagemaker", SAGEMAKER_ACTIONS)
def _answer_sagemaker(call: Call) -> dict[str, Any]:
    return active_service().handle(call.action, call.account, call.region, call.params)


@register("sagemaker-runtime", RUNTIME_ACTIONS)
def _answer_runtime(call: Call) -> Answer:
    # Read straight from the request (no model-driven parsing): this is the hot path.
    headers = call.headers
    params = {"EndpointName": call.url_params.get("EndpointName") or call.params["EndpointName"], "Body": call.body,
              **{name: headers[header] for name, header in _RUNTIME_HEADERS if headers.get(header)}}
    result = active_service().handle("InvokeEndpoint", call.account, call.region, params)
    out = {"Content-Type": result["ContentType"], "x-amzn-RequestId": str(uuid.uuid4()),
           "x-Amzn-Invoked-Production-Variant": result["InvokedProductionVariant"]}
    if "CustomAttributes" in result:
        out["X-Amzn-SageMaker-Custom-Attributes"] = result["CustomAttributes"]
    return Answer(200, out, result["Body"])


_RUNTIME_HEADERS = (("ContentType", "Content-Type"), ("Accept", "Accept"),
                    ("CustomAttributes", "X-Amzn-SageMaker-Custom-Attributes"),
                    ("TargetVariant", "X-Amzn-SageMaker-Target-Variant"),
                    ("InferenceId", "X-Amzn-SageMaker-Inference-Id"))
