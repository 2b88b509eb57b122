"""The boundary between drydock playing the SageMaker platform and whatever runs the job's container.

The runtime prepares a job root laid out like /opt/ml (inputs, config files), hands a backend a `JobSpec`
written in container terms, and gets back a `ProcessResult`: exit code, log events, timings. S3, config files,
artifacts and the job's status stay with the runtime, so every backend behaves the same way.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

OPT_ML = "/opt/ml"


@dataclass(frozen=True)
class JobSpec:
    """One job's container invocation.

    `command` and `working_dir` are container paths (under /opt/ml); `root` is the host directory that holds the
    job's /opt/ml tree; `environment` was built against `Backend.opt_ml_path(root)`.
    """

    job_name: str
    root: Path
    command: list[str]
    environment: dict[str, str]
    working_dir: str | None = None
    max_runtime_seconds: int | None = None


@dataclass
class ProcessResult:
    """What running a container produced. `exit_code` is None when the backend could not start the command."""

    exit_code: int | None
    started_at: datetime
    ended_at: datetime
    logs: list[dict] = field(default_factory=list)  # CloudWatch InputLogEvent shape: {"timestamp": ms, "message"}
    timed_out: bool = False
    launch_error: str | None = None


class Backend(Protocol):
    def opt_ml_path(self, root: Path) -> str:
        """Where the job sees its /opt/ml tree: the host root for the process backend, "/opt/ml" in a container."""

    def run(self, spec: JobSpec) -> ProcessResult:
        """Run the command to completion (or MaxRuntimeInSeconds) and return its logs and exit code."""
