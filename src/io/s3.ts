/**
 * The S3 client from the standard AWS configuration (credential chain, region, profile,
 * AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_S3), plus the settings S3-compatible servers need.
 *
 * The S3 SDK (@aws-sdk/client-s3, @aws-sdk/lib-storage) is imported on first use, not with this
 * module: a run that touches no S3 location never loads it (about 22 MB of memory, and its startup).
 */
import type * as S3Sdk from "@aws-sdk/client-s3";
import type * as LibStorage from "@aws-sdk/lib-storage";
import type { S3Client, S3ClientConfig } from "@aws-sdk/client-s3";
import { BtkitError } from "../errors.js";

let sdk: Promise<typeof S3Sdk> | undefined;
let libStorage: Promise<typeof LibStorage> | undefined;

/** The module @aws-sdk/client-s3 (its clients and commands), imported on the first call. */
export function s3Sdk(): Promise<typeof S3Sdk> {
  sdk ??= import("@aws-sdk/client-s3");
  return sdk;
}

/** The module @aws-sdk/lib-storage (multipart Upload), imported on the first call. */
export function s3LibStorage(): Promise<typeof LibStorage> {
  libStorage ??= import("@aws-sdk/lib-storage");
  return libStorage;
}

export interface S3Settings {
  /** endpoint URL; default: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, else AWS */
  endpoint?: string;
  region?: string;
  /** path-style addressing; default: on when an endpoint is set (S3-compatible servers), off for AWS */
  forcePathStyle?: boolean;
  /**
   * Flexible checksums: "WHEN_SUPPORTED" (the SDK default, for AWS) or "WHEN_REQUIRED" (for
   * S3-compatible servers that store aws-chunked framing as data, such as s3rver). Default: the
   * environment's AWS_REQUEST_CHECKSUM_CALCULATION, else BTKIT_S3_CHECKSUMS, else the SDK default.
   * btkit verifies every write itself either way (size and ETag).
   */
  checksums?: "WHEN_SUPPORTED" | "WHEN_REQUIRED";
  /** static credentials (tests); default: the SDK's credential chain */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** multipart part size in bytes (default 8 MiB, at least 5 MiB) */
  partSizeBytes?: number;
  /** parts in flight at once (default 4): memory is bounded by partSize x queueSize */
  queueSize?: number;
  /**
   * The longest one S3 operation waits on a server that stopped answering, its retries and the
   * cleanup after it included (ms; default 120000, env BTKIT_S3_STALL_TIMEOUT in seconds). It is
   * split by s3Timing into a socket-inactivity timeout per attempt and a cleanup budget. A slow
   * transfer that still moves bytes is not a stall; S3 itself keeps long CopyObject and
   * CompleteMultipartUpload responses alive with whitespace
   * (https://docs.aws.amazon.com/AmazonS3/latest/API/API_CompleteMultipartUpload.html).
   */
  stallTimeoutMs?: number;
  /** retry attempts of the SDK (default 3) */
  maxAttempts?: number;
}

/** How a stall deadline is spent: inactivity per attempt, attempts, and the cleanup afterwards (ms). */
export interface S3Timing {
  stallMs: number;
  attempts: number;
  /** socket inactivity (and connection) timeout of one attempt */
  attemptMs: number;
  /** all cleanup calls after a failed write together */
  cleanupMs: number;
}

export const DEFAULT_STALL_MS = 120_000;

/**
 * Splits the stall deadline: a tenth (at most 10 s) for cleanup, a tenth for the SDK's retry
 * backoff, the rest shared by the attempts. With the defaults: 3 attempts of 32 s, cleanup 10 s.
 */
export function s3Timing(settings: S3Settings): S3Timing {
  const stallMs = settings.stallTimeoutMs ?? DEFAULT_STALL_MS;
  const attempts = settings.maxAttempts ?? 3;
  const cleanupMs = Math.min(10_000, Math.floor(stallMs / 10));
  const attemptMs = Math.max(100, Math.floor((stallMs * 0.8) / attempts));
  return { stallMs, attempts, attemptMs, cleanupMs };
}

/** Reads S3 settings from btkit's own environment variables (documented in the README). */
export function s3SettingsFromEnv(env: Record<string, string | undefined>): S3Settings {
  const s: S3Settings = {};
  const ps = env.BTKIT_S3_PATH_STYLE;
  if (ps !== undefined) s.forcePathStyle = ps === "1" || ps.toLowerCase() === "true";
  const cs = env.BTKIT_S3_CHECKSUMS;
  if (cs === "WHEN_REQUIRED" || cs === "WHEN_SUPPORTED") s.checksums = cs;
  const stall = env.BTKIT_S3_STALL_TIMEOUT;
  if (stall !== undefined && stall !== "") {
    const secs = Number(stall);
    if (!Number.isFinite(secs) || secs <= 0) throw new BtkitError("USAGE_BAD_VALUE", `BTKIT_S3_STALL_TIMEOUT=${JSON.stringify(stall)}: expected a number of seconds above 0 (default ${DEFAULT_STALL_MS / 1000})`, { option: "BTKIT_S3_STALL_TIMEOUT", got: stall });
    s.stallTimeoutMs = Math.round(secs * 1000);
  }
  return s;
}

/**
 * An S3 client for `settings`, the rest from `env` (the standard AWS variables and btkit's, see
 * s3SettingsFromEnv); loads the S3 SDK on the first call. Rejects with USAGE_BAD_VALUE when
 * BTKIT_S3_STALL_TIMEOUT is not a number of seconds.
 */
export async function createS3Client(settings: S3Settings, env: Record<string, string | undefined>): Promise<S3Client> {
  const fromEnv = s3SettingsFromEnv(env);
  const endpoint = settings.endpoint ?? env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL;
  const checksums = settings.checksums ?? (env.AWS_REQUEST_CHECKSUM_CALCULATION as S3Settings["checksums"]) ?? fromEnv.checksums;
  const timing = s3Timing({ ...fromEnv, ...settings });
  const config: S3ClientConfig = {
    forcePathStyle: settings.forcePathStyle ?? fromEnv.forcePathStyle ?? endpoint !== undefined,
    maxAttempts: timing.attempts,
    // a stall is socket inactivity; requestTimeout (the time to the response head, which includes
    // sending a whole part) is only a backstop. It only warns unless throwOnRequestTimeout is set.
    requestHandler: {
      requestTimeout: Math.max(600_000, timing.attemptMs),
      socketTimeout: timing.attemptMs,
      connectionTimeout: Math.min(10_000, timing.attemptMs),
      throwOnRequestTimeout: true,
    },
  };
  if (endpoint) config.endpoint = endpoint;
  const region = settings.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  if (region) config.region = region;
  else if (endpoint) config.region = "us-east-1";
  if (checksums) {
    config.requestChecksumCalculation = checksums;
    config.responseChecksumValidation = checksums;
  }
  if (settings.credentials) config.credentials = settings.credentials;
  else if (env !== process.env && env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) {
    // keys in an environment given in place of the process's (a library caller's, an in-process
    // CLI's): the SDK's default chain reads process.env only, so they are passed on as they are
    // (the SDK's environment credentials: https://docs.aws.amazon.com/sdkref/latest/guide/feature-static-credentials.html)
    config.credentials = { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY, ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}) };
  }
  const { S3Client } = await s3Sdk();
  return new S3Client(config);
}
