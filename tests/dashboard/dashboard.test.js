// The dashboard in a real browser against a real gateway running the
// Stable Diffusion example: the application RUNNING, the request-rate
// chart after traffic, a deployment's replicas and live log, the try-it
// panel painting a picture, events, TPU and deploy pages; then the same
// through a reverse proxy that mounts the dashboard under /gantry/.
// Screenshots go to tests/dashboard/screenshots/ (gitignored).

import assert from "node:assert/strict";
import path from "node:path";
import { after, before, test } from "node:test";
import { eventually, launchBrowser, prefixProxy, repo, screenshotDir, startGateway } from "./gateway.js";

let gw, browser;
const shot = (page, name) => page.screenshot({ path: path.join(screenshotDir(), name + ".png"), fullPage: true });

before(async () => {
  gw = await startGateway();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  if (gw) {
    const r = await gw.stop();
    assert.equal(r.code, 0, "gantry serve should exit 0 on SIGTERM; stderr:\n" + gw.stderr());
  }
});

// traffic sends n small picture requests to the ingress.
async function traffic(n) {
  const reqs = [];
  for (let i = 0; i < n; i++) {
    reqs.push(fetch(`${gw.ingress}/imagine?prompt=${encodeURIComponent("a quiet lake " + i)}&steps=2&width=64&height=64`,
      { signal: AbortSignal.timeout(60000) }).then(async (r) => { await r.arrayBuffer(); return r.status; }));
  }
  const codes = await Promise.all(reqs);
  assert.deepEqual(codes.filter((c) => c !== 200), [], "every request should get 200");
}

async function checkDashboard(base, prefix) {
  const page = await browser.ctx.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  page.on("response", (r) => { if (r.status() >= 400) errors.push(`${r.status()} ${r.url()}`); });
  await page.goto(base);

  // The application, RUNNING, in the API's own word.
  const row = page.locator('#apps-table tr[data-app="stable_diffusion"]');
  await row.locator('[data-status="RUNNING"]').first().waitFor({ timeout: 30000 });
  assert.match(await row.textContent(), /painter/);
  await shot(page, prefix + "overview");

  // Traffic makes the request-rate chart draw.
  await traffic(30);
  const chart = page.locator("#rps-stable_diffusion");
  await eventually("the request-rate chart to draw", async () => Number(await chart.getAttribute("data-max")) > 0, 30000);
  assert.ok(Number(await chart.getAttribute("data-points")) > 0);
  assert.ok(await chart.locator("path.line").count() > 0, "the chart has a line");
  await shot(page, prefix + "overview-traffic");

  // The try-it panel: type a prompt, see the picture.
  await page.fill("#try-prompt", "a red lighthouse on a cliff at sunset");
  await page.click("#try-send");
  const img = page.locator("#try-image");
  await img.waitFor({ timeout: 60000 });
  await eventually("the picture to load", () => img.evaluate((el) => el.complete && el.naturalWidth > 0), 30000);
  assert.match(await page.textContent("#try-status"), /^200 /);
  await page.locator("#try-panel").scrollIntoViewIfNeeded();
  await shot(page, prefix + "try-it");

  // A deployment: its replicas and the live tail of a log.
  await page.click('#apps-table a.dep-link:text("painter")');
  const rows = page.locator("#replica-table tbody tr");
  await eventually("two RUNNING replicas", async () => (await rows.locator('[data-status="RUNNING"]').count()) === 2, 30000);
  const pid = await rows.first().locator("td").nth(2).textContent();
  assert.match(pid.trim(), /^\d+$/, "a replica shows its PID");
  await eventually("the log tail", async () => /replica listening/.test(await page.textContent("#log")), 30000);
  // Live: new requests write new lines while we watch. The log shown is one
  // replica's and requests go to either, so keep sending until one lands.
  const before = (await page.textContent("#log")).split("\n").length;
  await eventually("new log lines to arrive live", async () => {
    await traffic(2);
    return (await page.textContent("#log")).split("\n").length > before;
  }, 30000);
  await eventually("the latency chart", async () => Number(await page.getAttribute("#chart-latency", "data-points")) > 0, 30000);
  await shot(page, prefix + "deployment");

  // Events: the deploy, the replicas becoming healthy, and a crash: kill
  // the replica whose log we watch and see it crash and be replaced.
  const selected = page.locator("#replica-table tr.selected");
  const victim = await selected.getAttribute("data-replica");
  process.kill(Number((await selected.locator("td").nth(2).textContent()).trim()), "SIGKILL");
  await page.click('nav a[data-view="events"]');
  await page.locator('#ev-list li[data-kind="CONFIG_APPLIED"]').first().waitFor({ timeout: 30000 });
  const crash = page.locator('#ev-list li[data-kind="REPLICA_CRASHED"]', { hasText: victim });
  await crash.first().waitFor({ timeout: 30000 });
  assert.match(await crash.first().textContent(), /signal: killed/);
  const crashSeq = Number(await crash.first().getAttribute("data-seq"));
  await eventually("the replacement to become healthy", async () => {
    const seqs = await page.locator('#ev-list li[data-kind="REPLICA_HEALTHY"]').evaluateAll((els) => els.map((e) => Number(e.dataset.seq)));
    return seqs.some((n) => n > crashSeq);
  }, 30000);
  await shot(page, prefix + "events");
  // The deployment counts the failure.
  await page.goBack();
  await eventually("the failure counted", async () => /[1-9]\d*replica failures/.test(await page.textContent("#dep-stats")), 15000);

  // TPU: this config has no worker groups, and says so.
  await page.click('nav a[data-view="tpu"]');
  await page.locator("#tpu", { hasText: "No worker groups" }).waitFor({ timeout: 10000 });

  // Deploy: an invalid config shows every problem with its path, inline.
  await page.click('nav a[data-view="deploy"]');
  await page.fill("#cfg-text", "applications:\n- name: app\n  route_prefix: /\n  deployments:\n  - name: d\n    num_replicas: -2\n    colour: blue\n    replica: {command: [x]}\n");
  await page.locator("#cfg-problems li").first().waitFor({ timeout: 10000 });
  const problems = await page.textContent("#cfg-problems");
  assert.match(problems, /applications\[0\]\.deployments\[0\]\.colour/);
  assert.match(problems, /num_replicas/);
  assert.ok(await page.isDisabled("#cfg-apply"), "an invalid config cannot be applied");
  await shot(page, prefix + "deploy-invalid");
  // Upload: the example's own file is valid.
  await page.setInputFiles("#cfg-file", path.join(repo, "examples/stable-diffusion/serve.yaml"));
  await page.locator("#cfg-valid").waitFor({ timeout: 10000 });
  assert.match(await page.inputValue("#cfg-text"), /stable_diffusion/);
  assert.ok(!(await page.isDisabled("#cfg-apply")));
  await page.fill("#cfg-text", "");
  await page.click("#cfg-current");
  await page.locator("#cfg-valid").waitFor({ timeout: 10000 });

  assert.deepEqual(errors, [], "no errors in the page's console");
  await page.close();
}

