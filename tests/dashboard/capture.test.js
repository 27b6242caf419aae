// Screenshots for docs and bug reports: `chromium --headless --screenshot
// --virtual-time-budget=5000 URL` must finish and write a picture. An open
// EventSource (the live events and log streams) keeps chromium's virtual
// time from ever running out, so the capture hangs; ?static=1 renders the
// page once from plain GETs, with no stream and no timer. This runs the
// real chromium command line as a child process against a real gantry.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { startGateway } from "./gateway.js";

const CAPTURE_TIMEOUT_MS = 60000;
const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

let gw;
before(async () => { gw = await startGateway(); });
after(async () => {
  if (gw) assert.equal((await gw.stop()).code, 0, "gantry serve should exit 0 on SIGTERM; stderr:\n" + gw.stderr());
});

// capture runs chromium's own screenshot mode on url and resolves with
// {code, timedOut, png}; a capture still running after CAPTURE_TIMEOUT_MS is
// killed (its whole process group: the chromium wrapper and the browser).
function capture(url) {
  const dir = mkdtempSync(path.join(os.tmpdir(), "gantry-capture-"));
  const out = path.join(dir, "shot.png");
  const proc = spawn(process.env.CHROMIUM || "/usr/bin/chromium", ["--headless", "--no-sandbox", "--disable-gpu",
    "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
    `--user-data-dir=${path.join(dir, "profile")}`, "--window-size=1360,900",
    `--screenshot=${out}`, "--virtual-time-budget=5000", url], { stdio: "ignore", detached: true });
  return new Promise((resolve) => {
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; process.kill(-proc.pid, "SIGKILL"); }, CAPTURE_TIMEOUT_MS);
    proc.on("exit", (code) => {
      clearTimeout(timer);
      let png = Buffer.alloc(0);
      try { png = readFileSync(out); } catch { /* none written */ }
      rmSync(dir, { recursive: true, force: true });
      resolve({ code, timedOut, png });
    });
  });
}

for (const page of ["?static=1", "?static=1#/events", "#/events?static=1", "?static=1#/app/stable_diffusion/painter"]) {
  test(`chromium --screenshot finishes on /${page}`, async () => {
    const r = await capture(`${gw.dashboard}/${page}`);
    assert.ok(!r.timedOut, `the capture of /${page} did not finish within ${CAPTURE_TIMEOUT_MS} ms`);
    assert.equal(r.code, 0, "chromium's exit code");
    assert.ok(r.png.length > 1000, `a PNG was written (got ${r.png.length} bytes)`);
    assert.deepEqual(r.png.subarray(0, 8), PNG_MAGIC, "the file is a PNG");
  });
}
