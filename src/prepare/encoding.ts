/**
 * Text inputs in other encodings (--encoding): converted to UTF-8 as they are read, before any
 * scanner sees them, so every later check (line endings, quotes, types) works on UTF-8. The
 * scanners refuse what is not UTF-8 with PREP_ENCODING, naming the --encoding value that reads it
 * (utf16Advice, LATIN1_ADVICE).
 *
 * utf-16le and utf-16be (a byte order mark is dropped) and windows-1252 decode with the WHATWG
 * TextDecoder (fatal: an invalid sequence is PREP_ENCODING); latin1 is ISO-8859-1, every byte its
 * own code point (Buffer's latin1), which the WHATWG label "latin1" is not (it means windows-1252).
 */
import { isUtf8 } from "node:buffer";
import { BtkitError, optionHint } from "../errors.js";

export const ENCODINGS = ["utf-8", "utf-16le", "utf-16be", "latin1", "windows-1252"] as const;
export type Encoding = (typeof ENCODINGS)[number];

/** The advice for UTF-16 bytes: the flag that reads them, and the re-encoding that avoids it. */
export function utf16Advice(which: "UTF-16LE" | "UTF-16BE"): string {
  return `read it with ${optionHint("encoding", which.toLowerCase())}, or re-encode it to UTF-8 (iconv -f ${which} -t UTF-8)`;
}

/** The advice for bytes that are not UTF-8, most often Latin-1 or Windows-1252 text. */
export const LATIN1_ADVICE = `if it is Latin-1 text, read it with ${optionHint("encoding", "latin1")} (or windows-1252), or re-encode it to UTF-8 (iconv -f latin1 -t utf-8)`;

/** The advice for a UTF-8 byte order mark under another encoding. */
const LEAVE_OUT_UTF8_BOM = `it starts with a UTF-8 byte order mark: it is UTF-8; leave out ${optionHint("encoding")}`;

/** UTF-16 byte order: from a byte order mark, or undefined. */
export function utf16Bom(buf: Buffer): "UTF-16LE" | "UTF-16BE" | undefined {
  if (buf[0] === 0xff && buf[1] === 0xfe) return "UTF-16LE";
  if (buf[0] === 0xfe && buf[1] === 0xff) return "UTF-16BE";
  return undefined;
}

/**
 * Why the first bytes of an input are not `encoding` text, or undefined when they may be. UTF-16
 * CSV and JSON have NUL bytes (their delimiters, quotes and line ends are ASCII) or a byte order
 * mark; text that is UTF-8 (a UTF-8 byte order mark, or valid UTF-8 with non-ASCII characters) is
 * not Latin-1 or Windows-1252 in practice.
 */
export function notEncoded(head: Buffer, encoding: Encoding): string | undefined {
  const utf8Bom = head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf;
  if (encoding === "utf-16le" || encoding === "utf-16be") {
    const bom = utf16Bom(head);
    if (bom !== undefined) return bom.toLowerCase() === encoding ? undefined : `it starts with a ${bom} byte order mark; use ${optionHint("encoding", bom.toLowerCase())}`;
    if (utf8Bom) return LEAVE_OUT_UTF8_BOM;
    const sample = head.subarray(0, 4096);
    if (sample.length >= 4 && !sample.includes(0)) return `its first bytes hold no NUL byte, which UTF-16 CSV or JSON text has: it is most likely UTF-8; leave out ${optionHint("encoding")}`;
    return undefined;
  }
  if (encoding === "utf-8") return undefined;
  if (utf8Bom) return LEAVE_OUT_UTF8_BOM;
  const sample = head.subarray(0, 4096);
  // a cut multi-byte character at the end of the sample is no evidence either way
  let end = sample.length;
  let k = end;
  while (k > 0 && end - k < 3 && (sample[k - 1]! & 0xc0) === 0x80) k--;
  if (k > 0 && sample[k - 1]! >= 0xc0) end = k - 1;
  const body = sample.subarray(0, end);
  if (body.some((b) => b >= 0x80) && isUtf8(body)) return `its first bytes are valid UTF-8 with non-ASCII characters: it is most likely UTF-8; leave out ${optionHint("encoding")}`;
  return undefined;
}

/** Chunks of `encoding` text as UTF-8 chunks. PREP_ENCODING naming the input for an invalid sequence, or for text that is not `encoding` (notEncoded). */
export async function* toUtf8(chunks: AsyncIterable<Buffer>, encoding: Encoding, input: string): AsyncGenerator<Buffer> {
  if (encoding === "utf-8") {
    yield* chunks;
    return;
  }
  let first = true;
  const source = chunks;
  const checked = async function* (): AsyncGenerator<Buffer> {
    for await (const c of source) {
      if (first) {
        first = false;
        const why = notEncoded(c, encoding);
        if (why !== undefined) throw new BtkitError("PREP_ENCODING", `${input} does not look like ${encoding}: ${why}`, { input, expected: encoding, option: "encoding" });
      }
      yield c;
    }
  };
  chunks = checked();
  if (encoding === "latin1") {
    for await (const c of chunks) yield Buffer.from(c.toString("latin1"), "utf8");
    return;
  }
  const decoder = new TextDecoder(encoding, { fatal: true });
  let read = 0;
  try {
    for await (const c of chunks) {
      const text = decoder.decode(c, { stream: true });
      read += c.length;
      if (text.length > 0) yield Buffer.from(text, "utf8");
    }
    const rest = decoder.decode();
    if (rest.length > 0) yield Buffer.from(rest, "utf8");
  } catch (err) {
    if (err instanceof BtkitError) throw err;
    throw new BtkitError("PREP_ENCODING", `${input} is not valid ${encoding} (at or after byte ${read}): ${(err as Error).message}; check ${optionHint("encoding")}`, { input, expected: encoding, option: "encoding" }, { cause: err });
  }
}
