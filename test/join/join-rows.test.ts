/**
 * joinRows(): the joined batches of join(), yielded instead of written, with join()'s checks in
 * join()'s order (every .out counted before the first batch, a shard's sidecar checked before its
 * rows), and a consumer that stops early leaving no file open.
 */
import fs from "node:fs";
import path from "node:path";
import { Table, tableFromIPC, type RecordBatch } from "apache-arrow";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { join, joinRows, type JoinProgress, type JoinRowsOptions, type JoinSummary } from "../../src/join/index.js";
import { Storage } from "../../src/io/storage.js";
import type { Descriptor } from "../../src/protocol/descriptor.js";
import { rejectedBy } from "../helpers/errors.js";
import { BtkitError } from "../../src/errors.js";
import { tempDir } from "../helpers/tmp.js";
import { jsonOut, makeRows, writeFixture, type FixtureOptions } from "./fixture.js";

let dir: string;
let cleanup: () => Promise<void>;
const storage = new Storage();
beforeEach(async () => ({ dir, cleanup } = await tempDir()));
afterEach(async () => cleanup());

const fixture = (o: FixtureOptions) => writeFixture(storage, storage.parse(dir), o);

/** Three shards (the middle one empty), sidecars in batches of 6. */
async function threeShards(extra: Partial<FixtureOptions> = {}) {
  const a = makeRows(23, 1, 0);
  const b = makeRows(0, 2, 23);
  const c = makeRows(17, 3, 23);
  return fixture({ shards: [{ rows: a, out: jsonOut(a) }, { rows: b, out: "" }, { rows: c, out: jsonOut(c) }], sidecarBatchRows: 6, ...extra });
}

/** Every batch and the generator's return value. */
async function drain(d: Descriptor, o: JoinRowsOptions = {}): Promise<{ batches: RecordBatch[]; summary: JoinSummary }> {
  const it = joinRows(d, { storage, ...o });
  const batches: RecordBatch[] = [];
  while (true) {
    const r = await it.next();
    if (r.done) return { batches, summary: r.value };
    batches.push(r.value);
  }
}

/** A table's columns as "name:type" and its rows as plain values (bigints, typed arrays as arrays). */
function contents(t: Table): { fields: string[]; rows: unknown[][] } {
  const plain = (v: unknown): unknown => (v !== null && typeof v === "object" && Symbol.iterator in v ? [...(v as Iterable<unknown>)].map(plain) : v);
  return {
    fields: t.schema.fields.map((f) => `${f.name}:${String(f.type)}:${f.nullable}:${JSON.stringify([...f.metadata])}`),
    rows: Array.from({ length: t.numRows }, (_, i) => t.schema.fields.map((f) => plain(t.getChild(f.name)!.get(i)))),
  };
}

/** The numbers of the file descriptors this process holds open under `folder` (Linux /proc). */
function openUnder(folder: string): string[] {
  const fds = fs.readdirSync("/proc/self/fd");
  return fds.flatMap((fd) => {
    try {
      return fs.readlinkSync(`/proc/self/fd/${fd}`).startsWith(folder) ? [fd] : [];
    } catch {
      return [];
    }
  });
}

