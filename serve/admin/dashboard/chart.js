// A small SVG line chart for the last 15 minutes of a time series: no
// library, redrawn whole on each update.

const NS = "http://www.w3.org/2000/svg";
const H = 150, L = 46, R = 10, T = 8, B = 20;

export const COLORS = ["#1f6feb", "#bf8700", "#cf222e", "#8250df", "#1a7f37"];

function el(name, attrs, parent) {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (parent) parent.appendChild(e);
  return e;
}

// niceMax is the top of the y axis: four steps of 1, 2 or 5 × 10^k.
function niceMax(v, integer) {
  if (!(v > 0)) return integer ? 4 : 1;
  const raw = v / 4;
  const p = Math.pow(10, Math.floor(Math.log10(raw)));
  let step = 10 * p;
  for (const m of [1, 2, 5]) if (m * p >= raw) { step = m * p; break; }
  if (integer) step = Math.max(1, Math.ceil(step));
  return step * 4;
}

function tickLabel(v, unit) {
  let s;
  if (v >= 1000) s = (v / 1000).toFixed(v % 1000 ? 1 : 0) + "k";
  else if (v >= 10 || v === 0 || Number.isInteger(v)) s = String(Math.round(v));
  else s = v.toFixed(v < 1 ? 2 : 1);
  return unit ? s + unit : s;
}

// Chart is one titled chart in a container element.
export class Chart {
  // lines: [{key, label}], points read as p[key]; opts: {title, unit, windowS, integer}
  constructor(container, id, opts) {
    this.opts = { windowS: 900, ...opts };
    this.root = document.createElement("div");
    this.root.className = "chart";
    this.root.id = id;
    this.root.innerHTML = `<div class="title"><span></span><span class="legend"></span></div>`;
    this.root.querySelector(".title span").textContent = opts.title;
    const legend = this.root.querySelector(".legend");
    opts.lines.forEach((l, i) => {
      const s = document.createElement("span");
      const sw = document.createElement("i");
      sw.style.background = COLORS[i % COLORS.length];
      s.append(sw, document.createTextNode(l.label));
      legend.appendChild(s);
    });
    this.svg = el("svg", { role: "img", "aria-label": opts.title }, this.root);
    container.appendChild(this.root);
  }

  // update draws the points (oldest first; p.t is Unix seconds).
  update(points, nowS = Date.now() / 1000) {
    const { lines, unit, windowS } = this.opts;
    const svg = this.svg;
    svg.replaceChildren();
    const W = Math.max(200, Math.round(svg.clientWidth || 600)); // draw in real pixels: no stretched text
    svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
    const t0 = nowS - windowS;
    const pts = points.filter((p) => p.t >= t0);
    let max = 0, drawn = 0;
    for (const p of pts) for (const l of lines) if (p[l.key] != null) max = Math.max(max, p[l.key]);
    max = niceMax(max, this.opts.integer);
    const x = (t) => L + ((t - t0) / windowS) * (W - L - R);
    const y = (v) => T + (1 - v / max) * (H - T - B);
    for (let i = 0; i <= 4; i++) {
      const v = (max * i) / 4;
      el("line", { class: "grid", x1: L, x2: W - R, y1: y(v), y2: y(v) }, svg);
      el("text", { x: L - 5, y: y(v) + 3, "text-anchor": "end" }, svg).textContent = tickLabel(v, unit);
    }
    for (const m of [15, 10, 5, 0]) {
      if (m * 60 > windowS) continue;
      el("text", { x: x(nowS - m * 60), y: H - 5, "text-anchor": m === 0 ? "end" : m * 60 === windowS ? "start" : "middle" }, svg)
        .textContent = m === 0 ? "now" : `-${m}m`;
    }
    lines.forEach((l, i) => {
      let d = "", pen = false, n = 0;
      for (const p of pts) {
        const v = p[l.key];
        if (v == null) { pen = false; continue; }
        d += `${pen ? "L" : "M"}${x(p.t).toFixed(1)},${y(v).toFixed(1)}`;
        pen = true; n++;
      }
      if (n === 0) return;
      drawn += n;
      const color = COLORS[i % COLORS.length];
      if (i === 0 && lines.length === 1 && n > 1) {
        const first = pts.find((p) => p[l.key] != null), last = [...pts].reverse().find((p) => p[l.key] != null);
        el("path", { class: "area", fill: color, d: `${d}L${x(last.t).toFixed(1)},${y(0)}L${x(first.t).toFixed(1)},${y(0)}Z` }, svg);
      }
      const line = el("path", { class: "line", stroke: color, d, "data-key": l.key }, svg);
      if (l.dashed) line.setAttribute("stroke-dasharray", "5 4");
      // The newest value as a dot, so a line that has just begun is seen.
      const last = [...pts].reverse().find((p) => p[l.key] != null);
      el("circle", { class: "dot", cx: x(last.t).toFixed(1), cy: y(last[l.key]).toFixed(1), r: 3, fill: color }, svg)
        .appendChild(el("title", {})).textContent = `${l.label}: ${tickLabel(Math.round(last[l.key] * 100) / 100, unit)}`;
    });
    if (drawn === 0) {
      el("text", { class: "empty", x: (L + W) / 2, y: H / 2, "text-anchor": "middle" }, svg).textContent = "no data yet";
    }
    this.root.dataset.points = String(drawn);
    this.root.dataset.max = String(Math.max(0, ...pts.flatMap((p) => lines.map((l) => p[l.key] ?? 0))));
  }
}
