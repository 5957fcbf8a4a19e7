/**
 * A joined dataset written into a folder (--partitioned, --part) is one dataset: readers take
 * every table file in it (`read_parquet('out/*.parquet')`, a Spark or Athena table location). So a
 * join into a folder must not leave files of another dataset beside its own: another job's shards,
 * another part count, another format. This module names the files a join's dataset consists of
 * and refuses a folder holding other dataset files (JOIN_OUTPUT_CONFLICT, exit 75) before anything
 * is written. It also removes this join's own completion marker first, so a join that fails midway
 * never leaves a marker describing files it has begun to replace.
 */
import { BtkitError, counted } from "../errors.js";
import type { ShardEntry } from "../protocol/descriptor.js";
import { toUri, type Location } from "../io/location.js";
import type { Storage } from "../io/storage.js";
import { EXTENSION_OF } from "./writers.js";
import { shardStem, type Part } from "./plan.js";
import { partLabel, unpaddedPartLabel } from "../protocol/layout.js";

/** The names (top level of the folder) of one joined dataset, and this join's completion marker. */
export interface FolderDataset {
  /** every file name the dataset may hold, whoever of its parts writes it */
  names: Set<string>;
  /** the marker this join writes last (removed first), if any */
  marker?: string;
  /**
   * --part: what every part of the dataset must share (job, shard count, part count, format, the
   * options that shape its columns). Each part checks the other parts' (identityFile) before it
   * writes and stores its own once written: part files of another job or of other columns have
   * the same names. A part joined again replaces its own, so rerunning every part with a changed
   * option works.
   */
  identity?: { part: Part; of: Record<string, unknown> };
  /**
   * This part's files under the names joins gave them before part labels were padded
   * (`part-3of12.parquet`, `.btkit-part-3of12.json`): part of the dataset, and removed once this
   * part's own files are written under the padded names, so no part is in the folder twice.
   */
  legacy?: string[];
}

/** Where part i of N keeps its identity (hidden: readers of *.parquet do not see it). */
export function identityFile(part: Part): string {
  return `.btkit-${partLabel(part)}.json`;
}
const IDENTITY_RE = /^\.btkit-part-(\d+)of(\d+)\.json$/;

const TABLE_EXTENSIONS = [...new Set(Object.values(EXTENSION_OF))];
const MARKER_RE = /^btkit(?:-part-\d+of\d+)?\.json$/;

/**
 * The dataset of a join into a folder. `shards` are all the descriptor's shards (the parts of a
 * dataset write different ones); `ext` the format's extension. Partitioned: one file per shard
 * (`empty.ext` when there are none) and btkit.json, or with --part i/N btkit-part-KofN.json for
 * every K. --part without --partitioned: part-KofN.ext and btkit-part-KofN.json for every K. A
 * part's btkit-part-KofN.json is its descriptor with its results (rows per shard, files), the
 * completion marker of that part: removed first, written last, read by whoever combines the parts
 * (join --processing). K is padded to the width of N (part-03of12); the unpadded names of earlier
 * joins belong to the dataset too.
 */
export function folderDataset(shards: readonly ShardEntry[], ext: string, partitioned: boolean, part: Part | undefined): FolderDataset {
  const names = new Set<string>();
  // each part under its padded label and the unpadded one joins wrote before
  const every = (f: (label: string) => string): void => {
    for (let k = 0; k < (part?.count ?? 1); k++) {
      const p = { index: k, count: part?.count ?? 1 };
      names.add(f(partLabel(p)));
      names.add(f(unpaddedPartLabel(p)));
    }
  };
  const legacy = (f: (label: string) => string): string[] => (part && unpaddedPartLabel(part) !== partLabel(part) ? [f(unpaddedPartLabel(part)), `.btkit-${unpaddedPartLabel(part)}.json`] : []);
  if (partitioned) {
    for (const s of shards) names.add(`${shardStem(s.name)}${ext}`);
    names.add(`empty${ext}`);
    if (part) every((label) => `btkit-${label}.json`);
    else names.add("btkit.json");
    const marker = part ? `btkit-${partLabel(part)}.json` : "btkit.json";
    return { names, marker, legacy: legacy((label) => `btkit-${label}.json`) };
  }
  if (!part) return { names };
  every((label) => `${label}${ext}`);
  every((label) => `btkit-${label}.json`);
  return { names, marker: `btkit-${partLabel(part)}.json`, legacy: legacy((label) => `${label}${ext}`) };
}

