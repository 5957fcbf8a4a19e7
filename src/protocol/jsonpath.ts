/**
 * The JSONPath subset Batch Transform's DataProcessing filters accept
 * (https://docs.aws.amazon.com/sagemaker/latest/dg/batch-transform-data-processing.html):
 * `$` first; `.name`; `.*` / `[*]`; `['a','b']` (several children, no nesting inside the
 * brackets); `[n]` and `[n,m,...]` with negative indexes (-1 = last); slices `[s:e]`, `[:e]`,
 * `[s:]`; and indexes with one slice in one bracket, `$[0,5:]` (an example of the API reference,
 * https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DataProcessing.html, OutputFilter:
 * the first element, then the sixth onwards). Anything else (`..`, `?()`, `@`, scripts) is rejected.
 *
 * At most one slice per filter. The service takes a filter with two (`$[0:2,246:]`) at
 * CreateTransformJob and fails each input object with it, saying in the job's log
 * "<object>: Invalid JsonPath: $[0:2,246:]: only single range filters of format (eg: [1:5]) are
 * supported. Format [0:2,246:] is not supported"
 * (https://github.com/aws/sagemaker-python-sdk/issues/1112): such a filter throws a
 * {@link JsonPathError} whose `atRun` is true and whose message is that text.
 *
 * Slice end: the documentation calls the range "inclusive" and both of its examples (`$[1:4]` =
 * second through fifth column, `[:5]` = through the sixth) read inclusively, while standard
 * JSONPath is exclusive; no public source settles which one the service does, so it is an option
 * ({@link SliceEnd}, default "inclusive", following the documentation's text).
 */
import { counted } from "../errors.js";

export type SliceEnd = "inclusive" | "exclusive";

export type Selector =
  | { kind: "name"; name: string }
  | { kind: "names"; names: string[] }
  | { kind: "wildcard" }
  | { kind: "index"; index: number }
  | { kind: "indexes"; indexes: number[] }
  | { kind: "slice"; start?: number; end?: number }
  /** indexes and one slice in one bracket (`[0,5:]`): the elements each selects, in order */
  | { kind: "union"; members: Array<{ index: number } | { start?: number; end?: number }> };

export interface JsonPath {
  text: string;
  selectors: Selector[];
}

export class JsonPathError extends Error {
  /**
   * true when the service accepts the filter at CreateTransformJob and fails each input object
   * with this message instead (two slices: aws/sagemaker-python-sdk#1112)
   */
  readonly atRun: boolean;
  constructor(message: string, atRun = false) {
    super(message);
    this.atRun = atRun;
  }
}

/** The service's words for a second slice in a filter (https://github.com/aws/sagemaker-python-sdk/issues/1112). */
function singleRange(text: string, bracket: string): JsonPathError {
  return new JsonPathError(`Invalid JsonPath: ${text}: only single range filters of format (eg: [1:5]) are supported. Format ${bracket} is not supported`, true);
}

const SLICE_RE = /^(-?\d+)?\s*:\s*(-?\d+)?$/;

const NAME_RE = /^[A-Za-z_$][A-Za-z0-9_$-]*/;

/** Parses a filter; throws JsonPathError with the service's wording where known. */
export function parseJsonPath(text: string): JsonPath {
  if (!text.startsWith("$")) throw new JsonPathError(`JSONPath ${JSON.stringify(text)} must start with $`);
  const selectors: Selector[] = [];
  let i = 1;
  let slices = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === ".") {
      if (text[i + 1] === ".") throw new JsonPathError(`JSONPath ${JSON.stringify(text)}: recursive descent (..) is not supported`);
      if (text[i + 1] === "*") {
        selectors.push({ kind: "wildcard" });
        i += 2;
        continue;
      }
      if (text[i + 1] === "[") {
        i += 1;
        continue;
      }
      const m = NAME_RE.exec(text.slice(i + 1));
      if (!m) throw new JsonPathError(`JSONPath ${JSON.stringify(text)}: expected a name after "." at position ${i + 1}`);
      selectors.push({ kind: "name", name: m[0] });
      i += 1 + m[0].length;
      continue;
    }
    if (c === "[") {
      const open = i;
      const close = text.indexOf("]", i);
      if (close < 0) throw new JsonPathError(`JSONPath ${JSON.stringify(text)}: unclosed [ at position ${i}`);
      const inner = text.slice(i + 1, close).trim();
      i = close + 1;
      if (inner === "*") {
        selectors.push({ kind: "wildcard" });
        continue;
      }
      if (/^'/.test(inner)) {
        const names: string[] = [];
        for (const part of inner.split(",")) {
          const m = /^\s*'([^'.[\]]*)'\s*$/.exec(part);
          if (!m) throw new JsonPathError(`JSONPath ${JSON.stringify(text)}: unsupported member list [${inner}] (quoted names without nesting only)`);
          names.push(m[1]!);
        }
        selectors.push(names.length === 1 ? { kind: "name", name: names[0]! } : { kind: "names", names });
        continue;
      }
      if (inner.includes(":")) {
        const bracket = text.slice(open, i);
        const parts = inner.split(",").map((p) => p.trim());
        const members: Array<{ index: number } | { start?: number; end?: number }> = [];
        for (const part of parts) {
          if (/^-?\d+$/.test(part)) {
            members.push({ index: Number(part) });
            continue;
          }
          const m = SLICE_RE.exec(part);
          if (!m) throw new JsonPathError(`JSONPath ${JSON.stringify(text)}: unsupported slice [${inner}]`);
          slices += 1;
          if (slices > 1) throw singleRange(text, bracket);
          const range: { start?: number; end?: number } = {};
          if (m[1] !== undefined) range.start = Number(m[1]);
          if (m[2] !== undefined) range.end = Number(m[2]);
          members.push(range);
        }
        const only = members[0]!;
        if (members.length === 1 && !("index" in only)) selectors.push({ kind: "slice", ...only });
        else selectors.push({ kind: "union", members });
        continue;
      }
      const parts = inner.split(",").map((s) => s.trim());
      if (parts.length === 0 || !parts.every((p) => /^-?\d+$/.test(p))) {
        throw new JsonPathError(`JSONPath ${JSON.stringify(text)}: unsupported selector [${inner}]`);
      }
      const idx = parts.map(Number);
      selectors.push(idx.length === 1 ? { kind: "index", index: idx[0]! } : { kind: "indexes", indexes: idx });
      continue;
    }
    throw new JsonPathError(`JSONPath ${JSON.stringify(text)}: unexpected ${JSON.stringify(c)} at position ${i}`);
  }
  return { text, selectors };
}

