/**
 * IPC streams written into returned buffers (src/join/ipc-buffers.ts): byte for byte what
 * apache-arrow's tableToIPC writes, for every column kind the join makes and for dictionary
 * columns, also in a reused buffer that held a longer stream before (its old bytes, padding
 * included, overwritten); buffers are reused while they fit, a larger batch gets a larger one,
 * and no more than `keep` wait.
 */
import { Decimal, Dictionary, Int32, makeData, RecordBatch, Schema, Struct, Table, tableFromIPC, tableToIPC, Utf8, vectorFromArray, type Data } from "apache-arrow";
import { describe, expect, it } from "vitest";
import { accumulatorFor, BoolAcc, Float64Acc, Int64Acc, Utf8Acc, fieldOf } from "../../src/join/columns.js";
import { IpcBuffers } from "../../src/join/ipc-buffers.js";
import { decimalBatch } from "../helpers/arrow.js";
import type { ColumnType } from "../../src/protocol/descriptor.js";

/** A batch of n rows of the join's column kinds, with nulls; `text` repeats in every utf8 value (so its length sets the stream's). */
function batchOf(n: number, text: string): RecordBatch {
  const f = accumulatorFor("float64", n) as Float64Acc;
  const i = accumulatorFor("int64", n) as Int64Acc;
  const t = accumulatorFor("timestamp", n) as Int64Acc;
  const b = accumulatorFor("bool", n) as BoolAcc;
  const u = accumulatorFor("utf8", n) as Utf8Acc;
  for (let k = 0; k < n; k++) {
    f.values[k] = k / 3;
    i.values[k] = BigInt(k) * 10n ** 15n;
    t.values[k] = BigInt(k) * 86_400_000_001n;
    b.set(k, k % 2 === 0);
    u.values[k] = `${text} ${k} é🙂`;
  }
  if (n > 3) {
    f.setNull(1);
    u.setNull(3);
    b.setNull(2);
  }
  const types: [string, ColumnType, Data][] = [
    ["f", "float64", f.finish(n)],
    ["i", "int64", i.finish(n)],
    ["t", "timestamp", t.finish(n)],
    ["b", "bool", b.finish(n)],
    ["u", "utf8", u.finish(n)],
  ];
  const schema = new Schema(types.map(([name, type]) => fieldOf(name, type)));
  return new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: n, nullCount: 0, children: types.map(([, , data]) => data) }));
}

const reference = (b: RecordBatch): Buffer => Buffer.from(tableToIPC(new Table([b]), "stream"));

