/**
 * Writes one shard and its sidecar: encoded lines are gathered into blocks, optionally gzipped in
 * parallel (gzip.ts), and streamed to Storage (atomic, sha256 of the bytes as stored); sidecar rows
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
  rows = 0;
  maxRecordBytes = 0;
  /** uncompressed bytes written (lines with their newlines) */
  bytes = 0;

  constructor(options: ShardWriterOptions) {
    this.#options = options;
    this.#blockBytes = options.blockBytes ?? 1024 * 1024;
    this.#batchRows = options.batchRows ?? 16384;
    this.#block = Buffer.allocUnsafe(this.#blockBytes);
    this.#batcher = new SidecarBatcher(options.keep, this.#batchRows);
    const body = options.gzipLevel === undefined ? this.#chan : parallelGzip(this.#chan, { level: options.gzipLevel });
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
    let wait: Promise<void> | undefined;
    // a UTF-16 code unit takes at most 3 UTF-8 bytes: only measure when the block might overflow
    if (this.#fill + line.length * 3 + 1 > this.#block.length) {
      const bytes = Buffer.byteLength(line, "utf8");
      if (this.#fill + bytes + 1 > this.#block.length) wait = this.#flush();
      if (bytes + 1 > this.#block.length) {
        // a record longer than a block goes on its own
        const big = Buffer.from(`${line}\n`, "utf8");
        this.bytes += big.length;
        this.#record(bytes);
        const w2 = this.#chan.push(big);
        return wait ? wait.then(() => w2) : w2;
      }
    }
    const written = this.#block.write(line, this.#fill, "utf8");
    this.#fill += written;
    this.#block[this.#fill++] = 10;
    this.#record(written);
    return wait;
  }

  /**
   * Adds one record already encoded as bytes line[0, len) (without newline) and its sidecar values
   * as record r of raw CSV records (`fields`: the keep fields within the record, all when undefined).
   */
  addEncoded(line: Buffer, len: number, raw: RawRecords, r: number, fields: readonly number[] | undefined, row: number): Promise<void> | undefined {
    this.rows++;
    this.#batcher.addRaw(raw, r, fields, row);
    if (this.#batcher.length >= this.#batchRows) this.#sidecar.write(this.#batcher.take());
    let wait: Promise<void> | undefined;
    if (this.#fill + len + 1 > this.#block.length) {
      wait = this.#flush();
      if (len + 1 > this.#block.length) {
        const big = Buffer.allocUnsafe(len + 1);
        line.copy(big, 0, 0, len);
        big[len] = 10;
        this.bytes += big.length;
        this.#record(len);
        const w2 = this.#chan.push(big);
        return wait ? wait.then(() => w2) : w2;
      }
    }
    line.copy(this.#block, this.#fill, 0, len);
    this.#fill += len;
    this.#block[this.#fill++] = 10;
    this.#record(len);
    return wait;
  }

  #record(bytes: number): void {
    this.lastBytes = bytes;
    if (bytes > this.maxRecordBytes) this.maxRecordBytes = bytes;
  }

  #flush(): Promise<void> | undefined {
    if (this.#fill === 0) return undefined;
    const buf = this.#block.subarray(0, this.#fill);
    this.#block = Buffer.allocUnsafe(this.#blockBytes);
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
