/**
 * DataProcessing (https://docs.aws.amazon.com/sagemaker/latest/dg/batch-transform-data-processing.html,
 * https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DataProcessing.html): InputFilter on each record before it is sent, JoinSource
 * `Input` pairing each original (unfiltered) input record with its output record, then
 * OutputFilter. Pure functions over one record at a time.
 *
 * - CSV records are treated as JSON arrays of their fields (strings); only index-based filters
 *   apply to them. CSV join appends the output row's fields to the input row's (the data-processing page above).
 * - JSON join: an object input gets the key `SageMakerOutput`; any other input becomes
 *   `{"SageMakerInput": input, "SageMakerOutput": output}` (same page; API_DataProcessing, JoinSource).
 * - An output that cannot be parsed in the Accept format fails the object, as the service does
 *   ("Failed to parse output from the algorithm as CSV",
 *   https://github.com/aws/sagemaker-tensorflow-serving-container/issues/154).
 */
import { csvField, splitCsvRecord } from "../protocol/csv-record.js";
import { recordFormatOf } from "../protocol/data-processing.js";
import { applyJsonPath, isIdentity, isIndexOnly, parseJsonPath, type JsonPath, type SliceEnd } from "../protocol/jsonpath.js";
import { JsonNumber, jsonTextOf, parseExactJson, plainJson } from "../protocol/nested.js";

export type RecordFormat = "csv" | "json";

/** text/csv -> csv; application/json and application/jsonlines -> json; anything else undefined. */
export const formatOf: (mime: string | undefined) => RecordFormat | undefined = recordFormatOf;

export class RecordError extends Error {}

/** Parses one CSV record (RFC 4180, no embedded newlines) into its fields (protocol/csv-record.ts); a broken one fails as the service says. */
export function parseCsvRecord(line: string, what: "input" | "output"): string[] {
  const fields = splitCsvRecord(line);
  if (typeof fields !== "string") return fields;
  const problem = fields === "bare-quote" ? 'bare " in non quoted field' : 'extraneous or missing " in quoted-field';
  throw new RecordError(`Failed to parse ${what === "input" ? "input" : "output from the algorithm"} as CSV: ${problem}`);
}

function csvValue(v: unknown): string {
  return csvField(typeof v === "string" ? v : v === null || v === undefined ? "" : typeof v === "object" ? jsonTextOf(v) : String(v));
}

export function formatCsvRecord(value: unknown): string {
  return Array.isArray(value) ? value.map(csvValue).join(",") : csvValue(value);
}

export interface DataProcessingSpec {
  InputFilter?: string;
  OutputFilter?: string;
  JoinSource?: string;
}

/** A validated DataProcessing setup for one job. */
export interface DataPlan {
  inputFilter: JsonPath | undefined;
  outputFilter: JsonPath | undefined;
  join: boolean;
  inFormat: RecordFormat | undefined;
  outFormat: RecordFormat | undefined;
  sliceEnd: SliceEnd;
  /** true when output bodies must be taken apart record by record */
  perRecordOutput: boolean;
}

/** Builds the plan; throws Error with a message for the ValidationException when unsupported. */
export function planDataProcessing(dp: DataProcessingSpec | undefined, contentType: string | undefined, accept: string | undefined, sliceEnd: SliceEnd): DataPlan {
  const inF = parseJsonPath(dp?.InputFilter ?? "$");
  const outF = parseJsonPath(dp?.OutputFilter ?? "$");
  const join = (dp?.JoinSource ?? "None") === "Input";
  const inFormat = formatOf(contentType);
  const outFormat = formatOf(accept);
  const plan: DataPlan = {
    inputFilter: isIdentity(inF) ? undefined : inF,
    outputFilter: isIdentity(outF) ? undefined : outF,
    join,
    inFormat,
    outFormat,
    sliceEnd,
    perRecordOutput: join || !isIdentity(outF),
  };
  if (plan.inputFilter) {
    if (!inFormat) throw new Error(`InputFilter needs ContentType text/csv, application/json or application/jsonlines, got ${JSON.stringify(contentType ?? "")}`);
    if (inFormat === "csv" && !isIndexOnly(plan.inputFilter)) throw new Error(`InputFilter ${plan.inputFilter.text} selects members by name, but CSV input allows only index-based filters`);
  }
  if (plan.perRecordOutput) {
    if (!outFormat) throw new Error(`JoinSource and OutputFilter need Accept text/csv, application/json or application/jsonlines, got ${JSON.stringify(accept ?? "")}`);
    if (join && !inFormat) throw new Error(`JoinSource Input needs ContentType text/csv, application/json or application/jsonlines, got ${JSON.stringify(contentType ?? "")}`);
    if (join && outFormat === "csv" && inFormat !== "csv") throw new Error("JoinSource Input with text/csv output needs text/csv input");
    if (plan.outputFilter && outFormat === "csv" && !isIndexOnly(plan.outputFilter)) throw new Error(`OutputFilter ${plan.outputFilter.text} selects members by name, but CSV output allows only index-based filters`);
  }
  return plan;
}

