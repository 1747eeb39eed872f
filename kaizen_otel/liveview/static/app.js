// The live view: polls the JSON API beneath it and renders runs, a span waterfall and the audit tail.
// Every value from telemetry is set as text (never as HTML): span attributes can hold anything.
"use strict";

const POLL_MS = 1000;
const REDACTED = /\[REDACTED(?::[a-z_]+)?\]/g;
const NOT_CAPTURED = "(not captured: content capture is off)";
const state = { version: null, selected: null, selectedSpan: null, detailVersion: null, polls: 0 };

function $(selector) { return document.querySelector(selector); }

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function money(usd) {
  if (!usd) return "$0";
  return usd < 0.01 ? "$" + usd.toFixed(5) : "$" + usd.toFixed(4);
}

function duration(ms) {
  if (ms < 1) return (ms * 1000).toFixed(0) + " µs";
  if (ms < 1000) return ms.toFixed(ms < 10 ? 1 : 0) + " ms";
  if (ms < 60000) return (ms / 1000).toFixed(2) + " s";
  const minutes = Math.floor(ms / 60000);
  return minutes + " min " + Math.round((ms % 60000) / 1000) + " s";
}

function count(n) { return Number(n || 0).toLocaleString("en-US"); }

// A value as text, with redaction markers shown as redacted and uncaptured content marked.
function valueNode(value) {
  const cell = el("span");
  const text = typeof value === "string" ? value : JSON.stringify(value);
  if (text === NOT_CAPTURED) {
    cell.append(el("span", "not-captured", text));
    return cell;
  }
  let last = 0;
  for (const match of text.matchAll(REDACTED)) {
    if (match.index > last) cell.append(document.createTextNode(text.slice(last, match.index)));
    const marker = el("span", "redacted", match[0]);
    marker.title = "redacted before it left the process";
    cell.append(marker);
    last = match.index + match[0].length;
  }
  if (last < text.length) cell.append(document.createTextNode(text.slice(last)));
  return cell;
}

async function getJSON(url, options) {
  const response = await fetch(url, Object.assign({ cache: "no-store" }, options || {}));
  if (!response.ok) throw new Error(url + ": " + response.status);
  return response.json();
}

// ---------------------------------------------------------------------------------------- totals
function renderTotals(doc) {
  const totals = doc.totals;
  for (const node of document.querySelectorAll("[data-total]")) {
    const key = node.dataset.total;
    node.textContent = key === "cost" ? money(totals.cost) : count(totals[key]);
  }
  const budgets = doc.budgets || {};
  $("#budget-process").textContent = budgets.process_usd != null ? "budget " + money(budgets.process_usd) : "";
  $("#service").textContent = doc.service ? "service " + doc.service : "";
  const store = doc.store;
  $("#store").textContent = store.runs + " kept (of at most " + store.max_runs + ", " +
    (store.bytes / 1048576).toFixed(1) + " of " + (store.max_bytes / 1048576).toFixed(0) + " MiB)" +
    (store.evicted_runs ? ", " + store.evicted_runs + " older dropped" : "");
  renderSpend(doc.spend, budgets.process_usd);
}

function renderSpend(points, limit) {
  const svg = $("#spend");
  svg.replaceChildren();
  if (!points.length) return;
  const ns = "http://www.w3.org/2000/svg";
  const t0 = points[0][0];
  const t1 = Math.max(points[points.length - 1][0], t0 + 1000);
  const top = Math.max(points[points.length - 1][1], limit || 0) * 1.1 || 1;
  const xy = (t, usd) => ((t - t0) / (t1 - t0) * 240).toFixed(1) + "," + (56 - usd / top * 54).toFixed(1);
  const line = document.createElementNS(ns, "polyline");
  line.setAttribute("points", [xy(t0, 0)].concat(points.map(([t, usd]) => xy(t, usd))).join(" "));
  svg.append(line);
  if (limit) {
    const bound = document.createElementNS(ns, "line");
    const y = (56 - limit / top * 54).toFixed(1);
    bound.setAttribute("class", "limit");
    bound.setAttribute("x1", "0"); bound.setAttribute("x2", "240");
    bound.setAttribute("y1", y); bound.setAttribute("y2", y);
    svg.append(bound);
  }
  const title = document.createElementNS(ns, "title");
  title.textContent = money(points[points.length - 1][1]) + " spent so far";
  svg.append(title);
}

// ---------------------------------------------------------------------------------------- runs
function statusBadge(status) { return el("span", "badge " + status, status); }

