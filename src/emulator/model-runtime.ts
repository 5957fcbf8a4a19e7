/**
 * Model instances: how a model's container runs locally, and the HTTP calls the executor makes
 * to it (https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-batch-code.html, https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-inference-code.html).
 *
 * PrimaryContainer.Image says what runs:
 * - `local-cmd:<shell command line>`: run `sh -c '<cmd> serve'`, one process per instance, with
 *   SAGEMAKER_BIND_TO_PORT=<a free port the emulator picked> plus the container environment.
 * - `local-url:<http://host:port>`: the model is already served at that URL (no process).
 * - any other image URI: looked up in the emulator's imageMap (URI -> command, run as local-cmd).
 *
 * Calls reuse keep-alive connections (one agent per instance, as many sockets as concurrent
 * requests), so the emulator's overhead per request stays small next to the model's.
 */
import { spawn, type ChildProcess } from "node:child_process";
import http from "node:http";
import net from "node:net";

export interface LogSink {
  (message: string): void;
}

export interface ModelInstance {
  readonly url: string;
  readonly agent: http.Agent;
  /** set when the process exited (code or signal text) */
  exited: string | undefined;
  close(): Promise<void>;
}

export type ImageResolution = { kind: "cmd"; command: string } | { kind: "url"; url: string };

/** How an image runs, or an error text for the job's FailureReason. */
export function resolveImage(image: string, imageMap: Readonly<Record<string, string>>): ImageResolution | string {
  if (image.startsWith("local-cmd:")) {
    const command = image.slice("local-cmd:".length).trim();
    return command.length > 0 ? { kind: "cmd", command } : `image ${JSON.stringify(image)} names no command`;
  }
  if (image.startsWith("local-url:")) {
    const url = image.slice("local-url:".length).trim().replace(/\/+$/, "");
    if (!/^http:\/\/[^/]+$/.test(url)) return `image ${JSON.stringify(image)}: expected local-url:http://HOST:PORT`;
    return { kind: "url", url };
  }
  const mapped = imageMap[image];
  if (mapped !== undefined) return { kind: "cmd", command: mapped };
  return `the emulator cannot run image ${JSON.stringify(image)}: use local-cmd:<command>, local-url:<http://host:port>, or map the image to a command (--image-map URI=CMD)`;
}

export async function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, host, () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

export function lineLogger(stream: NodeJS.ReadableStream | null, sink: LogSink): void {
  if (!stream) return;
  let carry = "";
  stream.setEncoding("utf8");
  stream.on("data", (chunk: string) => {
    const parts = (carry + chunk).split("\n");
    carry = parts.pop()!;
    for (const p of parts) sink(p);
  });
  stream.on("end", () => {
    if (carry.length > 0) sink(carry);
    carry = "";
  });
}

/** The environment a model process starts with: ours without SAGEMAKER_*, then the container's. */
export function processEnv(base: Record<string, string | undefined>, container: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) if (v !== undefined && !k.startsWith("SAGEMAKER_")) env[k] = v;
  return { ...env, ...container };
}

