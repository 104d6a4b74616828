// A small SVG line chart of a queue's recent samples (/api/history): ready,
// unacked, retrying and parked over the last minutes, one line each.
import { svg } from "./common.js";

const series = ["ready", "unacked", "retrying", "parked"];
const W = 300;
const H = 120;
const PAD = { left: 34, right: 6, top: 8, bottom: 18 };

/** draw replaces the chart in root with samples; note replaces an empty chart's text. */
export function draw(root, samples, note) {
  root.setAttribute("viewBox", `0 0 ${W} ${H}`);
  if (!samples.length) {
    root.replaceChildren(svg("text", { class: "chart-note", x: W / 2, y: H / 2 }, note || "no samples yet: the console samples every few seconds"));
    return;
  }
  const t0 = samples[0].t;
  const t1 = Math.max(samples[samples.length - 1].t, t0 + 1);
  let top = 1;
  for (const s of samples) for (const k of series) top = Math.max(top, s[k] || 0);
  top = nice(top);
  const x = (t) => PAD.left + ((t - t0) / (t1 - t0)) * (W - PAD.left - PAD.right);
  const y = (v) => H - PAD.bottom - (v / top) * (H - PAD.top - PAD.bottom);
  const parts = [
    svg("line", { class: "axis", x1: PAD.left, y1: y(0), x2: W - PAD.right, y2: y(0) }),
    svg("line", { class: "grid", x1: PAD.left, y1: y(top), x2: W - PAD.right, y2: y(top) }),
    svg("text", { class: "tick", x: PAD.left - 4, y: y(top) + 4 }, String(top)),
    svg("text", { class: "tick", x: PAD.left - 4, y: y(0) + 4 }, "0"),
    svg("text", { class: "tick time", x: PAD.left, y: H - 4 }, ago(t1 - t0)),
    svg("text", { class: "tick time now", x: W - PAD.right, y: H - 4 }, "now"),
  ];
  for (const k of series) {
    const pts = samples.map((s) => `${x(s.t).toFixed(1)},${y(s[k] || 0).toFixed(1)}`).join(" ");
    parts.push(svg("polyline", { class: `series ${k}`, points: pts }));
  }
  root.replaceChildren(...parts);
}

// nice rounds n up to 1, 2 or 5 times a power of ten.
function nice(n) {
  const p = 10 ** Math.floor(Math.log10(n));
  for (const m of [1, 2, 5, 10]) if (n <= m * p) return m * p;
  return 10 * p;
}

function ago(seconds) {
  return seconds >= 120 ? `${Math.round(seconds / 60)} min ago` : `${Math.round(seconds)} s ago`;
}
