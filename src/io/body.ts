/** Helpers for byte bodies: normalize, hash while streaming, and peek the first bytes. */
import { createHash, type Hash } from "node:crypto";
import { Readable } from "node:stream";

export type Body = Readable | AsyncIterable<Uint8Array> | Iterable<Uint8Array> | Uint8Array | string;

/** Any body as an async iterable of Buffers. */
export async function* bodyChunks(body: Body): AsyncGenerator<Buffer> {
  if (typeof body === "string") {
    yield Buffer.from(body, "utf8");
    return;
  }
  if (body instanceof Uint8Array) {
    yield Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    return;
  }
  for await (const chunk of body as AsyncIterable<Uint8Array | string>) {
    yield typeof chunk === "string" ? Buffer.from(chunk, "utf8") : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  }
}

/** Counts bytes and computes sha256 (and optionally part-wise MD5s for S3 ETags) of what flows through. */
export class Digest {
  bytes = 0;
  readonly #sha = createHash("sha256");
  readonly #md5 = createHash("md5");
  readonly #partSize: number;
  #partMd5: Hash | undefined;
  #partFill = 0;
  readonly partMd5s: Buffer[] = [];

  readonly #hashed: boolean;

  /** `sha256` false: only counts the bytes (finish() is then not to be called) */
  constructor(partSize = 0, sha256 = true) {
    this.#partSize = partSize;
    this.#hashed = sha256;
  }

  update(chunk: Buffer): void {
    this.bytes += chunk.length;
    if (this.#hashed) this.#sha.update(chunk);
    if (this.#partSize > 0) this.#md5.update(chunk);
    if (this.#partSize <= 0) return;
    let off = 0;
    while (off < chunk.length) {
      this.#partMd5 ??= createHash("md5");
      const take = Math.min(this.#partSize - this.#partFill, chunk.length - off);
      this.#partMd5.update(chunk.subarray(off, off + take));
      this.#partFill += take;
      off += take;
      if (this.#partFill === this.#partSize) this.#closePart();
    }
  }

  #closePart(): void {
    if (this.#partMd5) this.partMd5s.push(this.#partMd5.digest());
    this.#partMd5 = undefined;
    this.#partFill = 0;
  }

  /** Finishes: the sha256 hex digest. */
  finish(): string {
    if (this.#partFill > 0) this.#closePart();
    return this.#sha.digest("hex");
  }

  /**
   * The ETags an unencrypted (or SSE-S3) object with these bytes may carry: the MD5 of the whole
   * (a single PUT, and S3-compatible servers that hash the assembled object) or the multipart form
   * md5(part md5s)-N. Call after finish().
   */
  expectedEtags(): string[] {
    const parts = this.partMd5s.length === 0 ? [createHash("md5").digest()] : this.partMd5s;
    const out: string[] = [this.#md5.digest("hex")];
    const combined = createHash("md5");
    for (const p of parts) combined.update(p);
    out.push(`${combined.digest("hex")}-${parts.length}`);
    return out;
  }
}

/** Reads a whole body into one Buffer (for small documents only). */
export async function collect(body: Body, limitBytes = 256 * 1024 * 1024): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of bodyChunks(body)) {
    n += c.length;
    if (n > limitBytes) throw new RangeError(`body larger than ${limitBytes} bytes`);
    parts.push(c);
  }
  return Buffer.concat(parts, n);
}
