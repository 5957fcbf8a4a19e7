/**
 * Stage factories for composing a pipeline by hand (prepare() uses the same scanners and
 * encoders with its own driver). Each validates its options once and returns an async generator
 * function, so stages compose with `for await`, stream.pipeline and Duplex.from.
 */
import { BtkitError } from "../errors.js";
import type { ColumnType } from "../protocol/descriptor.js";
import { CsvScanner, type CsvRecord, type CsvScannerOptions } from "./csv-scanner.js";
import { makeCsvEncoder, makeJsonlEncoder, type NewlinePolicy } from "./encode.js";
import { JsonlScanner, type JsonRecord, type JsonlScannerOptions } from "./jsonl-scanner.js";

type Stage<In, Out> = (source: AsyncIterable<In>) => AsyncGenerator<Out>;

/** Bytes -> CSV records (the header is the first record). */
export function csvReader(options: CsvScannerOptions = {}): Stage<Uint8Array, CsvRecord> {
  // validate once: the constructor checks the delimiter and quote
  new CsvScanner(options);
  return async function* (source) {
    const s = new CsvScanner(options);
    for await (const c of source) yield* s.push(Buffer.from(c.buffer, c.byteOffset, c.byteLength));
    yield* s.end();
  };
}

/** Bytes -> JSON Lines records. */
export function jsonlReader(options: JsonlScannerOptions = {}): Stage<Uint8Array, JsonRecord> {
  return async function* (source) {
    const s = new JsonlScanner(options);
    for await (const c of source) yield* s.push(Buffer.from(c.buffer, c.byteOffset, c.byteLength));
    yield* s.end();
  };
}

/** Feature values -> headerless CSV lines (without newline). */
export function csvEncoder(options: { features: string[]; newlines?: NewlinePolicy; input?: string }): Stage<(string | null)[], string> {
  if (options.features.length === 0) throw new BtkitError("OPT_INVALID", "csvEncoder: features must name at least one column", { option: "features" });
  const enc = makeCsvEncoder(options.features, options.newlines ?? "reject");
  return async function* (source) {
    let row = 0;
    for await (const v of source) {
      row++;
      yield enc(v, { input: options.input ?? "input", line: row + 1, row });
    }
  };
}

/** Feature values -> JSON Lines records (without newline). */
export function jsonlEncoder(options: { features: string[]; types: ColumnType[] }): Stage<(string | null)[], string> {
  if (options.features.length !== options.types.length) throw new BtkitError("OPT_INVALID", "jsonlEncoder: features and types must have the same length", { option: "types" });
  const enc = makeJsonlEncoder(options.features, options.types);
  return async function* (source) {
    for await (const v of source) yield enc(v);
  };
}

export interface Shard {
  index: number;
  firstRow: number;
  lines: string[];
}

/** Lines -> shards of at most `rows` lines each (held in memory: size `rows` for the memory you have). */
export function sharder(options: { rows: number }): Stage<string, Shard> {
  if (!Number.isInteger(options.rows) || options.rows < 1) throw new BtkitError("OPT_INVALID", `sharder: rows must be an integer >= 1, got ${options.rows}`, { option: "rows" });
  return async function* (source) {
    let lines: string[] = [];
    let index = 0;
    let firstRow = 0;
    for await (const l of source) {
      lines.push(l);
      if (lines.length >= options.rows) {
        yield { index: index++, firstRow, lines };
        firstRow += lines.length;
        lines = [];
      }
    }
    if (lines.length > 0) yield { index, firstRow, lines };
  };
}
