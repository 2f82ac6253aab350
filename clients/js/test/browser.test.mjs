// The client in real headless Chromium (playwright-core, as the console's
// test drives it): it imports /wsify.js from the server, joins two
// channels, and is re-joined and delivered to after a crash and after a
// graceful restart of the server, with the browser's own WebSocket.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { startWsify, publish, stats, waitFor } from "./helpers.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
// The console's browser test installs playwright-core (scripts/deps.sh).
const playwright = join(root, "console", "e2e", "node_modules", "playwright-core", "index.mjs");
const chromiumPath = process.env.CHROMIUM || "/usr/bin/chromium";

let browser, profile;
before(async () => {
  // Missing pieces fail the test rather than skip it: green must mean the
  // browser ran.
  for (const f of [playwright, chromiumPath]) if (!existsSync(f)) throw new Error(f + " is missing: run `make deps`");
  const { chromium } = await import(pathToFileURL(playwright).href);
  profile = mkdtempSync(join(tmpdir(), "wsify-js-chromium-"));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});
after(async () => {
  await browser?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

test("in Chromium: re-joined and delivering after a crash and a graceful restart", async () => {
  let node = await startWsify();
  const page = browser.pages()[0] ?? (await browser.newPage());
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  try {
    await page.goto(node.http + "/console.json"); // any page of the server's origin
    await page.evaluate(async (url) => {
      const { Client } = await import("/wsify.js");
      const w = window;
      w.got = [];
      w.states = [];
      w.client = new Client(url, { minDelay: 20, maxDelay: 300, timeout: 2000 });
      w.client.on("state", (s, info) => w.states.push([s, info.code]));
      for (const ch of ["a", "b"]) await w.client.join(ch, { onMessage: (m, meta) => w.got.push(meta.channel + ":" + m) });
    }, node.url);
    const delivered = async (round) => {
      await waitFor(async () => (await stats(node)).channels === 2, 10000, "both channels re-joined");
      for (const ch of ["a", "b"]) await publish(node, ch, round);
      await waitFor(async () => (await page.evaluate(() => window.got.length)) >= 2, 10000, "deliveries");
      assert.deepEqual((await page.evaluate(() => window.got.splice(0))).sort(), ["a:" + round, "b:" + round]);
    };
    await delivered("before");
    for (const [sig, code] of [["SIGKILL", 1006], ["SIGTERM", 1001]]) {
      await node.stop(sig);
      node = await startWsify({ port: node.port });
      await delivered("after " + sig);
      const states = await page.evaluate(() => window.states.splice(0));
      assert.deepEqual(states.find(([s]) => s === "disconnected"), ["disconnected", code]);
      assert.deepEqual(states.at(-1), ["connected", undefined]);
    }
    await page.evaluate(() => window.client.close());
    assert.deepEqual(errors, []);
  } finally {
    await node.stop();
  }
});

test("in Chromium: 2,000 publications, the connection cut three times, every one once, in order", async () => {
  const node = await startWsify({ env: { WSIFY_HISTORY_SIZE: "1000" } });
  const page = browser.pages()[0] ?? (await browser.newPage());
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  try {
    await page.goto(node.http + "/console.json");
    await page.evaluate(async (url) => {
      const { Client } = await import("/wsify.js");
      const w = window;
      w.got = [];
      w.resyncs = 0;
      w.client = new Client(url, { minDelay: 200, maxDelay: 400, timeout: 3000 });
      await w.client.join("news", { onMessage: (m, meta) => w.got.push([m, meta.offset]), onResync: () => w.resyncs++ });
    }, node.url);
    const count = () => page.evaluate(() => window.got.length);
    let sent = 0;
    for (let cut = 1; cut <= 3; cut++) {
      for (let i = 0; i < 600; i++) await publish(node, "news", ++sent);
      await waitFor(async () => (await count()) === sent, 10000, "the publications before cut " + cut);
      await page.evaluate(() => window.client._ws.close()); // the network fails
      for (let i = 0; i < 67; i++) await publish(node, "news", ++sent); // missed while away
      await waitFor(async () => (await stats(node)).connections === 1, 10000, "reconnected after cut " + cut);
    }
    await waitFor(async () => (await count()) === sent, 10000, "every publication");
    const got = await page.evaluate(() => window.got);
    assert.deepEqual(got, Array.from({ length: sent }, (_, i) => [i + 1, i + 1]));
    assert.equal(await page.evaluate(() => window.resyncs), 0);
    await page.evaluate(() => window.client.close());
    assert.deepEqual(errors, []);
  } finally {
    await node.stop();
  }
});
