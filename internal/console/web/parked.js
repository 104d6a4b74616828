// The parked page: the parked messages of the nodes and reasons the filters
// name (?node=&reason=&run=, each repeatable), one section per node, with a
// link to each message's page and, when actions are allowed, redrive and
// purge of everything shown, of one node or of one run.
import { el, get, info, plural, query, showError, splitState, start } from "./common.js";
import { button, scopeBody, wire } from "./actions.js";

const COLUMNS = 7;

start(async () => {
  const doc = await info();
  const filters = { nodes: query("node"), reasons: query("reason"), runs: query("run") };
  const order = doc.layout.nodes.filter((n) => n.kind !== "start").map((n) => n.addr);
  fillSelect(document.getElementById("filter-node"), order, filters.nodes);
  document.getElementById("filter-run").value = filters.runs.join(" ");
  // read-only: no action button at all, not just hidden ones
  if (doc.actions) document.getElementById("actions").hidden = false;
  else document.getElementById("actions").replaceChildren();
  const load = () => list(doc, filters, order);
  wire(document.querySelector("main"), (b) => scopeBody(b, filters), load);
  await load();
});

function fillSelect(select, values, chosen) {
  const all = [...values, ...chosen.filter((v) => !values.includes(v))];
  select.replaceChildren(...all.map((v) => el("option", { value: v, selected: chosen.includes(v) }, v)));
}

async function list(doc, filters, order) {
  const params = new URLSearchParams();
  for (const n of filters.nodes) params.append("node", n);
  for (const r of filters.reasons) params.append("reason", r);
  for (const r of filters.runs) params.append("run", r);
  let got;
  try {
    got = await get(`/api/parked?${params}`);
    showError(null);
  } catch (err) {
    showError(err.message);
    return;
  }
  const messages = got.messages || [];
  const reasons = [...new Set(messages.map((m) => m.reason))].sort();
  fillSelect(document.getElementById("filter-reason"), reasons, filters.reasons);
  const summary = document.getElementById("summary");
  summary.textContent =
    messages.length === got.total
      ? `${plural(got.total, "parked message")}${filtered(filters) ? " match the filters" : ""}.`
      : `Showing ${messages.length} of ${plural(got.total, "parked message")}.`;
  const byNode = new Map();
  for (const m of messages) {
    if (!byNode.has(m.node)) byNode.set(m.node, []);
    byNode.get(m.node).push(m);
  }
  const nodes = [...byNode.keys()].sort((a, b) => rank(order, a) - rank(order, b) || a.localeCompare(b));
  const table = document.getElementById("parked");
  for (const tb of table.querySelectorAll("tbody")) tb.remove();
  if (!nodes.length) {
    table.append(el("tbody", {}, el("tr", { class: "empty" }, el("td", { colspan: COLUMNS }, "No parked messages."))));
  }
  for (const node of nodes) table.append(section(doc, node, byNode.get(node)));
}

function filtered(f) {
  return f.nodes.length + f.reasons.length + f.runs.length > 0;
}

function rank(order, addr) {
  const i = order.indexOf(addr);
  return i < 0 ? order.length : i;
}

function section(doc, node, messages) {
  const head = el(
    "th",
    { colspan: COLUMNS, scope: "rowgroup" },
    el("a", { href: `/parked?node=${encodeURIComponent(node)}` }, node),
    ` · ${plural(messages.length, "message")} in ${messages[0].queue}`,
  );
  if (doc.actions) {
    head.append(
      el("span", { class: "row-actions" }, button("redrive", "node", `Redrive ${node}`, { node }), button("purge", "node", `Purge ${node}`, { node })),
    );
  }
  const tbody = el("tbody", { "data-node": node }, el("tr", { class: "node-head" }, head));
  for (const m of messages) tbody.append(row(doc, m));
  return tbody;
}

function row(doc, m) {
  const view = `/message?node=${encodeURIComponent(m.node)}&id=${encodeURIComponent(m.message_id)}`;
  const body = m.split_state ? splitState(m.split_state) : m.body;
  const actions = el("td", { class: "row-actions" }, el("a", { href: view }, "view"));
  if (doc.actions && m.run_id) {
    actions.append(button("redrive", "run", "redrive run", { run: m.run_id }), button("purge", "run", "purge run", { run: m.run_id }));
  }
  return el(
    "tr",
    { "data-message-id": m.message_id, "data-node": m.node, "data-run": m.run_id },
    el("td", {}, m.run_id ? el("a", { href: `/runs?id=${encodeURIComponent(m.run_id)}` }, m.run_id) : "–"),
    el("td", {}, el("span", { class: `reason reason-${m.reason}` }, m.reason)),
    el("td", { class: "error-text" }, m.error),
    el("td", { class: "num" }, String(m.attempt)),
    el("td", {}, m.parked_at ? el("time", { datetime: m.parked_at }, m.parked_at.replace("T", " ").replace("Z", " UTC")) : "–"),
    el("td", {}, el("code", { class: "preview" }, body)),
    actions,
  );
}
