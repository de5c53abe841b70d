// The console in Debian's Chromium, driven by playwright-core (no downloaded browser).
// Started by tests/tests/e2e/console.rs, which runs a gateway with two proposals and passes:
//   CONSOLE_URL  the console's base URL
//   DEMO_ID      the DEMO transfer (needs approvals)
//   BYBIT_ID     the Bybit transaction (denied)
//   ARTIFACTS    where screenshots and downloads go
// Every page must load without a script error or a console error (a Content-Security-Policy
// violation is one), pass axe-core's WCAG 2 A/AA rules, and read with JavaScript off.
// Exits 1 listing every failure.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const { CONSOLE_URL: base, DEMO_ID: demo, BYBIT_ID: bybit, ARTIFACTS: out } = process.env;
const failures = [];
const check = (ok, what) => {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
  if (!ok) failures.push(what);
};

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-dev-shm-usage"],
});
try {
  const context = await browser.newContext({ acceptDownloads: true });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(`console error: ${m.text()}`);
  });

  // Loads `path`, checks it for errors and accessibility, screenshots it as `shot`.
  async function visit(path, shot) {
    errors.length = 0;
    const res = await page.goto(base + path, { waitUntil: "load" });
    check(res && res.status() === 200, `${path} answers 200 (got ${res && res.status()})`);
    await page.waitForTimeout(300); // let the live-update script connect
    // DevTools' evaluate is not subject to the page's CSP, so axe runs without weakening it.
    await page.evaluate(axeSource);
    const result = await page.evaluate(async () =>
      // eslint-disable-next-line no-undef
      axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "best-practice"] } }),
    );
    const violations = result.violations.map(
      (v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`,
    );
    check(result.passes.length > 0, `${path}: axe ran (${result.passes.length} rules passed)`);
    check(violations.length === 0, `${path} passes axe: ${violations.join("; ") || "no violation"}`);
    check(errors.length === 0, `${path} has no script or console error: ${errors.join("; ") || "none"}`);
    if (shot) await page.screenshot({ path: join(out, shot), fullPage: true });
  }

  await visit("/proposals", "proposals.png");
  // The policy is enforced, not only sent: an inline script injected into the page does not run.
  errors.length = 0;
  const ran = await page.evaluate(() => {
    const s = document.createElement("script");
    s.textContent = "window.injected = true;";
    document.body.appendChild(s);
    return window.injected === true;
  });
  check(!ran, "an injected inline script is blocked by the Content-Security-Policy");
  check(errors.some((e) => /Content Security Policy/i.test(e)), `the browser reports the blocked script: ${errors.join("; ")}`);
  check((await page.locator(`a[href="/proposals/${demo}"]`).count()) === 1, "the list links the transfer");

  await visit(`/proposals/${demo}`, "demo-transfer.png");
  const demoText = await page.locator("main").innerText();
  check(/Needs approvals/.test(demoText), "the transfer needs approvals");
  for (const field of ["to", "value", "data", "operation", "safeTxGas", "baseGas", "gasPrice", "gasToken", "refundReceiver", "nonce", "safeTxHash", "domain hash", "message hash"]) {
    check((await page.locator("dl.fields dt", { hasText: new RegExp(`^${field}$`) }).count()) === 1, `the transfer shows ${field}`);
  }

  await visit(`/proposals/${bybit}`, "bybit.png");
  const bybitText = await page.locator("main").innerText();
  check(/DENIED/.test(bybitText), "Bybit is denied");
  check(/DELEGATECALL to 0x/i.test(bybitText), "Bybit's delegatecall is in words");
  check(/singleton/i.test(bybitText), "Bybit's singleton change is in words");
  check((await page.getByRole("button", { name: /approve/i }).count()) === 0, "Bybit offers no approve button");

  await visit("/audit", "audit.png");
  const total = Number((await page.locator("p.small", { hasText: "records in all" }).innerText()).split(" ")[0]);
  const rows = await page.locator("table.records tbody tr").count();
  check(total > 0 && rows === Math.min(total, 100), `the audit page lists every record (${rows} of ${total})`);
  check(/PASS/.test(await page.locator("main").innerText()), "the log verifies against its newest checkpoint");
  for (const name of ["export.jsonl", "checkpoint.note", "audit.pub"]) {
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.locator(`a[href="/audit/${name}"]`).click(),
    ]);
    await download.saveAs(join(out, name));
    check(true, `downloaded ${name}`);
  }
  await visit(`/audit/proposals/${demo}`, "story.png");
  await visit("/audit/events", null);
  await visit("/enrol", "enrol-page.png");
  await visit("/admin/operators", "operators.png");

  // Reading needs no script.
  const noScript = await browser.newContext({ javaScriptEnabled: false });
  const plain = await noScript.newPage();
  await plain.goto(`${base}/proposals/${demo}`);
  check(/Needs approvals/.test(await plain.locator("main").innerText()), "the proposal reads with JavaScript off");
  await noScript.close();
} catch (e) {
  failures.push(`exception: ${e && e.stack ? e.stack : e}`);
  console.log(`FAIL exception: ${e}`);
} finally {
  await browser.close();
}
if (failures.length > 0) {
  console.log(`\n${failures.length} failure(s):\n- ${failures.join("\n- ")}`);
  process.exit(1);
}
console.log("\nall browser checks passed");
