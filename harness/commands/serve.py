"""`drydock serve`: the local AWS endpoint, with Step Functions run by drydock's engine.

One URL answers every service (`aws --endpoint-url`, `AWS_ENDPOINT_URL`, boto3's
`endpoint_url`): Step Functions by drydock, everything else by moto. Executions run on a
virtual clock by default: while one waits for a task token or an activity worker, the engine
gives outside answers `--idle-grace` wall seconds before it skips time to the next timer.

With `--state-dir DIR` nothing is lost when the process dies: every Step Functions change and history event
and the state of the other services are journaled there before they take effect (`harness.durability`),
and a `drydock serve` started again on the same directory resumes every execution where it stood.
"""
from __future__ import annotations

import argparse
import errno
import os
import sys
import time
from pathlib import Path
from typing import Any

from asl.clock import VirtualClock, WallClock
from harness.cloud import is_loopback_host

NAME = "serve"
HELP = "Serve the AWS APIs on one local endpoint: Step Functions by drydock's engine, the rest by moto."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=4566, help="port to listen on (default 4566)")
    parser.add_argument("--idle-grace", type=float, default=2.0, metavar="SECONDS",
                        help="wall seconds to wait for a task token or activity worker before skipping virtual "
                             "time to the next timer (default 2)")
    parser.add_argument("--real-time", action="store_true", help="run executions on the wall clock: waits really wait")
    parser.add_argument("--mock-config", default=os.environ.get("SFN_MOCK_CONFIG"), metavar="FILE",
                        help="Step Functions Local's MockConfigFile: StartExecution on '<stateMachineArn>#<TestCase>' "
                             "runs that test case (default: $SFN_MOCK_CONFIG, as Step Functions Local reads it)")
    parser.add_argument("--state-dir", default=os.environ.get("DRYDOCK_STATE_DIR"), metavar="DIR",
                        help="journal everything to DIR and resume from it when started again, even after kill -9 "
                             "(default: $DRYDOCK_STATE_DIR; without it nothing is kept)")
    parser.add_argument("--allow-non-loopback", action="store_true",
                        help="listen on a non-loopback address although the endpoint has no authentication")


def run(args: argparse.Namespace) -> int:
    if not is_loopback_host(args.host) and not args.allow_non_loopback:
        print(f"drydock serve: refusing to listen on {args.host}: the endpoint has no authentication, so anyone who "
              f"can reach it could create, run and read your local resources; use 127.0.0.1, or pass "
              f"--allow-non-loopback if you mean it", file=sys.stderr)
        return 2
    if args.state_dir and args.real_time:
        print("drydock serve: --state-dir resumes executions by replaying them on the virtual clock; it cannot be "
              "combined with --real-time", file=sys.stderr)
        return 2
    from harness.server import bind
    from harness.stepfunctions_api import StepFunctionsApi, install

    mocks = None
    if args.mock_config:
        from harness.mock_config import MockConfig, MockConfigError

        try:
            mocks = MockConfig.load(Path(args.mock_config))
        except (OSError, ValueError, MockConfigError) as err:
            print(f"drydock serve: cannot load the mock configuration {args.mock_config}: {err}", file=sys.stderr)
            return 2
    journal = cloud_state = None
    if args.state_dir:
        from harness.durability.cloud_state import CloudState
        from harness.durability.journal import Journal, JournalError

        try:
            journal = Journal(args.state_dir)
        except JournalError as err:
            print(f"drydock serve: --state-dir {args.state_dir}: {err}", file=sys.stderr)
            return 2
        cloud_state = CloudState(journal)
        cloud_state.install()  # before any boto3 session is made: each one takes the change listener
    api = StepFunctionsApi(idle_grace=args.idle_grace, clock=WallClock if args.real_time else _virtual_from_now,
                           journal=journal, mocks=mocks)
    try:
        server = bind(args.host, args.port, api, cloud_state)
    except OSError as err:
        api.close()
        if err.errno == errno.EADDRINUSE:
            print(f"drydock serve: port {args.port} is already in use on {args.host}; stop what holds it or pick "
                  f"another with --port", file=sys.stderr)
        else:
            print(f"drydock serve: cannot listen on {args.host}:{args.port}: {err.strerror or err}", file=sys.stderr)
        return 2
    install(api)  # task handlers calling Step Functions in-process reach this same API
    from harness.cfn.deploy import enable_s3_event_delivery

    enable_s3_event_delivery()  # buckets with EventBridge notifications reach rules that start state machines
    url = f"http://{args.host}:{args.port}"
    if is_loopback_host(args.host):  # processing and training jobs' scripts reach the local cloud here
        from harness.sagemaker.backends.process import ENDPOINT_VARIABLE

        os.environ[ENDPOINT_VARIABLE] = url
    if journal is not None and not _resume(api, journal, cloud_state):
        server.server_close()
        api.close()
        cloud_state.close(save=False)
        return 2
    clock = "wall clock" if args.real_time else f"virtual clock, idle grace {args.idle_grace:g} s"
    print(f"drydock serve: AWS APIs on {url} (Step Functions: drydock engine on a {clock}; other services: moto)")
    print(f"  try: aws --endpoint-url {url} stepfunctions list-state-machines")
    print("  (start-sync-execution and test-state need AWS_DISABLE_HOST_PREFIX_INJECTION=true: no sync- host here)",
          flush=True)
    from harness.web import serve_until_interrupted

    serve_until_interrupted(server, api.close, *([cloud_state.close] if cloud_state is not None else []))
    return 0


def _resume(api: Any, journal: Any, cloud_state: Any) -> bool:
    """Bring back what the state directory holds (the services, then every execution); False if it cannot."""
    if journal.empty:
        print(f"drydock serve: journaling to {journal.directory} (empty: nothing to resume)", flush=True)
        return True
    from harness.durability.replay import ReplayDivergence, restore

    started = time.monotonic()
    try:
        services = cloud_state.restore()
    except Exception as err:  # noqa: BLE001 - a damaged state directory: say so, start nothing
        print(f"drydock serve: cannot restore the services saved in {journal.directory}: {type(err).__name__}: {err}",
              file=sys.stderr)
        return False
    try:
        backends = restore(api.store, journal)
    except ReplayDivergence as err:
        print(f"drydock serve: {err}", file=sys.stderr)
        return False
    executions = [record.execution for backend in backends
                  for record in backend.pump.call(lambda backend=backend: list(backend.executions.values()))]
    running = sum(1 for execution in executions if not execution.done)
    print(f"drydock serve: resumed from {journal.directory} in {time.monotonic() - started:.1f} s: "
          f"{len(services)} services, {len(executions)} executions ({running} running)", flush=True)
    return True


def _virtual_from_now() -> VirtualClock:
    return VirtualClock(time.time())
