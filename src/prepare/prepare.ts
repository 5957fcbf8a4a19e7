/**
 * prepare(): raw tables -> model-input shards, sidecars, the SageMaker ManifestFile and the
 * descriptor (btkit.json, written last, so its presence means the output is complete).
 *
 * This module reads: it opens each input, scans records (CSV byte path, JSON Lines, typed
 * inputs), holds the type sample, checks each value against its column's type and encodes the
 * model's line. The pieces around it are pure or self-contained: options.ts (options, rerun
 * fingerprint), existing.ts (what is already under --out), header.ts (CSV header rows),
 * column-plan.ts (features, kept columns, types), shard-roller.ts (where shards end, the shard
 * entries), descriptor-builder.ts (the descriptor).
 *
 * Sharding: with --instances N the shard count is at least N and a multiple of N (a single
 * object is never split across instances, so fewer objects than instances leaves instances idle:
 * https://docs.aws.amazon.com/sagemaker/latest/dg/batch-transform.html), and shards are balanced
 * by input bytes: the total input size is known up front (file sizes; stdin and gzip inputs are
 * first spilled, decompressed, to a local temporary file), and shard k ends at the first record
 * ending at or after k+1/count of the total (with --shard-rows too, a shard also ends at that many
 * rows and the count grows by multiples of N: shard-roller.ts). Without --instances, a shard closes
 * when it reaches --shard-size bytes (uncompressed) or --shard-rows rows, as the data streams.
 */
import { BtkitError, EXIT, optionHint, type ErrorCode } from "../errors.js";
import { lockFor, withClaim } from "../io/lock.js";
import { childLocation, toUri, type Location } from "../io/location.js";
import { Storage } from "../io/storage.js";
import { serializeDescriptor, type Descriptor } from "../protocol/descriptor.js";
import { LAYOUT, manifestDocument, partLabel, partNames } from "../protocol/layout.js";
import type { TypedColumn } from "./arrow-values.js";
import { planColumns, type ColumnPlan } from "./column-plan.js";
import { CsvScanner, type CsvRecord, type RawRecords } from "./csv-scanner.js";
import { buildDescriptor } from "./descriptor-builder.js";
import { makeCsvEncoder, makeJsonlEncoder } from "./encode.js";
import { LineBuffer, csvLine, encodeCsvRaw, fieldFits, jsonlLine, makeJsonlRawEncoder, type RawLineEncoder } from "./encode-bytes.js";
import { toUtf8 } from "./encoding.js";
import { checkExisting, removeStale } from "./existing.js";
import { checkSameColumns, headerNames, refuseDataAsHeader } from "./header.js";
import { changedWhileRead, detectFormat, isRecordFormat, openInput, resolveInputs, spillInput, type OpenedInput, type ResolvedInput } from "./inputs.js";
import { JsonlScanner, KIND, type JsonRecord, type Kind } from "./jsonl-scanner.js";
import { fingerprintOf, optionsRecord, resolvePrepareOptions, type PrepareOptions, type ResolvedPrepareOptions } from "./options.js";
import { csvRecordStart, firstCsvRecord, jsonlRecordStart, planPart } from "./parts.js";
import { fits, inferTypes, schemaHint, widerType } from "./schema.js";
import { Channel } from "./shard-writer.js";
import { RowSource, rowsInput } from "./rows.js";
import { ShardRoller, balancedShardCount } from "./shard-roller.js";
import { openRecordInput } from "./typed-input.js";

/** The note counting kept float64 values a double cannot hold exactly (sidecar.ts roundsInDouble). */
const ROUNDED_NOTE = "float64 values with more significant digits than a double keeps: rounded to the nearest double in the sidecar and the joined table (the model input keeps them as written; --schema NAME:utf8 keeps them exactly)";

/** `"`: the byte encoders' quote character */
const QUOTE = 34;

/** The note counting JSON values read as text. */
const TEXT_NOTE = "JSON numbers, booleans and nested values read as their source text in utf8 columns (--text or --schema NAME:utf8)";

/**
 * An input read as a JSON array only because it starts with "[" (stdin, or a name that tells no
 * format): its PREP_JSON says so and how to read it as JSON Lines instead (a JSON Lines file whose
 * first line is an array looks the same).
 */
async function* detectedArrayHint<T>(input: ResolvedInput, records: AsyncIterable<T>): AsyncGenerator<T> {
  try {
    yield* records;
  } catch (err) {
    if (!(err instanceof BtkitError) || err.code !== "PREP_JSON" || input.format !== "json" || input.detected !== true) throw err;
    throw new BtkitError(err.code, `${err.message}; read as a JSON array because it starts with "[" (if it is JSON Lines, say ${optionHint("inputFormat", "jsonl")})`, err.context, { cause: err });
  }
}

/** Whether a pending row is a blank line (held, then trailing or inside the data). */
function isBlank(p: PendingRow): boolean {
  return p.csv ? p.csv.blank : p.json!.blank;
}

/** Row-level failures that --on-invalid skip may skip (scanner-level ones break the stream). */
const SKIPPABLE: ReadonlySet<ErrorCode> = new Set(["PREP_RAGGED_ROW", "PREP_TYPE", "PREP_NEWLINE", "PREP_RECORD_TOO_LARGE", "PREP_JSON", "PREP_SCHEMA"]);

interface PendingRow {
  input: ResolvedInput;
  line: number;
  /** global input byte offset just after the record */
  pos: number;
  csv?: CsvRecord;
  json?: JsonRecord;
}

