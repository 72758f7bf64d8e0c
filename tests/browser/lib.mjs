// Shared helpers of the dashboard's browser scenarios: Debian's chromium driven
// by playwright-core (no browser download), a fresh profile per run, and
// checks that print what they saw. A scenario exits 0 only if every check held
// and the page raised no uncaught error.
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const env = (name) => {
  const v = process.env[name];
  if (v === undefined || v === "") throw new Error(`missing environment variable ${name}`);
  return v;
};

export const baseUrl = () => env("BERTH_URL");
export const TOKEN = () => env("BERTH_TOKEN");

let checks = 0;

// check prints one line per verified fact, in the order the user would see them.
export function check(what, ok, detail) {
  if (!ok) throw new Error(`check failed: ${what}${detail !== undefined ? ` (${detail})` : ""}`);
  checks++;
  console.log(`ok ${checks} - ${what}`);
}

// scenario launches the browser, runs fn({page, ...}), and always closes the
// browser and removes its profile. Exits the process with 0 or 1.
export async function scenario(name, fn) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "berth-web-profile-"));
  const pageErrors = [];
  let ctx = null;
  let page = null;
  let rc = 0;
  try {
    ctx = await chromium.launchPersistentContext(profile, {
      executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
      headless: true,
      viewport: { width: 1280, height: 860 },
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    ctx.setDefaultTimeout(30000);
    page = ctx.pages()[0] || (await ctx.newPage());
    page.on("pageerror", (e) => pageErrors.push(String(e)));
    // An HTTP error status the page handles is logged by chromium too: not a bug.
    page.on("console", (m) => {
      if (m.type() !== "error") return;
      console.log(`# console error: ${m.text()}`);
      if (!/^Failed to load resource: the server responded with a status of 4\d\d/.test(m.text()))
        pageErrors.push(`console error: ${m.text()}`);
    });
    page.on("dialog", (d) => { pageErrors.push(`unexpected ${d.type()} dialog: ${d.message()}`); d.dismiss(); });
    console.log(`# scenario ${name}`);
    await fn({ page, ctx });
    check("no uncaught error in the page", pageErrors.length === 0, pageErrors.join("; "));
  } catch (e) {
    rc = 1;
    console.log(`not ok - ${e && e.stack ? e.stack : e}`);
    if (pageErrors.length) console.log(`page errors: ${pageErrors.join("; ")}`);
    if (page) {
      try {
        const dir = process.env.BERTH_FAILURE_DIR;
        if (dir) {
          fs.mkdirSync(dir, { recursive: true });
          const file = path.join(dir, `${name}-failure.png`);
          await page.screenshot({ path: file, fullPage: true });
          console.log(`# failure screenshot: ${file}`);
        }
        const text = await page.evaluate(() => document.body.innerText);
        console.log(`# page text at failure:\n${text.slice(0, 4000)}`);
      } catch (e2) { console.log(`# could not capture the page: ${e2}`); }
    }
  } finally {
    if (ctx) await ctx.close().catch(() => {});
    fs.rmSync(profile, { recursive: true, force: true });
  }
  console.log(rc === 0 ? `# ${name}: ${checks} checks passed` : `# ${name}: FAILED after ${checks} checks`);
  process.exit(rc);
}

// screenshot saves the page under BERTH_SCREENSHOTS when that is set (a
// folder, or 1 for tests/browser/screenshots, which git ignores).
export async function screenshot(page, name) {
  let dir = process.env.BERTH_SCREENSHOTS;
  if (!dir || dir === "0") return;
  if (dir === "1") dir = path.join(path.dirname(fileURLToPath(import.meta.url)), "screenshots");
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  console.log(`# screenshot: ${file}`);
}

// signIn opens the dashboard and signs in with token through the form.
export async function signIn(page, token = TOKEN()) {
  await page.goto(baseUrl() + "/");
  await page.getByLabel("API token").fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.locator("#view-containers").waitFor({ state: "visible" });
  // A marker that a reload would lose: auto-refresh must work without one.
  await page.evaluate(() => { window.__berthNoReload = true; });
}

export const row = (page, name) => page.locator(`#containers tbody tr[data-name="${name}"]`);

// rowText is the visible text of a container's row, spaces squeezed.
export async function rowText(page, name) {
  const t = await row(page, name).innerText();
  return t.replace(/\s+/g, " ").trim();
}

// watchRows records every text a row's status and update cells show, the
// update's status badge and its current step or phase, so that quick
// transitions (deploying lasts a second or two) are not missed.
export async function watchRows(page) {
  await page.evaluate(() => {
    window.__seen = {};
    const note = () => {
      for (const tr of document.querySelectorAll("#containers tbody tr[data-name]")) {
        const n = tr.dataset.name;
        const seen = (window.__seen[n] ||= { status: [], update: [], badge: [], phase: [] });
        const s = tr.querySelector("[data-cell=status] .status");
        const u = tr.querySelector("[data-cell=update]");
        const add = (list, v) => { if (v && list[list.length - 1] !== v) list.push(v); };
        if (s) add(seen.status, s.textContent.trim());
        if (u) add(seen.update, u.innerText.replace(/\s+/g, " ").trim());
        const b = tr.querySelector("[data-cell=update] .status");
        if (b) add(seen.badge, b.textContent.trim());
        const p = tr.querySelector("[data-cell=update] .phase.now");
        if (p) add(seen.phase, p.textContent.trim());
      }
    };
    note();
    new MutationObserver(note).observe(document.querySelector("#containers tbody"),
      { childList: true, subtree: true, characterData: true });
  });
}

export async function seen(page, name) {
  return page.evaluate((n) => (window.__seen && window.__seen[n]) || { status: [], update: [], badge: [], phase: [] }, name);
}

// waitRow waits until the row's text matches re; returns that text.
export async function waitRow(page, name, re, timeout = 60000) {
  const deadline = Date.now() + timeout;
  let last = "";
  while (Date.now() < deadline) {
    if (await row(page, name).count()) {
      last = await rowText(page, name).catch(() => last);
      if (re.test(last)) return last;
    }
    await page.waitForTimeout(100);
  }
  throw new Error(`row ${name} never matched ${re}; last: ${last}`);
}

export async function stillSamePage(page) {
  return page.evaluate(() => window.__berthNoReload === true);
}

// updateButton clicks a row's button by its visible name.
export async function clickRowButton(page, name, label) {
  await row(page, name).getByRole("button", { name: label, exact: true }).click();
}

// routerGet asks berth-router for container name's path, as a client would.
export function routerGet(name, reqPath = "/", org = "default") {
  const port = Number(env("ROUTER_PORT"));
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path: reqPath, timeout: 5000,
      headers: { Host: `${name}.${org}.containers.localhost` } }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c) => { body += c; });
      res.on("end", () => resolve({ status: res.statusCode, body }));
    });
    req.on("timeout", () => req.destroy(new Error("router request timed out")));
    req.on("error", reject);
    req.end();
  });
}

// apiCall is for setup and for checks behind the page, never for what a
// scenario claims the user did.
export async function apiCall(method, p, body) {
  const res = await fetch(baseUrl() + "/api/v1" + p, {
    method, headers: { Authorization: "Bearer " + TOKEN(), "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let data = text;
  try { data = JSON.parse(text); } catch { /* text */ }
  return { status: res.status, data };
}
