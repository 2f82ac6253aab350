// Reconnects: the back-off's bounds and jitter, re-joins after a restart of
// the real server, 1013, the close reason that stops the client, and the
// bounded queue of commands sent while disconnected.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { Client } from "../wsify.js";
import { startWsify, publish, stats, authorizer, fakeServer, freePort, nextState, waitFor, sleep, histogram } from "./helpers.mjs";

const open = new Set();
after(() => open.forEach((c) => c.close()));
function client(url, options) {
  const c = new Client(url, options);
  open.add(c);
  return c;
}

test("back-off: bounds, full jitter, no two waits alike, over 100 reconnects", async (t) => {
  const lo = 5, hi = 60, n = 100;
  const c = client("ws://127.0.0.1:" + (await freePort()) + "/ws", { minDelay: lo, maxDelay: hi });
  const waits = []; // [drawn delay, measured ms until the next attempt, attempt]
  let since;
  await new Promise((resolve) => {
    c.on("state", (s, info) => {
      if (s === "disconnected") {
        since = performance.now();
        waits.push([info.delay, 0, info.attempt]);
      } else if (s === "connecting" && since !== undefined) {
        waits.at(-1)[1] = performance.now() - since;
        if (waits.length === n) resolve();
      }
    });
  });
  c.close();
  waits.forEach(([delay, measured, attempt], i) => {
    assert.equal(attempt, i + 1);
    const cap = Math.min(hi, lo * 2 ** (i + 1));
    assert.ok(delay >= lo && delay <= cap, `wait ${i}: ${delay} outside [${lo}, ${cap}]`);
    // Node's timers drop the fraction and start from the loop's clock.
    assert.ok(measured >= Math.floor(delay) - 2, `wait ${i}: attempted after ${measured} ms, drawn ${delay}`);
    assert.ok(measured <= delay + 250, `wait ${i}: attempted after ${measured} ms, drawn ${delay}`);
    if (i > 0) assert.notEqual(delay, waits[i - 1][0], `waits ${i - 1} and ${i} are identical`);
  });
  // From the fourth attempt on the cap is maxDelay: the waits spread
  // uniformly over [minDelay, maxDelay].
  const full = waits.slice(3).map(([d]) => d);
  const h = histogram(full, lo, (hi - lo) / 10, 10);
  t.diagnostic("waits once the cap is maxDelay (" + full.length + "), ms:");
  h.text.split("\n").forEach((l) => t.diagnostic(l));
  assert.ok(h.counts.every((k) => k > 0), "a tenth of the window got no wait: " + h.counts);
  const mean = full.reduce((a, b) => a + b, 0) / full.length;
  assert.ok(Math.abs(mean - (lo + hi) / 2) < (hi - lo) * 0.15, "mean wait " + mean);
  assert.ok(Math.min(...full) < lo + (hi - lo) * 0.1 && Math.max(...full) > hi - (hi - lo) * 0.1, "waits do not reach the window's ends");
});

// restartAndCheck joins three channels, ends the server with sig, starts
// it again on the same port and wants every channel re-joined and
// delivering.
async function restartAndCheck(sig, wantCode, capOfFirst) {
  const opts = { minDelay: 20, maxDelay: 300, timeout: 2000 };
  let node = await startWsify();
  try {
    const c = client(node.url, opts);
    await nextState(c, "connected");
    const got = { a: [], b: [], c: [] };
    for (const ch of Object.keys(got)) await c.join(ch, { onMessage: (m) => got[ch].push(m) });
    const down = nextState(c, "disconnected");
    await node.stop(sig);
    const info = await down;
    assert.equal(info.code, wantCode);
    assert.ok(info.delay >= opts.minDelay && info.delay <= capOfFirst(opts), "first delay " + info.delay);
    node = await startWsify({ port: node.port });
    await nextState(c, "connected", 5000);
    await waitFor(async () => (await stats(node)).channels === 3, 5000, "three channels re-joined");
    for (const ch of Object.keys(got)) await publish(node, ch, ch + " after");
    await waitFor(() => Object.values(got).every((l) => l.length === 1), 5000, "deliveries after the restart");
    assert.deepEqual(got, { a: ["a after"], b: ["b after"], c: ["c after"] });
    c.close();
  } finally {
    await node.stop();
  }
}

test("a graceful restart (1001): first wait spans the window, every channel re-joined", () =>
  restartAndCheck("SIGTERM", 1001, (o) => o.maxDelay));

test("a crash (1006): quick jittered retry, every channel re-joined", () =>
  restartAndCheck("SIGKILL", 1006, (o) => 2 * o.minDelay));

