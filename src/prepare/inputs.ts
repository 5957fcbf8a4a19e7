/**
 * Input resolution and opening: local files, folders and S3 prefixes (expanded in key order),
 * `-` for stdin; gzip detected by its magic bytes; formats from the option, else the file name,
 * else the first (decompressed) bytes: Parquet "PAR1", Arrow IPC file "ARROW1", Arrow IPC stream
 * 0xFFFFFFFF (its continuation marker), a JSON array "[", JSON Lines "{", else CSV.
 */
import { createWriteStream } from "node:fs";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { BtkitError, counted } from "../errors.js";
import { formatLocation, toUri, type Location } from "../io/location.js";
import { gunzipIfGzip, type Storage } from "../io/storage.js";

export type ReadableFormat = "csv" | "tsv" | "jsonl" | "json" | "parquet" | "arrow";

export const READABLE_FORMATS: readonly ReadableFormat[] = ["csv", "tsv", "jsonl", "json", "parquet", "arrow"];

/** Formats read as typed records (Arrow columns) or JSON elements rather than text lines. */
export function isRecordFormat(f: ReadableFormat): f is "json" | "parquet" | "arrow" {
  return f === "json" || f === "parquet" || f === "arrow";
}

export interface ResolvedInput {
  /** what the user named (a file of a prefix is listed under its own location) */
  display: string;
  /** URI for the descriptor, "-" for stdin, "rows" for prepare()'s rows */
  uri: string;
  location?: Location;
  /** read from a stream given to prepare(), once: stdin, or the rows (then `rows` too) */
  stdin: boolean;
  /** prepare()'s rows option, read as JSON Lines (rows.ts) */
  rows?: boolean;
  format: ReadableFormat;
  /** raw (stored) size in bytes, when known */
  rawBytes?: number;
  /** when it was last written, as seen when prep began (mtime or S3 LastModified) */
  rawModified?: Date;
  /** its S3 ETag as seen when prep began */
  rawEtag?: string;
  /** the format is a guess (no --input-format, no telling name): decided from the first bytes (detectFormat) */
  sniff?: boolean;
  /** the format was read from the first bytes (a guess that detectFormat settled) */
  detected?: boolean;
  /**
   * a --part reads only the records that start in the file's bytes [start, stop) (parts.ts),
   * reading on past `stop` to the end of the record in progress there
   */
  slice?: { start: number; stop: number };
  /**
   * line numbers in messages and rejects count from this byte offset of the file, not from its
   * start (a part that starts inside it cannot know how many lines come before)
   */
  linesFrom?: number;
}

export function formatFromName(name: string, given: ReadableFormat | undefined): ReadableFormat {
  return formatGuess(name, given).format;
}

/** The format from the option or the name; `sniff` when neither tells (then detectFormat decides). */
export function formatGuess(name: string, given: ReadableFormat | undefined): { format: ReadableFormat; sniff: boolean } {
  if (given !== undefined) return { format: given, sniff: false };
  const n = name.toLowerCase().replace(/\.(gz|gzip)$/, "");
  if (n.endsWith(".tsv") || n.endsWith(".tab")) return { format: "tsv", sniff: false };
  if (n.endsWith(".jsonl") || n.endsWith(".ndjson")) return { format: "jsonl", sniff: false };
  if (n.endsWith(".csv")) return { format: "csv", sniff: false };
  if (n.endsWith(".parquet") || n.endsWith(".pq")) return { format: "parquet", sniff: false };
  if (n.endsWith(".arrow") || n.endsWith(".arrows") || n.endsWith(".feather") || n.endsWith(".ipc")) return { format: "arrow", sniff: false };
  // .json may hold an array or JSON Lines: the first bytes decide
  return { format: "csv", sniff: true };
}

/** The format the first decompressed bytes show, or undefined when they show none. */
export function formatFromBytes(head: Buffer): ReadableFormat | undefined {
  if (head.subarray(0, 4).toString("latin1") === "PAR1") return "parquet";
  if (head.subarray(0, 6).toString("latin1") === "ARROW1") return "arrow";
  if (head.length >= 4 && head.readUInt32LE(0) === 0xffffffff) return "arrow";
  let i = head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf ? 3 : 0;
  while (i < head.length && (head[i] === 0x20 || head[i] === 0x09 || head[i] === 0x0a || head[i] === 0x0d)) i++;
  if (head[i] === 0x5b) return "json";
  if (head[i] === 0x7b) return "jsonl";
  return undefined;
}

/**
 * Settles an input's format from its first decompressed bytes (sets input.format): a guessed
 * format is replaced by what the bytes show; a Parquet or Arrow input whose bytes are not one is
 * PREP_FORMAT. Returns the input's chunks with the peeked bytes put back.
 */
