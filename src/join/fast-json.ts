/**
 * A fast path for the common .out line: a flat JSON object whose keys come in the order of the
 * first batch, with string (no escapes), number, true, false or null values, e.g.
 * {"label":"pos","score":0.8123} or Python's {"label": "pos", "score": 0.8123}. It reads the values
 * straight into an array without building an object. Anything else (escapes, nesting, other key
 * order, other spacing) returns false and the caller uses JSON.parse for that line, so results are
 * identical either way; numbers are checked against JSON's number grammar before Number() (and
 * kept as their text when a double does not hold them: values.ts numberValue).
 */
import { numberValue } from "./values.js";
const JSON_NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

export class FlatObjectReader {
  /** '"key"' of each column, in order */
  readonly #keys: string[];

  constructor(keys: string[]) {
    this.#keys = keys.map((k) => JSON.stringify(k));
  }

  /** Reads line into out (one value per key); false when the line is not of the simple shape. */
  read(line: string, out: unknown[]): boolean {
    const keys = this.#keys;
    const n = line.length;
    if (line.charCodeAt(0) !== 123) return false;
    let pos = 1;
    for (let j = 0; j < keys.length; j++) {
      if (j > 0) {
        if (line.charCodeAt(pos) !== 44) return false;
        pos++;
      }
      while (line.charCodeAt(pos) === 32) pos++;
      const key = keys[j]!;
      if (!line.startsWith(key, pos)) return false;
      pos += key.length;
      while (line.charCodeAt(pos) === 32) pos++;
      if (line.charCodeAt(pos) !== 58) return false;
      pos++;
      while (line.charCodeAt(pos) === 32) pos++;
      const c = line.charCodeAt(pos);
      if (c === 34) {
        const q = line.indexOf('"', pos + 1);
        if (q < 0) return false;
        const bs = line.indexOf("\\", pos + 1);
        if (bs >= 0 && bs < q) return false;
        const s = line.slice(pos + 1, q);
        for (let k = 0; k < s.length; k++) if (s.charCodeAt(k) < 32) return false;
        out[j] = s;
        pos = q + 1;
      } else if ((c >= 48 && c <= 57) || c === 45) {
        let e = pos + 1;
        while (e < n) {
          const d = line.charCodeAt(e);
          if ((d >= 48 && d <= 57) || d === 46 || d === 101 || d === 69 || d === 43 || d === 45) e++;
          else break;
        }
        const text = line.slice(pos, e);
        if (!JSON_NUMBER.test(text)) return false;
        out[j] = numberValue(text);
        pos = e;
      } else if (c === 116 && line.startsWith("true", pos)) {
        out[j] = true;
        pos += 4;
      } else if (c === 102 && line.startsWith("false", pos)) {
        out[j] = false;
        pos += 5;
      } else if (c === 110 && line.startsWith("null", pos)) {
        out[j] = null;
        pos += 4;
      } else return false;
      while (line.charCodeAt(pos) === 32) pos++;
    }
    return line.charCodeAt(pos) === 125 && pos === n - 1;
  }
}
