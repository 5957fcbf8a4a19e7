/**
 * One CSV record on one line (RFC 4180, no newline inside: Batch Transform's Line split), split
 * into its fields: quoted fields may hold commas and doubled quotes. The one splitter of the
 * emulator's CSV records (DataProcessing filters, JoinSource) and join's CSV .out lines, echoes and
 * features; each caller reports a broken line in its own terms.
 */

/**
 * Why a line is not a CSV record: a quoted field is not closed, or something other than a comma
 * follows its closing quote ("quoted-field"); an unquoted field holds a quote ("bare-quote").
 */
export type CsvRecordFault = "quoted-field" | "bare-quote";

/**
 * The fields of one CSV line, or why it is not one; it never guesses. An empty line is one empty
 * field. `quoted`, when given, gets true at the index of each quoted field (so a quoted empty
 * string, "", can be told from an empty field, a null). `raw`, when given, gets each field as the
 * line writes it (a quoted field with its quotes and doubled quotes), so a record can be taken
 * apart and put together again byte for byte.
 */
export function splitCsvRecord(line: string, quoted?: boolean[], raw?: string[]): string[] | CsvRecordFault {
  if (quoted) quoted.length = 0;
  if (raw) raw.length = 0;
  if (line.indexOf('"') < 0) {
    const fields = line.split(",");
    if (raw) raw.push(...fields);
    return fields;
  }
  const out: string[] = [];
  let i = 0;
  const n = line.length;
  while (true) {
    if (line.charCodeAt(i) === 34) {
      const start = i;
      let value = "";
      let j = i + 1;
      while (true) {
        const q = line.indexOf('"', j);
        if (q < 0) return "quoted-field";
        value += line.slice(j, q);
        if (line.charCodeAt(q + 1) === 34) {
          value += '"';
          j = q + 2;
          continue;
        }
        i = q + 1;
        break;
      }
      if (quoted) quoted[out.length] = true;
      if (raw) raw.push(line.slice(start, i));
      out.push(value);
      if (i === n) return out;
      if (line.charCodeAt(i) !== 44) return "quoted-field";
      i++;
    } else {
      const c = line.indexOf(",", i);
      const end = c < 0 ? n : c;
      const field = line.slice(i, end);
      if (field.indexOf('"') >= 0) return "bare-quote";
      if (raw) raw.push(field);
      out.push(field);
      if (c < 0) return out;
      i = c + 1;
    }
  }
}

/** One field as a CSV record holds it: quoted (quotes doubled) when it has a comma, a quote, CR or LF (RFC 4180). */
export function csvField(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}
