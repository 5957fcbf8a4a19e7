/**
 * btkit submit: descriptor on stdin (or --descriptor) -> CreateTransformJob -> the descriptor with
 * its job section on stdout. Thin over btkit/submit, loaded when the command runs (its help loads
 * no AWS SDK); the clients come from the standard AWS configuration (or from the deps, for tests
 * and --local).
 */
import type { CreateTransformJobRequest } from "@aws-sdk/client-sagemaker";
import { createHash } from "node:crypto";
import { pathToFileURL } from "node:url";
import { BtkitError, counted } from "../errors.js";
import type { Descriptor, JobSection } from "../protocol/descriptor.js";
import { outputNameFor } from "../protocol/layout.js";
import { DEFAULT_PREDICTION_NAME } from "../protocol/layout.js";
import type { RetryOverrides, TransformRequestOptions } from "../submit/index.js";
import { flagNumber, flagString, type FlagSpec, type ParsedArgs } from "./args.js";
import { COMMON_FLAGS, type Command } from "./command.js";
import type { CliContext } from "./context.js";
import type { Backend, JobCommandDeps } from "./job-backend.js";
import { EMULATOR_BEHAVIOUR_FLAGS } from "./emulator-flags.js";
import { DEFAULT_DEPS, LOCAL_FLAGS, LOCAL_GROUP, outputFolderOf, shown } from "./job-prologue.js";
import { WAIT_FLAGS, watchAndEmit } from "./job-watch.js";
import { readDescriptorOrParts } from "./parts.js";

const G_REQ = "Request";
const G_MODEL = "Model";
const G_OUT = "Input and output";

