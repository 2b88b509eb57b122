"""A `drydock serve --state-dir` subprocess that tests can kill with SIGKILL and start again on the same state."""
from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Serve:
    """One `drydock serve` on a fixed port and state directory, that can be killed and started again."""

    def __init__(self, state_dir: Path, env: dict[str, str], log: Path, *options: str):
        self.port, self.state_dir, self.env, self.log = free_port(), state_dir, env, log
        self.options = list(options)
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log.open("a") as out:
            self.process = subprocess.Popen([sys.executable, "-m", "harness.cli", "serve", "--port", str(self.port),
                                             "--state-dir", str(self.state_dir), "--idle-grace", "5", *self.options],
                                            cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        client = self.client("stepfunctions")
        deadline = time.monotonic() + 60
        while True:
            try:
                client.list_state_machines()
                return
            except Exception:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"drydock serve did not come up:\n{self.log.read_text()}")
                time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL to the server and every process it started (its job and Lambda workers): a crash."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def edit_journal(self, sql: str, params: tuple = ()) -> None:
        """Change the journal while the server is down (a damaged or tampered state directory)."""
        db = sqlite3.connect(self.state_dir / "journal.sqlite3")
        db.execute(sql, params)
        db.commit()
        db.close()

    def start_refused(self) -> subprocess.CompletedProcess:
        """Start a server on the state directory that is expected to refuse it: its exit code and output."""
        return subprocess.run([sys.executable, "-m", "harness.cli", "serve", "--port", str(free_port()),
                               "--state-dir", str(self.state_dir)], cwd=ROOT, env=self.env, capture_output=True,
                              text=True, timeout=60)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        if self.process is not None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)  # workers it left behind
            except ProcessLookupError:
                pass

    def client(self, service: str):
        return boto3.client(service, endpoint_url=self.url, region_name="us-east-1", aws_access_key_id="testing",
                            aws_secret_access_key="testing", config=Config(retries={"max_attempts": 1}))
