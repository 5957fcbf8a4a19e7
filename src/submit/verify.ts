/**
 * Shards are checked against the descriptor before a job is launched: a shard changed after prep
 * (same size, other bytes) would be transformed, and its predictions joined to the sidecar rows of
 * what prep wrote. Local shards are read and hashed; S3 objects written by btkit answer with the
 * sha256 in their metadata (HEAD only, no download), which storage checked when it wrote them,
 * while their ETag is the one the descriptor records (an object written again, even with the
 * metadata copied, is downloaded and hashed).
 */
import { BtkitError } from "../errors.js";
import type { Descriptor, ShardEntry } from "../protocol/descriptor.js";
import { manifestDocument } from "../protocol/layout.js";
import type { Storage } from "../io/storage.js";

/**
 * Verifies the named shards (default all) of a descriptor: IO_CHANGED naming the first shard whose
 * size or sha256 differs from the descriptor, IO_NOT_FOUND for one that is gone.
 */
export async function verifyShards(d: Descriptor, storage: Storage, options: { names?: readonly string[]; signal?: AbortSignal } = {}): Promise<ShardEntry[]> {
  const wanted = options.names === undefined ? undefined : new Set(options.names);
  const shards = d.shards.filter((s) => wanted === undefined || wanted.has(s.name));
  for (const s of shards) {
    options.signal?.throwIfAborted();
    await storage.verify(s.location, { bytes: s.bytes, sha256: s.sha256, etag: s.etag }, `shard ${s.name}`, { signal: options.signal });
  }
  return shards;
}

/**
 * The ManifestFile is what the job reads: it must list exactly the descriptor's shards under its
 * prefix (a manifest edited after prep would send the model files that were never checked).
 * IO_CHANGED naming it otherwise.
 */
export async function verifyManifest(d: Descriptor, storage: Storage): Promise<void> {
  const want = manifestDocument(d.manifest.prefix, d.shards.map((s) => s.name));
  let got: string;
  try {
    got = JSON.stringify(JSON.parse(await storage.readText(d.manifest.location)));
  } catch (err) {
    if (err instanceof BtkitError && err.code !== "IO_CHANGED" && err.code.startsWith("IO_")) throw err;
    got = "(not JSON)";
  }
  if (got !== want) {
    throw new BtkitError("IO_CHANGED", `the manifest ${d.manifest.location} changed after prep wrote it: it does not list exactly the descriptor's shards under ${d.manifest.prefix}; prepare it again (btkit prep --overwrite)`, { location: d.manifest.location, expected: want.slice(0, 200), got: got.slice(0, 200) });
  }
}
