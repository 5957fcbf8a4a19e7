/**
 * Storage: read, write (atomically), list, head, exists and delete on local paths and S3, the one
 * place that knows how. Knows nothing of SageMaker.
 *
 * - Reads stream, and gunzip when the bytes start with the gzip magic (1f 8b); a truncated or
 *   corrupt gzip stream is IO_GZIP_CORRUPT, and a body shorter than its Content-Length is
 *   IO_READ_FAILED: never a silently short stream.
 * - Local writes go to a temporary name in the same folder, are fsynced and renamed.
 * - S3 writes upload to a temporary key with bounded memory (part size x queue size), are verified
 *   (size, and the ETag against MD5s we computed while streaming), then copied to the final key
 *   with our sha256 as metadata and verified again; the temporary key is deleted. On any failure
 *   the final key is untouched and nothing of ours is left behind.
 * - The S3 SDK is loaded by the first S3 call (s3.ts), never by local reads and writes.
 */
import { randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { Readable, pipeline } from "node:stream";
import { finished } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import type * as S3Sdk from "@aws-sdk/client-s3";
import type { S3Client } from "@aws-sdk/client-s3";
import { BtkitError, counted, describeCause } from "../errors.js";
import { bodyChunks, collect, Digest, type Body } from "./body.js";
import { baseName, childLocation, formatLocation, parseLocation, type Location } from "./location.js";
import { DEFAULT_STALL_MS, createS3Client, s3LibStorage, s3Sdk, s3SettingsFromEnv, s3Timing, type S3Settings } from "./s3.js";

export interface WriteResult {
  location: string;
  bytes: number;
  sha256: string;
  /** S3: the final object's ETag without quotes (changes whenever the object is written again) */
  etag?: string;
}

export interface WriteOptions {
  /** refuse when the target exists (IO_EXISTS); default false: replace it */
  noOverwrite?: boolean;
  contentType?: string;
  /** extra S3 metadata (ASCII keys and values) */
  metadata?: Record<string, string>;
  signal?: AbortSignal;
  /**
   * false: a local write skips the sha256 of its bytes (the result has none), for outputs whose
   * digest nobody records (join's table: about 1.6 CPU-s per 1.9 GB on the thread that writes).
   * S3 writes always hash: the digest is the object's metadata, verified after the copy.
   * Default true.
   */
  sha256?: boolean;
}

export interface ReadOptions {
  /** "auto" (default): gunzip when the bytes are gzip; "never": raw bytes */
  decompress?: "auto" | "never";
  signal?: AbortSignal;
  /** S3: read only this version (If-Match with the ETag seen before); another is IO_CHANGED */
  ifMatch?: string;
  /**
   * only bytes [start, end) of the stored object (end: its size when left out); raw bytes, never
   * gunzipped. Local: a read stream with start/end; S3: a ranged GET (`Range: bytes=start-(end-1)`,
   * https://www.rfc-editor.org/rfc/rfc9110#name-range). An empty range reads nothing.
   */
  range?: { start: number; end?: number };
}

export interface ObjectInfo {
  location: string;
  /** path relative to the listed prefix */
  relative: string;
  size: number;
  /** our sha256 metadata, when the object was written by btkit (S3) */
  sha256?: string;
  /** when the object was last written: S3 LastModified (whole seconds on AWS), a file's mtime */
  lastModified?: Date;
  /** the S3 ETag (changes whenever the object is written again) */
  etag?: string;
}

export interface StorageOptions {
  s3?: S3Settings;
  /** an S3 client to use instead of one built from settings (tests inject wrapped clients) */
  s3Client?: S3Client;
  cwd?: string;
  env?: Record<string, string | undefined>;
}

const GZIP_MAGIC = [0x1f, 0x8b] as const;
export const BTKIT_SHA256_META = "btkit-sha256";
const COPY_LIMIT = 5 * 1024 * 1024 * 1024;
const COPY_PART = 512 * 1024 * 1024;
/** local writes: bytes written between background flushes to disk (fdatasync), so the final fsync is short */
const SYNC_EVERY_BYTES = 16 * 1024 * 1024;

export class Storage {
  readonly #opts: StorageOptions;
  #s3: Promise<S3Client> | undefined;

  constructor(options: StorageOptions = {}) {
    this.#opts = options;
    this.#s3 = options.s3Client && Promise.resolve(options.s3Client);
  }

  /** The budget of all cleanup calls after one failed S3 write (ms): part of the stall deadline (s3.ts s3Timing). */
  get #cleanupMs(): number {
    return s3Timing({ ...s3SettingsFromEnv(this.#opts.env ?? process.env), ...this.#opts.s3 }).cleanupMs;
  }

  /**
   * The S3 client, built on first use from the settings and the standard AWS configuration (the
   * first call loads the S3 SDK). Rejects with USAGE_BAD_VALUE for a bad BTKIT_S3_STALL_TIMEOUT,
   * and builds again on the next call.
   */
  s3(): Promise<S3Client> {
    this.#s3 ??= createS3Client(this.#opts.s3 ?? {}, this.#opts.env ?? process.env).catch((err: unknown) => {
      this.#s3 = undefined;
      throw err;
    });
    return this.#s3;
  }

  /** The S3 client and the SDK's commands (both loaded on first use). */
  async #client(): Promise<{ s3: S3Client; sdk: typeof S3Sdk }> {
    const [s3, sdk] = await Promise.all([this.s3(), s3Sdk()]);
    return { s3, sdk };
  }

  get partSize(): number {
    return this.#opts.s3?.partSizeBytes ?? 8 * 1024 * 1024;
  }

  get queueSize(): number {
    return this.#opts.s3?.queueSize ?? 4;
  }

  parse(text: string): Location {
    return parseLocation(text, this.#opts.cwd);
  }

  #loc(l: Location | string): Location {
    return typeof l === "string" ? this.parse(l) : l;
  }

  /** Opens a location for reading: a stream of (decompressed) bytes. */
  async read(where: Location | string, options: ReadOptions = {}): Promise<Readable> {
    const loc = this.#loc(where);
    const range = options.range;
    if (range && (!Number.isInteger(range.start) || range.start < 0 || (range.end !== undefined && (!Number.isInteger(range.end) || range.end < range.start)))) {
      throw new BtkitError("INTERNAL", `a byte range of ${formatLocation(loc)} must have 0 <= start <= end, got ${range.start}..${range.end ?? ""}`, { location: formatLocation(loc) });
    }
    if (range && range.end === range.start) return Readable.from([]);
    const raw = loc.kind === "local" ? await this.#readLocal(loc, range) : await this.#readS3(loc, options.signal, options.ifMatch, range);
    if (options.decompress === "never" || range) return raw;
    return gunzipIfGzip(raw, formatLocation(loc));
  }

  /** Reads a whole (small) location as text. */
  async readText(where: Location | string, options: ReadOptions = {}): Promise<string> {
    const loc = this.#loc(where);
    const stream = await this.read(loc, options);
    try {
      return (await collect(stream)).toString("utf8");
    } catch (err) {
      throw readError(loc, err);
    }
  }

  async #readLocal(loc: Extract<Location, { kind: "local" }>, range?: { start: number; end?: number }): Promise<Readable> {
    try {
      const st = await fs.stat(loc.path);
      if (st.isDirectory()) throw new BtkitError("IO_READ_FAILED", `cannot read ${loc.path}: it is a folder`, { location: loc.path });
    } catch (err) {
      if (err instanceof BtkitError) throw err;
      if ((err as NodeJS.ErrnoException).code === "ENOENT") {
        throw new BtkitError("IO_NOT_FOUND", `no such file: ${loc.path}`, { location: loc.path }, { cause: err });
      }
      throw readError(loc, err);
    }
    const stream = createReadStream(loc.path, { highWaterMark: 1024 * 1024, ...(range ? { start: range.start, ...(range.end !== undefined ? { end: range.end - 1 } : {}) } : {}) });
    return mapErrors(stream, (err) => readError(loc, err));
  }

  async #readS3(loc: Extract<Location, { kind: "s3" }>, signal?: AbortSignal, ifMatch?: string, range?: { start: number; end?: number }): Promise<Readable> {
    const where = formatLocation(loc);
    let res;
    try {
      const bytes = range ? { Range: `bytes=${range.start}-${range.end !== undefined ? range.end - 1 : ""}` } : {};
      const { s3, sdk } = await this.#client();
      res = await s3.send(new sdk.GetObjectCommand({ Bucket: loc.bucket, Key: loc.key, ...bytes, ...(ifMatch !== undefined ? { IfMatch: ifMatch } : {}) }), { abortSignal: signal });
    } catch (err) {
      if ((err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode === 412) {
        throw new BtkitError("IO_CHANGED", `${where} was replaced since it was first seen (its ETag is no longer ${ifMatch}); run again once it is complete`, { location: where, expected: ifMatch }, { cause: err });
      }
      // no answer at all (the connection refused, lost or stalled before the headers) is a failed read, as a body cut short is
      if (noAnswer(err)) throw new BtkitError("IO_READ_FAILED", `reading ${where} failed before S3 answered: ${s3Cause(err)}`, { location: where }, { cause: err });
      throw s3Error(err, "read", where);
    }
    const body = res.Body as Readable | undefined;
    if (!body) throw new BtkitError("IO_READ_FAILED", `S3 returned no body for ${where}`, { location: where });
    const expected = res.ContentLength;
    let seen = 0;
    const tallied = async function* (): AsyncGenerator<Buffer> {
      try {
        for await (const c of body) {
          seen += (c as Buffer).length;
          yield c as Buffer;
        }
      } catch (err) {
        throw new BtkitError("IO_READ_FAILED", `reading ${where} failed after ${counted(seen, "byte")}: ${s3Cause(err)}`, { location: where, expected, got: seen }, { cause: err });
      }
      if (expected !== undefined && seen !== expected) {
        throw new BtkitError("IO_READ_FAILED", `reading ${where} ended short: expected ${counted(expected, "byte")}, got ${seen}`, { location: where, expected, got: seen });
      }
    };
    return Readable.from(tallied(), { objectMode: false, highWaterMark: 1024 * 1024 });
  }

  /** Writes a body atomically; resolves once the data is durable (local) or verified (S3). */
  write(where: Location | string, body: Body, options: WriteOptions & { sha256: false }): Promise<Omit<WriteResult, "sha256"> & { sha256?: string }>;
  write(where: Location | string, body: Body, options?: WriteOptions): Promise<WriteResult>;
  async write(where: Location | string, body: Body, options: WriteOptions = {}): Promise<Omit<WriteResult, "sha256"> & { sha256?: string }> {
    const loc = this.#loc(where);
    if (options.noOverwrite && (await this.exists(loc))) {
      throw new BtkitError("IO_EXISTS", `${formatLocation(loc)} exists; refusing to replace it`, { location: formatLocation(loc) });
    }
    return loc.kind === "local" ? this.#writeLocal(loc, body, options) : this.#writeS3(loc, body, options);
  }

  async #writeLocal(given: Extract<Location, { kind: "local" }>, body: Body, options: WriteOptions): Promise<Omit<WriteResult, "sha256"> & { sha256?: string }> {
    const loc = { ...given, path: await regularTarget(given.path) };
    const dir = path.dirname(loc.path);
    const base = path.basename(loc.path);
    try {
      await fs.mkdir(dir, { recursive: true });
    } catch (err) {
      throw new BtkitError("IO_WRITE_FAILED", `cannot create folder ${dir}: ${describeCause(err)}`, { location: loc.path }, { cause: err });
    }
    await removeStaleTemps(dir, base);
    const tmp = path.join(dir, `.${base}.btkit-${process.pid}-${randomBytes(4).toString("hex")}.tmp`);
    const hashed = options.sha256 !== false;
    const digest = new Digest(0, hashed);
    let handle: fs.FileHandle | undefined;
    // what was written is flushed to disk in the background every SYNC_EVERY_BYTES, so the fsync
    // before the rename has little left to wait for (a 196 MB file: about 0.6 s less at the end)
    let syncing: Promise<void> | undefined;
    try {
      handle = await fs.open(tmp, "wx");
      const fd = handle;
      const out = createWriteStream("", { fd: handle.fd, autoClose: false, highWaterMark: 1024 * 1024 });
      // a write can fail (ENOSPC, EFBIG) while the body is being produced: keep the error for the
      // loop to throw, never an unhandled 'error' event
      let failed: Error | undefined;
      out.on("error", (err) => {
        failed ??= err;
      });
      let unsynced = 0;
      try {
        for await (const chunk of bodyChunks(body)) {
          if (failed) throw failed;
          options.signal?.throwIfAborted();
          digest.update(chunk);
          if (!out.write(chunk)) {
            if (failed) throw failed;
            await waitDrain(out);
          }
          unsynced += chunk.length;
          if (unsynced >= SYNC_EVERY_BYTES && syncing === undefined) {
            unsynced = 0;
            syncing = fd.datasync().then(
              () => void (syncing = undefined),
              (err: Error) => {
                failed ??= err;
                syncing = undefined;
              },
            );
          }
        }
        if (failed) throw failed;
        out.end();
        await finished(out);
        await syncing;
        if (failed) throw failed;
      } catch (err) {
        // End, not destroy: an explicit destroy() closes the fd even with autoClose false, and the
        // handle.close() below would then close it twice (an uncaught EBADF, or someone else's fd).
        out.end();
        await finished(out).catch(() => undefined);
        throw err;
      } finally {
        // never close the file under a flush still running
        await syncing;
      }
      await handle.sync();
      await handle.close();
      handle = undefined;
      await fs.rename(tmp, loc.path);
      await syncDir(dir);
    } catch (err) {
      await handle?.close().catch(() => undefined);
      await fs.rm(tmp, { force: true }).catch(() => undefined);
      if (err instanceof BtkitError) throw err;
      throw new BtkitError("IO_WRITE_FAILED", `writing ${loc.path} failed: ${describeCause(err)}; nothing was left under that name`, { location: loc.path }, { cause: err });
    }
    return { location: loc.path, bytes: digest.bytes, ...(hashed ? { sha256: digest.finish() } : {}) };
  }

  async #writeS3(loc: Extract<Location, { kind: "s3" }>, body: Body, options: WriteOptions): Promise<WriteResult> {
    const where = formatLocation(loc);
    const [{ s3, sdk }, { Upload }] = await Promise.all([this.#client(), s3LibStorage()]);
    const tmpKey = `${loc.key}.btkit-${randomBytes(6).toString("hex")}.tmp`;
    const digest = new Digest(this.partSize);
    const tallied = async function* (): AsyncGenerator<Buffer> {
      for await (const chunk of bodyChunks(body)) {
        digest.update(chunk);
        yield chunk;
      }
    };
    const upload = new Upload({
      client: s3,
      params: { Bucket: loc.bucket, Key: tmpKey, Body: Readable.from(tallied()), ContentType: options.contentType },
      partSize: this.partSize,
      queueSize: this.queueSize,
      // we abort the parts ourselves: lib-storage's own abort would throw its refusal (a 405 from
      // an S3-compatible server) in place of the failure that made it abort (a 503 SlowDown)
      leavePartsOnError: true,
      abortController: abortControllerFor(options.signal),
    });
    let etag: string | undefined;
    try {
      const res = await upload.done();
      etag = res.ETag;
    } catch (err) {
      const uploadId = (upload as unknown as { uploadId?: string }).uploadId;
      const cleanup = AbortSignal.timeout(this.#cleanupMs);
      if (uploadId !== undefined) await s3.send(new sdk.AbortMultipartUploadCommand({ Bucket: loc.bucket, Key: tmpKey, UploadId: uploadId }), { abortSignal: cleanup }).catch(() => undefined);
      await this.#deleteQuiet(loc.bucket, tmpKey, cleanup);
      if (err instanceof BtkitError) throw err;
      throw new BtkitError("IO_WRITE_FAILED", `uploading ${where} failed: ${s3Cause(err)}; nothing was written under that key`, { location: where }, { cause: err });
    }
    const sha256 = digest.finish();
    let finalEtag: string | undefined;
    try {
      const head = await s3.send(new sdk.HeadObjectCommand({ Bucket: loc.bucket, Key: tmpKey }));
      if (head.ContentLength !== digest.bytes) {
        throw new BtkitError("IO_VERIFY_FAILED", `S3 stored ${counted(head.ContentLength ?? 0, "byte")} for ${where}, expected ${digest.bytes}`, { location: where, expected: digest.bytes, got: head.ContentLength });
      }
      const tag = (etag ?? head.ETag ?? "").replaceAll('"', "");
      const expectedTags = digest.expectedEtags();
      // An MD5-shaped ETag (no SSE-KMS) must match what we sent; other ETags carry no checksum.
      if (/^[0-9a-f]{32}(-\d+)?$/.test(tag) && !expectedTags.includes(tag)) {
        throw new BtkitError("IO_VERIFY_FAILED", `S3 checksum of ${where} does not match the bytes sent: ETag ${tag}, expected ${expectedTags.join(" or ")}`, { location: where, expected: expectedTags, got: tag });
      }
      const metadata = { ...options.metadata, [BTKIT_SHA256_META]: sha256, "btkit-bytes": String(digest.bytes) };
      await this.#copy(loc.bucket, tmpKey, loc.key, digest.bytes, metadata, options.contentType);
      const final = await s3.send(new sdk.HeadObjectCommand({ Bucket: loc.bucket, Key: loc.key }));
      if (final.ContentLength !== digest.bytes || final.Metadata?.[BTKIT_SHA256_META] !== sha256) {
        await this.#deleteQuiet(loc.bucket, loc.key);
        throw new BtkitError("IO_VERIFY_FAILED", `S3 object ${where} does not match after copy: expected ${counted(digest.bytes, "byte")} with sha256 ${sha256}, got ${counted(final.ContentLength ?? 0, "byte")} with ${final.Metadata?.[BTKIT_SHA256_META] ?? "no"} sha256`, { location: where });
      }
      finalEtag = final.ETag?.replaceAll('"', "");
    } catch (err) {
      await this.#deleteQuiet(loc.bucket, tmpKey);
      if (err instanceof BtkitError) throw err;
      throw new BtkitError("IO_WRITE_FAILED", `finishing ${where} failed: ${s3Cause(err)}`, { location: where }, { cause: err });
    }
    await this.#deleteQuiet(loc.bucket, tmpKey);
    return { location: where, bytes: digest.bytes, sha256, ...(finalEtag ? { etag: finalEtag } : {}) };
  }

  async #copy(bucket: string, from: string, to: string, size: number, metadata: Record<string, string>, contentType?: string): Promise<void> {
    const { s3, sdk } = await this.#client();
    const source = `${bucket}/${encodeURIComponent(from).replaceAll("%2F", "/")}`;
    if (size <= COPY_LIMIT) {
      await s3.send(new sdk.CopyObjectCommand({ Bucket: bucket, Key: to, CopySource: source, MetadataDirective: "REPLACE", Metadata: metadata, ContentType: contentType }));
      return;
    }
    // CopyObject takes at most 5 GiB: larger objects are copied part by part.
    const { UploadId } = await s3.send(new sdk.CreateMultipartUploadCommand({ Bucket: bucket, Key: to, Metadata: metadata, ContentType: contentType }));
    try {
      const parts: { ETag: string; PartNumber: number }[] = [];
      for (let start = 0, n = 1; start < size; start += COPY_PART, n++) {
        const end = Math.min(size, start + COPY_PART) - 1;
        const r = await s3.send(new sdk.UploadPartCopyCommand({ Bucket: bucket, Key: to, UploadId, PartNumber: n, CopySource: source, CopySourceRange: `bytes=${start}-${end}` }));
        parts.push({ ETag: r.CopyPartResult?.ETag ?? "", PartNumber: n });
      }
      await s3.send(new sdk.CompleteMultipartUploadCommand({ Bucket: bucket, Key: to, UploadId, MultipartUpload: { Parts: parts } }));
    } catch (err) {
      await s3.send(new sdk.AbortMultipartUploadCommand({ Bucket: bucket, Key: to, UploadId })).catch(() => undefined);
      throw err;
    }
  }

  /**
   * Cleanup after a failure: best effort, bounded by the cleanup share of the stall deadline (a
   * stalled server would otherwise add its whole timeout and retries again, after the failure it
   * already caused); `signal` when one budget is shared by several calls.
   */
  async #deleteQuiet(bucket: string, key: string, signal?: AbortSignal): Promise<void> {
    const { s3, sdk } = await this.#client();
    await s3.send(new sdk.DeleteObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal ?? AbortSignal.timeout(this.#cleanupMs) }).catch(() => undefined);
  }

  /** Size and btkit checksum of an object, or undefined when it does not exist. */
  async head(where: Location | string): Promise<ObjectInfo | undefined> {
    const loc = this.#loc(where);
    if (loc.kind === "local") {
      try {
        const st = await fs.stat(loc.path);
        if (!st.isFile()) return undefined;
        return { location: loc.path, relative: path.basename(loc.path), size: st.size, lastModified: st.mtime };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT" || (err as NodeJS.ErrnoException).code === "ENOTDIR") return undefined;
        throw readError(loc, err);
      }
    }
    try {
      const { s3, sdk } = await this.#client();
      const h = await s3.send(new sdk.HeadObjectCommand({ Bucket: loc.bucket, Key: loc.key }));
      const info: ObjectInfo = { location: formatLocation(loc), relative: baseName(loc), size: h.ContentLength ?? 0, lastModified: h.LastModified, etag: h.ETag };
      const sha = h.Metadata?.[BTKIT_SHA256_META];
      if (sha) info.sha256 = sha;
      return info;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw s3Error(err, "head", formatLocation(loc));
    }
  }

  /**
   * The size and sha256 of the bytes stored at a location, as stored (no gunzip). An S3 object
   * written by btkit carries its sha256 in metadata (checked against the bytes when it was
   * written), so a HEAD answers, provided its ETag is still `etag` when one is given: metadata can
   * be copied onto other bytes, an ETag cannot, so an object written again is read and hashed.
   * Anything else is read and hashed too. Undefined when it does not exist.
   */
  async digest(where: Location | string, options: { signal?: AbortSignal; etag?: string } = {}): Promise<{ bytes: number; sha256: string; from: "metadata" | "content"; etag?: string } | undefined> {
    const loc = this.#loc(where);
    const info = await this.head(loc);
    if (info === undefined) return undefined;
    const etag = info.etag?.replaceAll('"', "");
    const tagged = etag !== undefined ? { etag } : {};
    if (info.sha256 !== undefined && (options.etag === undefined || options.etag === etag)) return { bytes: info.size, sha256: info.sha256, from: "metadata", ...tagged };
    const d = new Digest();
    const stream = await this.read(loc, { decompress: "never", signal: options.signal });
    try {
      for await (const chunk of stream) d.update(chunk as Buffer);
    } catch (err) {
      throw readError(loc, err);
    }
    return { bytes: d.bytes, sha256: d.finish(), from: "content", ...tagged };
  }

  /**
   * Checks that a location still holds what a descriptor recorded (size, sha256, and for S3 the
   * ETag it was written with, see digest): IO_CHANGED naming the location and `what` when it was
   * changed or replaced, IO_NOT_FOUND when it is gone.
   */
  async verify(where: Location | string, expected: { bytes?: number; sha256: string; etag?: string }, what: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    const loc = this.#loc(where);
    const got = await this.digest(loc, { signal: options.signal, etag: expected.etag });
    const at = formatLocation(loc);
    if (got === undefined) throw new BtkitError("IO_NOT_FOUND", `${what} ${at} is gone`, { location: at });
    if ((expected.bytes !== undefined && got.bytes !== expected.bytes) || got.sha256 !== expected.sha256) {
      throw new BtkitError(
        "IO_CHANGED",
        `${what} ${at} changed after it was written: ${counted(got.bytes, "byte")} with sha256 ${got.sha256}, the descriptor records ${expected.bytes === undefined ? "? bytes" : counted(expected.bytes, "byte")} with ${expected.sha256}; prepare it again (btkit prep --overwrite)`,
        { location: at, expected: expected.sha256, got: got.sha256 },
      );
    }
  }

  /**
   * Removes what failed or killed writes left under a folder or prefix: local temporaries
   * (`.NAME.btkit-PID-RAND.tmp`) whose writer process is gone (same host), S3 temporary keys
   * (`KEY.btkit-RAND.tmp`) older than `olderThanMs` (default 10 minutes: a live writer's temporary
   * key exists only between its upload and its copy). Call it holding the output's claim
   * (io/lock.ts). Returns how many were removed.
   */
  async removeStaleTemporaries(where: Location | string, options: { olderThanMs?: number } = {}): Promise<number> {
    const loc = this.#loc(where);
    const before = Date.now() - (options.olderThanMs ?? 10 * 60_000);
    let removed = 0;
    for await (const o of this.list(loc, { temporaries: true })) {
      const stale = loc.kind === "local" ? deadWritersTemporary(path.basename(o.location)) : S3_TEMP_RE.test(o.location) && (o.lastModified?.getTime() ?? Infinity) < before;
      if (!stale) continue;
      if (loc.kind === "local") await fs.rm(o.location, { force: true });
      else await this.#deleteQuiet(loc.bucket, o.location.slice(`s3://${loc.bucket}/`.length));
      removed++;
    }
    return removed;
  }

  async exists(where: Location | string): Promise<boolean> {
    return (await this.head(where)) !== undefined;
  }

  /** Deletes an object or file; a missing one is not an error. */
  async delete(where: Location | string): Promise<void> {
    const loc = this.#loc(where);
    if (loc.kind === "local") {
      await fs.rm(loc.path, { force: true });
      return;
    }
    try {
      const { s3, sdk } = await this.#client();
      await s3.send(new sdk.DeleteObjectCommand({ Bucket: loc.bucket, Key: loc.key }));
    } catch (err) {
      if (!isNotFound(err)) throw s3Error(err, "delete", formatLocation(loc));
    }
  }

  /**
   * Lists the objects under a prefix, in key order. S3: a literal key prefix, every page (past
   * 1,000 keys). Local: the files below a folder, recursively, in path order. Temporary files and
   * keys of unfinished writes are listed only with `temporaries`.
   */
  async *list(where: Location | string, options: { temporaries?: boolean } = {}): AsyncGenerator<ObjectInfo> {
    const loc = this.#loc(where);
    const temporaries = options.temporaries ?? false;
    if (loc.kind === "local") {
      yield* listLocal(loc.path, temporaries);
      return;
    }
    // ListObjects (v1) paged by Marker = the last key seen: AWS documents this paging when no
    // delimiter is used, and S3-compatible servers (s3rver) implement v1 paging correctly where
    // their ListObjectsV2 continuation fails past 1,000 keys.
    let marker: string | undefined;
    while (true) {
      let page;
      try {
        const { s3, sdk } = await this.#client();
        page = await s3.send(new sdk.ListObjectsCommand({ Bucket: loc.bucket, Prefix: loc.key, Marker: marker }));
      } catch (err) {
        throw s3Error(err, "list", formatLocation(loc));
      }
      const contents = page.Contents ?? [];
      for (const o of contents) {
        if (!o.Key || (!temporaries && S3_TEMP_RE.test(o.Key))) continue;
        yield { location: `s3://${loc.bucket}/${o.Key}`, relative: o.Key.slice(loc.key.length), size: o.Size ?? 0, lastModified: o.LastModified, etag: o.ETag };
      }
      const last = contents[contents.length - 1]?.Key;
      if (!page.IsTruncated || last === undefined) break;
      marker = page.NextMarker ?? last;
    }
  }

  /** The location of a name under a folder or prefix. */
  child(base: Location | string, name: string): Location {
    return childLocation(this.#loc(base), name);
  }
}

async function* listLocal(dir: string, temporaries: boolean): AsyncGenerator<ObjectInfo> {
  const walk = async function* (d: string): AsyncGenerator<string> {
    let entries;
    try {
      entries = await fs.readdir(d, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
      throw new BtkitError("IO_READ_FAILED", `cannot list ${d}: ${describeCause(err)}`, { location: d }, { cause: err });
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) yield* walk(p);
      else if (e.isFile() && (temporaries || !LOCAL_TEMP_RE.test(e.name))) yield p;
    }
  };
  const files: string[] = [];
  for await (const f of walk(dir)) files.push(f);
  // key order, like S3 (a/b sorts before a-c only when compared as whole relative paths)
  const rels = files.map((f) => path.relative(dir, f).split(path.sep).join("/")).sort();
  for (const rel of rels) {
    const p = path.join(dir, rel);
    let st;
    try {
      st = await fs.stat(p);
    } catch (err) {
      // gone since the folder was read (another writer's temporary renamed, a part's marker
      // replaced): not listed, as an S3 listing would not list it
      if ((err as NodeJS.ErrnoException).code === "ENOENT") continue;
      throw new BtkitError("IO_READ_FAILED", `cannot list ${p}: ${describeCause(err)}`, { location: p }, { cause: err });
    }
    yield { location: p, relative: rel, size: st.size, lastModified: st.mtime };
  }
}

async function removeStaleTemps(dir: string, base: string): Promise<void> {
  // A killed writer leaves its temporary file; the next write of the same name removes it.
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return;
  }
  for (const n of names) {
    if (n.startsWith(`.${base}.btkit-`) && deadWritersTemporary(n)) await fs.rm(path.join(dir, n), { force: true }).catch(() => undefined);
  }
}

/**
 * The file a local write replaces: the path itself, or what a symbolic link there points to (so
 * the link stays a link and its target gets the bytes). A FIFO, device (/dev/stdout), socket or
 * folder cannot be replaced atomically by a file: IO_BAD_LOCATION.
 */
async function regularTarget(p: string): Promise<string> {
  let target = p;
  for (let hops = 0; hops < 40; hops++) {
    let st;
    try {
      st = await fs.lstat(target);
    } catch {
      return target;
    }
    if (st.isSymbolicLink()) {
      target = path.resolve(path.dirname(target), await fs.readlink(target));
      continue;
    }
    if (st.isFile()) return target;
    const what = st.isDirectory() ? "a folder" : st.isFIFO() ? "a FIFO" : st.isSocket() ? "a socket" : "a device";
    throw new BtkitError("IO_BAD_LOCATION", `${p}${target !== p ? ` (${target})` : ""} is ${what}, not a file: a write replaces a file whole (temporary file, then rename), which would replace ${what} instead of writing through it; write to a file (the CLI streams to stdout with -)`, { location: p });
  }
  throw new BtkitError("IO_BAD_LOCATION", `${p}: too many levels of symbolic links`, { location: p });
}

/** Temporary names of unfinished writes: local `.NAME.btkit-PID-RAND.tmp`, S3 `KEY.btkit-RAND.tmp`. */
const LOCAL_TEMP_RE = /^\..*\.btkit-(\d+)-[0-9a-f]+\.tmp$/;
const S3_TEMP_RE = /\.btkit-[0-9a-f]+\.tmp$/;

/** True for a local temporary whose writer process (on this host) is gone. */
function deadWritersTemporary(name: string): boolean {
  const m = LOCAL_TEMP_RE.exec(name);
  if (!m) return false;
  const pid = Number(m[1]);
  return pid !== process.pid && !processAlive(pid);
}

/** True while a process of this host with that pid runs (EPERM: it runs, as another user). */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function syncDir(dir: string): Promise<void> {
  let h: fs.FileHandle | undefined;
  try {
    h = await fs.open(dir, "r");
    await h.sync();
  } catch {
    // some filesystems refuse fsync on folders; the rename is still atomic
  } finally {
    await h?.close().catch(() => undefined);
  }
}

function waitDrain(out: NodeJS.WritableStream): Promise<void> {
  return new Promise((resolve, reject) => {
    const onDrain = (): void => {
      out.off("error", onError);
      resolve();
    };
    const onError = (err: Error): void => {
      out.off("drain", onDrain);
      reject(err);
    };
    out.once("drain", onDrain);
    out.once("error", onError);
  });
}

function abortControllerFor(signal?: AbortSignal): AbortController | undefined {
  if (!signal) return undefined;
  const ac = new AbortController();
  if (signal.aborted) ac.abort(signal.reason);
  else signal.addEventListener("abort", () => ac.abort(signal.reason), { once: true });
  return ac;
}

function mapErrors(stream: Readable, map: (err: unknown) => Error): Readable {
  const out = Readable.from(
    (async function* () {
      try {
        for await (const c of stream) yield c as Buffer;
      } catch (err) {
        throw map(err);
      }
    })(),
    { objectMode: false, highWaterMark: 1024 * 1024 },
  );
  return out;
}

/** Gunzips a stream when its first bytes are the gzip magic; maps zlib errors to IO_GZIP_CORRUPT. */
export function gunzipIfGzip(raw: Readable, where: string): Readable {
  const source = raw[Symbol.asyncIterator]();
  const head: Buffer[] = [];
  let headBytes = 0;
  let ended = false;
  const body = async function* (): AsyncGenerator<Buffer> {
    while (headBytes < 2) {
      const r = await source.next();
      if (r.done) {
        ended = true;
        break;
      }
      const b = r.value as Buffer;
      head.push(b);
      headBytes += b.length;
    }
    const first = Buffer.concat(head);
    const rest = async function* (): AsyncGenerator<Buffer> {
      if (first.length > 0) yield first;
      if (ended) return;
      while (true) {
        const r = await source.next();
        if (r.done) return;
        yield r.value as Buffer;
      }
    };
    if (!(first.length >= 2 && first[0] === GZIP_MAGIC[0] && first[1] === GZIP_MAGIC[1])) {
      yield* rest();
      return;
    }
    const gz = createGunzip({ chunkSize: 256 * 1024 });
    const piped = pipeline(Readable.from(rest()), gz, () => undefined);
    try {
      for await (const c of piped) yield c as Buffer;
    } catch (err) {
      if (err instanceof BtkitError) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "Z_BUF_ERROR" || code === "Z_DATA_ERROR" || code === "ERR_STREAM_PREMATURE_CLOSE") {
        throw new BtkitError("IO_GZIP_CORRUPT", `gzip data in ${where} is ${code === "Z_DATA_ERROR" ? "corrupt" : "truncated"}: ${(err as Error).message}`, { location: where }, { cause: err });
      }
      throw new BtkitError("IO_READ_FAILED", `reading ${where} failed: ${describeCause(err)}`, { location: where }, { cause: err });
    }
  };
  const gen = async function* (): AsyncGenerator<Buffer> {
    try {
      yield* body();
    } finally {
      // a reader that stops early (destroys the stream, returns from its loop) releases the source: its file or socket
      await source.return?.();
    }
  };
  return Readable.from(gen(), { objectMode: false, highWaterMark: 1024 * 1024 });
}

