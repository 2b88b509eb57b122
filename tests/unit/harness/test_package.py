"""`drydock package` writes what was tested with SHA-256 hashes; `--verify` finds every byte that changed since."""
from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from harness.cli import main
from harness.package import PackageError, build, verify

ROOT = Path(__file__).resolve().parents[3]
DEFINITION_MODULE = '''"""A stand-in for the SDK's pipeline.definition(): prints the JSON pipeline.upsert would send."""
import json

print(json.dumps({"Version": "2020-12-01", "Parameters": [{"Name": "InputData", "Type": "String"}],
                  "Steps": [{"Name": "Preprocess", "Type": "Processing", "Arguments": {}}]}))
'''


def project(tmp_path: Path, *, definition: str | None = None) -> Path:
    """A copy of this project's pipeline/ (template, Lambda, scripts), with `definition.py` when given."""
    root = tmp_path / "project"
    shutil.copytree(ROOT / "pipeline", root / "pipeline",
                    ignore=shutil.ignore_patterns("__pycache__", "definition.py"))
    (root / "pipeline" / "scripts" / "__pycache__").mkdir(exist_ok=True)
    (root / "pipeline" / "scripts" / "__pycache__" / "train.cpython-312.pyc").write_bytes(b"\0")
    if definition is not None:
        (root / "pipeline" / "definition.py").write_text(definition)
    return root


def test_package_holds_template_definition_scripts_and_hashes(tmp_path):
    root = project(tmp_path, definition=DEFINITION_MODULE)
    manifest = build(root, tmp_path / "dist")
    dist = tmp_path / "dist"
    files = manifest.files
    assert {"pipeline/state_machine.yaml", "pipeline/lambdas/approval_request.py", "pipeline/scripts/train.py",
            "pipeline/scripts/preprocess.py", "pipeline/scripts/evaluate.py", "pipeline/definition.py",
            "state_machines/ChurnWorkflow.asl.json", "pipeline_definition.json"} <= set(files)
    assert not any("__pycache__" in name for name in files)
    for name, entry in files.items():  # the hash is the file's, byte for byte
        data = (dist / name).read_bytes()
        assert entry == {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data), "source": entry["source"]}
    assert (dist / "pipeline/state_machine.yaml").read_bytes() == (root / "pipeline/state_machine.yaml").read_bytes()
    assert json.loads((dist / "pipeline_definition.json").read_text())["Steps"][0]["Name"] == "Preprocess"
    assert files["pipeline_definition.json"]["source"] == "python -m pipeline.definition"
    # the definition as the template declares it: Fn::Sub's text, placeholders left for CloudFormation
    asl = (dist / "state_machines/ChurnWorkflow.asl.json").read_text()
    assert '"StartAt": "ReadInput"' in asl and "${!ApprovalTopicArn}" in asl
    written = json.loads((dist / "manifest.json").read_text())
    assert written["files"] == files and written["deploy"]["pipelineDefinition"] == "pipeline_definition.json"
    assert written["git"] == {"commit": None}  # the copy is no git checkout
    assert verify(dist, root) == []


def test_without_a_pipeline_module_the_rest_is_packaged_and_said_so(tmp_path, capsys):
    root = project(tmp_path)
    assert main(["package", "--root", str(root), "-o", str(tmp_path / "dist")]) == 0
    out = capsys.readouterr().out
    assert "note: pipeline/definition.py is not there yet: no SageMaker pipeline definition packaged" in out
    manifest = json.loads((tmp_path / "dist" / "manifest.json").read_text())
    assert "pipeline_definition.json" not in manifest["files"] and manifest["deploy"]["pipelineDefinition"] is None


def test_packaging_twice_gives_the_same_manifest(tmp_path):
    root = project(tmp_path, definition=DEFINITION_MODULE)
    first = build(root, tmp_path / "a").to_json()
    (tmp_path / "a" / "stale.txt").write_text("left over")
    assert build(root, tmp_path / "a").to_json() == first  # a previous package is replaced whole
    assert not (tmp_path / "a" / "stale.txt").exists()


def test_verify_reports_every_difference(tmp_path, capsys):
    root = project(tmp_path, definition=DEFINITION_MODULE)
    dist = tmp_path / "dist"
    build(root, dist)
    assert main(["package", "--verify", str(dist), "--root", str(root)]) == 0
    assert "is exactly what was packaged" in capsys.readouterr().out

    (dist / "pipeline/scripts/train.py").write_text("print('patched after the tests')\n")
    (dist / "pipeline/lambdas/approval_request.py").unlink()
    (dist / "pipeline/scripts/extra.py").write_text("")
    (root / "pipeline/scripts/evaluate.py").write_text("# edited since packaging\n")
    assert main(["package", "--verify", str(dist), "--root", str(root)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "  missing: pipeline/lambdas/approval_request.py"
    assert lines[1].startswith("  changed: pipeline/scripts/train.py (sha256 ")
    assert lines[2] == "  not in the manifest: pipeline/scripts/extra.py"
    assert lines[3] == "  changed since packaging: pipeline/scripts/evaluate.py (package again, and test again)"
    assert lines[-1].endswith("differs from what was tested (4 difference(s))")


def test_verify_without_sources_checks_the_package_alone(tmp_path):
    root = project(tmp_path)
    build(root, tmp_path / "dist")
    shutil.rmtree(root)
    assert verify(tmp_path / "dist", tmp_path) == []


def test_a_template_with_findings_is_not_packaged(tmp_path, capsys):
    root = project(tmp_path)
    template = root / "pipeline" / "state_machine.yaml"
    template.write_text(template.read_text().replace('"Next": "ApplyDefaults"', '"Next": "ApplyDefault"'))
    assert main(["package", "--root", str(root), "-o", str(tmp_path / "dist")]) == 1
    err = capsys.readouterr().err
    assert "has findings; fix them first" in err and "Missing 'Next' target: ApplyDefault" in err
    assert not (tmp_path / "dist").exists()


def test_a_failing_pipeline_module_stops_the_package(tmp_path):
    root = project(tmp_path, definition="raise SystemExit('no SageMaker session')\n")
    with pytest.raises(PackageError, match="failed \\(exit 1\\)"):
        build(root, tmp_path / "dist")


def test_an_unrelated_directory_is_not_overwritten(tmp_path):
    root = project(tmp_path)
    (tmp_path / "dist").mkdir()
    (tmp_path / "dist" / "notes.txt").write_text("mine")
    with pytest.raises(PackageError, match="not replacing it"):
        build(root, tmp_path / "dist")


def test_the_commit_and_uncommitted_sources_are_recorded(tmp_path):
    root = project(tmp_path)
    run = lambda *args: subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)  # noqa: E731
    run("init", "-q")
    run("-c", "user.email=t@example.com", "-c", "user.name=t", "add", ".")
    run("-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "pipeline")
    (root / "pipeline" / "scripts" / "train.py").write_text("# changed\n")
    manifest = build(root, tmp_path / "dist")
    assert len(manifest.git["commit"]) == 40 and manifest.git["dirty"] == ["pipeline/scripts/train.py"]
    assert "packaged from uncommitted changes: pipeline/scripts/train.py" in manifest.notes
