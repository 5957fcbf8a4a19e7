import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { LineReader, scanLines, splitCsvLine } from "../../src/join/index.js";
import { lineCount, type RawLines } from "../../src/join/lines.js";

/** The bytes cut at the given positions, as chunks. */
function chunks(bytes: Buffer, cuts: number[]): Buffer[] {
  const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const c of [...at, bytes.length]) {
    if (c > prev) out.push(bytes.subarray(prev, c));
    prev = c;
  }
  return out;
}

/** Every line with its number; `bytes`: read in byte mode, each line decoded from its raw bytes (not through `lines`). */
async function readAll(parts: Buffer[], take: number, blankLines: "error" | "skip" | "keep" = "skip", bytes = false) {
  const r = new LineReader(
    (async function* () {
      yield* parts;
    })(),
    { location: "mem", blankLines, maxLineBytes: 1 << 20, bytes },
  );
  const lines: Array<[number, string]> = [];
  for (;;) {
    const b = await r.take(take);
    if (bytes) {
      const raw = b.raw!;
      expect(lineCount(b)).toBe(raw.starts.length);
      if (raw.starts.length === 0) break;
      raw.starts.forEach((s, i) => lines.push([b.lineNumber(i), raw.bytes.toString("utf8", s, raw.ends[i])]));
      // decoding on demand gives the same text
      expect(b.lines).toEqual(lines.slice(-raw.starts.length).map(([, l]) => l));
      continue;
    }
    if (b.lines.length === 0) break;
    b.lines.forEach((l, i) => lines.push([b.lineNumber(i), l]));
  }
  return { lines, crlf: r.crlf, blank: r.blank };
}