describe("joinRows", () => {
  it("yields the rows and values join() writes to Arrow, with join()'s results as its return value", async () => {
    for (const o of [{}, { rowNumber: true, withFeatures: false, part: { index: 1, count: 2 } }, { batchRows: 5 }] as JoinRowsOptions[]) {
      const fx = await threeShards();
      const out = path.join(dir, `joined-${Math.random().toString(36).slice(2)}`);
      const written = await join({ descriptor: fx.descriptor, out: o.part ? out : `${out}.arrow`, format: "arrow", storage, ...o });
      const file = written.results.files[0]!;
      const want = tableFromIPC(fs.readFileSync(new URL(file)));
      const progress: JoinProgress["phase"][] = [];
      const { batches, summary } = await drain(fx.descriptor, { ...o, onProgress: (p) => progress.push(p.phase) });
      expect(batches.length).toBeGreaterThan(0);
      for (const b of batches) expect(b.numRows).toBeLessThanOrEqual(o.batchRows ?? 4096);
      const got = new Table(batches);
      expect(contents(got)).toEqual(contents(want));
      expect(got.numRows).toBe(o.part ? 17 : 40);
      const { rows, rowsPerShard, missing, columns, notes } = written.results;
      expect(summary).toEqual({ rows, rowsPerShard, missing, columns, notes });
      expect(progress[0]).toBe("check");
      expect(progress).toContain("join");
      expect(progress.at(-1)).toBe("done");
    }
  });

  it("an .out with one line too many rejects before any batch is yielded, as join() fails (JOIN_COUNT_MISMATCH)", async () => {
    const a = makeRows(12, 1, 0);
    const b = makeRows(9, 2, 12);
    // the tampered .out is the last shard's: a check made only when its rows come up would yield the first shard's first
    const fx = await fixture({ shards: [{ rows: a, out: jsonOut(a) }, { rows: b, out: `${jsonOut(b)}{"label":0,"p":0}\n` }] });
    const joined = await rejectedBy(join({ descriptor: fx.descriptor, out: path.join(dir, "joined.arrow"), format: "arrow", storage }));
    let yielded = 0;
    const streamed = await rejectedBy(
      (async () => {
        for await (const batch of joinRows(fx.descriptor, { storage })) yielded += batch.numRows;
      })(),
    );
    expect(yielded).toBe(0);
    expect(streamed.code).toBe("JOIN_COUNT_MISMATCH");
    expect(streamed.code).toBe(joined.code);
    expect(streamed.context).toEqual(joined.context);
    expect(streamed.context).toMatchObject({ shard: "part-00001.csv", expected: 9, got: 10 });
    expect(fs.readdirSync(dir).filter((n) => n.includes("joined"))).toEqual([]);
  });

  it("a shard's changed sidecar stops the rows before any of that shard's is yielded (IO_CHANGED), as join() fails", async () => {
    const fx = await threeShards();
    // the descriptor records a sha256 the third shard's sidecar does not have
    const d: Descriptor = { ...fx.descriptor, shards: fx.descriptor.shards.map((s, i) => (i === 2 ? { ...s, sidecarSha256: "0".repeat(64) } : s)) };
    const joined = await rejectedBy(join({ descriptor: d, out: path.join(dir, "joined.arrow"), format: "arrow", storage }));
    const ids: bigint[] = [];
    const streamed = await rejectedBy(
      (async () => {
        for await (const batch of joinRows(d, { storage })) ids.push(...(batch.getChild("id")!.toArray() as BigInt64Array));
      })(),
    );
    expect(streamed.code).toBe("IO_CHANGED");
    expect(streamed.context).toEqual(joined.context);
    expect(streamed.context).toMatchObject({ shard: "part-00002.csv" });
    // every row of the first shard, none of the third
    expect(ids).toEqual(makeRows(23, 1, 0).map((r) => r.id));
  });

  it("a consumer that stops early (break) leaves no .out, shard or sidecar open", async () => {
    const a = makeRows(1000, 1, 0);
    const b = makeRows(200, 2, 1000);
    // .out files larger than what the read streams buffer ahead (a few MiB): one stopped midway holds its file open until closed
    const padded = (rows: typeof a) => rows.map((r) => `${JSON.stringify({ label: Number(r.id) % 3, pad: "x".repeat(6000) })}\n`).join("");
    const fx = await fixture({ shards: [{ rows: a, out: padded(a) }, { rows: b, out: padded(b) }], sidecarBatchRows: 50 });
    const checkFds = fs.existsSync("/proc/self/fd");
    let seen = 0;
    for await (const batch of joinRows(fx.descriptor, { storage, batchRows: 50 })) {
      seen += batch.numRows;
      // mid-shard: its .out and its model-input shard are being read
      if (checkFds) expect(openUnder(dir).length).toBeGreaterThan(0);
      if (seen >= 100) break;
    }
    expect(seen).toBe(100);
    if (checkFds) {
      // a destroyed stream closes its file on the next turns of the event loop
      for (let i = 0; i < 100 && openUnder(dir).length > 0; i++) await new Promise((r) => setTimeout(r, 10));
      expect(openUnder(dir)).toEqual([]);
    }
    // and the same when the consumer throws
    const thrown = await (async () => {
      try {
        for await (const batch of joinRows(fx.descriptor, { storage, batchRows: 50 })) if (batch.numRows > 0) throw new Error("sink failed");
      } catch (err) {
        return err as Error;
      }
    })();
    expect(thrown?.message).toBe("sink failed");
    if (checkFds) {
      for (let i = 0; i < 100 && openUnder(dir).length > 0; i++) await new Promise((r) => setTimeout(r, 10));
      expect(openUnder(dir)).toEqual([]);
    }
  });

  it("a prediction column that turns float after int64 batches were yielded is JOIN_TYPE_CONFLICT naming predictionTypes; declared, it joins", async () => {
    const a = makeRows(10, 1, 0);
    const out = a.map((r, i) => `${JSON.stringify({ v: i < 8 ? i : i + 0.5 })}\n`).join("");
    const fx = await fixture({ shards: [{ rows: a, out }] });
    let yielded = 0;
    const err = await rejectedBy(
      (async () => {
        for await (const batch of joinRows(fx.descriptor, { storage, batchRows: 4 })) yielded += batch.numRows;
      })(),
    );
    expect(err.code).toBe("JOIN_TYPE_CONFLICT");
    expect(err.context).toMatchObject({ column: "pred_v", line: 9, option: "predictionTypes" });
    expect(err.message).toContain('predictionTypes: { "pred_v": "float64" }');
    expect(yielded).toBe(8);
    const { batches } = await drain(fx.descriptor, { batchRows: 4, predictionTypes: { pred_v: "float64" } });
    expect(batches.flatMap((b) => [...b.getChild("pred_v")!])).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8.5, 9.5]);
  });

  it("join() widens an int64 prediction column to float64 when a later number is one a double does not hold (0.10000000000000001, 1e400, 1e-400), and counts it rounded", async () => {
    for (const late of ["0.10000000000000001", "1e400", "1e-400"]) {
      const a = makeRows(10, 1, 0);
      const out = a.map((_, i) => `{"v":${i < 8 ? i : late}}\n`).join("");
      const fx = await fixture({ shards: [{ rows: a, out }] });
      const file = path.join(dir, `widen-${Math.random().toString(36).slice(2)}.jsonl`);
      const written = await join({ descriptor: fx.descriptor, out: file, format: "jsonl", storage, batchRows: 4 });
      const notes = written.results.notes ?? [];
      expect(notes.some((n) => n.reason.startsWith("prediction column pred_v widened from int64 to float64 (line 9"))).toBe(true);
      expect(notes.find((n) => n.reason.startsWith("prediction numbers with more significant digits"))?.count).toBe(2);
      const values = fs.readFileSync(file, "utf8").trim().split("\n").map((l) => (JSON.parse(l) as { pred_v: number | null }).pred_v);
      expect(values.slice(0, 8)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
      // 0.10000000000000001 is the double 0.1; 1e400 is beyond float64 (written null); 1e-400 is 0
      expect(values.slice(8)).toEqual(late === "1e400" ? [null, null] : late === "1e-400" ? [0, 0] : [0.1, 0.1]);
    }
  });

  it("a preparation with no rows (no job) yields nothing and returns an empty summary with the input's columns", async () => {
    const fx = await threeShards();
    const { job: _job, ...rest } = fx.descriptor;
    const { batches, summary } = await drain({ ...rest, source: { ...rest.source, rowsWritten: 0 }, shards: [] });
    expect(batches).toEqual([]);
    expect(summary).toMatchObject({ rows: 0, rowsPerShard: {}, missing: [], notes: [{ reason: "the preparation has no rows: no job ran, the table is empty", count: 1 }] });
    expect(summary.columns.map((c) => c.name)).toEqual(["id", "name", "score", "flag", "ts", "meta", "x1", "x2"]);
  });

  it("an abort between batches ends the iteration with the signal's reason", async () => {
    const fx = await threeShards();
    const ac = new AbortController();
    const seen: number[] = [];
    const err = await rejectedBy(
      (async () => {
        for await (const b of joinRows(fx.descriptor, { storage, signal: ac.signal, batchRows: 5 })) {
          seen.push(b.numRows);
          if (seen.length === 2) ac.abort(new BtkitError("SUBMIT_INTERRUPTED", "stopped by the test", {}));
        }
      })(),
    );
    expect(err.code).toBe("SUBMIT_INTERRUPTED");
    // two batches, then the stop: none after it
    expect(seen).toHaveLength(2);
  });

  it("bad arguments are OPT_INVALID or PROTO_INVALID naming what is wrong, never a TypeError", async () => {
    const fx = await threeShards();
    const first = (d: unknown, o?: unknown) => rejectedBy(joinRows(d as Descriptor, o as JoinRowsOptions).next());
    expect((await first(undefined)).context).toMatchObject({ option: "descriptor" });
    expect((await first(fx.descriptor, null)).context).toMatchObject({ option: "options" });
    expect((await first({})).code).toBe("PROTO_INVALID");
    for (const bad of ["float32", "decimal(99,2)", 5]) {
      const err = await first(fx.descriptor, { storage, predictionTypes: { prediction: bad } });
      expect(err.code).toBe("OPT_INVALID");
      expect(err.context).toMatchObject({ option: "predictionTypes", column: "prediction", got: String(bad) });
    }
    expect((await rejectedBy(join({ descriptor: undefined as unknown as Descriptor, out: path.join(dir, "x.arrow"), storage }))).context).toMatchObject({ option: "descriptor" });
  });
});