/** Prepares the inputs; returns the descriptor (also written to OUT/btkit.json, last). */
export async function prepare(options: PrepareOptions): Promise<Descriptor> {
  const o = resolvePrepareOptions(options);
  // rows are read as JSON Lines from stdin's place; however the run ends, their iteration ends with it
  const rows = o.rows !== undefined ? new RowSource(o.rows) : undefined;
  try {
    return await prepareInputs(o, options.storage ?? new Storage(), rows);
  } finally {
    await rows?.close();
  }
}

async function prepareInputs(o: ResolvedPrepareOptions, storage: Storage, rows: RowSource | undefined): Promise<Descriptor> {
  const outLoc = storage.parse(o.out);
  const all = rows ? [rowsInput()] : await resolveInputs(storage, o.inputs, o.inputFormat);
  // part i of N: the inputs, and the bytes of split ones, whose records start in its byte range (parts.ts)
  const inputs = o.part ? await planPart(storage, all, o.part, { splitFiles: o.splitFiles, encoding: o.encoding }) : all;
  const record = optionsRecord(o);
  const fingerprint = fingerprintOf(inputs, record);
  const descriptorLoc = childLocation(outLoc, partNames(o.part).descriptor);
  // one writer per --out (per part of it): a second prep into the same place is refused, not mixed in
  const lock = lockFor(outLoc, "folder", o.part ? partLabel(o.part) : undefined);
  return withClaim(storage, lock, "btkit prep", `--out ${toUri(outLoc)} is being written by another prep`, async () => {
    // what killed runs left under --out goes first (no other prep writes there while we hold it)
    await storage.removeStaleTemporaries(outLoc);
    const existing = await checkExisting(storage, descriptorLoc, fingerprint, inputs, o.overwrite, record);
    if (existing) return existing;
    const job = new PrepareJob(storage, o, outLoc, inputs, rows ? rows.jsonLines() : o.stdin);
    try {
      return await job.run(fingerprint);
    } finally {
      await job.cleanup();
    }
  });
}

/** One preparation's run: reads the inputs in order and hands encoded records to the shard roller. */
class PrepareJob {
  readonly storage: Storage;
  readonly o: ResolvedPrepareOptions;
  readonly out: Location;
  /** the inputs, spilled ones replaced by their local copies (balanced sharding) */
  inputs: ResolvedInput[];
  readonly cleanups: (() => Promise<void>)[] = [];
  /** the bytes read for the stdin input: the stdin option, or the rows written as JSON Lines (rows.ts) */
  readonly stdin: AsyncIterable<Uint8Array> | Iterable<Uint8Array> | undefined;
  readonly gzipInputs = new Map<ResolvedInput, boolean>();
  readonly rowsPerInput = new Map<ResolvedInput, number>();
  readonly trailingBlankCount = new Map<ResolvedInput, number>();
  /** per split input (a --part's slice): the file's bytes [start, end) of the records this part took */
  readonly ranges = new Map<ResolvedInput, { start: number; end: number }>();
  /** the largest record the model may get, in bytes (--max-payload-mb) */
  readonly maxRecordBytes: number;
  readonly roller: ShardRoller;

  // columns: known from the first CSV header, or from the JSON sample; planned once the sample is complete
  columns: string[] | undefined;
  colIndex = new Map<string, number>();
  /** the records are JSON (JSON Lines, JSON arrays, Parquet, Arrow) */
  json = false;
  /** columns and types declared by Parquet/Arrow inputs (all inputs must declare the same) */
  declared: TypedColumn[] | undefined;
  plan: ColumnPlan | undefined;
  encode: ((values: (string | null)[], input: string, line: number, row: number) => string) | undefined;
  /** the byte path's encoder (CSV input): the line's length in lineBuffer, or -1 for the string path */
  encodeRaw: ((raw: RawRecords, r: number, fields: readonly number[] | undefined, out: LineBuffer) => number) | undefined;
  readonly lineBuffer = new LineBuffer();
  /** the byte path's encoder straight into the shard's block (CSV input, the common case) */
  lineEncoder: RawLineEncoder | undefined;
  csvEncoderChanged: () => number = () => 0;

  // the type sample: records held until sampleRows non-blank ones are seen (or the input ends)
  sample: PendingRow[] = [];
  sampleNonBlank = 0;
  schemaReady = false;
  /** blank lines held until a later record shows they are not trailing */
  pendingBlanks: PendingRow[] = [];

  // counts
  rowsRead = 0;
  skipped = new Map<string, number>();
  notes = new Map<string, number>();
  bytesBefore = 0;
  bytesRead = 0;
  bytesTotal: number | undefined;
  rejects: { chan: Channel; done: Promise<unknown> } | undefined;
  lastProgress = 0;
  currentInput = "";

  constructor(storage: Storage, o: ResolvedPrepareOptions, out: Location, inputs: ResolvedInput[], stdin: AsyncIterable<Uint8Array> | Iterable<Uint8Array> | undefined) {
    this.storage = storage;
    this.o = o;
    this.out = out;
    this.inputs = inputs;
    this.maxRecordBytes = Math.floor(o.maxPayloadMb * 1_000_000);
    this.roller = new ShardRoller(storage, out, o, (n) => this.note(ROUNDED_NOTE, n));
    this.stdin = stdin;
  }

  async cleanup(): Promise<void> {
    for (const c of this.cleanups) await c().catch(() => undefined);
  }

