/**
 * One error class for the whole toolkit, with a closed table of codes.
 *
 * Every code belongs to an area (its prefix) and maps to one exit status, so the CLI can turn any
 * failure into a documented exit code. Messages read "what went wrong: expected X, got Y (where)",
 * and never carry credentials, signatures or presigned URLs: see {@link redact}.
 */

/** Exit statuses of the `btkit` command. Documented in README.md and ARCHITECTURE.md. */
export const EXIT = {
  ok: 0,
  /** an unexpected failure: a bug in btkit, reported with its stack */
  internal: 1,
  /** the command line is wrong: unknown flag, bad value, missing argument */
  usage: 2,
  /** the transform job (or the processing job of --processing) ended Failed */
  jobFailed: 3,
  /** the transform job (or the processing job of --processing) ended Stopped */
  jobStopped: 4,
  /** waiting for the job timed out (`--timeout`); the job goes on */
  timeout: 5,
  /** the input data is invalid (bad rows, count mismatch, schema conflict) */
  data: 65,
  /** an input location does not exist */
  noInput: 66,
  /** AWS or the emulator refused or failed a call */
  service: 69,
  /** reading or writing a location failed (network, disk, corrupt gzip, verification) */
  io: 74,
  /** a file or job already exists with other settings */
  conflict: 75,
  /** interrupted by the user (Ctrl-C, SIGINT); a job keeps running unless told to stop */
  interrupted: 130,
  /** terminated (SIGTERM), as 128 + 15; temporaries removed as for an interrupt */
  terminated: 143,
  /** hung up (SIGHUP: the terminal closed), as 128 + 1; temporaries removed as for an interrupt */
  hangup: 129,
} as const;
export type ExitKind = keyof typeof EXIT;

/**
 * The closed table of error codes: code -> exit kind and a one-line meaning.
 * Adding a code means adding a row here (and to ARCHITECTURE.md, which a test checks).
 */
