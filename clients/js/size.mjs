// Prints the client's size: as written, minified (esbuild, a devDependency)
// and minified+gzipped, the figure README.md reports and test/size.test.mjs
// keeps under 6 KB.  node size.mjs
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { transform } from "esbuild";

export async function sizes() {
  const src = readFileSync(new URL("./wsify.js", import.meta.url), "utf8");
  const { code } = await transform(src, { minify: true, format: "esm", target: "es2022" });
  return { source: Buffer.byteLength(src), minified: Buffer.byteLength(code), gzipped: gzipSync(code, { level: 9 }).length };
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(await sizes());
