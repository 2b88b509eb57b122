"""Fuzz tests: hypothesis cases over definitions, inputs, expressions and API requests.

Each test calls `fuzz_cases.count()` once per generated case; the run ends with one line
"fuzz: N cases, M failures" (N summed over every fuzz test, M the fuzz tests that failed).
"""
from __future__ import annotations

import pytest


class Cases:
    def __init__(self) -> None:
        self.total = 0
        self.by_test: dict[str, int] = {}

    def count(self, test: str = "") -> None:
        self.total += 1
        if test:
            self.by_test[test] = self.by_test.get(test, 0) + 1


CASES = Cases()
FAILED: set[str] = set()


@pytest.fixture(scope="session")
def fuzz_cases() -> Cases:
    return CASES


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.failed and "tests/fuzz/" in report.nodeid.replace("\\", "/"):
        FAILED.add(report.nodeid)


def pytest_terminal_summary(terminalreporter) -> None:
    if CASES.total or FAILED:
        terminalreporter.write_line(f"fuzz: {CASES.total} cases, {len(FAILED)} failures")
