"""`drydock ui` in headless Chromium: an execution waits on a task token, the page shows it, Approve sends it.

The page is loaded in a real browser driven over the DevTools protocol (tests/integration/cdp.py);
screenshots land in out/ui.png (waiting for approval) and out/ui-approved.png (after the click).
"""
from __future__ import annotations

import json
import threading
import urllib.request
from pathlib import Path

import pytest
from cdp import Browser, chromium_path

from asl.tasks import HandlerTable
from harness.cloud import LocalCloud
from harness.stepfunctions_api import StepFunctionsApi, install
from harness.ui.server import make_server, pending_tokens

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "out"
ROLE = "arn:aws:iam::123456789012:role/drydock"
APPROVAL = {
    "Comment": "Train, then wait for a person to approve the model",
    "StartAt": "Train",
    "States": {
        "Train": {"Type": "Pass", "Result": {"auc": 0.91}, "ResultPath": "$.metrics", "Next": "Good enough?"},
        "Good enough?": {"Type": "Choice", "Default": "Rejected",
                         "Choices": [{"Variable": "$.metrics.auc", "NumericGreaterThan": 0.8, "Next": "Approve"}]},
        "Approve": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                    "Parameters": {"QueueUrl": "approvals", "MessageBody": {"TaskToken.$": "$$.Task.Token",
                                                                            "metrics.$": "$.metrics"}},
                    "ResultPath": "$.decision",
                    "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Rejected"}],
                    "Next": "Deploy"},
        "Deploy": {"Type": "Pass", "End": True},
        "Rejected": {"Type": "Fail", "Error": "Model.Rejected"},
    },
}

pytestmark = pytest.mark.skipif(chromium_path() is None, reason="chromium is not installed (scripts/setup-debian.sh)")


@pytest.fixture
def cloud():
    """An in-process API whose sqs:sendMessage only records the message (the token waits for the page)."""
    table = HandlerTable()
    table.register("sqs", "sendMessage", lambda request: {"MessageId": "m-1"})
    api = StepFunctionsApi(table)
    previous = install(api)
    sfn = LocalCloud(None).client("stepfunctions")
    yield sfn
    install(previous)
    api.close()


@pytest.fixture
def ui(cloud):
    server = make_server(cloud, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def browser():
    b = Browser()
    yield b
    b.close()


def start(sfn, definition: dict, name: str, input_value: dict) -> str:
    machine = sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=ROLE)["stateMachineArn"]
    return sfn.start_execution(stateMachineArn=machine, name=f"{name}-1", input=json.dumps(input_value))["executionArn"]


def test_approve_a_pending_task_token_in_the_browser(cloud, ui: str, browser: Browser) -> None:
    hello = json.loads((ROOT / "examples" / "hello" / "definition.json").read_text())
    done = start(cloud, hello, "hello", {"name": "ui", "items": [11, 2]})
    waiting = start(cloud, APPROVAL, "approval", {"model": "churn-xgb"})
    assert cloud.describe_execution(executionArn=waiting)["status"] == "RUNNING"

    browser.navigate(f"{ui}/#{waiting}")
    browser.wait_for("document.querySelectorAll('#executions tbody tr').length === 2")
    browser.wait_for("document.querySelector('#ex-status')?.textContent === 'RUNNING'")
    browser.wait_for("document.querySelector('#graph svg') !== null")
    browser.wait_for("document.querySelector('[data-token] button.approve') !== null")
    page = browser.evaluate("document.body.innerText")
    assert "Waiting for a task token" in page and "Approve" in page and "sqs:sendMessage.waitForTaskToken" in page
    # the graph: the Choice rule as an edge label, the states entered so far filled
    svg = browser.evaluate("document.querySelector('#graph svg').outerHTML")
    assert "$.metrics.auc &gt; 0.8" in svg and "Good enough?" in svg and "#d9f2d9" in svg
    # the states table shows each state's input and output
    states = browser.evaluate("[...document.querySelectorAll('#states tbody tr')].map(r => r.dataset.state)")
    assert states == ["Train", "Good enough?", "Approve"]
    assert '"auc": 0.91' in browser.evaluate("document.querySelector('#states tbody tr').innerText")
    # the timeline
    types = browser.evaluate("[...document.querySelectorAll('#timeline tbody tr td:nth-child(4)')]"
                             ".map(td => td.textContent)")
    assert types[:3] == ["ExecutionStarted", "PassStateEntered", "PassStateExited"] and "TaskSubmitted" in types
    browser.screenshot(OUT / "ui.png")

    browser.evaluate("document.querySelector('#output-0').value = JSON.stringify({approved: true, by: 'browser'})")
    browser.evaluate("document.querySelector('#approve-0').click()")
    browser.wait_for("document.querySelector('#ex-status').textContent === 'SUCCEEDED'")
    browser.wait_for("document.querySelector('[data-token]') === null")
    described = cloud.describe_execution(executionArn=waiting)
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"])["decision"] == {"approved": True, "by": "browser"}
    browser.wait_for("document.querySelector('#graph svg')?.outerHTML.includes('SUCCEEDED')")
    browser.screenshot(OUT / "ui-approved.png")
    assert (OUT / "ui.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # the other execution is one click away
    browser.evaluate(f"document.querySelector('#executions tr[data-arn=\"{done}\"]').click()")
    browser.wait_for("document.querySelector('#ex-status').textContent === 'SUCCEEDED' && "
                     "document.querySelectorAll('#states tbody tr').length === 10")
    assert browser.console == []


def test_reject_through_the_same_form_the_button_posts(cloud, ui: str) -> None:
    waiting = start(cloud, APPROVAL, "approval", {"model": "churn-xgb"})
    with urllib.request.urlopen(f"{ui}/api/execution?arn={waiting}") as r:
        tokens = json.load(r)["tokens"]
    assert [t["state"] for t in tokens] == ["Approve"]
    body = json.dumps({"taskToken": tokens[0]["taskToken"], "error": "Rejected", "cause": "no"}).encode()
    request = urllib.request.Request(f"{ui}/api/task-failure", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request) as r:
        assert json.load(r) == {}
    described = cloud.describe_execution(executionArn=waiting)
    assert described["status"] == "FAILED" and described["error"] == "Model.Rejected"


def test_pending_tokens_come_from_the_history(cloud) -> None:
    waiting = start(cloud, APPROVAL, "approval", {"model": "churn-xgb"})
    events = cloud.get_execution_history(executionArn=waiting)["events"]
    tokens = pending_tokens(events)
    assert len(tokens) == 1 and tokens[0]["parameters"]["MessageBody"]["metrics"] == {"auc": 0.91}
    cloud.send_task_success(taskToken=tokens[0]["taskToken"], output="{}")
    assert pending_tokens(cloud.get_execution_history(executionArn=waiting)["events"]) == []


def test_unknown_execution_and_bad_requests(ui: str) -> None:
    for url, status in ((f"{ui}/api/execution?arn=arn:aws:states:us-east-1:123456789012:execution:x:y", 404),
                        (f"{ui}/api/execution", 400), (f"{ui}/nope.html", 404), (f"{ui}/../pyproject.toml", 404)):
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(url)
        assert err.value.code == status, url
