/**
 * The shard roller: takes encoded records in row order, writes them through one ShardWriter at a
 * time and decides where a shard ends; records each finished shard's entry for the descriptor.
 *
 * Where shards end: with a planned shard count (balanced sharding, --instances), shard k ends at
 * the first record ending at or after (k+1)/count of the input bytes; else a shard closes when it
 * holds --shard-rows rows, or --shard-size bytes of model input (uncompressed).
 *
 * Both (--instances K with --shard-rows N): balanced as above, and no shard holds more than N
 * rows. The row count is not known up front (only the input bytes are), so the rule is enforced
 * as the rows stream: a shard that reaches N rows before its byte boundary ends there, and the
 * shards after it are planned again over the input bytes left, as many as keep each at most as
 * many bytes as the shard just cut (its bytes per row stand for the rest's), at least as many as
 * were planned, the total rounded up to a multiple of K ({@link replanAfterRowCut}). A last
 * planned shard that reaches N rows grows the count by at least K the same way. So every shard
 * holds at most N rows and the count is a multiple of K, unless the rows run out first: fewer
 * rows left than shards planned leaves the last ones unwritten (prepare notes it).
 */
import { childLocation, toUri, type Location } from "../io/location.js";
import type { Storage } from "../io/storage.js";
import type { ColumnType, ShardEntry } from "../protocol/descriptor.js";
import { LAYOUT, SIDECAR_EXTENSION, shardBaseName } from "../protocol/layout.js";
import type { RawRecords } from "./csv-scanner.js";
import type { RawLineEncoder } from "./encode-bytes.js";
import type { ResolvedPrepareOptions } from "./options.js";
import { ShardWriter } from "./shard-writer.js";

/**
 * The shard count of balanced sharding: enough shards of at most `shardSize` bytes for `totalBytes`
 * of input, at least `instances`, and a multiple of `instances` (a single object is never split
 * across instances, so fewer objects than instances leaves instances idle:
 * https://docs.aws.amazon.com/sagemaker/latest/dg/batch-transform.html).
 */
export function balancedShardCount(totalBytes: number, shardSize: number, instances: number): number {
  const bySize = Math.max(1, Math.ceil(totalBytes / shardSize));
  return Math.ceil(Math.max(bySize, instances) / instances) * instances;
}

/**
 * The shard count after shard `cut` (0-based) ended early at the row limit: `cut` + 1 shards
 * written, then enough for `bytesLeft` input bytes at `cutBytes` bytes a shard (the bytes the cut
 * shard read: at its bytes per row, at most as many rows as it holds), never fewer than
 * `planned`, rounded up to a multiple of `instances`. Counts are shards; bytes are input bytes.
 */
export function replanAfterRowCut(cut: number, cutBytes: number, bytesLeft: number, planned: number, instances: number): number {
  const after = bytesLeft <= 0 ? 1 : Math.max(1, Math.ceil(bytesLeft / Math.max(1, cutBytes)));
  return Math.ceil(Math.max(planned, cut + 1 + after) / instances) * instances;
}

export type ShardRollerOptions = Pick<ResolvedPrepareOptions, "format" | "gzipLevel" | "part" | "shardSize" | "shardRows">;

export class ShardRoller {
  readonly #storage: Storage;
  readonly #out: Location;
  readonly #o: ShardRollerOptions;
  readonly #onRounded: (count: number) => void;
  /** finished shards, in order */
  readonly shards: ShardEntry[] = [];
  /** rows written so far: the next row's number (0-based, global) */
  rowsWritten = 0;
  /** the largest encoded record so far, in bytes (UTF-8, without its newline) */
  maxRecord = 0;
  /** the columns the sidecar keeps (set once the columns are planned, before the first record) */
  keep: { name: string; type: ColumnType }[] = [];
  #writer: ShardWriter | undefined;
  #writerRows = 0;
  #writerBytes = 0;
  /**
   * balanced sharding: the planned count, the input bytes it divides, the instances it is a
   * multiple of, and where the shards still to cut begin (shard `fromShard` at input byte
   * `fromByte`: 0 and 0 until a shard ends at the row limit)
   */
  #planned: { count: number; bytesTotal: number; instances: number; fromShard: number; fromByte: number } | undefined;
  /** input byte offset just after the last record written */
  #lastPos = 0;
  /** input byte offset where the shard being written began */
  #writerStartPos = 0;

