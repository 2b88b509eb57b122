"""What IAM lets a Step Functions task do: each integration's IAM actions and resource ARNs, as AWS asks for them.

Mirrors the Step Functions guide's "IAM policies for <service> integrations" pages
(https://docs.aws.amazon.com/step-functions/latest/dg/service-integration-iam-templates.html):
`sagemaker:createTrainingJob.sync` needs `sagemaker:CreateTrainingJob` on the job, `iam:PassRole` on the
job's RoleArn, `sagemaker:DescribeTrainingJob` to poll, `sagemaker:StopTrainingJob` when the execution
stops, and `events:PutTargets|PutRule|DescribeRule` on the managed rule Step Functions uses to hear
that the job ended. `aws-sdk:<service>:<action>` needs `<iam prefix>:<Action>`.

`required(resource, parameters)` gives those permissions for one task. The parameters are the effective
ones at run time, or the literal Parameters/Arguments before a run, where a value only known at run time
is `UNKNOWN`; a resource built from an unknown value has `*` in its place and `exact=False`.
Only what AWS enforces is listed: the guide's templates also grant `sagemaker:ListTags`, which no call
of the integration needs, and `sagemaker:AddTags` is needed only when the request carries Tags
(SageMaker authorizes tag-on-create separately).
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any, Callable

from asl.tasks import Resource, parse_resource


class _Unknown:
    """A parameter value only known at run time (a `.$` field or a JSONata template)."""

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()


@dataclass(frozen=True)
class Partial:
    """A value partly known before the run: `States.Format('churn-{}', $.id)` is `churn-*`."""

    pattern: str

# Why a permission is needed: "call" on every attempt, "sync" while a .sync task waits (polling or the
# managed rule: a missing one fails the task too), "stop" only when the execution is stopped or times out.
CALL, SYNC, STOP = "call", "sync", "stop"


@dataclass(frozen=True)
class Permission:
    """One IAM action on one resource that a task needs.

    Attributes:
        action: the IAM action as AWS names it, e.g. "sagemaker:CreateTrainingJob".
        resource: the resource ARN, or "*" for actions that take no resource (List*).
        exact: False when the resource has "*" standing for values only known at run time.
        phase: CALL, SYNC or STOP (see the module docstring).
        context: request condition keys this call carries, e.g. (("iam:PassedToService", "sagemaker.amazonaws.com"),).
        managed_rule: True for the EventBridge permissions on a Step Functions managed rule.
        note: why the entry is a guess, when it is one.
    """

    action: str
    resource: str
    exact: bool = True
    phase: str = CALL
    context: tuple[tuple[str, str], ...] = ()
    managed_rule: bool = False
    note: str = ""


class _Call:
    """What a rule sees: the parsed resource, the parameters and the place the task runs."""

    def __init__(self, resource: Resource, params: Any, region: str, account: str):
        self.resource, self.params, self.region, self.account = resource, params, region, account
        self.partial = False  # a Partial value was read: `*` in the resources stands for run-time text

    @property
    def sync(self) -> bool:
        return self.resource.pattern in ("sync", "sync:2")

    def text(self, *keys: str | int) -> str | None:
        """The literal string at `keys` in the parameters; None when absent or only known at run time."""
        value = self.params
        for key in keys:
            if isinstance(value, dict) and isinstance(key, str):
                value = value.get(key, UNKNOWN if value.get(key + ".$") is not None else None)
            elif isinstance(value, list) and isinstance(key, int) and 0 <= key < len(value):
                value = value[key]
            else:
                return None
        if isinstance(value, Partial):
            self.partial = True
            return value.pattern
        return value if isinstance(value, str) else None

    def present(self, key: str) -> bool:
        """Whether the parameters carry `key` (a literal, or a value computed at run time)."""
        if self.params is UNKNOWN:
            return True
        return isinstance(self.params, dict) and (key in self.params or f"{key}.$" in self.params)

    def arn(self, service: str, resource: str, *, region: bool = True, account: bool = True) -> str:
        return f"arn:aws:{service}:{self.region if region else ''}:{self.account if account else ''}:{resource}"


def _permission(action: str, resource: str | None, template: str = "{}", **kwargs: Any) -> Permission:
    """A permission on `template` filled with `resource`; an unknown resource leaves `*` and exact=False."""
    if resource is None:
        return Permission(action, template.format("*"), exact=False, **kwargs)
    return Permission(action, template.format(resource), **kwargs)


Rule = Callable[[_Call], list[Permission]]
RULES: dict[tuple[str, str], Rule] = {}


def rule(service: str, *actions: str) -> Callable[[Rule], Rule]:
    """Register a rule for `arn:aws:states:::<service>:<action>` (every pattern)."""

    def register(fn: Rule) -> Rule:
        for action in actions:
            RULES[(service, action)] = fn
        return fn
    return register


def _managed_rule(call: _Call, name: str) -> list[Permission]:
    """The EventBridge permissions a .sync task needs on the rule Step Functions manages for it."""
    arn = call.arn("events", f"rule/{name}")
    return [Permission(f"events:{verb}", arn, phase=SYNC, managed_rule=True)
            for verb in ("PutTargets", "PutRule", "DescribeRule")]


def _pass_role(call: _Call, role: str | None, service: str) -> Permission:
    return _permission("iam:PassRole", role, context=(("iam:PassedToService", service),))


# --------------------------------------------------------------------------- Lambda
def lambda_function_arn(call: _Call, name: str | None, qualifier: str | None = None) -> str | None:
    """The ARN Lambda authorizes an invocation against: name, partial ARN or ARN, with its qualifier."""
    if name is None:
        return None
    if name.startswith("arn:"):
        arn = name
    else:
        parts = name.split(":")
        if len(parts) >= 3 and parts[1] == "function":  # 123456789012:function:name[:qualifier]
            arn = f"arn:aws:lambda:{call.region}:{':'.join(parts)}"
        else:
            arn = call.arn("lambda", f"function:{name}")
    if qualifier and arn.count(":") == 6:
        arn += f":{qualifier}"
    return arn


@rule("lambda", "invoke")
def _lambda_invoke(call: _Call) -> list[Permission]:
    qualifier = call.text("Qualifier")
    unknown_qualifier = call.present("Qualifier") and qualifier is None
    arn = lambda_function_arn(call, call.text("FunctionName"), qualifier)
    if arn is not None and unknown_qualifier:
        return [Permission("lambda:InvokeFunction", arn + ":*", exact=False)]
    return [_permission("lambda:InvokeFunction", arn, call.arn("lambda", "function:{}") if arn is None else "{}")]


# --------------------------------------------------------------------------- messaging and data
@rule("sns", "publish")
def _sns_publish(call: _Call) -> list[Permission]:
    topic = call.text("TopicArn") or call.text("TargetArn")
    if call.present("PhoneNumber") and not (call.present("TopicArn") or call.present("TargetArn")):
        return [Permission("sns:Publish", "*")]  # an SMS has no topic: SNS authorizes it against "*"
    return [_permission("sns:Publish", topic, call.arn("sns", "{}") if topic is None else "{}")]


def sqs_queue_arn(call: _Call, url: str | None) -> str | None:
    """https://sqs.<region>.amazonaws.com/<account>/<name> (or a local endpoint's URL) -> the queue ARN."""
    if url is None:
        return None
    m = re.match(r"^[a-z]+://(?P<host>[^/]+)/(?P<account>\d{12})/(?P<name>[^/?]+)", url)
    if m is None:
        return None
    host = re.match(r"^(?:sqs\.)?(?P<region>[a-z]{2}(?:-[a-z]+)+-\d)\.", m.group("host"))
    region = host.group("region") if host else call.region
    return f"arn:aws:sqs:{region}:{m.group('account')}:{m.group('name')}"


