// Timeouts: of a reply (the real server paused with SIGSTOP), of a
// connection being opened (a TCP server that never answers), of a re-join,
// and what a command in flight gets when the connection drops.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { Client } from "../wsify.js";
import { startWsify, fakeServer, silentServer, nextState, waitFor } from "./helpers.mjs";

const open = new Set();
after(() => open.forEach((c) => c.close()));
function client(url, options) {
  const c = new Client(url, options);
  open.add(c);
  return c;
}

test("a reply that does not come within timeout rejects with timeout", async () => {
  const node = await startWsify();
  try {
    const c = client(node.url, { timeout: 300, minDelay: 20, maxDelay: 200 });
    await nextState(c, "connected");
    const got = [];
    await c.join("t", { onMessage: (m) => got.push(m) });
    await node.pause();
    const start = performance.now();
    try {
      await assert.rejects(c.broadcast("t", "late"), { name: "WsifyError", code: "timeout" });
      const took = performance.now() - start;
      assert.ok(took >= 295 && took < 1500, "rejected after " + took + " ms");
      await assert.rejects(c.presence("t"), { code: "timeout" });
    } finally {
      node.signal("SIGCONT");
    }
    // The connection is still good; the late command did run (a timeout
    // says nothing about that) and its reply is ignored.
    await c.broadcast("t", "after");
    await waitFor(() => got.length === 2);
    assert.deepEqual(got, ["late", "after"]);
    assert.equal(c.state, "connected");
    c.close();
  } finally {
    await node.stop();
  }
});

test("a connection not opened within timeout is given up and retried", async () => {
  const silent = await silentServer();
  try {
    const c = client(silent.url, { timeout: 200, minDelay: 10, maxDelay: 50 });
    const start = performance.now();
    const info = await nextState(c, "disconnected", 3000);
    const took = performance.now() - start;
    assert.equal(info.code, 1006);
    assert.equal(info.reason, "connect timeout");
    assert.ok(took >= 190 && took < 1500, "gave up after " + took + " ms");
    await nextState(c, "connecting");
    await waitFor(() => silent.accepted() >= 2, 3000, "a second attempt");
    c.close();
  } finally {
    await silent.close();
  }
});

test("a command in flight when the connection drops rejects with disconnected", async () => {
  const node = await startWsify();
  const c = client(node.url, { timeout: 5000, minDelay: 20, maxDelay: 200 });
  await nextState(c, "connected");
  await node.pause();
  const inFlight = assert.rejects(c.broadcast("x", 1), { code: "disconnected" });
  await node.stop("SIGKILL"); // the kernel resets the connection
  await inFlight;
  c.close();
});

test("a re-join that times out starts over on a new connection", async () => {
  // The fake answers joins on its first and third connections only.
  const fake = await fakeServer((conn) => {
    const n = fake.conns.length;
    conn.onCommand = (cmd) => {
      if (n !== 2) conn.send({ id: cmd.id, ok: true });
    };
  });
  try {
    const c = client(fake.url, { timeout: 200, minDelay: 10, maxDelay: 50 });
    await nextState(c, "connected");
    await c.join("a");
    const lost = [];
    c.on("state", (s, info) => s === "disconnected" && lost.push(info.reason));
    fake.conns[0].drop();
    await waitFor(() => fake.conns.length === 3 && fake.conns[2].commands.length === 1, 3000, "a third connection's join");
    assert.equal(lost[1], "join timeout");
    assert.deepEqual(fake.conns[2].commands[0].args, { channel: "a" });
    c.close();
  } finally {
    await fake.close();
  }
});
