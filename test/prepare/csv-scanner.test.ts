import { parse } from "csv-parse/sync";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CsvScanner, type CsvRecord } from "../../src/prepare/csv-scanner.js";
import { thrownBy } from "../helpers/errors.js";

/** Scans `text` pushed in chunks of `size` bytes. */
function scan(input: string | Buffer, size = 1 << 20, options: ConstructorParameters<typeof CsvScanner>[0] = {}): { records: CsvRecord[]; scanner: CsvScanner } {
  const buf = typeof input === "string" ? Buffer.from(input, "utf8") : input;
  const s = new CsvScanner(options);
  const records: CsvRecord[] = [];
  for (let i = 0; i < buf.length; i += size) records.push(...s.push(buf.subarray(i, i + size)));
  records.push(...s.end());
  return { records, scanner: s };
}

function values(records: CsvRecord[]): (string | null)[][] {
  return records.map((r) => r.values);
}

/** csv-parse as the oracle; it has no null, so empty unquoted fields compare as "". */
function oracle(text: string, delimiter = ","): string[][] {
  return parse(text, { delimiter, relax_column_count: true, skip_empty_lines: false, record_delimiter: ["\r\n", "\n"] }) as string[][];
}

// A seeded generator of CSV documents: fields with delimiters, quotes, newlines, non-ASCII, empties.
function makeDoc(seed: number, rows: number, cols: number, crlf: "lf" | "crlf" | "mixed"): { text: string; expected: (string | null)[][] } {
  let x = seed >>> 0 || 1;
  const rnd = (n: number): number => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x % n;
  };
  const pieces = ["a", "b", "1", "2.5", " ", ",", '"', "\n", "\r\n", "é", "привет", "👍", "x y", "", "-0", "ありがとう"];
  const expected: (string | null)[][] = [];
  let text = "";
  for (let r = 0; r < rows; r++) {
    const row: (string | null)[] = [];
    const cells: string[] = [];
    for (let c = 0; c < cols; c++) {
      const len = rnd(5);
      let v = "";
      for (let k = 0; k < len; k++) v += pieces[rnd(pieces.length)];
      const needs = /[,"\r\n]/.test(v);
      const quoted = needs || rnd(4) === 0;
      if (!quoted && v === "") row.push(null);
      else row.push(v);
      cells.push(quoted ? `"${v.replaceAll('"', '""')}"` : v);
    }
    expected.push(row);
    const eol = crlf === "lf" ? "\n" : crlf === "crlf" ? "\r\n" : rnd(2) ? "\n" : "\r\n";
    const line = cells.join(",");
    text += line + (r === rows - 1 && line !== "" && rnd(2) ? "" : eol);
  }
  return { text, expected };
}