test("dashboard on the dashboard port", async () => {
  await checkDashboard(gw.dashboard + "/", "");
});

test("dashboard through a reverse proxy under /gantry/", async () => {
  const proxy = await prefixProxy(gw.dashboard, "/gantry/");
  try {
    await checkDashboard(proxy.url, "prefix-");
  } finally {
    await proxy.close();
  }
});

test("with an admin token, the page asks for it before a change", async () => {
  const token = "dashboard-test-token";
  const gw2 = await startGateway("examples/stable-diffusion/serve.yaml", { GANTRY_ADMIN_TOKEN: token });
  const page = await browser.ctx.newPage();
  try {
    await page.goto(gw2.dashboard + "/#/deploy");
    assert.ok(await page.isHidden("#token-bar"));
    await page.click("#cfg-current"); // reads stay open; validating is a POST
    await page.locator("#token-bar").waitFor({ state: "visible", timeout: 10000 });
    assert.match(await page.textContent("#token-why"), /refused the change/);
    assert.match(await page.textContent("#cfg-check"), /admin token/);
    await shot(page, "token-asked");
    await page.fill("#token-input", token);
    await page.click('#token-bar button[type="submit"]');
    assert.ok(await page.isHidden("#token-bar"));
    await page.locator("#cfg-valid").waitFor({ timeout: 10000 }); // checked again with the token
    await page.click("#cfg-apply");
    await eventually("the config to be applied", async () => /Applied/.test(await page.textContent("#cfg-result")), 15000);
  } finally {
    await page.close();
    assert.equal((await gw2.stop()).code, 0);
  }
});
