"""Batch transform: a CreateTransformJob request run to its end through the serving contract, as SageMaker does it.

Mirrors "Use Batch Transform to Run Inference" and "Associate Prediction Results with Input Records": the model
container is started once (its ModelDataUrl unpacked, `model_fn` loaded; `harness.sagemaker.serving`), then every
object under TransformInput's S3 prefix (or listed by its manifest) is read (gunzipped for CompressionType Gzip),
split into records (SplitType Line, or None: the whole object is one record), filtered (DataProcessing.InputFilter),
packed into requests (BatchStrategy MultiRecord: as many records as MaxPayloadInMB allows, SingleRecord: one each),
sent to /invocations (up to MaxConcurrentTransforms at once, ModelClientConfig's timeout and retries), and the
answers are joined with their input records (JoinSource Input), filtered (OutputFilter) and assembled (AssembleWith
Line: one per line) into `<S3OutputPath>/<key relative to the prefix>.out`. A file that fails leaves no output;
the others go on, and the job ends Failed with the first failure.

Where the model runs follows the job's backend: in this process (the Pipelines Transform step's and the endpoints'
`serving.Transformer`) for `process`, `serve` in the model's image for `docker`. Not built, refused by
`validate_transform_request` with a ValidationException naming the field: S3DataType AugmentedManifestFile and
Converse, SplitType RecordIO and TFRecord, DataCaptureConfig, a model with more than one container.
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateTransformJob.html
"""
from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import re
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Callable, Iterator

from botocore.exceptions import ClientError

from harness.sagemaker import container as job_container
from harness.sagemaker import serving
from harness.sagemaker.runtime import FAILURE_REASON_LIMIT, JobResult, _new_job_root, _Phases, validate_request

MiB = 1024 * 1024
DEFAULT_MAX_PAYLOAD_MB = 6  # what the platform uses when neither the request nor the container says
DEFAULT_TIMEOUT_SECONDS = 600  # ModelClientConfig defaults
DEFAULT_MAX_RETRIES = 3
LOG_PREFIX = "[sagemaker logs]: "
JOINED_OUTPUT_KEY = "SageMakerOutput"
UNSUPPORTED = {
    ("TransformInput.DataSource.S3DataSource.S3DataType", "AugmentedManifestFile"): "use S3Prefix or ManifestFile",
    ("TransformInput.DataSource.S3DataSource.S3DataType", "Converse"): "use S3Prefix or ManifestFile",
    ("TransformInput.SplitType", "RecordIO"): "use Line or None",
    ("TransformInput.SplitType", "TFRecord"): "use Line or None",
}
CSV_FAMILY, JSON_FAMILY = "csv", "json"


class TransformError(Exception):
    """A batch transform (or one of its files) that could not finish; str() is the FailureReason."""


# --- the request ---------------------------------------------------------------------------------------------

def validate_transform_request(request: dict[str, Any]) -> None:
    """Refuse what SageMaker would refuse and what drydock does not build, naming the field (ValidationException).

    Raises:
        ClientError: ValidationException.
    """
    validate_request("CreateTransformJob", request)
    problems = []
    transform_input = request.get("TransformInput", {})
    given = {"TransformInput.DataSource.S3DataSource.S3DataType":
             transform_input.get("DataSource", {}).get("S3DataSource", {}).get("S3DataType"),
             "TransformInput.SplitType": transform_input.get("SplitType")}
    for (field, value), hint in UNSUPPORTED.items():
        if given[field] == value:
            problems.append(f"drydock does not support {field} {value} in batch transform; {hint}")
    if "DataCaptureConfig" in request:
        problems.append("drydock does not support DataCaptureConfig (batch data capture) in batch transform; "
                        "leave it out")
    try:
        plan = Plan.of(request)
    except TransformError as error:
        problems.append(str(error).removeprefix("ClientError: "))
    else:
        problems += plan.problems()
    if problems:
        raise ClientError({"Error": {"Code": "ValidationException", "Message": "; ".join(problems)}},
                          "CreateTransformJob")


def model_container(model: dict[str, Any]) -> dict[str, Any]:
    """The one container a DescribeModel answer serves with (PrimaryContainer, or the only one of Containers).

    Raises:
        TransformError: an inference pipeline of several containers, which drydock does not run.
    """
    if model.get("PrimaryContainer"):
        return model["PrimaryContainer"]
    containers = model.get("Containers") or [{}]
    if len(containers) > 1:
        raise TransformError(f"ClientError: drydock does not run inference pipelines (model {model.get('ModelName')} "
                             f"has {len(containers)} Containers); give the model one container")
    return containers[0]


