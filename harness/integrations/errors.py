"""Service errors as Step Functions reports them: `<Service>.<Exception>` names and SDK-style causes.

Two families, as the recordings show:

- optimized integrations (lambda, sqs, sns, dynamodb, events, states) go through the Java SDK v1:
  `Lambda.ResourceNotFoundException`, `SQS.AmazonSQSException` (an error code the SDK does not model
  becomes the service's base exception) with the cause
  `<message> (Service: AmazonSQS; Status Code: 400; Error Code: MissingParameter; Request ID: <id>; Proxy: null)`
  (cases `error_handling_test_task_service_sqs*`, `error_handling_test_task_service_lambda*`);
- aws-sdk integrations go through the Java SDK v2: `S3.NoSuchKeyException`, `Sfn.InvalidTokenException`,
  `SecretsManager.SecretsManagerException` (unmodeled), with the cause
  `<message> (Service: S3, Status Code: 404, Request ID: <id>, Extended Request ID: <id>)`, to which the
  newest recordings add ` (SDK Attempt Count: 1)` (`services_test_aws_sdk_task_service*`,
  `error_handling_test_aws_sdk*`); drydock follows the newest.
"""
from __future__ import annotations

import re
from typing import Any

from asl.errors import StatesError

# Java SDK v1 client of each optimized integration: (error prefix, service name in causes, base exception)
V1_SERVICES: dict[str, tuple[str, str, str]] = {
    "lambda": ("Lambda", "AWSLambda", "AWSLambdaException"),
    "sqs": ("SQS", "AmazonSQS", "AmazonSQSException"),
    "sns": ("SNS", "AmazonSNS", "AmazonSNSException"),
    "dynamodb": ("DynamoDB", "AmazonDynamoDBv2", "AmazonDynamoDBException"),
    "events": ("EventBridge", "AmazonEventBridge", "AmazonEventBridgeException"),
    "states": ("StepFunctions", "AWSStepFunctions", "AWSStepFunctionsException"),
    "glue": ("Glue", "AWSGlue", "AWSGlueException"),
}

_WORD = re.compile(r"[A-Z0-9]+(?![a-z])|[A-Z0-9]?[a-z0-9]+")


def sdk_service_name(service_id: str) -> str:
    """The Java SDK v2 client name of a service: 'SFN' -> 'Sfn', 'DynamoDB' -> 'DynamoDb', 'Secrets Manager' -> 'SecretsManager'."""
    words: list[str] = []
    for part in re.split(r"[^A-Za-z0-9]+", service_id):
        words.extend(_WORD.findall(part))
    return "".join(w[:1].upper() + w[1:].lower() for w in words) or service_id


def exception_name(code: str) -> str:
    return code if code.endswith("Exception") else code + "Exception"


def modeled_exception(client: Any, operation: str | None, code: str) -> str | None:
    """The SDK exception class for an error code, or None when the service model does not know the code."""
    model = client.meta.service_model
    shapes = list(getattr(model, "error_shapes", []))
    if operation:
        try:
            shapes = list(model.operation_model(operation).error_shapes) + shapes
        except Exception:  # noqa: BLE001 - an unknown operation has no modeled errors of its own
            pass
    for shape in shapes:
        aliases = {shape.name, shape.metadata.get("error", {}).get("code", shape.name)}
        if code in aliases or exception_name(code) == exception_name(shape.name):
            return exception_name(shape.name)
    return None


def request_id_of(err: Any) -> str:
    meta = getattr(err, "response", {}).get("ResponseMetadata", {})
    return meta.get("RequestId") or meta.get("HTTPHeaders", {}).get("x-amzn-requestid") or "00000000-0000-0000-0000-000000000000"


def v1_error(service: str, code: str, message: str, status: int, request_id: str, *,
             exception: str | None = None) -> StatesError:
    """An optimized integration's service error (Java SDK v1 wording)."""
    prefix, label, base = V1_SERVICES[service]
    return StatesError(f"{prefix}.{exception or base}",
                       f"{message} (Service: {label}; Status Code: {status}; Error Code: {code}; "
                       f"Request ID: {request_id}; Proxy: null)")


def v1_client_error(service: str, client: Any, operation: str, err: Any) -> StatesError:
    info = err.response.get("Error", {})
    code = info.get("Code", "Unknown")
    status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400)
    return v1_error(service, code, info.get("Message", ""), status, request_id_of(err),
                    exception=modeled_exception(client, operation, code))


def v1_client_exception(service: str, message: str) -> StatesError:
    """The SDK could not reach the service at all (a host that does not resolve)."""
    prefix = V1_SERVICES[service][0]
    return StatesError(f"{prefix}.SdkClientException", f"Unable to execute HTTP request: {message}")


def v2_client_error(client: Any, operation: str | None, err: Any) -> StatesError:
    """An aws-sdk integration's service error (Java SDK v2 wording)."""
    model = client.meta.service_model
    service = sdk_service_name(model.service_id)
    info = err.response.get("Error", {})
    code = info.get("Code", "Unknown")
    status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400)
    exception = modeled_exception(client, operation, code) or f"{service}Exception"
    return v2_error(service, exception, info.get("Message", ""), status, request_id_of(err),
                    extended=model.service_name == "s3")


def v2_error(service: str, exception: str, message: str, status: int, request_id: str, *,
             extended: bool = False) -> StatesError:
    details = f"Service: {service}, Status Code: {status}, Request ID: {request_id}"
    if extended:
        details += f", Extended Request ID: {request_id}"
    return StatesError(f"{service}.{exception}", f"{message} ({details}) (SDK Attempt Count: 1)")


def not_supported(service: str, action: str, detail: str = "") -> StatesError:
    """An action the local cloud cannot perform: a task failure that says so, never a traceback."""
    cause = f"not supported locally: {service}:{action}"
    return StatesError("States.TaskFailed", cause + (f" ({detail})" if detail else ""))
