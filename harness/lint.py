"""drydock's own findings about a state machine definition, beyond AWS's validator, and a fix for every finding.

`asl.validate` (and `harness.integrations.catalog`) report what ValidateStateMachineDefinition reports:
a definition AWS refuses. Some definitions AWS accepts still cannot work, and `lint` reports those with
codes of drydock's own:

- DRYDOCK_TOKEN_NOT_AWAITED: a Task passes `$$.Task.Token` but its resource has no `.waitForTaskToken`,
  so the state moves on at once and nobody waits for the answer (`$$.Task` is not even set then);
- DRYDOCK_TOKEN_NOT_SENT: a `.waitForTaskToken` Task that hands the token to nobody can only time out;
- DRYDOCK_IMPOSSIBLE_CHOICE: a Choice rule tests a field its input cannot have (a missing Variable fails
  the execution with States.Runtime); DRYDOCK_UNCHECKED_CHOICE (a warning) when the input comes from a
  resource whose result has no known shape;
- DRYDOCK_PLACEHOLDER_ARN (a warning): an ARN whose region or account is a placeholder (`REGION`);
- DRYDOCK_UNSUPPORTED_INTEGRATION: an optimized integration AWS does not offer, only when
  `harness.integrations.catalog` (which reports it with AWS's own code) is not there.

The Choice check is a static data flow: for each state, the set of top-level fields its input can
have, from what each predecessor's ResultPath, OutputPath, ResultSelector, Parameters, Result and
Catch put there, and from the result shape of each integration (the service model for `aws-sdk:*`).
A set is closed (exactly these fields at most) or open (more may come: the execution input, a Lambda
payload, a callback's answer); only a closed set proves a field cannot exist.

`suggest` gives the fix for a finding of either kind; `drydock validate` prints it as "suggestion:".
"""
from __future__ import annotations

import difflib
import functools
import json
import re
from dataclasses import dataclass, field
from typing import Any, Iterator

from asl.errors import (INVALID_JSON_DESCRIPTION, MISSING_TRANSITION_TARGET, SCHEMA_VALIDATION_FAILED, Diagnostic)
from asl.paths import PathSyntaxError, compile_query
from asl.pointer import parts, pointer
from asl.tasks import Resource, parse_resource

TOKEN_NOT_AWAITED = "DRYDOCK_TOKEN_NOT_AWAITED"
TOKEN_NOT_SENT = "DRYDOCK_TOKEN_NOT_SENT"
IMPOSSIBLE_CHOICE = "DRYDOCK_IMPOSSIBLE_CHOICE"
UNCHECKED_CHOICE = "DRYDOCK_UNCHECKED_CHOICE"
PLACEHOLDER_ARN = "DRYDOCK_PLACEHOLDER_ARN"
UNSUPPORTED_INTEGRATION = "DRYDOCK_UNSUPPORTED_INTEGRATION"

TOKEN = "$$.Task.Token"
JSONATA_TOKEN = "$states.context.Task.Token"
WAIT = "waitForTaskToken"
# Optimized integrations whose result shape is fixed (connect-*.html); aws-sdk results come from the service model.
RESULT_FIELDS: dict[tuple[str, str], frozenset[str]] = {
    ("lambda", "invoke"): frozenset({"ExecutedVersion", "FunctionError", "LogResult", "Payload", "StatusCode",
                                     "SdkHttpMetadata", "SdkResponseMetadata"}),
    ("sns", "publish"): frozenset({"MessageId", "SequenceNumber", "SdkHttpMetadata", "SdkResponseMetadata"}),
    ("sqs", "sendMessage"): frozenset({"MD5OfMessageAttributes", "MD5OfMessageBody", "MD5OfMessageSystemAttributes",
                                       "MessageId", "SequenceNumber", "SdkHttpMetadata", "SdkResponseMetadata"}),
}
# When harness.integrations.catalog is absent: resources people write that AWS does not offer, and the fix.
UNOFFERED = {
    ("sagemaker", "createPipelineExecution"): "aws-sdk:sagemaker:startPipelineExecution",
    ("sagemaker", "startPipelineExecution"): "aws-sdk:sagemaker:startPipelineExecution",
    ("sagemaker", "describePipelineExecution"): "aws-sdk:sagemaker:describePipelineExecution",
}
_PLACEHOLDER_ARN = re.compile(r"^arn:(?P<partition>[^:]*):(?P<service>[^:]+):(?P<region>[^:]*):(?P<account>[^:]*):")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
_ACCOUNT = re.compile(r"^(\d{12}|aws)$")


