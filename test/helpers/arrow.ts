/** Small Arrow batches for writer tests. */
import { Decimal, Field, makeData, RecordBatch, Schema, Struct } from "apache-arrow";

/** One row of a decimal(precision, scale) column `name` holding the unscaled value 12345 (123.45 at scale 2). */
export function decimalBatch(scale: number, precision: number, name = "d"): RecordBatch {
  const type = new Decimal(scale, precision, 128);
  const field = new Field(name, type, true);
  const data = makeData({ type, length: 1, nullCount: 0, data: new Uint32Array([12345, 0, 0, 0]) });
  return new RecordBatch(new Schema([field]), makeData({ type: new Struct([field]), length: 1, nullCount: 0, children: [data] }));
}
