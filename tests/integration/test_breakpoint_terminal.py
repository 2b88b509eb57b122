"""`drydock run --break` driven in a real terminal (tmux): pause, edit the input, step, continue."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MACHINE = {
    "StartAt": "Prepare",
    "States": {
        "Prepare": {"Type": "Pass", "Next": "Check"},
        "Check": {"Type": "Choice", "Choices": [{"Variable": "$.score", "NumericGreaterThan": 0.5, "Next": "Good"}],
                  "Default": "Bad"},
        "Good": {"Type": "Pass", "Result": "good", "End": True},
        "Bad": {"Type": "Pass", "Result": "bad", "End": True},
    },
}

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (scripts/setup-debian.sh)")


class Terminal:
    """A tmux server of our own (its own socket) running one command in a 160x50 window."""

    def __init__(self, command: str, env: dict[str, str]):
        self.socket = f"drydock-test-{os.getpid()}-{time.monotonic_ns()}"
        exports = " ".join(f"{k}={json.dumps(v)}" for k, v in env.items())
        self._tmux("new-session", "-d", "-s", "t", "-x", "160", "-y", "50",
                   f"cd {ROOT} && env {exports} {command}; echo EXIT=$?; sleep 60")

    def _tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, "-f", "/dev/null", *args], check=True,
                              capture_output=True, text=True, timeout=10).stdout

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-J", "-S", "-200", "-t", "t")

    def wait_for(self, text: str, *, count: int = 1, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if screen.count(text) >= count:
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} (x{count}) never appeared; the screen:\n{screen}")
            time.sleep(0.1)

    def type(self, keys: str) -> None:
        self._tmux("send-keys", "-t", "t", "-l", keys)
        self._tmux("send-keys", "-t", "t", "Enter")

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=10)


@pytest.fixture
def machine(tmp_path: Path) -> Path:
    path = tmp_path / "machine.json"
    path.write_text(json.dumps(MACHINE))
    return path


def _env(**extra: str) -> dict[str, str]:
    return {"PYTHONPATH": str(ROOT), "TERM": "xterm-256color", "EDITOR": "", "VISUAL": "", **extra}


def test_pause_edit_step_continue_in_a_terminal(machine: Path) -> None:
    term = Terminal(f"{sys.executable} -m harness.cli run {machine} --input '{{\"score\": 0.9}}' --break Check",
                    _env())
    try:
        screen = term.wait_for("paused before Check")
        assert '"score": 0.9' in screen
        assert "→ Prepare (Pass)" in screen and "→ Check" not in screen  # paused before it was entered
        term.wait_for("[c]ontinue, [s]tep, [e]dit input >")
        term.type("e")
        term.wait_for("new input (JSON, one line) >")
        term.type('{"score": 0.1}')
        term.wait_for('new input: {"score": 0.1}')
        term.wait_for("[e]dit input >", count=2)
        term.type("s")  # step: pause again before the next state, the Default branch now
        screen = term.wait_for("paused before Bad (Pass, step)")
        term.wait_for("[e]dit input >", count=3)
        term.type("c")
        screen = term.wait_for("EXIT=0")
        assert "→ Bad (Pass)" in screen and "→ Good" not in screen
        assert 'output: "bad"' in screen
    finally:
        term.close()


def test_edit_through_editor(machine: Path, tmp_path: Path) -> None:
    editor = tmp_path / "editor.sh"
    editor.write_text('#!/bin/sh\nprintf \'{"score": 0.75, "by": "editor"}\' > "$1"\n')
    editor.chmod(0o755)
    term = Terminal(f"{sys.executable} -m harness.cli run {machine} --input '{{\"score\": 0}}' --break Check",
                    _env(EDITOR=str(editor)))
    try:
        term.wait_for("[e]dit input >")
        term.type("e")
        term.wait_for('new input: {"score": 0.75, "by": "editor"}')
        term.wait_for("[e]dit input >", count=2)
        term.type("c")
        screen = term.wait_for("EXIT=0")
        assert "→ Good (Pass)" in screen
    finally:
        term.close()
