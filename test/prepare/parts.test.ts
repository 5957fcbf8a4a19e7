/**
 * `--part i/N` balanced by input bytes (src/prepare/parts.ts): files split at record boundaries,
 * CSV resynchronization over quoted line breaks, the byte ranges merge checks, whole-file inputs.
 */
import fs from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BtkitError } from "../../src/errors.js";
import { merge, prepare, type PrepareOptions } from "../../src/prepare/index.js";
import { csvHypothesis, partOwning, partRange } from "../../src/prepare/parts.js";
import { parseDescriptor, validateDescriptor, type Descriptor } from "../../src/protocol/descriptor.js";
import { runCli } from "../helpers/cli.js";
import { useS3 } from "../helpers/s3server.js";
import { sidecarTable } from "../helpers/sidecar.js";
import { tempDir } from "../helpers/tmp.js";

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  ({ dir, cleanup } = await tempDir("btkit-parts-"));
});
afterAll(async () => cleanup());

/** A deterministic pseudo-random stream (xorshift32). */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}

/** Every part boundary floor(i*T/N) for N in 2..5. */
function boundaries(total: number): number[] {
  const out = new Set<number>();
  for (let n = 2; n <= 5; n++) for (let i = 1; i < n; i++) out.add(partRange(total, { index: i, count: n }).start);
  return [...out].sort((a, b) => a - b);
}

/**
 * A CSV of exactly `total` bytes, header id,name,text,value, whose quoted text fields hold line
 * breaks, delimiters and doubled quotes; at every part boundary for N in 2..5 a quoted field holds
 * a line break just before the boundary (byte b-1 is a "\n" inside quotes), and the text after it
 * looks like CSV (commas, a line break of its own), so a resynchronization that ignores quotes
 * starts at the wrong record.
 */
function bigCsv(total: number): { text: string; rows: number } {
  const rand = rng(7);
  const targets = boundaries(total);
  const lines: string[] = ["id,name,text,value\n"];
  let cur = lines[0]!.length;
  let id = 0;
  const words = ["alpha", "beta, gamma", 'say ""hi""', "x\ny", "tab\there", "plain", "semi;colon"];
  const value = (): string => `${Math.floor(rand() * 100000) / 100}`.replace(/^(\d+)$/, "$1.5");
  while (cur < total - 400) {
    const next = targets.find((b) => b > cur);
    const prefix = `${id},n${id},"`;
    if (next !== undefined && next - cur < 260) {
      // the line break inside quotes lands at byte next-1
      const before = next - 1 - (cur + prefix.length);
      if (before >= 0) {
        const row = `${prefix}${"p".repeat(before)}\nlooks,like,a,record\nand "" more""",${value()}\n`;
        lines.push(row);
        cur += Buffer.byteLength(row);
        id++;
        continue;
      }
    }
    const parts: string[] = [];
    const n = 1 + Math.floor(rand() * 6);
    for (let k = 0; k < n; k++) parts.push(words[Math.floor(rand() * words.length)]!);
    const row = rand() < 0.5 ? `${prefix}${parts.join(" ")}",${value()}\n` : `${id},n${id},${parts.join("_").replace(/[",\n]/g, "")},${value()}\n`;
    lines.push(row);
    cur += Buffer.byteLength(row);
    id++;
  }
  const prefix = `${id},n${id},"`;
  const tail = `",1.5\n`;
  lines.push(`${prefix}${"z".repeat(total - cur - prefix.length - tail.length)}${tail}`);
  const text = lines.join("");
  expect(Buffer.byteLength(text)).toBe(total);
  for (const b of targets) expect(text[b - 1]).toBe("\n");
  return { text, rows: id + 1 };
}