# --- JSONPath, the subset DataProcessing filters take ----------------------------------------------------------

_STEP = re.compile(r"""\.(?P<name>[^.\[\]]+)|\[(?P<bracket>[^\]]*)\]""")
_QUOTED = re.compile(r"""\s*(?:'([^']*)'|"([^"]*)")\s*""")


@dataclass(frozen=True)
class JsonPath:
    """A DataProcessing filter: `$`, `.name`, `['a','b']`, `[1]`, `[0,-1]`, `[2:]`, `[*]` / `.*`, chained.

    One name or index selects a value; several select an object with those keys (names) or a list (indexes).
    """

    text: str
    steps: tuple[tuple[str, Any], ...]

    @classmethod
    def compile(cls, text: str, field: str) -> JsonPath:
        if not text.startswith("$"):
            raise TransformError(f"ClientError: {field} {text!r} is not a JSONPath (it starts with $)")
        steps: list[tuple[str, Any]] = []
        position = 1
        while position < len(text):
            match = _STEP.match(text, position)
            if match is None:
                raise TransformError(f"ClientError: {field} {text!r}: cannot read {text[position:]!r}; drydock takes "
                                     "$, .name, ['name',...], [index,...], [start:end] and [*]")
            steps.append(_step(match, text, field))
            position = match.end()
        return cls(text, tuple(steps))

    def apply(self, value: Any) -> Any:
        for kind, argument in self.steps:
            value = _select(kind, argument, value, self.text)
        return value


def _step(match: re.Match[str], text: str, field: str) -> tuple[str, Any]:
    if match.group("name") is not None:
        name = match.group("name")
        return ("wildcard", None) if name == "*" else ("names", (name,))
    inside = match.group("bracket").strip()
    try:
        if inside == "*":
            return ("wildcard", None)
        if inside.startswith(("'", '"')):
            names = []
            for part in _split_top(inside):
                quoted = _QUOTED.fullmatch(part)
                if quoted is None:
                    raise ValueError(part)
                names.append(quoted.group(1) if quoted.group(1) is not None else quoted.group(2))
            return ("names", tuple(names))
        if ":" in inside:
            start, _, end = inside.partition(":")
            return ("slice", (int(start) if start.strip() else None, int(end) if end.strip() else None))
        return ("indexes", tuple(int(part) for part in inside.split(",")))
    except ValueError:
        raise TransformError(f"ClientError: {field} {text!r}: [{inside}] is neither indexes, a slice nor quoted "
                             "names") from None


def _split_top(inside: str) -> list[str]:
    return [part for part in re.findall(r"""\s*(?:'[^']*'|"[^"]*"|[^,]+)\s*""", inside) if part.strip()]


def _select(kind: str, argument: Any, value: Any, text: str) -> Any:
    try:
        if kind == "wildcard":
            return list(value.values()) if isinstance(value, dict) else list(value)
        if kind == "names":
            if not isinstance(value, dict):
                raise TypeError(f"{type(value).__name__} has no names")
            if len(argument) == 1:
                return value[argument[0]]
            return {name: value[name] for name in argument if name in value}
        if not isinstance(value, list):
            raise TypeError(f"{type(value).__name__} has no indexes")
        if kind == "slice":
            return value[argument[0]:argument[1]]
        if len(argument) == 1:
            return value[argument[0]]
        return [value[index] for index in argument]
    except (KeyError, IndexError, TypeError, AttributeError) as error:
        raise _RecordError(f"{text} does not apply to the record ({type(error).__name__}: {error})") from None


class _RecordError(Exception):
    """A record the filters or the join cannot handle."""


# --- records in their format -----------------------------------------------------------------------------------

def family(media_type: str | None) -> str | None:
    """csv, json (JSON and JSON Lines: one document per record) or None for what DataProcessing cannot read."""
    media = (media_type or "").split(";", 1)[0].strip().lower()
    if media == "text/csv":
        return CSV_FAMILY
    if media in ("application/json", "application/jsonlines", "application/json-lines", "application/x-jsonlines"):
        return JSON_FAMILY
    return None


