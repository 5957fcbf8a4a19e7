/**
 * CSV header rows: whether a first row is data (refuseDataAsHeader), the names a header gives
 * (headerNames) and the check that every input names the same columns. Pure: they throw, never read.
 */
import { BtkitError, counted, optionHint } from "../errors.js";
import type { CsvRecord } from "./csv-scanner.js";
import type { ResolvedInput } from "./inputs.js";

/**
 * A first row whose every field is a number is data, not a header: taking it as one would drop a
 * row and name the columns after its values (a header-less numeric CSV is the very format
 * SageMaker's built-in algorithms take). PREP_HEADER names both ways out.
 */
export function refuseDataAsHeader(input: ResolvedInput, r: CsvRecord): void {
  const values = r.values;
  if (values.length === 0 || !values.every((v) => v !== null && NUMBER_TEXT_RE.test(v.trim()))) return;
  const shown = values.slice(0, 5).join(",") + (values.length > 5 ? ",..." : "");
  throw new BtkitError(
    "PREP_HEADER",
    `${input.display}: line ${r.line} (${shown}) looks like data, not a header: every field is a number. Give ${optionHint("header", false, "--no-header")} if the file has no header row (name the columns with ${optionHint("columns")}), or ${optionHint("header", true)} if these numbers are the column names`,
    { input: input.display, line: r.line, option: "header" },
  );
}
const NUMBER_TEXT_RE = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

/**
 * The column names a CSV header row gives (or, headerless, the first data row's field count:
 * column_1..column_N), replaced by `columns` (--columns) when given. PREP_HEADER for an empty
 * header, a count --columns does not match, an empty name, a control character or a repeated name.
 */
export function headerNames(input: ResolvedInput, r: CsvRecord, columns: readonly string[] | undefined, headerless: boolean): string[] {
  if (!headerless && (r.blank || r.values.every((v) => v === null || v.trim() === ""))) {
    throw new BtkitError("PREP_HEADER", `${input.display}: line ${r.line}: the header row is empty`, { input: input.display, line: r.line });
  }
  let names = headerless ? r.values.map((_, i) => `column_${i + 1}`) : r.values.map((v) => v ?? "");
  if (columns !== undefined) {
    if (columns.length !== names.length) {
      throw new BtkitError("PREP_HEADER", `${input.display}: ${optionHint("columns")} names ${counted(columns.length, "column")} but ${headerless ? `line ${r.line} has ${counted(names.length, "field")}` : `the header has ${names.length}`}`, { input: input.display, line: r.line, expected: names.length, got: columns.length });
    }
    names = [...columns];
  }
  const seen = new Map<string, number>();
  names.forEach((n, i) => {
    if (n === "") throw new BtkitError("PREP_HEADER", `${input.display}: header column ${i + 1} has an empty name; name it with ${optionHint("columns")}`, { input: input.display, line: r.line, column: `#${i + 1}`, option: "columns" });
    if ([...n].some((ch) => ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f)) throw new BtkitError("PREP_HEADER", `${input.display}: header column ${i + 1} (${JSON.stringify(n)}) holds a control character`, { input: input.display, line: r.line, column: n });
    const prev = seen.get(n);
    if (prev !== undefined) throw new BtkitError("PREP_HEADER", `${input.display}: header name ${JSON.stringify(n)} appears at columns ${prev + 1} and ${i + 1}; rename with ${optionHint("columns")}`, { input: input.display, line: r.line, column: n, option: "columns" });
    seen.set(n, i);
  });
  return names;
}

/** A later input's header must name the first input's columns in the same order: PREP_SCHEMA otherwise. */
export function checkSameColumns(input: ResolvedInput, names: readonly string[], columns: readonly string[]): void {
  for (let i = 0; i < Math.max(names.length, columns.length); i++) {
    if (names[i] !== columns[i]) {
      throw new BtkitError("PREP_SCHEMA", `${input.display}: column ${i + 1} is ${JSON.stringify(names[i] ?? null)} but the first input has ${JSON.stringify(columns[i] ?? null)}; inputs must have the same columns in the same order`, { input: input.display, column: columns[i] ?? names[i], expected: columns[i] ?? null, got: names[i] ?? null });
    }
  }
}
