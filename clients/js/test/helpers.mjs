// Helpers of the client tests: the real wsify binary on a loopback port,
// stand-in servers for what it cannot do on demand (never answer, close
// with a chosen reason, speak the history protocol), and waiting.
import { spawn, execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, request as httpRequest } from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

let binary = process.env.WSIFY_BIN;

// wsifyBinary is the binary run-tests.sh built for the whole run, or one
// built here when a test file is run on its own.
function wsifyBinary() {
  if (!binary) {
    const dir = mkdtempSync(join(tmpdir(), "wsify-js-"));
    binary = join(dir, "wsify");
    execFileSync("go", ["build", "-o", binary, "./cmd/wsify"], { cwd: root, stdio: "inherit" });
    process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  }
  return binary;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// waitFor polls cond until it is true, failing after ms.
export async function waitFor(cond, ms = 5000, what = "condition") {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error("timed out waiting for " + what);
    await sleep(5);
  }
}

// nextState resolves with the info of client's next change to state.
export function nextState(client, state, ms = 5000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error("timed out waiting for state " + state));
    }, ms);
    const off = client.on("state", (s, info) => {
      if (s !== state) return;
      clearTimeout(timer);
      off();
      resolve(info);
    });
  });
}

// freePort is a loopback port nothing listens on (connections are refused).
export async function freePort() {
  const srv = net.createServer();
  await new Promise((r) => srv.listen(0, "127.0.0.1", r));
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}

const listening = /wsify listening"? addr=(\S+)/;

// Every server started is killed when the test process exits, whatever
// the test did.
const running = new Set();
process.on("exit", () => running.forEach((p) => p.kill("SIGKILL")));

// startWsify runs the binary on 127.0.0.1:port (0: a free one) with env
// added, and resolves once it logs where it listens.
export function startWsify({ port = 0, env = {} } = {}) {
  const proc = spawn(wsifyBinary(), ["--listen-addr", "127.0.0.1:" + port], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  running.add(proc);
  const exited = new Promise((r) => proc.on("exit", r)).then(() => running.delete(proc));
  let log = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("wsify did not start:\n" + log)), 20000);
    proc.on("exit", (code) => reject(new Error("wsify exited " + code + ":\n" + log)));
    proc.stderr.setEncoding("utf8");
    proc.stderr.on("data", (chunk) => {
      log += chunk;
      const m = log.match(listening);
      if (!m || proc.started) return;
      proc.started = true;
      clearTimeout(timer);
      const port = Number(m[1].split(":").pop());
      resolve({
        proc,
        port,
        url: `ws://127.0.0.1:${port}/ws`,
        http: `http://127.0.0.1:${port}`,
        log: () => log,
        // stop sends sig and waits for the exit.
        async stop(sig = "SIGTERM") {
          if (proc.exitCode === null && proc.signalCode === null) proc.kill(sig);
          await exited;
        },
        signal: (sig) => proc.kill(sig),
        // pause stops the process (SIGSTOP) and waits until the kernel
        // says it is stopped: kill returns before every thread is.
        async pause() {
          proc.kill("SIGSTOP");
          await waitFor(() => /^\d+ \(.*\) T/.test(readFileSync(`/proc/${proc.pid}/stat`, "utf8")), 5000, "stopped");
        },
      });
    });
  });
}

// startRedis runs a redis-server (installed by make deps) on a free port,
// killed when the test process exits, and resolves with its URL once it
// answers.
export async function startRedis() {
  const port = await freePort();
  const proc = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
    stdio: "ignore",
  });
  running.add(proc);
  proc.on("exit", () => running.delete(proc));
  const answers = () =>
    new Promise((resolve) => {
      const s = net.connect(port, "127.0.0.1", () => s.write("PING\r\n"));
      s.on("data", (d) => { resolve(String(d).startsWith("+PONG")); s.destroy(); });
      s.on("error", () => resolve(false));
    });
  for (let i = 0; i < 200 && !(await answers()); i++) await sleep(25);
  return { url: `redis://127.0.0.1:${port}`, stop: () => proc.kill("SIGKILL") };
}

