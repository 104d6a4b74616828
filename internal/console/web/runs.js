// The runs page: where a run's messages are that can be read without
// disturbing delivery (parked copies, parked gather states), a link to its
// trace when dge console has a -trace-url, and redrive or purge of the run
// when actions are allowed.
import { el, get, info, plural, showError, splitState, start } from "./common.js";
import { button, scopeBody, wire } from "./actions.js";

start(async () => {
  const id = (new URLSearchParams(location.search).get("id") || "").trim();
  document.getElementById("run-id").value = id;
  const doc = await info();
  if (!id) return;
  const load = async () => {
    try {
      show(doc, id, await get(`/api/runs?id=${encodeURIComponent(id)}`));
      showError(null);
    } catch (err) {
      showError(err.message);
    }
  };
  wire(document.getElementById("run"), (b) => scopeBody(b), load);
  await load();
});

function show(doc, id, got) {
  document.getElementById("run").hidden = false;
  document.getElementById("run-title").textContent = got.run_id || id;
  const trace = document.getElementById("trace");
  trace.hidden = !got.trace_url;
  if (got.trace_url) document.getElementById("trace-link").href = got.trace_url;
  document.getElementById("note").textContent = got.note || "";
  const parked = got.parked || [];
  const tbody = document.querySelector("#run-parked tbody");
  tbody.replaceChildren(
    ...(parked.length
      ? parked.map((m) =>
          el(
            "tr",
            { "data-message-id": m.message_id, "data-node": m.node },
            el("td", {}, el("a", { href: `/parked?node=${encodeURIComponent(m.node)}&run=${encodeURIComponent(id)}` }, m.node)),
            el("td", {}, m.queue),
            el("td", {}, m.reason),
            el("td", { class: "error-text" }, m.error),
            el("td", { class: "num" }, String(m.attempt)),
            el("td", {}, m.parked_at || "–"),
            el("td", {}, el("a", { href: `/message?node=${encodeURIComponent(m.node)}&id=${encodeURIComponent(m.message_id)}` }, "view")),
          ),
        )
      : [el("tr", { class: "empty" }, el("td", { colspan: 7 }, "No parked message of this run."))]),
  );
  const states = got.states || [];
  document.getElementById("states").replaceChildren(
    ...(states.length ? states.map((s) => el("li", {}, describeState(s))) : [el("li", { class: "empty" }, "none")]),
  );
  const actions = document.getElementById("actions");
  if (doc.actions && parked.length + states.length > 0) {
    actions.replaceChildren(
      el("span", {}, `${plural(parked.length, "parked message")}: `),
      button("redrive", "run", `Redrive run ${id}`, { run: id }),
      button("purge", "run", `Purge run ${id}`, { run: id }),
    );
    actions.hidden = false;
  } else {
    actions.hidden = true;
  }
}

function describeState(s) {
  if (typeof s === "string") return s;
  if (s.split_state) return `${s.node}: ${splitState(s.split_state)}`;
  if (s.split !== undefined && s.split_id !== undefined) return splitState(s);
  return JSON.stringify(s);
}
