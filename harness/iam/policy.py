"""A small IAM policy evaluator over one role's policies, read from moto's IAM or a CloudFormation template.

Follows the identity-based part of AWS's evaluation logic
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html): an explicit
Deny in any statement wins, otherwise an Allow is needed, otherwise the request is implicitly denied; a
permissions boundary, when the role has one, must allow the request too. Statements use Action or
NotAction and Resource or NotResource, with `*` and `?` wildcards (actions match without regard to case,
resources with it; a wildcard does not cross the colons of an ARN's first five fields).

Conditions: StringEquals/NotEquals/Like/NotLike (and their IgnoreCase forms), ArnEquals/Like/NotEquals/
NotLike, Bool and Null, with `...IfExists` and `ForAnyValue:`/`ForAllValues:`, over the keys drydock knows
for a task's request: `iam:PassedToService`, `aws:RequestedRegion`, `aws:PrincipalArn`,
`aws:PrincipalAccount`, `aws:PrincipalType`, `aws:SecureTransport`. Any other key or operator (IpAddress,
Numeric*, Date*, policy variables such as `${aws:username}`) is not evaluated; drydock then assumes the
worst for the request: such an Allow grants nothing and such a Deny applies, and the decision says which
condition it could not read. SCPs, resource policies and session policies are out of scope.
"""
from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping
from urllib.parse import unquote

ALLOWED, EXPLICIT_DENY, IMPLICIT_DENY, BOUNDARY_DENY = "allowed", "explicit-deny", "implicit-deny", "boundary-deny"
KNOWN_KEYS = frozenset({"iam:passedtoservice", "aws:requestedregion", "aws:principalarn", "aws:principalaccount",
                        "aws:principaltype", "aws:securetransport"})
_OPERATORS = {"StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase", "StringLike",
              "StringNotLike", "ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike", "Bool", "Null"}


class PolicyError(ValueError):
    """A policy document drydock cannot read (not an object, no Statement, a statement without Effect...)."""


