/**
 * What prep finds under --out before it writes, and what it clears after: the rerun check (an
 * identical, intact preparation is returned as is; anything else needs --overwrite) and the
 * removal of an overwritten preparation's leftovers.
 */
import { BtkitError, optionHint } from "../errors.js";
import { childLocation, toUri, type Location } from "../io/location.js";
import type { Storage } from "../io/storage.js";
import { parseDescriptor, type Descriptor, type ShardEntry } from "../protocol/descriptor.js";
import { LAYOUT, manifestDocument, partNames, shardBaseName, type Part } from "../protocol/layout.js";
import type { ResolvedInput } from "./inputs.js";

/**
 * What is already at the descriptor's location: undefined when nothing (or, with overwrite, after
 * deleting the old descriptor first); the earlier descriptor when it records this very preparation
 * (same fingerprint, not stdin or rows) and its manifest, shards and sidecars still hold what it says, so a
 * rerun is a no-op. Anything else is PREP_OUT_EXISTS saying why and naming --overwrite.
 */
export async function checkExisting(storage: Storage, loc: Location, fingerprint: string, inputs: ResolvedInput[], overwrite: boolean, options: Record<string, unknown>): Promise<Descriptor | undefined> {
  if (!(await storage.exists(loc))) return undefined;
  const text = await storage.readText(loc);
  let prev: Descriptor | undefined;
  try {
    prev = parseDescriptor(text, toUri(loc));
  } catch {
    prev = undefined;
  }
  const same = prev !== undefined && prev.source.options.fingerprint === fingerprint && !inputs.some((i) => i.stdin);
  let changed: string | undefined;
  if (same && prev && !overwrite) {
    // the same preparation: a no-op, provided its shards and sidecars still hold what it records
    changed = await firstChanged(storage, prev);
    if (changed === undefined) return prev;
  }
  if (!overwrite) {
    const why = inputs.some((i) => i.rows)
      ? "rows given to prepare() cannot be shown to be the same"
      : inputs.some((i) => i.stdin)
        ? "input from stdin cannot be shown to be the same"
        : prev === undefined
          ? "its btkit.json is not a valid descriptor"
          : changed !== undefined
            ? `${changed} changed after it was written`
            : `${differences(prev, inputs, options)}`;
    throw new BtkitError("PREP_OUT_EXISTS", `${toUri(loc)} already holds a preparation and ${why}; use ${optionHint("overwrite", true)} to replace it, or another ${optionHint("out")}`, { location: toUri(loc), option: "overwrite" });
  }
  // The completion marker goes first, so a crash from here on never leaves a stale "complete" output.
  await storage.delete(loc);
  return undefined;
}

/** What differs between an earlier preparation and this one: the inputs (location, size) and each option by name, old and new value. */
function differences(prev: Descriptor, inputs: readonly ResolvedInput[], options: Record<string, unknown>): string {
  const parts: string[] = [];
  const was = prev.source.inputs.map((i) => `${i.location}${i.bytes !== undefined ? ` (${i.bytes} B)` : ""}`);
  const now = inputs.map((i) => `${i.uri}${i.rawBytes !== undefined ? ` (${i.rawBytes} B)` : ""}`);
  if (JSON.stringify(was) !== JSON.stringify(now)) parts.push(`the inputs differ (${was.join(", ")} before; ${now.join(", ")} now)`);
  const old = prev.source.options as Record<string, unknown>;
  const changed = Object.keys(options).filter((k) => JSON.stringify(old[k] ?? null) !== JSON.stringify(options[k] ?? null));
  if (changed.length > 0) parts.push(`options differ: ${changed.map((k) => `${k} ${JSON.stringify(old[k] ?? null)} before, ${JSON.stringify(options[k] ?? null)} now`).join("; ")}`);
  // the same inputs and options under another protocol version or fingerprint rule
  return parts.length > 0 ? parts.join(", and ") : "it was made by another version of the fingerprint (same inputs and options)";
}

/** The first shard or sidecar of a preparation that no longer holds what it records (size, sha256), or undefined. */
async function firstChanged(storage: Storage, d: Descriptor): Promise<string | undefined> {
  const manifest = await storage.readText(d.manifest.location).catch(() => "");
  if (manifest.trim() !== manifestDocument(d.manifest.prefix, d.shards.map((s) => s.name))) return `manifest ${d.manifest.location}`;
  for (const s of d.shards) {
    const shard = await storage.digest(s.location, { etag: s.etag });
    if (!shard || shard.bytes !== s.bytes || shard.sha256 !== s.sha256) return `shard ${s.location}`;
    if (s.sidecarSha256 !== undefined) {
      const sidecar = await storage.digest(s.sidecar, { etag: s.sidecarEtag });
      if (!sidecar || sidecar.sha256 !== s.sidecarSha256) return `sidecar ${s.sidecar}`;
    }
  }
  return undefined;
}

/**
 * After an --overwrite: the shards, sidecars and reject file of the earlier preparation that this
 * one did not write go. A part only removes its own files (other parts share the folders); a whole
 * preparation leaves part files alone.
 */
export async function removeStale(storage: Storage, out: Location, part: Part | undefined, shards: readonly ShardEntry[], wroteRejects: boolean): Promise<void> {
  const keep = new Set<string>();
  for (const s of shards) {
    keep.add(s.location);
    keep.add(s.sidecar);
  }
  const mine = part ? `${shardBaseName(0, part).replace(/0+$/, "")}` : "";
  for (const dir of [LAYOUT.shardsDir, LAYOUT.sidecarsDir]) {
    const base = childLocation(out, dir);
    for await (const o of storage.list(base)) {
      const loc = storage.parse(o.location);
      const name = o.relative.slice(o.relative.lastIndexOf("/") + 1);
      if (part && !name.startsWith(mine)) continue;
      if (!part && /^part-\d+of\d+-/.test(name)) continue;
      if (!keep.has(toUri(loc))) await storage.delete(loc);
    }
  }
  if (!wroteRejects) await storage.delete(childLocation(out, partNames(part).rejects));
}