export const ERROR_CODES = {
  // usage and options
  USAGE_UNKNOWN_COMMAND: ["usage", "no such command"],
  USAGE_UNKNOWN_FLAG: ["usage", "an unknown or misspelled flag"],
  USAGE_BAD_VALUE: ["usage", "a flag or argument has a value of the wrong form"],
  USAGE_MISSING: ["usage", "a required flag or argument is missing"],
  OPT_INVALID: ["usage", "a library option is invalid"],

  // io: locations, reads, writes
  IO_BAD_LOCATION: ["usage", "a location is not a local path, file:// or s3:// URI, or escapes its prefix"],
  IO_NOT_FOUND: ["noInput", "a location does not exist"],
  IO_READ_FAILED: ["io", "reading a location failed"],
  IO_WRITE_FAILED: ["io", "writing a location failed; nothing was left under the final name"],
  IO_GZIP_CORRUPT: ["io", "a gzip stream is truncated or corrupt"],
  IO_CHANGED: ["data", "a file no longer holds what the descriptor records (sha256 or size): changed after it was written"],
  IO_VERIFY_FAILED: ["io", "a written object does not match what was sent (size or checksum)"],
  IO_LOCKED: ["conflict", "another btkit command is writing to the same output (its lock names it)"],
  IO_EXISTS: ["conflict", "a location exists and overwriting was not asked for"],
  IO_S3: ["service", "S3 refused or failed a call"],

  // pipe protocol
  PROTO_NO_INPUT: ["usage", "no descriptor on stdin and no --descriptor given"],
  PROTO_INVALID: ["data", "a descriptor is not valid JSON or misses or mistypes a field"],
  PROTO_VERSION: ["data", "a descriptor has an unknown major protocol version"],

  // prep
  PREP_NO_INPUT: ["noInput", "no input rows or files"],
  PREP_FORMAT: ["data", "an input cannot be read in its format (detected or given)"],
  PREP_HEADER: ["data", "a CSV header is empty, duplicated or missing"],
  PREP_RAGGED_ROW: ["data", "a CSV row has a different number of fields than the header"],
  PREP_QUOTE: ["data", "a CSV quote is unbalanced or misplaced"],
  PREP_ENCODING: ["data", "input is not valid UTF-8 or holds a NUL byte"],
  PREP_JSON: ["data", "a JSON line or element is invalid, not an object, or has duplicate keys"],
  PREP_TYPE: ["data", "a value does not fit its column type"],
  PREP_SCHEMA: ["data", "columns or schemas of several inputs do not agree, or --schema is invalid"],
  PREP_COLUMN: ["usage", "a column named in --features, --keep or --drop does not exist"],
  PREP_RECORD_TOO_LARGE: ["data", "an encoded record is larger than the payload limit"],
  PREP_NEWLINE: ["data", "a value holds a newline that the CSV model input cannot carry"],
  PREP_OUT_EXISTS: ["conflict", "the output holds a different preparation; use --overwrite"],
  PREP_MERGE: ["data", "part descriptors cannot be merged"],
  PREP_SPLIT: ["data", "a --part that starts inside a CSV file cannot tell where its first record begins"],

  // submit
  SUBMIT_INVALID_REQUEST: ["usage", "the CreateTransformJob request breaks a service constraint"],
  SUBMIT_MODEL_CONFLICT: ["conflict", "a model of that name exists with other settings"],
  SUBMIT_JOB_CONFLICT: ["conflict", "a job of that name exists with another request"],
  SUBMIT_OUTPUT_CONFLICT: ["conflict", "the output location holds .out files of another job"],
  SUBMIT_SERVICE: ["service", "SageMaker refused or failed a call"],
  SUBMIT_NO_JOB: ["usage", "the descriptor has no job section"],
  SUBMIT_JOB_FAILED: ["jobFailed", "the transform job ended Failed"],
  SUBMIT_JOB_STOPPED: ["jobStopped", "the transform job ended Stopped"],
  SUBMIT_TIMEOUT: ["timeout", "waiting for the job timed out; the job goes on"],
  SUBMIT_INTERRUPTED: ["interrupted", "interrupted while waiting"],
  SUBMIT_PROCESSING_FAILED: ["jobFailed", "the processing job (prep or join --processing) ended Failed"],
  SUBMIT_PROCESSING_STOPPED: ["jobStopped", "the processing job (prep or join --processing) ended Stopped"],

  // emulator (its API answers with the service's own errors: ValidationException, ResourceNotFound, ...)
  EMU_STATE: ["io", "the emulator state folder cannot be read or written"],

  // join
  JOIN_MISSING_OUTPUT: ["data", "a shard has no .out file"],
  JOIN_COUNT_MISMATCH: ["data", "an .out file has a different number of lines than its shard"],
  JOIN_JOB_STATUS: ["data", "the descriptor's job did not complete (Failed, Stopped or still running)"],
  JOIN_PROVENANCE: ["data", "an .out file was not written by the descriptor's job (older than the job, or another job's)"],
  JOIN_ECHO_MISMATCH: ["data", "a JoinSource=Input .out line echoes another input record than its shard line"],
  JOIN_BLANK_LINE: ["data", "an .out file holds a blank line"],
  JOIN_PARSE: ["data", "a prediction line cannot be parsed in the expected format"],
  JOIN_TYPE_CONFLICT: ["data", "a prediction value conflicts with the type inferred before"],
  JOIN_PAIRING: ["usage", "input and output files cannot be paired by name"],
  JOIN_OUTPUT_CONFLICT: ["conflict", "the folder to join into holds files of another joined dataset (another job, part count or format)"],
  JOIN_SIDECAR: ["data", "a sidecar misses a column or rows, or its row numbers do not follow its shard"],

  INTERNAL: ["internal", "an unexpected failure (a bug): please report it"],
} as const satisfies Record<string, readonly [ExitKind, string]>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** Where and what: every field optional, all plain data (safe to log as JSON). */
export interface ErrorContext {
  location?: string;
  input?: string;
  shard?: string;
  /** global or file row number (1-based data row, header not counted) */
  row?: number;
  /** physical line number in a file (1-based) */
  line?: number;
  column?: string;
  field?: string;
  option?: string;
  expected?: unknown;
  got?: unknown;
  job?: string;
  /** the AWS request id of the failed call, when there was one */
  requestId?: string;
  /** the HTTP status of the failed call, when there was one */
  httpStatus?: number;
  [key: string]: unknown;
}

export class BtkitError extends Error {
  override readonly name = "BtkitError";
  readonly code: ErrorCode;
  readonly context: ErrorContext;

