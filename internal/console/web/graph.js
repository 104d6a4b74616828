// The graph page: draws the layout the server computed (/api/graph) once as
// SVG, then every 3 s reads /api/status and updates only the numbers and
// classes in place, so a graph of 1,000 nodes stays responsive. Pan with a
// drag, zoom with the wheel, Fit to see it all; click an edge for its
// queue's figures and a chart of the last minutes (/api/history).
import { el, get, info, showError, start, svg } from "./common.js";
import { draw as drawChart } from "./chart.js";

const REFRESH_MS = 3000;

// By queue: the edge groups that carry it and their count elements.
const queues = new Map();
// By node address: the node's group.
const nodes = new Map();
// The latest status row of each queue, and the row before it.
let rows = new Map();
let previous = new Map();
let selected = null; // the queue shown in the side panel

start(async () => {
  const doc = await info();
  const root = document.getElementById("graph");
  drawGraph(root, doc.layout);
  panZoom(root, doc.layout);
  root.getBoundingClientRect(); // lay the drawing out before the mark
  performance.mark("dge-first-paint");
  document.getElementById("panel-close").addEventListener("click", closePanel);
  document.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape") closePanel();
  });
  loop(root);
});

function drawGraph(root, layout) {
  root.setAttribute("viewBox", `0 0 ${layout.width} ${layout.height}`);
  root.dataset.width = layout.width;
  root.dataset.height = layout.height;
  const defs = svg(
    "defs",
    {},
    svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 8, markerHeight: 8, orient: "auto-start-reverse" }, svg("path", { d: "M0,0 L10,5 L0,10 z", class: "arrowhead" })),
  );
  const gathers = svg("g", { class: "gathers" });
  for (const line of layout.gathers || []) {
    gathers.append(
      svg("polyline", { class: "gathers", points: pointsAttr(line.points), "data-from": line.from, "data-to": line.to }, svg("title", {}, `${line.from} gathers at ${line.to}`)),
    );
  }
  const edges = svg("g", { class: "edges" });
  const labelled = new Set();
  const inputs = new Map();
  for (const e of layout.edges) inputs.set(e.to, (inputs.get(e.to) || 0) + 1);
  for (const e of layout.edges) {
    const g = edgeGroup(e, !labelled.has(e.queue), inputs.get(e.to) > 1);
    labelled.add(e.queue);
    edges.append(g.group);
    if (!queues.has(e.queue)) queues.set(e.queue, { groups: [], counts: [] });
    const q = queues.get(e.queue);
    q.groups.push(g.group);
    if (g.counts) q.counts.push(g.counts);
  }
  const boxes = svg("g", { class: "nodes" });
  for (const n of layout.nodes) {
    const g = svg(
      "g",
      { class: `node kind-${n.kind}`, "data-addr": n.addr, transform: `translate(${n.x},${n.y})` },
      svg("title", {}, n.addr),
      svg("rect", { width: n.w, height: n.h, rx: 6 }),
      svg("text", { class: "kind", x: n.w / 2, y: 15 }, n.kind),
      svg("text", { class: "name", x: n.w / 2, y: 33 }, n.name),
    );
    nodes.set(n.addr, g);
    boxes.append(g);
  }
  root.replaceChildren(defs, gathers, edges, boxes);
  root.addEventListener("click", (ev) => {
    if (root.dataset.dragged === "true") return;
    const g = ev.target.closest("g.edge");
    if (g) openPanel(g.dataset.queue);
  });
}

function pointsAttr(ps) {
  return ps.map((p) => `${p[0]},${p[1]}`).join(" ");
}

// edgeGroup draws one arrow. The counts are drawn once per queue: on the
// first arrow into it; for a queue several arrows feed (an aggregate's),
// just before the node, else on the arrow's last stretch.
function edgeGroup(e, label, shared) {
  const ps = e.points;
  const title = `${e.from} → ${e.to}\nqueue ${e.queue}, message ${e.message}${e.items ? " (items)" : ""}`;
  const group = svg(
    "g",
    { class: "edge", "data-queue": e.queue, "data-from": e.from, "data-to": e.to, tabindex: 0 },
    svg("title", {}, title),
    svg("polyline", { class: "hit", points: pointsAttr(ps) }),
    svg("polyline", { class: "line", points: pointsAttr(ps), "marker-end": "url(#arrow)" }),
  );
  if (!label) return { group, counts: null };
  const [a, b] = [ps[ps.length - 2], ps[ps.length - 1]];
  let x = (a[0] + b[0]) / 2;
  let y = (a[1] + b[1]) / 2;
  if (shared) {
    x = b[0] - 60;
    y = b[1];
  }
  let name = e.queue;
  if (e.when) name += e.when === "*" ? " · otherwise" : ` · when ${e.when}`;
  if (e.items) name += " · items";
  const ready = svg("text", { class: "ready", x: x - 30, y: y + 14 }, "–");
  const retrying = svg("text", { class: "retrying", x, y: y + 14 }, "–");
  const parked = svg("text", { class: "parked", x: x + 30, y: y + 14 }, "–");
  const w = Math.max(100, name.length * 6 + 12);
  group.append(svg("rect", { class: "label-bg", x: x - w / 2, y: y - 15, width: w, height: 34, rx: 4 }), svg("text", { class: "queue", x, y: y - 3 }, name), ready, retrying, parked);
  return { group, counts: { ready, retrying, parked } };
}

