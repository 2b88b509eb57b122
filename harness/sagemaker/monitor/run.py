"""A Model Monitor data-quality run: captured endpoint traffic against a baseline, violations to S3 and EventBridge.

Mirrors one monitoring execution of the prebuilt analyzer ("Monitor data quality",
https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-data-quality.html; "Schema for Violations",
https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-interpreting-violations.html):

1. read the data-capture JSON Lines under `<capture>/<endpoint>/<variant>/yyyy/mm/dd/hh/*.jsonl` (every variant,
   or one; only the hours of the analysis window when one is given) and decode each record's
   `captureData.endpointInput` by its `encoding` (CSV text, BASE64 bytes, JSON text) and content type (CSV rows; a
   JSON row, list of rows or `{"instances": rows}`). Captured CSV has no header: column i is the baseline's
   feature i, as the analyzer lines them up;
2. compute statistics.json of that traffic (`baseline.dataset_statistics`);
3. check the baseline's constraints.json, one violation per failed check, AWS's check types and wording:
   `data_type_check` (share of values of the baseline type < datatype_check_threshold), `completeness_check`
   (share of present values < the feature's completeness), `categorical_values_check` (share of values inside
   `string_constraints.domains` < domain_content_threshold), `baseline_drift_check` (distribution distance >
   comparison_threshold, or a feature's `monitoringConfigOverrides.comparison_threshold`),
   `missing_column_check` / `extra_column_check` (fewer / more columns than the baseline).
   The distance is Deequ's L-infinity distance: for numbers, the largest gap between the two empirical CDFs read
   from the KLL sketches (a two-sample Kolmogorov-Smirnov statistic); for strings, the largest gap between the
   two value frequencies. "Simple" takes it as it is; "Robust" subtracts the KS critical value
   1.8 * sqrt((n + m) / (n * m)) for n baseline and m current items (floored at 0), so small samples do not
   raise false alarms;
4. write statistics.json and constraint_violations.json (always, `{"violations": []}` when clean) under
   `<output>/<endpoint>/<schedule>/yyyy/mm/dd/hh/`, the hour being the execution's scheduled time;
5. when there are violations, put on the default bus the event AWS sends for the monitoring execution's
   processing job (monitoring executions run as processing jobs; AWS has no separate "drift" event):

       source       "aws.sagemaker"
       detail-type  "SageMaker Processing Job State Change"
       resources    [ProcessingJobArn]
       detail       the DescribeProcessingJob shape of the execution's job, times as epoch milliseconds:
                    ProcessingJobName "model-monitoring-<yyyymmddHHMM>-<8 hex>", ProcessingJobArn,
                    ProcessingJobStatus "Completed",
                    ExitMessage "CompletedWithViolations: Job completed successfully with <N> violations.",
                    MonitoringScheduleArn, ProcessingInputs (capture prefix, baseline files),
                    ProcessingOutputConfig (the report prefix), AppSpecification (the analyzer image),
                    Environment (sagemaker_endpoint_name, sagemaker_monitoring_schedule_name, dataset_format,
                    baseline_constraints, baseline_statistics, start_time, end_time, ...), ProcessingResources,
                    StoppingCondition, RoleArn, CreationTime, ProcessingStartTime, ProcessingEndTime,
                    LastModifiedTime, Tags

   A retraining rule matches it with `{"source": ["aws.sagemaker"], "detail-type": ["SageMaker Processing Job
   State Change"], "detail": {"ExitMessage": [{"prefix": "CompletedWithViolations"}]}}`; drydock's EventBridge
   delivery (`harness.integrations.events.route`) hands it to the rule's targets, a Step Functions state machine
   among them.
"""
from __future__ import annotations

import base64
import binascii
import csv
import io
import json
import math
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import numpy as np

from harness.sagemaker.monitor.baseline import (
    FRACTIONAL, INTEGRAL, STRING, Dataset, MonitorError, dataset_statistics, object_keys, read_json, read_text,
    sketch_cdf, split_s3_uri, type_counts, write_json)

