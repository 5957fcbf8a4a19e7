/**
 * The N parts of a `--part i/N` join, combined into the results of the whole join (what `btkit
 * join --processing` prints once every instance has joined its part).
 *
 * Each part stores its descriptor with its results as `btkit-part-IofN.json` in the dataset's
 * folder, last (folder.ts: the part's completion marker). The parts form the whole join when:
 * every one of the N is there and says it is part i of N, every one joined the same job's
 * descriptor (job name, the same shards), every shard of the job is joined (or listed missing) by
 * exactly one part, and all that joined rows have the same columns (a part that joined none knows
 * only the declared predictions, and writes no table: join.ts EMPTY_PART_NOTE). Parts are joined apart, so each infers its
 * prediction types from its own lines: one part's int64 where another's lines hold floats is a
 * JOIN_TYPE_CONFLICT naming the `--prediction-type` that makes every part agree. The rest is
 * JOIN_OUTPUT_CONFLICT (the folder does not hold exactly this join's N parts).
 */
import { BtkitError, counted, optionHint } from "../errors.js";
import { toUri, type Location } from "../io/location.js";
import type { Storage } from "../io/storage.js";
import { parseDescriptor, type Descriptor, type ResultsSection, type SkipCount } from "../protocol/descriptor.js";
import { partLabel, type Part } from "../protocol/layout.js";

/** The name of part i of N's descriptor with results in the dataset's folder. */
export function partResultsName(part: Part): string {
  return `btkit-${partLabel(part)}.json`;
}

/**
 * Reads the N parts' descriptors (`btkit-part-IofN.json`) from `folder`; a part without one (it
 * did not finish) is JOIN_OUTPUT_CONFLICT naming it.
 */
export async function readPartResults(storage: Storage, folder: string | Location, count: number): Promise<Descriptor[]> {
  const base = typeof folder === "string" ? storage.parse(folder) : folder;
  const where = toUri(base);
  const parts: Descriptor[] = [];
  const absent: string[] = [];
  for (let index = 0; index < count; index++) {
    const name = partResultsName({ index, count });
    const at = storage.child(base, name);
    if (!(await storage.exists(at))) {
      absent.push(name);
      continue;
    }
    parts.push(parseDescriptor(await storage.readText(at), toUri(at)));
  }
  if (absent.length > 0) {
    throw new BtkitError(
      "JOIN_OUTPUT_CONFLICT",
      `${where} lacks the results of ${counted(absent.length, "part")} of ${count} (${absent.slice(0, 3).join(", ")}${absent.length > 3 ? ", ..." : ""}): a part that did not finish stores none. Join those parts again (btkit join --part i/${count} into the same folder), or the whole join`,
      { location: where, got: absent[0], count: absent.length },
    );
  }
  return parts;
}

const sameColumns = (a: ResultsSection, b: ResultsSection): boolean => JSON.stringify(a.columns ?? []) === JSON.stringify(b.columns ?? []);

/**
 * The results of the whole join from its N parts' descriptors (`parts[i]` is part i of N), checked
 * as the module header says; `descriptor` is the descriptor the parts joined (its job and shards).
 * `location` is the dataset's folder URI. Rows, rows per shard, missing shards and files are the
 * parts' in part order; notes of one reason are added up.
 */
