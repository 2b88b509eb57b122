"""Step Functions -> Amazon DynamoDB (connect-ddb.html): `dynamodb:getItem`, `putItem`, `updateItem`, `deleteItem`.

Request: the DynamoDB API's own fields (`TableName`, `Key`, `Item`, `UpdateExpression`,
`ConditionExpression`, `ExpressionAttributeNames`, `ExpressionAttributeValues`, `ReturnValues`, ...),
attribute values in DynamoDB JSON (`{"S": "..."}`).

Response: the API's answer (`Item`, `Attributes`, `ConsumedCapacity`, ...) with `SdkHttpMetadata` and
`SdkResponseMetadata` (case `services_test_dynamodb_task_service*`).

Errors: `DynamoDB.<Exception>` for modeled errors (`DynamoDB.ResourceNotFoundException`,
`DynamoDB.ConditionalCheckFailedException`), `DynamoDB.AmazonDynamoDBException` otherwise.
"""
from __future__ import annotations

from typing import Any

from asl.tasks import TaskRequest
from harness.integrations import errors
from harness.integrations.registry import Services, integration
from harness.integrations.responses import compact, dynamodb_metadata, jsonable

_ACTIONS = {"getItem": ("get_item", "GetItem"), "putItem": ("put_item", "PutItem"),
            "updateItem": ("update_item", "UpdateItem"), "deleteItem": ("delete_item", "DeleteItem")}


async def _run(services: Services, request: TaskRequest) -> Any:
    from botocore.exceptions import ClientError, ParamValidationError

    method, operation = _ACTIONS[request.resource.action]
    client = services.client("dynamodb")
    params = request.parameters if isinstance(request.parameters, dict) else {}
    try:
        answer = jsonable(getattr(client, method)(**params))
    except ClientError as err:
        raise errors.v1_client_error("dynamodb", client, operation, err) from None
    except ParamValidationError as err:
        raise errors.v1_error("dynamodb", "ValidationException", str(err).replace("\n", " "), 400, services.new_id(),
                              exception=None) from None
    if params.get("ReturnConsumedCapacity", "NONE") == "NONE":
        answer.pop("ConsumedCapacity", None)  # moto reports it unasked; DynamoDB only when asked
    # DynamoDB's front end spells the request-id header in lower case on GetItem answers (the newest
    # recordings: services_test_dynamodb_task_service *PUT_GET_ITEM*, *PUT_UPDATE_GET_ITEM*)
    request_id_header = "x-amzn-requestid" if operation == "GetItem" else "x-amzn-RequestId"
    return {**answer, **dynamodb_metadata(request, compact(answer), request_id_header=request_id_header)}


for _action in _ACTIONS:
    integration("dynamodb", _action)(_run)
