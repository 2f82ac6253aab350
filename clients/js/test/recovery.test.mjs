// The resume protocol as the client speaks it, against a stand-in server
// that plays each case exactly (README.md, the history protocol): `since`
// {offset, epoch} on re-join, offsets on deliveries, `recovered`, `offset`
// and `epoch` on join replies, duplicates dropped, onResync. The same
// client against the real server: history.test.mjs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Client } from "../wsify.js";
import { fakeServer, waitFor } from "./helpers.mjs";

const opts = { minDelay: 5, maxDelay: 20, timeout: 1000 };
const pub = (channel, offset, content = offset) => ({ channel, content, offset });

test("re-join with since, duplicates dropped, onResync on recovered:false", async () => {
  // Each connection of the fake plays one act; n is its number.
  const acts = [
    // 1: a fresh join (no since); the channel is at offset 0; 1..5 follow.
    (c, cmd) => {
      c.send({ id: cmd.id, ok: true, offset: 0, epoch: "e1" });
      for (let o = 1; o <= 5; o++) c.send(pub("news", o));
    },
    // 2: since 5, recovered; 4 and 5 come again (duplicates), then 6, 7.
    (c, cmd) => {
      c.send({ id: cmd.id, ok: true, recovered: true, offset: 7, epoch: "e1" });
      for (let o = 4; o <= 7; o++) c.send(pub("news", o));
    },
    // 3: since 7, not recovered (say a memory engine restarted): a new
    // stream at offset 2, then 3 and 4.
    (c, cmd) => {
      c.send({ id: cmd.id, ok: true, recovered: false, offset: 2, epoch: "e2" });
      c.send(pub("news", 3, "new 3"));
      c.send(pub("news", 4, "new 4"));
    },
    // 4: since 4, recovered, the missed publications in the reply and a
    // live one (7) that overtook it.
    (c, cmd) => {
      c.send(pub("news", 7));
      c.send({ id: cmd.id, ok: true, recovered: true, offset: 7, epoch: "e2", publications: [pub("news", 5), pub("news", 6), pub("news", 4)] });
    },
  ];
  const fake = await fakeServer((conn) => {
    const n = fake.conns.length;
    conn.onCommand = (cmd) => cmd.command === "join" && acts[n - 1](conn, cmd);
  });
  const c = new Client(fake.url, opts);
  try {
    const got = [];
    const resyncs = [];
    const sub = await c.join("news", {
      onMessage: (m, meta) => got.push([m, meta.offset]),
      onResync: (info) => resyncs.push(info),
    });
    const expect = async (n, want) => {
      await waitFor(() => got.length >= n, 3000, n + " deliveries");
      assert.deepEqual(got.splice(0), want);
    };
    await expect(5, [[1, 1], [2, 2], [3, 3], [4, 4], [5, 5]]);
    assert.equal(sub.offset, 5);
    for (let act = 2; act <= 4; act++) {
      fake.conns.at(-1).drop();
      await waitFor(() => fake.conns.length === act && fake.conns[act - 1].commands.length > 0, 3000, "connection " + act);
      const join = fake.conns[act - 1].commands[0];
      assert.equal(join.command, "join");
      const since = [{ offset: 5, epoch: "e1" }, { offset: 7, epoch: "e1" }, { offset: 4, epoch: "e2" }][act - 2];
      assert.deepEqual(join.args, { channel: "news", since });
      if (act === 2) await expect(2, [[6, 6], [7, 7]]);
      if (act === 3) {
        await expect(2, [["new 3", 3], ["new 4", 4]]);
        assert.deepEqual(resyncs, [{ channel: "news" }]);
      }
      if (act === 4) await expect(3, [[5, 5], [6, 6], [7, 7]]);
    }
    assert.equal(resyncs.length, 1);
    assert.equal(sub.offset, 7);
  } finally {
    c.close();
    await fake.close();
  }
});