const FLAGS = {
  descriptor: { type: "string", value: "PATH|URI", help: "read the descriptor from this file instead of stdin (a folder or prefix means its btkit.json; without one, the part descriptors of prep --part runs under its parts/ are merged first when all are there)", group: G_OUT },
  "wait-parts": { type: "boolean", help: "with --descriptor a folder or prefix prepared in parts: wait for the missing part descriptors (polling), then merge and submit", group: G_OUT },
  model: { type: "string", value: "NAME", help: "the SageMaker model to run (created first with --model-data/--image)", group: G_MODEL },
  "model-data": { type: "string", value: "URI", help: "model.tar.gz to create the model from when it does not exist (s3://; with --local also a local path or file://)", group: G_MODEL },
  image: { type: "string", value: "URI", help: "inference image of the model to create", group: G_MODEL },
  role: { type: "string", value: "ARN", help: "execution role of the model to create", group: G_MODEL },
  "instance-type": { type: "string", value: "TYPE", default: "ml.m5.large", help: "transform instance type", group: G_REQ },
  "instance-count": { type: "int", value: "N", help: "number of instances (1-100); each takes whole shards [default: the --instances prep recorded, else 1]", group: G_REQ },
  strategy: { type: "string", value: "S", choices: ["MultiRecord", "SingleRecord"], default: "MultiRecord", help: "BatchStrategy", group: G_REQ },
  "max-payload-mb": { type: "int", value: "MB", help: "MaxPayloadInMB (0-100); default: unset when the largest record fits 6 MB, else the size it needs", group: G_REQ },
  concurrency: { type: "int", value: "N", help: "MaxConcurrentTransforms per instance; default: unset (the container decides, else 1)", group: G_REQ },
  output: { type: "string", value: "PATH|URI", help: "S3OutputPath (s3://; with --local also a local folder or file://); default: output/<job name> beside the manifest, one prefix per job", group: G_OUT },
  "overwrite-output": { type: "boolean", help: "launch even when --output holds .out files of another job (they are not deleted; join takes only .out files written while this job ran)", group: G_OUT },
  accept: { type: "string", value: "MIME", help: "TransformOutput.Accept; default: the descriptor's content type", group: G_REQ },
  "input-filter": { type: "string", value: "JSONPATH", help: "DataProcessing.InputFilter", group: G_REQ },
  "output-filter": { type: "string", value: "JSONPATH", help: "DataProcessing.OutputFilter", group: G_REQ },
  "join-source": { type: "string", value: "S", choices: ["Input", "None"], help: "DataProcessing.JoinSource", group: G_REQ },
  env: { type: "string", value: "K=V", multiple: true, help: "container environment variable", group: G_REQ },
  tag: { type: "string", value: "K=V", multiple: true, help: "tag on the job", group: G_REQ },
  "output-kms-key": { type: "string", value: "KEY", help: "TransformOutput.KmsKeyId", group: G_REQ },
  "volume-kms-key": { type: "string", value: "KEY", help: "TransformResources.VolumeKmsKeyId", group: G_REQ },
  "invocation-timeout": { type: "int", value: "SECONDS", help: "ModelClientConfig.InvocationsTimeoutInSeconds (1-3600; service default 600)", group: G_REQ },
  "invocation-retries": { type: "int", value: "N", help: "ModelClientConfig.InvocationsMaxRetries (0-3; service default 3)", group: G_REQ },
  name: { type: "string", value: "NAME", help: "an explicit job name instead of the derived one", group: G_REQ },
  "name-prefix": { type: "string", value: "P", default: "btkit", help: "prefix of the derived job name (<prefix>-<hash of data and request>)", group: G_REQ },
  new: { type: "boolean", help: "launch a fresh job even when this request ran before", group: G_REQ },
  "dry-run": { type: "boolean", help: "print the request as JSON for aws sagemaker create-transform-job --cli-input-json; call nothing", group: G_REQ },
  "expected-seconds-per-shard": { type: "number", value: "SECONDS", min: 0, help: "with --dry-run: estimate instance-seconds and cost", group: G_REQ },
  "retry-failed": { type: "boolean", help: "relaunch only the shards of the descriptor's job that have no .out (or a stale one), into the same output; model, instance, batching, --env and --tag flags apply to the retry job. Given a preparation's descriptor: the job this same command ran (a rerun without the flag attaches to it)", group: G_REQ },
  "prediction-name": { type: "string", value: "NAME", help: "the column join gives a scalar prediction (recorded for join); default: prediction", group: G_REQ },
  "prediction-prefix": { type: "string", value: "TEXT", help: "the prefix join gives object-key and index prediction columns (recorded for join); default: pred_", group: G_REQ },
  ...LOCAL_FLAGS,
  ...EMULATOR_BEHAVIOUR_FLAGS,
  "model-command": { type: "string", value: "CMD", help: "with --local: the model is this command, started with `serve` (port from SAGEMAKER_BIND_TO_PORT)", group: LOCAL_GROUP },
  "model-url": { type: "string", value: "URL", help: "with --local: the model is already served at this URL", group: LOCAL_GROUP },
  ...WAIT_FLAGS,
  ...COMMON_FLAGS,
} as const satisfies Record<string, FlagSpec>;



function pairs(args: ParsedArgs, name: string): Record<string, string> | undefined {
  const vs = args.flags[name] as string[] | undefined;
  if (vs === undefined) return undefined;
  const out: Record<string, string> = {};
  for (const v of vs) {
    const eq = String(v).indexOf("=");
    if (eq <= 0) throw new BtkitError("USAGE_BAD_VALUE", `--${name} expects KEY=VALUE, got ${JSON.stringify(v)}`, { option: `--${name}`, got: v });
    out[String(v).slice(0, eq)] = String(v).slice(eq + 1);
  }
  return out;
}

/** The model name derived from what it is made of, when --model is not given with --image. */
function derivedModelName(image: string, data: string | undefined, role: string | undefined): string {
  return `btkit-model-${createHash("sha256").update(JSON.stringify([image, data ?? null, role ?? null])).digest("hex").slice(0, 16)}`;
}

/**
 * A location flag as the service reads it: s3:// and https:// as given; a local path or file://
 * URI as a file:// URI, which only the emulator reads (`emulator`), else a usage error saying why.
 */
