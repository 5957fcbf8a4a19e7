/**
 * DataProcessing (https://docs.aws.amazon.com/sagemaker/latest/dg/batch-transform-data-processing.html,
 * https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DataProcessing.html): InputFilter on each record before it is sent, JoinSource
 * `Input` pairing each original (unfiltered) input record with its output record, then
 * OutputFilter. Pure functions over one record at a time.
 *
 * - CSV records are treated as JSON arrays of their fields; only index-based filters apply to
 *   them. A CSV join is the input record as read, a comma, then the output record ("The joined
 *   data has the original input data followed by the transformed data", API_DataProcessing,
 *   JoinSource): bytes are spliced, never parsed and printed again, so quotes the input wrote stay
 *   and a CRLF record keeps its CRLF; an OutputFilter picks fields as they were written. No public
 *   recording shows a CSV join of quoted fields or CRLF lines: this follows the documentation's
 *   "appending" and keeps the input's bytes.
 * - JSON join: an object input gets the key `SageMakerOutput`; any other input becomes
 *   `{"SageMakerInput": input, "SageMakerOutput": output}` (same pages). Where the key goes is
 *   {@link JsonJoinKeys}, an option: recorded jobs write the joined object compactly with its keys
 *   sorted, the output's too ("sorted", the default; see {@link JsonJoinKeys}); the
 *   data-processing page's hand-written example puts `SageMakerOutput` last ("input-first").
 * - SplitType None with a JSON document: the object is one record and its output one record; the
 *   joined document is written with no newline after it (the recorded `test-dataset.json.out` of
 *   aws/amazon-sagemaker-examples, deploy_and_monitor/sm-clarify_model_bias_monitor_batch_transform_json/
 *   sm-clarify_model_bias_monitor_batch_transform_json.ipynb, ends `...]}` with no newline).
 * - JoinSource Input needs Accept to match ContentType and AssembleWith to match SplitType (the
 *   data-processing page: "The values for Accept and ContentType must match, and the values for
 *   AssembleWith and SplitType must also match"; for text/csv both must be Line). Whether the
 *   service refuses such a request at CreateTransformJob or fails its objects is not public: an
 *   option ({@link JoinMismatch}).
 * - An output that cannot be parsed in the Accept format fails the object, as the service does
 *   ("Failed to parse output from the algorithm as CSV",
 *   https://github.com/aws/sagemaker-tensorflow-serving-container/issues/154).
 */
import { splitCsvRecord, csvField } from "../protocol/csv-record.js";
import { recordFormatOf } from "../protocol/data-processing.js";
import { applyJsonPath, isIdentity, isIndexOnly, JsonPathError, parseJsonPath, type JsonPath, type SliceEnd } from "../protocol/jsonpath.js";
import { JsonNumber, jsonTextOf, parseExactJson, plainJson } from "../protocol/nested.js";

export type RecordFormat = "csv" | "json";

/** text/csv -> csv; application/json and application/jsonlines -> json; anything else undefined. */
export const formatOf: (mime: string | undefined) => RecordFormat | undefined = recordFormatOf;

export class RecordError extends Error {}