export function combinePartResults(descriptor: Descriptor, parts: readonly Descriptor[], location: string): ResultsSection {
  const count = parts.length;
  const where = location;
  const conflict: (message: string, got?: unknown) => never = (message, got) => {
    throw new BtkitError("JOIN_OUTPUT_CONFLICT", `${where}: ${message}. Join every part of this descriptor into an empty folder (btkit join --processing, or --part i/${count} for each i)`, { location: where, got });
  };
  const job = descriptor.job?.name;
  const owner = new Map<string, number>();
  for (const [i, d] of parts.entries()) {
    const r = d.results;
    if (r === undefined) conflict(`${partResultsName({ index: i, count })} has no results section`);
    if (r.part?.index !== i || r.part.count !== count) conflict(`${partResultsName({ index: i, count })} holds the results of ${r.part ? `part ${r.part.index}/${r.part.count}` : "a whole join"}, not of part ${i}/${count}`, r.part);
    if (d.job?.name !== job) conflict(`part ${i}/${count} joined job ${d.job?.name ?? "(none)"}, not ${job}`, d.job?.name);
    for (const shard of [...Object.keys(r.rowsPerShard), ...r.missing]) {
      const before = owner.get(shard);
      if (before !== undefined) conflict(`shard ${shard} is joined by part ${before}/${count} and by part ${i}/${count}`, shard);
      owner.set(shard, i);
    }
  }
  const unjoined = descriptor.shards.filter((s) => !owner.has(s.name)).map((s) => s.name);
  if (unjoined.length > 0) conflict(`no part joined ${counted(unjoined.length, "shard")} of the job (${unjoined.slice(0, 3).join(", ")}${unjoined.length > 3 ? ", ..." : ""})`, unjoined[0]);
  const known = new Set(descriptor.shards.map((s) => s.name));
  const stranger = [...owner.keys()].find((s) => !known.has(s));
  if (stranger !== undefined) conflict(`part ${owner.get(stranger)}/${count} joined shard ${stranger}, which the descriptor does not have`, stranger);

  const results = parts.map((d) => d.results!);
  if (results.length === 0) conflict("no parts to combine");
  // the columns of the parts that joined rows (of part 0 when none did)
  const withRows = results.flatMap((r, i) => (r.rows > 0 ? [i] : []));
  const ref = withRows[0] ?? 0;
  const first = results[ref]!;
  const odd = withRows.find((i) => !sameColumns(results[i]!, first)) ?? -1;
  if (odd >= 0) {
    const a = new Map((first.columns ?? []).map((c) => [c.name, c.type]));
    const diff = (results[odd]!.columns ?? []).find((c) => a.get(c.name) !== c.type);
    if (diff !== undefined && a.has(diff.name)) {
      const wider = [a.get(diff.name)!, diff.type].includes("float64") && [a.get(diff.name)!, diff.type].every((t) => t === "int64" || t === "float64") ? "float64" : "utf8";
      throw new BtkitError(
        "JOIN_TYPE_CONFLICT",
        `${where}: column ${diff.name} is ${a.get(diff.name)} in part ${ref}/${count} and ${diff.type} in part ${odd}/${count}: each part infers the types of its own predictions, so the parts of one dataset disagree. Join again into an empty folder with ${optionHint("predictionTypes", undefined, `--prediction-type ${diff.name}=${wider}`).replace("predictionTypes", `predictionTypes: ${JSON.stringify({ [diff.name]: wider })}`)}`,
        { location: where, column: diff.name, expected: a.get(diff.name), got: diff.type, option: "predictionTypes" },
      );
    }
    conflict(`part ${odd}/${count} has other columns than part ${ref}/${count} (${JSON.stringify(results[odd]!.columns ?? [])} against ${JSON.stringify(first.columns ?? [])})`);
  }
  const notes = new Map<string, number>();
  for (const r of results) for (const n of r.notes ?? []) notes.set(n.reason, (notes.get(n.reason) ?? 0) + n.count);
  const combined: ResultsSection = {
    location,
    format: first.format,
    partitioned: first.partitioned,
    rows: results.reduce((sum, r) => sum + r.rows, 0),
    rowsPerShard: Object.assign({}, ...results.map((r) => r.rowsPerShard)) as Record<string, number>,
    missing: results.flatMap((r) => r.missing),
    files: results.flatMap((r) => r.files),
    ...(first.columns ? { columns: first.columns } : {}),
    notes: [...notes].map(([reason, n]): SkipCount => ({ reason, count: n })),
  };
  return combined;
}
