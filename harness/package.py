"""`drydock package`: exactly what was tested, ready for AWS, with a manifest of SHA-256 content hashes.

A package holds the sources the local runs used (the `pipeline/` tree: the CloudFormation template, the
Lambda code, the SageMaker job scripts, the pipeline module), each state machine's definition as the
template declares it (`state_machines/<LogicalId>.asl.json`), and the SageMaker pipeline definition JSON
that `pipeline.upsert` would send (`pipeline_definition.json`, from `python -m pipeline.definition`).
`manifest.json` lists every file with its hash, size and source, and the git commit it came from, so that
`verify` can prove, before `aws cloudformation deploy` and `pipeline.upsert`, that what is deployed is
byte for byte what passed here. A template `drydock validate` finds anything in is not packaged.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"
FORMAT = 1
SOURCES = "pipeline"  # the tree that is deployed, relative to the project root
TEMPLATE = "pipeline/state_machine.yaml"
PIPELINE_MODULE = "pipeline.definition"
PIPELINE_DEFINITION = "pipeline_definition.json"
SKIPPED_PARTS = {"__pycache__", ".pytest_cache", ".ipynb_checkpoints"}
SKIPPED_SUFFIXES = (".pyc", ".pyo", ".swp", "~")


class PackageError(Exception):
    """Nothing was packaged (or verified): the message says why."""


@dataclass
class Manifest:
    """What a package holds: file -> {"sha256", "bytes", "source"}, and where it came from."""

    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    git: dict[str, Any] = field(default_factory=dict)
    deploy: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, "tool": "drydock package", "git": self.git, "deploy": self.deploy,
                "notes": self.notes, "files": dict(sorted(self.files.items()))}


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def build(root: Path, out: Path, *, template: str = TEMPLATE, pipeline_definition: Path | None = None,
          python: str = sys.executable) -> Manifest:
    """Write the package of the project at `root` into `out`.

    Args:
        root: the project (holds `pipeline/`).
        out: the package directory; a previous package there is replaced, any other content is refused.
        template: the CloudFormation template, relative to `root`.
        pipeline_definition: a pipeline definition JSON file to package instead of running
            `python -m pipeline.definition`.
        python: the interpreter that runs `pipeline.definition` (the one the tests ran with).

    Returns:
        The manifest, also written to `out/manifest.json`.

    Raises:
        PackageError: the template has findings, the pipeline definition cannot be produced, or `out`
            holds something that is not a package.
    """
    root, out = root.resolve(), out.resolve()
    template_path = root / template
    if not template_path.is_file():
        raise PackageError(f"no template at {template_path}")
    definitions = _checked_definitions(template_path)
    pipeline_json = _pipeline_definition(root, pipeline_definition, python)
    _prepare(out)
    manifest = Manifest()
    for source in _sources(root):
        relative = source.relative_to(root).as_posix()
        _copy(source, out / relative)
        manifest.files[relative] = _entry(out / relative, relative)
    for logical_id, text in definitions.items():
        relative = f"state_machines/{logical_id}.asl.json"
        _write(out / relative, text)
        manifest.files[relative] = _entry(out / relative, f"{template}#/Resources/{logical_id}")
    if pipeline_json is None:
        manifest.notes.append(f"{SOURCES}/definition.py is not there yet: no SageMaker pipeline definition packaged "
                              f"(`python -m {PIPELINE_MODULE}` writes it once it exists)")
    else:
        text, origin = pipeline_json
        _write(out / PIPELINE_DEFINITION, text)
        manifest.files[PIPELINE_DEFINITION] = _entry(out / PIPELINE_DEFINITION, origin)
    manifest.git = _git(root)
    if manifest.git.get("dirty"):
        manifest.notes.append("packaged from uncommitted changes: " + ", ".join(manifest.git["dirty"]))
    manifest.deploy = {"template": template, "stateMachines": sorted(definitions),
                       "pipelineDefinition": PIPELINE_DEFINITION if pipeline_json is not None else None}
    _write(out / MANIFEST, json.dumps(manifest.to_json(), indent=2) + "\n")
    return manifest


def verify(dist: Path, root: Path | None = None) -> list[str]:
    """Every difference between a package and its manifest (and, with `root`, the sources it came from).

    Returns:
        One line per difference: a file changed, missing or not in the manifest; with `root`, a source
        changed or removed since it was packaged. `[]` when the package is exactly what was tested.

    Raises:
        PackageError: `dist` has no readable manifest.
    """
    dist = dist.resolve()
    try:
        manifest = json.loads((dist / MANIFEST).read_text())
        files: dict[str, dict[str, Any]] = manifest["files"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise PackageError(f"{dist} is not a drydock package: no readable {MANIFEST} ({err})") from None
    differences = []
    for relative, entry in sorted(files.items()):
        path = dist / relative
        if not path.is_file():
            differences.append(f"missing: {relative}")
            continue
        actual = sha256(path)
        if actual != entry.get("sha256"):
            differences.append(f"changed: {relative} (sha256 {actual[:12]}..., the manifest says "
                               f"{str(entry.get('sha256'))[:12]}...)")
    for path in sorted(p for p in dist.rglob("*") if p.is_file()):
        relative = path.relative_to(dist).as_posix()
        if relative != MANIFEST and relative not in files:
            differences.append(f"not in the manifest: {relative}")
    if root is not None:
        differences += _source_drift(files, root.resolve())
    return differences


# --------------------------------------------------------------------------- parts
def _checked_definitions(template_path: Path) -> dict[str, str]:
    """Each state machine's definition as the template declares it, once `drydock validate` finds nothing."""
    from harness.cfn import load_template
    from harness.commands.validate import check_text

    text = template_path.read_text(encoding="utf-8")
    findings, checked = check_text(text, str(template_path))
    if findings:
        listed = "\n".join(f.to_text(str(template_path)) for f in findings)
        raise PackageError(f"`drydock validate {template_path}` has findings; fix them first:\n{listed}")
    if not checked:
        raise PackageError(f"{template_path} declares no state machine with an inline definition")
    template = load_template(text, str(template_path))
    found = {}
    for logical_id, resource in template.body.get("Resources", {}).items():
        properties = resource.get("Properties") or {} if isinstance(resource, dict) else {}
        if "DefinitionString" in properties:
            value = properties["DefinitionString"]
            if isinstance(value, dict) and "Fn::Sub" in value:
                value = value["Fn::Sub"][0] if isinstance(value["Fn::Sub"], list) else value["Fn::Sub"]
            found[logical_id] = value if isinstance(value, str) else json.dumps(value, indent=2)
        elif isinstance(properties.get("Definition"), dict):
            found[logical_id] = json.dumps(properties["Definition"], indent=2)
    return found