/** Parses one CSV record (RFC 4180, no embedded newlines) into its fields (protocol/csv-record.ts); a broken one fails as the service says. */
export function parseCsvRecord(line: string, what: "input" | "output", raw?: string[]): string[] {
  const fields = splitCsvRecord(line, undefined, raw);
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

/**
 * Where a JSON join puts `SageMakerOutput` and how it writes the joined object.
 *
 * - "sorted" (default): the joined object is written compactly (no spaces) with the keys of every
 *   object, the input's and the output's, in sorted order, numbers keeping their digits. Every
 *   public recording reads so: the Model Monitor batch-transform notebooks of
 *   aws/amazon-sagemaker-examples (JSON Lines: archived/SageMaker-Monitoring-Bias-Drift-for-Batch-Transform-JSON-Lines.ipynb,
 *   formerly sagemaker_model_monitor/fairness_and_explainability_jsonlines/SageMaker-Monitoring-Bias-Drift-for-Batch-Transform.ipynb;
 *   JSON: deploy_and_monitor/sm-clarify_model_bias_monitor_batch_transform_json/sm-clarify_model_bias_monitor_batch_transform_json.ipynb)
 *   record `{"SageMakerOutput":{"predicted_label":0,"score":0.047645717859268},"features":[...]}`
 *   where linear learner answers `{"score": ..., "predicted_label": ...}`
 *   (https://docs.aws.amazon.com/sagemaker/latest/dg/LL-in-formats.html); a recorded
 *   BlazingText join (ykumarbekov/aws-gridu-project aws/sagemaker/README.md) reads
 *   `{"ISBN":"0072294337","SageMakerOutput":{...},"device_id"...` where its input (code/runner.py,
 *   json.dump) had `ISBN`, then `timestamp`, then the user's fields, with spaces: an input key
 *   before SageMakerOutput, the rest after it, sorted; and mak0o/ops-side-of-ml docs/aws.md records `"cost_ratio_ma7"` before
 *   `"cost_std7"` and no spaces where its input (scripts/batch_transform.py, json.dumps) had them
 *   in the other order, with spaces. With lower-case input keys this puts SageMakerOutput first.
 * - "output-first": `{"SageMakerOutput":<output>,` then the input object's own text after its `{`.
 * - "input-first": the input object's text up to its closing `}`, then `,"SageMakerOutput":<output>}`,
 *   the order of the data-processing page's example (`{"key":1, "SageMakerOutput":{"label":1}}`).
 *
 * In "output-first" and "input-first" the input's and the output's bytes are kept (spliced); with
 * an OutputFilter the selected value is written compactly in that key order.
 */
export type JsonJoinKeys = "sorted" | "output-first" | "input-first";

/**
 * What a JoinSource Input job whose Accept does not match its ContentType, or whose AssembleWith
 * does not match its SplitType, gets: "run" (default) accepts the request and fails each input
 * object with the reason (the service evaluates DataProcessing per object: a filter it cannot
 * apply fails each object, https://github.com/aws/sagemaker-python-sdk/issues/1112); "create"
 * refuses it with a ValidationException. No public source shows which the service does.
 */
export type JoinMismatch = "run" | "create";

export interface DataProcessingSpec {
  InputFilter?: string;
  OutputFilter?: string;
  JoinSource?: string;
}

/** The parts of a CreateTransformJob request the data processing depends on. */
export interface PlanRequest {
  DataProcessing?: DataProcessingSpec;
  ContentType?: string;
  Accept?: string;
  SplitType?: string;
  AssembleWith?: string;
}

/** The emulator's choices where the service is unconfirmed (EmulatorOptions). */
export interface PlanSettings {
  sliceEnd: SliceEnd;
  jsonJoinKeys: JsonJoinKeys;
  joinMismatch: JoinMismatch;
}

/** A validated DataProcessing setup for one job. */
export interface DataPlan {
  inputFilter: JsonPath | undefined;
  outputFilter: JsonPath | undefined;
  join: boolean;
  inFormat: RecordFormat | undefined;
  outFormat: RecordFormat | undefined;
  sliceEnd: SliceEnd;
  jsonJoinKeys: JsonJoinKeys;
  /** true when output bodies must be taken apart record by record */
  perRecordOutput: boolean;
  /** SplitType None with JSON output: each object is one record, its output one document, written with no newline added */
  wholeObject: boolean;
  /** set when the service takes the request but fails every input object: the reason each one gets */
  objectFailure: string | undefined;
}

/** A request the service refuses at CreateTransformJob (ValidationException) with this message. */
export class PlanError extends Error {}

const DATA_PROCESSING_DOC = "https://docs.aws.amazon.com/sagemaker/latest/dg/batch-transform-data-processing.html";

/** Parses a filter; a filter the service takes but fails each object with is returned as its reason. */
function filterOf(text: string | undefined): JsonPath | string {
  try {
    return parseJsonPath(text ?? "$");
  } catch (err) {
    if (err instanceof JsonPathError && err.atRun) return err.message;
    throw new PlanError((err as Error).message);
  }
}

/** Builds the plan; throws PlanError with the ValidationException's message when the service refuses the request. */
export function planDataProcessing(req: PlanRequest, settings: PlanSettings): DataPlan {
  const dp = req.DataProcessing;
  const inF = filterOf(dp?.InputFilter);
  const outF = filterOf(dp?.OutputFilter);
  let objectFailure = typeof inF === "string" ? inF : typeof outF === "string" ? outF : undefined;
  const inPath = typeof inF === "string" || isIdentity(inF) ? undefined : inF;
  const outPath = typeof outF === "string" || isIdentity(outF) ? undefined : outF;
  const join = (dp?.JoinSource ?? "None") === "Input";
  const inFormat = formatOf(req.ContentType);
  const outFormat = formatOf(req.Accept);
  const split = req.SplitType ?? "None";
  const assemble = req.AssembleWith ?? "None";
  const plan: DataPlan = {
    inputFilter: inPath,
    outputFilter: outPath,
    join,
    inFormat,
    outFormat,
    sliceEnd: settings.sliceEnd,
    jsonJoinKeys: settings.jsonJoinKeys,
    perRecordOutput: join || outPath !== undefined,
    wholeObject: split === "None" && outFormat === "json",
    objectFailure: undefined,
  };
  if (plan.inputFilter) {
    if (!inFormat) throw new PlanError(`InputFilter needs ContentType text/csv, application/json or application/jsonlines, got ${JSON.stringify(req.ContentType ?? "")}`);
    if (inFormat === "csv" && !isIndexOnly(plan.inputFilter)) throw new PlanError(`InputFilter ${plan.inputFilter.text} selects members by name, but CSV input allows only index-based filters`);
  }
  if (plan.perRecordOutput) {
    if (!outFormat) throw new PlanError(`JoinSource and OutputFilter need Accept text/csv, application/json or application/jsonlines, got ${JSON.stringify(req.Accept ?? "")}`);
    if (join && !inFormat) throw new PlanError(`JoinSource Input needs ContentType text/csv, application/json or application/jsonlines, got ${JSON.stringify(req.ContentType ?? "")}`);
    if (plan.outputFilter && outFormat === "csv" && !isIndexOnly(plan.outputFilter)) throw new PlanError(`OutputFilter ${plan.outputFilter.text} selects members by name, but CSV output allows only index-based filters`);
  }
  if (join && (inFormat !== outFormat || split !== assemble || (outFormat === "csv" && split !== "Line"))) {
    const why =
      `JoinSource Input needs Accept to match ContentType and AssembleWith to match SplitType, both Line for text/csv (${DATA_PROCESSING_DOC}): ` +
      `ContentType ${JSON.stringify(req.ContentType ?? "")}, Accept ${JSON.stringify(req.Accept ?? "")}, SplitType ${split}, AssembleWith ${assemble}`;
    if (settings.joinMismatch === "create") throw new PlanError(why);
    objectFailure ??= why;
  }
  plan.objectFailure = objectFailure;
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
 * those digits, so a joined or filtered record keeps every digit (12345678901234567890, 1.0).
 */
const keepDigits = (text: string): JsonNumber => new JsonNumber(text);

function parseJson(text: string, what: "input" | "output"): unknown {
  try {
    return plainJson(parseExactJson(text), keepDigits);
  } catch (err) {
    throw new RecordError(`Failed to parse ${what === "input" ? "input" : "output from the algorithm"} as JSON: ${(err as Error).message}`);
  }
}

function parseRecord(text: string, format: RecordFormat, what: "input" | "output"): unknown {
  return format === "csv" ? parseCsvRecord(text, what) : parseJson(text, what);
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

const byCodeUnits = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Compact JSON text with the keys of every object sorted (UTF-16 code units), JsonNumbers as their digits. */
export function sortedJsonText(v: unknown): string {
  if (v instanceof JsonNumber) return v.text;
  if (Array.isArray(v)) return `[${v.map((x) => (x === undefined ? "null" : sortedJsonText(x))).join(",")}]`;
  if (v !== null && typeof v === "object") {
    const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined);
    entries.sort(([a], [b]) => byCodeUnits(a, b));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${sortedJsonText(x)}`).join(",")}}`;
  }
  return JSON.stringify(v) ?? "null";
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof JsonNumber);

/** One CSV output record: the joined (or filtered) fields as written, spliced with commas. */
function csvRecord(plan: DataPlan, outText: string, original: Buffer | undefined): { text: string; nl: string } {
  const outRaw: string[] = [];
  parseCsvRecord(outText, "output", outRaw);
  if (!plan.join || original === undefined) {
    if (!plan.outputFilter) return { text: outText, nl: "\n" };
    return { text: pickRaw(plan, outRaw), nl: "\n" };
  }
  const { text, nl } = stripNewline(original);
  const inRaw: string[] = [];
  parseCsvRecord(text, "input", inRaw);
  // the input record as read, then the output record (API_DataProcessing, JoinSource); its line ending kept
  const ending = nl === "" ? "\n" : nl;
  if (!plan.outputFilter) return { text: `${text},${outText}`, nl: ending };
  return { text: pickRaw(plan, [...inRaw, ...outRaw]), nl: ending };
}

function pickRaw(plan: DataPlan, raw: string[]): string {
  const picked = applyJsonPath(plan.outputFilter!, raw, plan.sliceEnd);
  return Array.isArray(picked) ? (picked as string[]).join(",") : (picked as string);
}

/** The `{`...`}` of a JSON object's text, or undefined when the text is not one object. */
function objectSpan(text: string): { open: number; close: number } | undefined {
  const open = text.search(/\S/);
  const close = text.search(/\S\s*$/);
  return open >= 0 && text[open] === "{" && text[close] === "}" ? { open, close } : undefined;
}

/** One JSON output record: the output, joined with its input as {@link JsonJoinKeys} says, then filtered. */
function jsonRecord(plan: DataPlan, outText: string, original: Buffer | undefined): { text: string; nl: string } {
  const output = parseJson(outText, "output");
  if (!plan.join || original === undefined) {
    const value = plan.outputFilter ? applyJsonPath(plan.outputFilter, output, plan.sliceEnd) : output;
    return { text: jsonTextOf(value), nl: "\n" };
  }
  const { text, nl } = stripNewline(original);
  const input = parseJson(text, "input");
  const order = plan.jsonJoinKeys;
  const isObject = isPlainObject(input);
  if (order === "sorted") {
    const joined = isObject ? { ...input, SageMakerOutput: output } : { SageMakerInput: input, SageMakerOutput: output };
    const value = plan.outputFilter ? applyJsonPath(plan.outputFilter, joined, plan.sliceEnd) : joined;
    return { text: sortedJsonText(value), nl: "\n" };
  }
  const ending = nl === "" ? "\n" : nl;
  const outBytes = outText.trim();
  const span = objectSpan(text);
  if (!plan.outputFilter && (!isObject || (span !== undefined && !("SageMakerOutput" in input)))) {
    // spliced: the input's and the output's own text
    if (!isObject) {
      const inBytes = text.trim();
      return { text: order === "output-first" ? `{"SageMakerOutput":${outBytes},"SageMakerInput":${inBytes}}` : `{"SageMakerInput":${inBytes},"SageMakerOutput":${outBytes}}`, nl: ending };
    }
    const { open, close } = span!;
    const empty = Object.keys(input).length === 0;
    if (order === "output-first") return { text: `{"SageMakerOutput":${outBytes}${empty ? "}" : `,${text.slice(open + 1, close + 1)}`}`, nl: ending };
    return { text: `${empty ? "{" : `${text.slice(open, close)},`}"SageMakerOutput":${outBytes}}`, nl: ending };
  }
  const rest = { ...(isObject ? input : { SageMakerInput: input }) };
  delete rest.SageMakerOutput;
  const joined = order === "output-first" ? { SageMakerOutput: output, ...rest } : { ...rest, SageMakerOutput: output };
  const value = plan.outputFilter ? applyJsonPath(plan.outputFilter, joined, plan.sliceEnd) : joined;
  return { text: jsonTextOf(value), nl: ending };
}

/**
 * Joins and filters the output of one request: `originals` are the unfiltered input records,
 * `body` the model's response. Returns the new body: one record per input record, each ended as
 * its input record was (`\n` when that had no line ending); a whole-object JSON record
 * ({@link DataPlan.wholeObject}) gets no ending. Throws RecordError naming the record (0-based
 * offset within the batch in `.offset`).
 */
export function processOutput(plan: DataPlan, count: number, originals: readonly Buffer[] | undefined, body: Buffer): Buffer {
  const outFormat = plan.outFormat!;
  let lines: string[];
  if (plan.wholeObject) {
    lines = [body.toString("utf8")];
  } else {
    let text = body.toString("utf8");
    if (text.endsWith("\n")) text = text.slice(0, -1);
    lines = text.length === 0 && count === 0 ? [] : text.split("\n").map((l) => (l.endsWith("\r") ? l.slice(0, -1) : l));
  }
  if (lines.length !== count) {
    throw new RecordError(`the model returned ${lines.length} output records for ${count} input records; JoinSource and OutputFilter need one output line per input record`);
  }
  let out = "";
  for (let i = 0; i < lines.length; i++) {
    try {
      const original = originals?.[i];
      const rec = outFormat === "csv" ? csvRecord(plan, lines[i]!, original) : jsonRecord(plan, lines[i]!, original);
      out += plan.wholeObject ? rec.text : rec.text + rec.nl;
    } catch (err) {
      const e = new RecordError((err as Error).message);
      (e as RecordError & { offset?: number }).offset = i;
      throw e;
    }
  }
  return Buffer.from(out, "utf8");
}

/** The parts of a (validated) CreateTransformJob request the plan reads. */
export function planRequestOf(job: {
  DataProcessing?: DataProcessingSpec;
  TransformInput: { ContentType?: string; SplitType?: string };
  TransformOutput: { Accept?: string; AssembleWith?: string };
}): PlanRequest {
  return {
    DataProcessing: job.DataProcessing,
    ContentType: job.TransformInput.ContentType,
    Accept: job.TransformOutput.Accept,
    SplitType: job.TransformInput.SplitType,
    AssembleWith: job.TransformOutput.AssembleWith,
  };
}
