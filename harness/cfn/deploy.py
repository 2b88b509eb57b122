"""Deploy a CloudFormation template into the local cloud: its resources made as CloudFormation would make them.

`deploy(cloud, template)` reads the template (`harness.cfn.template.load_template`: short-form tags included),
resolves Parameters (defaults, overrides, AllowedValues/AllowedPattern) and Conditions, orders the resources by
their references (Ref, Fn::GetAtt, Fn::Sub, DependsOn), and creates each one through the local cloud's clients:

| type | made with | Ref / Fn::GetAtt |
|---|---|---|
| AWS::IAM::Role, ::Policy, ::ManagedPolicy | CreateRole + PutRolePolicy / AttachRolePolicy, CreatePolicy | name / Arn, RoleId |
| AWS::S3::Bucket | CreateBucket, versioning, encryption, public access block, EventBridge notifications | name / Arn |
| AWS::SNS::Topic, ::Subscription | CreateTopic, Subscribe | ARN / TopicName, TopicArn |
| AWS::SQS::Queue | CreateQueue | URL / Arn, QueueName, QueueUrl |
| AWS::Lambda::Function | CreateFunction: inline ZipFile (index.py), S3Bucket/S3Key, or a local directory (what `aws cloudformation package` uploads) | name / Arn |
| AWS::Events::Rule | PutRule + PutTargets (schedule rules are stored; nothing fires them) | name / Arn |
| AWS::StepFunctions::StateMachine | the Step Functions API's CreateStateMachine, DefinitionSubstitutions applied | ARN / Name, Arn |
| AWS::SageMaker::ModelPackageGroup, ::FeatureGroup | CreateModelPackageGroup, CreateFeatureGroup | name / Arn |

Any other type stops the deployment before anything is made, naming the logical id and the type. With an
approvals `Inbox`, every topic a state machine publishes approval requests to (`sns:publish.waitForTaskToken`)
gets the inbox's subscription. A bucket with EventBridge notifications sends its "Object Created" events through
drydock's EventBridge delivery (`harness.integrations.events.route`), so an S3-upload rule starts its state
machine; the Model Monitor violation event takes the same road (`harness.sagemaker.monitor.run`).
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-template-resource-type-ref.html
"""
from __future__ import annotations

import hashlib
import io
import json
import re
import threading
import uuid
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from asl.errors import LoadError
from harness.cfn.template import PSEUDO_PARAMETERS, Template, load_template

NO_VALUE = object()  # AWS::NoValue: the property is left out


class DeployError(Exception):
    """A template that cannot be deployed here; the message names the resource and why."""


@dataclass
class Resource:
    """One created resource: its logical id, type, what Ref gives and what Fn::GetAtt can read."""

    logical_id: str
    type: str
    ref: str
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass
class Stack:
    """What a deployment made: resources by logical id, resolved parameters and outputs."""

    name: str
    resources: dict[str, Resource]
    parameters: dict[str, Any]
    outputs: dict[str, str]
    approval_topics: list[str] = field(default_factory=list)

    def ref(self, logical_id: str) -> str:
        return self.resources[logical_id].ref

    def arn(self, logical_id: str) -> str:
        resource = self.resources[logical_id]
        return resource.attributes.get("Arn", resource.ref)

    def of_type(self, kind: str) -> list[Resource]:
        return [r for r in self.resources.values() if r.type == kind]

    @property
    def state_machine_arns(self) -> dict[str, str]:
        return {r.logical_id: r.ref for r in self.of_type("AWS::StepFunctions::StateMachine")}