def _pipeline_definition(root: Path, given: Path | None, python: str) -> tuple[str, str] | None:
    """(JSON text, where it came from), or None when the project has no pipeline module yet."""
    if given is not None:
        text = Path(given).read_text(encoding="utf-8")
        origin = str(given)
    elif (root / SOURCES / "definition.py").is_file():
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}
        done = subprocess.run([python, "-m", PIPELINE_MODULE], cwd=root, env=env, capture_output=True, text=True,
                              timeout=600)
        if done.returncode != 0:
            tail = "\n".join(done.stderr.strip().splitlines()[-15:])
            raise PackageError(f"`python -m {PIPELINE_MODULE}` failed (exit {done.returncode}):\n{tail}")
        text, origin = done.stdout, f"python -m {PIPELINE_MODULE}"
    else:
        return None
    try:
        document = json.loads(text)
    except ValueError as err:
        raise PackageError(f"the pipeline definition from {origin} is not JSON: {err}") from None
    if not isinstance(document, dict) or "Steps" not in document:
        raise PackageError(f"the pipeline definition from {origin} is not a SageMaker pipeline definition "
                           f"(a JSON object with Steps)")
    return text, origin


def _sources(root: Path) -> list[Path]:
    base = root / SOURCES
    if not base.is_dir():
        raise PackageError(f"no {SOURCES}/ directory in {root}")
    return sorted(p for p in base.rglob("*") if p.is_file() and not (set(p.relative_to(root).parts) & SKIPPED_PARTS)
                  and not p.name.endswith(SKIPPED_SUFFIXES))


def _prepare(out: Path) -> None:
    if out.exists():
        if not out.is_dir():
            raise PackageError(f"{out} is a file, not a package directory")
        if (out / MANIFEST).is_file():
            shutil.rmtree(out)  # the previous package: replaced whole, so no stale file survives
        elif any(out.iterdir()):
            raise PackageError(f"{out} is not empty and holds no {MANIFEST}: not replacing it (pick another -o)")
    out.mkdir(parents=True, exist_ok=True)


def _copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)


def _write(target: Path, text: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")


def _entry(path: Path, source: str) -> dict[str, Any]:
    return {"sha256": sha256(path), "bytes": path.stat().st_size, "source": source}


def _git(root: Path) -> dict[str, Any]:
    """The commit the sources came from and the packaged sources that differ from it."""
    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=30)
        except OSError:
            return None
        return done.stdout if done.returncode == 0 else None
    commit = git("rev-parse", "HEAD")
    if commit is None:
        return {"commit": None}
    status = git("status", "--porcelain", "--untracked-files=all", "--", SOURCES) or ""
    dirty = sorted(line[3:] for line in status.splitlines() if line[3:] and "__pycache__" not in line)
    return {"commit": commit.strip(), "dirty": dirty}


def _source_drift(files: dict[str, dict[str, Any]], root: Path) -> list[str]:
    """Sources under `root` that no longer match what was packaged (only when `root` has the sources)."""
    if not (root / SOURCES).is_dir():
        return []
    drift = []
    for relative, entry in sorted(files.items()):
        if not relative.startswith(f"{SOURCES}/") or entry.get("source") != relative:
            continue
        path = root / relative
        if not path.is_file():
            drift.append(f"removed since packaging: {relative}")
        elif sha256(path) != entry.get("sha256"):
            drift.append(f"changed since packaging: {relative} (package again, and test again)")
    packaged = {r for r, e in files.items() if e.get("source") == r}
    for path in _sources(root):
        relative = path.relative_to(root).as_posix()
        if relative not in packaged:
            drift.append(f"added since packaging: {relative}")
    return drift