describe("LineReader and scanLines", () => {
  it("any chunking gives the same lines and physical line numbers; scanLines counts agree", async () => {
    const line = fc.oneof(fc.string({ unit: "grapheme" }).map((s) => s.replace(/[\r\n]/g, "")), fc.constant(""), fc.constant("é🙂"));
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(line, fc.boolean()), { maxLength: 30 }), fc.array(fc.nat(), { maxLength: 8 }), fc.integer({ min: 1, max: 7 }), fc.boolean(), async (ls, cuts, take, finalNewline) => {
        const text = ls.map(([l, cr], i) => `${l}${cr && l.length > 0 ? "\r" : ""}${i < ls.length - 1 || finalNewline ? "\n" : ""}`).join("");
        const bytes = Buffer.from(text);
        const got = await readAll(chunks(bytes, cuts), take);
        // byte mode: the same lines, numbers and counts, under every blank-line policy that reads on
        expect(await readAll(chunks(bytes, cuts), take, "skip", true)).toEqual(got);
        expect(await readAll(chunks(bytes, cuts), take, "keep", true)).toEqual(await readAll(chunks(bytes, cuts), take, "keep"));
        const physical = text.length === 0 ? [] : (text.endsWith("\n") ? text.slice(0, -1) : text).split("\n");
        const want = physical.map((l, i) => [i + 1, l.replace(/\r$/, "")] as [number, string]).filter(([, l]) => l.length > 0);
        expect(got.lines).toEqual(want);
        expect(got.blank).toBe(physical.filter((l) => l.replace(/\r$/, "") === "").length);
        const parts = chunks(bytes, cuts);
        const scan = await scanLines(
          (async function* () {
            yield* parts;
          })(),
        );
        expect(scan.lines).toBe(physical.length);
        expect(scan.blank).toBe(got.blank);
        expect(scan.crlf).toBe(got.crlf);
      }),
      { seed: 7, numRuns: 300 },
    );
  });

  it("byte mode: a chunk of far more (shorter) lines than the chunks before it gives every line (its offsets outgrow the estimate)", async () => {
    const long = Array.from({ length: 8 }, (_, i) => `${i}`.padEnd(2000, "x"));
    const short = Array.from({ length: 30_000 }, (_, i) => `${i % 10}`);
    const blanks = Array.from({ length: 5_000 }, () => "");
    const parts = [long, short, long, [...short.slice(0, 2_000), ...blanks], long].map((ls) => Buffer.from(`${ls.join("\n")}\n`));
    for (const policy of ["skip", "keep"] as const) {
      const got = await readAll(parts, 4096, policy, true);
      expect(got).toEqual(await readAll(parts, 4096, policy));
      const all = [long, short, long, [...short.slice(0, 2_000), ...blanks], long].flat();
      expect(got.lines).toEqual(all.map((l, i) => [i + 1, l] as [number, string]).filter(([, l]) => policy === "keep" || l.length > 0));
    }
  });

  it("byte mode: one long line after many blank ones starts with offset arrays of a bounded size, not its bytes times the lines-per-byte so far", async () => {
    const long = "y".repeat(4 << 20);
    for (const blankLines of ["skip", "keep"] as const) {
      const r = new LineReader(
        (async function* () {
          yield Buffer.from("\n".repeat(200_000));
          yield Buffer.from(`${long}\n`);
        })(),
        { location: "mem", blankLines, maxLineBytes: 8 << 20, bytes: true },
      );
      let last: RawLines | undefined;
      let lines = 0;
      for (;;) {
        const b = await r.take(200_000);
        const raw = b.raw!;
        if (raw.starts.length === 0) break;
        lines += raw.starts.length;
        last = raw;
      }
      expect(lines).toBe(blankLines === "keep" ? 200_001 : 1);
      expect(last!.bytes.toString("latin1", last!.starts.at(-1), last!.ends.at(-1))).toBe(long);
      // the region of the long line: at most 65,536 offsets to start with (an estimate from 200,000 one-byte lines would be 5 million)
      expect(last!.starts.buffer.byteLength).toBeLessThanOrEqual(65_536 * 4);
    }
  });

  it("a bare CR stays inside its line (SageMaker splits on LF only)", async () => {
    const got = await readAll([Buffer.from("a\rb\nc\n")], 10);
    expect(got.lines).toEqual([[1, "a\rb"], [2, "c"]]);
  });

  it("blank lines under the error policy are JOIN_BLANK_LINE with the line number", async () => {
    await expect(readAll([Buffer.from("a\n\nb\n")], 10, "error")).rejects.toMatchObject({ code: "JOIN_BLANK_LINE", context: { line: 2 } });
    await expect(readAll([Buffer.from("a\n\nb\n")], 10, "error", true)).rejects.toMatchObject({ code: "JOIN_BLANK_LINE", context: { line: 2 } });
  });

  it("a bad byte or (error policy) a blank line anywhere in a read chunk fails the take that reads the chunk, not a later one", async () => {
    // the chunk finishes the carried line "aaa" (taken first), then holds the fault on line 3
    const take1 = (parts: string[], blankLines: "error" | "skip", bytes: boolean) => {
      const r = new LineReader(
        (async function* () {
          for (const p of parts) yield Buffer.from(p, "latin1");
        })(),
        { location: "mem", blankLines, maxLineBytes: 1 << 20, bytes },
      );
      return r.take(1).then((b) => b.lines);
    };
    for (const bytes of [false, true]) {
      await expect(take1(["aa", "a\nbb\n\xff\ncc\n"], "error", bytes)).rejects.toMatchObject({ code: "JOIN_PARSE", context: { line: 3 } });
      await expect(take1(["aa", "a\nbb\n\ncc\n"], "error", bytes)).rejects.toMatchObject({ code: "JOIN_BLANK_LINE", context: { line: 3 } });
      await expect(take1(["aa", "a\nbb\n\r\ncc\n"], "error", bytes)).rejects.toMatchObject({ code: "JOIN_BLANK_LINE", context: { line: 3 } });
      await expect(take1(["aa", "a\n\nbb\n"], "error", bytes)).rejects.toMatchObject({ code: "JOIN_BLANK_LINE", context: { line: 2 } });
      await expect(take1(["aa", "a\n\r\nbb\n"], "error", bytes)).rejects.toMatchObject({ code: "JOIN_BLANK_LINE", context: { line: 2 } });
      // skipped blank lines are no fault: the first line comes back
      expect(await take1(["aa", "a\nbb\n\ncc\n"], "skip", bytes)).toEqual(["aaa"]);
    }
  });

  it("a line longer than maxLineBytes is JOIN_PARSE", async () => {
    const source = (async function* () {
      yield Buffer.alloc(100, 97);
      yield Buffer.alloc(100, 97);
    })();
    const r = new LineReader(source, { location: "mem", blankLines: "error", maxLineBytes: 150 });
    await expect(r.take(1)).rejects.toMatchObject({ code: "JOIN_PARSE", context: { line: 1 } });
  });

  it("splitCsvLine follows RFC 4180 and refuses broken quoting", () => {
    expect(splitCsvLine('a,"b,c","d""e",')).toEqual(["a", "b,c", 'd"e', ""]);
    expect(splitCsvLine('"a"b')).toBeUndefined();
    expect(splitCsvLine('a"b')).toBeUndefined();
    expect(splitCsvLine('"a')).toBeUndefined();
  });
});