def parse_record(record: bytes, kind: str) -> Any:
    text = record.decode("utf-8")
    if kind == CSV_FAMILY:
        return next(csv.reader([text]), [])
    try:
        return json.loads(text)
    except ValueError as error:
        raise _RecordError(f"not a JSON record ({error})") from None


def render_record(value: Any, kind: str) -> bytes:
    if kind == JSON_FAMILY:
        return json.dumps(value).encode()
    if isinstance(value, list):
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="").writerow(value)
        return buffer.getvalue().encode()
    return str(value).encode()


# --- what to do with each file ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Plan:
    """A request's settings, read and checked once."""

    content_type: str | None
    accept: str | None
    split: str
    gzip: bool
    multi_record: bool
    max_payload: int  # bytes; 0: no limit
    concurrency: int
    timeout: float
    retries: int
    line_assembly: bool
    input_filter: JsonPath | None
    output_filter: JsonPath | None
    join: bool

    @classmethod
    def of(cls, request: dict[str, Any]) -> Plan:
        transform_input, output = request.get("TransformInput", {}), request.get("TransformOutput", {})
        processing = request.get("DataProcessing") or {}
        client = request.get("ModelClientConfig") or {}
        input_filter = processing.get("InputFilter", "$")
        output_filter = processing.get("OutputFilter", "$")
        return cls(
            content_type=transform_input.get("ContentType"), accept=output.get("Accept"),
            split=transform_input.get("SplitType", "None"), gzip=transform_input.get("CompressionType") == "Gzip",
            multi_record=request.get("BatchStrategy", "MultiRecord") == "MultiRecord",
            max_payload=request.get("MaxPayloadInMB", DEFAULT_MAX_PAYLOAD_MB) * MiB,
            concurrency=max(1, request.get("MaxConcurrentTransforms") or 1),
            timeout=client.get("InvocationsTimeoutInSeconds", DEFAULT_TIMEOUT_SECONDS),
            retries=client.get("InvocationsMaxRetries", DEFAULT_MAX_RETRIES),
            line_assembly=output.get("AssembleWith", "None") == "Line",
            input_filter=(JsonPath.compile(input_filter, "DataProcessing.InputFilter")
                          if input_filter != "$" else None),
            output_filter=(JsonPath.compile(output_filter, "DataProcessing.OutputFilter")
                           if output_filter != "$" else None),
            join=processing.get("JoinSource", "None") == "Input")

    @property
    def per_record(self) -> bool:
        """Whether answers must be taken apart record by record (to join or filter them)."""
        return self.join or self.output_filter is not None

    @property
    def input_family(self) -> str | None:
        return family(self.content_type)

    @property
    def output_family(self) -> str | None:
        return self.input_family if self.join else family(self.accept) or self.input_family

    def problems(self) -> list[str]:
        found = []
        if self.input_filter is not None and self.input_family is None:
            found.append(f"DataProcessing.InputFilter needs TransformInput.ContentType text/csv, application/json "
                         f"or application/jsonlines (got {self.content_type or 'none'})")
        if self.join:
            if self.input_family is None:
                found.append(f"DataProcessing.JoinSource Input needs TransformInput.ContentType text/csv, "
                             f"application/json or application/jsonlines (got {self.content_type or 'none'})")
            elif self.accept and family(self.accept) != self.input_family:
                found.append(f"DataProcessing.JoinSource Input joins records of one format: TransformOutput.Accept "
                             f"{self.accept} does not match TransformInput.ContentType {self.content_type}")
        if self.output_filter is not None and not self.join and self.output_family is None:
            found.append(f"DataProcessing.OutputFilter needs TransformOutput.Accept (or ContentType) text/csv, "
                         f"application/json or application/jsonlines (got {self.accept or 'none'})")
        if self.max_payload == 0 and self.split != "None":
            found.append("MaxPayloadInMB 0 (no limit) is only for SplitType None")
        return found

    # ------------------------------------------------------------------ one file
    def records(self, data: bytes) -> tuple[list[bytes], list[bytes]]:
        """(raw records, records to send): split, then InputFilter."""
        raw = [line for line in data.splitlines() if line.strip()] if self.split == "Line" else [data]
        if self.input_filter is None:
            return raw, raw
        kind = self.input_family or CSV_FAMILY
        return raw, [render_record(self.input_filter.apply(parse_record(record, kind)), kind) for record in raw]

    def batches(self, records: list[bytes]) -> list[list[int]]:
        """Indexes of the records each request carries."""
        limit = self.max_payload
        for index, record in enumerate(records):
            if limit and len(record) > limit:
                what = "the object" if self.split == "None" else f"record {index + 1}"
                raise TransformError(f"ClientError: {what} is {len(record)} bytes, more than MaxPayloadInMB "
                                     f"({limit // MiB} MB) allows in one request")
        if not self.multi_record or self.split == "None":
            return [[index] for index in range(len(records))]
        batches: list[list[int]] = []
        size = 0
        for index, record in enumerate(records):
            if batches and size + 1 + len(record) <= limit:
                batches[-1].append(index)
                size += 1 + len(record)
            else:
                batches.append([index])
                size = len(record)
        return batches

    def assemble(self, raw: list[bytes], batches: list[list[int]], answers: list[bytes]) -> bytes:
        """The .out object: answers as they are, or record by record joined and filtered; AssembleWith decides."""
        if not self.per_record:
            pieces = answers
        else:
            pieces = []
            for batch, answer in zip(batches, answers):
                outputs = [answer.rstrip(b"\r\n")] if len(batch) == 1 else [
                    line for line in answer.splitlines() if line.strip()]
                if len(outputs) != len(batch):
                    raise _RecordError(f"the model answered {len(outputs)} lines for a request of {len(batch)} "
                                       "records; JoinSource and OutputFilter need one line per record (BatchStrategy "
                                       "SingleRecord, or an Accept such as text/csv or application/jsonlines)")
                pieces += [self._post(raw[index], output) for index, output in zip(batch, outputs)]
        if self.line_assembly:
            return b"".join(piece.rstrip(b"\r\n") + b"\n" for piece in pieces)
        return b"".join(pieces)

    def _post(self, raw: bytes, output: bytes) -> bytes:
        kind = self.output_family or CSV_FAMILY
        if self.join:
            source = parse_record(raw, kind)
            if kind == CSV_FAMILY:
                value: Any = source + parse_record(output, kind)
            else:
                try:
                    answer: Any = json.loads(output)
                except ValueError:
                    answer = output.decode("utf-8", errors="replace")
                if isinstance(source, dict):
                    value = {**source, JOINED_OUTPUT_KEY: answer}
                elif isinstance(source, list):
                    value = source + [answer]
                else:
                    raise _RecordError(f"cannot join output to a JSON {type(source).__name__} input record")
        else:
            value = parse_record(output, kind)
        if self.output_filter is not None:
            value = self.output_filter.apply(value)
        return render_record(value, kind)


