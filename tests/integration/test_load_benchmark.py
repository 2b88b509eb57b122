"""benchmarks/load.py stays runnable: a small load through a real `drydock serve`, every history checked."""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_small_load_completes_with_no_lost_event(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "load.py"), "--executions", "40", "--wait", "2",
                           "--items", "3", "--workers", "8", "--timeout", "120", "--json",
                           "--log", str(tmp_path / "serve.log")], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr + done.stdout
    report = json.loads(done.stdout)
    assert report["ok"] and report["problem_count"] == 0
    assert report["running_after_starts"] > 0  # the Wait held them: they were in flight together
    assert report["events_checked"] == 40 * report["events_per_execution"]
    assert report["rss_peak_mib"] > 0