  async run(fingerprint: string): Promise<Descriptor> {
    try {
      if (this.o.instances !== undefined) await this.planBalanced(this.o.instances);
      for (const input of this.inputs) {
        this.o.signal?.throwIfAborted();
        await this.readInput(input);
      }
      if (!this.schemaReady) await this.decideSchema(true);
      await this.flushTrailingBlanks();
      await this.roller.close();
      const rejectLocation = await this.closeRejects();
      return await this.publish(fingerprint, rejectLocation);
    } catch (failure) {
      // a write that failed (ENOSPC, EFBIG) is the error to report, not what it broke downstream
      const writer = this.roller.writer;
      const err = writer ? await writer.cause(failure) : failure;
      await writer?.abort(err);
      if (this.rejects) {
        this.rejects.chan.abort(err);
        await this.rejects.done.catch(() => undefined);
      }
      throw err;
    }
  }

  /** Balanced sharding: spills stdin and gzip inputs (their size must be known), then plans the shard count. */
  async planBalanced(instances: number): Promise<void> {
    const resolved: ResolvedInput[] = [];
    for (const input of this.inputs) {
      let gz = false;
      if (!input.stdin && !input.slice) {
        const opened = await this.storage.read(input.location!, { decompress: "never" });
        for await (const c of opened) {
          gz = (c as Buffer)[0] === 0x1f && (c as Buffer)[1] === 0x8b;
          break;
        }
        opened.destroy();
      }
      if (input.stdin || gz) {
        const s = await spillInput(this.storage, input, this.stdin, this.o.tmpDir);
        this.cleanups.push(s.cleanup);
        this.gzipInputs.set(s.input, s.gzip);
        resolved.push(s.input);
      } else resolved.push(input);
    }
    this.inputs = resolved;
    // a split input counts the bytes of its slice (the part reads on to the end of its last record)
    const total = resolved.reduce((a, i) => a + (i.slice ? i.slice.stop - i.slice.start : (i.rawBytes ?? 0)), 0);
    this.bytesTotal = total;
    this.roller.plan(balancedShardCount(total, this.o.shardSize, instances), total, instances);
  }

  progress(done: boolean): void {
    if (!done && this.rowsRead - this.lastProgress < 65536) return;
    this.lastProgress = this.rowsRead;
    // every 65,536 rows: an interrupt stops the run, whose failure path removes the temporaries
    this.o.signal?.throwIfAborted();
    if (!this.o.onProgress) return;
    const rowsWritten = this.roller.rowsWritten;
    this.o.onProgress({ rowsRead: this.rowsRead, rowsWritten, rowsSkipped: this.rowsRead - rowsWritten, bytesRead: this.bytesRead, bytesTotal: this.bytesTotal, shards: this.roller.started, input: this.currentInput, done });
  }

  note(reason: string, n = 1): void {
    this.notes.set(reason, (this.notes.get(reason) ?? 0) + n);
  }

  async readInput(input: ResolvedInput): Promise<void> {
    try {
      await this.readInputOnce(input);
    } catch (err) {
      // a data error (or a failed read) in an input that changed while it was read is reported as the change
      if (err instanceof BtkitError && err.code !== "IO_CHANGED" && (err.exitCode === EXIT.data || err.code === "IO_READ_FAILED")) throw (await changedWhileRead(this.storage, input).catch(() => undefined)) ?? err;
      throw err;
    }
  }

  async readInputOnce(input: ResolvedInput): Promise<void> {
    if (input.slice) return this.readSlice(input, input.slice);
    this.currentInput = input.display;
    let raw = await openInput(this.storage, input, this.stdin);
    // text in another encoding is UTF-8 from here on (Parquet and Arrow by name are binary)
    if (this.o.encoding !== "utf-8" && input.format !== "parquet" && input.format !== "arrow") {
      raw = { ...raw, chunks: toUtf8(raw.chunks, this.o.encoding, input.display) };
      this.note(`text inputs read as ${this.o.encoding} and converted to UTF-8 (--encoding)`);
    }
    const opened = await detectFormat(raw, input);
    if (this.o.encoding !== "utf-8" && isRecordFormat(input.format) && input.format !== "json") {
      throw new BtkitError("USAGE_BAD_VALUE", `${optionHint("encoding", this.o.encoding)} applies to text inputs (CSV, TSV, JSON); ${input.display} is ${input.format}, whose text is UTF-8 by its format: leave it out`, { option: "encoding", input: input.display, got: this.o.encoding });
    }
    if (isRecordFormat(input.format)) return this.readRecordInput(input, opened);
    if (this.declared) throw new BtkitError("PREP_SCHEMA", `${input.display} is ${input.format} but an earlier input was Parquet or Arrow; inputs of one preparation share one kind of format`, { input: input.display });
    const json = input.format === "jsonl";
    if (this.columns !== undefined && json !== this.json) {
      throw new BtkitError("PREP_SCHEMA", `${input.display} is ${input.format} but the first input was ${this.json ? "jsonl" : "csv"}; inputs of one preparation share one format`, { input: input.display });
    }
    this.json = json;
    const base = this.bytesBefore;
    const csv = json ? undefined : new CsvScanner({ input: input.display, delimiter: this.o.delimiter ?? (input.format === "tsv" ? "\t" : undefined), quote: this.o.quote, maxRecordBytes: Math.max(this.maxRecordBytes * 4, 64 * 1024 * 1024) });
    const jl = json ? new JsonlScanner({ input: input.display, maxRecordBytes: Math.max(this.maxRecordBytes * 4, 64 * 1024 * 1024), lineErrors: "record" }) : undefined;
    let header = !json;
    let rows = 0;
    const handleCsv = async (raw: RawRecords): Promise<void> => {
      for (let r = 0; r < raw.count; r++) {
        if (header) {
          header = false;
          const first = raw.toRecord(r);
          if (this.o.header === false) {
            // no header: the first row is data like the others, and the columns get names
            this.setHeader(input, first, true);
          } else {
            if (this.o.header === "auto") refuseDataAsHeader(input, first);
            this.setHeader(input, first);
            continue;
          }
        }
        rows++;
        // the byte path: records that are neither blank nor part of the type sample
        const w = this.schemaReady && raw.blank[r] === 0 && this.pendingBlanks.length === 0 ? this.processRaw(input, raw, r, base) : this.row({ input, line: raw.line[r]!, pos: base + raw.end[r]!, csv: raw.toRecord(r) });
        if (w) await w;
      }
      // the shard writer copies the records it took by reference before the scanner moves on
      this.roller.writer?.settle();
    };
    const handleJson = async (recs: JsonRecord[]): Promise<void> => {
      for (const r of recs) {
        rows++;
        const w = this.row({ input, line: r.line, pos: base + r.end, json: r });
        if (w) await w;
      }
    };
    for await (const chunk of opened.chunks) {
      if (csv) await handleCsv(csv.pushRaw(chunk));
      else await handleJson(jl!.push(chunk));
      this.bytesRead = base + (csv ? csv.bytes : jl!.bytes);
    }
    if (csv) await handleCsv(csv.endRaw());
    else await handleJson(jl!.end());
    if (header) throw new BtkitError("PREP_HEADER", `${input.display} is empty: expected ${this.o.header === false ? "rows" : "a header row"}`, { input: input.display, line: 1 });
    if (csv?.bomStripped || jl?.bomStripped) this.note("utf-8 byte order mark stripped");
    this.bytesBefore = base + (csv ? csv.bytes : jl!.bytes) + (csv?.bomStripped || jl?.bomStripped ? 3 : 0);
    this.bytesRead = this.bytesBefore;
    await this.flushTrailingBlanks();
    if (!this.gzipInputs.has(input)) this.gzipInputs.set(input, opened.gzip());
    this.rowsPerInput.set(input, rows - this.trailingBlanksOf(input));
  }

