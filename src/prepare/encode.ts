/**
 * Record encoders: pure functions from a row's feature values to one line of model input (without
 * its newline).
 *
 * CSV: headerless, RFC 4180 quoting only where needed, values exactly as written in the input,
 * null as an empty field and the empty string as `""` (so the two stay distinct).
 * "Batch Transform doesn't support CSV-formatted input that contains embedded newline characters"
 * (https://docs.aws.amazon.com/sagemaker/latest/dg/batch-transform.html), so a value with CR or LF follows the newline policy.
 *
 * JSON Lines: one object per line, features in order, JSON types from the schema (numbers keep
 * their exact digits; booleans become true/false; text is a JSON string; json columns are the
 * nested value's text). JSON escapes newlines by nature.
 */
import { BtkitError, optionHint } from "../errors.js";
import { decimalOf, type ColumnType } from "../protocol/descriptor.js";
import { isNestedName } from "../protocol/nested.js";

export type NewlinePolicy = "reject" | "replace" | "escape";

export interface EncodeContext {
  input: string;
  line: number;
  row: number;
}

export interface CsvEncoder {
  (values: readonly (string | null)[], ctx: EncodeContext): string;
  /** values whose newlines were replaced or escaped so far */
  newlinesChanged: number;
}

const NEEDS_QUOTE = /[",\r\n]/;
const NEWLINE = /\r\n|\r|\n/g;

export function makeCsvEncoder(features: readonly string[], newlines: NewlinePolicy, replacement = " "): CsvEncoder {
  const enc = ((values: readonly (string | null)[], ctx: EncodeContext): string => {
    let out = "";
    for (let i = 0; i < values.length; i++) {
      let v = values[i];
      if (i > 0) out += ",";
      if (v === null || v === undefined) continue;
      if (v === "") {
        out += '""';
        continue;
      }
      if (NEEDS_QUOTE.test(v)) {
        if (v.includes("\n") || v.includes("\r")) {
          if (newlines === "reject") {
            const column = features[i];
            throw new BtkitError("PREP_NEWLINE", `${ctx.input}: row ${ctx.row} (line ${ctx.line}), column ${JSON.stringify(column)} holds a line break, which would split the record in a SageMaker Line-split CSV shard; use ${optionHint("newlines", "replace")} or "escape", or ${optionHint("format", "jsonl")}`, { input: ctx.input, row: ctx.row, line: ctx.line, column });
          }
          v = newlines === "replace" ? v.replace(NEWLINE, replacement) : v.replaceAll("\\", "\\\\").replaceAll("\r", "\\r").replaceAll("\n", "\\n");
          enc.newlinesChanged++;
          if (!NEEDS_QUOTE.test(v)) {
            out += v;
            continue;
          }
        }
        out += `"${v.replaceAll('"', '""')}"`;
      } else out += v;
    }
    return out;
  }) as CsvEncoder;
  enc.newlinesChanged = 0;
  return enc;
}

/** Encodes one JSON Lines record. Keys are pre-encoded once. */
export function makeJsonlEncoder(features: readonly string[], types: readonly ColumnType[]): (values: readonly (string | null)[]) => string {
  const keys = features.map((f) => `${JSON.stringify(f)}:`);
  return (values) => {
    let out = "{";
    for (let i = 0; i < values.length; i++) {
      if (i > 0) out += ",";
      out += keys[i];
      out += jsonValue(values[i] ?? null, types[i]!);
    }
    return `${out}}`;
  };
}

export function jsonValue(v: string | null, type: ColumnType): string {
  if (v === null) return "null";
  // a decimal is a JSON number with its exact digits; a nested value is its JSON text
  if (decimalOf(type) || isNestedName(type)) return v;
  switch (type) {
    case "int64":
    case "uint64":
    case "float64":
    case "json":
      return v;
    case "bool":
      return v.charCodeAt(0) === 116 || v.charCodeAt(0) === 84 ? "true" : "false";
    default:
      return JSON.stringify(v);
  }
}
