/**
 * What each .out line of a transform job holds, read from the job's DataProcessing (InputFilter,
 * OutputFilter, JoinSource) and its ContentType and Accept: the contract between the service's
 * data processing and join. submit refuses a request whose lines join could not take apart,
 * before the job is paid for; join reads the same layout to split each line into the echoed input
 * (checked against the shard line) and the prediction.
 *
 * The service's rules (https://docs.aws.amazon.com/sagemaker/latest/dg/batch-transform-data-processing.html,
 * API_DataProcessing): InputFilter selects what the model sees; JoinSource=Input joins the
 * original, unfiltered input record with the model's output (CSV: the output fields are appended
 * to the input fields; JSON: the output goes under the key `SageMakerOutput` of an object input,
 * or `{"SageMakerInput": input, "SageMakerOutput": output}` for any other input); OutputFilter then
 * selects from the joined record. "For CSV data, only index-based paths apply."
 */
import { applyJsonPath, isIdentity, parseJsonPath, JsonPathError, type JsonPath, type Selector, type SliceEnd } from "./jsonpath.js";

/** How join takes an .out line apart. */
export type OutputLayout =
  /** no JoinSource: the line is the model's output (after OutputFilter, if any) */
  | { kind: "prediction" }
  /** JoinSource=Input, CSV: the joined row is the input's fields then the output's; `select` is the OutputFilter's one selector */
  | { kind: "csv-join"; select: Selector | undefined; filter: string }
  /** JoinSource=Input, JSON: an object with input keys (all of them, or those named) and SageMakerOutput */
  | { kind: "json-join"; keys: "all" | string[]; filter: string }
  /** JoinSource=Input, JSON, OutputFilter `$.SageMakerOutput...`: the line holds (part of) the output only */
  | { kind: "json-output"; filter: string };

/** Why join could not read a job's .out lines, and the option that set it. */
export interface LayoutProblem {
  problem: string;
  /** the option of TransformRequestOptions that chose the value (outputFilter, accept, ...): errors.ts optionHint */
  option: string;
  /** the request field (DataProcessing.OutputFilter, TransformOutput.Accept, ...) */
  field: string;
}

/** The parts of a CreateTransformJob request that decide the layout (the request JSON as sent). */
export interface LayoutRequest {
  TransformInput?: { ContentType?: string };
  TransformOutput?: { Accept?: string };
  DataProcessing?: { InputFilter?: string; OutputFilter?: string; JoinSource?: string };
}

/** text/csv -> csv; application/json and application/jsonlines -> json; anything else undefined. */
export function recordFormatOf(mime: string | undefined): "csv" | "json" | undefined {
  if (mime === undefined) return undefined;
  const base = mime.split(";")[0]!.trim().toLowerCase();
  if (base === "text/csv") return "csv";
  if (base === "application/json" || base === "application/jsonlines" || base === "application/x-jsonlines") return "json";
  return undefined;
}

/** Where one field of a filtered CSV join row comes from: input field `index`, or the model's output. */
export type CsvSource = { from: "input"; index: number } | { from: "output"; index: number };

/**
 * The sources of the fields a CSV join row keeps: the joined row is `inputFields` input fields
 * followed by `outputFields` output fields, and the filter selects from it exactly as the service
 * does (the same JSONPath code as the emulator). Undefined when the filter does not fit a row of
 * that width (an index outside it: the service fails such a record).
 */
export function csvJoinSources(select: Selector | undefined, inputFields: number, outputFields: number, sliceEnd: SliceEnd): CsvSource[] | undefined {
  const row: CsvSource[] = [];
  for (let i = 0; i < inputFields; i++) row.push({ from: "input", index: i });
  for (let j = 0; j < outputFields; j++) row.push({ from: "output", index: j });
  if (select === undefined) return row;
  try {
    const picked = applyJsonPath({ text: "$", selectors: [select] }, row, sliceEnd);
    return Array.isArray(picked) ? (picked as CsvSource[]) : [picked as CsvSource];
  } catch (err) {
    if (err instanceof JsonPathError) return undefined;
    throw err;
  }
}

/**
 * The layout of a job's .out lines, or the problem that keeps join from reading them.
 * `inputFields` is the number of fields of a CSV shard line (the descriptor's feature count).
 */
export function outputLayoutOf(request: LayoutRequest, inputFields: number): OutputLayout | LayoutProblem {
  const dp = request.DataProcessing ?? {};
  if ((dp.JoinSource ?? "None") !== "Input") return { kind: "prediction" };
  const inFormat = recordFormatOf(request.TransformInput?.ContentType);
  const outFormat = recordFormatOf(request.TransformOutput?.Accept);
  if (outFormat === undefined || inFormat === undefined || outFormat !== inFormat) {
    // "When joining, Accept must be the same as ContentType" (the data-processing page's examples)
    return {
      problem: `JoinSource=Input needs Accept of the same format as the ContentType ${request.TransformInput?.ContentType ?? "(none)"}, got ${JSON.stringify(request.TransformOutput?.Accept ?? "")}`,
      option: "accept",
      field: "TransformOutput.Accept",
    };
  }
  const text = dp.OutputFilter ?? "$";
  let filter: JsonPath;
  try {
    filter = parseJsonPath(text);
  } catch (err) {
    return { problem: `OutputFilter ${JSON.stringify(text)}: ${(err as Error).message}`, option: "outputFilter", field: "DataProcessing.OutputFilter" };
  }
  const sels = filter.selectors;
  if (outFormat === "csv") {
    const first = sels[0];
    const select = first === undefined || first.kind === "wildcard" ? undefined : first;
    if (sels.length > 1 || (select !== undefined && select.kind !== "index" && select.kind !== "indexes" && select.kind !== "slice" && select.kind !== "union")) {
      return { problem: `OutputFilter ${text} on a CSV join: btkit reads one index, index list or slice of the joined row, or indexes with one slice (for example $[0,-1] or $[0,5:])`, option: "outputFilter", field: "DataProcessing.OutputFilter" };
    }
    const keepsOutput = [1, 2, 8, 64].some((m) => ["inclusive", "exclusive"].some((e) => csvJoinSources(select, inputFields, m, e as SliceEnd)?.some((s) => s.from === "output")));
    if (!keepsOutput) {
      return { problem: `OutputFilter ${text} keeps only input fields of the joined row (${inputFields} input fields come first): the .out would hold no prediction`, option: "outputFilter", field: "DataProcessing.OutputFilter" };
    }
    return { kind: "csv-join", select, filter: text };
  }
  if (isIdentity(filter) || (sels.length === 1 && sels[0]!.kind === "wildcard")) return { kind: "json-join", keys: "all", filter: text };
  const first = sels[0]!;
  if (first.kind === "name" && first.name === "SageMakerOutput") return { kind: "json-output", filter: text };
  if (first.kind === "names" && sels.length === 1 && first.names.includes("SageMakerOutput")) {
    return { kind: "json-join", keys: first.names.filter((n) => n !== "SageMakerOutput"), filter: text };
  }
  return {
    problem: `OutputFilter ${text} on a JSON join does not keep SageMakerOutput whole at the top: btkit reads $, $.SageMakerOutput (and paths below it) or $['key',...,'SageMakerOutput']`,
    option: "outputFilter",
    field: "DataProcessing.OutputFilter",
  };
}

/** True when outputLayoutOf found a problem. */
export function isLayoutProblem(v: OutputLayout | LayoutProblem): v is LayoutProblem {
  return "problem" in v;
}
