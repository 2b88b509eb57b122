"""botocore's model of the SageMaker API, loaded once: the shapes drydock's answers and checks follow."""
from __future__ import annotations

import functools
from typing import Any

import botocore.session


@functools.cache
def model() -> Any:
    return botocore.session.get_session().get_service_model("sagemaker")


@functools.cache
def output_members(operation: str) -> frozenset[str]:
    """The members of an operation's answer (what a Describe* echoes from its request)."""
    return frozenset(model().operation_model(operation).output_shape.members)


@functools.cache
def shape_members(shape: str) -> frozenset[str]:
    """The members of a named shape (TrainingJobSummary, ModelPackageSummary, ...)."""
    return frozenset(model().shape_for(shape).members)
