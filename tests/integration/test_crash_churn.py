"""The crash test: the churn flow on `drydock serve --state-dir`, killed with SIGKILL at random points.

Each run deploys pipeline/state_machine.yaml and the SDK v2 pipeline of pipeline/definition.py on a fresh
server and state directory, uploads the churn data (the S3 rule starts the workflow), then the kill window
opens: the workflow checks the data, runs the SageMaker pipeline (real processing, training and evaluation
jobs on the process backend, a Lambda step, RegisterModel), asks for approval over SNS with a task token
(answered from an SQS queue subscribed to the topic, as a person's tool would), approves the package and
deploys the endpoint. During the window the server and its workers are killed with SIGKILL
`KILLS_PER_RUN` times, at moments drawn uniformly over the flow's length (counted in server uptime, so that a
kill does not just follow the previous restart; the length is the median of the runs so far, the reference
first, since machine load changes it), and started again on the same state directory; the client treats
the server's absence as any AWS client treats a network error: it tries again.

Every run must end as the uninterrupted reference run did: same status, the same states in the same
order (the polling loops counted once), the same pipeline steps, the same model package (version,
approval, AUC) and the same prediction from the endpoint. `CRASH_POINTS` kills in all (50 by default,
`DRYDOCK_CRASH_POINTS` to change); the figures go to out/crash-test.json.
"""
from __future__ import annotations

import collections
import json
import os
import random
import sqlite3
import statistics
import threading
import time
from pathlib import Path
from typing import Any, Callable

import pytest
from served import ROOT, Serve

pytestmark = pytest.mark.e2e

CRASH_POINTS = int(os.environ.get("DRYDOCK_CRASH_POINTS", "50"))
KILLS_PER_RUN = 5
ROWS = 600
TEMPLATE = ROOT / "pipeline" / "state_machine.yaml"
STACK = "churn-mlops"
LAMBDA_ROLE = "churn-pipeline-lambda"
_POLLING = ("WaitForPipeline", "DescribePipelineExecution", "PipelineStatus", "WaitForEndpoint", "DescribeEndpoint",
            "EndpointStatus")
SAMPLE = "0.5,-0.2,0.1,1.2,0.0,0.3,-1.0,0.4,0.2,-0.3,1.1,0.0,1,0,0"  # 15 standardized features, as preprocess writes them