CHECK_TYPES = ("data_type_check", "completeness_check", "baseline_drift_check", "missing_column_check",
               "extra_column_check", "categorical_values_check")
EVENT_SOURCE = "aws.sagemaker"
EVENT_DETAIL_TYPE = "SageMaker Processing Job State Change"
ROBUST_FACTOR = 1.8  # Deequ's Distance: the two-sample KS critical value used for "Robust"
ANALYZER_ACCOUNTS = {"us-east-1": "156813124566", "us-east-2": "777275614652", "us-west-1": "890145073186",
                     "us-west-2": "159807026194", "eu-west-1": "468650794304", "eu-central-1": "048819808253"}
_HOUR_PATH = re.compile(r"(\d{4})/(\d{2})/(\d{2})/(\d{2})/[^/]+$")


class CaptureFormatError(MonitorError):
    """A captured record that is not in the data-capture format; names the S3 object and the line."""


class NoCapturedData(MonitorError):
    """Nothing was captured for the endpoint in the analysis window (AWS fails the execution the same way)."""


# --------------------------------------------------------------------------- reading captures
@dataclass
class Captured:
    rows: list[list[str]]
    records: int
    objects: list[str]


def capture_keys(s3: Any, capture: str, endpoint: str, *, variant: str | None = None,
                 start: datetime | None = None, end: datetime | None = None) -> tuple[str, list[str]]:
    """(bucket, keys) of the capture files of `endpoint` whose hour lies in [start, end)."""
    prefix = f"{capture.rstrip('/')}/{endpoint}/" + (f"{variant}/" if variant else "")
    bucket, _ = split_s3_uri(prefix)
    keys = []
    for key in object_keys(s3, prefix):
        m = _HOUR_PATH.search(key)
        if m is None:
            continue
        hour = datetime(*map(int, m.groups()), tzinfo=timezone.utc)  # type: ignore[misc]
        if start is not None and hour + timedelta(hours=1) <= start:
            continue
        if end is not None and hour >= end:
            continue
        keys.append(key)
    return bucket, keys


def read_captured(s3: Any, capture: str, endpoint: str, *, variant: str | None = None,
                  start: datetime | None = None, end: datetime | None = None) -> Captured:
    """The endpoint-input rows of every captured record in the window.

    Raises:
        CaptureFormatError: a line that is not a capture record, or input that cannot be decoded
            (the message gives s3://bucket/key, the line number and what is wrong).
        NoCapturedData: no capture file, or no record with an endpointInput.
    """
    bucket, keys = capture_keys(s3, capture, endpoint, variant=variant, start=start, end=end)
    rows: list[list[str]] = []
    records = 0
    for key in keys:
        for number, line in enumerate(read_text(s3, bucket, key).splitlines(), start=1):
            if not line.strip():
                continue
            where = f"s3://{bucket}/{key} line {number}"
            found = record_rows(line, where)
            if found is not None:
                records += 1
                rows.extend(found)
    window = "" if start is None and end is None else f" between {start} and {end}"
    if not keys:
        raise NoCapturedData(f"no captured data for endpoint {endpoint} under {capture.rstrip('/')}/{endpoint}/"
                             f"{window}: is DataCaptureConfig enabled and has the endpoint been invoked?")
    if not rows:
        raise NoCapturedData(f"the {len(keys)} capture file(s) of endpoint {endpoint}{window} hold no "
                             f"endpointInput data to analyse (CaptureOptions without Input?)")
    return Captured(rows, records, [f"s3://{bucket}/{k}" for k in keys])