# --------------------------------------------------------------------------- wildcards
@functools.lru_cache(maxsize=4096)
def _glob(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(f"(?s:{regex})\\Z", re.IGNORECASE if ignore_case else 0)


def like(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM's wildcard match: `*` any run of characters, `?` any one character, nothing else special."""
    return _glob(pattern, ignore_case).match(value) is not None


def _arn_fields(text: str) -> list[str] | None:
    parts = text.split(":", 5)
    return parts if len(parts) == 6 and parts[0] == "arn" else None


def resource_matches(pattern: str, resource: str) -> bool:
    """Whether a policy's Resource `pattern` covers the concrete `resource` (an ARN, or "*")."""
    if pattern == "*":
        return True
    p, r = _arn_fields(pattern), _arn_fields(resource)
    if p is None or r is None:
        return like(pattern, resource)
    return all(like(a, b) for a, b in zip(p, r))


def _intersect(a: str, b: str) -> bool:
    """Whether some string matches both wildcard patterns (`*` and `?` in either)."""

    @functools.lru_cache(maxsize=None)
    def go(i: int, j: int) -> bool:
        if i == len(a) and j == len(b):
            return True
        if i < len(a) and a[i] == "*":
            return go(i + 1, j) or (j < len(b) and go(i, j + 1))
        if j < len(b) and b[j] == "*":
            return go(i, j + 1) or (i < len(a) and go(i + 1, j))
        if i < len(a) and j < len(b) and (a[i] == "?" or b[j] == "?" or a[i] == b[j]):
            return go(i + 1, j + 1)
        return False
    return go(0, 0)


def _covers(a: str, b: str) -> bool:
    """Whether pattern `a` matches every string pattern `b` matches (a `*` of `b` only under a `*` of `a`)."""

    @functools.lru_cache(maxsize=None)
    def go(i: int, j: int) -> bool:
        if i == len(a):
            return j == len(b)
        if a[i] == "*":
            return go(i + 1, j) or (j < len(b) and go(i, j + 1))
        if j < len(b) and b[j] != "*" and (a[i] == "?" or (b[j] != "?" and a[i] == b[j])):
            return go(i + 1, j + 1)
        return False
    return go(0, 0)


def _fieldwise(pattern: str, resource: str, test: Any) -> bool:
    if pattern == "*":
        return True
    p, r = _arn_fields(pattern), _arn_fields(resource)
    if p is None or r is None:
        return test(pattern, resource)
    return all(test(a, b) for a, b in zip(p, r))


# --------------------------------------------------------------------------- policies
@dataclass(frozen=True)
class Statement:
    """One statement of a policy, its lists normalized to tuples."""

    effect: str  # "Allow" | "Deny"
    actions: tuple[str, ...] | None  # Action; None when the statement uses NotAction
    not_actions: tuple[str, ...] | None
    resources: tuple[str, ...] | None
    not_resources: tuple[str, ...] | None
    conditions: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    sid: str = ""
    policy: str = ""  # the name of the policy it belongs to, for messages

    def describe(self) -> str:
        return f"statement {self.sid!r} of policy {self.policy!r}" if self.sid else f"a statement of policy {self.policy!r}"


@dataclass(frozen=True)
class Policy:
    name: str
    statements: tuple[Statement, ...]

    @classmethod
    def from_document(cls, name: str, document: Any) -> "Policy":
        """Read a policy document (a dict, or its JSON text, URL-encoded as IAM returns it).

        Raises:
            PolicyError: the document is not a policy.
        """
        if isinstance(document, str):
            try:
                document = json.loads(document if document.lstrip().startswith("{") else unquote(document))
            except ValueError as err:
                raise PolicyError(f"policy {name!r} is not JSON: {err}") from None
        if not isinstance(document, dict) or "Statement" not in document:
            raise PolicyError(f"policy {name!r} has no Statement")
        raw = document["Statement"]
        statements = raw if isinstance(raw, list) else [raw]
        return cls(name, tuple(_statement(name, i, s) for i, s in enumerate(statements)))


def _strings(value: Any, where: str) -> tuple[str, ...]:
    values = value if isinstance(value, list) else [value]
    if not all(isinstance(v, str) for v in values):
        raise PolicyError(f"{where} must be a string or a list of strings: {json.dumps(value)[:80]}")
    return tuple(values)


def _statement(policy: str, index: int, raw: Any) -> Statement:
    where = f"statement {index} of policy {policy!r}"
    if not isinstance(raw, dict):
        raise PolicyError(f"{where} is not an object")
    effect = raw.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise PolicyError(f"{where}: Effect must be Allow or Deny, not {effect!r}")
    if ("Action" in raw) == ("NotAction" in raw):
        raise PolicyError(f"{where} needs exactly one of Action and NotAction")
    if ("Resource" in raw) == ("NotResource" in raw):
        raise PolicyError(f"{where} needs exactly one of Resource and NotResource")
    conditions = raw.get("Condition") or {}
    if not isinstance(conditions, dict) or not all(isinstance(v, dict) for v in conditions.values()):
        raise PolicyError(f"{where}: Condition must map operators to objects")
    return Statement(effect,
                     _strings(raw["Action"], where) if "Action" in raw else None,
                     _strings(raw["NotAction"], where) if "NotAction" in raw else None,
                     _strings(raw["Resource"], where) if "Resource" in raw else None,
                     _strings(raw["NotResource"], where) if "NotResource" in raw else None,
                     conditions, str(raw.get("Sid", "")), policy)


# --------------------------------------------------------------------------- evaluation
@dataclass(frozen=True)
class Decision:
    """The outcome for one request: allowed or why not, and what drydock could not evaluate."""

    allowed: bool
    reason: str  # ALLOWED, EXPLICIT_DENY, IMPLICIT_DENY, BOUNDARY_DENY
    statement: Statement | None = None  # the Allow that granted it or the Deny that refused it
    unsupported: tuple[str, ...] = ()  # conditions that were not evaluated (assumed the worst)


def _action_matches(patterns: tuple[str, ...], action: str) -> bool:
    return any(like(p, action, ignore_case=True) for p in patterns)


def _resource_applies(patterns: tuple[str, ...], resource: str, exact: bool, effect: str) -> bool:
    """Whether one of `patterns` applies to the resource; an inexact resource stands for many ARNs."""
    if exact:
        return any(resource_matches(p, resource) for p in patterns)
    # Allow: some ARN of the pattern may be granted; Deny: applies only when it refuses every one of them
    test = _intersect if effect == "Allow" else _covers
    return any(_fieldwise(p, resource, test) for p in patterns)


def _condition(statement: Statement, context: Mapping[str, Any]) -> tuple[bool, list[str]]:
    """(whether the conditions hold, the ones drydock could not evaluate)."""
    keys = {k.lower(): v for k, v in context.items()}
    unsupported: list[str] = []
    holds = True
    for operator, block in statement.conditions.items():
        quantifier, _, base = operator.rpartition(":")
        if_exists = base.endswith("IfExists") and base != "IfExists"
        base = base[: -len("IfExists")] if if_exists else base
        for key, expected in block.items():
            if base not in _OPERATORS or quantifier not in ("", "ForAnyValue", "ForAllValues") or \
                    key.lower() not in KNOWN_KEYS or any("${" in str(v) for v in _as_list(expected)):
                unsupported.append(f"{operator} {key}")
                continue
            actual = keys.get(key.lower())
            holds = holds and _operator(base, actual, _as_list(expected), if_exists, quantifier)
    if not holds:
        return False, unsupported
    if unsupported:  # the worst case: an Allow that does not grant, a Deny that does refuse
        return statement.effect == "Deny", unsupported
    return True, unsupported


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _operator(name: str, actual: Any, expected: list[Any], if_exists: bool, quantifier: str) -> bool:
    if name == "Null":
        return (actual is None) == (str(expected[0]).lower() == "true")
    if actual is None:
        return if_exists or (quantifier == "ForAllValues")
    values = [str(v) for v in _as_list(actual)]
    negated = "Not" in name
    ignore_case = name.endswith("IgnoreCase")
    if name == "Bool":
        test = lambda v, e: v.lower() == str(e).lower()  # noqa: E731
    elif name.startswith("Arn"):
        test = lambda v, e: resource_matches(str(e), v) if "Like" in name else v == str(e)  # noqa: E731
    elif "Like" in name:
        test = lambda v, e: like(str(e), v, ignore_case=ignore_case)  # noqa: E731
    else:
        test = lambda v, e: v.lower() == str(e).lower() if ignore_case else v == str(e)  # noqa: E731
    passed = [any(test(v, e) for e in expected) != negated for v in values]
    return all(passed) if quantifier == "ForAllValues" else any(passed)


def evaluate(policies: Iterable[Policy], action: str, resource: str, *, context: Mapping[str, Any] | None = None,
             exact: bool = True) -> Decision:
    """Evaluate one request against a set of identity-based policies.

    Args:
        policies: every policy of the principal (inline and managed alike).
        action: the IAM action, e.g. "sagemaker:CreateTrainingJob".
        resource: the resource ARN (or "*").
        context: request condition keys (case-insensitive names).
        exact: False when `*` in `resource` stands for values not known yet: an Allow then needs only to
            grant some of those ARNs, and a Deny must refuse all of them.

    Returns:
        A Decision; an explicit Deny wins over any Allow.
    """
    context = context or {}
    allow: Statement | None = None
    unsupported: list[str] = []
    for policy in policies:
        for statement in policy.statements:
            if statement.actions is not None:
                if not _action_matches(statement.actions, action):
                    continue
            elif _action_matches(statement.not_actions or (), action):
                continue
            if statement.resources is not None:
                if not _resource_applies(statement.resources, resource, exact, statement.effect):
                    continue
            else:
                # NotResource: applies to what the listed patterns leave out
                opposite = "Deny" if statement.effect == "Allow" else "Allow"
                if _resource_applies(statement.not_resources or (), resource, exact, opposite):
                    continue
            holds, missed = _condition(statement, context)
            unsupported += [f"{m} ({statement.describe()})" for m in missed]
            if not holds:
                continue
            if statement.effect == "Deny":
                return Decision(False, EXPLICIT_DENY, statement, tuple(unsupported))
            allow = allow or statement
    if allow is None:
        return Decision(False, IMPLICIT_DENY, None, tuple(unsupported))
    return Decision(True, ALLOWED, allow, tuple(unsupported))


# --------------------------------------------------------------------------- roles
@dataclass(frozen=True)
class Role:
    """A role with every policy that applies to it.

    Attributes:
        arn: the role's ARN (a placeholder for a template's role).
        name: the role name.
        policies: inline and attached managed policies.
        boundary: the permissions boundary policy, if any.
        notes: what could not be read (a managed policy drydock does not have, ...).
    """

    arn: str
    name: str
    policies: tuple[Policy, ...]
    boundary: Policy | None = None
    notes: tuple[str, ...] = ()

    def evaluate(self, action: str, resource: str, *, context: Mapping[str, Any] | None = None,
                 exact: bool = True) -> Decision:
        """Evaluate a request made with this role's credentials (see `evaluate`)."""
        account = self.arn.split(":")[4] if self.arn.count(":") >= 5 else ""
        context = {"aws:PrincipalArn": self.arn, "aws:PrincipalAccount": account, "aws:PrincipalType": "AssumedRole",
                   "aws:SecureTransport": "true", **(context or {})}
        decision = evaluate(self.policies, action, resource, context=context, exact=exact)
        if decision.allowed and self.boundary is not None:
            bounded = evaluate((self.boundary,), action, resource, context=context, exact=exact)
            if not bounded.allowed:
                return Decision(False, EXPLICIT_DENY if bounded.reason == EXPLICIT_DENY else BOUNDARY_DENY,
                                bounded.statement, decision.unsupported + bounded.unsupported)
        return decision


def role_name(arn: str) -> str:
    """The name of a role from its ARN (`...:role/path/Name`) or a template placeholder (`...:role:Name`)."""
    tail = arn.rsplit(":", 1)[-1]
    return tail.rsplit("/", 1)[-1]


@functools.cache
def aws_managed_policies() -> dict[str, Policy]:
    """AWS managed policies by ARN, from the copy moto ships."""
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    found = {}
    for name, entry in json.loads(aws_managed_policies_data).items():
        arn = f"arn:aws:iam::aws:policy{entry.get('Path', '/')}{name}"
        try:
            found[arn] = Policy.from_document(name, entry["Document"])
        except PolicyError:
            continue
    return found


def role_from_iam(iam: Any, name_or_arn: str) -> Role | None:
    """A role with its inline, attached and boundary policies, read through an IAM client (moto's).

    Returns:
        None when IAM has no such role.
    """
    from botocore.exceptions import ClientError

    name = role_name(name_or_arn)
    try:
        role = iam.get_role(RoleName=name)["Role"]
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") == "NoSuchEntity":
            return None
        raise
    policies: list[Policy] = []
    notes: list[str] = []
    for page in iam.get_paginator("list_role_policies").paginate(RoleName=name):
        for policy_name in page["PolicyNames"]:
            document = iam.get_role_policy(RoleName=name, PolicyName=policy_name)["PolicyDocument"]
            policies.append(Policy.from_document(policy_name, document))
    for page in iam.get_paginator("list_attached_role_policies").paginate(RoleName=name):
        for attached in page["AttachedPolicies"]:
            policy = _managed_from_iam(iam, attached["PolicyArn"], notes)
            if policy is not None:
                policies.append(policy)
    boundary = None
    boundary_arn = role.get("PermissionsBoundary", {}).get("PermissionsBoundaryArn")
    if boundary_arn:
        boundary = _managed_from_iam(iam, boundary_arn, notes) or Policy(boundary_arn, ())
    return Role(role["Arn"], name, tuple(policies), boundary, tuple(notes))


def _managed_from_iam(iam: Any, arn: str, notes: list[str]) -> Policy | None:
    from botocore.exceptions import ClientError

    try:
        version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
        document = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]
        return Policy.from_document(arn.rsplit("/", 1)[-1], document)
    except ClientError:
        known = aws_managed_policies().get(arn)
        if known is None:
            notes.append(f"managed policy {arn} not found: counted as granting nothing")
        return known


# --------------------------------------------------------------------------- CloudFormation
_ROLE_TYPES = ("AWS::IAM::Role",)


def _resolved(value: Any, template: Any) -> Any:
    """A policy document with `Ref`/`Fn::*` replaced by the strings CloudFormation would produce."""
    from harness.cfn.template import _resolve

    if isinstance(value, dict):
        if len(value) == 1:
            (key, _), = value.items()
            if key == "Ref" or key.startswith("Fn::"):
                return _resolve(value, template)
        return {k: _resolved(v, template) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolved(v, template) for v in value]
    return value


def _logical_ref(value: Any) -> str | None:
    """The logical id a RoleArn/Roles entry points at: !GetAtt X.Arn, !Ref X, !Sub '${X.Arn}'."""
    if isinstance(value, dict) and len(value) == 1:
        (key, args), = value.items()
        if key == "Fn::GetAtt":
            return str(args[0] if isinstance(args, list) else args).split(".", 1)[0]
        if key == "Ref" and isinstance(args, str):
            return args
        if key == "Fn::Sub":
            text = args[0] if isinstance(args, list) and args else args
            m = re.fullmatch(r"\$\{([A-Za-z0-9]+)\.Arn\}", text) if isinstance(text, str) else None
            return m.group(1) if m else None
    return None


class TemplateRoles:
    """The roles a CloudFormation template declares, with the policies attached to them in it.

    Reads AWS::IAM::Role (Policies, ManagedPolicyArns, PermissionsBoundary) and the policies that name
    it: AWS::IAM::Policy / AWS::IAM::RolePolicy / AWS::IAM::ManagedPolicy with `Roles` or `RoleName`.
    Managed policy ARNs resolve to a template's AWS::IAM::ManagedPolicy or to AWS's own (moto's copy).
    """

    def __init__(self, template: Any):
        self.template = template
        resources = template.body.get("Resources")
        self._resources: dict[str, Any] = resources if isinstance(resources, dict) else {}
        self.roles: dict[str, Role] = {}
        for logical_id, resource in self._resources.items():
            if isinstance(resource, dict) and resource.get("Type") in _ROLE_TYPES:
                self.roles[logical_id] = self._role(logical_id, resource.get("Properties") or {})

    def _role(self, logical_id: str, properties: dict[str, Any]) -> Role:
        from harness.cfn.template import _placeholder_arn

        name = properties.get("RoleName") if isinstance(properties.get("RoleName"), str) else logical_id
        policies: list[Policy] = []
        notes: list[str] = []
        for i, entry in enumerate(properties.get("Policies") or []):
            if isinstance(entry, dict):
                label = str(entry.get("PolicyName") or f"{logical_id}.Policies[{i}]")
                policies.append(Policy.from_document(label, _resolved(entry.get("PolicyDocument"), self.template)))
        for arn in properties.get("ManagedPolicyArns") or []:
            policy = self._managed(arn, notes)
            if policy is not None:
                policies.append(policy)
        for other_id, resource in self._resources.items():  # standalone policies that name this role
            if not isinstance(resource, dict) or resource.get("Type") not in (
                    "AWS::IAM::Policy", "AWS::IAM::RolePolicy", "AWS::IAM::ManagedPolicy"):
                continue
            props = resource.get("Properties") or {}
            targets = props.get("Roles") or ([props["RoleName"]] if "RoleName" in props else [])
            if any(_logical_ref(t) == logical_id or t in (name, logical_id) for t in targets):
                label = str(props.get("PolicyName") or props.get("ManagedPolicyName") or other_id)
                policies.append(Policy.from_document(label, _resolved(props.get("PolicyDocument"), self.template)))
        boundary = None
        if properties.get("PermissionsBoundary") is not None:
            boundary = self._managed(properties["PermissionsBoundary"], notes) or Policy("PermissionsBoundary", ())
        return Role(_placeholder_arn(self.template, logical_id), name, tuple(policies), boundary, tuple(notes))

    def _managed(self, value: Any, notes: list[str]) -> Policy | None:
        logical_id = _logical_ref(value)
        resource = self._resources.get(logical_id) if logical_id else None
        if isinstance(resource, dict) and resource.get("Type") == "AWS::IAM::ManagedPolicy":
            props = resource.get("Properties") or {}
            return Policy.from_document(str(props.get("ManagedPolicyName") or logical_id),
                                        _resolved(props.get("PolicyDocument"), self.template))
        arn = _resolved(value, self.template)
        known = aws_managed_policies().get(arn) if isinstance(arn, str) else None
        if known is None:
            notes.append(f"managed policy {arn} is not in the template nor an AWS managed policy: "
                         f"counted as granting nothing")
        return known

    def for_state_machine(self, logical_id: str, properties: Mapping[str, Any]) -> Role | None:
        """The role a state machine resource runs as (RoleArn, or SAM's Role), if the template declares it."""
        value = properties.get("RoleArn", properties.get("Role"))
        if value is None and "Policies" in properties:
            return self._sam_role(logical_id, properties["Policies"])
        logical_id = _logical_ref(value)
        if logical_id in self.roles:
            return self.roles[logical_id]
        if isinstance(value, str):
            return self.lookup(value)
        return None

    def _sam_role(self, machine: str, entries: Any) -> Role:
        """The role SAM makes from an AWS::Serverless::StateMachine's Policies (statements and managed ARNs)."""
        policies: list[Policy] = []
        notes: list[str] = []
        for i, entry in enumerate(entries if isinstance(entries, list) else [entries]):
            if isinstance(entry, dict) and "Statement" in entry:
                policies.append(Policy.from_document(f"Policies[{i}]", _resolved(entry, self.template)))
            elif isinstance(entry, str) and not entry.startswith("arn:"):
                policy = self._managed(f"arn:aws:iam::aws:policy/{entry}", notes)
                policies += [policy] if policy else []
            elif isinstance(entry, dict) and len(entry) == 1 and not next(iter(entry)).startswith(("Fn::", "Ref")):
                notes.append(f"SAM policy template {next(iter(entry))} is not supported: counted as granting nothing")
            else:
                policy = self._managed(entry, notes)
                policies += [policy] if policy else []
        from harness.cfn.template import ACCOUNT

        name = f"{machine}Role"  # SAM names the role it makes after the state machine
        return Role(f"arn:aws:iam::{ACCOUNT}:role/{name}", name, tuple(policies), None, tuple(notes))

    def lookup(self, role_arn: str) -> Role | None:
        """The template's role with this ARN or name (placeholder or real ARN alike)."""
        wanted = role_name(role_arn)
        for logical_id, role in self.roles.items():
            if role_arn == role.arn or wanted in (role.name, logical_id):
                return role
        return None


class IamRoles:
    """Roles as moto's IAM holds them right now (read on every lookup: a test may change them)."""

    def __init__(self, cloud: Any):
        self.cloud = cloud

    def lookup(self, role_arn: str) -> Role | None:
        if self.cloud.endpoint_url is None:  # moto runs in this process: read its IAM state directly
            try:
                return role_from_moto(self.cloud.account, self.cloud.region, role_arn)
            except Exception:  # noqa: BLE001 - a moto whose model differs: ask through the API instead
                pass
        return role_from_iam(self.cloud.client("iam"), role_arn)


def role_from_moto(account: str, region: str, name_or_arn: str) -> Role | None:
    """`role_from_iam`, read from moto's in-process IAM backend: the same role, without the four API round trips
    (GetRole, ListRolePolicies, ListAttachedRolePolicies, GetPolicy...) that cost milliseconds per execution."""
    from moto.iam.models import iam_backends
    from moto.utilities.utils import get_partition

    backend = iam_backends[account][get_partition(region)]  # the backend an IAM client of that region reaches
    name = role_name(name_or_arn)
    role = next((r for r in backend.get_roles() if r.name == name), None)
    if role is None:
        return None
    policies = [_parsed(policy_name, document) for policy_name, document in role.policies.items()]
    notes: list[str] = []
    for policy_arn in role.managed_policies:
        policy = _managed_from_moto(backend, policy_arn, notes)
        if policy is not None:
            policies.append(policy)
    boundary = None
    if role.permissions_boundary_arn:
        boundary = (_managed_from_moto(backend, role.permissions_boundary_arn, notes)
                    or Policy(role.permissions_boundary_arn, ()))
    return Role(role.arn, name, tuple(policies), boundary, tuple(notes))


def _managed_from_moto(backend: Any, arn: str, notes: list[str]) -> Policy | None:
    managed = backend.managed_policies.get(arn)
    version = next((v for v in getattr(managed, "versions", ()) if v.version_id == managed.default_version_id), None)
    if version is None:
        known = aws_managed_policies().get(arn)
        if known is None:
            notes.append(f"managed policy {arn} not found: counted as granting nothing")
        return known
    return _parsed(arn.rsplit("/", 1)[-1], version.document)


@functools.lru_cache(maxsize=512)
def _parsed(name: str, document: str) -> Policy:
    return Policy.from_document(name, document)
