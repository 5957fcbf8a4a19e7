/**
 * The SageMaker control-plane operations the emulator answers (awsJson1_1 bodies in, out).
 * Errors are ApiErrors in the shapes the service uses: a duplicate job name is ResourceInUse, an
 * unknown job ResourceNotFound; models answer ValidationException for both ("Cannot create
 * already existing model", "Could not find model"), as the service does.
 *
 * A job's times and status follow the service: TransformStartTime (and the filled Environment)
 * once its instances start; StopTransformJob turns an InProgress job Stopping at once, and Stopped
 * (with its TransformEndTime) once every instance has shut down: in-flight invocations aborted and
 * each model process exited, after SIGTERM or, 3 s later, SIGKILL
 * (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_StopTransformJob.html: "the status
 * of the job changes to Stopping. After Amazon SageMaker stops the job, the status is set to
 * Stopped"). A model served at a local-url: has no process, so its job goes Stopped as soon as the
 * aborted invocations have ended.
 *
 * Processing jobs (CreateProcessingJob, DescribeProcessingJob, ListProcessingJobs,
 * StopProcessingJob: https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateProcessingJob.html
 * and the pages beside it; shapes of the botocore model) follow the same rules: a duplicate name
 * is ResourceInUse, an unknown one ResourceNotFound; InProgress, then Completed or Failed (with
 * FailureReason and ExitMessage), or Stopping then Stopped; ProcessingStartTime once the instances
 * start, ProcessingEndTime when the job ends (processing.ts runs them).
 */
import { ApiError, validation } from "./api-error.js";
import { planDataProcessing, planRequestOf, PlanError, type PlanSettings } from "./data-processing.js";
import type { JobRecord, ModelRecord, ProcessingJobRecord, StateStore, TransformJobStatus } from "./state.js";
import { NOT_EMULATED, PROCESSING_NOT_EMULATED, validateCreateModel, validateCreateProcessingJob, validateCreateTransformJob, validateResourceArn, validateTagKeys, validateTags, type Tag } from "./validate.js";

type Json = Record<string, unknown>;

export interface ApiContext {
  state: StateStore;
  region: string;
  account: string;
  /** the data-processing choices (EmulatorOptions) the request is checked against */
  planSettings: PlanSettings;
  /** starts running a job that was just created */
  launch(job: JobRecord): void;
  /** asks a running job to stop: it is Stopping until its instances have shut down, then Stopped */
  stop(job: JobRecord): void;
  /** writes the emulator's own note on a job to the job's `<job>/emulator` log stream */
  note(job: string, message: string): void;
  /** starts running a processing job that was just created */
  launchProcessing(job: ProcessingJobRecord): void;
  /** asks a running processing job to stop: Stopping until its processes have exited, then Stopped */
  stopProcessing(job: ProcessingJobRecord): void;
  /** the emulator's note on a processing job, to its `<job>/emulator` stream of /aws/sagemaker/ProcessingJobs */
  noteProcessing(job: string, message: string): void;
}

const sec = (ms: number | undefined): number | undefined => (ms === undefined ? undefined : ms / 1000);

function page<T>(items: T[], body: Json, max = 100): { items: T[]; next?: string } {
  const mr = body.MaxResults;
  if (mr !== undefined && (typeof mr !== "number" || mr < 1 || mr > max)) {
    throw validation(`1 validation error detected: Value '${String(mr)}' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and ${max}`);
  }
  const limit = (mr as number | undefined) ?? max;
  let start = 0;
  if (typeof body.NextToken === "string") {
    start = Number(Buffer.from(body.NextToken, "base64url").toString("utf8"));
    if (!Number.isInteger(start) || start < 0) throw validation(`Invalid pagination token: ${body.NextToken}`);
  }
  const slice = items.slice(start, start + limit);
  const out: { items: T[]; next?: string } = { items: slice };
  if (start + limit < items.length) out.next = Buffer.from(String(start + limit)).toString("base64url");
  return out;
}

