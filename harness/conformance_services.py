"""Conformance cases that need services: resources in a fresh local cloud, workers as fibers, one execution.

The corpus README ("Resources and actions") says what to do before StartExecution: create the case's
resources in the order iam, lambda, sqs, s3, dynamodb, sns, events, activity, stepfunctions under
concrete names, substitute those names for the placeholders (longest placeholder first, as plain text)
in the definition, the input text and the resources and actions themselves, then start the execution.
Each `actions` entry is a worker - an SQS poller or an activity worker - that runs as a fiber on the
engine's scheduler, sleeping on the virtual clock between polls, and answers task tokens through the
engine, as the recording test's helper thread did against AWS.
"""
from __future__ import annotations

import io
import json
import random
import zipfile
from typing import Any

from asl.engine import ApiError, Engine
from asl.errors import DefinitionError, RUNTIME, StatesError
from asl.paths import compile_query
from asl.tasks import TaskRequest

REGION = "us-east-1"
MAX_POLLS = 900  # a worker gives up after this many empty polls (15 virtual minutes at 1 s)
KNOWN_KINDS = {"iam", "lambda", "sqs", "s3", "dynamodb", "sns", "events", "activity", "stepfunctions", "names",
               "execution_account", "note"}


def unsupported(case: dict[str, Any]) -> str | None:
    """Why a service case cannot run here, or None."""
    resources = case.get("resources")
    if resources is None:
        return "needs services but carries no resources"
    if "unsupported" in resources:
        return f"unsupported: {resources['unsupported']}"
    unknown = set(resources) - KNOWN_KINDS
    if unknown:
        return f"resources of unknown kind: {', '.join(sorted(unknown))}"
    return None


# --------------------------------------------------------------------------- substitution
def substitute_text(text: str, values: dict[str, str]) -> str:
    for placeholder in sorted(values, key=len, reverse=True):
        text = text.replace(placeholder, values[placeholder])
    return text


