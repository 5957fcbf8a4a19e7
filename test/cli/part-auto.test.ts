import fs from "node:fs/promises";
import path from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { autoPart, partFlag, PROCESSING_RESOURCE_CONFIG } from "../../src/cli/part-auto.js";
import { EXIT, type BtkitError } from "../../src/errors.js";
import { runCli } from "../helpers/cli.js";
import { thrownBy } from "../helpers/errors.js";
import { tempDir } from "../helpers/tmp.js";

const noFiles = (): undefined => undefined;
const config = (current: string, hosts: string[]) => (p: string) => (p === PROCESSING_RESOURCE_CONFIG ? JSON.stringify({ current_host: current, hosts, network_interface_name: "eth0" }) : undefined);

describe("--part auto", () => {
  it("SageMaker Processing: the position of current_host in hosts, of as many parts as hosts", () => {
    const a = autoPart(undefined, { env: {}, readText: config("algo-3", ["algo-1", "algo-2", "algo-3"]) });
    expect(a.part).toEqual({ index: 2, count: 3 });
    expect(a.source).toBe("SageMaker Processing (/opt/ml/config/resourceconfig.json: algo-3, host 3 of 3)");
    // --parts may repeat the host count, never contradict it
    expect(autoPart(3, { env: {}, readText: config("algo-1", ["algo-1", "algo-2", "algo-3"]) }).part).toEqual({ index: 0, count: 3 });
    const e = thrownBy(() => autoPart(2, { env: {}, readText: config("algo-1", ["algo-1", "algo-2", "algo-3"]) }));
    expect([e.code, e.message]).toEqual(["USAGE_BAD_VALUE", "--part auto: --parts 2 but /opt/ml/config/resourceconfig.json lists 3 hosts; leave out --parts under SageMaker Processing (the hosts are the parts)"]);
  });

  it("the resource configuration wins over array-job variables, and BTKIT_RESOURCE_CONFIG names another file", async () => {
    const { dir, cleanup } = await tempDir();
    onTestFinished(cleanup);
    const file = path.join(dir, "rc.json");
    await fs.writeFile(file, JSON.stringify({ current_host: "algo-2", hosts: ["algo-1", "algo-2"] }));
    expect(autoPart(undefined, { env: { BTKIT_RESOURCE_CONFIG: file, AWS_BATCH_JOB_ARRAY_INDEX: "0" } }).part).toEqual({ index: 1, count: 2 });
    const missing = thrownBy(() => autoPart(undefined, { env: { BTKIT_RESOURCE_CONFIG: path.join(dir, "none.json") } }));
    expect(missing.message).toBe(`--part auto: BTKIT_RESOURCE_CONFIG names ${path.join(dir, "none.json")}, which does not exist`);
  });

  it.each([
    ["not JSON", "{", "is not JSON"],
    ["no hosts", JSON.stringify({ current_host: "algo-1" }), 'has no "current_host" string and "hosts" list of strings'],
    ["a stranger", JSON.stringify({ current_host: "algo-9", hosts: ["algo-1"] }), 'current_host "algo-9" is not among its hosts ["algo-1"]'],
  ])("a resource configuration with %s is USAGE_BAD_VALUE", (_, text, says) => {
    const e = thrownBy(() => autoPart(undefined, { env: {}, readText: (p) => (p === PROCESSING_RESOURCE_CONFIG ? text : undefined) }));
    expect(e.code).toBe("USAGE_BAD_VALUE");
    expect(e.message).toContain(says);
  });

  it.each([
    ["AWS_BATCH_JOB_ARRAY_INDEX", "an AWS Batch array job"],
    ["JOB_COMPLETION_INDEX", "a Kubernetes Indexed Job"],
  ])("%s is the index and --parts the count", (variable, engine) => {
    const a = autoPart(4, { env: { [variable]: "3" }, readText: noFiles });
    expect(a).toEqual({ part: { index: 3, count: 4 }, source: `${engine} (${variable}=3 of --parts 4)` });
    const noCount = thrownBy(() => autoPart(undefined, { env: { [variable]: "1" }, readText: noFiles }));
    expect([noCount.code, noCount.message]).toEqual(["USAGE_MISSING", `--part auto: ${variable}=1 says this is instance 1 of ${engine}, which gives no instance count: add --parts N (the array size or completions)`]);
    expect(thrownBy(() => autoPart(4, { env: { [variable]: "4" }, readText: noFiles })).message).toBe(`--part auto: ${variable}=4 but --parts 4: the index must be below the count (0-based)`);
    expect(thrownBy(() => autoPart(4, { env: { [variable]: "x" }, readText: noFiles })).message).toBe(`--part auto: ${variable} must be a whole number (the 0-based index of this instance), got "x"`);
  });

  it("outside any engine: the error names every file and variable looked for, and --part i/N", () => {
    const e = thrownBy(() => autoPart(undefined, { env: {}, readText: noFiles }));
    expect(e.code).toBe("USAGE_BAD_VALUE");
    for (const name of ["/opt/ml/config/resourceconfig.json", "BTKIT_RESOURCE_CONFIG", "AWS_BATCH_JOB_ARRAY_INDEX", "JOB_COMPLETION_INDEX", "--part i/N"]) expect(e.message).toContain(name);
  });

  it("partFlag: i/N, auto with its log line, --parts only with auto", () => {
    const lines: string[] = [];
    expect(partFlag("1/3", undefined, (l) => lines.push(l))).toEqual({ index: 1, count: 3 });
    expect(partFlag(undefined, undefined, (l) => lines.push(l))).toBeUndefined();
    expect(partFlag("auto", 2, (l) => lines.push(l), { env: { JOB_COMPLETION_INDEX: "1" }, readText: noFiles })).toEqual({ index: 1, count: 2 });
    expect(lines).toEqual(["--part auto: part 1/2, from a Kubernetes Indexed Job (JOB_COMPLETION_INDEX=1 of --parts 2)"]);
    expect(thrownBy(() => partFlag("1/3", 3, () => {})).message).toContain("--parts N goes with --part auto");
    expect((thrownBy(() => partFlag("3/3", undefined, () => {})) as BtkitError).message).toBe('--part: part must be "i/N" with 0 <= i < N (for example 0/4), got 3/3, or auto (from the engine: SageMaker Processing, AWS Batch, Kubernetes)');
  });
});

