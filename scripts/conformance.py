#!/usr/bin/env python3
"""Run the recorded AWS conformance cases through drydock and score them with the referee's comparator.

Usage: scripts/conformance.py DIR [--dump OUTDIR] [--only SUBSTRING] [--verbose]

Prints pass rates per category at outcome and history level, then the contract line
`conformance: history H/NH outcome O/N skipped S`.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
import traceback
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from harness.conformance import dumps, run_case, runnable  # noqa: E402


def load_comparator(cases_dir: Path):
    for candidate in (cases_dir / "compare.py", cases_dir.parent / "compare.py",
                      REPO.parent / "shared" / "conformance" / "compare.py"):
        if candidate.is_file():
            spec = importlib.util.spec_from_file_location("conformance_compare", candidate)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module
    sys.exit("conformance: cannot find compare.py beside the cases or in ../shared/conformance")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir", type=Path)
    ap.add_argument("--dump", type=Path, help="write OUTDIR/<case file>.result.json per case")
    ap.add_argument("--only", help="run only case files whose name contains this text")
    ap.add_argument("--verbose", "-v", action="store_true", help="print the differences of failing cases")
    args = ap.parse_args(argv)
    compare = load_comparator(args.dir)
    files = sorted(p for p in args.dir.glob("*.json") if not args.only or args.only in p.name)
    if args.dump:
        args.dump.mkdir(parents=True, exist_ok=True)
    stats: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    skipped = 0
    started = time.perf_counter()
    for path in files:
        case = json.loads(path.read_text())
        category = case.get("category", "?")
        why = runnable(case)
        if why:
            skipped += 1
            stats[category]["skipped"] += 1
            continue
        try:
            result = run_case(case)
        except Exception:  # a crash is a failure of drydock, reported, never fatal to the run
            result = {"status": "CRASHED", "output": None, "error": "drydock.Crash",
                      "cause": traceback.format_exc(), "events": []}
        if args.dump:
            (args.dump / f"{path.name}.result.json").write_text(dumps(result))
        verdict = compare.compare_case(case, json.loads(dumps(result)))
        s = stats[category]
        s["run"] += 1
        s["outcome"] += bool(verdict["outcome"]["pass"])
        if verdict["history"]["pass"] is not None:
            s["with_history"] += 1
            s["history"] += bool(verdict["history"]["pass"])
        failed = not verdict["outcome"]["pass"] or verdict["history"]["pass"] is False
        if failed and args.verbose:
            print(f"FAIL {path.name}")
            for level in ("outcome", "history"):
                for d in verdict[level]["diff"][:4]:
                    if verdict[level]["pass"] is False:
                        print(f"   {level}: {d}")
    print(f"{'category':<22}{'run':>6}{'outcome':>14}{'history':>14}{'skipped':>9}")
    tot = defaultdict(int)
    for category in sorted(stats):
        s = stats[category]
        for k, v in s.items():
            tot[k] += v
        hist = f"{s['history']}/{s['with_history']}" if s["with_history"] else "-"
        print(f"{category:<22}{s['run']:>6}{s['outcome']:>9}/{s['run']:<4}{hist:>14}{s['skipped']:>9}")
    rate = lambda a, b: f"{100.0 * a / b:.1f}%" if b else "n/a"  # noqa: E731
    print(f"{'total':<22}{tot['run']:>6}{tot['outcome']:>9}/{tot['run']:<4}{tot['history']:>9}/{tot['with_history']:<4}"
          f"{skipped:>9}   outcome {rate(tot['outcome'], tot['run'])}, history {rate(tot['history'], tot['with_history'])}"
          f", {time.perf_counter() - started:.1f}s")
    print(f"conformance: history {tot['history']}/{tot['with_history']} outcome {tot['outcome']}/{tot['run']} "
          f"skipped {skipped}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
