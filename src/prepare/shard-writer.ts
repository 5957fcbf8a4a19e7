/**
 * Writes one shard and its sidecar: encoded lines are gathered into blocks of exactly blockBytes
 * (records run on across block ends), optionally gzipped in parallel (gzip.ts, which compresses
 * such blocks where they are), and streamed to Storage (atomic, sha256 of the bytes as stored); sidecar rows
 * are batched into Arrow record batches and streamed beside it as Parquet (protocol/sidecar-file.ts). Memory is bounded by the block
 * size, the gzip blocks in flight and one sidecar batch.
 */
import { BtkitError } from "../errors.js";
import type { Storage, WriteResult } from "../io/storage.js";
import type { Location } from "../io/location.js";
import type { ColumnType } from "../protocol/descriptor.js";
import type { RawRecords } from "./csv-scanner.js";
import { parallelGzip } from "./gzip.js";
import { SIDECAR_CONTENT_TYPE, SidecarWriter } from "../protocol/sidecar-file.js";
import { SidecarBatcher } from "./sidecar.js";
import { copyBytes, type RawLineEncoder } from "./encode-bytes.js";

/**
 * Room past a block's end: a record is encoded straight into the block, and the bytes past
 * blockBytes start the next block (blocks are handed on exactly blockBytes long: the gzip blocks).
 */
const BLOCK_SLACK = 64 * 1024;

/** A bounded single-consumer channel of Buffers. */
export class Channel implements AsyncIterable<Buffer> {
  readonly #items: Buffer[] = [];
  readonly #limit: number;
  #closed = false;
  #failed: unknown;
  #aborted: unknown;
  #wakeConsumer: (() => void) | undefined;
  #wakeProducer: (() => void) | undefined;

  constructor(limit = 4) {
    this.#limit = limit;
  }

