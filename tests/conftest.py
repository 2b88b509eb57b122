"""Every test runs with drydock's network guard on: a test that would leave the machine fails loudly."""
import pytest

from harness.network_guard import network_guard


@pytest.fixture(scope="session", autouse=True)
def _no_network():
    with network_guard():
        yield