# --------------------------------------------------------------------------- the deployment
def deploy(cloud: Any, template: str | Path, *, parameters: dict[str, Any] | None = None,
           stack_name: str = "drydock", inbox: Any = None, base_dir: str | Path | None = None) -> Stack:
    """Create every resource of a template in the local cloud.

    Args:
        cloud: a `harness.cloud.LocalCloud` (in-process, or `drydock serve`'s endpoint).
        template: a template file, or its text.
        parameters: values for the template's Parameters (the others take their Default).
        stack_name: AWS::StackName, and the prefix of generated resource names.
        inbox: a `harness.approvals.Inbox`, subscribed to the topics approval requests are published to.
        base_dir: where relative `Code` directories of Lambda functions are read (default: the template's folder).

    Returns:
        The deployed stack.

    Raises:
        DeployError: a template that cannot be read or deployed (unsupported resource types, unknown references,
            bad parameter values, a dependency cycle); nothing is created when it is found before creation.
    """
    if isinstance(template, Path) or (isinstance(template, str) and "\n" not in template
                                      and template.endswith((".yaml", ".yml", ".json", ".template"))):
        path = Path(template)
        try:
            text = path.read_text()
        except OSError as err:
            raise DeployError(f"cannot read the template {path}: {err.strerror or err}") from None
        source, base = str(path), Path(base_dir) if base_dir is not None else path.resolve().parent
    else:
        text, source, base = str(template), "<template>", Path(base_dir or ".")
    try:
        parsed = load_template(text, source)
    except LoadError as err:
        raise DeployError(f"the template is not valid JSON or YAML: {err}") from None
    return _Deployment(cloud, parsed, parameters or {}, stack_name, base, source).run(inbox)


