/**
 * Strict argument parsing from a declarative spec. Unknown or misspelled flags are a usage error
 * that suggests the closest known flag; values are checked for their type and choices.
 */
import { BtkitError } from "../errors.js";

export type FlagType = "string" | "boolean" | "int" | "number";

export interface FlagSpec {
  type: FlagType;
  /** one-letter alias, without the dash */
  short?: string;
  /** help text; the default is shown from `default` */
  help: string;
  /** shown in help as --flag VALUE */
  value?: string;
  default?: string | number | boolean;
  choices?: readonly string[];
  /** may be given several times; values collected in order */
  multiple?: boolean;
  /** for --flag[=VALUE] flags: the value when given bare (only for string/int flags) */
  bareValue?: string;
  /** minimum for int and number flags */
  min?: number;
  max?: number;
  /** shown under this heading in help */
  group?: string;
}

export interface CommandSpec {
  name: string;
  summary: string;
  /** usage line(s) after "btkit NAME" */
  usage: string;
  /** longer description paragraphs and examples */
  description?: string;
  examples?: string[];
  flags: Record<string, FlagSpec>;
  /** positional arguments: min and max count */
  positionals?: { name: string; min: number; max: number };
}

export type FlagValue = string | number | boolean | Array<string | number>;

export interface ParsedArgs {
  flags: Record<string, FlagValue | undefined>;
  positionals: string[];
  /** names of the flags the user gave explicitly */
  given: Set<string>;
}

/** A parsed flag's value as a string, or undefined when it was not given. */
export function flagString(args: ParsedArgs, name: string): string | undefined {
  const v = args.flags[name];
  return v === undefined ? undefined : String(v);
}

/** A parsed flag's value as a number, or undefined when it was not given. */
export function flagNumber(args: ParsedArgs, name: string): number | undefined {
  const v = args.flags[name];
  return v === undefined ? undefined : Number(v);
}

export function parseArgs(spec: CommandSpec, argv: readonly string[]): ParsedArgs {
  const flags: Record<string, FlagValue | undefined> = {};
  const given = new Set<string>();
  const positionals: string[] = [];
  const shorts = new Map<string, string>();
  for (const [name, f] of Object.entries(spec.flags)) if (f.short) shorts.set(f.short, name);

  const set = (name: string, f: FlagSpec, raw: string | undefined, shown: string): void => {
    let value: string | number | boolean;
    if (f.type === "boolean") {
      if (raw === undefined) value = true;
      else if (raw === "true" || raw === "1") value = true;
      else if (raw === "false" || raw === "0") value = false;
      else usage("USAGE_BAD_VALUE", `${shown} takes no value or true/false, got ${JSON.stringify(raw)}`, name);
    } else {
      if (raw === undefined) usage("USAGE_MISSING", `${shown} needs a value${f.value ? ` (${f.value})` : ""}`, name);
      value = convert(name, f, raw, shown);
    }
    if (f.multiple) {
      const prev = (flags[name] as Array<string | number> | undefined) ?? [];
      prev.push(value as string | number);
      flags[name] = prev;
    } else {
      if (given.has(name)) usage("USAGE_BAD_VALUE", `${shown} is given twice`, name);
      flags[name] = value;
    }
    given.add(name);
  };

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg.startsWith("--") && arg.length > 2) {
      const eq = arg.indexOf("=");
      let name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
      let inline = eq >= 0 ? arg.slice(eq + 1) : undefined;
      let f = spec.flags[name];
      if (!f && name.startsWith("no-") && spec.flags[name.slice(3)]?.type === "boolean" && inline === undefined) {
        name = name.slice(3);
        f = spec.flags[name];
        inline = "false";
      }
      if (!f) unknownFlag(spec, `--${name}`);
      if (f.type !== "boolean" && inline === undefined) {
        const next = argv[i + 1];
        if (f.bareValue !== undefined && (next === undefined || next.startsWith("-") || !looksLikeValue(f, next))) inline = f.bareValue;
        else {
          if (next === undefined || (next.startsWith("--") && next.length > 2)) usage("USAGE_MISSING", `--${name} needs a value${f.value ? ` (${f.value})` : ""}`, name);
          inline = next;
          i++;
        }
      }
      set(name, f, inline, `--${name}`);
      continue;
    }
    if (arg.startsWith("-") && arg.length > 1 && arg !== "-") {
      const letter = arg.slice(1, 2);
      const name = shorts.get(letter);
      if (!name) unknownFlag(spec, arg);
      const f = spec.flags[name]!;
      let inline: string | undefined = arg.length > 2 ? arg.slice(2).replace(/^=/, "") : undefined;
      if (f.type !== "boolean" && inline === undefined) {
        inline = argv[i + 1];
        i++;
      }
      set(name, f, inline, `-${letter}`);
      continue;
    }
    positionals.push(arg);
  }

  for (const [name, f] of Object.entries(spec.flags)) {
    if (!(name in flags) && f.default !== undefined) flags[name] = f.default;
  }
  const pos = spec.positionals ?? { name: "", min: 0, max: 0 };
  if (positionals.length < pos.min) usage("USAGE_MISSING", `btkit ${spec.name} needs ${pos.name}; usage: btkit ${spec.name} ${spec.usage}`, pos.name);
  if (positionals.length > pos.max) {
    const extra = positionals[pos.max]!;
    usage("USAGE_BAD_VALUE", pos.max === 0 ? `btkit ${spec.name} takes no arguments, got ${JSON.stringify(extra)}` : `unexpected argument ${JSON.stringify(extra)}; usage: btkit ${spec.name} ${spec.usage}`, pos.name);
  }
  return { flags, positionals, given };
}

