/**
 * The four-bytes-at-once tests answer exactly what a loop over the word's bytes answers: every
 * byte value in every position, and random words with bytes of 0x80 and above (UTF-8's
 * multi-byte sequences, which the ~x mask keeps from looking like matches).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { hasBelow, hasByte } from "../../src/protocol/words.js";

function bytesOf(x: number): number[] {
  return [x & 0xff, (x >>> 8) & 0xff, (x >>> 16) & 0xff, x >>> 24];
}

describe("word tests", () => {
  it("hasByte is non-zero exactly when one of the four bytes is the byte (fast-check, fixed seed)", () => {
    fc.assert(
      fc.property(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), fc.integer({ min: 0, max: 255 }), (x, b) => {
        expect(hasByte(x, b * 0x01010101) !== 0).toBe(bytesOf(x).includes(b));
      }),
      { seed: 20261130, numRuns: 20000 },
    );
  });

  it("hasBelow is non-zero exactly when one of the four bytes is below n (fast-check, fixed seed)", () => {
    fc.assert(
      fc.property(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), fc.integer({ min: 1, max: 128 }), (x, n) => {
        expect(hasBelow(x, n * 0x01010101) !== 0).toBe(bytesOf(x).some((c) => c < n));
      }),
      { seed: 20261130, numRuns: 20000 },
    );
  });

  it("every byte value in every position, among bytes that match nothing (0x80-0xff and plain letters)", () => {
    for (const filler of [0x7a, 0x80, 0xc3, 0xff]) {
      for (let pos = 0; pos < 4; pos++) {
        for (let b = 0; b < 256; b++) {
          const bytes = [filler, filler, filler, filler];
          bytes[pos] = b;
          const x = new DataView(Uint8Array.from(bytes).buffer).getInt32(0, true);
          for (const probe of [0x22, 0x2c, 0x5c, 0x0a]) expect(hasByte(x, probe * 0x01010101) !== 0, `${b} at ${pos} among ${filler}, probe ${probe}`).toBe(bytes.includes(probe));
          expect(hasBelow(x, 0x20202020) !== 0, `${b} at ${pos} among ${filler}`).toBe(bytes.some((c) => c < 0x20));
        }
      }
    }
  });
});
