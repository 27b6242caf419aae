// Talking to the gateway. Every URL is relative to the page, so the
// dashboard works through `kubectl port-forward` and under a path prefix.

const TOKEN_KEY = "gantry.adminToken";

// staticPage is true when the page was opened with ?static=1, before the
// hash (/?static=1#/events) or in it (/#/events?static=1): it renders once
// from plain GETs and opens no stream and sets no timer, so a headless
// `chromium --screenshot --virtual-time-budget=5000 URL` finishes (an open
// EventSource keeps virtual time from ever running out).
export const staticPage = isStatic(location);

function isStatic(loc) {
  const hashQuery = loc.hash.includes("?") ? loc.hash.slice(loc.hash.indexOf("?") + 1) : "";
  return [loc.search, hashQuery].some((q) => {
    const v = new URLSearchParams(q).get("static");
    return v !== null && v !== "0" && v !== "false";
  });
}

export function token() { return sessionStorage.getItem(TOKEN_KEY) || ""; }
export function setToken(t) {
  if (t) sessionStorage.setItem(TOKEN_KEY, t); else sessionStorage.removeItem(TOKEN_KEY);
}

// NeedsToken is thrown when the gateway answers 401.
export class NeedsToken extends Error {}

const listeners = new Set();
// onStatus(f) calls f(ok, message) whenever a request succeeds or fails to connect.
export function onStatus(f) { listeners.add(f); }
function status(ok, msg) { for (const f of listeners) f(ok, msg); }

export async function getJSON(path) {
  let resp;
  try {
    resp = await fetch(path, { headers: { Accept: "application/json" }, cache: "no-store" });
  } catch (e) {
    status(false, "gateway unreachable");
    throw e;
  }
  status(true);
  if (!resp.ok) throw new Error(`${path}: ${resp.status} ${(await resp.text()).trim()}`);
  return resp.json();
}

// send makes a call that may need the admin token; it returns the Response.
export async function send(method, path, body, headers = {}) {
  const h = { ...headers };
  if (token()) h.Authorization = "Bearer " + token();
  const resp = await fetch(path, { method, body, headers: h, cache: "no-store" });
  if (resp.status === 401) {
    document.dispatchEvent(new CustomEvent("gantry:needs-token"));
    throw new NeedsToken("this gateway needs its admin token: enter it above and try again");
  }
  return resp;
}

// follow opens a server-sent event stream and calls onData with each
// message's parsed data; it returns a function that closes the stream.
// A static page (staticPage) must not call it: it would never be captured.
// onState(true) says it is open; onState(false) that it broke: the browser
// reconnects unless reconnect is false, in which case the stream is closed
// and onState(false, true) says it ended.
export function follow(path, onData, onState = () => {}, { reconnect = true } = {}) {
  if (staticPage) throw new Error("follow: a static page opens no stream");
  const es = new EventSource(path);
  es.onmessage = (m) => { try { onData(JSON.parse(m.data)); } catch { /* ignore a broken line */ } };
  es.onopen = () => onState(true, false);
  es.onerror = () => {
    if (reconnect) { onState(false, false); return; }
    es.close();
    onState(false, true);
  };
  return () => es.close();
}
