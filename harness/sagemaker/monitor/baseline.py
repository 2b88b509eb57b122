"""Model Monitor's data-quality baseline: `statistics.json` and `constraints.json` from a CSV dataset.

Mirrors what the prebuilt analyzer (sagemaker-model-monitor-analyzer, Deequ on Spark) writes for
`DefaultModelMonitor.suggest_baseline`, in the shapes of "Schema for Statistics (statistics.json file)" and
"Schema for Constraints (constraints.json file)":
https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-byoc-statistics.html and
https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-byoc-constraints.html

Types are inferred per value as Deequ does: an empty cell is missing, `[-+]?digits` is Integral, a decimal or
exponent number is Fractional, anything else is a String; a column is String if any value is, else Fractional if
any value is, else Integral ("Unknown" when every value is missing). A CSV without a header names its columns
`_c0`, `_c1`, ... as Spark does.

Approximation: AWS keeps a KLL quantile sketch (parameters c=0.64, k=2048) per numerical feature. drydock writes
the same `distribution.kll` shape, but its `sketch.data` is a quantile summary rather than a randomized KLL
compactor stack: with n <= k values, compactor 0 holds every value (exact); with more, compactor h (weight 2^h,
the smallest h with n / 2^h <= k) holds n / 2^h evenly spaced quantiles and lower compactors are empty. Read with
KLL's rule (an item of compactor h weighs 2^h), it gives ranks within n / k of the exact ones. The ten
`buckets` are exact equal-width counts between min and max, as AWS lays them out.
"""
from __future__ import annotations

import csv
import io
import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np

KLL_PARAMETERS = {"c": 0.64, "k": 2048.0}
HISTOGRAM_BUCKETS = 10
MAX_CATEGORICAL_BUCKETS = 1000  # Deequ's histogram keeps this many most frequent values (maxDetailBins)
DOMAIN_MAX_DISTINCT = 120  # Deequ profiles a value histogram (and may suggest a domain) up to this many values
DOMAIN_MAX_UNIQUE_RATIO = 0.1  # Deequ's CategoricalRangeRule: at most 10% of the distinct values seen only once

MONITORING_CONFIG: dict[str, Any] = {
    "evaluate_constraints": "Enabled",
    "emit_metrics": "Enabled",
    "datatype_check_threshold": 1.0,
    "domain_content_threshold": 1.0,
    "distribution_constraints": {
        "perform_comparison": "Enabled",
        "comparison_threshold": 0.1,
        "comparison_method": "Robust",
        "categorical_comparison_threshold": 0.1,
        "categorical_drift_method": "LInfinity",
    },
}

INTEGRAL, FRACTIONAL, STRING, UNKNOWN = "Integral", "Fractional", "String", "Unknown"
_INTEGRAL = re.compile(r"[-+]?\d+")
_FRACTIONAL = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?\d+[eE][-+]?\d+")


class MonitorError(Exception):
    """A dataset, capture file or baseline Model Monitor cannot use; the message names the S3 object."""


# --------------------------------------------------------------------------- datasets
@dataclass
class Dataset:
    """A table of raw cell text, column by column ("" is a missing value), as the analyzer reads CSV."""

    names: list[str]
    columns: list[list[str]]
    rows: int
    width: int  # the widest row seen: more than len(names) means extra columns

    @classmethod
    def from_rows(cls, rows: Sequence[Sequence[str]], names: Sequence[str] | None = None) -> "Dataset":
        """Columns from rows; `names` name them in order (short rows are padded with missing cells).

        Columns beyond `names` (or every column when there are no names) are called `_c<i>`.
        """
        width = max((len(r) for r in rows), default=0)
        known = list(names or [])
        count = max(width, len(known))
        columns: list[list[str]] = [[] for _ in range(count)]
        for row in rows:
            for i in range(count):
                columns[i].append(row[i].strip() if i < len(row) else "")
        all_names = known + [f"_c{i}" for i in range(len(known), count)]
        return cls(all_names, columns, len(rows), width)


