/**
 * An input changed while prep reads it (truncated, appended, rewritten) is IO_CHANGED naming it,
 * never a descriptor with fewer rows and the original size.
 */
import fs from "node:fs/promises";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { afterEach, beforeEach, expect, it } from "vitest";
import { prepare } from "../../src/prepare/index.js";
import { Storage, type ReadOptions } from "../../src/io/storage.js";
import type { Location } from "../../src/io/location.js";
import { rejectedBy } from "../helpers/errors.js";
import { tempDir } from "../helpers/tmp.js";

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ dir, cleanup } = await tempDir("btkit-stable-"));
});
afterEach(() => cleanup());

/** A Storage whose reads of `file` run `change` once the first chunk has been handed out. */
class ChangingStorage extends Storage {
  readonly file: string;
  readonly change: () => Promise<void>;

  constructor(file: string, change: () => Promise<void>) {
    super();
    this.file = file;
    this.change = change;
  }
  override async read(where: Location | string, options: ReadOptions = {}) {
    const stream = await super.read(where, options);
    const loc = typeof where === "string" ? this.parse(where) : where;
    if (loc.kind !== "local" || loc.path !== this.file) return stream;
    const change = this.change;
    const changed = (async function* () {
      let first = true;
      for await (const c of stream) {
        yield c as Buffer;
        if (first) {
          first = false;
          await change();
        }
      }
    })();
    const { Readable } = await import("node:stream");
    return Readable.from(changed, { objectMode: false });
  }
}

const rows = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `${from + i},${(from + i) * 2}`).join("\n");

it.each([
  ["appended to", async (f: string) => void (await fs.appendFile(f, `${rows(10, 900_000)}\n`))],
  ["truncated", async (f: string) => void (await fs.truncate(f, 100))],
  ["rewritten in place (same size)", async (f: string) => {
    const b = await fs.readFile(f);
    await fs.writeFile(f, b);
    const later = new Date(Date.now() + 5000);
    await fs.utimes(f, later, later);
  }],
])("an input %s while prep reads it is IO_CHANGED, and nothing is published", async (_what, change) => {
  const file = path.join(dir, "in.csv");
  await fs.writeFile(file, `id,x\n${rows(200_000)}\n`);
  const out = path.join(dir, "out");
  const e = await rejectedBy(prepare({ inputs: [file], out, storage: new ChangingStorage(file, () => change(file)) }));
  expect(e.code).toBe("IO_CHANGED");
  expect(e.message).toContain(`input ${file} changed while prep read it`);
  await expect(fs.stat(path.join(out, "btkit.json"))).rejects.toThrow();
});

it("a row cut in half by a writer appending meanwhile is reported as the change, not as a ragged row", async () => {
  const file = path.join(dir, "in.csv");
  await fs.writeFile(file, `id,x\n${rows(200_000)}\n`);
  const e = await rejectedBy(prepare({ inputs: [file], out: path.join(dir, "out"), storage: new ChangingStorage(file, async () => void (await fs.appendFile(file, "\n900000"))) }));
  expect(e.code).toBe("IO_CHANGED");
});

it("a gzip input changed while read is IO_CHANGED too", async () => {
  const file = path.join(dir, "in.csv.gz");
  await fs.writeFile(file, gzipSync(`id,x\n${rows(200_000)}\n`));
  const e = await rejectedBy(prepare({ inputs: [file], out: path.join(dir, "out"), storage: new ChangingStorage(file, async () => void (await fs.appendFile(file, gzipSync("1,2\n")))) }));
  expect(e.code).toBe("IO_CHANGED");
});

it("an input left alone prepares as before", async () => {
  const file = path.join(dir, "in.csv");
  await fs.writeFile(file, `id,x\n${rows(1000)}\n`);
  const d = await prepare({ inputs: [file], out: path.join(dir, "out"), storage: new ChangingStorage(file, async () => undefined) });
  expect(d.source.rowsWritten).toBe(1000);
});

it("a corrupt gzip input with --instances (spilled to find its size) leaves no spill file", async () => {
  const file = path.join(dir, "bad.csv.gz");
  await fs.writeFile(file, gzipSync(`id,x\n${rows(50_000)}\n`).subarray(0, 5000));
  const spill = path.join(dir, "spill");
  await fs.mkdir(spill);
  const e = await rejectedBy(prepare({ inputs: [file], out: path.join(dir, "out"), instances: 2, tmpDir: spill }));
  expect(e.code).toBe("IO_GZIP_CORRUPT");
  expect(await fs.readdir(spill)).toEqual([]);
});