  async push(b: Buffer): Promise<void> {
    if (this.#failed !== undefined) throw this.#failed;
    this.#items.push(b);
    this.#wakeConsumer?.();
    while (this.#items.length > this.#limit && this.#failed === undefined) {
      await new Promise<void>((r) => (this.#wakeProducer = r));
    }
    if (this.#failed !== undefined) throw this.#failed;
  }

  close(): void {
    this.#closed = true;
    this.#wakeConsumer?.();
  }

  /** The consumer stopped (an error downstream): pushes fail from now on. */
  fail(err: unknown): void {
    this.#failed = err ?? new Error("consumer stopped");
    this.#wakeProducer?.();
  }

  /** The producer gave up: the consumer throws, so nothing partial is published. */
  abort(err: unknown): void {
    this.#aborted = err ?? new Error("aborted");
    this.#wakeConsumer?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Buffer> {
    let ok = false;
    try {
      while (true) {
        if (this.#aborted !== undefined) throw this.#aborted;
        const b = this.#items.shift();
        if (b !== undefined) {
          this.#wakeProducer?.();
          yield b;
          continue;
        }
        if (this.#closed) break;
        await new Promise<void>((r) => (this.#wakeConsumer = r));
      }
      ok = true;
    } finally {
      if (!ok) this.fail(new Error("the writer stopped reading"));
    }
  }
}

export interface ShardWriterOptions {
  storage: Storage;
  shard: Location;
  sidecar: Location;
  /** gzip level, or undefined for plain */
  gzipLevel: number | undefined;
  keep: readonly { name: string; type: ColumnType }[];
  /** rows per sidecar batch; default 16384 */
  batchRows?: number;
  /** bytes per block handed to the writer; default 1 MiB */
  blockBytes?: number;
}

export interface ShardWritten {
  shard: WriteResult;
  sidecar: WriteResult;
  rows: number;
  maxRecordBytes: number;
  /** kept float64 values rounded to their nearest double in the sidecar */
  rounded: number;
}

export class ShardWriter {
  readonly #chan = new Channel(4);
  readonly #batcher: SidecarBatcher;
  readonly #sidecar: SidecarWriter;
  readonly #shardDone: Promise<WriteResult>;
  readonly #sidecarDone: Promise<WriteResult>;
  /** the first write that failed, once one did */
  #failure: unknown;
  readonly #options: ShardWriterOptions;
  readonly #blockBytes: number;
  readonly #batchRows: number;
  #block: Buffer;
  #fill = 0;
  /** a run of records not yet copied: src[runStart, runEnd), due at block offset runAt (addRaw) */
  #run: Buffer | undefined;
  #runStart = 0;
  #runEnd = 0;
  #runAt = 0;
  rows = 0;
  maxRecordBytes = 0;
  /** uncompressed bytes written (lines with their newlines) */
  bytes = 0;

  constructor(options: ShardWriterOptions) {
    this.#options = options;
    this.#blockBytes = options.blockBytes ?? 1024 * 1024;
    this.#batchRows = options.batchRows ?? 16384;
    this.#block = Buffer.allocUnsafe(this.#blockBytes + BLOCK_SLACK);
    this.#batcher = new SidecarBatcher(options.keep, this.#batchRows);
    const body = options.gzipLevel === undefined ? this.#chan : parallelGzip(this.#chan, { level: options.gzipLevel, blockBytes: this.#blockBytes });
    this.#shardDone = options.storage.write(options.shard, body, { contentType: options.gzipLevel === undefined ? undefined : "application/gzip" });
    this.#shardDone.catch((err: unknown) => {
      this.#failure ??= err;
      this.#chan.fail(err);
    });
    this.#sidecar = new SidecarWriter(this.#batcher.schema);
    this.#sidecarDone = options.storage.write(options.sidecar, this.#sidecar.bytes(), { contentType: SIDECAR_CONTENT_TYPE });
    this.#sidecarDone.catch((e: unknown) => {
      this.#failure ??= e;
    });
  }

  /** bytes of the last record added (without its newline) */
  lastBytes = 0;

  /** Adds one encoded record (without newline) and its sidecar values; returns a promise when the caller must wait. */
  add(line: string, keepValues: readonly (string | null)[], row: number): Promise<void> | undefined {
    this.rows++;
    this.#batcher.add(keepValues, row);
    if (this.#batcher.length >= this.#batchRows) this.#sidecar.write(this.#batcher.take());
    // a UTF-16 code unit takes at most 3 UTF-8 bytes
    const dst = this.#reserve(line.length * 3 + 1);
    const written = dst.write(line, this.#fill, "utf8");
    return this.#commit(dst, written);
  }

  /**
   * Adds one record already encoded as bytes line[0, len) (without newline) and its sidecar values
   * as record r of raw CSV records (`fields`: the keep fields within the record, all when undefined).
   */
  addEncoded(line: Buffer, len: number, raw: RawRecords, r: number, fields: readonly number[] | undefined, row: number): Promise<void> | undefined {
    this.rows++;
    this.#batcher.addRaw(raw, r, fields, row);
    if (this.#batcher.length >= this.#batchRows) this.#sidecar.write(this.#batcher.take());
    const dst = this.#reserve(len + 1);
    copyBytes(line, 0, len, dst, this.#fill);
    return this.#commit(dst, len);
  }

  /**
   * Adds record r of raw CSV records encoded by `encoder` straight into the block (no line buffer
   * in between): `features` are the fields it encodes, `bound` the bytes it may take at most
   * (RawLineEncoder.bound), `keep` the sidecar's fields (all, in order, when undefined).
   */
  addRaw(encoder: RawLineEncoder, raw: RawRecords, r: number, features: readonly number[] | undefined, bound: number, keep: readonly number[] | undefined, row: number): Promise<void> | undefined {
    this.rows++;
    this.#batcher.addRaw(raw, r, keep, row);
    if (this.#batcher.length >= this.#batchRows) this.#sidecar.write(this.#batcher.take());
    const from = encoder.run ? encoder.run(raw, r, features) : -1;
    if (from >= 0) return this.#addRun(raw.buf, from, raw.next[r]!);
    const dst = this.#reserve(bound + 1);
    const len = encoder.into(raw, r, features, dst, this.#fill);
    if (len < 0) throw new BtkitError("INTERNAL", `the record at line ${raw.line[r]} was handed to the byte encoder, which cannot encode it`, { line: raw.line[r] });
    return this.#commit(dst, len);
  }

  /**
   * A record whose line and newline are src[s, e) as they stand: counted now, copied later with
   * the records that follow it in src (one copy per run, not one per record; see settle).
   */
  #addRun(src: Buffer, s: number, e: number): Promise<void> | undefined {
    if (this.#run !== src || this.#runEnd !== s) {
      this.settle();
      this.#run = src;
      this.#runStart = s;
      this.#runAt = this.#fill;
    }
    this.#runEnd = e;
    this.#fill += e - s;
    const len = e - s - 1;
    this.lastBytes = len;
    if (len > this.maxRecordBytes) this.maxRecordBytes = len;
    return this.#fill >= this.#blockBytes ? this.#emit() : undefined;
  }

  /**
   * Copies the run of records added by reference (addRaw) into the block. The writer holds their
   * source bytes until then: call it before they change (the scanner's next push); every other
   * write, a full block and finish() call it first.
   */
  settle(): void {
    const src = this.#run;
    if (src === undefined) return;
    this.#run = undefined;
    if (this.#block.length < this.#fill) {
      const grown = Buffer.allocUnsafe(Math.max(this.#fill, this.#blockBytes) + BLOCK_SLACK);
      this.#block.copy(grown, 0, 0, this.#runAt);
      this.#block = grown;
    }
    src.copy(this.#block, this.#runAt, this.#runStart, this.#runEnd);
  }

  /** The block with room for n more bytes at the fill mark (grown, rarely, for a record longer than the slack). */
  #reserve(n: number): Buffer {
    this.settle();
    const b = this.#block;
    if (this.#fill + n <= b.length) return b;
    const grown = Buffer.allocUnsafe(Math.max(this.#fill + n, this.#blockBytes + BLOCK_SLACK));
    b.copy(grown, 0, 0, this.#fill);
    this.#block = grown;
    return grown;
  }

  /** Ends the record of `len` bytes just written at the fill mark with its newline; hands on the block once full. */
  #commit(dst: Buffer, len: number): Promise<void> | undefined {
    let fill = this.#fill + len;
    dst[fill++] = 10;
    this.#fill = fill;
    this.lastBytes = len;
    if (len > this.maxRecordBytes) this.maxRecordBytes = len;
    return fill >= this.#blockBytes ? this.#emit() : undefined;
  }

  /**
   * Hands on the full blocks, exactly blockBytes each (parallelGzip compresses them where they
   * are), and starts the next block with the bytes past them (the end of the last record).
   */
  #emit(): Promise<void> | undefined {
    this.settle();
    const buf = this.#block;
    const fill = this.#fill;
    const n = this.#blockBytes;
    const full: Buffer[] = [];
    let off = 0;
    for (; fill - off >= n; off += n) full.push(buf.subarray(off, off + n));
    this.#block = Buffer.allocUnsafe(n + BLOCK_SLACK);
    this.#fill = copyBytes(buf, off, fill, this.#block, 0);
    this.bytes += off;
    if (full.length === 1) return this.#chan.push(full[0]!);
    return (async () => {
      // one at a time: the channel wakes one waiting producer
      for (const b of full) await this.#chan.push(b);
    })();
  }

  #flush(): Promise<void> | undefined {
    this.settle();
    if (this.#fill === 0) return undefined;
    const buf = this.#block.subarray(0, this.#fill);
    this.#block = Buffer.allocUnsafe(0);
    this.#fill = 0;
    this.bytes += buf.length;
    return this.#chan.push(buf);
  }

  async finish(): Promise<ShardWritten> {
    try {
      await this.#flush();
      this.#chan.close();
      if (this.#batcher.length > 0) this.#sidecar.write(this.#batcher.take());
      this.#sidecar.finish();
    } catch (err) {
      throw await this.cause(err);
    }
    const [shard, sidecar] = await Promise.all([this.#shardDone, this.#sidecarDone]);
    return { shard, sidecar, rows: this.rows, maxRecordBytes: this.maxRecordBytes, rounded: this.#batcher.rounded };
  }

  /**
   * The error to report for a failure seen while feeding this writer: when one of its writes
   * failed (a full disk: ENOSPC; a size limit: EFBIG), that write's coded error, not what it left
   * behind in the feeding code ("AsyncQueue is closed", "the writer stopped reading").
   */
  async cause(err: unknown): Promise<unknown> {
    // a coded error (bad data, a failed write already) is its own cause
    if (err instanceof BtkitError) return err;
    // a failed write rejects a few ticks after it closed its queue: give it 100 ms to say so
    for (let i = 0; i < 20 && this.#failure === undefined; i++) await new Promise((resolve) => setTimeout(resolve, 5));
    return this.#failure ?? err;
  }

  /**
   * Stops after a failure elsewhere; the atomic writes leave nothing under the final names, and a
   * write that finished before the other failed (a whole shard without its sidecar) is removed.
   */
  async abort(err: unknown): Promise<void> {
    this.#chan.fail(err);
    this.#chan.abort(err);
    this.#sidecar.abort(err);
    const [shard, sidecar] = await Promise.allSettled([this.#shardDone, this.#sidecarDone]);
    if (shard.status === "fulfilled" && sidecar.status === "rejected") await this.#options.storage.delete(this.#options.shard).catch(() => undefined);
    if (sidecar.status === "fulfilled" && shard.status === "rejected") await this.#options.storage.delete(this.#options.sidecar).catch(() => undefined);
  }
}
