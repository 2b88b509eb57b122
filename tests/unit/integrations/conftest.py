"""Integration tests run against moto in-process: a fresh local cloud per test, one engine per execution."""
from __future__ import annotations

import pytest

from integration_kit import Runner, fresh_cloud
from harness.cloud import LocalCloud


@pytest.fixture
def cloud() -> LocalCloud:
    return fresh_cloud()


@pytest.fixture
def runner(cloud: LocalCloud) -> Runner:
    return Runner(cloud)