// loop refreshes the status every REFRESH_MS, one request at a time.
async function loop(root) {
  const t0 = performance.now();
  await refresh(root);
  setTimeout(() => loop(root), Math.max(0, REFRESH_MS - (performance.now() - t0)));
}

let refreshes = 0;

async function refresh(root) {
  const n = refreshes + 1;
  const mark = `dge-refresh-start-${n}`;
  performance.mark(mark);
  let report;
  try {
    report = await get("/api/status");
  } catch (err) {
    showError(err.message);
    return;
  }
  showError(null);
  apply(report);
  refreshes = n;
  root.dataset.refreshes = String(n);
  const now = new Date();
  const updated = document.getElementById("updated");
  updated.textContent = now.toLocaleTimeString();
  updated.setAttribute("datetime", now.toISOString());
  performance.measure("dge-refresh", mark);
  performance.clearMarks(mark);
  if (selected) updatePanel(false);
}

// apply writes a status report into the drawing: numbers where they
// changed, and the classes that make problems stand out.
function apply(report) {
  previous = rows;
  rows = new Map();
  for (const row of report.edges || []) rows.set(row.queue, row);
  const flagged = new Set();
  for (const p of report.problems || []) {
    const i = p.indexOf(":");
    if (i > 0) flagged.add(p.slice(0, i));
  }
  for (const [queue, q] of queues) {
    const row = rows.get(queue);
    const before = previous.get(queue);
    for (const c of q.counts) {
      setText(c.ready, row ? row.ready : "–");
      setText(c.retrying, row ? row.retrying : "–");
      setText(c.parked, row ? row.parked : "–");
    }
    const problem = !!row && flagged.has(row.node);
    for (const g of q.groups) {
      g.classList.toggle("problem", problem);
      g.classList.toggle("missing", !!row && row.missing);
      g.classList.toggle("has-parked", !!row && row.parked > 0);
      g.classList.toggle("growing", !!row && !!before && row.retrying > before.retrying);
      g.classList.toggle("foreign", !!row && !!row.foreign_policies && Object.keys(row.foreign_policies).length > 0);
    }
  }
  const byNode = new Map();
  for (const row of report.edges || []) byNode.set(row.node, row);
  for (const [addr, g] of nodes) {
    const row = byNode.get(addr);
    g.classList.toggle("problem", flagged.has(addr));
    g.classList.toggle("no-consumer", !!row && !row.missing && row.consumers === 0 && !addr.startsWith("terminate."));
  }
  listProblems(report.problems || []);
}

function setText(e, v) {
  const s = String(v);
  if (e.textContent !== s) e.textContent = s;
}

let shownProblems = "";

function listProblems(problems) {
  const key = problems.join("\n");
  if (key === shownProblems) return;
  shownProblems = key;
  document.getElementById("healthy").hidden = problems.length > 0;
  document.getElementById("problems").replaceChildren(
    ...problems.map((p) => {
      const addr = p.slice(0, Math.max(p.indexOf(":"), 0));
      const li = el("li", { "data-node": addr || null }, p);
      if (nodes.has(addr)) {
        li.classList.add("link");
        li.title = "show this node";
        li.addEventListener("click", () => focusNode(addr));
      }
      return li;
    }),
  );
}

// The side panel: the figures of one queue and its recent history.

function openPanel(queue) {
  selected = queue;
  for (const q of queues.values()) for (const g of q.groups) g.classList.remove("selected");
  for (const g of queues.get(queue)?.groups || []) g.classList.add("selected");
  document.getElementById("panel").hidden = false;
  updatePanel(true);
}

function closePanel() {
  selected = null;
  document.getElementById("panel").hidden = true;
  for (const q of queues.values()) for (const g of q.groups) g.classList.remove("selected");
}

const figures = [
  ["ready", "ready"],
  ["unacked", "unacknowledged"],
  ["consumers", "consumers"],
  ["consumer_utilisation", "consumer utilisation", (v) => (v === null || v === undefined ? "–" : `${Math.round(v * 100)}%`)],
  ["publish_rate", "publish rate", (v) => `${fmtRate(v)}/s`],
  ["deliver_rate", "deliver rate", (v) => `${fmtRate(v)}/s`],
  ["retrying", "retrying"],
  ["parked", "parked"],
  ["stranded", "stranded"],
  ["oldest_ready_age_seconds", "oldest ready", (v) => (v === null || v === undefined ? "–" : `${v} s`)],
];

function fmtRate(v) {
  return (v || 0).toFixed(v >= 10 ? 0 : 1);
}

