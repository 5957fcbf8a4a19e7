/**
 * How join reads a job's .out lines from its DataProcessing (protocol/data-processing.ts), which
 * job of a descriptor wrote a shard's .out (protocol/provenance.ts), and the echo check that uses
 * both (join/echo.ts).
 */
import { describe, expect, it } from "vitest";
import { thrownBy } from "../helpers/errors.js";
import { EchoSplitter } from "../../src/join/echo.js";
import { csvJoinSources, isLayoutProblem, outputLayoutOf, type LayoutRequest } from "../../src/protocol/data-processing.js";
import type { JobRecord, JobSection } from "../../src/protocol/descriptor.js";
import { parseJsonPath } from "../../src/protocol/jsonpath.js";
import { foreignOutput, producerOf } from "../../src/protocol/provenance.js";

const csv = (dp: LayoutRequest["DataProcessing"], accept = "text/csv"): LayoutRequest => ({ TransformInput: { ContentType: "text/csv" }, TransformOutput: { Accept: accept }, DataProcessing: dp });
const jsonl = (dp: LayoutRequest["DataProcessing"]): LayoutRequest => ({ TransformInput: { ContentType: "application/jsonlines" }, TransformOutput: { Accept: "application/jsonlines" }, DataProcessing: dp });

describe("outputLayoutOf", () => {
  it("reads what each DataProcessing leaves in a line", () => {
    expect(outputLayoutOf(csv(undefined), 3)).toEqual({ kind: "prediction" });
    expect(outputLayoutOf(csv({ OutputFilter: "$[0]", JoinSource: "None" }), 3)).toEqual({ kind: "prediction" });
    expect(outputLayoutOf(csv({ JoinSource: "Input" }), 3)).toEqual({ kind: "csv-join", select: undefined, filter: "$" });
    expect(outputLayoutOf(csv({ JoinSource: "Input", InputFilter: "$[1:]", OutputFilter: "$[0,-1]" }), 3)).toEqual({ kind: "csv-join", select: { kind: "indexes", indexes: [0, -1] }, filter: "$[0,-1]" });
    expect(outputLayoutOf(jsonl({ JoinSource: "Input" }), 3)).toEqual({ kind: "json-join", keys: "all", filter: "$" });
    expect(outputLayoutOf(jsonl({ JoinSource: "Input", OutputFilter: "$.SageMakerOutput.score" }), 3)).toEqual({ kind: "json-output", filter: "$.SageMakerOutput.score" });
    expect(outputLayoutOf(jsonl({ JoinSource: "Input", OutputFilter: "$['id','SageMakerOutput']" }), 3)).toEqual({ kind: "json-join", keys: ["id"], filter: "$['id','SageMakerOutput']" });
  });

  it.each([
    ["a CSV join answered in JSON", csv({ JoinSource: "Input" }, "application/json"), "accept"],
    ["a CSV join with a name filter", csv({ JoinSource: "Input", OutputFilter: "$.SageMakerOutput" }), "outputFilter"],
    ["a CSV join with a nested selector", csv({ JoinSource: "Input", OutputFilter: "$[0][0]" }), "outputFilter"],
    ["a CSV join that keeps input fields only", csv({ JoinSource: "Input", OutputFilter: "$[0:2]" }), "outputFilter"],
    ["a JSON join without SageMakerOutput", jsonl({ JoinSource: "Input", OutputFilter: "$.id" }), "outputFilter"],
    ["a JSON join naming input keys only", jsonl({ JoinSource: "Input", OutputFilter: "$['id','x']" }), "outputFilter"],
  ])("refuses %s, naming the option", (_label, request, option) => {
    const layout = outputLayoutOf(request, 3);
    expect(isLayoutProblem(layout)).toBe(true);
    expect(layout).toMatchObject({ option });
  });

  it("maps CSV join fields to their source as the service's filter selects them", () => {
    const sel = (text: string) => parseJsonPath(text).selectors[0];
    expect(csvJoinSources(sel("$[0,-1]"), 3, 1, "inclusive")).toEqual([{ from: "input", index: 0 }, { from: "output", index: 0 }]);
    expect(csvJoinSources(undefined, 2, 2, "inclusive")).toEqual([{ from: "input", index: 0 }, { from: "input", index: 1 }, { from: "output", index: 0 }, { from: "output", index: 1 }]);
    expect(csvJoinSources(sel("$[2:]"), 2, 2, "exclusive")).toEqual([{ from: "output", index: 0 }, { from: "output", index: 1 }]);
    expect(csvJoinSources(sel("$[1:2]"), 2, 2, "inclusive")).toEqual([{ from: "input", index: 1 }, { from: "output", index: 0 }]);
    expect(csvJoinSources(sel("$[1:2]"), 2, 2, "exclusive")).toEqual([{ from: "input", index: 1 }]);
    expect(csvJoinSources(sel("$[7]"), 2, 2, "inclusive")).toBeUndefined();
  });
});

