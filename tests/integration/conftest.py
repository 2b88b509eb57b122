"""A real `drydock serve` subprocess on a free loopback port, shared by the tests that talk to it."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.cloud import LocalCloud

ROOT = Path(__file__).resolve().parents[2]
DUMMY_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
             "AWS_DISABLE_HOST_PREFIX_INJECTION": "true"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def cli_env() -> dict[str, str]:
    """Environment for subprocesses: dummy credentials, no profile or real endpoint from the developer's shell."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return {**env, **DUMMY_ENV}


@pytest.fixture(scope="session")
def endpoint(cli_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory):
    """The URL of a `drydock serve` started for this session; its log is shown if it fails to start."""
    port = free_port()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    with log.open("w") as out:
        server = subprocess.Popen([sys.executable, "-m", "harness.cli", "serve", "--port", str(port)], cwd=ROOT,
                                  env=cli_env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"drydock serve did not start on port {port}:\n{log.read_text()}")
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture(scope="session")
def cloud(endpoint: str) -> LocalCloud:
    return LocalCloud(endpoint)
