#!/usr/bin/env python3
"""SageMaker jobs, endpoints and pipelines: what drydock costs beyond the user's own code.

1. The same small training job (the churn pipeline's `train.py` on fixture features) through the job runtime
   on the `process` and the `docker` backends. Overhead = the job's wall time (download, container, upload)
   minus the bare script: `python train.py` on the host with the same inputs, measured separately; the variants
   run in interleaved rounds and the overhead is the median of the per-round differences (a shared machine's
   load comes and goes by the second). The process backend's overhead is also given in CPU seconds (this
   thread plus the job's process, against the bare script's process), which others' load does not move.
   For Docker also a plain `docker run` of the same script in the same
   image, to separate the engine's share from drydock's. Targets: process overhead < 1 s, Docker < 10 s.
2. InvokeEndpoint p50/p99 through boto3 in-process for a small XGBoost model, served in-process (target
   p50 < 10 ms) and, unless --skip-docker, by `serve` in the XGBoost image (DRYDOCK_BACKEND=docker).
3. The churn pipeline (5 steps: Preprocess, Train, Evaluate, CheckAuc, Register; built with the SageMaker SDK v2)
   re-run through drydock's Pipelines executor with every cacheable step a cache hit. Target < 2 s.

Usage: benchmarks/jobs.py [--runs 5] [--invocations 1000] [--skip-docker] [--training-only]
(--training-only: part 1 alone, the quick check of the job overhead)
"""
from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import resource
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from statistics import median
from typing import Any, Callable

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "unit" / "sagemaker"))  # job_requests, pipeline_kit: the tests' builders

TRAIN_ROWS = 2000
HYPERPARAMETERS = {"max_depth": 4, "eta": 0.2, "num_round": 50}
PROCESS_TARGET, DOCKER_TARGET, INVOKE_P50_TARGET_MS, CACHED_PIPELINE_TARGET = 1.0, 10.0, 10.0, 2.0
BUCKET = "drydock-benchmarks"


