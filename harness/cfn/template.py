"""CloudFormation templates: read them as CloudFormation does and pull out their state machines.

Users keep state machines in templates (the seed does), so `drydock validate` reads a template
the way CloudFormation would: short-form tags (`!Sub`, `!GetAtt`, ...) become their long `Fn::`
forms, a DefinitionString may be built with Fn::Sub or Fn::Join, and DefinitionSubstitutions fill
`${Name}` placeholders. References to other resources become placeholder ARNs (the harness creates
the real resources later). Each definition keeps the way back to template lines, so a finding
points at the line the user wrote.
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-stepfunctions-statemachine.html
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from asl.errors import INVALID_JSON_DESCRIPTION, Diagnostic, LoadError
from asl.load import Position, SourceMap, YamlLoader, load_definition, load_document
from asl.pointer import pointer

STATE_MACHINE_TYPES = ("AWS::StepFunctions::StateMachine", "AWS::Serverless::StateMachine")
REGION, ACCOUNT, PARTITION = "us-east-1", "123456789012", "aws"
PSEUDO_PARAMETERS = {
    "AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::Partition": PARTITION, "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": "drydock", "AWS::NoValue": "", "AWS::NotificationARNs": "",
    "AWS::StackId": f"arn:{PARTITION}:cloudformation:{REGION}:{ACCOUNT}:stack/drydock/drydock",
}
# Short-form tag -> long form (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/intrinsic-function-reference.html)
SHORT_FORMS = {
    "Ref": "Ref", "Condition": "Condition",
    **{name: f"Fn::{name}" for name in ("GetAtt", "Sub", "Join", "If", "Equals", "FindInMap", "Select", "Split",
                                        "ImportValue", "Base64", "GetAZs", "Not", "And", "Or", "Cidr", "Length",
                                        "ToJsonString")},
}


class TemplateLoader(YamlLoader):
    """A YAML loader that turns `!Tag value` into `{"Fn::Tag": value}` as CloudFormation does."""


def _short_form(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if suffix not in SHORT_FORMS:
        raise yaml.constructor.ConstructorError(None, None, f"unknown CloudFormation tag !{suffix}", node.start_mark)
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":  # !GetAtt Resource.Attribute.Name -> ["Resource", "Attribute.Name"]
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {SHORT_FORMS[suffix]: value}


TemplateLoader.add_multi_constructor("!", _short_form)


@dataclass(frozen=True)
class Template:
    """A parsed template and the places of its nodes in the text."""

    body: dict[str, Any]
    source_map: SourceMap
    text: str


@dataclass(frozen=True)
class StateMachineSource:
    """One state machine of a template: its definition and how to find its parts in the template."""

    logical_id: str
    text: str  # the definition as CloudFormation would deploy it: JSON text, substitutions applied
    definition: dict[str, Any] | None  # None when the text cannot be read at all
    line: int  # template place of the property that holds the definition
    column: int
    line_offset: int | None  # line n of `text` is template line n + line_offset; None when not line for line
    column_offset: int
    source_map: SourceMap  # definition pointer -> template place, where known
    problems: tuple[tuple[Diagnostic, Position], ...] = field(default=())  # e.g. INVALID_JSON_DESCRIPTION

    def position(self, at: str) -> Position:
        """The template line:col of the definition node at pointer `at` (its nearest known ancestor)."""
        return self.source_map.nearest(at) or (self.line, self.column)


def is_template(document: Any) -> bool:
    """Whether a parsed document is a CloudFormation template rather than a bare definition."""
    return isinstance(document, dict) and ("Resources" in document or "AWSTemplateFormatVersion" in document)


def load_template(text: str, source: str = "<template>") -> Template:
    """Parse a JSON or YAML template, short-form tags included.

    Raises:
        LoadError: the text is neither JSON nor YAML, or is not an object.
    """
    body, source_map = load_document(text, source, TemplateLoader)
    if not isinstance(body, dict):
        raise LoadError("a CloudFormation template must be an object", source=source, line=1, column=1)
    return Template(body, source_map, text)


def state_machines(template: Template) -> list[StateMachineSource]:
    """Every state machine resource with an inline definition, in template order."""
    resources = template.body.get("Resources")
    found = []
    for logical_id, resource in (resources.items() if isinstance(resources, dict) else ()):
        if isinstance(resource, dict) and resource.get("Type") in STATE_MACHINE_TYPES:
            properties = resource.get("Properties") if isinstance(resource.get("Properties"), dict) else {}
            machine = _state_machine(template, logical_id, properties)
            if machine is not None:
                found.append(machine)
    return found


def _state_machine(template: Template, logical_id: str, properties: dict[str, Any]) -> StateMachineSource | None:
    declared = properties.get("DefinitionSubstitutions")
    substitutions = {name: _resolve(value, template) for name, value in declared.items()} \
        if isinstance(declared, dict) else {}
    at = pointer("Resources", logical_id, "Properties")
    if "DefinitionString" in properties:
        return _from_string(template, logical_id, properties["DefinitionString"], at + pointer("DefinitionString"),
                            substitutions)
    if isinstance(properties.get("Definition"), dict):
        return _from_object(template, logical_id, properties["Definition"], at + pointer("Definition"), substitutions)
    return None  # DefinitionS3Location / DefinitionUri: nothing inline to check


def _from_object(template: Template, logical_id: str, definition: dict[str, Any], at: str,
                 substitutions: dict[str, str]) -> StateMachineSource:
    definition = _substitute_strings(definition, substitutions)
    line, column = template.source_map.position(at) or (1, 1)
    return StateMachineSource(logical_id, json.dumps(definition, indent=2), definition, line, column, None, 0,
                              template.source_map.subtree(at))


def _from_string(template: Template, logical_id: str, value: Any, at: str,
                 substitutions: dict[str, str]) -> StateMachineSource:
    text = _substitute(_resolve(value, template), substitutions)
    line, column = template.source_map.position(at) or (1, 1)
    line_offset, column_offset = _literal_block(template, value, at) or (None, 0)
    problems = _json_problems(text, line_offset, column_offset, (line, column))
    try:  # read it anyway (as YAML, say, when only comments break the JSON) so the other findings show too
        definition, text_map = load_definition(text, logical_id, lenient=True)
    except LoadError as exc:
        definition, text_map = None, SourceMap({})
        if not problems:  # JSON, but not an object
            problems.append((Diagnostic("ERROR", INVALID_JSON_DESCRIPTION, f"DefinitionString: {exc.message}", pointer()),
                             (line, column)))
    source_map = text_map.shifted(line_offset, column_offset) if line_offset is not None else SourceMap({})
    return StateMachineSource(logical_id, text, definition, line, column, line_offset, column_offset, source_map,
                              tuple(problems))


def _json_problems(text: str, line_offset: int | None, column_offset: int,
                   anchor: Position) -> list[tuple[Diagnostic, Position]]:
    """INVALID_JSON_DESCRIPTION, placed on the template line, when the DefinitionString is not JSON."""
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        where = (exc.lineno + line_offset, exc.colno + column_offset) if line_offset is not None else anchor
        message = f"DefinitionString is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno} of the definition)"
        return [(Diagnostic("ERROR", INVALID_JSON_DESCRIPTION, message, pointer()), where)]
    return []


_BLOCK_HEADER = re.compile(r"(?:^|\s)\|[1-9+-]{0,2}\s*(?:#.*)?$")


def _literal_block(template: Template, value: Any, at: str) -> tuple[int, int] | None:
    """(line offset, indent) when the definition is a `|` block, copied line for line into the text."""
    if isinstance(value, dict) and "Fn::Sub" not in value:
        return None  # Fn::Join and the like: the text is assembled, not copied
    lines = template.text.splitlines()
    for holder in (at + pointer("Fn::Sub", 0), at + pointer("Fn::Sub"), at + pointer(0), at):
        place = template.source_map.position(holder)
        if place is None:
            continue
        header = lines[place[0] - 1]
        if not _BLOCK_HEADER.search(header):
            return None
        body = next((text for text in lines[place[0]:] if text.strip()), "")
        return place[0], len(body) - len(body.lstrip(" "))
    return None


# --------------------------------------------------------------------------- intrinsic functions
_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")


def _substitute(text: str, values: dict[str, str]) -> str:
    """Replace each `${Name}` that DefinitionSubstitutions defines; other placeholders stay."""
    return _SUB_VARIABLE.sub(lambda match: values.get(match.group(1), match.group(0)), text)


def _substitute_strings(value: Any, values: dict[str, str]) -> Any:
    if isinstance(value, str):
        return _substitute(value, values)
    if isinstance(value, dict):
        return {key: _substitute_strings(item, values) for key, item in value.items()}
    if isinstance(value, list):
        return [_substitute_strings(item, values) for item in value]
    return value


def _placeholder_arn(template: Template, logical_id: str) -> str:
    """A valid ARN standing for a resource of the template: arn:aws:<service>:...:<type>:<LogicalId>."""
    resources = template.body.get("Resources")
    resource = resources.get(logical_id) if isinstance(resources, dict) else None
    kind = resource.get("Type") if isinstance(resource, dict) else None
    parts = kind.split("::") if isinstance(kind, str) else []
    service, noun = (parts[1].lower(), parts[2].lower()) if len(parts) == 3 else ("cloudformation", "resource")
    return f"arn:{PARTITION}:{service}:{REGION}:{ACCOUNT}:{noun}:{logical_id}"


def _ref(name: Any, template: Template) -> str:
    if name in PSEUDO_PARAMETERS:
        return PSEUDO_PARAMETERS[name]
    parameters = template.body.get("Parameters") if isinstance(template.body.get("Parameters"), dict) else {}
    parameter = parameters.get(name)
    if isinstance(parameter, dict) and "Default" in parameter:
        return _text(parameter["Default"])
    return _placeholder_arn(template, str(name))


def _sub(args: Any, template: Template) -> str:
    text, variables = (args[0], args[1]) if isinstance(args, list) and len(args) == 2 else (args, {})
    values = {name: _resolve(value, template) for name, value in (variables or {}).items()}

    def value_of(match: re.Match[str]) -> str:
        name = match.group(1)
        logical_id = name.split(".", 1)[0]  # ${Resource.Attribute} is a GetAtt
        if name.startswith("!"):
            return "${" + name[1:] + "}"
        if name in values:
            return values[name]
        if "." in name and _declared(template, "Resources", logical_id):
            return _placeholder_arn(template, logical_id)
        if name in PSEUDO_PARAMETERS or _declared(template, "Resources", name) or _declared(template, "Parameters", name):
            return _ref(name, template)
        return match.group(0)  # not the template's: left for DefinitionSubstitutions
    return _SUB_VARIABLE.sub(value_of, _text(text))


def _declared(template: Template, section: str, name: str) -> bool:
    entries = template.body.get(section)
    return isinstance(entries, dict) and name in entries


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)


def _resolve(value: Any, template: Template) -> str:
    """A template value as the string CloudFormation would produce, with placeholders for resources."""
    if not (isinstance(value, dict) and len(value) == 1):
        return _text(value)
    (name, args), = value.items()
    if name == "Ref":
        return _ref(args, template)
    if name == "Fn::GetAtt":
        return _placeholder_arn(template, str(args[0] if isinstance(args, list) else args).split(".", 1)[0])
    if name == "Fn::Sub":
        return _sub(args, template)
    if name == "Fn::Join" and isinstance(args, list) and len(args) == 2 and isinstance(args[1], list):
        return _text(args[0]).join(_resolve(part, template) for part in args[1])
    if name == "Fn::If" and isinstance(args, list) and len(args) == 3:
        return _resolve(args[1], template)  # conditions are not evaluated; the true branch stands in
    if name == "Fn::Select" and isinstance(args, list) and len(args) == 2 and isinstance(args[1], list):
        index = str(args[0])
        if index.isdigit() and int(index) < len(args[1]):
            return _resolve(args[1][int(index)], template)
    if name == "Fn::ImportValue":
        return f"arn:{PARTITION}:cloudformation:{REGION}:{ACCOUNT}:export:{_resolve(args, template)}"
    return _text(value)