@rule("sqs", "sendMessage")
def _sqs_send(call: _Call) -> list[Permission]:
    return [_permission("sqs:SendMessage", sqs_queue_arn(call, call.text("QueueUrl")),
                        call.arn("sqs", "{}") if call.text("QueueUrl") is None else "{}")]


def dynamodb_table_arn(call: _Call, table: str | None) -> str | None:
    if table is None:
        return None
    return table if table.startswith("arn:") else call.arn("dynamodb", f"table/{table}")


@rule("dynamodb", "getItem", "putItem", "updateItem", "deleteItem")
def _dynamodb_item(call: _Call) -> list[Permission]:
    action = "dynamodb:" + call.resource.action[:1].upper() + call.resource.action[1:]
    table = dynamodb_table_arn(call, call.text("TableName"))
    return [_permission(action, table, call.arn("dynamodb", "table/{}") if table is None else "{}")]


@rule("events", "putEvents")
def _events_put(call: _Call) -> list[Permission]:
    entries = call.params.get("Entries") if isinstance(call.params, dict) else None
    if not isinstance(entries, list) or not entries:
        return [Permission("events:PutEvents", call.arn("events", "event-bus/*"), exact=False)]
    found = []
    for i, entry in enumerate(entries):
        bus = call.text("Entries", i, "EventBusName") if isinstance(entry, dict) and (
            "EventBusName" in entry or "EventBusName.$" in entry) else "default"
        arn = bus if bus and bus.startswith("arn:") else (call.arn("events", f"event-bus/{bus}") if bus else None)
        permission = _permission("events:PutEvents", arn, call.arn("events", "event-bus/{}") if arn is None else "{}")
        if permission not in found:
            found.append(permission)
    return found


