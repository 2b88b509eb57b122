"""`drydock demo`: the churn MLOps loop of ../shared/seed, end to end on this machine, then a summary.

On the process backend with the in-process cloud: deploy pipeline/state_machine.yaml (roles, topics, Lambda,
bucket, EventBridge rules, the state machine), upsert the SageMaker pipeline of pipeline/definition.py with the
SDK v2, attach an approval policy (default `approve when auc >= 0.75`), upload generated churn data, which the
S3-upload rule turns into an execution: the pipeline runs real jobs, registers version 1 (PendingManualApproval),
the policy approves, the endpoint is created. Then traffic with data capture, a baseline from the training
features, a monitoring run on normal traffic, drifted traffic, a monitoring run that finds violations, whose event
starts the workflow again: version 2 is registered, approved and the endpoint updated in place. The summary gives
stages with durations, AUC, the version, the endpoint, a sample prediction, the drift check, and where the
histories (JSON), the ROC curve and the confusion matrix were written.

`--example DIR` runs an example instead: `DIR/run.py`'s `main()`, or `DIR/definition.json` with `DIR/input.json`.
`Scenario` holds the steps, for the tests (tests/pipeline/test_churn_loop.py) and examples/ to reuse.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import json
import logging
import os
import sys
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[2]
NAME = "demo"
HELP = "Run the churn MLOps loop end to end (train, approve, deploy, drift, retrain) and print a summary"
EXAMPLE = ROOT / "examples" / "hello"
TEMPLATE = ROOT / "pipeline" / "state_machine.yaml"
PREPROCESS = ROOT / "pipeline" / "scripts" / "preprocess.py"
DEFAULT_POLICY = "approve when auc >= 0.75"
STACK = "churn-mlops"
FEATURE_GROUP = "churn-features"
LAMBDA_ROLE = "churn-pipeline-lambda"
TERMINAL_MONITORING = ("Completed", "CompletedWithViolations", "Failed", "Stopped")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--example", help="run an example folder instead (run.py, or definition.json + input.json)")
    parser.add_argument("--policy", default=DEFAULT_POLICY, help=f"approval policy (default '{DEFAULT_POLICY}')")
    parser.add_argument("--rows", type=int, default=2000, help="customers in the generated training data")
    parser.add_argument("--out", default="out", help="where histories and plots are written (default out/)")
    parser.add_argument("--no-feature-store", action="store_true", help="do not write features to Feature Store")


def run(args: argparse.Namespace) -> int:
    if args.example:
        return run_example(Path(args.example))
    from rich.console import Console

    console = Console(highlight=False)
    scenario = Scenario(rows=args.rows, policy=args.policy, out_dir=Path(args.out),
                        feature_store=not args.no_feature_store, say=console.print)
    started = time.perf_counter()
    try:
        summary = scenario.run_loop()
    except ScenarioError as err:
        console.print(f"[bold red]demo failed:[/] {err}")
        return 1
    finally:
        scenario.close()
    summary.wall = time.perf_counter() - started
    print_summary(console, summary)
    return 0 if summary.ok else 1


def main(argv: list[str] | None = None) -> int:
    """`drydock demo` with these arguments (examples/sfn_triggers_pipeline/run.py calls it)."""
    parser = argparse.ArgumentParser(prog="drydock demo", description=HELP)
    add_arguments(parser)
    return run(parser.parse_args(argv))


def run_example(folder: Path) -> int:
    """An example folder: its run.py's main() when there is one, else its state machine and input."""
    if (folder / "run.py").is_file():
        spec = importlib.util.spec_from_file_location(f"drydock_example_{folder.name}", folder / "run.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return int(module.main() or 0)
    from asl.load import load_definition
    from harness.commands.run import print_history
    from harness.conformance import jsonable_events
    from harness.local_run import run_locally

    definition, _ = load_definition((folder / "definition.json").read_text(), source=str(folder / "definition.json"))
    started = time.perf_counter()
    execution = run_locally(definition, (folder / "input.json").read_text())
    wall = time.perf_counter() - started
    result = execution.result()
    result["events"] = jsonable_events(result["events"])
    print_history(result)
    simulated = (execution.stop or execution.start) - execution.start
    print(f"{len(result['events'])} events, {simulated:.0f} s of simulated time in {wall:.3f} s of wall time")
    return 0 if execution.status == "SUCCEEDED" else 1


# --------------------------------------------------------------------------- the scenario
class ScenarioError(Exception):
    """A step of the loop that did not end as it should; the message says which and why."""


@dataclass
class Stage:
    name: str
    seconds: float
    detail: str = ""
    level: int = 0


@dataclass
class Run:
    """One execution of the workflow, as the demo saw it."""

    arn: str
    trigger: str
    status: str = "RUNNING"
    error: str | None = None
    cause: str | None = None
    output: dict[str, Any] = field(default_factory=dict)
    history_path: Path | None = None
    pipeline_execution_arn: str | None = None
    pipeline_steps: list[dict[str, Any]] = field(default_factory=list)
    states: list[tuple[str, float]] = field(default_factory=list)  # (state entered, wall seconds since start)
    seconds: float = 0.0


@dataclass
class Summary:
    stages: list[Stage] = field(default_factory=list)
    runs: list[Run] = field(default_factory=list)
    auc: float | None = None
    model_package_arn: str = ""
    model_package_version: int | None = None
    endpoint: str = ""
    endpoint_config: str = ""
    sample: tuple[str, float] | None = None
    drift: dict[str, Any] = field(default_factory=dict)
    features: str = ""
    files: dict[str, Path] = field(default_factory=dict)
    wall: float = 0.0
    ok: bool = False


class Sandbox:
    """One in-process local cloud (moto) with fresh drydock services, for a run that must not see another's state.

    Step Functions (a virtual clock from now, `idle_grace` wall seconds for outside answers), SageMaker jobs and
    the Model Registry, pipelines, endpoints, Model Monitor and Feature Store are new instances, put back as they
    were by `close()`; a loopback endpoint serves the same cloud to the child processes that need it (job scripts
    writing to Feature Store, Lambda functions calling AWS), announced in DRYDOCK_ENDPOINT_URL. moto's own state
    is shared by the process (tests empty it with the `local_cloud` fixture).
    """

    def __init__(self, work_dir: Path | None = None, *, idle_grace: float = 0.05):
        self._tmp = tempfile.TemporaryDirectory(prefix="drydock-demo-") if work_dir is None else None
        self.work_dir = Path(self._tmp.name) if self._tmp is not None else Path(work_dir)
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.idle_grace = idle_grace
        self._closers: list[Callable[[], None]] = []
        self.started = False

    def __enter__(self) -> "Sandbox":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def start(self) -> "Sandbox":
        if self.started:
            return self
        self.started = True
        from asl.clock import VirtualClock
        from harness.cloud import LocalCloud
        from harness.overlay import OVERLAY
        from harness.sagemaker import endpoints, featurestore
        from harness.sagemaker import service as jobs_service
        from harness.sagemaker.backends.process import ENDPOINT_VARIABLE
        from harness.sagemaker.monitor import api as monitor_api
        from harness.sagemaker.pipelines import api as pipelines_api
        from harness.sagemaker.sdk import sdk_environment
        from harness.server import bind
        from harness.stepfunctions_api import StepFunctionsApi, install

        _quiet_sdk()
        stack = contextlib.ExitStack()
        self._closers.append(stack.close)
        stack.enter_context(sdk_environment(self.work_dir))
        self.cloud = LocalCloud()
        self.api = StepFunctionsApi(idle_grace=self.idle_grace, clock=lambda: VirtualClock(time.time()))
        previous_api = install(self.api)
        self._closers.append(lambda: (install(previous_api), self.api.close()))

        self.jobs = jobs_service.SageMakerService(work_dir=self.work_dir / "jobs")  # jobs and the Model Registry
        previous_jobs, jobs_service.SERVICE = jobs_service.SERVICE, self.jobs
        OVERLAY.register("sagemaker", self.jobs.handle, jobs_service.ACTIONS)

        def restore_jobs() -> None:
            jobs_service.SERVICE = previous_jobs
            OVERLAY.register("sagemaker", previous_jobs.handle, jobs_service.ACTIONS)
        self._closers.append(restore_jobs)
        self.pipelines = pipelines_api.PipelineService(work_dir=self.work_dir / "pipelines")
        previous_pipelines, pipelines_api.SERVICE = pipelines_api.SERVICE, self.pipelines

        def restore_pipelines() -> None:
            pipelines_api.SERVICE = previous_pipelines
            self.pipelines.close()
        self._closers.append(restore_pipelines)
        self.endpoints = endpoints.EndpointService(work_dir=self.work_dir / "endpoints")
        previous_endpoints = endpoints.install(self.endpoints)
        self._closers.append(lambda: (endpoints.install(previous_endpoints), self.endpoints.close()))
        self.monitor = monitor_api.MonitorService()
        previous_monitor = monitor_api.install(self.monitor)
        self._closers.append(lambda: monitor_api.install(previous_monitor))
        self.features = featurestore.FeatureStore()
        previous_features = featurestore.install(self.features)
        self._closers.append(lambda: (featurestore.install(previous_features), self.features.close()))

        server = bind("127.0.0.1", 0, self.api)
        threading.Thread(target=server.serve_forever, name="drydock-demo-endpoint", daemon=True).start()
        previous_url = os.environ.get(ENDPOINT_VARIABLE)
        self.endpoint_url = os.environ[ENDPOINT_VARIABLE] = f"http://127.0.0.1:{server.port}"

        def stop_server() -> None:
            server.shutdown()
            server.server_close()
            if previous_url is None:
                os.environ.pop(ENDPOINT_VARIABLE, None)
            else:
                os.environ[ENDPOINT_VARIABLE] = previous_url
        self._closers.append(stop_server)
        return self

    def close(self) -> None:
        while self._closers:
            try:
                self._closers.pop()()
            except Exception:  # noqa: BLE001 - closing the rest matters more
                pass
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def client(self, service: str) -> Any:
        return self.cloud.client(service)

    def backend(self) -> Any:
        """The Step Functions backend (engine, state machines, executions) of the cloud's account and region."""
        return self.api.store.backend(self.cloud.account, self.cloud.region)

    def wait_execution(self, arn: str, timeout: float = 600.0) -> dict[str, Any]:
        """DescribeExecution once the execution has stopped."""
        sfn = self.client("stepfunctions")
        deadline = time.monotonic() + timeout
        while True:
            described = sfn.describe_execution(executionArn=arn)
            if described["status"] != "RUNNING":
                return described
            if time.monotonic() > deadline:
                raise ScenarioError(f"execution {arn} still RUNNING after {timeout:.0f} s")
            time.sleep(0.1)

    def wait_pipeline(self, arn: str, timeout: float = 600.0) -> dict[str, Any]:
        """DescribePipelineExecution once the pipeline execution has ended."""
        sm = self.client("sagemaker")
        deadline = time.monotonic() + timeout
        while True:
            described = sm.describe_pipeline_execution(PipelineExecutionArn=arn)
            if described["PipelineExecutionStatus"] not in ("Executing", "Stopping"):
                return described
            if time.monotonic() > deadline:
                raise ScenarioError(f"pipeline execution {arn} still running after {timeout:.0f} s")
            time.sleep(0.1)


class Scenario:
    """The churn loop's steps over one `Sandbox`, reusable one by one (tests, examples) or all (`run_loop`).

    Args:
        rows: customers in the generated training data.
        policy: the approval policy that answers the workflow's approval requests.
        out_dir: where histories and plots go.
        feature_store: create the churn feature group and have the preprocessing job write to it.
        say: where progress lines go (rich markup; tests leave it out).
        work_dir: parent of the jobs', endpoints' and pipelines' working directories (a temporary one by default).
    """

    def __init__(self, *, rows: int = 2000, seed: int = 0, policy: str = DEFAULT_POLICY, out_dir: Path = Path("out"),
                 feature_store: bool = True, say: Callable[..., None] | None = None, work_dir: Path | None = None,
                 idle_grace: float = 0.05):
        self.rows, self.seed, self.policy_text = rows, seed, policy
        self.out_dir = out_dir
        self.feature_store = feature_store
        self.say = say or (lambda *a, **k: None)
        self.sandbox = Sandbox(work_dir, idle_grace=idle_grace)
        self.summary = Summary()
        self.stack: Any = None
        self.pipeline: Any = None
        self.policy: Any = None
        self.raw: Any = None

    def start(self) -> None:
        """The sandbox: the in-process cloud and fresh drydock services (see `Sandbox`)."""
        self.sandbox.start()
        self.cloud, self.api, self.endpoints = self.sandbox.cloud, self.sandbox.api, self.sandbox.endpoints

    def close(self) -> None:
        self.sandbox.close()

    def client(self, service: str) -> Any:
        return self.cloud.client(service)

    @contextlib.contextmanager
    def stage(self, name: str, level: int = 0) -> Any:
        started = time.perf_counter()
        holder = Stage(name, 0.0, level=level)
        yield holder
        holder.seconds = time.perf_counter() - started
        self.summary.stages.append(holder)

    # ------------------------------------------------------------------ the steps
    def deploy(self) -> Any:
        """pipeline/state_machine.yaml's resources, with the approvals inbox subscribed to its approval topic."""
        from harness.approvals import Inbox
        from harness.cfn.deploy import deploy

        self.start()
        self.inbox = Inbox(self.cloud)
        self.stack = deploy(self.cloud, TEMPLATE, stack_name=STACK, inbox=self.inbox)
        self.bucket = self.stack.outputs["DataBucketName"]
        self.machine_arn = self.stack.outputs["StateMachineArn"]
        self.endpoint_name = self.stack.outputs["EndpointName"]
        self.group = self.stack.outputs["ModelPackageGroupName"]
        self.say(f"  deployed {len(self.stack.resources)} resources of {TEMPLATE.relative_to(ROOT)}: state machine "
                 f"[bold]{self.machine_arn.rsplit(':', 1)[-1]}[/], bucket {self.bucket}, "
                 f"{len(self.stack.of_type('AWS::Events::Rule'))} EventBridge rules")
        return self.stack

    def upsert_pipeline(self, **options: Any) -> Any:
        """The SDK builds pipeline/definition.py's pipeline against the local cloud and upserts it."""
        from harness.sagemaker.sdk import pipeline_session
        from pipeline.definition import build_pipeline

        role = self.stack.outputs["SageMakerExecutionRoleArn"]
        lambda_role = self._lambda_role()
        if self.feature_store:
            self._feature_group()
        session = pipeline_session(self.cloud, self.bucket)
        self.pipeline = build_pipeline(session, role, self.bucket, name=self.stack.outputs["PipelineName"],
                                       model_package_group=self.group, lambda_role=lambda_role,
                                       feature_group_name=FEATURE_GROUP if self.feature_store else None, **options)
        self.pipeline.upsert(role_arn=role, description="churn: preprocess, train, evaluate, register")
        described = self.client("sagemaker").describe_pipeline(PipelineName=self.pipeline.name)
        steps = [s["Name"] for s in json.loads(described["PipelineDefinition"])["Steps"]]
        self.say(f"  upserted SageMaker pipeline [bold]{self.pipeline.name}[/] ({', '.join(steps)})")
        return self.pipeline

    def _lambda_role(self) -> str:
        """The execution role of the pipeline's LatestApprovedAuc function (a team keeps one beside the stack)."""
        iam = self.client("iam")
        trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {
            "Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
        try:
            arn = iam.create_role(RoleName=LAMBDA_ROLE, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        except iam.exceptions.EntityAlreadyExistsException:
            return iam.get_role(RoleName=LAMBDA_ROLE)["Role"]["Arn"]
        policy = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["sagemaker:ListModelPackages", "sagemaker:DescribeModelPackage"],
             "Resource": "*"},
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{self.bucket}/*"}]}
        iam.put_role_policy(RoleName=LAMBDA_ROLE, PolicyName="ReadApprovedModels", PolicyDocument=json.dumps(policy))
        return arn

    def _feature_group(self) -> None:
        preprocess = load_preprocess()
        sm = self.client("sagemaker")
        try:
            sm.describe_feature_group(FeatureGroupName=FEATURE_GROUP)
            return
        except Exception:  # noqa: BLE001 - not there yet
            pass
        sm.create_feature_group(
            FeatureGroupName=FEATURE_GROUP, RecordIdentifierFeatureName=preprocess.RECORD_IDENTIFIER,
            EventTimeFeatureName=preprocess.EVENT_TIME, FeatureDefinitions=preprocess.feature_group_definitions(),
            OnlineStoreConfig={"EnableOnlineStore": True},
            OfflineStoreConfig={"S3StorageConfig": {"S3Uri": f"s3://{self.bucket}/feature-store"}},
            RoleArn=self.stack.outputs["SageMakerExecutionRoleArn"])

    def feature_record(self, customer_id: str = "C00000000") -> dict[str, str]:
        """A customer's features as the online store holds them (GetRecord); {} when it has none."""
        answer = self.client("sagemaker-featurestore-runtime").get_record(FeatureGroupName=FEATURE_GROUP,
                                                                          RecordIdentifierValueAsString=customer_id)
        return {f["FeatureName"]: f["ValueAsString"] for f in answer.get("Record", [])}

    def attach_policy(self, policy: str | None = None) -> Any:
        """Approval requests of the workflow answered by `policy` from inside the engine, on its clock."""
        from harness.approvals import Approvals, ApprovalStore, EngineTokens, attach_policy_to_api

        backend = self.api.store.backend(self.cloud.account, self.cloud.region)
        self.approvals = Approvals(self.inbox, ApprovalStore(), EngineTokens(backend.engine),
                                   clock=backend.engine.scheduler.clock.now)
        if self.policy is not None:
            backend.pump.call(self.policy.detach)
        self.policy = attach_policy_to_api(self.api, self.approvals, policy or self.policy_text)
        return self.policy

    def upload_data(self, key: str = "data/churn.csv", frame: Any = None) -> str | None:
        """Generated churn data to the bucket; returns the execution the S3-upload rule started (None: none)."""
        from fixtures.churn import generate

        if frame is None:
            frame = self.raw = generate(self.rows, seed=self.seed)
        before = set(self.executions())
        self.client("s3").put_object(Bucket=self.bucket, Key=key, Body=frame.to_csv(index=False).encode())
        started = [arn for arn in self.executions() if arn not in before]
        return started[0] if started else None

    def executions(self) -> list[str]:
        listed = self.client("stepfunctions").list_executions(stateMachineArn=self.machine_arn)["executions"]
        return [e["executionArn"] for e in listed]

    def start_execution(self, execution_input: dict[str, Any] | None = None, name: str | None = None) -> str:
        kwargs = {"name": name} if name else {}
        return self.client("stepfunctions").start_execution(
            stateMachineArn=self.machine_arn, input=json.dumps(execution_input or {}), **kwargs)["executionArn"]

    def wait_for_new_execution(self, known: list[str], timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [arn for arn in self.executions() if arn not in known]
            if found:
                return found[0]
            time.sleep(0.05)
        raise ScenarioError(f"no new execution of {self.machine_arn} within {timeout:.0f} s")

    def follow(self, arn: str, trigger: str, timeout: float = 600.0) -> Run:
        """Wait for an execution to end, saying which states it enters and how its pipeline's steps go."""
        sfn, sm = self.client("stepfunctions"), self.client("sagemaker")
        run = Run(arn, trigger)
        started = time.perf_counter()
        events: list[dict[str, Any]] = []
        printed_steps: set[str] = set()
        polling = False  # inside the workflow's Wait/Describe loop over the pipeline
        deadline = time.monotonic() + timeout
        while True:
            fresh = _history(sfn, arn, len(events))
            events += fresh
            elapsed = time.perf_counter() - started
            before, after = [], []  # state lines before and after the pipeline's step lines
            for event in fresh:
                if event["type"] == "TaskSucceeded" and run.pipeline_execution_arn is None:
                    output = json.loads(event["taskSucceededEventDetails"].get("output") or "{}")
                    if isinstance(output, dict) and "PipelineExecutionArn" in output:
                        run.pipeline_execution_arn = output["PipelineExecutionArn"]
                details = event.get("stateEnteredEventDetails")
                if details is None:
                    continue
                name = details["name"]
                run.states.append((name, elapsed))
                if name in _PIPELINE_POLL:
                    if not polling:
                        before.append(name)
                    polling = True
                elif name not in _ENDPOINT_POLL or name not in {s for s, _ in run.states[:-1]}:
                    (after if polling or after else before).append(name)
                    polling = False
            for name in before:
                self.say(f"  [dim]{elapsed:6.1f}s[/]  ▸ {name}")
            if run.pipeline_execution_arn:
                done = sorted((step for step in _steps(sm, run.pipeline_execution_arn)
                               if step["StepStatus"] in ("Succeeded", "Failed") and step["StepName"] not in
                               printed_steps), key=lambda step: step["StartTime"])
                for step in done:
                    printed_steps.add(step["StepName"])
                    took = (step["EndTime"] - step["StartTime"]).total_seconds() if step.get("EndTime") else 0.0
                    ok = step["StepStatus"] == "Succeeded"
                    note = " (cache hit)" if step.get("CacheHitResult") else (
                        "" if ok else f": {step.get('FailureReason', '')}")
                    self.say(f"            [{'green' if ok else 'red'}]{'✓' if ok else '✗'}[/] pipeline step "
                             f"{step['StepName']} {took:.1f} s{note}")
            for name in after:
                self.say(f"  [dim]{elapsed:6.1f}s[/]  ▸ {name}")
            if any(e["type"] in _EXECUTION_ENDS for e in fresh):
                break
            if time.monotonic() > deadline:
                raise ScenarioError(f"execution {arn} still RUNNING after {timeout:.0f} s")
            time.sleep(0.1)
        described = sfn.describe_execution(executionArn=arn)
        run.seconds = time.perf_counter() - started
        run.status, run.error, run.cause = described["status"], described.get("error"), described.get("cause")
        run.output = json.loads(described.get("output") or "{}")
        if run.pipeline_execution_arn:
            run.pipeline_steps = _steps(sm, run.pipeline_execution_arn)
        run.history_path = self._save_history(described, len(self.summary.runs) + 1, events)
        self.summary.runs.append(run)
        colour = "green" if run.status == "SUCCEEDED" else "red"
        self.say(f"  [{colour}]{run.status}[/] in {run.seconds:.1f} s" + (f": {run.error}: {run.cause}"
                                                                        if run.error else ""))
        return run

    def _save_history(self, described: dict[str, Any], number: int, events: list[dict[str, Any]]) -> Path:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        path = self.out_dir / f"churn-execution-{number}.json"
        described = {k: v for k, v in described.items() if k != "ResponseMetadata"}
        document = {"execution": described, "events": events}
        path.write_text(json.dumps(document, indent=1, default=_json_default) + "\n")
        return path

    # ------------------------------------------------------------------ the endpoint and its traffic
    def endpoint_state(self) -> dict[str, Any]:
        """The endpoint, its config and the model package its model came from."""
        sm = self.client("sagemaker")
        endpoint = sm.describe_endpoint(EndpointName=self.endpoint_name)
        config = sm.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
        model = sm.describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
        return {"EndpointStatus": endpoint["EndpointStatus"], "EndpointConfigName": endpoint["EndpointConfigName"],
                "ModelName": model["ModelName"], "ModelDataUrl": model["PrimaryContainer"].get("ModelDataUrl")}

    def package(self, version: int) -> dict[str, Any]:
        sm = self.client("sagemaker")
        arn = f"arn:aws:sagemaker:{self.cloud.region}:{self.cloud.account}:model-package/{self.group}/{version}"
        return sm.describe_model_package(ModelPackageName=arn)

    def splits(self, run: Run) -> dict[str, str]:
        """S3 URIs of the train/validation/test features the run's preprocessing wrote."""
        sm = self.client("sagemaker")
        step = next(s for s in _steps(sm, run.pipeline_execution_arn) if s["StepName"] == "Preprocess")
        arn = step["Metadata"]["ProcessingJob"]["Arn"]  # names are case-sensitive, their ARNs lowercase
        name = next(j["ProcessingJobName"] for page in sm.get_paginator("list_processing_jobs").paginate()
                    for j in page["ProcessingJobSummaries"] if j["ProcessingJobArn"] == arn)
        job = sm.describe_processing_job(ProcessingJobName=name)
        return {o["OutputName"]: o["S3Output"]["S3Uri"] for o in job["ProcessingOutputConfig"]["Outputs"]}

    def read_csv(self, uri: str) -> Any:
        import pandas as pd

        bucket, _, prefix = uri[len("s3://"):].partition("/")
        s3 = self.client("s3")
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix.rstrip("/") + "/").get(
            "Contents", []) if o["Key"].endswith(".csv")]
        frames = [pd.read_csv(io.BytesIO(s3.get_object(Bucket=bucket, Key=k)["Body"].read()), header=None)
                  for k in sorted(keys)]
        return pd.concat(frames, ignore_index=True)

    def invoke(self, rows: Any, batch: int = 10) -> list[float]:
        """Churn probabilities for feature rows (CSV, no label), `batch` rows per InvokeEndpoint."""
        runtime = self.client("sagemaker-runtime")
        scores: list[float] = []
        values = rows.values if hasattr(rows, "values") else rows
        for start in range(0, len(values), batch):
            body = "\n".join(",".join(_number(v) for v in row) for row in values[start:start + batch])
            answer = runtime.invoke_endpoint(EndpointName=self.endpoint_name, Body=body.encode(),
                                             ContentType="text/csv", Accept="text/csv")
            scores += [float(line) for line in answer["Body"].read().decode().split()]
        return scores

    def flush_capture(self) -> None:
        self.endpoints.region(self.cloud.account, self.cloud.region).flush_capture()

    def baseline(self, train_uri: str) -> Any:
        """Model Monitor's baseline (statistics.json, constraints.json) of the training features, label dropped."""
        from harness.sagemaker.monitor import suggest_baseline

        features = self.read_csv(train_uri).iloc[:, 1:]
        features.columns = load_preprocess().FEATURE_NAMES  # the order preprocess.py writes them in
        key = "monitoring/baseline-dataset/train_features.csv"
        self.client("s3").put_object(Bucket=self.bucket, Key=key, Body=features.to_csv(index=False).encode())
        return suggest_baseline(self.cloud, f"s3://{self.bucket}/{key}", f"s3://{self.bucket}/monitoring/baseline",
                                header=True)

    def drifted_features(self, count: int, seed: int = 11) -> Any:
        """Drifted customers (fixtures.churn, drifted=True) turned into model features as the preprocessing job
        does: the same split of the training data, the same fitted transformer."""
        import pandas as pd
        from sklearn.model_selection import train_test_split

        from fixtures.churn import generate

        preprocess = load_preprocess()
        raw = pd.read_csv(io.StringIO(self.raw.to_csv(index=False)), parse_dates=preprocess.DATE_COLUMNS)
        snapshot = raw["last_login_date"].max()
        labels = raw.pop(preprocess.LABEL).astype(int)
        x_train, _, _, _ = train_test_split(raw, labels, test_size=0.3, stratify=labels, random_state=42)
        transformer = preprocess.build_transformer(snapshot).fit(x_train)
        drifted = pd.read_csv(io.StringIO(generate(count, seed=seed, drifted=True).to_csv(index=False)),
                              parse_dates=preprocess.DATE_COLUMNS).drop(columns=[preprocess.LABEL])
        return pd.DataFrame(transformer.transform(drifted))

    def monitor_now(self, name: str, baseline: Any, timeout: float = 60.0) -> dict[str, Any]:
        """A one-time ("NOW") data-quality monitoring schedule on the endpoint; waits for its execution."""
        sm = self.client("sagemaker")
        self.flush_capture()
        output = f"s3://{self.bucket}/monitoring/reports"
        sm.create_monitoring_schedule(MonitoringScheduleName=name, MonitoringScheduleConfig={
            "ScheduleConfig": {"ScheduleExpression": "NOW", "DataAnalysisStartTime": "-PT1H",
                               "DataAnalysisEndTime": "PT1H"},
            "MonitoringType": "DataQuality",
            "MonitoringJobDefinition": {
                "BaselineConfig": {"StatisticsResource": {"S3Uri": baseline.statistics_uri},
                                   "ConstraintsResource": {"S3Uri": baseline.constraints_uri}},
                "MonitoringInputs": [{"EndpointInput": {"EndpointName": self.endpoint_name,
                                                        "LocalPath": "/opt/ml/processing/input/endpoint"}}],
                "MonitoringOutputConfig": {"MonitoringOutputs": [{"S3Output": {
                    "S3Uri": output, "LocalPath": "/opt/ml/processing/output"}}]},
                "MonitoringResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge",
                                                          "VolumeSizeInGB": 20}},
                "MonitoringAppSpecification": {"ImageUri": "156813124566.dkr.ecr.us-east-1.amazonaws.com/"
                                                           "sagemaker-model-monitor-analyzer"},
                "RoleArn": self.stack.outputs["SageMakerExecutionRoleArn"]}})
        deadline = time.monotonic() + timeout
        while True:
            found = sm.list_monitoring_executions(MonitoringScheduleName=name)["MonitoringExecutionSummaries"]
            if found and found[0]["MonitoringExecutionStatus"] in TERMINAL_MONITORING:
                execution = found[0]
                break
            if time.monotonic() > deadline:
                raise ScenarioError(f"monitoring schedule {name} did not finish within {timeout:.0f} s")
            time.sleep(0.05)
        report = self._violations(output, name)
        return {"status": execution["MonitoringExecutionStatus"], "violations": report,
                "failure": execution.get("FailureReason")}

    def _violations(self, output: str, schedule: str) -> list[dict[str, str]]:
        s3 = self.client("s3")
        bucket, _, prefix = output[len("s3://"):].partition("/")
        keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/{self.endpoint_name}/"
                                                                                   f"{schedule}/").get("Contents", [])
                      if o["Key"].endswith("constraint_violations.json"))
        if not keys:
            return []
        return json.loads(s3.get_object(Bucket=bucket, Key=keys[-1])["Body"].read())["violations"]

    # ------------------------------------------------------------------ the whole loop
    def run_loop(self) -> Summary:
        """Every step of the loop, saying what happens; returns the summary (raises ScenarioError on a failure)."""
        s, say = self.summary, self.say
        say("[bold]drydock demo[/]: the churn MLOps loop of ../shared/seed on this machine "
            "(process backend, in-process AWS)")
        with self.stage("start the local cloud"):
            self.start()
        say("[bold cyan]1. Infrastructure[/]")
        with self.stage("deploy pipeline/state_machine.yaml") as st:
            self.deploy()
            st.detail = f"{len(self.stack.resources)} resources"
        with self.stage("upsert the SageMaker pipeline (SDK v2)"):
            self.upsert_pipeline()
        self.attach_policy()
        say(f"  approval policy: [bold]{self.policy_text}[/]")

        say("[bold cyan]2. New data → S3-upload rule → workflow run 1[/]")
        with self.stage("generate and upload data") as st:
            first = self.upload_data()
            st.detail = f"{self.rows} customers"
        if first is None:
            raise ScenarioError("uploading data/churn.csv started no execution: is the NewTrainingData rule there?")
        say(f"  s3://{self.bucket}/data/churn.csv → rule NewTrainingData → execution "
            f"[bold]{first.rsplit(':', 1)[-1]}[/]")
        with self.stage("workflow run 1 (trigger: s3-upload)") as st:
            run1 = self.follow(first, "s3-upload")
            st.detail = run1.status
        self._pipeline_stages(run1)
        if run1.status != "SUCCEEDED":
            raise ScenarioError(f"run 1 ended {run1.status}: {run1.error}: {run1.cause}")
        if self.feature_store:
            record = self.feature_record()
            s.features = f"{FEATURE_GROUP}: {len(record) - 2} features per customer, online and offline"
            say(f"  Feature Store {FEATURE_GROUP}: customer C00000000 → days_since_last_login "
                f"{record.get('days_since_last_login')}, support_tickets_per_month "
                f"{float(record.get('support_tickets_per_month', 'nan')):.3f}")
        v1 = self.package(1)
        endpoint = self.endpoint_state()
        say(f"  model package version 1: {v1['ModelApprovalStatus']}; endpoint {self.endpoint_name} "
            f"{endpoint['EndpointStatus']} on {endpoint['EndpointConfigName']}")

        say("[bold cyan]3. Traffic, baseline, drift[/]")
        splits = self.splits(run1)
        with self.stage("invoke the endpoint (test split, captured)") as st:
            test = self.read_csv(splits["test"])
            labels, features = test.iloc[:, 0].astype(int).values, test.iloc[:, 1:]
            scores = self.invoke(features)
            st.detail = f"{len(scores)} rows"
        s.sample = (",".join(_number(v) for v in features.iloc[0].values), scores[0])
        from harness.plots import write_evaluation_plots

        s.files.update(write_evaluation_plots(labels, scores, self.out_dir))
        say(f"  {len(scores)} predictions; first row → churn probability {scores[0]:.3f}; ROC and confusion matrix "
            f"in {self.out_dir}/")
        with self.stage("baseline from the training features"):
            baseline = self.baseline(splits["train"])
        say(f"  baseline: {len(baseline.constraints['features'])} features → {baseline.constraints_uri}")
        with self.stage("monitoring run on that traffic") as st:
            clean = self.monitor_now("churn-data-quality-1", baseline)
            st.detail = f"{len(clean['violations'])} violations"
        say(f"  data quality on normal traffic: {clean['status']}, {len(clean['violations'])} violations")
        known = self.executions()
        with self.stage("drifted traffic (captured)") as st:
            drifted = self.drifted_features(len(features) * 2)
            self.invoke(drifted)
            st.detail = f"{len(drifted)} rows"
        with self.stage("monitoring run after the drift") as st:
            drift = self.monitor_now("churn-data-quality-2", baseline)
            st.detail = f"{len(drift['violations'])} violations"
        s.drift = {"clean": clean, "drifted": drift}
        features_hit = sorted({v["feature_name"] for v in drift["violations"]})
        say(f"  data quality after drift: [bold]{drift['status']}[/], {len(drift['violations'])} violations "
            f"({', '.join(features_hit[:6])}{'…' if len(features_hit) > 6 else ''})")
        if not drift["violations"]:
            raise ScenarioError("the drifted traffic raised no violation, so nothing retrains")

        say("[bold cyan]4. Violation event → DriftDetected rule → workflow run 2 (retrain)[/]")
        second = self.wait_for_new_execution(known)
        say(f"  execution [bold]{second.rsplit(':', 1)[-1]}[/] started by the violation event")
        with self.stage("workflow run 2 (trigger: drift)") as st:
            run2 = self.follow(second, "drift")
            st.detail = run2.status
        self._pipeline_stages(run2)
        if run2.status != "SUCCEEDED":
            raise ScenarioError(f"run 2 ended {run2.status}: {run2.error}: {run2.cause}")
        v2 = self.package(2)
        endpoint = self.endpoint_state()
        s.model_package_arn, s.model_package_version = v2["ModelPackageArn"], v2["ModelPackageVersion"]
        s.endpoint, s.endpoint_config = self.endpoint_name, endpoint["EndpointConfigName"]
        s.auc = _auc(run2.output) or _auc(run1.output)
        after = self.invoke(features.iloc[:1])
        s.sample = (s.sample[0], after[0])
        say(f"  endpoint {self.endpoint_name} {endpoint['EndpointStatus']} on {endpoint['EndpointConfigName']} "
            f"(model package version {v2['ModelPackageVersion']}, {v2['ModelApprovalStatus']})")
        s.ok = endpoint["EndpointConfigName"].startswith("churn-v2-") and endpoint["EndpointStatus"] == "InService"
        return s

    def _pipeline_stages(self, run: Run) -> None:
        for step in run.pipeline_steps[::-1]:
            if step.get("EndTime"):
                took = (step["EndTime"] - step["StartTime"]).total_seconds()
                detail = "cache hit" if step.get("CacheHitResult") else step["StepStatus"]
                self.summary.stages.append(Stage(f"pipeline step {step['StepName']}", took, detail, level=1))


_PIPELINE_POLL = ("WaitForPipeline", "DescribePipelineExecution", "PipelineStatus")  # said once per loop
_ENDPOINT_POLL = ("WaitForEndpoint", "DescribeEndpoint", "EndpointStatus")
_EXECUTION_ENDS = ("ExecutionSucceeded", "ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut")


def _history(sfn: Any, arn: str, after: int = 0) -> list[dict[str, Any]]:
    """The execution's events after the first `after` (event ids are 1, 2, ...: one call when few are new)."""
    events: list[dict[str, Any]] = []
    token = None
    while True:
        page = sfn.get_execution_history(executionArn=arn, maxResults=1000, **({"nextToken": token} if token else {}))
        events += [e for e in page["events"] if e["id"] > after]
        token = page.get("nextToken")
        if not token:
            return events


def _steps(sm: Any, arn: str) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = []
    for page in sm.get_paginator("list_pipeline_execution_steps").paginate(PipelineExecutionArn=arn):
        steps += page["PipelineExecutionSteps"]
    return steps


def _auc(output: dict[str, Any]) -> float | None:
    try:
        return float(output["Evaluation"]["Metrics"]["binary_classification_metrics"]["auc"]["value"])
    except (KeyError, TypeError, ValueError):
        return None


def _number(value: Any) -> str:
    return repr(float(value))


def _json_default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def load_preprocess() -> Any:
    """pipeline/scripts/preprocess.py as a module (its feature definitions and transformer)."""
    name = "drydock_churn_preprocess"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, PREPROCESS)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[name] = module
    return sys.modules[name]


def _quiet_sdk() -> None:
    """The SDK's INFO/WARNING chatter (image URIs, popped job names, the PipelineSession notice) is not news here."""
    for name in ("sagemaker", "sagemaker.config", "botocore.credentials", "werkzeug"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module=r"sagemaker\..*")


# --------------------------------------------------------------------------- the summary
def print_summary(console: Any, s: Summary) -> None:
    from rich.table import Table

    table = Table(title="drydock demo: stages", title_justify="left")
    table.add_column("stage")
    table.add_column("wall", justify="right")
    table.add_column("", style="dim")
    for stage in s.stages:
        table.add_row(("   " * stage.level) + stage.name, f"{stage.seconds:.1f} s", stage.detail)
    console.print(table)
    lines = [
        ("AUC (evaluation.json)", f"{s.auc:.4f}" if s.auc is not None else "—"),
        ("model package", f"version {s.model_package_version}: {s.model_package_arn}" if s.model_package_arn else "—"),
        ("endpoint", f"{s.endpoint} on {s.endpoint_config}" if s.endpoint else "—"),
        ("sample prediction", f"churn probability {s.sample[1]:.3f} for the first test customer "
                              f"({s.sample[0].count(',') + 1} features: {s.sample[0][:48]}…)" if s.sample else "—"),
    ]
    if s.features:
        lines.append(("feature store", s.features))
    drift = s.drift.get("drifted")
    if drift:
        hit = sorted({v["feature_name"] for v in drift["violations"]})
        lines.append(("drift check", f"{s.drift['clean']['status']} on normal traffic "
                                     f"({len(s.drift['clean']['violations'])} violations); {drift['status']} after "
                                     f"drifted traffic: {len(drift['violations'])} violations on {', '.join(hit)}"))
    for run in s.runs:
        lines.append((f"execution history ({run.trigger})", f"{run.history_path}  [{run.status}]"))
    for name, path in s.files.items():
        lines.append((name.replace("_", " ") + " plot", str(path)))
    lines.append(("wall time", f"{s.wall:.1f} s"))
    for label, value in lines:
        console.print(f"[bold]{label:>28}[/]  {value}")
    console.print("[bold green]the loop closed: drift retrained and redeployed the model[/]" if s.ok else
                  "[bold red]the loop did not close[/]")
