// The try-it panel: send a request to an HTTP application and see the
// answer, pictures included. It goes through the dashboard's own port
// (api/gantry/try/PATH is handed to the HTTP ingress inside the gateway),
// so it works through a port-forward of the dashboard port alone.

import { NeedsToken, send } from "./api.js";
import { esc } from "./util.js";

function joinPath(prefix, rest) {
  const p = (prefix || "/").replace(/\/+$/, "");
  return p + "/" + rest.replace(/^\/+/, "");
}

// looksLikeImagine tells the Stable Diffusion example (and apps like it)
// apart, to fill in a request that makes a picture.
function looksLikeImagine(app) {
  return Object.values(app.deployments || {}).some((d) =>
    JSON.stringify(d.config?.replica?.command || []).includes("painter") || /diffusion|imagine/i.test(app.name));
}

export function tryPanel(root) {
  root.insertAdjacentHTML("beforeend", `
    <div class="try">
      <form id="try-form">
        <div class="row"><label for="try-app" class="muted">Application</label><select id="try-app"></select></div>
        <div class="row"><select id="try-method"><option>POST</option><option>GET</option><option>PUT</option><option>DELETE</option></select>
          <input id="try-path" class="mono" aria-label="Path" placeholder="/path"></div>
        <label for="try-prompt" class="muted small">Prompt <span class="muted">(sets the body to {"prompt": …})</span></label>
        <input id="try-prompt" placeholder="a lighthouse on a cliff at sunset">
        <label for="try-body" class="muted small">Body</label>
        <textarea id="try-body" rows="4" spellcheck="false"></textarea>
        <div class="row"><button id="try-send" type="submit">Send</button><span id="try-status" class="muted small"></span></div>
      </form>
      <div id="try-result" class="result"><p class="muted">The answer shows here: pictures as pictures, JSON pretty-printed.</p></div>
    </div>`);
  const $ = (id) => root.querySelector("#" + id);
  const appSel = $("try-app"), method = $("try-method"), path = $("try-path"), prompt = $("try-prompt"), body = $("try-body");
  let apps = [], chosen = "", objectURL = null;

  function fill(app) {
    if (!app) return;
    chosen = app.name;
    const imagine = looksLikeImagine(app);
    path.value = joinPath(app.route_prefix, imagine ? "imagine" : "");
    method.value = imagine ? "POST" : "GET";
    prompt.value = "";
    body.value = imagine ? JSON.stringify({ prompt: prompt.placeholder, steps: 20 }, null, 0) : "";
  }
  appSel.addEventListener("change", () => fill(apps.find((a) => a.name === appSel.value)));
  prompt.addEventListener("input", () => {
    let b = {};
    try { b = JSON.parse(body.value || "{}"); } catch { b = {}; }
    if (typeof b !== "object" || b === null || Array.isArray(b)) b = {};
    b.prompt = prompt.value;
    body.value = JSON.stringify(b);
    if (method.value === "GET") method.value = "POST";
  });

  $("try-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const out = $("try-result"), st = $("try-status");
    const sendBtn = $("try-send");
    sendBtn.disabled = true;
    st.textContent = "sending…";
    const started = performance.now();
    try {
      const p = path.value.startsWith("/") ? path.value : "/" + path.value;
      const hasBody = method.value !== "GET" && body.value.trim() !== "";
      const resp = await send(method.value, "api/gantry/try" + p, hasBody ? body.value : undefined,
        hasBody ? { "Content-Type": "application/json" } : {});
      const ms = Math.round(performance.now() - started);
      const ct = resp.headers.get("Content-Type") || "";
      st.textContent = `${resp.status} ${resp.statusText} · ${ms} ms · ${ct || "no content type"}`;
      st.className = resp.ok ? "ok-line small" : "bad-line small";
      if (objectURL) URL.revokeObjectURL(objectURL);
      objectURL = null;
      if (ct.startsWith("image/")) {
        objectURL = URL.createObjectURL(await resp.blob());
        out.innerHTML = `<img id="try-image" alt="the answer">`;
        out.querySelector("img").src = objectURL;
      } else {
        let text = await resp.text();
        if (ct.includes("json")) { try { text = JSON.stringify(JSON.parse(text), null, 2); } catch { /* as is */ } }
        out.innerHTML = `<pre id="try-text">${esc(text || "(empty body)")}</pre>`;
      }
    } catch (err) {
      st.textContent = err instanceof NeedsToken ? err.message : "failed: " + (err.message || err);
      st.className = "bad-line small";
    } finally {
      sendBtn.disabled = false;
    }
  });

  return {
    update(all) {
      apps = all.filter((a) => a.route_prefix != null);
      const names = apps.map((a) => a.name).join("\n");
      if (appSel.dataset.names !== names) {
        appSel.dataset.names = names;
        appSel.innerHTML = apps.map((a) => `<option>${esc(a.name)}</option>`).join("");
        if (!apps.some((a) => a.name === chosen)) fill(apps[0]);
        appSel.value = chosen;
      }
      root.querySelector(".try").hidden = apps.length === 0;
      let none = root.querySelector(".none-http");
      if (apps.length === 0 && !none) {
        root.insertAdjacentHTML("beforeend", `<p class="muted none-http">No application takes HTTP traffic.</p>`);
      } else if (apps.length > 0 && none) none.remove();
    },
  };
}
