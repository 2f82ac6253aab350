// The budget: under 6 KB minified and gzipped.
import { test } from "node:test";
import assert from "node:assert/strict";

test("wsify.js is under 6 KB minified+gzipped", async (t) => {
  // esbuild comes from `npm ci` in clients/js (scripts/deps.sh, make deps).
  const { sizes } = await import("../size.mjs").catch((e) => {
    throw new Error("esbuild is missing: run `make deps` (" + e.message + ")");
  });
  const s = await sizes();
  t.diagnostic(`source ${s.source} B, minified ${s.minified} B, minified+gzipped ${s.gzipped} B`);
  assert.ok(s.gzipped < 6 * 1024, `${s.gzipped} B`);
});
