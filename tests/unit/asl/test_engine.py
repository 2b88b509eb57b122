"""The interpreter's behaviour that the recorded corpus does not pin down: time, tokens, handlers."""
import json
import time

import pytest

from asl.engine import ApiError, Engine
from asl.errors import DefinitionError, StatesError
from asl.tasks import HandlerTable

TASK = "arn:aws:states:::test:work"
TOKEN_TASK = "arn:aws:states:::test:work.waitForTaskToken"


def run(definition, input_text="{}", handlers=None, **kw):
    engine = Engine(handlers, **kw)
    return engine, engine.run_to_completion(engine.start(definition, input_text))


def types(ex):
    return [e["type"] for e in ex.history.events]


def table(fn, service="test", action="work"):
    handlers = HandlerTable()
    handlers.register(service, action, fn)
    return handlers


def test_wait_of_a_day_takes_no_wall_time_and_moves_history_time():
    definition = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 86400, "End": True}}}
    started = time.perf_counter()
    _, ex = run(definition)
    assert time.perf_counter() - started < 1.0
    first, last = ex.history.events[0]["timestamp"], ex.history.events[-1]["timestamp"]
    assert (last - first).total_seconds() == 86400
    assert ex.status == "SUCCEEDED"


def test_retry_backoff_follows_interval_rate_and_max_delay_on_the_virtual_clock():
    calls = []

    def flaky(request):
        calls.append(request.now())
        if len(calls) < 4:
            raise StatesError("Flaky.Error", f"attempt {len(calls)}")
        return {"ok": len(calls)}

    definition = {"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": TASK, "End": True,
        "Retry": [{"ErrorEquals": ["Flaky.Error"], "IntervalSeconds": 2, "BackoffRate": 3, "MaxAttempts": 5,
                   "MaxDelaySeconds": 10}]}}}
    _, ex = run(definition, handlers=table(flaky))
    gaps = [b - a for a, b in zip(calls, calls[1:])]
    assert gaps == [2, 6, 10]  # 2, 2*3, min(18, 10)
    assert json.loads(ex.output_text) == {"ok": 4}
    assert types(ex).count("TaskFailed") == 3


def test_catch_routes_error_output_through_result_path():
    def boom(request):
        raise StatesError("Custom.Error", "it broke")

    definition = {"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": TASK, "Next": "Ok",
              "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Handled"}]},
        "Ok": {"Type": "Succeed"}, "Handled": {"Type": "Pass", "End": True}}}
    _, ex = run(definition, '{"x": 1}', handlers=table(boom))
    assert json.loads(ex.output_text) == {"x": 1, "error": {"Error": "Custom.Error", "Cause": "it broke"}}


def test_task_timeout_fails_with_states_timeout_and_task_timed_out_event():
    async def slow(request):
        await request.sleep(100)
        return {}

    definition = {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": TASK, "TimeoutSeconds": 5,
                                                   "End": True}}}
    _, ex = run(definition, handlers=table(slow))
    assert (ex.status, ex.error) == ("FAILED", "States.Timeout")
    assert "TaskTimedOut" in types(ex)


def test_task_token_answered_from_outside():
    sent = {}

    def publish(request):
        sent["token"] = request.task_token
        return {"MessageId": "m-1"}

    definition = {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": TOKEN_TASK, "End": True,
                                                   "Parameters": {"token.$": "$$.Task.Token"}}}}
    engine = Engine(table(publish))
    ex = engine.start(definition, "{}")
    engine.run()
    assert ex.status == "RUNNING" and sent["token"]
    assert "TaskSubmitted" in types(ex)
    engine.send_task_success(sent["token"], '{"approved": true}')
    engine.run_to_completion(ex)
    assert (ex.status, json.loads(ex.output_text)) == ("SUCCEEDED", {"approved": True})
    with pytest.raises(ApiError) as closed:
        engine.send_task_success(sent["token"], "{}")
    assert closed.value.code == "TaskDoesNotExist"
    with pytest.raises(ApiError) as unknown:
        engine.send_task_failure("not-a-token", "E", "C")
    assert unknown.value.code == "InvalidToken"


def test_missed_heartbeat_times_out_after_heartbeat_seconds():
    # AWS reports a missed heartbeat as States.Timeout (case timeouts_test_heartbeats), yet a Catch on
    # States.HeartbeatTimeout still takes it
    definition = {"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": TOKEN_TASK, "HeartbeatSeconds": 60, "TimeoutSeconds": 600, "End": True,
              "Catch": [{"ErrorEquals": ["States.HeartbeatTimeout"], "Next": "Late"}]},
        "Late": {"Type": "Pass", "End": True}}}
    _, ex = run(definition, handlers=table(lambda request: {}))
    assert ex.status == "SUCCEEDED"
    assert json.loads(ex.output_text)["Error"] == "States.Timeout"
    timed_out = next(e for e in ex.history.events if e["type"] == "TaskTimedOut")
    assert (timed_out["timestamp"] - ex.history.events[0]["timestamp"]).total_seconds() == 60


