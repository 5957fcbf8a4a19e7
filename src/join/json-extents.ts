/**
 * The raw text of each member of a JSON object line, without converting any value: a number keeps
 * its digits (an int64 beyond 2^53, a decimal's scale), a nested value its exact text. join reads
 * features back from JSON Lines shards with it, so what comes back is what prep wrote.
 */

const WS = new Set([0x20, 0x09, 0x0a, 0x0d]);

/** The end (exclusive) of the JSON string starting at `at` (a quote), or -1. */
function stringEnd(s: string, at: number): number {
  for (let k = at + 1; k < s.length; k++) {
    const c = s.charCodeAt(k);
    if (c === 0x5c) k++;
    else if (c === 0x22) return k + 1;
  }
  return -1;
}

/** The end (exclusive) of the JSON value starting at `at`, or -1 (nesting is balanced, strings skipped). */
function valueEnd(s: string, at: number): number {
  const c = s.charCodeAt(at);
  if (c === 0x22) return stringEnd(s, at);
  if (c === 0x7b || c === 0x5b) {
    let depth = 0;
    for (let k = at; k < s.length; k++) {
      const d = s.charCodeAt(k);
      if (d === 0x22) {
        k = stringEnd(s, k) - 1;
        if (k < 0) return -1;
      } else if (d === 0x7b || d === 0x5b) depth++;
      else if (d === 0x7d || d === 0x5d) {
        depth--;
        if (depth === 0) return k + 1;
      }
    }
    return -1;
  }
  let k = at;
  while (k < s.length) {
    const d = s.charCodeAt(k);
    if (d === 0x2c || d === 0x7d || d === 0x5d || WS.has(d)) break;
    k++;
  }
  return k > at ? k : -1;
}

/**
 * Member name -> raw value text of a JSON object line, or undefined when the line is not a JSON
 * object of that shape. Values are not validated here: each is converted by its column's type.
 */
export function objectMembers(line: string): Map<string, string> | undefined {
  const out = new Map<string, string>();
  let k = 0;
  const skip = (): void => {
    while (k < line.length && WS.has(line.charCodeAt(k))) k++;
  };
  skip();
  if (line.charCodeAt(k) !== 0x7b) return undefined;
  k++;
  skip();
  if (line.charCodeAt(k) === 0x7d) return out;
  while (k < line.length) {
    skip();
    if (line.charCodeAt(k) !== 0x22) return undefined;
    const ke = stringEnd(line, k);
    if (ke < 0) return undefined;
    let name: string;
    try {
      name = JSON.parse(line.slice(k, ke)) as string;
    } catch {
      return undefined;
    }
    k = ke;
    skip();
    if (line.charCodeAt(k) !== 0x3a) return undefined;
    k++;
    skip();
    const ve = valueEnd(line, k);
    if (ve < 0) return undefined;
    out.set(name, line.slice(k, ve));
    k = ve;
    skip();
    const c = line.charCodeAt(k);
    k++;
    if (c === 0x7d) {
      skip();
      return k === line.length ? out : undefined;
    }
    if (c !== 0x2c) return undefined;
  }
  return undefined;
}
