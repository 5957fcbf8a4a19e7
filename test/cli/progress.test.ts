/**
 * What the CLI prints on stderr around its progress: a bar on a terminal whose line is cleared
 * before any log line, warning or error; counts with their noun in the singular for one; join's
 * check of the .out files ending on a line of its own; prep's progress with bytes only once they
 * are counted; a prep rerun that changes nothing saying so.
 */
import fs from "node:fs/promises";
import path from "node:path";
import { PassThrough, Readable } from "node:stream";
import { tableFromArrays, tableToIPC } from "apache-arrow";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { idleInstancesLine } from "../../src/cli/cmd-prep.js";
import { CliContext } from "../../src/cli/context.js";
import { reportError } from "../../src/cli/main.js";
import { Progress } from "../../src/cli/progress.js";
import { BtkitError, counted, EXIT } from "../../src/errors.js";
import { Storage } from "../../src/io/storage.js";
import { parseDescriptor, serializeDescriptor } from "../../src/protocol/descriptor.js";
import { runCli } from "../helpers/cli.js";
import { tempDir } from "../helpers/tmp.js";
import { jsonOut, makeRows, writeFixture } from "../join/fixture.js";

/** A context whose stderr is a terminal (or not), and what it wrote there. */
function context(tty: boolean, env: Record<string, string> = {}): { ctx: CliContext; stderr: () => string } {
  const err: Buffer[] = [];
  const stderr = Object.assign(new PassThrough(), tty ? { isTTY: true, columns: 120 } : {});
  stderr.on("data", (c: Buffer) => err.push(c));
  const ctx = new CliContext({ stdin: Readable.from([]), stdout: new PassThrough(), stderr, env: { BTKIT_PROGRESS_INTERVAL_MS: "0", ...env } });
  return { ctx, stderr: () => Buffer.concat(err).toString("utf8") };
}

describe("counts and units", () => {
  it("counted: the noun in the singular for one, plural otherwise", () => {
    expect([counted(0, "shard"), counted(1, "shard"), counted(2, "shard"), counted(1n, "row"), counted(3, "model process", "model processes"), counted(1, "model process", "model processes")]).toEqual(["0 shards", "1 shard", "2 shards", "1 row", "3 model processes", "1 model process"]);
  });

  it("progress units follow the total, else the count", () => {
    const { ctx, stderr } = context(false);
    const p = new Progress(ctx);
    p.update({ label: "a", done: 0, total: 1, unit: "shard" }, true);
    p.update({ label: "b", done: 1, total: 1, unit: ".out file" }, true);
    p.update({ label: "c", done: 2, total: 7, unit: "shard" }, true);
    p.update({ label: "d", done: 1, unit: "row" }, true);
    p.update({ label: "e", done: 65536, unit: "row" }, true);
    expect(stderr().split("\n").map((l) => l.replace(/ [\d.]+s$/, ""))).toEqual(["a: 0/1 shard", "b: 1/1 .out file", "c: 2/7 shards", "d: 1 row", "e: 65,536 rows", ""]);
  });
});