/** JSON Lines of `count` lines; fixed 97-byte lines when `fixed` (every boundary for N in 2..5 on a line start when count is a multiple of 60). */
function jsonLines(count: number, fixed: boolean): string {
  const rand = rng(11);
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const pad = fixed ? 97 - 1 - `{"id":${i},"s":"","v":0.5}`.length : Math.floor(rand() * 400);
    out.push(`{"id":${i},"s":"${"w".repeat(pad)}","v":0.5}\n`);
  }
  return out.join("");
}

/** The model lines of a preparation's shards, in order, and its sidecars' row numbers. */
async function contents(d: Descriptor): Promise<{ lines: string; rows: bigint[] }> {
  let lines = "";
  let rows: bigint[] = [];
  for (const s of d.shards) {
    lines += await fs.readFile(fileURLToPath(s.location), "utf8");
    rows = rows.concat([...((await sidecarTable(fileURLToPath(s.sidecar))).getChild("__btkit_row")!.toArray() as BigInt64Array)]);
  }
  return { lines, rows };
}

async function prepareParts(inputs: string[], out: string, count: number, extra: Partial<PrepareOptions> = {}): Promise<Descriptor[]> {
  const parts: Descriptor[] = [];
  for (let index = 0; index < count; index++) parts.push(await prepare({ inputs, out, part: { index, count }, overwrite: true, ...extra }));
  return parts;
}

/** Parts 0..N-1 then merge equal the unsplit preparation, line for line; each part's bytes are within one record of T/N. */
async function checkSplit(name: string, inputs: string[], extra: Partial<PrepareOptions>, maxRecord: number): Promise<void> {
  const whole = await prepare({ inputs, out: path.join(dir, `${name}-whole`), ...extra });
  const expected = await contents(whole);
  const total = (await Promise.all(inputs.map((f) => fs.stat(f)))).reduce((a, s) => a + s.size, 0);
  for (let n = 2; n <= 5; n++) {
    const parts = await prepareParts(inputs, path.join(dir, `${name}-${n}`), n, extra);
    for (const p of parts) {
      const taken = p.source.inputs.reduce((a, i) => a + (i.range ? i.range.end - i.range.start : (i.bytes ?? 0)), 0);
      expect(Math.abs(taken - total / n), `${name}: part ${p.source.part!.index} of ${n} took ${taken} bytes of ${total}`).toBeLessThanOrEqual(maxRecord);
    }
    const m = await merge(parts);
    expect(m.source.rowsWritten).toBe(whole.source.rowsWritten);
    expect(m.source.inputs).toEqual(whole.source.inputs);
    const got = await contents(m);
    expect(got.lines === expected.lines, `${name}: the merged model lines of ${n} parts`).toBe(true);
    expect(got.rows).toEqual(expected.rows);
  }
}

describe("part ranges", () => {
  it("split T bytes into N contiguous ranges; every byte has one owner", () => {
    expect([0, 1, 2].map((index) => partRange(10, { index, count: 3 }))).toEqual([{ start: 0, end: 3 }, { start: 3, end: 6 }, { start: 6, end: 10 }]);
    for (const [total, count] of [[10, 3], [2, 5], [0, 4], [1e15, 7]] as const) {
      for (let x = 0; x < Math.min(total, 50); x++) {
        const i = partOwning(x, total, count);
        const r = partRange(total, { index: i, count });
        expect(r.start <= x && x < r.end).toBe(true);
      }
    }
    // past the end (an empty last file, stdin): the last part
    expect(partOwning(10, 10, 3)).toBe(2);
    expect(partOwning(0, 0, 4)).toBe(3);
  });

  it("a CSV hypothesis dies on a misplaced quote or a record of another field count", () => {
    const o = { quote: 34, quoteChar: '"', delimiter: ",", fields: 2, input: "t.csv" };
    // byte 0 is the "\n" inside a quoted field: inside quotes, the records start after `b"`
    const win = Buffer.from('\nx,y\nb",1\n3,4\n5,6\n');
    expect(csvHypothesis(win, 99, true, true, o)).toEqual({ kind: "alive", start: 99 + 10, records: 2, eof: true });
    expect(csvHypothesis(win, 99, false, true, o)).toMatchObject({ kind: "dead" });
    expect(csvHypothesis(Buffer.from("\na,b"), 0, false, false, o)).toEqual({ kind: "short" });
  });
});

