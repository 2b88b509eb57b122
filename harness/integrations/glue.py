"""Step Functions -> AWS Glue (connect-glue.html): `glue:startJobRun` and `glue:startJobRun.sync`.

Request: `JobName`, `Arguments`, `Timeout`, ... as StartJobRun takes them. Response: `{"JobRunId"}`; with
`.sync` the job run as GetJobRun describes it (`JobRunState` SUCCEEDED), or the task fails with
`States.TaskFailed` and that description as the cause.

Minimal by design: drydock runs the job's Python script (`Command.ScriptLocation`, read from the local
S3) with `python` in a child process, passing the arguments as `--key value`, with the job's
`Timeout` (minutes) as a wall-time limit. Spark (`glueetl`) jobs whose scripts need `awsglue`/`pyspark`
fail unless those libraries are installed; nothing of Glue's catalog, crawlers or bookmarks is simulated.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from typing import Any
from urllib.parse import urlsplit

from asl.errors import StatesError
from asl.tasks import TaskRequest
from harness.integrations import errors
from harness.integrations.registry import Services, integration
from harness.integrations.responses import compact, iso_timestamp, json_service_metadata


@integration("glue", "startJobRun", patterns=("", "sync"))
async def start_job_run(services: Services, request: TaskRequest) -> Any:
    from botocore.exceptions import ClientError

    glue = services.client("glue")
    params = dict(request.parameters or {})
    try:
        job = glue.get_job(JobName=params.get("JobName"))["Job"]
        run_id = glue.start_job_run(**params)["JobRunId"]
    except ClientError as err:
        raise errors.v1_client_error("glue", glue, "StartJobRun", err) from None
    if request.resource.pattern != "sync":
        answer = {"JobRunId": run_id}
        return {**answer, **json_service_metadata(request, compact(answer))}
    started = request.now()
    state, message = run_script(services, job, {**job.get("DefaultArguments", {}), **params.get("Arguments", {})},
                                timeout_minutes=params.get("Timeout") or job.get("Timeout") or 2880)
    from asl.clock import to_datetime

    run = {"Arguments": params.get("Arguments", {}), "Attempt": 0, "CompletedOn": iso_timestamp(to_datetime(request.now())),
           "ExecutionTime": 0, "GlueVersion": job.get("GlueVersion", "4.0"), "Id": run_id, "JobName": job["Name"],
           "JobRunState": state, "StartedOn": iso_timestamp(to_datetime(started))}
    if message:
        run["ErrorMessage"] = message
    if state != "SUCCEEDED":
        raise StatesError("States.TaskFailed", compact(run))
    return run


def run_script(services: Services, job: dict[str, Any], arguments: dict[str, str], *,
               timeout_minutes: float) -> tuple[str, str]:
    """Run the job's script; returns (JobRunState, ErrorMessage)."""
    location = job.get("Command", {}).get("ScriptLocation", "")
    parts = urlsplit(location)
    if parts.scheme != "s3":
        return "FAILED", f"ScriptLocation must be an s3:// URL, not {location!r}"
    body = services.client("s3").get_object(Bucket=parts.netloc, Key=parts.path.lstrip("/"))["Body"].read()
    with tempfile.TemporaryDirectory(prefix="drydock-glue-") as work:
        script = os.path.join(work, os.path.basename(parts.path) or "job.py")
        with open(script, "wb") as fh:
            fh.write(body)
        argv = [sys.executable, script, "--JOB_NAME", job["Name"]]
        for key, value in arguments.items():
            argv += [key if key.startswith("--") else f"--{key}", str(value)]
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": services.region,
                    "AWS_DEFAULT_REGION": services.region,
                    "AWS_ENDPOINT_URL": services.cloud.endpoint_url or "http://127.0.0.1:9"})
        try:
            done = subprocess.run(argv, cwd=work, env=env, capture_output=True, text=True,
                                  timeout=float(timeout_minutes) * 60)
        except subprocess.TimeoutExpired:
            return "TIMEOUT", f"Job run timed out after {timeout_minutes} minutes"
    if done.returncode != 0:
        tail = (done.stderr or "").strip().splitlines()[-1:] or [f"exit status {done.returncode}"]
        return "FAILED", tail[0]
    return "SUCCEEDED", ""
