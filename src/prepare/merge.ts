/**
 * merge(): combines the descriptors of `prepare({ part })` runs (parts 0..N-1 of one dataset,
 * prepared into the same --out, possibly on different machines) into one descriptor, and writes
 * its manifest.json and btkit.json (last) under that --out.
 *
 * Row numbers: a part cannot know how many rows the parts before it hold, so its firstRow values
 * and its sidecars' __btkit_row start at 0. merge renumbers both to global row numbers (rewriting
 * the sidecars of parts 1..N-1 batch by batch, atomically); a sidecar that already starts at its
 * global row is left alone, so a rerun of merge is safe.
 *
 * Inputs: every input is taken by exactly one part, or split between parts (parts.ts), each
 * recording the bytes [start, end) of the records it took; a split file's ranges must tile it,
 * 0 to its size, each part's end the next one's start. A gap or an overlap means a part guessed
 * wrong where its records begin: PREP_MERGE naming the file, both parts and both offsets. The
 * merged descriptor lists each input once, its rows summed over the parts.
 */
import { RecordBatch, makeData, Int64, Struct, type Data } from "apache-arrow";
import { createHash } from "node:crypto";
import { BtkitError, optionHint } from "../errors.js";
import { claim, lockFor } from "../io/lock.js";
import { childLocation, toUri, type Location } from "../io/location.js";
import { Storage } from "../io/storage.js";
import { PROTOCOL_VERSION, bytesWrittenOf, serializeDescriptor, type Descriptor, type SkipCount, type SourceInput } from "../protocol/descriptor.js";
import { LAYOUT, SIDECAR_ROW_COLUMN, manifestDocument } from "../protocol/layout.js";
import { mergeTypes, schemaHint } from "./schema.js";
import { SIDECAR_CONTENT_TYPE, SIDECAR_ROW_GROUP_ROWS, SidecarWriter, readSidecar } from "../protocol/sidecar-file.js";
import { VERSION } from "../version.js";

export interface MergeOptions {
  /** Storage for reads and writes; default: a new Storage() */
  storage?: Storage;
}

function mergeError(message: string, context: Record<string, unknown> = {}): never {
  throw new BtkitError("PREP_MERGE", message, context);
}

/** A part whose schema says something: it has columns and read rows to infer their types from. */
function informative(d: Descriptor): boolean {
  return d.schema.columns.length > 0 && d.source.rowsRead > 0;
}

function addCounts(into: Map<string, number>, list: SkipCount[] | undefined): void {
  for (const s of list ?? []) into.set(s.reason, (into.get(s.reason) ?? 0) + s.count);
}

