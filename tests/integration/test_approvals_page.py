"""`drydock approvals` / `approve` / `reject` against a real `drydock serve`, and the approvals page in headless Chromium.

The workflow's approval step (sns:publish.waitForTaskToken, as in pipeline/state_machine.yaml) publishes to a
topic the inbox queue is subscribed to; the commands read the queue, keep the requests in a store file and
answer through the endpoint's Step Functions API. The page is driven over the DevTools protocol
(tests/integration/cdp.py): real mouse clicks on its buttons, a screenshot in out/approvals.png.
"""
from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from cdp import Browser, chromium_path

from harness.approvals import Approvals, ApprovalStore, Inbox, serve_page
from harness.cli import main
from harness.cloud import LocalCloud
from harness.stepfunctions_api import StepFunctionsApi, install

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "out"
ROLE = "arn:aws:iam::123456789012:role/churn-workflow"


def approval_machine(topic: str) -> str:
    """The flagship's approval steps, on their own: ask with the metrics, then approved or rejected."""
    return json.dumps({
        "StartAt": "Evaluate",
        "States": {
            "Evaluate": {"Type": "Pass", "Parameters": {"ModelPackageArn.$": "$.package", "Metrics": {
                "binary_classification_metrics": {"auc": {"value.$": "$.auc"}, "f1": {"value": 0.7}}}},
                "ResultPath": "$.Evaluation", "Next": "RequestApproval"},
            "RequestApproval": {
                "Type": "Task", "Resource": "arn:aws:states:::sns:publish.waitForTaskToken", "TimeoutSeconds": 86400,
                "Parameters": {"TopicArn": topic, "Subject": "Approve churn model?", "Message": {
                    "TaskToken.$": "$$.Task.Token", "ExecutionArn.$": "$$.Execution.Id",
                    "ModelPackageArn.$": "$.Evaluation.ModelPackageArn", "Metrics.$": "$.Evaluation.Metrics"}},
                "ResultPath": "$.Approval", "Next": "ApprovalDecision",
                "Catch": [{"ErrorEquals": ["ModelRejected"], "ResultPath": "$.Approval", "Next": "Rejected"}]},
            "ApprovalDecision": {"Type": "Choice", "Default": "Rejected", "Choices": [
                {"Variable": "$.Approval.Decision", "StringEquals": "Approved", "Next": "Deploy"}]},
            "Deploy": {"Type": "Succeed"},
            "Rejected": {"Type": "Fail", "Error": "ModelRejected", "CausePath": "$.Approval.Cause"},
        },
    })


def settle(sfn, arn: str, timeout: float = 20) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        described = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING" or time.monotonic() > deadline:
            return described
        time.sleep(0.05)


