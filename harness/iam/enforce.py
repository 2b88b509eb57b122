"""IAM at run time: every integration call is checked against the role it runs as, before it is made.

`enforce(handlers, roles)` wraps any `TaskHandlers` (what `harness.integrations.build_handlers` returns):
each task's effective parameters give the permissions it needs (`harness.iam.actions`), and the role
(the Task's Credentials.RoleArn, else the execution's role) is looked up in `roles` (`TemplateRoles`,
`IamRoles`, or anything with `lookup(arn) -> Role | None`). In strict mode a denied call fails the
task as AWS fails it: the service's error with AWS's AccessDenied wording, e.g.
`SageMaker.AmazonSageMakerException` "User: arn:aws:sts::123456789012:assumed-role/R/... is not
authorized to perform: iam:PassRole on resource: ... because no identity-based policy allows the
iam:PassRole action (Service: AmazonSageMaker; Status Code: 400; Error Code: AccessDeniedException; ...)",
and `States.TaskFailed` "'<role arn>' is not authorized to create managed-rule." for the EventBridge
rule of a .sync task. In the default mode the same text is logged as a warning (logger
`drydock.iam`) and the call goes ahead.
"""
from __future__ import annotations

import functools
import hashlib
import inspect
import logging
import uuid
from collections import OrderedDict, deque
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Protocol

from asl import errors as E
from asl.errors import StatesError
from asl.tasks import Resource, TaskHandler, TaskHandlers, TaskRequest
from harness.iam.actions import CALL, SYNC, Permission, required
from harness.iam.policy import BOUNDARY_DENY, EXPLICIT_DENY, Decision, Role

log = logging.getLogger("drydock.iam")
STRICT, WARN = "strict", "warn"

# Optimized integrations: error code and HTTP status of an AccessDenied answer, as each service sends it.
_DENIED = {"lambda": ("AccessDeniedException", 403), "sns": ("AuthorizationError", 403), "sqs": ("AccessDenied", 403),
           "s3": ("AccessDenied", 403)}
# Optimized integrations drydock's error module does not name: (error prefix, service name in causes, base exception).
_V1_MORE = {"sagemaker": ("SageMaker", "AmazonSageMaker", "AmazonSageMakerException"),
            "batch": ("Batch", "AWSBatch", "AWSBatchException"), "ecs": ("ECS", "AmazonECS", "AmazonECSException"),
            "codebuild": ("CodeBuild", "AWSCodeBuild", "AWSCodeBuildException"),
            "athena": ("Athena", "AmazonAthena", "AmazonAthenaException")}


class RoleSource(Protocol):
    def lookup(self, role_arn: str) -> Role | None: ...


@dataclass(frozen=True)
class Denial:
    """A call the role may not make: what was asked, why not, and the error AWS would raise."""

    execution_arn: str
    state_name: str
    role_arn: str
    permission: Permission | None  # None when the role itself is unknown
    decision: Decision | None
    error: StatesError


