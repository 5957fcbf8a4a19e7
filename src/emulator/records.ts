/**
 * Record splitting and mini-batching, as pure synchronous code the executor drives.
 *
 * - SplitType `Line` splits on `\n` only ("on a newline character boundary",
 *   https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_TransformInput.html, SplitType); each record keeps its trailing `\n`
 *   (the last line of an object may have none). CR/LF and blank lines are UNCONFIRMED (no AWS
 *   source says): a `\r` stays part of its record and a blank line is a record of its own.
 * - `SingleRecord` puts one record in each request; `MultiRecord` packs consecutive records of one
 *   object greedily up to the payload limit (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateTransformJob.html, BatchStrategy
 *   and MaxPayloadInMB; 0 = no limit). A record larger than the limit makes its object fail
 *   (https://docs.aws.amazon.com/sagemaker/latest/dg/batch-transform-errors.html): {@link RecordTooLargeError}.
 */

/** Splits a byte stream into `\n`-terminated records without copying (views into the chunks). */
export class LineSplitter {
  #carry: Buffer[] = [];
  #carryBytes = 0;

  /** The complete records in `chunk` (plus what was carried from earlier chunks). */
  push(chunk: Buffer, out: Buffer[]): void {
    let start = 0;
    let nl = chunk.indexOf(10, start);
    if (nl >= 0 && this.#carryBytes > 0) {
      this.#carry.push(chunk.subarray(0, nl + 1));
      out.push(Buffer.concat(this.#carry));
      this.#carry = [];
      this.#carryBytes = 0;
      start = nl + 1;
      nl = chunk.indexOf(10, start);
    }
    while (nl >= 0) {
      out.push(chunk.subarray(start, nl + 1));
      start = nl + 1;
      nl = chunk.indexOf(10, start);
    }
    if (start < chunk.length) {
      this.#carry.push(chunk.subarray(start));
      this.#carryBytes += chunk.length - start;
    }
  }

  /** The last record when the object does not end with `\n`. */
  end(out: Buffer[]): void {
    if (this.#carryBytes > 0) out.push(Buffer.concat(this.#carry));
    this.#carry = [];
    this.#carryBytes = 0;
  }
}

/** One request's worth of records of one object. */
export interface Batch {
  /** 0-based index of the first record in its object */
  first: number;
  /** the records, or (from {@link RangeBatcher}) one buffer holding them all */
  records: Buffer[];
  /** how many records the batch holds */
  count: number;
  bytes: number;
}

export class RecordTooLargeError extends Error {
  readonly record: number;
  readonly bytes: number;
  readonly limit: number;
  constructor(record: number, bytes: number, limit: number) {
    super(`record ${record + 1} is ${bytes} bytes, larger than MaxPayloadInMB (${limit} bytes)`);
    this.record = record;
    this.bytes = bytes;
    this.limit = limit;
  }
}

export type BatchStrategy = "SingleRecord" | "MultiRecord";

/** Packs records into batches: call add() per record, then flush() at the end of the object. */
export class Batcher {
  readonly #limit: number;
  readonly #single: boolean;
  #next = 0;
  #cur: Batch | undefined;

  /** `limitBytes` 0 means no limit. */
  constructor(strategy: BatchStrategy, limitBytes: number) {
    this.#limit = limitBytes;
    this.#single = strategy === "SingleRecord";
  }

  /** Adds one record; returns a batch that is complete, if any. */
  add(record: Buffer): Batch | undefined {
    const index = this.#next++;
    if (this.#limit > 0 && record.length > this.#limit) throw new RecordTooLargeError(index, record.length, this.#limit);
    if (this.#single) return { first: index, records: [record], count: 1, bytes: record.length };
    const cur = this.#cur;
    if (cur === undefined) {
      this.#cur = { first: index, records: [record], count: 1, bytes: record.length };
      return undefined;
    }
    if (this.#limit > 0 && cur.bytes + record.length > this.#limit) {
      this.#cur = { first: index, records: [record], count: 1, bytes: record.length };
      return cur;
    }
    cur.records.push(record);
    cur.count += 1;
    cur.bytes += record.length;
    return undefined;
  }

  flush(): Batch | undefined {
    const cur = this.#cur;
    this.#cur = undefined;
    return cur;
  }
}

/** The number of `\n`-terminated records in a buffer (an unterminated last line counts too). */
export function countLines(buf: Buffer): number {
  let n = 0;
  for (let i = 0; i < buf.length; i++) if (buf[i] === 10) n++;
  if (buf.length > 0 && buf[buf.length - 1] !== 10) n++;
  return n;
}

/**
 * MultiRecord batching without materializing records: cuts the byte stream at the last `\n`
 * that keeps a batch within the limit, which packs exactly the records the greedy {@link Batcher}
 * would, at a fraction of the cost (used when no record needs to be seen on its own).
 */
export class RangeBatcher {
  readonly #limit: number;
  #parts: Buffer[] = [];
  #bytes = 0;
  #next = 0;

  /** `limitBytes` 0 means no limit (the whole object is one batch). */
  constructor(limitBytes: number) {
    this.#limit = limitBytes;
  }

  push(chunk: Buffer, out: Batch[]): void {
    if (chunk.length === 0) return;
    this.#parts.push(chunk);
    this.#bytes += chunk.length;
    while (this.#limit > 0 && this.#bytes > this.#limit) this.#cut(out);
  }

  end(out: Batch[]): void {
    while (this.#limit > 0 && this.#bytes > this.#limit) this.#cut(out);
    if (this.#bytes > 0) this.#emit(this.#joined(), out);
    this.#parts = [];
    this.#bytes = 0;
  }

  #joined(): Buffer {
    return this.#parts.length === 1 ? this.#parts[0]! : Buffer.concat(this.#parts, this.#bytes);
  }

  #cut(out: Batch[]): void {
    const buf = this.#joined();
    const cut = buf.lastIndexOf(10, this.#limit - 1);
    if (cut < 0) {
      const nl = buf.indexOf(10);
      throw new RecordTooLargeError(this.#next, nl < 0 ? buf.length : nl + 1, this.#limit);
    }
    this.#emit(buf.subarray(0, cut + 1), out);
    const rest = buf.subarray(cut + 1);
    this.#parts = rest.length > 0 ? [rest] : [];
    this.#bytes = rest.length;
  }

  #emit(body: Buffer, out: Batch[]): void {
    const count = countLines(body);
    out.push({ first: this.#next, records: [body], count, bytes: body.length });
    this.#next += count;
  }
}

/** The request body of a batch. */
export function batchBody(batch: Batch): Buffer {
  return batch.records.length === 1 ? batch.records[0]! : Buffer.concat(batch.records, batch.bytes);
}

/** Splits a response body into lines (without their `\n`); a final `\n` ends the last line. */
export function splitLines(body: Buffer): string[] {
  const text = body.toString("utf8");
  if (text.length === 0) return [];
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  return lines.map((l) => (l.endsWith("\r") ? l.slice(0, -1) : l));
}
