/**
 * The descriptor of a finished preparation, built from what the run counted and wrote. Pure: the
 * caller writes the manifest and the descriptor (btkit.json last, so its presence means complete).
 */
import { PROTOCOL_VERSION, bytesWrittenOf, type ColumnSpec, type ColumnType, type Descriptor, type ShardEntry, type SkipCount } from "../protocol/descriptor.js";
import { VERSION } from "../version.js";
import type { ResolvedInput } from "./inputs.js";
import { optionsRecord, type ResolvedPrepareOptions } from "./options.js";

/** What a preparation read and wrote, for its descriptor. */
export interface PreparedOutput {
  /** the rerun fingerprint (options.ts fingerprintOf) */
  fingerprint: string;
  /** the inputs as read (spilled stdin and gzip inputs by their original location) */
  inputs: readonly ResolvedInput[];
  /** per input: whether it was gzip-compressed */
  gzip: ReadonlyMap<ResolvedInput, boolean>;
  /** per input: its data rows (trailing blank lines not counted) */
  rows: ReadonlyMap<ResolvedInput, number>;
  /** per input a --part split (parts.ts): the bytes [start, end) of the records it took */
  ranges?: ReadonlyMap<ResolvedInput, { start: number; end: number }>;
  /** the input's columns and their types; feature and keep indexes into them */
  columns: readonly string[];
  types: readonly ColumnType[];
  featureIdx: readonly number[];
  keepIdx: readonly number[];
  rowsRead: number;
  rowsWritten: number;
  skipped: readonly SkipCount[];
  notes: readonly SkipCount[];
  rejectLocation: string | undefined;
  shards: ShardEntry[];
  /** the shard count balanced sharding planned, when it did */
  plannedShards: number | undefined;
  /** the largest encoded record, in bytes (uncompressed UTF-8, without its newline) */
  maxRecordBytes: number;
  manifest: { location: string; prefix: string; bytes: number };
  createdAt: Date;
}

/** The descriptor (protocol PROTOCOL_VERSION) of a preparation run with options `o`. */
export function buildDescriptor(o: ResolvedPrepareOptions, p: PreparedOutput): Descriptor {
  const featureSet = new Set(p.featureIdx);
  const keepSet = new Set(p.keepIdx);
  const schemaColumns: ColumnSpec[] = p.columns
    .map((name, i) => ({ name, type: p.types[i] ?? "utf8", roles: [...(featureSet.has(i) ? (["feature"] as const) : []), ...(keepSet.has(i) ? (["keep"] as const) : [])] }))
    .filter((c) => !o.drop.includes(c.name));
  return {
    btkit: PROTOCOL_VERSION,
    createdAt: p.createdAt.toISOString(),
    tool: { name: "btkit", version: VERSION },
    source: {
      inputs: p.inputs.map((i) => ({ location: i.uri, format: i.format, compression: p.gzip.get(i) ? "gzip" : "none", rows: p.rows.get(i) ?? 0, ...(i.rawBytes !== undefined && !i.stdin && !i.rows ? { bytes: i.rawBytes } : {}), ...(p.ranges?.has(i) ? { range: p.ranges.get(i)! } : {}) })),
      options: { ...optionsRecord(o), shardCount: p.shards.length, ...(p.plannedShards !== undefined ? { plannedShards: p.plannedShards } : {}), fingerprint: p.fingerprint },
      rowsRead: p.rowsRead,
      rowsWritten: p.rowsWritten,
      rowsSkipped: p.rowsRead - p.rowsWritten,
      skipped: [...p.skipped],
      ...(p.rejectLocation ? { rejectLocation: p.rejectLocation } : {}),
      ...(p.notes.length > 0 ? { notes: [...p.notes] } : {}),
      ...(o.part ? { part: o.part } : {}),
      bytesWritten: bytesWrittenOf(p.shards, p.manifest.bytes),
    },
    schema: { columns: schemaColumns },
    modelInput: {
      contentType: o.format === "csv" ? "text/csv" : "application/jsonlines",
      splitType: "Line",
      compression: o.gzipLevel !== undefined ? "Gzip" : "None",
      features: p.featureIdx.map((i) => p.columns[i]!),
      maxRecordBytes: p.maxRecordBytes,
    },
    shards: p.shards,
    manifest: { location: p.manifest.location, prefix: p.manifest.prefix },
  };
}
