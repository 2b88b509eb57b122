"""Pipeline definition JSON (Version 2020-12-01), as the SageMaker SDK v2 writes it, parsed and checked once.

Mirrors the Pipeline Definition JSON Schema: `Parameters` (String, Integer, Float, Boolean with DefaultValue),
`Steps` (each with Name, Type, Arguments, DependsOn, CacheConfig, RetryPolicies and type-specific members:
PropertyFiles, IfSteps/ElseSteps, FunctionArn, SqsQueueUrl, OutputParameters), and the expressions of
`expressions.py`. Every problem is gathered before anything runs, the way CreatePipeline refuses a definition:
unknown or unsupported step types name the step, a dangling reference names the step and the path.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache
from typing import Any, Iterable

from harness.sagemaker.pipelines.conditions import Condition, compile_conditions
from harness.sagemaker.pipelines.expressions import (ExpressionError, Key, Literal, Node, Reference, Segment,
                                                     compile_value, format_path, pointer_join)

VERSION = "2020-12-01"
PARAMETER_TYPES = {"String": str, "Integer": int, "Float": float, "Boolean": bool}
EXECUTION_VARIABLES = ("StartDateTime", "CurrentDateTime", "PipelineName", "PipelineArn", "PipelineExecutionId",
                       "PipelineExecutionArn", "TrainingJobName", "ProcessingJobName")
JOB_STEPS = {"Processing": "ProcessingJob", "Training": "TrainingJob", "Transform": "TransformJob"}
SUPPORTED_TYPES = ("Processing", "Training", "Transform", "Model", "RegisterModel", "Condition", "Fail", "Lambda",
                   "Callback")
UNSUPPORTED_TYPES = ("Tuning", "QualityCheck", "ClarifyCheck", "EMR", "EMRServerless", "AutoML", "EndpointConfig",
                     "Endpoint", "InferenceComponent", "Lineage", "Notebook", "NotebookJob", "Function", "Job",
                     "Athena", "Cleanup", "ForEach", "HubContent", "BedrockCustomModel",
                     "BedrockCustomModelDeployment", "BedrockProvisionedModelThroughput", "BedrockModelImport")
# The Describe* response a step's properties follow (what `Steps.<name>.<path>` may name).
PROPERTY_SHAPES = {"Training": "DescribeTrainingJobResponse", "Processing": "DescribeProcessingJobResponse",
                   "Transform": "DescribeTransformJobResponse", "Model": "DescribeModelOutput",
                   "RegisterModel": "DescribeModelPackageOutput"}
RETRY_EXCEPTION_TYPES = ("Step.SERVICE_FAULT", "Step.THROTTLING", "SageMaker.JOB_INTERNAL_ERROR",
                         "SageMaker.CAPACITY_ERROR", "SageMaker.RESOURCE_LIMIT")
STEP_NAME = re.compile(r"[A-Za-z0-9\-_]{1,64}")
_DURATION = re.compile(r"P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?")


@dataclass(frozen=True)
class Problem:
    message: str
    location: str


class DefinitionError(ValueError):
    """A definition CreatePipeline / StartPipelineExecution refuses; `problems` lists every finding."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("; ".join(f"{p.message} (at {p.location or '/'})" for p in problems))


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str
    default: Any = None
    has_default: bool = False

    def convert(self, value: Any) -> Any:
        """A value given for the parameter (StartPipelineExecution sends text) in the parameter's type."""
        if self.type == "Boolean":
            if isinstance(value, bool):
                return value
            if str(value).lower() in ("true", "false"):
                return str(value).lower() == "true"
            raise ValueError(f"parameter {self.name} is Boolean; {value!r} is not true or false")
        if self.type == "Integer":
            if isinstance(value, bool):
                raise ValueError(f"parameter {self.name} is Integer; {value!r} is not an integer")
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise ValueError(f"parameter {self.name} is Integer; {value!r} is not an integer") from None
            if number != int(number):
                raise ValueError(f"parameter {self.name} is Integer; {value!r} is not an integer")
            return int(number)
        if self.type == "Float":
            try:
                return float(value)
            except (TypeError, ValueError):
                raise ValueError(f"parameter {self.name} is Float; {value!r} is not a number") from None
        return value if isinstance(value, str) else str(value)


@dataclass(frozen=True)
class CacheConfig:
    enabled: bool
    expire_after: timedelta | None  # None: entries never expire


