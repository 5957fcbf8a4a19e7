/**
 * The column plan: given the input's columns and their types (inferred from the sample, or
 * declared by Parquet/Arrow), which columns the model sees (features, in order), which the sidecar
 * keeps, which values are checked against their type, and which JSON values are read as text.
 * Pure: no I/O, so every rule here is testable on names and types alone.
 *
 * Storage-lean default: the sidecar keeps what the model does not see; join reads the features
 * back from the shards. Features whose shard text may not give their value back are kept whatever
 * `keep` says (see unfaithful()).
 */
import { BtkitError, optionHint } from "../errors.js";
import type { ColumnType } from "../protocol/descriptor.js";
import { SIDECAR_ROW_COLUMN } from "../protocol/layout.js";
import type { ResolvedPrepareOptions } from "./options.js";

/** The options the plan depends on. */
export type ColumnPlanOptions = Pick<ResolvedPrepareOptions, "schema" | "drop" | "features" | "keep" | "format" | "newlines" | "text">;

export interface ColumnPlan {
  /** per input column: its type, --schema overrides applied */
  types: ColumnType[];
  /** input column indexes sent to the model, in the model's order */
  featureIdx: number[];
  /** input column indexes kept in the sidecar, in input order */
  keepIdx: number[];
  /** input column indexes whose values are checked against their type (every column for JSON; CSV: those not utf8 and not dropped) */
  checkIdx: number[];
  /** the types of checkIdx, in the same order */
  checkTypes: ColumnType[];
  /** the features are every column in input order (values go to the encoder as they are) */
  featuresAll: boolean;
  /** the sidecar keeps every column */
  keepAll: boolean;
  /** JSON Lines and JSON arrays (not Parquet/Arrow): per column, whether numbers, booleans and nested values are read as their source text (--text, --schema NAME:utf8) */
  asText: boolean[] | undefined;
  /** columns neither sent to the model nor kept, so not in the joined table (the caller notes them) */
  lost: string[];
}

/**
 * Plans the columns. `json` says the records are JSON (JSON Lines, JSON arrays, Parquet, Arrow);
 * `declared` that their types come from a Parquet/Arrow schema. Throws PREP_SCHEMA for a --schema
 * column the input does not have, PREP_COLUMN for --features/--keep/--drop naming a missing or
 * dropped column, a feature named twice, or an input column named like the sidecar's row number.
 */
export function planColumns(columns: readonly string[], inferred: readonly ColumnType[], input: { json: boolean; declared: boolean }, o: ColumnPlanOptions): ColumnPlan {
  const colIndex = new Map(columns.map((n, i) => [n, i] as const));
  const types = [...inferred];
  for (const [name, type] of o.schema) {
    const i = colIndex.get(name);
    if (i === undefined) throw new BtkitError("PREP_SCHEMA", `${optionHint("schema")} names column ${JSON.stringify(name)}, which the input does not have (columns: ${columns.join(", ")})`, { column: name, option: "schema" });
    types[i] = type;
  }
  const need = (list: readonly string[], option: string): number[] =>
    list.map((n) => {
      const i = colIndex.get(n);
      if (i === undefined || o.drop.includes(n)) {
        throw new BtkitError("PREP_COLUMN", `${optionHint(option)} names column ${JSON.stringify(n)}, which ${i === undefined ? "the input does not have" : `${optionHint("drop")} removes`} (columns: ${columns.join(", ")})`, { column: n, option });
      }
      return i;
    });
  need(o.drop.filter((d) => !colIndex.has(d)), "drop");
  const remaining = columns.filter((c) => !o.drop.includes(c));
  if (remaining.includes(SIDECAR_ROW_COLUMN)) {
    throw new BtkitError("PREP_COLUMN", `the input has a column named ${SIDECAR_ROW_COLUMN}, the name of btkit's row number in the sidecar and the joined table; drop it with ${optionHint("drop", SIDECAR_ROW_COLUMN, `--drop ${SIDECAR_ROW_COLUMN}`)} (or rename it in the input)`, { column: SIDECAR_ROW_COLUMN, option: "drop" });
  }
  const featureIdx = need(o.features ?? remaining, "features");
  if (new Set(featureIdx).size !== featureIdx.length) throw new BtkitError("PREP_COLUMN", `${optionHint("features")} names a column twice`, { option: "features" });
  const features = new Set(featureIdx.map((i) => columns[i]!));
  // what the model does not see is kept by default; features whose shard text does not give back the value are kept whatever --keep says
  const keepSet = new Set([...need(o.keep ?? remaining.filter((c) => !features.has(c)), "keep"), ...need(unfaithful(remaining, features, (c) => types[colIndex.get(c)!]!, o), "keep")]);
  const lost = remaining.filter((c) => !keepSet.has(colIndex.get(c)!) && !features.has(c));
  const keepIdx = columns.map((_, i) => i).filter((i) => keepSet.has(i));
  const checkIdx = columns.map((_, i) => i).filter((i) => input.json || (types[i] !== "utf8" && !o.drop.includes(columns[i]!)));
  return {
    types,
    featureIdx,
    keepIdx,
    checkIdx,
    checkTypes: checkIdx.map((i) => types[i]!),
    featuresAll: featureIdx.length === columns.length && featureIdx.every((c, i) => c === i),
    keepAll: keepIdx.length === columns.length,
    // Parquet/Arrow readers give text already where --schema asks for it
    asText: input.json && !input.declared ? columns.map((c) => o.text || o.schema.get(c) === "utf8") : undefined,
    lost,
  };
}

/**
 * Features whose shard text may not give their value back, so the sidecar keeps them too: text
 * a CSV newline policy (replace, escape) rewrites, and json values in JSON Lines shards (a JSON
 * null there cannot be told from a null, and the text's spacing is not kept).
 */
function unfaithful(remaining: readonly string[], features: ReadonlySet<string>, typeOf: (c: string) => ColumnType, o: ColumnPlanOptions): string[] {
  const rewritten = o.format === "csv" && o.newlines !== "reject";
  return remaining.filter((c) => {
    if (!features.has(c)) return false;
    const t = typeOf(c);
    return o.format === "csv" ? rewritten && (t === "utf8" || t === "json") : t === "json";
  });
}
