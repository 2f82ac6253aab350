// Drives the wsify console in headless Chromium for console/browser_test.go.
//
//   node console.mjs <console URL> <screenshot.png> [recover]
//
// It talks to the Go test by stdout lines: "joined" once the console has
// joined channel "news" (the test then POSTs /broadcast {"from":"go"}),
// "done" once the screenshot is saved and the channel left again. Any
// failure, a page error or console error included, exits non-zero with the
// reason on stderr.
//
// With "presence" (a server keeping presence, behind an authorizer that
// names the user the query's "user" gives), the page connects as ada,
// shows that identity, joins "news", asks who is there and sees ada and
// the test's own connection (bob).
//
// With "recover" (a server keeping history), after "joined" and the test's
// publication the page disconnects, a publication is made while it is
// away, and on Connect the console must join again from the offset it
// saw and show the missed publication with its offset.
import { chromium } from "playwright-core";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [url, shot, mode] = process.argv.slice(2);
if (!url || !shot) {
  console.error("usage: node console.mjs <console URL> <screenshot.png>");
  process.exit(2);
}

const profile = mkdtempSync(join(tmpdir(), "wsify-chromium-")); // a fresh --user-data-dir
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  viewport: { width: 1280, height: 860 },
});
try {
  const page = browser.pages()[0] ?? await browser.newPage();
  await ({ recover, presence }[mode] ?? drive)(page);
} finally {
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}

// openAndJoin loads the console, waits for its connection and joins
// "news"; it returns the page errors seen, which the caller checks last.
async function openAndJoin(page) {
  page.setDefaultTimeout(20000);
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => m.type() === "error" && errors.push("console: " + m.text()));
  await page.goto(url);
  await page.locator("#status.open").waitFor();
  await page.fill("#channel", "news");
  await page.click("#join");
  return errors;
}

async function drive(page) {
  const errors = await openAndJoin(page);
  await page.locator('#channels .chip[data-channel="news"]').waitFor();
  console.log("joined");

  await page.locator("#log .msg", { hasText: '{"from":"go"}' }).waitFor();

  await page.fill("#bc-channel", "news");
  await page.fill("#bc-content", '{"from":"browser"}');
  await page.click("#send");
  await page.locator("#log .msg", { hasText: '{"from":"browser"}' }).waitFor();

  // The panel has polled /stats since both publications, and a few times
  // more so the chart has a shape to show.
  await page.waitForFunction(() => {
    const d = document.getElementById("chart").dataset;
    return Number(d.published) >= 2 && Number(d.samples) >= 4;
  });
  await page.screenshot({ path: shot, fullPage: true });

  await page.click('#channels .chip[data-channel="news"] button[title="leave news"]');
  await page.locator("#log .ok", { hasText: "leave news: ok" }).waitFor();
  await page.locator("#channels .chip").waitFor({ state: "detached" });
  if (errors.length) throw new Error("page errors: " + errors.join("; "));
  console.log("done");
}

async function recover(page) {
  const errors = await openAndJoin(page);
  await page.locator("#log .ok", { hasText: "join news: ok at offset 0" }).waitFor();
  console.log("joined");
  await page.locator("#log .msg", { hasText: '@1 {"from":"go"}' }).waitFor();

  await page.click("#disconnect");
  await page.locator("#status.closed").waitFor();
  const r = await page.request.post(url + "broadcast", { data: { channel: "news", content: { missed: true } } });
  if (r.status() !== 201) throw new Error("POST /broadcast while away: " + r.status());

  await page.click("#connect");
  await page.locator("#log .ok", { hasText: "join news: ok at offset 2" }).filter({ hasText: "recovered" }).waitFor();
  await page.locator("#log .msg", { hasText: '@2 {"missed":true}' }).waitFor();
  await page.screenshot({ path: shot, fullPage: true });
  if (errors.length) throw new Error("page errors: " + errors.join("; "));
  console.log("done");
}

async function presence(page) {
  page.setDefaultTimeout(20000);
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => m.type() === "error" && errors.push("console: " + m.text()));
  await page.goto(url);
  await page.fill("#query", "user=ada");
  await page.click("#connect");
  await page.locator("#identity", { hasText: "you are ada" }).waitFor();
  await page.fill("#channel", "news");
  await page.click("#join");
  await page.locator('#channels .chip[data-channel="news"]').waitFor();
  console.log("joined");
  await page.locator("#log .msg", { hasText: '{"from":"go"}' }).waitFor(); // bob is in news by now
  await page.click('#channels .chip[data-channel="news"] button[title="who is in news"]');
  await page.locator("#presence", { hasText: "#news: 2 connections, 2 users" }).waitFor();
  await page.locator("#presence li", { hasText: "ada" }).waitFor();
  await page.locator("#presence li", { hasText: "bob" }).waitFor();
  await page.screenshot({ path: shot, fullPage: true });
  if (errors.length) throw new Error("page errors: " + errors.join("; "));
  console.log("done");
}
