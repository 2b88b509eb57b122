"""Every recorded AWS execution of the conformance corpus, run through drydock and scored by the corpus comparator.

Cases that need only the interpreter run on the bare engine; cases that need services run on a fresh
in-process local cloud with their resources and workers (harness/conformance_services.py). A case
must pass at outcome and history level unless `known_failures.KNOWN_FAILURES` names it (xfail, strict:
a known failure that starts passing must leave the list). Skipped when the corpus is not beside the
repository (../shared/conformance) and DRYDOCK_CONFORMANCE does not point at it.
"""
from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from typing import Any

import pytest

from harness.conformance import dumps, run_case, runnable
from known_failures import KNOWN_FAILURES

REPO = Path(__file__).resolve().parents[2]
CORPUS = Path(os.environ.get("DRYDOCK_CONFORMANCE", REPO.parent / "shared" / "conformance"))
CASES = sorted((CORPUS / "cases").glob("*.json")) if (CORPUS / "cases").is_dir() else []


def _comparator() -> Any:
    spec = importlib.util.spec_from_file_location("corpus_compare", CORPUS / "compare.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


@pytest.fixture(scope="module")
def compare() -> Any:
    return _comparator()


def _params() -> list[Any]:
    if not CASES:
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"no conformance corpus at {CORPUS}"), id="no-corpus")]
    params = []
    for path in CASES:
        marks = []
        if path.name in KNOWN_FAILURES:
            marks.append(pytest.mark.xfail(reason=KNOWN_FAILURES[path.name], strict=True))
        params.append(pytest.param(path, marks=marks, id=path.name[:-5]))
    return params


@pytest.mark.parametrize("path", _params())
def test_case(path: Path, compare: Any) -> None:
    case = json.loads(path.read_text())
    why = runnable(case)
    if why:
        pytest.skip(why)
    verdict = compare.compare_case(case, json.loads(dumps(run_case(case))))
    problems = [f"{level}: {diff}" for level in ("outcome", "history") if verdict[level]["pass"] is False
                for diff in verdict[level]["diff"][:4]]
    assert not problems, "\n".join(problems)


def test_known_failures_name_corpus_cases() -> None:
    if not CASES:
        pytest.skip(f"no conformance corpus at {CORPUS}")
    names = {p.name for p in CASES}
    assert sorted(set(KNOWN_FAILURES) - names) == []
