// Redrive and purge from a page: every button[data-action] ("redrive" or
// "purge") with data-scope "all", "node" (data-node) or "run" (data-run)
// asks the server first how many messages the action would move (a dry
// run), shows that count in dialog#confirm, and acts only on #confirm-yes.
// The outcome is shown in #action-result. The server refuses every action
// unless dge console was started with -allow-actions and this browser holds
// its token; these buttons are only drawn when it was.
import { el, plural, post } from "./common.js";

const verbs = {
  redrive: { future: (n) => (n === 1 ? "will be redriven to its queue" : "will be redriven to their queues"), past: "Redrove", title: "Redrive" },
  purge: { future: () => "will be purged: deleted for good", past: "Purged", title: "Purge" },
};

/** button returns an action button for scope "all", "node" or "run". */
export function button(op, scope, label, { node, run } = {}) {
  return el(
    "button",
    {
      type: "button",
      "data-action": op,
      "data-scope": scope,
      "data-node": node,
      "data-run": run,
      class: op === "purge" ? "danger" : null,
    },
    label,
  );
}

/**
 * wire handles clicks on the action buttons under root. body(button)
 * returns the request body {nodes, reasons, runs} of the button's scope;
 * done() runs after an action, to refresh what the page shows.
 */
export function wire(root, body, done) {
  root.addEventListener("click", (ev) => {
    const b = ev.target.closest("button[data-action]");
    if (!b || !root.contains(b)) return;
    ev.preventDefault();
    run(b, body(b), done);
  });
}

/** scopeBody is the body of a button by its scope, given the page's filters. */
export function scopeBody(b, filters = { nodes: [], reasons: [], runs: [] }) {
  switch (b.dataset.scope) {
    case "node":
      return { nodes: [b.dataset.node], reasons: filters.reasons, runs: filters.runs };
    case "run":
      return { nodes: [], reasons: [], runs: [b.dataset.run] };
    default:
      return { nodes: filters.nodes, reasons: filters.reasons, runs: filters.runs };
  }
}

let busy = false;

async function run(b, body, done) {
  if (busy) return;
  const op = b.dataset.action;
  const result = document.getElementById("action-result");
  busy = true;
  setDisabled(true);
  try {
    const counted = await post("/api/parked/count", { op, ...body });
    const ok = await confirm(op, counted, describe(b));
    if (!ok) {
      say(result, "", "");
      return;
    }
    const got = await post(`/api/parked/${op}`, { op, ...body });
    let text = `${verbs[op].past} ${plural(got.moved, "message")}`;
    if (got.followers > 0) text += ` (and ${plural(got.followers, "member-failed part")} of their runs)`;
    say(result, text + ".", "ok");
    if (done) await done(got);
  } catch (err) {
    say(result, `${verbs[op].title} failed: ${err.message}`, "error");
  } finally {
    busy = false;
    setDisabled(false);
  }
}

function describe(b) {
  switch (b.dataset.scope) {
    case "node":
      return `of node ${b.dataset.node}`;
    case "run":
      return `of run ${b.dataset.run}`;
    default:
      return "shown";
  }
}

function say(p, text, cls) {
  if (!p) return;
  p.textContent = text;
  p.className = cls;
}

function setDisabled(on) {
  for (const b of document.querySelectorAll("button[data-action]")) b.disabled = on;
}

/** confirm shows the dry run's counts in dialog#confirm and resolves true on #confirm-yes. */
function confirm(op, counted, what) {
  const dialog = document.getElementById("confirm");
  const total = counted.total ?? 0;
  document.getElementById("confirm-title").textContent = `${verbs[op].title} the parked messages ${what}?`;
  document.getElementById("confirm-count").textContent = String(total);
  let text = `${total === 1 ? "message" : "messages"} ${verbs[op].future(total)}`;
  if (counted.followers > 0) text += ` (and ${plural(counted.followers, "member-failed part")} of their runs)`;
  document.getElementById("confirm-what").textContent = text + ".";
  const tbody = dialog.querySelector("#confirm-counts tbody");
  tbody.replaceChildren(
    ...(counted.counts || []).map((c) => el("tr", {}, el("td", {}, c.node), el("td", {}, c.reason), el("td", { class: "num" }, String(c.count)))),
  );
  const yes = document.getElementById("confirm-yes");
  yes.disabled = total === 0 && !(counted.followers > 0);
  yes.textContent = verbs[op].title;
  yes.className = op === "purge" ? "danger" : "primary";
  dialog.returnValue = "";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "yes"), { once: true });
    dialog.showModal();
    document.getElementById("confirm-no").focus();
  });
}
