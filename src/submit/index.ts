/**
 * btkit/submit: descriptor -> CreateTransformJob request -> launch or attach, wait, logs, stop;
 * and btkit's own stages as SageMaker Processing jobs (processing.ts).
 * The SageMaker and CloudWatch Logs clients are always injected, so the same code drives AWS or
 * the emulator.
 */
export { buildTransformJobRequest, checkJoinable, requestWarnings, jobNameFor, DEFAULT_INSTANCE_TYPE, DEFAULT_NAME_PREFIX, type TransformRequestOptions } from "./request.js";
export { defaultOutputUri, jobOutputUri } from "./output-uri.js";
export { canonicalJson, stripUndefined } from "./json.js";
export { validateTransformJobRequest, JOB_NAME_RE, MODEL_NAME_RE, MAX_PAYLOAD_MB, type ConstraintOptions } from "./constraints.js";
export {
  submitTransformJob,
  describeTransformJob,
  stopTransformJob,
  ensureModel,
  requestDifferences,
  isNotFound,
  type SageMakerLike,
  type SubmitResult,
  type ModelSpec,
  type TransformJobDescription,
} from "./service.js";
export { waitForTransformJob, presentOutputs, type WaitEvent, type WaitOptions } from "./wait.js";
export { createLogTailer, TRANSFORM_LOG_GROUP, type LogEvent, type LogTailer, type LogsLike } from "./logs.js";
export { instanceSeconds, estimateCost, estimateInstanceSeconds, formatCost, PRICE_TABLE, type CostEstimate } from "./cost.js";
export { jobRecord, updateJobSection, jobDescriptorLocation, readJobDescriptor, storeJobDescriptor, storedJobDescriptors, type RecordContext, type StoredJob } from "./record.js";
export { verifyManifest, verifyShards } from "./verify.js";
export { missingShards, writeRetryManifest, retryRequest, manifestText, historyWith, type RetryOverrides } from "./retry.js";
export {
  buildProcessingJobRequest,
  describeProcessingJob,
  submitProcessingJob,
  stopProcessingJob,
  waitForProcessingJob,
  processingJobName,
  processingDifferences,
  processingLogStreams,
  PROCESSING_LOG_GROUP,
  DEFAULT_PROCESSING_INSTANCE_COUNT,
  DEFAULT_PROCESSING_INSTANCE_TYPE,
  DEFAULT_PROCESSING_VOLUME_GB,
  BTKIT_ENTRYPOINT,
  type ProcessingJobDescription,
  type ProcessingRequestOptions,
  type ProcessingSubmitResult,
  type ProcessingWaitEvent,
  type ProcessingWaitOptions,
} from "./processing.js";
