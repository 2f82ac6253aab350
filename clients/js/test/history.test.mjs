// Resume against the real server keeping history (the memory engine): a
// client whose connection is cut receives what it missed exactly once,
// and one whose server restarted (a new epoch) is told to resync.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Client } from "../wsify.js";
import { startWsify, publish, nextState, waitFor } from "./helpers.mjs";

const fast = { minDelay: 200, maxDelay: 400, timeout: 3000 };
const history = { WSIFY_HISTORY_SIZE: "1000" };

test("a cut connection resumes: every publication once, in order", async () => {
  const node = await startWsify({ env: history });
  const c = new Client(node.url, fast);
  try {
    const got = [];
    const resyncs = [];
    const sub = await c.join("news", { onMessage: (n, m) => got.push([n, m.offset]), onResync: (i) => resyncs.push(i) });
    let sent = 0;
    for (const cut of [1, 2, 3]) {
      for (let i = 0; i < 50; i++) await publish(node, "news", ++sent);
      await waitFor(() => got.length === sent, 5000, "the publications before cut " + cut);
      c._ws.close(); // the network fails: not the app's close
      await nextState(c, "disconnected");
      for (let i = 0; i < 20; i++) await publish(node, "news", ++sent); // missed while away
      await nextState(c, "connected");
    }
    await waitFor(() => got.length >= sent, 5000, "every publication");
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
