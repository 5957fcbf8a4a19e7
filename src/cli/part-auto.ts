/**
 * `--part auto`: which part i of N this process is, from the engine it runs in, so the same
 * command line runs on every instance of a SageMaker Processing job, an AWS Batch array job or a
 * Kubernetes Indexed Job, and each instance takes its own slice.
 *
 * The engines and their rules (looked at in this order):
 * - SageMaker Processing: `/opt/ml/config/resourceconfig.json` holds `current_host` and `hosts`;
 *   i is the position of `current_host` in `hosts`, N the number of hosts
 *   (https://docs.aws.amazon.com/sagemaker/latest/dg/build-your-own-processing-container.html,
 *   "How Amazon SageMaker Processing Configures Your Processing Container"). `BTKIT_RESOURCE_CONFIG`
 *   names another file (the emulator's Processing jobs set it for each local instance).
 * - AWS Batch array jobs: `AWS_BATCH_JOB_ARRAY_INDEX` is i (0-based); Batch gives no variable for
 *   the array size, so N is `--parts N` (https://docs.aws.amazon.com/batch/latest/userguide/array_jobs.html).
 * - Kubernetes Indexed Jobs: `JOB_COMPLETION_INDEX` is i (0-based); N is `--parts N`, the Job's
 *   `completions` (https://kubernetes.io/docs/concepts/workloads/controllers/job/#completion-mode).
 *
 * Anything else is USAGE_BAD_VALUE naming every file and variable looked for, and the explicit
 * `--part i/N` that needs none of them.
 */
import { readFileSync } from "node:fs";
import { BtkitError } from "../errors.js";
import { checkPart, parsePart, type Part } from "../protocol/layout.js";

/** SageMaker Processing's resource configuration file inside a processing container. */
export const PROCESSING_RESOURCE_CONFIG = "/opt/ml/config/resourceconfig.json";
/** The variable that names another resource configuration file (local runs, the emulator). */
export const RESOURCE_CONFIG_VARIABLE = "BTKIT_RESOURCE_CONFIG";
export const BATCH_INDEX_VARIABLE = "AWS_BATCH_JOB_ARRAY_INDEX";
export const KUBERNETES_INDEX_VARIABLE = "JOB_COMPLETION_INDEX";

/** Where `auto` looks: the process environment and a file reader (tests give their own). */
export interface Engine {
  env: Readonly<Record<string, string | undefined>>;
  /** the file's text, or undefined when it does not exist */
  readText?: (path: string) => string | undefined;
}

/** What `--part auto` resolved to, and from where (for the log line). */
export interface AutoPart {
  part: Part;
  /** "SageMaker Processing (/opt/ml/config/resourceconfig.json: algo-2 of 3 hosts)", ... */
  source: string;
}

function readIfThere(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new BtkitError("USAGE_BAD_VALUE", `--part auto: cannot read ${path}: ${(err as Error).message}`, { option: "part", path }, { cause: err });
  }
}

function indexFrom(variable: string, text: string): number {
  if (!/^\d+$/.test(text.trim())) {
    throw new BtkitError("USAGE_BAD_VALUE", `--part auto: ${variable} must be a whole number (the 0-based index of this instance), got ${JSON.stringify(text)}`, { option: "part", variable, got: text });
  }
  return Number(text.trim());
}

function fromResourceConfig(path: string, text: string, parts: number | undefined): AutoPart {
  let config: unknown;
  try {
    config = JSON.parse(text);
  } catch (err) {
    throw new BtkitError("USAGE_BAD_VALUE", `--part auto: ${path} is not JSON (${(err as Error).message}); it should hold "current_host" and "hosts"`, { option: "part", path }, { cause: err });
  }
  const c = config as { current_host?: unknown; hosts?: unknown };
  if (typeof c.current_host !== "string" || !Array.isArray(c.hosts) || !c.hosts.every((h) => typeof h === "string")) {
    throw new BtkitError("USAGE_BAD_VALUE", `--part auto: ${path} has no "current_host" string and "hosts" list of strings`, { option: "part", path });
  }
  const hosts = c.hosts as string[];
  const index = hosts.indexOf(c.current_host);
  if (index < 0) {
    throw new BtkitError("USAGE_BAD_VALUE", `--part auto: ${path}: current_host ${JSON.stringify(c.current_host)} is not among its hosts ${JSON.stringify(hosts)}`, { option: "part", path });
  }
  if (parts !== undefined && parts !== hosts.length) {
    throw new BtkitError("USAGE_BAD_VALUE", `--part auto: --parts ${parts} but ${path} lists ${hosts.length} hosts; leave out --parts under SageMaker Processing (the hosts are the parts)`, { option: "parts", got: parts, hosts: hosts.length });
  }
  return { part: checkPart({ index, count: hosts.length }), source: `SageMaker Processing (${path}: ${c.current_host}, host ${index + 1} of ${hosts.length})` };
}