@dataclass(frozen=True)
class RetryPolicy:
    exception_types: tuple[str, ...]
    interval_seconds: float = 1.0
    backoff_rate: float = 2.0
    max_attempts: int | None = None  # retries after the first attempt
    expire_after_min: float | None = None

    def delay(self, retry: int) -> float:
        """Seconds to wait before retry number `retry` (1 for the first retry)."""
        return self.interval_seconds * self.backoff_rate ** (retry - 1)


@dataclass(frozen=True)
class PropertyFile:
    name: str
    output_name: str
    file_path: str


@dataclass(frozen=True)
class Step:
    """One step, wherever it sits (top level or a Condition branch), with its expressions compiled."""

    name: str
    type: str
    location: str
    raw: dict[str, Any]
    arguments: Node
    depends_on: tuple[str, ...] = ()
    display_name: str | None = None
    description: str | None = None
    cache: CacheConfig | None = None
    retry_policies: tuple[RetryPolicy, ...] = ()
    property_files: dict[str, PropertyFile] = field(default_factory=dict)
    conditions: tuple[Condition, ...] = ()
    if_steps: tuple[str, ...] = ()
    else_steps: tuple[str, ...] = ()
    branch: tuple[str, bool] | None = None  # (Condition step, outcome it runs on)
    outputs: tuple[tuple[str, str], ...] = ()  # Lambda / Callback OutputParameters: (OutputName, OutputType)
    function_arn: str | None = None
    sqs_queue_url: str | None = None
    dependencies: frozenset[str] = frozenset()

    def references(self) -> Iterable[Reference]:
        yield from self.arguments.references()
        for condition in self.conditions:
            yield from condition.references()


@dataclass(frozen=True)
class PipelineDefinition:
    version: str
    parameters: dict[str, Parameter]
    steps: dict[str, Step]  # every step, branch steps included, in definition order
    top_level: tuple[str, ...]
    raw: dict[str, Any]

    def downstream(self, name: str) -> set[str]:
        """Steps that (transitively) depend on `name`."""
        found: set[str] = set()
        frontier = [name]
        while frontier:
            current = frontier.pop()
            for step in self.steps.values():
                if current in step.dependencies and step.name not in found:
                    found.add(step.name)
                    frontier.append(step.name)
        return found


def parse_definition(source: str | dict[str, Any]) -> PipelineDefinition:
    """Parse and check a pipeline definition.

    Args:
        source: the PipelineDefinition text (as CreatePipeline receives it) or the parsed JSON.

    Returns:
        The PipelineDefinition, every expression compiled and every reference checked.

    Raises:
        DefinitionError: listing every problem found; each message names the step (and path) concerned.
    """
    if isinstance(source, str):
        try:
            raw = json.loads(source)
        except ValueError as error:
            raise DefinitionError([Problem(f"PipelineDefinition is not JSON: {error}", "")]) from None
    else:
        raw = source
    if not isinstance(raw, dict):
        raise DefinitionError([Problem("PipelineDefinition must be a JSON object", "")])
    return _Parser(raw).parse()