const rec = (name: string, shards?: string[], createdAt = "2026-11-30T10:00:00.500Z"): JobRecord => ({
  backend: "emulator", name, arn: `arn:${name}`, request: {}, outputLocation: `file:///o/${name}`, accept: "text/csv", assembleWith: "Line", status: "Completed", createdAt, ...(shards ? { shards } : {}),
});

describe("provenance", () => {
  it("a retry's untouched shards come from the job it retried; a fresh job borrows nothing", () => {
    const retry: JobSection = { ...rec("r", ["s1"]), history: [rec("a"), rec("b")] };
    expect(producerOf(retry, "s1").name).toBe("r");
    expect(producerOf(retry, "s0").name).toBe("b");
    const fresh: JobSection = { ...rec("c"), history: [rec("a")] };
    expect(producerOf(fresh, "s0").name).toBe("c");
  });

  it("an .out written before its job was created is foreign: whole seconds for S3, a clock tick for files", () => {
    const job = rec("a");
    expect(foreignOutput(job, new Date("2026-11-30T10:00:00.000Z"), "second")).toBeUndefined();
    expect(foreignOutput(job, new Date("2026-11-30T09:59:59.000Z"), "second")).toContain("before job a was created");
    expect(foreignOutput(job, new Date("2026-11-30T10:00:00.470Z"), "fine")).toBeUndefined();
    expect(foreignOutput(job, new Date("2026-11-30T10:00:00.400Z"), "fine")).toContain("another job's output");
    expect(foreignOutput({ ...job, createdAt: undefined }, new Date(0), "fine")).toBeUndefined();
    // once the job ended, a later .out is another job's (a retry's, or one sharing the output)
    const ended = { ...job, endedAt: "2026-11-30T10:05:00.200Z" };
    expect(foreignOutput(ended, new Date("2026-11-30T10:05:00.000Z"), "second")).toBeUndefined();
    expect(foreignOutput(ended, new Date("2026-11-30T10:05:01.000Z"), "second")).toContain("after job a ended");
    expect(foreignOutput(ended, new Date("2026-11-30T10:05:00.240Z"), "fine")).toBeUndefined();
    expect(foreignOutput(ended, new Date("2026-11-30T10:05:00.300Z"), "fine")).toContain("after job a ended");
  });
});

