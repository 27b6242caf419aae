// The events timeline: deploys, rollout steps, scale decisions, crashes
// with exit codes, failed health checks. Live, over server-sent events; a
// static page shows the events of one GET.

import { follow, getJSON, staticPage } from "./api.js";
import { clock, esc } from "./util.js";

const KIND_CLASS = {
  CONFIG_APPLIED: "busy", DEPLOYMENT_UPDATED: "busy", REPLICA_STARTING: "busy", REPLICA_PENDING: "warn",
  REPLICA_HEALTHY: "ok", REPLICA_DRAINING: "idle", REPLICA_STOPPED: "idle", REPLICA_CRASHED: "bad",
  HEALTH_CHECK_FAILED: "bad", REPLICA_FAILED: "bad", AUTOSCALED: "busy",
};

export function eventItem(e) {
  const who = [e.application && e.deployment ? `${e.application}/${e.deployment}` : e.application, e.replica]
    .filter(Boolean).map(esc).join(" · ");
  const exit = e.exit_code != null ? ` <span class="badge s-bad">exit code ${e.exit_code}</span>` : "";
  return `<li data-kind="${esc(e.kind)}" data-seq="${e.seq}">
    <span class="when" title="${esc(e.time)}">${esc(clock(e.time))}</span>
    <span><span class="badge s-${KIND_CLASS[e.kind] || "idle"}">${esc(e.kind)}</span></span>
    <span><div class="what">${esc(e.message)}${exit}</div>${who ? `<div class="who mono">${who}</div>` : ""}</span></li>`;
}

// recentEvents shows the newest events first in root, live; filter(e)
// picks which. It returns {close}.
export function recentEvents(root, { limit = 200, filter = () => true } = {}) {
  root.innerHTML = `<ul class="timeline"></ul><p class="muted empty-note">No events yet.</p>`;
  const ul = root.querySelector("ul");
  const note = root.querySelector(".empty-note");
  let seen = 0, all = [];
  const render = () => {
    const shown = all.filter(filter).slice(-limit).reverse();
    ul.innerHTML = shown.map(eventItem).join("");
    note.hidden = shown.length > 0;
  };
  const add = (e) => {
    if (e.seq <= seen) return;
    seen = e.seq;
    all.push(e);
    if (all.length > 2000) all = all.slice(-1000);
    render();
  };
  let close = () => {};
  // The first page comes as JSON, then the stream continues after it.
  getJSON("api/gantry/events").then((evs) => {
    evs.forEach(add);
    render();
    if (!staticPage) close = follow(`api/gantry/events?follow=1&after=${seen}`, add);
  }).catch(() => { if (!staticPage) close = follow("api/gantry/events?follow=1", add); });
  return { close: () => close(), refilter(f) { filter = f; render(); }, all: () => all };
}

export const eventsView = {
  mount(main) {
    main.innerHTML = `<section class="panel"><h2>Events</h2>
      <div class="filters">
        <select id="ev-level"><option value="">every level</option><option value="error">errors</option><option value="warning">warnings and errors</option></select>
        <input id="ev-text" placeholder="filter: application, replica, kind or words">
      </div><div id="ev-list"></div></section>`;
    const level = main.querySelector("#ev-level"), text = main.querySelector("#ev-text");
    const filter = (e) => {
      if (level.value === "error" && e.level !== "error") return false;
      if (level.value === "warning" && e.level === "info") return false;
      const q = text.value.trim().toLowerCase();
      return !q || [e.kind, e.application, e.deployment, e.replica, e.message].join(" ").toLowerCase().includes(q);
    };
    this.list = recentEvents(main.querySelector("#ev-list"), { limit: 500, filter });
    level.addEventListener("change", () => this.list.refilter(filter));
    text.addEventListener("input", () => this.list.refilter(filter));
  },
  unmount() { this.list?.close(); },
};