@dataclass(frozen=True)
class Advice:
    """A finding and what to do about it."""

    diagnostic: Diagnostic
    suggestion: str | None


def lint(definition: Any) -> list[Advice]:
    """drydock's findings about a definition, each with its suggestion, in document order per check.

    Args:
        definition: the parsed definition (it may also have AWS findings; those are not repeated here).

    Returns:
        Every finding; `[]` when drydock sees nothing beyond what AWS would say.
    """
    if not isinstance(definition, dict):
        return []
    found: list[Advice] = []
    for at, body in _bodies(definition, ""):
        found += _tokens(body, at)
        found += _choices(body, at)
        found += _placeholders(body, at)
        found += _unoffered(body, at)
    return found


def suggest(diagnostic: Diagnostic, definition: Any, *, text: str | None = None,
            line_offset: int | None = None) -> str | None:
    """The fix for one of AWS's findings about `definition`, or None when drydock has nothing to add.

    Args:
        diagnostic: a finding of `asl.validate` / the catalog (AWS codes).
        definition: the parsed definition the finding is about (as far as it could be read).
        text: the definition text, for findings about the text itself (INVALID_JSON_DESCRIPTION).
        line_offset: line n of `text` is line n + line_offset of the file the user edits.
    """
    if diagnostic.code == INVALID_JSON_DESCRIPTION:
        return _json_fix(text, line_offset)
    states = definition.get("States") if isinstance(definition, dict) else None
    message = diagnostic.message
    if diagnostic.code == MISSING_TRANSITION_TARGET:
        missing = message.rsplit(": ", 1)[-1]
        close = difflib.get_close_matches(missing, list(_states_at(definition, diagnostic.location)), n=1)
        return (f"did you mean \"{close[0]}\"? A transition must name a state of the same States object"
                if close else f"add a state named \"{missing}\" or point the transition at an existing state")
    if diagnostic.code != SCHEMA_VALIDATION_FAILED or not isinstance(states, dict):
        return None
    if "is not recognized" in message and diagnostic.location.endswith("/Resource"):
        return _resource_fix(message)
    if message.startswith("One of 'Next' or"):
        return _next_fix(definition, diagnostic.location)
    if message.startswith("Either 'Next' or"):
        return "keep \"Next\" to go on, or \"End\": true to stop here, not both"
    unreachable = re.match(r'State "(.+)" is not reachable\.', message)
    if unreachable:
        return _reachability_fix(definition, diagnostic.location, unreachable.group(1))
    return None


