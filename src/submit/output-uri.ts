/**
 * Where a job's output goes by default, purely. Apart from request.ts, which checks requests
 * against the SageMaker SDK's enums (constraints.ts), so that finding a job stored beside its
 * output (record.ts; join, status and stop given a preparation) never loads the SageMaker client.
 */
import type { Descriptor } from "../protocol/descriptor.js";
import { LAYOUT } from "../protocol/layout.js";

/** The folder (with trailing slash) that holds a location: `s3://b/p/manifest.json` -> `s3://b/p/`. */
export function parentUri(uri: string): string {
  const noSlash = uri.endsWith("/") ? uri.slice(0, -1) : uri;
  return noSlash.slice(0, noSlash.lastIndexOf("/") + 1);
}

/**
 * The folder of the default output locations: LAYOUT.outputDir beside the manifest (and shards/),
 * without trailing slash. Each job writes under `<this>/<job name>` (jobOutputUri).
 */
export function defaultOutputUri(d: Descriptor): string {
  return parentUri(d.manifest.location) + LAYOUT.outputDir.replace(/\/$/, "");
}

/** A job's default S3OutputPath: its own prefix `output/<job name>` (no trailing slash). */
export function jobOutputUri(d: Descriptor, jobName: string): string {
  return `${defaultOutputUri(d)}/${jobName}`;
}
