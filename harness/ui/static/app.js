"use strict";
// drydock ui: executions, graph, states and timeline of one execution, pending task tokens.
// Everything comes from /api/* (harness/ui/server.py); no framework, no build step.

const $ = (sel) => document.querySelector(sel);
let selected = decodeURIComponent(location.hash.slice(1)) || null;
let lastStatus = null;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v; else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(child ?? ""));
  return node;
}

async function api(path, body) {
  const options = body === undefined ? {} :
    {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)};
  const response = await fetch(path, options);
  const text = await response.text();
  const value = response.headers.get("Content-Type")?.startsWith("application/json") ? JSON.parse(text) : text;
  if (!response.ok) throw new Error(value.message || value.error || text);
  return value;
}

function pretty(text) {
  if (text === null || text === undefined) return "";
  try { return JSON.stringify(JSON.parse(text), null, 1); } catch (e) { return String(text); }
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "…";
  if (seconds === 0) return "0s";
  if (seconds < 60) return `${+seconds.toFixed(3)}s`;
  if (seconds < 3600) return `${(seconds / 60).toFixed(1)}m`;
  return `${(seconds / 3600).toFixed(1)}h`;
}

async function loadExecutions() {
  const {executions} = await api("/api/executions");
  const body = $("#executions tbody");
  body.replaceChildren(...executions.map((ex) => {
    const row = el("tr", {"data-arn": ex.executionArn, onclick: () => select(ex.executionArn)},
      el("td", {}, ex.name), el("td", {class: "muted"}, ex.stateMachineName),
      el("td", {}, el("span", {class: `status ${ex.status}`}, ex.status)));
    if (ex.executionArn === selected) row.classList.add("selected");
    return row;
  }));
  $("#no-executions").hidden = executions.length > 0;
  if (!selected && executions.length) select(executions[0].executionArn);
}

function select(arn) {
  selected = arn;
  lastStatus = null;
  history.replaceState(null, "", "#" + encodeURIComponent(arn));
  for (const row of document.querySelectorAll("#executions tbody tr"))
    row.classList.toggle("selected", row.dataset.arn === arn);
  loadExecution();
}

async function loadExecution() {
  if (!selected) return;
  const data = await api("/api/execution?arn=" + encodeURIComponent(selected));
  const ex = data.execution;
  $("#pick").hidden = true;
  $("#execution").hidden = false;
  $("#ex-name").textContent = ex.name;
  $("#ex-status").textContent = ex.status;
  $("#ex-status").className = `status ${ex.status}`;
  $("#ex-arn").textContent = ex.executionArn;
  $("#ex-error").hidden = !(ex.error || ex.cause);
  $("#ex-error").textContent = `${ex.error || ""}: ${ex.cause || ""}`;
  renderTokens(data.tokens);
  renderStates(data.states);
  renderTimeline(data.events);
  const key = `${ex.status}:${data.events.length}`;
  if (key !== lastStatus) {
    lastStatus = key;
    try { $("#graph").innerHTML = await api("/api/graph.svg?arn=" + encodeURIComponent(selected)); }
    catch (err) { $("#graph").replaceChildren(el("p", {class: "muted"}, `No graph: ${err.message}`)); }
  }
}

function renderTokens(tokens) {
  $("#tokens").hidden = tokens.length === 0;
  $("#token-list").replaceChildren(...tokens.map((t, i) => {
    const output = el("textarea", {id: `output-${i}`, "aria-label": "output"});
    output.value = '{"approved": true}';
    const error = el("input", {id: `error-${i}`, placeholder: "error", value: "Rejected"});
    const cause = el("input", {id: `cause-${i}`, placeholder: "cause", value: "rejected in drydock ui"});
    const note = el("span", {class: "muted"});
    const send = async (path, body) => {
      try { await api(path, body); note.textContent = "sent"; await refresh(); }
      catch (err) { note.textContent = err.message; note.className = "error"; }
    };
    return el("div", {class: "token", "data-token": t.taskToken},
      el("div", {}, el("b", {}, t.state), " ", el("span", {class: "muted mono"}, t.resource)),
      el("div", {class: "muted mono"}, `token ${t.taskToken.slice(0, 24)}…`),
      el("pre", {class: "json"}, JSON.stringify(t.parameters, null, 1)),
      el("label", {}, "output (SendTaskSuccess)"), output,
      el("button", {class: "approve", id: `approve-${i}`,
        onclick: () => send("/api/task-success", {taskToken: t.taskToken, output: output.value})}, "Approve"),
      el("div", {}, error, " ", cause),
      el("button", {class: "reject", id: `reject-${i}`,
        onclick: () => send("/api/task-failure", {taskToken: t.taskToken, error: error.value, cause: cause.value})},
        "Reject"), " ", note);
  }));
}

function renderStates(states) {
  $("#states tbody").replaceChildren(...states.map((s) => el("tr", {"data-state": s.name},
    el("td", {class: "muted"}, String(s.id)),
    el("td", {class: `depth-${Math.min(s.depth, 3)}`}, el("b", {class: s.outcome}, s.name), " ",
      el("span", {class: "muted"}, s.type)),
    el("td", {}, duration(s.offsetSeconds)), el("td", {}, duration(s.seconds)),
    el("td", {}, el("pre", {class: "json"}, pretty(s.input))),
    el("td", {}, el("pre", {class: `json ${s.error || s.cause ? "error" : ""}`},
      s.output !== null && s.outcome !== "failed" ? pretty(s.output) :
        (s.error || s.cause ? `${s.error || ""}: ${s.cause || ""}` : ""))))));
}

function renderTimeline(events) {
  const start = events.length ? Date.parse(events[0].timestamp) : 0;
  $("#timeline tbody").replaceChildren(...events.map((e) => {
    const key = Object.keys(e).find((k) => k.endsWith("EventDetails"));
    const details = key ? {...e[key]} : {};
    const name = details.name || "";
    for (const k of ["name", "inputDetails", "outputDetails", "assignedVariablesDetails"]) delete details[k];
    const text = Object.entries(details).map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
      .join(", ");
    return el("tr", {class: e.type.endsWith("Failed") ? "failed" : ""}, el("td", {}, String(e.id)),
      el("td", {class: "muted"}, String(e.previousEventId)), el("td", {}, duration((Date.parse(e.timestamp) - start) / 1000)),
      el("td", {}, e.type), el("td", {}, name), el("td", {class: "mono"}, text.length > 300 ? text.slice(0, 297) + "..." : text));
  }));
}

async function refresh() {
  try {
    await loadExecutions();
    await loadExecution();
    $("#refreshed").textContent = "updated " + new Date().toLocaleTimeString();
  } catch (err) {
    $("#refreshed").textContent = "error: " + err.message;
  }
}

refresh();
setInterval(refresh, 2000);
