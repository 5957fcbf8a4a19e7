/**
 * A fast path for the common .out line: a flat JSON object whose keys come in the order of the
 * first batch, with string (no escapes), number, true, false or null values, e.g.
 * {"label":"pos","score":0.8123} or Python's {"label": "pos", "score": 0.8123}. It reads the values
 * straight into an array without building an object. Anything else (escapes, nesting, other key
 * order, other spacing) returns false and the caller uses JSON.parse for that line, so results are
 * identical either way; numbers are checked against JSON's number grammar before Number() (and
 * kept as their text when a double does not hold them: values.ts numberValue).
 *
 * `readBytes` reads the same shape from the line's bytes (join's .out lines stay bytes): no string
 * per line, numbers read by protocol/byte-values.ts readDecimal where it answers, and a string
 * value made once per distinct text among the last few of its column (labels repeat). It takes
 * exactly the lines `read` takes, with the same values (test/join/fast-json.test.ts compares them).
 */
import { readDecimal } from "../protocol/byte-values.js";
import { numberValue } from "./values.js";
const JSON_NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;
const MAX_SAFE = Number.MAX_SAFE_INTEGER;
/** readDecimal's answer to whether the double rounds the text */
const LONG = { rounds: false };
/** distinct string values remembered per column (a label column's few values) */
const RECENT = 8;

/** A string value's bytes and its text, remembered so a repeated label is not decoded again. */
interface Recent {
  bytes: Buffer[];
  texts: string[];
  next: number;
}

export class FlatObjectReader {
  /** '"key"' of each column, in order */
  readonly #keys: string[];

  /** '"key"' of each column as UTF-8 bytes */
  readonly #keyBytes: Buffer[];
  readonly #recent: Recent[];

  constructor(keys: string[]) {
    this.#keys = keys.map((k) => JSON.stringify(k));
    this.#keyBytes = this.#keys.map((k) => Buffer.from(k, "utf8"));
    this.#recent = keys.map(() => ({ bytes: [], texts: [], next: 0 }));
  }

  /** `read` over the line b[s, e) (valid UTF-8, as the line reader checked). */
  readBytes(b: Buffer, s: number, e: number, out: unknown[]): boolean {
    const keys = this.#keyBytes;
    if (s >= e || b[s] !== 123) return false;
    let pos = s + 1;
    for (let j = 0; j < keys.length; j++) {
      if (j > 0) {
        if (pos >= e || b[pos] !== 44) return false;
        pos++;
      }
      while (pos < e && b[pos] === 32) pos++;
      const key = keys[j]!;
      const kn = key.length;
      if (pos + kn > e) return false;
      for (let k = 0; k < kn; k++) if (b[pos + k] !== key[k]) return false;
      pos += kn;
      while (pos < e && b[pos] === 32) pos++;
      if (pos >= e || b[pos] !== 58) return false;
      pos++;
      while (pos < e && b[pos] === 32) pos++;
      if (pos >= e) return false;
      const c = b[pos]!;
      if (c === 34) {
        const from = pos + 1;
        let q = from;
        // the closing quote; a backslash (an escape) or a control character is not this path's
        while (q < e) {
          const d = b[q]!;
          if (d === 34) break;
          if (d === 92 || d < 32) return false;
          q++;
        }
        if (q >= e) return false;
        out[j] = this.#text(j, b, from, q);
        pos = q + 1;
      } else if ((c >= 48 && c <= 57) || c === 45) {
        const end = numberEnd(b, pos, e);
        if (end < 0) return false;
        out[j] = this.#number(b, pos, end);
        pos = end;
      } else if (c === 116 && word(b, pos, e, "true")) {
        out[j] = true;
        pos += 4;
      } else if (c === 102 && word(b, pos, e, "false")) {
        out[j] = false;
        pos += 5;
      } else if (c === 110 && word(b, pos, e, "null")) {
        out[j] = null;
        pos += 4;
      } else return false;
      while (pos < e && b[pos] === 32) pos++;
    }
    return b[pos] === 125 && pos === e - 1;
  }

  /** b[s, e) as column j's string: one of its recent texts when the bytes are the same */
  #text(j: number, b: Buffer, s: number, e: number): string {
    const r = this.#recent[j]!;
    const n = e - s;
    for (let k = 0; k < r.bytes.length; k++) {
      const m = r.bytes[k]!;
      if (m.length !== n) continue;
      let same = true;
      for (let t = 0; t < n && same; t++) same = m[t] === b[s + t];
      if (same) return r.texts[k]!;
    }
    const text = b.toString("utf8", s, e);
    // only short texts are remembered: a long one is rarely repeated, and comparing it costs
    if (n <= 32) {
      r.bytes[r.next] = Buffer.from(b.subarray(s, e));
      r.texts[r.next] = text;
      r.next = (r.next + 1) % RECENT;
    }
    return text;
  }

  /** The JSON number b[s, e) as numberValue gives it: a double where it holds the text exactly, else a JsonNumber. */
  #number(b: Buffer, s: number, e: number): unknown {
    const x = readDecimal(b, s, e, LONG);
    // an integer beyond 2^53 keeps its digits (numberValue), as does a text the double rounds;
    // an exponent and the texts readDecimal leaves go through numberValue as well
    if (x === x && !LONG.rounds && Math.abs(x) <= MAX_SAFE) return x;
    return numberValue(b.toString("latin1", s, e));
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

/** Whether b[at, at + w.length) is the ASCII word w. */
function word(b: Buffer, at: number, e: number, w: string): boolean {
  if (at + w.length > e) return false;
  for (let k = 0; k < w.length; k++) if (b[at + k] !== w.charCodeAt(k)) return false;
  return true;
}

/**
 * The end of the JSON number starting at b[s] (-?(0|[1-9]digits)(.digits)?([eE][+-]?digits)?,
 * RFC 8259 section 6) when it is followed by a byte no number holds (, } space or the line's end);
 * -1 when the bytes there are not one.
 */
function numberEnd(b: Buffer, s: number, e: number): number {
  let k = s;
  if (b[k] === 45) k++;
  if (k >= e) return -1;
  if (b[k] === 48) k++;
  else {
    const from = k;
    while (k < e && b[k]! >= 48 && b[k]! <= 57) k++;
    if (k === from) return -1;
  }
  if (k < e && b[k] === 46) {
    const from = ++k;
    while (k < e && b[k]! >= 48 && b[k]! <= 57) k++;
    if (k === from) return -1;
  }
  if (k < e && (b[k] === 101 || b[k] === 69)) {
    k++;
    if (k < e && (b[k] === 43 || b[k] === 45)) k++;
    const from = k;
    while (k < e && b[k]! >= 48 && b[k]! <= 57) k++;
    if (k === from) return -1;
  }
  // the string path reads [0-9.eE+-]* as the number: one of those next is no number of its grammar
  if (k < e) {
    const d = b[k]!;
    if ((d >= 48 && d <= 57) || d === 46 || d === 101 || d === 69 || d === 43 || d === 45) return -1;
  }
  return k;
}
