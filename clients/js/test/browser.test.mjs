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