/** Whether a top-level file name is a table file or a marker of some joined dataset. */
function isDatasetFile(name: string): boolean {
  return MARKER_RE.test(name) || TABLE_EXTENSIONS.some((e) => name.endsWith(e));
}

/**
 * Refuses a folder that holds dataset files this dataset would not write (JOIN_OUTPUT_CONFLICT
 * naming the first and how many), then removes this join's own marker. Files in subfolders and
 * files that are no table (a README) are left alone.
 */
export async function prepareFolder(storage: Storage, folder: Location, dataset: FolderDataset, what: string): Promise<void> {
  const where = toUri(folder);
  const prefix = storage.parse(where.endsWith("/") ? where : `${where}/`);
  const strangers: string[] = [];
  const identities: string[] = [];
  for await (const o of storage.list(prefix)) {
    if (o.relative.includes("/")) continue;
    const id = IDENTITY_RE.exec(o.relative);
    if (id) {
      // this part's own, under either label, is replaced; the other parts' must agree
      const mine = dataset.identity !== undefined && Number(id[1]) === dataset.identity.part.index && Number(id[2]) === dataset.identity.part.count;
      if (!mine) identities.push(o.relative);
      continue;
    }
    if (!isDatasetFile(o.relative) || dataset.names.has(o.relative)) continue;
    strangers.push(o.relative);
  }
  if (strangers.length > 0) {
    // table files first: they say more about the other dataset than its markers
    strangers.sort((a, b) => Number(MARKER_RE.test(a)) - Number(MARKER_RE.test(b)));
    throw new BtkitError(
      "JOIN_OUTPUT_CONFLICT",
      `${where} holds ${counted(strangers.length, "file")} of another joined dataset (${strangers.slice(0, 3).join(", ")}${strangers.length > 3 ? ", ..." : ""}) that ${what} would not replace: readers of the folder would mix both. Join into an empty folder, or remove those files first`,
      { location: where, got: strangers[0], count: strangers.length },
    );
  }
  if (dataset.identity !== undefined) {
    const mine = JSON.stringify(dataset.identity.of);
    for (const name of identities) {
      const at = storage.child(folder, name);
      let theirs: string;
      try {
        theirs = (await storage.readText(at)).trim();
      } catch (err) {
        // removed since the listing: that part is starting again (it removes its marker first)
        if (err instanceof BtkitError && err.code === "IO_NOT_FOUND") continue;
        throw err;
      }
      if (theirs === mine) continue;
      throw new BtkitError(
        "JOIN_OUTPUT_CONFLICT",
        `${where} holds parts of another joined dataset (${name}: ${theirs.slice(0, 300)}; this part would be ${mine.slice(0, 300)}): parts of one dataset share the job, the part count, the format and the column options. Join every part the same way into an empty folder, or remove the folder's files first`,
        { location: where, expected: mine, got: theirs },
      );
    }
  }
  if (dataset.marker !== undefined) await storage.delete(storage.child(folder, dataset.marker));
}

/**
 * Stores this part's identity, once its files are written (a part that failed leaves none to check
 * against), and removes this part's files under the unpadded label of earlier joins (`legacy`).
 */
export async function recordIdentity(storage: Storage, folder: Location, dataset: FolderDataset): Promise<void> {
  if (dataset.identity === undefined) return;
  for (const name of dataset.legacy ?? []) await storage.delete(storage.child(folder, name));
  await storage.write(storage.child(folder, identityFile(dataset.identity.part)), JSON.stringify(dataset.identity.of), { contentType: "application/json" });
}