# --- the model, wherever it runs ---------------------------------------------------------------------------------

class _InProcessModel:
    """The model loaded in this process: `serving.Transformer`, called directly (no HTTP)."""

    def __init__(self, files: serving.ModelFiles):
        try:
            self.transformer = serving.Transformer(files)
        except serving.ModelLoadError as error:
            raise TransformError(f"AlgorithmError: the model container did not start: {error}") from None

    def invoke(self, body: bytes, content_type: str | None, accept: str | None) -> serving.Reply:
        return self.transformer.invoke(body, content_type, accept)

    def logs(self) -> list[dict[str, Any]]:
        return []

    def close(self) -> None:
        script_dir = self.transformer.script_dir  # load_script put it on sys.path, as InProcessServer.stop knows
        if script_dir in sys.path:
            sys.path.remove(script_dir)


class _ServedModel:
    """The model behind a serving container (`serve` in its image), reached over /invocations."""

    def __init__(self, files: serving.ModelFiles, timeout: float):
        from harness.sagemaker.backends.docker import DockerServer

        self.server = DockerServer(files)
        try:
            self.server.start()
        except serving.ModelLoadError as error:
            raise TransformError(f"AlgorithmError: the model container did not start: {error}") from None
        self.client = serving.InvocationClient(self.server.url, timeout=timeout)

    def invoke(self, body: bytes, content_type: str | None, accept: str | None) -> serving.Reply:
        return self.client.invoke(body, content_type, accept)

    def logs(self) -> list[dict[str, Any]]:
        from harness.sagemaker.backends.docker import log_events

        container = self.server.container
        try:
            return list(log_events([container.logs(stdout=True, stderr=True)])) if container is not None else []
        except Exception:  # noqa: BLE001 - logs are a courtesy
            return []

    def close(self) -> None:
        self.client.close()
        self.server.stop()


