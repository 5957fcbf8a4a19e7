/**
 * What the light forms of the CLI load: `btkit --version` and every form of help load none of the
 * heavy packages (the AWS SDK, Arrow, Parquet, the streaming JSON parser), so that each stage of a
 * pipe pays little to start. They run as a user runs them (dist/), with a loader hook recording
 * every module the imports resolve to. How fast they start is the bench's to measure
 * (bench/run.mjs --tasks startup), not a test's.
 */
import fs from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUILD_TIMEOUT_MS, ensureBuilt } from "../helpers/build.js";
import { run } from "../helpers/spawn.js";
import { tempDir } from "../helpers/tmp.js";

const root = path.resolve(import.meta.dirname, "../..");
const HEAVY = /\/node_modules\/(@aws-sdk|@smithy|apache-arrow|parquet-wasm|stream-json|stream-chain)\//;

let dir: string;
let cleanup: () => Promise<void>;
let n = 0;

beforeAll(async () => {
  await ensureBuilt();
  ({ dir, cleanup } = await tempDir());
}, BUILD_TIMEOUT_MS);
afterAll(async () => cleanup?.());

/** Runs the built bin; returns its exit status and the heavy packages' modules it loaded. */
async function loads(argv: string[]): Promise<{ status: number | null; heavy: string[] }> {
  const record = path.join(dir, `imports-${n++}.txt`);
  const r = await run(process.execPath, ["--import", path.join(root, "test/helpers/record-imports.mjs"), path.join(root, "dist/bin/btkit.js"), ...argv], {
    cwd: dir,
    env: { ...process.env, BTKIT_RECORD_IMPORTS: record },
  });
  const urls = (await fs.readFile(record, "utf8").catch(() => "")).split("\n").filter((u) => u !== "");
  // the recording itself works: the bin's own modules are in it
  expect(urls.some((u) => u.endsWith("/dist/src/cli/main.js"))).toBe(true);
  return { status: r.status, heavy: [...new Set(urls.filter((u) => HEAVY.test(u)))] };
}

describe("startup", () => {
  const forms = ["--version", "help", "--help", "-h", "help prep", "prep --help", "help submit", "submit --help", "status --help", "stop --help", "merge --help", "join --help", "emulator --help", "example-model -h"];
  it.each(forms)("btkit %s loads no AWS SDK, Arrow or Parquet", async (form) => {
    expect(await loads(form.split(" "))).toEqual({ status: 0, heavy: [] });
  });

  it("a command that runs loads what it needs (the hook sees the SDK when it is loaded)", async () => {
    const r = await loads(["submit", "--descriptor", path.join(dir, "missing.json"), "--model", "m"]);
    expect(r.status).not.toBe(0);
    expect(r.heavy.some((u) => u.includes("/@aws-sdk/client-sagemaker/"))).toBe(true);
  });
});