class Enforcer:
    """`TaskHandlers` that check each call's IAM permissions before handing it to the wrapped handlers."""

    def __init__(self, handlers: TaskHandlers, roles: RoleSource, *, mode: str = WARN):
        if mode not in (STRICT, WARN):
            raise ValueError(f"IAM mode must be {STRICT!r} or {WARN!r}, not {mode!r}")
        self.handlers = handlers
        self.roles = roles
        self.mode = mode
        self.denials: deque[Denial] = deque(maxlen=1000)  # the latest, for tests and reports
        self._unknown_warned: set[str] = set()
        # an execution assumes its role once: its policies are read on its first call, not on every call
        # (IAM is eventually consistent on AWS too; a policy change applies from the next execution)
        self._roles: OrderedDict[tuple[str, str], Role | None] = OrderedDict()

    def bind(self, engine: Any) -> "Enforcer":
        """Bind the wrapped handlers (see `Integrations.bind`) and keep this wrapper in front of them."""
        self.handlers.bind(engine)  # type: ignore[attr-defined]
        return self

    def __getattr__(self, name: str) -> Any:  # map_readers, services, ... of the wrapped handlers
        return getattr(self.handlers, name)

    def resolve(self, resource: Resource) -> TaskHandler | None:
        handler = self.handlers.resolve(resource)
        if handler is None or resource.kind == "activity":
            return handler

        @functools.wraps(handler)  # keeps what the handler offers a journal replay (`replayed`, `resume`)
        async def checked(request: TaskRequest) -> Any:
            denial = self.check(request)
            if denial is not None:
                self.denials.append(denial)
                if self.mode == STRICT:
                    raise denial.error
                log.warning("IAM (warn mode): %s in state '%s' of %s: %s: %s", denial.role_arn, denial.state_name,
                            denial.execution_arn, denial.error.error, denial.error.cause)
            result = handler(request)
            if inspect.isawaitable(result):
                result = await result
            return result
        return checked

    def check(self, request: TaskRequest) -> Denial | None:
        """The first permission the request's role lacks, as the error AWS would answer; None when allowed."""
        resource = request.resource
        execution_role = str((request.context.get("Execution") or {}).get("RoleArn") or "")
        credentials = request.credentials if isinstance(request.credentials, dict) else {}
        assumed = credentials.get("RoleArn") if isinstance(credentials.get("RoleArn"), str) else None
        role_arn = assumed or execution_role
        if assumed:
            caller = self._role(request.execution_arn, execution_role)
            if caller is not None:
                decision = caller.evaluate("sts:AssumeRole", assumed)
                if not decision.allowed:
                    permission = Permission("sts:AssumeRole", assumed)
                    cause = _message(caller, request, permission, decision)
                    return Denial(request.execution_arn, request.state_name, caller.arn, permission, decision,
                                  StatesError(E.TASK_FAILED, cause))
        role = self._role(request.execution_arn, role_arn)
        if role is None:
            return self._unknown(request, role_arn)
        permissions = [p for p in required(resource, request.parameters, region=request.region, account=request.account)
                       if p.phase in (CALL, SYNC)]
        permissions.sort(key=lambda p: not p.managed_rule)  # the rule is made before the service is called
        for permission in permissions:
            context = {"aws:RequestedRegion": request.region, **dict(permission.context)}
            decision = role.evaluate(permission.action, permission.resource, context=context, exact=permission.exact)
            if not decision.allowed:
                error = _error(role, request, permission, decision)
                return Denial(request.execution_arn, request.state_name, role.arn, permission, decision, error)
        return None

    def _role(self, execution_arn: str, role_arn: str) -> Role | None:
        key = (execution_arn, role_arn)
        if key not in self._roles:
            self._roles[key] = self.roles.lookup(role_arn)
            if len(self._roles) > 1000:
                self._roles.popitem(last=False)
        return self._roles[key]

    def _unknown(self, request: TaskRequest, role_arn: str) -> Denial | None:
        if self.mode == STRICT:
            cause = (f"drydock (strict IAM mode) does not know the role '{role_arn}', so none of its permissions can "
                     f"be checked: create it in the local IAM or declare it in the template")
            return Denial(request.execution_arn, request.state_name, role_arn, None, None,
                          StatesError(E.TASK_FAILED, cause))
        if role_arn not in self._unknown_warned:  # common locally (roles made up for tests): said once, quietly
            self._unknown_warned.add(role_arn)
            log.info("IAM (warn mode): role %s is unknown locally; its integration calls are not checked", role_arn)
        return None


def enforce(handlers: TaskHandlers, roles: RoleSource, *, mode: str = WARN) -> Enforcer:
    """Wrap `handlers` so that each integration call is checked against IAM first.

    Args:
        handlers: the task handlers to wrap (e.g. `build_handlers(cloud)`, bound or not).
        roles: where roles and their policies come from: `TemplateRoles(template)`, `IamRoles(cloud)`.
        mode: STRICT fails a denied task as AWS does; WARN (default) logs the same error and lets the call run.

    Returns:
        An `Enforcer`; its `denials` keep the latest refusals.
    """
    return Enforcer(handlers, roles, mode=mode)


