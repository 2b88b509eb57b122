"""SageMaker Model Monitor (data quality), locally: baselines, monitoring runs over captured traffic, violations.

`suggest_baseline` writes statistics.json and constraints.json for a CSV dataset in S3 (`baseline.py`);
`run_monitoring` checks an endpoint's data capture against them, writes statistics.json and
constraint_violations.json where AWS would, and puts the violation event on the default bus (`run.py`).
The SageMaker API actions (CreateMonitoringSchedule, ...) live in `harness.sagemaker.monitor.api`.
https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor.html
"""
from harness.sagemaker.monitor.baseline import (
    Baseline, Dataset, MonitorError, dataset_statistics, suggest_baseline, suggest_constraints)
from harness.sagemaker.monitor.run import (
    CaptureFormatError, MonitoringResult, NoCapturedData, check, put_on_default_bus, run_monitoring)

__all__ = ["Baseline", "CaptureFormatError", "Dataset", "MonitorError", "MonitoringResult", "NoCapturedData",
           "check", "dataset_statistics", "put_on_default_bus", "run_monitoring", "suggest_baseline",
           "suggest_constraints"]