describe("EchoSplitter", () => {
  const src = { shard: "part-00000.csv", location: "file:///o/part-00000.csv.out" };
  const batch = (lines: string[]) => ({ lines, lineNumber: (i: number) => i + 1 });

  it("compares CSV fields by value (quotes are not the record) and hands on the output fields", () => {
    const s = new EchoSplitter({ kind: "csv-join", select: undefined, filter: "$" }, 2);
    expect(s.split(batch(["a,b,0.5", '"x,y",z,"p,q"']), batch(['a,"b"', '"x,y",z']), src, "shard.csv").lines).toEqual(["0.5", '"p,q"']);
    // the model's output width is fixed by a file's first line
    expect(thrownBy(() => s.split(batch(["a,b,1,2"]), batch(["a,b"]), src, "shard.csv")).code).toBe("JOIN_PARSE");
    const e = thrownBy(() => s.split(batch(["a,c,0.5"]), batch(["a,b"]), src, "shard.csv"));
    expect(e.code).toBe("JOIN_ECHO_MISMATCH");
    expect(e.context).toMatchObject({ shard: "part-00000.csv", line: 1, expected: "a,b", got: "a,c,0.5" });
  });

  it("finds the model's output width from the first line of each shard", () => {
    const s = new EchoSplitter({ kind: "csv-join", select: parseJsonPath("$[0,-2,-1]").selectors[0], filter: "$[0,-2,-1]" }, 3);
    // two output fields: -2 and -1 are both the model's
    expect(s.split(batch(["7,0.1,0.9"]), batch(["7,1,2"]), src, "shard.csv").lines).toEqual(["0.1,0.9"]);
    s.startShard();
    // one output field: -2 is the last input field, checked
    expect(s.split(batch(["7,2,0.9"]), batch(["7,1,2"]), src, "shard.csv").lines).toEqual(["0.9"]);
  });

  it("JSON: input keys and SageMakerInput are compared by value, key order aside", () => {
    const all = new EchoSplitter({ kind: "json-join", keys: "all", filter: "$" }, 2);
    expect(all.split(batch(['{"SageMakerOutput":{"p":1},"b":[1,2],"a":1.0}']), batch(['{"a":1,"b":[1,2]}']), src, "s").lines).toEqual(['{"p":1}']);
    expect(all.split(batch(['{"SageMakerInput":[1,2],"SageMakerOutput":3}']), batch(["[1,2]"]), src, "s").lines).toEqual(["3"]);
    expect(thrownBy(() => all.split(batch(['{"a":2,"b":[1,2],"SageMakerOutput":1}']), batch(['{"a":1,"b":[1,2]}']), src, "s")).code).toBe("JOIN_ECHO_MISMATCH");
    expect(thrownBy(() => all.split(batch(['{"a":1,"SageMakerOutput":1}']), batch(['{"a":1,"b":[1,2]}']), src, "s")).code).toBe("JOIN_ECHO_MISMATCH");
    expect(thrownBy(() => all.split(batch(['{"a":1,"b":[1,2]}']), batch(['{"a":1,"b":[1,2]}']), src, "s")).code).toBe("JOIN_PARSE");
    // numbers a double does not keep are compared by their digits: IDs a nanometre apart are two IDs
    const big = new EchoSplitter({ kind: "json-join", keys: "all", filter: "$" }, 2);
    expect(thrownBy(() => big.split(batch(['{"u":9007199254740992,"SageMakerOutput":1}']), batch(['{"u":9007199254740993}']), src, "s")).code).toBe("JOIN_ECHO_MISMATCH");
    expect(thrownBy(() => big.split(batch(['{"u":18446744073709552000,"SageMakerOutput":1}']), batch(['{"u":18446744073709551615}']), src, "s")).code).toBe("JOIN_ECHO_MISMATCH");
    // the same number spelled otherwise is the same number; the prediction keeps its digits
    expect(big.split(batch(['{"u":12345678901234567890.0,"SageMakerOutput":{"p":12345678901234567891}}']), batch(['{"u":1234567890123456789e1}']), src, "s").lines).toEqual(['{"p":12345678901234567891}']);
    const named = new EchoSplitter({ kind: "json-join", keys: ["a"], filter: "$['a','SageMakerOutput']" }, 2);
    expect(named.split(batch(['{"a":1,"SageMakerOutput":5}']), batch(['{"a":1,"b":2}']), src, "s").lines).toEqual(["5"]);
  });
});
