// Overview: every application with its status, route, deployments, replica
// counts by state, traffic and latency; a request-rate chart per
// application; the try-it panel; the latest events.

import { badge, countChips, esc, fmtMs, fmtNum, fmtPct, replicaCounts, summary } from "./util.js";
import { Chart } from "./chart.js";
import { tryPanel } from "./try.js";
import { recentEvents } from "./events.js";

function seriesOf(state, app, dep) {
  return state.series.find((s) => s.application === app && s.deployment === dep);
}

function ingressOf(app) {
  const deps = Object.values(app.deployments || {});
  return deps.find((d) => d.ingress) || deps[0];
}

let charts = new Map();
let tryit = null;
let events = null;

export const overview = {
  mount(main) {
    main.innerHTML = `
      <section class="panel"><h2>Applications</h2><div id="apps"><p class="muted">Loading…</p></div></section>
      <section class="panel"><h2>Request rate <span class="muted small">last 15 minutes, per application</span></h2><div id="app-charts" class="grid charts"></div></section>
      <div class="grid two">
        <section class="panel" id="try-panel"><h2>Try it</h2></section>
        <section class="panel"><h2>Latest events <a class="small" href="#/events">all events →</a></h2><div id="latest-events"></div></section>
      </div>`;
    charts = new Map();
    tryit = tryPanel(main.querySelector("#try-panel"));
    events = recentEvents(main.querySelector("#latest-events"), { limit: 8 });
  },
  unmount() { events?.close(); events = null; tryit = null; },
  update(state) {
    const box = document.getElementById("apps");
    if (!box) return;
    if (state.error && !state.instance) {
      box.innerHTML = `<p class="bad-line">${esc(state.error)}</p>`;
      return;
    }
    const apps = Object.values(state.instance?.applications || {}).sort((a, b) => a.name.localeCompare(b.name));
    if (apps.length === 0) {
      box.innerHTML = `<p class="muted">No applications. Deploy a config on the <a href="#/deploy">Deploy</a> page or with <code>gantry deploy CONFIG</code>.</p>`;
    } else {
      box.innerHTML = `<table id="apps-table"><thead><tr>
        <th>Application</th><th>Status</th><th>Route</th><th>Deployments</th><th>Replicas</th>
        <th class="num">Requests/s</th><th class="num">p50</th><th class="num">p99</th><th class="num">Errors</th></tr></thead>
        <tbody>${apps.map((a) => row(a, state)).join("")}</tbody></table>`;
    }
    const chartBox = document.getElementById("app-charts");
    for (const a of apps) {
      const ing = ingressOf(a);
      if (!ing) continue;
      let c = charts.get(a.name);
      if (!c) {
        c = new Chart(chartBox, "rps-" + a.name, { title: `${a.name} · ${ing.name}`, lines: [{ key: "rps", label: "requests/s" }] });
        charts.set(a.name, c);
      }
      c.update(seriesOf(state, a.name, ing.name)?.points || []);
    }
    for (const [name, c] of charts) {
      if (!apps.some((a) => a.name === name)) { c.root.remove(); charts.delete(name); }
    }
    if (apps.length === 0 && !chartBox.querySelector("p.muted")) {
      chartBox.insertAdjacentHTML("beforeend", `<p class="muted">Charts appear once an application runs.</p>`);
    } else if (apps.length > 0) chartBox.querySelector("p.muted")?.remove();
    tryit?.update(apps);
  },
};

function row(a, state) {
  const deps = Object.values(a.deployments || {}).sort((x, y) => x.name.localeCompare(y.name));
  const all = deps.flatMap((d) => d.replicas || []);
  const ing = ingressOf(a);
  const s = summary(ing && seriesOf(state, a.name, ing.name));
  const depLinks = deps.map((d) =>
    `<div><a href="#/app/${encodeURIComponent(a.name)}/${encodeURIComponent(d.name)}" class="dep-link">${esc(d.name)}</a> ${badge(d.status)}${d.ingress ? ' <span class="muted small">ingress</span>' : ""}</div>`).join("");
  const msg = a.message ? `<div class="message">${esc(a.message)}</div>` : "";
  return `<tr data-app="${esc(a.name)}">
    <td><strong>${esc(a.name)}</strong>${msg}</td>
    <td>${badge(a.status)}</td>
    <td class="mono">${esc(a.route_prefix ?? "–")}</td>
    <td>${depLinks}</td>
    <td>${countChips(replicaCounts(all))}</td>
    <td class="num">${fmtNum(s.rps)}</td>
    <td class="num">${fmtMs(s.p50)}</td>
    <td class="num">${fmtMs(s.p99)}</td>
    <td class="num">${fmtPct(s.errRate)}</td></tr>`;
}
