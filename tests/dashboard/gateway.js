// Helpers for the dashboard's browser test: a real gantry gateway on free
// loopback ports, Debian's chromium through playwright-core, and a small
// reverse proxy that mounts the dashboard under a path prefix.

import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = path.dirname(fileURLToPath(import.meta.url));
export const repo = path.resolve(here, "../..");
export const shots = path.join(here, "screenshots");

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// eventually polls f until it returns a truthy value or the deadline passes.
export async function eventually(what, f, ms = 60000) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      const v = await f();
      if (v) return v;
    } catch (e) { last = e; }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms${last ? ": " + last.message : ""}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function getJSON(url) {
  const resp = await fetch(url, { signal: AbortSignal.timeout(10000) });
  if (!resp.ok) throw new Error(`${url}: ${resp.status}`);
  return resp.json();
}

// startGateway runs `gantry serve CONFIG` on free ports until stop().
export async function startGateway(config = "examples/stable-diffusion/serve.yaml", env = {}) {
  const bin = process.env.GANTRY_BIN || path.join(repo, "bin", "gantry");
  const httpPort = await freePort(), dashboardPort = await freePort(), grpcPort = await freePort();
  const stateDir = mkdtempSync(path.join(os.tmpdir(), "gantry-dashboard-test-"));
  const proc = spawn(bin, ["serve", path.join(repo, config), "--http-port", String(httpPort),
    "--dashboard-port", String(dashboardPort), "--grpc-port", String(grpcPort), "--state-dir", stateDir],
  { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, ...env } });
  let stderr = "";
  proc.stderr.on("data", (b) => { stderr += b; if (process.env.GANTRY_TEST_LOG) process.stderr.write(b); });
  const exited = new Promise((resolve) => proc.on("exit", (code, sig) => resolve({ code, sig })));
  const gw = {
    ingress: `http://127.0.0.1:${httpPort}`,
    dashboard: `http://127.0.0.1:${dashboardPort}`,
    stderr: () => stderr,
    async stop() {
      proc.kill("SIGTERM");
      const r = await exited;
      rmSync(stateDir, { recursive: true, force: true });
      return r;
    },
  };
  await eventually("the gateway's applications RUNNING", async () => {
    const v = await getJSON(gw.dashboard + "/api/gantry/applications");
    return Object.values(v.applications).length > 0 && Object.values(v.applications).every((a) => a.status === "RUNNING");
  }, 90000).catch((e) => { throw new Error(e.message + "\ngateway stderr:\n" + stderr); });
  return gw;
}

// launchBrowser starts Debian's chromium headless with a fresh profile.
export async function launchBrowser() {
  const profile = mkdtempSync(path.join(os.tmpdir(), "gantry-chromium-"));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    viewport: { width: 1360, height: 900 },
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  return {
    ctx,
    async close() { await ctx.close(); rmSync(profile, { recursive: true, force: true }); },
  };
}

export function screenshotDir() {
  mkdirSync(shots, { recursive: true });
  return shots;
}

// prefixProxy serves target under prefix (e.g. "/gantry/"), as an ingress
// controller or an nginx location would: the prefix is stripped before the
// request goes on; "/gantry" redirects to "/gantry/".
export async function prefixProxy(target, prefix) {
  const base = prefix.replace(/\/$/, "");
  const t = new URL(target);
  const srv = http.createServer((req, res) => {
    if (req.url === base) { res.writeHead(301, { Location: prefix }); res.end(); return; }
    if (!req.url.startsWith(prefix)) { res.writeHead(404); res.end("only " + prefix + " is proxied\n"); return; }
    const up = http.request({ host: t.hostname, port: t.port, method: req.method, path: req.url.slice(base.length),
      headers: { ...req.headers, host: t.host, "x-forwarded-prefix": base } }, (ur) => {
      res.writeHead(ur.statusCode, ur.headers);
      ur.pipe(res);
    });
    up.setTimeout(120000, () => up.destroy(new Error("upstream timeout")));
    up.on("error", (e) => { if (!res.headersSent) res.writeHead(502); res.end(String(e)); });
    req.pipe(up);
  });
  await new Promise((r) => srv.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${srv.address().port}${prefix}`, close: () => new Promise((r) => { srv.closeAllConnections(); srv.close(r); }) };
}
