// Approvals with security keys in Debian's Chromium: Chrome's virtual authenticators (the
// DevTools WebAuthn domain: CTAP2, resident keys, user verification) stand in for bob's and
// carol's keys. Driven by tests/tests/e2e/console.rs, which passes:
//   CONSOLE_URL  the console as http://localhost:PORT (WebAuthn's relying party is localhost)
//   PHISH_URL    the same console relayed by a look-alike site on another origin
//   DEMO_ID      the DEMO transfer both approve
//   OTHER_ID     a second transfer, for the refusals
//   ARTIFACTS    where screenshots go
// Phase 1 enrols both keys through the console and prints `ENROLLED {json}`; the Rust test
// applies the policy change that adds them and answers `GO` on stdin. Phase 2 tries every
// refusal, then approves with both. Prints `ok`/`FAIL` lines; exits 1 on any failure.
import { createInterface } from "node:readline";
import { join } from "node:path";
import { chromium } from "playwright-core";

const { CONSOLE_URL: base, PHISH_URL: phish, DEMO_ID: demo, OTHER_ID: other, ARTIFACTS: out } = process.env;
const failures = [];
const check = (ok, what) => {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
  if (!ok) failures.push(what);
};
const lines = createInterface({ input: process.stdin });
const nextLine = () => new Promise((resolve) => lines.once("line", resolve));

const AUTHENTICATOR = {
  protocol: "ctap2",
  transport: "usb",
  hasResidentKey: true,
  hasUserVerification: true,
  isUserVerified: true,
  automaticPresenceSimulation: true,
};

// A page with its own virtual authenticator (and its own browser context, like a laptop).
async function holder(browser, options = {}) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  const cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: { ...AUTHENTICATOR, ...options },
  });
  return { context, page, cdp, authenticatorId, errors };
}

// Opens `url` in `page`. A proposal page reloads itself when WatchProposal reports a change,
// and a reload that starts while we navigate aborts our navigation (net::ERR_ABORTED): then
// let the page settle and go again.
async function visit(page, url) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await page.goto(url);
    } catch (e) {
      if (attempt >= 5 || !/ERR_ABORTED|interrupted by another navigation/.test(String(e))) throw e;
      await page.waitForLoadState("load").catch(() => {});
    }
  }
}

async function enrol(h, operator) {
  await visit(h.page, `${base}/enrol`);
  await h.page.fill("#operator", operator);
  await h.page.click("#enrol-button");
  await h.page.waitForSelector("#enrolled:not([hidden])", { timeout: 20000 });
  return (await h.page.locator("#policy-line").innerText()).trim();
}

