import { describe, expect, it } from "vitest";
import { splitCsvRecord } from "../../src/protocol/csv-record.js";

describe("splitCsvRecord", () => {
  it.each([
    ["", [""]],
    ["a", ["a"]],
    ["a,", ["a", ""]],
    [",,", ["", "", ""]],
    ['a,"b,c","d""e",', ["a", "b,c", 'd"e', ""]],
    ['"",x', ["", "x"]],
    ['" a ","\r"', [" a ", "\r"]],
  ])("%j has the fields %j", (line, fields) => {
    expect(splitCsvRecord(line)).toEqual(fields);
  });

  it.each([
    ['"a', "quoted-field"],
    ['"a"b', "quoted-field"],
    ['a,"b" ,c', "quoted-field"],
    ['a"b', "bare-quote"],
    ['x,a""', "bare-quote"],
    [' "a"', "bare-quote"],
  ])("%j is no record: %s", (line, fault) => {
    expect(splitCsvRecord(line)).toBe(fault);
  });

  it("marks the quoted fields, so a quoted empty string is told from an empty field", () => {
    const quoted = [true, true, true, true];
    expect(splitCsvRecord('"",,"x",y', quoted)).toEqual(["", "", "x", "y"]);
    expect(quoted).toEqual([true, undefined, true]);
    expect(splitCsvRecord("a,b", quoted)).toEqual(["a", "b"]);
    expect(quoted).toEqual([]);
  });

  it("gives each field as the line writes it, quotes and all, for byte-exact splicing", () => {
    const raw = ["stale"];
    expect(splitCsvRecord('a,"b,c","d""e",', undefined, raw)).toEqual(["a", "b,c", 'd"e', ""]);
    expect(raw).toEqual(["a", '"b,c"', '"d""e"', ""]);
    expect(splitCsvRecord("x,y", undefined, raw)).toEqual(["x", "y"]);
    expect(raw).toEqual(["x", "y"]);
  });
});
