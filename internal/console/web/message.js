// The message page: one parked message (?node=ADDR&id=MESSAGE_ID), its full
// body (indented when it is JSON) and headers, and redrive or purge of its
// run when actions are allowed.
import { el, get, info, showError, splitState, start } from "./common.js";
import { button, scopeBody, wire } from "./actions.js";

start(async () => {
  const params = new URLSearchParams(location.search);
  const node = params.get("node") || "";
  const id = params.get("id") || "";
  document.getElementById("message-id").textContent = id;
  document.getElementById("back").href = `/parked?node=${encodeURIComponent(node)}`;
  const doc = await info();
  if (!node || !id) {
    showError("this page needs ?node=ADDR&id=MESSAGE_ID: open a message from the parked page");
    return;
  }
  const load = async () => {
    try {
      show(doc, await get(`/api/message?node=${encodeURIComponent(node)}&id=${encodeURIComponent(id)}`));
      showError(null);
    } catch (err) {
      showError(err.message);
    }
  };
  wire(document.querySelector("main"), (b) => scopeBody(b), load);
  await load();
});

function show(doc, got) {
  const m = got.message;
  const fields = [
    ["node", m.node],
    ["queue", m.queue],
    ["run ID", m.run_id ? el("a", { href: `/runs?id=${encodeURIComponent(m.run_id)}` }, m.run_id) : "–"],
    ["message ID", m.message_id],
    ["reason", m.reason],
    ["error", m.error],
    ["attempt", String(m.attempt)],
    ["parked at", m.parked_at || "–"],
  ];
  if (m.split_state) fields.push(["split", splitState(m.split_state)]);
  document.getElementById("fields").replaceChildren(...fields.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
  const pre = document.getElementById("body");
  pre.textContent = got.body_json ? pretty(got.body) : got.body;
  pre.classList.toggle("json", !!got.body_json);
  const names = Object.keys(got.headers || {}).sort();
  document.querySelector("#headers tbody").replaceChildren(
    ...names.map((k) => el("tr", {}, el("th", { scope: "row" }, k), el("td", {}, el("code", {}, headerText(got.headers[k]))))),
  );
  const actions = document.getElementById("actions");
  if (doc.actions && m.run_id) {
    actions.replaceChildren(button("redrive", "run", `Redrive run ${m.run_id}`, { run: m.run_id }), button("purge", "run", `Purge run ${m.run_id}`, { run: m.run_id }));
    actions.hidden = false;
  }
}

function pretty(body) {
  try {
    return JSON.stringify(JSON.parse(body), null, 2);
  } catch {
    return body;
  }
}

function headerText(v) {
  return typeof v === "string" ? v : JSON.stringify(v);
}
