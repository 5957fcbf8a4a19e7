/**
 * Batches carried to a worker as their column buffers (src/join/batch-transfer.ts): rebuilt
 * against the schema they are the same batch (the same Arrow IPC bytes) for every column kind;
 * only a handed-over batch's fresh buffers move (the sender's arrays are detached then), and a
 * batch a library caller still holds, or a view of shared bytes, is copied and left readable.
 */
import { Dictionary, Int32, makeData, RecordBatch, Schema, Struct, Table, tableToIPC, Utf8, vectorFromArray, type Data } from "apache-arrow";
import { describe, expect, it } from "vitest";
import { batchOf, batchParts, handedOver } from "../../src/join/batch-transfer.js";
import { accumulatorFor, BoolAcc, Float64Acc, Int64Acc, Utf8Acc, fieldOf } from "../../src/join/columns.js";
import { nestedData } from "../../src/protocol/nested-arrow.js";
import type { ColumnType } from "../../src/protocol/descriptor.js";

const N = 5;

/** A batch of every kind the join makes, each column from its accumulator (so its buffers are fresh). */
function joinedBatch(): RecordBatch {
  const f = accumulatorFor("float64", N) as Float64Acc;
  const i = accumulatorFor("int64", N) as Int64Acc;
  const t = accumulatorFor("timestamp", N) as Int64Acc;
  const b = accumulatorFor("bool", N) as BoolAcc;
  const u = accumulatorFor("utf8", N) as Utf8Acc;
  const d = accumulatorFor("decimal(12,2)", N);
  for (let k = 0; k < N; k++) {
    f.values[k] = k / 3;
    i.values[k] = BigInt(k) * 10n ** 15n;
    t.values[k] = BigInt(k) * 86_400_000_000n;
    b.set(k, k % 2 === 0);
    u.values[k] = `row ${k} é🙂`;
    (d as unknown as { set(k: number, v: bigint): void }).set(k, BigInt(k * 125));
  }
  f.setNull(1);
  u.setNull(3);
  b.setNull(4);
  const types: [string, ColumnType, Data][] = [
    ["f", "float64", f.finish(N)],
    ["i", "int64", i.finish(N)],
    ["t", "timestamp", t.finish(N)],
    ["b", "bool", b.finish(N)],
    ["u", "utf8", u.finish(N)],
    ["d", "decimal(12,2)", d.finish(N)],
    ["l", "list<int64>", nestedData("list<int64>", ["[1,2]", null, "[]", "[3]", "[4,5,6]"])],
    ["s", 'struct<"a":utf8,"b":float64>', nestedData('struct<"a":utf8,"b":float64>', ['{"a":"x","b":1.5}', null, '{"a":null,"b":2}', '{"a":"y","b":null}', '{"a":"z","b":0}'])],
  ];
  const schema = new Schema(types.map(([name, type]) => fieldOf(name, type)));
  return new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: N, nullCount: 0, children: types.map(([, , data]) => data) }));
}

const ipc = (b: RecordBatch): Buffer => Buffer.from(tableToIPC(new Table([b]), "stream"));

/** What the worker gets: the parts through structured cloning with the transfer list, as postMessage sends them. */
function carry(b: RecordBatch): RecordBatch {
  const carried = batchParts(b)!;
  const got = structuredClone({ columns: carried.columns }, { transfer: carried.transfer });
  return batchOf(b.schema, b.numRows, got.columns);
}

async function handOver(b: RecordBatch): Promise<RecordBatch> {
  for await (const x of handedOver((async function* () { yield b; })())) return x;
  throw new Error("no batch");
}

describe("batch transfer", () => {
  it("a handed-over batch arrives whole (the same IPC bytes) and its fresh buffers leave the sender", async () => {
    const b = await handOver(joinedBatch());
    const before = ipc(b);
    const floats = b.getChild("f")!.data[0]!.values as Float64Array;
    const arrived = carry(b);
    expect(ipc(arrived).equals(before)).toBe(true);
    expect(arrived.getChild("u")!.get(2)).toBe("row 2 é🙂");
    expect(arrived.getChild("i")!.get(4)).toBe(4n * 10n ** 15n);
    expect(arrived.getChild("f")!.get(1)).toBeNull();
    // moved, not copied: the sender's array is detached
    expect(floats.byteLength).toBe(0);
  });

  it("a batch not handed over (a library caller's) is copied: the same bytes arrive and it stays readable, so it can be written twice", () => {
    const b = joinedBatch();
    const before = ipc(b);
    expect(ipc(carry(b)).equals(before)).toBe(true);
    expect(ipc(b).equals(before)).toBe(true);
    expect(ipc(carry(b)).equals(before)).toBe(true);
  });

  it("a slice of a handed-over batch (views of shared buffers) is copied: the rest of the batch stays readable", async () => {
    const whole = joinedBatch();
    const before = ipc(whole);
    const part = await handOver(whole.slice(1, 4));
    // Data.slice keeps bool values and bitmaps whole (by offset), and views the rest
    const partBytes = ipc(part);
    expect(ipc(carry(part)).equals(partBytes)).toBe(true);
    expect(ipc(whole).equals(before)).toBe(true);
  });

  it("a slice from the start (a Data of its own over the batch's whole bitmaps) is copied too", async () => {
    const whole = joinedBatch();
    const before = ipc(whole);
    const head = await handOver(whole.slice(0, 3));
    const headBytes = ipc(head);
    expect(ipc(carry(head)).equals(headBytes)).toBe(true);
    expect(ipc(whole).equals(before)).toBe(true);
  });

  it("a dictionary column is not carried as parts (the caller sends IPC)", () => {
    const dict = vectorFromArray(["a", "b", "a"], new Dictionary(new Utf8(), new Int32()));
    const table = new Table({ d: dict });
    expect(batchParts(table.batches[0]!)).toBeUndefined();
  });
});
