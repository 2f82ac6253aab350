// Every call of the API and every error the server replies, against the
// real wsify binary.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Client, WsifyError } from "../wsify.js";
import { startWsify, publish, authorizer, nextState, waitFor, sleep, freePort } from "./helpers.mjs";

const fast = { minDelay: 20, maxDelay: 200, timeout: 2000 };

let node, auth;
before(async () => {
  // The authorizer refuses channel "secret" and connections whose token
  // is "bad"; the server allows two channels per connection and two joins
  // or leaves per second (burst: two).
  auth = await authorizer((b) => {
    if (b.command === "connect") return b.args.query.token?.[0] === "bad" ? 403 : 200;
    return b.args.channel === "secret" ? 403 : 200;
  });
  node = await startWsify({ env: { WSIFY_AUTHORIZER_URL: auth.url, WSIFY_MAX_CHANNELS: "2", WSIFY_RATE_LIMIT: "0" } });
});
after(async () => {
  await node.stop();
  await auth.close();
});

// open holds every client made, closed after the tests so no reconnect
// loop outlives a failed test.
const open = new Set();
after(() => open.forEach((c) => c.close()));

function connected(options) {
  const c = new Client(node.url, { ...fast, ...options });
  open.add(c);
  return nextState(c, "connected").then(() => c);
}

test("states: connecting, connected, closed; the query reaches the authorizer", async () => {
  const c = new Client(node.url, { ...fast, query: { token: "t1", user: "ada" } });
  const states = [];
  c.on("state", (s) => states.push(s));
  await nextState(c, "connected");
  assert.equal(c.state, "connected");
  const connect = auth.bodies.findLast((b) => b.command === "connect");
  assert.deepEqual(connect.args.query, { token: ["t1"], user: ["ada"] });
  c.close();
  assert.deepEqual(states, ["connecting", "connected", "closed"]);
  c.close(); // twice is fine
});

test("query may be a function, called at every connect", async () => {
  let n = 0;
  const c = new Client(node.url, { ...fast, query: () => ({ token: "n" + ++n }) });
  await nextState(c, "connected");
  assert.equal(auth.bodies.findLast((b) => b.command === "connect").args.query.token[0], "n1");
  c.close();
});

test("join, onMessage from POST /broadcast and from broadcast, leave", async () => {
  const c = await connected();
  const got = [];
  const sub = await c.join(" news ", { onMessage: (content, meta) => got.push([content, meta]) });
  assert.equal(sub.channel, "news");
  assert.equal(sub.offset, null);
  await publish(node, "news", { from: "backend" });
  // Today's server has no offsets or receivers: both undefined.
  assert.deepEqual(await c.broadcast("news", { text: "hi" }), { offset: undefined, receivers: undefined });
  await waitFor(() => got.length === 2, 5000, "two deliveries");
  assert.deepEqual(got, [
    [{ from: "backend" }, { channel: "news", offset: undefined }],
    [{ text: "hi" }, { channel: "news", offset: undefined }],
  ]);
  await sub.leave();
  await sub.leave(); // again: nothing to do
  await publish(node, "news", { after: "leave" });
  await c.broadcast("news", "still allowed without joining");
  await sleep(50);
  assert.equal(got.length, 2);
  c.close();
});

test("broadcast echo:false and raw JSON text", async () => {
  const c = await connected();
  const got = [];
  await c.join("raw", { onMessage: (m) => got.push(m) });
  // Today's server ignores echo (an unknown member of args): the sender
  // still gets its own publication.
  await c.broadcast("raw", { n: 1 }, { echo: false });
  await c.broadcast("raw", '{"n": 2, "big": 12345678901234567890}', { raw: true });
  await waitFor(() => got.length === 2);
  assert.deepEqual(got, [{ n: 1 }, { n: 2, big: 12345678901234567890 }]);
  await assert.rejects(c.broadcast("raw", "{not json", { raw: true }), { name: "WsifyError", code: "invalid" });
  c.close();
});