describe("--part balanced by input bytes", () => {
  it("one big CSV with quoted line breaks at every part boundary: N = 2..5 parts merged equal the unsplit preparation", async () => {
    const f = path.join(dir, "big.csv");
    await fs.writeFile(f, bigCsv(3_000_000).text);
    await checkSplit("big", [f], { format: "jsonl" }, 400);
  });

  it("JSON Lines, boundaries on line starts and inside lines", async () => {
    const a = path.join(dir, "fixed.jsonl");
    await fs.writeFile(a, jsonLines(6000, true));
    await checkSplit("fixed", [a], {}, 97);
    const b = path.join(dir, "varied.jsonl");
    await fs.writeFile(b, jsonLines(4000, false));
    await checkSplit("varied", [b], {}, 450);
  });

  it("small CSV files of very different sizes: parts balanced by bytes, not by file count", async () => {
    const sizes = [30000, 7, 7000, 1, 300];
    const files: string[] = [];
    for (const [k, n] of sizes.entries()) {
      const f = path.join(dir, `mix-${k}.csv`);
      const rows = ["id,v"];
      for (let i = 0; i < n; i++) rows.push(`${k * 100000 + i},${i % 7}.25`);
      await fs.writeFile(f, `${rows.join("\n")}\n`);
      files.push(f);
    }
    await checkSplit("mix", files, {}, 20);
  });

  it("blank lines at the parts' ends: inside the data skipped (--blank-lines skip), trailing ones ignored, as in one run", async () => {
    const rows = ["id,v"];
    for (let i = 0; i < 600; i++) rows.push(i % 7 === 3 ? "" : `${i},${i}.5`);
    const f = path.join(dir, "blanks.csv");
    await fs.writeFile(f, `${rows.join("\n")}\n${"\n".repeat(40)}`);
    await checkSplit("blanks", [f], { blankLines: "skip" }, 60);
    const whole = await prepare({ inputs: [f], out: path.join(dir, "blanks-w2"), blankLines: "skip" });
    for (const n of [2, 5]) {
      const m = await merge(await prepareParts([f], path.join(dir, `blanks-${n}`), n, { blankLines: "skip" }));
      expect(m.source.skipped).toEqual(whole.source.skipped);
      expect(m.source.rowsRead).toBe(whole.source.rowsRead);
    }
  });

  it("with --instances each part balances its own shards over its bytes", async () => {
    const f = path.join(dir, "inst.jsonl");
    await fs.writeFile(f, jsonLines(3000, true));
    const parts = await prepareParts([f], path.join(dir, "inst"), 3, { instances: 2 });
    for (const p of parts) {
      expect(p.shards.length).toBe(2);
      expect(Math.abs(p.shards[0]!.rows - p.shards[1]!.rows)).toBeLessThanOrEqual(1);
    }
    expect((await merge(parts)).source.rowsWritten).toBe(3000);
  });

  it("--no-split-files (splitFiles: false): whole files, each by the part holding its middle byte", async () => {
    const sizes = [3000, 70, 700, 10];
    const files: string[] = [];
    for (const [k, n] of sizes.entries()) {
      const f = path.join(dir, `whole-${k}.csv`);
      const rows = ["id,v"];
      for (let i = 0; i < n; i++) rows.push(`${k * 100000 + i},${i % 7}.25`);
      await fs.writeFile(f, `${rows.join("\n")}\n`);
      files.push(f);
    }
    const parts = await prepareParts(files, path.join(dir, "whole-parts"), 2, { splitFiles: false });
    const names = parts.map((p) => p.source.inputs.map((i) => path.basename(i.location)));
    // the 3000-row file is more than half the bytes: part 0 takes it, part 1 the rest
    expect(names).toEqual([["whole-0.csv"], ["whole-1.csv", "whole-2.csv", "whole-3.csv"]]);
    expect(parts.flatMap((p) => p.source.inputs).every((i) => i.range === undefined)).toBe(true);
    const m = await merge(parts);
    expect(m.source.rowsWritten).toBe(3780);
    const err = await prepare({ inputs: files, out: path.join(dir, "x"), splitFiles: false }).catch((e: unknown) => e);
    expect((err as BtkitError).code).toBe("OPT_INVALID");
  });

  it("gzip and Parquet inputs are taken whole by exactly one part", async () => {
    const rows = ["id,v"];
    for (let i = 0; i < 5000; i++) rows.push(`${i},${i}.5`);
    const gz = path.join(dir, "big.csv.gz");
    await fs.writeFile(gz, gzipSync(`${rows.join("\n")}\n`));
    const plain = path.join(dir, "small.csv");
    await fs.writeFile(plain, "id,v\n9,1.5\n");
    for (const n of [2, 3, 5]) {
      const parts = await prepareParts([gz, plain], path.join(dir, `gz-${n}`), n);
      const holders = parts.filter((p) => p.source.inputs.some((i) => i.location.endsWith("big.csv.gz")));
      expect(holders.length).toBe(1);
      expect(holders[0]!.source.inputs.find((i) => i.location.endsWith("big.csv.gz"))).toMatchObject({ compression: "gzip", rows: 5000 });
      expect((await merge(parts)).source.rowsWritten).toBe(5001);
    }
    const pw = await import("parquet-wasm");
    const { tableFromArrays, tableToIPC } = await import("apache-arrow");
    const pq = path.join(dir, "t.parquet");
    const table = tableFromArrays({ id: new Float64Array(Array.from({ length: 3000 }, (_, i) => i)) });
    await fs.writeFile(pq, pw.writeParquet(pw.Table.fromIPCStream(tableToIPC(table, "stream"))));
    const parts = await prepareParts([pq], path.join(dir, "pq-3"), 3);
    expect(parts.map((p) => p.source.inputs.length)).toEqual([0, 1, 0]);
    expect((await merge(parts)).source.rowsWritten).toBe(3000);
  });

  it("an identical rerun of a part is a no-op; the descriptor records the byte ranges", async () => {
    const f = path.join(dir, "rerun.jsonl");
    await fs.writeFile(f, jsonLines(500, false));
    const out = path.join(dir, "rerun");
    const first = await prepare({ inputs: [f], out, part: { index: 1, count: 3 } });
    const again = await prepare({ inputs: [f], out, part: { index: 1, count: 3 } });
    expect(again).toEqual(first);
    const r = first.source.inputs[0]!.range!;
    const size = (await fs.stat(f)).size;
    expect(r.start).toBeGreaterThan(size / 3 - 450);
    expect(r.end).toBeLessThan((2 * size) / 3 + 450);
    const text = await fs.readFile(f, "latin1");
    expect(text[r.start - 1]).toBe("\n");
    expect(text[r.end - 1]).toBe("\n");
  });
});