// Signs the statement of `statementFor` with this page's authenticator and posts it as the
// approval of `postTo`; `uv` is the user verification asked. Returns {status, body, credential}.
async function signVia(h, statementFor, postTo, uv = "required", replay = null, allow = null) {
  return h.page.evaluate(
    async ({ statementFor, postTo, uv, replay, allow }) => {
      const toBytes = (t) => {
        const s = t.replace(/-/g, "+").replace(/_/g, "/");
        return Uint8Array.from(atob(s + "===".slice((s.length + 3) % 4)), (c) => c.charCodeAt(0));
      };
      const st = await (await fetch(`/proposals/${statementFor}/statement?kind=approve`)).json();
      let credential = replay;
      if (!credential) {
        const publicKey = { challenge: toBytes(st.challenge), rpId: location.hostname, userVerification: uv };
        if (allow) publicKey.allowCredentials = [{ type: "public-key", id: toBytes(allow) }];
        const c = await navigator.credentials.get({ publicKey });
        credential = c.toJSON();
      }
      const target = await (await fetch(`/proposals/${postTo}/statement?kind=approve`)).json();
      const payload = statementFor === postTo ? st.payload : target.payload;
      const res = await fetch(`/proposals/${postTo}/sign`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ kind: "approve", payload, credential }),
      });
      return { status: res.status, body: await res.json(), credential };
    },
    { statementFor, postTo, uv, replay, allow },
  );
}

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-dev-shm-usage"],
});
try {
  // Phase 1: enrolment through the console.
  const bob = await holder(browser);
  const carol = await holder(browser);
  const stranger = await holder(browser);
  const enrolled = { bob: await enrol(bob, "bob"), carol: await enrol(carol, "carol") };
  check(/webauthn = \{ id = "/.test(enrolled.bob), `bob's signed enrolment gives a policy line: ${enrolled.bob}`);
  await enrol(stranger, "mallory"); // enrolled in the browser, never added to the policy
  await bob.page.screenshot({ path: join(out, "enrol.png"), fullPage: true });
  console.log(`ENROLLED ${JSON.stringify(enrolled)}`);
  check((await nextLine()) === "GO", "the policy change that adds both keys was applied");

  // Phase 2: refusals first, each with the gateway's reason.
  await visit(bob.page, `${base}/proposals/${demo}`);
  await bob.page.screenshot({ path: join(out, "webauthn-before.png"), fullPage: true });
  const foreign = await signVia(bob, other, demo);
  check(foreign.status === 400 && /challenge/i.test(foreign.body.message), `an assertion for another proposal's statement is refused: ${foreign.status} ${foreign.body.message}`);
  // bob's credential on an authenticator that does not verify its user.
  const exported = (await bob.cdp.send("WebAuthn.getCredentials", { authenticatorId: bob.authenticatorId })).credentials[0];
  const lax = await holder(browser, { hasUserVerification: false, isUserVerified: false });
  await lax.cdp.send("WebAuthn.addCredential", {
    authenticatorId: lax.authenticatorId,
    credential: { ...exported, signCount: 1000 },
  });
  await visit(lax.page, `${base}/proposals/${demo}`);
  const bobId = exported.credentialId.replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  const noUv = await signVia(lax, demo, demo, "discouraged", null, bobId);
  check(noUv.status === 400 && /verif/i.test(noUv.body.message), `an assertion without user verification is refused: ${noUv.status} ${noUv.body.message}`);
  const unknown = await signVia(stranger, demo, demo);
  check(unknown.status === 403 && /not enrolled/.test(unknown.body.message), `a credential not in the policy is refused: ${unknown.status} ${unknown.body.message}`);
  // bob approves the other transfer; the same assertion again is a replay.
  const first = await signVia(bob, other, other);
  check(first.status === 200, `bob approves the other transfer: ${first.status} ${JSON.stringify(first.body)}`);
  const replayed = await signVia(bob, other, other, "required", first.credential);
  check(replayed.status >= 400, `a replayed assertion is refused: ${replayed.status} ${replayed.body.message}`);
  // The console relayed by a look-alike site on another origin: bob's key signs there (the
  // relying party is still localhost), so the browser writes the relay's origin, which the
  // gateway does not accept.
  await visit(bob.page, `${phish}/proposals/${demo}`);
  const phished = await signVia(bob, demo, demo);
  check(phished.status === 400 && /origin/.test(phished.body.message), `an assertion made on another origin (a phishing relay) is refused: ${phished.status} ${phished.body.message}`);
  await visit(bob.page, `${base}/proposals/${demo}`);
  // A copy of bob's key whose counter lags: a cloned authenticator.
  const { credentials } = await bob.cdp.send("WebAuthn.getCredentials", { authenticatorId: bob.authenticatorId });
  const clone = await holder(browser);
  await clone.cdp.send("WebAuthn.addCredential", {
    authenticatorId: clone.authenticatorId,
    credential: { ...credentials[0], signCount: 0 },
  });
  await visit(clone.page, `${base}/proposals/${demo}`);
  const cloned = await signVia(clone, demo, demo);
  check(cloned.status === 403 && /cloned/.test(cloned.body.message), `a decreasing signature counter is refused: ${cloned.status} ${cloned.body.message}`);

  // Then both approve through the page's buttons.
  for (const [name, h] of [["bob", bob], ["carol", carol]]) {
    await visit(h.page, `${base}/proposals/${demo}`);
    // The answer shows, or the page reloads at once because WatchProposal saw the change.
    const reloaded = h.page.waitForEvent("load", { timeout: 20000 }).then(() => "(page reloaded on the change)");
    await h.page.click("#approve-button");
    const answered = h.page
      .waitForFunction(() => /Recorded|Refused/.test(document.getElementById("sign-result")?.textContent || ""), null, { timeout: 20000 })
      .then(() => h.page.locator("#sign-result").innerText());
    const said = await Promise.race([reloaded, answered]).catch((e) => `no answer: ${e.message}`);
    check(!/Refused/.test(said), `${name} approves with the page's button: ${said}`);
  }
  await visit(carol.page, `${base}/proposals/${demo}`);
  const text = await carol.page.locator("main").innerText();
  check(/APPROVED/.test(text), "the proposal is Approved on the page");
  check((await carol.page.locator("#approve-button").count()) === 0, "an approved proposal offers no approve button");
  await carol.page.screenshot({ path: join(out, "webauthn-after.png"), fullPage: true });
  // The admin's page shows both security keys, with their relying party.
  await visit(carol.page, `${base}/admin/operators`);
  const ops = await carol.page.locator("main").innerText();
  check((ops.match(/\(relying party localhost\)/g) || []).length === 2, `the operators page lists both security keys: ${ops}`);
  for (const [name, h] of [["bob", bob], ["carol", carol]]) {
    check(h.errors.length === 0, `${name}'s pages had no script error: ${h.errors.join("; ") || "none"}`);
  }
} catch (e) {
  failures.push(`exception: ${e && e.stack ? e.stack : e}`);
  console.log(`FAIL exception: ${e}`);
} finally {
  await browser.close();
  lines.close();
}
if (failures.length > 0) {
  console.log(`\n${failures.length} failure(s):\n- ${failures.join("\n- ")}`);
  process.exit(1);
}
console.log("\nall WebAuthn browser checks passed");
