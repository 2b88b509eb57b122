"""The boundary between drydock playing the SageMaker platform and whatever runs the job's container.

The runtime prepares a job root laid out like /opt/ml (inputs, config files), hands a backend a `JobSpec`
written in container terms, and gets back a `ProcessResult`: exit code, log events, timings. S3, config files,
artifacts and the job's status stay with the runtime, so every backend behaves the same way.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

OPT_ML = "/opt/ml"
BACKEND_VARIABLE = "DRYDOCK_BACKEND"  # process (default) | docker
BACKENDS = ("process", "docker")


@dataclass(frozen=True)
class JobSpec:
    """One job's container invocation.

    `command` and `working_dir` are container paths (under /opt/ml); `root` is the host directory that holds the
    job's /opt/ml tree; `environment` was built against `Backend.opt_ml_path(root)`. `image` is the request's
    TrainingImage / ImageUri (container backends run it); `image_entrypoint` says `command` goes to the image's own
    ENTRYPOINT (`train`, or ContainerArguments without ContainerEntrypoint) instead of replacing it.
    """

    job_name: str
    root: Path
    command: list[str]
    environment: dict[str, str]
    working_dir: str | None = None
    max_runtime_seconds: int | None = None
    image: str | None = None
    image_entrypoint: bool = False


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
    """Runs a job's container command. Backends also say, in a `serving` attribute ("process" or "docker"), where
    a transform job's model runs (`harness.sagemaker.transform`); one without it serves in this process."""

    def opt_ml_path(self, root: Path) -> str:
        """Where the job sees its /opt/ml tree: the host root for the process backend, "/opt/ml" in a container."""

    def run(self, spec: JobSpec) -> ProcessResult:
        """Run the command to completion (or MaxRuntimeInSeconds) and return its logs and exit code."""


def start_server(container: dict[str, Any], s3: Any, root: Path) -> Any:
    """Start an endpoint variant's serving container (`endpoints.Endpoints`' default `start`) on the backend
    DRYDOCK_BACKEND names when the endpoint deploys: a thread of this process (process, the default) or `serve`
    in the model's image (docker). Returns a `serving.Server`; raises `serving.ModelLoadError`."""
    if (os.environ.get(BACKEND_VARIABLE) or "process").strip().lower() == "docker":
        from harness.sagemaker.backends.docker import start_server as start_in_docker

        return start_in_docker(container, s3, root)
    from harness.sagemaker.serving import start_server as start_in_process

    return start_in_process(container, s3, root)


def make_backend(name: str | None = None) -> Backend:
    """A new backend: `name` ("process" or "docker") for this call, else the process's DRYDOCK_BACKEND (default
    "process"). An unknown name given here raises ValueError; one in DRYDOCK_BACKEND gives a backend that fails
    every job with a FailureReason saying so (jobs run on worker threads, where an exception would go unseen)."""
    chosen = (name if name is not None else os.environ.get(BACKEND_VARIABLE) or "process").strip().lower()
    if chosen == "process":
        from harness.sagemaker.backends.process import ProcessBackend

        return ProcessBackend()
    if chosen == "docker":
        from harness.sagemaker.backends.docker import DockerBackend

        return DockerBackend()
    problem = f"unknown backend {chosen!r}: choose one of {', '.join(BACKENDS)}"
    if name is not None:
        raise ValueError(problem)
    return _Unavailable(f"{BACKEND_VARIABLE}={os.environ.get(BACKEND_VARIABLE)!r} names an {problem}")


class _Unavailable:
    def __init__(self, reason: str) -> None:
        self.reason = reason

    @property
    def serving(self) -> str:  # where a transform job's model would run: nowhere, and why
        return self.reason

    def opt_ml_path(self, root: Path) -> str:
        return str(root)

    def run(self, spec: JobSpec) -> ProcessResult:
        now = datetime.now(timezone.utc)
        return ProcessResult(None, now, now, launch_error=self.reason)