class _Parser:
    def __init__(self, raw: dict[str, Any]):
        self.raw = raw
        self.problems: list[Problem] = []
        self.steps: dict[str, Step] = {}

    def problem(self, message: str, location: str) -> None:
        self.problems.append(Problem(message, location))

    def parse(self) -> PipelineDefinition:
        version = self.raw.get("Version")
        if version != VERSION:
            self.problem(f"Version must be {VERSION!r}, not {version!r}", "/Version")
        parameters = self._parameters(self.raw.get("Parameters", []))
        steps_raw = self.raw.get("Steps")
        if not isinstance(steps_raw, list) or not steps_raw:
            self.problem("Steps must be a non-empty list", "/Steps")
            raise DefinitionError(self.problems)
        top_level = tuple(self._steps(steps_raw, "/Steps", None))
        self._check_references(parameters)
        self._link()
        if self.problems:
            raise DefinitionError(self.problems)
        self._check_cycles()
        if self.problems:
            raise DefinitionError(self.problems)
        return PipelineDefinition(VERSION, parameters, self.steps, top_level, self.raw)

    # ------------------------------------------------------------------------------------------ parameters
    def _parameters(self, raw: Any) -> dict[str, Parameter]:
        parameters: dict[str, Parameter] = {}
        if not isinstance(raw, list):
            self.problem("Parameters must be a list", "/Parameters")
            return parameters
        for index, item in enumerate(raw):
            location = f"/Parameters/{index}"
            name, kind = (item.get("Name"), item.get("Type", "String")) if isinstance(item, dict) else (None, None)
            if not isinstance(name, str) or not name:
                self.problem("a parameter needs a Name", location)
                continue
            if kind not in PARAMETER_TYPES:
                self.problem(f"parameter {name}: Type must be one of {', '.join(PARAMETER_TYPES)}, not {kind!r}",
                             location)
                continue
            if name in parameters:
                self.problem(f"parameter {name} is defined twice", location)
            parameter = Parameter(name, kind)
            if "DefaultValue" in item:
                try:
                    parameter = Parameter(name, kind, parameter.convert(item["DefaultValue"]), True)
                except ValueError as error:
                    self.problem(f"DefaultValue: {error}", location)
            parameters[name] = parameter
        return parameters

    # ------------------------------------------------------------------------------------------ steps
    def _steps(self, raw: list[Any], location: str, branch: tuple[str, bool] | None) -> list[str]:
        names = []
        for index, item in enumerate(raw):
            step = self._step(item, f"{location}/{index}", branch)
            if step is not None:
                names.append(step.name)
        return names

    def _step(self, raw: Any, location: str, branch: tuple[str, bool] | None) -> Step | None:
        if not isinstance(raw, dict):
            self.problem("a step must be an object", location)
            return None
        name, kind = raw.get("Name"), raw.get("Type")
        if not isinstance(name, str) or not STEP_NAME.fullmatch(name):
            self.problem(f"step name {name!r} must match [A-Za-z0-9-_]{{1,64}}", location)
            return None
        if name in self.steps:
            self.problem(f"step {name!r} is defined twice", location)
            return None
        if kind in UNSUPPORTED_TYPES:
            self.problem(f"step {name!r} has type {kind}, which drydock does not run (supported step types: "
                         f"{', '.join(SUPPORTED_TYPES)})", location)
            return None
        if kind not in SUPPORTED_TYPES:
            self.problem(f"step {name!r} has unknown type {kind!r} (supported step types: "
                         f"{', '.join(SUPPORTED_TYPES)})", location)
            return None
        try:
            step = self._compile_step(name, kind, raw, location, branch)
        except ExpressionError as error:
            self.problem(f"step {name!r}: {error.args[0]}", error.location)
            return None
        self.steps[name] = step
        if kind == "Condition":
            arguments = raw.get("Arguments", {})
            if_steps = self._steps(arguments.get("IfSteps", []), f"{location}/Arguments/IfSteps", (name, True))
            else_steps = self._steps(arguments.get("ElseSteps", []), f"{location}/Arguments/ElseSteps",
                                     (name, False))
            step = self.steps[name] = _replace(step, if_steps=tuple(if_steps), else_steps=tuple(else_steps))
        return step

    def _compile_step(self, name: str, kind: str, raw: dict[str, Any], location: str,
                      branch: tuple[str, bool] | None) -> Step:
        arguments_raw = raw.get("Arguments", {})
        if not isinstance(arguments_raw, dict):
            raise ExpressionError("Arguments must be an object", pointer_join(location, "Arguments"))
        extra: dict[str, Any] = {}
        if kind == "Condition":
            extra["conditions"] = compile_conditions(arguments_raw.get("Conditions", []),
                                                     pointer_join(location, "Arguments", "Conditions"))
            arguments: Node = Literal({}, location)
        else:
            arguments = compile_value(arguments_raw, pointer_join(location, "Arguments"))
        if kind == "Fail" and "ErrorMessage" not in arguments_raw:
            arguments = compile_value({**arguments_raw, "ErrorMessage": ""}, pointer_join(location, "Arguments"))
        if kind in ("Lambda", "Callback"):
            outputs = []
            for index, output in enumerate(raw.get("OutputParameters", [])):
                if not isinstance(output, dict) or not output.get("OutputName"):
                    raise ExpressionError("an OutputParameter needs an OutputName",
                                          pointer_join(location, "OutputParameters", index))
                outputs.append((output["OutputName"], output.get("OutputType", "String")))
            extra["outputs"] = tuple(outputs)
        if kind == "Lambda":
            if not isinstance(raw.get("FunctionArn"), str):
                raise ExpressionError("a Lambda step needs a FunctionArn", pointer_join(location, "FunctionArn"))
            extra["function_arn"] = raw["FunctionArn"]
        if kind == "Callback":
            if not isinstance(raw.get("SqsQueueUrl"), str):
                raise ExpressionError("a Callback step needs an SqsQueueUrl", pointer_join(location, "SqsQueueUrl"))
            extra["sqs_queue_url"] = raw["SqsQueueUrl"]
        property_files = {}
        for index, item in enumerate(raw.get("PropertyFiles", [])):
            where = pointer_join(location, "PropertyFiles", index)
            if kind != "Processing":
                raise ExpressionError("only Processing steps have PropertyFiles", where)
            try:
                spec = PropertyFile(item["PropertyFileName"], item["OutputName"], item["FilePath"])
            except (KeyError, TypeError):
                raise ExpressionError("a PropertyFile needs PropertyFileName, OutputName and FilePath", where) \
                    from None
            property_files[spec.name] = spec
        depends_on = raw.get("DependsOn", [])
        if not isinstance(depends_on, list) or not all(isinstance(item, str) for item in depends_on):
            raise ExpressionError("DependsOn must be a list of step names", pointer_join(location, "DependsOn"))
        return Step(name=name, type=kind, location=location, raw=raw, arguments=arguments,
                    depends_on=tuple(depends_on), display_name=raw.get("DisplayName"),
                    description=raw.get("Description"), cache=_cache_config(raw.get("CacheConfig"), location),
                    retry_policies=_retry_policies(raw.get("RetryPolicies", []), location),
                    property_files=property_files, branch=branch, **extra)

    # ------------------------------------------------------------------------------------------ references
    def _check_references(self, parameters: dict[str, Parameter]) -> None:
        for step in self.steps.values():
            for reference in step.references():
                self._check_reference(step, reference, parameters)
            for target in step.depends_on:
                if target not in self.steps:
                    self.problem(f"step {step.name!r} DependsOn {target!r}, which is not a step of this pipeline",
                                 pointer_join(step.location, "DependsOn"))

    def _check_reference(self, step: Step, reference: Reference, parameters: dict[str, Parameter]) -> None:
        where = reference.location
        if reference.kind == "Parameters":
            if reference.name not in parameters:
                self.problem(f"step {step.name!r} refers to {reference.text}, which is not a parameter of this "
                             "pipeline", where)
            return
        if reference.kind == "Execution":
            if reference.name not in EXECUTION_VARIABLES:
                self.problem(f"step {step.name!r} refers to {reference.text}; execution variables are "
                             f"{', '.join(EXECUTION_VARIABLES)}", where)
            return
        target = self.steps.get(reference.name)
        if target is None:
            self.problem(f"step {step.name!r} refers to {reference.text}: there is no step {reference.name!r} in "
                         "this pipeline", where)
            return
        if target.name == step.name:
            self.problem(f"step {step.name!r} refers to its own property {reference.text}", where)
            return
        problem = property_problem(target, reference.path)
        if problem:
            self.problem(f"step {step.name!r} refers to {reference.text}: {problem}", where)

    def _link(self) -> None:
        for name, step in list(self.steps.items()):
            dependencies = {ref.name for ref in step.references() if ref.kind == "Steps" and ref.name != name}
            dependencies.update(step.depends_on)
            if step.branch is not None:
                dependencies.add(step.branch[0])
            self.steps[name] = _replace(step, dependencies=frozenset(d for d in dependencies if d in self.steps))

    def _check_cycles(self) -> None:
        state: dict[str, int] = {}  # 1 visiting, 2 done

        def visit(name: str, trail: list[str]) -> None:
            if state.get(name) == 2:
                return
            if state.get(name) == 1:
                cycle = trail[trail.index(name):] + [name]
                self.problem(f"steps depend on each other in a cycle: {' -> '.join(cycle)}",
                             self.steps[name].location)
                return
            state[name] = 1
            for dependency in sorted(self.steps[name].dependencies):
                visit(dependency, trail + [name])
                if self.problems:
                    return
            state[name] = 2

        for name in self.steps:
            visit(name, [])
            if self.problems:
                return


