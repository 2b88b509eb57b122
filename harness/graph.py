"""A state machine as a Graphviz graph, with an execution's path on it, as the console's graph view shows it.

`to_dot` writes DOT text itself (no Python dependency): Map and Parallel bodies are nested clusters,
Choice rules are labelled edges, Catch and Retry edges are dashed, and with an execution's events
the states it entered are filled, the transitions it took are bold and a failed state is red.
`render` turns DOT into SVG or PNG with Graphviz's `dot` (Debian package graphviz).
"""
from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any, Iterable

_OPERATORS = {"Equals": "==", "GreaterThan": ">", "GreaterThanEquals": ">=", "LessThan": "<", "LessThanEquals": "<="}
_TYPES = ("String", "Numeric", "Boolean", "Timestamp")
ENTERED, FAILED, TAKEN, IDLE = "#d9f2d9", "#f4b6b6", "#2e7d32", "#9e9e9e"


class GraphvizMissing(RuntimeError):
    """`dot` is not installed: SVG and PNG need Graphviz."""


def rule_label(rule: dict[str, Any]) -> str:
    """A Choice rule in short: `$.x > 10`, `And(...)`, or a JSONata condition."""
    if "Condition" in rule:
        return str(rule["Condition"]).removeprefix("{%").removesuffix("%}").strip()
    for combinator in ("And", "Or"):
        if combinator in rule:
            return f" {combinator.lower()} ".join(f"({rule_label(r)})" for r in rule[combinator])
    if "Not" in rule:
        return f"not ({rule_label(rule['Not'])})"
    variable = rule.get("Variable", "?")
    for key, value in rule.items():
        if key in ("Variable", "Next", "Assign", "Output", "Comment"):
            continue
        if key.startswith("Is"):
            return f"{variable} {key}" if value else f"not {variable} {key}"
        if key == "StringMatches":
            return f"{variable} matches {json.dumps(value)}"
        path = key.endswith("Path")
        op = key[: -len("Path")] if path else key
        for t in _TYPES:
            if op.startswith(t):
                symbol = _OPERATORS.get(op[len(t):], op[len(t):])
                return f"{variable} {symbol} {value if path else json.dumps(value)}"
        return f"{variable} {key} {json.dumps(value)}"
    return "?"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _Writer:
    def __init__(self, entered: set[str], failed: set[str], taken: set[tuple[str, str, str]], highlight: bool):
        self.lines: list[str] = []
        self.entered, self.failed, self.taken, self.highlight = entered, failed, taken, highlight
        self.clusters = 0

    def node_attrs(self, name: str, state: dict[str, Any]) -> str:
        kind = state.get("Type", "?")
        shape = {"Choice": "diamond", "Succeed": "box", "Fail": "box", "Map": "box3d", "Parallel": "box3d",
                 "Wait": "octagon"}.get(kind, "box")
        style = ["rounded"] if shape == "box" else []
        attrs = {"label": f"{name}\n{kind}", "shape": shape, "tooltip": f"{name} ({kind})"}
        if kind == "Task" and isinstance(state.get("Resource"), str):
            attrs["tooltip"] += f"\n{state['Resource']}"
        if self.highlight:
            if name in self.failed:
                style.append("filled")
                attrs.update(fillcolor=FAILED, color="#c62828", penwidth="2")
            elif name in self.entered:
                style.append("filled")
                attrs.update(fillcolor=ENTERED, color=TAKEN, penwidth="2")
            else:
                attrs.update(color=IDLE, fontcolor="#616161")
        if style:
            attrs["style"] = ",".join(style)
        return ", ".join(f"{k}={_quote(v)}" for k, v in attrs.items())

    def edge(self, a: str, b: str, src: str, dst: str, label: str = "", style: str = "", colour: str = "",
             via: str = "next") -> None:
        attrs: dict[str, str] = {}
        if label:
            attrs["label"] = _short(label, 48)
            attrs["tooltip"] = label
        if style:
            attrs["style"] = style
        if colour:
            attrs["color"] = colour
            attrs["fontcolor"] = colour
        if self.highlight and (src, dst, via) in self.taken:
            attrs.update(color=TAKEN, penwidth="2.5", style=",".join(filter(None, [style, "bold"])))
        text = ", ".join(f"{k}={_quote(v)}" for k, v in attrs.items())
        self.lines.append(f"  {_quote(a)} -> {_quote(b)}" + (f" [{text}]" if text else ";"))

    def body(self, definition: dict[str, Any], prefix: str, indent: str) -> tuple[str | None, list[str]]:
        """Write the states of one body; returns (its start node id, its terminal node ids)."""
        states = definition.get("States") if isinstance(definition, dict) else None
        states = states if isinstance(states, dict) else {}
        ids = {name: f"{prefix}{name}" for name in states}
        terminals: list[str] = []
        for name, state in states.items():
            state = state if isinstance(state, dict) else {}
            node = ids[name]
            kind = state.get("Type")
            if kind in ("Map", "Parallel"):
                self.clusters += 1
                self.lines.append(f"{indent}subgraph {_quote(f'cluster_{self.clusters}')} {{")
                self.lines.append(f"{indent}  label={_quote(f'{name} ({kind})')}; style=\"rounded,dashed\"; "
                                  f"color={_quote(TAKEN if self.highlight and name in self.entered else IDLE)};")
                self.lines.append(f"{indent}  {_quote(node)} [{self.node_attrs(name, state)}];")
                if kind == "Parallel":
                    bodies = state.get("Branches") or []
                else:
                    bodies = [state.get("ItemProcessor") or state.get("Iterator") or {}]
                for i, body in enumerate(bodies if isinstance(bodies, list) else []):
                    self.clusters += 1
                    title = f"branch {i + 1}" if kind == "Parallel" else "each item"
                    self.lines.append(f"{indent}  subgraph {_quote(f'cluster_{self.clusters}')} {{")
                    self.lines.append(f"{indent}    label={_quote(title)}; style=\"rounded\"; color=\"#bdbdbd\";")
                    start, _ = self.body(body, f"{node}/{i}/", indent + "    ")
                    self.lines.append(f"{indent}  }}")
                    if start is not None:
                        self.edge(node, start, name, body.get("StartAt", ""), style="dotted",
                                  label="branch" if kind == "Parallel" else "item")
                self.lines.append(f"{indent}}}")
            else:
                self.lines.append(f"{indent}{_quote(node)} [{self.node_attrs(name, state)}];")
            if kind == "Choice":
                for i, rule in enumerate(state.get("Choices") or []):
                    if isinstance(rule, dict) and rule.get("Next") in ids:
                        self.edge(node, ids[rule["Next"]], name, rule["Next"], label=f"#{i} {rule_label(rule)}")
                if state.get("Default") in ids:
                    self.edge(node, ids[state["Default"]], name, state["Default"], label="Default")
            elif state.get("Next") in ids:
                self.edge(node, ids[state["Next"]], name, state["Next"])
            if state.get("End") or kind in ("Succeed", "Fail"):
                terminals.append(node)
            for retrier in state.get("Retry") or []:
                if isinstance(retrier, dict):
                    label = f"Retry ×{retrier.get('MaxAttempts', 3)} {', '.join(retrier.get('ErrorEquals') or [])}"
                    self.lines.append(f"{indent}{_quote(node)} -> {_quote(node)} [style=dashed, color=\"#ef6c00\", "
                                      f"fontcolor=\"#ef6c00\", label={_quote(_short(label, 48))}];")
            for catcher in state.get("Catch") or []:
                if isinstance(catcher, dict) and catcher.get("Next") in ids:
                    errors = ", ".join(catcher.get("ErrorEquals") or [])
                    self.edge(node, ids[catcher["Next"]], name, catcher["Next"], label=f"Catch {errors}",
                              style="dashed", colour="#c62828", via="catch")
        start = definition.get("StartAt") if isinstance(definition, dict) else None
        return ids.get(start) if isinstance(start, str) else None, terminals