# --------------------------------------------------------------------------- the commands, against drydock serve
@pytest.fixture(scope="module")
def serve(cli_env, tmp_path_factory):
    """A `drydock serve` whose engine gives a person a minute of quiet before it skips virtual time."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tmp_path_factory.mktemp("approvals-serve") / "serve.log"
    with log.open("w") as out:
        server = subprocess.Popen([sys.executable, "-m", "harness.cli", "serve", "--port", str(port),
                                   "--idle-grace", "60"], cwd=ROOT, env=cli_env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                LocalCloud(url).client("sns").list_topics()
                break
            except Exception:  # noqa: BLE001 - not up yet
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"drydock serve did not start:\n{log.read_text()}")
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_list_approve_and_reject_through_the_endpoint(serve, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    cloud = LocalCloud(serve)
    sfn = cloud.client("stepfunctions")
    topic = cloud.client("sns").create_topic(Name="churn-model-approval")["TopicArn"]
    store, queue = str(tmp_path / "approvals.json"), f"approvals-{uuid.uuid4().hex[:8]}"
    common = ["--endpoint", serve, "--store", store, "--queue", queue]
    assert main(["approvals", *common]) == 0
    assert "subscribed to no topic" in capsys.readouterr().out
    assert main(["approvals", "--subscribe", topic, *common]) == 0
    assert f"subscribed to {topic}" in capsys.readouterr().out

    machine = sfn.create_state_machine(name=f"approval-{queue}", definition=approval_machine(topic),
                                       roleArn=ROLE)["stateMachineArn"]
    good = sfn.start_execution(stateMachineArn=machine, name="good",
                               input=json.dumps({"package": "arn:aws:sagemaker:us-east-1:123456789012:"
                                                            "model-package/churn-models/7", "auc": 0.913}))["executionArn"]
    weak = sfn.start_execution(stateMachineArn=machine, name="weak",
                               input=json.dumps({"package": "arn:aws:sagemaker:us-east-1:123456789012:"
                                                            "model-package/churn-models/8", "auc": 0.642}))["executionArn"]

    assert main(["approvals", *common]) == 0
    listing = capsys.readouterr().out
    header, *rows = listing.split("\n\n")[0].splitlines()
    assert header.split() == ["ID", "MODEL", "PACKAGE", "VERSION", "AUC", "F1", "RECEIVED", "STATUS"]
    by_package = {row.split()[1].rsplit("/", 1)[-1]: row.split() for row in rows}
    assert by_package["7"][3:5] == ["0.9130", "0.7000"] and by_package["7"][-1] == "PENDING"
    assert by_package["8"][3] == "0.6420"
    assert "drydock approve ID" in listing

    assert main(["approvals", "--json", *common]) == 0
    requests = {a["model_package_arn"].rsplit("/", 1)[-1]: a for a in json.loads(capsys.readouterr().out)}
    assert requests["7"]["execution_arn"] == good and requests["7"]["scores"] == {"auc": 0.913, "f1": 0.7}

    assert main(["approve", by_package["7"][0], "--comment", "beats v6", *common]) == 0
    assert "approved" in capsys.readouterr().out
    described = settle(sfn, good)
    assert described["status"] == "SUCCEEDED"
    decision = json.loads(described["output"])["Approval"]
    assert decision["Decision"] == "Approved" and decision["Comment"] == "beats v6"

    assert main(["reject", by_package["8"][0][:5], "--reason", "AUC 0.64 is below the bar", *common]) == 0
    described = settle(sfn, weak)
    assert (described["status"], described["error"]) == ("FAILED", "ModelRejected")
    assert described["cause"].startswith("AUC 0.64 is below the bar (rejected by ")

    assert main(["approve", by_package["8"][0], *common]) == 1
    assert "already rejected: AUC 0.64 is below the bar" in capsys.readouterr().err
    assert main(["approvals", *common]) == 0
    assert "no pending approval requests" in capsys.readouterr().out
    assert main(["approvals", "--all", *common]) == 0
    assert {line.split()[-1] for line in capsys.readouterr().out.splitlines()[1:] if line.strip()} >= {
        "APPROVED", "REJECTED"}


def test_the_command_line_entry_point(serve, tmp_path, cli_env):
    done = subprocess.run([sys.executable, "-m", "harness.cli", "approvals", "--endpoint", serve, "--store",
                           str(tmp_path / "a.json"), "--queue", f"cli-{uuid.uuid4().hex[:8]}"],
                          cwd=ROOT, env=cli_env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "no pending approval requests" in done.stdout
    unknown = subprocess.run([sys.executable, "-m", "harness.cli", "approve", "deadbeef", "--endpoint", serve,
                              "--store", str(tmp_path / "a.json")], cwd=ROOT, env=cli_env, capture_output=True,
                             text=True, timeout=60)
    assert unknown.returncode == 1 and "'deadbeef' is not a known approval" in unknown.stderr


def test_no_endpoint_exits_2(tmp_path, capsys):
    assert main(["approvals", "--endpoint", "http://127.0.0.1:9", "--store", str(tmp_path / "a.json")]) == 2
    assert "is `drydock serve` running?" in capsys.readouterr().err


# --------------------------------------------------------------------------- the page, in headless Chromium
@pytest.fixture
def in_process():
    """In-process Step Functions that waits a minute for a person before skipping virtual time."""
    api = StepFunctionsApi(idle_grace=60)
    previous = install(api)
    cloud = LocalCloud(None)
    yield cloud
    install(previous)
    api.close()


def click(browser: Browser, selector: str) -> None:
    """A real mouse click (pressed and released) at the middle of the element."""
    box = browser.evaluate(f"(() => {{ const r = document.querySelector('{selector}').getBoundingClientRect();"
                           f" return [r.x + r.width / 2, r.y + r.height / 2]; }})()")
    for kind in ("mousePressed", "mouseReleased"):
        browser.call("Input.dispatchMouseEvent", type=kind, x=box[0], y=box[1], button="left", clickCount=1)


@pytest.mark.skipif(chromium_path() is None, reason="chromium is not installed (scripts/setup-debian.sh)")
def test_approve_and_reject_on_the_page(in_process, tmp_path):
    cloud = in_process
    sfn = cloud.client("stepfunctions")
    topic = cloud.client("sns").create_topic(Name=f"approval-{uuid.uuid4().hex[:8]}")["TopicArn"]
    inbox = Inbox(cloud, f"page-{uuid.uuid4().hex[:8]}")
    inbox.subscribe(topic)
    machine = sfn.create_state_machine(name=f"page-{uuid.uuid4().hex[:8]}", definition=approval_machine(topic),
                                       roleArn=ROLE)["stateMachineArn"]
    runs = {}
    for version, auc in (("11", 0.904), ("12", 0.598)):
        runs[version] = sfn.start_execution(stateMachineArn=machine, name=f"v{version}", input=json.dumps(
            {"package": f"arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-models/{version}",
             "auc": auc}))["executionArn"]
    page = serve_page(Approvals(inbox, ApprovalStore(tmp_path / "approvals.json"), sfn))
    browser = Browser()
    try:
        browser.navigate(page.url)
        browser.wait_for("document.querySelectorAll('#approvals tr[id^=row-]').length === 2")
        ids = {text.rsplit("/", 1)[-1]: row_id for row_id, text in browser.evaluate(
            "[...document.querySelectorAll('#approvals tr[id^=row-]')].map(r => [r.id.slice(4), "
            "r.children[1].textContent.split('version')[0].trim()])")}
        text = browser.evaluate("document.body.innerText")
        assert "auc 0.9040" in text and "auc 0.5980" in text and text.count("PENDING") == 2
        OUT.mkdir(exist_ok=True)
        browser.screenshot(OUT / "approvals.png")

        click(browser, f"#approve-{ids['11']}")
        browser.wait_for(f"document.querySelector('#status-{ids['11']}')?.textContent === 'APPROVED'")
        assert settle(sfn, runs["11"])["status"] == "SUCCEEDED"

        click(browser, f"#reject-{ids['12']}")  # no reason yet: the page asks for one
        browser.wait_for("document.querySelector('#message').textContent === 'Give a reason to reject.'")
        click(browser, f"#reason-{ids['12']}")
        browser.call("Input.insertText", text="AUC 0.60 is below the 0.8 bar")
        click(browser, f"#reject-{ids['12']}")
        browser.wait_for(f"document.querySelector('#status-{ids['12']}')?.textContent === 'REJECTED'")
        described = settle(sfn, runs["12"])
        assert (described["status"], described["error"]) == ("FAILED", "ModelRejected")
        assert re.match(r"AUC 0\.60 is below the 0\.8 bar \(rejected by web page\)$", described["cause"])
        browser.screenshot(OUT / "approvals-answered.png")
        assert browser.console == []
    finally:
        browser.close()
        page.close()
    assert (OUT / "approvals.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