def s3_object_arn(bucket: str | None, key: str | None, *, prefix: bool = False) -> str | None:
    if bucket is None:
        return None
    return f"arn:aws:s3:::{bucket}/{key if key is not None else ''}{'*' if prefix or key is None else ''}"


@rule("s3", "getObject")
def _s3_get(call: _Call) -> list[Permission]:
    bucket, key = call.text("Bucket"), call.text("Key")
    arn = s3_object_arn(bucket, key)
    return [Permission("s3:GetObject", arn or "arn:aws:s3:::*", exact=bucket is not None and key is not None)]


@rule("s3", "putObject")
def _s3_put(call: _Call) -> list[Permission]:
    bucket, key = call.text("Bucket"), call.text("Key") or call.text("Prefix")
    exact = bucket is not None and call.text("Key") is not None
    arn = s3_object_arn(bucket, key, prefix=not exact)
    return [Permission("s3:PutObject", arn or "arn:aws:s3:::*", exact=exact)]


@rule("s3", "listObjectsV2")
def _s3_list(call: _Call) -> list[Permission]:
    bucket = call.text("Bucket")
    return [_permission("s3:ListBucket", bucket, "arn:aws:s3:::{}")]


# --------------------------------------------------------------------------- Step Functions, Glue, Batch, ECS, CodeBuild
@rule("states", "startExecution")
def _states_start(call: _Call) -> list[Permission]:
    machine = call.text("StateMachineArn")
    found = [_permission("states:StartExecution", machine, call.arn("states", "stateMachine:{}") if machine is None
                         else "{}")]
    if call.sync:
        name = machine.split(":")[6] if machine and machine.count(":") >= 6 else None
        executions = call.arn("states", f"execution:{name or '*'}:*")
        found += [Permission("states:DescribeExecution", executions, exact=False, phase=SYNC),
                  Permission("states:StopExecution", executions, exact=False, phase=STOP),
                  *_managed_rule(call, "StepFunctionsGetEventsForStepFunctionsExecutionRule")]
    return found


@rule("glue", "startJobRun")
def _glue_start(call: _Call) -> list[Permission]:
    job = _permission("glue:StartJobRun", call.text("JobName"), call.arn("glue", "job/{}"))
    found = [job]
    if call.sync:  # Glue has no job-state events: Step Functions polls
        found += [Permission("glue:GetJobRun", job.resource, job.exact, SYNC),
                  Permission("glue:GetJobRuns", job.resource, job.exact, SYNC),
                  Permission("glue:BatchStopJobRun", job.resource, job.exact, STOP)]
    return found


@rule("batch", "submitJob")
def _batch_submit(call: _Call) -> list[Permission]:
    definition, queue = call.text("JobDefinition"), call.text("JobQueue")
    found = [
        _permission("batch:SubmitJob", definition if definition is None or definition.startswith("arn:")
                    else call.arn("batch", f"job-definition/{definition}")),
        _permission("batch:SubmitJob", queue if queue is None or queue.startswith("arn:")
                    else call.arn("batch", f"job-queue/{queue}")),
    ]
    found = [p if p.exact else Permission(p.action, call.arn("batch", "*"), exact=False) for p in found]
    if call.sync:
        found += [Permission("batch:DescribeJobs", "*", phase=SYNC), Permission("batch:TerminateJob", "*", phase=STOP),
                  *_managed_rule(call, "StepFunctionsGetEventsForBatchJobsRule")]
    return found