def substitute_value(value: Any, values: dict[str, str]) -> Any:
    """Substitute in the string values (not the keys) of a JSON value."""
    if isinstance(value, str):
        return substitute_text(value, values)
    if isinstance(value, dict):
        return {k: substitute_value(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute_value(v, values) for v in value]
    return value


# --------------------------------------------------------------------------- resources
class CaseResources:
    """Creates a case's resources in the local cloud and remembers placeholder -> concrete value."""

    def __init__(self, cloud: Any, case: dict[str, Any]):
        self.cloud = cloud
        self.case = case
        self.rng = random.Random(case.get("id", ""))
        self.values: dict[str, str] = {}
        self.queue_arns: dict[str, str] = {}
        self.state_machines: dict[str, dict[str, Any]] = {}
        self._role: str | None = None

    def uid(self) -> str:
        return "%08x" % self.rng.getrandbits(32)

    def sub(self, value: Any) -> Any:
        return substitute_value(value, self.values)

    def role(self) -> str:
        if self._role is None:
            trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal":
                     {"Service": ["lambda.amazonaws.com", "states.amazonaws.com"]}}]}
            self._role = self.cloud.client("iam").create_role(
                RoleName="conformance-exec-role", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        return self._role

    def _bind(self, entry: dict[str, Any], **concrete: str) -> None:
        for key, value in concrete.items():
            if key in entry:
                self.values[entry[key]] = value

    def create(self) -> None:
        res = self.case.get("resources") or {}
        for made_up in res.get("names", []):  # first: resource specs may contain them
            self.values[made_up["placeholder"]] = made_up["prefix"] + self.uid() + made_up.get("suffix", "")
        for kind in ("iam", "lambda", "sqs", "s3", "dynamodb", "sns", "events", "activity", "stepfunctions"):
            for entry in res.get(kind, []):
                getattr(self, f"_create_{kind}")(entry)

    def _create_iam(self, entry: dict[str, Any]) -> None:
        iam = self.cloud.client("iam")
        name = f"conformance-role-{self.uid()}"
        trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                        "Principal": {"AWS": f"arn:aws:iam::{self.cloud.account}:root"}}]}
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        iam.put_role_policy(RoleName=name, PolicyName="all", PolicyDocument=json.dumps(entry.get("policy", {})))
        self._bind(entry, placeholder_arn=arn)

    def _create_lambda(self, entry: dict[str, Any]) -> None:
        # Named as the recording tests name their functions (`f"lambda_func_{short_uid()}"`, 20 characters):
        # a value the recorder did not normalise can depend on the name's length - the Content-Length of a
        # Lambda answer that echoes its input (context_object test_result_selector: 82 bytes with a
        # 20-character name, as drydock computes it too).
        name = entry.get("name") or f"lambda_func_{self.uid()}"
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as archive:
            archive.writestr(entry["file"], entry["source"])
        out = self.cloud.client("lambda").create_function(
            FunctionName=name, Runtime=entry.get("runtime", "python3.12"), Role=self.role(), Handler=entry["handler"],
            Code={"ZipFile": buf.getvalue()}, Timeout=int(entry.get("timeout", 3)))
        self._bind(entry, placeholder_name=name, placeholder_arn=out["FunctionArn"])

    def _create_sqs(self, entry: dict[str, Any]) -> None:
        sqs = self.cloud.client("sqs")
        name = entry.get("name") or f"queue-{self.uid()}"
        url = sqs.create_queue(QueueName=name, Attributes=self.sub(entry.get("attributes", {})))["QueueUrl"]
        self.queue_arns[url] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self._bind(entry, placeholder_name=name, placeholder_url=url)

    def _create_s3(self, entry: dict[str, Any]) -> None:
        import base64

        s3 = self.cloud.client("s3")
        name = entry.get("name") or f"bucket-{self.uid()}"
        s3.create_bucket(Bucket=name)
        for obj in entry.get("objects", []):
            body = obj["body"].encode() if "body" in obj else base64.b64decode(obj["body_base64"])
            s3.put_object(Bucket=name, Key=obj["key"], Body=body)
        self._bind(entry, placeholder_name=name)

    def _create_dynamodb(self, entry: dict[str, Any]) -> None:
        ddb = self.cloud.client("dynamodb")
        name = entry.get("name") or f"table-{self.uid()}"
        kwargs: dict[str, Any] = {"TableName": name, "KeySchema": entry["key_schema"],
                                  "AttributeDefinitions": entry["attribute_definitions"],
                                  "BillingMode": entry.get("billing_mode", "PAY_PER_REQUEST")}
        if kwargs["BillingMode"] == "PROVISIONED":
            kwargs["ProvisionedThroughput"] = {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
        ddb.create_table(**kwargs)
        for item in entry.get("items", []):
            ddb.put_item(TableName=name, Item=self.sub(item))
        self._bind(entry, placeholder_name=name)

    def _create_sns(self, entry: dict[str, Any]) -> None:
        name = entry.get("name") or f"topic-{self.uid()}"
        arn = self.cloud.client("sns").create_topic(Name=name, Attributes=self.sub(entry.get("attributes", {})))["TopicArn"]
        self._bind(entry, placeholder_name=name, placeholder_arn=arn)

    def _create_events(self, entry: dict[str, Any]) -> None:
        events = self.cloud.client("events")
        rule = f"rule-{self.uid()}"
        bus = entry.get("event_bus_name", "default")
        events.put_rule(Name=rule, EventBusName=bus, EventPattern=json.dumps(self.sub(entry["event_pattern"])))
        targets = [{"Id": f"t{i}", "Arn": self.queue_arns[self.sub(t["sqs_queue_url"])]}
                   for i, t in enumerate(entry.get("targets", []))]
        if targets:
            events.put_targets(Rule=rule, EventBusName=bus, Targets=targets)

    def _create_activity(self, entry: dict[str, Any]) -> None:
        sfn = self.cloud.client("stepfunctions")
        name = entry.get("name") or f"activity-{self.uid()}"
        arn = sfn.create_activity(name=name)["activityArn"]
        if entry.get("deleted_before_start"):
            sfn.delete_activity(activityArn=arn)
        self._bind(entry, placeholder_name=name, placeholder_arn=arn)

    def _create_stepfunctions(self, entry: dict[str, Any]) -> None:
        name = f"nested-{self.uid()}"
        arn = f"arn:aws:states:{self.cloud.region}:{self.cloud.account}:stateMachine:{name}"
        if not entry.get("deleted_before_start"):
            self.state_machines[arn] = self.sub(entry["definition"])
        self._bind(entry, placeholder_arn=arn)


# --------------------------------------------------------------------------- activities
class ActivityBoard:
    """Activity tasks waiting for a worker: the part of the Step Functions API a case's workers need.

    (A stand-in until the API's own store dispatches activities; same `check`/`schedule` protocol.)
    """

    def __init__(self, cloud: Any):
        self.cloud = cloud
        self.waiting: dict[str, list[TaskRequest]] = {}

    def check(self, arn: str) -> None:
        try:
            self.cloud.client("stepfunctions").describe_activity(activityArn=arn)
        except Exception:  # noqa: BLE001 - ActivityDoesNotExist, or an ARN moto cannot parse
            raise StatesError(RUNTIME, f"The activity {arn} does not exist.") from None

    def schedule(self, request: TaskRequest) -> None:
        self.waiting.setdefault(request.resource.arn, []).append(request)

    def get_activity_task(self, arn: str, worker_name: str | None = None) -> tuple[str, str] | None:
        """GetActivityTask: the oldest waiting task of the activity (its token and input), or None."""
        queue = self.waiting.get(arn) or []
        if not queue:
            return None
        request = queue.pop(0)
        started = getattr(request, "started", None)
        if started is not None:
            started(worker_name)
        from asl.history import to_json

        return request.task_token or "", to_json(request.parameters)


# --------------------------------------------------------------------------- workers
class Worker:
    """One `actions` entry, as a fiber: poll, take a token, do the steps."""

    def __init__(self, engine: Engine, execution: Any, cloud: Any, board: ActivityBoard, action: dict[str, Any]):
        self.engine, self.execution, self.cloud, self.board, self.action = engine, execution, cloud, board, action

    async def run(self) -> None:
        action = self.action
        poll = float(action.get("poll_seconds", 1))
        polls = 0
        while not self.execution.done and polls < MAX_POLLS:
            await self.engine.scheduler.sleep(poll)
            polls += 1
            for token, document in self._take():
                await self._steps(token, document)
                if action.get("handles", "all") == "first":
                    return

    def _take(self) -> list[tuple[str, Any]]:
        action = self.action
        if action["on"] == "sqs_message":
            sqs = self.cloud.client("sqs")
            answer = sqs.receive_message(QueueUrl=action["queue_url"], MaxNumberOfMessages=10, WaitTimeSeconds=0)
            taken = []
            for message in answer.get("Messages", []):
                sqs.delete_message(QueueUrl=action["queue_url"], ReceiptHandle=message["ReceiptHandle"])
                try:
                    document = json.loads(message["Body"])
                    token = compile_query(action.get("token_path", "$.TaskToken")).get(document, {}, {})
                except (ValueError, LookupError):
                    continue
                taken.append((token, document))
            return taken
        if action["on"] == "activity_task":
            task = self.board.get_activity_task(action["activity_arn"], action.get("worker_name"))
            if task is None:
                return []
            token, input_text = task
            return [(token, json.loads(input_text))]
        return []

    async def _steps(self, token: str, document: Any) -> None:
        for step in self.action.get("steps", []):
            kind = step["do"]
            try:
                if kind == "wait":
                    await self.engine.scheduler.sleep(float(step.get("seconds", 0)))
                elif kind == "send_task_heartbeat":
                    for _ in range(int(step.get("repeat", 1))):
                        self.engine.send_task_heartbeat(token)
                elif kind == "send_task_success":
                    value = compile_query(step.get("output_path", "$")).get(document, {}, {})
                    self.engine.send_task_success(token, json.dumps(value))
                elif kind == "send_task_failure":
                    cause = step.get("cause")
                    if "cause_path" in step:
                        cause = json.dumps(compile_query(step["cause_path"]).get(document, {}, {}))
                    self.engine.send_task_failure(token, step.get("error"), cause)
            except ApiError:
                return  # the task is gone (timed out, already answered): the worker moves on


# --------------------------------------------------------------------------- the run
def fresh_cloud() -> Any:
    """A local cloud with nothing in it: moto's in-process backends, reset."""
    from moto.core.base_backend import BackendDict

    from harness.cloud import LocalCloud

    cloud = LocalCloud(region=REGION)
    BackendDict.reset()
    return cloud


def run_service_case(case: dict[str, Any]) -> dict[str, Any]:
    """Create the case's resources, run its execution with its workers; the `drydock run --json` shape."""
    from harness.conformance import jsonable_events
    from harness.integrations import build_handlers

    cloud = fresh_cloud()
    resources = CaseResources(cloud, case)
    resources.create()
    values = resources.values
    definition = json.loads(substitute_text(json.dumps(case["definition"]), values))
    input_text = substitute_text(case["input_text"], values)
    actions = substitute_value(case.get("actions") or [], values)
    board = ActivityBoard(cloud)
    engine_box: list[Engine] = []

    def start_execution(arn: str, input_text: str, name: str | None = None) -> Any:
        definition = resources.state_machines.get(arn)
        if definition is None:
            raise ApiError("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{arn}'")
        return engine_box[0].start(definition, input_text, name=name, state_machine_arn=arn)

    handlers = build_handlers(cloud, start_execution=start_execution, activities=board)
    engine = Engine(handlers, account=cloud.account, region=cloud.region)
    engine_box.append(engine)
    handlers.bind(engine)
    arn = f"arn:aws:states:{cloud.region}:{cloud.account}:stateMachine:conformance"
    try:
        execution = engine.start(definition, input_text, name="conformance", state_machine_arn=arn)
    except DefinitionError as err:
        return {"status": "INVALID_DEFINITION", "output": None, "error": "States.InvalidDefinition",
                "cause": str(err), "events": []}
    for action in actions:
        engine.scheduler.spawn(Worker(engine, execution, cloud, board, action).run(), name="worker")
    engine.run_to_completion(execution)
    result = execution.result()
    result["events"] = jsonable_events(result["events"])
    return normalize_volatile(result, case)


# The recorder replaced volatile SDK metadata with tokens, and not always the same way. Recordings of 2025
# (services_*, local_mocking_*) show LocalStack's key-name transform: a volatile header's whole value list
# becomes its name ("x-amzn-RequestId": "x-amzn-RequestId", "Date": "date") and the SDK request id becomes
# "RequestId". Recordings of 2024 (callback_*, timeouts_test_heartbeats, context_object, credentials) apply it
# to Date and X-Amzn-Trace-Id only: their request id went through the generic UUID rule instead and stays a
# UUID inside its list ("x-amzn-RequestId": ["<uuid:2>"], "RequestId": "<uuid:2>"), which drydock's UUID
# request ids match as they are. drydock answers as AWS does (lists, UUIDs, RFC 1123 dates); the runner applies
# to that answer the transform the recording shows it went through - for each volatile field, the key-name
# token if and only if the recording holds that token there - exactly as it was applied to AWS's answer.
_VOLATILE_HEADERS = {"x-amzn-RequestId": "x-amzn-RequestId", "x-amzn-requestid": "x-amzn-requestid",
                     "X-Amzn-Trace-Id": "X-Amzn-Trace-Id", "x-amz-crc32": "x-amz-crc32", "Date": "date"}
_REQUEST_ID_TOKEN = "RequestId"
_TEXT_FIELDS = ("output", "input", "result")


class RecorderTransform:
    """Which volatile SDK metadata fields the recording replaced by their key-name token."""

    def __init__(self, headers: set[tuple[str, str]], request_id: bool):
        self.headers = headers  # (AllHttpHeaders | HttpHeaders, header name)
        self.request_id = request_id

    @classmethod
    def of_case(cls, case: dict[str, Any]) -> "RecorderTransform":
        headers: set[tuple[str, str]] = set()
        request_id = False

        def walk(value: Any) -> None:
            nonlocal request_id
            if isinstance(value, dict):
                metadata = value.get("SdkHttpMetadata")
                if isinstance(metadata, dict):
                    for section in ("AllHttpHeaders", "HttpHeaders"):
                        for header, recorded in (metadata.get(section) or {}).items():
                            if header in _VOLATILE_HEADERS and recorded == _VOLATILE_HEADERS[header]:
                                headers.add((section, header))
                sdk = value.get("SdkResponseMetadata")
                if isinstance(sdk, dict) and sdk.get("RequestId") == _REQUEST_ID_TOKEN:
                    request_id = True
                for v in value.values():
                    walk(v)
            elif isinstance(value, list):
                for v in value:
                    walk(v)

        walk(case.get("expected"))
        return cls(headers, request_id)

    def value(self, value: Any) -> Any:
        if isinstance(value, dict):
            out = {k: self.value(v) for k, v in value.items()}
            metadata = out.get("SdkHttpMetadata")
            if isinstance(metadata, dict):
                for section in ("AllHttpHeaders", "HttpHeaders"):
                    headers = metadata.get(section)
                    if isinstance(headers, dict):
                        metadata[section] = {h: _VOLATILE_HEADERS[h] if (section, h) in self.headers else v
                                             for h, v in headers.items()}
            sdk = out.get("SdkResponseMetadata")
            if self.request_id and isinstance(sdk, dict) and "RequestId" in sdk:
                out["SdkResponseMetadata"] = {**sdk, "RequestId": _REQUEST_ID_TOKEN}
            return out
        if isinstance(value, list):
            return [self.value(v) for v in value]
        return value

    def text(self, text: Any) -> Any:
        if not isinstance(text, str) or "SdkHttpMetadata" not in text:
            return text
        try:
            return json.dumps(self.value(json.loads(text)), separators=(",", ":"), ensure_ascii=False)
        except ValueError:
            return text


def normalize_volatile(result: dict[str, Any], case: dict[str, Any]) -> dict[str, Any]:
    """The recorder's replacement of volatile SDK metadata, as this case's recording shows it, applied to a
    `drydock run --json` result."""
    transform = RecorderTransform.of_case(case)
    result["output"] = transform.text(result.get("output"))
    for event in result["events"]:
        for key, details in event.items():
            if key.endswith("EventDetails") and isinstance(details, dict):
                for field in _TEXT_FIELDS:
                    if field in details:
                        details[field] = transform.text(details[field])
    return result