describe("btkit prep --help", () => {
  it("says parts are balanced by input bytes and names --no-split-files", async () => {
    const r = await runCli(["prep", "--help"]);
    expect(r.code).toBe(0);
    const text = r.stdout.replace(/\s+/g, " ");
    expect(text).toContain("Parts are balanced by input bytes");
    expect(text).toContain("split at record boundaries");
    expect(text).toContain("--no-split-files takes every file whole");
    const alone = await runCli(["prep", "x.csv", "--out", path.join(dir, "alone"), "--no-split-files"]);
    expect(alone.code).toBe(2);
    expect(alone.stderr).toContain("--no-split-files goes with --part I/N");
  });
});

describe("line numbers of a part that starts inside a file", () => {
  it("messages and rejects.jsonl count lines from the byte the part started at, and say so", async () => {
    const lines = Array.from({ length: 400 }, (_, i) => `{"id":${i},"v":${i === 300 ? '"oops"' : `${i}.5`}}\n`);
    const f = path.join(dir, "bad.jsonl");
    await fs.writeFile(f, lines.join(""));
    const out = path.join(dir, "bad");
    const err = (await prepare({ inputs: [f], out, part: { index: 1, count: 2 }, sampleRows: 10 }).catch((e: unknown) => e)) as BtkitError;
    const text = lines.join("");
    const start = text.indexOf("\n", Math.floor(text.length / 2) - 1) + 1;
    const line = text.slice(start, text.indexOf('"oops"')).split("\n").length;
    expect(err.code).toBe("PREP_TYPE");
    expect(err.message).toContain(`${f} (lines counted from byte ${start}): line ${line} `);
    const d = await prepare({ inputs: [f], out, part: { index: 1, count: 2 }, sampleRows: 10, onInvalid: "skip", overwrite: true });
    expect(d.source.inputs[0]!.range!.start).toBe(start);
    const reject = JSON.parse(await fs.readFile(fileURLToPath(d.source.rejectLocation!), "utf8")) as { line: number; linesFrom: number };
    expect([reject.line, reject.linesFrom]).toEqual([line, start]);
  });
});

