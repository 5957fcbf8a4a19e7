/**
 * Tests on the four bytes of a 32-bit word at once, for byte loops that mostly find nothing (the
 * end of a CSV field, a byte a JSON string escapes): read the word with DataView#getInt32 (either
 * byte order), test it, and look at its bytes one by one only when the test says one is there.
 * These are haszero and hasless from https://graphics.stanford.edu/~seander/bithacks.html#ZeroInWord,
 * exact as answers for the whole word: a byte below n borrows into its own top bit, no byte
 * borrows unless one is below n, and a byte of 0x80 or more is masked out by ~x.
 */

/** Non-zero when one of x's four bytes is the byte b, given as b * 0x01010101 (`repeated`). */
export function hasByte(x: number, repeated: number): number {
  const y = x ^ repeated;
  return (y - 0x01010101) & ~y & 0x80808080;
}

/** Non-zero when one of x's four bytes is below n (1 <= n <= 128), given as n * 0x01010101 (`repeated`). */
export function hasBelow(x: number, repeated: number): number {
  return (x - repeated) & ~x & 0x80808080;
}

/** Non-zero when one of x's four bytes is one JSON.stringify escapes in a string: below 0x20, `"` or `\`. */
export function hasJsonEscape(x: number): number {
  return hasBelow(x, 0x20202020) | hasByte(x, 0x22222222) | hasByte(x, 0x5c5c5c5c);
}

/**
 * Copies bytes from src (from `from`) to out (at `at`) four at a time while a whole word is left
 * before `end` and it holds no byte a JSON string escapes; returns how many it copied (a multiple
 * of 4: the caller goes on byte by byte from there). Both DataViews index bytes as their arrays do.
 */
export function copyJsonSafeWords(src: DataView, from: number, end: number, out: DataView, at: number): number {
  let k = from;
  while (k + 4 <= end) {
    const x = src.getInt32(k, true);
    if (hasJsonEscape(x) !== 0) break;
    out.setInt32(at + k - from, x, true);
    k += 4;
  }
  return k - from;
}

/**
 * Copies src[from, end) to out at `at` four bytes at a time, the last word whole: it reads up to
 * 3 bytes past `end` and writes up to 3 bytes past at + (end - from), so the caller guarantees
 * both views reach that far and overwrites (or ignores) the bytes written past the copy. Returns
 * end - from. For short spans whose byte loop would cost more than the few words.
 */
export function copyWordsPast(src: DataView, from: number, end: number, out: DataView, at: number): number {
  for (let k = from; k < end; k += 4, at += 4) out.setInt32(at, src.getInt32(k, true), true);
  return end - from;
}