def parse_csv(text: str, *, header: bool | None = None) -> tuple[list[str] | None, list[list[str]]]:
    """Split CSV text into (header names or None, data rows); blank lines are skipped.

    Args:
        text: the CSV document.
        header: whether the first row names the columns; None decides from the data (see `looks_like_header`).
    """
    rows = [row for row in csv.reader(io.StringIO(text)) if row and any(cell.strip() for cell in row)]
    if not rows:
        return None, []
    if header is None:
        header = looks_like_header(rows)
    if header:
        return [name.strip() for name in rows[0]], rows[1:]
    return None, rows


def looks_like_header(rows: Sequence[Sequence[str]]) -> bool:
    """True when the first row has no numbers but a later row has one in a column, or the first row's text
    appears nowhere in its columns below (an all-string table)."""
    first, rest = rows[0], rows[1:21]
    if not rest or any(value_type(cell) in (INTEGRAL, FRACTIONAL) for cell in first):
        return False
    for i in range(len(first)):
        if any(i < len(r) and value_type(r[i]) in (INTEGRAL, FRACTIONAL) for r in rest):
            return True
    return all(first[i].strip() not in {r[i].strip() for r in rest if i < len(r)} for i in range(len(first)))


def value_type(cell: str) -> str | None:
    """The Deequ type of one cell: Integral, Fractional, String, or None when it is missing."""
    cell = cell.strip()
    if not cell:
        return None
    if _INTEGRAL.fullmatch(cell):
        return INTEGRAL
    if _FRACTIONAL.fullmatch(cell):
        return FRACTIONAL
    return STRING


@dataclass
class TypeCounts:
    missing: int
    integral: int
    fractional: int
    string: int

    @property
    def present(self) -> int:
        return self.integral + self.fractional + self.string

    @property
    def inferred(self) -> str:
        if self.present == 0:
            return UNKNOWN
        if self.string:
            return STRING
        return FRACTIONAL if self.fractional else INTEGRAL

    def matching(self, expected: str) -> int:
        """How many present values are of `expected` (an Integral also fits a Fractional column)."""
        if expected == STRING or expected == UNKNOWN:
            return self.present
        if expected == FRACTIONAL:
            return self.integral + self.fractional
        return self.integral


def type_counts(values: Iterable[str]) -> TypeCounts:
    counts = Counter(value_type(v) for v in values)
    return TypeCounts(counts[None], counts[INTEGRAL], counts[FRACTIONAL], counts[STRING])


# --------------------------------------------------------------------------- statistics
def dataset_statistics(dataset: Dataset) -> dict[str, Any]:
    """statistics.json for a dataset: `{"version", "dataset": {"item_count"}, "features": [...]}`."""
    return {"version": 0.0, "dataset": {"item_count": dataset.rows},
            "features": [feature_statistics(name, values) for name, values in zip(dataset.names, dataset.columns)]}


def feature_statistics(name: str, values: Sequence[str]) -> dict[str, Any]:
    """One entry of statistics.json's `features`, typed by the values' inferred type."""
    counts = type_counts(values)
    inferred = counts.inferred
    common = {"num_present": counts.present, "num_missing": counts.missing}
    feature: dict[str, Any] = {"name": name, "inferred_type": inferred}
    if inferred in (INTEGRAL, FRACTIONAL):
        numbers = np.array([float(v) for v in values if v.strip()], dtype=float)
        feature["numerical_statistics"] = {"common": common, **numerical_summary(numbers)}
    elif inferred == STRING:
        present = [v.strip() for v in values if v.strip()]
        frequencies = Counter(present).most_common(MAX_CATEGORICAL_BUCKETS)
        feature["string_statistics"] = {
            "common": common, "distinct_count": float(len(set(present))),
            "distribution": {"categorical": {"buckets": [{"value": v, "count": c} for v, c in frequencies]}}}
    else:
        feature["string_statistics"] = {"common": common, "distinct_count": 0.0}
    return feature


def numerical_summary(numbers: np.ndarray) -> dict[str, Any]:
    """mean, sum, std_dev (population, as Deequ's StandardDeviation), min, max and the KLL distribution."""
    low, high = float(numbers.min()), float(numbers.max())
    return {"mean": float(numbers.mean()), "sum": float(numbers.sum()), "std_dev": float(numbers.std()),
            "min": low, "max": high,
            "distribution": {"kll": {"buckets": histogram_buckets(numbers, low, high),
                                     "sketch": {"parameters": dict(KLL_PARAMETERS), "data": sketch_data(numbers)}}}}


