// Resume against the real server keeping history (the memory engine): a
// client whose connection is cut receives what it missed exactly once,
// and one whose server restarted (a new epoch) is told to resync.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Client } from "../wsify.js";
import { startWsify, startRedis, publish, nextState, waitFor } from "./helpers.mjs";

const fast = { minDelay: 200, maxDelay: 400, timeout: 3000 };
const history = { WSIFY_HISTORY_SIZE: "1000" };

test("a stream of 2,000 publications cut three times: every one once, in order", async () => {
  const node = await startWsify({ env: history });
  const c = new Client(node.url, fast);
  try {
    const got = [];
    const resyncs = [];
    const sub = await c.join("news", { onMessage: (n, m) => got.push([n, m.offset]), onResync: (i) => resyncs.push(i) });
    let sent = 0;
    for (const cut of [1, 2, 3]) {
      for (let i = 0; i < 600; i++) await publish(node, "news", ++sent);
      await waitFor(() => got.length === sent, 10000, "the publications before cut " + cut);
      c._ws.close(); // the network fails: not the app's close
      await nextState(c, "disconnected");
      for (let i = 0; i < 67; i++) await publish(node, "news", ++sent); // missed while away
      await nextState(c, "connected");
    }
    await waitFor(() => got.length >= sent, 10000, "every publication");
    assert.equal(sent, 2001);
    assert.deepEqual(got, Array.from({ length: sent }, (_, i) => [i + 1, i + 1]));
    assert.deepEqual(resyncs, []);
    assert.equal(sub.offset, sent);
    const h = await c.history("news", { limit: 3 });
    assert.deepEqual(h.publications.map((p) => [p.offset, p.content]), [[sent - 2, sent - 2], [sent - 1, sent - 1], [sent, sent]]);
    assert.equal(h.offset, sent);
    assert.equal(h.epoch, sub.epoch);
  } finally {
    c.close();
    await node.stop();
  }
});

test("after a restart of a memory-engine server the client is told to resync", async () => {
  let node = await startWsify({ env: history });
  const port = node.port;
  const c = new Client(node.url, fast);
  try {
    const resyncs = [];
    const got = [];
    await c.join("news", { onMessage: (n) => got.push(n), onResync: (i) => resyncs.push(i) });
    await publish(node, "news", 1);
    await waitFor(() => got.length === 1);
    await node.stop("SIGKILL");
    node = await startWsify({ port, env: history });
    await waitFor(() => resyncs.length === 1, 10000, "onResync");
    assert.deepEqual(resyncs, [{ channel: "news" }]);
    await publish(node, "news", 2);
    await waitFor(() => got.length === 2, 5000, "the first publication of the new epoch");
    assert.deepEqual(got, [1, 2]);
  } finally {
    c.close();
    await node.stop();
  }
});

test("after a restart of a Redis-backed node the client recovers what it missed", async () => {
  const redis = await startRedis();
  const env = { ...history, WSIFY_BROKER: "redis", WSIFY_BROKER_URL: redis.url };
  let a = await startWsify({ env });
  const b = await startWsify({ env }); // the backend publishes here
  const port = a.port;
  const c = new Client(a.url, fast);
  try {
    const got = [];
    const resyncs = [];
    await c.join("news", { onMessage: (n) => got.push(n), onResync: (i) => resyncs.push(i) });
    for (let i = 1; i <= 10; i++) await publish(b, "news", i);
    await waitFor(() => got.length === 10, 10000, "the first ten");
    await a.stop("SIGKILL");
    for (let i = 11; i <= 20; i++) await publish(b, "news", i); // while its node is down
    a = await startWsify({ port, env });
    await waitFor(() => got.length === 20, 15000, "the ten published while the node was down");
    assert.deepEqual(got, Array.from({ length: 20 }, (_, i) => i + 1));
    assert.deepEqual(resyncs, []);
  } finally {
    c.close();
    await a.stop();
    await b.stop();
    redis.stop();
  }
});