class _Deployment:
    def __init__(self, cloud: Any, template: Template, overrides: dict[str, Any], stack_name: str, base: Path,
                 source: str):
        self.cloud, self.template, self.base, self.source = cloud, template, base, source
        body = template.body
        resources = body.get("Resources")
        if not isinstance(resources, dict) or not resources:
            raise DeployError(f"{source}: a template needs a Resources section with at least one resource")
        for logical_id, resource in resources.items():
            if not isinstance(resource, dict) or not isinstance(resource.get("Type"), str):
                raise DeployError(f"{source}: resource {logical_id} has no Type")
        self.resources: dict[str, dict[str, Any]] = resources
        self.pseudo = {**PSEUDO_PARAMETERS, "AWS::Region": cloud.region, "AWS::AccountId": cloud.account,
                       "AWS::StackName": stack_name,
                       "AWS::StackId": f"arn:aws:cloudformation:{cloud.region}:{cloud.account}:stack/{stack_name}/"
                                       f"{uuid.uuid5(uuid.NAMESPACE_URL, stack_name)}"}
        self.stack_name = stack_name
        self.parameters = self._parameters(overrides)
        self.conditions: dict[str, bool] = {}
        self._condition_defs = body.get("Conditions") if isinstance(body.get("Conditions"), dict) else {}
        self.made: dict[str, Resource] = {}

    # ------------------------------------------------------------------ parameters and conditions
    def _parameters(self, overrides: dict[str, Any]) -> dict[str, Any]:
        declared = self.template.body.get("Parameters") or {}
        unknown = sorted(set(overrides) - set(declared))
        if unknown:
            raise DeployError(f"{self.source}: parameters {', '.join(unknown)} are not declared by the template")
        values: dict[str, Any] = {}
        for name, spec in declared.items():
            spec = spec if isinstance(spec, dict) else {}
            kind = str(spec.get("Type", "String"))
            if name in overrides:
                value = overrides[name]
            elif "Default" in spec:
                value = spec["Default"]
            else:
                raise DeployError(f"{self.source}: parameter {name} has no Default and no value was given")
            if kind.startswith("AWS::SSM::") or kind.startswith("AWS::EC2::") or kind.startswith("List<AWS::"):
                raise DeployError(f"{self.source}: parameter {name} has type {kind}, which drydock cannot resolve "
                                  f"(no SSM, no EC2); use String")
            text = "" if value is None else (str(value).lower() if isinstance(value, bool) else str(value))
            allowed = spec.get("AllowedValues")
            if isinstance(allowed, list) and text not in [str(a) for a in allowed]:
                raise DeployError(f"{self.source}: parameter {name}={text!r} is not one of its AllowedValues "
                                  f"{allowed}")
            pattern = spec.get("AllowedPattern")
            if isinstance(pattern, str) and kind == "String" and not re.fullmatch(pattern, text):
                raise DeployError(f"{self.source}: parameter {name}={text!r} does not match its AllowedPattern "
                                  f"{pattern}")
            if kind == "Number":
                try:
                    float(text)
                except ValueError:
                    raise DeployError(f"{self.source}: parameter {name}={text!r} is not a Number") from None
            values[name] = text.split(",") if kind == "CommaDelimitedList" else text
        return values

    def condition(self, name: str) -> bool:
        if name not in self.conditions:
            if name not in self._condition_defs:
                raise DeployError(f"{self.source}: condition {name} is not declared in Conditions")
            self.conditions[name] = bool(self._truth(self._condition_defs[name], f"Conditions/{name}"))
        return self.conditions[name]

    def _truth(self, value: Any, where: str) -> bool:
        if isinstance(value, dict) and len(value) == 1:
            (fn, args), = value.items()
            if fn == "Fn::Equals":
                a, b = (self.resolve(v, where) for v in args)
                return str(a) == str(b)
            if fn == "Fn::Not":
                return not self._truth(args[0], where)
            if fn == "Fn::And":
                return all(self._truth(v, where) for v in args)
            if fn == "Fn::Or":
                return any(self._truth(v, where) for v in args)
            if fn == "Condition":
                return self.condition(args)
        raise DeployError(f"{self.source}: {where}: a condition must be Fn::Equals, Fn::Not, Fn::And, Fn::Or or "
                          f"Condition, not {json.dumps(value)[:80]}")

    # ------------------------------------------------------------------ intrinsic functions
    def resolve(self, value: Any, where: str) -> Any:
        """A template value with every intrinsic function evaluated against what was made so far."""
        if isinstance(value, list):
            items = [self.resolve(v, where) for v in value]
            return [v for v in items if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (fn, args), = value.items()
            if fn == "Ref":
                return self._ref(args, where)
            if fn == "Fn::GetAtt":
                return self._get_att(args, where)
            if fn == "Fn::Sub":
                return self._sub(args, where)
            if fn == "Fn::Join":
                separator, parts = args
                return str(separator).join(_text(p) for p in self.resolve(parts, where))
            if fn == "Fn::If":
                name, when_true, when_false = args
                return self.resolve(when_true if self.condition(name) else when_false, where)
            if fn == "Fn::Select":
                index, items = args
                items = self.resolve(items, where)
                return items[int(self.resolve(index, where))]
            if fn == "Fn::Split":
                separator, text = args
                return _text(self.resolve(text, where)).split(separator)
            if fn == "Fn::ToJsonString":
                return json.dumps(self.resolve(args, where), separators=(",", ":"))
            if fn == "Fn::Base64":
                import base64

                return base64.b64encode(_text(self.resolve(args, where)).encode()).decode()
            if fn == "Fn::GetAZs":
                return [f"{self.cloud.region}{z}" for z in "abc"]
            if fn in ("Fn::ImportValue", "Fn::FindInMap", "Fn::Cidr", "Fn::Transform", "Fn::Length"):
                raise DeployError(f"{self.source}: {where}: drydock's deploy does not evaluate {fn}")
        out = {}
        for key, item in value.items():
            resolved = self.resolve(item, f"{where}/{key}")
            if resolved is not NO_VALUE:
                out[key] = resolved
        return out

    def _ref(self, name: Any, where: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.made:
            return self.made[name].ref
        if name in self.resources:
            raise DeployError(f"{self.source}: {where}: Ref {name} names a resource that is not created (its "
                              f"Condition is false)")
        raise DeployError(f"{self.source}: {where}: Ref {name} names no parameter, pseudo parameter or resource")

    def _get_att(self, args: Any, where: str) -> str:
        logical_id, attribute = (args if isinstance(args, list) else str(args).split(".", 1))
        resource = self.made.get(logical_id)
        if resource is None:
            raise DeployError(f"{self.source}: {where}: Fn::GetAtt {logical_id}.{attribute}: no such resource")
        if attribute not in resource.attributes:
            raise DeployError(f"{self.source}: {where}: Fn::GetAtt {logical_id}.{attribute}: a {resource.type} has "
                              f"no attribute {attribute} here (it has: {', '.join(sorted(resource.attributes))})")
        return resource.attributes[attribute]

    def _sub(self, args: Any, where: str) -> str:
        text, variables = (args[0], args[1]) if isinstance(args, list) else (args, {})
        values = {k: self.resolve(v, where) for k, v in (variables or {}).items()}

        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"  # a literal ${Name}, left for DefinitionSubstitutions
            if name in values:
                return _text(values[name])
            if "." in name and name.split(".", 1)[0] in self.resources:
                return self._get_att(name.split(".", 1), where)
            return _text(self._ref(name, where))
        return re.sub(r"\$\{([^}]*)\}", one, _text(text))

    # ------------------------------------------------------------------ order
    def _order(self, wanted: list[str]) -> list[str]:
        deps = {lid: self._dependencies(lid) & set(wanted) for lid in wanted}
        ordered: list[str] = []
        visiting: set[str] = set()

        def visit(lid: str, chain: tuple[str, ...]) -> None:
            if lid in ordered:
                return
            if lid in visiting:
                raise DeployError(f"{self.source}: circular dependency between resources: "
                                  f"{' -> '.join((*chain, lid))}")
            visiting.add(lid)
            for dep in sorted(deps[lid]):
                visit(dep, (*chain, lid))
            visiting.discard(lid)
            ordered.append(lid)
        for lid in wanted:
            visit(lid, ())
        return ordered

    def _dependencies(self, logical_id: str) -> set[str]:
        resource = self.resources[logical_id]
        found: set[str] = set()
        depends = resource.get("DependsOn")
        for name in ([depends] if isinstance(depends, str) else depends or []):
            if name not in self.resources:
                raise DeployError(f"{self.source}: resource {logical_id} DependsOn {name}, which the template does "
                                  f"not declare")
            found.add(name)

        def walk(value: Any) -> None:
            if isinstance(value, dict):
                if len(value) == 1:
                    (fn, args), = value.items()
                    if fn == "Ref" and args in self.resources:
                        found.add(args)
                    elif fn == "Fn::GetAtt":
                        target = args[0] if isinstance(args, list) else str(args).split(".", 1)[0]
                        found.add(target)
                    elif fn == "Fn::Sub":
                        text = args[0] if isinstance(args, list) else args
                        for name in re.findall(r"\$\{([^}!][^}]*)\}", _text(text)):
                            target = name.split(".", 1)[0]
                            if target in self.resources:
                                found.add(target)
                for item in value.values():
                    walk(item)
            elif isinstance(value, list):
                for item in value:
                    walk(item)
        walk(resource.get("Properties"))
        unknown = sorted(found - set(self.resources))
        if unknown:
            raise DeployError(f"{self.source}: resource {logical_id} refers to {', '.join(unknown)}, which the "
                              f"template does not declare")
        return found

    # ------------------------------------------------------------------ running it
    def run(self, inbox: Any) -> Stack:
        unsupported = [(lid, r["Type"]) for lid, r in self.resources.items() if r["Type"] not in MAKERS]
        if unsupported:
            listed = "; ".join(f"{lid} ({kind})" for lid, kind in unsupported)
            raise DeployError(f"{self.source}: drydock cannot deploy resource {listed}: supported types are "
                              f"{', '.join(sorted(MAKERS))}")
        wanted = [lid for lid, r in self.resources.items()
                  if not isinstance(r.get("Condition"), str) or self.condition(r["Condition"])]
        for lid in self.resources:  # unknown references are errors before anything is made
            self._dependencies(lid)
        for lid in self._order(wanted):
            resource = self.resources[lid]
            properties = self.resolve(resource.get("Properties") or {}, f"Resources/{lid}/Properties")
            try:
                self.made[lid] = MAKERS[resource["Type"]](self, lid, properties)
            except DeployError:
                raise
            except Exception as err:  # noqa: BLE001 - the service's refusal, named with the resource
                raise DeployError(f"{self.source}: creating {lid} ({resource['Type']}) failed: "
                                  f"{_error_text(err)}") from err
        outputs = {}
        for name, output in (self.template.body.get("Outputs") or {}).items():
            if isinstance(output, dict) and (not isinstance(output.get("Condition"), str)
                                             or self.condition(output["Condition"])):
                outputs[name] = _text(self.resolve(output.get("Value"), f"Outputs/{name}"))
        stack = Stack(self.stack_name, self.made, self.parameters, outputs)
        stack.approval_topics = self._approval_topics()
        if inbox is not None:
            for topic in stack.approval_topics:
                inbox.subscribe(topic)
        return stack

    def _approval_topics(self) -> list[str]:
        """Topics a deployed state machine publishes to with sns:publish.waitForTaskToken."""
        topics: list[str] = []
        sfn = self.cloud.client("stepfunctions")
        for arn in (r.ref for r in self.made.values() if r.type == "AWS::StepFunctions::StateMachine"):
            definition = json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"])
            for state in _states(definition):
                resource = str(state.get("Resource", ""))
                topic = (state.get("Parameters") or state.get("Arguments") or {}).get("TopicArn")
                if resource.endswith(":sns:publish.waitForTaskToken") and isinstance(topic, str) \
                        and topic not in topics:
                    topics.append(topic)
        return topics

    def name(self, logical_id: str, given: Any, limit: int = 64, lower: bool = False) -> str:
        """The given name, or CloudFormation's kind of generated one: <stack>-<LogicalId>-<suffix>."""
        if isinstance(given, str) and given:
            return given
        suffix = hashlib.sha1(f"{self.stack_name}/{logical_id}".encode()).hexdigest()[:12].upper()
        name = f"{self.stack_name}-{logical_id}"[: limit - len(suffix) - 1] + "-" + suffix
        return name.lower() if lower else name


def _states(definition: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for state in (definition.get("States") or {}).values() if isinstance(definition, dict) else ():
        if isinstance(state, dict):
            found.append(state)
            for branch in state.get("Branches") or []:
                found += _states(branch)
            found += _states(state.get("ItemProcessor") or state.get("Iterator") or {})
    return found


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return "" if value is None else str(value)


def _json_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _error_text(err: Exception) -> str:
    response = getattr(err, "response", None)
    if isinstance(response, dict) and "Error" in response:
        return f"{response['Error'].get('Code')}: {response['Error'].get('Message')}"
    return f"{type(err).__name__}: {err}"


# --------------------------------------------------------------------------- one maker per resource type
Maker = Callable[[_Deployment, str, dict[str, Any]], Resource]


def _iam_role(d: _Deployment, lid: str, p: dict[str, Any]) -> Resource:
    iam = d.cloud.client("iam")
    name = d.name(lid, p.get("RoleName"))
    kwargs: dict[str, Any] = {"RoleName": name, "AssumeRolePolicyDocument": _json_text(p["AssumeRolePolicyDocument"]),
                              "Path": p.get("Path", "/")}
    for key in ("Description", "MaxSessionDuration", "PermissionsBoundary"):
        if key in p:
            kwargs[key] = p[key]
    if p.get("Tags"):
        kwargs["Tags"] = p["Tags"]
    role = iam.create_role(**kwargs)["Role"]
    for policy in p.get("Policies") or []:
        iam.put_role_policy(RoleName=name, PolicyName=policy["PolicyName"],
                            PolicyDocument=_json_text(policy["PolicyDocument"]))
    for arn in p.get("ManagedPolicyArns") or []:
        iam.attach_role_policy(RoleName=name, PolicyArn=arn)
    return Resource(lid, "AWS::IAM::Role", name, {"Arn": role["Arn"], "RoleId": role["RoleId"]})


def _iam_policy(d: _Deployment, lid: str, p: dict[str, Any]) -> Resource:
    iam = d.cloud.client("iam")
    document = _json_text(p["PolicyDocument"])
    for role in p.get("Roles") or []:
        iam.put_role_policy(RoleName=role, PolicyName=p["PolicyName"], PolicyDocument=document)
    for user in p.get("Users") or []:
        iam.put_user_policy(UserName=user, PolicyName=p["PolicyName"], PolicyDocument=document)
    for group in p.get("Groups") or []:
        iam.put_group_policy(GroupName=group, PolicyName=p["PolicyName"], PolicyDocument=document)
    return Resource(lid, "AWS::IAM::Policy", d.name(lid, None))


def _iam_managed_policy(d: _Deployment, lid: str, p: dict[str, Any]) -> Resource:
    iam = d.cloud.client("iam")
    name = d.name(lid, p.get("ManagedPolicyName"))
    arn = iam.create_policy(PolicyName=name, PolicyDocument=_json_text(p["PolicyDocument"]),
                            Path=p.get("Path", "/"), **({"Description": p["Description"]} if "Description" in p
                                                         else {}))["Policy"]["Arn"]
    for role in p.get("Roles") or []:
        iam.attach_role_policy(RoleName=role, PolicyArn=arn)
    return Resource(lid, "AWS::IAM::ManagedPolicy", arn, {"PolicyArn": arn})


def _bucket(d: _Deployment, lid: str, p: dict[str, Any]) -> Resource:
    s3 = d.cloud.client("s3")
    name = d.name(lid, p.get("BucketName"), limit=63, lower=True)
    kwargs: dict[str, Any] = {"Bucket": name}
    if d.cloud.region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": d.cloud.region}
    s3.create_bucket(**kwargs)
    if (p.get("VersioningConfiguration") or {}).get("Status"):
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": p["VersioningConfiguration"]["Status"]})
    rules = (p.get("BucketEncryption") or {}).get("ServerSideEncryptionConfiguration")
    if rules:  # CloudFormation lists the rules; the API wraps them in {"Rules": [...]}
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": [
            {("ApplyServerSideEncryptionByDefault" if k == "ServerSideEncryptionByDefault" else k): v
             for k, v in rule.items()} for rule in rules]})
    if p.get("PublicAccessBlockConfiguration"):
        s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=p["PublicAccessBlockConfiguration"])
    notifications = p.get("NotificationConfiguration") or {}
    if (notifications.get("EventBridgeConfiguration") or {}).get("EventBridgeEnabled") in (True, "true"):
        enable_s3_event_delivery()
        s3.put_bucket_notification_configuration(Bucket=name, NotificationConfiguration={
            "EventBridgeConfiguration": {}})
    return Resource(lid, "AWS::S3::Bucket", name, {
        "Arn": f"arn:aws:s3:::{name}", "DomainName": f"{name}.s3.amazonaws.com",
        "RegionalDomainName": f"{name}.s3.{d.cloud.region}.amazonaws.com"})


