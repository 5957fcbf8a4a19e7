import { describe, expect, it } from "vitest";
import { JsonlScanner, KIND, type JsonRecord } from "../../src/prepare/jsonl-scanner.js";
import { thrownBy } from "../helpers/errors.js";

function scan(input: string | Buffer, size = 1 << 20): JsonRecord[] {
  const buf = typeof input === "string" ? Buffer.from(input, "utf8") : input;
  const s = new JsonlScanner({ input: "t.jsonl" });
  const out: JsonRecord[] = [];
  for (let i = 0; i < buf.length; i += size) out.push(...s.push(buf.subarray(i, i + size)));
  out.push(...s.end());
  return out;
}

describe("JsonlScanner", () => {
  it("reads objects with keys in order, values as text and kinds, for any chunking", () => {
    const text = '{"a":1,"b":"x\\ny","c":true,"d":null,"e":{"n":[1,2]},"f":9007199254740993}\r\n{"a":-0.5e3}\n';
    for (const size of [1, 2, 3, 7, 4096]) {
      const r = scan(text, size);
      expect(r.map((x) => x.keys)).toEqual([["a", "b", "c", "d", "e", "f"], ["a"]]);
      expect(r[0]!.values).toEqual(["1", "x\ny", "true", null, '{"n":[1,2]}', "9007199254740993"]);
      expect(r[0]!.kinds).toEqual([KIND.number, KIND.string, KIND.bool, KIND.null, KIND.json, KIND.number]);
      expect(r[1]!.values).toEqual(["-0.5e3"]);
      expect(r.map((x) => x.line)).toEqual([1, 2]);
    }
  });

  it("reports blank and whitespace-only lines as blank (J01, J02, J03)", () => {
    const r = scan('{"a":1}\n\n  \n{"a":2}\n\n');
    expect(r.map((x) => x.blank)).toEqual([false, true, true, false, true]);
    expect(r.map((x) => x.line)).toEqual([1, 2, 3, 4, 5]);
    expect(scan('{"a":1}\n').length).toBe(1);
  });

  it("rejects invalid lines with coded errors naming the line", () => {
    const cases: [string, string][] = [
      ['{"a":1}\n{"a":1}\r{"b":2}\n', "J05"],
      ['{"a":1,}\n', "J06"],
      ['{"a":1,"a":2}\n', "J07"],
      ['{"a":1e400}\n', "J09"],
      ['{"a":1e-400}\n', "J10"],
      ['{"a":NaN}\n', "J12"],
      ["[1,2]\n", "J14"],
      ['"x"\n', "J14"],
      ["null\n", "J14"],
      ['{"a":"\\ud800"}\n', "J18"],
      ['{"a":"x\ty"}\n', "J20"],
      ['{"a":1}{"b":2}\n', "J22"],
      ['{"a":\n', "J25"],
      ["{'a':1}\n", "J27"],
      ['{"a":1} // c\n', "J27"],
    ];
    for (const [text, id] of cases) {
      const err = thrownBy(() => scan(text));
      expect([id, err.code]).toEqual([id, "PREP_JSON"]);
      expect(err.context.input).toBe("t.jsonl");
      expect(typeof err.context.line).toBe("number");
    }
    expect(thrownBy(() => scan('{"a":1}\n{"a":1}\r{"b":2}\n')).context.line).toBe(2);
  });

  it("rejects deep nesting without crashing (J13)", () => {
    const err = thrownBy(() => scan(`{"a":${"[".repeat(100000)}${"]".repeat(100000)}}\n`));
    expect(err.code).toBe("PREP_JSON");
  });

  it("rejects invalid UTF-8 and UTF-16 (J15, J17) and strips a BOM (J16)", () => {
    const bad = Buffer.concat([Buffer.from('{"a":1}\n{"a":"'), Buffer.from([0xff]), Buffer.from('"}\n')]);
    const err = thrownBy(() => scan(bad));
    expect(err.code).toBe("PREP_ENCODING");
    expect(err.context.line).toBe(2);
    expect(thrownBy(() => scan(Buffer.from([0xff, 0xfe, 0x7b, 0x00]))).code).toBe("PREP_ENCODING");
    const s = new JsonlScanner();
    const r = [...s.push(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"a":1}\n')])), ...s.end()];
    expect(r[0]!.values).toEqual(["1"]);
    expect(s.bomStripped).toBe(true);
  });

  it("keeps escaped NUL and raw U+2028 in strings (J19, J21)", () => {
    const r = scan('{"a":"x\\u0000y","b":"p\u2028q"}\n');
    expect(r[0]!.values).toEqual(["x\u0000y", "p\u2028q"]);
  });

  it("stops a line longer than the limit (J26)", () => {
    const s = new JsonlScanner({ maxRecordBytes: 100 });
    const err = thrownBy(() => s.push(Buffer.alloc(200, 0x61)));
    expect(err.code).toBe("PREP_RECORD_TOO_LARGE");
    expect(err.context.line).toBe(1);
  });
});
