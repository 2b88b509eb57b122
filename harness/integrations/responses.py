"""What an optimized integration's result looks like: the SDK response plus `SdkHttpMetadata`.

Step Functions' optimized integrations (lambda:invoke, sqs:sendMessage, sns:publish, dynamodb:*,
states:startExecution) answer with the Java SDK v1 response object, which carries the HTTP headers
of the call (`SdkHttpMetadata`) and the request id (`SdkResponseMetadata`). drydock reports them in
the form AWS sends them: every `AllHttpHeaders` value is a one-element list, the request id is a
UUID (derived from the execution, the state and the clock, so a run is repeatable), `Date` is the
RFC 1123 time of the call on the execution's clock, `x-amz-crc32` the CRC32 of the body and
`Content-Length` its length. (The recorded corpus replaces these volatile values with tokens;
`harness.conformance_services.normalize_volatile` applies the same replacement before scoring.)

aws-sdk integrations answer with the SDK v2 shape instead: no metadata, member names in PascalCase
and timestamps as ISO-8601 text (`jsonable`).
"""
from __future__ import annotations

import base64
import datetime as dt
import email.utils
import json
import uuid
import zlib
from decimal import Decimal
from typing import Any



JSON_1_0 = "application/x-amz-json-1.0"



def compact(value: Any) -> str:
    """JSON text without spaces, as AWS's JSON protocols put it on the wire."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def request_id(request: Any, body: str) -> str:
    """A request id that is the same for the same execution, state, time and answer."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{request.execution_arn}/{request.state_name}/{request.now()}/{body}"))


def http_date(now: float) -> str:
    return email.utils.formatdate(now, usegmt=True)


def sdk_metadata(headers: dict[str, str], rid: str) -> dict[str, Any]:
    """`SdkHttpMetadata` + `SdkResponseMetadata` for a 200 answer with these headers (Java SDK v1 shape:
    `AllHttpHeaders` maps each header to the list of its values)."""
    return {
        "SdkHttpMetadata": {"AllHttpHeaders": {k: [v] for k, v in headers.items()}, "HttpHeaders": dict(headers),
                            "HttpStatusCode": 200},
        "SdkResponseMetadata": {"RequestId": rid},
    }


def lambda_metadata(request: Any, body_length: int, version: str = "$LATEST") -> dict[str, Any]:
    rid = request_id(request, str(body_length))
    now = request.now()
    trace = f"Root=1-{int(now):08x}-{rid.replace('-', '')[:24]};Sampled=0"
    headers = {"X-Amz-Executed-Version": version, "x-amzn-Remapped-Content-Length": "0", "Connection": "keep-alive",
               "x-amzn-RequestId": rid, "Content-Length": str(body_length), "Date": http_date(now),
               "X-Amzn-Trace-Id": trace, "Content-Type": "application/json"}
    return sdk_metadata(headers, rid)


def json_service_metadata(request: Any, body: str, *, content_type: str = JSON_1_0) -> dict[str, Any]:
    """SQS (JSON protocol) and SNS (query protocol, `text/xml`) answers."""
    rid = request_id(request, body)
    headers = {"x-amzn-RequestId": rid, "connection": "keep-alive", "Content-Length": str(len(body.encode())),
               "Date": http_date(request.now()), "Content-Type": content_type}
    return sdk_metadata(headers, rid)


def dynamodb_metadata(request: Any, body: str, *, request_id_header: str = "x-amzn-RequestId") -> dict[str, Any]:
    rid = request_id(request, body)
    headers = {"Server": "Server", "Connection": "keep-alive", request_id_header: rid,
               "x-amz-crc32": str(zlib.crc32(body.encode())), "Content-Length": str(len(body.encode())),
               "Date": http_date(request.now()), "Content-Type": JSON_1_0}
    return sdk_metadata(headers, rid)


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