describe("a progress bar on a terminal", () => {
  it("is cleared from its line before a log line, a warning or an error, and drawn again after", () => {
    const { ctx, stderr } = context(true);
    const p = new Progress(ctx);
    p.update({ label: "join", done: 1, total: 4, unit: "shard" }, true);
    ctx.log("a log line");
    p.update({ label: "join", done: 2, total: 4, unit: "shard" }, true);
    ctx.warn("a warning");
    p.update({ label: "join", done: 3, total: 4, unit: "shard" }, true);
    const code = reportError(ctx, new BtkitError("JOIN_COUNT_MISMATCH", "x.out has 2 lines, but shard x has 3 rows", { shard: "x" }), "join");
    expect(code).toBe(EXIT.data);
    const text = stderr().replace(/ \d+\.\ds/g, "");
    expect(text).toBe(
      "\r\x1b[K[#####---------------] join: 1/4 shards\r\x1b[Ka log line\n" +
        "\r\x1b[K[##########----------] join: 2/4 shards\r\x1b[Kbtkit: warning: a warning\n" +
        "\r\x1b[K[###############-----] join: 3/4 shards\r\x1b[Kbtkit join: error [JOIN_COUNT_MISMATCH]: x.out has 2 lines, but shard x has 3 rows\n  at shard=x\n",
    );
  });

  it("ends with a newline, after which nothing is cleared; without a terminal, lines are plain", () => {
    const { ctx, stderr } = context(true);
    const p = new Progress(ctx);
    p.update({ label: "prep", done: 5, unit: "row" }, true);
    p.finish({ label: "prep", done: 6, unit: "row" });
    ctx.log("after");
    expect(stderr().replace(/ \d+\.\ds/g, "")).toBe("\r\x1b[Kprep: 5 rows\r\x1b[Kprep: 6 rows\nafter\n");
    const plain = context(false);
    const q = new Progress(plain.ctx);
    q.update({ label: "prep", done: 5, unit: "row" }, true);
    plain.ctx.log("after");
    expect(plain.stderr().replace(/ \d+\.\ds/g, "")).toBe("prep: 5 rows\nafter\n");
  });
});