export async function detectFormat(opened: OpenedInput, input: ResolvedInput): Promise<OpenedInput> {
  const it = opened.chunks[Symbol.asyncIterator]();
  const held: Buffer[] = [];
  let size = 0;
  let done = false;
  while (size < 64) {
    const r = await it.next();
    if (r.done) {
      done = true;
      break;
    }
    held.push(r.value);
    size += r.value.length;
  }
  const head = Buffer.concat(held);
  const shown = formatFromBytes(head);
  if (input.sniff) {
    if (shown !== undefined) input.format = shown;
    input.detected = true;
    input.sniff = false;
  } else if (input.format === "parquet" && shown !== "parquet") {
    throw new BtkitError("PREP_FORMAT", `${input.display} is not a Parquet file: it does not start with "PAR1" (got ${JSON.stringify(head.subarray(0, 4).toString("latin1"))})`, { input: input.display, expected: "PAR1", got: head.subarray(0, 4).toString("hex") });
  } else if (input.format === "arrow" && shown !== "arrow") {
    throw new BtkitError("PREP_FORMAT", `${input.display} is not Arrow IPC: it starts with neither "ARROW1" (file format) nor 0xFFFFFFFF (stream format)`, { input: input.display, expected: "ARROW1 or FFFFFFFF", got: head.subarray(0, 6).toString("hex") });
  }
  async function* rest(): AsyncGenerator<Buffer> {
    for (const b of held) yield b;
    if (done) return;
    while (true) {
      const r = await it.next();
      if (r.done) return;
      yield r.value;
    }
  }
  const source = rest();
  return {
    chunks: source,
    gzip: opened.gzip,
    head,
    close: async () => {
      await it.return?.();
      await opened.close?.();
    },
  };
}

/** Expands the input list: files, folders and prefixes (their objects in key order), and "-". */
export async function resolveInputs(storage: Storage, inputs: readonly string[], format: ReadableFormat | undefined): Promise<ResolvedInput[]> {
  if (inputs.length === 0) throw new BtkitError("PREP_NO_INPUT", "no input given: name one or more files, folders, s3:// objects or prefixes, or - for stdin", {});
  const out: ResolvedInput[] = [];
  const seen = new Set<string>();
  for (const text of inputs) {
    if (text === "-") {
      if (seen.has("-")) throw new BtkitError("OPT_INVALID", "stdin (-) is listed twice", { option: "input" });
      seen.add("-");
      out.push({ display: "stdin", uri: "-", stdin: true, format: format ?? "csv", sniff: format === undefined });
      continue;
    }
    const loc = storage.parse(text);
    const head = await storage.head(loc);
    const found: ResolvedInput[] = [];
    if (head) {
      found.push({ display: formatLocation(loc), uri: toUri(loc), location: loc, stdin: false, ...formatGuess(formatLocation(loc), format), rawBytes: head.size, rawModified: head.lastModified, rawEtag: head.etag });
    } else {
      const prefix = loc.kind === "s3" && loc.key !== "" && !loc.key.endsWith("/") ? { ...loc, key: `${loc.key}/` } : loc;
      for await (const o of storage.list(prefix)) {
        const base = o.relative.slice(o.relative.lastIndexOf("/") + 1);
        if (base.startsWith(".") || base.startsWith("_")) continue;
        const child = storage.parse(o.location);
        found.push({ display: o.location, uri: toUri(child), location: child, stdin: false, ...formatGuess(o.location, format), rawBytes: o.size, rawModified: o.lastModified, rawEtag: o.etag });
      }
      if (found.length === 0) throw new BtkitError("IO_NOT_FOUND", `no such input: ${text} (not a file, and no objects under it)`, { location: text });
    }
    for (const f of found) {
      if (seen.has(f.uri)) throw new BtkitError("OPT_INVALID", `input ${f.display} is listed twice`, { option: "input", input: f.display });
      seen.add(f.uri);
      out.push(f);
    }
  }
  return out;
}

export interface OpenedInput {
  chunks: AsyncIterable<Buffer>;
  /** known once the first bytes were read */
  gzip: () => boolean;
  /** stops reading early (the rest of the input is not needed) */
  close?: () => Promise<void>;
  /** the first decompressed bytes (up to 64), once detectFormat has looked */
  head?: Buffer;
}