function timeFilter(body: Json, created: number, modified?: number): boolean {
  const t = (k: string): number | undefined => (typeof body[k] === "number" ? (body[k] as number) * 1000 : undefined);
  const ca = t("CreationTimeAfter");
  const cb = t("CreationTimeBefore");
  const ma = t("LastModifiedTimeAfter");
  const mb = t("LastModifiedTimeBefore");
  if (ca !== undefined && !(created > ca)) return false;
  if (cb !== undefined && !(created < cb)) return false;
  if (modified !== undefined && ma !== undefined && !(modified > ma)) return false;
  if (modified !== undefined && mb !== undefined && !(modified < mb)) return false;
  return true;
}

function sortBy<T>(items: T[], key: (t: T) => string | number, order: unknown): T[] {
  items.sort((a, b) => {
    const x = key(a);
    const y = key(b);
    return x < y ? -1 : x > y ? 1 : 0;
  });
  if (order !== "Ascending") items.reverse();
  return items;
}

function describeJob(j: JobRecord): Json {
  const r = j.request;
  const out: Json = {
    TransformJobName: r.TransformJobName,
    TransformJobArn: j.arn,
    TransformJobStatus: j.status,
    ModelName: r.ModelName,
    TransformInput: {
      DataSource: r.TransformInput.DataSource,
      ContentType: r.TransformInput.ContentType,
      CompressionType: r.TransformInput.CompressionType ?? "None",
      SplitType: r.TransformInput.SplitType ?? "None",
    },
    TransformOutput: { S3OutputPath: r.TransformOutput.S3OutputPath, Accept: r.TransformOutput.Accept, AssembleWith: r.TransformOutput.AssembleWith ?? "None", KmsKeyId: r.TransformOutput.KmsKeyId ?? "" },
    TransformResources: r.TransformResources,
    CreationTime: sec(j.creationTime),
    TransformStartTime: sec(j.startTime),
    TransformEndTime: sec(j.endTime),
    FailureReason: j.failureReason,
    MaxConcurrentTransforms: r.MaxConcurrentTransforms,
    MaxPayloadInMB: r.MaxPayloadInMB,
    BatchStrategy: r.BatchStrategy,
    ModelClientConfig: r.ModelClientConfig,
    // the service fills Environment ({} when the request set none) when the job starts: the
    // recorded InProgress description of aws/amazon-sagemaker-examples
    // deploy_and_monitor/sm-batch_transform_pytorch/sm-batch_transform_pytorch.ipynb (1 s after
    // CreateTransformJob) has neither TransformStartTime nor Environment; its Completed jobs show
    // "Environment": {}. An Environment the request set is shown as set.
    Environment: j.startTime !== undefined ? (r.Environment ?? {}) : r.Environment,
    DataProcessing: { InputFilter: r.DataProcessing?.InputFilter ?? "$", JoinSource: r.DataProcessing?.JoinSource ?? "None", OutputFilter: r.DataProcessing?.OutputFilter ?? "$" },
    // taken and shown, not emulated (validate.ts NOT_EMULATED; the job's log says so)
    DataCaptureConfig: r.DataCaptureConfig,
    ExperimentConfig: r.ExperimentConfig,
  };
  return out;
}

/** DescribeProcessingJob's answer (shape DescribeProcessingJobResponse): the request as kept, and the job's state. */
function describeProcessingJob(j: ProcessingJobRecord): Json {
  const r = j.request;
  return {
    ProcessingInputs: r.ProcessingInputs,
    ProcessingOutputConfig: r.ProcessingOutputConfig,
    ProcessingJobName: r.ProcessingJobName,
    ProcessingResources: r.ProcessingResources,
    StoppingCondition: r.StoppingCondition,
    AppSpecification: r.AppSpecification,
    Environment: r.Environment,
    NetworkConfig: r.NetworkConfig,
    RoleArn: r.RoleArn,
    ExperimentConfig: r.ExperimentConfig,
    ProcessingJobArn: j.arn,
    ProcessingJobStatus: j.status,
    ExitMessage: j.exitMessage,
    FailureReason: j.failureReason,
    ProcessingEndTime: sec(j.endTime),
    ProcessingStartTime: sec(j.startTime),
    LastModifiedTime: sec(j.lastModifiedTime),
    CreationTime: sec(j.creationTime),
  };
}

