/**
 * submit --descriptor on a preparation made in parts (prepare({ part })) and not merged: the parts
 * merged and submitted when all are there (against the in-process emulator, --local); the missing
 * ones named otherwise, with --wait-parts as the way out; --wait-parts waiting for a part written
 * later, and stopping on Ctrl-C.
 */
import fs from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, expect, it } from "vitest";
import { DEFAULT_DEPS } from "../../src/cli/job-prologue.js";
import { startExampleModel, type RunningExampleModel } from "../../src/emulator/index.js";
import { EXIT } from "../../src/errors.js";
import { prepare } from "../../src/prepare/index.js";
import { parseDescriptor } from "../../src/protocol/descriptor.js";
import { tempDir } from "../helpers/tmp.js";
import { runJobCli } from "./run.js";

let dir: string;
let cleanup: () => Promise<void>;
let model: RunningExampleModel;
let inputs: string[];
let out: string;

beforeEach(async () => {
  ({ dir, cleanup } = await tempDir("btkit-submit-parts-"));
  model = await startExampleModel({ port: 0, env: {} });
  inputs = [];
  // three input files, one a part: rows a,b with a = file * 10 + row
  for (let f = 0; f < 3; f++) {
    const p = path.join(dir, `in-${f}.csv`);
    await fs.writeFile(p, `a,b\n${Array.from({ length: 4 }, (_, r) => `${f * 10 + r},1`).join("\n")}\n`);
    inputs.push(p);
  }
  out = path.join(dir, "prep");
});
afterEach(async () => {
  await model.close();
  await cleanup();
});

const part = (index: number) => prepare({ inputs, out, part: { index, count: 3 } });
const submit = (args: string[], options: { env?: Record<string, string>; signal?: AbortSignal } = {}) =>
  runJobCli(DEFAULT_DEPS, ["submit", "--local", "--state", path.join(dir, "state"), "--model-url", model.url, "--poll-seconds", "0.05", "--descriptor", `${out}/`, ...args], options);

/** The job's .out lines, all shards in order: the example model's sum of each row (a + 1). */
async function predictions(stdout: string): Promise<string[]> {
  const d = parseDescriptor(stdout);
  const lines: string[] = [];
  for (const s of d.shards) lines.push(...(await fs.readFile(path.join(out, "output", d.job!.name, `${s.name}.out`), "utf8")).trim().split("\n"));
  return lines;
}
const EXPECTED = [0, 1, 2, 3, 10, 11, 12, 13, 20, 21, 22, 23].map((a) => String(a + 1));

it("all parts there: merges them into btkit.json and submits the merged descriptor", async () => {
  for (const i of [0, 1, 2]) await part(i);
  const r = await submit([]);
  expect(r.code, r.stderr).toBe(0);
  expect(r.stderr).toContain(`submit: merged 3 part descriptors (12 rows in 3 shards) into ${out}/btkit.json`);
  const d = parseDescriptor(r.stdout);
  expect(d.job).toMatchObject({ backend: "emulator", status: "Completed" });
  expect(d.shards.map((s) => s.name)).toEqual(["part-0of3-00000.csv", "part-1of3-00000.csv", "part-2of3-00000.csv"]);
  expect(await predictions(r.stdout)).toEqual(EXPECTED);
  // the merged descriptor is stored: a rerun reads it and attaches
  expect(parseDescriptor(await fs.readFile(path.join(out, "btkit.json"), "utf8")).source.rowsWritten).toBe(12);
  const again = await submit([]);
  expect(again.code).toBe(0);
  expect(again.stderr).not.toContain("merged");
  expect(again.stderr).toContain(`attached to existing job ${d.job!.name}`);
});

it("a part missing: IO_NOT_FOUND naming it and --wait-parts; with --wait-parts the part written later is waited for", async () => {
  await part(0);
  await part(2);
  const refused = await submit([]);
  expect(refused.code).toBe(EXIT.noInput);
  expect(refused.stderr).toContain("IO_NOT_FOUND");
  expect(refused.stderr).toContain(`--descriptor ${out}/: no btkit.json there, and ${out}/parts/ holds 2 part descriptors of 3: missing part 1 (their btkit prep --part I/3 runs have not finished, or failed). --wait-parts waits for them, then merges the parts and submits`);
  await expect(fs.stat(path.join(dir, "state", "jobs"))).rejects.toThrow();

  // the flag the message names, on the same preparation: part 1 arrives 300 ms later
  const started = Date.now();
  const late = new Promise<void>((resolve, reject) => setTimeout(() => part(1).then(() => resolve(), reject), 300));
  const r = await submit(["--wait-parts"], { env: { BTKIT_PARTS_POLL_MS: "50" } });
  await late;
  expect(r.code, r.stderr).toBe(0);
  expect(Date.now() - started).toBeGreaterThanOrEqual(300);
  expect(r.stderr.split("\n").filter((l) => l.startsWith("submit: waiting for parts"))).toEqual(["submit: waiting for parts: 2/3 present (missing: 1)"]);
  expect(r.stderr).toContain("submit: merged 3 part descriptors (12 rows in 3 shards)");
  expect(parseDescriptor(r.stdout).job?.status).toBe("Completed");
  expect(await predictions(r.stdout)).toEqual(EXPECTED);
});

it("--wait-parts stops on Ctrl-C, having launched nothing; without --descriptor it is a usage error", async () => {
  await part(1);
  const ctrlC = new AbortController();
  setTimeout(() => ctrlC.abort(), 200);
  const r = await submit(["--wait-parts"], { env: { BTKIT_PARTS_POLL_MS: "50" }, signal: ctrlC.signal });
  expect(r.code).toBe(EXIT.interrupted);
  expect(r.stderr).toContain("submit: waiting for parts: 1/3 present (missing: 0, 2)");
  await expect(fs.stat(path.join(out, "btkit.json"))).rejects.toThrow();
  const usage = await runJobCli(DEFAULT_DEPS, ["submit", "--local", "--wait-parts"], { stdin: "" });
  expect(usage.code).toBe(EXIT.usage);
  expect(usage.stderr).toContain("--wait-parts waits for the part descriptors under a preparation: give its folder or prefix with --descriptor");
});

it("part descriptors of two part counts under parts/: PREP_MERGE naming both counts", async () => {
  await part(0);
  await fs.copyFile(path.join(out, "parts", "part-0of3.btkit.json"), path.join(out, "parts", "part-1of2.btkit.json"));
  const r = await submit([]);
  expect(r.code).toBe(EXIT.data);
  expect(r.stderr).toContain(`PREP_MERGE]: ${out}/parts/ holds part descriptors of 2 parts and 3 parts: the parts of two preparations; remove the part descriptors of the stale one`);
  // the way out: without the stale descriptor, the parts of 3 are read (and the missing ones named)
  await fs.rm(path.join(out, "parts", "part-1of2.btkit.json"));
  const after = await submit([]);
  expect(after.code).toBe(EXIT.noInput);
  expect(after.stderr).toContain("holds 1 part descriptor of 3: missing part 1, part 2");
});