/** Merges part descriptors (any order) into one; writes manifest.json and btkit.json beside the shards. */
export async function merge(parts: readonly Descriptor[], options: MergeOptions = {}): Promise<Descriptor> {
  const storage = options.storage ?? new Storage();
  if (parts.length === 0) mergeError("no descriptors to merge");
  const count = parts[0]!.source.part?.count;
  for (const d of parts) {
    if (!d.source.part) mergeError(`a descriptor to merge was not prepared in parts (it has no source.part): prepare with ${optionHint("part", "i/N", "--part i/N")}`);
    if (d.source.part.count !== count) mergeError(`parts disagree on the part count: ${count} and ${d.source.part.count}`, { expected: count, got: d.source.part.count });
  }
  const sorted = [...parts].sort((a, b) => a.source.part!.index - b.source.part!.index);
  const indexes = sorted.map((d) => d.source.part!.index);
  const want = Array.from({ length: count! }, (_, i) => i);
  if (JSON.stringify(indexes) !== JSON.stringify(want)) mergeError(`expected parts ${want.join(", ")} of ${count}, got ${indexes.join(", ")}`, { expected: want, got: indexes });
  // where the parts' records came from first: a wrong guess of where records begin inside a split
  // file also makes that part's types wrong, and its own message is the one that leads out
  checkInputs(sorted);
  // a part that read no rows (a header at most: a small split file's first part) inferred nothing
  const withRows = sorted.filter(informative);
  const ref = withRows[0] ?? sorted.find((d) => d.schema.columns.length > 0) ?? sorted[0]!;
  for (const d of withRows) {
    const i = d.source.part!.index;
    if (JSON.stringify(d.schema) !== JSON.stringify(ref.schema)) {
      const k = d.schema.columns.findIndex((c, j) => JSON.stringify(c) !== JSON.stringify(ref.schema.columns[j]));
      const mine = d.schema.columns[k];
      const theirs = ref.schema.columns[k];
      const at = ref.source.part!.index;
      if (mine && theirs && mine.name === theirs.name && mine.type !== theirs.type) {
        // each part inferred its types from its own rows: one type for every part is the way out
        const both = mergeTypes(theirs.type, mine.type, ref.modelInput.contentType === "application/jsonlines");
        mergeError(`part ${i} has column ${JSON.stringify(mine.name)} as ${mine.type}, part ${at} as ${theirs.type}: each part inferred its types from its own rows; prepare every part again with ${schemaHint(mine.name, both)} and ${optionHint("overwrite", true)}, then merge`, { column: mine.name, part: i, expected: theirs.type, got: mine.type, option: "schema" });
      }
      const col = mine?.name ?? theirs?.name ?? ref.schema.columns[d.schema.columns.length]?.name;
      mergeError(`part ${i} has a different schema than part ${at} (column ${JSON.stringify(col)})`, { column: col, part: i });
    }
  }
  for (const d of sorted) {
    const i = d.source.part!.index;
    if (!informative(d) && d.schema.columns.length > 0 && withRows.length > 0 && JSON.stringify(d.schema.columns.map((c) => c.name)) !== JSON.stringify(ref.schema.columns.map((c) => c.name))) {
      mergeError(`part ${i} has the columns ${d.schema.columns.map((c) => c.name).join(", ")}, part ${ref.source.part!.index} ${ref.schema.columns.map((c) => c.name).join(", ")}: were the parts prepared from other inputs?`, { part: i });
    }
    const m = d.modelInput;
    if (m.contentType !== ref.modelInput.contentType || m.compression !== ref.modelInput.compression || (informative(d) && JSON.stringify(m.features) !== JSON.stringify(ref.modelInput.features))) {
      mergeError(`part ${i} has a different model input (content type, compression or features) than part ${ref.source.part!.index}`, { part: i });
    }
    if (d.manifest.prefix !== ref.manifest.prefix) mergeError(`part ${i} wrote its shards under ${d.manifest.prefix}, part ${ref.source.part!.index} under ${ref.manifest.prefix}: parts must share one --out`, { part: i, expected: ref.manifest.prefix, got: d.manifest.prefix });
  }
  const prefix = ref.manifest.prefix;
  const outUri = prefix.slice(0, prefix.length - LAYOUT.shardsDir.length);
  if (!prefix.endsWith(LAYOUT.shardsDir)) mergeError(`the shard prefix ${prefix} does not end with ${LAYOUT.shardsDir}`);
  const out = storage.parse(outUri);
  // one writer per --out: no prep or other merge writes there meanwhile
  const held = await claim(storage, lockFor(out, "folder"), "btkit merge", `${outUri} is being written by another prep or merge`);
  try {
    return await mergeInto(storage, sorted, out, prefix, count!);
  } finally {
    await held.release().catch(() => undefined);
  }
}

/** Each input taken by exactly one part, or split by parts whose byte ranges tile it: PREP_MERGE otherwise. */
function checkInputs(sorted: readonly Descriptor[]): void {
  const byInput = new Map<string, { part: number; input: SourceInput }[]>();
  for (const d of sorted) {
    for (const input of d.source.inputs) {
      const list = byInput.get(input.location) ?? [];
      list.push({ part: d.source.part!.index, input });
      byInput.set(input.location, list);
    }
  }
  const wayOut = `prepare every part again with ${optionHint("splitFiles", false, "--no-split-files")} and ${optionHint("overwrite", true)} (each file read whole by one part), then merge`;
  for (const [location, list] of byInput) {
    const split = list.filter((e) => e.input.range !== undefined);
    if (split.length === 0) {
      if (list.length > 1) mergeError(`${location} was read whole by parts ${list.map((e) => e.part).join(" and ")}: each input belongs to one part; were the parts prepared from other input lists?`, { input: location, part: list[1]!.part });
      continue;
    }
    const whole = list.find((e) => e.input.range === undefined);
    if (whole) mergeError(`${location} was read whole by part ${whole.part} and in a byte range by part ${split[0]!.part}: were the parts prepared with other options (splitFiles, --no-split-files)? Prepare every part with the same options, then merge`, { input: location, part: whole.part });
    const size = list[0]!.input.bytes;
    for (const e of list) {
      if (e.input.bytes !== size) mergeError(`${location} had ${e.input.bytes} bytes for part ${e.part}, ${size} for part ${list[0]!.part}: it changed between the parts; prepare every part again (${optionHint("overwrite", true)}), then merge`, { input: location, part: e.part, expected: size, got: e.input.bytes });
    }
    let at = 0;
    let prev: number | undefined;
    for (const e of list) {
      const r = e.input.range!;
      if (r.start !== at) {
        const before = prev === undefined ? "the file begins at byte 0" : `part ${prev} took its records up to byte ${at}`;
        const why = r.start > at ? `bytes ${at} to ${r.start} were taken by no part` : `bytes ${r.start} to ${at} were taken by both`;
        mergeError(`${location}: ${before}, but part ${e.part} took them from byte ${r.start} (${why}): a part guessed wrong where records begin inside the file (a quoted field holding line breaks?); ${wayOut}`, { input: location, part: e.part, expected: at, got: r.start, option: "splitFiles" });
      }
      at = r.end;
      prev = e.part;
    }
    if (at !== size) mergeError(`${location}: the last part to read it, part ${prev}, took its records up to byte ${at}, but the file has ${size} bytes (${size === undefined || at < size ? "its end was taken by no part" : "past its end"}); ${wayOut}`, { input: location, part: prev, expected: size, got: at, option: "splitFiles" });
  }
}

