/**
 * Nested column types: their names (descriptor, --schema), JSON text with exact numbers, and Arrow
 * data built from that text and read back as the same text.
 */
import fs from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isColumnType } from "../../src/protocol/descriptor.js";
import { JsonNumber, nestedTypeName, parseExactJson, parseNestedType } from "../../src/protocol/nested.js";
import { NestedValueError, nestedData, nestedText } from "../../src/protocol/nested-arrow.js";
import { arrowTypeOf } from "../../src/protocol/arrow-types.js";
import { prepare } from "../../src/prepare/index.js";
import { parseSchemaOverride } from "../../src/prepare/schema.js";
import { sidecarTable } from "../helpers/sidecar.js";
import { tempDir } from "../helpers/tmp.js";

describe("nested type names", () => {
  it.each([
    ["list<int64>"],
    ["list<list<decimal(12,2)>>"],
    ['struct<"a":int64,"b,c":list<utf8>,"q\\"uote":timestamp(ns)>'],
    ["map<utf8,struct<\"x\":float64>>"],
    ["struct<>"],
  ])("%s reads and prints back, and names its Arrow type", (name) => {
    expect(isColumnType(name)).toBe(true);
    const n = parseNestedType(name, isColumnType);
    expect(n).toBeDefined();
    expect(nestedTypeName(n!)).toBe(name);
    expect(String(arrowTypeOf(name as never))).toMatch(/^(List|Struct|Map)/);
  });

  it.each([["list<json>"], ["list<int64"], ["list<>"], ["struct<a:int64>"], ["map<int64>"], ["list<int32>"], ["list<decimal(40,2)>"], ["list<int64>x"]])("%s is no column type", (name) => {
    expect(isColumnType(name)).toBe(false);
  });
});

describe("--schema with nested types", () => {
  it("splits entries at top-level commas and keeps spaces inside quoted field names", () => {
    expect([...parseSchemaOverride('price:decimal(12,2), v:struct<"a b":int64, "c,d":list<utf8>>,id:int64,a:b:utf8,m: map<utf8, int64>')]).toEqual([
      ["price", "decimal(12,2)"],
      ["v", 'struct<"a b":int64,"c,d":list<utf8>>'],
      ["id", "int64"],
      ["a:b", "utf8"],
      ["m", "map<utf8,int64>"],
    ]);
    expect(() => parseSchemaOverride("v:list<int32>")).toThrow(/has type "list<int32>"; expected one of/);
  });
});

describe("JSON with exact numbers", () => {
  it("keeps every digit and the members' order", () => {
    const v = parseExactJson(' {"b": [12345678901234567890123, -0.10, 1e400], "a": {"k": null, "k": true}, "s": "x\\"y"} ');
    expect(v).toEqual({
      members: [
        ["b", [new JsonNumber("12345678901234567890123"), new JsonNumber("-0.10"), new JsonNumber("1e400")]],
        ["a", { members: [["k", null], ["k", true]] }],
        ["s", 'x"y'],
      ],
    });
  });

  it.each([["[1,]"], ['{"a":1'], ["01"], ["[1] 2"], ["NaN"], [""]])("%s is not JSON", (text) => {
    expect(() => parseExactJson(text)).toThrow(SyntaxError);
  });
});

describe("nested values as Arrow data", () => {
  const TYPE = 'struct<"id":uint64,"tags":list<utf8>,"at":timestamp(ns),"price":decimal(20,2),"m":map<int64,bool>,"t":time(ms),"d":date>';
  const TEXTS = [
    '{"id":18446744073709551615,"tags":["a","b,\\"c\\""],"at":"2024-01-01T00:00:00.000000001Z","price":123456789012345678.90,"m":{"1":true,"-2":false},"t":"10:20:30.125","d":"1969-12-31"}',
    '{"id":0,"tags":[],"at":null,"price":-0.01,"m":{},"t":null,"d":null}',
    null,
    '{"id":null,"tags":null,"at":null,"price":null,"m":null,"t":null,"d":null}',
  ];

  it("builds a column from JSON texts and reads each row back as the same text", () => {
    const data = nestedData(TYPE, TEXTS);
    expect(data.length).toBe(4);
    expect(data.nullCount).toBe(1);
    const read = nestedText(TYPE, data);
    expect(TEXTS.map((_, i) => read(i))).toEqual(TEXTS);
  });

  it("a member the struct does not name, a number out of range, or a finer time is a NestedValueError naming where", () => {
    expect(() => nestedData(TYPE, ['{"id":1,"zzz":2}'])).toThrow(/member "zzz"/);
    expect(() => nestedData(TYPE, ['{"id":18446744073709551616}'])).toThrow(NestedValueError);
    expect(() => nestedData(TYPE, ['{"id":-1}'])).toThrow(/value\.id holds the number -1, not a uint64/);
    expect(() => nestedData(TYPE, ['{"t":"10:20:30.1251"}'])).toThrow(/value\.t holds the string "10:20:30.1251", not a time\(ms\)/);
    expect(() => nestedData("list<int64>", ["[1, 2.5]"])).toThrow(/value\[\] holds the number 2\.5, not a int64/);
    expect(() => nestedData("list<int64>", ['{"a":1}'])).toThrow(/not a list/);
  });
});

describe("a declared nested type on JSON input", () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => ({ dir, cleanup } = await tempDir()));
  afterEach(async () => cleanup());

  it("--schema 'v:list<int64>' keeps the list typed in the sidecar, exact; a value that does not fit is PREP_TYPE", async () => {
    const src = path.join(dir, "v.jsonl");
    await fs.writeFile(src, '{"id":1,"v":[9007199254740993,-1]}\n{"id":2,"v":null}\n{"id":3,"v":[]}\n');
    const out = path.join(dir, "out");
    const d = await prepare({ inputs: [src], out, schema: "v:list<int64>", features: ["id"], format: "jsonl" });
    expect(d.schema.columns.find((c) => c.name === "v")).toMatchObject({ type: "list<int64>", roles: ["keep"] });
    const side = await sidecarTable(path.join(out, "sidecars", "part-00000.parquet"));
    expect(String(side.getChild("v")!.type)).toBe("List<Int64>");
    expect([...(side.getChild("v")!.get(0) as Iterable<bigint>)]).toEqual([9007199254740993n, -1n]);
    expect(side.getChild("v")!.get(1)).toBeNull();
    await fs.writeFile(src, '{"id":1,"v":[1.5]}\n');
    await expect(prepare({ inputs: [src], out: path.join(dir, "out2"), schema: "v:list<int64>" })).rejects.toMatchObject({ code: "PREP_TYPE" });
  });
});
