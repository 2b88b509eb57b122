"""Step Functions -> any AWS API (supported-services-awssdk.html): `arn:aws:states:::aws-sdk:<service>:<action>`.

Request: the API's request with member names in PascalCase, whatever the service's own casing
(`aws-sdk:sfn:sendTaskSuccess` takes `{"TaskToken", "Output"}`); a blob member gets the JSON text of
its value (a string keeps its quotes).
Response: the API's answer, member names in PascalCase, timestamps as ISO-8601 text, blobs as text
(case `services_test_aws_sdk_task_service*`: S3 GetObject's `Body` is the object's text).

Errors are `<Service>.<Exception>` with the Java SDK v2 client name of the service (`S3.NoSuchKeyException`,
`Sfn.InvalidTokenException`, `SecretsManager.SecretsManagerException` for an error the SDK does not model)
and the SDK v2 cause. An action boto3 knows but the local cloud (moto) does not implement fails with
`States.TaskFailed` "not supported locally: <service>:<action>" - never a traceback. A service or an
action the SDK does not know is no integration at all (`resolve` returns None).

`aws-sdk:sfn:*` actions go to drydock's own Step Functions (the API object given to `build_handlers`,
or the engine's task tokens), since moto does not know drydock's executions.
"""
from __future__ import annotations

import re
from typing import Any

import botocore.session
from botocore import xform_name

from asl.errors import StatesError
from asl.tasks import Resource, TaskRequest
from harness.integrations import errors
from harness.integrations.registry import Services
from harness.integrations.responses import compact, jsonable

# Step Functions' aws-sdk service names that are not boto3's
SERVICE_ALIASES = {
    "sfn": "stepfunctions", "eventbridge": "events", "cloudwatchlogs": "logs", "elasticloadbalancingv2": "elbv2",
    "elasticloadbalancing": "elb", "sagemakerruntime": "sagemaker-runtime", "sagemakergeospatial": "sagemaker-geospatial",
    "lambda": "lambda", "apigatewayv2": "apigatewayv2", "dynamodbstreams": "dynamodbstreams",
    "costexplorer": "ce", "configservice": "config", "directoryservice": "ds", "emrcontainers": "emr-containers",
    "emrserverless": "emr-serverless", "mediastoredata": "mediastore-data", "iotdata": "iot-data",
    "bedrockruntime": "bedrock-runtime", "bedrockagent": "bedrock-agent", "bedrockagentruntime": "bedrock-agent-runtime",
}
_session = botocore.session.get_session()
_AVAILABLE = set(_session.get_available_services())
_SECRET_NAME = re.compile(r"^[A-Za-z0-9/_+=.@!-]+$")


def boto_service(name: str) -> str | None:
    """The boto3 name of a Step Functions aws-sdk service name, or None when the SDK has no such service."""
    if name in SERVICE_ALIASES:
        return SERVICE_ALIASES[name]
    if name in _AVAILABLE:
        return name
    squashed = {s.replace("-", ""): s for s in _AVAILABLE}
    return squashed.get(name.lower())


def operation_name(client_or_model: Any, action: str) -> str | None:
    model = getattr(getattr(client_or_model, "meta", None), "service_model", client_or_model)
    wanted = action[:1].upper() + action[1:]
    names = {n.lower(): n for n in model.operation_names}
    return names.get(wanted.lower())


def knows(resource: Resource) -> bool:
    """Whether the SDK has this service and action (the engine fails unknown ones itself)."""
    service = boto_service(resource.service.split(":", 1)[1])
    if service is None:
        return False
    model = _session.get_service_model(service)
    return operation_name(model, resource.action) is not None