# --------------------------------------------------------------------------- 1. training jobs
class TrainingBench:
    """The churn features in (moto) S3 and on disk, and the one training request every run copies."""

    def __init__(self, s3: Any, work_dir: Path):
        from fixtures.churn import generate
        from harness.sagemaker import ProcessBackend, run_processing_job
        from job_requests import (PIPELINE_SCRIPTS, processing_request, s3_input, s3_output, upload_source_dir,
                                  upload_text)

        self.s3, self.work_dir, self.scripts = s3, work_dir, PIPELINE_SCRIPTS
        s3.put_object(Bucket="drydock-jobs", Key="raw/churn.csv",
                      Body=generate(TRAIN_ROWS, seed=7).to_csv(index=False).encode())
        code = upload_text(s3, "code/preprocess.py", (PIPELINE_SCRIPTS / "preprocess.py").read_text())
        preprocess = run_processing_job(processing_request(
            "bench-preprocess", code, inputs=[s3_input("raw", "s3://drydock-jobs/raw", "/opt/ml/processing/input")],
            outputs=[s3_output(split, f"s3://drydock-jobs/features/{split}", f"/opt/ml/processing/output/{split}")
                     for split in ("train", "validation")]), s3, ProcessBackend(), work_dir)
        assert preprocess.status == "Completed", preprocess.failure_reason
        self.channels = {split: f"s3://drydock-jobs/features/{split}" for split in ("train", "validation")}
        self.source = upload_source_dir(s3, "bench-train", {"train.py": (PIPELINE_SCRIPTS / "train.py").read_text()})
        self.host_inputs = work_dir / "bare"
        for split in self.channels:
            target = self.host_inputs / split
            target.mkdir(parents=True)
            s3.download_file("drydock-jobs", f"features/{split}/{split}.csv", str(target / f"{split}.csv"))
        self.count = 0
        self.cpu: dict[str, list[float]] = {"bare": [], "process": []}  # CPU seconds: immune to others' load

    def run_job(self, backend: Any, cpu_label: str | None = None) -> float:
        from harness.sagemaker import run_training_job
        from job_requests import channel, training_request

        self.count += 1
        request = training_request(f"bench-train-{self.count}",
                                   [channel(split, uri) for split, uri in self.channels.items()],
                                   HYPERPARAMETERS, self.source)
        cpu = _cpu_now()
        started = time.perf_counter()
        result = run_training_job(request, self.s3, backend, self.work_dir)
        seconds = time.perf_counter() - started
        if cpu_label:  # this thread (download, upload, moto, reading the logs) and the job's process
            self.cpu[cpu_label].append(_cpu_now() - cpu)
        if result.status != "Completed":
            raise RuntimeError(f"training job {result.status}: {result.failure_reason}")
        return seconds

    def args(self) -> list[str]:
        return [f"--{name}={value}" for name, value in sorted(HYPERPARAMETERS.items())]

    def run_bare(self) -> float:
        """`python train.py` on the host: the script alone, the same inputs, no platform."""
        model = Path(tempfile.mkdtemp(dir=self.work_dir))
        env = {**os.environ, "SM_MODEL_DIR": str(model), "SM_CHANNEL_TRAIN": str(self.host_inputs / "train"),
               "SM_CHANNEL_VALIDATION": str(self.host_inputs / "validation"), "PYTHONUNBUFFERED": "1"}
        cpu = _cpu_now()
        started = time.perf_counter()
        subprocess.run([sys.executable, str(self.scripts / "train.py"), *self.args()], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        seconds = time.perf_counter() - started
        self.cpu["bare"].append(_cpu_now() - cpu)
        return seconds

    def run_plain_docker(self, image: str) -> float:
        """`docker run --rm` of the same script in the image: the engine's own cost, without drydock."""
        model = Path(tempfile.mkdtemp(dir=self.work_dir))
        started = time.perf_counter()
        subprocess.run(["docker", "run", "--rm", "--network", "none", "-v", f"{self.host_inputs}:/data:ro",
                        "-v", f"{model}:/model", "-v", f"{self.scripts / 'train.py'}:/code/train.py:ro",
                        "-e", "SM_MODEL_DIR=/model", "-e", "SM_CHANNEL_TRAIN=/data/train",
                        "-e", "SM_CHANNEL_VALIDATION=/data/validation", image, "python3", "/code/train.py",
                        *self.args()], check=True, stdout=subprocess.DEVNULL)
        return time.perf_counter() - started


def _cpu_now() -> float:
    """CPU seconds of this thread plus those of the children that have ended."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.thread_time() + children.ru_utime + children.ru_stime


def interleaved(variants: dict[str, Callable[[], float]], runs: int) -> dict[str, list[float]]:
    """Each variant once to warm up (page cache, imports, the image's toolkit probe), then `runs` rounds of all
    of them in turn, so a busy spell on the machine hits every variant alike."""
    for measure in variants.values():
        measure()
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(runs):
        for name, measure in variants.items():
            samples[name].append(measure())
    return samples


# --------------------------------------------------------------------------- 2. endpoint latency
def endpoint_latency(cloud: Any, invocations: int, backend: str) -> dict[str, float]:
    import numpy as np
    import xgboost as xgb

    from harness.sagemaker import endpoints
    from job_requests import ROLE, XGBOOST_IMAGE

    s3, sm, runtime = cloud.client("s3"), cloud.client("sagemaker"), cloud.client("sagemaker-runtime")
    rng = np.random.default_rng(3)
    features = rng.normal(size=(500, 4))
    booster = xgb.train({"objective": "binary:logistic", "max_depth": 3}, xgb.DMatrix(
        features, label=(features[:, 0] > 0).astype(int)), num_boost_round=20)
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        data = bytes(booster.save_raw("json"))
        info = tarfile.TarInfo("xgboost-model")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    name = f"bench-{backend}"
    s3.put_object(Bucket=BUCKET, Key=f"{name}/model.tar.gz", Body=archive.getvalue())
    sm.create_model(ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer={
        "Image": XGBOOST_IMAGE, "ModelDataUrl": f"s3://{BUCKET}/{name}/model.tar.gz"})
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}])
    previous = os.environ.get("DRYDOCK_BACKEND")
    os.environ["DRYDOCK_BACKEND"] = backend  # read when the endpoint deploys: in-process or `serve` in Docker
    try:
        sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
        status = endpoints.active_service().region(cloud.account, cloud.region).wait(name, timeout=120)
    finally:
        if previous is None:
            os.environ.pop("DRYDOCK_BACKEND")
        else:
            os.environ["DRYDOCK_BACKEND"] = previous
    if status != "InService":
        raise RuntimeError(f"endpoint {status}: {sm.describe_endpoint(EndpointName=name).get('FailureReason')}")
    body = "\n".join(",".join(f"{v:.4f}" for v in row) for row in features[:5]).encode()
    for _ in range(50):  # warm the connection pool and the model
        runtime.invoke_endpoint(EndpointName=name, Body=body, ContentType="text/csv")["Body"].read()
    samples = []
    for _ in range(invocations):
        started = time.perf_counter()
        runtime.invoke_endpoint(EndpointName=name, Body=body, ContentType="text/csv")["Body"].read()
        samples.append(time.perf_counter() - started)
    sm.delete_endpoint(EndpointName=name)
    samples.sort()
    return {"p50": samples[len(samples) // 2], "p99": samples[min(len(samples) - 1, int(len(samples) * 0.99))],
            "n": len(samples)}


# --------------------------------------------------------------------------- 3. cached pipeline
def cached_pipeline(cloud: Any, work_dir: Path) -> dict[str, Any]:
    from fixtures.churn import generate
    from pipeline_kit import ROLE, churn_pipeline, pipeline_session, sdk_environment, steps_by_name, wait_for

    with sdk_environment(work_dir), contextlib.redirect_stdout(io.StringIO()):  # `import sagemaker` prints INFO
        logging.getLogger("sagemaker.config").setLevel(logging.WARNING)  # set by the import above; quiet it again
        cloud.client("s3").put_object(Bucket=BUCKET, Key="churn/raw/churn.csv",
                                      Body=generate(1500, seed=7).to_csv(index=False).encode())
        pipeline = churn_pipeline(pipeline_session(cloud, BUCKET), "bench-churn", BUCKET, "bench-churn-models")
        pipeline.upsert(role_arn=ROLE)
        sm = cloud.client("sagemaker")
        started = time.perf_counter()
        first = wait_for(sm, pipeline.start().arn, timeout=600)
        first_seconds = time.perf_counter() - started
        if first["PipelineExecutionStatus"] != "Succeeded":
            raise RuntimeError(f"first pipeline run {first['PipelineExecutionStatus']}: {first.get('FailureReason')}")
        started = time.perf_counter()
        execution = pipeline.start()
        again = wait_for(sm, execution.arn, timeout=600)
        seconds = time.perf_counter() - started
        steps = steps_by_name(sm, execution.arn)
    hits = sorted(name for name, step in steps.items() if "CacheHitResult" in step)
    return {"status": again["PipelineExecutionStatus"], "seconds": seconds, "first_seconds": first_seconds,
            "steps": len(steps), "hits": hits}


# --------------------------------------------------------------------------- report
def verdict(value: float, target: float, unit: str) -> str:
    return f"target < {target:g} {unit}: {'met' if value < target else 'MISSED'}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="measured rounds of the training variants (median)")
    parser.add_argument("--invocations", type=int, default=1000)
    parser.add_argument("--skip-docker", action="store_true", help="no engine or no images: process backend only")
    parser.add_argument("--training-only", action="store_true",
                        help="only the training jobs (part 1): no endpoint, no pipeline")
    args = parser.parse_args()

    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1"}.items():
        os.environ.setdefault(name, value)
    logging.getLogger("sagemaker").setLevel(logging.WARNING)  # its config INFO lines would go into the table
    from harness.cloud import LocalCloud
    from harness.network_guard import network_guard
    from harness.overlay import OVERLAY
    from harness.sagemaker import ProcessBackend

    rows: list[tuple[str, str, str]] = []
    with network_guard(), tempfile.TemporaryDirectory(prefix="drydock-bench-") as tmp:
        work_dir = Path(tmp)
        cloud = LocalCloud()
        OVERLAY.intercept_botocore(True)
        s3 = cloud.client("s3")
        for bucket in (BUCKET, "drydock-jobs"):
            s3.create_bucket(Bucket=bucket)

        bench = TrainingBench(s3, work_dir / "jobs")
        variants: dict[str, Callable[[], float]] = {"bare": bench.run_bare,
                                                    "process": lambda: bench.run_job(ProcessBackend(), "process")}
        if not args.skip_docker:
            from harness.sagemaker.backends.docker import DockerBackend
            from job_requests import XGBOOST_IMAGE

            variants["docker run"] = lambda: bench.run_plain_docker(XGBOOST_IMAGE)
            variants["docker"] = lambda: bench.run_job(DockerBackend())
        samples = interleaved(variants, args.runs)
        bare, process = samples["bare"], samples["process"]
        rows.append(("bare train.py on the host", _s(bare), _runs(bare)))
        rows.append(("training job, process backend", _s(process), _runs(process)))
        rows.append(("  process overhead (job - bare)", _overhead(process, bare),
                     _overhead_notes(process, bare, PROCESS_TARGET)))
        cpu_bare, cpu_process = bench.cpu["bare"][1:], bench.cpu["process"][1:]  # without the warm-up
        rows.append(("  process overhead in CPU time", _overhead(cpu_process, cpu_bare),
                     f"CPU s: bare {median(cpu_bare):.2f}, job {median(cpu_process):.2f} (this thread + the "
                     f"job's process); the wall figure above moves with the machine's load, this one does not"))
        if args.skip_docker:
            rows.append(("training job, docker backend", "skipped", "--skip-docker"))
        else:
            plain, docker = samples["docker run"], samples["docker"]
            rows.append(("plain `docker run` of train.py", _s(plain), _runs(plain)))
            rows.append(("training job, docker backend", _s(docker), _runs(docker)))
            rows.append(("  docker overhead (job - bare)", _overhead(docker, bare),
                         _overhead_notes(docker, bare, DOCKER_TARGET)))
            rows.append(("  of which drydock (job - docker run)", _overhead(docker, plain),
                         f"min-min {min(docker) - min(plain):+.2f} s; the toolkit's `train`, /opt/ml, S3 in and out"))

        for serving in () if args.training_only else ("process",) if args.skip_docker else ("process", "docker"):
            latency = endpoint_latency(cloud, args.invocations, serving)
            p50_ms = latency["p50"] * 1000
            rows.append((f"InvokeEndpoint p50, {serving} serving", f"{p50_ms:.2f} ms",
                         f"{latency['n']} calls; " + (verdict(p50_ms, INVOKE_P50_TARGET_MS, "ms")
                                                      if serving == "process" else "no target")))
            rows.append((f"InvokeEndpoint p99, {serving} serving", f"{latency['p99'] * 1000:.2f} ms", ""))

        if not args.training_only:
            pipeline = cached_pipeline(cloud, work_dir)
            backend = os.environ.get("DRYDOCK_BACKEND") or "process"
            rows.append((f"pipeline first run ({pipeline['steps']} steps)", f"{pipeline['first_seconds']:.2f} s",
                         f"jobs on the {backend} backend"))
            rows.append(("pipeline re-run, cache hits", f"{pipeline['seconds']:.2f} s",
                         f"{pipeline['status']}; hits: {', '.join(pipeline['hits'])}; "
                         f"{verdict(pipeline['seconds'], CACHED_PIPELINE_TARGET, 's')}"))
        OVERLAY.intercept_botocore(False)

    width = max(len(name) for name, _, _ in rows)
    print(f"{os.cpu_count()} CPUs, load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}; "
          f"training: median of {args.runs} interleaved rounds after one warm-up; overhead: median of the "
          f"per-round differences")
    print(f"{'measure':<{width}}  {'value':>10}  notes")
    for name, value, notes in rows:
        print(f"{name:<{width}}  {value:>10}  {notes}")
    return 0


def _s(samples: list[float]) -> str:
    return f"{median(samples):.2f} s"


def _runs(samples: list[float]) -> str:
    return "min {:.2f}; runs {}".format(min(samples), " ".join(f"{s:.2f}" for s in samples))


def paired(job: list[float], baseline: list[float]) -> float:
    """The median of the per-round differences: each round ran both back to back, under the same load."""
    return median(j - b for j, b in zip(job, baseline))


def _overhead(job: list[float], baseline: list[float]) -> str:
    return f"{paired(job, baseline):+.2f} s"


def _overhead_notes(job: list[float], baseline: list[float], target: float) -> str:
    return (f"min-min {min(job) - min(baseline):+.2f} s; ratio {median(job) / median(baseline):.2f}x; "
            f"{verdict(paired(job, baseline), target, 's')}")


if __name__ == "__main__":
    sys.exit(main())