function renderRuns(doc) {
  const body = $("#runs tbody");
  const rows = [];
  for (const run of doc.runs) {
    const row = el("tr");
    row.dataset.id = run.id;
    row.dataset.status = run.status;
    if (run.parent) row.classList.add("child");
    row.dataset.depth = run.depth;
    if (run.id === state.selected) row.classList.add("selected");
    const agent = el("td");
    agent.style.paddingLeft = (6 + run.depth * 16) + "px";
    agent.append(el("span", "agent", run.agent));
    if (run.agent_id) agent.append(el("span", "dim", " " + run.agent_id));
    const status = el("td");
    status.append(statusBadge(run.status));
    if (run.error) status.append(el("div", "err", run.error));
    const tokens = el("td", "", count(run.input_tokens + run.output_tokens));
    tokens.title = count(run.input_tokens) + " in, " + count(run.output_tokens) + " out";
    const calls = el("td", "", run.llm_calls + " / " + run.tool_calls);
    if (run.tool_errors) calls.append(el("span", "err", " (" + run.tool_errors + " failed)"));
    const budget = el("td", "wrap");
    if (run.budget_crossings) budget.append(el("span", "badge budget", run.budget_crossings + " crossed"));
    if (run.refused) budget.append(el("span", "err", " " + run.refused + " refused"));
    row.append(agent, status, el("td", "", duration(run.duration_ms)), tokens, el("td", "", money(run.cost_usd)), calls, budget);
    row.addEventListener("click", () => select(run.id));
    rows.push(row);
  }
  body.replaceChildren(...rows);
  $("#empty").hidden = doc.runs.length > 0;
}

function select(id) {
  state.selected = id;
  state.selectedSpan = null;
  state.detailVersion = null;
  for (const row of document.querySelectorAll("#runs tbody tr")) row.classList.toggle("selected", row.dataset.id === id);
  loadDetail(true);
}

// ---------------------------------------------------------------------------------------- detail
async function loadDetail(force) {
  if (!state.selected) return;
  if (!force && state.detailVersion === state.version) return;
  let doc;
  try {
    doc = await getJSON("/api/runs/" + encodeURIComponent(state.selected));
  } catch (error) {
    $("#detail-title").textContent = "This run is no longer kept";
    $("#tree").replaceChildren();
    return;
  }
  state.detailVersion = doc.version;
  renderDetail(doc);
}

function renderDetail(doc) {
  const run = doc.run;
  $("#detail-title").textContent = run.name;
  $("#detail-title").dataset.id = run.id;
  $("#detail-summary").textContent = [
    run.status, duration(run.duration_ms), doc.spans.length + " spans",
    run.llm_calls + " LLM calls", run.tool_calls + " tool calls",
    count(run.input_tokens) + " in / " + count(run.output_tokens) + " out tokens", money(run.cost_usd),
    "trace " + run.trace_id,
  ].concat(
    run.budget.map((b) => b.scope + " budget crossed: " + Number(b.used).toPrecision(4) + " " + b.kind +
      " used, limit " + Number(b.limit).toPrecision(4)),
    run.dropped_spans ? [run.dropped_spans + " spans counted but no longer kept (the run's memory share is full)"] : [],
  ).join(" · ");
  const total = Math.max(run.duration_ms, ...doc.spans.map((s) => s.start_ms + s.duration_ms), 0.001);
  const rows = doc.spans.map((span) => {
    const row = el("div", "span-row" + (span.status === "error" ? " error" : "") + (span.running ? " running" : ""));
    row.setAttribute("role", "treeitem");
    row.dataset.id = span.id;
    row.dataset.depth = span.depth;
    row.dataset.operation = span.operation || "";
    if (span.id === state.selectedSpan) row.classList.add("selected");
    const name = el("div", "span-name");
    name.style.paddingLeft = (6 + span.depth * 16) + "px";
    name.append(el("span", "op"), document.createTextNode(span.name));
    name.title = span.name;
    const lane = el("div", "lane");
    const bar = el("div", "bar");
    const left = Math.max(0, span.start_ms) / total * 100;
    bar.style.left = left.toFixed(2) + "%";
    bar.style.width = Math.max(span.duration_ms / total * 100, 0.3).toFixed(2) + "%";
    const label = el("span", "bar-label", duration(span.duration_ms) + (span.error ? " · " + span.error : ""));
    const end = left + span.duration_ms / total * 100;
    if (end > 75) {
      label.classList.add("inside");
      label.style.right = Math.max(100 - end + 0.5, 0.5).toFixed(2) + "%";
    } else {
      label.style.left = (end + 0.5).toFixed(2) + "%";
    }
    lane.append(bar, label);
    row.append(name, lane);
    row.addEventListener("click", () => showSpan(span, row));
    return row;
  });
  $("#tree").replaceChildren(...rows);
  const chosen = doc.spans.find((span) => span.id === state.selectedSpan);
  if (chosen) showSpan(chosen); else $("#span-info").hidden = true;
  $("#logs").replaceChildren(...doc.logs.map((log) => {
    const item = el("li");
    item.append(el("span", "sev sev-" + (log.severity || ""), log.severity || ""));
    if (log.event_name) item.append(el("span", "dim", log.event_name + " "));
    item.append(valueNode(log.body === null ? "(no body)" : log.body));
    item.title = "+" + duration(log.offset_ms);
    return item;
  }));
}