# --------------------------------------------------------------------------- bodies and states
def _bodies(body: Any, at: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every (pointer, body) of a definition: the top level, Parallel branches, Map processors."""
    if not isinstance(body, dict) or not isinstance(body.get("States"), dict):
        return
    yield at, body
    for name, state in body["States"].items():
        if not isinstance(state, dict):
            continue
        here = at + pointer("States", name)
        branches = state.get("Branches")
        for index, branch in enumerate(branches if isinstance(branches, list) else []):
            yield from _bodies(branch, here + pointer("Branches", index))
        for key in ("ItemProcessor", "Iterator"):
            yield from _bodies(state.get(key), here + pointer(key))


def _body_at(definition: Any, location: str) -> dict[str, Any]:
    """The body (top level, branch or processor) whose States object holds the node at `location`."""
    node: Any = definition
    body = definition if isinstance(definition, dict) else {}
    for token in parts(location):
        if token == "States" and isinstance(node, dict) and isinstance(node.get("States"), dict):
            body = node
        if isinstance(node, dict):
            node = node.get(token)
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            break
    return body


def _states_at(definition: Any, location: str) -> dict[str, Any]:
    """The States object that holds the node at `location`."""
    states = _body_at(definition, location).get("States")
    return states if isinstance(states, dict) else {}


def _language(body: dict[str, Any], state: dict[str, Any]) -> str:
    return state.get("QueryLanguage") or body.get("QueryLanguage") or "JSONPath"


# --------------------------------------------------------------------------- task tokens
def _token_uses(value: Any, at: str) -> Iterator[str]:
    """Pointers of the `.$` fields (or JSONata strings) of a payload template that read the task token."""
    if isinstance(value, dict):
        for key, item in value.items():
            here = at + pointer(key)
            if isinstance(item, str) and (TOKEN in item or JSONATA_TOKEN in item):
                if str(key).endswith(".$") or JSONATA_TOKEN in item:
                    yield here
            else:
                yield from _token_uses(item, here)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _token_uses(item, at + pointer(index))
    elif isinstance(value, str) and JSONATA_TOKEN in value:
        yield at


def _tokens(body: dict[str, Any], at: str) -> list[Advice]:
    found = []
    for name, state in body["States"].items():
        if not isinstance(state, dict) or state.get("Type") != "Task" or not isinstance(state.get("Resource"), str):
            continue
        resource = parse_resource(state["Resource"])
        if resource.kind != "service":
            continue  # activities and bare Lambda ARNs: the token is theirs to handle
        here = at + pointer("States", name)
        uses = [use for key in ("Parameters", "Arguments") for use in _token_uses(state.get(key), here + pointer(key))]
        if uses and resource.pattern != WAIT:
            message = (f"'{name}' sends the task token ({TOKEN}) but its resource {resource.arn} does not wait for it: "
                       f"the state moves on as soon as the call returns, and without .waitForTaskToken the "
                       f"context has no Task.Token, so the execution fails with States.Runtime")
            found.append(Advice(Diagnostic("ERROR", TOKEN_NOT_AWAITED, message, uses[0]),
                                _await_fix(resource, state)))
        elif not uses and resource.pattern == WAIT:
            message = (f"'{name}' waits for a task token ({resource.arn}) but sends the token to nobody: no "
                       f"SendTaskSuccess or SendTaskFailure can answer it, so the state can only time out")
            place = {"sns": "Message", "sqs": "MessageBody"}.get(resource.service, "Payload")
            fix = (f"put the token in the request, e.g. \"{place}\": {{\"TaskToken.$\": \"{TOKEN}\", ...}}, so the "
                   f"receiver can answer with SendTaskSuccess/SendTaskFailure")
            found.append(Advice(Diagnostic("ERROR", TOKEN_NOT_SENT, message, here + pointer("Resource")), fix))
    return found


def _await_fix(resource: Resource, state: dict[str, Any]) -> str:
    offered = _offered_patterns(resource)
    if offered is not None and WAIT not in offered:
        return (f"{resource.service}:{resource.action} has no .waitForTaskToken; send the token with an integration "
                f"that waits, e.g. arn:aws:states:::sns:publish.{WAIT} or arn:aws:states:::sqs:sendMessage.{WAIT}")
    fix = f"\"Resource\": \"{resource.arn}.{WAIT}\", so the state waits for SendTaskSuccess/SendTaskFailure"
    if "TimeoutSeconds" not in state and "HeartbeatSeconds" not in state:
        fix += ", with a \"TimeoutSeconds\" (e.g. 86400) so an unanswered request ends"
    return fix


def _offered_patterns(resource: Resource) -> tuple[str, ...] | None:
    try:
        from harness.integrations.catalog import OFFERED
    except ImportError:
        return None
    return OFFERED.get(resource.service, {}).get(resource.action)


# --------------------------------------------------------------------------- placeholders
def _strings(value: Any, at: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield at, value
    elif isinstance(value, dict):
        for key, item in value.items():
            if not str(key).endswith(".$"):
                yield from _strings(item, at + pointer(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, at + pointer(index))


def _placeholders(body: dict[str, Any], at: str) -> list[Advice]:
    found = []
    for name, state in body["States"].items():
        if not isinstance(state, dict):
            continue
        here = at + pointer("States", name)
        for where, text in _strings({k: state.get(k) for k in ("Resource", "Parameters", "Arguments") if k in state},
                                    here):
            m = _PLACEHOLDER_ARN.match(text)
            if m is None or "${" in text:
                continue
            bad = [f"{part} '{m.group(part)}'" for part, rule in (("region", _REGION), ("account", _ACCOUNT))
                   if m.group(part) and not rule.match(m.group(part))]
            if not bad:
                continue
            key = parts(where)[-1]
            message = f"{key} {text} is a placeholder, not an ARN AWS has: its {' and '.join(bad)} are not real"
            variable = re.sub(r"[^A-Za-z0-9]", "", text.rsplit(":", 1)[-1].rsplit("/", 1)[-1]) or "ResourceArn"
            variable = variable if variable.endswith("Arn") else variable + "Arn"
            fix = (f"pass the real ARN in from the template: \"{key}\": \"${{{variable}}}\" in the definition and "
                   f"DefinitionSubstitutions: {{{variable}: !Ref <the resource>}} on the state machine")
            found.append(Advice(Diagnostic("WARNING", PLACEHOLDER_ARN, message, where), fix))
    return found


# --------------------------------------------------------------------------- unoffered integrations
def _unoffered(body: dict[str, Any], at: str) -> list[Advice]:
    """Only without the catalog, which reports these with AWS's code (SCHEMA_VALIDATION_FAILED)."""
    try:
        import harness.integrations.catalog  # noqa: F401
    except ImportError:
        pass
    else:
        return []
    found = []
    for name, state in body["States"].items():
        if not isinstance(state, dict) or not isinstance(state.get("Resource"), str):
            continue
        resource = parse_resource(state["Resource"])
        replacement = UNOFFERED.get((resource.service, resource.action))
        if resource.kind != "service" or replacement is None:
            continue
        where = at + pointer("States", name, "Resource")
        message = f"Step Functions does not offer {resource.arn}"
        found.append(Advice(Diagnostic("ERROR", UNSUPPORTED_INTEGRATION, message, where),
                            _resource_fix(f"arn:aws:states:::{replacement}", resource)))
    return found


def _resource_fix(message: str, resource: Resource | None = None) -> str | None:
    """The fix for a Resource AWS does not offer, from the ARN the catalog's message (or the table) names."""
    arns = re.findall(r"arn:aws:states:::aws-sdk:[A-Za-z0-9-]+:[A-Za-z0-9]+", message)
    if not arns:
        offered = re.search(r"supports ([^;]+); \.(\S+) is not offered", message)
        return f"use one of the patterns it offers ({offered.group(1)})" if offered else None
    arn = arns[0]
    action = arn.rsplit(":", 1)[-1]
    polls = ".sync" in message or action.startswith(("describe", "get"))
    if not polls:
        fields = _result_fields(arn) or frozenset()
        answer = f" (it answers {{{', '.join(sorted(fields))}}})" if fields and len(fields) <= 4 else ""
        return f"\"Resource\": \"{arn}\", with the same Parameters{answer}"
    status = next((f for f in sorted(_result_fields(arn) or ()) if f.endswith("Status")), "Status")
    return (f"there is no .sync for this API: poll it with three states: a Wait (e.g. \"Seconds\": 60), a Task "
            f"\"Resource\": \"{arn}\" with \"ResultPath\": \"$.Described\", and a Choice on "
            f"\"$.Described.{status}\" that goes back to the Wait while it runs, on when it succeeded, and to "
            f"the failure branch when it failed or stopped")


# --------------------------------------------------------------------------- JSON text
def _comment_lines(text: str) -> list[int]:
    """1-based lines of `text` that hold a `#` or `//` comment outside JSON strings."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        quoted, index = False, 0
        while index < len(line):
            char = line[index]
            if quoted and char == "\\":
                index += 2
                continue
            if char == '"':
                quoted = not quoted
            elif not quoted and (char == "#" or line.startswith("//", index)):
                found.append(number)
                break
            index += 1
    return found


def _json_fix(text: str | None, line_offset: int | None) -> str:
    lines = _comment_lines(text) if text else []
    if not lines:
        return "fix the JSON at the place shown (a missing comma or quote, a trailing comma, an unclosed bracket)"
    shown = [n + line_offset for n in lines] if line_offset is not None else lines
    where = "template" if line_offset is not None else "definition"
    listed = ", ".join(map(str, shown[:12])) + (", ..." if len(shown) > 12 else "")
    return (f"JSON has no comments: delete the {len(lines)} comment(s) on {where} line(s) {listed}; keep such "
            f"notes in a \"Comment\" field of the state (or as YAML comments outside the DefinitionString)")


# --------------------------------------------------------------------------- transitions
def _targets(state: Any) -> Iterator[str]:
    if not isinstance(state, dict):
        return
    for key in ("Next", "Default"):
        if isinstance(state.get(key), str):
            yield state[key]
    for key in ("Choices", "Catch"):
        for entry in state.get(key) if isinstance(state.get(key), list) else []:
            if isinstance(entry, dict) and isinstance(entry.get("Next"), str):
                yield entry["Next"]


def _missing_next(states: dict[str, Any]) -> dict[str, str | None]:
    """States that need a Next and have none -> the state that most likely should follow.

    The candidate is the first state after it in the text that nothing transitions to: a state was
    written to follow it and the transition got lost ("End": false in the seed).
    """
    targeted = {target for state in states.values() for target in _targets(state)}
    names = list(states)
    found: dict[str, str | None] = {}
    for index, name in enumerate(names):
        state = states[name]
        moves_on = isinstance(state, dict) and state.get("Type") not in ("Choice", "Succeed", "Fail")
        if moves_on and "Next" not in state and state.get("End") is not True:
            found[name] = next((n for n in names[index + 1:] if n not in targeted and n != name), None)
    return found


def _next_fix(definition: Any, location: str) -> str:
    states = _states_at(definition, location)
    name = parts(location)[-1]
    state = states.get(name) if isinstance(states, dict) else None
    candidate = _missing_next(states).get(name) if isinstance(states, dict) else None
    follow = f"\"Next\": \"{candidate}\"" if candidate else "\"Next\": \"<the state that follows>\""
    if isinstance(state, dict) and state.get("End") is False:
        fix = (f"\"End\": false does not make '{name}' wait for anything: replace it with {follow} (or \"End\": true "
               f"if the workflow stops here)")
        if state.get("Type") == "Task" and isinstance(state.get("Resource"), str) and \
                not state["Resource"].endswith(f".{WAIT}") and TOKEN in json.dumps(state):
            fix += f"; to wait for the approver, use the .{WAIT} resource"
        return fix
    return f"add {follow}, or \"End\": true if the workflow stops here"


def _reachability_fix(definition: Any, location: str, name: str) -> str:
    states = _states_at(definition, location)
    body_start = _body_at(definition, location).get("StartAt")
    missing = _missing_next(states)
    if body_start in states and missing:
        edges = {n: set(_targets(s)) | ({missing[n]} if missing.get(n) else set()) for n, s in states.items()}
        reached, pending = {body_start}, [body_start]
        while pending:
            for target in edges.get(pending.pop(), ()):
                if target in states and target not in reached:
                    reached.add(target)
                    pending.append(target)
        fixers = [n for n, c in missing.items() if c]
        if name in reached and fixers:
            return (f"it is reached once '{fixers[0]}' gets its missing \"Next\": \"{missing[fixers[0]]}\" "
                    f"(see that finding)")
    return f"nothing transitions to '{name}': point a Next, Default, Choice or Catch at it, or delete it"


# --------------------------------------------------------------------------- data flow
MAX_DEPTH = 4  # nested fields tracked below the top level (a loop that nests its input stops growing here)


@dataclass(frozen=True)
class Fields:
    """What fields a JSON value (a state's input or output, or a field of it) can have.

    Attributes:
        known: fields it can have.
        closed: True when it can have no other field (a literal object, a modeled service result).
        sources: where the fields come from, for messages.
        unknown: (state, resource) whose result has no known shape because AWS does not offer the
            resource; an open set with such a source makes a Choice on an unknown field a warning.
        children: what is known of some fields' own fields.
    """

    known: frozenset[str] = frozenset()
    closed: bool = False
    sources: tuple[str, ...] = ()
    unknown: tuple[tuple[str, str], ...] = ()
    children: tuple[tuple[str, Fields], ...] = field(default=())

    def child(self, name: str) -> Fields | None:
        """What the field `name` can hold; None when this value cannot have that field."""
        for key, value in self.children:
            if key == name:
                return value
        return OPEN if name in self.known or not self.closed else None

    def union(self, other: Fields) -> Fields:
        """What a state's input can be when it comes from either of two predecessors."""
        kids = []
        for name in sorted({k for k, _ in self.children} | {k for k, _ in other.children}):
            a, b = self.child(name), other.child(name)
            merged = b if a is None else a if b is None else a.union(b)
            if merged is not None and merged != OPEN:
                kids.append((name, merged))
        return Fields(self.known | other.known, self.closed and other.closed,
                      tuple(dict.fromkeys(self.sources + other.sources)),
                      tuple(dict.fromkeys(self.unknown + other.unknown)), tuple(kids))

    def with_field(self, name: str, value: Fields, source: str, depth: int = 0) -> Fields:
        """This value with the field `name` set to `value` (what ResultPath "$.name" does)."""
        value = _trimmed(value, depth + 1)
        kids = tuple((k, v) for k, v in self.children if k != name)
        if value != OPEN:
            kids = tuple(sorted(kids + ((name, value),), key=lambda kv: kv[0]))
        return Fields(self.known | {name}, self.closed, tuple(dict.fromkeys(self.sources + (source,))),
                      self.unknown, kids)


OPEN = Fields()


def _trimmed(value: Fields, depth: int) -> Fields:
    if depth >= MAX_DEPTH:
        return OPEN
    if not value.children:
        return value
    kids = tuple((k, t) for k, v in value.children if (t := _trimmed(v, depth + 1)) != OPEN)
    return Fields(value.known, value.closed, value.sources, value.unknown, kids)


def _scalar(source: str) -> Fields:
    return Fields(frozenset(), True, (source,))


def _literal(value: Any, source: str, template: bool) -> Fields:
    """The fields of a literal value; in a payload template a `key.$` holds a value known only at run time."""
    if isinstance(value, list):
        return OPEN  # indexes are not followed
    if not isinstance(value, dict):
        return _scalar(source)
    known, kids = set(), []
    for key, item in value.items():
        key = str(key)
        if template and key.endswith(".$"):
            known.add(key[:-2])
            continue
        known.add(key)
        nested = _literal(item, source, template)
        if nested != OPEN:
            kids.append((key, nested))
    return Fields(frozenset(known), True, (source,), (), tuple(sorted(kids, key=lambda kv: kv[0])))


def _shape(shape: Any, source: str, depth: int = 0) -> Fields:
    """The fields of a botocore shape as the aws-sdk integration answers it (member names capitalized)."""
    kind = getattr(shape, "type_name", None)
    if kind == "structure":
        known, kids = set(), []
        for name, member in shape.members.items():
            name = name[:1].upper() + name[1:]
            known.add(name)
            if depth + 1 < MAX_DEPTH:
                nested = _shape(member, source, depth + 1)
                if nested != OPEN:
                    kids.append((name, nested))
        return Fields(frozenset(known), True, (source,), (), tuple(sorted(kids, key=lambda kv: kv[0])))
    if kind in ("list", "map", None):
        return OPEN
    return _scalar(source)


@functools.cache
def _result_shape(arn: str) -> Fields | None:
    """What an integration answers, when its shape is known; None otherwise."""
    resource = parse_resource(arn)
    if resource.kind != "service" or resource.pattern:
        return None  # .sync and .waitForTaskToken answer with a job description or whatever the callback sends
    source = f"the result of {arn}"
    if (resource.service, resource.action) in RESULT_FIELDS:
        return Fields(RESULT_FIELDS[(resource.service, resource.action)], True, (source,))
    if not resource.service.startswith("aws-sdk:"):
        return None
    model = _operation_model(resource.service.split(":", 1)[1], resource.action)
    if model is None:
        return None
    return _shape(model.output_shape, source) if model.output_shape is not None else _scalar(source)


def _result_fields(arn: str) -> frozenset[str] | None:
    """Top-level fields of an integration's result, when its shape is known."""
    shape = _result_shape(arn)
    return shape.known if shape is not None else None


def _operation_model(sdk_name: str, action: str) -> Any:
    try:
        import botocore.session

        from harness.integrations.aws_sdk import boto_service, operation_name
    except ImportError:
        return None
    service = boto_service(sdk_name)
    if service is None:
        return None
    model = botocore.session.get_session().get_service_model(service)
    operation = operation_name(model, action)
    return model.operation_model(operation) if operation else None


def _recognized(resource: Resource) -> bool:
    """Whether AWS offers the resource (catalog, else the small table, else the service model)."""
    try:
        from harness.integrations.catalog import check_resource
    except ImportError:
        if (resource.service, resource.action) in UNOFFERED:
            return False
    else:
        if check_resource(resource.arn) is not None:
            return False
    if resource.service.startswith("aws-sdk:"):
        return _operation_model(resource.service.split(":", 1)[1], resource.action) is not None
    return True


def _task_result(name: str, state: dict[str, Any]) -> Fields:
    arn = state.get("Resource")
    if not isinstance(arn, str):
        return OPEN
    resource = parse_resource(arn)
    if resource.kind == "service" and not _recognized(resource):
        return Fields(unknown=((name, arn),))
    shape = _result_shape(arn)
    if shape is None:
        return OPEN  # a Lambda payload, a callback's answer, a job description: the user's or the service's own
    return Fields(shape.known, shape.closed, (f"the result of '{name}' ({arn})",), (), shape.children)


def _through_path(value: Fields, path: Any, source: str) -> Fields:
    """InputPath / OutputPath: `$` keeps the value, null leaves {}, `$.a.b` picks a field when it is known."""
    if path is None:
        return _scalar(source)
    if path == "$":
        return value
    segments = _segments(path)
    if segments is None:
        return OPEN
    for name in segments:
        picked = value.child(name)
        if picked is None:
            return OPEN  # the path itself fails at run time; not this check's business
        value = picked
    return value


def _segments(path: Any) -> list[str] | None:
    """The field names of a definite input path (`$.a.b` -> ["a", "b"]); None for anything else."""
    try:
        query = compile_query(path, allow_context=False, allow_variables=False)
    except (PathSyntaxError, TypeError):
        return None
    names = [getattr(segment, "name", None) for segment in query.path.segments]
    return names if names and all(isinstance(n, str) for n in names) else None


def _result_path(raw: Fields, result: Fields, holder: dict[str, Any], name: str) -> Fields:
    if "ResultPath" not in holder or holder["ResultPath"] == "$":
        return result
    path = holder["ResultPath"]
    if path is None:
        return raw
    segments = _segments(path)
    if segments is None:
        return OPEN
    source = f"'{name}' (ResultPath {path})"
    return _placed(raw, segments, result, source, 0)


def _placed(value: Fields, segments: list[str], result: Fields, source: str, depth: int) -> Fields:
    head, rest = segments[0], segments[1:]
    if not rest:
        return value.with_field(head, result, source, depth)
    inner = value.child(head)
    inner = Fields(frozenset(), True, (source,)) if inner is None else inner
    return value.with_field(head, _placed(inner, rest, result, source, depth + 1), source, depth)


def _output(name: str, state: dict[str, Any], raw: Fields) -> Fields:
    """What a JSONPath state hands to the next state, given what it received."""
    kind = state.get("Type")
    effective = _through_path(raw, state.get("InputPath", "$"), f"'{name}' (InputPath null)")
    if kind in ("Choice", "Wait", "Succeed", "Fail"):
        return _through_path(effective, state.get("OutputPath", "$"), f"'{name}' (OutputPath null)")
    if kind == "Pass":
        if "Parameters" in state:
            result = _literal(state["Parameters"], f"the Parameters of '{name}'", True)
        elif "Result" in state:
            result = _literal(state["Result"], f"the Result of '{name}'", False)
        else:
            result = effective
    elif kind == "Task":
        result = _task_result(name, state)
    elif kind in ("Parallel", "Map"):
        result = OPEN if "ResultWriter" in state else _scalar(f"the result of '{name}' (an array)")
    else:
        return OPEN
    if kind != "Pass" and "ResultSelector" in state:
        result = _literal(state["ResultSelector"], f"the ResultSelector of '{name}'", True)
    combined = _result_path(raw, result, state, name)
    return _through_path(combined, state.get("OutputPath", "$"), f"'{name}' (OutputPath null)")


def _caught(name: str, catcher: dict[str, Any], raw: Fields) -> Fields:
    source = f"the error output caught by '{name}'"
    error_output = Fields(frozenset({"Error", "Cause"}), True, (source,), (),
                          (("Cause", _scalar(source)), ("Error", _scalar(source))))
    return _result_path(raw, error_output, catcher, name)


def _flow(body: dict[str, Any]) -> dict[str, Fields]:
    """The input of every reachable JSONPath state of one body (a fixed point over its transitions)."""
    states = body["States"]
    start = body.get("StartAt")
    if start not in states:
        return {}
    inputs: dict[str, Fields] = {start: OPEN}
    pending = [start]
    budget = 200 * len(states)  # the lattice is finite; this only bounds a pathological definition
    while pending and budget > 0:
        budget -= 1
        name = pending.pop()
        state = states.get(name)
        if not isinstance(state, dict):
            continue
        raw = inputs[name]
        jsonata = _language(body, state) == "JSONata"
        out = OPEN if jsonata else _output(name, state, raw)
        moves = [(target, out) for target in _targets({k: state.get(k) for k in ("Next", "Default", "Choices")})]
        for catcher in state.get("Catch") if isinstance(state.get("Catch"), list) else []:
            if isinstance(catcher, dict) and isinstance(catcher.get("Next"), str):
                moves.append((catcher["Next"], OPEN if jsonata else _caught(name, catcher, raw)))
        for target, value in moves:
            if target not in states:
                continue
            merged = inputs[target].union(value) if target in inputs else value
            if merged != inputs.get(target):
                inputs[target] = merged
                pending.append(target)
    return inputs


def _rules(rule: Any, at: str) -> Iterator[tuple[str, str]]:
    """(pointer, path) of every input path a Choice rule reads (Variable and the *Path operands)."""
    if not isinstance(rule, dict):
        return
    if "IsPresent" not in rule:  # IsPresent is how one asks about a field that may be absent
        for key, value in rule.items():
            if (key == "Variable" or key.endswith("Path")) and isinstance(value, str):
                yield at + pointer(key), value
    for key in ("And", "Or"):
        for index, nested in enumerate(rule.get(key) if isinstance(rule.get(key), list) else []):
            yield from _rules(nested, at + pointer(key, index))
    if "Not" in rule:
        yield from _rules(rule["Not"], at + pointer("Not"))


def _choices(body: dict[str, Any], at: str) -> list[Advice]:
    found = []
    inputs = _flow(body)
    for name, state in body["States"].items():
        if not isinstance(state, dict) or state.get("Type") != "Choice" or name not in inputs:
            continue
        if _language(body, state) == "JSONata":
            continue
        seen = _through_path(inputs[name], state.get("InputPath", "$"), f"'{name}' (InputPath null)")
        for index, rule in enumerate(state.get("Choices") if isinstance(state.get("Choices"), list) else []):
            for where, path in _rules(rule, at + pointer("States", name, "Choices", index)):
                advice = _check_path(name, seen, path, where)
                if advice is not None:
                    found.append(advice)
    return found


def _check_path(name: str, seen: Fields, path: str, where: str) -> Advice | None:
    try:
        query = compile_query(path)
    except PathSyntaxError:
        return None  # asl.validate reports it
    if query.root != "input":
        return None
    value, walked = seen, "$"
    for segment in query.path.segments:
        wanted = getattr(segment, "name", None)
        if not isinstance(wanted, str):
            return None  # an index, a wildcard: not followed
        if wanted not in value.known and value.closed:
            return _impossible(name, value, path, walked, wanted, where)
        if wanted not in value.known:
            return _unchecked(name, value, path, wanted, where) if walked == "$" else None
        value = value.child(wanted) or OPEN
        walked += f".{wanted}"
    return None


def _impossible(name: str, value: Fields, path: str, walked: str, wanted: str, where: str) -> Advice:
    have = ", ".join(sorted(value.known)) if value.known else "no fields at all"
    holder = "its input" if walked == "$" else f"{walked} in its input"
    message = (f"'{name}' tests {path}, but {holder} never has a field '{wanted}': it can only have {have} (from "
               f"{'; '.join(value.sources)}); the rule fails the execution with States.Runtime when evaluated")
    lowered = wanted.lower()
    close = sorted(k for k in value.known if k.lower().endswith(lowered) or lowered.endswith(k.lower())) or \
        difflib.get_close_matches(wanted, list(value.known), n=1, cutoff=0.5)
    fix = f"did you mean \"{walked}.{close[0]}\"? " if close else ""
    if walked == "$":
        fix += (f"test a field the input has, or keep the value you need with a ResultPath (e.g. \"ResultPath\": "
                f"\"$.{wanted}\") or a ResultSelector on the state before")
    else:
        fix += f"test one of the fields {walked} has ({have})"
    return Advice(Diagnostic("ERROR", IMPOSSIBLE_CHOICE, message, where), fix)


def _unchecked(name: str, value: Fields, path: str, wanted: str, where: str) -> Advice | None:
    if not value.unknown:
        return None  # the execution input, a Lambda payload, a callback: the caller decides what is there
    origin, arn = value.unknown[0]
    message = (f"cannot tell whether the input of '{name}' has the field '{wanted}' it tests ({path}): the input "
               f"is the result of '{origin}', whose resource {arn} AWS does not offer, so that result has no "
               f"known shape")
    fix = (f"fix the resource of '{origin}' first; then keep what '{name}' tests with a ResultPath (e.g. "
           f"\"ResultPath\": \"$.Result\" and \"Variable\": \"$.Result.<field>\") so its shape is known")
    return Advice(Diagnostic("WARNING", UNCHECKED_CHOICE, message, where), fix)
