import fs from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseDescriptor } from "../../src/protocol/descriptor.js";
import { runCli } from "../helpers/cli.js";
import { startS3, type TestS3 } from "../helpers/s3server.js";
import { tempDir } from "../helpers/tmp.js";
import { duckRows, sqlString } from "./duck.js";
import { jsonOut, makeRows, writeFixture } from "./fixture.js";

let s3: TestS3;
const saved: Record<string, string | undefined> = {};
beforeAll(async () => {
  s3 = await startS3(["test-bucket"]);
  // the in-process CLI's S3 client takes credentials from the process environment (the SDK's chain)
  for (const k of ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]) {
    saved[k] = process.env[k];
    process.env[k] = s3.env[k];
  }
});
afterAll(async () => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  await s3.close();
});

describe("btkit join (CLI)", () => {
  it("reads the descriptor on stdin, writes Parquet, prints the descriptor with results as one line", async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const storage = s3.storage();
      const a = makeRows(7, 31);
      const fx = await writeFixture(storage, storage.parse(dir), { shards: [{ rows: a, out: jsonOut(a) }] });
      const out = path.join(dir, "joined.parquet");
      const r = await runCli(["join", "--out", out], { stdin: JSON.stringify(fx.descriptor) });
      expect(r.stderr).toContain("join:");
      expect(r.code).toBe(0);
      const lines = r.stdout.split("\n").filter((l) => l.length > 0);
      expect(lines).toHaveLength(1);
      const d = parseDescriptor(lines[0]!);
      expect(d.results).toMatchObject({ location: `file://${out}`, format: "parquet", rows: 7, missing: [], partitioned: false });
      expect((await duckRows(`SELECT count(*)::INTEGER AS n FROM read_parquet(${sqlString(out)})`)).map((x) => x.n)).toEqual([7]);
    } finally {
      await cleanup();
    }
  });

  it("says the notes of its results on stderr: a feature value with more digits than a double keeps is counted there, not only in the descriptor", async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const storage = s3.storage();
      const a = makeRows(3, 33);
      a[1]!.x1 = "0.10000000000000001";
      const fx = await writeFixture(storage, storage.parse(dir), { shards: [{ rows: a, out: jsonOut(a) }] });
      const r = await runCli(["join", "--out", path.join(dir, "n.jsonl")], { stdin: JSON.stringify(fx.descriptor) });
      expect(r.code, r.stderr).toBe(0);
      const notes = parseDescriptor(r.stdout.trim()).results!.notes ?? [];
      expect(notes).toEqual([{ reason: expect.stringContaining("float64 feature values read back from the shards with more significant digits than a double keeps") as string, count: 1 }]);
      expect(r.stderr).toContain(`join: note: ${notes[0]!.reason} (1)`);
    } finally {
      await cleanup();
    }
  });

  it("maps a count mismatch to exit status 65 with the coded message on stderr, and prints nothing", async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const storage = s3.storage();
      const a = makeRows(3, 32);
      const fx = await writeFixture(storage, storage.parse(dir), { shards: [{ rows: a, out: jsonOut(a.slice(1)) }] });
      await fs.writeFile(path.join(dir, "btkit.json"), JSON.stringify(fx.descriptor));
      const r = await runCli(["join", "--descriptor", dir, "--out", path.join(dir, "j.parquet")]);
      expect(r.code).toBe(65);
      expect(r.stdout).toBe("");
      expect(r.stderr).toContain("JOIN_COUNT_MISMATCH");
      expect(r.stderr).toContain("has 2 lines, but shard part-00000.csv has 3 rows");
    } finally {
      await cleanup();
    }
  });

  it("--descriptor takes an S3 object whatever its name, and a prefix means its btkit.json", async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const storage = s3.storage();
      const a = makeRows(4, 35);
      const fx = await writeFixture(storage, storage.parse(dir), { shards: [{ rows: a, out: jsonOut(a) }] });
      const text = JSON.stringify(fx.descriptor);
      await storage.write("s3://test-bucket/saved/job", text);
      await storage.write("s3://test-bucket/run/btkit.json", text);
      for (const from of ["s3://test-bucket/saved/job", "s3://test-bucket/run", "s3://test-bucket/run/"]) {
        const out = path.join(dir, `${from.length}.jsonl`);
        const r = await runCli(["join", "--descriptor", from, "--out", out], { env: s3.env });
        expect(r.stderr, from).not.toContain("error");
        expect(r.code).toBe(0);
        expect(parseDescriptor(r.stdout).results!.rows).toBe(4);
      }
      const none = await runCli(["join", "--descriptor", "s3://test-bucket/nothing", "--out", path.join(dir, "x.jsonl")], { env: s3.env });
      expect(none.code).toBe(66);
      expect(none.stderr).toContain("no descriptor at --descriptor s3://test-bucket/nothing: no such file or object, nor a folder or prefix holding btkit.json (s3://test-bucket/nothing/btkit.json)");
    } finally {
      await cleanup();
    }
  });

  it("rejects a malformed --part and --prediction-type as usage errors", async () => {
    const r1 = await runCli(["join", "--out", "x.parquet", "--part", "2/2"], { stdin: "{}" });
    expect(r1.code).toBe(2);
    expect(r1.stderr).toContain("--part");
    const r2 = await runCli(["join", "--out", "x.parquet", "--prediction-type", "a=decimal"], { stdin: "{}" });
    expect(r2.code).toBe(2);
  });
});

describe("S3", () => {
  it("joins inputs on S3 to one Parquet object and to a partitioned prefix", async () => {
    const storage = s3.storage();
    const a = makeRows(9, 41);
    const b = makeRows(4, 42, 9);
    const fx = await writeFixture(storage, storage.parse("s3://test-bucket/run1/"), { shards: [{ rows: a, out: jsonOut(a) }, { rows: b, out: jsonOut(b) }] });
    expect(fx.descriptor.job!.outputLocation).toBe("s3://test-bucket/run1/output/");
    const r = await runCli(["join", "--out", "s3://test-bucket/run1/joined.parquet", "--format", "parquet"], { stdin: JSON.stringify(fx.descriptor), env: s3.env });
    expect(r.code).toBe(0);
    const d = parseDescriptor(r.stdout.trim());
    expect(d.results!.files).toEqual(["s3://test-bucket/run1/joined.parquet"]);
    const { dir, cleanup } = await tempDir();
    try {
      const local = path.join(dir, "j.parquet");
      await fs.writeFile(local, await (await storage.read("s3://test-bucket/run1/joined.parquet")).toArray().then((c) => Buffer.concat(c as Buffer[])));
      const rows = await duckRows(`SELECT id, pred_label FROM read_parquet(${sqlString(local)})`);
      expect(rows).toEqual([...a, ...b].map((x) => ({ id: x.id, pred_label: BigInt(Number(x.id) % 3) })));

      const p = await runCli(["join", "--out", "s3://test-bucket/run1/joined/", "--partitioned", "--format", "jsonl"], { stdin: JSON.stringify(fx.descriptor), env: s3.env });
      expect(p.code).toBe(0);
      const listed: string[] = [];
      for await (const o of storage.list("s3://test-bucket/run1/joined/")) listed.push(o.relative);
      expect(listed.sort()).toEqual(["btkit.json", "part-00000.jsonl", "part-00001.jsonl"]);
      const text = await storage.readText("s3://test-bucket/run1/joined/part-00001.jsonl");
      expect(text.trim().split("\n").map((l) => (JSON.parse(l) as { id: number }).id)).toEqual(b.map((x) => Number(x.id)));
    } finally {
      await cleanup();
    }
  });
});
