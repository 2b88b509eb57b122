"""One execution on a fresh in-process local cloud: the engine wired to drydock's service integrations.

Used by `drydock run` and by tests that want the whole local cloud without a server.
"""
from __future__ import annotations

from typing import Any

from asl.engine import Engine, Execution
from asl.tasks import HandlerTable, TaskHandlers


def local_handlers(mocks: Any = None) -> tuple[TaskHandlers, Any]:
    """The integrations over an in-process LocalCloud (with a `harness.mock_config.MockConfig`'s mocks), or an
    empty table where they are not built."""
    try:
        from harness.cloud import LocalCloud
        from harness.integrations import build_handlers
    except ImportError:
        return HandlerTable(), None
    cloud = LocalCloud()
    return build_handlers(cloud, mocks=mocks), cloud


def run_locally(definition: dict[str, Any], input_text: str = "{}", *, name: str | None = None,
                seed: int = 0) -> Execution:
    handlers, cloud = local_handlers()
    engine = Engine(handlers, seed=seed, region=getattr(cloud, "region", "us-east-1"),
                    account=getattr(cloud, "account", "123456789012"))
    execution = engine.start(definition, input_text, name=name)
    return engine.run_to_completion(execution)
