// Deploy: paste or upload a config, see every problem inline (checked by
// the gateway, nothing applied), then apply it. Changes need the admin
// token when the gateway has one.

import { NeedsToken, getJSON, send } from "./api.js";
import { esc } from "./util.js";

export const deployView = {
  unmount() { document.removeEventListener("gantry:token-set", this.retry); },
  mount(main) {
    main.innerHTML = `<section class="panel"><h2>Deploy a config</h2>
      <p class="muted">The whole declarative config, YAML or JSON, as for <code>gantry deploy</code>: applications it does not list are deleted. It is checked as you type; nothing changes until you apply.</p>
      <div class="row"><input type="file" id="cfg-file" accept=".yaml,.yml,.json,text/yaml,application/json">
        <button type="button" class="ghost" id="cfg-current">Load the applied config</button></div>
      <p></p>
      <textarea id="cfg-text" rows="22" spellcheck="false" placeholder="applications:\n- name: app\n  route_prefix: /\n  deployments:\n  - name: d\n    replica: {command: [./server]}"></textarea>
      <div id="cfg-check" class="small"></div>
      <p class="row"><button type="button" id="cfg-apply" disabled>Apply</button><span id="cfg-result" class="small"></span></p>
      <p class="muted small">Relative commands resolve against the gateway's working directory; <code>gantry deploy</code> resolves them against the config file's folder first.</p></section>`;
    const text = main.querySelector("#cfg-text"), check = main.querySelector("#cfg-check");
    const apply = main.querySelector("#cfg-apply"), result = main.querySelector("#cfg-result");
    let timer = null, seq = 0;
    const validate = async () => {
      const mine = ++seq;
      if (!text.value.trim()) { check.innerHTML = ""; apply.disabled = true; return; }
      check.innerHTML = `<span class="muted">checking…</span>`;
      try {
        const resp = await send("POST", "api/gantry/validate", text.value, { "Content-Type": "application/yaml" });
        if (mine !== seq) return;
        const v = await resp.json();
        apply.disabled = !v.valid;
        check.innerHTML = v.valid ? `<p class="ok-line" id="cfg-valid">✓ The config is valid.</p>`
          : `<p class="bad-line">${v.problems.length} problem${v.problems.length === 1 ? "" : "s"}:</p><ul class="problems" id="cfg-problems">${v.problems.map((p) =>
            `<li>${p.path ? `<code>${esc(p.path)}</code>: ` : ""}${esc(p.message)}</li>`).join("")}</ul>`;
      } catch (e) {
        if (mine !== seq) return;
        apply.disabled = true;
        check.innerHTML = `<p class="bad-line">${esc(e instanceof NeedsToken ? e.message : "could not check: " + e.message)}</p>`;
      }
    };
    const soon = () => { clearTimeout(timer); timer = setTimeout(validate, 350); };
    this.retry = () => validate(); // a token was just entered
    document.addEventListener("gantry:token-set", this.retry);
    text.addEventListener("input", soon);
    main.querySelector("#cfg-file").addEventListener("change", async (e) => {
      const f = e.target.files[0];
      if (f) { text.value = await f.text(); validate(); }
    });
    main.querySelector("#cfg-current").addEventListener("click", async () => {
      const v = await getJSON("api/gantry/applications");
      text.value = v.config ? JSON.stringify(v.config, null, 2) : "";
      validate();
    });
    apply.addEventListener("click", async () => {
      apply.disabled = true;
      result.textContent = "applying…";
      result.className = "small muted";
      try {
        const resp = await send("PUT", "api/serve/applications/", text.value, { "Content-Type": "application/yaml" });
        const body = (await resp.text()).trim();
        result.textContent = resp.ok ? "Applied. Replicas start in the background: watch the Overview." : `${resp.status}: ${body}`;
        result.className = resp.ok ? "small ok-line" : "small bad-line";
      } catch (e) {
        result.textContent = e.message;
        result.className = "small bad-line";
      } finally {
        apply.disabled = false;
      }
    });
  },
};