// request sends one HTTP request on a connection of its own. Not fetch:
// Node's fetch keeps connections alive in the pool its WebSocket shares,
// and a WebSocket handshake sent on a connection that already carried a
// request is refused (README: an upgrade must be the first request).
function request(url, method = "GET", body) {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, agent: false, headers: body ? { "Content-Type": "application/json" } : {} }, (res) => {
      let b = "";
      res.setEncoding("utf8");
      res.on("data", (c) => (b += c));
      res.on("end", () => resolve({ status: res.statusCode, body: b }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

// publish POSTs /broadcast to node, as a backend would.
export async function publish(node, channel, content) {
  const r = await request(node.http + "/broadcast", "POST", JSON.stringify({ channel, content }));
  if (r.status !== 201) throw new Error("POST /broadcast: " + r.status + " " + r.body);
}

export async function stats(node) {
  return JSON.parse((await request(node.http + "/stats")).body);
}

// authorizer is an HTTP authorizer on a free port: decide(body) returns
// the status to answer, or { status, json } to answer json too (a
// connect's identity). It records the bodies it got.
export async function authorizer(decide) {
  const bodies = [];
  const srv = createServer((req, res) => {
    let b = "";
    req.on("data", (c) => (b += c));
    req.on("end", () => {
      const body = JSON.parse(b);
      bodies.push(body);
      const d = decide(body);
      if (typeof d === "number") {
        res.writeHead(d);
        return res.end();
      }
      res.writeHead(d.status, { "Content-Type": "application/json" });
      res.end(JSON.stringify(d.json));
    });
  });
  await new Promise((r) => srv.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${srv.address().port}/auth`,
    bodies,
    close: () => new Promise((r) => srv.close(r)),
  };
}

// fakeServer is a minimal WebSocket server (handshake, unfragmented frames)
// for behaviours the real one cannot be made to show: onConn(conn) gets
// each connection, conn.commands the parsed commands the client sent, and
// conn.onCommand(cmd) is called for each.
export async function fakeServer(onConn) {
  const conns = [];
  const srv = net.createServer((sock) => {
    let buf = Buffer.alloc(0);
    let upgraded = false;
    const conn = {
      sock,
      commands: [],
      onCommand: () => {},
      send(m) {
        const p = Buffer.from(typeof m === "string" ? m : JSON.stringify(m));
        sock.write(Buffer.concat([header(0x81, p.length), p]));
      },
      close(code, reason = "") {
        const r = Buffer.from(reason);
        const p = Buffer.alloc(2 + r.length);
        p.writeUInt16BE(code);
        r.copy(p, 2);
        sock.end(Buffer.concat([header(0x88, p.length), p]));
      },
      drop: () => sock.destroy(),
    };
    sock.on("error", () => {});
    sock.on("data", (d) => {
      buf = Buffer.concat([buf, d]);
      if (!upgraded) {
        const end = buf.indexOf("\r\n\r\n");
        if (end < 0) return;
        const key = /sec-websocket-key:\s*(\S+)/i.exec(buf.subarray(0, end).toString())[1];
        const accept = createHash("sha1").update(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest("base64");
        sock.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
          "Sec-WebSocket-Accept: " + accept + "\r\n\r\n");
        buf = buf.subarray(end + 4);
        upgraded = true;
        conns.push(conn);
        onConn(conn);
      }
      for (;;) {
        const f = parseFrame(buf);
        if (!f) return;
        buf = buf.subarray(f.size);
        if (f.op === 1) {
          const cmd = JSON.parse(f.payload.toString());
          conn.commands.push(cmd);
          conn.onCommand(cmd);
        } else if (f.op === 8) {
          sock.end(Buffer.concat([header(0x88, f.payload.length), f.payload]));
        }
      }
    });
  });
  await new Promise((r) => srv.listen(0, "127.0.0.1", r));
  return {
    url: `ws://127.0.0.1:${srv.address().port}/ws`,
    conns,
    close() {
      for (const c of conns) c.sock.destroy();
      return new Promise((r) => srv.close(r));
    },
  };
}

function header(first, len) {
  if (len < 126) return Buffer.from([first, len]);
  const h = Buffer.alloc(4);
  h[0] = first;
  h[1] = 126;
  h.writeUInt16BE(len, 2);
  return h;
}

// parseFrame reads one masked client frame (payload under 64 KiB) off buf.
function parseFrame(buf) {
  if (buf.length < 2) return null;
  let len = buf[1] & 0x7f;
  let at = 2;
  if (len === 126) {
    if (buf.length < 4) return null;
    len = buf.readUInt16BE(2);
    at = 4;
  }
  if (buf.length < at + 4 + len) return null;
  const mask = buf.subarray(at, at + 4);
  const payload = Buffer.from(buf.subarray(at + 4, at + 4 + len));
  for (let i = 0; i < len; i++) payload[i] ^= mask[i & 3];
  return { op: buf[0] & 0x0f, payload, size: at + 4 + len };
}

// silentServer accepts TCP connections and never answers a byte.
export async function silentServer() {
  const socks = [];
  const srv = net.createServer((s) => {
    socks.push(s);
    s.on("error", () => {});
  });
  await new Promise((r) => srv.listen(0, "127.0.0.1", r));
  return {
    url: `ws://127.0.0.1:${srv.address().port}/ws`,
    accepted: () => socks.length,
    close() {
      for (const s of socks) s.destroy();
      return new Promise((r) => srv.close(r));
    },
  };
}

// histogram renders values in bins of width from lo, one line each.
export function histogram(values, lo, width, bins) {
  const counts = new Array(bins).fill(0);
  for (const v of values) counts[Math.min(bins - 1, Math.max(0, Math.floor((v - lo) / width)))]++;
  const top = Math.max(...counts);
  return {
    counts,
    text: counts
      .map((n, i) => `${String(Math.round(lo + i * width)).padStart(6)} ms ${String(n).padStart(5)} ${"=".repeat(Math.round((40 * n) / top))}`)
      .join("\n"),
  };
}