def _open_model(container: dict[str, Any], environment: dict[str, str], s3: Any, root: Path, backend: Any,
                timeout: float) -> Any:
    container = {**container, "Environment": {**(container.get("Environment") or {}), **environment}}
    try:
        files = serving.materialize(container, s3, root / "model-container")
    except serving.ModelLoadError as error:
        raise TransformError(f"ClientError: {error}") from None
    where = getattr(backend, "serving", "process")
    if where == "docker":
        return _ServedModel(files, timeout)
    if where == "process":
        return _InProcessModel(files)
    raise TransformError(f"ClientError: {where}")  # a backend that cannot run anything says why


# --- the job -----------------------------------------------------------------------------------------------------

def run_transform_job(request: dict[str, Any], s3: Any, backend: Any, work_dir: Path, *,
                      container: dict[str, Any], stopped: Callable[[], bool] = lambda: False) -> JobResult:
    """Run a CreateTransformJob request to completion.

    Args:
        request: the CreateTransformJob parameters, exactly as passed to boto3's `create_transform_job`.
        s3: a boto3 S3 client holding the model data and the input, receiving the output.
        backend: the job's backend; its `serving` attribute ("process" or "docker") says where the model runs.
        work_dir: parent of the job root `<work_dir>/<TransformJobName>` (the model and the input files).
        container: the model's container definition (`model_container(DescribeModel)`).
        stopped: whether StopTransformJob came; checked before each request.

    Returns:
        The job's JobResult: phases Downloading and Transforming; `output_artifacts` maps each input file's key
        (relative to the prefix) to its .out URI; `logs` the container's, `data_log` the platform's lines.

    Raises:
        ClientError: ValidationException for a request AWS (or drydock) refuses; ResourceInUse if the root exists.
    """
    validate_transform_request(request)
    name = request["TransformJobName"]
    root = _new_job_root(work_dir, name, "Transform")
    plan = Plan.of(request)
    phases = _Phases()
    data_log: list[dict[str, Any]] = []
    logs: list[dict[str, Any]] = []
    outputs: dict[str, str] = {}

    def note(message: str, into: list[dict[str, Any]] = data_log) -> None:
        into.append({"timestamp": int(time.time() * 1000), "message": message})

    def result(status: str, reason: str | None = None) -> JobResult:
        return JobResult(name, "TransformJob", status, status, reason[:FAILURE_REASON_LIMIT] if reason else None,
                         output_artifacts=outputs, phases=phases, logs=logs, data_log=data_log)

    note(f"{LOG_PREFIX}MaxConcurrentTransforms={plan.concurrency}, MaxPayloadInMB={plan.max_payload // MiB}, "
         f"BatchStrategy={'MULTI_RECORD' if plan.multi_record else 'SINGLE_RECORD'}")
    source = request["TransformInput"]["DataSource"]["S3DataSource"]
    model = None
    pool = ThreadPoolExecutor(plan.concurrency, thread_name_prefix=f"drydock-transform-{name}")
    try:
        with phases.timed("Downloading"):
            model = _open_model(container, request.get("Environment") or {}, s3, root, backend, plan.timeout)
            files = _input_files(s3, source, root / "input")
        if stopped():
            return result("Stopped")
        out_bucket, out_prefix = job_container.parse_s3_uri(request["TransformOutput"]["S3OutputPath"].rstrip("/"))
        first_failure: str | None = None
        with phases.timed("Transforming"):
            for relative, uri, path in files:
                try:
                    body = _transform_file(plan, path.read_bytes(), model, pool, stopped, logs)
                except _Stop:
                    return result("Stopped")
                except (TransformError, _RecordError) as error:
                    reason = str(error) if isinstance(error, TransformError) else f"ClientError: {error}"
                    note(f"{LOG_PREFIX}{uri}: {reason}")
                    category, _, detail = reason.partition(": ")
                    first_failure = first_failure or (f"{category}: {uri}: {detail.rstrip('.')}. "
                                                      "See job logs for more information.")
                    continue
                key = f"{out_prefix}/{relative}.out".lstrip("/")
                try:
                    s3.put_object(Bucket=out_bucket, Key=key, Body=body)
                except job_container.S3_ERRORS as error:
                    raise TransformError(f"ClientError: Output upload failed for s3://{out_bucket}/{key}: "
                                         f"{error}") from None
                outputs[relative] = f"s3://{out_bucket}/{key}"
        return result("Failed", first_failure) if first_failure else result("Completed")
    except TransformError as error:
        note(f"{LOG_PREFIX}{error}")
        return result("Failed", str(error))
    finally:
        pool.shutdown(wait=False, cancel_futures=True)  # an invocation past its timeout is not waited for
        if model is not None:
            logs[:0] = model.logs()
            model.close()


