/**
 * Nested column types: lists, structs and maps of btkit types, as Parquet and Arrow inputs have
 * them, written as type names the descriptor and `--schema` carry:
 *
 *   list<T>                          Arrow List<item: T>, Parquet LIST
 *   struct<"a":T,"b":U>              Arrow Struct<a: T, b: U>, Parquet group (names JSON-quoted)
 *   map<K,V>                         Arrow Map<entries: Struct<key: K, value: V>>, Parquet MAP
 *
 * T is any column type but json (int64, uint64, float64, bool, utf8, decimal(P,S), date,
 * timestamp_ntz, timestamp, time and their units, null) or a nested type again. In the model
 * input a nested value is JSON text (a list an array, a struct or map an object: map keys as
 * strings), its leaves written as the top-level columns' values are: integers and decimals as
 * JSON numbers with every digit, dates and times as ISO 8601 strings. Pure functions; the
 * Arrow side is in nested-arrow.ts.
 */

/** A nested type as a tree; leaves are column type names. */
export type NestedNode = string | { list: NestedNode } | { struct: Array<{ name: string; type: NestedNode }> } | { map: [NestedNode, NestedNode] };

/** list<...>, struct<...> or map<...> */
export type NestedType = `list<${string}>` | `struct<${string}>` | `map<${string}>`;

export function isNestedName(type: string): boolean {
  return type.startsWith("list<") || type.startsWith("struct<") || type.startsWith("map<");
}

/**
 * The tree of a nested type name, or undefined when the name is malformed or a leaf is not a
 * column type (`isLeaf` decides leaves: the caller's column types without json and nesting).
 */
export function parseNestedType(type: string, isLeaf: (t: string) => boolean): Exclude<NestedNode, string> | undefined {
  let at = 0;
  const fail = (): never => {
    throw new SyntaxError(type);
  };
  const expect = (s: string): void => {
    if (!type.startsWith(s, at)) fail();
    at += s.length;
  };
  const node = (): NestedNode => {
    for (const kind of ["list<", "struct<", "map<"] as const) {
      if (!type.startsWith(kind, at)) continue;
      at += kind.length;
      if (kind === "list<") {
        const item = node();
        expect(">");
        return { list: item };
      }
      if (kind === "map<") {
        const key = node();
        expect(",");
        const value = node();
        expect(">");
        return { map: [key, value] };
      }
      const fields: Array<{ name: string; type: NestedNode }> = [];
      while (type[at] !== ">") {
        if (fields.length > 0) expect(",");
        if (type[at] !== '"') fail();
        // a JSON string: the name, with its escapes
        let end = at + 1;
        while (end < type.length && type[end] !== '"') end += type[end] === "\\" ? 2 : 1;
        const name = JSON.parse(type.slice(at, end + 1)) as string;
        at = end + 1;
        expect(":");
        fields.push({ name, type: node() });
      }
      expect(">");
      return { struct: fields };
    }
    // a leaf runs to the next , or > outside parentheses (decimal(P,S) has a comma)
    let end = at;
    let depth = 0;
    while (end < type.length && (depth > 0 || (type[end] !== "," && type[end] !== ">"))) {
      if (type[end] === "(") depth++;
      else if (type[end] === ")") depth--;
      end++;
    }
    const leaf = type.slice(at, end);
    if (!isLeaf(leaf)) fail();
    at = end;
    return leaf;
  };
  try {
    const n = node();
    if (at !== type.length || typeof n === "string") return undefined;
    return n;
  } catch {
    return undefined;
  }
}

/** The name of a nested type tree (parseNestedType's inverse). */
export function nestedTypeName(n: NestedNode): string {
  if (typeof n === "string") return n;
  if ("list" in n) return `list<${nestedTypeName(n.list)}>`;
  if ("map" in n) return `map<${nestedTypeName(n.map[0])},${nestedTypeName(n.map[1])}>`;
  return `struct<${n.struct.map((f) => `${JSON.stringify(f.name)}:${nestedTypeName(f.type)}`).join(",")}>`;
}