const JOB_STATUSES: TransformJobStatus[] = ["InProgress", "Completed", "Failed", "Stopping", "Stopped"];

/**
 * The tagged resource an ARN names (a transform job or a model), or ValidationException: the
 * error the service answers ListTags and AddTags for a resource that does not exist
 * (https://github.com/aws/amazon-sagemaker-feedback/issues/108; the message is the emulator's).
 */
function taggedResource(state: StateStore, arn: string): JobRecord | ModelRecord {
  for (const j of state.jobs.values()) if (j.arn === arn) return j;
  for (const m of state.models.values()) if (m.arn === arn) return m;
  throw validation(`Could not find resource "${arn}".`);
}

const tagsOf = (r: JobRecord | ModelRecord): Tag[] => r.tags ?? r.request.Tags ?? [];

async function saveTagged(state: StateStore, r: JobRecord | ModelRecord): Promise<void> {
  if ("status" in r) await state.saveJob(r);
  else await state.saveModel(r);
}

export async function callSageMaker(op: string, body: Json, ctx: ApiContext): Promise<Json> {
  const { state } = ctx;
  const modelArn = (name: string): string => `arn:aws:sagemaker:${ctx.region}:${ctx.account}:model/${name.toLowerCase()}`;
  switch (op) {
    case "CreateModel": {
      const req = validateCreateModel(body);
      if (state.models.has(req.ModelName)) throw validation(`Cannot create already existing model "${modelArn(req.ModelName)}".`);
      const m: ModelRecord = { request: req, arn: modelArn(req.ModelName), creationTime: Date.now(), tags: req.Tags ?? [] };
      await state.saveModel(m);
      state.models.set(req.ModelName, m);
      return { ModelArn: m.arn };
    }
    case "DescribeModel": {
      const name = String(body.ModelName ?? "");
      const m = state.models.get(name);
      if (!m) throw validation(`Could not find model "${modelArn(name)}".`);
      const pc: Json = { Image: m.request.PrimaryContainer.Image, Environment: m.request.PrimaryContainer.Environment ?? {} };
      if (m.request.PrimaryContainer.ModelDataUrl !== undefined) pc.ModelDataUrl = m.request.PrimaryContainer.ModelDataUrl;
      return { ModelName: name, PrimaryContainer: pc, ExecutionRoleArn: m.request.ExecutionRoleArn, CreationTime: sec(m.creationTime), ModelArn: m.arn };
    }
    case "DeleteModel": {
      const name = String(body.ModelName ?? "");
      if (!state.models.has(name)) throw validation(`Could not find model "${modelArn(name)}".`);
      await state.deleteModel(name);
      state.models.delete(name);
      return {};
    }
    case "ListModels": {
      let ms = [...state.models.values()].filter((m) => timeFilter(body, m.creationTime));
      if (typeof body.NameContains === "string") ms = ms.filter((m) => m.request.ModelName.includes(body.NameContains as string));
      sortBy(ms, (m) => (body.SortBy === "Name" ? m.request.ModelName : m.creationTime), body.SortOrder);
      const p = page(ms, body);
      return { Models: p.items.map((m) => ({ ModelName: m.request.ModelName, ModelArn: m.arn, CreationTime: sec(m.creationTime) })), NextToken: p.next };
    }
    case "CreateTransformJob": {
      const req = validateCreateTransformJob(body);
      try {
        planDataProcessing(planRequestOf(req), ctx.planSettings);
      } catch (err) {
        if (err instanceof PlanError) throw validation(err.message);
        throw err;
      }
      if (state.jobs.has(req.TransformJobName)) {
        throw new ApiError("ResourceInUse", `Job name must be unique within an AWS account and region, and a job with this name already exists (${`arn:aws:sagemaker:${ctx.region}:${ctx.account}:transform-job/${req.TransformJobName.toLowerCase()}`})`);
      }
      const model = state.models.get(req.ModelName);
      if (!model) throw validation(`Could not find model "${modelArn(req.ModelName)}".`);
      const now = Date.now();
      const j: JobRecord = {
        request: req,
        arn: `arn:aws:sagemaker:${ctx.region}:${ctx.account}:transform-job/${req.TransformJobName.toLowerCase()}`,
        modelArn: model.arn,
        status: "InProgress",
        creationTime: now,
        lastModifiedTime: now,
        tags: req.Tags ?? [],
      };
      await state.saveJob(j);
      state.jobs.set(req.TransformJobName, j);
      for (const n of NOT_EMULATED) if (n.set(req)) ctx.note(req.TransformJobName, `${n.field} is accepted but not emulated: ${n.why}`);
      ctx.launch(j);
      return { TransformJobArn: j.arn };
    }
    case "DescribeTransformJob": {
      const name = String(body.TransformJobName ?? "");
      const j = state.jobs.get(name);
      if (!j) throw new ApiError("ResourceNotFound", `Could not find requested job with name ${name}`);
      return describeJob(j);
    }
    case "StopTransformJob": {
      const name = String(body.TransformJobName ?? "");
      const j = state.jobs.get(name);
      if (!j) throw new ApiError("ResourceNotFound", `Could not find requested job with name ${name}`);
      // Stopping now; Stopped when the executor has shut every instance down (ApiContext.stop)
      if (j.status === "InProgress") ctx.stop(j);
      else if (j.status !== "Stopping" && j.status !== "Stopped") throw validation(`The request was rejected because the transform job is in status ${j.status}.`);
      return {};
    }
    case "ListTransformJobs": {
      const statuses: TransformJobStatus[] = ["InProgress", "Completed", "Failed", "Stopping", "Stopped"];
      if (body.StatusEquals !== undefined && !statuses.includes(body.StatusEquals as TransformJobStatus)) {
        throw validation(`1 validation error detected: Value '${String(body.StatusEquals)}' at 'statusEquals' failed to satisfy constraint: Member must satisfy enum value set: [${statuses.join(", ")}]`);
      }
      let js = [...state.jobs.values()].filter((j) => timeFilter(body, j.creationTime, j.lastModifiedTime));
      if (typeof body.NameContains === "string") {
        const nc = body.NameContains.toLowerCase();
        js = js.filter((j) => j.request.TransformJobName.toLowerCase().includes(nc));
      }
      if (body.StatusEquals !== undefined) js = js.filter((j) => j.status === body.StatusEquals);
      const by = body.SortBy ?? "CreationTime";
      sortBy(js, (j) => (by === "Name" ? j.request.TransformJobName : by === "Status" ? j.status : j.creationTime), body.SortOrder);
      const p = page(js, body);
      return {
        TransformJobSummaries: p.items.map((j) => ({
          TransformJobName: j.request.TransformJobName,
          TransformJobArn: j.arn,
          CreationTime: sec(j.creationTime),
          TransformEndTime: sec(j.endTime),
          LastModifiedTime: sec(j.lastModifiedTime),
          TransformJobStatus: j.status,
          FailureReason: j.failureReason,
        })),
        NextToken: p.next,
      };
    }
    case "CreateProcessingJob": {
      const req = validateCreateProcessingJob(body);
      const arn = `arn:aws:sagemaker:${ctx.region}:${ctx.account}:processing-job/${req.ProcessingJobName.toLowerCase()}`;
      if (state.processingJobs.has(req.ProcessingJobName)) {
        throw new ApiError("ResourceInUse", `Job name must be unique within an AWS account and region, and a job with this name already exists (${arn})`);
      }
      const now = Date.now();
      const j: ProcessingJobRecord = { request: req, arn, status: "InProgress", creationTime: now, lastModifiedTime: now, tags: req.Tags ?? [] };
      await state.saveProcessingJob(j);
      state.processingJobs.set(req.ProcessingJobName, j);
      for (const n of PROCESSING_NOT_EMULATED) if (n.set(req)) ctx.noteProcessing(req.ProcessingJobName, `${n.field} is accepted but not emulated: ${n.why}`);
      ctx.launchProcessing(j);
      return { ProcessingJobArn: arn };
    }
    case "DescribeProcessingJob": {
      const name = String(body.ProcessingJobName ?? "");
      const j = state.processingJobs.get(name);
      if (!j) throw new ApiError("ResourceNotFound", `Could not find requested job with name ${name}`);
      return describeProcessingJob(j);
    }
    case "StopProcessingJob": {
      const name = String(body.ProcessingJobName ?? "");
      const j = state.processingJobs.get(name);
      if (!j) throw new ApiError("ResourceNotFound", `Could not find requested job with name ${name}`);
      if (j.status === "InProgress") ctx.stopProcessing(j);
      else if (j.status !== "Stopping" && j.status !== "Stopped") throw validation(`The request was rejected because the processing job is in status ${j.status}.`);
      return {};
    }
    case "ListProcessingJobs": {
      if (body.StatusEquals !== undefined && !JOB_STATUSES.includes(body.StatusEquals as TransformJobStatus)) {
        throw validation(`1 validation error detected: Value '${String(body.StatusEquals)}' at 'statusEquals' failed to satisfy constraint: Member must satisfy enum value set: [${JOB_STATUSES.join(", ")}]`);
      }
      let js = [...state.processingJobs.values()].filter((j) => timeFilter(body, j.creationTime, j.lastModifiedTime));
      if (typeof body.NameContains === "string") {
        const nc = body.NameContains.toLowerCase();
        js = js.filter((j) => j.request.ProcessingJobName.toLowerCase().includes(nc));
      }
      if (body.StatusEquals !== undefined) js = js.filter((j) => j.status === body.StatusEquals);
      const by = body.SortBy ?? "CreationTime";
      sortBy(js, (j) => (by === "Name" ? j.request.ProcessingJobName : by === "Status" ? j.status : j.creationTime), body.SortOrder);
      const p = page(js, body);
      return {
        ProcessingJobSummaries: p.items.map((j) => ({
          ProcessingJobName: j.request.ProcessingJobName,
          ProcessingJobArn: j.arn,
          CreationTime: sec(j.creationTime),
          ProcessingEndTime: sec(j.endTime),
          LastModifiedTime: sec(j.lastModifiedTime),
          ProcessingJobStatus: j.status,
          FailureReason: j.failureReason,
          ExitMessage: j.exitMessage,
        })),
        NextToken: p.next,
      };
    }
    // Tags of transform jobs and models (shapes AddTagsInput/Output, DeleteTagsInput, ListTagsInput/Output of the botocore model)
    case "ListTags": {
      const r = taggedResource(state, validateResourceArn(body.ResourceArn));
      // ListTagsMaxResults: at least 50 (a resource has at most 50 tags: one page)
      const mr = body.MaxResults;
      if (mr !== undefined && mr !== null && (typeof mr !== "number" || mr < 50)) {
        throw validation(`1 validation error detected: Value '${String(mr)}' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 50`);
      }
      const p = page(tagsOf(r), { MaxResults: mr, NextToken: body.NextToken }, Number.MAX_SAFE_INTEGER);
      return { Tags: p.items, NextToken: p.next };
    }
    case "AddTags": {
      const r = taggedResource(state, validateResourceArn(body.ResourceArn));
      const add = validateTags(body.Tags, "tags", true)!;
      // "Adds or overwrites one or more tags" (API_AddTags): a key given again takes the new value
      const tags = new Map(tagsOf(r).map((t) => [t.Key, t.Value]));
      for (const t of add) tags.set(t.Key, t.Value);
      r.tags = [...tags].map(([Key, Value]) => ({ Key, Value }));
      await saveTagged(state, r);
      return { Tags: r.tags };
    }
    case "DeleteTags": {
      const r = taggedResource(state, validateResourceArn(body.ResourceArn));
      const keys = new Set(validateTagKeys(body.TagKeys, "tagKeys"));
      r.tags = tagsOf(r).filter((t) => !keys.has(t.Key));
      await saveTagged(state, r);
      return {};
    }
    default:
      throw new ApiError("UnknownOperationException", `The emulator does not implement SageMaker.${op}`);
  }
}