/** The parts' inputs, each once, in order: a split input's rows summed over its parts (and no range: the merged preparation took it whole). */
function mergedInputs(sorted: readonly Descriptor[]): SourceInput[] {
  const out: SourceInput[] = [];
  const seen = new Map<string, SourceInput>();
  for (const d of sorted) {
    for (const input of d.source.inputs) {
      const { range: _range, ...rest } = input;
      const earlier = seen.get(input.location);
      if (earlier) earlier.rows += input.rows;
      else {
        const entry = { ...rest };
        seen.set(input.location, entry);
        out.push(entry);
      }
    }
  }
  return out;
}

async function mergeInto(storage: Storage, sorted: Descriptor[], out: Location, prefix: string, count: number): Promise<Descriptor> {
  const ref = sorted.find(informative) ?? sorted.find((d) => d.schema.columns.length > 0) ?? sorted[0]!;
  const shards: Descriptor["shards"] = [];
  let next = 0;
  for (const d of sorted) {
    for (const s of d.shards) {
      const firstRow = next + s.firstRow;
      const { sidecarSha256, sidecarEtag, sidecarBytes, ...rest } = s;
      const sidecar = next !== 0 ? await renumberSidecar(storage, s.sidecar, next, firstRow, sidecarSha256) : { sha256: sidecarSha256, etag: sidecarEtag, bytes: sidecarBytes };
      shards.push({
        ...rest,
        firstRow,
        ...(sidecar?.sha256 !== undefined ? { sidecarSha256: sidecar.sha256 } : {}),
        ...(sidecar?.etag !== undefined ? { sidecarEtag: sidecar.etag } : {}),
        ...(sidecar?.bytes !== undefined ? { sidecarBytes: sidecar.bytes } : {}),
      });
    }
    next += d.source.rowsWritten;
  }
  const skipped = new Map<string, number>();
  const notes = new Map<string, number>();
  for (const d of sorted) {
    addCounts(skipped, d.source.skipped);
    addCounts(notes, d.source.notes);
  }
  const rejects = sorted.map((d) => d.source.rejectLocation).filter((r): r is string => r !== undefined);
  if (rejects.length > 1) notes.set(`rejected rows are in ${rejects.length} files: ${rejects.join(", ")}`, rejects.length);
  const { part: _part, fingerprint: _fp, ...kept } = ref.source.options;
  const manifestLoc = childLocation(out, LAYOUT.manifest);
  // one JSON array, {"prefix"} first, then names appended verbatim
  // (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_TransformS3DataSource.html, S3Uri)
  const manifest = `${manifestDocument(prefix, shards.map((s) => s.name))}\n`;
  const merged: Descriptor = {
    btkit: PROTOCOL_VERSION,
    createdAt: new Date().toISOString(),
    tool: { name: "btkit", version: VERSION },
    source: {
      inputs: mergedInputs(sorted),
      options: { ...kept, shardCount: shards.length, mergedParts: count },
      rowsRead: sorted.reduce((a, d) => a + d.source.rowsRead, 0),
      rowsWritten: sorted.reduce((a, d) => a + d.source.rowsWritten, 0),
      rowsSkipped: sorted.reduce((a, d) => a + d.source.rowsSkipped, 0),
      skipped: [...skipped].map(([reason, n]) => ({ reason, count: n })),
      ...(rejects.length > 0 ? { rejectLocation: rejects[0] } : {}),
      ...(notes.size > 0 ? { notes: [...notes].map(([reason, n]) => ({ reason, count: n })) } : {}),
      bytesWritten: bytesWrittenOf(shards, Buffer.byteLength(manifest)),
    },
    schema: ref.schema,
    modelInput: { ...ref.modelInput, maxRecordBytes: Math.max(...sorted.map((d) => d.modelInput.maxRecordBytes)) },
    shards,
    manifest: { location: toUri(manifestLoc), prefix },
  };
  const text = serializeDescriptor(merged);
  await storage.write(manifestLoc, manifest, { contentType: "application/json" });
  await storage.write(childLocation(out, LAYOUT.descriptor), `${text}\n`, { contentType: "application/json" });
  return merged;
}

