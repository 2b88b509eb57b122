"""Strategies shared by the fuzz tests: JSON values, paths, intrinsic calls, JSONata text, definitions.

`FUZZ` are the settings every fuzz test starts from: no deadline (CI machines are slow), no example
database, and a fixed seed under CI (`CI=true`) so that a CI run is repeatable; locally each run explores
new cases.
"""
from __future__ import annotations

import os
import random

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

FUZZ = settings(deadline=None, database=None, derandomize=bool(os.environ.get("CI")), print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])

KEYS = st.sampled_from(["a", "b", "x", "y", "items", "Payload", "n", "ok", "", "a.b", "é", "$"])
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-1000, 1000), st.integers(),
                         st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=8))
json_values = st.recursive(json_scalars, lambda kids: st.one_of(st.lists(kids, max_size=4),
                                                                 st.dictionaries(KEYS, kids, max_size=4)),
                           max_leaves=12)
# what executions get as input: numbers of a size a Wait can take (see test_fuzz_definitions' docstring)
run_values = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(-1e6, 1e6),
                                    st.text(max_size=8)),
                          lambda kids: st.one_of(st.lists(kids, max_size=4), st.dictionaries(KEYS, kids, max_size=4)),
                          max_leaves=12)

# --------------------------------------------------------------------------- JSONPath
_NAMES = st.sampled_from(["a", "b", "x", "items", "Payload", "n", "é", "a-b", "0"])


@st.composite
def path_segment(draw):
    kind = draw(st.integers(0, 11))
    name = draw(_NAMES)
    return [f".{name}", f"['{name}']", f"[{draw(st.integers(-3, 5))}]", "[*]", ".*", f"..{name}",
            f"[{draw(st.integers(-3, 3))}:{draw(st.integers(-3, 5))}]",
            f"[{draw(st.integers(-2, 2))}:{draw(st.integers(-2, 4))}:{draw(st.integers(-2, 2))}]",
            f"[?(@.{name} {draw(st.sampled_from(['>', '<', '==', '!=', '>=', '<=']))} "
            f"{draw(st.sampled_from(['1', '0', chr(39) + 'v' + chr(39), 'true', 'null', '-2.5']))})]",
            f"[{draw(st.integers(0, 3))},{draw(st.integers(0, 3))}]", ".length()", f"[?(@.{name})]"][kind]


JUNK = st.text(alphabet="$.[]*?@()'\"0123:-ab ,<>=!~\\{}%", max_size=14)
json_paths = st.one_of(
    st.builds(lambda segs: "$" + "".join(segs), st.lists(path_segment(), max_size=5)),
    st.builds(lambda segs: "$" + "".join(segs), st.lists(path_segment(), max_size=3)).map(lambda p: p[:-1] if len(p) > 1 else p),
    JUNK.map(lambda t: "$" + t),
    JUNK,
)
queries = st.one_of(json_paths, json_paths.map(lambda p: "$" + p if p.startswith("$") else p),
                    json_paths.map(lambda p: "$var" + p[1:] if p.startswith("$") else p))

# --------------------------------------------------------------------------- intrinsic functions
INTRINSICS = ["Format", "StringToJson", "JsonToString", "Array", "ArrayPartition", "ArrayContains", "ArrayRange",
              "ArrayGetItem", "ArrayLength", "ArrayUnique", "Base64Encode", "Base64Decode", "Hash", "JsonMerge",
              "MathRandom", "MathAdd", "StringSplit", "UUID", "Nope"]


def _quote(text: str) -> str:
    return "'" + "".join("\\" + c if c in "'{}\\" else c for c in text) + "'"


literals = st.one_of(
    st.integers(-10, 10).map(str), st.floats(-100, 100, allow_nan=False).map(lambda f: repr(round(f, 3))),
    st.sampled_from(["true", "false", "null", "'SHA-256'", "'MD5'", "'{}'", "'{} and {}'", "'a,b;c'", "','",
                     "'[1,2,3]'", "'{\"a\": 1}'", "'aGVsbG8='", "'not json'", "2147483647", "-2147483648", "1e3"]),
    st.text(max_size=6).map(_quote),
)
argument_paths = st.sampled_from(["$", "$.a", "$.b", "$.items", "$.n", "$.s", "$.missing", "$$.Execution.Name",
                                  "$.items[0]", "$.items[*]", "$var", "$.o"])