/** Opens an input: decompressed chunks, and whether its stored bytes were gzip. */
export async function openInput(storage: Storage, input: ResolvedInput, stdin: AsyncIterable<Uint8Array> | Iterable<Uint8Array> | undefined): Promise<OpenedInput> {
  let raw: AsyncIterable<Uint8Array> | Iterable<Uint8Array>;
  if (input.stdin) {
    if (!stdin) throw new BtkitError("PREP_NO_INPUT", "input - (stdin) given but no stdin stream", {});
    raw = stdin;
  } else raw = await storage.read(input.location!, { decompress: "never", ...(input.rawEtag !== undefined ? { ifMatch: input.rawEtag } : {}) });
  let head = Buffer.alloc(0);
  let gz: boolean | undefined;
  let read = 0;
  const tap = async function* (): AsyncGenerator<Buffer> {
    for await (const c of raw) {
      const b = Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength);
      if (gz === undefined) {
        head = Buffer.concat([head, b.subarray(0, 2)]).subarray(0, 2);
        if (head.length >= 2) gz = head[0] === 0x1f && head[1] === 0x8b;
      }
      read += b.length;
      yield b;
    }
    gz ??= false;
    await checkUnchanged(storage, input, read);
  };
  const stream = gunzipIfGzip(Readable.from(tap(), { objectMode: false }), input.display);
  return { chunks: stream as AsyncIterable<Buffer>, gzip: () => gz === true, close: async () => void stream.destroy() };
}

/**
 * An input must not change while prep reads it: truncated or appended meanwhile, the rows read are
 * not the file's, and the descriptor would record a size the input never had with those rows. At
 * the end of the read, the bytes read must be the size seen when prep began, and the input must
 * still have that size and mtime (a file) or ETag (S3). IO_CHANGED otherwise.
 */
async function checkUnchanged(storage: Storage, input: ResolvedInput, read: number | undefined): Promise<void> {
  const err = await changedWhileRead(storage, input, read);
  if (err) throw err;
}

/**
 * IO_CHANGED when the input changed since prep began (`read`: the bytes read from it, when the
 * read ended), else undefined. After a failure while reading an input, this names the cause: a
 * row cut in half by a writer is a symptom.
 */
export async function changedWhileRead(storage: Storage, input: ResolvedInput, read?: number): Promise<BtkitError | undefined> {
  if (input.stdin || input.location === undefined || input.rawBytes === undefined) return undefined;
  const now = await storage.head(input.location);
  const why =
    read !== undefined && read !== input.rawBytes
      ? `${counted(read, "byte")} ${read === 1 ? "was" : "were"} read, but it had ${input.rawBytes} when prep began`
      : now === undefined
        ? "it was removed"
        : now.size !== input.rawBytes
          ? `it now has ${counted(now.size, "byte")}, ${input.rawBytes} when prep began`
          : input.rawEtag !== undefined && now.etag !== undefined && now.etag !== input.rawEtag
            ? `its ETag is now ${now.etag}, ${input.rawEtag} when prep began`
            : // S3 ETags say it all (LastModified comes in other precisions from list and head)
              input.location.kind === "local" && input.rawModified !== undefined && now.lastModified !== undefined && now.lastModified.getTime() !== input.rawModified.getTime()
              ? `it was modified at ${now.lastModified.toISOString()}, after prep began`
              : undefined;
  return why === undefined ? undefined : new BtkitError("IO_CHANGED", `input ${input.display} changed while prep read it (${why}): its rows are not one version of the file; run prep again once the input is complete`, { input: input.display, location: input.display, expected: input.rawBytes, got: now?.size });
}

/**
 * Copies an input whose decompressed size is unknown (stdin, gzip) to a local temporary file, so
 * its size is known before sharding: balanced shards need the total up front.
 */
export async function spillInput(storage: Storage, input: ResolvedInput, stdin: AsyncIterable<Uint8Array> | Iterable<Uint8Array> | undefined, tmpDir: string | undefined): Promise<{ input: ResolvedInput; gzip: boolean; cleanup: () => Promise<void> }> {
  const dir = await fs.mkdtemp(path.join(tmpDir ?? os.tmpdir(), "btkit-spill-"));
  const file = path.join(dir, "input");
  let st;
  let opened: OpenedInput;
  try {
    opened = await openInput(storage, input, stdin);
    await pipeline(Readable.from(opened.chunks), createWriteStream(file));
    st = await fs.stat(file);
  } catch (err) {
    // a corrupt gzip or a failed read leaves no spill file behind
    await fs.rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    input: { ...input, location: { kind: "local", path: file }, stdin: false, rawBytes: st.size, rawModified: st.mtime, rawEtag: undefined },
    gzip: opened.gzip(),
    cleanup: () => fs.rm(dir, { recursive: true, force: true }),
  };
}
