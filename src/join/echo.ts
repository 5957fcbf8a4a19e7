/**
 * The echo check of JoinSource=Input outputs: each .out line carries the input record it belongs
 * to (protocol/data-processing.ts says where, from the job's DataProcessing), so join compares
 * that echo with the shard's own line before it trusts the prediction beside it. A line that
 * echoes another record (out of order, a stale shard next to an old .out, a hand-edited file) is
 * JOIN_ECHO_MISMATCH naming shard, line, expected and found; pairing by position alone would give
 * row 101 the prediction made for row 102.
 *
 * Comparison is by value, not by bytes: CSV fields after unquoting (the service may quote a field
 * that did not need it, or drop quotes that were not needed), JSON values with key order ignored.
 * What remains of each line after the echo is taken away is the prediction, handed on as a line
 * of its own (CSV fields, or the JSON text of SageMakerOutput) to the prediction parser.
 */
import { BtkitError, counted } from "../errors.js";
import { csvJoinSources, type CsvSource, type OutputLayout } from "../protocol/data-processing.js";
import type { SliceEnd } from "../protocol/jsonpath.js";
import { splitCsvLine } from "./csv-fields.js";
import type { LineBatch } from "./lines.js";
import type { BatchSource } from "./predictions.js";
import { excerpt } from "./values.js";
import { isJsonObject, jsonText, parseJsonValue } from "./values.js";
import { JsonNumber } from "../protocol/nested.js";

/** Layouts whose lines carry an echo of the input. */
export type EchoLayout = Extract<OutputLayout, { kind: "csv-join" | "json-join" }>;

export function hasEcho(layout: OutputLayout): layout is EchoLayout {
  return layout.kind === "csv-join" || layout.kind === "json-join";
}

export class EchoSplitter {
  readonly #layout: EchoLayout;
  readonly #inputFields: number;
  /** the field sources of the current shard's CSV lines, fixed by its first line */
  #sources: CsvSource[] | undefined;
  /** the shard line number of the line being checked */
  #inputNo = 0;
  /** lines whose echo was compared */
  checked = 0;

  constructor(layout: EchoLayout, inputFields: number) {
    this.#layout = layout;
    this.#inputFields = inputFields;
  }

  /** Call before the first batch of each shard: the model's output width is found again per file. */
  startShard(): void {
    this.#sources = undefined;
  }

  /** Checks each .out line's echo against the shard line and returns the prediction parts as lines. */
  split(out: LineBatch, input: LineBatch, src: BatchSource, shardLocation: string): LineBatch {
    const n = out.lines.length;
    const lines = new Array<string>(n);
    for (let i = 0; i < n; i++) {
      this.#inputNo = input.lineNumber(i);
      lines[i] = this.#layout.kind === "csv-join" ? this.#csv(out.lines[i]!, input.lines[i]!, out.lineNumber(i), src, shardLocation) : this.#json(out.lines[i]!, input.lines[i]!, out.lineNumber(i), src, shardLocation);
      this.checked++;
    }
    return { lines, lineNumber: out.lineNumber };
  }

  #csv(line: string, inputLine: string, no: number, src: BatchSource, shardLocation: string): string {
    const raw: string[] = [];
    const fields = splitCsvLine(line, undefined, raw);
    if (fields === undefined) parseError(src, no, `is not valid CSV (a quote is unbalanced or misplaced): ${excerpt(line)}`);
    const inputs = splitCsvLine(inputLine);
    if (inputs === undefined) parseError(src, no, `belongs to a shard line that is not valid CSV (${shardLocation}): ${excerpt(inputLine)}`);
    const layout = this.#layout as Extract<EchoLayout, { kind: "csv-join" }>;
    this.#sources ??= this.#resolve(layout, fields, inputs, line, inputLine, no, src, shardLocation);
    const sources = this.#sources;
    if (fields.length !== sources.length) {
      parseError(src, no, `has ${counted(fields.length, "field")}, but line 1 of the file had ${sources.length} (JoinSource=Input with OutputFilter ${layout.filter}): ${excerpt(line)}`);
    }
    const preds: string[] = [];
    for (let p = 0; p < sources.length; p++) {
      const s = sources[p]!;
      // the model's fields as written: a quoted "" stays the empty string for the prediction parser
      if (s.from === "output") preds.push(raw[p]!);
      else if (fields[p] !== inputs[s.index]) {
        echoError(src, no, this.#inputNo, shardLocation, `field ${p + 1} echoes input field ${s.index + 1} as ${JSON.stringify(excerpt(fields[p]!))}, but the shard line holds ${JSON.stringify(excerpt(inputs[s.index] ?? ""))}`, inputLine, line);
      }
    }
    return preds.join(",");
  }