function stripNewline(b: Buffer): { text: string; nl: string } {
  let s = b.toString("utf8");
  let nl = "";
  if (s.endsWith("\n")) {
    nl = "\n";
    s = s.slice(0, -1);
    if (s.endsWith("\r")) {
      nl = "\r\n";
      s = s.slice(0, -1);
    }
  }
  return { text: s, nl };
}

/**
 * JSON records are read with every number kept as a JsonNumber (its text) and written back with
 * those digits: the service copies a record's bytes, so a joined or filtered record keeps every
 * digit (12345678901234567890, 1.0).
 */
const keepDigits = (text: string): JsonNumber => new JsonNumber(text);

function parseRecord(text: string, format: RecordFormat, what: "input" | "output"): unknown {
  if (format === "csv") return parseCsvRecord(text, what);
  try {
    return plainJson(parseExactJson(text), keepDigits);
  } catch (err) {
    throw new RecordError(`Failed to parse ${what === "input" ? "input" : "output from the algorithm"} as JSON: ${(err as Error).message}`);
  }
}

function serialize(value: unknown, format: RecordFormat): string {
  return format === "csv" ? formatCsvRecord(value) : jsonTextOf(value);
}

/** Applies the InputFilter to one record (keeps its line ending). */
export function filterInput(plan: DataPlan, record: Buffer): Buffer {
  const f = plan.inputFilter;
  if (!f) return record;
  const format = plan.inFormat!;
  const { text, nl } = stripNewline(record);
  let selected: unknown;
  try {
    selected = applyJsonPath(f, parseRecord(text, format, "input"), plan.sliceEnd);
  } catch (err) {
    throw new RecordError(`InputFilter ${f.text}: ${(err as Error).message}`);
  }
  return Buffer.from(serialize(selected, format) + nl, "utf8");
}

/**
 * Joins and filters the output of one request: `originals` are the unfiltered input records,
 * `body` the model's response. Returns the new body, one `\n`-terminated line per record.
 * Throws RecordError naming the record (0-based offset within the batch in `.offset`).
 */
export function processOutput(plan: DataPlan, count: number, originals: readonly Buffer[] | undefined, body: Buffer): Buffer {
  const outFormat = plan.outFormat!;
  let text = body.toString("utf8");
  if (text.endsWith("\n")) text = text.slice(0, -1);
  const lines = text.length === 0 && count === 0 ? [] : text.split("\n").map((l) => (l.endsWith("\r") ? l.slice(0, -1) : l));
  if (lines.length !== count) {
    throw new RecordError(`the model returned ${lines.length} output records for ${count} input records; JoinSource and OutputFilter need one output line per input record`);
  }
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    try {
      let value = parseRecord(lines[i]!, outFormat, "output");
      if (plan.join && originals) {
        const input = parseRecord(stripNewline(originals[i]!).text, plan.inFormat!, "input");
        if (outFormat === "csv") value = [...(input as unknown[]), ...(Array.isArray(value) ? value : [value])];
        else if (typeof input === "object" && input !== null && !Array.isArray(input) && !(input instanceof JsonNumber)) value = { ...(input as Record<string, unknown>), SageMakerOutput: value };
        else value = { SageMakerInput: input, SageMakerOutput: value };
      }
      if (plan.outputFilter) value = applyJsonPath(plan.outputFilter, value, plan.sliceEnd);
      out.push(serialize(value, outFormat));
    } catch (err) {
      const e = new RecordError((err as Error).message);
      (e as RecordError & { offset?: number }).offset = i;
      throw e;
    }
  }
  return Buffer.from(out.length === 0 ? "" : `${out.join("\n")}\n`, "utf8");
}
