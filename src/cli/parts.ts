/**
 * submit --descriptor given a preparation made in parts and not merged yet: the folder or prefix
 * (prep's --out) holds no btkit.json, but parts/ holds the part descriptors that `btkit prep
 * --part i/N` runs write (`parts/part-<i>of<N>.btkit.json`, protocol/layout.ts partNames). When
 * all N are there, they are merged (prepare's merge(), which checks that they are parts 0..N-1 of
 * one preparation, verifies the later parts' sidecars and writes OUT/btkit.json and
 * OUT/manifest.json), and the merged descriptor is what submit runs on; a rerun then reads that
 * btkit.json. When some are missing, IO_NOT_FOUND names them; with --wait-parts the command polls
 * (every BTKIT_PARTS_POLL_MS milliseconds, default 10,000), logging each change in the count,
 * until all are there or its AbortSignal (Ctrl-C) stops it.
 */
import { BtkitError, counted } from "../errors.js";
import { formatLocation, type Location } from "../io/location.js";
import type { Storage } from "../io/storage.js";
import { parseDescriptor, type Descriptor } from "../protocol/descriptor.js";
import { LAYOUT, PARTS_DIR } from "../protocol/layout.js";
import type { CliContext } from "./context.js";

/** The poll interval of --wait-parts when BTKIT_PARTS_POLL_MS does not set one, in milliseconds. */
export const DEFAULT_PARTS_POLL_MS = 10_000;

/** A part descriptor's name under parts/: `part-<i>of<N>.btkit.json`, i zero-padded to N's width or not. */
const PART_DESCRIPTOR_RE = /^part-(\d+)of(\d+)\.btkit\.json$/;

/** The part descriptors found under parts/: their count N and where each present part's lies (by index). */
export interface PartsFound {
  count: number;
  present: Map<number, string>;
  /** the indexes 0..N-1 without a descriptor, ascending */
  missing: number[];
}

/**
 * Lists the part descriptors under `partsDir` (a location ending in parts/). Undefined when there
 * are none; PREP_MERGE when they disagree on N (parts of two preparations: clear out the stale ones).
 */
export async function findParts(storage: Storage, partsDir: Location): Promise<PartsFound | undefined> {
  const byCount = new Map<number, Map<number, string>>();
  for await (const o of storage.list(partsDir)) {
    const m = PART_DESCRIPTOR_RE.exec(o.relative);
    if (!m) continue;
    const index = Number(m[1]);
    const count = Number(m[2]);
    if (!(count >= 1 && index < count)) continue;
    const of = byCount.get(count) ?? new Map<number, string>();
    of.set(index, o.location);
    byCount.set(count, of);
  }
  if (byCount.size === 0) return undefined;
  if (byCount.size > 1) {
    const counts = [...byCount.keys()].sort((a, b) => a - b);
    throw new BtkitError("PREP_MERGE", `${formatLocation(partsDir)} holds part descriptors of ${counts.map((n) => `${n} parts`).join(" and ")}: the parts of two preparations; remove the part descriptors of the stale one`, { location: formatLocation(partsDir), got: counts });
  }
  const [count, present] = [...byCount][0]!;
  const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !present.has(i));
  return { count, present, missing };
}

function missingText(p: PartsFound): string {
  return `${p.present.size}/${p.count} present (missing: ${p.missing.join(", ")})`;
}

/** Resolves after `ms` milliseconds, or at once when `signal` aborts. */
function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

/**
 * The descriptor submit runs on: ctx.readDescriptor's (stdin, a file, a folder's btkit.json), or,
 * when `from` is a folder or prefix without btkit.json whose parts/ holds part descriptors, those
 * parts merged (see the module doc). Throws IO_NOT_FOUND naming the missing parts unless
 * `waitParts`, the error ctx.readDescriptor threw when there are no parts either, PREP_MERGE (or
 * IO_CHANGED) when merge() refuses the parts, and the signal's reason when aborted while waiting.
 */
export async function readDescriptorOrParts(ctx: CliContext, from: string | undefined, o: { waitParts: boolean }): Promise<{ descriptor: Descriptor; source: string }> {
  if (o.waitParts && (from === undefined || from === "-")) {
    throw new BtkitError("USAGE_MISSING", "--wait-parts waits for the part descriptors under a preparation: give its folder or prefix with --descriptor", { option: "--descriptor" });
  }
  if (from === undefined || from === "-") return ctx.readDescriptor(from);
  let notFound: BtkitError;
  try {
    return await ctx.readDescriptor(from);
  } catch (err) {
    if (!(err instanceof BtkitError) || err.code !== "IO_NOT_FOUND") throw err;
    notFound = err;
  }
  const storage = await ctx.storage();
  const base = storage.parse(from);
  const partsDir = storage.child(base, PARTS_DIR);
  const where = formatLocation(base);
  let found = await findParts(storage, partsDir);
  if (found === undefined) throw notFound;
  if (found.missing.length > 0 && !o.waitParts) {
    const names = found.missing.map((i) => `part ${i}`).join(", ");
    throw new BtkitError(
      "IO_NOT_FOUND",
      `--descriptor ${from}: no ${LAYOUT.descriptor} there, and ${formatLocation(partsDir)} holds ${counted(found.present.size, "part descriptor")} of ${found.count}: missing ${names} (their btkit prep --part I/${found.count} runs have not finished, or failed). --wait-parts waits for them, then merges the parts and submits`,
      { location: where, missing: found.missing, expected: found.count, got: found.present.size, option: "--wait-parts" },
    );
  }
  if (found.missing.length > 0) {
    const env = Number(ctx.env.BTKIT_PARTS_POLL_MS);
    const pollMs = Number.isFinite(env) && env >= 0 && ctx.env.BTKIT_PARTS_POLL_MS !== "" ? env : DEFAULT_PARTS_POLL_MS;
    let said = "";
    while (found.missing.length > 0) {
      const line = `submit: waiting for parts: ${missingText(found)}`;
      if (line !== said) ctx.log(line);
      said = line;
      await pause(pollMs, ctx.io.signal);
      ctx.io.signal?.throwIfAborted();
      const again = await findParts(storage, partsDir);
      if (again === undefined) throw notFound;
      found = again;
    }
  }
  const parts: Descriptor[] = [];
  for (const [, location] of [...found.present].sort((a, b) => a[0] - b[0])) parts.push(parseDescriptor(await storage.readText(location), location));
  const { merge } = await import("../prepare/index.js");
  const descriptor = await merge(parts, { storage });
  const merged = formatLocation(storage.child(base, LAYOUT.descriptor));
  ctx.log(`submit: merged ${counted(found.count, "part descriptor")} (${counted(descriptor.source.rowsWritten, "row")} in ${counted(descriptor.shards.length, "shard")}) into ${merged}`);
  return { descriptor, source: merged };
}