describe("btkit prep --part auto", () => {
  it("under an AWS Batch array job: the missing --parts is named, and adding it prepares that part", async () => {
    const { dir, cleanup } = await tempDir();
    onTestFinished(cleanup);
    const input = path.join(dir, "in");
    await fs.mkdir(input);
    for (const n of [0, 1, 2, 3]) await fs.writeFile(path.join(input, `f${n}.csv`), `id,x\n${n},${n * 10}\n`);
    const out = path.join(dir, "out");
    const env = { AWS_BATCH_JOB_ARRAY_INDEX: "1" };
    const missing = await runCli(["prep", input, "--out", out, "--part", "auto"], { env });
    expect(missing.code).toBe(EXIT.usage);
    expect(missing.stderr).toContain("add --parts N");
    const ok = await runCli(["prep", input, "--out", out, "--part", "auto", "--parts", "2"], { env });
    expect(ok.stderr).toContain("prep: --part auto: part 1/2, from an AWS Batch array job (AWS_BATCH_JOB_ARRAY_INDEX=1 of --parts 2)");
    expect(ok.code).toBe(0);
    const d = JSON.parse(ok.stdout) as { source: { part: unknown; rowsWritten: number } };
    expect(d.source.part).toEqual({ index: 1, count: 2 });
    expect(d.source.rowsWritten).toBe(2);
    const shard = await fs.readFile(path.join(out, "shards", "part-1of2-00000.csv"), "utf8");
    expect(shard).toBe("2,20\n3,30\n");
  });
});