describe("IPC buffers", () => {
  it("a batch's stream is tableToIPC's bytes, and reads back with its values", () => {
    const pool = new IpcBuffers(2);
    const b = batchOf(7, "first");
    const got = pool.encode(b);
    expect(got.byteOffset).toBe(0);
    expect(Buffer.from(got).equals(reference(b))).toBe(true);
    const back = tableFromIPC(got);
    expect(back.numRows).toBe(7);
    expect(back.getChild("u")!.get(6)).toBe("first 6 é🙂");
    expect(back.getChild("u")!.get(3)).toBeNull();
    expect(back.getChild("i")!.get(5)).toBe(5n * 10n ** 15n);
  });

  it("batches of one schema (as a join's are) are each tableToIPC's bytes, the schema's message encoded once; another schema gets its own", () => {
    const pool = new IpcBuffers(2);
    const first = batchOf(5, "a");
    const schema = first.schema;
    for (const [n, text] of [[5, "a"], [9, "longer text"], [1, ""]] as const) {
      const b = new RecordBatch(schema, batchOf(n, text).data);
      expect(Buffer.from(pool.encode(b)).equals(reference(b))).toBe(true);
    }
    // same columns, other names and metadata: not the first schema's message
    const renamed = new Schema(schema.fields.map((f) => f.clone({ name: `${f.name}2` })), new Map([["k", "v"]]));
    const other = new RecordBatch(renamed, batchOf(4, "b").data);
    const got = pool.encode(other);
    expect(Buffer.from(got).equals(reference(other))).toBe(true);
    expect(tableFromIPC(got).schema.fields.map((f) => f.name)).toEqual(["f2", "i2", "t2", "b2", "u2"]);
    expect(tableFromIPC(got).schema.metadata.get("k")).toBe("v");
    // what apache-arrow's schema comparison leaves out still makes another message: the schema's
    // metadata, a field's metadata, and back to the first schema
    // (each after one it differs from in that alone)
    const variants = [
      schema,
      new Schema(schema.fields.map((f, i) => (i === 4 ? f.clone({ metadata: new Map([["btkit.type", "json"]]) }) : f))),
      schema,
      new Schema(schema.fields, new Map([["k", "w"]])),
      schema,
      new Schema(schema.fields.map((f, i) => (i === 0 ? f.clone({ nullable: !f.nullable }) : f))),
    ];
    for (const v of variants) {
      const b = new RecordBatch(v, batchOf(3, "c").data);
      const bytes = pool.encode(b);
      expect(Buffer.from(bytes).equals(reference(b))).toBe(true);
      const read = tableFromIPC(bytes).schema;
      expect(read.metadata.get("k")).toBe(v.metadata.get("k"));
      expect(read.fields[4]!.metadata.get("btkit.type")).toBe(v.fields[4]!.metadata.get("btkit.type"));
    }
  });

  it("a decimal column of another precision or scale, under the same name, gets its own schema message (apache-arrow's schema comparison takes any two decimals as equal)", () => {
    const pool = new IpcBuffers(2);
    for (const [scale, precision] of [[2, 10], [4, 20], [4, 20], [2, 10]] as const) {
      const b = decimalBatch(scale, precision);
      const got = pool.encode(b);
      expect(Buffer.from(got).equals(reference(b))).toBe(true);
      const type = tableFromIPC(got).schema.fields[0]!.type as Decimal;
      expect([type.scale, type.precision]).toEqual([scale, precision]);
    }
  });

  it("a dictionary column's dictionary travels in the stream, as tableToIPC writes it", () => {
    const dict = vectorFromArray(["a", "bb", null, "a", "ccc"], new Dictionary(new Utf8(), new Int32()));
    const b = new Table({ d: dict }).batches[0]!;
    const got = new IpcBuffers(1).encode(b);
    expect(Buffer.from(got).equals(reference(b))).toBe(true);
    expect(tableFromIPC(got).getChild("d")!.toArray()).toEqual(["a", "bb", null, "a", "ccc"]);
  });

  it("a returned buffer is written again: a shorter stream over a longer one's bytes is still tableToIPC's, padding and all", () => {
    const pool = new IpcBuffers(2);
    const long = pool.encode(batchOf(300, "x".repeat(200)));
    const buffer = long.buffer as ArrayBuffer;
    // what travelled back is the whole buffer (the worker gets the view; the buffer is transferred)
    pool.give(buffer);
    // a stream of another shape: every offset of the old one is overwritten where the new one lies
    const short = batchOf(5, "y");
    const again = pool.encode(short);
    expect(again.buffer).toBe(buffer);
    expect(again.byteLength).toBeLessThan(long.byteLength);
    expect(Buffer.from(again).equals(reference(short))).toBe(true);
    expect(pool.made).toBe(1);
  });

  it("a batch larger than every returned buffer gets a new, larger one; the buffers grow with the batches", () => {
    const pool = new IpcBuffers(2);
    const small = pool.encode(batchOf(10, "s"));
    pool.give(small.buffer as ArrayBuffer);
    const big = batchOf(400, "b".repeat(100));
    const got = pool.encode(big);
    expect(got.buffer).not.toBe(small.buffer);
    expect(got.buffer.byteLength).toBeGreaterThanOrEqual(got.byteLength);
    expect(Buffer.from(got).equals(reference(big))).toBe(true);
    expect(pool.made).toBe(2);
    // the small one still waits, and fits a small batch
    const next = pool.encode(batchOf(10, "s"));
    expect(next.buffer).toBe(small.buffer);
    expect(pool.made).toBe(2);
  });

  it("with every waiting buffer too small, one gives way to the larger new one, which is then kept: batches that grew reuse it", () => {
    const pool = new IpcBuffers(1);
    pool.give(pool.encode(batchOf(10, "s")).buffer as ArrayBuffer);
    const big = () => batchOf(300, "b".repeat(50));
    const first = pool.encode(big());
    pool.give(first.buffer as ArrayBuffer);
    expect(pool.encode(big()).buffer).toBe(first.buffer);
    expect(pool.made).toBe(2);
  });

  it("a new buffer has room to spare: a batch a few rows longer is written into it again", () => {
    const pool = new IpcBuffers(1);
    const first = pool.encode(batchOf(100, "h"));
    pool.give(first.buffer as ArrayBuffer);
    const longer = batchOf(104, "h");
    const got = pool.encode(longer);
    expect(got.buffer).toBe(first.buffer);
    expect(Buffer.from(got).equals(reference(longer))).toBe(true);
  });

  it("no more than `keep` buffers wait: one more given is dropped, and the next batches take those kept", () => {
    const pool = new IpcBuffers(2);
    const streams = [1, 2, 3].map(() => pool.encode(batchOf(20, "k")));
    expect(pool.made).toBe(3);
    for (const s of streams) pool.give(s.buffer as ArrayBuffer);
    const reused = [1, 2, 3].map(() => pool.encode(batchOf(20, "k")).buffer);
    expect(reused[0]).toBe(streams[0]!.buffer);
    expect(reused[1]).toBe(streams[1]!.buffer);
    // the third was dropped when given: a new one
    expect(reused[2]).not.toBe(streams[2]!.buffer);
    expect(pool.made).toBe(4);
  });

  it("an empty buffer given back (a detached one has no bytes) is not kept", () => {
    const pool = new IpcBuffers(2);
    pool.give(new ArrayBuffer(0));
    pool.encode(batchOf(3, "z"));
    expect(pool.made).toBe(1);
  });
});