  /** `onRounded` hears, as each shard finishes, how many float64 values its sidecar rounded to a double */
  constructor(storage: Storage, out: Location, o: ShardRollerOptions, onRounded: (count: number) => void) {
    this.#storage = storage;
    this.#out = out;
    this.#o = o;
    this.#onRounded = onRounded;
  }

  /**
   * Balanced sharding: `count` shards (a multiple of `instances`) over `bytesTotal` input bytes;
   * with the shardRows option the count may grow, by multiples of `instances` (see the module doc).
   */
  plan(count: number, bytesTotal: number, instances = 1): void {
    this.#planned = { count, bytesTotal, instances, fromShard: 0, fromByte: 0 };
  }

  /** the planned shard count, when balanced (its final value once the rows are written) */
  get plannedShards(): number | undefined {
    return this.#planned?.count;
  }

  /** shards finished or being written */
  get started(): number {
    return this.shards.length + (this.#writer ? 1 : 0);
  }

  /** the shard being written, if any (its cause() and abort() serve the failure path) */
  get writer(): ShardWriter | undefined {
    return this.#writer;
  }

  /** Writes one record (line without newline, the sidecar's values); `pos` is the input byte offset just after it. Returns a promise only when the caller must wait. */
  add(line: string, keep: readonly (string | null)[], pos: number): Promise<void> | undefined {
    if (this.#writer && this.#mustCut()) return this.close().then(() => this.#addNow(line, keep, pos));
    return this.#addNow(line, keep, pos);
  }

  /** Writes one record encoded in `buf[0, len)` whose sidecar values are fields `keep` of raw CSV record r (every field when undefined). */
  addEncoded(buf: Buffer, len: number, raw: RawRecords, r: number, keep: readonly number[] | undefined, pos: number): Promise<void> | undefined {
    if (this.#writer && this.#mustCut()) return this.close().then(() => this.#addEncodedNow(buf, len, raw, r, keep, pos));
    return this.#addEncodedNow(buf, len, raw, r, keep, pos);
  }

  /** Writes raw CSV record r, encoded by `encoder` straight into the shard's block (ShardWriter.addRaw); `pos` as for add. */
  addRaw(encoder: RawLineEncoder, raw: RawRecords, r: number, features: readonly number[] | undefined, bound: number, keep: readonly number[] | undefined, pos: number): Promise<void> | undefined {
    if (this.#writer && this.#mustCut()) return this.close().then(() => this.#addRawNow(encoder, raw, r, features, bound, keep, pos));
    return this.#addRawNow(encoder, raw, r, features, bound, keep, pos);
  }

  #addRawNow(encoder: RawLineEncoder, raw: RawRecords, r: number, features: readonly number[] | undefined, bound: number, keep: readonly number[] | undefined, pos: number): Promise<void> | undefined {
    const w = this.#writer ?? this.#open();
    this.#writerRows++;
    this.#lastPos = pos;
    const wait = w.addRaw(encoder, raw, r, features, bound, keep, this.rowsWritten++);
    const len = w.lastBytes;
    this.#writerBytes += len + 1;
    if (len > this.maxRecord) this.maxRecord = len;
    return wait;
  }

  #addNow(line: string, keep: readonly (string | null)[], pos: number): Promise<void> | undefined {
    const w = this.#writer ?? this.#open();
    this.#writerRows++;
    this.#lastPos = pos;
    const wait = w.add(line, keep, this.rowsWritten++);
    const bytes = w.lastBytes;
    this.#writerBytes += bytes + 1;
    if (bytes > this.maxRecord) this.maxRecord = bytes;
    return wait;
  }

  #addEncodedNow(buf: Buffer, len: number, raw: RawRecords, r: number, keep: readonly number[] | undefined, pos: number): Promise<void> | undefined {
    const w = this.#writer ?? this.#open();
    this.#writerRows++;
    this.#lastPos = pos;
    const wait = w.addEncoded(buf, len, raw, r, keep, this.rowsWritten++);
    this.#writerBytes += len + 1;
    if (len > this.maxRecord) this.maxRecord = len;
    return wait;
  }

  #mustCut(): boolean {
    const planned = this.#planned;
    if (planned !== undefined) {
      const k = this.shards.length;
      if (this.#o.shardRows !== undefined && this.#writerRows >= this.#o.shardRows) {
        // the row limit comes first: the shards after this one are planned again over the bytes left
        const count = replanAfterRowCut(k, this.#lastPos - this.#writerStartPos, planned.bytesTotal - this.#lastPos, planned.count, planned.instances);
        this.#planned = { ...planned, count, fromShard: k + 1, fromByte: this.#lastPos };
        return true;
      }
      if (k >= planned.count - 1) return false;
      // shard k ends at the first record ending at or after its share of the bytes from fromByte on
      const left = planned.bytesTotal - planned.fromByte;
      return (this.#lastPos - planned.fromByte) * (planned.count - planned.fromShard) >= left * (k - planned.fromShard + 1);
    }
    if (this.#o.shardRows !== undefined) return this.#writerRows >= this.#o.shardRows;
    return this.#writerBytes >= this.#o.shardSize;
  }

  #names(index: number): { shard: string; sidecar: string } {
    const base = shardBaseName(index, this.#o.part);
    const ext = (this.#o.format === "csv" ? ".csv" : ".jsonl") + (this.#o.gzipLevel !== undefined ? ".gz" : "");
    return { shard: `${base}${ext}`, sidecar: `${base}${SIDECAR_EXTENSION}` };
  }

  #open(): ShardWriter {
    const names = this.#names(this.shards.length);
    this.#writer = new ShardWriter({
      storage: this.#storage,
      shard: childLocation(this.#out, LAYOUT.shardsDir + names.shard),
      sidecar: childLocation(this.#out, LAYOUT.sidecarsDir + names.sidecar),
      gzipLevel: this.#o.gzipLevel,
      keep: this.keep,
    });
    this.#writerRows = 0;
    this.#writerBytes = 0;
    this.#writerStartPos = this.#lastPos;
    return this.#writer;
  }

  /** Finishes the shard being written (if any) and records its entry. */
  async close(): Promise<void> {
    const w = this.#writer;
    if (!w) return;
    this.#writer = undefined;
    const names = this.#names(this.shards.length);
    let res;
    try {
      res = await w.finish();
    } catch (err) {
      // the writer is no longer the current one: its own abort removes the half of the pair that finished
      await w.abort(err);
      throw err;
    }
    if (res.rounded > 0) this.#onRounded(res.rounded);
    this.shards.push({
      name: names.shard,
      location: toUri(childLocation(this.#out, LAYOUT.shardsDir + names.shard)),
      rows: res.rows,
      bytes: res.shard.bytes,
      sha256: res.shard.sha256,
      ...(res.shard.etag !== undefined ? { etag: res.shard.etag } : {}),
      maxRecordBytes: res.maxRecordBytes,
      sidecar: toUri(childLocation(this.#out, LAYOUT.sidecarsDir + names.sidecar)),
      sidecarSha256: res.sidecar.sha256,
      ...(res.sidecar.etag !== undefined ? { sidecarEtag: res.sidecar.etag } : {}),
      sidecarBytes: res.sidecar.bytes,
      firstRow: this.rowsWritten - res.rows,
    });
  }
}
