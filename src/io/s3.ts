/**
 * The S3 client from the standard AWS configuration (credential chain, region, profile,
 * AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_S3), plus the settings S3-compatible servers need.
 */
import { S3Client, type S3ClientConfig } from "@aws-sdk/client-s3";

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
  /** socket inactivity timeout in ms (default 120000): a stalled server is an error, not a hang */
  requestTimeoutMs?: number;
  /** retry attempts of the SDK (default 3) */
  maxAttempts?: number;
}

/** Reads S3 settings from btkit's own environment variables (documented in the README). */
export function s3SettingsFromEnv(env: Record<string, string | undefined>): S3Settings {
  const s: S3Settings = {};
  const ps = env.BTKIT_S3_PATH_STYLE;
  if (ps !== undefined) s.forcePathStyle = ps === "1" || ps.toLowerCase() === "true";
  const cs = env.BTKIT_S3_CHECKSUMS;
  if (cs === "WHEN_REQUIRED" || cs === "WHEN_SUPPORTED") s.checksums = cs;
  return s;
}

export function createS3Client(settings: S3Settings, env: Record<string, string | undefined>): S3Client {
  const fromEnv = s3SettingsFromEnv(env);
  const endpoint = settings.endpoint ?? env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL;
  const checksums = settings.checksums ?? (env.AWS_REQUEST_CHECKSUM_CALCULATION as S3Settings["checksums"]) ?? fromEnv.checksums;
  const config: S3ClientConfig = {
    forcePathStyle: settings.forcePathStyle ?? fromEnv.forcePathStyle ?? endpoint !== undefined,
    maxAttempts: settings.maxAttempts ?? 3,
    // requestTimeout only warns unless throwOnRequestTimeout is set: a stalled server must be an error.
    requestHandler: {
      requestTimeout: settings.requestTimeoutMs ?? 120_000,
      socketTimeout: settings.requestTimeoutMs ?? 120_000,
      connectionTimeout: 10_000,
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
  return new S3Client(config);
}
