/**
 * The feature parser (--with-features): reads the model-input shard's lines back into typed
 * columns, by the descriptor's schema. CSV shards (text/csv) hold the features in
 * modelInput.features order; JSON Lines shards hold an object per line (by name) or an array (by
 * position). An empty CSV field is null. A value that does not fit its type is JOIN_PARSE naming
 * shard, line and column: the shard is not what prep wrote.
 */
import type { Data, Field } from "apache-arrow";
import { BtkitError, counted } from "../errors.js";
import { isJsonType, type ColumnType, type ContentType } from "../protocol/descriptor.js";
import { isNestedName } from "../protocol/nested.js";
import { nestedData } from "../protocol/nested-arrow.js";
import { accumulatorFor, BoolAcc, fieldOf, Float64Acc, Int64Acc, NestedAcc, Utf8Acc, type Accumulator } from "./columns.js";
import { objectMembers } from "./json-extents.js";
import { roundsInDouble } from "../protocol/decimal.js";
import { splitCsvLine } from "./csv-fields.js";
import { CsvFeatureReader, type CsvFeatureFault } from "./csv-features.js";
import { lineCount, type LineBatch } from "./lines.js";
import type { BatchSource } from "./predictions.js";
import { excerpt, SET_OK, setValue } from "./values.js";

export interface FeatureColumn {
  name: string;
  type: ColumnType;
  /** position in the model input (modelInput.features order) */
  index: number;
}

const INT_RE = /^-?\d+$/;
const BOOL_TRUE = new Set(["true", "True", "TRUE", "1"]);
const BOOL_FALSE = new Set(["false", "False", "FALSE", "0"]);

export class FeatureParser {
  readonly #columns: FeatureColumn[];
  readonly #contentType: ContentType;
  /** float64 values whose text has more significant digits than a double keeps (rounded here) */
  rounded = 0;
  /** CSV lines as bytes (a reader in byte mode): read in place (csv-features.ts) */
  readonly #bytes: CsvFeatureReader | undefined;
  /** the batch being read, for the byte reader's slow path and messages */
  #src: BatchSource | undefined;