def _topic(d: _Deployment, lid: str, p: dict[str, Any]) -> Resource:
    name = d.name(lid, p.get("TopicName"), limit=256)
    attributes = {k: _text(p[k]) for k in ("DisplayName", "KmsMasterKeyId", "FifoTopic") if k in p}
    arn = d.cloud.client("sns").create_topic(Name=name, Attributes=attributes)["TopicArn"]
    for subscription in p.get("Subscription") or []:
        d.cloud.client("sns").subscribe(TopicArn=arn, Protocol=subscription["Protocol"],
                                        Endpoint=subscription["Endpoint"])
    return Resource(lid, "AWS::SNS::Topic", arn, {"TopicArn": arn, "TopicName": name})


def _subscription(d: _Deployment, lid: str, p: dict[str, Any]) -> Resource:
    arn = d.cloud.client("sns").subscribe(TopicArn=p["TopicArn"], Protocol=p["Protocol"], Endpoint=p["Endpoint"],
                                          ReturnSubscriptionArn=True)["SubscriptionArn"]
    return Resource(lid, "AWS::SNS::Subscription", arn)


def _queue(d: _Deployment, lid: str, p: dict[str, Any]) -> Resource:
    sqs = d.cloud.client("sqs")
    name = d.name(lid, p.get("QueueName"), limit=80)
    attributes = {k: _text(v) for k, v in p.items() if k not in ("QueueName", "Tags")}
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return Resource(lid, "AWS::SQS::Queue", url, {"Arn": arn, "QueueName": name, "QueueUrl": url})


