import { constants, crc32, deflateRawSync, gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { parallelGzip } from "../../src/prepare/gzip.js";

async function gz(chunks: Buffer[], blockBytes: number, level = 6): Promise<Buffer> {
  const out: Buffer[] = [];
  async function* src(): AsyncGenerator<Buffer> {
    yield* chunks;
  }
  for await (const c of parallelGzip(src(), { level, blockBytes, inFlight: 3 })) out.push(c);
  return Buffer.concat(out);
}

describe("parallelGzip", () => {
  it("produces one valid gzip member across many blocks, deterministic, whatever the chunking", async () => {
    let x = 12345;
    const parts: string[] = [];
    for (let i = 0; i < 20000; i++) {
      x = (x * 1103515245 + 12345) % 2147483648;
      parts.push(`${i},${x % 1000},word${x % 37} é 👍\n`);
    }
    const data = Buffer.from(parts.join(""));
    const a = await gz([data], 4096);
    const chunks: Buffer[] = [];
    for (let off = 0; off < data.length; off += 777) chunks.push(data.subarray(off, off + 777));
    const b = await gz(chunks, 4096);
    expect(a.equals(b)).toBe(true);
    expect(gunzipSync(a).equals(data)).toBe(true);
    expect([...a.subarray(0, 10)]).toEqual([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
    expect(a.readUInt32LE(a.length - 4)).toBe(data.length);
    // priming each block with the previous 32 KiB keeps the ratio close to one-stream gzip
    const one = await gz([data], data.length + 1);
    expect(a.length).toBeLessThan(one.length * 1.1);
  });

  it("handles empty input and level 0", async () => {
    expect(gunzipSync(await gz([], 1024)).length).toBe(0);
    const d = Buffer.from("abc\n".repeat(1000));
    expect(gunzipSync(await gz([d], 100, 0)).equals(d)).toBe(true);
  });

  it("writes the bytes of the pigz method with zlib's default output buffer (the larger one only saves round trips)", async () => {
    let x = 7;
    const parts: string[] = [];
    // text that deflates well and bytes that do not: output above and below the output buffer's size
    for (let i = 0; i < 30000; i++) {
      x = (x * 1103515245 + 12345) % 2147483648;
      parts.push(i % 3 === 0 ? `${i},${x},row ${x % 97}\n` : String.fromCharCode(...[0, 1, 2, 3, 4, 5].map((k) => 32 + ((x >> (k * 5)) % 90))));
    }
    const data = Buffer.from(parts.join(""));
    const blockBytes = 64 * 1024;
    const want: Buffer[] = [Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff])];
    for (let at = 0; at < data.length; at += blockBytes) {
      const block = data.subarray(at, at + blockBytes);
      const dictionary = at > 0 ? data.subarray(Math.max(0, at - 32 * 1024), at) : undefined;
      want.push(deflateRawSync(block, { level: 5, memLevel: 9, finishFlush: constants.Z_SYNC_FLUSH, ...(dictionary ? { dictionary } : {}) }));
    }
    const trailer = Buffer.alloc(8);
    trailer.writeUInt32LE(crc32(data) >>> 0, 0);
    trailer.writeUInt32LE(data.length, 4);
    want.push(Buffer.from([3, 0]), trailer);
    expect((await gz([data], blockBytes, 5)).equals(Buffer.concat(want))).toBe(true);
  });
});