def _input_files(s3: Any, source: dict[str, Any], inputs: Path) -> list[tuple[str, str, Path]]:
    """Download the input objects: (name relative to the prefix, S3 URI, local file) for each.

    The name is the key below the prefix (s3://b/in/a/x.csv under s3://b/in is a/x.csv; a prefix that is a whole
    key gives its base name), which the .out object repeats under S3OutputPath; a manifest's entries are relative.
    """
    uri = source["S3Uri"]
    inputs.mkdir(parents=True, exist_ok=True)
    found = []
    try:
        if source["S3DataType"] == "ManifestFile":
            bucket, prefix, entries = job_container.read_manifest(s3, uri)
            names = [(relative, prefix + relative) for relative in entries]
        else:
            bucket, prefix = job_container.parse_s3_uri(uri)
            names = [(key[len(prefix):].lstrip("/") or PurePosixPath(key).name, key)
                     for key in job_container.keys_under(s3, bucket, prefix)]
        for relative, key in names:
            found.append((relative, f"s3://{bucket}/{key}",
                          job_container.download_object(s3, bucket, key, inputs, relative)))
    except job_container.S3_ERRORS as error:
        raise TransformError(f"ClientError: Data download failed for {uri}: {error}") from None
    except job_container.PlatformError as error:
        raise TransformError(str(error)) from None
    if not found:
        raise TransformError(
            f'ClientError: No S3 objects found under S3 URL "{uri}" given in input data source. Please ensure that '
            "the bucket exists in the selected region, that objects exist under that S3 prefix, and that the role "
            "has s3:ListBucket permissions on the bucket.")
    return sorted(found)


class _Stop(Exception):
    """StopTransformJob came while a file was being transformed."""


def _transform_file(plan: Plan, data: bytes, model: Any, pool: ThreadPoolExecutor, stopped: Callable[[], bool],
                    logs: list[dict[str, Any]]) -> bytes:
    if plan.gzip:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as error:
            raise TransformError(f"ClientError: CompressionType is Gzip but the object is not gzip data ({error})") \
                from None
    raw, records = plan.records(data)
    batches = plan.batches(records)
    bodies = [b"\n".join(records[index] for index in batch) for batch in batches]
    answers: list[bytes] = []
    for window in _windows(bodies, plan.concurrency):
        if stopped():
            raise _Stop()
        futures = [pool.submit(_invoke, plan, model, body, logs) for body in window]
        for future in futures:
            try:
                answers.append(future.result(timeout=plan.timeout * (plan.retries + 1)))
            except FutureTimeout:
                raise TransformError(f"AlgorithmError: the model did not answer /invocations within "
                                     f"{plan.timeout:g} s (ModelClientConfig.InvocationsTimeoutInSeconds)") from None
    return plan.assemble(raw, batches, answers)


def _windows(items: list[bytes], size: int) -> Iterator[list[bytes]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _invoke(plan: Plan, model: Any, body: bytes, logs: list[dict[str, Any]]) -> bytes:
    """One request, retried on 5xx and lost connections as ModelClientConfig says; the answer's body."""
    problem = ""
    for _ in range(plan.retries + 1):
        try:
            reply = model.invoke(body, plan.content_type, plan.accept)
        except OSError as error:
            problem = f"the model container could not be reached: {error}"
            continue
        if reply.status == 200:
            return reply.body
        text = reply.body.decode("utf-8", errors="replace").strip()
        if reply.detail:
            logs += [{"timestamp": int(time.time() * 1000), "message": line}
                     for line in reply.detail.rstrip("\n").splitlines()]
        problem = f"Bad HTTP status received from algorithm: {reply.status}: {text.splitlines()[-1] if text else ''}"
        if reply.status < 500:
            break
    raise TransformError(f"AlgorithmError: {problem}")


def instance_id(job_name: str) -> str:
    """A stable EC2-style instance id for the job's one instance (log stream names carry it)."""
    return "i-" + hashlib.sha256(job_name.encode()).hexdigest()[:17]


__all__ = ["JsonPath", "Plan", "TransformError", "instance_id", "model_container", "run_transform_job",
           "validate_transform_request"]