  /**
   * A CSV or JSON Lines file of which this part takes the records that start in `slice` (parts.ts):
   * it finds where its first record begins (the header, read apart, when it starts inside the
   * file), reads from there in true quote state, and on past the slice's end to the end of the
   * record in progress there; it records the bytes of the records it took (this.ranges). Past
   * the end it reads on only while blank lines it holds may still prove trailing.
   */
  async readSlice(input: ResolvedInput, slice: { start: number; stop: number }): Promise<void> {
    this.currentInput = input.display;
    const json = input.format === "jsonl";
    if (this.declared) throw new BtkitError("PREP_SCHEMA", `${input.display} is ${input.format} but an earlier input was Parquet or Arrow; inputs of one preparation share one kind of format`, { input: input.display });
    if (this.columns !== undefined && json !== this.json) {
      throw new BtkitError("PREP_SCHEMA", `${input.display} is ${input.format} but the first input was ${this.json ? "jsonl" : "csv"}; inputs of one preparation share one format`, { input: input.display });
    }
    this.json = json;
    const size = input.rawBytes ?? 0;
    const maxRecordBytes = Math.max(this.maxRecordBytes * 4, 64 * 1024 * 1024);
    let delimiter = this.o.delimiter ?? (input.format === "tsv" ? "\t" : undefined);
    let header = !json;
    let startAt = 0;
    /** where this part starts was judged from the bytes after slice.start (csvRecordStart), not known */
    let guessed = false;
    if (slice.start > 0) {
      if (json) startAt = await jsonlRecordStart(this.storage, input, slice.start, maxRecordBytes);
      else {
        // the header (or, with --no-header, the first row: the field count) from the file's start
        const first = await firstCsvRecord(this.storage, input, { delimiter, quote: this.o.quote, maxRecordBytes });
        delimiter = first.delimiter;
        if (this.o.header === false) this.setHeader(input, first.record, true);
        else {
          if (this.o.header === "auto") refuseDataAsHeader(input, first.record);
          this.setHeader(input, first.record);
        }
        header = false;
        guessed = slice.start > first.end;
        startAt = slice.start <= first.end ? first.end : await csvRecordStart(this.storage, { input, part: this.o.part!, at: slice.start }, { delimiter: first.delimiter, quote: this.o.quote, fields: first.record.values.length, maxRecordBytes });
      }
    }
    // rows and messages name the input with where its line numbers start
    const named: ResolvedInput = startAt > 0 ? { ...input, display: `${input.display} (lines counted from byte ${startAt})`, linesFrom: startAt } : input;
    const stream = await this.storage.read(input.location!, { decompress: "never", range: { start: Math.min(startAt, size), end: size }, ...(input.rawEtag !== undefined ? { ifMatch: input.rawEtag } : {}) });
    const csv = json ? undefined : new CsvScanner({ input: named.display, delimiter, quote: this.o.quote, maxRecordBytes, resumed: startAt > 0 });
    const jl = json ? new JsonlScanner({ input: named.display, maxRecordBytes, resumed: startAt > 0, lineErrors: "record" }) : undefined;
    const base = this.bytesBefore;
    let rows = 0;
    /** the file offset where the next record starts */
    let next = startAt;
    /** where the records this part takes end, once a record at or past slice.stop is seen */
    let end: number | undefined;
    /** the file offset of scanner byte 0 (the scanners count after a byte order mark) */
    const shift = (): number => startAt + ((csv ? csv.bomStripped : jl!.bomStripped) ? 3 : 0);
    /** at a record starting at or past the slice's end: true once this part is done with the file */
    const past = async (at: number, blank: boolean): Promise<"done" | "peek"> => {
      end ??= at;
      if (this.pendingBlanks.length === 0) return "done";
      // blank lines held: trailing only if nothing but blank lines follows to the end of the file
      if (blank) return "peek";
      await this.resolveBlanks(false);
      return "done";
    };
    const handleCsv = async (raw: RawRecords): Promise<boolean> => {
      const s = shift();
      const posBase = base + s - slice.start;
      for (let r = 0; r < raw.count; r++) {
        const at = next;
        next = s + raw.end[r]!;
        if (at >= slice.stop) {
          if ((await past(at, raw.blank[r] === 1)) === "done") {
            this.roller.writer?.settle();
            return true;
          }
          continue;
        }
        if (header) {
          header = false;
          const first = raw.toRecord(r);
          if (this.o.header === false) this.setHeader(named, first, true);
          else {
            if (this.o.header === "auto") refuseDataAsHeader(named, first);
            this.setHeader(named, first);
            continue;
          }
        }
        rows++;
        const w = this.schemaReady && raw.blank[r] === 0 && this.pendingBlanks.length === 0 ? this.processRaw(named, raw, r, posBase) : this.row({ input: named, line: raw.line[r]!, pos: posBase + raw.end[r]!, csv: raw.toRecord(r) });
        if (w) await w;
      }
      this.roller.writer?.settle();
      return false;
    };
    const handleJson = async (recs: JsonRecord[]): Promise<boolean> => {
      const s = shift();
      for (const r of recs) {
        const at = next;
        next = s + r.end;
        if (at >= slice.stop) {
          if ((await past(at, r.blank)) === "done") return true;
          continue;
        }
        rows++;
        const w = this.row({ input: named, line: r.line, pos: base + s - slice.start + r.end, json: r });
        if (w) await w;
      }
      return false;
    };
    let done = false;
    try {
      for await (const chunk of stream) {
        done = csv ? await handleCsv(csv.pushRaw(chunk as Buffer)) : await handleJson(jl!.push(chunk as Buffer));
        this.bytesRead = base + Math.max(0, Math.min(next, slice.stop) - slice.start);
        if (done) break;
      }
      if (!done) done = csv ? await handleCsv(csv.endRaw()) : await handleJson(jl!.end());
    } catch (err) {
      // a quote never closed in a part that guessed where records begin inside the file: the
      // guess, more likely than the file, is wrong (a part reading the file whole would say which)
      if (csv && guessed && err instanceof BtkitError && err.code === "PREP_QUOTE") {
        throw new BtkitError(
          "PREP_SPLIT",
          `${err.message}; part ${this.o.part!.index}/${this.o.part!.count} started reading ${input.display} at byte ${startAt}, where it judged a record to begin, and that judgement may be wrong (a quoted field holding line breaks and rows that read as records); prepare every part with ${optionHint("splitFiles", false, "--no-split-files")} (each file read whole by one part), which reports the file's own error if it has one`,
          { input: input.display, offset: startAt, part: `${this.o.part!.index}/${this.o.part!.count}`, option: "splitFiles" },
          { cause: err },
        );
      }
      throw err;
    } finally {
      stream.destroy();
    }
    if (header) throw new BtkitError("PREP_HEADER", `${input.display} is empty: expected ${this.o.header === false ? "rows" : "a header row"}`, { input: input.display, line: 1 });
    if (!done) await this.flushTrailingBlanks();
    if (csv?.bomStripped || jl?.bomStripped) this.note("utf-8 byte order mark stripped");
    this.bytesBefore = base + (slice.stop - slice.start);
    this.bytesRead = this.bytesBefore;
    // the whole file is not read: its size and version (mtime, ETag) must still be those seen at the start
    const changed = await changedWhileRead(this.storage, input);
    if (changed) throw changed;
    this.gzipInputs.set(input, false);
    this.rowsPerInput.set(input, rows - this.trailingBlanksOf(named));
    this.ranges.set(input, { start: startAt, end: end ?? next });
  }

