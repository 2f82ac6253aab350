// Presence and join/leave events against the real wsify binary, the
// identities given by a real authorizer at connect.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Client } from "../wsify.js";
import { startWsify, authorizer, nextState, waitFor } from "./helpers.mjs";

const fast = { minDelay: 20, maxDelay: 200, timeout: 2000 };

let node, auth;
before(async () => {
  // The connect answer names the user the query says, with an info.
  auth = await authorizer((b) => {
    const as = b.args.query?.as?.[0];
    return b.command === "connect" && as ? { status: 200, json: { user: as, info: { name: as.toUpperCase() } } } : 200;
  });
  node = await startWsify({ env: { WSIFY_AUTHORIZER_URL: auth.url, WSIFY_PRESENCE: "true", WSIFY_JOIN_LEAVE: "true" } });
});
after(async () => {
  await node.stop();
  await auth.close();
});

const open = new Set();
after(() => open.forEach((c) => c.close()));

async function as(user) {
  const c = new Client(node.url, { ...fast, query: { as: user } });
  open.add(c);
  await nextState(c, "connected");
  return c;
}

// events collects a subscription's join and leave events.
function events() {
  const got = [];
  return { got, onJoin: (m) => got.push(["join", m]), onLeave: (m) => got.push(["leave", m]) };
}

test("presence, presenceStats, and join and leave events on a subscription", async () => {
  const alice = await as("alice");
  const ea = events();
  await alice.join("room", { onJoin: ea.onJoin, onLeave: ea.onLeave });
  await waitFor(() => ea.got.length === 1, 5000, "alice's own join");
  const [kind, me] = ea.got[0];
  assert.equal(kind, "join");
  assert.deepEqual({ ...me, client: "" }, { client: "", user: "alice", info: { name: "ALICE" } });

  const bob = await as("bob");
  const eb = events();
  await bob.join("room", { onJoin: eb.onJoin, onLeave: eb.onLeave });
  await waitFor(() => ea.got.length === 2 && eb.got.length === 1, 5000, "bob's join, heard by both");
  const bobMember = ea.got[1][1];
  assert.deepEqual(eb.got, [["join", bobMember]]);
  assert.equal(bobMember.user, "bob");

  const { clients } = await alice.presence("room");
  const byClient = (x, y) => x.client.localeCompare(y.client);
  assert.deepEqual(clients.sort(byClient), [me, bobMember].sort(byClient));
  assert.deepEqual(await bob.presenceStats("room"), { clients: 2, users: 2 });

  // A channel not joined is refused; a close is a leave.
  await assert.rejects(alice.presence("elsewhere"), { code: "not_joined" });
  bob.close();
  await waitFor(() => ea.got.length === 3, 5000, "bob's leave");
  assert.deepEqual(ea.got[2], ["leave", bobMember]);
  assert.deepEqual(await alice.presenceStats("room"), { clients: 1, users: 1 });
  alice.close();
});
