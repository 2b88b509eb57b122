#!/usr/bin/env python3
"""Load: 1,000 concurrent executions through the Step Functions API of a `drydock serve` subprocess.

A small machine (a Wait, then a Map over a few items) is started N times by boto3 clients on a thread
pool, against a server on a free loopback port. With the wall clock (default) every execution really
waits, so all N are in flight at once. The script waits until none is running, then reads every
execution back: status and output, and a history that must be complete (ids 1..n without gaps, each
previousEventId earlier, one terminal event, the same count of each event type as every other run)
- no lost event. It prints executions/s (first start to last finish), the start rate, and the server's
RSS before and at its peak (psutil when installed, else /proc). Everything is bounded: one deadline for
the whole run, requests to 127.0.0.1 only, and the server is stopped at the end.

With `--state-dir DIR` (virtual clock) the server journals everything (`drydock serve --state-dir`); once
every execution is checked it is killed with SIGKILL and started again on the same directory, and the
report adds how long the restart took until it answered and whether every execution read back the same.

Usage: benchmarks/load.py [--executions 1000] [--wait 5] [--items 5] [--workers 32] [--clock wall|virtual]
                          [--state-dir DIR] [--timeout 600] [--json]
Exit code: 0 when every execution succeeded with a well-formed history, 1 otherwise.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

HOST = "127.0.0.1"
ROLE = "arn:aws:iam::123456789012:role/drydock-load"
TERMINAL = {"ExecutionSucceeded", "ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted"}


def machine(wait_seconds: int) -> dict[str, Any]:
    return {"StartAt": "Wait", "States": {
        "Wait": {"Type": "Wait", "Seconds": wait_seconds, "Next": "Fan"},
        "Fan": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 0, "ResultPath": "$.results", "Next": "Done",
                "ItemProcessor": {"StartAt": "Double", "States": {
                    "Double": {"Type": "Pass", "Parameters": {"v.$": "$", "twice.$": "States.MathAdd($, $)"},
                               "End": True}}}},
        "Done": {"Type": "Succeed"}}}


def expected_output(i: int, items: int) -> dict[str, Any]:
    values = list(range(i, i + items))
    return {"i": i, "items": values, "results": [{"v": v, "twice": 2 * v} for v in values]}


# --------------------------------------------------------------------------- the server
def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Server:
    """`drydock serve` on a free loopback port, with its RSS sampled in the background."""

    def __init__(self, clock: str, log: Path, state_dir: str | None = None):
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"})
        command = [sys.executable, "-m", "harness.cli", "serve", "--host", HOST, "--port", str(self.port)]
        if clock == "wall":
            command.append("--real-time")
        if state_dir:
            command += ["--state-dir", state_dir]
        self.log = log
        self._out = log.open("a")
        self.process = subprocess.Popen(command, cwd=REPO, env=env, stdout=self._out, stderr=subprocess.STDOUT)
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def wait_ready(self, seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"drydock serve exited:\n{self.log.read_text()}")
            try:
                socket.create_connection((HOST, self.port), timeout=0.2).close()
                self._sampler.start()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"drydock serve did not listen on {self.url} within {seconds:g} s")

    def rss(self) -> int:
        try:
            import psutil

            return psutil.Process(self.process.pid).memory_info().rss
        except ImportError:
            return _proc_status(self.process.pid, "VmRSS")
        except Exception:  # noqa: BLE001 - the process ended
            return 0

    def peak_rss(self) -> int:
        """The kernel's high-water mark when /proc has it, else the highest sample."""
        return max([_proc_status(self.process.pid, "VmHWM"), *self.samples, 0])

    def _sample(self) -> None:
        while not self._stop.wait(0.2):
            self.samples.append(self.rss())

    def stop(self) -> None:
        self._stop.set()
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self._out.close()


