"""lambda:invoke and the bare function ARN: the function's Python runs locally, on the execution's clock."""
from __future__ import annotations

import json
import time

from integration_kit import details, events_of, task

INVOKE = "arn:aws:states:::lambda:invoke"


def test_invoke_answers_in_the_sdk_shape(runner) -> None:
    runner.create_function("echo", "def handler(event, context):\n    return {'got': event, 'fn': context.function_name}\n")
    ex = runner.run(task(INVOKE, {"FunctionName": "echo", "Payload": {"x": 1}}))
    assert ex.status == "SUCCEEDED", ex.cause
    out = ex.output
    assert out["Payload"] == {"got": {"x": 1}, "fn": "echo"}
    assert (out["StatusCode"], out["ExecutedVersion"]) == (200, "$LATEST")
    body = json.dumps({"got": {"x": 1}, "fn": "echo"})
    headers = out["SdkHttpMetadata"]["HttpHeaders"]
    assert headers["Content-Length"] == str(len(body)) and headers["Content-Type"] == "application/json"
    assert out["SdkHttpMetadata"]["AllHttpHeaders"]["Content-Length"] == [str(len(body))]
    request_id = out["SdkResponseMetadata"]["RequestId"]
    assert len(request_id) == 36 and out["SdkHttpMetadata"]["AllHttpHeaders"]["x-amzn-RequestId"] == [request_id]
    assert headers["Date"].endswith(" GMT")  # RFC 1123, as HTTP sends it


def test_payload_null_and_string_payloads(runner) -> None:
    runner.create_function("echo", "def handler(event, context):\n    return event\n")
    null = runner.run(task(INVOKE, {"FunctionName": "echo", "Payload": None}))
    assert null.output["Payload"] == {}  # no payload: the runtime hands the function {}
    text = runner.run(task(INVOKE, {"FunctionName": "echo", "Payload": "\"HelloWorld\""}))
    assert text.output["Payload"] == "HelloWorld"  # a string is the request body itself


def test_bare_function_arn_answers_with_the_payload(runner) -> None:
    arn = runner.create_function("double", "def handler(event, context):\n    return event['n'] * 2\n")
    ex = runner.run(task(arn), {"n": 21})
    assert (ex.status, ex.output) == ("SUCCEEDED", 42)


def test_a_handler_that_raises_fails_with_its_error_type_and_aws_stack_trace(runner) -> None:
    runner.create_function("boom", "def handler(event, context):\n    raise ValueError('bad input')\n")
    ex = runner.run(task(INVOKE, {"FunctionName": "boom"}))
    assert (ex.status, ex.error) == ("FAILED", "ValueError")
    cause = json.loads(ex.cause)
    assert list(cause) == ["errorMessage", "errorType", "requestId", "stackTrace"]
    assert cause["errorMessage"] == "bad input" and cause["errorType"] == "ValueError"
    assert cause["stackTrace"] == ['  File "/var/task/handler.py", line 2, in handler\n    raise ValueError(\'bad input\')\n']
    failed = details(events_of(ex, "TaskFailed")[0])
    assert failed["error"] == "ValueError" and failed["resourceType"] == "lambda"


def test_function_timeout_is_sandbox_timedout_on_the_virtual_clock(runner) -> None:
    runner.create_function("slow", "import time\n\ndef handler(event, context):\n    time.sleep(3600)\n    return 1\n",
                           timeout=2)
    began = time.monotonic()
    ex = runner.run(task(INVOKE, {"FunctionName": "slow"}))
    assert time.monotonic() - began < 10  # an hour's sleep costs no wall time
    assert ex.error == "Sandbox.Timedout"
    assert json.loads(ex.cause)["errorMessage"].endswith("Error: Task timed out after 2.00 seconds")
    assert ex.stop - ex.start == 2


def test_task_timeout_seconds_cuts_the_invocation(runner) -> None:
    runner.create_function("sleepy", "from time import sleep\n\ndef handler(event, context):\n    sleep(60)\n    return 1\n",
                           timeout=30)
    ex = runner.run(task(INVOKE, {"FunctionName": "sleepy"}, TimeoutSeconds=5))
    assert (ex.status, ex.error) == ("FAILED", "States.Timeout")
    assert [e["type"] for e in ex.history.events][-2:] == ["TaskTimedOut", "ExecutionFailed"]


