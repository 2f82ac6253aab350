// wsify-client: a dependency-free client for wsify's WebSocket protocol, for
// browsers and Node 22+ (global WebSocket). It reconnects with jittered
// exponential back-off, re-joins every channel (with `since` where the
// server keeps history), drops duplicates by offset and matches replies to
// commands by id. README.md beside this file is its contract.

/** An error replied by the server (its code and message) or made here:
 * timeout, disconnected, closed, queue_full, already_joined, invalid. */
export class WsifyError extends Error {
  constructor(code, message, channel) {
    super(message || code);
    this.name = "WsifyError";
    this.code = code;
    if (channel !== undefined) this.channel = channel;
  }
}

// A close reason containing "reconnect":false (e.g. the JSON
// {"reason":"banned","reconnect":false}) tells the client to stop.
const NO_RECONNECT = /"reconnect"\s*:\s*false/;
// DRAIN_DELAY reads the wait a draining server chose for this client:
// {"reason":"shutdown","reconnect":true,"delay_ms":1234}.
const DRAIN_DELAY = /"delay_ms":\s*(\d+)/;

const fail = (code, message, channel) => new WsifyError(code, message, channel);
const serverError = (e, channel) => fail(String(e.code), e.message, channel);
// strip drops a reply's id and ok, leaving what the command answered.
const strip = ({ id, ok, ...rest }) => rest;

export class Client {
  constructor(url, options) {
    this.url = url;
    this.options = { minDelay: 250, maxDelay: 15000, timeout: 5000, queueSize: 100, ...options };
    this.state = "disconnected";
    this._on = {};
    this._subs = new Map();
    this._pending = new Map();
    this._queue = [];
    this._id = 0;
    this._attempt = 0;
    // Connecting waits a microtask, so listeners added right after the
    // constructor see "connecting".
    queueMicrotask(() => this._connect());
  }

  /** on adds a listener of "state" (state, info) or "error" (err); it
   * returns a function that removes it. */
  on(event, fn) {
    const set = (this._on[event] ||= new Set());
    set.add(fn);
    return () => set.delete(fn);
  }

  _emit(event, ...args) {
    for (const fn of this._on[event] || []) {
      if (event !== "error") this._call(fn, ...args);
      else
        try {
          fn(...args);
        } catch {
          // an error listener's own error goes nowhere
        }
    }
  }

  // _call runs a callback of the application; what it throws goes to the
  // "error" listeners instead of breaking the client.
  _call(fn, ...args) {
    try {
      fn && fn(...args);
    } catch (e) {
      this._emit("error", e);
    }
  }

  _set(state, info) {
    this.state = state;
    this._emit("state", state, info || {});
  }

  _connect() {
    if (this.state === "closed") return;
    this._set("connecting");
    let url = this.url;
    let query = this.options.query;
    if (typeof query === "function") query = query();
    query = new URLSearchParams(query || {}).toString();
    if (query) url += (url.includes("?") ? "&" : "?") + query;
    let ws;
    try {
      ws = new (this.options.WebSocket || WebSocket)(url);
    } catch (e) {
      // A malformed URL: no retry can mend it.
      this._emit("error", e);
      return this._stop(1006, e.message);
    }
    this._ws = ws;
    const opening = (this._opening = setTimeout(() => this._lost(ws, 1006, "connect timeout"), this.options.timeout));
    ws.onopen = () => {
      clearTimeout(opening);
      this._opened(ws);
    };
    ws.onclose = (e) => {
      clearTimeout(opening);
      this._closed(ws, e.code, e.reason);
    };
    // A failed connection may get an error event and no close event
    // (Node 20's WebSocket on a refused connection).
    ws.onerror = () => {
      clearTimeout(opening);
      this._lost(ws, 1006, "connection failed");
    };
    ws.onmessage = (e) => this._frame(e.data);
  }

  // _lost gives up on ws without waiting for its close handshake: the peer
  // may never answer it.
  _lost(ws, code, reason) {
    if (!ws || ws !== this._ws) return;
    ws.onopen = ws.onclose = ws.onerror = ws.onmessage = null;
    try {
      ws.close(4000, reason);
    } catch {
      // already closing
    }
    this._closed(ws, code, reason);
  }

  _opened(ws) {
    if (ws !== this._ws) return;
    this._set("connected");
    // The back-off starts over once a connection has lasted maxDelay.
    this._stable = setTimeout(() => (this._attempt = 0), this.options.maxDelay);
    for (const sub of this._subs.values()) {
      if (sub._active) this._join(sub).catch((e) => this._emit("error", e));
    }
    const queue = this._queue;
    this._queue = [];
    for (const c of queue) this._write(c);
  }

