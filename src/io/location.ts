/**
 * Locations: a local path, a file:// URI, or s3://bucket/key. Parsing rejects other schemes,
 * empty or invalid bucket names, and `..` segments that would escape a prefix.
 */
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { BtkitError } from "../errors.js";

export type Location = { kind: "local"; path: string } | { kind: "s3"; bucket: string; key: string };

const BUCKET_RE = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

function bad(text: string, why: string): never {
  throw new BtkitError("IO_BAD_LOCATION", `invalid location ${JSON.stringify(text)}: ${why}`, { location: text });
}

/** Parses a location string. Relative local paths are resolved against `cwd`. */
export function parseLocation(text: string, cwd: string = process.cwd()): Location {
  if (text.length === 0) bad(text, "empty");
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(text);
  if (!scheme) {
    if (/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(text) && !/^[a-zA-Z]:[\\/]/.test(text)) {
      bad(text, "expected a local path, file:// or s3://bucket/key");
    }
    return { kind: "local", path: path.resolve(cwd, text) };
  }
  const s = scheme[1]!.toLowerCase();
  if (s === "file") {
    let p: string;
    try {
      p = fileURLToPath(text);
    } catch (err) {
      bad(text, (err as Error).message);
    }
    return { kind: "local", path: path.resolve(p) };
  }
  if (s === "s3") {
    const rest = text.slice(5);
    const slash = rest.indexOf("/");
    const bucket = slash < 0 ? rest : rest.slice(0, slash);
    const key = slash < 0 ? "" : rest.slice(slash + 1);
    if (bucket.length === 0) bad(text, "the bucket name is empty");
    if (!BUCKET_RE.test(bucket) || bucket.includes("..")) bad(text, `${JSON.stringify(bucket)} is not a valid S3 bucket name`);
    checkKey(text, key);
    return { kind: "s3", bucket, key };
  }
  bad(text, `the scheme ${s}:// is not supported (use a local path, file:// or s3://)`);
}

function checkKey(text: string, key: string): void {
  for (const seg of key.split("/")) {
    if (seg === "..") bad(text, "the key has a '..' segment");
  }
  // s3://bucket//x/ is nearly always a typo, and S3-compatible servers answer such keys with errors
  if (key.startsWith("/") || key.includes("//")) bad(text, "the key has an empty segment (//): remove the extra /");
  if (key.includes("\0")) bad(text, "the key holds a NUL byte");
}

export function formatLocation(loc: Location): string {
  return loc.kind === "local" ? loc.path : `s3://${loc.bucket}/${loc.key}`;
}

/** file:// URI of a local location (for documents that others read), or the s3:// URI. */
export function toUri(loc: Location): string {
  return loc.kind === "local" ? pathToFileURL(loc.path).href : formatLocation(loc);
}

/**
 * The location of `name` under a folder or prefix. `name` may hold `/` but no `..` segment,
 * no leading `/`, and no scheme: it can never leave `base`.
 */
export function childLocation(base: Location, name: string): Location {
  if (name.length === 0 || name.startsWith("/") || name.split("/").some((s) => s === ".." || s === ".") || name.includes("\0") || name.includes("\\")) {
    bad(name, `not a relative name that stays under ${formatLocation(base)}`);
  }
  if (base.kind === "local") return { kind: "local", path: path.join(base.path, name) };
  const prefix = base.key === "" || base.key.endsWith("/") ? base.key : `${base.key}/`;
  return { kind: "s3", bucket: base.bucket, key: prefix + name };
}

/**
 * Resolves a SageMaker manifest entry: the location is prefix + entry (plain concatenation, as the
 * service does), refused when the entry would escape the prefix.
 */
export function manifestEntryLocation(prefix: string, entry: string): string {
  // for file:// the entry is percent-decoded when the URI is read: check the decoded segments too
  let decoded = entry;
  try {
    decoded = decodeURIComponent(entry);
  } catch {
    bad(entry, `manifest entry is not valid percent-encoding (under ${prefix})`);
  }
  const escapes = (e: string): boolean => e.length === 0 || e.startsWith("/") || e.split(/[/\\]/).some((s) => s === ".." || s === ".") || e.includes("\0");
  if (escapes(entry) || (prefix.startsWith("file:") && escapes(decoded))) bad(entry, `manifest entry escapes its prefix ${prefix}`);
  const full = prefix + entry;
  if (prefix.startsWith("file:")) {
    const base = parseLocation(prefix);
    if (base.kind === "local" && !isUnder(parseLocation(full), { kind: "local", path: prefix.endsWith("/") ? base.path : path.dirname(base.path) })) bad(entry, `manifest entry escapes its prefix ${prefix}`);
  }
  return full;
}

/** The name after the last '/' (or path separator). */
export function baseName(loc: Location): string {
  return loc.kind === "local" ? path.basename(loc.path) : loc.key.slice(loc.key.lastIndexOf("/") + 1);
}

/** True when `loc` is equal to or below `base` (a folder or key prefix ending with /). */
export function isUnder(loc: Location, base: Location): boolean {
  if (loc.kind === "local" && base.kind === "local") {
    const rel = path.relative(base.path, loc.path);
    return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
  }
  if (loc.kind === "s3" && base.kind === "s3") return loc.bucket === base.bucket && loc.key.startsWith(base.key);
  return false;
}