  /**
   * The field sources of a file, from its first line: the model's output width m is not known in
   * advance, nor whether the service's slice end is inclusive (the documentation's reading) or
   * exclusive (standard JSONPath): the first (m, slice end), smallest m first, whose filtered width
   * is the line's and whose echoed fields equal the shard line's is the reading. A reading with no
   * field of the model's is JOIN_PARSE (no prediction); none fitting is an echo mismatch.
   */
  #resolve(layout: Extract<EchoLayout, { kind: "csv-join" }>, fields: string[], inputs: string[], line: string, inputLine: string, no: number, src: BatchSource, shardLocation: string): CsvSource[] {
    const k = this.#inputFields;
    let widthFits = false;
    for (let m = 1; m <= fields.length + k + 1; m++) {
      for (const end of ["inclusive", "exclusive"] as SliceEnd[]) {
        const sources = csvJoinSources(layout.select, k, m, end);
        if (sources === undefined || sources.length !== fields.length) continue;
        widthFits = true;
        const echoes = sources.every((s, p) => s.from === "output" || fields[p] === inputs[s.index]);
        if (!echoes) continue;
        // the line reads as input fields only: the filter kept none of the model's output
        if (!sources.some((s) => s.from === "output")) {
          parseError(src, no, `holds only input fields: OutputFilter ${layout.filter} kept none of the model's output, so there is no prediction to join: ${excerpt(line)}`);
        }
        return sources;
      }
    }
    if (!widthFits) {
      parseError(src, no, `has ${counted(fields.length, "field")}, which no output width fits: JoinSource=Input joins the shard's ${counted(k, "input field")} with the model's output, then OutputFilter ${layout.filter} selects: ${excerpt(line)}`);
    }
    echoError(src, no, this.#inputNo, shardLocation, `its echoed input fields differ from the shard line`, inputLine, line);
  }

  #json(line: string, inputLine: string, no: number, src: BatchSource, shardLocation: string): string {
    let v: unknown;
    try {
      v = parseJsonValue(line);
    } catch (err) {
      parseError(src, no, `is not valid JSON (${(err as Error).message}): ${excerpt(line)}`);
    }
    if (!isObject(v) || !("SageMakerOutput" in v)) parseError(src, no, `has no SageMakerOutput, which JoinSource=Input output holds: ${excerpt(line)}`);
    let input: unknown;
    try {
      input = parseJsonValue(inputLine);
    } catch {
      parseError(src, no, `belongs to a shard line that is not valid JSON (${shardLocation}): ${excerpt(inputLine)}`);
    }
    const layout = this.#layout as Extract<EchoLayout, { kind: "json-join" }>;
    if ("SageMakerInput" in v && !(isObject(input) && "SageMakerInput" in input)) {
      // a non-object input is echoed whole under SageMakerInput
      if (!sameJson(v.SageMakerInput, input)) echoError(src, no, this.#inputNo, shardLocation, "SageMakerInput differs from the shard line", inputLine, line);
    } else {
      if (!isObject(input)) parseError(src, no, `belongs to a shard line that is not a JSON object (${shardLocation}): ${excerpt(inputLine)}`);
      let echoed = 0;
      for (const key of Object.keys(v)) {
        if (key === "SageMakerOutput") continue;
        echoed++;
        if (!(key in input)) echoError(src, no, this.#inputNo, shardLocation, `key ${JSON.stringify(key)} is not in the shard line`, inputLine, line);
        if (!sameJson(v[key], input[key])) echoError(src, no, this.#inputNo, shardLocation, `key ${JSON.stringify(key)} echoes ${excerpt(jsonText(v[key]))}, but the shard line holds ${excerpt(jsonText(input[key]))}`, inputLine, line);
      }
      const want = layout.keys === "all" ? Object.keys(input).filter((key) => key !== "SageMakerOutput").length : layout.keys.filter((key) => key in input).length;
      if (echoed !== want) echoError(src, no, this.#inputNo, shardLocation, `it echoes ${echoed} input keys, the shard line has ${want}${layout.keys === "all" ? "" : ` of those OutputFilter ${layout.filter} names`}`, inputLine, line);
    }
    return jsonText(v.SageMakerOutput);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return isJsonObject(v);
}

/**
 * Deep equality of parsed JSON values, key order ignored. Numbers a double does not keep
 * (JsonNumbers: IDs above 2^53) are equal only to the same number, by their digits; an echo whose
 * digits went through a double does not echo its input.
 */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a instanceof JsonNumber || b instanceof JsonNumber) return a instanceof JsonNumber && b instanceof JsonNumber && sameNumber(a.text, b.text);
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => sameJson(x, b[i]));
  }
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => k in b && sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/** Whether two JSON number texts are the same number (exactly; "1.50" is "1.5", "1e2" is "100"). */
function sameNumber(a: string, b: string): boolean {
  if (a === b) return true;
  const norm = (t: string): string => {
    const m = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(t)!;
    const digits = `${m[2]}${m[3] ?? ""}`.replace(/^0+/, "");
    const exp = Number(m[4] ?? 0) - (m[3] ?? "").length;
    const trimmed = digits.replace(/0+$/, "");
    return trimmed === "" ? "0" : `${m[1]}${trimmed}e${exp + digits.length - trimmed.length}`;
  };
  return norm(a) === norm(b);
}

function parseError(src: BatchSource, line: number, what: string): never {
  throw new BtkitError("JOIN_PARSE", `line ${line} of ${src.location} (shard ${src.shard}) ${what}`, { shard: src.shard, location: src.location, line });
}

function echoError(src: BatchSource, line: number, inputLine: number, shardLocation: string, what: string, expected: string, found: string): never {
  throw new BtkitError(
    "JOIN_ECHO_MISMATCH",
    `line ${line} of ${src.location} (shard ${src.shard}) does not echo line ${inputLine} of ${shardLocation}: ${what}; expected ${JSON.stringify(excerpt(expected))}, found ${JSON.stringify(excerpt(found))}. Its prediction belongs to another row: the .out is out of order, or was written for other shard contents`,
    { shard: src.shard, location: src.location, line, expected: excerpt(expected), got: excerpt(found) },
  );
}