  /** A JSON array, Parquet or Arrow input (typed-input.ts): records of the JSON Lines shape. */
  async readRecordInput(input: ResolvedInput, opened: OpenedInput): Promise<void> {
    const first = this.inputs[0] === input;
    if (!first && (!this.json || (this.declared !== undefined) !== (input.format !== "json"))) {
      await opened.close?.();
      throw new BtkitError("PREP_SCHEMA", `${input.display} is ${input.format} but an earlier input was not; a preparation mixes JSON Lines and JSON arrays, or Parquet and Arrow, with nothing else`, { input: input.display });
    }
    this.json = true;
    const { drop, features, keep } = this.o;
    const unused = (name: string): boolean => drop.includes(name) || (features !== undefined && keep !== undefined && !features.includes(name) && !keep.includes(name));
    const src = await openRecordInput(input, opened, { schema: this.o.schema, maxRecordBytes: Math.max(this.maxRecordBytes * 4, 64 * 1024 * 1024), tmpDir: this.o.tmpDir, unused });
    this.cleanups.push(src.cleanup);
    if (src.columns) {
      if (!this.declared) this.declared = src.columns;
      else {
        for (let i = 0; i < Math.max(src.columns.length, this.declared.length); i++) {
          const a = this.declared[i];
          const b = src.columns[i];
          if (a?.name !== b?.name || a?.type !== b?.type) {
            throw new BtkitError("PREP_SCHEMA", `${input.display}: column ${i + 1} is ${b ? `${JSON.stringify(b.name)} (${b.arrowType})` : "missing"} but the first input has ${a ? `${JSON.stringify(a.name)} (${a.arrowType})` : "none"}; inputs must have the same columns and types in the same order`, { input: input.display, column: a?.name ?? b?.name, expected: a ? `${a.name}:${a.type}` : null, got: b ? `${b.name}:${b.type}` : null });
          }
        }
      }
    }
    const base = this.bytesBefore;
    let rows = 0;
    for await (const recs of detectedArrayHint(input, src.records)) {
      for (const r of recs) {
        rows++;
        const w = this.row({ input, line: r.line, pos: base + r.end, json: r });
        if (w) await w;
      }
      this.bytesRead = base + src.bytes();
    }
    if (src.bomStripped()) this.note("utf-8 byte order mark stripped");
    this.bytesBefore = base + src.bytes();
    this.bytesRead = this.bytesBefore;
    if (!this.gzipInputs.has(input)) this.gzipInputs.set(input, opened.gzip());
    this.rowsPerInput.set(input, rows);
  }