def test_context_object_and_environment(runner) -> None:
    source = ("import os, time\n\ndef handler(event, context):\n    before = context.get_remaining_time_in_millis()\n"
              "    time.sleep(1)\n    return {'before': before, 'after': context.get_remaining_time_in_millis(),\n"
              "            'id': context.aws_request_id, 'env': os.environ['GREETING'],\n"
              "            'endpoint': os.environ['AWS_ENDPOINT_URL']}\n")
    runner.create_function("ctx", source, timeout=10, env={"GREETING": "hi"})
    ex = runner.run(task(INVOKE, {"FunctionName": "ctx"}))
    out = ex.output["Payload"]
    assert 9000 <= out["before"] <= 10000 and 8000 <= out["after"] <= 9000
    assert out["env"] == "hi" and len(out["id"]) == 36
    assert out["endpoint"].startswith("http://127.0.0.1")  # never real AWS


def test_unknown_function_is_resource_not_found(runner) -> None:
    ex = runner.run(task(INVOKE, {"FunctionName": "nope"}))
    assert ex.error == "Lambda.ResourceNotFoundException"
    assert ex.cause.startswith("Function not found: arn:aws:lambda:us-east-1:123456789012:function:nope:$LATEST "
                               "(Service: AWSLambda; Status Code: 404; Error Code: ResourceNotFoundException; "
                               "Request ID: ")
    assert ex.cause.endswith("; Proxy: null)")


def test_code_from_a_directory(runner, tmp_path) -> None:
    runner.create_function("local", "def handler(event, context):\n    return 'from the zip'\n")
    (tmp_path / "handler.py").write_text("def handler(event, context):\n    return 'from the directory'\n")
    ex = runner.run(task(INVOKE, {"FunctionName": "local"}), lambda_code_dirs={"local": str(tmp_path)})
    assert ex.output["Payload"] == "from the directory"


def test_oversized_result_is_data_limit_exceeded_and_catchable(runner) -> None:
    runner.create_function("big", "def handler(event, context):\n    return 'a' * (257 * 1024)\n")
    definition = task(INVOKE, {"FunctionName": "big"})
    definition["States"]["Task"]["Catch"] = [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}]
    definition["States"]["Task"].pop("End")
    definition["States"]["Task"]["Next"] = "Caught"
    definition["States"]["Caught"] = {"Type": "Pass", "End": True}
    ex = runner.run(definition)
    assert ex.status == "SUCCEEDED" and ex.output["Error"] == "States.DataLimitExceeded"


def test_states_task_failed_catches_a_function_error(runner) -> None:
    runner.create_function("boom", "def handler(event, context):\n    raise Exception('no')\n")
    definition = {"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": INVOKE, "Parameters": {"FunctionName": "boom"},
              "Catch": [{"ErrorEquals": ["States.TaskFailed"], "Next": "Caught"}], "End": True},
        "Caught": {"Type": "Pass", "End": True}}}
    ex = runner.run(definition)
    assert ex.status == "SUCCEEDED" and ex.output["Error"] == "Exception"


def test_a_warm_function_keeps_its_globals_between_invocations(runner) -> None:
    # AWS reuses a warm execution environment: module state survives from one invocation to the next
    runner.create_function("counter", "calls = 0\n\ndef handler(event, context):\n    global calls\n"
                                      "    calls += 1\n    return calls\n")
    first = runner.run(task(INVOKE, {"FunctionName": "counter", "Payload": {}}))
    second = runner.run(task(INVOKE, {"FunctionName": "counter", "Payload": {}}))
    assert (first.output["Payload"], second.output["Payload"]) == (1, 2)


def test_in_process_function_lookup_equals_the_get_function_answer(runner, cloud) -> None:
    """With moto in this process a function is read from its backend (no boto3 round trip per Invoke): the same
    configuration GetFunction answers, for every way of naming it; an unknown one still goes through the API."""
    from harness.integrations import lambda_
    from harness.integrations.registry import Services

    arn = runner.create_function("lookup", "def handler(event, context):\n    return event\n", timeout=7)
    cloud.client("lambda").publish_version(FunctionName="lookup")
    services = Services(cloud)
    for name, qualifier in (("lookup", None), (arn, None), (f"{arn}:$LATEST", None), ("lookup:1", None),
                            ("lookup", "1"), ("lookup", "$LATEST"), (f"{arn}:1", None)):
        fast = lambda_._find_in_process(services, name, qualifier)
        assert fast is not None, (name, qualifier)
        answer = cloud.client("lambda").get_function(FunctionName=name, **({"Qualifier": qualifier} if qualifier else {}))
        assert fast == lambda_._function(services, answer["Configuration"], answer.get("Code", {}), qualifier)
        assert (fast.timeout, fast.handler) == (7.0, "handler.handler")
    assert lambda_._find_in_process(services, "absent", None) is None