  _closed(ws, code, reason) {
    if (ws !== this._ws) return;
    this._ws = null;
    clearTimeout(this._stable);
    if (NO_RECONNECT.test(reason)) return this._stop(code, reason);
    this._reject(this._pending.values(), "disconnected", "the connection was lost before the reply");
    this._pending.clear();
    for (const sub of this._subs.values()) sub._flush();
    const delay = this._delay(code, reason);
    this._set("disconnected", { code, reason, delay, attempt: this._attempt });
    this._timer = setTimeout(() => this._connect(), delay);
  }

  // _delay draws the wait before the next attempt: uniform between minDelay
  // and a cap that doubles with each attempt up to maxDelay (full jitter).
  // A server that is shutting down (1001) or asks to retry later (1013)
  // sends everyone away at once: their first wait already spans the whole
  // window, so they do not come back together.
  // A draining server (1001) may name the wait itself, a "delay_ms" drawn
  // for this client in its close reason: that one is kept.
  _delay(code, reason) {
    const { minDelay: lo, maxDelay: hi } = this.options;
    const n = ++this._attempt;
    const told = code === 1001 && DRAIN_DELAY.exec(reason || "");
    if (told) return Number(told[1]);
    const cap = code === 1001 || code === 1013 ? hi : Math.min(hi, lo * 2 ** n);
    return lo + Math.random() * (Math.max(cap, lo) - lo);
  }

  _reject(commands, code, message) {
    for (const c of commands) {
      clearTimeout(c.timer);
      c.reject(fail(code, message));
    }
  }

  // _stop ends the client for good.
  _stop(code, reason) {
    clearTimeout(this._timer);
    clearTimeout(this._opening);
    clearTimeout(this._stable);
    const ws = this._ws;
    this._ws = null;
    if (ws) {
      ws.onopen = ws.onclose = ws.onerror = ws.onmessage = null;
      try {
        ws.close(1000);
      } catch {
        // already closing
      }
    }
    this._reject(this._pending.values(), "closed", "the client is closed");
    this._reject(this._queue, "closed", "the client is closed");
    this._pending.clear();
    this._queue = [];
    this._subs.clear();
    this._set("closed", { code, reason });
  }

  /** close ends the connection and every reconnect for good. */
  close() {
    if (this.state !== "closed") this._stop(1000, "");
  }

  // _send runs a command: at once when connected, else after the next
  // connect from a queue of queueSize at most. It settles with the reply of
  // the same id. raw, when given, is JSON text sent verbatim as
  // args.content.
  _send(command, args, raw) {
    return new Promise((resolve, reject) => {
      if (this.state === "closed") return reject(fail("closed", "the client is closed"));
      const id = ++this._id;
      let frame;
      try {
        frame = JSON.stringify({ command, args, id });
        if (raw !== undefined) {
          JSON.parse(raw); // invalid JSON would get a reply without id
          frame = frame.replace('"args":{', '"args":{"content":' + raw + ",");
        }
      } catch (e) {
        return reject(fail("invalid", e.message));
      }
      const c = { id, frame, resolve, reject };
      if (this.state === "connected") this._write(c);
      else if (this._queue.length < this.options.queueSize) this._queue.push(c);
      else reject(fail(this.options.queueSize ? "queue_full" : "disconnected", "not connected"));
    });
  }

  _write(c) {
    this._pending.set(c.id, c);
    c.timer = setTimeout(() => {
      this._pending.delete(c.id);
      c.reject(fail("timeout", "no reply within " + this.options.timeout + " ms"));
    }, this.options.timeout);
    this._ws.send(c.frame);
  }

  _frame(data) {
    let m;
    try {
      m = JSON.parse(data);
    } catch {
      return this._emit("error", fail("bad_frame", "the server sent a frame that is not JSON"));
    }
    if (!m || typeof m !== "object") return;
    const c = m.id !== undefined && this._pending.get(m.id);
    if (c) {
      this._pending.delete(m.id);
      clearTimeout(c.timer);
      return m.error ? c.reject(serverError(m.error)) : c.resolve(m);
    }
    if (m.error) return this._emit("error", serverError(m.error));
    const sub = this._subs.get(m.channel);
    if (sub) sub._deliver(m);
  }

  // _join sends sub's join, with since when it has an offset and recovers,
  // and settles it with the reply.
  _join(sub) {
    const since = sub._recover && sub._offset != null && sub._epoch != null;
    const args = since
      ? { channel: sub.channel, since: { offset: sub._offset, epoch: sub._epoch } }
      : { channel: sub.channel };
    sub._buf = [];
    return this._send("join", args).then(
      (reply) => sub._joined(reply, since),
      (e) => {
        const mine = this._subs.get(sub.channel) === sub;
        e.channel = sub.channel;
        if (!sub._active) {
          // A first join: its caller gets the error, nothing stays joined.
          if (mine) this._subs.delete(sub.channel);
          throw e;
        }
        // A re-join: a lost connection or a closed client is no news.
        if (!mine || e.code === "disconnected" || e.code === "closed") return;
        // The server is stuck: start over on a new connection.
        if (e.code === "timeout") return this._lost(this._ws, 1006, "join timeout");
        this._subs.delete(sub.channel);
        sub._active = false;
        throw e;
      },
    );
  }