/**
 * Adds `offset` to __btkit_row of a sidecar, unless it already starts at `firstRow`; returns the
 * sidecar's sha256 and (S3) ETag. A sidecar still to be renumbered must be the one its part
 * recorded (`sha256`): a changed one is IO_CHANGED, never re-signed.
 */
async function renumberSidecar(storage: Storage, location: string, offset: number, firstRow: number, sha256: string | undefined): Promise<{ sha256?: string; etag?: string; bytes?: number } | undefined> {
  const loc = storage.parse(location);
  const chunks: Uint8Array[] = [];
  for await (const c of await storage.read(loc, { decompress: "never" })) chunks.push(c);
  const bytes = Buffer.concat(chunks);
  let reader: Awaited<ReturnType<typeof readSidecar>>;
  let it: AsyncIterator<RecordBatch>;
  let head: IteratorResult<RecordBatch>;
  try {
    reader = await readSidecar((async function* () {
      yield bytes;
    })(), SIDECAR_ROW_GROUP_ROWS);
    it = reader.batches[Symbol.asyncIterator]();
    head = await it.next();
  } catch (err) {
    throw changedOr(location, bytes, sha256, err);
  }
  const firstBatch = head.done ? undefined : head.value;
  const rowsOf = (batch: RecordBatch): BigInt64Array => {
    const rows = batch.getChild(SIDECAR_ROW_COLUMN);
    if (!rows) mergeError(`${location} has no ${SIDECAR_ROW_COLUMN} column`, { location });
    return rows.toArray() as BigInt64Array;
  };
  if (!firstBatch || firstBatch.numRows === 0 || rowsOf(firstBatch)[0] === BigInt(firstRow)) {
    await it.return?.();
    // renumbered by an earlier merge: what it holds now is what the merged descriptor records
    const got = await storage.digest(loc);
    return got && { sha256: got.sha256, etag: got.etag, bytes: got.bytes };
  }
  const got = createHash("sha256").update(bytes).digest("hex");
  if (sha256 !== undefined && got !== sha256) throw changedOr(location, bytes, sha256, undefined);
  // rewritten as a Parquet sidecar whichever form it had (an .arrow name keeps its name: the
  // form is told by the bytes)
  const writer = new SidecarWriter(reader.schema);
  const written = storage.write(loc, writer.bytes(), { contentType: SIDECAR_CONTENT_TYPE });
  written.catch(() => undefined);
  const add = BigInt(offset);
  const shift = (batch: RecordBatch): RecordBatch => {
    const shifted = rowsOf(batch).map((v) => v + add);
    const children: Data[] = batch.schema.fields.map((f, i) => (f.name === SIDECAR_ROW_COLUMN ? makeData({ type: new Int64(), length: batch.numRows, nullCount: 0, data: shifted }) : batch.data.children[i]!));
    return new RecordBatch(batch.schema, makeData({ type: new Struct(batch.schema.fields), length: batch.numRows, nullCount: 0, children }));
  };
  try {
    writer.write(shift(firstBatch));
    for (let r = await it.next(); !r.done; r = await it.next()) writer.write(shift(r.value));
  } catch (err) {
    writer.abort(err);
    await written.catch(() => undefined);
    throw err instanceof BtkitError ? err : changedOr(location, bytes, sha256, err);
  }
  writer.finish();
  const res = await written;
  return { sha256: res.sha256, etag: res.etag, bytes: res.bytes };
}

/**
 * The error for a part's sidecar that cannot be renumbered: IO_CHANGED when its bytes are not the
 * ones its part recorded, else PREP_MERGE with the decoder's reason.
 */
function changedOr(location: string, bytes: Buffer, sha256: string | undefined, err: unknown): BtkitError {
  const got = createHash("sha256").update(bytes).digest("hex");
  if (sha256 !== undefined && got !== sha256) {
    return new BtkitError("IO_CHANGED", `the sidecar ${location} changed after its part was prepared: sha256 ${got}, the part records ${sha256}; prepare that part again (btkit prep --part I/N --overwrite), then merge`, { location, expected: sha256, got });
  }
  return new BtkitError("PREP_MERGE", `the sidecar ${location} cannot be read: ${(err as Error | undefined)?.message ?? "unknown"}`, { location }, { cause: err });
}