def retrying(call: Callable[[], Any], *, seconds: float = 180.0) -> Any:
    """`call()`, again and again while the server is down (being killed or coming back)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return call()
        except Exception as err:  # noqa: BLE001 - connection refused/reset, or the server still restoring
            if not _transient(err) or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _transient(err: Exception) -> bool:
    from botocore.exceptions import ConnectionClosedError, EndpointConnectionError, ReadTimeoutError

    return isinstance(err, (EndpointConnectionError, ConnectionClosedError, ReadTimeoutError, ConnectionError)) or \
        "Connection" in type(err).__name__


class ChurnFlow:
    """The churn loop's first run, driven through one `Serve` the way a team's tools would drive AWS."""

    def __init__(self, serve: Serve, work: Path):
        self.serve, self.work = serve, work

    def client(self, service: str) -> Any:
        return self.serve.client(service)

    def setup(self) -> None:
        """Stack, pipeline, approval queue, data: everything before the workflow runs (not killed)."""
        from harness.cfn.deploy import deploy
        from harness.cloud import LocalCloud
        from harness.sagemaker.sdk import pipeline_session, sdk_environment
        from pipeline.definition import build_pipeline

        cloud = LocalCloud(self.serve.url)
        stack = deploy(cloud, TEMPLATE, stack_name=STACK)
        self.outputs = stack.outputs
        self.machine = stack.outputs["StateMachineArn"]
        bucket, group = stack.outputs["DataBucketName"], stack.outputs["ModelPackageGroupName"]
        with sdk_environment(self.work):
            pipeline = build_pipeline(pipeline_session(cloud, bucket), stack.outputs["SageMakerExecutionRoleArn"],
                                      bucket, name=stack.outputs["PipelineName"], model_package_group=group,
                                      lambda_role=self._lambda_role(bucket))
            pipeline.upsert(role_arn=stack.outputs["SageMakerExecutionRoleArn"])
        sqs, sns = self.client("sqs"), self.client("sns")
        self.queue = sqs.create_queue(QueueName="approver")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=self.queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=stack.outputs["ApprovalTopicArn"], Protocol="sqs", Endpoint=queue_arn,
                      Attributes={"RawMessageDelivery": "true"})
        from fixtures.churn import generate

        self.client("s3").put_object(Bucket=bucket, Key="data/churn.csv",
                                     Body=generate(ROWS, seed=0).to_csv(index=False).encode())
        deadline = time.monotonic() + 60
        while True:
            listed = self.client("stepfunctions").list_executions(stateMachineArn=self.machine)["executions"]
            if listed:
                self.execution = listed[0]["executionArn"]
                return
            assert time.monotonic() < deadline, "the S3 upload started no execution"
            time.sleep(0.1)

    def _lambda_role(self, bucket: str) -> str:
        trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {
            "Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
        iam = self.client("iam")
        arn = iam.create_role(RoleName=LAMBDA_ROLE, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        iam.put_role_policy(RoleName=LAMBDA_ROLE, PolicyName="ReadApprovedModels", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["sagemaker:ListModelPackages", "sagemaker:DescribeModelPackage"],
                 "Resource": "*"},
                {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}]}))
        return arn

    def finish(self, timeout: float = 900.0) -> dict[str, Any]:
        """Answer approval requests and wait for the workflow to end; the run's results."""
        sfn_status = ""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in retrying(lambda: self.client("sqs").receive_message(QueueUrl=self.queue,
                                                                               WaitTimeSeconds=0)).get("Messages", []):
                token = json.loads(message["Body"])["TaskToken"]
                retrying(lambda: self._approve(token))
            sfn_status = retrying(lambda: self.client("stepfunctions").describe_execution(
                executionArn=self.execution))["status"]
            if sfn_status != "RUNNING":
                return retrying(self.results)
            time.sleep(0.3)
        raise AssertionError(f"the workflow {self.execution} is still {sfn_status} after {timeout:.0f} s")

    def _approve(self, token: str) -> None:
        sfn = self.client("stepfunctions")
        try:
            sfn.send_task_success(taskToken=token, output=json.dumps({"Decision": "Approved", "Reviewer": "crash"}))
        except sfn.exceptions.TaskDoesNotExist:
            pass  # answered before the server was killed: the answer was kept

    def results(self) -> dict[str, Any]:
        sfn, sm = self.client("stepfunctions"), self.client("sagemaker")
        described = sfn.describe_execution(executionArn=self.execution)
        events: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {}
        while True:
            page = sfn.get_execution_history(executionArn=self.execution, maxResults=1000, **kwargs)
            events += page["events"]
            if "nextToken" not in page:
                break
            kwargs = {"nextToken": page["nextToken"]}
        states: list[str] = []
        for event in events:
            name = (event.get("stateEnteredEventDetails") or {}).get("name")
            if name and not (name in _POLLING and name in states):
                states.append(name)
        output = json.loads(described.get("output") or "{}")
        pipeline_arn = next((json.loads(e["taskSucceededEventDetails"]["output"])["PipelineExecutionArn"]
                             for e in events if e["type"] == "TaskSucceeded"
                             and "PipelineExecutionArn" in e["taskSucceededEventDetails"]["output"]), None)
        steps = sorted((s["StepName"], s["StepStatus"]) for s in sm.list_pipeline_execution_steps(
            PipelineExecutionArn=pipeline_arn)["PipelineExecutionSteps"]) if pipeline_arn else []
        packages = sm.list_model_packages(ModelPackageGroupName=self.outputs["ModelPackageGroupName"])
        package = [(p["ModelPackageVersion"], p["ModelApprovalStatus"]) for p in packages["ModelPackageSummaryList"]]
        endpoint = sm.describe_endpoint(EndpointName=self.outputs["EndpointName"])["EndpointStatus"]
        answer = self.client("sagemaker-runtime").invoke_endpoint(
            EndpointName=self.outputs["EndpointName"], ContentType="text/csv", Body=SAMPLE)["Body"].read().decode()
        return {"status": described["status"], "states": states, "pipeline_steps": steps, "packages": package,
                "auc": output.get("Evaluation", {}).get("Metrics"), "endpoint": endpoint,
                "prediction": round(float(answer.strip().split(",")[0]), 6)}


