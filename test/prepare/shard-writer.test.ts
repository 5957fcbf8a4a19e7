import fs from "node:fs/promises";
import path from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Storage } from "../../src/io/storage.js";
import { CsvScanner, type RawRecords } from "../../src/prepare/csv-scanner.js";
import { csvLine } from "../../src/prepare/encode-bytes.js";
import { parallelGzip } from "../../src/prepare/gzip.js";
import { ShardWriter } from "../../src/prepare/shard-writer.js";
import { tempDir } from "../helpers/tmp.js";

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  ({ dir, cleanup } = await tempDir("btkit-shard-writer-"));
});
afterAll(async () => cleanup());

async function gzipOf(data: Buffer, blockBytes: number, level: number): Promise<Buffer> {
  async function* one(): AsyncGenerator<Buffer> {
    // pieces that never line up with the blocks: parallelGzip gathers them
    for (let at = 0; at < data.length; at += 333) yield data.subarray(at, at + 333);
  }
  const out: Buffer[] = [];
  for await (const c of parallelGzip(one(), { level, blockBytes })) out.push(c);
  return Buffer.concat(out);
}

describe("ShardWriter", () => {
  it("writes records across block ends, records longer than a block too, the same bytes through every way in (plain and gzip)", async () => {
    const storage = new Storage();
    const lines: string[] = [];
    for (let i = 0; i < 300; i++) lines.push(`${i},${"x".repeat((i * 37) % 150)},"a,""b"""${i % 50 === 7 ? `,${"y".repeat(700)}` : ""}`);
    const text = `${lines.join("\n")}\n`;
    const raw = new CsvScanner({ delimiter: ",", resumed: true }).pushRaw(Buffer.from(text));
    expect(raw.count).toBe(300);
    for (const gzipLevel of [undefined, 1]) {
      const shard = path.join(dir, `s-${gzipLevel ?? "plain"}`);
      const w = new ShardWriter({ storage, shard: storage.parse(shard), sidecar: storage.parse(`${shard}.parquet`), gzipLevel, keep: [], blockBytes: 256 });
      // every way in: a string, a line buffer, straight into the block
      for (let r = 0; r < raw.count; r++) {
        if (r % 3 === 0) await w.add(lines[r]!, [], r);
        else if (r % 3 === 1) await w.addEncoded(Buffer.from(lines[r]!), Buffer.byteLength(lines[r]!), raw, r, [], r);
        else await w.addRaw(csvLine, raw, r, undefined, csvLine.bound(raw, r), [], r);
      }
      const res = await w.finish();
      expect(res.rows).toBe(300);
      expect(res.maxRecordBytes).toBe(Math.max(...lines.map((l) => Buffer.byteLength(l))));
      expect(w.bytes).toBe(text.length);
      const written = await fs.readFile(shard);
      if (gzipLevel === undefined) expect(written.toString()).toBe(text);
      else {
        expect(gunzipSync(written).toString()).toBe(text);
        // the blocks handed on whole are the blocks parallelGzip cuts from any chunking
        expect(written.equals(await gzipOf(Buffer.from(text), 256, gzipLevel))).toBe(true);
      }
    }
  });

  it("copies runs of records that stand as they are in one piece, settled before the scanner moves on, the same bytes as record by record", async () => {
    const storage = new Storage();
    const rows: string[] = [];
    // plain and quoted values (kept as they stand only when quoted for a reason), CRLF and LF, no line break at the end
    for (let i = 0; i < 400; i++) rows.push(`${i},${["a", '"b,c"', '"d"', '""', '"e""f"', ""][i % 6]},${"z".repeat(i % 90)}${i % 7 === 3 ? "\r\n" : "\n"}`);
    const text = rows.join("").slice(0, -1);
    const expected = text.replaceAll("\r\n", "\n").replaceAll(',"d",', ",d,") + "\n";
    for (const chunk of [1, 5, 64, 1000, 1 << 20]) {
      const shard = path.join(dir, `runs-${chunk}`);
      const w = new ShardWriter({ storage, shard: storage.parse(shard), sidecar: storage.parse(`${shard}.parquet`), gzipLevel: undefined, keep: [], blockBytes: 512 });
      const scanner = new CsvScanner({ delimiter: ",", resumed: true });
      const bytes = Buffer.from(text);
      let rowNo = 0;
      const take = async (raw: RawRecords): Promise<void> => {
        for (let r = 0; r < raw.count; r++) await w.addRaw(csvLine, raw, r, undefined, csvLine.bound(raw, r), [], rowNo++);
        w.settle();
        // settled: the writer no longer needs the records' bytes (the scanner keeps only what follows them)
        if (raw.count > 0) raw.buf.fill(0, 0, raw.next[raw.count - 1]);
      };
      for (let at = 0; at < bytes.length; at += chunk) await take(scanner.pushRaw(Buffer.from(bytes.subarray(at, at + chunk))));
      await take(scanner.endRaw());
      expect(rowNo).toBe(400);
      await w.finish();
      expect((await fs.readFile(shard)).toString(), `chunk ${chunk}`).toBe(expected);
    }
  });
});