# --------------------------------------------------------------------------- AWS's wording
def _principal(role: Role, request: TaskRequest) -> str:
    account = role.arn.split(":")[4] if role.arn.count(":") >= 5 and role.arn.split(":")[4] else request.account
    session = hashlib.md5(request.execution_arn.encode()).hexdigest()  # Step Functions names sessions randomly
    return f"arn:aws:sts::{account}:assumed-role/{role.name}/{session}"


def _message(role: Role, request: TaskRequest, permission: Permission, decision: Decision) -> str:
    action = permission.action
    if action.startswith("sns:"):
        action = "SNS:" + action[4:]  # SNS spells its own prefix in capitals
    resource = permission.resource
    if decision.reason == EXPLICIT_DENY:
        why = "with an explicit deny in an identity-based policy"
    elif decision.reason == BOUNDARY_DENY:
        why = f"because no permissions boundary allows the {action} action"
    else:
        why = f"because no identity-based policy allows the {action} action"
    return f"User: {_principal(role, request)} is not authorized to perform: {action} on resource: {resource} {why}"


def _request_id(request: TaskRequest, permission: Permission) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{request.execution_arn}/{request.state_name}/{permission.action}"))


def _error(role: Role, request: TaskRequest, permission: Permission, decision: Decision) -> StatesError:
    resource = request.resource
    if permission.managed_rule:
        return StatesError(E.TASK_FAILED, f"'{role.arn}' is not authorized to create managed-rule.")
    message = _message(role, request, permission, decision)
    request_id = _request_id(request, permission)
    if resource.kind == "lambda":
        return _v1("lambda", message, request_id)
    if resource.service.startswith("aws-sdk:"):
        return _v2(resource.service.split(":", 1)[1], resource.action, message, request_id)
    return _v1(resource.service, message, request_id)


def _client_error(code: str, message: str, status: int, request_id: str, operation: str) -> Any:
    from botocore.exceptions import ClientError

    return ClientError({"Error": {"Code": code, "Message": message},
                        "ResponseMetadata": {"RequestId": request_id, "HTTPStatusCode": status}}, operation)


@functools.lru_cache(maxsize=None)
def _model_client(boto_name: str) -> Any:
    """A stand-in client carrying the service model (loaded once per service)."""
    import botocore.session

    return SimpleNamespace(meta=SimpleNamespace(service_model=botocore.session.get_session()
                                                .get_service_model(boto_name)))


def _v1(service: str, message: str, request_id: str) -> StatesError:
    """An optimized integration's AccessDenied, in the Java SDK v1 wording its other errors have."""
    from harness.integrations import errors

    code, status = _DENIED.get(service, ("AccessDeniedException", 400))
    if service in errors.V1_SERVICES:
        boto_name = {"events": "events", "states": "stepfunctions"}.get(service, service)
        try:
            client = _model_client(boto_name)
        except Exception:  # noqa: BLE001 - no model: the base exception names it
            return errors.v1_error(service, code, message, status, request_id)
        return errors.v1_client_error(service, client, "", _client_error(code, message, status, request_id, ""))
    prefix, label, base = _V1_MORE.get(service, (service[:1].upper() + service[1:], service, "AccessDeniedException"))
    return StatesError(f"{prefix}.{base}", f"{message} (Service: {label}; Status Code: {status}; Error Code: {code}; "
                                           f"Request ID: {request_id}; Proxy: null)")


def _v2(sdk_service: str, action: str, message: str, request_id: str) -> StatesError:
    """An aws-sdk integration's AccessDenied, in the Java SDK v2 wording (`S3.S3Exception`, ...)."""
    from harness.integrations import aws_sdk, errors

    code, status = _DENIED.get(sdk_service, ("AccessDeniedException", 400))
    boto_name = aws_sdk.boto_service(sdk_service) or sdk_service
    try:
        client = _model_client(boto_name)
    except Exception:  # noqa: BLE001
        name = errors.sdk_service_name(sdk_service)
        return errors.v2_error(name, f"{name}Exception", message, status, request_id)
    operation = aws_sdk.operation_name(client, action)
    return errors.v2_client_error(client, operation, _client_error(code, message, status, request_id, operation or ""))