def last_state(state_dir: Path) -> str:
    """The state the workflow was in when the server died (read from the journal), to show where kills fell."""
    db = sqlite3.connect(state_dir / "journal.sqlite3")
    try:
        for (body,) in db.execute("SELECT body FROM events ORDER BY rowid DESC"):
            entered = json.loads(body).get("stateEnteredEventDetails")
            if entered:
                return entered["name"]
        return "(not started)"
    finally:
        db.close()


def run_flow(tmp: Path, env: dict[str, str], kills: list[float]) -> tuple[dict[str, Any], float, list[Any]]:
    """One run: setup, then the kill window with a SIGKILL when the server has been up `kills` seconds of it
    (each kill is followed by a restart, whose time does not count); results, the window's uptime, kill times."""
    tmp.mkdir(parents=True, exist_ok=True)
    serve = Serve(tmp / "state", env, tmp / "serve.log")
    serve.start()
    flow = ChurnFlow(serve, tmp)
    killed: list[tuple[float, str]] = []  # (uptime, the state the workflow was in)
    os.environ["AWS_ENDPOINT_URL"] = serve.url  # the SDK's own S3 uploads (code, sources) go here too
    try:
        flow.setup()
        clock = {"banked": 0.0, "since": time.monotonic()}
        done = threading.Event()

        def uptime() -> float:  # the server's uptime in the window: restarts left out
            return clock["banked"] + time.monotonic() - clock["since"]

        def killer() -> None:
            for at in kills:
                if done.wait(max(0.0, at - uptime())):
                    return
                clock["banked"] = uptime()
                serve.kill()
                killed.append((round(clock["banked"], 2), last_state(serve.state_dir)))
                serve.start()
                clock["since"] = time.monotonic()
        thread = threading.Thread(target=killer, daemon=True)
        thread.start()
        try:
            results = flow.finish()
        finally:
            done.set()
            thread.join(timeout=120)
        return results, uptime(), killed
    finally:
        serve.stop()


def test_the_churn_flow_survives_kill_9_at_random_points(tmp_path: Path, cli_env: dict[str, str],
                                                        monkeypatch: pytest.MonkeyPatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):  # the SDK's own sessions
        monkeypatch.setenv(name, cli_env[name])
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # each run points it at its own server
    env = {**cli_env, "DRYDOCK_IAM": "warn"}
    reference, window, _ = run_flow(tmp_path / "reference", env, [])
    assert reference["status"] == "SUCCEEDED" and reference["endpoint"] == "InService", reference
    rng = random.Random(int(os.environ.get("DRYDOCK_CRASH_SEED", "7")))
    report: dict[str, Any] = {"reference_seconds": round(window, 1), "runs": [], "kills": 0, "failures": 0}
    most_runs = 2 * max(1, -(-CRASH_POINTS // KILLS_PER_RUN))  # a kill drawn after a run's end does not count
    lengths = [window]  # the flow's length in server uptime, as the runs so far measured it (machine load varies)
    while report["kills"] < CRASH_POINTS and len(report["runs"]) < most_runs:
        number = len(report["runs"])
        length = statistics.median(lengths)
        kills = sorted(rng.uniform(0, length) for _ in range(min(KILLS_PER_RUN, CRASH_POINTS - report["kills"])))
        try:
            results, seconds, killed = run_flow(tmp_path / f"run-{number}", env, kills)
            lengths.append(seconds)
            same = results == reference
            problem = None if same else {k: (results.get(k), reference[k]) for k in reference
                                         if results.get(k) != reference[k]}
        except Exception as err:  # noqa: BLE001 - reported with the others, then the test fails
            seconds, killed, same, problem = 0.0, [], False, f"{type(err).__name__}: {err}"
        report["kills"] += len(killed)
        report["failures"] += 0 if same else 1
        report["runs"].append({"kills_at": killed, "uptime_seconds": round(seconds, 1), "identical": same,
                               "difference": problem})
    runs = len(report["runs"])
    out = ROOT / "out"
    out.mkdir(exist_ok=True)
    report["kills_by_state"] = dict(collections.Counter(state for run in report["runs"] for _, state in run["kills_at"]))
    (out / "crash-test.json").write_text(json.dumps(report, indent=1, default=str) + "\n")
    print(f"crash test: {report['kills']} kills over {runs} runs, {report['failures']} runs differing "
          f"(reference run {window:.1f} s); kills by state: {report['kills_by_state']}; details in out/crash-test.json")
    assert report["failures"] == 0, json.dumps(report, indent=1, default=str)
    assert report["kills"] >= CRASH_POINTS