function showSpan(span, row) {
  state.selectedSpan = span.id;
  if (row) for (const other of document.querySelectorAll(".span-row")) other.classList.toggle("selected", other === row);
  $("#span-info").hidden = false;
  $("#span-title").textContent = span.name + " · " + duration(span.duration_ms) + " · " + span.status;
  const rows = Object.entries(span.attributes).sort().map(([key, value]) => {
    const tr = el("tr");
    const cell = el("td");
    cell.append(valueNode(value));
    tr.append(el("td", "", key), cell);
    return tr;
  });
  $("#span-attributes tbody").replaceChildren(...rows);
  $("#span-events").replaceChildren(...span.events.map((event) => {
    const block = el("div");
    block.append(el("h3", "", "event " + event.name + " at +" + duration(event.offset_ms)));
    const table = el("table", "kv");
    for (const [key, value] of Object.entries(event.attributes)) {
      const tr = el("tr");
      const cell = el("td");
      cell.append(valueNode(value));
      tr.append(el("td", "", key), cell);
      table.append(tr);
    }
    block.append(table);
    return block;
  }));
}

// ---------------------------------------------------------------------------------------- audit
// The audit tail is read from the trail's file, so it is fetched every few polls, not on changes.
async function loadAudit() {
  renderAudit(await getJSON("/api/audit"));
}

function renderAudit(doc) {
  $("#verify").hidden = !doc.enabled;
  $("#audit-state").textContent = doc.enabled ? "(latest " + doc.records.length + " records)" : "(off in this process)";
  if (doc.enabled) renderVerify(doc.verify); else $("#verify-result").textContent = "";
  $("#audit-records tbody").replaceChildren(...doc.records.map((record) => {
    const tr = el("tr");
    const details = el("td");
    details.append(valueNode(record.details || {}));
    tr.append(
      el("td", "", new Date(record.time * 1000).toLocaleTimeString()),
      el("td", "", record.agent_id), el("td", "", record.action), el("td", "", record.result), details);
    return tr;
  }));
}

function renderVerify(result) {
  const out = $("#verify-result");
  if (!result) { out.textContent = "not verified yet"; out.className = ""; return; }
  const when = new Date(result.time * 1000).toLocaleTimeString();
  out.textContent = result.ok
    ? "verified at " + when + ": " + result.records + " records, " + result.seals + (result.seals === 1 ? " seal" : " seals") +
      (result.key_checked ? ", seal HMACs checked" : ", hash chain (no HMAC key)")
    : "NOT verified at " + when + ": " + result.problems.join("; ");
  out.className = result.ok ? "ok" : "bad";
}

$("#verify").addEventListener("click", async () => {
  $("#verify-result").textContent = "verifying…";
  const doc = await getJSON("/api/audit/verify", { method: "POST", headers: { "X-Kaizen-Live": "1" } });
  renderVerify(doc.verify);
});

// ---------------------------------------------------------------------------------------- polling
async function poll() {
  const status = $("#status");
  try {
    const since = state.version === null ? "" : "?since=" + state.version;
    const doc = await getJSON("/api/runs" + since);
    if (!doc.unchanged) {
      state.version = doc.version;
      renderTotals(doc);
      renderRuns(doc);
      await loadDetail(false);
    }
    if (state.polls++ % 3 === 0) await loadAudit();
    status.textContent = "live";
    status.className = "status live";
  } catch (error) {
    status.textContent = "not connected (the process may have ended)";
    status.className = "status down";
  }
  setTimeout(poll, POLL_MS);
}

poll();