@rule("ecs", "runTask")
def _ecs_run(call: _Call) -> list[Permission]:
    definition = call.text("TaskDefinition")
    arn = definition if definition is None or definition.startswith("arn:") else \
        call.arn("ecs", f"task-definition/{definition}")
    found = [_permission("ecs:RunTask", arn, call.arn("ecs", "task-definition/{}") if arn is None else "{}")]
    if call.sync:
        found += [Permission("ecs:DescribeTasks", "*", phase=SYNC), Permission("ecs:StopTask", "*", phase=STOP),
                  *_managed_rule(call, "StepFunctionsGetEventsForECSTaskRule")]
    return found


@rule("codebuild", "startBuild")
def _codebuild_start(call: _Call) -> list[Permission]:
    project = _permission("codebuild:StartBuild", call.text("ProjectName"), call.arn("codebuild", "project/{}"))
    found = [project]
    if call.sync:
        found += [Permission("codebuild:BatchGetBuilds", project.resource, project.exact, SYNC),
                  Permission("codebuild:StopBuild", project.resource, project.exact, STOP),
                  *_managed_rule(call, "StepFunctionsGetEventsForCodeBuildStartBuildRule")]
    return found


@rule("athena", "startQueryExecution", "getQueryExecution", "getQueryResults", "stopQueryExecution")
def _athena(call: _Call) -> list[Permission]:
    action = "athena:" + call.resource.action[:1].upper() + call.resource.action[1:]
    workgroup = call.text("WorkGroup") if call.resource.action == "startQueryExecution" else None
    if call.resource.action == "startQueryExecution" and not call.present("WorkGroup"):
        workgroup = "primary"
    found = [_permission(action, workgroup, call.arn("athena", "workgroup/{}"))]
    if call.sync:
        found += [Permission("athena:GetQueryExecution", found[0].resource, found[0].exact, SYNC),
                  Permission("athena:StopQueryExecution", found[0].resource, found[0].exact, STOP)]
    return found


@rule("apigateway", "invoke")
def _apigateway_invoke(call: _Call) -> list[Permission]:
    auth = call.text("AuthType")
    if auth not in ("IAM_ROLE", "RESOURCE_POLICY") and not (call.present("AuthType") and auth is None):
        return []  # NO_AUTH (the default): API Gateway asks IAM nothing
    endpoint, stage = call.text("ApiEndpoint"), call.text("Stage")
    method, path = call.text("Method"), call.text("Path") or ""
    api = endpoint.split(".", 1)[0] if endpoint else None
    if None in (api, stage, method):
        return [Permission("execute-api:Invoke", call.arn("execute-api", "*"), exact=False)]
    return [Permission("execute-api:Invoke", call.arn("execute-api", f"{api}/{stage}/{method}/{path.lstrip('/')}"))]


@rule("bedrock", "invokeModel")
def _bedrock_invoke(call: _Call) -> list[Permission]:
    model = call.text("ModelId")
    arn = model if model is None or model.startswith("arn:") else \
        call.arn("bedrock", f"foundation-model/{model}", account=False)
    return [_permission("bedrock:InvokeModel", arn, call.arn("bedrock", "*", account=False) if arn is None else "{}")]


@rule("http", "invoke")
def _http_invoke(call: _Call) -> list[Permission]:
    connection = call.text("Authentication", "ConnectionArn")
    return [
        Permission("states:InvokeHTTPEndpoint", call.arn("states", "stateMachine:*"), exact=False),
        _permission("events:RetrieveConnectionCredentials", connection, call.arn("events", "connection/{}")
                    if connection is None else "{}"),
        Permission("secretsmanager:GetSecretValue", "arn:aws:secretsmanager:*:*:secret:events!connection/*", False),
        Permission("secretsmanager:DescribeSecret", "arn:aws:secretsmanager:*:*:secret:events!connection/*", False),
    ]