/** Starts one instance of a model. */
export async function startInstance(
  res: ImageResolution,
  options: {
    host: string;
    env: Record<string, string>;
    baseEnv: Record<string, string | undefined>;
    cwd?: string;
    maxSockets: number;
    log: LogSink;
    /** a model process (group) started: awaited before the instance is used */
    onSpawn?: (pid: number) => Promise<void>;
    /** it ended */
    onExit?: (pid: number) => Promise<void>;
  },
): Promise<ModelInstance> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: Math.max(1, options.maxSockets) });
  if (res.kind === "url") {
    return {
      url: res.url,
      agent,
      exited: undefined,
      close: async () => agent.destroy(),
    };
  }
  const port = await freePort(options.host);
  const env = processEnv(options.baseEnv, { ...options.env, SAGEMAKER_BIND_TO_PORT: String(port) });
  const child: ChildProcess = spawn("sh", ["-c", `${res.command} serve`], { env, cwd: options.cwd, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  const inst: ModelInstance = {
    url: `http://${options.host}:${port}`,
    agent,
    exited: undefined,
    close: async () => {
      agent.destroy();
      if (inst.exited !== undefined || child.pid === undefined) return;
      const done = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {
        return;
      }
      const timer = setTimeout(() => {
        try {
          process.kill(-child.pid!, "SIGKILL");
        } catch {
          // already gone
        }
      }, 3000);
      await done;
      clearTimeout(timer);
    },
  };
  lineLogger(child.stdout, options.log);
  lineLogger(child.stderr, options.log);
  child.on("error", (err) => {
    inst.exited = `could not start: ${err.message}`;
  });
  child.on("exit", (code, signal) => {
    inst.exited = signal ? `killed by ${signal}` : `exited with code ${code}`;
    if (child.pid !== undefined) void options.onExit?.(child.pid).catch(() => undefined);
  });
  if (child.pid !== undefined) await options.onSpawn?.(child.pid).catch(() => undefined);
  return inst;
}

export interface HttpResult {
  status: number;
  body: Buffer;
}

export class InvokeTimeout extends Error {}

/** The size of each chunk of a body sent with Transfer-Encoding: chunked. */
const CHUNK_BYTES = 1024 * 1024;

/**
 * One HTTP request to an instance; rejects on network errors and on the timeout. A body is sent
 * with Content-Length, or, when `chunked`, with Transfer-Encoding: chunked in chunks of at most
 * 1 MiB (what MaxPayloadInMB 0 asks for: "For cases where the payload might be arbitrarily large
 * and is transmitted using HTTP chunked encoding, set the value to 0",
 * https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateTransformJob.html).
 */
export function request(inst: ModelInstance, method: string, path: string, body: Buffer | undefined, headers: Record<string, string>, timeoutMs: number, signal?: AbortSignal, chunked = false): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const url = new URL(path, inst.url);
    const h: Record<string, string | number> = { ...headers };
    if (body !== undefined) {
      if (chunked) h["transfer-encoding"] = "chunked";
      else h["content-length"] = body.length;
    }
    const req = http.request({ method, hostname: url.hostname, port: url.port, path: url.pathname, agent: inst.agent, headers: h, signal });
    const timer = setTimeout(() => req.destroy(new InvokeTimeout(`no response within ${timeoutMs / 1000} s`)), timeoutMs);
    req.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", (err) => {
        clearTimeout(timer);
        reject(err);
      });
      res.on("end", () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks) });
      });
    });
    if (body !== undefined && chunked) {
      for (let at = 0; at < body.length; at += CHUNK_BYTES) req.write(body.subarray(at, at + CHUNK_BYTES));
      req.end();
    } else req.end(body);
  });
}

/**
 * Waits for GET /ping to answer 200 (2 s per ping: https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-batch-code.html), polling every `intervalMs`,
 * for at most `timeoutMs`. Returns undefined when healthy, else the reason.
 */
export async function waitHealthy(inst: ModelInstance, timeoutMs: number, intervalMs: number, signal: AbortSignal): Promise<string | undefined> {
  const deadline = Date.now() + timeoutMs;
  let last: string;
  while (!signal.aborted) {
    if (inst.exited !== undefined) return `the model process ${inst.exited} before it became healthy`;
    try {
      const r = await request(inst, "GET", "/ping", undefined, {}, 2000, signal);
      if (r.status === 200) return undefined;
      last = `GET /ping answered ${r.status}`;
    } catch (err) {
      last = `GET /ping failed: ${(err as Error).message}`;
    }
    if (Date.now() >= deadline) return `the model did not become healthy within ${Math.round(timeoutMs / 1000)} s (${last})`;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  return "stopped";
}

export interface ExecutionParameters {
  MaxConcurrentTransforms?: number;
  BatchStrategy?: "SingleRecord" | "MultiRecord";
  MaxPayloadInMB?: number;
}

/** GET /execution-parameters (https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-batch-code.html); absent or unusable answers give {}. */
export async function executionParameters(inst: ModelInstance, signal: AbortSignal): Promise<ExecutionParameters> {
  let r: HttpResult;
  try {
    r = await request(inst, "GET", "/execution-parameters", undefined, {}, 10_000, signal);
  } catch {
    return {};
  }
  if (r.status !== 200) return {};
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(r.body.toString("utf8")) as Record<string, unknown>;
  } catch {
    return {};
  }
  const out: ExecutionParameters = {};
  if (typeof j.MaxConcurrentTransforms === "number" && j.MaxConcurrentTransforms >= 1) out.MaxConcurrentTransforms = Math.floor(j.MaxConcurrentTransforms);
  if (typeof j.MaxPayloadInMB === "number" && j.MaxPayloadInMB >= 0) out.MaxPayloadInMB = Math.floor(j.MaxPayloadInMB);
  const bs = typeof j.BatchStrategy === "string" ? j.BatchStrategy.toUpperCase().replace(/_/g, "") : undefined;
  if (bs === "MULTIRECORD") out.BatchStrategy = "MultiRecord";
  else if (bs === "SINGLERECORD") out.BatchStrategy = "SingleRecord";
  return out;
}