test("server errors reject with WsifyError carrying code and message", async () => {
  const c = await connected();
  const cases = [
    [() => c.join(""), "bad_channel"],
    [() => c.join("   "), "bad_channel"],
    [() => c.broadcast("", 1), "bad_channel"],
    [() => c.broadcast("news"), "bad_command"], // no content
    [() => c.join("secret"), "not_authorized"],
    [() => c.history("news", { limit: 20 }), "not_enabled"], // this server keeps no history
    [() => c.presence("room"), "not_enabled"], // nor presence
    [() => c.presenceStats("room"), "not_enabled"],
  ];
  for (const [call, code] of cases) {
    const err = await call().then(
      () => assert.fail("resolved, want " + code),
      (e) => e,
    );
    assert.ok(err instanceof WsifyError, String(err));
    assert.equal(err.code, code);
    assert.ok(err.message.length > 0);
  }
  // A refused join leaves no subscription behind: it may be tried again.
  await assert.rejects(c.join("secret"), { code: "not_authorized" });
  c.close();
});

test("too_many_channels, already_joined and the join rate", async () => {
  const c = await connected();
  await c.join("a");
  await assert.rejects(c.join("a"), { code: "already_joined", channel: "a" });
  await c.join("b");
  await assert.rejects(c.join("c"), { code: "too_many_channels" });
  c.close();
  const limited = new Client((await startLimited()).url, fast);
  await nextState(limited, "connected");
  open.add(limited);
  const x = await limited.join("x");
  await limited.join("y");
  // The burst (two) is spent: a third join or leave within the second is
  // refused.
  await assert.rejects(x.leave(), { code: "rate_limited" });
  limited.close();
});

let limitedNode;
async function startLimited() {
  limitedNode = await startWsify({ env: { WSIFY_JOIN_RATE_LIMIT: "1", WSIFY_MAX_CHANNELS: "2" } });
  return limitedNode;
}
after(() => limitedNode?.stop());

test("a broadcast the broker does not take rejects with unavailable", async () => {
  // A Redis broker on a port nothing listens on: the node starts, reports
  // the broker down and refuses publications.
  const down = await startWsify({ env: { WSIFY_BROKER: "redis", WSIFY_BROKER_URL: "redis://127.0.0.1:" + (await freePort()) } });
  try {
    const c = new Client(down.url, fast);
    open.add(c);
    await nextState(c, "connected");
    await c.join("news"); // joins still work
    await assert.rejects(c.broadcast("news", 1), { name: "WsifyError", code: "unavailable" });
    c.close();
  } finally {
    await down.stop();
  }
});

test("commands after close reject with closed; so do those in flight", async () => {
  const c = await connected();
  const sub = await c.join("news");
  const inFlight = c.broadcast("news", 1);
  const joining = c.join("joining");
  c.close();
  await assert.rejects(inFlight, { code: "closed" });
  await assert.rejects(joining, { code: "closed", channel: "joining" });
  assert.equal(c.state, "closed");
  for (const call of [() => c.join("x"), () => c.broadcast("x", 1), () => c.history("x"), () => c.presence("x"), () => c.presenceStats("x")]) {
    await assert.rejects(call(), { code: "closed" });
  }
  await sub.leave(); // resolves: the server forgot the connection
});

test("content that JSON cannot encode rejects with invalid", async () => {
  const c = await connected();
  await assert.rejects(c.broadcast("news", { n: 1n }), { code: "invalid" });
  const loop = {};
  loop.self = loop;
  await assert.rejects(c.broadcast("news", loop), { code: "invalid" });
  c.close();
});

test("a callback that throws goes to the error listeners, the client goes on", async () => {
  const c = await connected();
  const errors = [];
  c.on("error", (e) => errors.push(e.message));
  c.on("error", () => {
    throw new Error("an error listener that throws is ignored");
  });
  const got = [];
  await c.join("cb", {
    onMessage: (m) => {
      got.push(m);
      if (m === 1) throw new Error("handler bug");
    },
  });
  await c.broadcast("cb", 1);
  await c.broadcast("cb", 2);
  await waitFor(() => got.length === 2);
  assert.deepEqual(errors, ["handler bug"]);
  c.close();
});

test("on returns a function that removes the listener", async () => {
  const c = new Client(node.url, fast);
  const seen = [];
  const off = c.on("state", (s) => seen.push(s));
  await nextState(c, "connected");
  off();
  c.close();
  assert.deepEqual(seen, ["connecting", "connected"]);
});

test("a malformed URL closes the client with an error", async () => {
  const c = new Client("not a url", fast);
  const errors = [];
  c.on("error", (e) => errors.push(e));
  const info = await nextState(c, "closed");
  assert.equal(errors.length, 1);
  assert.equal(info.code, 1006);
});
