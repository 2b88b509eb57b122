"""Durable executions: a backend rebuilt from its journal after a crash finishes as if nothing happened.

A "crash" here is a Store dropped without a word and a new Store opened on the same journal file, as a
restarted `drydock serve` does (`tests/integration/test_crash_recovery.py` kills the real process).
"""
from __future__ import annotations

import json
import sqlite3

import pytest

from asl.errors import StatesError
from asl.tasks import HandlerTable, TaskRequest
from harness.durability.journal import Journal
from harness.durability.replay import ReplayDivergence, restore
from harness.store import Backend, Store

ACCOUNT, REGION = "123456789012", "us-east-1"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/r"

# A Task, a Map of Tasks, a Wait, a Parallel with a token wait beside a retried task, then a Choice.
DEFINITION = {
    "StartAt": "Score",
    "States": {
        "Score": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "ResultPath": "$.score",
                  "Parameters": {"FunctionName": "score", "Payload.$": "$"}, "Next": "Each"},
        "Each": {"Type": "Map", "ItemsPath": "$.items", "ResultPath": "$.each", "Next": "Nap",
                 "ItemProcessor": {"StartAt": "One", "States": {
                     "One": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                             "Parameters": {"FunctionName": "one", "Payload.$": "$"}, "End": True}}}},
        "Nap": {"Type": "Wait", "Seconds": 3600, "Next": "Both"},
        "Both": {"Type": "Parallel", "ResultPath": "$.both", "Next": "Decide", "Branches": [
            {"StartAt": "Approve", "States": {"Approve": {
                "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Parameters": {"QueueUrl": "q", "MessageBody": {"token.$": "$$.Task.Token"}},
                "End": True}}},
            {"StartAt": "Flaky", "States": {"Flaky": {
                "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "flaky"},
                "Retry": [{"ErrorEquals": ["Lambda.TooManyRequestsException"], "IntervalSeconds": 30}],
                "End": True}}}]},
        "Decide": {"Type": "Choice", "Default": "Done",
                   "Choices": [{"Variable": "$.both[0].approved", "BooleanEquals": False, "Next": "Refused"}]},
        "Refused": {"Type": "Fail", "Error": "Refused"},
        "Done": {"Type": "Succeed"},
    },
}