# --------------------------------------------------------------------------- SageMaker
@dataclass(frozen=True)
class _Job:
    kind: str  # TrainingJob
    noun: str  # training-job
    rule: str | None  # the managed rule of .sync
    role: tuple[str | int, ...] | None = ("RoleArn",)
    poll: tuple[str, ...] = ()  # more actions .sync needs besides Describe<kind>


_JOBS = {
    "createTrainingJob": _Job("TrainingJob", "training-job", "StepFunctionsGetEventsForSageMakerTrainingJobsRule"),
    "createProcessingJob": _Job("ProcessingJob", "processing-job",
                                "StepFunctionsGetEventsForSageMakerProcessingJobsRule"),
    "createTransformJob": _Job("TransformJob", "transform-job", "StepFunctionsGetEventsForSageMakerTransformJobsRule",
                               role=None),
    "createHyperParameterTuningJob": _Job("HyperParameterTuningJob", "hyper-parameter-tuning-job",
                                          "StepFunctionsGetEventsForSageMakerTuningJobsRule",
                                          role=("TrainingJobDefinition", "RoleArn"),
                                          poll=("ListTrainingJobsForHyperParameterTuningJob",)),
    "createLabelingJob": _Job("LabelingJob", "labeling-job", "StepFunctionsGetEventsForSageMakerLabelingJobsRule"),
}
_SAGEMAKER_NAMES = {"TrainingJob": "TrainingJobName", "ProcessingJob": "ProcessingJobName",
                    "TransformJob": "TransformJobName", "HyperParameterTuningJob": "HyperParameterTuningJobName",
                    "LabelingJob": "LabelingJobName"}


def sagemaker_arn(call: _Call, noun: str, name: str | None) -> str | None:
    """SageMaker ARNs carry names in lower case (`training-job/myjob` for MyJob)."""
    return None if name is None else call.arn("sagemaker", f"{noun}/{name.lower()}")


def _sagemaker_create(call: _Call, kind: str, noun: str, name_key: str) -> list[Permission]:
    name = call.text(name_key)
    target = _permission(f"sagemaker:Create{kind}", sagemaker_arn(call, noun, name), "{}" if name else
                         call.arn("sagemaker", f"{noun}/{{}}"))
    found = [target]
    tags = call.params.get("Tags") if isinstance(call.params, dict) else UNKNOWN
    if call.present("Tags") and tags not in ([], {}):
        found.append(Permission("sagemaker:AddTags", target.resource, target.exact))
    return found


@rule("sagemaker", *_JOBS)
def _sagemaker_job(call: _Call) -> list[Permission]:
    job = _JOBS[call.resource.action]
    found = _sagemaker_create(call, job.kind, job.noun, _SAGEMAKER_NAMES[job.kind])
    if job.role is not None:
        found.append(_pass_role(call, call.text(*job.role), "sagemaker.amazonaws.com"))
    if call.sync:
        target = found[0]
        found += [Permission(f"sagemaker:Describe{job.kind}", target.resource, target.exact, SYNC),
                  *(Permission(f"sagemaker:{action}", target.resource, target.exact, SYNC) for action in job.poll),
                  Permission(f"sagemaker:Stop{job.kind}", target.resource, target.exact, STOP)]
        if job.rule:
            found += _managed_rule(call, job.rule)
    return found


@rule("sagemaker", "createModel")
def _sagemaker_model(call: _Call) -> list[Permission]:
    return [*_sagemaker_create(call, "Model", "model", "ModelName"),
            _pass_role(call, call.text("ExecutionRoleArn"), "sagemaker.amazonaws.com")]


@rule("sagemaker", "createEndpointConfig")
def _sagemaker_endpoint_config(call: _Call) -> list[Permission]:
    return _sagemaker_create(call, "EndpointConfig", "endpoint-config", "EndpointConfigName")


@rule("sagemaker", "createEndpoint")
def _sagemaker_endpoint(call: _Call) -> list[Permission]:
    return _sagemaker_create(call, "Endpoint", "endpoint", "EndpointName")


@rule("sagemaker", "updateEndpoint")
def _sagemaker_update_endpoint(call: _Call) -> list[Permission]:
    name = call.text("EndpointName")
    return [_permission("sagemaker:UpdateEndpoint", sagemaker_arn(call, "endpoint", name),
                        "{}" if name else call.arn("sagemaker", "endpoint/{}"))]