def property_problem(step: Step, path: tuple[Segment, ...]) -> str | None:
    """Why `path` names no property of `step` (None when it does)."""
    text = f"Steps.{step.name}{format_path(path)}"
    if not path:
        return None
    head = path[0]
    if head == "PropertyFiles":
        if len(path) != 2 or not isinstance(path[1], str):
            return "a property file is named Steps.<step>.PropertyFiles.<name>"
        if path[1] not in step.property_files:
            declared = ", ".join(step.property_files) or "none"
            return f"step {step.name!r} declares no PropertyFile {path[1]!r} (declared: {declared})"
        return None
    if step.type in ("Lambda", "Callback"):
        names = [name for name, _ in step.outputs]
        if head != "OutputParameters" or len(path) > 2 or (len(path) == 2 and not isinstance(path[1], Key)):
            return f"a {step.type} step's properties are OutputParameters['<name>'] (declared: {', '.join(names)})"
        if len(path) == 2 and isinstance(path[1], Key) and path[1].name not in names:
            declared = ", ".join(names) or "none"
            return f"step {step.name!r} has no OutputParameter {path[1].name!r} (declared: {declared})"
        return None
    if step.type == "Condition":
        return None if path == ("Outcome",) else "a Condition step's only property is Outcome"
    shape_name = PROPERTY_SHAPES.get(step.type)
    if shape_name is None:
        return f"a {step.type} step has no properties ({text})"
    return _shape_problem(shape_name, path)