function looksLikeValue(f: FlagSpec, next: string): boolean {
  if (f.type === "int" || f.type === "number") return /^-?\d+(\.\d+)?$/.test(next);
  return f.choices ? f.choices.includes(next) : false;
}

function convert(name: string, f: FlagSpec, raw: string, shown: string): string | number {
  if (f.type === "int" || f.type === "number") {
    const n = Number(raw);
    if (raw.trim() === "" || !Number.isFinite(n) || (f.type === "int" && !Number.isSafeInteger(n))) {
      usage("USAGE_BAD_VALUE", `${shown} expects ${f.type === "int" ? "a whole number" : "a number"}, got ${JSON.stringify(raw)}`, name);
    }
    if (f.min !== undefined && n < f.min) usage("USAGE_BAD_VALUE", `${shown} must be at least ${f.min}, got ${raw}`, name);
    if (f.max !== undefined && n > f.max) usage("USAGE_BAD_VALUE", `${shown} must be at most ${f.max}, got ${raw}`, name);
    return n;
  }
  if (f.choices && !f.choices.includes(raw)) {
    const near = closest(raw, f.choices);
    usage("USAGE_BAD_VALUE", `${shown} must be one of ${f.choices.join(", ")}, got ${JSON.stringify(raw)}${near ? `; did you mean ${near}?` : ""}`, name);
  }
  return raw;
}

function unknownFlag(spec: CommandSpec, flag: string): never {
  // a boolean flag's negation is a name too (--no-features)
  const names = Object.entries(spec.flags).flatMap(([n, f]) => (f.type === "boolean" ? [`--${n}`, `--no-${n}`] : [`--${n}`]));
  const near = closest(flag.startsWith("--") ? flag : `--${flag.slice(1)}`, names);
  usage("USAGE_UNKNOWN_FLAG", `unknown flag ${flag} for btkit ${spec.name}${near ? `; did you mean ${near}?` : ""}`, flag);
}

function usage(code: "USAGE_BAD_VALUE" | "USAGE_MISSING" | "USAGE_UNKNOWN_FLAG", message: string, option: string): never {
  throw new BtkitError(code, message, { option });
}

/**
 * The candidate `word` is most likely a typo of: one it abbreviates or runs on past, else the
 * nearest by edit distance when near enough; "A or B" when two fit as well.
 */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  // a name typed shortened, its letters in order (--model-cmd for --model-command), or a name
  // typed on past its end within its last word (--output for --out): those first, the nearest
  // two named when several
  const ranked = candidates
    .filter((c) => isSubsequence(word, c))
    .map((c) => ({ c, d: editDistance(word, c) }))
    .sort((a, b) => a.d - b.d);
  // of the shortened ones, those as near as the nearest
  const shortened = ranked.filter((x) => x.d === ranked[0]!.d).map((x) => x.c);
  const lengthened = candidates.filter((c) => c.length >= 3 && c.length < word.length && word.startsWith(c) && word[c.length] !== "-");
  const found = [...shortened, ...lengthened];
  if (found.length > 0) return found.length === 1 ? found[0] : `${found[0]} or ${found[1]}`;
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(word, c);
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  const limit = Math.max(2, Math.floor(word.length / 3));
  if (best !== undefined && bestD <= limit) return best;
  const prefix = candidates.filter((c) => c.startsWith(word) || word.startsWith(c));
  return prefix.length === 1 ? prefix[0] : undefined;
}

/** Whether the letters of `short` appear in `long` in order (after a shared leading "--" or "-", at least two letters). */
function isSubsequence(short: string, long: string): boolean {
  const bare = short.replace(/^-+/, "");
  if (bare.length < 2 || short.length >= long.length) return false;
  let k = 0;
  for (let i = 0; i < long.length && k < short.length; i++) if (long[i] === short[k]) k++;
  return k === short.length;
}

function editDistance(a: string, b: string): number {
  const prev = new Array<number>(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length]!;
}

/** Help text of a command, generated from its spec. */
export function formatHelp(spec: CommandSpec): string {
  const lines: string[] = [`btkit ${spec.name}: ${spec.summary}`, "", `Usage: btkit ${spec.name} ${spec.usage}`.trimEnd()];
  if (spec.description) lines.push("", spec.description.trim());
  const groups = new Map<string, Array<[string, FlagSpec]>>();
  for (const [name, f] of Object.entries(spec.flags)) {
    const g = f.group ?? "Options";
    if (!groups.has(g)) groups.set(g, []);
    groups.get(g)!.push([name, f]);
  }
  for (const [g, flags] of groups) {
    lines.push("", `${g}:`);
    const rows = flags.map(([name, f]) => {
      const short = f.short ? `-${f.short}, ` : "    ";
      const val = f.type === "boolean" ? "" : f.bareValue !== undefined ? `[=${f.value ?? "VALUE"}]` : ` ${f.value ?? (f.type === "string" ? "VALUE" : "N")}`;
      const left = `  ${short}--${name}${val}`;
      let help = f.help;
      if (f.choices) help += ` (${f.choices.join("|")})`;
      if (f.default !== undefined && f.default !== false) help += ` [default: ${String(f.default)}]`;
      if (f.multiple) help += " (repeatable)";
      return [left, help] as const;
    });
    const width = Math.min(38, Math.max(...rows.map((r) => r[0].length)) + 2);
    for (const [left, help] of rows) {
      lines.push(left.length + 1 > width ? `${left}\n${" ".repeat(width)}${help}` : `${left.padEnd(width)}${help}`);
    }
  }
  if (spec.examples?.length) lines.push("", "Examples:", ...spec.examples.map((e) => `  ${e}`));
  return `${lines.join("\n")}\n`;
}
