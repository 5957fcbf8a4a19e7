#!/usr/bin/env node
// The npm registry this project is built against serves only the Linux x64 builds of DuckDB's
// bindings (the test oracle). npm then leaves the other platforms' optional packages out of
// package-lock.json, and `npm ci` refuses the lockfile ("Missing: @duckdb/node-bindings-darwin-arm64").
// This script writes those optional entries back (version, os, cpu, libc as declared by
// @duckdb/node-bindings); npm skips them on a non-matching platform without fetching them.
// Run it after any `npm install` that rewrites the lockfile: `node scripts/lock-platforms.mjs`.
import fs from "node:fs";

const file = new URL("../package-lock.json", import.meta.url);
const lock = JSON.parse(fs.readFileSync(file, "utf8"));
const parentKey = "node_modules/@duckdb/node-bindings";
const parent = lock.packages[parentKey];
if (!parent) {
  console.error("lock-platforms: no @duckdb/node-bindings in package-lock.json; nothing to do");
  process.exit(0);
}
const platform = (name) => {
  const m = /node-bindings-(darwin|linux|win32)-(x64|arm64)(-musl)?$/.exec(name);
  if (!m) return undefined;
  const e = { cpu: [m[2]] };
  if (m[1] === "linux") e.libc = [m[3] ? "musl" : "glibc"];
  e.os = [m[1]];
  return e;
};
const out = {};
let added = 0;
for (const [key, value] of Object.entries(lock.packages)) {
  out[key] = value;
  if (key !== parentKey) continue;
  for (const [dep, version] of Object.entries(parent.optionalDependencies ?? {})) {
    const k = `node_modules/${dep}`;
    if (lock.packages[k]) continue;
    const p = platform(dep);
    if (!p) throw new Error(`lock-platforms: unknown platform package ${dep}`);
    out[k] = { version, cpu: p.cpu, dev: parent.dev ?? false, ...(p.libc ? { libc: p.libc } : {}), license: "MIT", optional: true, os: p.os };
    added++;
  }
}
lock.packages = out;
fs.writeFileSync(file, JSON.stringify(lock, null, 2) + "\n");
console.error(`lock-platforms: ${added} optional platform entr${added === 1 ? "y" : "ies"} added`);