function readError(loc: Location, err: unknown): Error {
  if (err instanceof BtkitError) return err;
  const where = formatLocation(loc);
  return new BtkitError("IO_READ_FAILED", `reading ${where} failed: ${describeCause(err)}`, { location: where }, { cause: err });
}

function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === "NotFound" || e?.name === "NoSuchKey" || e?.$metadata?.httpStatusCode === 404;
}

/**
 * describeCause, plus for a timeout the deadline it enforced and how to change it: a stalled
 * server fails the operation once BTKIT_S3_STALL_TIMEOUT seconds are spent (s3.ts s3Timing).
 */
/** Socket error codes of a connection the other end closed mid-call: not a stall. */
const CONNECTION_LOST = new Set(["ECONNRESET", "EPIPE", "ECONNABORTED"]);
/** Socket and resolver error codes of a call that reached no server at all. */
const NO_CONNECTION = new Set(["ECONNREFUSED", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN"]);

/**
 * The cause of a failed S3 call, with what it means. The SDK names both a stall (no byte for the
 * inactivity timeout) and a connection reset or broken before the answer "TimeoutError", so both
 * are retried (`NODEJS_TIMEOUT_ERROR_CODES` of @smithy/node-http-handler: ECONNRESET, EPIPE,
 * ETIMEDOUT); only a stall gets the stall deadline's note, a lost connection says so.
 */
function s3Cause(err: unknown): string {
  const text = describeCause(err);
  const e = err as { name?: string; code?: string };
  if (e?.code !== undefined && CONNECTION_LOST.has(e.code)) return `${text} (${e.code}: the connection to S3 was closed before the answer was complete)`;
  if (e?.code !== undefined && NO_CONNECTION.has(e.code)) return `${text} (${e.code}: no connection to the S3 endpoint could be made; check the endpoint, the region and the network)`;
  if (e?.name !== "TimeoutError") return text;
  return `${text} (the S3 server stopped answering; btkit gives a stalled server BTKIT_S3_STALL_TIMEOUT seconds in all, retries and cleanup included, default ${DEFAULT_STALL_MS / 1000})`;
}

/**
 * Whether a failed call got no HTTP answer because of the network: the connection refused,
 * lost or stalled (after the SDK's retries). Not a client-side failure (no credentials, a bad
 * request) nor the caller's own abort: those are not failed reads.
 */
function noAnswer(err: unknown): boolean {
  if (err instanceof BtkitError) return false;
  const e = err as { name?: string; code?: string; $metadata?: { httpStatusCode?: number } };
  if (e?.$metadata?.httpStatusCode !== undefined || e?.name === "AbortError") return false;
  return e?.name === "TimeoutError" || (e?.code !== undefined && (CONNECTION_LOST.has(e.code) || NO_CONNECTION.has(e.code) || e.code === "ETIMEDOUT"));
}

function s3Error(err: unknown, what: string, where: string): BtkitError {
  if (err instanceof BtkitError) return err;
  const e = err as { name?: string };
  if (e?.name === "NoSuchKey" || e?.name === "NotFound") {
    return new BtkitError("IO_NOT_FOUND", `no such S3 object: ${where}`, { location: where }, { cause: err });
  }
  if (e?.name === "NoSuchBucket") {
    return new BtkitError("IO_NOT_FOUND", `no such S3 bucket for ${where}`, { location: where }, { cause: err });
  }
  // a HEAD has no body, so the SDK knows a refusal only by its status ("UnknownError", "403")
  const status = (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
  if (status === 403) {
    return new BtkitError("IO_S3", `S3 refused the ${what} of ${where}: access denied (HTTP 403 Forbidden); check the credentials, the region and the bucket policy`, { location: where, httpStatus: 403 }, { cause: err });
  }
  return new BtkitError("IO_S3", `S3 ${what} of ${where} failed: ${s3Cause(err)}`, { location: where }, { cause: err });
}
