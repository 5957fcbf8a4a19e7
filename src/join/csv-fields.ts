import { splitCsvRecord } from "../protocol/csv-record.js";

/**
 * Splits one CSV line (RFC 4180, no newline inside) into its fields (protocol/csv-record.ts).
 * Returns undefined when the quoting is broken, so the caller can report the line; it never
 * guesses. `quoted`, when given, gets true at the index of each quoted field (so a quoted empty
 * string, "", can be told from an empty field, a null); `raw`, when given, gets each field's text as
 * written (quotes and all).
 */
export function splitCsvLine(line: string, quoted?: boolean[], raw?: string[]): string[] | undefined {
  const fields = splitCsvRecord(line, quoted, raw);
  return typeof fields === "string" ? undefined : fields;
}

export { csvField } from "../protocol/csv-record.js";
