"""Human approval of model versions: approval requests from SNS, kept in a small store, answered through Step Functions.

The workflow publishes an approval request to its SNS topic with `sns:publish.waitForTaskToken`; the
message carries the task token, the model package ARN and its metrics (pipeline/state_machine.yaml,
state RequestApproval). drydock's approver side has three parts:

- `Inbox`: an SQS queue subscribed to the approval topic. SQS rather than an HTTP endpoint: SNS keeps
  nothing for an HTTP subscriber that is not listening at publish time (and drydock only posts to
  loopback), while a queue holds the request until `drydock approvals` runs, in another process, an hour
  later; it is also how a team would wire an approver on AWS (a queue or a Lambda, not a laptop).
- `ApprovalStore`: the requests seen, pending or answered (ID, task token, model package ARN, metrics,
  received time, answer), in a JSON file so that `drydock approvals`, `approve`, `reject` and the web
  page (separate processes) share them; or in memory for tests.
- `Approvals`: reads the inbox into the store and answers with SendTaskSuccess
  (`{"Decision": "Approved", ...}`) or SendTaskFailure (error `ModelRejected`, the reason as cause)
  through the Step Functions API: a boto3 client (in-process, or `drydock serve`'s endpoint) or, for an
  engine of this process, `EngineTokens`.

For unattended runs a `Policy` ("approve when auc >= 0.8", "reject", "never answer", optionally "after 2h")
answers from inside the engine's scheduler (`attach_policy`): when the request is published, a fiber on
the same virtual clock reads the inbox and answers, so "never answer" reaches the 24 h timeout branch
in no wall time. `serve_page` is the approver's web page (plain HTML and fetch) on loopback.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import re
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterator

from harness.web import PageHandler

INBOX_QUEUE = "drydock-approvals"
REJECTED = "ModelRejected"  # the error SendTaskFailure sends; the workflow's Catch matches it
PENDING, APPROVED, REJECTED_STATUS, EXPIRED = "PENDING", "APPROVED", "REJECTED", "EXPIRED"
# Answers that say the task can no longer be answered (it timed out, or its execution ended).
GONE = ("TaskTimedOut", "TaskDoesNotExist", "InvalidToken", "ExecutionDoesNotExist")


class ApprovalError(Exception):
    """An approval that cannot be found or answered; the message says why."""


# --------------------------------------------------------------------------- requests
@dataclass
class Approval:
    """One approval request and, once answered, its answer."""

    id: str
    task_token: str
    model_package_arn: str | None
    metrics: dict[str, Any]
    received: float  # epoch seconds: when SNS published it
    execution_arn: str | None = None
    model_package_version: Any = None
    subject: str | None = None
    topic_arn: str | None = None
    status: str = PENDING
    answered: float | None = None
    answered_by: str | None = None
    answer: str | None = None  # the approver's comment, the rejection's reason, or why it expired

    @property
    def scores(self) -> dict[str, float]:
        """The numeric metrics, flat: {"auc": 0.91, "f1": 0.72, ...}."""
        return flatten_metrics(self.metrics)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "scores": self.scores,
                "receivedIso": _iso(self.received), "answeredIso": _iso(self.answered) if self.answered else None}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Approval:
        names = cls.__dataclass_fields__.keys()
        return cls(**{k: v for k, v in data.items() if k in names})


def approval_id(task_token: str) -> str:
    """A short, stable ID for a task token (what `drydock approve ID` takes)."""
    return hashlib.sha256(task_token.encode()).hexdigest()[:8]


def flatten_metrics(report: Any) -> dict[str, float]:
    """Numeric metrics of an evaluation report, by name.

    Takes SageMaker's Model Quality shape (`{"binary_classification_metrics": {"auc": {"value": 0.9,
    "standard_deviation": ...}}}`), a flat `{"auc": 0.9}`, or anything nesting such values; a confusion
    matrix (keys that are class labels) is left out.
    """
    found: dict[str, float] = {}

    def walk(value: Any, name: str | None) -> None:
        if isinstance(value, bool):
            return
        if isinstance(value, (int, float)) and name is not None:
            found.setdefault(name, float(value))
        elif isinstance(value, dict):
            if "value" in value and isinstance(value["value"], (int, float)) and name is not None:
                walk(value["value"], name)
                return
            for key, item in value.items():
                if not str(key).isdigit() and key != "standard_deviation":
                    walk(item, str(key))
    walk(report, None)
    return found


def parse_message(body: str, received: float | None = None) -> Approval | None:
    """An approval request from an SQS message body: an SNS notification envelope or the raw message.

    Returns None for a message that carries no task token (not an approval request).
    """
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    envelope = doc if isinstance(doc, dict) and doc.get("Type") == "Notification" and "Message" in doc else None
    message: Any = doc
    if envelope is not None:
        try:
            message = json.loads(envelope["Message"]) if isinstance(envelope["Message"], str) else envelope["Message"]
        except ValueError:
            return None
    if not isinstance(message, dict):
        return None
    token = message.get("TaskToken") or message.get("taskToken")
    if not isinstance(token, str) or not token:
        return None
    when = _epoch(envelope.get("Timestamp")) if envelope else None
    metrics = message.get("Metrics") if isinstance(message.get("Metrics"), dict) else {}
    return Approval(id=approval_id(token), task_token=token, model_package_arn=message.get("ModelPackageArn"),
                    metrics=metrics, received=when if when is not None else (received or time.time()),
                    execution_arn=message.get("ExecutionArn"),
                    model_package_version=message.get("ModelPackageVersion"),
                    subject=envelope.get("Subject") if envelope else None,
                    topic_arn=envelope.get("TopicArn") if envelope else None)


def _epoch(text: Any) -> float | None:
    if not isinstance(text, str):
        return None
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _iso(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------- the store
class ApprovalStore:
    """Approval requests by ID, in a JSON file shared by processes (`path`) or in memory (`path=None`)."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path is not None else None
        self._memory: dict[str, dict[str, Any]] = {}
        self._lock = threading.RLock()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[dict[str, dict[str, Any]]]:
        """The records, read under a lock (a file lock across processes) and written back afterwards."""
        with self._lock:
            if self.path is None:
                yield self._memory
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path.with_name(self.path.name + ".lock"), "a") as lock:
                _flock(lock)
                records = json.loads(self.path.read_text()) if self.path.exists() else {}
                before = json.dumps(records, sort_keys=True)
                yield records
                if json.dumps(records, sort_keys=True) != before:
                    staged = tempfile.NamedTemporaryFile("w", dir=self.path.parent, delete=False, suffix=".tmp")
                    with staged:
                        json.dump(records, staged, indent=2, sort_keys=True)
                    os.replace(staged.name, self.path)

    def all(self) -> list[Approval]:
        """Every approval, newest first."""
        with self._transaction() as records:
            approvals = [Approval.from_json(r) for r in records.values()]
        return sorted(approvals, key=lambda a: (-a.received, a.id))

    def pending(self) -> list[Approval]:
        return [a for a in self.all() if a.status == PENDING]

    def add(self, approval: Approval) -> bool:
        """Keep a request; False when it was already there (SQS delivers at least once)."""
        with self._transaction() as records:
            if approval.id in records:
                return False
            records[approval.id] = asdict(approval)
            return True

    def save(self, approval: Approval) -> None:
        with self._transaction() as records:
            records[approval.id] = asdict(approval)

    def get(self, wanted: str) -> Approval:
        """The approval with this ID (or a unique prefix of it, or its whole task token).

        Raises:
            ApprovalError: none or several match.
        """
        with self._transaction() as records:
            matches = [r for key, r in records.items()
                       if key.startswith(wanted) or r.get("task_token") == wanted] if wanted else []
        if len(matches) != 1:
            known = ", ".join(sorted(records)) or "none"
            problem = "is ambiguous" if matches else "is not a known approval"
            raise ApprovalError(f"'{wanted}' {problem} (known: {known})")
        return Approval.from_json(matches[0])


def _flock(handle: Any) -> None:
    try:
        import fcntl
    except ImportError:  # not POSIX: the in-process lock is all there is
        return
    fcntl.flock(handle.fileno(), fcntl.LOCK_EX)


# --------------------------------------------------------------------------- the inbox
class Inbox:
    """The SQS queue subscribed to approval topics: where approval requests reach drydock.

    Args:
        cloud: a `harness.cloud.LocalCloud` (in-process or `drydock serve`'s endpoint).
        queue_name: the queue; created on first use.
    """

    def __init__(self, cloud: Any, queue_name: str = INBOX_QUEUE):
        self.cloud = cloud
        self.queue_name = queue_name
        self._url: str | None = None

    @property
    def queue_url(self) -> str:
        if self._url is None:
            self._url = self.cloud.client("sqs").create_queue(QueueName=self.queue_name)["QueueUrl"]
        return self._url

    @property
    def queue_arn(self) -> str:
        attributes = self.cloud.client("sqs").get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])
        return attributes["Attributes"]["QueueArn"]

    def subscribe(self, topic_arn: str) -> str:
        """Subscribe the queue to an approval topic (once; again is a no-op); returns the subscription ARN."""
        sns = self.cloud.client("sns")
        arn = self.queue_arn
        for sub in _subscriptions(sns, topic_arn):
            if sub.get("Protocol") == "sqs" and sub.get("Endpoint") == arn:
                return sub["SubscriptionArn"]
        return sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn, ReturnSubscriptionArn=True)[
            "SubscriptionArn"]

    def topics(self) -> list[str]:
        """The topics this queue is subscribed to."""
        sns = self.cloud.client("sns")
        arn = self.queue_arn
        found = []
        for page in sns.get_paginator("list_subscriptions").paginate():
            found += [s["TopicArn"] for s in page["Subscriptions"] if s.get("Endpoint") == arn]
        return found

    def receive(self) -> list[str]:
        """Every message waiting in the queue (removed from it: the store keeps them from now on)."""
        sqs = self.cloud.client("sqs")
        bodies: list[str] = []
        while True:
            answer = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            messages = answer.get("Messages", [])
            if not messages:
                return bodies
            bodies += [m["Body"] for m in messages]
            sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)])


def _subscriptions(sns: Any, topic_arn: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic_arn):
        found += page["Subscriptions"]
    return found


# --------------------------------------------------------------------------- answering
class EngineTokens:
    """SendTaskSuccess/SendTaskFailure/DescribeExecution of an `asl.engine.Engine` in this process, with
    boto3's names, for code that runs an engine without the Step Functions API around it."""

    def __init__(self, engine: Any):
        self.engine = engine

    def send_task_success(self, taskToken: str, output: str) -> dict[str, Any]:
        self.engine.send_task_success(taskToken, output)
        return {}

    def send_task_failure(self, taskToken: str, error: str | None = None, cause: str | None = None) -> dict[str, Any]:
        self.engine.send_task_failure(taskToken, error, cause)
        return {}

    def describe_execution(self, executionArn: str) -> dict[str, Any]:
        from asl.engine import ApiError

        execution = self.engine.executions.get(executionArn)
        if execution is None:
            raise ApiError("ExecutionDoesNotExist", f"Execution Does Not Exist: '{executionArn}'")
        return {"executionArn": executionArn, "status": execution.status}


def _error_code(err: Exception) -> tuple[str, str] | None:
    """(code, message) of a Step Functions API error, from boto3 (ClientError) or the engine (ApiError)."""
    response = getattr(err, "response", None)
    if isinstance(response, dict) and "Error" in response:
        return response["Error"].get("Code", ""), response["Error"].get("Message", "")
    code = getattr(err, "code", None)
    if isinstance(code, str):
        return code, getattr(err, "message", str(err))
    return None


class Approvals:
    """The approver: the inbox read into the store, answers sent through the Step Functions API.

    Args:
        inbox: where requests arrive (None: only what the store already holds).
        store: the requests seen so far.
        sfn: a Step Functions client (boto3's, in-process or at `drydock serve`) or `EngineTokens`.
        clock: the time answers are stamped with (the engine's clock for a policy on a virtual clock).
    """

    def __init__(self, inbox: Inbox | None, store: ApprovalStore, sfn: Any,
                 clock: Callable[[], float] = time.time):
        self.inbox, self.store, self.sfn, self.clock = inbox, store, sfn, clock

    def collect(self) -> list[Approval]:
        """Move the inbox's messages into the store; returns the requests new to it."""
        if self.inbox is None:
            return []
        new = []
        for body in self.inbox.receive():
            approval = parse_message(body, self.clock())
            if approval is not None and self.store.add(approval):
                new.append(approval)
        return new

    def pending(self, *, refresh: bool = True) -> list[Approval]:
        """The requests waiting for an answer; with `refresh`, after reading the inbox and expiring the
        requests whose execution has ended (timed out, failed, stopped)."""
        if refresh:
            self.collect()
            for approval in self.store.pending():
                self._expire_if_over(approval)
        return self.store.pending()

    def all(self, *, refresh: bool = True) -> list[Approval]:
        if refresh:
            self.pending(refresh=True)
        return self.store.all()

    def approve(self, wanted: str, *, by: str = "", comment: str = "") -> Approval:
        """SendTaskSuccess with `{"Decision": "Approved", "ApprovedBy", "Comment", "ModelPackageArn"}`."""
        approval = self._open(wanted)
        output = {"Decision": "Approved", "ApprovedBy": by or _whoami(), "Comment": comment,
                  "ModelPackageArn": approval.model_package_arn}
        self._send(approval, lambda: self.sfn.send_task_success(taskToken=approval.task_token,
                                                                output=json.dumps(output)))
        return self._answered(approval, APPROVED, output["ApprovedBy"], comment)

    def reject(self, wanted: str, reason: str, *, by: str = "") -> Approval:
        """SendTaskFailure with error `ModelRejected` and the reason as its cause."""
        if not reason.strip():
            raise ApprovalError("a rejection needs a reason (--reason TEXT): it is recorded on the model package")
        approval = self._open(wanted)
        who = by or _whoami()
        self._send(approval, lambda: self.sfn.send_task_failure(taskToken=approval.task_token, error=REJECTED,
                                                                cause=f"{reason} (rejected by {who})"))
        return self._answered(approval, REJECTED_STATUS, who, reason)

    def _open(self, wanted: str) -> Approval:
        self.collect()
        approval = self.store.get(wanted)
        if approval.status != PENDING:
            raise ApprovalError(f"approval {approval.id} is already {approval.status.lower()}"
                                + (f": {approval.answer}" if approval.answer else ""))
        return approval

    def _send(self, approval: Approval, call: Callable[[], Any]) -> None:
        try:
            call()
        except Exception as err:  # boto3's ClientError or the engine's ApiError
            found = _error_code(err)
            if found is None:
                raise
            code, message = found
            if code in GONE:
                self.store.save(replace(approval, status=EXPIRED, answered=self.clock(), answer=f"{code}: {message}"))
                raise ApprovalError(f"approval {approval.id} can no longer be answered ({code}: {message}): its "
                                    f"task timed out or its execution ended") from None
            raise ApprovalError(f"Step Functions refused the answer to approval {approval.id}: {code}: {message}") \
                from None

    def _answered(self, approval: Approval, status: str, by: str, answer: str) -> Approval:
        done = replace(approval, status=status, answered=self.clock(), answered_by=by, answer=answer)
        self.store.save(done)
        return done

    def _expire_if_over(self, approval: Approval) -> None:
        if not approval.execution_arn or not hasattr(self.sfn, "describe_execution"):
            return
        try:
            status = self.sfn.describe_execution(executionArn=approval.execution_arn)["status"]
        except Exception as err:  # noqa: BLE001 - an execution the API does not know is over for us too
            found = _error_code(err)
            if found is None or found[0] not in GONE:
                return
            status = found[0]
        if status != "RUNNING":
            self.store.save(replace(approval, status=EXPIRED, answered=self.clock(),
                                    answer=f"the execution is {status}"))


def _whoami() -> str:
    try:
        return os.getlogin()
    except OSError:
        return os.environ.get("USER") or "drydock"


# --------------------------------------------------------------------------- policies
_CONDITION = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(>=|<=|==|!=|>|<)\s*(-?\d+(?:\.\d+)?)\s*$")
_DELAY = re.compile(r"\s+after\s+(\d+(?:\.\d+)?)\s*(s|sec|seconds?|m|min|minutes?|h|hours?|d|days?)\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, "<": lambda a, b: a < b,
    "==": lambda a, b: a == b, "!=": lambda a, b: a != b}


@dataclass(frozen=True)
class Decision:
    action: str  # "approve", "reject" or "none"
    reason: str


@dataclass(frozen=True)
class Policy:
    """How unattended runs answer approval requests.

    `approve`, `reject`, `never` (or `never answer`), or `approve when auc >= 0.8 [and f1 > 0.5 ...]`
    (rejected otherwise, the failed condition as the reason); any of them may end with
    `after <n>s|m|h|d`: the answer comes that long after the request, on the execution's clock.
    """

    text: str
    action: str
    conditions: tuple[tuple[str, str, float], ...] = ()
    delay: float = 0.0

    def decide(self, approval: Approval) -> Decision:
        if self.action != "approve" or not self.conditions:
            reason = {"approve": "approved by policy", "reject": "rejected by policy",
                      "never": "left unanswered by policy"}[self.action]
            return Decision(self.action if self.action != "never" else "none", f"{reason} '{self.text}'")
        scores = {k.lower(): v for k, v in approval.scores.items()}
        for metric, op, bound in self.conditions:
            value = scores.get(metric.lower())
            if value is None:
                return Decision("reject", f"policy '{self.text}': the request has no metric '{metric}' "
                                          f"(it has: {', '.join(sorted(scores)) or 'none'})")
            if not _COMPARE[op](value, bound):
                return Decision("reject", f"policy '{self.text}': {metric} = {value:.4g} is not {op} {bound:g}")
        shown = ", ".join(f"{m} = {scores[m.lower()]:.4g}" for m, _, _ in self.conditions)
        return Decision("approve", f"policy '{self.text}': {shown}")


def parse_policy(text: str) -> Policy:
    """A Policy from its text (see `Policy`).

    Raises:
        ValueError: the text is no policy; the message shows the forms.
    """
    rest, delay = text.strip(), 0.0
    m = _DELAY.search(rest)
    if m:
        delay = float(m.group(1)) * _UNITS[m.group(2)[0]]
        rest = rest[:m.start()].strip()
    words = rest.lower().split()
    if words in (["approve"], ["reject"]):
        return Policy(text, words[0], delay=delay)
    if words in (["never"], ["never", "answer"]):
        return Policy(text, "never", delay=delay)
    m = re.match(r"^approve\s+(?:when|if)\s+(.+)$", rest, re.IGNORECASE)
    if m:
        conditions = []
        for part in re.split(r"\s+and\s+", m.group(1), flags=re.IGNORECASE):
            found = _CONDITION.match(part)
            if found is None:
                break
            conditions.append((found.group(1), found.group(2), float(found.group(3))))
        else:
            return Policy(text, "approve", tuple(conditions), delay)
    raise ValueError(f"not an approval policy: {text!r}; use 'approve', 'reject', 'never answer', or "
                     f"'approve when auc >= 0.8 [and f1 > 0.5]', optionally followed by 'after 2h'")


class PolicyHook:
    """The engine's task handlers, with a policy answering the approval requests they publish."""

    def __init__(self, engine: Any, approvals: Approvals, policy: Policy):
        self.engine, self.approvals, self.policy = engine, approvals, policy
        self.inner = engine.handlers
        self.decisions: list[tuple[Approval, Decision]] = []

    def resolve(self, resource: Any) -> Any:
        handler = self.inner.resolve(resource)
        if handler is None or (resource.service, resource.action, resource.pattern) != ("sns", "publish",
                                                                                        "waitForTaskToken"):
            return handler

        async def published(request: Any) -> Any:
            from asl.engine import maybe_await

            result = await maybe_await(handler(request))
            self.engine.scheduler.spawn(self._answer(request.task_token), name=f"approval policy {self.policy.text}")
            return result
        return published

    async def _answer(self, token: str) -> None:
        if self.policy.delay and self.policy.action != "never":
            await self.engine.scheduler.sleep(self.policy.delay)
        self.approvals.collect()
        try:
            approval = self.approvals.store.get(approval_id(token))
        except ApprovalError:
            print(f"drydock approvals: policy '{self.policy.text}' found no approval request for task token "
                  f"{token[:16]}... in the inbox (is the inbox subscribed to the approval topic?)", file=sys.stderr)
            return
        decision = self.policy.decide(approval)
        self.decisions.append((approval, decision))
        try:
            if decision.action == "approve":
                self.approvals.approve(approval.id, by="drydock policy", comment=decision.reason)
            elif decision.action == "reject":
                self.approvals.reject(approval.id, decision.reason, by="drydock policy")
        except ApprovalError as err:  # e.g. the answer came after the task's timeout
            self.decisions.append((approval, Decision("none", str(err))))

    def detach(self) -> None:
        self.engine.handlers = self.inner


def attach_policy(engine: Any, approvals: Approvals, policy: Policy | str) -> PolicyHook:
    """Answer every `sns:publish.waitForTaskToken` request of `engine` with `policy`, on its scheduler.

    Args:
        engine: an `asl.engine.Engine` (a `StepFunctionsApi` backend's: `api.store.backend(account,
            region).engine`; call this on its pump thread, or before any execution starts).
        approvals: the approver (its inbox must be subscribed to the topic the requests go to).
        policy: a `Policy` or its text.

    Returns:
        The hook (its `decisions` list what the policy did); `detach()` removes it.
    """
    hook = PolicyHook(engine, approvals, parse_policy(policy) if isinstance(policy, str) else policy)
    engine.handlers = hook
    return hook


def attach_policy_to_api(api: Any, approvals: Approvals, policy: Policy | str, *, account: str | None = None,
                         region: str | None = None) -> PolicyHook:
    """`attach_policy` for the engine of one account and region of a `harness.stepfunctions_api.StepFunctionsApi`."""
    from harness.cloud import DEFAULT_ACCOUNT, DEFAULT_REGION

    backend = api.store.backend(account or DEFAULT_ACCOUNT, region or DEFAULT_REGION)
    return backend.pump.call(lambda: attach_policy(backend.engine, approvals, policy))


# --------------------------------------------------------------------------- the web page
PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>drydock approvals</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #1d2430; }
  h1 { font-size: 1.4em; margin: 0 0 .2em; }
  p.hint { color: #5b6473; margin: 0 0 1.2em; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: .55em .7em; border-bottom: 1px solid #e2e5ea; vertical-align: top; }
  th { background: #f4f6f8; font-weight: 600; }
  code { font-size: 12px; word-break: break-all; }
  td.id, td.when, td.answer { white-space: nowrap; }
  .metric { display: inline-block; margin: 0 .8em .2em 0; }
  .metric b { font-variant-numeric: tabular-nums; }
  .status { font-weight: 600; }
  .PENDING { color: #a05a00; } .APPROVED { color: #1a7f37; } .REJECTED { color: #c62828; } .EXPIRED { color: #6b7280; }
  button { font: inherit; padding: .3em .9em; border-radius: 4px; border: 1px solid #8c959f; cursor: pointer; }
  button.approve { background: #1a7f37; color: #fff; border-color: #1a7f37; }
  button.reject { background: #fff; color: #c62828; border-color: #c62828; }
  input.reason { width: 14em; padding: .3em; }
  #message { margin: 1em 0; min-height: 1.4em; }
  .error { color: #c62828; }
</style>
</head>
<body>
<h1>Model approvals</h1>
<p class="hint">Requests published by the workflow's approval step (sns:publish.waitForTaskToken). Approve sends
SendTaskSuccess; Reject sends SendTaskFailure (ModelRejected) with your reason.</p>
<div id="message"></div>
<table>
  <thead><tr><th>ID</th><th>Model package</th><th>Metrics</th><th>Received</th><th>Status</th><th>Answer</th></tr></thead>
  <tbody id="approvals"><tr><td colspan="6">Loading…</td></tr></tbody>
</table>
<script>
const rows = document.getElementById("approvals");
const message = document.getElementById("message");

function text(value) {
  const span = document.createElement("span");
  span.textContent = value == null ? "" : String(value);
  return span.innerHTML;
}

function metrics(scores) {
  const names = Object.keys(scores);
  if (!names.length) return "<em>none sent</em>";
  return names.map(n => `<span class="metric">${text(n)} <b>${Number(scores[n]).toFixed(4)}</b></span>`).join("");
}

function answerCell(a) {
  if (a.status !== "PENDING") {
    return `${text(a.answer || "")}<br><small>${text(a.answered_by || "")} ${text(a.answeredIso || "")}</small>`;
  }
  return `<button class="approve" id="approve-${a.id}" data-id="${a.id}">Approve</button>
          <input class="reason" id="reason-${a.id}" placeholder="reason to reject">
          <button class="reject" id="reject-${a.id}" data-id="${a.id}">Reject</button>`;
}

function render(list) {
  if (!list.length) {
    rows.innerHTML = '<tr><td colspan="6">No approval requests yet.</td></tr>';
    return;
  }
  rows.innerHTML = list.map(a => `
    <tr id="row-${a.id}">
      <td class="id"><code>${a.id}</code></td>
      <td><code>${text(a.model_package_arn)}</code>${a.model_package_version != null ?
          `<br>version ${text(a.model_package_version)}` : ""}</td>
      <td>${metrics(a.scores)}</td>
      <td class="when">${text(a.receivedIso)}</td>
      <td class="status ${a.status}" id="status-${a.id}">${a.status}</td>
      <td class="answer">${answerCell(a)}</td>
    </tr>`).join("");
}

async function refresh() {
  try {
    const response = await fetch("/api/approvals");
    const body = await response.json();
    render(body.approvals);
  } catch (err) {
    message.innerHTML = `<span class="error">${text(err)}</span>`;
  }
}

async function answer(id, action) {
  const payload = {};
  if (action === "reject") {
    payload.reason = document.getElementById(`reason-${id}`).value;
    if (!payload.reason.trim()) {
      message.innerHTML = '<span class="error">Give a reason to reject.</span>';
      return;
    }
  }
  const response = await fetch(`/api/approvals/${id}/${action}`, {
    method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(payload)});
  const body = await response.json();
  message.innerHTML = response.ok ? `${text(id)}: ${text(body.approval.status.toLowerCase())}`
                                  : `<span class="error">${text(body.error)}</span>`;
  await refresh();
}

rows.addEventListener("click", event => {
  const button = event.target.closest("button[data-id]");
  if (button) answer(button.dataset.id, button.classList.contains("approve") ? "approve" : "reject");
});
refresh();
setInterval(() => { if (!rows.querySelector("input.reason:focus")) refresh(); }, 3000);
</script>
</body>
</html>
"""


class _PageHandler(PageHandler):
    approvals: Approvals  # set on the subclass `make_server` builds

    def _json(self, status: int, value: Any) -> None:
        self._send(status, json.dumps(value).encode(), "application/json")

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.path in ("/", "/index.html"):
            self._send(200, PAGE.encode(), "text/html; charset=utf-8")
        elif self.path == "/api/approvals":
            self._json(200, {"approvals": [a.to_json() for a in self.approvals.all()]})
        else:
            self._json(404, {"error": f"no page {self.path}"})

    def do_POST(self) -> None:  # noqa: N802
        m = re.fullmatch(r"/api/approvals/([0-9a-f]{1,64})/(approve|reject)", self.path)
        if m is None:
            self._json(404, {"error": f"no action {self.path}"})
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
            payload = json.loads(self.rfile.read(length) or b"{}") if length else {}
            if m.group(2) == "approve":
                done = self.approvals.approve(m.group(1), by="web page", comment=str(payload.get("comment") or ""))
            else:
                done = self.approvals.reject(m.group(1), str(payload.get("reason") or ""), by="web page")
        except ApprovalError as err:
            self._json(409, {"error": str(err)})
        except ValueError as err:
            self._json(400, {"error": f"the request body is not JSON: {err}"})
        else:
            self._json(200, {"approval": done.to_json()})


def make_server(approvals: Approvals, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """The approvals page and its JSON API, bound (port 0: any free port) and ready for `serve_forever`.

    Raises:
        OSError: the address cannot be bound.
        ValueError: `host` is not a loopback address (the page answers tasks and has no authentication).
    """
    from harness.cloud import is_loopback_host

    if not is_loopback_host(host):
        raise ValueError(f"the approvals page listens on loopback only, not {host}: it has no authentication")
    handler = type("ApprovalsPage", (_PageHandler,), {"approvals": approvals})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


@dataclass
class _Running:
    server: ThreadingHTTPServer
    thread: threading.Thread = field(repr=False)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def serve_page(approvals: Approvals, host: str = "127.0.0.1", port: int = 0) -> _Running:
    """`make_server` running on a background thread; `.url`, `.close()`."""
    server = make_server(approvals, host, port)
    thread = threading.Thread(target=server.serve_forever, name="drydock-approvals-page", daemon=True)
    thread.start()
    return _Running(server, thread)