  constructor(columns: FeatureColumn[], contentType: ContentType) {
    this.#columns = columns;
    this.#contentType = contentType;
    if (contentType === "text/csv") {
      const slotOfField = new Int32Array(Math.max(0, ...columns.map((c) => c.index + 1))).fill(-1);
      columns.forEach((c, j) => (slotOfField[c.index] = j));
      this.#bytes = new CsvFeatureReader({
        slotOfField,
        types: columns.map((c) => c.type),
        slow: (acc, i, text, slot, line) => this.#setText(acc, i, text, columns[slot]!, this.#src!, line),
        rounded: () => this.rounded++,
      });
    }
  }

  /** Whether the shard's lines are best read as bytes (LineReaderOptions.bytes): CSV shards. */
  get readsBytes(): boolean {
    return this.#bytes !== undefined;
  }

  fields(): Field[] {
    return this.#columns.map((c) => fieldOf(c.name, c.type));
  }

  parse(batch: LineBatch, src: BatchSource): Data[] {
    if (batch.raw && this.#bytes) {
      const n = lineCount(batch);
      this.#src = src;
      try {
        return this.#bytes.read(batch.raw, n, (i) => batch.lineNumber(i), (i, why) => this.#csvFault(batch, i, why, src));
      } catch (err) {
        // the byte reader stops at the first field that does not fit; the string path words the
        // error as it always has (a broken line before a bad value, columns in their order), so
        // the batch goes through it to throw that error (the same first bad line)
        if (!(err instanceof BtkitError) || err.code !== "JOIN_PARSE") throw err;
        this.#parseLines(batch, src);
        throw err;
      }
    }
    return this.#parseLines(batch, src);
  }

  /** The string path: each line decoded and split into field strings. */
  #parseLines(batch: LineBatch, src: BatchSource): Data[] {
    const n = batch.lines.length;
    const cols = this.#columns;
    const accs = cols.map((c) => accumulatorFor(c.type, n));
    const quoted: boolean[] = [];
    for (let i = 0; i < n; i++) {
      const line = batch.lines[i]!;
      if (this.#contentType === "text/csv") {
        const fields = splitCsvLine(line, quoted);
        if (fields === undefined) this.#fail(src, batch.lineNumber(i), undefined, `is not valid CSV: ${excerpt(line)}`);
        for (let j = 0; j < cols.length; j++) {
          const c = cols[j]!;
          const text = fields[c.index];
          if (text === undefined) this.#fail(src, batch.lineNumber(i), c.name, `has ${counted(fields.length, "field")}, fewer than the ${c.index + 1} the features need`);
          // prep writes an empty string as "" and a null as nothing
          if (text === "" && quoted[c.index] === true && c.type === "utf8") (accs[j] as Utf8Acc).values[i] = "";
          else this.#setText(accs[j]!, i, text, c, src, batch.lineNumber(i));
        }
      } else {
        // an object line (what prep writes): each member's raw text, converted by its type, digits kept
        const members = objectMembers(line);
        if (members !== undefined) {
          for (let j = 0; j < cols.length; j++) {
            const c = cols[j]!;
            const text = members.get(c.name);
            if (text === undefined || text === "null") accs[j]!.setNull(i);
            else this.#setJsonText(accs[j]!, i, text, c, src, batch.lineNumber(i));
          }
          continue;
        }
        let v: unknown;
        try {
          v = JSON.parse(line);
        } catch {
          this.#fail(src, batch.lineNumber(i), undefined, `is not valid JSON: ${excerpt(line)}`);
        }
        for (let j = 0; j < cols.length; j++) {
          const c = cols[j]!;
          const value = Array.isArray(v) ? (v as unknown[])[c.index] : typeof v === "object" && v !== null ? (v as Record<string, unknown>)[c.name] : undefined;
          if (setValue(accs[j]!, i, value, false) !== SET_OK) this.#fail(src, batch.lineNumber(i), c.name, `holds ${excerpt(JSON.stringify(value) ?? "nothing")}, not a ${c.type}`);
        }
      }
    }
    return accs.map((a) => a.finish(n));
  }

  /** A JSON member's raw text: strings are unquoted first (text types), everything else is converted as CSV text is. */
  #setJsonText(acc: Accumulator, i: number, text: string, c: FeatureColumn, src: BatchSource, line: number): void {
    if (text.charCodeAt(0) === 0x22 && !isJsonType(c.type)) {
      let s: unknown;
      try {
        s = JSON.parse(text);
      } catch {
        this.#fail(src, line, c.name, `holds ${excerpt(text)}, not a JSON string`);
      }
      if (c.type === "utf8") {
        (acc as Utf8Acc).values[i] = s as string;
        return;
      }
      if (setValue(acc, i, s, false) !== SET_OK) this.#fail(src, line, c.name, `holds ${excerpt(text)}, not a ${c.type}`);
      return;
    }
    if (c.type === "utf8") this.#fail(src, line, c.name, `holds ${excerpt(text)}, not a string`);
    this.#setText(acc, i, text, c, src, line);
  }

  #setText(acc: Accumulator, i: number, text: string, c: FeatureColumn, src: BatchSource, line: number): void {
    if (text.length === 0) {
      acc.setNull(i);
      return;
    }
    let value: unknown = text;
    if (isNestedName(c.type)) {
      // the JSON text prep wrote, each leaf exact (built into the column at the batch's end)
      try {
        nestedData(c.type, [text]);
      } catch (err) {
        this.#fail(src, line, c.name, `holds ${excerpt(text)}, not a ${c.type}: ${(err as Error).message}`);
      }
      (acc as NestedAcc).values[i] = text;
      return;
    }
    switch (c.type) {
      case "int64":
        if (!INT_RE.test(text)) break;
        (acc as Int64Acc).values[i] = BigInt(text);
        return;
      case "float64": {
        // straight into the column (the hot path of reading features back)
        const x = Number(text);
        if (Number.isNaN(x) && text !== "NaN") break;
        (acc as Float64Acc).values[i] = x;
        if (text.length > 15 && roundsInDouble(text, x)) this.rounded++;
        return;
      }
      case "utf8":
        (acc as Utf8Acc).values[i] = text;
        return;
      case "bool":
        // the spellings prep accepts (a CSV shard keeps them as written)
        if (BOOL_TRUE.has(text)) (acc as BoolAcc).set(i, true);
        else if (!BOOL_FALSE.has(text)) break;
        return;
      case "timestamp":
        value = INT_RE.test(text) ? Number(text) : text;
        break;
      case "uint64":
        // its digits, exactly (a number would round above 2^53)
        value = text;
        break;
      case "json":
        // the JSON text prep wrote, exactly (parsing and printing would change digits and spacing)
        try {
          JSON.parse(text);
        } catch {
          break;
        }
        (acc as Utf8Acc).values[i] = text;
        return;
      default:
        break;
    }
    if (setValue(acc, i, value, false) !== SET_OK) this.#fail(src, line, c.name, `holds ${excerpt(JSON.stringify(text))}, not a ${c.type}`);
  }

  /** A CSV line the byte reader could not read, reported as the string path reports it. */
  #csvFault(batch: LineBatch, i: number, why: CsvFeatureFault, src: BatchSource): never {
    const line = batch.lineNumber(i);
    if (why.kind === "invalid") this.#fail(src, line, undefined, `is not valid CSV: ${excerpt(batch.lines[i]!)}`);
    const c = this.#columns.find((col) => col.index >= why.fields)!;
    this.#fail(src, line, c.name, `has ${counted(why.fields, "field")}, fewer than the ${c.index + 1} the features need`);
  }

  #fail(src: BatchSource, line: number, column: string | undefined, what: string): never {
    throw new BtkitError("JOIN_PARSE", `line ${line} of model-input shard ${src.location} (shard ${src.shard})${column ? `, feature ${column},` : ""} ${what}`, { shard: src.shard, location: src.location, line, column });
  }
}
