"""Step Functions -> Amazon SNS (connect-sns.html): `sns:publish` and `sns:publish.waitForTaskToken`.

Request: `TopicArn` | `TargetArn` | `PhoneNumber`, `Message` (a JSON value other than a string is sent as
its JSON text), `Subject`, `MessageAttributes`, `MessageStructure`, `MessageGroupId`, `MessageDeduplicationId`.

Response: `{"MessageId", "SdkHttpMetadata", "SdkResponseMetadata"}` (case `local_mocking_*sns_publish*`).

Delivery to the topic's subscriptions is drydock's own (moto would try Docker for Lambda and post to
any URL): SQS queues get the notification envelope (or the raw message), Lambda functions are
invoked beside the execution with the SNS event, HTTP(S) endpoints are posted to only on loopback.
"""
from __future__ import annotations

import json
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from asl.clock import iso
from asl.tasks import TaskRequest
from harness.cloud import is_loopback_host
from harness.integrations import errors
from harness.integrations.registry import Services, integration
from harness.integrations.responses import compact, json_service_metadata, sns_publish_body

_FIELDS = ("TopicArn", "TargetArn", "PhoneNumber", "Message", "Subject", "MessageAttributes", "MessageStructure",
           "MessageGroupId", "MessageDeduplicationId")


@integration("sns", "publish", patterns=("", "waitForTaskToken"))
async def publish(services: Services, request: TaskRequest) -> Any:
    params = {k: v for k, v in (request.parameters or {}).items() if k in _FIELDS}
    message = params.get("Message")
    if message is not None and not isinstance(message, str):
        params["Message"] = compact(message)
    message_id = publish_message(services, request, params)
    return {"MessageId": message_id,
            **json_service_metadata(request, sns_publish_body(message_id), content_type="text/xml")}


def publish_message(services: Services, request: TaskRequest | None, params: dict[str, Any]) -> str:
    """Publish as SNS does and deliver to the topic's subscriptions; returns the message id."""
    from botocore.exceptions import ClientError

    client = services.client("sns")
    topic = params.get("TopicArn")
    if not topic:  # a platform endpoint or a phone number: moto records it, nothing to deliver
        try:
            return client.publish(**params)["MessageId"]
        except ClientError as err:
            raise errors.v1_client_error("sns", client, "Publish", err) from None
    if params.get("Message") is None:
        raise errors.v1_error("sns", "InvalidParameter", "Invalid parameter: Message", 400, services.new_id(),
                              exception="InvalidParameterException")
    try:
        client.get_topic_attributes(TopicArn=topic)
        subscriptions = client.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    except ClientError as err:
        raise errors.v1_client_error("sns", client, "Publish", err) from None
    message_id = services.new_id()
    now = request.now() if request is not None else 0.0
    for sub in subscriptions:
        attributes = client.get_subscription_attributes(SubscriptionArn=sub["SubscriptionArn"])["Attributes"]
        if not _accepts(attributes.get("FilterPolicy"), params):
            continue
        _deliver(services, request, sub, attributes, params, message_id, now)
    return message_id


def _accepts(policy: str | None, params: dict[str, Any]) -> bool:
    if not policy:
        return True
    try:
        from moto.sns.utils import FilterPolicyMatcher

        attributes = {k: {"Type": v.get("DataType"), "Value": v.get("StringValue", v.get("BinaryValue"))}
                      for k, v in (params.get("MessageAttributes") or {}).items()}
        return FilterPolicyMatcher(json.loads(policy), None).matches(attributes, params.get("Message"))
    except Exception:  # noqa: BLE001 - a policy we cannot evaluate lets the message through
        return True


def envelope(params: dict[str, Any], message_id: str, now: float) -> dict[str, Any]:
    """The notification document SNS hands to SQS, HTTP and Lambda subscribers."""
    doc: dict[str, Any] = {"Type": "Notification", "MessageId": message_id, "TopicArn": params["TopicArn"]}
    if params.get("Subject"):
        doc["Subject"] = params["Subject"]
    doc.update({"Message": params["Message"], "Timestamp": iso(now), "SignatureVersion": "1",
                "Signature": "EXAMPLE", "SigningCertURL": "https://sns.amazonaws.com/SimpleNotificationService.pem",
                "UnsubscribeURL": "https://sns.amazonaws.com/?Action=Unsubscribe"})
    if params.get("MessageAttributes"):
        doc["MessageAttributes"] = {k: {"Type": v.get("DataType"), "Value": v.get("StringValue", v.get("BinaryValue"))}
                                    for k, v in params["MessageAttributes"].items()}
    return doc


def _deliver(services: Services, request: TaskRequest | None, sub: dict[str, Any], attributes: dict[str, str],
             params: dict[str, Any], message_id: str, now: float) -> None:
    protocol, endpoint = sub["Protocol"], sub["Endpoint"]
    raw = attributes.get("RawMessageDelivery") == "true"
    doc = envelope(params, message_id, now)
    if protocol == "sqs":
        from harness.integrations.sqs import queue_url_of_arn

        sqs = services.client("sqs")
        kwargs: dict[str, Any] = {"QueueUrl": queue_url_of_arn(services, endpoint),
                                  "MessageBody": params["Message"] if raw else json.dumps(doc, indent=2)}
        if raw and params.get("MessageAttributes"):
            kwargs["MessageAttributes"] = params["MessageAttributes"]
        for key in ("MessageGroupId", "MessageDeduplicationId"):
            if params.get(key):
                kwargs[key] = params[key]
        sqs.send_message(**kwargs)
    elif protocol == "lambda" and request is not None:
        from harness.integrations import lambda_

        event = {"Records": [{"EventSource": "aws:sns", "EventVersion": "1.0", "EventSubscriptionArn":
                              sub["SubscriptionArn"], "Sns": doc}]}

        async def invoke() -> None:
            try:
                await lambda_.call(services, request, endpoint, event, qualifier=None)
            except Exception:  # noqa: BLE001 - a failed delivery does not fail the publish
                pass
        services.spawn(invoke())
    elif protocol in ("http", "https"):
        if not is_loopback_host(urlsplit(endpoint).hostname):
            return  # drydock never posts outside this machine
        body = json.dumps(params["Message"] if raw else doc).encode()
        post = urllib.request.Request(endpoint, data=body, method="POST",
                                      headers={"Content-Type": "text/plain; charset=UTF-8",
                                               "x-amz-sns-message-type": "Notification",
                                               "x-amz-sns-topic-arn": params["TopicArn"]})
        try:
            urllib.request.urlopen(post, timeout=5).close()  # noqa: S310 - loopback only
        except OSError:
            pass