test("1013 (authorizer down) backs off without resetting; re-joined when it is back", async () => {
  let down = false;
  const auth = await authorizer((b) => (b.command !== "connect" && down ? 503 : 200));
  const node = await startWsify({ env: { WSIFY_AUTHORIZER_URL: auth.url, WSIFY_AUTHORIZER_TIMEOUT: "200ms" } });
  try {
    const lo = 20, hi = 300;
    const c = client(node.url, { minDelay: lo, maxDelay: hi, timeout: 2000 });
    await nextState(c, "connected");
    const got = [];
    await c.join("a", { onMessage: (m) => got.push(m) });
    const closes = [];
    c.on("state", (s, info) => s === "disconnected" && closes.push(info));
    down = true;
    // The broadcast asks the authorizer, which is down: 1013. Each
    // reconnect's re-join meets it again.
    await assert.rejects(c.broadcast("a", 1), { code: "disconnected" });
    await waitFor(() => closes.length >= 8, 10000, "eight 1013 closes");
    down = false;
    await nextState(c, "connected", 5000);
    await waitFor(async () => (await stats(node)).channels === 1, 5000, "re-joined");
    await publish(node, "a", "back");
    await waitFor(() => got.length === 1);
    assert.deepEqual(got, ["back"]);
    const first = closes.slice(0, 8);
    for (const [i, info] of first.entries()) {
      assert.equal(info.code, 1013);
      assert.equal(info.attempt, i + 1, "the short connections did not reset the back-off");
      assert.ok(info.delay >= lo && info.delay <= hi);
    }
    // Each wait is drawn from the whole window, not from the first
    // attempt's [minDelay, 2*minDelay].
    const mean = first.reduce((a, i) => a + i.delay, 0) / first.length;
    assert.ok(mean > 3 * lo, "mean wait after 1013: " + mean);
    c.close();
  } finally {
    await node.stop();
    await auth.close();
  }
});

test('a close reason with "reconnect":false stops the client; others do not', async () => {
  const fake = await fakeServer((conn) => {
    conn.onCommand = (cmd) => {
      if (cmd.command === "join") conn.send({ id: cmd.id, ok: true });
      if (cmd.command === "broadcast" && cmd.args.content === "kick me") {
        conn.close(4001, JSON.stringify({ reason: "kicked", reconnect: false }));
      }
      if (cmd.command === "broadcast" && cmd.args.content === "bye") conn.close(4002, "bye");
    };
  });
  try {
    const c = client(fake.url, { minDelay: 5, maxDelay: 20 });
    await nextState(c, "connected");
    await c.join("a");
    // A plain close: the client comes back and re-joins.
    const back = nextState(c, "connected");
    await assert.rejects(c.broadcast("a", "bye"), { code: "disconnected" });
    await back;
    await waitFor(() => fake.conns.length === 2 && fake.conns[1].commands.length === 1);
    assert.deepEqual(fake.conns[1].commands[0].args, { channel: "a" });
    const closed = nextState(c, "closed");
    const kicked = c.broadcast("a", "kick me");
    assert.deepEqual(await closed, { code: 4001, reason: '{"reason":"kicked","reconnect":false}' });
    await assert.rejects(kicked, { code: "closed" });
    await assert.rejects(c.join("b"), { code: "closed" });
    await sleep(100); // five maxDelays: no attempt
    assert.equal(fake.conns.length, 2);
    assert.equal(c.state, "closed");
  } finally {
    await fake.close();
  }
});

test("commands sent while disconnected wait in a bounded queue, then run in order", async () => {
  const port = await freePort();
  const c = client(`ws://127.0.0.1:${port}/ws`, { minDelay: 10, maxDelay: 50, queueSize: 3 });
  const got = [];
  const joined = c.join("q", { onMessage: (m) => got.push(m) });
  const first = c.broadcast("q", 1);
  const second = c.broadcast("q", 2);
  await assert.rejects(c.broadcast("q", 3), { code: "queue_full" });
  await assert.rejects(c.history("q"), { code: "queue_full" });
  await nextState(c, "disconnected"); // nothing listens yet
  const node = await startWsify({ port });
  try {
    const sub = await joined;
    assert.equal(sub.channel, "q");
    await first;
    await second;
    await waitFor(() => got.length === 2);
    assert.deepEqual(got, [1, 2]);
    c.close();
  } finally {
    await node.stop();
  }
});

test("queueSize 0: commands sent while disconnected reject at once", async () => {
  const c = client(`ws://127.0.0.1:${await freePort()}/ws`, { minDelay: 10, maxDelay: 50, queueSize: 0 });
  await assert.rejects(c.broadcast("q", 1), { code: "disconnected" });
  await assert.rejects(c.join("q"), { code: "disconnected" });
  c.close();
});

test("a draining server's delay_ms is the wait before the reconnect", async () => {
  const node = await startWsify({ env: { WSIFY_DRAIN_PERIOD: "1s", WSIFY_SHUTDOWN_TIMEOUT: "5s" } });
  const c = new Client(node.url, { minDelay: 20, maxDelay: 100, timeout: 2000 });
  try {
    await nextState(c, "connected");
    const drained = new Promise((resolve) => c.on("state", (s, info) => s === "disconnected" && resolve(info)));
    node.signal("SIGTERM");
    const info = await drained;
    const told = Number(/"delay_ms":(\d+)/.exec(info.reason)[1]);
    assert.equal(info.code, 1001);
    assert.equal(info.delay, told);
    assert.ok(told >= 0 && told <= 1000, "delay_ms " + told + " outside the drain period");
  } finally {
    c.close();
    await node.stop();
  }
});