def histogram_buckets(numbers: np.ndarray, low: float, high: float) -> list[dict[str, float]]:
    if low == high:
        return [{"lower_bound": low, "upper_bound": high, "count": float(len(numbers))}]
    counts, edges = np.histogram(numbers, bins=HISTOGRAM_BUCKETS, range=(low, high))
    return [{"lower_bound": float(edges[i]), "upper_bound": float(edges[i + 1]), "count": float(counts[i])}
            for i in range(HISTOGRAM_BUCKETS)]


def sketch_data(numbers: np.ndarray) -> list[list[float]]:
    """KLL-shaped compactors (see the module docstring): exact up to k values, else quantiles at one level."""
    ordered = np.sort(numbers)
    k = int(KLL_PARAMETERS["k"])
    n = len(ordered)
    if n <= k:
        return [ordered.tolist()]
    level = math.ceil(math.log2(n / k))
    size = max(1, round(n / 2 ** level))
    quantiles = np.quantile(ordered, (np.arange(size) + 0.5) / size, method="inverted_cdf")
    return [[] for _ in range(level)] + [quantiles.tolist()]


def sketch_cdf(sketch: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """(sorted items, cumulative weight up to each item) of a KLL sketch: an item of compactor h weighs 2^h."""
    items: list[float] = []
    weights: list[float] = []
    for level, compactor in enumerate(sketch.get("data") or []):
        items.extend(float(x) for x in compactor)
        weights.extend([2.0 ** level] * len(compactor))
    order = np.argsort(np.array(items, dtype=float), kind="stable")
    return np.array(items, dtype=float)[order], np.cumsum(np.array(weights, dtype=float)[order])


# --------------------------------------------------------------------------- constraints
def suggest_constraints(statistics: dict[str, Any]) -> dict[str, Any]:
    """constraints.json from statistics.json: completeness, non-negativity, domains and the monitoring config.

    `completeness` is 1.0 for a complete feature; otherwise Deequ's RetainCompletenessRule: the lower end of the
    95% confidence interval of the observed share p over n items, p - 1.96 * sqrt(p * (1 - p) / n), rounded
    down to two decimals, so a sample as complete as the baseline passes; `is_non_negative` holds when the
    minimum is >= 0; a String feature gets `string_constraints.domains` when Deequ's CategoricalRangeRule would suggest
    one (at most 120 distinct values, at most 10% of them seen once).
    """
    item_count = statistics["dataset"]["item_count"]
    features = []
    for feature in statistics["features"]:
        stats = feature.get("numerical_statistics") or feature.get("string_statistics") or {}
        present = stats.get("common", {}).get("num_present", 0)
        entry: dict[str, Any] = {"name": feature["name"], "inferred_type": feature["inferred_type"],
                                 "completeness": retained_completeness(present, item_count)}
        if "numerical_statistics" in feature:
            entry["num_constraints"] = {"is_non_negative": feature["numerical_statistics"]["min"] >= 0}
        elif feature["inferred_type"] == STRING:
            buckets = stats["distribution"]["categorical"]["buckets"]
            once = sum(1 for b in buckets if b["count"] == 1)
            if stats["distinct_count"] <= DOMAIN_MAX_DISTINCT and once / len(buckets) <= DOMAIN_MAX_UNIQUE_RATIO:
                entry["string_constraints"] = {"domains": sorted(b["value"] for b in buckets)}
        features.append(entry)
    return {"version": 0.0, "features": features, "monitoring_config": json.loads(json.dumps(MONITORING_CONFIG))}


def retained_completeness(present: int, count: int) -> float:
    if not count:
        return 0.0
    p = present / count
    if p >= 1.0:
        return 1.0
    return max(0.0, math.floor((p - 1.96 * math.sqrt(p * (1 - p) / count)) * 100 + 1e-9) / 100)


# --------------------------------------------------------------------------- S3
@dataclass
class Baseline:
    """What a baselining job leaves: the two documents and where they were written."""

    statistics: dict[str, Any]
    constraints: dict[str, Any]
    statistics_uri: str
    constraints_uri: str


def split_s3_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://") or len(uri) <= len("s3://"):
        raise MonitorError(f"{uri!r} is not an s3:// URI")
    bucket, _, key = uri[len("s3://"):].partition("/")
    return bucket, key


def object_keys(s3: Any, uri: str) -> list[str]:
    """The object `uri` names, or every object under it as a prefix (S3Prefix), in key order."""
    bucket, key = split_s3_uri(uri)
    if key and not key.endswith("/"):
        try:
            s3.head_object(Bucket=bucket, Key=key)
            return [key]
        except Exception:  # noqa: BLE001 - not an object: try it as a prefix
            pass
    prefix = key if not key or key.endswith("/") else key + "/"
    keys: list[str] = []
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            keys.extend(item["Key"] for item in page.get("Contents", []) if not item["Key"].endswith("/"))
    except Exception as err:  # noqa: BLE001 - NoSuchBucket and friends, named for the user
        raise MonitorError(f"cannot list {uri}: {err}") from err
    return sorted(keys)


def read_text(s3: Any, bucket: str, key: str) -> str:
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except Exception as err:  # noqa: BLE001
        raise MonitorError(f"cannot read s3://{bucket}/{key}: {err}") from err
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as err:
        raise MonitorError(f"s3://{bucket}/{key} is not UTF-8 text: {err}") from err


def write_json(s3: Any, uri: str, document: dict[str, Any]) -> str:
    bucket, key = split_s3_uri(uri)
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(document, indent=2).encode(),
                  ContentType="application/json")
    return uri