# --------------------------------------------------------------------------- casing, shape by shape
def to_request(shape: Any, value: Any) -> Any:
    """PascalCase request -> the service's member names; blobs from text."""
    if shape is None:
        return value
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        members = {name.lower(): name for name in shape.members}
        out = {}
        for key, item in value.items():
            member = members.get(key.lower(), key)
            out[member] = to_request(shape.members.get(member), item)
        return out
    if kind == "list" and isinstance(value, list):
        return [to_request(shape.member, v) for v in value]
    if kind == "map" and isinstance(value, dict):
        return {k: to_request(shape.value, v) for k, v in value.items()}
    if kind == "blob" and not isinstance(value, (bytes, bytearray)):
        # a blob member gets the JSON text of the value, quotes and all: putObject with Body "text data"
        # stores "\"text data\"" (case services_test_aws_sdk_task_service *s3_put_object_str*)
        return compact(value).encode()
    if kind == "string" and not isinstance(value, str) and value is not None and not shape.enum:
        return compact(value)
    return value


def to_response(shape: Any, value: Any) -> Any:
    """The SDK's answer with PascalCase member names (map keys untouched)."""
    if shape is None:
        return value
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        out = {}
        for key, item in value.items():
            out[key[:1].upper() + key[1:]] = to_response(shape.members.get(key), item)
        return out
    if kind == "list" and isinstance(value, list):
        return [to_response(shape.member, v) for v in value]
    if kind == "map" and isinstance(value, dict):
        return {k: to_response(shape.value, v) for k, v in value.items()}
    return value


# --------------------------------------------------------------------------- the generic handler
async def call(services: Services, request: TaskRequest) -> Any:
    sdk_name = request.resource.service.split(":", 1)[1]
    service = boto_service(sdk_name)
    action = request.resource.action
    if service is None:
        raise errors.not_supported(sdk_name, action)
    model = _session.get_service_model(service)
    operation = operation_name(model, action)
    if operation is None:
        raise errors.not_supported(sdk_name, action)
    op_model = model.operation_model(operation)
    params = request.parameters if isinstance(request.parameters, dict) else {}
    kwargs = to_request(op_model.input_shape, params) if op_model.input_shape is not None else {}
    if service == "stepfunctions":
        answer = _call_stepfunctions(services, model, operation, kwargs)
    else:
        answer = _call_cloud(services, service, sdk_name, action, operation, kwargs)
        if service == "sagemaker":  # a polling loop over wall-clock work: paced (see sagemaker.hold_poll)
            from harness.integrations.sagemaker import hold_poll

            answer = await hold_poll(services, request, operation, answer, lambda: _call_cloud(
                services, service, sdk_name, action, operation, kwargs))
    answer = jsonable(answer)
    if service == "s3":
        answer = _s3_answer(operation, answer)
    return to_response(op_model.output_shape, answer) if op_model.output_shape is not None else {}


def _call_cloud(services: Services, service: str, sdk_name: str, action: str, operation: str,
                kwargs: dict[str, Any]) -> Any:
    from botocore.exceptions import ClientError, ParamValidationError

    client = services.client(service)
    _validate(client, service, operation, kwargs, services)
    method = getattr(client, xform_name(operation))
    try:
        return method(**kwargs)
    except NotImplementedError:
        raise errors.not_supported(sdk_name, action) from None
    except ClientError as err:
        info = err.response.get("Error", {})
        if info.get("Code") in ("404", "501", "NotImplemented") and "implemented" in info.get("Message", "").lower():
            raise errors.not_supported(sdk_name, action) from None
        raise errors.v2_client_error(client, operation, err) from None
    except ParamValidationError as err:
        name = errors.sdk_service_name(client.meta.service_model.service_id)
        raise errors.v2_error(name, f"{name}Exception", str(err).replace("\n", " "), 400, services.new_id()) from None


def _validate(client: Any, service: str, operation: str, kwargs: dict[str, Any], services: Services) -> None:
    """Checks AWS makes that moto does not (so the recorded errors come out the same)."""
    if service == "secretsmanager" and operation == "CreateSecret":
        name = kwargs.get("Name")
        if isinstance(name, str) and not _SECRET_NAME.match(name):
            raise errors.v2_error("SecretsManager", "SecretsManagerException",
                                  "Invalid name. Must be a valid name containing alphanumeric characters, or any of "
                                  "the following: -/_+=.@!", 400, services.new_id())


