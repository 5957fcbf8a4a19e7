/**
 * Splits one CSV line (RFC 4180, no newline inside) into its fields. Quoted fields may hold commas
 * and doubled quotes. Returns undefined when the quoting is broken, so the caller can report the
 * line; it never guesses. `quoted`, when given, gets true at the index of each quoted field (so a
 * quoted empty string, "", can be told from an empty field, a null).
 */
export function splitCsvLine(line: string, quoted?: boolean[]): string[] | undefined {
  if (quoted) quoted.length = 0;
  if (line.indexOf('"') < 0) return line.split(",");
  const out: string[] = [];
  let i = 0;
  const n = line.length;
  while (true) {
    if (line.charCodeAt(i) === 34) {
      let value = "";
      let j = i + 1;
      while (true) {
        const q = line.indexOf('"', j);
        if (q < 0) return undefined;
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
      out.push(value);
      if (i === n) return out;
      if (line.charCodeAt(i) !== 44) return undefined;
      i++;
    } else {
      const c = line.indexOf(",", i);
      const end = c < 0 ? n : c;
      const field = line.slice(i, end);
      if (field.indexOf('"') >= 0) return undefined;
      out.push(field);
      if (c < 0) return out;
      i = c + 1;
    }
  }
}

/** Quotes a CSV field when it needs it (comma, quote, CR or LF), doubling inner quotes. */
export function csvField(text: string): string {
  if (/[",\r\n]/.test(text)) return `"${text.replace(/"/g, '""')}"`;
  return text;
}