async function updatePanel(first) {
  const queue = selected;
  const row = rows.get(queue);
  document.getElementById("panel-title").textContent = row ? `${queue} → ${row.node}` : queue;
  const dl = document.getElementById("panel-figures");
  const items = [];
  if (!row) {
    items.push(el("dt", {}, "status"), el("dd", {}, "not read yet"));
  } else if (row.missing) {
    items.push(el("dt", {}, "status"), el("dd", { class: "bad" }, "queue missing on the broker: run dge apply"));
  } else {
    for (const [key, label, fmt] of figures) {
      const v = row[key];
      items.push(el("dt", {}, label), el("dd", { "data-figure": key }, fmt ? fmt(v) : String(v ?? "–")));
    }
    for (const [q, p] of Object.entries(row.foreign_policies || {})) items.push(el("dt", {}, "foreign policy"), el("dd", { class: "bad" }, `${p} on ${q}`));
    for (const [q, p] of Object.entries(row.operator_policies || {})) items.push(el("dt", {}, "operator policy"), el("dd", {}, `${p} on ${q}`));
    if (row.state) items.push(el("dt", {}, "state"), el("dd", {}, `${row.state.queue}: ${row.state.checkpoints} checkpoints, ${row.state.consumers} consumers`));
  }
  dl.replaceChildren(...items);
  if (first && row) {
    const links = document.getElementById("panel-links");
    links.replaceChildren(el("a", { href: `/parked?node=${encodeURIComponent(row.node)}` }, `parked messages of ${row.node}`));
  }
  try {
    const h = await get(`/api/history?queue=${encodeURIComponent(queue)}`);
    if (selected === queue) drawChart(document.getElementById("chart"), h.samples || []);
  } catch (err) {
    if (selected === queue) drawChart(document.getElementById("chart"), [], err.message);
  }
}

// Pan and zoom: the SVG's viewBox is the window onto the drawing.

let view = null;

function panZoom(root, layout) {
  const fit = () => setView(root, { x: 0, y: 0, w: layout.width, h: layout.height });
  fit();
  document.getElementById("fit").addEventListener("click", fit);
  document.getElementById("zoom-in").addEventListener("click", () => zoom(root, 1 / 1.4, 0.5, 0.5));
  document.getElementById("zoom-out").addEventListener("click", () => zoom(root, 1.4, 0.5, 0.5));
  root.addEventListener(
    "wheel",
    (ev) => {
      ev.preventDefault();
      const r = root.getBoundingClientRect();
      zoom(root, Math.exp(ev.deltaY * 0.0015), (ev.clientX - r.left) / r.width, (ev.clientY - r.top) / r.height);
    },
    { passive: false },
  );
  let drag = null;
  root.addEventListener("pointerdown", (ev) => {
    if (ev.button !== 0) return;
    drag = { x: ev.clientX, y: ev.clientY, view: { ...view }, moved: false };
    root.dataset.dragged = "false";
  });
  root.addEventListener("pointermove", (ev) => {
    if (!drag) return;
    const dx = ev.clientX - drag.x;
    const dy = ev.clientY - drag.y;
    if (!drag.moved && Math.hypot(dx, dy) < 4) return;
    if (!drag.moved) root.setPointerCapture(ev.pointerId);
    drag.moved = true;
    root.dataset.dragged = "true";
    const s = scale(root);
    setView(root, { ...drag.view, x: drag.view.x - dx * s, y: drag.view.y - dy * s });
  });
  const end = () => {
    drag = null;
  };
  root.addEventListener("pointerup", end);
  root.addEventListener("pointercancel", end);
}

// scale is drawing units per screen pixel (the viewBox is fitted, "meet").
function scale(root) {
  const r = root.getBoundingClientRect();
  return Math.max(view.w / Math.max(r.width, 1), view.h / Math.max(r.height, 1));
}

function zoom(root, f, fx, fy) {
  const r = root.getBoundingClientRect();
  const s = scale(root);
  // the point under the pointer, in drawing units, stays where it is
  const cx = view.x + view.w / 2 + (fx - 0.5) * r.width * s;
  const cy = view.y + view.h / 2 + (fy - 0.5) * r.height * s;
  const w = Math.min(Math.max(view.w * f, 50), 1e6);
  const k = w / view.w;
  const h = view.h * k;
  setView(root, { x: cx - (cx - view.x) * k, y: cy - (cy - view.y) * k, w, h });
}

function setView(root, v) {
  view = v;
  root.setAttribute("viewBox", `${v.x} ${v.y} ${v.w} ${v.h}`);
}

function focusNode(addr) {
  const g = nodes.get(addr);
  if (!g) return;
  const t = g.getAttribute("transform").match(/translate\(([-\d.]+),([-\d.]+)\)/);
  const x = Number(t[1]);
  const y = Number(t[2]);
  setView(root(), { x: x - 300, y: y - 200, w: 700, h: 450 });
  g.classList.add("focus");
  setTimeout(() => g.classList.remove("focus"), 2000);
}

function root() {
  return document.getElementById("graph");
}