function withCount(variable: string, value: string, parts: number | undefined, engine: string): AutoPart {
  const index = indexFrom(variable, value);
  if (parts === undefined) {
    throw new BtkitError("USAGE_MISSING", `--part auto: ${variable}=${value} says this is instance ${index} of ${engine}, which gives no instance count: add --parts N (the array size or completions)`, { option: "parts", variable });
  }
  if (index >= parts) {
    throw new BtkitError("USAGE_BAD_VALUE", `--part auto: ${variable}=${value} but --parts ${parts}: the index must be below the count (0-based)`, { option: "parts", variable, got: parts });
  }
  return { part: checkPart({ index, count: parts }), source: `${engine} (${variable}=${value} of --parts ${parts})` };
}

/**
 * Part i of N of this process. `parts` is `--parts N` (needed under AWS Batch and Kubernetes;
 * checked against the hosts under SageMaker Processing). Throws USAGE_MISSING or USAGE_BAD_VALUE.
 */
export function autoPart(parts: number | undefined, engine: Engine = { env: process.env }): AutoPart {
  if (parts !== undefined && (!Number.isInteger(parts) || parts < 1)) {
    throw new BtkitError("USAGE_BAD_VALUE", `--parts must be a whole number of at least 1, got ${parts}`, { option: "parts", got: parts });
  }
  const read = engine.readText ?? readIfThere;
  const configPath = engine.env[RESOURCE_CONFIG_VARIABLE] || PROCESSING_RESOURCE_CONFIG;
  const config = read(configPath);
  if (config !== undefined) return fromResourceConfig(configPath, config, parts);
  if (engine.env[RESOURCE_CONFIG_VARIABLE]) {
    throw new BtkitError("USAGE_BAD_VALUE", `--part auto: ${RESOURCE_CONFIG_VARIABLE} names ${configPath}, which does not exist`, { option: "part", path: configPath });
  }
  const batch = engine.env[BATCH_INDEX_VARIABLE];
  if (batch !== undefined && batch !== "") return withCount(BATCH_INDEX_VARIABLE, batch, parts, "an AWS Batch array job");
  const k8s = engine.env[KUBERNETES_INDEX_VARIABLE];
  if (k8s !== undefined && k8s !== "") return withCount(KUBERNETES_INDEX_VARIABLE, k8s, parts, "a Kubernetes Indexed Job");
  throw new BtkitError(
    "USAGE_BAD_VALUE",
    `--part auto: not running in a known engine: no ${PROCESSING_RESOURCE_CONFIG} (SageMaker Processing; ${RESOURCE_CONFIG_VARIABLE} names another file), no ${BATCH_INDEX_VARIABLE} (AWS Batch array job) and no ${KUBERNETES_INDEX_VARIABLE} (Kubernetes Indexed Job); give the part explicitly with --part i/N`,
    { option: "part" },
  );
}

/**
 * `--part` and `--parts` as given on the command line: `i/N`, `auto`, or neither. `log` receives
 * the line saying where an automatic part came from.
 */
export function partFlag(part: unknown, parts: unknown, log: (line: string) => void, engine?: Engine): Part | undefined {
  if (parts !== undefined && part !== "auto") {
    throw new BtkitError("USAGE_BAD_VALUE", "--parts N goes with --part auto (it is the instance count an AWS Batch array job or Kubernetes Indexed Job does not tell); with --part i/N the count is N", { option: "parts" });
  }
  if (part === undefined) return undefined;
  if (part === "auto") {
    const auto = autoPart(parts as number | undefined, engine);
    log(`--part auto: part ${auto.part.index}/${auto.part.count}, from ${auto.source}`);
    return auto.part;
  }
  try {
    return parsePart(String(part));
  } catch (err) {
    throw new BtkitError("USAGE_BAD_VALUE", `--part: ${(err as Error).message}, or auto (from the engine: SageMaker Processing, AWS Batch, Kubernetes)`, { option: "part", got: part }, { cause: err });
  }
}
