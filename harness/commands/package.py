"""`drydock package [-o dist/]`: write what was tested for AWS, with a manifest of SHA-256 hashes;
`drydock package --verify dist/`: re-hash a package and report every difference.

See `harness.package` for what a package holds and docs/deploy.md for the AWS commands that deploy it.
Exit codes: 0 written / identical, 1 findings in the template or differences in the package, 2 unusable input.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.package import MANIFEST, TEMPLATE, PackageError, build, verify

NAME = "package"
HELP = "Package what was tested (template, definitions, scripts) with SHA-256 hashes; --verify DIST checks one."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", default="dist", help="package directory (default dist/)")
    parser.add_argument("--verify", metavar="DIST", help="re-hash the package in DIST against its manifest")
    parser.add_argument("--root", default=".", help="the project directory (default: the current one)")
    parser.add_argument("--template", default=TEMPLATE, help=f"the CloudFormation template (default {TEMPLATE})")
    parser.add_argument("--pipeline-definition", metavar="FILE",
                        help="package this pipeline definition JSON instead of running `python -m pipeline.definition`")


def run(args: argparse.Namespace) -> int:
    if args.verify:
        return _verify(Path(args.verify), Path(args.root))
    try:
        manifest = build(Path(args.root), Path(args.output), template=args.template,
                         pipeline_definition=Path(args.pipeline_definition) if args.pipeline_definition else None)
    except PackageError as err:
        print(f"drydock package: {err}", file=sys.stderr)
        return 1 if "has findings" in str(err) else 2
    out = Path(args.output)
    for relative, entry in sorted(manifest.files.items()):
        print(f"  {entry['sha256'][:12]}  {relative}")
    for note in manifest.notes:
        print(f"note: {note}")
    commit = manifest.git.get("commit")
    print(f"drydock package: {len(manifest.files)} files in {out}/ ({MANIFEST}"
          f"{', from commit ' + commit[:12] if commit else ''}); before deploying: drydock package --verify {out}/")
    return 0


def _verify(dist: Path, root: Path) -> int:
    try:
        differences = verify(dist, root)
    except PackageError as err:
        print(f"drydock package: {err}", file=sys.stderr)
        return 2
    for line in differences:
        print(f"  {line}")
    if differences:
        print(f"drydock package: {dist} differs from what was tested ({len(differences)} difference(s))")
        return 1
    print(f"drydock package: {dist} is exactly what was packaged (every hash matches {MANIFEST})")
    return 0
