// The reconnect storm: 2,000 clients on one Redis-backed server keeping
// history, which restarts. Their reconnects must spread over the whole
// first maxDelay window (not come back in the same instant), and every
// client must end re-joined and recovered.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { Client } from "../wsify.js";
import { startWsify, startRedis, publish, stats, waitFor, histogram } from "./helpers.mjs";

const N = 2000, CHANNELS = 20, lo = 50, hi = 2000, BINS = 10;

const clients = [];
after(() => clients.forEach((c) => c.close()));

test(`${N} clients, a server restart: reconnects spread over the window, all re-joined and recovered`, async (t) => {
  const redis = await startRedis();
  const env = { WSIFY_BROKER: "redis", WSIFY_BROKER_URL: redis.url, WSIFY_HISTORY_SIZE: "10" };
  let node = await startWsify({ env });
  try {
    const got = new Array(N).fill(0);
    const firstWait = new Array(N).fill(-1); // ms from the 1001 to the first reconnect attempt
    const joins = [];
    for (let i = 0; i < N; i++) {
      const c = new Client(node.url, { minDelay: lo, maxDelay: hi, timeout: 10000 });
      clients.push(c);
      let closedAt = 0;
      c.on("state", (s, info) => {
        c.last = [s, info];
        if (s === "disconnected" && info.code === 1001) closedAt = performance.now();
        if (s === "connecting" && closedAt && firstWait[i] < 0) firstWait[i] = performance.now() - closedAt;
      });
      joins.push(c.join("storm-" + (i % CHANNELS), { onMessage: () => got[i]++ }));
    }
    const subs = await Promise.all(joins);
    assert.equal((await stats(node)).connections, N);
    for (let ch = 0; ch < CHANNELS; ch++) await publish(node, "storm-" + ch, "before the restart");
    await waitFor(() => got.every((n) => n === 1), 10000, "a delivery to every client before the restart");

    const port = node.port;
    const t0 = performance.now();
    await node.stop("SIGTERM"); // every client gets 1001, then the process exits
    node = await startWsify({ port, env });
    const restarted = performance.now() - t0;

    let last;
    await waitFor(async () => {
      const s = (last = await stats(node));
      return s.connections === N && s.channels === CHANNELS;
    }, 20000, "every client reconnected and re-joined").catch((e) => {
      const states = {};
      clients.forEach((c) => (states[c.state] = (states[c.state] || 0) + 1));
      const stuck = clients.filter((c) => c.state !== "connected").slice(0, 3).map((c) => c.last);
      throw new Error(e.message + ": " + JSON.stringify(stuck) + ": server " + JSON.stringify({ connections: last?.connections, channels: last?.channels }) + ", clients " + JSON.stringify(states));
    });
    const settled = performance.now() - t0;
    for (let ch = 0; ch < CHANNELS; ch++) await publish(node, "storm-" + ch, "after the restart");
    await waitFor(() => got.every((n) => n === 2), 10000, "a delivery to every client");
    const recovered = subs.filter((s) => s.recovered === true).length;
    assert.equal(recovered, N, "clients whose re-join was recovered");

    assert.ok(firstWait.every((w) => w >= 0), "a client never tried again");
    const h = histogram(firstWait, lo, (hi - lo) / BINS, BINS);
    t.diagnostic(`server down and up again in ${restarted.toFixed(0)} ms; all ${N} re-joined after ${settled.toFixed(0)} ms`);
    t.diagnostic("first reconnect attempts after the 1001, by wait:");
    h.text.split("\n").forEach((l) => t.diagnostic(l));
    // Uniform over [minDelay, maxDelay]: each tenth of the window gets
    // about N/10 (binomial sd ~13); a storm would pile them into the first.
    for (const [b, n] of h.counts.entries()) {
      assert.ok(n > (N / BINS) * 0.6 && n < (N / BINS) * 1.4, `bin ${b} has ${n} of ${N}: ${h.counts}`);
    }
    assert.ok(Math.min(...firstWait) >= lo - 2 && Math.max(...firstWait) < hi + 500, "waits outside the window");
  } finally {
    clients.forEach((c) => c.close());
    await node.stop();
    redis.stop();
  }
});
