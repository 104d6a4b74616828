// Shared by every page: the JSON API, the header (graph name and mode) and
// the error banner. No framework: DOM calls only, and text is always set as
// text (never parsed as HTML).

/** el creates an HTML element with attributes and children (strings become text). */
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  setAttrs(e, attrs);
  e.append(...children.filter((c) => c !== null && c !== undefined));
  return e;
}

const SVG = "http://www.w3.org/2000/svg";

/** svg creates an SVG element with attributes and children. */
export function svg(tag, attrs = {}, ...children) {
  const e = document.createElementNS(SVG, tag);
  setAttrs(e, attrs);
  e.append(...children.filter((c) => c !== null && c !== undefined));
  return e;
}

function setAttrs(e, attrs) {
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    e.setAttribute(k, v === true ? "" : String(v));
  }
}

/** APIError is a failed API call: its message is the server's error text. */
export class APIError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

async function parse(res) {
  let doc = null;
  try {
    doc = await res.json();
  } catch {
    // not JSON: fall through to the status text
  }
  if (!res.ok) {
    const text = doc && typeof doc.error === "string" ? doc.error : `${res.status} ${res.statusText}`;
    throw new APIError(text, res.status);
  }
  return doc;
}

/** get fetches a read-only API path and returns its JSON. */
export async function get(path) {
  let res;
  try {
    res = await fetch(path, { credentials: "same-origin", cache: "no-store" });
  } catch (err) {
    throw new APIError(`the console does not answer (${err.message}): is dge console still running?`, 0);
  }
  return parse(res);
}

/** post sends an action as JSON, with the token cookie (same origin only). */
export async function post(path, body) {
  let res;
  try {
    res = await fetch(path, {
      method: "POST",
      credentials: "same-origin",
      cache: "no-store",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
  } catch (err) {
    throw new APIError(`the console does not answer (${err.message}): is dge console still running?`, 0);
  }
  return parse(res);
}

/** showError shows text in the error banner (#error); null hides it. */
export function showError(text) {
  const banner = document.getElementById("error");
  if (!banner) return;
  if (text === null || text === undefined || text === "") {
    banner.hidden = true;
    banner.textContent = "";
    return;
  }
  banner.textContent = text;
  banner.hidden = false;
}

let infoPromise = null;

/**
 * info returns /api/graph (graph name, vhost, whether actions are allowed,
 * the layout), fetched once per page, and fills in the header.
 */
export function info() {
  if (!infoPromise) {
    infoPromise = get("/api/graph").then((doc) => {
      header(doc);
      return doc;
    });
  }
  return infoPromise;
}

function header(doc) {
  const name = document.getElementById("graph-name");
  if (name) name.textContent = `graph ${doc.graph} · vhost ${doc.vhost}`;
  const mode = document.getElementById("mode");
  if (mode) {
    mode.textContent = doc.actions ? "actions allowed" : "read-only";
    mode.classList.toggle("actions", !!doc.actions);
    mode.title = doc.actions
      ? "redrive and purge are allowed from this browser"
      : "start dge console with -allow-actions to redrive or purge from here";
  }
  document.body.dataset.actions = doc.actions ? "true" : "false";
}

/** query returns the values of a repeatable query parameter, split on commas and spaces. */
export function query(name, params = new URLSearchParams(location.search)) {
  return params
    .getAll(name)
    .flatMap((v) => v.split(/[\s,]+/))
    .filter((v) => v !== "");
}

/** plural says "1 message" or "2 messages". */
export function plural(n, word) {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/** start runs a page's main function and shows what fails in the banner. */
export function start(main) {
  const run = () =>
    main().catch((err) => {
      showError(err.message);
    });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", run);
  } else {
    run();
  }
}

/** splitState says what a gather's parked state of a split holds. */
export function splitState(s) {
  let t = `gather state of split ${s.split} (ID ${s.split_id}): ${s.have} of ${plural(s.count, "item")}`;
  if (s.failed_node) t += `, an item failed at ${s.failed_node}`;
  return t;
}
