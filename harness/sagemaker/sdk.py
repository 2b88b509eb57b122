"""The SageMaker Python SDK v2 pointed at drydock's local cloud, and nowhere else (see ../shared/notes/sagemaker-sdk.md).

Left alone, the SDK reaches for AWS twice: telemetry (a GET to an AWS host after calls) and STS
(`Session.default_bucket()` and `account_id()` ask a hard-coded regional URL). `sdk_environment()` turns telemetry
off with the SDK's own defaults file (TelemetryOptOut) and validates those defaults once instead of on every lookup
(the SDK re-validates its config against the whole JSON schema each time: ~0.25 s, ~25 times per pipeline);
`pipeline_session()` gives the session the local cloud's clients and a `default_bucket`, so STS is never asked.
"""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator

import boto3

from harness.cloud import DUMMY_CREDENTIALS

TELEMETRY_OFF = "SchemaVersion: '1.0'\nSageMaker:\n  PythonSDK:\n    Modules:\n      TelemetryOptOut: true\n"
# Given to every session as its defaults: the SDK then reads no config file per lookup.
SDK_DEFAULTS: dict[str, Any] = {"SchemaVersion": "1.0",
                                "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}}}
_VARIABLES = ("SAGEMAKER_USER_CONFIG_OVERRIDE", "SAGEMAKER_SUPPRESS_V2_WARNING")


@contextlib.contextmanager
def sdk_environment(directory: Path | None = None) -> Iterator[None]:
    """Telemetry off, the v2 deprecation notice quiet, the SDK's defaults validated once; restored on exit."""
    with contextlib.ExitStack() as stack:
        if directory is None:
            directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="drydock-sdk-")))
        config = Path(directory) / "sagemaker-config.yaml"
        config.write_text(TELEMETRY_OFF)
        saved = {name: os.environ.get(name) for name in _VARIABLES}
        os.environ["SAGEMAKER_USER_CONFIG_OVERRIDE"] = str(config)
        os.environ["SAGEMAKER_SUPPRESS_V2_WARNING"] = "1"
        import sagemaker.utils

        real_validate = sagemaker.utils.validate_sagemaker_config
        sagemaker.utils.validate_sagemaker_config = _validated_once(real_validate)
        try:
            yield
        finally:
            sagemaker.utils.validate_sagemaker_config = real_validate
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def _validated_once(validate: Callable[[Any], Any]) -> Callable[[Any], None]:
    seen: set[str] = set()

    def validate_once(config: Any) -> None:
        key = json.dumps(config, sort_keys=True, default=str)
        if key not in seen:
            validate(config)
            seen.add(key)
    return validate_once


def pipeline_session(cloud: Any, bucket: str) -> Any:
    """A `PipelineSession` whose clients are the local cloud's (in-process moto behind drydock's overlay, or the
    endpoint of `drydock serve`) and whose default bucket is `bucket`."""
    from sagemaker.workflow.pipeline_context import PipelineSession

    boto_session = boto3.session.Session(region_name=cloud.region, **DUMMY_CREDENTIALS)
    return PipelineSession(boto_session=boto_session, sagemaker_client=cloud.client("sagemaker"),
                           default_bucket=bucket, sagemaker_config=SDK_DEFAULTS)