describe("CsvScanner", () => {
  it("parses quoted fields with delimiters, doubled quotes and newlines (C07, C09, C10)", () => {
    const { records } = scan('a,b,c\n1,"x,y","ha ""ha"" ha"\n2,"l1\nl2",\n');
    expect(values(records)).toEqual([["a", "b", "c"], ["1", "x,y", 'ha "ha" ha'], ["2", "l1\nl2", null]]);
    expect(records.map((r) => r.line)).toEqual([1, 2, 3]);
    expect(records[2]!.multiline).toBe(true);
    expect(records[1]!.multiline).toBe(false);
  });

  it("keeps a quoted empty string distinct from an empty (null) field", () => {
    expect(values(scan('a,b\n"",\n').records)).toEqual([["a", "b"], ["", null]]);
  });

  it("accepts CRLF, LF and a mix, never deciding from the first line (C03, C06)", () => {
    const { records } = scan("id\r\n1\n2\n3\r\n4\r\n");
    expect(values(records)).toEqual([["id"], ["1"], ["2"], ["3"], ["4"]]);
    expect(records.map((r) => r.line)).toEqual([1, 2, 3, 4, 5]);
  });

  it("accepts a last line without a line break (C04)", () => {
    expect(values(scan("a,b\n1,2").records)).toEqual([["a", "b"], ["1", "2"]]);
  });

  it("strips and records a UTF-8 BOM (C01), even split across 1-byte chunks", () => {
    for (const size of [1, 2, 4096]) {
      const { records, scanner } = scan(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from("id,name\n1,x\n")]), size);
      expect(values(records)[0]).toEqual(["id", "name"]);
      expect(scanner.bomStripped).toBe(true);
    }
  });

  it("detects the delimiter from the header line", () => {
    expect(scan("a;b;c\n1;2;3\n").scanner.delimiter).toBe(";");
    expect(scan("a\tb\n1\t2\n").scanner.delimiter).toBe("\t");
    expect(scan("a|b\n1|2\n").scanner.delimiter).toBe("|");
    expect(scan('"a;x",b\n1,2\n').scanner.delimiter).toBe(",");
    expect(values(scan("a;b\n1;2\n").records)).toEqual([["a", "b"], ["1", "2"]]);
  });

  it("rejects UTF-16 input (C02)", () => {
    const err = thrownBy(() => scan(Buffer.from([0xff, 0xfe, 0x61, 0x00])));
    expect(err.code).toBe("PREP_ENCODING");
    expect(err.message).toContain("UTF-16");
  });

  it("names UTF-16 without a byte order mark, with CRLF, as UTF-16 (not as a bare CR)", () => {
    const text = "id,x\r\n1,2\r\n";
    const le = thrownBy(() => scan(Buffer.from(text, "utf16le")));
    expect(le.code).toBe("PREP_ENCODING");
    expect(le.message).toContain("looks like UTF-16LE without a byte order mark");
    expect(le.message).toContain("iconv -f UTF-16LE -t UTF-8");
    const be = Buffer.from(text, "utf16le").swap16();
    expect(thrownBy(() => scan(be)).message).toContain("UTF-16BE");
    // UTF-8 text is not taken for UTF-16
    expect(values(scan("id,x\r\n1,2\r\n").records)).toEqual([["id", "x"], ["1", "2"]]);
  });

  it("rejects a bare CR line ending (C05)", () => {
    const err = thrownBy(() => scan("a\r1\r2\r"));
    expect(err.code).toBe("PREP_FORMAT");
    expect(err.context.line).toBe(1);
  });

  it("names the line where an unclosed quote opened (C11)", () => {
    const err = thrownBy(() => scan('a,b\n1,2\n3,"open\n4,5\n6,7\n', 3));
    expect(err.code).toBe("PREP_QUOTE");
    expect(err.context.line).toBe(3);
  });

  it("stops an unclosed quote at the record size limit with bounded memory (C11, C32)", () => {
    const s = new CsvScanner({ maxRecordBytes: 1000 });
    s.push(Buffer.from('a\n"'));
    const err = thrownBy(() => {
      for (let i = 0; i < 100; i++) s.push(Buffer.alloc(100, 0x61));
    });
    expect(err.code).toBe("PREP_QUOTE");
    expect(err.context.line).toBe(2);
  });

  it("rejects a quote inside an unquoted field and text after a closing quote (C12, C13, C14, C36)", () => {
    expect(thrownBy(() => scan('a,b\n1,x"y\n')).code).toBe("PREP_QUOTE");
    const after = thrownBy(() => scan('a,b\n1,"abc"x\n'));
    expect(after.code).toBe("PREP_QUOTE");
    expect(after.context.line).toBe(2);
    expect(thrownBy(() => scan('a,b\n1, "x"\n')).code).toBe("PREP_QUOTE");
    expect(thrownBy(() => scan('a\n"a \\"b\\""\n')).code).toBe("PREP_QUOTE");
  });

  it("keeps spaces, formula-like values, comment-looking lines and Unicode separators (C15, C34, C37, C39)", () => {
    const { records } = scan("a,b\n 1 ,=cmd|' /C calc'!A0\n# note,x\u2028y\n");
    expect(values(records)).toEqual([["a", "b"], [" 1 ", "=cmd|' /C calc'!A0"], ["# note", "x\u2028y"]]);
  });

  it("reports blank lines as blank records", () => {
    const { records } = scan("a\n1\n\n2\n\n");
    expect(records.map((r) => r.blank)).toEqual([false, false, true, false, true]);
    expect(records.map((r) => r.line)).toEqual([1, 2, 3, 4, 5]);
  });

  it("rejects invalid UTF-8 and NUL bytes with the line (C27, C28, C29, C30)", () => {
    const bad = [Buffer.from([0xff]), Buffer.from([0x80]), Buffer.from([0xc0, 0xaf]), Buffer.from([0xe9]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0x00])];
    for (const b of bad) {
      const input = Buffer.concat([Buffer.from("a,b\n1,2\n3,x"), b, Buffer.from("y\n")]);
      for (const size of [1, 7, 4096]) {
        const err = thrownBy(() => scan(input, size, { input: "t.csv" }));
        expect(err.code).toBe("PREP_ENCODING");
        expect(err.context.line).toBe(3);
        expect(err.context.input).toBe("t.csv");
      }
    }
    // a multibyte character split at the very end of the input is invalid too
    expect(thrownBy(() => scan(Buffer.concat([Buffer.from("a\nx"), Buffer.from([0xe2, 0x82])]))).code).toBe("PREP_ENCODING");
  });

  it("gives the same records as csv-parse on generated documents, for every chunk size", () => {
    for (let seed = 1; seed <= 60; seed++) {
      const { text, expected } = makeDoc(seed, 1 + (seed % 9), 1 + (seed % 4), (["lf", "crlf", "mixed"] as const)[seed % 3]!);
      const want = oracle(text);
      expect(expected.map((r) => r.map((v) => v ?? ""))).toEqual(want);
      for (const size of [1, 2, 3, 7, 4096]) {
        // a one-column null row is an empty line: the scanner reports it as blank
        const got = scan(text, size).records.map((r) => (r.blank ? [null] : r.values));
        expect(got).toEqual(expected);
      }
    }
  });

  it("matches csv-parse on arbitrary field matrices (fast-check, fixed seed)", () => {
    const seed = 20261122;
    // printed so a failure can be replayed
    console.log(`fast-check seed ${seed}`);
    const cell = fc.stringMatching(/^[a-z ,"\n\r;é👍0-9]{0,6}$/u);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }).chain((cols) => fc.array(fc.array(cell, { minLength: cols, maxLength: cols }), { minLength: 1, maxLength: 6 })), fc.constantFrom(1, 2, 3, 7, 4096), (rows, size) => {
        const text = rows.map((r) => r.map((v) => `"${v.replaceAll('"', '""')}"`).join(",")).join("\n") + "\n";
        const got = values(scan(text, size, { delimiter: "," }).records);
        expect(got).toEqual(oracle(text));
      }),
      { seed, numRuns: 300 },
    );
  });
});