export function serviceLocation(ctx: CliContext, flag: string, text: string | undefined, emulator: boolean, what: string): string | undefined {
  if (text === undefined || /^(s3|https):\/\//i.test(text)) return text;
  const path = ctx.localFolder(flag, text, "not a location the service reads");
  if (!emulator) {
    throw new BtkitError("USAGE_BAD_VALUE", `${flag} ${text} is a local path, but SageMaker ${what} S3 only: give an s3:// URI, or run the job on the emulator with --local`, { option: flag, location: text });
  }
  return /^file:/i.test(text) ? text : pathToFileURL(path).href;
}

export function requestOptions(args: ParsedArgs, model: string | undefined, allowFileUris: boolean, output = flagString(args, "output")): TransformRequestOptions {
  return {
    model,
    instanceType: flagString(args, "instance-type"),
    instanceCount: flagNumber(args, "instance-count"),
    strategy: flagString(args, "strategy") as TransformRequestOptions["strategy"],
    maxPayloadMb: flagNumber(args, "max-payload-mb"),
    concurrency: flagNumber(args, "concurrency"),
    output,
    accept: flagString(args, "accept"),
    inputFilter: flagString(args, "input-filter"),
    outputFilter: flagString(args, "output-filter"),
    joinSource: flagString(args, "join-source") as TransformRequestOptions["joinSource"],
    environment: pairs(args, "env"),
    tags: pairs(args, "tag"),
    outputKmsKey: flagString(args, "output-kms-key"),
    volumeKmsKey: flagString(args, "volume-kms-key"),
    invocationTimeoutSeconds: flagNumber(args, "invocation-timeout"),
    invocationRetries: flagNumber(args, "invocation-retries"),
    jobName: flagString(args, "name"),
    namePrefix: flagString(args, "name-prefix"),
    nameSalt: args.flags.new === true ? `${Date.now()}-${Math.random()}` : undefined,
    allowFileUris,
  };
}

export function createSubmitCommand(deps: JobCommandDeps = DEFAULT_DEPS): Command {
  return {
    spec: {
      name: "submit",
      summary: "launch (or attach to) the transform job for a prepared descriptor",
      usage: "[--descriptor PATH|URI] --model NAME [options]",
      description:
        "Builds the CreateTransformJob request from the descriptor (manifest, content type, split, compression and payload size come from it) plus the options, checks every service constraint, and launches the job under a name derived from the data and the request, so a rerun attaches to the job instead of paying twice. Prints the descriptor with its job section.",
      examples: [
        "btkit prep data.csv --out s3://b/run1 | btkit submit --model my-model --wait > run1.json",
        "btkit submit --descriptor s3://b/run1 --model my-model --instance-count 4 --dry-run",
      ],
      flags: FLAGS,
    },
    async run(ctx, args) {
      const {
        buildTransformJobRequest,
        describeTransformJob,
        verifyManifest,
        verifyShards,
        defaultOutputUri,
        ensureModel,
        estimateCost,
        estimateInstanceSeconds,
        formatCost,
        historyWith,
        jobRecord,
        missingShards,
        requestWarnings,
        retryRequest,
        submitTransformJob,
        updateJobSection,
        writeRetryManifest,
      } = await import("../submit/index.js");
      let { descriptor: input } = await readDescriptorOrParts(ctx, flagString(args, "descriptor"), { waitParts: args.flags["wait-parts"] === true });
      const dryRun = args.flags["dry-run"] === true;
      const local = args.flags.local === true || args.flags.state !== undefined;
      const modelCommand = flagString(args, "model-command");
      const modelUrl = flagString(args, "model-url");
      if ((modelCommand !== undefined || modelUrl !== undefined) && !local) {
        throw new BtkitError("USAGE_MISSING", "--model-command and --model-url run the model on the emulator: add --local", { option: "--local" });
      }
      if (modelCommand !== undefined && modelUrl !== undefined) throw new BtkitError("USAGE_BAD_VALUE", "give --model-command or --model-url, not both", { option: "--model-url" });
      if ((modelCommand !== undefined || modelUrl !== undefined) && args.flags.image !== undefined) throw new BtkitError("USAGE_BAD_VALUE", "--image and --model-command/--model-url both say what the model runs: give one", { option: "--image" });
      // the emulator's image forms (src/emulator/index.ts, local-cmd: and local-url: images): a command started with `serve`, or a running server
      const image = modelCommand !== undefined ? `local-cmd:${modelCommand}` : modelUrl !== undefined ? `local-url:${modelUrl}` : flagString(args, "image");
      const role = flagString(args, "role");
      if ((args.flags["model-data"] !== undefined || role !== undefined) && image === undefined) {
        throw new BtkitError("USAGE_MISSING", "--model-data and --role create a model and need --image URI", { option: "--image" });
      }
      const retry = args.flags["retry-failed"] === true;
      if (!retry && input.shards.length === 0) {
        // nothing pointless is launched: no job, no model; join then writes an empty table
        if (dryRun) {
          // stdout would be the request: there is none, and a descriptor there would be misread as one
          ctx.log("nothing to transform: the preparation has no rows; no request to print");
          return 0;
        }
        ctx.log("nothing to transform: the preparation has no rows; no job launched, no model created");
        await ctx.emitDescriptor(input);
        return 0;
      }
      // a preparation's descriptor with --retry-failed: these flags name the job to retry (the one this same command attached to)
      if (retry && input.job) refuseRetryChanges(args);
      let naming = predictionNaming(args, input);
      const outputHint = retry ? (input.job ? outputFolderOf(input.job) : undefined) : (flagString(args, "output") ?? defaultOutputUri(input));
      const backend = dryRun ? undefined : await deps.backend(ctx, args, { job: retry ? input.job : undefined, outputLocation: outputHint });
      try {
        // file:// locations are the emulator's extension: AWS gets s3:// only (checked before sending)
        const allowFile = backend?.kind === "emulator" || (dryRun && local);
        const output = serviceLocation(ctx, "--output", flagString(args, "output"), allowFile, "writes a job's output to");
        const modelData = serviceLocation(ctx, "--model-data", flagString(args, "model-data"), allowFile, "reads model data from");
        const model = flagString(args, "model") ?? (image !== undefined ? derivedModelName(image, modelData, role) : undefined);
        let request: CreateTransformJobRequest;
        let shards: string[] | undefined;
        let history: JobSection["history"];
        if (retry) {
          if (!input.job) {
            input = await jobOfRequest(ctx, input, buildTransformJobRequest(input, requestOptions(args, model, allowFile, output)), backend);
            naming = predictionNaming(args, input);
          }
          let job = input.job!;
          const running = (): boolean => job!.status === "InProgress" || job!.status === "Stopping";
          if (running() && backend) {
            // the descriptor may be older than the job's end (saved while it ran, or when a --local run was interrupted)
            const now = await describeTransformJob(job.name, backend.sagemaker);
            if (now) input = { ...input, job: (job = updateJobSection(job, now)) };
          }
          if (running()) {
            throw new BtkitError("SUBMIT_INVALID_REQUEST", `--retry-failed: job ${job.name} is still ${job.status}; wait for it first (btkit status --wait)`, { job: job.name });
          }
          const missing = await missingShards(input, await ctx.storage());
          if (missing.length === 0) {
            ctx.log(`every shard of job ${job.name} has its .out file: nothing to retry${dryRun ? "; no request to print" : ""}`);
            // a dry run's stdout is the request: there is none, and a descriptor there would be misread as one
            if (!dryRun) await ctx.emitDescriptor(input);
            return 0;
          }
          shards = missing.map((s) => s.name);
          const manifest = dryRun ? `${input.manifest.location.replace(/[^/]*$/, "")}manifest-retry-${(job.history?.length ?? 0) + 1}.json` : await writeRetryManifest(input, missing, await ctx.storage());
          ctx.log(`retrying ${counted(missing.length, "shard")} without output: ${shards.join(", ")} (manifest ${manifest})`);
          request = retryRequest(input, manifest, { namePrefix: flagString(args, "name-prefix"), allowFileUris: allowFile, overrides: retryOverrides(args, model, image !== undefined) });
          history = historyWith(input);
        } else {
          request = buildTransformJobRequest(input, requestOptions(args, model, allowFile, output));
        }
        for (const w of requestWarnings(input, request, shards?.length)) ctx.warn(w);
        if (dryRun) {
          const seconds = flagNumber(args, "expected-seconds-per-shard");
          if (seconds !== undefined) {
            const count = request.TransformResources?.InstanceCount ?? 1;
            const est = estimateInstanceSeconds(shards?.length ?? input.shards.length, count, seconds);
            const cost = estimateCost(est, request.TransformResources?.InstanceType ?? "", flagNumber(args, "price-per-hour"));
            ctx.log(`estimate: ${cost ? formatCost(cost) : `${counted(est, "instance-second")} (no price known: give --price-per-hour)`}`);
          }
          await ctx.out(`${JSON.stringify(request, null, 2)}\n`);
          return 0;
        }
        const be = backend!;
        if (image !== undefined) {
          const { created } = await ensureModel({ name: model!, image, modelDataUrl: modelData, role }, { client: be.sagemaker });
          ctx.log(created ? `created model ${model}` : `model ${model} exists with the same settings`);
        }
        if (!retry && args.given.has("output") && args.flags["overwrite-output"] !== true) await refuseForeignOutput(ctx, request, be, input.shards.map((s) => outputNameFor(s.name)));
        if (!(await describeTransformJob(request.TransformJobName!, be.sagemaker))) {
          // before anything is paid for: the shards are what prep wrote (a rerun that attaches has used them already)
          if (!retry) await verifyManifest(input, await ctx.storage());
          const checked = await verifyShards(input, await ctx.storage(), { names: shards, signal: ctx.io.signal });
          ctx.log(`checked ${counted(checked.length, "shard")} against the descriptor's sha256`);
        }
        const result = await submitTransformJob(request, { client: be.sagemaker });
        ctx.log(result.attached ? `attached to existing job ${result.name} (${result.description.TransformJobStatus}); nothing launched` : `launched job ${result.name}`);
        // the backend and, for --local, the emulator's state folder: status and stop start it there again
        const record = { ...jobRecord(request, result.description, { backend: be.kind, endpoint: be.kind === "emulator" ? be.endpoint : undefined, region: be.region, shards, stateDir: be.stateDir }), ...naming };
        if (!retry && input.job) {
          // the same job again keeps its history; another job for the same data records the earlier ones
          history = input.job.name === result.name ? input.job.history : historyWith(input).filter((h) => h.name !== result.name);
        }
        const d: Descriptor = { ...input, job: history && history.length > 0 ? { ...record, history } : record };
        return await watchAndEmit(ctx, args, d, be, { attached: result.attached && !retry });
      } finally {
        await backend?.close();
      }
    },
  };
}

/**
 * --retry-failed given a preparation's descriptor: the job the same request names (the one a rerun
 * without --retry-failed attaches to), as its descriptor stored beside its output records it (with
 * the retries made since), else as the service describes it. None is SUBMIT_NO_JOB.
 */
async function jobOfRequest(ctx: CliContext, input: Descriptor, request: CreateTransformJobRequest, backend: Backend | undefined): Promise<Descriptor> {
  const { describeTransformJob, jobRecord, readJobDescriptor } = await import("../submit/index.js");
  const name = request.TransformJobName!;
  if (!backend) throw new BtkitError("SUBMIT_NO_JOB", `--retry-failed --dry-run needs the job's descriptor (btkit submit stored job ${name}'s beside its output: pass it with --descriptor)`, { job: name, option: "--descriptor" });
  const description = await describeTransformJob(name, backend.sagemaker);
  if (!description) throw new BtkitError("SUBMIT_NO_JOB", `--retry-failed: no job ran for this request yet (it would be ${name}): leave --retry-failed out to launch it`, { job: name });
  const where = `${request.TransformOutput!.S3OutputPath!}/btkit.json`;
  const stored = await readJobDescriptor(where, await ctx.storage());
  const chain = stored?.job ? [stored.job.name, ...(stored.job.history ?? []).map((h) => h.name)] : [];
  ctx.log(`--retry-failed: this request's job is ${name} (${description.TransformJobStatus})${chain.includes(name) ? `; its descriptor: ${shown(where)}` : ""}`);
  if (stored?.job && chain.includes(name)) return stored;
  return { ...input, job: jobRecord(request, description, { backend: backend.kind, endpoint: backend.kind === "emulator" ? backend.endpoint : undefined, region: backend.region, stateDir: backend.stateDir }) };
}

/** Flags that would make a retry job's .out files read unlike the retried job's: refused with --retry-failed. */
const RETRY_FIXED = ["output", "overwrite-output", "accept", "input-filter", "output-filter", "join-source"] as const;

function refuseRetryChanges(args: ParsedArgs): void {
  const fixed = RETRY_FIXED.filter((f) => args.given.has(f));
  if (fixed.length > 0) {
    throw new BtkitError(
      "USAGE_BAD_VALUE",
      `--retry-failed reuses the retried job's output location, Accept and DataProcessing, so that every shard's .out reads alike; ${fixed.map((f) => `--${f}`).join(", ")} cannot change them. Leave ${fixed.length === 1 ? "it" : "them"} out, or run a fresh job for every shard with btkit submit --new`,
      { option: `--${fixed[0]}` },
    );
  }
}

/** What a retry job changes from the retried one: the model, instances, batching, environment and tags given now. */
function retryOverrides(args: ParsedArgs, model: string | undefined, modelGiven: boolean): RetryOverrides {
  const o = requestOptions(args, model, false);
  const given = (f: string): boolean => args.given.has(f);
  return {
    model: given("model") || modelGiven ? o.model : undefined,
    instanceType: given("instance-type") ? o.instanceType : undefined,
    instanceCount: given("instance-count") ? o.instanceCount : undefined,
    strategy: given("strategy") ? o.strategy : undefined,
    maxPayloadMb: o.maxPayloadMb,
    concurrency: o.concurrency,
    environment: o.environment,
    tags: o.tags,
    outputKmsKey: o.outputKmsKey,
    volumeKmsKey: o.volumeKmsKey,
    invocationTimeoutSeconds: o.invocationTimeoutSeconds,
    invocationRetries: o.invocationRetries,
    jobName: o.jobName,
    nameSalt: o.nameSalt,
  };
}

/**
 * The prediction column names join will use (recorded in the job section), refused when a kept
 * column has the scalar prediction's name (`predictionName`): refused here, before the job, not by
 * join after it.
 */
function predictionNaming(args: ParsedArgs, d: Descriptor): { predictionName?: string; predictionPrefix?: string } {
  const name = flagString(args, "prediction-name") ?? d.job?.predictionName;
  const prefix = flagString(args, "prediction-prefix") ?? d.job?.predictionPrefix;
  // the joined table holds every column of the schema (kept ones from the sidecar, features read back from the shards)
  const columns = d.schema.columns.map((c) => c.name);
  const scalar = name ?? DEFAULT_PREDICTION_NAME;
  if (scalar.length === 0) throw new BtkitError("USAGE_BAD_VALUE", "--prediction-name must not be empty", { option: "--prediction-name" });
  if (columns.includes(scalar)) {
    throw new BtkitError("SUBMIT_INVALID_REQUEST", `the column ${JSON.stringify(scalar)} has the name join gives a scalar prediction: choose another with --prediction-name (recorded for join)`, { column: scalar, option: "--prediction-name" });
  }
  // a kept column that starts with the prefix collides only if the model answers that key or
  // index, which is not known before the job: join checks it (and --prediction-prefix mends it there)
  return { ...(name !== undefined ? { predictionName: name } : {}), ...(prefix !== undefined ? { predictionPrefix: prefix } : {}) };
}

/**
 * An explicit --output that already holds .out files is another job's output unless this job
 * exists (a rerun attaches): a failed shard would then be joined with another job's prediction.
 */
async function refuseForeignOutput(ctx: CliContext, request: CreateTransformJobRequest, be: Backend, names: string[]): Promise<void> {
  const output = request.TransformOutput!.S3OutputPath!;
  const expected = new Set(names);
  const found: string[] = [];
  for await (const o of (await ctx.storage()).list(output.endsWith("/") ? output : `${output}/`)) {
    if (expected.has(o.relative)) found.push(o.relative);
    if (found.length >= 3) break;
  }
  if (found.length === 0) return;
  const { describeTransformJob } = await import("../submit/index.js");
  if (await describeTransformJob(request.TransformJobName!, be.sagemaker)) return;
  throw new BtkitError(
    "SUBMIT_OUTPUT_CONFLICT",
    `--output ${output} already holds .out files of another job (${found.join(", ")}${found.length >= 3 ? ", ..." : ""}): a shard this job fails would be joined with another job's prediction. Leave --output out (each job then writes to output/<job name>), give an empty location, or pass --overwrite-output (join takes only the .out files written while this job ran)`,
    { location: output, option: "--overwrite-output", job: request.TransformJobName },
  );
}

export const submitCommand = createSubmitCommand();