  constructor(code: ErrorCode, message: string, context: ErrorContext = {}, options?: { cause?: unknown }) {
    super(redact(message), options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    const ctx: ErrorContext = {};
    for (const [k, v] of Object.entries(context)) {
      if (v !== undefined) ctx[k] = typeof v === "string" ? redact(v) : v;
    }
    const meta = awsMetadata(options?.cause);
    if (meta.requestId !== undefined && ctx.requestId === undefined) ctx.requestId = meta.requestId;
    if (meta.httpStatus !== undefined && ctx.httpStatus === undefined) ctx.httpStatus = meta.httpStatus;
    this.context = ctx;
  }

  /** The exit status the CLI uses for this error. */
  get exitCode(): number {
    return EXIT[ERROR_CODES[this.code][0]];
  }

  toJSON(): { code: ErrorCode; message: string; context: ErrorContext } {
    return { code: this.code, message: this.message, context: this.context };
  }
}

export function isBtkitError(err: unknown, code?: ErrorCode): err is BtkitError {
  return err instanceof BtkitError && (code === undefined || err.code === code);
}

/** Request id and HTTP status of an AWS SDK v3 service exception, if `err` is one. */
export function awsMetadata(err: unknown): { requestId?: string; httpStatus?: number; name?: string } {
  if (typeof err !== "object" || err === null) return {};
  const e = err as { $metadata?: { requestId?: string; httpStatusCode?: number }; name?: unknown };
  const out: { requestId?: string; httpStatus?: number; name?: string } = {};
  if (e.$metadata?.requestId) out.requestId = e.$metadata.requestId;
  if (typeof e.$metadata?.httpStatusCode === "number") out.httpStatus = e.$metadata.httpStatusCode;
  if (typeof e.name === "string") out.name = e.name;
  return out;
}

/** Short text of any thrown value, redacted: for wrapping causes into messages. */
export function describeCause(err: unknown): string {
  if (err instanceof Error) {
    const meta = awsMetadata(err);
    const name = meta.name && meta.name !== "Error" ? `${meta.name}: ` : "";
    return redact(`${name}${err.message}`);
  }
  return redact(String(err));
}

const SECRET_PATTERNS: Array<[RegExp, string]> = [
  // query-string credentials of presigned URLs
  [/([?&](?:X-Amz-(?:Signature|Credential|Security-Token)|Signature|AWSAccessKeyId|x-amz-security-token)=)[^&\s"']+/gi, "$1[redacted]"],
  // Authorization headers (SigV4 or other)
  [/(authorization["']?\s*[:=]\s*["']?)[^"'\n]+/gi, "$1[redacted]"],
  [/(Credential=)[^,\s]+/g, "$1[redacted]"],
  [/(Signature=)[0-9a-f]+/gi, "$1[redacted]"],
  // access key ids
  [/\b(?:AKIA|ASIA|AIDA|AROA|ANPA|ANVA|AGPA)[A-Z0-9]{12,}\b/g, "[redacted-key-id]"],
  // secret / session tokens given as key=value or "key": "value"
  [/((?:aws_)?(?:secret_access_key|secretAccessKey|session_token|sessionToken)["']?\s*[:=]\s*["']?)[^"'\s,}]+/gi, "$1[redacted]"],
];

const registeredSecrets = new Set<string>();

/**
 * Registers literal secrets (for example the secret key the process was configured with) so that
 * {@link redact} removes them wherever they appear, whatever their shape.
 */
export function registerSecret(secret: string | undefined): void {
  if (secret && secret.length >= 8) registeredSecrets.add(secret);
}

/**
 * A count with its noun for messages: "1 shard", "2 shards", "0 rows" (`plural` for nouns that do
 * not take an s: counted(n, "process", "processes")).
 */
export function counted(n: number | bigint, noun: string, plural = `${noun}s`): string {
  return `${n} ${n === 1 || n === 1n ? noun : plural}`;
}

/**
 * How a message outside the CLI names an option (the rule for every library message, in
 * src/prepare, src/join, src/submit, src/io and src/protocol): the library option as a caller
 * writes it, then the flag of the CLI in parentheses, so one message serves both readers and the
 * CLI shows it as it is:
 *
 *   optionHint("sampleRows")                    -> `sampleRows (--sample-rows)`
 *   optionHint("onInvalid", "skip")             -> `onInvalid: "skip" (--on-invalid skip)`
 *   optionHint("overwrite", true)               -> `overwrite: true (--overwrite)`
 *   optionHint("header", false, "--no-header")  -> `header: false (--no-header)`
 *
 * The flag defaults to the option in kebab case, followed by the value unless it is true; give
 * `flag` when it differs (a --no- flag, a value quoted for a shell). The error's `context.option`
 * holds the library option's name (`sampleRows`), never the flag. A step of another stage is named
 * by its command (`btkit submit --retry-failed`), as that stage's own messages name it. Messages
 * written by src/cli name flags only. Descriptor notes keep their flag-only reasons (they are
 * counted data, compared by text).
 */
export function optionHint(option: string, value?: string | number | boolean, flag?: string): string {
  const kebab = `--${option.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
  const shown = value === undefined ? option : `${option}: ${JSON.stringify(value)}`;
  return `${shown} (${flag ?? (value === undefined || value === true ? kebab : `${kebab} ${String(value)}`)})`;
}

/** Removes credentials, signatures and presigned-URL parameters from a text. */
export function redact(text: string): string {
  let out = text;
  for (const s of registeredSecrets) out = out.split(s).join("[redacted]");
  for (const [re, rep] of SECRET_PATTERNS) out = out.replace(re, rep);
  return out;
}

/** Registers the secrets found in an environment (AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, ...). */
export function registerEnvSecrets(env: Record<string, string | undefined>): void {
  registerSecret(env.AWS_SECRET_ACCESS_KEY);
  registerSecret(env.AWS_SESSION_TOKEN);
  registerSecret(env.AWS_SECURITY_TOKEN);
  registerSecret(env.AWS_ACCESS_KEY_ID);
}