describe("the CLI around its progress", () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir("btkit-progress-"));
  });
  afterEach(() => cleanup());

  async function fixture(secondOut: (rows: ReturnType<typeof makeRows>) => string | undefined, name = "prep") {
    const storage = new Storage();
    const rows = makeRows(6, 51);
    const a = rows.slice(0, 3);
    const b = rows.slice(3);
    return (await writeFixture(storage, storage.parse(path.join(dir, name)), { shards: [{ rows: a, out: jsonOut(a) }, { rows: b, out: secondOut(b) }] })).descriptor;
  }

  it("join on a terminal: an error in the check starts on a cleared line, not after the bar", async () => {
    const d = await fixture((b) => jsonOut(b.slice(1)));
    const r = await runCli(["join", "--out", path.join(dir, "j.parquet")], { stdin: serializeDescriptor(d), tty: true });
    expect(r.code).toBe(EXIT.data);
    // eslint-disable-next-line no-control-regex -- ESC [K: the terminal clears the line
    expect(r.stderr).toMatch(/^\r\x1b\[K\[-{20}\] join: checking \.out files: 0\/2 shards [\d.]+s(\r\x1b\[K\[#{10}-{10}\] join: checking \.out files: 1\/2 shards [\d.]+s)?\r\x1b\[Kbtkit join: error \[JOIN_COUNT_MISMATCH\]: \S+ has 2 lines, but shard part-00001\.csv has 3 rows/);
  });

  it("join: the check ends on a line saying what was checked (no 0/N line first), naming shards without an .out", async () => {
    const d = await fixture((b) => jsonOut(b));
    const r = await runCli(["join", "--out", path.join(dir, "j.jsonl")], { stdin: serializeDescriptor(d) });
    expect(r.code).toBe(0);
    expect(r.stderr).not.toContain("0/2");
    expect(r.stderr).toMatch(/^join: checking \.out files: 1\/2 shards [\d.]+s\njoin: checked \.out files: 2 shards [\d.]+s\n/);
    const one = await fixture(() => undefined, "prep-one");
    const partial = await runCli(["join", "--out", path.join(dir, "k.jsonl"), "--allow-missing"], { stdin: serializeDescriptor(one) });
    expect(partial.code).toBe(0);
    expect(partial.stderr).toMatch(/join: checked \.out files: 1 shard \(1 shard without one: --allow-missing\) [\d.]+s\n/);
    expect(partial.stderr).toContain("btkit: warning: 1 shard had no .out and was not joined: part-00001.csv (listed in results.missing)");
    expect(partial.stderr).toMatch(/join: 3\/3 rows -> file:\/\/\S+k\.jsonl/);
  });

  it("prep of an Arrow input shows rows, and bytes only once they are counted", async () => {
    const n = 200_000;
    await fs.writeFile(path.join(dir, "t.arrow"), tableToIPC(tableFromArrays({ a: Float64Array.from({ length: n }, (_, i) => i / 2), b: Int32Array.from({ length: n }, (_, i) => i) }), "file"));
    const r = await runCli(["prep", "t.arrow", "--out", "p"], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stderr.split("\n").filter((l) => l.startsWith("prep: ") && !l.includes("stored"));
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(r.stderr).not.toContain("0 B");
    expect(lines[0]).toMatch(/^prep: 65,536 rows 1 shard [\d.]+s$/);
    expect(lines[lines.length - 1]).toMatch(/^prep: 200,000 rows \d+\.\d MiB, 1 shard [\d.]+s$/);
  });

  it("prep --instances with fewer rows than instances says how many idle; --shard-rows with --instances is taken", async () => {
    await fs.writeFile(path.join(dir, "three.csv"), "id,x\n1,2\n3,4\n5,6\n");
    const r = await runCli(["prep", "three.csv", "--out", "p3", "--instances", "4"], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(parseDescriptor(r.stdout).shards.map((s) => s.rows)).toEqual([1, 1, 1]);
    expect(r.stderr).toContain("prep: 3 rows: 3 shards, so 1 of 4 instances idles\n");
    const two = await runCli(["prep", "three.csv", "--out", "p2", "--instances", "5"], { cwd: dir });
    expect(two.stderr).toContain("prep: 3 rows: 3 shards, so 2 of 5 instances idle\n");
    const full = await runCli(["prep", "three.csv", "--out", "p1", "--instances", "3"], { cwd: dir });
    expect(full.stderr).not.toContain("idle");
    const rows = ["id,x", ...Array.from({ length: 100 }, (_, i) => `${i},${i * 2}`)];
    await fs.writeFile(path.join(dir, "hundred.csv"), `${rows.join("\n")}\n`);
    const both = await runCli(["prep", "hundred.csv", "--out", "p4", "--instances", "2", "--shard-rows", "10"], { cwd: dir });
    expect(both.code, both.stderr).toBe(0);
    const d = parseDescriptor(both.stdout);
    expect(d.shards.length % 2).toBe(0);
    expect(Math.max(...d.shards.map((s) => s.rows))).toBeLessThanOrEqual(10);
    expect(d.source.rowsWritten).toBe(100);
    expect(d.shards.length).toBeGreaterThanOrEqual(10);
    // the rows running out mid-round (a shard count not a multiple): the last round's idle instances
    expect(idleInstancesLine({ ...d, shards: d.shards.slice(0, 5) }, 4)).toBe("prep: 5 shards, not a multiple of 4 (the rows ran out): in the last round 3 of 4 instances idle");
    expect(idleInstancesLine(d, undefined)).toBeUndefined();
  });

  it("a prep rerun with the same inputs and options says it wrote nothing; --overwrite prepares again", async () => {
    await fs.writeFile(path.join(dir, "in.csv"), "id,x\n1,2\n3,4\n");
    const first = await runCli(["prep", "in.csv", "--out", "p"], { cwd: dir });
    expect(first.code).toBe(0);
    expect(first.stderr).toContain("prep: 2 rows; stored ");
    const d = parseDescriptor(first.stdout);
    const again = await runCli(["prep", "in.csv", "--out", "p"], { cwd: dir });
    expect(again.code).toBe(0);
    expect(again.stderr).toBe(`prep: unchanged, nothing written: --out p already holds this preparation of the same inputs with the same options (2 rows in 1 shard, made ${d.createdAt}); --overwrite prepares it again\n`);
    expect(parseDescriptor(again.stdout)).toEqual(d);
    const over = await runCli(["prep", "in.csv", "--out", "p", "--overwrite"], { cwd: dir });
    expect(over.code).toBe(0);
    expect(over.stderr).toContain("prep: 2 rows; stored ");
    expect(parseDescriptor(over.stdout).createdAt > d.createdAt).toBe(true);
  });
});
