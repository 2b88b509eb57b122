"""What an optimized integration's result looks like: the SDK response plus `SdkHttpMetadata`.

Step Functions' optimized integrations (lambda:invoke, sqs:sendMessage, sns:publish, dynamodb:*,
states:startExecution) answer with the Java SDK v1 response object, which carries the HTTP headers
of the call (`SdkHttpMetadata`) and the request id (`SdkResponseMetadata`). drydock reports them in
the form the recorded corpus shows (`services_*`, `local_mocking_*` cases): the volatile header
values (request id, trace id, crc32, server) are the fixed tokens the recordings use, so an
execution's output is repeatable; `Date` is the ISO-8601 time of the call on the execution's clock;
`Content-Length` is the length of the real response body.

aws-sdk integrations answer with the SDK v2 shape instead: no metadata, member names in PascalCase
and timestamps as ISO-8601 text (`jsonable`).
"""
from __future__ import annotations

import base64
import datetime as dt
import json
from decimal import Decimal
from typing import Any

from asl.clock import iso

REQUEST_ID = "x-amzn-RequestId"  # corpus: "x-amzn-RequestId": "x-amzn-RequestId" (services_test_sqs_task_service)
TRACE_ID = "X-Amzn-Trace-Id"

JSON_1_0 = "application/x-amz-json-1.0"



def compact(value: Any) -> str:
    """JSON text without spaces, as AWS's JSON protocols put it on the wire."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


_BARE = {"Date", "x-amzn-RequestId", "x-amzn-requestid", "X-Amzn-Trace-Id", "x-amz-crc32"}


def sdk_metadata(headers: dict[str, str]) -> dict[str, Any]:
    """`SdkHttpMetadata` + `SdkResponseMetadata` for a 200 answer with these headers.

    `AllHttpHeaders` holds every value as a one-element list, except the headers the recordings
    show normalised to a bare token (`Date`, request and trace ids, crc32).
    """
    all_headers = {k: (v if k in _BARE else [v]) for k, v in headers.items()}
    return {
        "SdkHttpMetadata": {"AllHttpHeaders": all_headers, "HttpHeaders": dict(headers), "HttpStatusCode": 200},
        "SdkResponseMetadata": {"RequestId": "RequestId"},
    }


def lambda_metadata(now: float, body_length: int, version: str = "$LATEST") -> dict[str, Any]:
    headers = {"X-Amz-Executed-Version": version, "x-amzn-Remapped-Content-Length": "0", "Connection": "keep-alive",
               "x-amzn-RequestId": REQUEST_ID, "Content-Length": str(body_length), "Date": iso(now),
               "X-Amzn-Trace-Id": TRACE_ID, "Content-Type": "application/json"}
    return sdk_metadata(headers)


def json_service_metadata(now: float, body: str, *, content_type: str = JSON_1_0) -> dict[str, Any]:
    """SQS (JSON protocol) and SNS (query protocol, `text/xml`) answers."""
    headers = {"x-amzn-RequestId": REQUEST_ID, "connection": "keep-alive", "Content-Length": str(len(body.encode())),
               "Date": iso(now), "Content-Type": content_type}
    return sdk_metadata(headers)


def dynamodb_metadata(now: float, body: str, *, request_id_header: str = "x-amzn-RequestId") -> dict[str, Any]:
    headers = {"Server": "Server", "Connection": "keep-alive", request_id_header: request_id_header,
               "x-amz-crc32": "x-amz-crc32", "Content-Length": str(len(body.encode())), "Date": iso(now),
               "Content-Type": JSON_1_0}
    return sdk_metadata(headers)


def sns_publish_body(message_id: str) -> str:
    """The XML body of a Publish answer: its length is the Content-Length the recordings show (294)."""
    return ('<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">\n  <PublishResult>\n'
            f'    <MessageId>{message_id}</MessageId>\n  </PublishResult>\n  <ResponseMetadata>\n'
            f'    <RequestId>{"0" * 8}-0000-0000-0000-{"0" * 12}</RequestId>\n  </ResponseMetadata>\n'
            '</PublishResponse>\n')


def iso_timestamp(value: dt.datetime) -> str:
    """A timestamp as the SDK v2 integrations render it: ISO-8601, UTC, `Z`."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    value = value.astimezone(dt.timezone.utc)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        text += f".{value.microsecond // 1000:03d}"
    return text + "Z"


def jsonable(value: Any) -> Any:
    """A boto3 response value as JSON: datetimes as ISO text, bytes and streams as text."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, dt.datetime):
        return iso_timestamp(value)
    if isinstance(value, (bytes, bytearray)):
        return _text(bytes(value))
    if hasattr(value, "read"):  # StreamingBody
        return _text(value.read())
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _text(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return base64.b64encode(data).decode("ascii")
