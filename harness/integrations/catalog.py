"""Which optimized-integration resources AWS offers, so a definition naming another one fails when it is created.

`asl.validate` checks that a Task's Resource is shaped like an ARN; AWS also refuses, at CreateStateMachine
and ValidateStateMachineDefinition, an `arn:aws:states:::<service>:<action>[.<pattern>]` it does not offer:
SCHEMA_VALIDATION_FAILED "The resource provided <arn> is not recognized. The value is not a valid resource
ARN, or the resource is not available in this region." drydock adds what to use instead: for
`sagemaker:createPipelineExecution`, `arn:aws:states:::aws-sdk:sagemaker:startPipelineExecution`.

`OFFERED` lists, per service, the actions and integration patterns of the AWS pages that document them
(integrate-optimized.html and each connect-<service>.html); services not listed there are not judged here.
aws-sdk integrations are request-response and `.waitForTaskToken` only: `.sync` is not offered for them.
"""
from __future__ import annotations

import difflib
import functools
from typing import Any

from asl.errors import SCHEMA_VALIDATION_FAILED, Diagnostic
from asl.pointer import pointer
from asl.tasks import parse_resource

_RR, _SYNC, _TOKEN = "", "sync", "waitForTaskToken"
_JOB = (_RR, _SYNC, _TOKEN)
OFFERED: dict[str, dict[str, tuple[str, ...]]] = {
    "lambda": {"invoke": (_RR, _TOKEN)},
    "sqs": {"sendMessage": (_RR, _TOKEN)},
    "sns": {"publish": (_RR, _TOKEN)},
    "dynamodb": {"getItem": (_RR,), "putItem": (_RR,), "updateItem": (_RR,), "deleteItem": (_RR,)},
    "events": {"putEvents": (_RR, _TOKEN)},
    "states": {"startExecution": (_RR, _SYNC, "sync:2", _TOKEN)},
    "glue": {"startJobRun": _JOB},
    "batch": {"submitJob": _JOB},
    "ecs": {"runTask": _JOB},
    "sagemaker": {"createEndpoint": (_RR, _TOKEN), "createEndpointConfig": (_RR, _TOKEN),
                  "createModel": (_RR, _TOKEN), "updateEndpoint": (_RR, _TOKEN),
                  "createHyperParameterTuningJob": _JOB, "createLabelingJob": _JOB, "createProcessingJob": _JOB,
                  "createTrainingJob": _JOB, "createTransformJob": _JOB},
}
# The optimized service name -> the aws-sdk one, where they differ (and the boto3 model behind it).
AWS_SDK_NAMES = {"states": ("sfn", "stepfunctions"), "events": ("eventbridge", "events")}
# Actions people reach for that the API spells otherwise.
ALIASES = {("sagemaker", "createPipelineExecution"): "startPipelineExecution",
           ("sagemaker", "runPipeline"): "startPipelineExecution",
           ("sagemaker", "startPipeline"): "startPipelineExecution",
           ("glue", "startJob"): "startJobRun"}
NOT_RECOGNIZED = ("The resource provided {arn} is not recognized. The value is not a valid resource ARN, or the "
                  "resource is not available in this region.")


def check_resources(definition: Any) -> list[Diagnostic]:
    """A finding for each Task resource AWS does not offer, in every body (Parallel branches, Map processors)."""
    findings: list[Diagnostic] = []
    if isinstance(definition, dict):
        _check_body(definition, (), findings)
    return findings


def check_resource(arn: str, location: str = "") -> Diagnostic | None:
    """The finding for one Resource ARN, or None when AWS offers it (or this catalog does not judge it)."""
    resource = parse_resource(arn)
    if resource.kind != "service":
        return None
    if resource.service.startswith("aws-sdk:"):
        if resource.pattern in ("sync", "sync:2"):
            hint = (f" AWS SDK integrations have no .{resource.pattern}: call "
                    f"arn:aws:states:::{resource.service}:{resource.action} and poll with a Wait and a Choice state.")
            return _finding(arn, hint, location)
        return None
    actions = OFFERED.get(resource.service)
    if actions is None:
        return None
    patterns = actions.get(resource.action)
    if patterns is None:
        return _finding(arn, _alternative(resource.service, resource.action, resource.pattern), location)
    if resource.pattern not in patterns:
        offered = ", ".join(f".{p}" if p else "request-response" for p in patterns)
        hint = f" {resource.service}:{resource.action} supports {offered}; .{resource.pattern} is not offered."
        return _finding(arn, hint, location)
    return None


def _check_body(body: dict[str, Any], at: tuple[str | int, ...], findings: list[Diagnostic]) -> None:
    states = body.get("States")
    if not isinstance(states, dict):
        return
    for name, state in states.items():
        if not isinstance(state, dict):
            continue
        here = (*at, "States", name)
        resource = state.get("Resource")
        if state.get("Type") == "Task" and isinstance(resource, str):
            finding = check_resource(resource, pointer(*here, "Resource"))
            if finding is not None:
                findings.append(finding)
        branches = state.get("Branches")
        for i, branch in enumerate(branches if isinstance(branches, list) else []):
            if isinstance(branch, dict):
                _check_body(branch, (*here, "Branches", i), findings)
        for key in ("ItemProcessor", "Iterator"):
            if isinstance(state.get(key), dict):
                _check_body(state[key], (*here, key), findings)


def _finding(arn: str, hint: str, location: str) -> Diagnostic:
    return Diagnostic("ERROR", SCHEMA_VALIDATION_FAILED, NOT_RECOGNIZED.format(arn=arn) + hint, location)


def _alternative(service: str, action: str, pattern: str) -> str:
    """What to use instead of an action the optimized integration does not have."""
    sdk_name, boto_name = AWS_SDK_NAMES.get(service, (service, service))
    operations = _operations(boto_name)
    wanted = ALIASES.get((service, action)) or operations.get(action.lower())
    no_sync = (" (AWS SDK integrations have no .sync: poll with a Wait and a Choice state)"
               if pattern.startswith("sync") else "")
    if wanted is not None:
        return (f" Step Functions has no optimized integration {service}:{action}; call the API through the AWS SDK "
                f"integration: arn:aws:states:::aws-sdk:{sdk_name}:{wanted}{no_sync}.")
    close = difflib.get_close_matches(action.lower(), list(operations), n=1)
    offered = ", ".join(sorted(OFFERED[service]))
    if close:
        return (f" {service} offers {offered}; for other {service} APIs use the AWS SDK integration, e.g. "
                f"arn:aws:states:::aws-sdk:{sdk_name}:{operations[close[0]]}{no_sync}.")
    return f" {service} offers {offered}."


@functools.cache
def _operations(boto_name: str) -> dict[str, str]:
    """lowercase -> camelCase action of every API operation of a service (empty when boto3 does not know it)."""
    import botocore.session

    try:
        model = botocore.session.get_session().get_service_model(boto_name)
    except Exception:  # noqa: BLE001 - an unknown service has no operations to suggest
        return {}
    return {name.lower(): name[:1].lower() + name[1:] for name in model.operation_names}
