// The dashboard's shell: the hash routes, the polling of the gateway's
// state, and the admin token bar. Views live in their own modules. A
// static page (?static=1, see api.js) fetches the state once and stops.

import { getJSON, onStatus, setToken, staticPage, token } from "./api.js";
import { overview } from "./overview.js";
import { deploymentView } from "./deployment.js";
import { eventsView } from "./events.js";
import { tpuView } from "./tpu.js";
import { deployView } from "./deploy.js";

const POLL_MS = 2000;

// state is what every view reads: the gantry view of applications and the
// time series of every deployment.
const state = { instance: null, series: [], error: null };
let current = null; // {view, key}

function route() {
  const parts = (location.hash.replace(/^#\/?/, "").replace(/\?.*$/, "") || "").split("/").map(decodeURIComponent);
  switch (parts[0]) {
    case "": return { view: overview, key: "overview", params: {} };
    case "events": return { view: eventsView, key: "events", params: {} };
    case "tpu": return { view: tpuView, key: "tpu", params: {} };
    case "deploy": return { view: deployView, key: "deploy", params: {} };
    case "app": return { view: deploymentView, key: "dep:" + parts[1] + "/" + parts[2], params: { app: parts[1], dep: parts[2] } };
    default: return { view: overview, key: "overview", params: {} };
  }
}

function show() {
  const r = route();
  if (current && current.key === r.key) return;
  current?.view.unmount?.();
  const main = document.getElementById("main");
  main.replaceChildren();
  current = r;
  r.view.mount(main, r.params, state);
  for (const a of document.querySelectorAll("#nav a")) {
    a.classList.toggle("active", a.dataset.view === (r.key.startsWith("dep:") ? "overview" : r.key));
  }
  if (state.instance) r.view.update?.(state, false); // what is known now; the next poll brings fresh state
}

// The time series come in pages (api/gantry/timeseries: at most
// PAGE_LIMIT series and a few MB each). A pass reads every page with the
// same ?since=; a pass cut short (429: too many reads, or an error)
// resumes where it stopped at the next poll.
const PAGE_LIMIT = 200;
const held = new Map(); // "app/deployment" -> series, its last 15 minutes
let since = 0; // the newest sample of the last complete pass, Unix seconds
let pass = null; // {since, token, seen, newest}: the pass under way

// mergePage adds the new points of each series in a page to what is held.
function mergePage(fresh, seen) {
  for (const f of fresh) {
    const key = f.application + "/" + f.deployment;
    seen.add(key);
    const h = held.get(key);
    const last = h?.points.at(-1)?.t ?? -Infinity;
    const points = (h?.points || []).concat(f.points.filter((p) => p.t > last));
    const newest = points.at(-1)?.t ?? 0;
    held.set(key, { ...f, points: points.filter((p) => p.t > newest - 900) });
  }
}

async function fetchSeries() {
  pass ??= { since, token: "", seen: new Set(), newest: since };
  do {
    const q = new URLSearchParams({ limit: String(PAGE_LIMIT) });
    if (pass.since) q.set("since", String(pass.since));
    if (pass.token) q.set("page_token", pass.token);
    const page = await getJSON("api/gantry/timeseries?" + q);
    mergePage(page.series, pass.seen);
    for (const s of page.series) pass.newest = Math.max(pass.newest, s.points.at(-1)?.t ?? 0);
    pass.token = page.next_page_token;
  } while (pass.token);
  // Series the gateway no longer has go.
  for (const k of [...held.keys()]) if (!pass.seen.has(k)) held.delete(k);
  since = pass.newest;
  pass = null;
}

let polling = false; // a slow poll is not overlapped by the next

async function poll() {
  if (polling) return;
  polling = true;
  try {
    const [instance] = await Promise.all([getJSON("api/gantry/applications"), fetchSeries()]);
    state.instance = instance;
    state.error = null;
  } catch (e) {
    state.error = String(e.message || e);
  }
  polling = false;
  state.series = [...held.values()];
  current?.view.update?.(state, true);
}

function tokenBar() {
  const bar = document.getElementById("token-bar");
  const input = document.getElementById("token-input");
  const why = document.getElementById("token-why");
  const plain = why.innerHTML;
  const open = (refused) => {
    why.innerHTML = refused === true
      ? `<strong>The gateway refused the change: it needs its admin token.</strong> ${plain}` : plain;
    bar.hidden = false; input.value = token(); input.focus();
  };
  document.getElementById("token-button").addEventListener("click", () => (bar.hidden ? open(false) : (bar.hidden = true)));
  document.addEventListener("gantry:needs-token", () => open(true));
  bar.addEventListener("submit", (e) => {
    e.preventDefault();
    setToken(input.value.trim());
    bar.hidden = true;
    document.dispatchEvent(new CustomEvent("gantry:token-set"));
  });
  document.getElementById("token-clear").addEventListener("click", () => { setToken(""); input.value = ""; });
}

function connection() {
  const el = document.getElementById("conn");
  onStatus((ok, msg) => {
    el.className = "conn " + (ok ? "ok" : "bad");
    el.textContent = ok ? (staticPage ? "static: reload to refresh" : "live") : msg || "disconnected";
  });
}

window.addEventListener("hashchange", show);
window.addEventListener("DOMContentLoaded", () => {
  tokenBar();
  connection();
  show();
  if (staticPage) {
    // One fetch, then the page is done: mark it for whoever captures it.
    poll().then(() => { document.documentElement.dataset.rendered = "1"; });
    return;
  }
  poll();
  setInterval(poll, POLL_MS);
});