  trailingBlanksOf(input: ResolvedInput): number {
    return this.trailingBlankCount.get(input) ?? 0;
  }

  /** Sets the columns from a header row, or (headerless) from --columns or column_1..column_N for the first data row. */
  setHeader(input: ResolvedInput, r: CsvRecord, headerless = false): void {
    const names = headerNames(input, r, this.o.columns, headerless);
    if (this.columns === undefined) {
      this.columns = names;
      names.forEach((n, i) => this.colIndex.set(n, i));
    } else checkSameColumns(input, names, this.columns);
  }

  /** Handles one record; returns a promise only when the caller must wait (keeps the hot path free of promises). */
  row(p: PendingRow): Promise<void> | undefined {
    const blank = p.csv ? p.csv.blank : p.json!.blank;
    if (blank) {
      // held back: trailing blank lines at the end of a CSV input are ignored (and counted); inside the data they follow blankLines
      this.pendingBlanks.push(p);
      return undefined;
    }
    if (this.pendingBlanks.length > 0) return this.resolveBlanks(false).then(() => this.rowAfterBlanks(p));
    return this.rowAfterBlanks(p);
  }

  rowAfterBlanks(p: PendingRow): Promise<void> | undefined {
    if (!this.schemaReady) {
      // in order with the rows around it (rejects and row numbers in line order); a record found
      // invalid where it was read waits with them, but is no sample of the types
      this.sample.push(p);
      if (p.json?.error !== undefined) return undefined;
      this.sampleNonBlank++;
      if (this.sampleNonBlank >= this.o.sampleRows) return this.decideSchema(false);
      return undefined;
    }
    const w = this.process(p);
    this.progress(false);
    return w;
  }

  async resolveBlanks(atEnd: boolean): Promise<void> {
    const blanks = this.pendingBlanks;
    this.pendingBlanks = [];
    for (const b of blanks) {
      if (atEnd && b.csv) {
        this.note("trailing blank lines ignored");
        this.trailingBlankCount.set(b.input, (this.trailingBlankCount.get(b.input) ?? 0) + 1);
        continue;
      }
      // inside the data: in its place among the type sample's rows while they wait (rejects in line order)
      if (!this.schemaReady) this.sample.push(b);
      else await this.blankInside(b);
    }
  }

  /** A blank line inside the data: skipped under blankLines "skip", else an invalid row (PREP_JSON or PREP_RAGGED_ROW). */
  async blankInside(b: PendingRow): Promise<void> {
    this.rowsRead++;
    const err = new BtkitError(b.json ? "PREP_JSON" : "PREP_RAGGED_ROW", `${b.input.display}: line ${b.line} is blank (${b.json ? "a blank line is not a JSON Lines value: https://jsonlines.org" : "inside the data, not at its end"}); use ${optionHint("blankLines", "skip")} to skip blank lines`, { input: b.input.display, line: b.line });
    if (this.o.blankLines === "skip") {
      this.skipped.set("blank line", (this.skipped.get("blank line") ?? 0) + 1);
      return;
    }
    await this.invalid(err, b);
  }

  async flushTrailingBlanks(): Promise<void> {
    if (this.pendingBlanks.length > 0) await this.resolveBlanks(true);
  }