class Services:
    """Task handlers that count their calls and keep the tokens they are sent (the outside world)."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.tokens: list[str] = []
        self.flaky_failures = 1

    def table(self) -> HandlerTable:
        table = HandlerTable()
        table.register("lambda", "invoke", self.invoke)
        table.register("sqs", "sendMessage", self.send)
        return table

    def invoke(self, request: TaskRequest) -> dict:
        name = request.parameters["FunctionName"]
        self.calls.append(name)
        if name == "flaky" and self.flaky_failures:
            self.flaky_failures -= 1
            raise StatesError("Lambda.TooManyRequestsException", "Rate exceeded")
        return {"Payload": {"from": name, "call": len(self.calls)}}

    def send(self, request: TaskRequest) -> dict:
        self.calls.append("sqs")
        self.tokens.append(request.parameters["MessageBody"]["token"])
        return {"MessageId": f"m{len(self.tokens)}"}


def open_store(services: Services, journal: Journal | None) -> Store:
    return Store(lambda backend: services.table(), journal=journal)


def crash_while_waiting(tmp_path, services: Services) -> tuple[str, str, list[dict]]:
    """Start the execution on a journaled Store, then "kill" it while it waits for the approval token:
    (execution ARN, the token handed out, the history at the crash)."""
    store = open_store(services, Journal(tmp_path))
    arn = begin(store)
    waiting = history(store, arn)
    store.close()  # the process dies: nothing more is written
    return arn, services.tokens[0], waiting


def reopen(tmp_path, services: Services | None = None) -> Store:
    """A new Store on the journal, restored as a restarted `drydock serve` restores it before it answers."""
    store = open_store(services or Services(), Journal(tmp_path))
    restore(store, Journal(tmp_path))
    return store


def backend_of(store: Store) -> Backend:
    return store.backend(ACCOUNT, REGION)


def begin(store: Store) -> str:
    """Create the machine and start one execution; returns its ARN (it parks on the approval token)."""
    b = backend_of(store)
    machine = b.pump.call(lambda: b.create_state_machine("m", json.dumps(DEFINITION), ROLE, "STANDARD", {}, {}, {}))
    record = b.pump.call(lambda: b.start_execution(machine.arn, "run-1", json.dumps({"items": [1, 2, 3]})))
    return record.execution.arn


def approve(store: Store, token: str, approved: bool = True) -> None:
    b = backend_of(store)
    b.pump.call(lambda: b.send_task_success(token, json.dumps({"approved": approved})))


def history(store: Store, arn: str) -> list[dict]:
    b = backend_of(store)
    return b.pump.call(lambda: [dict(e) for e in b.executions[arn].execution.history.events])


def status(store: Store, arn: str) -> tuple[str, str | None]:
    b = backend_of(store)
    return b.pump.call(lambda: (b.executions[arn].execution.status, b.executions[arn].execution.output_text))


@pytest.fixture
def uninterrupted() -> tuple[list[dict], str | None]:
    services = Services()
    store = open_store(services, None)
    try:
        arn = begin(store)
        approve(store, services.tokens[0])
        return history(store, arn), status(store, arn)[1]
    finally:
        store.close()


def test_a_crash_while_waiting_for_a_token_loses_nothing(tmp_path, uninterrupted):
    arn, token, waiting = crash_while_waiting(tmp_path, Services())
    after = Services()
    second = reopen(tmp_path, after)
    try:
        assert history(second, arn) == waiting  # the same events, times included
        assert after.calls == []  # every task that had finished was played back, not called again
        approve(second, token)  # the token handed out before the crash is still valid
        assert status(second, arn) == ("SUCCEEDED", uninterrupted[1])
        assert history(second, arn) == uninterrupted[0]
    finally:
        second.close()


def test_a_restored_backend_keeps_journaling_and_survives_a_second_crash(tmp_path, uninterrupted):
    arn, token, _ = crash_while_waiting(tmp_path, Services())
    second = reopen(tmp_path)
    approve(second, token)
    second.close()

    third = reopen(tmp_path)
    try:
        assert status(third, arn) == ("SUCCEEDED", uninterrupted[1])
        assert history(third, arn) == uninterrupted[0]
    finally:
        third.close()


def test_a_task_in_flight_at_the_crash_runs_again(tmp_path):
    arn, _, _ = crash_while_waiting(tmp_path, Services())
    db = sqlite3.connect(tmp_path / Journal.FILE)  # the process died after TaskStarted, before the outcome
    sent = db.execute("SELECT id FROM events WHERE execution=? AND body LIKE '%\"TaskStarted\"%' "
                      "AND body LIKE '%\"sqs\"%'", (arn,)).fetchone()[0]
    db.execute("DELETE FROM events WHERE execution=? AND id>?", (arn, sent))
    db.commit()
    db.close()

    again = Services()
    second = reopen(tmp_path, again)
    try:
        # the approval request was not known to be sent: it is sent again; the flaky task after it runs live
        assert again.calls[0] == "sqs" and set(again.calls[1:]) == {"flaky"}
        approve(second, again.tokens[0])
        assert status(second, arn)[0] == "SUCCEEDED"
    finally:
        second.close()


def test_state_machines_revisions_and_tags_come_back(tmp_path):
    first = open_store(Services(), Journal(tmp_path))
    b = backend_of(first)
    machine = b.pump.call(lambda: b.create_state_machine("m", json.dumps(DEFINITION), ROLE, "STANDARD", {"a": "1"},
                                                         {}, {}))
    b.pump.call(lambda: b.tag(machine.arn, {"b": "2"}))
    b.pump.call(lambda: b.untag(machine.arn, ["a"]))
    revision = machine.revision.revision_id
    first.close()

    second = reopen(tmp_path)
    try:
        b2 = backend_of(second)
        again = b2.pump.call(lambda: b2.state_machine(machine.arn))
        assert (again.tags, again.revision.revision_id, again.creation_date) == ({"b": "2"}, revision,
                                                                                 machine.creation_date)
    finally:
        second.close()


def test_a_journal_that_disagrees_with_the_replay_is_refused_loudly(tmp_path):
    arn, _, _ = crash_while_waiting(tmp_path, Services())
    db = sqlite3.connect(tmp_path / Journal.FILE)  # somebody edited the journal: event 2 says another input
    body = json.loads(db.execute("SELECT body FROM events WHERE execution=? AND id=2", (arn,)).fetchone()[0])
    body["stateEnteredEventDetails"]["name"] = "Elsewhere"
    db.execute("UPDATE events SET body=? WHERE execution=? AND id=2", (json.dumps(body), arn))
    db.commit()
    db.close()

    second = open_store(Services(), Journal(tmp_path))
    try:
        with pytest.raises(ReplayDivergence, match=r"run-1 event 2: the journal has .*Elsewhere"):
            restore(second, Journal(tmp_path))
    finally:
        second.close()


# --------------------------------------------------------------------------- the cloud's state
class Counter:
    """A drydock part: some state, and whether it was asked to resume its work."""

    name = "test-counter"

    def __init__(self) -> None:
        self.value, self.resumed = 0, False

    def dump(self) -> int:
        return self.value

    def load(self, state: int) -> None:
        self.value = state

    def resume(self) -> None:
        self.resumed = True


def test_moto_services_and_drydock_parts_come_back(tmp_path, local_cloud):
    from harness.cloud import LocalCloud
    from harness.durability import cloud_state
    from harness.pytest_plugin import _reset_moto

    counter = cloud_state.durable(Counter(), "test", ["Count"])
    state = cloud_state.CloudState(Journal(tmp_path))
    state.install()
    try:
        cloud = LocalCloud()  # made after install: its clients report what they change
        s3, sqs, table = cloud.client("s3"), cloud.client("sqs"), cloud.client("dynamodb")
        s3.create_bucket(Bucket="kept")
        big = bytes(range(256)) * 1024  # kept once, as a blob
        s3.put_object(Bucket="kept", Key="big.bin", Body=big)
        queue = sqs.create_queue(QueueName="kept")["QueueUrl"]
        sqs.send_message(QueueUrl=queue, MessageBody="still here")
        table.create_table(TableName="kept", KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                           AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
                           BillingMode="PAY_PER_REQUEST")
        table.put_item(TableName="kept", Item={"k": {"S": "a"}, "v": {"N": "1"}})
        counter.value = 41
        state.observe("test", "Count")  # a request the part answers marks it
        state.flush()
    finally:
        state.close()
    _reset_moto()
    counter.value = 0
    assert s3.list_buckets()["Buckets"] == []

    try:
        restored = cloud_state.CloudState(Journal(tmp_path)).restore()
        assert {"s3", "sqs", "dynamodb", "test-counter"} <= set(restored)
        assert s3.get_object(Bucket="kept", Key="big.bin")["Body"].read() == big
        assert sqs.receive_message(QueueUrl=queue)["Messages"][0]["Body"] == "still here"
        assert table.get_item(TableName="kept", Key={"k": {"S": "a"}})["Item"]["v"] == {"N": "1"}
        assert (counter.value, counter.resumed) == (41, True)
        blobs = sqlite3.connect(tmp_path / Journal.FILE).execute("SELECT COUNT(*) FROM blobs").fetchone()[0]
        assert blobs == 1
    finally:
        del cloud_state._PARTS[Counter.name]
        del cloud_state._OWNED[("test", "Count")]


def test_reads_do_not_count_as_changes(tmp_path):
    from harness.durability.cloud_state import CloudState

    state = CloudState(Journal(tmp_path))
    for service, action, method in (("s3", "GetObject", "GET"), ("sqs", "ListQueues", "POST"),
                                    ("dynamodb", "Query", "POST"), ("states", "StartExecution", "POST")):
        state.observe(service, action, method)
    state.observe("sns", "Publish", "POST")  # SNS delivers to SQS queues: both are saved
    assert state._dirty == {"sns", "sqs"}


def test_a_replay_that_would_hand_out_another_token_is_refused(tmp_path):
    arn, token, _ = crash_while_waiting(tmp_path, Services())
    db = sqlite3.connect(tmp_path / Journal.FILE)  # the journal says another token was handed out
    db.execute("UPDATE tokens SET token = ? WHERE token = ?", ("0" * 64, token))
    db.commit()
    db.close()
    second = open_store(Services(), Journal(tmp_path))
    try:
        with pytest.raises(ReplayDivergence, match=r"run-1: the replay made task token .* never handed out"):
            restore(second, Journal(tmp_path))
    finally:
        second.close()


@pytest.mark.parametrize("make, message", [
    (lambda d: (d / Journal.FILE).write_text("not a database"), "cannot be a drydock journal: file is not a database"),
    (lambda d: (d / "file").write_text("x"), "cannot be a drydock journal: [Errno"),
])
def test_a_state_directory_that_cannot_hold_a_journal_is_refused(tmp_path, capsys, make, message):
    from harness.cli import main

    make(tmp_path)
    state = tmp_path / "file" if (tmp_path / "file").exists() else tmp_path
    assert main(["serve", "--port", "0", "--state-dir", str(state)]) == 2
    assert message in capsys.readouterr().err


def test_a_state_directory_is_refused_with_the_wall_clock(tmp_path, capsys):
    from harness.cli import main

    assert main(["serve", "--port", "0", "--state-dir", str(tmp_path), "--real-time"]) == 2
    assert "cannot be combined with --real-time" in capsys.readouterr().err
    assert not (tmp_path / Journal.FILE).exists()  # refused before anything was written
