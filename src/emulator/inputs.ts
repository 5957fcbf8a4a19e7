/**
 * The input objects of a job: S3Prefix is a literal key-prefix match at any depth
 * (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_TransformS3DataSource.html, S3DataType: "all objects with the specified key
 * name prefix"); ManifestFile is a JSON array `[{"prefix": P}, "a", "b", ...]` whose entries are
 * appended verbatim to P (same page, S3Uri). `file://` URIs are a local extension: a prefix names a folder (with
 * a trailing `/`) or a literal prefix of names in a folder.
 *
 * Prefix listings come in key order (as S3 lists them), a manifest's objects in its
 * order: the order the executor spreads them over instances in.
 *
 * Each object gets `rel`, the name its `.out` takes under S3OutputPath
 * (https://docs.aws.amazon.com/sagemaker/latest/dg/batch-transform.html; https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_TransformOutput.html, S3OutputPath;
 * the rule for nested keys is UNCONFIRMED, EmulatorOptions.outputKeys): the key remainder after
 * the prefix (a leading `/` stripped; when the prefix ends inside a name, the remainder from the
 * prefix's last `/`), or the manifest entry.
 */
import path from "node:path";
import { manifestEntryLocation, parseLocation, type Location, type Storage } from "../io/index.js";

export interface InputObject {
  location: Location;
  rel: string;
  size: number;
  /** how the data-log names it: `bucket/key`, or the local path */
  display: string;
}

export class InputError extends Error {}

function relOf(prefix: string, key: string): string {
  const rem = key.slice(prefix.length);
  if (prefix === "" || prefix.endsWith("/")) return rem;
  if (rem.startsWith("/")) return rem.slice(1);
  return key.slice(prefix.lastIndexOf("/") + 1);
}

function displayOf(loc: Location): string {
  return loc.kind === "s3" ? `${loc.bucket}/${loc.key}` : loc.path;
}

export async function listInputs(storage: Storage, dataType: "S3Prefix" | "ManifestFile", uri: string, skipFolderMarkers: boolean): Promise<InputObject[]> {
  if (dataType === "ManifestFile") return manifestInputs(storage, uri);
  const loc = parseLocation(uri);
  const out: InputObject[] = [];
  if (loc.kind === "s3") {
    for await (const o of storage.list(loc)) {
      const key = o.location.slice(`s3://${loc.bucket}/`.length);
      if (skipFolderMarkers && key.endsWith("/") && o.size === 0) continue;
      const l: Location = { kind: "s3", bucket: loc.bucket, key };
      out.push({ location: l, rel: relOf(loc.key, key), size: o.size, display: displayOf(l) });
    }
    return byKey(out);
  }
  // local: a folder when the URI ends with "/" or names a folder, else a literal name prefix
  const info = await storage.head(loc);
  const isDir = uri.endsWith("/") || (info === undefined && (await isFolder(loc.path)));
  const dir = isDir ? loc.path : path.dirname(loc.path);
  const namePrefix = isDir ? "" : path.basename(loc.path);
  for await (const o of storage.list({ kind: "local", path: dir })) {
    if (!o.relative.startsWith(namePrefix)) continue;
    const l: Location = { kind: "local", path: o.location };
    out.push({ location: l, rel: isDir ? o.relative : relOf(namePrefix, o.relative), size: o.size, display: displayOf(l) });
  }
  return byKey(out);
}

/**
 * Objects in key order, the order of S3's listings ("For general purpose buckets, ListObjectsV2
 * returns objects in lexicographical order based on their key names",
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html), compared as UTF-8 bytes;
 * a local folder's walk is brought to the same order. Instances get objects in this order.
 */
function byKey(objects: InputObject[]): InputObject[] {
  const key = (o: InputObject): Buffer => Buffer.from(o.display, "utf8");
  return objects.sort((a, b) => Buffer.compare(key(a), key(b)));
}

async function isFolder(p: string): Promise<boolean> {
  const fs = await import("node:fs/promises");
  try {
    return (await fs.stat(p)).isDirectory();
  } catch {
    return false;
  }
}

async function manifestInputs(storage: Storage, uri: string): Promise<InputObject[]> {
  let text: string;
  try {
    text = await storage.readText(uri);
  } catch (err) {
    throw new InputError(`cannot read the manifest ${uri}: ${(err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new InputError(`the manifest ${uri} is not valid JSON: ${(err as Error).message}`);
  }
  if (!Array.isArray(doc) || doc.length === 0) throw new InputError(`the manifest ${uri} must be a JSON array whose first element is {"prefix": "s3://bucket/prefix/"}`);
  const head = doc[0] as { prefix?: unknown };
  if (typeof head !== "object" || head === null || typeof head.prefix !== "string" || head.prefix.length === 0) {
    throw new InputError(`the manifest ${uri}: element 0 must be {"prefix": "s3://bucket/prefix/"}, got ${JSON.stringify(doc[0]).slice(0, 100)}`);
  }
  const prefix = head.prefix;
  const out: InputObject[] = [];
  for (let i = 1; i < doc.length; i++) {
    const entry = doc[i];
    if (typeof entry !== "string") throw new InputError(`the manifest ${uri}: element ${i} must be a string, got ${JSON.stringify(entry).slice(0, 100)}`);
    let loc: Location;
    try {
      loc = parseLocation(manifestEntryLocation(prefix, entry));
    } catch (err) {
      throw new InputError(`the manifest ${uri}: element ${i}: ${(err as Error).message}`);
    }
    const info = await storage.head(loc);
    if (!info) throw new InputError(`the manifest ${uri} lists ${entry}, but ${displayOf(loc)} does not exist`);
    out.push({ location: loc, rel: entry, size: info.size, display: displayOf(loc) });
  }
  return out;
}
