"""Run a job's Python entry point as a host subprocess, with /opt/ml mapped onto the job root by `opt_ml_shim`.

No Docker and no image: the job runs under the interpreter drydock runs under, so it sees the host's packages.
The command must be a Python one (`python3 script.py ...`, as the SDK's ScriptProcessor and the training
toolkit build it); anything else needs a container backend. stdout and stderr are merged, line-buffered and
timestamped as they arrive, the way CloudWatch receives a container's output.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

from harness.sagemaker.backends import OPT_ML, JobSpec, ProcessResult
from harness.sagemaker.backends import opt_ml_shim

PYTHON_PROGRAM = re.compile(r"python(\d+(\.\d+)?)?")  # python, python3, python3.11
HOST_VARIABLES = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TZ", "LD_LIBRARY_PATH")  # not AWS_*: jobs get no keys
ENDPOINT_VARIABLE = "DRYDOCK_ENDPOINT_URL"  # set by `drydock serve`: where a job's script reaches the local cloud


class ProcessBackend:
    """Backend that runs each job in a child interpreter; `opt_ml` paths in the environment are host paths.

    A job that outlives MaxRuntimeInSeconds gets SIGTERM, then SIGKILL after `stop_grace_seconds`, as SageMaker
    stops a training container (it allows 120 seconds).
    """

    serving = "process"  # a transform job's model is loaded in this process (`harness.sagemaker.transform`)

    def __init__(self, stop_grace_seconds: float = 120.0) -> None:
        self.stop_grace_seconds = stop_grace_seconds
        self._running: tuple[subprocess.Popen, threading.Event] | None = None
        self._stopping = False

    def opt_ml_path(self, root: Path) -> str:
        return str(root)

    def run(self, spec: JobSpec) -> ProcessResult:
        started_at = datetime.now(timezone.utc)
        argv, problem = self._argv(spec)
        if problem:
            return ProcessResult(None, started_at, datetime.now(timezone.utc), launch_error=problem)
        process = subprocess.Popen(
            argv, cwd=self._cwd(spec), env=self._environment(spec), stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True, errors="replace", bufsize=1,
            start_new_session=True)
        timed_out = threading.Event()
        self._running = (process, timed_out)
        if self._stopping:  # stop() came while the command was starting
            self._stop_soon(process, timed_out)
        watchdog = None
        if spec.max_runtime_seconds:
            watchdog = threading.Timer(spec.max_runtime_seconds, self._stop, (process, timed_out))
            watchdog.start()
        logs = [{"timestamp": int(time.time() * 1000), "message": line.rstrip("\n")} for line in process.stdout]
        exit_code = process.wait()
        if watchdog:
            watchdog.cancel()
        self._running = None
        return ProcessResult(exit_code, started_at, datetime.now(timezone.utc), logs, timed_out.is_set())

    @staticmethod
    def _argv(spec: JobSpec) -> tuple[list[str], str | None]:
        program = os.path.basename(spec.command[0]) if spec.command else ""
        rest = spec.command[1:]
        while rest and rest[0] in ("-u", "-B"):  # interpreter flags that change nothing under the shim
            rest = rest[1:]
        if not PYTHON_PROGRAM.fullmatch(program) or not rest or rest[0].startswith("-"):
            return [], (f"the process backend runs Python script entry points only (python3 SCRIPT ARGS...); "
                        f"got {spec.command!r}. Use a container backend for other entry points.")
        return [sys.executable, opt_ml_shim.__file__, str(spec.root), *rest], None

    @staticmethod
    def _cwd(spec: JobSpec) -> Path:
        if spec.working_dir and (spec.working_dir == OPT_ML or spec.working_dir.startswith(OPT_ML + "/")):
            return spec.root / spec.working_dir[len(OPT_ML) + 1:]
        return spec.root

    @staticmethod
    def _environment(spec: JobSpec) -> dict[str, str]:
        inherited = {name: os.environ[name] for name in HOST_VARIABLES if name in os.environ}
        return {**inherited, **cloud_environment(), **spec.environment, "PYTHONUNBUFFERED": "1"}

    def stop(self) -> None:
        """Stop the running command as StopTrainingJob does (SIGTERM, SIGKILL after the grace period); `run`
        then reports it as `timed_out`, which the runtime turns into a Stopped job."""
        self._stopping = True
        running = self._running
        if running is not None:
            self._stop_soon(*running)

    def _stop_soon(self, process: subprocess.Popen, timed_out: threading.Event) -> None:
        threading.Thread(target=self._stop, args=(process, timed_out), daemon=True).start()

    def _stop(self, process: subprocess.Popen, timed_out: threading.Event) -> None:
        timed_out.set()
        _signal_group(process, signal.SIGTERM)
        try:
            process.wait(timeout=self.stop_grace_seconds)
        except subprocess.TimeoutExpired:
            _signal_group(process, signal.SIGKILL)


def cloud_environment() -> dict[str, str]:
    """What a job's script needs to call AWS, as SageMaker gives a container its region and its role's credentials.

    With a local endpoint (DRYDOCK_ENDPOINT_URL, which `drydock serve` sets, else a loopback AWS_ENDPOINT_URL of
    this process), boto3 in the job reaches it with dummy credentials. Without one (the in-process cloud lives in
    this process, out of a child's reach) the job gets no credentials at all: the host's ~/.aws files and the
    instance metadata are hidden, so a script can never reach real AWS from here.
    """
    from harness.cloud import DEFAULT_REGION, DUMMY_CREDENTIALS, is_loopback_host

    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION
    out = {"AWS_REGION": region, "AWS_DEFAULT_REGION": region, "AWS_EC2_METADATA_DISABLED": "true",
           "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}
    endpoint = os.environ.get(ENDPOINT_VARIABLE) or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint and is_loopback_host(urlsplit(endpoint).hostname):
        out["AWS_ENDPOINT_URL"] = endpoint
        out.update({name.upper(): value for name, value in DUMMY_CREDENTIALS.items()})
    return out


def _signal_group(process: subprocess.Popen, signal_number: int) -> None:
    try:
        os.killpg(process.pid, signal_number)
    except ProcessLookupError:
        pass
