// TPU: worker groups, their slices, which replica holds which slice, and
// the replicas waiting for one (with the reason).

import { getJSON } from "./api.js";
import { badge, esc } from "./util.js";

export const tpuView = {
  mount(main) {
    main.innerHTML = `<section class="panel"><h2>TPU worker groups</h2><div id="tpu"><p class="muted">Loading…</p></div></section>
      <section class="panel"><h2>Waiting for a slice</h2><div id="tpu-pending"></div></section>`;
  },
  async update() {
    let v;
    try { v = await getJSON("api/gantry/tpu"); } catch (e) { return; }
    const box = document.getElementById("tpu");
    if (!box) return;
    if (v.worker_groups.length === 0) {
      box.innerHTML = `<p class="muted">No worker groups in the applied config. A config's <code>worker_groups</code> lists TPU podslice pools; replicas asking for TPU chips take whole slices of them.</p>`;
    } else {
      box.innerHTML = v.worker_groups.map((g) => {
        const held = g.slices.filter((s) => s.replica).length;
        return `<div class="panel"><h2>${esc(g.name)} <span class="muted small">${esc(g.accelerator)} ${esc(g.topology)} · ${g.chips_per_slice} chips over ${g.hosts_per_slice} host(s) per slice · ${held} of ${g.slices.length} slices held</span></h2>
          <div class="slices">${g.slices.map((s) => `<div class="slice ${s.replica ? "held" : "free"}" data-slice="${esc(s.name)}">
            <div class="name mono">${esc(s.name)}</div>
            <div class="small muted mono">${s.hosts.map(esc).join(", ")}</div>
            ${s.replica ? `<div><a class="mono small" href="#/app/${encodeURIComponent(s.application)}/${encodeURIComponent(s.deployment)}">${esc(s.replica)}</a> ${badge(s.state)}</div>` : `<div class="muted small">free</div>`}
          </div>`).join("")}</div></div>`;
      }).join("");
    }
    document.getElementById("tpu-pending").innerHTML = v.pending.length === 0
      ? `<p class="muted">No replica is waiting.</p>`
      : `<table><thead><tr><th>Replica</th><th>Deployment</th><th>Why</th></tr></thead><tbody>${v.pending.map((p) =>
        `<tr><td class="mono">${esc(p.replica)} ${badge("PENDING")}</td><td>${esc(p.application)}/${esc(p.deployment)}</td><td>${esc(p.reason)}</td></tr>`).join("")}</tbody></table>`;
  },
};