describe("resynchronization that cannot tell, and tampered ranges", () => {
  /** A CSV whose second half reads as records of 2 fields both inside and outside quotes: a quoted field holds CSV text. */
  function ambiguous(): string {
    const inner = Array.from({ length: 200 }, (_, i) => `q${i},${i}`).join("\n");
    const outer = Array.from({ length: 200 }, (_, i) => `o${i},${i}`).join("\n");
    return `a,b\n${outer}\nx,"${inner}\n"\n${outer}\n`;
  }

  it("PREP_SPLIT names the file, the offset and --no-split-files; with it the same input passes", async () => {
    const f = path.join(dir, "ambiguous.csv");
    const text = ambiguous();
    await fs.writeFile(f, text);
    const out = path.join(dir, "ambiguous");
    const err = await prepare({ inputs: [f], out, part: { index: 1, count: 2 }, text: true, format: "jsonl" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BtkitError);
    const at = Math.floor(Buffer.byteLength(text) / 2);
    expect((err as BtkitError).code).toBe("PREP_SPLIT");
    expect((err as BtkitError).message).toContain(`${f}: part 1/2 starts at byte ${at}, inside the file`);
    expect((err as BtkitError).message).toContain("--no-split-files");
    expect((err as BtkitError).context).toMatchObject({ input: f, offset: at, option: "splitFiles" });
    const parts = await prepareParts([f], out, 2, { splitFiles: false, text: true, format: "jsonl" });
    expect((await merge(parts)).source.rowsWritten).toBe(401);
    // the CLI flag
    const cli = await runCli(["prep", f, "--out", path.join(dir, "ambiguous-cli"), "--part", "1/2", "--text", "--format", "jsonl", "--no-split-files", "-q"]);
    expect(cli.code).toBe(0);
    const failing = await runCli(["prep", f, "--out", path.join(dir, "ambiguous-cli2"), "--part", "1/2", "--text", "--format", "jsonl", "-q"]);
    expect(failing.code).toBe(65);
    expect(failing.stderr).toContain("--no-split-files");
  });

  /**
   * Valid CSV that fools a part's guess: a quoted field holds `lines` rows of p,q,r, and a short
   * row (1,2) right after it kills the right reading, so the wrong one (outside quotes) wins.
   */
  function trap(lines: number, second: boolean): string {
    const rows = ["id,t,v", ...Array.from({ length: 20 }, (_, i) => `${i},plain${i},${i}`)];
    rows.push(`100,"\n${Array.from({ length: lines }, () => "p,q,r").join("\n")}\n",100`, "1,2");
    rows.push(...Array.from({ length: 150 }, (_, i) => `${i + 200},tail${i},${i}`));
    if (second) rows.push('999,"\nb\n",999', ...Array.from({ length: 300 }, (_, i) => `${i + 2000},tail${i},${i}`));
    return `${rows.join("\n")}\n`;
  }
  const lenient: Partial<PrepareOptions> = { onInvalid: "skip", newlines: "escape" };

  it("a part whose guess runs into a quote never closed: PREP_SPLIT with the scanner's words and --no-split-files, which passes", async () => {
    const f = path.join(dir, "trap2.csv");
    await fs.writeFile(f, trap(300, false));
    const out = path.join(dir, "trap2");
    const err = (await prepare({ inputs: [f], out, part: { index: 1, count: 4 }, ...lenient }).catch((e: unknown) => e)) as BtkitError;
    expect(err.code).toBe("PREP_SPLIT");
    expect(err.message).toContain("a quote opened here is never closed");
    expect(err.message).toMatch(/part 1\/4 started reading .*trap2\.csv at byte \d+, where it judged a record to begin/);
    expect(err.message).toContain("splitFiles: false (--no-split-files)");
    const whole = await prepare({ inputs: [f], out: path.join(dir, "trap2-whole"), ...lenient });
    const parts = await prepareParts([f], out, 4, { splitFiles: false, ...lenient });
    expect((await merge(parts)).source.rowsWritten).toBe(whole.source.rowsWritten);
  });

  it("parts that guessed wrong and typed a column apart: merge leads with the byte ranges, not a --schema", async () => {
    const f = path.join(dir, "trap3.csv");
    await fs.writeFile(f, trap(500, true));
    const out = path.join(dir, "trap3");
    const parts = await prepareParts([f], out, 4, lenient);
    const err = (await merge(parts).catch((e: unknown) => e)) as BtkitError;
    expect(err.code).toBe("PREP_MERGE");
    expect(err.message).toContain("a part guessed wrong where records begin inside the file");
    expect(err.message).not.toContain("schema:");
    expect(err.message).toContain("splitFiles: false (--no-split-files)");
    const whole = await prepare({ inputs: [f], out: path.join(dir, "trap3-whole"), ...lenient });
    const again = await prepareParts([f], out, 4, { splitFiles: false, overwrite: true, ...lenient });
    expect((await merge(again)).source.rowsWritten).toBe(whole.source.rowsWritten);
  });

  it("merge refuses parts whose ranges do not tile a split file (PREP_MERGE naming the file, parts and offsets)", async () => {
    const f = path.join(dir, "tile.jsonl");
    await fs.writeFile(f, jsonLines(300, false));
    const parts = await prepareParts([f], path.join(dir, "tile"), 3);
    const edited = JSON.parse(JSON.stringify(parts)) as Descriptor[];
    const r1 = edited[1]!.source.inputs[0]!.range!;
    const was = r1.start;
    r1.start += 5;
    const err = await merge(edited.map((d) => validateDescriptor(d))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BtkitError);
    expect((err as BtkitError).code).toBe("PREP_MERGE");
    expect((err as BtkitError).message).toContain(`${edited[0]!.source.inputs[0]!.location}: part 0 took its records up to byte ${was}, but part 1 took them from byte ${was + 5}`);
    expect((err as BtkitError).message).toContain("--no-split-files");
    const short = JSON.parse(JSON.stringify(parts)) as Descriptor[];
    short[2]!.source.inputs[0]!.range!.end -= 1;
    expect(((await merge(short).catch((e: unknown) => e)) as BtkitError).message).toContain("the last part to read it, part 2");
  });

  it("a descriptor's range is validated: PROTO_INVALID for an end past the input or before the start, or a range outside a part", async () => {
    const f = path.join(dir, "valid.jsonl");
    await fs.writeFile(f, jsonLines(50, false));
    const [p0] = await prepareParts([f], path.join(dir, "valid"), 2);
    const bad = (edit: (d: Descriptor) => void): unknown => {
      const d = JSON.parse(JSON.stringify(p0)) as Descriptor;
      edit(d);
      try {
        return validateDescriptor(d);
      } catch (e) {
        return e;
      }
    };
    const cases: [(d: Descriptor) => void, string][] = [
      [(d) => (d.source.inputs[0]!.range!.end = d.source.inputs[0]!.bytes! + 1), "source.inputs[0].range.end"],
      [(d) => (d.source.inputs[0]!.range = { start: 10, end: 5 }), "source.inputs[0].range.end"],
      [(d) => ((d.source.inputs[0]!.range as unknown as { start: number }).start = -1), "source.inputs[0].range.start"],
      [(d) => ((d.source.inputs[0] as unknown as { range: string }).range = "0-5"), "source.inputs[0].range"],
      [(d) => delete d.source.part, "source.inputs[0].range"],
    ];
    for (const [edit, field] of cases) {
      const e = bad(edit) as BtkitError;
      expect(e.code).toBe("PROTO_INVALID");
      expect(e.context.field).toBe(field);
    }
    expect(parseDescriptor(JSON.stringify(p0))).toEqual(p0);
  });
});

describe("--part over S3 (ranged GETs)", () => {
  const s3 = useS3(["parts-bkt"]);

  it("Storage.read with a range: bytes [start, end) of a file or an object, raw", async () => {
    const storage = s3().storage();
    const f = path.join(dir, "abc.txt");
    await fs.writeFile(f, "abcdef");
    await storage.write("s3://parts-bkt/abc.txt", "abcdef");
    const read = async (where: string, range: { start: number; end?: number }): Promise<string> => {
      const chunks: Buffer[] = [];
      for await (const c of await storage.read(where, { range })) chunks.push(c as Buffer);
      return Buffer.concat(chunks).toString();
    };
    for (const where of [f, "s3://parts-bkt/abc.txt"]) {
      expect(await read(where, { start: 2, end: 5 })).toBe("cde");
      expect(await read(where, { start: 4 })).toBe("ef");
      expect(await read(where, { start: 6, end: 6 })).toBe("");
    }
  });

  it("a CSV on S3 with quoted line breaks at the boundaries, split in 3 parts, merges into the unsplit preparation", async () => {
    const storage = s3().storage();
    const { text } = bigCsv(400_000);
    await storage.write("s3://parts-bkt/in/big.csv", text);
    const input = "s3://parts-bkt/in/big.csv";
    const whole = await prepare({ inputs: [input], out: "s3://parts-bkt/whole/", format: "jsonl", storage });
    const parts: Descriptor[] = [];
    for (let index = 0; index < 3; index++) parts.push(await prepare({ inputs: [input], out: "s3://parts-bkt/parts/", format: "jsonl", part: { index, count: 3 }, storage }));
    const b1 = partRange(400_000, { index: 1, count: 3 }).start;
    // part 1 starts inside a quoted field (byte b-1 is a "\n" inside quotes): its records begin later
    expect(parts[1]!.source.inputs[0]!.range!.start).toBeGreaterThan(b1);
    expect(parts[0]!.source.inputs[0]!.range!.end).toBe(parts[1]!.source.inputs[0]!.range!.start);
    const m = await merge(parts, { storage });
    const lines = async (d: Descriptor): Promise<string> => {
      let t = "";
      for (const sh of d.shards) t += await storage.readText(sh.location);
      return t;
    };
    expect(m.source.rowsWritten).toBe(whole.source.rowsWritten);
    expect((await lines(m)) === (await lines(whole))).toBe(true);
  });
});