@st.composite
def intrinsic_calls(draw, depth=0):
    name = draw(st.sampled_from(INTRINSICS))
    arity = draw(st.integers(0, 4))
    args = []
    for _ in range(arity):
        choice = draw(st.integers(0, 5 if depth < 2 else 4))
        if choice <= 2:
            args.append(draw(literals))
        elif choice <= 4:
            args.append(draw(argument_paths))
        else:
            args.append(draw(intrinsic_calls(depth + 1)))
    text = f"States.{name}({', '.join(args)})"
    if draw(st.integers(0, 9)) == 0:  # a broken call now and then: cut it, or add junk
        text = draw(st.sampled_from([text[:-1], text + ")", text.replace("(", "((", 1), text + " x"]))
    return text


# --------------------------------------------------------------------------- JSONata
@st.composite
def jsonata_texts(draw, depth=0):
    atoms = ["$states.input", "$states.input.a", "$states.input.items", "$states.input.n", "$x", "$states.context",
             "1", "2.5", "-3", "'text'", '"q"', "true", "null", "[]", "{}", "[1,2,3]", "{'k': 1}"]
    if depth >= 2 or draw(st.integers(0, 3)) == 0:
        return draw(st.sampled_from(atoms))
    a, b = draw(jsonata_texts(depth + 1)), draw(jsonata_texts(depth + 1))
    form = draw(st.integers(0, 13))
    op = draw(st.sampled_from(["+", "-", "*", "/", "%", "&", "=", "!=", "<", ">", "and", "or", "in"]))
    fn = draw(st.sampled_from(["$string", "$number", "$count", "$sum", "$keys", "$length", "$uppercase", "$not",
                               "$exists", "$type", "$boolean", "$reverse", "$sort", "$distinct", "$merge",
                               "$partition", "$range", "$hash", "$random", "$uuid", "$parse", "$max", "$floor",
                               "$substring", "$split", "$join", "$append", "$lookup", "$spread", "$zip", "$nope"]))
    return [f"({a} {op} {b})", f"{fn}({a})", f"{fn}({a}, {b})", f"{a}[{b}]", f"{a}.{draw(_NAMES)}",
            f"{a} ? {b} : null", f"[{a}, {b}]", f"{{'k': {a}}}", f"$map({a}, function($v) {{ $v }})",
            f"({a}; {b})", f"$x := {a}", f"{a}[0..2]" if depth else f"[0..{draw(st.integers(0, 5))}]",
            f"{a} ~> $string()", draw(JUNK)][form]


# --------------------------------------------------------------------------- definitions
# Definitions come from a plain `random.Random(seed)`: one hypothesis draw per definition keeps thousands of
# runs cheap; a failure prints the seed and the definition (`definition(seed)` rebuilds it).
TASK = "arn:aws:states:::fuzz:work"  # its handler echoes, fails or errors as the parameters ask
ERRORS = ["States.ALL", "States.TaskFailed", "States.Timeout", "Fuzz.Error", "States.Runtime", "States.DataLimitExceeded",
          "States.IntrinsicFailure", "States.QueryEvaluationError", "States.HeartbeatTimeout"]
PATHS = ["$", "$.a", "$.b[0]", "$.x.y", "$..a", "$.a[*]", "$[1:]", "$$.Execution.Input", "$.", "a", "$var", "$['a']",
         "$.items", "$.n", "$$.State.Name", "$.a.length()"]
INTRINSIC_TEXTS = ["States.Format('{}', $.a)", "States.ArrayLength($.a)", "States.MathAdd($.n, 1)",
                   "States.StringToJson($.a)", "States.JsonMerge($.a, $.b, false)", "States.UUID()",
                   "States.ArrayGetItem($.items, 0)", "States.Hash($.a, 'SHA-256')", "States.Nope(1)",
                   "States.Array($.a, $.b", "States.ArrayRange(0, $.n, 1)", "States.JsonToString($)",
                   "States.Base64Encode($.a)", "States.MathRandom(1, 10)", "States.ArrayPartition($.items, 2)",
                   "States.StringSplit($.a, ',')", "States.ArrayUnique($.items)", "States.ArrayContains($.items, 1)"]
JSONATA_TEXTS = ["$states.input", "$states.input.a", "$count($states.input.items)", "$sum($states.input.items)",
                 "$x", "$states.context.Execution.Name", "1 + 1", "'a' & $string($states.input.n)", "$states.input.n > 3",
                 "$keys($states.input)", "$nope()", "(", "$states.result", "$states.errorOutput", "[1,2,3][$ > 1]",
                 "$uuid()", "$partition([1,2,3], 2)", "$range(0, 3)", "$hash('x')", "$parse('[1, 2]')",
                 "$merge([{'a': 1}, $states.input])", "$states.input.items.$string()", "$random() < 2"]
RESOURCES = [TASK, TASK, TASK, "arn:aws:states:::fuzz:work.waitForTaskToken", "arn:aws:states:::unknown:thing",
             "not-an-arn", "arn:aws:states:::fuzz:work.sync"]