def _shape_problem(shape_name: str, path: tuple[Segment, ...]) -> str | None:
    shape = _sagemaker_shape(shape_name)
    walked = shape_name
    for segment in path:
        kind = shape.type_name
        if kind == "structure":
            if not isinstance(segment, str):
                return f"{walked} is an object; use .Member, not {format_path((segment,))}"
            if segment not in shape.members:
                return f"{walked} has no member {segment!r}"
            shape = shape.members[segment]
        elif kind == "list":
            if isinstance(segment, str):
                return f"{walked} is a list; index it with [n] or ['name'], not .{segment}"
            shape = shape.member
        elif kind == "map":
            if not isinstance(segment, Key):
                return f"{walked} is a map; index it with ['key']"
            shape = shape.value
        else:
            return f"{walked} is a {kind}; it has no {format_path((segment,))}"
        walked += format_path((segment,))
    return None


@lru_cache(maxsize=None)
def _sagemaker_shape(name: str) -> Any:
    from harness.sagemaker.service_model import model

    return model().shape_for(name)


def _cache_config(raw: Any, location: str) -> CacheConfig | None:
    if raw is None:
        return None
    where = pointer_join(location, "CacheConfig")
    if not isinstance(raw, dict) or not isinstance(raw.get("Enabled", False), bool):
        raise ExpressionError("CacheConfig must be {\"Enabled\": true|false, \"ExpireAfter\": \"<ISO 8601>\"}", where)
    expire_after = raw.get("ExpireAfter")
    return CacheConfig(raw.get("Enabled", False), None if expire_after is None else parse_duration(expire_after, where))


def parse_duration(text: Any, location: str = "") -> timedelta:
    """An ISO 8601 duration (`PT1H`, `P30D`, `P1Y2M`); a year counts 365 days and a month 30."""
    match = _DURATION.fullmatch(text) if isinstance(text, str) else None
    if not match or text in ("P", "PT") or text.endswith("T"):
        raise ExpressionError(f"ExpireAfter {text!r} is not an ISO 8601 duration such as PT1H or P30D", location)
    years, months, weeks, days, hours, minutes, seconds = (int(group or 0) for group in match.groups())
    return timedelta(days=365 * years + 30 * months + 7 * weeks + days, hours=hours, minutes=minutes,
                     seconds=seconds)


def _retry_policies(raw: Any, location: str) -> tuple[RetryPolicy, ...]:
    policies = []
    if not isinstance(raw, list):
        raise ExpressionError("RetryPolicies must be a list", pointer_join(location, "RetryPolicies"))
    for index, item in enumerate(raw):
        where = pointer_join(location, "RetryPolicies", index)
        types = item.get("ExceptionType") if isinstance(item, dict) else None
        if not isinstance(types, list) or not types:
            raise ExpressionError("a RetryPolicy needs an ExceptionType list", where)
        unknown = [t for t in types if t not in RETRY_EXCEPTION_TYPES]
        if unknown:
            raise ExpressionError(f"unknown ExceptionType {', '.join(map(str, unknown))} (one of "
                                  f"{', '.join(RETRY_EXCEPTION_TYPES)})", where)
        if ("MaxAttempts" in item) == ("ExpireAfterMin" in item):
            raise ExpressionError("a RetryPolicy needs exactly one of MaxAttempts and ExpireAfterMin", where)
        policies.append(RetryPolicy(tuple(types), float(item.get("IntervalSeconds", 1)),
                                    float(item.get("BackoffRate", 2.0)), item.get("MaxAttempts"),
                                    item.get("ExpireAfterMin")))
    return tuple(policies)


def _replace(step: Step, **changes: Any) -> Step:
    from dataclasses import replace

    return replace(step, **changes)
