// Small helpers for building the page.

export function esc(s) {
  return String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

// Colour classes for statuses, in the API's own words.
const KIND = {
  RUNNING: "ok", HEALTHY: "ok",
  DEPLOYING: "busy", UPDATING: "busy", STARTING: "busy", UPSCALING: "busy", DOWNSCALING: "busy",
  UNHEALTHY: "warn", PENDING: "warn", RECOVERING: "warn",
  DEPLOY_FAILED: "bad",
  NOT_STARTED: "idle", DELETING: "idle", STOPPING: "idle",
};

export function badge(status) {
  const s = String(status || "UNKNOWN");
  return `<span class="badge s-${KIND[s] || "idle"}" data-status="${esc(s)}">${esc(s)}</span>`;
}

export function fmtNum(v, digits = 1) {
  if (v == null || Number.isNaN(v)) return "–";
  if (v === 0) return "0";
  if (Math.abs(v) >= 1000) return (v / 1000).toFixed(1) + "k";
  if (Math.abs(v) < 0.1) return v.toFixed(2);
  return v.toFixed(digits).replace(/\.0$/, "");
}

export function fmtMs(v) {
  if (v == null || Number.isNaN(v)) return "–";
  if (v >= 1000) return (v / 1000).toFixed(2) + " s";
  if (v >= 10) return v.toFixed(0) + " ms";
  return v.toFixed(1) + " ms";
}

export function fmtPct(v) {
  if (v == null || Number.isNaN(v)) return "–";
  return (v * 100).toFixed(v > 0 && v < 0.01 ? 2 : 1) + " %";
}

export function ago(unixSeconds, now = Date.now() / 1000) {
  if (!unixSeconds) return "–";
  const s = Math.max(0, now - unixSeconds);
  if (s < 60) return Math.floor(s) + "s";
  if (s < 3600) return Math.floor(s / 60) + "m " + Math.floor(s % 60) + "s";
  if (s < 86400) return Math.floor(s / 3600) + "h " + Math.floor((s % 3600) / 60) + "m";
  return Math.floor(s / 86400) + "d " + Math.floor((s % 86400) / 3600) + "h";
}

export function clock(date) {
  return new Date(date).toLocaleTimeString([], { hour12: false });
}

// summary reduces the last n points of a series to what the overview shows.
export function summary(series, n = 10) {
  const pts = (series?.points || []).slice(-n);
  if (pts.length === 0) return { rps: null, p50: null, p99: null, errRate: null };
  const sum = (f) => pts.reduce((a, p) => a + (f(p) || 0), 0);
  const rps = sum((p) => p.rps) / pts.length;
  const errs = sum((p) => p.errors_ps) / pts.length;
  // Latency: weight each second's percentile by its requests.
  const wavg = (key) => {
    let w = 0, s = 0;
    for (const p of pts) if (p[key] != null && p.rps > 0) { w += p.rps; s += p[key] * p.rps; }
    return w ? s / w : null;
  };
  return { rps, p50: wavg("p50_ms"), p99: wavg("p99_ms"), errRate: rps > 0 ? errs / rps : (pts.length ? 0 : null) };
}

export function replicaCounts(replicas) {
  const c = {};
  for (const r of replicas || []) c[r.state] = (c[r.state] || 0) + 1;
  return c;
}

export function countChips(counts) {
  const keys = Object.keys(counts).sort();
  if (keys.length === 0) return `<span class="muted">none</span>`;
  return `<span class="chips">${keys.map((k) => `${badge(k)}<span class="mono">×${counts[k]}</span>`).join(" ")}</span>`;
}