# --------------------------------------------------------------------------- AWS SDK integrations
# SDK service name (as Step Functions spells it) -> IAM service prefix, where they differ.
IAM_PREFIX = {
    "sfn": "states", "eventbridge": "events", "cloudwatchlogs": "logs", "elasticloadbalancingv2": "elasticloadbalancing",
    "sesv2": "ses", "pinpointemail": "ses", "apigatewaymanagementapi": "execute-api", "apigatewayv2": "apigateway",
    "lexruntimev2": "lex", "lexmodelsv2": "lex", "mediastoredata": "mediastore", "dynamodbstreams": "dynamodb",
    "iotdataplane": "iot", "opensearch": "es", "efs": "elasticfilesystem", "emrcontainers": "emr-containers",
    "emrserverless": "emr-serverless", "sagemakerruntime": "sagemaker", "sagemakerfeaturestoreruntime": "sagemaker",
    "sagemakergeospatial": "sagemaker-geospatial", "cognitoidentityprovider": "cognito-idp",
    "cognitoidentity": "cognito-identity", "acmpca": "acm-pca", "applicationautoscaling": "application-autoscaling",
    "costexplorer": "ce", "databasemigration": "dms", "directconnect": "directconnect", "dataexchange": "dataexchange",
    "kinesisanalyticsv2": "kinesisanalytics", "marketplacecatalog": "aws-marketplace", "resourcegroupstaggingapi": "tag",
    "route53domains": "route53domains", "secretsmanager": "secretsmanager", "servicediscovery": "servicediscovery",
    "ssoadmin": "sso", "timestreamquery": "timestream", "timestreamwrite": "timestream", "textract": "textract",
}
# SDK actions whose IAM action has another name: (service, action) -> IAM action name.
_RENAMED = {
    ("s3", "listObjectsV2"): "ListBucket", ("s3", "listObjects"): "ListBucket", ("s3", "headBucket"): "ListBucket",
    ("s3", "headObject"): "GetObject", ("s3", "listBuckets"): "ListAllMyBuckets",
    ("s3", "listObjectVersions"): "ListBucketVersions", ("s3", "deleteObjects"): "DeleteObject",
    ("s3", "getObjectAttributes"): "GetObject", ("lambda", "invoke"): "InvokeFunction",
    ("lambda", "invokeAsync"): "InvokeFunction", ("sagemakerruntime", "invokeEndpoint"): "InvokeEndpoint",
}
# aws-sdk services that share a rule with an optimized integration: SDK service -> (service, {sdk action: action}).
_SDK_SHARED = {"lambda": "lambda", "sns": "sns", "sqs": "sqs", "dynamodb": "dynamodb", "sfn": "states",
               "eventbridge": "events", "s3": "s3", "sagemaker": "sagemaker", "glue": "glue", "batch": "batch",
               "ecs": "ecs", "codebuild": "codebuild", "athena": "athena"}


def _sdk(call: _Call) -> list[Permission]:
    sdk_service = call.resource.service.split(":", 1)[1]
    action = call.resource.action
    shared = _SDK_SHARED.get(sdk_service)
    if shared and (shared, action) in RULES:
        plain = _Call(Resource(call.resource.arn, "service", shared, action, "", call.region, call.account),
                      call.params, call.region, call.account)
        return RULES[(shared, action)](plain)
    prefix = IAM_PREFIX.get(sdk_service, sdk_service)
    name = _RENAMED.get((sdk_service, action), action[:1].upper() + action[1:])
    if sdk_service == "s3" and action in ("deleteObject", "getObjectTagging", "putObjectTagging", "copyObject",
                                          "getObjectAcl", "putObjectAcl", "deleteObjects", "headObject",
                                          "getObjectAttributes", "listObjectVersions", "listObjects", "headBucket"):
        return _s3_sdk(call, name)
    if sdk_service == "sagemaker" and action in ("startPipelineExecution", "describePipeline"):
        pipeline = call.text("PipelineName")
        return [_permission(f"sagemaker:{name}", sagemaker_arn(call, "pipeline", pipeline),
                            "{}" if pipeline else call.arn("sagemaker", "pipeline/{}"))]
    if sdk_service == "sagemaker" and call.text("PipelineExecutionArn"):
        return [Permission(f"sagemaker:{name}", call.text("PipelineExecutionArn") or "")]
    return [Permission(f"{prefix}:{name}", "*", exact=not _takes_resource(action))]