/** True when the filter selects the whole value. */
export function isIdentity(p: JsonPath): boolean {
  return p.selectors.length === 0;
}

/** True when the filter only uses index-based selectors (the only kind CSV records allow). */
export function isIndexOnly(p: JsonPath): boolean {
  return p.selectors.every((s) => s.kind === "index" || s.kind === "indexes" || s.kind === "slice" || s.kind === "union" || s.kind === "wildcard");
}

function resolveIndex(i: number, length: number, path: string): number {
  const r = i < 0 ? length + i : i;
  if (r < 0 || r >= length) throw new JsonPathError(`index ${i} of ${path} is outside the record (${counted(length, "element")})`);
  return r;
}

/** Applies a parsed filter to a value. Missing members and out-of-range indexes are errors. */
export function applyJsonPath(p: JsonPath, value: unknown, sliceEnd: SliceEnd = "inclusive"): unknown {
  return apply(p.selectors, 0, value, p.text, sliceEnd);
}

function apply(sels: Selector[], at: number, value: unknown, path: string, sliceEnd: SliceEnd): unknown {
  if (at >= sels.length) return value;
  const s = sels[at]!;
  const rest = (v: unknown): unknown => apply(sels, at + 1, v, path, sliceEnd);
  switch (s.kind) {
    case "name": {
      if (!isObject(value) || !(s.name in value)) throw new JsonPathError(`${path}: no member ${JSON.stringify(s.name)} in the record`);
      return rest(value[s.name]);
    }
    case "names": {
      if (!isObject(value)) throw new JsonPathError(`${path}: members selected from a value that is not an object`);
      const out: Record<string, unknown> = {};
      for (const n of s.names) if (n in value) out[n] = rest(value[n]);
      return out;
    }
    case "wildcard": {
      if (Array.isArray(value)) return value.map(rest);
      if (isObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, rest(v)]));
      throw new JsonPathError(`${path}: * applied to a value that is neither an array nor an object`);
    }
    case "index": {
      if (!Array.isArray(value)) throw new JsonPathError(`${path}: index applied to a value that is not an array`);
      return rest(value[resolveIndex(s.index, value.length, path)]);
    }
    case "indexes": {
      if (!Array.isArray(value)) throw new JsonPathError(`${path}: indexes applied to a value that is not an array`);
      return s.indexes.map((i) => rest(value[resolveIndex(i, value.length, path)]));
    }
    case "slice": {
      if (!Array.isArray(value)) throw new JsonPathError(`${path}: slice applied to a value that is not an array`);
      return sliceOf(value, s, sliceEnd).map(rest);
    }
    case "union": {
      if (!Array.isArray(value)) throw new JsonPathError(`${path}: indexes applied to a value that is not an array`);
      return s.members.flatMap((m) => ("index" in m ? [value[resolveIndex(m.index, value.length, path)]] : sliceOf(value, m, sliceEnd))).map(rest);
    }
  }
}

/** The elements a slice selects; `end` inclusive or exclusive as {@link SliceEnd} says. */
function sliceOf(value: unknown[], s: { start?: number; end?: number }, sliceEnd: SliceEnd): unknown[] {
  const n = value.length;
  const start = s.start === undefined ? 0 : s.start < 0 ? Math.max(0, n + s.start) : Math.min(n, s.start);
  let end: number;
  if (s.end === undefined) end = n;
  else {
    const e = s.end < 0 ? n + s.end : s.end;
    end = Math.max(0, Math.min(n, sliceEnd === "inclusive" ? e + 1 : e));
  }
  return value.slice(start, end);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
