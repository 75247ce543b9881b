// The dashboard in a real browser (Debian's Chromium, driven by playwright-core; no browser
// download), against a running hub and sim fleet that tests/dashboard/dashboard_e2e_test.py
// starts. Prints "ok - …" / "not ok - …" per check. When it needs the fleet changed it prints
// "STEP <what> <arg>" and waits for a line on stdin.
//   HUB_URL ADMIN_URL VIEW_URL (from `berthctl dashboard --print-url`: the page with a token)
//   CLUSTERS (comma-separated) WORKSPACE (ns/name)
//   ROLLOUT_WORKSPACE (ns/name, awaiting approval) SHOTS (screenshot dir) [CHROMIUM]
import { chromium } from "playwright-core";
import { createInterface } from "node:readline";
import { readFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const env = (k) => { if (!process.env[k]) { console.log("not ok - env " + k + " is missing"); process.exit(2); } return process.env[k]; };
const HUB = env("HUB_URL"), ADMIN_URL = env("ADMIN_URL"), VIEW_URL = env("VIEW_URL"), SHOTS = env("SHOTS");
const CLUSTERS = env("CLUSTERS").split(","), WORKSPACE = env("WORKSPACE"), ROLLOUT = env("ROLLOUT_WORKSPACE");
const axeSource = readFileSync(join(dirname(fileURLToPath(import.meta.url)), "..", "node_modules", "axe-core", "axe.min.js"), "utf8");

let failed = 0;
const ok = (cond, what, detail = "") => {
  console.log((cond ? "ok - " : "not ok - ") + what + (detail ? " (" + detail + ")" : ""));
  if (!cond) failed++;
};
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
async function step(what, arg) {
  console.log("STEP " + what + " " + arg);
  const { value } = await lines.next();
  return (value || "").trim();
}

async function contrast(page, view) {
  // Evaluated through the DevTools protocol: the page's CSP (rightly) refuses inline scripts.
  await page.evaluate(axeSource);
  const r = await page.evaluate(async () => (await window.axe.run(document, {
    runOnly: { type: "tag", values: ["wcag2a", "wcag2aa"] } })).violations.map((v) => v.id + ": " + v.nodes.length));
  ok(r.length === 0, "axe-core finds no WCAG 2 A/AA violation (contrast included) on " + view, r.join("; "));
}

let page = null;
const consoleLines = [];
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium", headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"] });
try {
  const admin = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 900 } });
  page = await admin.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => consoleLines.push(m.type() + ": " + m.text()));
  page.on("requestfailed", (r) => consoleLines.push("request failed: " + r.url() + " " + (r.failure() || {}).errorText));

  // Fleet map: every cluster, by region, with its health.
  await page.goto(ADMIN_URL);
  await page.waitForSelector("[data-cluster]", { timeout: 20000 });
  await page.waitForFunction((n) => document.querySelectorAll("[data-cluster]").length >= n, CLUSTERS.length, { timeout: 20000 });
  const shown = await page.$$eval("[data-cluster]", (els) => els.map((e) => e.dataset.cluster).sort());
  ok(JSON.stringify(shown) === JSON.stringify([...CLUSTERS].sort()), "the fleet map shows every cluster", shown.join(","));
  ok(!page.url().includes("token="), "the token left the address bar", page.url());
  const healthy = await page.$$eval("[data-cluster] .badge", (els) => els.map((e) => e.textContent));
  ok(healthy.every((t) => t === "Healthy"), "every cluster is Healthy at start", healthy.join(","));
  ok(await page.locator(".region h3").count() >= 2, "clusters are grouped by region");
  await page.screenshot({ path: join(SHOTS, "fleet.png"), fullPage: true });
  await contrast(page, "the fleet map");

  // Keyboard: the skip link comes first, then the views; Enter follows a link.
  await page.keyboard.press("Tab");
  ok(await page.evaluate(() => document.activeElement.className === "skip"), "Tab reaches the skip link first");
  await page.keyboard.press("Tab");
  await page.keyboard.press("Tab");
  ok(await page.evaluate(() => document.activeElement.getAttribute("href")) === "#/workspaces", "the next Tab stops are the views");
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => location.hash === "#/workspaces" && document.querySelector("main h2").textContent === "Workspaces");
  ok(true, "Enter on the Workspaces link opens the view");
  ok(await page.evaluate(() => document.querySelector('nav a[aria-current="page"]').getAttribute("href")) === "#/workspaces",
     "the current view is marked aria-current");

  // A workspace: where it runs and why.
  const [ns, name] = WORKSPACE.split("/");
  await page.goto(HUB + "/ui/#/workspaces/" + ns + "/" + name);
  await page.waitForFunction(() => [...document.querySelectorAll("h3")].some((e) => e.textContent === "Why these clusters"));
  await page.waitForFunction(() => document.querySelectorAll("table[data-table=placements] tbody td:not([colspan])").length > 0,
    null, { timeout: 30000 });
  const placed = await page.$$eval("table[data-table=placements] tbody tr td:first-child:not([colspan])", (els) => els.map((e) => e.textContent));
  ok(placed.length > 0 && placed.every((c) => CLUSTERS.includes(c)), "the workspace page lists its placements", placed.join(","));
  const scores = await page.$$eval("table[data-table=scores] tbody tr", (rows) => rows.map((r) =>
    [...r.querySelectorAll("td")].map((td) => td.textContent)));
  ok(scores.length > 0 && scores.every((r) => CLUSTERS.includes(r[0]) && r.length === 9),
     "the explanation shows each feasible cluster's score and terms", scores.map((r) => r[0] + " " + r[1]).join(", "));
  const rejected = await page.locator("h4:text('Rejected') + *").textContent();
  ok(rejected.length > 0, "the explanation says which clusters were rejected, and why", rejected.slice(0, 120));
  await page.screenshot({ path: join(SHOTS, "workspace.png"), fullPage: true });
  await contrast(page, "a workspace page");

  // Approve a stage: the admin can, from the page.
  await page.goto(HUB + "/ui/#/rollouts");
  const section = `section[data-workspace="${ROLLOUT}"]`;
  await page.waitForSelector(section + ' button[data-action="approve"]:not([disabled])', { timeout: 60000 });
  await page.screenshot({ path: join(SHOTS, "rollout-awaiting.png"), fullPage: true });
  await contrast(page, "the rollouts view");

  // A read-only token sees the rollout and is refused when it tries.
  const viewer = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 900 } });
  const vpage = await viewer.newPage();
  await vpage.goto(VIEW_URL);
  await vpage.goto(HUB + "/ui/#/rollouts");
  await vpage.waitForSelector(section + ' button[data-action="approve"]', { timeout: 30000 });
  await vpage.waitForSelector(section + " .actions .muted", { timeout: 10000 });
  ok((await vpage.textContent(section + " .actions .muted")).includes("read-only"), "the page tells a read-only token it may not approve");
  ok(await vpage.isDisabled(section + ' button[data-action="approve"]'), "and keeps its approve button disabled");
  // The same status write the button makes, sent anyway with the viewer's token: the hub refuses it.
  const forced = await vpage.evaluate(async (ws) => {
    const [ns, name] = ws.split("/");
    const path = "/apis/berth.dev/v1alpha1/namespaces/" + ns + "/workspaces/" + name;
    const auth = { Authorization: "Bearer " + sessionStorage.getItem("berth-token") };
    const fresh = await (await fetch(path, { headers: auth })).json();
    fresh.status.rollout.approvedStages = [...fresh.status.rollout.approvedStages, fresh.status.rollout.stage];
    const r = await fetch(path + "/status", { method: "PUT", body: JSON.stringify(fresh),
      headers: { ...auth, "Content-Type": "application/json" } });
    return r.status + " " + (await r.json()).message;
  }, ROLLOUT);
  ok(forced.startsWith("403 ") && /cannot update resource "workspaces\/status"/.test(forced),
     "the hub refuses a read-only token's approval even when the page is bypassed", forced);
  await vpage.screenshot({ path: join(SHOTS, "rollout-read-only.png"), fullPage: true });
  const stillWaiting = await page.evaluate((s) => document.querySelector(s + " h3").textContent, section);
  ok(stillWaiting.includes("AwaitingApproval"), "the read-only attempt changed nothing", stillWaiting);

  ok(!(await page.isDisabled(section + ' button[data-action="undo"]')), "the admin may also undo (a last good revision exists)");
  await page.click(section + ' button[data-action="approve"]');
  await page.waitForSelector(section + " .notice", { timeout: 10000 });
  ok((await page.textContent(section + " .notice")).startsWith("approve: done"), "the admin approves the stage from the page");
  await page.waitForFunction((s) => !document.querySelector(s + " h3").textContent.includes("AwaitingApproval"), section, { timeout: 30000 });
  ok(true, "the rollout leaves AwaitingApproval, seen live");
  await page.screenshot({ path: join(SHOTS, "rollout-approved.png"), fullPage: true });

  // Failover, live: the page stays open (no reload) while an agent is SIGKILLed.
  await page.goto(HUB + "/ui/#/fleet");
  await page.waitForSelector("[data-cluster]");
  await page.evaluate(() => { window.__sameDocument = true; });
  const killed = await step("kill-agent-of", WORKSPACE);
  await page.waitForFunction((c) => {
    const b = document.querySelector(`[data-cluster="${c}"] .badge`);
    return b && b.textContent === "Unhealthy";
  }, killed, { timeout: 60000 });
  ok(await page.evaluate(() => window.__sameDocument === true), "the cluster turned Unhealthy on the open page, without a reload", killed);
  await page.screenshot({ path: join(SHOTS, "fleet-unhealthy.png"), fullPage: true });
  await page.goto(HUB + "/ui/#/workspaces/" + ns + "/" + name);
  await page.evaluate(() => { window.__sameDocument = true; });
  await page.waitForFunction((c) => {
    const rows = [...document.querySelectorAll("table[data-table=placements] tbody tr td:first-child:not([colspan])")].map((e) => e.textContent);
    return rows.length > 0 && !rows.includes(c);
  }, killed, { timeout: 90000 });
  const moved = await page.$$eval("table[data-table=placements] tbody tr td:first-child:not([colspan])", (els) => els.map((e) => e.textContent));
  ok(await page.evaluate(() => window.__sameDocument === true), "the failover shows on the workspace page without a reload",
     killed + " -> " + moved.join(","));
  await page.screenshot({ path: join(SHOTS, "workspace-failed-over.png"), fullPage: true });

  await page.goto(HUB + "/ui/#/events");
  await page.waitForSelector(".feed li");
  ok(await page.locator('.feed li[data-reason]').count() > 0, "the events feed lists events");
  await page.screenshot({ path: join(SHOTS, "events.png"), fullPage: true });
  ok(errors.length === 0, "no script error on the page", errors.join("; "));
} catch (e) {
  ok(false, "browser session", String(e && e.stack || e));
  for (const l of consoleLines.slice(-20)) console.log("# console " + l);
  if (page) {
    console.log("# page " + page.url() + ": " + ((await page.textContent("main").catch(() => "")) || "").slice(0, 300));
    await page.screenshot({ path: join(SHOTS, "failure.png"), fullPage: true }).catch(() => {});
  }
} finally {
  await browser.close();
}
console.log(failed ? "FAILED " + failed : "PASSED");
process.exit(failed ? 1 : 0);