def record_rows(line: str, where: str) -> list[list[str]] | None:
    """The CSV cells of one capture record's endpointInput; None when the record captured no input."""
    try:
        record = json.loads(line)
    except ValueError as err:
        raise CaptureFormatError(f"{where}: not a JSON capture record ({err})") from None
    capture = record.get("captureData") if isinstance(record, dict) else None
    if not isinstance(capture, dict):
        raise CaptureFormatError(f"{where}: no \"captureData\" object (a record is {{\"captureData\": "
                                 f"{{\"endpointInput\": ..., \"endpointOutput\": ...}}, \"eventMetadata\": ..., "
                                 f"\"eventVersion\": \"0\"}})")
    payload = capture.get("endpointInput")
    if payload is None:
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("data"), str):
        raise CaptureFormatError(f"{where}: captureData.endpointInput has no \"data\" string")
    encoding = str(payload.get("encoding", "")).upper()
    content_type = str(payload.get("observedContentType", "")).split(";")[0].strip().lower()
    data = payload["data"]
    if encoding == "BASE64":
        try:
            data = base64.b64decode(data, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as err:
            raise CaptureFormatError(f"{where}: endpointInput data is not base64 of UTF-8 text ({err})") from None
    elif encoding not in ("CSV", "JSON"):
        raise CaptureFormatError(f"{where}: unknown endpointInput encoding {payload.get('encoding')!r} "
                                 f"(CSV, JSON or BASE64)")
    if "json" in content_type or (encoding == "JSON" and "csv" not in content_type):
        return _json_rows(data, where)
    if "csv" in content_type or encoding == "CSV":
        return [row for row in csv.reader(io.StringIO(data)) if row]
    raise CaptureFormatError(f"{where}: cannot analyse endpointInput of content type {content_type or '(none)'}: "
                             f"data-quality monitoring reads CSV or JSON input")


def _json_rows(text: str, where: str) -> list[list[str]]:
    try:
        document = json.loads(text)
    except ValueError as err:
        raise CaptureFormatError(f"{where}: endpointInput data is not JSON ({err})") from None
    if isinstance(document, dict):
        document = document.get("instances", document.get("features"))
    if isinstance(document, list) and document and all(isinstance(r, list) for r in document):
        rows = document
    elif isinstance(document, list):
        rows = [document]
    else:
        raise CaptureFormatError(f"{where}: JSON endpointInput is not a row, a list of rows or {{\"instances\": "
                                 f"rows}}")
    return [["" if v is None else json.dumps(v) if isinstance(v, (dict, list)) else str(v) for v in row]
            for row in rows]


def endpoint_capture_destination(cloud: Any, endpoint: str) -> str:
    """The endpoint's DataCaptureConfig.DestinationS3Uri (DescribeEndpoint, else its endpoint config)."""
    sagemaker = cloud.client("sagemaker")
    try:
        described = sagemaker.describe_endpoint(EndpointName=endpoint)
    except Exception as err:  # noqa: BLE001 - ValidationException: no such endpoint
        raise MonitorError(f"cannot describe endpoint {endpoint}: {err}") from err
    uri = (described.get("DataCaptureConfig") or {}).get("DestinationS3Uri")
    if not uri and described.get("EndpointConfigName"):
        config = sagemaker.describe_endpoint_config(EndpointConfigName=described["EndpointConfigName"])
        uri = (config.get("DataCaptureConfig") or {}).get("DestinationS3Uri")
    if not uri:
        raise MonitorError(f"endpoint {endpoint} does not capture data: its endpoint config has no "
                           f"DataCaptureConfig with a DestinationS3Uri")
    return str(uri)


# --------------------------------------------------------------------------- checking
def violation(feature: str, check: str, description: str) -> dict[str, str]:
    return {"feature_name": feature, "constraint_check_type": check, "description": description}


def _percent(share: float) -> str:
    return f"{share * 100:.1f}%"


def check(baseline_statistics: dict[str, Any], constraints: dict[str, Any], current: Dataset,
          current_statistics: dict[str, Any]) -> list[dict[str, str]]:
    """The violations of `current` against a baseline (see the module docstring for the checks)."""
    config = constraints.get("monitoring_config") or {}
    if config.get("evaluate_constraints", "Enabled") != "Enabled":
        return []
    type_threshold = float(config.get("datatype_check_threshold", 1.0))
    domain_threshold = float(config.get("domain_content_threshold", 1.0))
    distribution = config.get("distribution_constraints") or {}
    compare = distribution.get("perform_comparison", "Enabled") == "Enabled"
    baseline_features = {f["name"]: f for f in baseline_statistics.get("features", [])}
    current_features = {f["name"]: f for f in current_statistics["features"]}
    expected = [f["name"] for f in constraints.get("features", [])]
    out: list[dict[str, str]] = []
    columns = dict(zip(current.names, current.columns))
    for position, constraint in enumerate(constraints.get("features", [])):
        name = constraint["name"]
        if name not in columns or position >= current.width:
            continue  # reported by missing_column_check
        values = columns[name]
        counts = type_counts(values)
        kind = constraint.get("inferred_type")
        if counts.present and kind in (INTEGRAL, FRACTIONAL):
            share = counts.matching(kind) / counts.present
            if share < type_threshold:
                out.append(violation(name, "data_type_check",
                                     f"Data type match requirement is not met. Expected data type: {kind}, "
                                     f"Expected match: {_percent(type_threshold)}. Observed: Only "
                                     f"{_percent(share)} of data is {kind}."))
        if "completeness" in constraint and current.rows:
            completeness = counts.present / current.rows
            if completeness < float(constraint["completeness"]) - 1e-12:
                out.append(violation(name, "completeness_check",
                                     f"Data completeness requirement is not met. Expected: "
                                     f"{_percent(float(constraint['completeness']))}, Observed: Only "
                                     f"{_percent(completeness)} of data is present."))
        domains = (constraint.get("string_constraints") or {}).get("domains")
        if domains and counts.present:
            allowed = set(domains)
            inside = sum(1 for v in values if v and v in allowed) / counts.present
            if inside < domain_threshold:
                out.append(violation(name, "categorical_values_check",
                                     f"Categorical value match requirement is not met. Expected match: "
                                     f"{_percent(domain_threshold)}. Observed: Only {_percent(inside)} of data "
                                     f"is within the baseline domain {sorted(allowed)}."))
        if compare and name in baseline_features and name in current_features:
            found = drift(baseline_features[name], current_features[name], distribution,
                          (constraint.get("monitoringConfigOverrides") or {}).get("comparison_threshold"))
            if found is not None:
                out.append(violation(name, "baseline_drift_check", found))
    if current.width < len(expected):
        for name in expected[current.width:]:
            out.append(violation(name, "missing_column_check",
                                 f"There are missing columns in current dataset. Number of columns in current "
                                 f"dataset: {current.width}, Number of columns in baseline constraints: "
                                 f"{len(expected)}"))
    elif current.width > len(expected):
        for name in current.names[len(expected):current.width]:
            out.append(violation(name, "extra_column_check",
                                 f"There are extra columns in current dataset. Number of columns in current "
                                 f"dataset: {current.width}, Number of columns in baseline constraints: "
                                 f"{len(expected)}"))
    return out


def drift(baseline: dict[str, Any], current: dict[str, Any], distribution: dict[str, Any],
          override: float | None = None) -> str | None:
    """The baseline_drift_check description when the distance exceeds its threshold, else None."""
    robust = distribution.get("comparison_method", "Robust") == "Robust"
    if "numerical_statistics" in baseline and "numerical_statistics" in current:
        threshold = float(override if override is not None else distribution.get("comparison_threshold", 0.1))
        distance = numerical_distance(baseline["numerical_statistics"], current["numerical_statistics"], robust)
    elif baseline.get("inferred_type") == STRING and current.get("inferred_type") == STRING:
        method = distribution.get("categorical_drift_method", "LInfinity")
        if method != "LInfinity":
            raise MonitorError(f"categorical_drift_method {method!r} is not supported by drydock (LInfinity is)")
        threshold = float(override if override is not None else
                          distribution.get("categorical_comparison_threshold",
                                           distribution.get("comparison_threshold", 0.1)))
        distance = categorical_distance(baseline["string_statistics"], current["string_statistics"], robust)
    else:
        return None  # different kinds of data: the data_type_check says so
    if distance > threshold:
        return f"Baseline drift distance: {distance} exceeds threshold: {threshold}"
    return None


def _robust(linf: float, n: float, m: float, robust: bool) -> float:
    if not robust or n <= 0 or m <= 0:
        return linf
    return max(0.0, linf - ROBUST_FACTOR * math.sqrt((n + m) / (n * m)))


def numerical_distance(baseline: dict[str, Any], current: dict[str, Any], robust: bool = True) -> float:
    """L-infinity distance between the empirical CDFs of two KLL sketches (Deequ's numericalDistance)."""
    a_items, a_ranks = sketch_cdf(baseline["distribution"]["kll"]["sketch"])
    b_items, b_ranks = sketch_cdf(current["distribution"]["kll"]["sketch"])
    if not len(a_items) or not len(b_items):
        return 0.0
    n, m = a_ranks[-1], b_ranks[-1]
    keys = np.union1d(a_items, b_items)

    def cdf(items: np.ndarray, ranks: np.ndarray, total: float) -> np.ndarray:
        at = np.searchsorted(items, keys, side="right")
        return np.where(at > 0, ranks[np.maximum(at - 1, 0)], 0.0) / total
    linf = float(np.max(np.abs(cdf(a_items, a_ranks, n) - cdf(b_items, b_ranks, m))))
    return _robust(linf, n, m, robust)


def categorical_distance(baseline: dict[str, Any], current: dict[str, Any], robust: bool = True) -> float:
    """L-infinity distance between two value-frequency distributions (Deequ's categoricalDistance)."""
    def frequencies(stats: dict[str, Any]) -> dict[str, float]:
        buckets = ((stats.get("distribution") or {}).get("categorical") or {}).get("buckets") or []
        return {b["value"]: float(b["count"]) for b in buckets}
    a, b = frequencies(baseline), frequencies(current)
    n = float(baseline["common"]["num_present"])
    m = float(current["common"]["num_present"])
    if not n or not m:
        return 0.0
    linf = max((abs(a.get(k, 0.0) / n - b.get(k, 0.0) / m) for k in set(a) | set(b)), default=0.0)
    return _robust(linf, n, m, robust)


# --------------------------------------------------------------------------- the run
@dataclass
class MonitoringResult:
    """One monitoring execution: what it saw, what it found, where it wrote, and the event it sent."""

    endpoint: str
    schedule: str
    status: str  # "Completed" | "CompletedWithViolations"
    violations: list[dict[str, str]]
    statistics: dict[str, Any]
    output_uri: str  # the execution's report prefix (…/yyyy/mm/dd/hh)
    statistics_uri: str
    violations_uri: str
    records: int
    processing_job_arn: str
    scheduled_time: datetime
    event: dict[str, Any] | None = None
    captured_objects: list[str] = field(default_factory=list)

    @property
    def exit_message(self) -> str:
        if self.violations:
            return (f"CompletedWithViolations: Job completed successfully with {len(self.violations)} "
                    f"violations.")
        return "Completed: Job completed successfully with no violations."


def baseline_uris(baseline: str | None, statistics: str | None, constraints: str | None) -> tuple[str, str]:
    if statistics and constraints:
        return statistics, constraints
    if not baseline:
        raise MonitorError("name the baseline: a prefix holding statistics.json and constraints.json, or both files")
    prefix = baseline.rstrip("/")
    return statistics or f"{prefix}/statistics.json", constraints or f"{prefix}/constraints.json"


def run_monitoring(cloud: Any, *, endpoint: str, capture: str, output: str, baseline: str | None = None,
                   statistics: str | None = None, constraints: str | None = None,
                   schedule: str | None = None, variant: str | None = None,
                   start: datetime | None = None, end: datetime | None = None,
                   scheduled_time: datetime | None = None, schedule_arn: str | None = None,
                   role_arn: str | None = None, processing_job_name: str | None = None,
                   emit_event: bool = True,
                   put_event: Callable[[Any, dict[str, Any]], None] | None = None) -> MonitoringResult:
    """Run one data-quality monitoring execution over an endpoint's captured traffic.

    Args:
        cloud: the local cloud (`harness.cloud.LocalCloud`, or anything with `client()`, `region`, `account`).
        endpoint: the endpoint whose traffic was captured.
        capture: the endpoint config's `DataCaptureConfig.DestinationS3Uri`.
        output: the schedule's `MonitoringOutputs[0].S3Output.S3Uri`; reports go to
            `<output>/<endpoint>/<schedule>/yyyy/mm/dd/hh/`.
        baseline: a prefix holding statistics.json and constraints.json (what `suggest_baseline` wrote);
            `statistics` / `constraints` name the files one by one instead.
        schedule: the monitoring schedule's name (default `<endpoint>-data-quality`).
        variant: analyse one production variant's captures only (default: all of them).
        start, end: the analysis window, compared with the capture files' hours (default: everything captured).
        scheduled_time: the execution's scheduled time (default: now, to the hour).
        schedule_arn, role_arn, processing_job_name: what the event and the report say about the execution.
        emit_event: put the violation event on the default bus when there are violations.
        put_event: `(cloud, event) -> None` to deliver it (default `put_on_default_bus`).

    Returns:
        The execution's result; `event` is the event sent, if any.

    Raises:
        MonitorError: an unreadable baseline; CaptureFormatError: a malformed capture record (key and line named);
            NoCapturedData: nothing captured in the window.
    """
    s3 = cloud.client("s3")
    schedule = schedule or f"{endpoint}-data-quality"
    statistics_uri, constraints_uri = baseline_uris(baseline, statistics, constraints)
    baseline_statistics = read_json(s3, statistics_uri)
    baseline_constraints = read_json(s3, constraints_uri)
    names = [f["name"] for f in baseline_constraints.get("features", [])]
    captured = read_captured(s3, capture, endpoint, variant=variant, start=start, end=end)
    current = Dataset.from_rows(captured.rows, names)
    current_statistics = dataset_statistics(current)
    violations = check(baseline_statistics, baseline_constraints, current, current_statistics)

    now = datetime.now(timezone.utc)
    scheduled = (scheduled_time or now).astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)
    report = f"{output.rstrip('/')}/{endpoint}/{schedule}/{scheduled:%Y/%m/%d/%H}"
    job_name = processing_job_name or f"model-monitoring-{scheduled:%Y%m%d%H%M}-{uuid.uuid4().hex[:8]}"
    job_arn = f"arn:aws:sagemaker:{cloud.region}:{cloud.account}:processing-job/{job_name}"
    result = MonitoringResult(
        endpoint, schedule, "CompletedWithViolations" if violations else "Completed", violations,
        current_statistics, report, write_json(s3, f"{report}/statistics.json", current_statistics),
        write_json(s3, f"{report}/constraint_violations.json", {"violations": violations}), captured.records,
        job_arn, scheduled, captured_objects=captured.objects)
    if violations and emit_event:
        result.event = violation_event(
            cloud, result, capture=capture, statistics_uri=statistics_uri, constraints_uri=constraints_uri,
            start=start, end=end, started=now, schedule_arn=schedule_arn or
            f"arn:aws:sagemaker:{cloud.region}:{cloud.account}:monitoring-schedule/{schedule.lower()}",
            role_arn=role_arn or f"arn:aws:iam::{cloud.account}:role/SageMakerExecutionRole")
        (put_event or put_on_default_bus)(cloud, result.event)
    return result


