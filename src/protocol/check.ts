/**
 * A tiny runtime type checker for the pipe protocol: each checker validates a value at a path and
 * returns it typed, or throws PROTO_INVALID naming the field. Hand-written so the protocol module
 * has no dependency and its error messages say exactly which field is wrong.
 */
import { BtkitError } from "../errors.js";

export type Checker<T> = (value: unknown, path: string) => T;

function fail(path: string, expected: string, got: unknown): never {
  const shown = got === undefined ? "nothing" : JSON.stringify(got)?.slice(0, 80) ?? String(got);
  throw new BtkitError("PROTO_INVALID", `invalid descriptor field ${path}: expected ${expected}, got ${shown}`, {
    field: path,
    expected,
    got: shown,
  });
}

export const str: Checker<string> = (v, p) => (typeof v === "string" ? v : fail(p, "a string", v));

export const nonEmptyStr: Checker<string> = (v, p) =>
  typeof v === "string" && v.length > 0 ? v : fail(p, "a non-empty string", v);

export const int: Checker<number> = (v, p) =>
  typeof v === "number" && Number.isSafeInteger(v) && v >= 0 ? v : fail(p, "a non-negative integer", v);

export const bool: Checker<boolean> = (v, p) => (typeof v === "boolean" ? v : fail(p, "true or false", v));

export const sha256: Checker<string> = (v, p) =>
  typeof v === "string" && /^[0-9a-f]{64}$/.test(v) ? v : fail(p, "a sha256 hex digest", v);

export const isoTime: Checker<string> = (v, p) =>
  typeof v === "string" && !Number.isNaN(Date.parse(v)) ? v : fail(p, "an ISO 8601 time", v);

export const unknownValue: Checker<unknown> = (v) => v;

/** A string that `test` accepts, described as `expected` in the error. */
export function matching<T extends string>(test: (v: string) => v is T, expected: string): Checker<T> {
  return (v, p) => (typeof v === "string" && test(v) ? v : fail(p, expected, v));
}

export function oneOf<const T extends readonly string[]>(values: T): Checker<T[number]> {
  return (v, p) => (typeof v === "string" && values.includes(v) ? (v as T[number]) : fail(p, `one of ${values.join(", ")}`, v));
}

export function arrayOf<T>(item: Checker<T>): Checker<T[]> {
  return (v, p) => {
    if (!Array.isArray(v)) fail(p, "an array", v);
    return v.map((x, i) => item(x, `${p}[${i}]`));
  };
}

export function recordOf<T>(item: Checker<T>): Checker<Record<string, T>> {
  return (v, p) => {
    if (typeof v !== "object" || v === null || Array.isArray(v)) fail(p, "an object", v);
    const out: Record<string, T> = {};
    for (const [k, x] of Object.entries(v)) out[k] = item(x, `${p}.${k}`);
    return out;
  };
}

export function optional<T>(c: Checker<T>): Checker<T | undefined> & { optional: true } {
  const f = ((v: unknown, p: string) => (v === undefined ? undefined : c(v, p))) as Checker<T | undefined> & { optional: true };
  f.optional = true;
  return f;
}

export function nullable<T>(c: Checker<T>): Checker<T | null> {
  return (v, p) => (v === null ? null : c(v, p));
}

type Shape = Record<string, Checker<unknown>>;
type OptionalKeys<S extends Shape> = { [K in keyof S]: S[K] extends { optional: true } ? K : never }[keyof S];
type RequiredKeys<S extends Shape> = Exclude<keyof S, OptionalKeys<S>>;
export type Infer<S extends Shape> = { [K in RequiredKeys<S>]: ReturnType<S[K]> } & {
  [K in OptionalKeys<S>]?: Exclude<ReturnType<S[K]>, undefined>;
};

/**
 * An object with the given fields. Unknown fields are kept (a newer minor version may add them),
 * so a document read and written again loses nothing.
 */
export function object<S extends Shape>(shape: S): Checker<Infer<S>> {
  return (v, p) => {
    if (typeof v !== "object" || v === null || Array.isArray(v)) fail(p, "an object", v);
    const src = v as Record<string, unknown>;
    const out: Record<string, unknown> = { ...src };
    for (const [k, c] of Object.entries(shape)) {
      const x = c(src[k], p ? `${p}.${k}` : k);
      if (x === undefined) delete out[k];
      else out[k] = x;
    }
    return out as Infer<S>;
  };
}
