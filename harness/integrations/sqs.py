"""Step Functions -> Amazon SQS (connect-sqs.html): `sqs:sendMessage` and `sqs:sendMessage.waitForTaskToken`.

Request: `QueueUrl`, `MessageBody` (a JSON value other than a string is sent as its JSON text),
`DelaySeconds`, `MessageAttributes`, `MessageDeduplicationId`, `MessageGroupId`, `MessageSystemAttributes`.

Response: `{"MD5OfMessageBody", "MessageId", ["MD5OfMessageAttributes"], ["SequenceNumber"], "SdkHttpMetadata",
"SdkResponseMetadata"}`.

Errors (case `error_handling_test_task_service_sqs*`): a missing body is `SQS.AmazonSQSException`
(`MissingParameter`); a queue URL whose host is no SQS endpoint cannot be reached at all:
`SQS.SdkClientException` "Unable to execute HTTP request: <host>: Name or service not known".
"""
from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from asl.tasks import TaskRequest
from harness.cloud import is_loopback_host
from harness.integrations import errors
from harness.integrations.registry import Services, integration
from harness.integrations.responses import compact, json_service_metadata, jsonable

_SQS_HOST = re.compile(r"^(sqs\.[a-z0-9-]+\.amazonaws\.com(\.cn)?|([a-z0-9-]+\.)?queue\.amazonaws\.com(\.cn)?|"
                       r"sqs\.[a-z0-9-]+\.api\.aws)$")
_FIELDS = ("QueueUrl", "MessageBody", "DelaySeconds", "MessageAttributes", "MessageDeduplicationId", "MessageGroupId",
           "MessageSystemAttributes")


@integration("sqs", "sendMessage", patterns=("", "waitForTaskToken"))
async def send_message(services: Services, request: TaskRequest) -> Any:
    params = dict(request.parameters) if isinstance(request.parameters, dict) else {}
    check_queue_url(services, params.get("QueueUrl"))
    body = params.get("MessageBody")
    if body is None:
        raise errors.v1_error("sqs", "MissingParameter", "The request must contain the parameter MessageBody.", 400,
                              services.new_id())
    params["MessageBody"] = body if isinstance(body, str) else compact(body)
    answer = call(services, "send_message", "SendMessage", {k: v for k, v in params.items() if k in _FIELDS})
    # the wire order of SendMessage's answer, whose length is the Content-Length
    wire = {k: answer[k] for k in ("MD5OfMessageAttributes", "MD5OfMessageBody", "MD5OfMessageSystemAttributes",
                                   "MessageId", "SequenceNumber") if k in answer}
    return {**wire, **json_service_metadata(request, compact(wire))}


def check_queue_url(services: Services, url: Any) -> None:
    """The SDK sends the request to the queue URL's host: one that is no SQS endpoint does not resolve."""
    if not isinstance(url, str):
        return
    host = urlsplit(url).hostname or url
    endpoint_host = urlsplit(services.cloud.endpoint_url or "").hostname
    if _SQS_HOST.match(host) or is_loopback_host(host) or host == endpoint_host:
        return
    raise errors.v1_client_exception("sqs", f"{host}: Name or service not known")


def call(services: Services, method: str, operation: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    from botocore.exceptions import ClientError, ParamValidationError

    client = services.client("sqs")
    try:
        return jsonable(getattr(client, method)(**kwargs))
    except ClientError as err:
        raise errors.v1_client_error("sqs", client, operation, err) from None
    except ParamValidationError as err:
        raise errors.v1_error("sqs", "InvalidParameterValue", str(err), 400, services.new_id()) from None


def queue_url_of_arn(services: Services, arn: str) -> str:
    """arn:aws:sqs:<region>:<account>:<name> -> the queue's URL in the local cloud."""
    name = arn.rsplit(":", 1)[-1]
    return services.client("sqs").get_queue_url(QueueName=name)["QueueUrl"]