def violation_event(cloud: Any, result: MonitoringResult, *, capture: str, statistics_uri: str,
                    constraints_uri: str, start: datetime | None, end: datetime | None, started: datetime,
                    schedule_arn: str, role_arn: str) -> dict[str, Any]:
    """The "SageMaker Processing Job State Change" event of a monitoring execution (module docstring)."""
    finished = datetime.now(timezone.utc)
    millis = lambda t: int(t.timestamp() * 1000)  # noqa: E731
    region = cloud.region
    image = (f"{ANALYZER_ACCOUNTS.get(region, ANALYZER_ACCOUNTS['us-east-1'])}.dkr.ecr.{region}.amazonaws.com/"
             f"sagemaker-model-monitor-analyzer")
    job_name = result.processing_job_arn.rsplit("/", 1)[-1]

    def s3_input(name: str, uri: str, local: str, data_type: str) -> dict[str, Any]:
        return {"InputName": name, "AppManaged": False,
                "S3Input": {"S3Uri": uri, "LocalPath": local, "S3DataType": data_type, "S3InputMode": "File",
                            "S3DataDistributionType": "FullyReplicated"}}
    detail = {
        "ProcessingInputs": [
            s3_input("input_1", f"{capture.rstrip('/')}/{result.endpoint}", "/opt/ml/processing/input/endpoint",
                     "S3Prefix"),
            s3_input("baseline", statistics_uri, "/opt/ml/processing/baseline/stats", "S3Prefix"),
            s3_input("constraints", constraints_uri, "/opt/ml/processing/baseline/constraints", "S3Prefix")],
        "ProcessingOutputConfig": {"Outputs": [{"OutputName": "result", "AppManaged": False, "S3Output": {
            "S3Uri": result.output_uri, "LocalPath": "/opt/ml/processing/resultdata", "S3UploadMode": "Continuous"}}]},
        "ProcessingJobName": job_name,
        "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge",
                                                  "VolumeSizeInGB": 20}},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        "AppSpecification": {"ImageUri": image},
        "Environment": {
            "baseline_constraints": "/opt/ml/processing/baseline/constraints/constraints.json",
            "baseline_statistics": "/opt/ml/processing/baseline/stats/statistics.json",
            "dataset_format": json.dumps({"sagemakerCaptureJson": {"captureIndexNames": ["endpointInput",
                                                                                         "endpointOutput"]}}),
            "dataset_source": "/opt/ml/processing/input/endpoint",
            "end_time": (end or finished).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "monitoring_input_type": "ENDPOINT_INPUT",
            "output_path": "/opt/ml/processing/resultdata",
            "publish_cloudwatch_metrics": "Enabled",
            "sagemaker_endpoint_name": result.endpoint,
            "sagemaker_monitoring_schedule_name": result.schedule,
            "start_time": (start or result.scheduled_time - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")},
        "RoleArn": role_arn,
        "ProcessingJobArn": result.processing_job_arn,
        "ProcessingJobStatus": "Completed",
        "ExitMessage": result.exit_message,
        "MonitoringScheduleArn": schedule_arn,
        "CreationTime": millis(started),
        "ProcessingStartTime": millis(started),
        "ProcessingEndTime": millis(finished),
        "LastModifiedTime": millis(finished),
        "Tags": {},
    }
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": EVENT_DETAIL_TYPE, "source": EVENT_SOURCE,
            "account": cloud.account, "time": finished.strftime("%Y-%m-%dT%H:%M:%SZ"), "region": region,
            "resources": [result.processing_job_arn], "detail": detail}


def put_on_default_bus(cloud: Any, event: dict[str, Any]) -> None:
    """Route an AWS service event through the default bus's rules to their targets.

    drydock's EventBridge delivery (`harness.integrations.events.route`) serves SQS, SNS, Lambda, Step Functions
    (StartExecution through the cloud's `stepfunctions` client) and bus targets; a target that fails loses the
    event, as EventBridge drops it after its retries.
    """
    from harness.integrations import events as bridge
    from harness.integrations.registry import Services

    def start_execution(arn: str, input_text: str, name: str | None) -> Any:
        return cloud.client("stepfunctions").start_execution(stateMachineArn=arn, input=input_text,
                                                             **({"name": name} if name else {}))
    bridge.route(Services(cloud, start_execution=start_execution), None, "default", event)