def _function(d: _Deployment, lid: str, p: dict[str, Any]) -> Resource:
    name = d.name(lid, p.get("FunctionName"))
    code = p.get("Code")
    if isinstance(code, str):  # a local path: what `aws cloudformation package` zips and uploads
        code = {"ZipFile": _zip_path(d.base / code, lid)}
    elif isinstance(code, dict) and "ZipFile" in code:  # inline source: CloudFormation writes it as index.py
        code = {"ZipFile": _zip_files({"index.py": code["ZipFile"]})}
    elif isinstance(code, dict) and "S3Bucket" in code:
        code = {k: code[k] for k in ("S3Bucket", "S3Key", "S3ObjectVersion") if k in code}
    else:
        raise DeployError(f"{d.source}: {lid} (AWS::Lambda::Function): Code must be a local directory, "
                          f"{{ZipFile: source}} or {{S3Bucket, S3Key}}; an ImageUri function cannot run here")
    kwargs: dict[str, Any] = {"FunctionName": name, "Role": p["Role"], "Code": code,
                              "Runtime": p.get("Runtime", "python3.12"), "Handler": p.get("Handler", "index.handler")}
    for key in ("Description", "Timeout", "MemorySize", "Environment", "Layers", "Architectures", "Tags"):
        if key in p:
            kwargs[key] = ({t["Key"]: t["Value"] for t in p[key]} if key == "Tags" else
                           int(p[key]) if key in ("Timeout", "MemorySize") else p[key])
    arn = d.cloud.client("lambda").create_function(**kwargs)["FunctionArn"]
    return Resource(lid, "AWS::Lambda::Function", name, {"Arn": arn})