def test_unknown_resource_fails_the_task_naming_the_arn():
    arn = "arn:aws:states:::nosuchservice:doThing"
    _, ex = run({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": arn, "End": True}}})
    assert ex.status == "FAILED"
    assert arn in ex.cause
    assert types(ex)[-2:] == ["TaskFailed", "ExecutionFailed"]


def test_handler_bug_fails_the_task_not_the_interpreter():
    def buggy(request):
        return {}["missing"]

    _, ex = run({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": TASK, "End": True}}},
                handlers=table(buggy))
    assert (ex.status, ex.error) == ("FAILED", "States.TaskFailed")
    assert "KeyError" in ex.cause


def test_jsonpath_miss_is_states_runtime_with_aws_cause():
    definition = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"v.$": "$.nope"}, "End": True}}}
    _, ex = run(definition, '{"a": 1}')
    assert ex.error == "States.Runtime"
    assert ex.cause == ("An error occurred while executing the state 'P' (entered at the event id #2). The JSONPath "
                        "'$.nope' specified for the field 'v.$' could not be found in the input '{\"a\":1}'")


def test_intrinsic_with_wrong_arguments_fails_at_runtime_and_validation():
    definition = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True,
                                                   "Parameters": {"v.$": "States.ArrayGetItem($.a, 5)"}}}}
    _, ex = run(definition, '{"a": [1]}')
    assert ex.error == "States.IntrinsicFailure"
    bad = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True, "Parameters": {"v.$": "States.MathAdd(1)"}}}}
    with pytest.raises(DefinitionError) as err:
        Engine().start(bad)
    assert err.value.diagnostics[0].location == "/States/P/Parameters/v.$"


def test_same_seed_same_history_including_uuid_and_random():
    definition = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True, "Parameters": {
        "id.$": "States.UUID()", "n.$": "States.MathRandom(1, 1000)"}}}}
    outputs = {run(definition, seed=7)[1].output_text for _ in range(3)}
    assert len(outputs) == 1
    assert run(definition, seed=8)[1].output_text not in outputs


def test_map_tolerated_failures_and_threshold():
    body = {"StartAt": "C", "States": {"C": {"Type": "Choice", "Choices": [
        {"Variable": "$", "NumericGreaterThan": 2, "Next": "Bad"}], "Default": "Good"},
        "Bad": {"Type": "Fail", "Error": "TooBig"}, "Good": {"Type": "Pass", "End": True}}}
    def machine(count):
        return {"StartAt": "M", "States": {"M": {"Type": "Map", "ItemProcessor": body, "ToleratedFailureCount": count,
                                                  "End": True}}}
    _, ok = run(machine(2), "[1, 2, 3, 4]")
    assert ok.status == "SUCCEEDED"
    _, failed = run(machine(1), "[1, 2, 3, 4]")
    assert (failed.status, failed.error) == ("FAILED", "States.ExceedToleratedFailureThreshold")


def test_execution_timeout():
    definition = {"StartAt": "W", "TimeoutSeconds": 30, "States": {"W": {"Type": "Wait", "Seconds": 60, "End": True}}}
    _, ex = run(definition)
    assert (ex.status, types(ex)[-1]) == ("TIMED_OUT", "ExecutionTimedOut")


def test_stop_execution_aborts():
    engine = Engine()
    ex = engine.start({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 60, "End": True}}})
    engine.run(until=lambda: len(ex.history.events) >= 2)
    engine.stop_execution(ex, "Stopped.ByTest", "because")
    engine.run()
    assert (ex.status, types(ex)[-1]) == ("ABORTED", "ExecutionAborted")


def test_an_endless_loop_ends_at_aws_history_quota_instead_of_hanging():
    definition = {"StartAt": "Again", "States": {
        "Again": {"Type": "Pass", "Next": "Loop?"},
        "Loop?": {"Type": "Choice", "Choices": [{"Variable": "$.go", "BooleanEquals": True, "Next": "Again"}],
                  "Default": "Done"},
        "Done": {"Type": "Succeed"}}}
    _, ex = run(definition, '{"go": true}', max_history_events=500)
    assert (ex.status, ex.error) == ("FAILED", "States.Runtime")
    assert "maximum number of events" in ex.cause
    assert len(ex.history.events) <= 503


def test_run_until_can_stop_a_fiber_that_never_waits():
    definition = {"StartAt": "Again", "States": {
        "Again": {"Type": "Pass", "Next": "Loop?"},
        "Loop?": {"Type": "Choice", "Choices": [{"Variable": "$.go", "BooleanEquals": True, "Next": "Again"}],
                  "Default": "Done"},
        "Done": {"Type": "Succeed"}}}
    engine = Engine()
    ex = engine.start(definition, '{"go": true}')
    engine.run(until=lambda: len(ex.history.events) > 300)
    assert ex.status == "RUNNING" and len(ex.history.events) < 1000
    engine.stop_execution(ex)
    engine.run()
    assert ex.status == "ABORTED"


def test_a_state_output_over_256_kib_fails_with_data_limit_exceeded():
    definition = {"StartAt": "Big", "States": {"Big": {"Type": "Pass", "End": True,
                                                       "Parameters": {"a.$": "$.s", "b.$": "$.s"}}}}
    _, ex = run(definition, json.dumps({"s": "x" * 140_000}))
    assert (ex.status, ex.error) == ("FAILED", "States.DataLimitExceeded")
    assert "'Big'" in ex.cause