class DefinitionMaker:
    """Random definitions: mostly well-formed, with dangling targets, odd fields and wrong types mixed in."""

    def __init__(self, rng: random.Random):
        self.r = rng

    def chance(self, p: float) -> bool:
        return self.r.random() < p

    def pick(self, items):
        return items[self.r.randrange(len(items))]

    def value(self, depth: int = 0):
        kind = self.r.randrange(9 if depth < 2 else 6)
        if kind == 0:
            return None
        if kind == 1:
            return self.chance(0.5)
        if kind == 2:
            return self.r.randint(-1000, 1000)
        if kind == 3:
            return round(self.r.uniform(-1e4, 1e4), self.r.randrange(4))
        if kind in (4, 5):
            return self.pick(["", "a", "x,y", "2024-01-01T00:00:00Z", "{}", "[1]", "é", "$.a", "{% 1 %}"])
        if kind == 6:
            return [self.value(depth + 1) for _ in range(self.r.randrange(4))]
        return {self.pick(["a", "b", "x", "items", "n", "Payload"]): self.value(depth + 1)
                for _ in range(self.r.randrange(4))}

    def target(self, names):
        return self.pick(names) if self.chance(0.93) else "Nowhere"

    def expression(self, jsonata: bool):
        if jsonata:
            return "{% " + self.pick(JSONATA_TEXTS) + " %}"
        return self.pick(PATHS if self.chance(0.6) else INTRINSIC_TEXTS)

    def state(self, names, depth: int, jsonata: bool) -> dict:
        kinds = ["Pass", "Pass", "Choice", "Wait", "Fail", "Succeed", "Task", "Task", "Task"]
        kind = self.pick(kinds + (["Map", "Parallel"] if depth < 2 else []))
        state: dict = {"Type": kind}
        if kind not in ("Choice", "Fail", "Succeed"):
            if self.chance(0.7):
                state["Next"] = self.target(names)
            else:
                state["End"] = True
        if jsonata:
            if kind != "Fail" and self.chance(0.4):
                state["Output"] = self.expression(True) if self.chance(0.6) else {"o": self.expression(True)}
            if kind in ("Task", "Map", "Parallel") and self.chance(0.6):
                state["Arguments"] = {"k": self.expression(True), "mode": self.pick(["ok", "ok", "fail", "error"])}
        else:
            if kind not in ("Fail",) and self.chance(0.25):
                state["InputPath"] = self.pick(PATHS + [None])
            if kind in ("Pass", "Map", "Parallel", "Task") and self.chance(0.3):
                state["ResultPath"] = self.pick(PATHS + [None])
            if kind in ("Pass", "Map", "Parallel", "Task") and self.chance(0.2):
                state["OutputPath"] = self.pick(PATHS + [None])
            if kind in ("Pass", "Task", "Map", "Parallel") and self.chance(0.5):
                state["Parameters"] = {"p.$": self.expression(False), "k": self.value(1),
                                       "mode": self.pick(["ok", "ok", "fail", "error", "big"])}
            if kind in ("Task", "Map", "Parallel") and self.chance(0.2):
                state["ResultSelector"] = {"r.$": self.expression(False)}
        if kind != "Fail" and self.chance(0.15):
            state["Assign"] = {"x": self.expression(True)} if jsonata else {"var.$": self.expression(False), "x": 1}
        if kind == "Pass" and self.chance(0.4):
            state["Result"] = self.value()
        elif kind == "Task":
            state["Resource"] = self.pick(RESOURCES)
            if self.chance(0.3):
                state["TimeoutSeconds"] = self.r.randint(-1, 100)
            if self.chance(0.1):
                state["HeartbeatSeconds"] = self.r.randint(0, 50)
        elif kind == "Choice":
            if jsonata:
                rule = {"Condition": self.expression(True), "Next": self.target(names)}
            else:
                op, operand = self.pick([("NumericEquals", 1), ("StringEquals", "x"), ("BooleanEquals", True),
                                         ("IsPresent", True), ("IsNull", False), ("IsNumeric", True),
                                         ("TimestampLessThan", "2024-01-01T00:00:00Z"), ("NumericGreaterThanPath", "$.b"),
                                         ("StringMatches", "a*"), ("NumericLessThan", "x")])
                rule = {"Variable": self.pick(PATHS), op: operand, "Next": self.target(names)}
                if self.chance(0.15):
                    rule = {"Not": {k: v for k, v in rule.items() if k != "Next"}, "Next": rule["Next"]}
                elif self.chance(0.1):
                    inner = {k: v for k, v in rule.items() if k != "Next"}
                    rule = {"And": [inner, {"Variable": "$.n", "IsPresent": True}], "Next": rule["Next"]}
            state["Choices"] = [rule]
            if self.chance(0.6):
                state["Default"] = self.target(names)
        elif kind == "Wait":
            field = self.pick(["Seconds", "SecondsPath", "Timestamp", "TimestampPath"])
            state[field] = {"Seconds": self.r.randint(-1, 100), "SecondsPath": self.pick(PATHS),
                            "Timestamp": self.pick(["2024-01-01T00:00:00Z", "2016-03-14T01:59:00.123Z", "soon"]),
                            "TimestampPath": self.pick(PATHS)}[field]
            if jsonata and field.endswith("Path"):
                state[field[:-4]] = self.expression(True)
                del state[field]
        elif kind == "Fail":
            if self.chance(0.5):
                if jsonata:
                    state["Error"] = self.expression(True)
                else:
                    state["ErrorPath"] = self.pick(PATHS)
            else:
                state["Error"] = "Boom"
            if self.chance(0.3):
                state["Cause"] = "why"
        elif kind == "Map":
            if jsonata:
                state["Items"] = self.pick(["{% $states.input.items %}", "{% [1, 2] %}", "{% 3 %}", [1, "a", None]])
            else:
                state["ItemsPath"] = self.pick(PATHS)
            state["ItemProcessor"] = self.machine(depth + 1, jsonata, top=False)
            if self.chance(0.7):
                state["MaxConcurrency"] = self.r.randint(0, 3)
            if self.chance(0.2):
                state["ToleratedFailurePercentage"] = self.r.randint(0, 100)
            if self.chance(0.2) and not jsonata:
                state["ItemSelector"] = {"v.$": "$$.Map.Item.Value", "i.$": "$$.Map.Item.Index"}
        elif kind == "Parallel":
            state["Branches"] = [self.machine(depth + 1, jsonata, top=False) for _ in range(self.r.randint(1, 2))]
        if kind in ("Map", "Parallel", "Task"):
            if self.chance(0.4):
                state["Retry"] = [{"ErrorEquals": self.r.sample(ERRORS, self.r.randint(1, 2)),
                                   "MaxAttempts": self.r.randint(0, 2), "IntervalSeconds": self.r.randint(1, 5),
                                   "BackoffRate": self.pick([1, 1.5, 2]),
                                   **({"JitterStrategy": "FULL"} if self.chance(0.2) else {})}]
            if self.chance(0.4):
                state["Catch"] = [{"ErrorEquals": self.r.sample(ERRORS, self.r.randint(1, 2)),
                                   "Next": self.target(names),
                                   **({"ResultPath": "$.error"} if self.chance(0.5) and not jsonata else {})}]
        return state

    def machine(self, depth: int = 0, jsonata: bool | None = None, top: bool = True) -> dict:
        if jsonata is None:
            jsonata = self.chance(0.3)
        names = self.r.sample("ABCDEF", self.r.randint(1, 5 if depth == 0 else 3))
        body = {name: self.state(names, depth, jsonata) for name in names}
        if self.chance(0.75):  # mostly give the machine a way out
            body[names[-1]] = {"Type": "Succeed"}
        machine = {"StartAt": names[0] if self.chance(0.9) else self.pick(names + ["Z"]), "States": body}
        if top and jsonata:
            machine["QueryLanguage"] = "JSONata"
        if top and self.chance(0.15):
            machine["TimeoutSeconds"] = self.r.randint(1, 1000)
        return machine

    def mutate(self, definition: dict) -> dict:
        """One random change: a field dropped, replaced by any JSON value, or an unknown/duplicate field added."""
        node = definition
        for _ in range(self.r.randint(0, 4)):
            children = [k for k, v in node.items() if isinstance(v, dict)]
            if not children:
                break
            node = node[self.pick(sorted(children))]
        if node:
            key = self.pick(sorted(node))
            action = self.r.randrange(3)
            if action == 0:
                del node[key]
            elif action == 1:
                node[key] = self.value()
            else:
                node[self.pick(["Bogus", "Comment", "Next", "End", "Type", "Resource", "Parameters", "Default",
                                "QueryLanguage", "Catch", "Retry", "Items", "States"])] = self.value()
        return definition


def definition(seed: int, *, broken: bool = False) -> dict:
    """The definition of a seed (what a failing fuzz case prints)."""
    maker = DefinitionMaker(random.Random(seed))
    made = maker.machine()
    if broken:
        for _ in range(maker.r.randint(1, 3)):
            made = maker.mutate(made)
    return made


seeds = st.integers(0, 2**32 - 1)
