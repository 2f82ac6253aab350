// Targeted delivery and POST /disconnect, against the real wsify binary
// with an authorizer that names each connection after its "user" query.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Client } from "../wsify.js";
import { startWsify, authorizer, nextState, waitFor, sleep } from "./helpers.mjs";

const fast = { minDelay: 20, maxDelay: 200, timeout: 2000 };

let node, auth;
before(async () => {
  auth = await authorizer((b) => {
    const user = b.command === "connect" && b.args.query.user?.[0];
    return user ? { status: 200, json: { user } } : 200;
  });
  node = await startWsify({ env: { WSIFY_AUTHORIZER_URL: auth.url } });
});
after(async () => {
  await node.stop();
  await auth.close();
});

const open = new Set();
after(() => open.forEach((c) => c.close()));

async function as(user) {
  const c = new Client(node.url, { ...fast, query: { user } });
  open.add(c);
  await nextState(c, "connected");
  const got = [];
  await c.join("room", { onMessage: (m) => got.push(m) });
  return { c, got };
}

test("broadcast with to reaches only those users; echo:false leaves the sender out", async () => {
  const alice = await as("alice");
  const alice2 = await as("alice");
  const bob = await as("bob");
  assert.deepEqual(await bob.c.broadcast("room", { n: 1 }, { to: ["alice"] }), { offset: undefined, receivers: 2 });
  assert.deepEqual(await alice.c.broadcast("room", { n: 2 }, { to: ["alice", "bob"], echo: false }), { offset: undefined, receivers: 2 });
  const body = auth.bodies.findLast((b) => b.command === "broadcast");
  assert.deepEqual([body.args.to, body.args.echo], [["alice", "bob"], false]);
  await waitFor(() => alice2.got.length === 2 && bob.got.length === 1 && alice.got.length === 1);
  await sleep(50);
  assert.deepEqual(alice.got, [{ n: 1 }]);
  assert.deepEqual(alice2.got, [{ n: 1 }, { n: 2 }]);
  assert.deepEqual(bob.got, [{ n: 2 }]);
});

test("POST /disconnect with reconnect:false closes the client for good; without it, it comes back", async () => {
  const carol = await as("carol");
  const dave = await as("dave");
  const closed = nextState(carol.c, "closed");
  const r = await fetch(node.http + "/disconnect", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ user: "carol", reconnect: false }),
  });
  assert.deepEqual([r.status, await r.json()], [200, { ok: true, disconnected: 1 }]);
  const info = await closed;
  assert.equal(info.code, 4000);
  assert.equal(carol.c.state, "closed");

  const back = nextState(dave.c, "connected");
  const gone = nextState(dave.c, "disconnected");
  await fetch(node.http + "/disconnect", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ user: "dave" }),
  });
  assert.equal((await gone).code, 4000);
  await back; // reconnected, and its channel joined again
  await dave.c.broadcast("room", "again");
  await waitFor(() => dave.got.includes("again"));
});