/** A JSON number's exact text. */
export class JsonNumber {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
}

/** A JSON value with numbers as their text and object members in order (duplicates kept). */
export type ExactJson = null | boolean | string | JsonNumber | ExactJson[] | { members: Array<[string, ExactJson]> };

const NUMBER_RE = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/** Parses JSON text keeping every number's digits (JSON.parse would round them to doubles). Throws SyntaxError. */
export function parseExactJson(text: string): ExactJson {
  let at = 0;
  const ws = (): void => {
    while (at < text.length && (text[at] === " " || text[at] === "\t" || text[at] === "\n" || text[at] === "\r")) at++;
  };
  const fail = (): never => {
    throw new SyntaxError(`not JSON at offset ${at}`);
  };
  const str = (): string => {
    let end = at + 1;
    while (end < text.length && text[end] !== '"') end += text[end] === "\\" ? 2 : 1;
    if (end >= text.length) fail();
    const s = JSON.parse(text.slice(at, end + 1)) as string;
    at = end + 1;
    return s;
  };
  const value = (): ExactJson => {
    ws();
    const c = text[at];
    if (c === '"') return str();
    if (c === "{") {
      at++;
      const members: Array<[string, ExactJson]> = [];
      ws();
      if (text[at] === "}") {
        at++;
        return { members };
      }
      for (;;) {
        ws();
        if (text[at] !== '"') fail();
        const k = str();
        ws();
        if (text[at++] !== ":") fail();
        members.push([k, value()]);
        ws();
        if (text[at] === ",") at++;
        else if (text[at] === "}") {
          at++;
          return { members };
        } else fail();
      }
    }
    if (c === "[") {
      at++;
      const items: ExactJson[] = [];
      ws();
      if (text[at] === "]") {
        at++;
        return items;
      }
      for (;;) {
        items.push(value());
        ws();
        if (text[at] === ",") at++;
        else if (text[at] === "]") {
          at++;
          return items;
        } else fail();
      }
    }
    for (const [word, v] of [["true", true], ["false", false], ["null", null]] as const) {
      if (text.startsWith(word, at)) {
        at += word.length;
        return v;
      }
    }
    NUMBER_RE.lastIndex = at;
    const m = NUMBER_RE.exec(text);
    if (!m) fail();
    at += m![0].length;
    return new JsonNumber(m![0]);
  };
  const v = value();
  ws();
  if (at !== text.length) fail();
  return v;
}

/**
 * An exact JSON value as plain JS values (objects with the last of duplicate keys, as JSON.parse),
 * each number given by `number(text)` (a JsonNumber to keep its digits, or a JS number).
 */
export function plainJson(v: ExactJson, number: (text: string) => unknown): unknown {
  if (v instanceof JsonNumber) return number(v.text);
  if (Array.isArray(v)) return v.map((x) => plainJson(x, number));
  if (v !== null && typeof v === "object") {
    const o: Record<string, unknown> = {};
    for (const [k, x] of v.members) o[k] = plainJson(x, number);
    return o;
  }
  return v;
}

/** JSON text of a plain value, JsonNumbers as their digits (JSON.stringify would write them as objects); undefined members are left out, as JSON.stringify does. */
export function jsonTextOf(v: unknown): string {
  if (v instanceof JsonNumber) return v.text;
  // JSON.stringify(-0) is "0": a negative zero keeps its sign as -0.0 (as the float64 text writers write it)
  if (typeof v === "number" && Object.is(v, -0)) return "-0.0";
  if (Array.isArray(v)) return `[${v.map((x) => (x === undefined ? "null" : jsonTextOf(x))).join(",")}]`;
  if (v !== null && typeof v === "object") {
    return `{${Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined).map(([k, x]) => `${JSON.stringify(k)}:${jsonTextOf(x)}`).join(",")}}`;
  }
  return JSON.stringify(v) ?? "null";
}