  /** Plans the columns from the sample (or the declared types), then processes the sample. */
  async decideSchema(wholeInput: boolean): Promise<void> {
    this.schemaReady = true;
    if (this.json) {
      const names: string[] = [];
      const seen = new Set<string>();
      for (const p of this.sample) {
        for (const k of p.json!.keys) {
          if (seen.has(k)) continue;
          seen.add(k);
          names.push(k);
        }
      }
      this.columns = this.declared ? this.declared.map((c) => c.name) : names;
      this.columns.forEach((n, i) => this.colIndex.set(n, i));
    }
    const columns = this.columns ?? [];
    const sampleValues = this.sample.filter((p) => p.json?.error === undefined && !isBlank(p)).map((p) => (p.csv ? { values: p.csv.values } : this.jsonValues(p)));
    const inferred = inferTypes(columns, sampleValues.filter((s): s is { values: (string | null)[]; kinds?: Kind[] } => s !== undefined && s.values.length === columns.length), { json: this.json, wholeInput, text: this.o.text });
    // Parquet and Arrow inputs declare their types (arrow-values.ts): no inference
    const plan = planColumns(columns, this.declared ? this.declared.map((c) => c.type) : inferred, { json: this.json, declared: this.declared !== undefined }, this.o);
    this.plan = plan;
    if (plan.lost.length > 0) this.note(`columns neither sent to the model nor kept, so not in the joined table: ${plan.lost.join(", ")} (--keep names them, --drop says so)`, plan.lost.length);
    this.roller.keep = plan.keepIdx.map((i) => ({ name: columns[i]!, type: plan.types[i]! }));
    const featureNames = plan.featureIdx.map((i) => columns[i]!);
    const featureTypes = plan.featureIdx.map((i) => plan.types[i]!);
    if (this.o.format === "csv") {
      this.encodeRaw = encodeCsvRaw;
      this.lineEncoder = csvLine;
      const enc = makeCsvEncoder(featureNames, this.o.newlines);
      this.encode = (values, input, line, row) => enc(values, { input, line, row });
      this.csvEncoderChanged = () => enc.newlinesChanged;
    } else {
      const enc = makeJsonlEncoder(featureNames, featureTypes);
      this.lineEncoder = jsonlLine(featureNames, featureTypes);
      this.encodeRaw = makeJsonlRawEncoder(featureNames, featureTypes);
      this.encode = (values) => enc(values);
    }
    const sample = this.sample;
    this.sample = [];
    for (const p of sample) {
      const w = isBlank(p) ? this.blankInside(p) : this.process(p);
      if (w) await w;
    }
  }

  jsonValues(p: PendingRow): { values: (string | null)[]; kinds: Kind[] } | undefined {
    const r = p.json!;
    const n = this.columns!.length;
    const values: (string | null)[] = new Array<string | null>(n).fill(null);
    const kinds: Kind[] = new Array<Kind>(n).fill(KIND.null);
    for (let k = 0; k < r.keys.length; k++) {
      const i = this.colIndex.get(r.keys[k]!);
      if (i === undefined) return undefined;
      values[i] = r.values[k]!;
      kinds[i] = r.kinds[k]!;
    }
    return { values, kinds };
  }

  process(p: PendingRow): Promise<void> | undefined {
    this.rowsRead++;
    const columns = this.columns!;
    const plan = this.plan!;
    const input = p.input.display;
    const rowNo = this.rowsRead;
    try {
      // a record found invalid where it was read (JsonRecord.error): in its place, as the rows around it
      if (p.json?.error !== undefined) throw p.json.error;
      let values: (string | null)[];
      let kinds: Kind[] | undefined;
      if (p.csv) {
        values = p.csv.values;
        if (values.length !== columns.length) {
          throw new BtkitError("PREP_RAGGED_ROW", `${input}: line ${p.line}: expected ${columns.length} fields (${this.o.header === false ? "the first row's" : "the header's"}), got ${values.length}; fix the row, or skip such rows with ${optionHint("onInvalid", "skip")}`, { input, line: p.line, row: rowNo, expected: columns.length, got: values.length });
        }
      } else {
        const jv = this.jsonValues(p);
        if (!jv) {
          const extra = p.json!.keys.find((k) => !this.colIndex.has(k));
          throw new BtkitError("PREP_SCHEMA", `${input}: line ${p.line}: key ${JSON.stringify(extra)} is not among the columns found in the first ${this.o.sampleRows} rows (${columns.join(", ")}); raise ${optionHint("sampleRows")} or declare it with ${optionHint("schema")}`, { input, line: p.line, row: rowNo, column: extra, option: "sampleRows" });
        }
        values = jv.values;
        kinds = jv.kinds;
      }
      for (const i of plan.checkIdx) {
        const v = values[i]!;
        const t = plan.types[i]!;
        const k = kinds?.[i];
        if (k !== undefined && k !== KIND.string && k !== KIND.null && t === "utf8" && plan.asText?.[i]) {
          // a JSON number, boolean or nested value in a column declared text: its source text, as a string
          this.note(TEXT_NOTE);
          continue;
        }
        if (!fits(t, v, k)) {
          const name = columns[i]!;
          const wider = widerType(t, v, k);
          const how = this.o.schema.has(name)
            ? `the type declared with ${optionHint("schema")}; declare ${wider} instead (${schemaHint(name, wider)}), or skip such rows with ${optionHint("onInvalid", "skip")}`
            : `the type inferred from the first ${this.o.sampleRows} rows; declare the type with ${schemaHint(name, wider)}${k === undefined ? `, or use ${optionHint("text", true)}` : ""}`;
          throw new BtkitError("PREP_TYPE", `${input}: line ${p.line} (row ${rowNo}), column ${JSON.stringify(name)}: ${JSON.stringify(v)} does not fit ${t} (${how})`, { input, line: p.line, row: rowNo, column: name, expected: t, got: v, option: "schema" });
        }
        if (t === "json" && k === KIND.string && v !== null) values[i] = JSON.stringify(v);
      }
      const feat = plan.featuresAll ? values : plan.featureIdx.map((i) => values[i] ?? null);
      const line = this.encode!(feat, input, p.line, rowNo);
      // at most 3 UTF-8 bytes per UTF-16 code unit: measure only lines that might be too large
      const bytes = line.length * 3 > this.maxRecordBytes ? Buffer.byteLength(line, "utf8") : 0;
      if (bytes > this.maxRecordBytes) {
        throw new BtkitError("PREP_RECORD_TOO_LARGE", `${input}: line ${p.line} (row ${rowNo}) encodes to ${bytes} bytes, more than ${optionHint("maxPayloadMb", this.o.maxPayloadMb)} (${this.maxRecordBytes} bytes): SageMaker would fail the job on it`, { input, line: p.line, row: rowNo, expected: this.maxRecordBytes, got: bytes });
      }
      return this.roller.add(line, plan.keepAll ? values : plan.keepIdx.map((i) => values[i] ?? null), p.pos);
    } catch (err) {
      return this.invalid(err, p);
    }
  }

