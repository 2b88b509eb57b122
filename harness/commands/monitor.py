"""`drydock monitor baseline|run`: Model Monitor data quality through a drydock endpoint.

`baseline --data s3://... -o s3://...` writes statistics.json and constraints.json for a CSV dataset (what
`DefaultModelMonitor.suggest_baseline` does) and prints one row per feature.
`run --endpoint NAME --baseline s3://...` runs one monitoring execution over the endpoint's data capture, writes
statistics.json and constraint_violations.json under `<output>/<endpoint>/<schedule>/yyyy/mm/dd/hh/`, puts the
violation event on the default bus (a retraining rule starts its state machine) and prints the violations.
Both talk to `drydock serve` (S3, SageMaker, EventBridge, Step Functions), as `aws --endpoint-url` would.
Exit codes: 0 done (no violations), 1 violations found, 2 unusable input or no endpoint.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from harness.cloud import DEFAULT_REGION, LocalCloud
from harness.cloud_errors import CLOUD_ERRORS, report

NAME = "monitor"
HELP = "Model Monitor data quality: suggest a baseline from training data, or check captured traffic against it."
DEFAULT_ENDPOINT = "http://127.0.0.1:4566"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--endpoint-url", default=os.environ.get("AWS_ENDPOINT_URL") or DEFAULT_ENDPOINT,
                        help=f"drydock serve's URL (default $AWS_ENDPOINT_URL or {DEFAULT_ENDPOINT})")
    common.add_argument("--region", default=os.environ.get("AWS_DEFAULT_REGION", DEFAULT_REGION),
                        help="the region (default $AWS_DEFAULT_REGION or us-east-1)")
    common.add_argument("--json", action="store_true", help="print the written documents' JSON instead of a table")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    baseline = actions.add_parser("baseline", parents=[common], help="statistics.json and constraints.json of a "
                                                                     "CSV dataset (suggest_baseline)")
    baseline.add_argument("--data", required=True, help="s3:// URI of a CSV object or of a prefix of CSV objects")
    baseline.add_argument("-o", "--output", required=True, help="s3:// prefix to write the two files under")
    header = baseline.add_mutually_exclusive_group()
    header.add_argument("--header", dest="header", action="store_true", default=None,
                        help="the CSV files start with a header row")
    header.add_argument("--no-header", dest="header", action="store_false",
                        help="they do not (columns are named _c0, _c1, ...)")

    run_ = actions.add_parser("run", parents=[common], help="one monitoring execution over an endpoint's data "
                                                            "capture, against a baseline")
    run_.add_argument("--endpoint", required=True, help="the endpoint whose captured traffic is checked")
    run_.add_argument("--baseline", required=True,
                      help="s3:// prefix holding statistics.json and constraints.json (what `baseline` wrote)")
    run_.add_argument("--capture", help="the DataCaptureConfig DestinationS3Uri (default: DescribeEndpoint's)")
    run_.add_argument("-o", "--output", help="s3:// prefix for the reports (default: <baseline>/../reports)")
    run_.add_argument("--schedule", help="the monitoring schedule's name in the report path "
                                         "(default <endpoint>-data-quality)")
    run_.add_argument("--variant", help="check one production variant's captures only")
    run_.add_argument("--no-event", dest="event", action="store_false",
                      help="do not put the violation event on the default bus")


def run(args: argparse.Namespace) -> int:
    from harness.sagemaker.monitor import MonitorError

    try:
        cloud = LocalCloud(args.endpoint_url, region=args.region)
        return (baseline_command if args.action == "baseline" else run_command)(cloud, args)
    except MonitorError as err:
        print(f"drydock monitor {args.action}: {err}", file=sys.stderr)
        return 2
    except CLOUD_ERRORS as err:
        report(f"monitor {args.action}", err, args.endpoint_url)
        return 2


def baseline_command(cloud: Any, args: argparse.Namespace) -> int:
    from harness.sagemaker.monitor import suggest_baseline

    baseline = suggest_baseline(cloud, args.data, args.output, header=args.header)
    if args.json:
        print(json.dumps({"statistics": baseline.statistics, "constraints": baseline.constraints}, indent=2))
        return 0
    _print(feature_table(baseline.statistics, baseline.constraints))
    print(f"{baseline.statistics['dataset']['item_count']} rows; wrote {baseline.statistics_uri} and "
          f"{baseline.constraints_uri}")
    return 0


def run_command(cloud: Any, args: argparse.Namespace) -> int:
    from harness.sagemaker.monitor.run import endpoint_capture_destination, run_monitoring

    capture = args.capture or endpoint_capture_destination(cloud, args.endpoint)
    output = args.output or default_output(args.baseline)
    result = run_monitoring(cloud, endpoint=args.endpoint, capture=capture, output=output, baseline=args.baseline,
                            schedule=args.schedule, variant=args.variant, emit_event=args.event)
    if args.json:
        print(json.dumps({"status": result.status, "violations": result.violations,
                          "report": result.output_uri, "event": result.event}, indent=2, default=str))
    else:
        if result.violations:
            _print(violation_table(result.violations))
        print(f"{result.status}: {len(result.violations)} violation(s) in {result.records} captured record(s) "
              f"of {args.endpoint}; report {result.output_uri}/")
        if result.event is not None:
            print(f"sent \"{result.event['detail-type']}\" ({result.event['detail']['ExitMessage']}) to the "
                  f"default event bus")
    return 1 if result.violations else 0


def default_output(baseline: str) -> str:
    """`s3://b/p/baseline` -> `s3://b/p/reports`; a baseline at a bucket's root -> `s3://b/reports`."""
    trimmed = baseline.rstrip("/")
    parent = trimmed.rsplit("/", 1)[0] if trimmed.count("/") > 2 else trimmed
    return f"{parent}/reports"


def violation_table(violations: list[dict[str, str]]) -> Any:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="Constraint violations")
    for column in ("feature", "check", "description"):
        table.add_column(column, overflow="fold")
    for v in violations:
        table.add_row(escape(v["feature_name"]), v["constraint_check_type"], escape(v["description"]))
    return table


def feature_table(statistics: dict[str, Any], constraints: dict[str, Any]) -> Any:
    from rich.markup import escape
    from rich.table import Table

    completeness = {f["name"]: f.get("completeness") for f in constraints["features"]}
    table = Table(title="Baseline")
    for column in ("feature", "type", "completeness", "min", "max", "mean", "distinct"):
        table.add_column(column, overflow="fold")
    for f in statistics["features"]:
        numbers = f.get("numerical_statistics")
        strings = f.get("string_statistics") or {}
        table.add_row(escape(f["name"]), f["inferred_type"], f"{completeness.get(f['name'], 0):.2f}",
                      *(f"{numbers[k]:.6g}" if numbers else "" for k in ("min", "max", "mean")),
                      f"{strings['distinct_count']:.0f}" if "distinct_count" in strings else "")
    return table


def _print(table: Any) -> None:
    from rich.console import Console

    Console(width=max(100, _columns())).print(table)


def _columns() -> int:
    try:
        return os.get_terminal_size().columns
    except OSError:
        return 120