def to_dot(definition: dict[str, Any], events: Iterable[dict[str, Any]] | None = None, *,
           title: str | None = None) -> str:
    """DOT text of `definition`; with `events` (an execution's history) its path is highlighted.

    Args:
        definition: a parsed state machine definition (not validated here: draw what is there).
        events: GetExecutionHistory events, or None for the bare machine.
        title: a graph label (e.g. the execution's name and status).
    """
    entered: set[str] = set()
    failed: set[str] = set()
    taken: set[tuple[str, str, str]] = set()
    if events is not None:
        from harness.visits import track, transitions

        tracker = track(list(events))
        entered = set(tracker.entered_states())
        failed = tracker.failed_states()
        taken = transitions(tracker)
    writer = _Writer(entered, failed, taken, events is not None)
    writer.lines += ["digraph StateMachine {", "  compound=true; rankdir=TB; newrank=true;",
                     '  graph [fontname="Helvetica", fontsize=11];',
                     '  node [fontname="Helvetica", fontsize=11];', '  edge [fontname="Helvetica", fontsize=9];']
    if title:
        writer.lines.append(f"  label={_quote(title)}; labelloc=t;")
    writer.lines.append('  "__start" [label="Start", shape=circle, style=filled, fillcolor="#424242", '
                        'fontcolor=white, fontsize=9];')
    writer.lines.append('  "__end" [label="End", shape=doublecircle, style=filled, fillcolor="#424242", '
                        'fontcolor=white, fontsize=9];')
    start, terminals = writer.body(definition, "", "  ")
    if start is not None:
        writer.lines.append(f"  \"__start\" -> {_quote(start)};")
    for node in terminals:
        writer.lines.append(f"  {_quote(node)} -> \"__end\";")
    writer.lines.append("}")
    return "\n".join(writer.lines) + "\n"


def has_graphviz() -> bool:
    return shutil.which("dot") is not None


def render(dot_text: str, fmt: str) -> bytes:
    """DOT text as `fmt` ("svg", "png" or "dot").

    Raises:
        GraphvizMissing: `dot` is not on PATH (apt-get install graphviz).
        RuntimeError: `dot` rejected the graph.
    """
    if fmt == "dot":
        return dot_text.encode()
    dot = shutil.which("dot")
    if dot is None:
        raise GraphvizMissing("rendering SVG or PNG needs Graphviz's `dot` (Debian: apt-get install graphviz); "
                              "write DOT with -o FILE.dot instead")
    proc = subprocess.run([dot, f"-T{fmt}"], input=dot_text.encode(), capture_output=True, timeout=60)
    if proc.returncode != 0:
        raise RuntimeError(f"dot -T{fmt} failed: {proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout
