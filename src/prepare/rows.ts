/**
 * prepare()'s `rows` option: objects of the caller's own code, read exactly as a JSON Lines input
 * holding the same rows. Each row is written as one JSON Lines record (rowJsonLine), and the
 * records take the JSON Lines path of every other input (jsonl-scanner.ts, type inference,
 * --schema, the checks, the counts): row N is line N of an input named "rows". Like stdin, the
 * rows are read once, so a rerun cannot be shown to be the same preparation (existing.ts).
 *
 * Values: strings; finite numbers (as JSON.stringify writes them); bigints (their exact digits);
 * booleans; null and undefined (null, also inside arrays and objects); Dates (their ISO 8601
 * instant, toISOString: a `timestamp`); arrays and plain objects (nested JSON, their values by the
 * same rules). Anything else is PREP_JSON naming the row and the column (and the path inside a
 * nested value): functions, symbols (as values or keys), NaN and the infinities, invalid Dates,
 * class instances (Map, Set, Buffer, typed arrays, a class of one's own: JSON has no form for them
 * that keeps their content), cycles, nesting deeper than MAX_DEPTH, and a row that is not a plain
 * object.
 */
import { types } from "node:util";
import { BtkitError } from "../errors.js";
import type { ResolvedInput } from "./inputs.js";
import { MAX_DEPTH } from "./jsonl-scanner.js";

/** What rows are called in messages and in the descriptor (source.inputs[].location). */
export const ROWS_INPUT_NAME = "rows";

/** The input that stands for the rows: read as JSON Lines, and once, like stdin. */
export function rowsInput(): ResolvedInput {
  return { display: ROWS_INPUT_NAME, uri: ROWS_INPUT_NAME, stdin: true, rows: true, format: "jsonl", sniff: false };
}

/** Whether `v` can be iterated as rows (an iterable or async iterable object, not a string). */
export function isRowSource(v: unknown): v is AsyncIterable<unknown> | Iterable<unknown> {
  if (typeof v !== "object" || v === null) return false;
  const o = v as { [Symbol.asyncIterator]?: unknown; [Symbol.iterator]?: unknown };
  return typeof o[Symbol.asyncIterator] === "function" || typeof o[Symbol.iterator] === "function";
}

/**
 * The rows given to prepare(), iterated once: jsonLines() writes them as JSON Lines bytes, and
 * close() ends an iteration that did not reach the end (a failed or aborted run, or one that never
 * began reading), so the source's return() runs (a cursor is closed) exactly once.
 */
export class RowSource {
  readonly #it: AsyncIterator<unknown> | Iterator<unknown>;
  readonly #sync: boolean;
  #done = false;

  constructor(rows: AsyncIterable<unknown> | Iterable<unknown>) {
    const a = (rows as AsyncIterable<unknown>)[Symbol.asyncIterator];
    this.#sync = typeof a !== "function";
    this.#it = this.#sync ? (rows as Iterable<unknown>)[Symbol.iterator]() : a.call(rows);
  }

  /** The rows as JSON Lines bytes, in chunks of about 64 KiB (a sync iterable's promises are awaited, as by for await). */
  async *jsonLines(): AsyncGenerator<Buffer> {
    let text = "";
    let n = 0;
    while (!this.#done) {
      let r: IteratorResult<unknown>;
      try {
        r = await this.#it.next();
        if (this.#sync && !r.done) r = { done: false, value: await r.value };
      } catch (err) {
        // a source that failed is over: it is not closed again
        this.#done = true;
        throw err;
      }
      if (r.done) {
        this.#done = true;
        break;
      }
      text += `${rowJsonLine(r.value, ++n)}\n`;
      if (text.length >= 65536) {
        yield Buffer.from(text, "utf8");
        text = "";
      }
    }
    if (text.length > 0) yield Buffer.from(text, "utf8");
  }

  /** Ends the iteration unless it reached the end: the source's return(), once. */
  async close(): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    await this.#it.return?.();
  }
}

/** One row (number n, 1-based) as the JSON text of one JSON Lines record, without its newline. */
export function rowJsonLine(row: unknown, n: number): string {
  if (!isPlainObject(row)) {
    throw new BtkitError("PREP_JSON", `${ROWS_INPUT_NAME}: row ${n} is ${describe(row)}, not an object of column values (a plain object: { name: value, ... })`, { input: ROWS_INPUT_NAME, line: n, row: n, got: describe(row) });
  }
  return flatText(row) ?? objectText(row, n, [], [row]);
}

/** The common row of strings, finite numbers, booleans and nulls only: JSON.stringify writes it as objectText would, faster. */
function flatText(row: object): string | undefined {
  const o = row as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    const v = o[key];
    if (v === null || typeof v === "string" || typeof v === "boolean" || (typeof v === "number" && Number.isFinite(v))) continue;
    return undefined;
  }
  return Object.getOwnPropertySymbols(o).length === 0 ? JSON.stringify(o) : undefined;
}

type Path = (string | number)[];

function objectText(o: object, n: number, path: Path, ancestors: object[]): string {
  checkSymbolKeys(o, n, path);
  let text = "{";
  let first = true;
  for (const key of Object.keys(o)) {
    const at = [...path, key];
    text += `${first ? "" : ","}${JSON.stringify(key)}:${valueText((o as Record<string, unknown>)[key], n, at, ancestors)}`;
    first = false;
  }
  return `${text}}`;
}

function valueText(v: unknown, n: number, path: Path, ancestors: object[]): string {
  switch (typeof v) {
    case "string":
      return JSON.stringify(v);
    case "number":
      if (!Number.isFinite(v)) fail(n, path, `${String(v)} is not a JSON number (JSON has no NaN or Infinity): give null, or a string`, String(v));
      return JSON.stringify(v);
    case "bigint":
      return v.toString();
    case "boolean":
      return v ? "true" : "false";
    case "undefined":
      return "null";
    case "object": {
      if (v === null) return "null";
      if (types.isDate(v)) {
        if (Number.isNaN(v.getTime())) fail(n, path, "is an invalid Date (its time is NaN)", "Invalid Date");
        return JSON.stringify(v.toISOString());
      }
      const array = Array.isArray(v);
      if (!array && !isPlainObject(v)) fail(n, path, `is ${describe(v)}: JSON has no form that keeps its content; convert it to a string, a number, an array or a plain object`, describe(v));
      if (ancestors.includes(v)) fail(n, path, "refers to an object that holds it (a cycle): JSON cannot hold it", "a cycle");
      if (path.length > MAX_DEPTH) fail(n, path, `nests deeper than ${MAX_DEPTH} levels`, `depth ${path.length}`);
      ancestors.push(v);
      let text: string;
      if (array) {
        const a = v as unknown[];
        text = "[";
        // holes and undefined are null, as in JSON.stringify
        for (let i = 0; i < a.length; i++) text += `${i > 0 ? "," : ""}${valueText(a[i], n, [...path, i], ancestors)}`;
        text += "]";
      } else text = objectText(v, n, path, ancestors);
      ancestors.pop();
      return text;
    }
    default:
      // function, symbol
      return fail(n, path, `is ${describe(v)}, not a value JSON can hold`, describe(v));
  }
}

/** A plain object: {...}, Object.create(null) or an object of another realm's Object.prototype; not a class instance. */
function isPlainObject(v: unknown): v is object {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === null || Object.getPrototypeOf(proto) === null;
}

function checkSymbolKeys(o: object, n: number, path: Path): void {
  for (const s of Object.getOwnPropertySymbols(o)) {
    if (Object.prototype.propertyIsEnumerable.call(o, s)) fail(n, path, `has the symbol key ${String(s)}: JSON keys are strings`, String(s));
  }
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (v === undefined) return "undefined";
  if (Array.isArray(v)) return "an array";
  switch (typeof v) {
    case "function":
      return `a function${v.name ? ` (${v.name})` : ""}`;
    case "symbol":
      return `a symbol (${String(v)})`;
    case "object": {
      const name = (Object.getPrototypeOf(v) as { constructor?: { name?: unknown } } | null)?.constructor?.name;
      return typeof name === "string" && name !== "" ? `a ${name}` : "an object of a class";
    }
    case "string":
      return `a string (${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v)})`;
    default:
      return `a ${typeof v} (${String(v)})`;
  }
}

/** How a path reads in a message: the column, then .key or [index] inside nested values. */
function pathText(path: Path): string {
  let s = "";
  for (const [i, p] of path.entries()) {
    if (i === 0) s = String(p);
    else if (typeof p === "number") s += `[${p}]`;
    else s += /^[A-Za-z_$][\w$]*$/.test(p) ? `.${p}` : `[${JSON.stringify(p)}]`;
  }
  return s;
}

/** PREP_JSON for row n at `path` ([] is the row itself, [column] its value, longer a value inside it). */
function fail(n: number, path: Path, what: string, got: string): never {
  const column = path.length > 0 ? String(path[0]) : undefined;
  const where = path.length === 0 ? "" : path.length === 1 ? `, column ${JSON.stringify(column)}` : `, column ${JSON.stringify(column)}, at ${pathText(path)}`;
  const subject = path.length === 0 ? "the row" : "the value";
  throw new BtkitError("PREP_JSON", `${ROWS_INPUT_NAME}: row ${n}${where}: ${subject} ${what}`, { input: ROWS_INPUT_NAME, line: n, row: n, column, ...(path.length > 1 ? { field: pathText(path) } : {}), got });
}