  /**
   * The byte path for record r of raw CSV records: checks, encodes and emits without making
   * strings. Anything out of the ordinary (a ragged row, a value that does not fit, a line break,
   * an oversized record) goes to process(), which decides and reports it exactly as always.
   */
  processRaw(input: ResolvedInput, raw: RawRecords, r: number, base: number): Promise<void> | undefined {
    const first = raw.firstField[r]!;
    const plan = this.plan!;
    let ok = raw.firstField[r + 1]! - first === this.columns!.length;
    const checkIdx = plan.checkIdx;
    const checkTypes = plan.checkTypes;
    for (let k = 0; ok && k < checkIdx.length; k++) ok = fieldFits(raw, first + checkIdx[k]!, checkTypes[k]!);
    const pos = base + raw.end[r]!;
    // the common case: encoded straight into the shard's block (a line break or another quote
    // character, which the encoders may refuse, and a record that might be too large go below)
    if (ok && raw.multiline[r] === 0 && raw.quote === QUOTE) {
      const line = this.lineEncoder!;
      const bound = line.bound(raw, r);
      if (bound <= this.maxRecordBytes) {
        this.rowsRead++;
        const w = this.roller.addRaw(line, raw, r, plan.featuresAll ? undefined : plan.featureIdx, bound, plan.keepAll ? undefined : plan.keepIdx, pos);
        this.progress(false);
        return w;
      }
    }
    const len = ok ? this.encodeRaw!(raw, r, plan.featuresAll ? undefined : plan.featureIdx, this.lineBuffer) : -1;
    if (len < 0 || len > this.maxRecordBytes) return this.process({ input, line: raw.line[r]!, pos, csv: raw.toRecord(r) });
    this.rowsRead++;
    const w = this.roller.addEncoded(this.lineBuffer.buf, len, raw, r, plan.keepAll ? undefined : plan.keepIdx, pos);
    this.progress(false);
    return w;
  }

  async invalid(err: unknown, p: PendingRow): Promise<void> {
    if (!(err instanceof BtkitError) || this.o.onInvalid !== "skip" || !SKIPPABLE.has(err.code)) throw err;
    this.skipped.set(err.code, (this.skipped.get(err.code) ?? 0) + 1);
    if (!this.rejects) {
      const chan = new Channel(16);
      const done = this.storage.write(childLocation(this.out, partNames(this.o.part).rejects), chan, { contentType: "application/jsonlines" });
      done.catch((e) => chan.fail(e));
      this.rejects = { chan, done };
    }
    // a part that started inside the file counts lines from where it started (linesFrom), never from the file's start
    await this.rejects.chan.push(Buffer.from(`${JSON.stringify({ input: p.input.uri, line: p.line, ...(p.input.linesFrom !== undefined ? { linesFrom: p.input.linesFrom } : {}), code: err.code, message: err.message, column: err.context.column })}\n`));
  }

  async closeRejects(): Promise<string | undefined> {
    if (!this.rejects) return undefined;
    this.rejects.chan.close();
    await this.rejects.done;
    return toUri(childLocation(this.out, partNames(this.o.part).rejects));
  }

  /** Writes the manifest, clears an overwritten preparation's leftovers and writes the descriptor (last). */
  async publish(fingerprint: string, rejectLocation: string | undefined): Promise<Descriptor> {
    const shards = this.roller.shards;
    const prefix = `${toUri(childLocation(this.out, LAYOUT.shardsDir))}`;
    const manifestPrefix = prefix.endsWith("/") ? prefix : `${prefix}/`;
    const manifestLoc = childLocation(this.out, partNames(this.o.part).manifest);
    const manifestWritten = await this.storage.write(manifestLoc, `${manifestDocument(manifestPrefix, shards.map((s) => s.name))}\n`, { contentType: "application/json" });
    await removeStale(this.storage, this.out, this.o.part, shards, this.rejects !== undefined);
    const changed = this.csvEncoderChanged();
    if (changed > 0) this.note(this.o.newlines === "replace" ? "values with line breaks replaced" : "values with line breaks escaped", changed);
    const planned = this.roller.plannedShards;
    if (planned !== undefined && shards.length < planned) this.note(`fewer rows than planned shards: ${shards.length} of ${planned} shards written`);
    const plan = this.plan!;
    const d = buildDescriptor(this.o, {
      fingerprint,
      inputs: this.inputs,
      gzip: this.gzipInputs,
      rows: this.rowsPerInput,
      ranges: this.ranges,
      columns: this.columns ?? [],
      types: plan.types,
      featureIdx: plan.featureIdx,
      keepIdx: plan.keepIdx,
      rowsRead: this.rowsRead,
      rowsWritten: this.roller.rowsWritten,
      skipped: [...this.skipped].map(([reason, count]) => ({ reason, count })),
      notes: [...this.notes].map(([reason, count]) => ({ reason, count })),
      rejectLocation,
      shards,
      plannedShards: planned,
      maxRecordBytes: this.roller.maxRecord,
      manifest: { location: toUri(manifestLoc), prefix: manifestPrefix, bytes: manifestWritten.bytes },
      createdAt: new Date(),
    });
    await this.storage.write(childLocation(this.out, partNames(this.o.part).descriptor), `${serializeDescriptor(d)}\n`, { contentType: "application/json" });
    this.progress(true);
    return d;
  }
}