def _proc_status(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


# --------------------------------------------------------------------------- checks
def check_history(events: list[dict[str, Any]]) -> list[str]:
    """What is wrong with one execution's history (nothing for a complete, well-formed one)."""
    problems = []
    if [e["id"] for e in events] != list(range(1, len(events) + 1)):
        problems.append("event ids are not 1..n")
    if not all(0 <= e.get("previousEventId", 0) < e["id"] for e in events):
        problems.append("a previousEventId does not point back")
    if not events or events[0]["type"] != "ExecutionStarted":
        problems.append("the first event is not ExecutionStarted")
    terminal = [e["type"] for e in events if e["type"] in TERMINAL]
    if terminal != ["ExecutionSucceeded"] or events[-1]["type"] != "ExecutionSucceeded":
        problems.append(f"terminal events {terminal}, last {events[-1]['type'] if events else None}")
    return problems


def history(sfn: Any, arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": arn, "maxResults": 1000}
    while True:
        page = sfn.get_execution_history(**kwargs)
        events += page["events"]
        if not page.get("nextToken"):
            return events
        kwargs["nextToken"] = page["nextToken"]


def running(sfn: Any, machine_arn: str) -> int:
    count, kwargs = 0, {"stateMachineArn": machine_arn, "statusFilter": "RUNNING", "maxResults": 1000}
    while True:
        page = sfn.list_executions(**kwargs)
        count += len(page["executions"])
        if not page.get("nextToken"):
            return count
        kwargs["nextToken"] = page["nextToken"]


# --------------------------------------------------------------------------- the run
def run(args: argparse.Namespace) -> dict[str, Any]:
    import boto3
    from botocore.config import Config

    from harness.network_guard import network_guard

    deadline = time.monotonic() + args.timeout
    log = Path(args.log)
    log.parent.mkdir(parents=True, exist_ok=True)
    if log.exists():
        log.unlink()
    server = Server(args.clock, log, args.state_dir)
    report: dict[str, Any] = {"executions": args.executions, "wait_seconds": args.wait, "items": args.items,
                              "workers": args.workers, "clock": args.clock}
    try:
        server.wait_ready()
        report["rss_idle_mib"] = round(server.rss() / 2**20, 1)
        session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                        region_name="us-east-1")
        sfn = session.client("stepfunctions", endpoint_url=server.url,
                             config=Config(retries={"max_attempts": 1}, max_pool_connections=args.workers + 4,
                                           connect_timeout=10, read_timeout=60))
        with network_guard(), ThreadPoolExecutor(args.workers) as pool:
            machine_arn = sfn.create_state_machine(name="load", definition=json.dumps(machine(args.wait)),
                                                   roleArn=ROLE)["stateMachineArn"]

            def start(i: int) -> str:
                body = {"i": i, "items": list(range(i, i + args.items))}
                return sfn.start_execution(stateMachineArn=machine_arn, name=f"load-{i:05d}",
                                           input=json.dumps(body))["executionArn"]
            began = time.monotonic()
            arns = list(pool.map(start, range(args.executions)))
            started = time.monotonic()
            report["start_seconds"] = round(started - began, 2)
            report["starts_per_second"] = round(args.executions / max(started - began, 1e-9), 1)
            report["running_after_starts"] = running(sfn, machine_arn)
            while (left := running(sfn, machine_arn)) and time.monotonic() < deadline:
                time.sleep(0.25)
            finished = time.monotonic()
            if left:
                raise TimeoutError(f"{left} executions still running at the deadline ({args.timeout:g} s)")
            report["total_seconds"] = round(finished - began, 2)
            report["executions_per_second"] = round(args.executions / (finished - began), 1)
            report["rss_peak_mib"] = round(server.peak_rss() / 2**20, 1)

            def verify(indexed: tuple[int, str]) -> tuple[list[str], collections.Counter]:
                i, arn = indexed
                described = sfn.describe_execution(executionArn=arn)
                problems = []
                if described["status"] != "SUCCEEDED":
                    problems.append(f"status {described['status']} ({described.get('error')}: {described.get('cause')})")
                elif json.loads(described["output"]) != expected_output(i, args.items):
                    problems.append("unexpected output")
                events = history(sfn, arn)
                first_read[arn] = (described["status"], described.get("output"), events)
                return [f"{arn}: {p}" for p in problems + check_history(events)], \
                    collections.Counter(e["type"] for e in events)
            first_read: dict[str, Any] = {}
            checked = list(pool.map(verify, enumerate(arns)))
        report["rss_after_mib"] = round(server.rss() / 2**20, 1)
        problems = [p for found, _ in checked for p in found]
        if args.state_dir:
            server, resume_problems = restarted(server, args, log, first_read)
            report.update(resume_problems.pop())
            problems += resume_problems
        shapes = collections.Counter(tuple(sorted(counts.items())) for _, counts in checked)
        if len(shapes) > 1:
            problems.append(f"executions differ in their event counts: {len(shapes)} different shapes")
        report["events_per_execution"] = sum(checked[0][1].values()) if checked else 0
        report["events_checked"] = sum(sum(counts.values()) for _, counts in checked)
        report["problems"] = problems[:20]
        report["problem_count"] = len(problems)
        report["ok"] = not problems
        return report
    finally:
        server.stop()


def restarted(server: Server, args: argparse.Namespace, log: Path,
              first_read: dict[str, Any]) -> tuple[Server, list[Any]]:
    """Kill the journaling server with SIGKILL, start it again on its state directory, read everything back."""
    import boto3
    from botocore.config import Config

    server.process.kill()
    server.process.wait(timeout=30)
    killed = time.monotonic()
    again = Server(args.clock, log, args.state_dir)
    again.wait_ready()
    sfn = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                region_name="us-east-1").client(
        "stepfunctions", endpoint_url=again.url,
        config=Config(retries={"max_attempts": 1}, max_pool_connections=args.workers + 4, read_timeout=600))
    sfn.list_state_machines()  # answered once the journal is replayed
    resumed = time.monotonic() - killed

    def same(arn: str) -> str | None:
        described = sfn.describe_execution(executionArn=arn)
        now = (described["status"], described.get("output"), history(sfn, arn))
        return None if now == first_read[arn] else f"{arn}: reads back differently after the restart"
    with ThreadPoolExecutor(args.workers) as pool:
        problems: list[Any] = [p for p in pool.map(same, first_read) if p]
    problems.append({"resume_seconds": round(resumed, 2), "resumed_identical": len(first_read) - len(problems),
                     "journal_mib": round(sum(f.stat().st_size for f in Path(args.state_dir).iterdir()) / 2**20, 1)})
    return again, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--executions", type=int, default=1000)
    parser.add_argument("--wait", type=int, default=5, help="seconds each execution waits (default 5)")
    parser.add_argument("--items", type=int, default=5, help="items of each execution's Map (default 5)")
    parser.add_argument("--workers", type=int, default=32, help="client threads (default 32)")
    parser.add_argument("--clock", choices=("wall", "virtual"), default="wall",
                        help="wall: Waits really wait, so every execution is in flight at once (default)")
    parser.add_argument("--state-dir", help="journal to DIR (virtual clock), then kill -9 and resume from it")
    parser.add_argument("--timeout", type=float, default=600, help="deadline for the whole run, seconds")
    parser.add_argument("--log", default=str(REPO / "out" / "load-serve.log"), help="the server's output")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    if args.state_dir and args.clock != "virtual":
        parser.error("--state-dir needs --clock virtual (a journal is replayed on the virtual clock)")
    try:
        report = run(args)
    except Exception as exc:  # noqa: BLE001 - a failed run is a report, with the server's log at hand
        print(f"load: failed: {type(exc).__name__}: {exc} (server log: {args.log})", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"load: {report['executions']} executions (Wait {report['wait_seconds']} s on the {report['clock']} clock, "
              f"Map of {report['items']}), {report['workers']} client threads, drydock serve on {HOST}")
        print(f"  started in {report['start_seconds']} s ({report['starts_per_second']}/s); "
              f"{report['running_after_starts']} running at once after the starts")
        print(f"  all finished in {report['total_seconds']} s: {report['executions_per_second']} executions/s")
        print(f"  server RSS: {report['rss_idle_mib']} MiB idle, {report['rss_peak_mib']} MiB peak, "
              f"{report['rss_after_mib']} MiB after")
        print(f"  checked {report['events_checked']} events ({report['events_per_execution']} per execution): "
              + ("no lost event, every history complete" if report["ok"] else f"{report['problem_count']} problem(s)"))
        for problem in report["problems"]:
            print(f"    {problem}")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