test("recover:false re-joins without since; replies without offsets mean no history", async () => {
  const fake = await fakeServer((conn) => {
    conn.onCommand = (cmd) => {
      if (cmd.command !== "join") return;
      if (cmd.args.channel === "plain") {
        // Today's server: a bare ok, deliveries without offsets.
        conn.send({ id: cmd.id, ok: true });
        conn.send({ channel: "plain", content: "p" });
        conn.send({ channel: "plain", content: "p" });
      } else {
        conn.send({ id: cmd.id, ok: true, offset: 9, epoch: "e" });
        conn.send(pub("norecover", 10));
      }
    };
  });
  const c = new Client(fake.url, opts);
  try {
    const got = [];
    const resyncs = [];
    const on = { onMessage: (m) => got.push(m), onResync: (i) => resyncs.push(i) };
    const plain = await c.join("plain", on);
    await c.join("norecover", { ...on, recover: false });
    await waitFor(() => got.length === 3);
    assert.equal(plain.offset, null);
    fake.conns[0].drop();
    await waitFor(() => fake.conns.length === 2 && fake.conns[1].commands.length === 2, 3000, "re-joins");
    assert.deepEqual(
      fake.conns[1].commands.map((m) => m.args),
      [{ channel: "plain" }, { channel: "norecover" }],
    );
    await waitFor(() => got.length === 6);
    // Without offsets nothing is taken for a duplicate and nothing resyncs.
    assert.deepEqual(got.sort(), ["p", "p", "p", "p", 10, 10].sort());
    assert.deepEqual(resyncs, []);
  } finally {
    c.close();
    await fake.close();
  }
});

test("since on the first join; join and leave events; errors without an id", async () => {
  const fake = await fakeServer((conn) => {
    conn.onCommand = (cmd) => {
      if (cmd.command !== "join") return;
      conn.send({ id: cmd.id, ok: true, recovered: true });
      conn.send({ channel: "room", join: { user: "ada" } });
      conn.send({ channel: "room", leave: { user: "ada" } });
      conn.send({ error: { code: "bad_command", message: "no id" } });
      conn.send("not json");
      conn.send(pub("room", 42));
      conn.send(pub("room", 43));
    };
  });
  const c = new Client(fake.url, opts);
  try {
    const seen = [];
    const errors = [];
    c.on("error", (e) => errors.push(e.code));
    await c.join("room", {
      since: { offset: 42, epoch: "e" },
      onJoin: (who) => seen.push(["join", who]),
      onLeave: (who) => seen.push(["leave", who]),
      onMessage: (m) => seen.push(["message", m]),
    });
    assert.deepEqual(fake.conns[0].commands[0].args, { channel: "room", since: { offset: 42, epoch: "e" } });
    await waitFor(() => seen.length === 3 && errors.length === 2);
    assert.deepEqual(seen, [["join", { user: "ada" }], ["leave", { user: "ada" }], ["message", 43]]);
    assert.deepEqual(errors, ["bad_command", "bad_frame"]);
  } finally {
    c.close();
    await fake.close();
  }
});

test("a since answered without recovered (no history, today's server) is no resync", async () => {
  const fake = await fakeServer((conn) => {
    conn.onCommand = (cmd) => conn.send({ id: cmd.id, ok: true });
  });
  const c = new Client(fake.url, opts);
  try {
    const resyncs = [];
    const sub = await c.join("old", { since: { offset: 7, epoch: "e" }, onResync: (i) => resyncs.push(i) });
    assert.deepEqual(fake.conns[0].commands[0].args, { channel: "old", since: { offset: 7, epoch: "e" } });
    assert.deepEqual(resyncs, []);
    assert.equal(sub.offset, null);
  } finally {
    c.close();
    await fake.close();
  }
});

test("a re-join the server refuses drops the subscription with an error event", async () => {
  const fake = await fakeServer((conn) => {
    const n = fake.conns.length;
    conn.onCommand = (cmd) =>
      conn.send(n === 1 ? { id: cmd.id, ok: true } : { id: cmd.id, error: { code: "not_authorized", message: "no" } });
  });
  const c = new Client(fake.url, opts);
  try {
    const errors = [];
    c.on("error", (e) => errors.push(e));
    await c.join("a");
    fake.conns[0].drop();
    await waitFor(() => errors.length === 1, 3000, "the error event");
    assert.equal(errors[0].code, "not_authorized");
    assert.equal(errors[0].channel, "a");
    // No longer joined: a join is sent again (and refused again).
    await assert.rejects(c.join("a"), { code: "not_authorized" });
    assert.equal(c.state, "connected");
  } finally {
    c.close();
    await fake.close();
  }
});