def _zip_path(path: Path, lid: str) -> bytes:
    if path.is_file() and path.suffix == ".zip":
        return path.read_bytes()
    if path.is_file():
        return _zip_files({path.name: path.read_text()})
    if not path.is_dir():
        raise DeployError(f"{lid} (AWS::Lambda::Function): Code {path} is neither a directory nor a file")
    files = {str(f.relative_to(path)): f.read_bytes() for f in sorted(path.rglob("*"))
             if f.is_file() and "__pycache__" not in f.parts}
    return _zip_files(files)


def _zip_files(files: dict[str, str | bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def _rule(d: _Deployment, lid: str, p: dict[str, Any]) -> Resource:
    events = d.cloud.client("events")
    name = d.name(lid, p.get("Name"))
    bus = p.get("EventBusName", "default")
    kwargs: dict[str, Any] = {"Name": name, "State": p.get("State", "ENABLED"), "EventBusName": bus}
    if "EventPattern" in p:
        kwargs["EventPattern"] = _json_text(p["EventPattern"])
    if "ScheduleExpression" in p:
        kwargs["ScheduleExpression"] = p["ScheduleExpression"]
    if "Description" in p:
        kwargs["Description"] = p["Description"]
    if "RoleArn" in p:
        kwargs["RoleArn"] = p["RoleArn"]
    arn = events.put_rule(**kwargs)["RuleArn"]
    targets = []
    for target in p.get("Targets") or []:
        entry = {k: target[k] for k in ("Id", "Arn", "RoleArn", "Input", "InputPath", "InputTransformer",
                                        "SqsParameters", "RetryPolicy", "DeadLetterConfig") if k in target}
        targets.append(entry)
    if targets:
        answer = events.put_targets(Rule=name, EventBusName=bus, Targets=targets)
        if answer.get("FailedEntryCount"):
            raise DeployError(f"{d.source}: {lid} (AWS::Events::Rule): targets refused: {answer['FailedEntries']}")
    return Resource(lid, "AWS::Events::Rule", name, {"Arn": arn})


def _state_machine(d: _Deployment, lid: str, p: dict[str, Any]) -> Resource:
    name = d.name(lid, p.get("StateMachineName"), limit=80)
    if "DefinitionString" in p:
        text = _text(p["DefinitionString"])
    elif "Definition" in p:
        text = json.dumps(p["Definition"])
    else:
        raise DeployError(f"{d.source}: {lid} (AWS::StepFunctions::StateMachine): give the definition inline "
                          f"(DefinitionString or Definition); DefinitionS3Location is not read here")
    substitutions = p.get("DefinitionSubstitutions") or {}
    text = re.sub(r"\$\{([^}]*)\}", lambda m: _text(substitutions[m.group(1)]) if m.group(1) in substitutions
                  else m.group(0), text)
    kwargs: dict[str, Any] = {"name": name, "definition": text, "roleArn": p["RoleArn"],
                              "type": p.get("StateMachineType", "STANDARD")}
    if p.get("LoggingConfiguration"):
        kwargs["loggingConfiguration"] = _camel(p["LoggingConfiguration"])
    if p.get("TracingConfiguration"):
        kwargs["tracingConfiguration"] = _camel(p["TracingConfiguration"])
    sfn = d.cloud.client("stepfunctions")
    try:
        arn = sfn.create_state_machine(**kwargs)["stateMachineArn"]
    except Exception as err:  # noqa: BLE001 - InvalidDefinition and friends, said with the resource
        raise DeployError(f"{d.source}: {lid} (AWS::StepFunctions::StateMachine): CreateStateMachine refused the "
                          f"definition: {_error_text(err)}") from err
    return Resource(lid, "AWS::StepFunctions::StateMachine", arn, {"Arn": arn, "Name": name})


def _camel(value: Any) -> Any:
    if isinstance(value, dict):
        return {k[:1].lower() + k[1:]: _camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_camel(v) for v in value]
    return value


def _model_package_group(d: _Deployment, lid: str, p: dict[str, Any]) -> Resource:
    name = d.name(lid, p.get("ModelPackageGroupName"), limit=63)
    arn = d.cloud.client("sagemaker").create_model_package_group(
        ModelPackageGroupName=name, **({"ModelPackageGroupDescription": p["ModelPackageGroupDescription"]}
                                       if "ModelPackageGroupDescription" in p else {}))["ModelPackageGroupArn"]
    return Resource(lid, "AWS::SageMaker::ModelPackageGroup", name, {"ModelPackageGroupArn": arn, "Arn": arn})


def _feature_group(d: _Deployment, lid: str, p: dict[str, Any]) -> Resource:
    kwargs = {k: p[k] for k in ("FeatureGroupName", "RecordIdentifierFeatureName", "EventTimeFeatureName",
                                "FeatureDefinitions", "OnlineStoreConfig", "OfflineStoreConfig", "RoleArn",
                                "Description") if k in p}
    arn = d.cloud.client("sagemaker").create_feature_group(**kwargs)["FeatureGroupArn"]
    return Resource(lid, "AWS::SageMaker::FeatureGroup", p["FeatureGroupName"], {"FeatureGroupName": p[
        "FeatureGroupName"], "Arn": arn})


MAKERS: dict[str, Maker] = {
    "AWS::IAM::Role": _iam_role, "AWS::IAM::Policy": _iam_policy, "AWS::IAM::ManagedPolicy": _iam_managed_policy,
    "AWS::S3::Bucket": _bucket, "AWS::SNS::Topic": _topic, "AWS::SNS::Subscription": _subscription,
    "AWS::SQS::Queue": _queue, "AWS::Lambda::Function": _function, "AWS::Events::Rule": _rule,
    "AWS::StepFunctions::StateMachine": _state_machine,
    "AWS::SageMaker::ModelPackageGroup": _model_package_group, "AWS::SageMaker::FeatureGroup": _feature_group,
}


# --------------------------------------------------------------------------- S3 -> EventBridge
_s3_hook_lock = threading.Lock()
_s3_hook_installed = False
_S3_REASONS = {"Put": "PutObject", "Post": "PostObject", "Copy": "CopyObject",
               "CompleteMultipartUpload": "CompleteMultipartUpload"}


def enable_s3_event_delivery() -> None:
    """Send the EventBridge events of buckets with EventBridge notifications through drydock's delivery.

    moto builds the "Object Created" event but hands it only to the targets it knows (SQS, log groups, buses);
    drydock's `harness.integrations.events.route` also starts state machines, invokes Lambda functions and
    publishes to SNS. Installed once per process; it serves the in-process cloud and `drydock serve` alike.
    """
    global _s3_hook_installed
    with _s3_hook_lock:
        if _s3_hook_installed:
            return
        import moto.s3.notifications as notifications

        original = notifications._send_event_bridge_message

        def send(account_id: str, bucket: Any, event_name: str, key: Any) -> None:
            try:
                _route_s3_event(account_id, bucket, event_name, key)
            except Exception:  # noqa: BLE001 - delivery is asynchronous on AWS: the upload succeeds regardless
                import sys
                import traceback

                traceback.print_exc(file=sys.stderr)
        send.original = original  # type: ignore[attr-defined]
        notifications._send_event_bridge_message = send
        _s3_hook_installed = True


def s3_event(account: str, region: str, bucket: str, key: str, size: int, etag: str, version_id: str | None,
             event_name: str) -> dict[str, Any]:
    """The event S3 puts on the default bus for an object (AWS's "Amazon S3 event message structure" for
    EventBridge: https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html)."""
    from moto.s3.notifications import _detail_type

    action = event_name.split(":")[-1]
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": _detail_type(event_name), "source": "aws.s3",
            "account": account, "time": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "region": region,
            "resources": [f"arn:aws:s3:::{bucket}"],
            "detail": {"version": "0", "bucket": {"name": bucket},
                       "object": {"key": key, "size": size, "etag": etag.strip('"'),
                                  **({"version-id": version_id} if version_id and version_id != "null" else {}),
                                  "sequencer": uuid.uuid4().hex[:18].upper()},
                       "request-id": uuid.uuid4().hex[:16].upper(), "requester": account,
                       "source-ip-address": "127.0.0.1", "reason": _S3_REASONS.get(action, action)}}


_clouds: dict[tuple[str, str], Any] = {}


def _route_s3_event(account_id: str, bucket: Any, event_name: str, key: Any) -> None:
    from harness.cloud import LocalCloud
    from harness.sagemaker.service import put_on_default_bus

    region = bucket.region_name
    cloud = _clouds.get((account_id, region))
    if cloud is None:
        cloud = _clouds[(account_id, region)] = LocalCloud(region=region, account=account_id)
    event = s3_event(account_id, region, bucket.name, key.name, key.size, key.etag, key.version_id, event_name)
    put_on_default_bus(cloud, event)