def _takes_resource(action: str) -> bool:
    """List* and Describe*s actions mostly authorize against "*"; the rest name a resource drydock cannot tell."""
    return not action.startswith("list")


def _s3_sdk(call: _Call, name: str) -> list[Permission]:
    bucket, key = call.text("Bucket"), call.text("Key")
    if name in ("ListBucket", "ListBucketVersions"):
        return [_permission(f"s3:{name}", bucket, "arn:aws:s3:::{}")]
    if call.resource.action == "copyObject":
        source = call.text("CopySource")
        return [Permission("s3:GetObject", f"arn:aws:s3:::{source.lstrip('/')}" if source else "arn:aws:s3:::*",
                           exact=source is not None),
                Permission("s3:PutObject", s3_object_arn(bucket, key) or "arn:aws:s3:::*",
                           exact=bucket is not None and key is not None)]
    if call.resource.action == "deleteObjects":
        return [Permission("s3:DeleteObject", s3_object_arn(bucket, None) or "arn:aws:s3:::*", exact=False)]
    return [Permission(f"s3:{name}", s3_object_arn(bucket, key) or "arn:aws:s3:::*",
                       exact=bucket is not None and key is not None)]


# --------------------------------------------------------------------------- entry points
def required(resource: Resource | str, parameters: Any, *, region: str, account: str) -> list[Permission]:
    """The IAM permissions the task's role needs to call `resource` with `parameters`.

    Args:
        resource: the Task's Resource (parsed or the ARN text).
        parameters: the effective parameters (at run time) or `static_parameters(...)` of the
            definition, where values only known at run time are UNKNOWN.
        region: the region the task runs in (the resource ARN's region wins when it has one).
        account: the account the task runs in.

    Returns:
        Permissions in the order AWS would check them; empty for activities (which need none).
        An integration drydock has no rule for gets `<service>:<Action>` on "*", with a note.
    """
    parsed = parse_resource(resource) if isinstance(resource, str) else resource
    call = _Call(parsed, parameters, parsed.region or region, parsed.account or account)
    if parsed.kind == "lambda":
        return [Permission("lambda:InvokeFunction", parsed.arn)]
    if parsed.kind != "service":
        return []
    if parsed.service.startswith("aws-sdk:"):
        return _inexact(call, _sdk(call))
    found = RULES.get((parsed.service, parsed.action))
    if found is not None:
        return _inexact(call, found(call))
    name = parsed.action[:1].upper() + parsed.action[1:]
    return [Permission(f"{parsed.service}:{name}", "*", exact=False,
                       note=f"{parsed.service}:{parsed.action} is not in drydock's table of integrations; "
                            f"the action name is a guess")]


def _inexact(call: _Call, permissions: list[Permission]) -> list[Permission]:
    if not call.partial:
        return permissions
    return [dataclasses.replace(p, exact=False) if "*" in p.resource else p for p in permissions]


_FORMAT = re.compile(r"^States\.Format\(\s*'((?:[^'\\]|\\.)*)'\s*,")


def static_parameters(value: Any) -> Any:
    """A state's Parameters/Arguments as far as they are known before the run.

    `"Key.$": "$.path"` becomes `"Key": UNKNOWN`; so does a JSONata `{% ... %}` value (or the whole
    Arguments when it is one template). `"Key.$": "States.Format('churn-{}', $.id)"` becomes
    `Partial("churn-*")`: its literal text is known.
    """
    if isinstance(value, str):
        text = value.strip()
        return UNKNOWN if text.startswith("{%") and text.endswith("%}") else value
    if isinstance(value, list):
        return [static_parameters(item) for item in value]
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if isinstance(key, str) and key.endswith(".$") and len(key) > 2:
                m = _FORMAT.match(item) if isinstance(item, str) else None
                literal = m.group(1).replace("\\", "") if m else None
                out[key[:-2]] = Partial(re.sub(r"\{\}", "*", literal)) if literal and "*" not in literal \
                    and literal.replace("{}", "") else UNKNOWN
            else:
                out[key] = static_parameters(item)
        return out
    return value