def _s3_answer(operation: str, answer: dict[str, Any]) -> dict[str, Any]:
    """S3's answer as AWS gives it today: default encryption (SSE-S3), the checksum the SDK asked for."""
    if operation in ("GetObject", "HeadObject"):
        for key in ("ChecksumCRC32", "ChecksumCRC32C", "ChecksumSHA1", "ChecksumSHA256", "ChecksumCRC64NVME",
                    "ChecksumType"):
            answer.pop(key, None)  # only present when the request enables checksum mode
    if operation in ("GetObject", "HeadObject", "PutObject", "CopyObject", "CompleteMultipartUpload"):
        answer.setdefault("ServerSideEncryption", "AES256")
    if operation == "PutObject" and "ChecksumCRC32" in answer:
        answer.setdefault("ChecksumType", "FULL_OBJECT")
    return answer


# --------------------------------------------------------------------------- aws-sdk:sfn:*
def _call_stepfunctions(services: Services, model: Any, operation: str, kwargs: dict[str, Any]) -> Any:
    from asl.engine import ApiError

    api = services.sfn_api if services.sfn_api is not None else EngineStepFunctions(services)
    method = getattr(api, xform_name(operation), None)
    if method is None:
        raise errors.not_supported("sfn", operation[:1].lower() + operation[1:])
    try:
        return method(**kwargs)
    except ApiError as err:
        raise errors.v2_error("Sfn", errors.exception_name(err.code), err.message, 400, services.new_id()) from None
    except Exception as err:  # a ClientError from an API object that speaks boto3
        response = getattr(err, "response", None)
        if isinstance(response, dict) and "Error" in response:
            raise errors.v2_client_error(services.client("stepfunctions"), operation, err) from None
        raise


class EngineStepFunctions:
    """The task-token and execution actions of Step Functions, answered by the engine itself."""

    def __init__(self, services: Services):
        self.services = services

    @property
    def engine(self) -> Any:
        if self.services.engine is None:
            raise StatesError("States.TaskFailed", "not supported locally: sfn (no engine is bound to the integrations)")
        return self.services.engine

    def _token(self, token: str) -> None:
        from asl.engine import ApiError

        if token not in self.engine.tokens:
            raise ApiError("InvalidToken", "Invalid Token: 'Invalid token'")

    def send_task_success(self, taskToken: str, output: str) -> dict[str, Any]:
        self._token(taskToken)
        self.engine.send_task_success(taskToken, output)
        return {}

    def send_task_failure(self, taskToken: str, error: str | None = None, cause: str | None = None) -> dict[str, Any]:
        self._token(taskToken)
        self.engine.send_task_failure(taskToken, error, cause)
        return {}

    def send_task_heartbeat(self, taskToken: str) -> dict[str, Any]:
        self._token(taskToken)
        self.engine.send_task_heartbeat(taskToken)
        return {}

    def start_execution(self, stateMachineArn: str, input: str = "{}", name: str | None = None,
                        **_: Any) -> dict[str, Any]:
        if self.services.start_execution is None:
            raise StatesError("States.TaskFailed", "not supported locally: sfn:startExecution (no state machine store)")
        ex = self.services.start_execution(stateMachineArn, input, name)
        from asl.clock import to_datetime
        from harness.integrations.responses import iso_timestamp

        return {"executionArn": ex.arn, "startDate": iso_timestamp(to_datetime(ex.start))}

    def describe_execution(self, executionArn: str, **_: Any) -> dict[str, Any]:
        from asl.engine import ApiError
        from harness.integrations.states import describe

        ex = self.engine.executions.get(executionArn)
        if ex is None:
            raise ApiError("ExecutionDoesNotExist", f"Execution Does Not Exist: '{executionArn}'")
        return {k[:1].lower() + k[1:]: v for k, v in describe(ex, parse=False).items()}

    def stop_execution(self, executionArn: str, error: str | None = None, cause: str | None = None) -> dict[str, Any]:
        from asl.engine import ApiError

        ex = self.engine.executions.get(executionArn)
        if ex is None:
            raise ApiError("ExecutionDoesNotExist", f"Execution Does Not Exist: '{executionArn}'")
        self.engine.stop_execution(ex, error, cause)
        from asl.clock import to_datetime
        from harness.integrations.responses import iso_timestamp

        return {"stopDate": iso_timestamp(to_datetime(ex.stop))}
