// One deployment: status, live charts, replicas (state, PID, slice and
// members, age, in-flight), the live log tail of a replica, the autoscaler,
// the config in effect and the deployment's events.

import { follow, getJSON, staticPage } from "./api.js";
import { Chart } from "./chart.js";
import { recentEvents } from "./events.js";
import { ago, badge, esc, fmtMs, fmtNum, fmtPct, summary } from "./util.js";

const MAX_LOG_LINES = 500;
// Events that mean a replica failed (and was replaced).
const FAILURES = new Set(["REPLICA_CRASHED", "HEALTH_CHECK_FAILED", "REPLICA_FAILED"]);

export const deploymentView = {
  mount(main, { app, dep }) {
    this.app = app; this.dep = dep;
    this.selected = null; this.closeLog = null;
    main.innerHTML = `
      <div class="crumbs"><a href="#/">Overview</a> / ${esc(app)}</div>
      <h1 id="dep-title">${esc(dep)} <span id="dep-status"></span></h1>
      <div id="dep-message"></div>
      <div class="stats" id="dep-stats"></div>
      <section class="panel"><h2>Last 15 minutes</h2><div class="grid charts" id="dep-charts"></div></section>
      <section class="panel"><h2>Replicas <span class="muted small">click one for its log</span></h2><div id="replicas"></div></section>
      <section class="panel"><h2>Log <span id="log-who" class="muted small mono"></span><span id="log-state" class="muted small"></span></h2>
        <pre class="log" id="log"><span class="none">Pick a replica above to see its output.</span></pre></section>
      <div class="grid two">
        <section class="panel"><h2>Autoscaler</h2><div id="autoscaler"></div></section>
        <section class="panel"><h2>Config in effect</h2><div id="dep-config"></div></section>
      </div>
      <section class="panel"><h2>Events</h2><div id="dep-events"></div></section>`;
    const box = main.querySelector("#dep-charts");
    this.charts = [
      new Chart(box, "chart-rps", { title: "Requests/s", lines: [{ key: "rps", label: "requests/s" }] }),
      new Chart(box, "chart-latency", { title: "Latency", unit: "ms", lines: [{ key: "p50_ms", label: "p50" }, { key: "p90_ms", label: "p90" }, { key: "p99_ms", label: "p99" }] }),
      new Chart(box, "chart-errors", { title: "Errors/s (5xx)", lines: [{ key: "errors_ps", label: "errors/s" }] }),
      new Chart(box, "chart-queue", { title: "Queue and in flight", integer: true, lines: [{ key: "queued", label: "queued" }, { key: "inflight", label: "in flight" }] }),
      new Chart(box, "chart-replicas", { title: "Replicas", integer: true, lines: [{ key: "replicas", label: "all states" }, { key: "running", label: "running" }, { key: "target", label: "target", dashed: true }] }),
    ];
    main.querySelector("#replicas").addEventListener("click", (e) => {
      const tr = e.target.closest("tr[data-replica]");
      if (tr) this.tail(tr.dataset.replica);
    });
    this.isMine = (e) => e.application === app && e.deployment === dep;
    this.events = recentEvents(main.querySelector("#dep-events"), { limit: 50, filter: this.isMine });
  },

  unmount() { this.closeLog?.(); this.events?.close(); },

  tail(id) {
    if (this.selected === id) return;
    this.closeLog?.();
    this.selected = id;
    this.goneNoted = false;
    const log = document.getElementById("log");
    document.getElementById("log-who").textContent = id;
    const st = document.getElementById("log-state");
    log.replaceChildren();
    let lines = 0;
    this.logEnded = false;
    for (const tr of document.querySelectorAll("#replicas tr[data-replica]")) tr.classList.toggle("selected", tr.dataset.replica === id);
    if (staticPage) {
      // The last lines, once: a static page opens no stream.
      getJSON(`api/gantry/logs?replica=${encodeURIComponent(id)}&lines=200`).then((v) => {
        log.append(document.createTextNode(v.lines.map((l) => l + "\n").join("")));
        log.scrollTop = log.scrollHeight;
        st.textContent = " · last lines (static page)";
      }).catch((e) => { st.textContent = " · " + (e.message || e); });
      return;
    }
    // The stream is not left to the browser to reconnect: a replica that
    // stopped is gone (404), and its last lines should stay on screen.
    this.closeLog = follow(`api/gantry/logs?replica=${encodeURIComponent(id)}&lines=200&follow=1`, (line) => {
      const stick = log.scrollTop + log.clientHeight >= log.scrollHeight - 20;
      log.append(document.createTextNode(line + "\n"));
      if (++lines > MAX_LOG_LINES) { log.firstChild?.remove(); lines--; }
      if (stick) log.scrollTop = log.scrollHeight;
    }, (ok, ended) => {
      st.textContent = ok ? " · following" : " · stream ended";
      this.logEnded = ended;
    }, { reconnect: false });
  },

  // update draws state; fresh says it was just fetched (not kept from
  // before this view opened, when a replica may have gone since).
  update(state, fresh) {
    const a = state.instance?.applications?.[this.app];
    const d = a?.deployments?.[this.dep];
    const status = document.getElementById("dep-status");
    if (!status) return;
    if (!d) {
      status.innerHTML = "";
      document.getElementById("dep-message").innerHTML = `<div class="message info">The gateway has no deployment ${esc(this.dep)} in application ${esc(this.app)}: it was never deployed, or it was deleted. <a href="#/">Back to the overview</a>.</div>`;
      for (const c of this.charts) c.update([]);
      document.getElementById("replicas").innerHTML = `<p class="muted">No replicas.</p>`;
      return;
    }
    const trigger = d.status === "HEALTHY" ? "" : ` <span class="muted small" title="status_trigger">${esc(d.status_trigger)}</span>`;
    status.innerHTML = `${badge(d.status)}${trigger}${d.ingress ? ' <span class="muted small">· ingress</span>' : ""}`;
    document.getElementById("dep-message").innerHTML = d.message
      ? `<div class="message ${d.status === "HEALTHY" ? "info" : ""}">${esc(d.message)}</div>` : "";
    const series = state.series.find((s) => s.application === this.app && s.deployment === this.dep);
    const pts = series?.points || [];
    for (const c of this.charts) c.update(pts);
    const s = summary(series);
    const reps = d.replicas || [];
    const inflight = reps.reduce((n, r) => n + (r.inflight || 0), 0);
    const running = reps.filter((r) => r.state === "RUNNING").length;
    const failures = this.events.all().filter((e) => this.isMine(e) && FAILURES.has(e.kind)).length;
    const stat = (k, v) => `<div class="stat"><div class="v">${v}</div><div class="k">${k}</div></div>`;
    document.getElementById("dep-stats").innerHTML = [
      stat("running / target", `${running} / ${d.target_num_replicas}`), stat("in flight", inflight), stat("queued", d.queued),
      stat("requests/s", fmtNum(s.rps)), stat("p50", fmtMs(s.p50)), stat("p99", fmtMs(s.p99)),
      stat("error rate", fmtPct(s.errRate)), stat("replica failures", failures),
    ].join("");
    this.replicas(reps, d);
    this.autoscaler(d);
    this.config(d);
    const live = reps.find((r) => r.state === "RUNNING");
    if (!this.selected && fresh && live) this.tail(live.replica_id);
    else if (this.selected && this.logEnded) {
      const id = this.selected;
      if (reps.some((r) => r.replica_id === id && (r.state === "RUNNING" || r.state === "UPDATING"))) {
        this.selected = null; // the replica is still there: follow it again
        this.tail(id);
      } else if (!this.goneNoted) {
        this.goneNoted = true;
        document.getElementById("log-state").textContent = " · this replica has stopped: its last lines stay here; pick another above";
      }
    }
  },

  replicas(reps, d) {
    const now = Date.now() / 1000;
    const rows = reps.map((r) => {
      const slice = r.slice ? `${esc(r.slice.group)}-${r.slice.index}` : "–";
      const members = (r.members || []).length > 1
        ? r.members.map((m) => `<div class="mono small">host ${m.host}: pid ${m.pid} · ${esc(m.address)}</div>`).join("")
        : `<span class="muted">–</span>`;
      const old = r.version !== d.code_version ? ` <span class="badge s-idle" title="runs an older code version">old version</span>` : "";
      return `<tr class="clickable${r.replica_id === this.selected ? " selected" : ""}" data-replica="${esc(r.replica_id)}">
        <td class="mono">${esc(r.replica_id)}${old}</td><td>${badge(r.state)}</td>
        <td class="num mono">${r.pid ?? "–"}</td><td class="mono">${esc(r.address || "–")}</td>
        <td class="mono">${slice}</td><td>${members}</td>
        <td class="num">${ago(r.start_time_s, now)}</td><td class="num">${r.inflight ?? 0}</td>
        <td class="mono small">${esc(r.version)}</td></tr>`;
    }).join("");
    document.getElementById("replicas").innerHTML = reps.length === 0
      ? `<p class="muted">No replicas${d.target_num_replicas === 0 ? " (scaled to zero: the first request starts one)" : ""}.</p>`
      : `<table id="replica-table"><thead><tr><th>Replica</th><th>State</th><th class="num">PID</th><th>Address</th><th>Slice</th><th>Members</th><th class="num">Age</th><th class="num">In flight</th><th>Version</th></tr></thead><tbody>${rows}</tbody></table>`;
  },

  autoscaler(d) {
    const el = document.getElementById("autoscaler");
    const a = d.autoscaler;
    if (!a) {
      el.innerHTML = `<p class="muted">Fixed size: <strong>${d.target_num_replicas}</strong> replicas (num_replicas). Add <code>autoscaling_config</code> to scale with load.</p>`;
      return;
    }
    const cfg = d.deployment_config?.autoscaling_config || {};
    el.innerHTML = `<dl class="kv">
      <dt>target replicas</dt><dd><strong>${a.target_replicas}</strong> (between ${cfg.min_replicas ?? "?"} and ${cfg.max_replicas ?? "?"})</dd>
      <dt>the load asks for</dt><dd>${a.wanted_replicas}</dd>
      <dt>load seen</dt><dd>${fmtNum(a.load, 2)} requests in flight + queued (target ${cfg.target_ongoing_requests ?? "?"} per replica)</dd>
      <dt>last decision</dt><dd>${esc(a.reason || "–")}</dd></dl>`;
  },

  config(d) {
    const el = document.getElementById("dep-config");
    const text = JSON.stringify({ ...d.deployment_config, user_config: d.user_config ?? null, replica: d.config?.replica, code_version: d.code_version }, null, 2);
    if (el.dataset.text !== text) {
      el.dataset.text = text;
      el.innerHTML = `<pre class="config">${esc(text)}</pre>`;
    }
  },
};
