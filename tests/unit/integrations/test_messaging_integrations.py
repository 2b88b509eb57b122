"""sqs:sendMessage, sns:publish, events:putEvents and dynamodb:* against the in-process cloud."""
from __future__ import annotations

import json

from integration_kit import details, events_of, task


def queue(cloud, name: str = "q") -> tuple[str, str]:
    sqs = cloud.client("sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def received(cloud, url: str) -> list[str]:
    answer = cloud.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    return [m["Body"] for m in answer.get("Messages", [])]


# --------------------------------------------------------------------------- SQS
def test_send_message_shape_and_delivery(runner, cloud) -> None:
    url, _ = queue(cloud)
    ex = runner.run(task("arn:aws:states:::sqs:sendMessage", {"QueueUrl": url, "MessageBody": {"a": 1}}))
    assert ex.status == "SUCCEEDED", ex.cause
    out = ex.output
    assert set(out) == {"MD5OfMessageBody", "MessageId", "SdkHttpMetadata", "SdkResponseMetadata"}
    assert out["SdkHttpMetadata"]["HttpHeaders"]["Content-Length"] == "106"  # {"MD5OfMessageBody":..,"MessageId":..}
    assert out["SdkHttpMetadata"]["HttpHeaders"]["Content-Type"] == "application/x-amz-json-1.0"
    assert received(cloud, url) == ['{"a":1}']  # a JSON body travels as its JSON text


def test_missing_body_and_unreachable_queue(runner, cloud) -> None:
    url, _ = queue(cloud)
    missing = runner.run(task("arn:aws:states:::sqs:sendMessage", {"QueueUrl": url, "MessageBody": None}))
    assert missing.error == "SQS.AmazonSQSException"
    assert missing.cause.startswith("The request must contain the parameter MessageBody. (Service: AmazonSQS; "
                                    "Status Code: 400; Error Code: MissingParameter; Request ID: ")
    nowhere = runner.run(task("arn:aws:states:::sqs:sendMessage",
                              {"QueueUrl": "http://no-such-queue-1234", "MessageBody": "x"}))
    assert (nowhere.error, nowhere.cause) == ("SQS.SdkClientException", "Unable to execute HTTP request: "
                                              "no-such-queue-1234: Name or service not known")


def test_wait_for_task_token_through_a_queue(runner, cloud) -> None:
    url, _ = queue(cloud)
    definition = task("arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                      {"QueueUrl": url, "MessageBody": {"token.$": "$$.Task.Token"}})
    engine = runner.engine_for()
    ex = engine.start(definition, "{}")
    engine.run(until=lambda: bool(events_of(ex, "TaskSubmitted")))
    token = json.loads(received(cloud, url)[0])["token"]
    engine.send_task_success(token, '{"done": true}')
    engine.run_to_completion(ex)
    assert (ex.status, ex.output) == ("SUCCEEDED", {"done": True})
    submitted = details(events_of(ex, "TaskSubmitted")[0])
    assert submitted["resource"] == "sendMessage.waitForTaskToken" and "MessageId" in json.loads(submitted["output"])


# --------------------------------------------------------------------------- SNS
def test_publish_delivers_to_an_sqs_subscription(runner, cloud) -> None:
    url, arn = queue(cloud)
    sns = cloud.client("sns")
    topic = sns.create_topic(Name="t")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    ex = runner.run(task("arn:aws:states:::sns:publish", {"TopicArn": topic, "Message": {"hello": "world"}}))
    assert ex.status == "SUCCEEDED", ex.cause
    assert ex.output["SdkHttpMetadata"]["HttpHeaders"]["Content-Length"] == "294"  # the XML answer of Publish
    assert ex.output["SdkHttpMetadata"]["HttpHeaders"]["Content-Type"] == "text/xml"
    notification = json.loads(received(cloud, url)[0])
    assert notification["Type"] == "Notification" and notification["Message"] == '{"hello":"world"}'
    assert notification["MessageId"] == ex.output["MessageId"]


def test_publish_to_a_missing_topic(runner) -> None:
    ex = runner.run(task("arn:aws:states:::sns:publish",
                         {"TopicArn": "arn:aws:sns:us-east-1:123456789012:nope", "Message": "x"}))
    assert ex.error.startswith("SNS.") and "(Service: AmazonSNS; Status Code: 404" in ex.cause


def test_publish_never_posts_outside_loopback(runner, cloud, monkeypatch) -> None:
    import urllib.request

    posted: list[str] = []
    monkeypatch.setattr(urllib.request, "urlopen", lambda req, timeout=None: posted.append(req.full_url))
    sns = cloud.client("sns")
    topic = sns.create_topic(Name="t")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="https", Endpoint="https://example.com/hook")
    ex = runner.run(task("arn:aws:states:::sns:publish", {"TopicArn": topic, "Message": "x"}))
    assert ex.status == "SUCCEEDED" and posted == []


# --------------------------------------------------------------------------- EventBridge
def test_put_events_routes_to_a_rule_target(runner, cloud) -> None:
    url, arn = queue(cloud)
    events = cloud.client("events")
    events.put_rule(Name="r", EventPattern=json.dumps({"source": ["my.app"]}))
    events.put_targets(Rule="r", Targets=[{"Id": "q", "Arn": arn}])
    entry = {"Source": "my.app", "DetailType": "thing", "Detail": {"n": 1}}
    ex = runner.run(task("arn:aws:states:::events:putEvents", {"Entries": [entry]}))
    assert ex.status == "SUCCEEDED", ex.cause
    assert ex.output["FailedEntryCount"] == 0 and set(ex.output["Entries"][0]) == {"EventId"}
    event = json.loads(received(cloud, url)[0])
    assert event["detail"] == {"n": 1} and event["id"] == ex.output["Entries"][0]["EventId"]


def test_put_events_failed_entry(runner) -> None:
    entries = [{"Source": "a", "DetailType": "b", "Detail": "{}"}, {"DetailType": "b", "Detail": "{}"},
               {"Source": "a", "DetailType": "b", "Detail": "\"not an object\""}]
    ex = runner.run(task("arn:aws:states:::events:putEvents", {"Entries": entries}))
    assert ex.error == "EventBridge.FailedEntry"
    cause = json.loads(ex.cause)
    assert cause["FailedEntryCount"] == 2
    assert cause["Entries"][1] == {"ErrorCode": "InvalidArgument",
                                   "ErrorMessage": "Parameter Source is not valid. Reason: Source is a required argument."}
    assert cause["Entries"][2] == {"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."}


def test_put_events_starts_a_state_machine_target(runner, cloud) -> None:
    target = f"arn:aws:states:{cloud.region}:{cloud.account}:stateMachine:target"
    runner.machines[target] = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
    events = cloud.client("events")
    events.put_rule(Name="r", EventPattern=json.dumps({"source": ["my.app"]}))
    events.put_targets(Rule="r", Targets=[{"Id": "sm", "Arn": target}])
    ex = runner.run(task("arn:aws:states:::events:putEvents",
                         {"Entries": [{"Source": "my.app", "DetailType": "d", "Detail": "{}"}]}))
    runner.engine.run()
    started = [e for e in runner.engine.executions.values() if e.state_machine_arn == target]
    assert ex.status == "SUCCEEDED" and len(started) == 1 and started[0].status == "SUCCEEDED"


# --------------------------------------------------------------------------- DynamoDB
def test_put_update_get_delete_item(runner, cloud) -> None:
    cloud.client("dynamodb").create_table(
        TableName="t", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    key = {"id": {"S": "1"}}
    definition = {"StartAt": "Put", "States": {
        "Put": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem", "ResultPath": "$.put",
                "Parameters": {"TableName": "t", "Item": {"id": {"S": "1"}, "v": {"S": "a"}}}, "Next": "Update"},
        "Update": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:updateItem", "ResultPath": "$.update",
                   "Parameters": {"TableName": "t", "Key": key, "UpdateExpression": "SET v = :v",
                                  "ExpressionAttributeValues": {":v": {"S": "b"}}, "ReturnValues": "UPDATED_NEW"},
                   "Next": "Get"},
        "Get": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:getItem", "ResultPath": "$.get",
                "Parameters": {"TableName": "t", "Key": key}, "Next": "Delete"},
        "Delete": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:deleteItem", "ResultPath": "$.delete",
                   "Parameters": {"TableName": "t", "Key": key}, "End": True}}}
    ex = runner.run(definition)
    assert ex.status == "SUCCEEDED", ex.cause
    out = ex.output
    assert out["put"]["SdkHttpMetadata"]["HttpHeaders"]["Content-Length"] == "2"  # {}
    assert out["update"]["Attributes"] == {"v": {"S": "b"}} and "ConsumedCapacity" not in out["update"]
    assert out["get"]["Item"] == {"id": {"S": "1"}, "v": {"S": "b"}}
    assert cloud.client("dynamodb").scan(TableName="t")["Count"] == 0


def test_dynamodb_missing_table(runner) -> None:
    ex = runner.run(task("arn:aws:states:::dynamodb:getItem", {"TableName": "nope", "Key": {"id": {"S": "1"}}}))
    assert ex.error == "DynamoDB.ResourceNotFoundException"
    assert "(Service: AmazonDynamoDBv2; Status Code: 400; Error Code: ResourceNotFoundException;" in ex.cause