  /** join subscribes to channel; it resolves to a Subscription once the
   * server has said ok. */
  join(channel, options) {
    if (typeof channel === "string") channel = channel.trim();
    if (this._subs.has(channel)) return Promise.reject(fail("already_joined", "already joined", channel));
    const sub = new Subscription(this, channel, options || {});
    this._subs.set(channel, sub);
    return this._join(sub).then(() => sub);
  }

  /** broadcast publishes content to channel; echo:false asks the server
   * not to send it back to this connection. raw:true sends content, a
   * string of JSON text, byte for byte. */
  broadcast(channel, content, options) {
    const { echo, raw } = options || {};
    const args = echo === false ? { channel, echo } : { channel };
    if (!raw) args.content = content;
    return this._send("broadcast", args, raw ? content : undefined).then((r) => ({
      offset: r.offset,
      receivers: r.receivers,
    }));
  }

  /** history asks for a channel's kept publications (limit, since, ...). */
  history(channel, options) {
    return this._send("history", { ...options, channel }).then(strip);
  }

  /** presence asks who is in channel, a channel this client has joined:
   * { clients: [{ client, user, info }, ...] }. */
  presence(channel) {
    return this._send("presence", { channel }).then(strip);
  }

  /** presenceStats asks how many are in channel: { clients, users }. */
  presenceStats(channel) {
    return this._send("presence_stats", { channel }).then(strip);
  }
}

export class Subscription {
  constructor(client, channel, options) {
    this.client = client;
    this.channel = channel;
    this._o = options;
    this._recover = options.recover !== false;
    this._offset = options.since?.offset ?? null;
    this._epoch = options.since?.epoch ?? null;
    this._recovered = null;
    this._active = false;
    this._buf = null;
  }

  /** offset is the last offset delivered (null: none yet, or no history). */
  get offset() {
    return this._offset;
  }

  /** epoch is the history's epoch the offset belongs to (null: no history). */
  get epoch() {
    return this._epoch;
  }

  /** head is the channel's latest offset when the last join was answered
   * (null: no history). */
  get head() {
    return this._head;
  }

  /** recovered is the last join's answer to its since: true, false, or
   * null when it gave none. */
  get recovered() {
    return this._recovered;
  }

  // _joined applies a join reply: a recovery that failed resets the
  // stream and calls onResync; then the publications the reply carries
  // and the deliveries that came before it are passed on in offset order.
  _joined(reply, since) {
    const c = this.client;
    if (c._subs.get(this.channel) !== this) return;
    this._active = true;
    // Not recovered: the stream starts afresh. Only a "recovered":false
    // answer to a since is a gap; a reply without it means no history.
    if (reply.recovered !== true) this._offset = null;
    if (since && reply.recovered === false) c._call(this._o.onResync, { channel: this.channel });
    this._flush(Array.isArray(reply.publications) ? reply.publications : []);
    if (reply.recovered !== true && typeof reply.offset === "number" && !(this._offset >= reply.offset)) {
      this._offset = reply.offset;
    }
    this._epoch = typeof reply.epoch === "string" ? reply.epoch : null;
    this._recovered = typeof reply.recovered === "boolean" ? reply.recovered : null;
    this._head = typeof reply.offset === "number" ? reply.offset : null;
  }

  _flush(first = []) {
    const all = first.concat(this._buf || []);
    this._buf = null;
    all.sort((a, b) => (a.offset ?? 0) - (b.offset ?? 0));
    for (const m of all) this._deliver(m);
  }

  _deliver(m) {
    if (this._buf) return this._buf.push(m);
    const c = this.client;
    if ("join" in m) return c._call(this._o.onJoin, m.join);
    if ("leave" in m) return c._call(this._o.onLeave, m.leave);
    if (!("content" in m)) return;
    const offset = m.offset;
    if (typeof offset === "number") {
      if (this._offset != null && offset <= this._offset) return; // a duplicate
      this._offset = offset;
    }
    c._call(this._o.onMessage, m.content, { channel: this.channel, offset });
  }

  /** leave unsubscribes; nothing is delivered to this subscription after
   * the call. While disconnected it resolves at once (the server has
   * forgotten the connection). */
  leave() {
    const c = this.client;
    if (c._subs.get(this.channel) !== this) return Promise.resolve();
    c._subs.delete(this.channel);
    this._active = false;
    if (c.state !== "connected") return Promise.resolve();
    return c._send("leave", { channel: this.channel }).then(
      () => {},
      (e) => {
        if (e.code !== "disconnected") throw e;
      },
    );
  }
}
