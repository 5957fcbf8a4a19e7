/**
 * Tampering after prep never ends in a wrong table: a shard or sidecar changed after prep wrote it
 * (same size, other bytes) is caught by submit, by join and by a prep rerun, each naming the file,
 * and the way out the message gives (prep --overwrite) works on the same input.
 */
import fs from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, expect, it } from "vitest";
import { startExampleModel, type RunningExampleModel } from "../../src/emulator/index.js";
import { EXIT } from "../../src/errors.js";
import { parseDescriptor } from "../../src/protocol/descriptor.js";
import { runCli, type CliRun } from "../helpers/cli.js";
import { tempDir } from "../helpers/tmp.js";

let dir: string;
let cleanup: () => Promise<void>;
let model: RunningExampleModel;

beforeEach(async () => {
  ({ dir, cleanup } = await tempDir("btkit-tamper-"));
  const rows = Array.from({ length: 20 }, (_, i) => `${i},${i * 3},name-${i}`);
  await fs.writeFile(path.join(dir, "data.csv"), `id,x,name\n${rows.join("\n")}\n`);
  model = await startExampleModel({ port: 0, env: {} });
});
afterEach(async () => {
  await model.close();
  await cleanup();
});

const cli = (argv: string[], stdin?: string): Promise<CliRun> => runCli(argv, { stdin, cwd: dir });
const prep = (...extra: string[]): Promise<CliRun> => cli(["prep", "data.csv", "--out", "prep", "--shard-rows", "10", "--features", "x", ...extra]);
const submit = (stdin: string): Promise<CliRun> => cli(["submit", "--local", "--state", "state", "--model-url", model.url, "--poll-seconds", "0.05"], stdin);

/** Replaces one byte of a file with another: same size, other content. */
async function flipByte(file: string, at: number): Promise<void> {
  const b = await fs.readFile(file);
  b[at] = b[at] === 0x31 ? 0x32 : 0x31;
  await fs.writeFile(file, b);
}

it("a shard changed after prep: submit refuses before launch, a prep rerun names it, prep --overwrite mends it", async () => {
  const p = await prep();
  expect(p.code).toBe(0);
  const shard = path.join(dir, "prep", "shards", "part-00001.csv");
  await flipByte(shard, 0);

  const refused = await submit(p.stdout);
  expect(refused.code).toBe(EXIT.data);
  expect(refused.stderr).toContain("IO_CHANGED");
  expect(refused.stderr).toContain(`shard part-00001.csv ${shard} changed after it was written`);
  expect(refused.stderr).toContain("btkit prep --overwrite");
  await expect(fs.stat(path.join(dir, "state"))).resolves.toBeDefined();
  expect(await fs.readdir(path.join(dir, "prep"))).not.toContain("output");

  const rerun = await prep();
  expect(rerun.code).toBe(EXIT.conflict);
  expect(rerun.stderr).toContain("PREP_OUT_EXISTS");
  expect(rerun.stderr).toContain("shards/part-00001.csv changed after it was written");

  const mended = await prep("--overwrite");
  expect(mended.code).toBe(0);
  const ran = await submit(mended.stdout);
  expect(ran.code).toBe(0);
  expect(ran.stderr).toContain("checked 2 shards against the descriptor's sha256");
  const joined = await cli(["join", "--out", "j.csv", "--format", "csv"], ran.stdout);
  expect(joined.code).toBe(0);
  const lines = (await fs.readFile(path.join(dir, "j.csv"), "utf8")).trim().split("\n");
  expect(lines[0]).toBe("id,x,name,prediction");
  expect(lines.slice(1)).toEqual(Array.from({ length: 20 }, (_, i) => `${i},${i * 3},name-${i},${i * 3}`));
});

it("a sidecar replaced after prep: join refuses it (IO_CHANGED naming shard and sidecar); the descriptor records its sha256", async () => {
  const p = await prep();
  const d = parseDescriptor(p.stdout);
  expect(d.shards.every((s) => /^[0-9a-f]{64}$/.test(s.sidecarSha256 ?? ""))).toBe(true);
  const ran = await submit(p.stdout);
  expect(ran.code).toBe(0);
  // another preparation's sidecar of the same shape in its place: rows 10..19 of other names
  await fs.writeFile(path.join(dir, "other.csv"), `id,x,name\n${Array.from({ length: 20 }, (_, i) => `${i},${i * 3},eman-${i}`).join("\n")}\n`);
  expect((await cli(["prep", "other.csv", "--out", "other", "--shard-rows", "10", "--features", "x"])).code).toBe(0);
  const sidecar = path.join(dir, "prep", "sidecars", "part-00001.parquet");
  await fs.copyFile(path.join(dir, "other", "sidecars", "part-00001.parquet"), sidecar);

  const refused = await cli(["join", "--out", "j.csv", "--format", "csv"], ran.stdout);
  expect(refused.code).toBe(EXIT.data);
  expect(refused.stderr).toContain("IO_CHANGED");
  expect(refused.stderr).toContain("the sidecar of shard part-00001.csv");
  expect(refused.stderr).toContain("btkit prep --overwrite");
  await expect(fs.stat(path.join(dir, "j.csv"))).rejects.toThrow();

  const mended = await prep("--overwrite");
  expect(mended.code).toBe(0);
  const again = await submit(mended.stdout);
  expect(again.code).toBe(0);
  expect((await cli(["join", "--out", "j.csv", "--format", "csv"], again.stdout)).code).toBe(0);
  expect((await fs.readFile(path.join(dir, "j.csv"), "utf8")).split("\n")[11]).toBe("10,30,name-10,30");
});

it("a manifest edited after prep (pointing at other files) is refused by submit and by a prep rerun; prep --overwrite mends it", async () => {
  const p = await prep();
  expect(p.code).toBe(0);
  const manifest = path.join(dir, "prep", "manifest.json");
  const evil = path.join(dir, "evil");
  await fs.mkdir(evil);
  for (const f of await fs.readdir(path.join(dir, "prep", "shards"))) await fs.copyFile(path.join(dir, "prep", "shards", f), path.join(evil, f));
  await fs.writeFile(manifest, JSON.stringify([{ prefix: `file://${evil}/` }, "part-00000.csv", "part-00001.csv"]));
  const refused = await submit(p.stdout);
  expect(refused.code).toBe(EXIT.data);
  expect(refused.stderr).toContain("IO_CHANGED");
  expect(refused.stderr).toContain("the manifest");
  const rerun = await prep();
  expect(rerun.code).toBe(EXIT.conflict);
  expect(rerun.stderr).toContain("manifest.json changed after it was written");
  const mended = await prep("--overwrite");
  expect(mended.code).toBe(0);
  expect((await submit(mended.stdout)).code).toBe(0);
});