def read_json(s3: Any, uri: str) -> dict[str, Any]:
    bucket, key = split_s3_uri(uri)
    text = read_text(s3, bucket, key)
    try:
        document = json.loads(text)
    except ValueError as err:
        raise MonitorError(f"{uri} is not JSON: {err}") from err
    if not isinstance(document, dict):
        raise MonitorError(f"{uri} is not a JSON object")
    return document


def read_dataset(s3: Any, uri: str, *, header: bool | None = None) -> Dataset:
    """Every CSV object under `uri`, one table (each object's header names the columns when `header`)."""
    bucket, _ = split_s3_uri(uri)
    keys = object_keys(s3, uri)
    if not keys:
        raise MonitorError(f"no dataset at {uri}: no object with that key or under that prefix")
    names: list[str] | None = None
    rows: list[list[str]] = []
    for key in keys:
        found, data = parse_csv(read_text(s3, bucket, key), header=header)
        if found is not None:
            if names is not None and found != names:
                raise MonitorError(f"s3://{bucket}/{key}: its header {found} differs from the first file's {names}")
            names = found
        rows.extend(data)
    if not rows:
        raise MonitorError(f"the dataset at {uri} has no data rows")
    return Dataset.from_rows(rows, names)


def suggest_baseline(cloud: Any, data: str, output: str, *, header: bool | None = None) -> Baseline:
    """Run a baselining job: statistics and suggested constraints of a CSV dataset, written to S3.

    The local counterpart of `DefaultModelMonitor.suggest_baseline(baseline_dataset=data,
    dataset_format=DatasetFormat.csv(header=...), output_s3_uri=output)`.

    Args:
        cloud: where S3 lives (`harness.cloud.LocalCloud` or anything with `client("s3")`).
        data: s3:// URI of a CSV object, or a prefix whose objects are all CSV.
        output: s3:// prefix; `statistics.json` and `constraints.json` are written under it.
        header: whether each file starts with a header row; None decides from the data.

    Returns:
        The two documents and their URIs.

    Raises:
        MonitorError: no data at `data`, an unreadable object, or files whose headers disagree.
    """
    s3 = cloud.client("s3")
    statistics = dataset_statistics(read_dataset(s3, data, header=header))
    constraints = suggest_constraints(statistics)
    prefix = output.rstrip("/")
    return Baseline(statistics, constraints, write_json(s3, f"{prefix}/statistics.json", statistics),
                    write_json(s3, f"{prefix}/constraints.json", constraints))
