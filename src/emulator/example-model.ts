/**
 * The example model server: speaks the SageMaker container contract
 * (https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-batch-code.html, https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-inference-code.html) so anyone can
 * try the pipeline before they have a model. Dependency-free and fast, since it bounds the
 * emulator's throughput in the benchmark.
 *
 * - `GET /ping`: 200 with an empty body when healthy.
 * - `POST /invocations`: the body holds one or more records (SingleRecord or MultiRecord, one per
 *   line); the response holds exactly one `\n`-terminated line per input record, in order:
 *   `{"score": S, "length": L}` for `Accept: application/jsonlines` or `application/json` (and
 *   when Accept is missing or `*\/*`), or the CSV line `S` for `Accept: text/csv`. S is the sum of
 *   the numeric fields (CSV fields that parse as numbers; numbers anywhere in a JSON record), L
 *   the total length of the text fields. `text/csv` records are CSV lines; `application/jsonlines`
 *   records are JSON lines; an `application/json` body is one record when it parses as one JSON
 *   document, else one record per line.
 * - `GET /execution-parameters`: 404 unless BTKIT_EXAMPLE_EXECUTION_PARAMETERS holds the JSON to
 *   answer.
 *
 * Environment switches (for tests and demos):
 * - BTKIT_EXAMPLE_FAIL_ON=TEXT: answer 500 to a request with a record containing TEXT.
 * - BTKIT_EXAMPLE_DELAY_MS=N: wait N ms before answering each invocation.
 * - BTKIT_EXAMPLE_DROP_LINE=1: leave out the last output line of every response.
 * - BTKIT_EXAMPLE_UNHEALTHY=1: `/ping` answers 503 forever.
 * - BTKIT_EXAMPLE_ECHO_ENV=1: add `"env"` (the SAGEMAKER_* variables the server sees) to JSON output.
 * - BTKIT_EXAMPLE_ID=TEXT: add `"id"` to JSON output (tells instances apart).
 * - SAGEMAKER_BIND_TO_PORT: the port (default 8080).
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface ExampleModelOptions {
  /** default: SAGEMAKER_BIND_TO_PORT from `env`, else 8080 */
  port?: number;
  /** default "127.0.0.1" */
  host?: string;
  /** the environment holding the switches; default process.env */
  env?: Record<string, string | undefined>;
}

export interface RunningExampleModel {
  url: string;
  port: number;
  close(): Promise<void>;
}

interface Switches {
  failOn: string | undefined;
  delayMs: number;
  dropLine: boolean;
  unhealthy: boolean;
  echoEnv: Record<string, string> | undefined;
  id: string | undefined;
  executionParameters: string | undefined;
}

function switchesOf(env: Record<string, string | undefined>): Switches {
  const flag = (v: string | undefined): boolean => v !== undefined && v !== "" && v !== "0" && v.toLowerCase() !== "false";
  let echoEnv: Record<string, string> | undefined;
  if (flag(env.BTKIT_EXAMPLE_ECHO_ENV)) {
    echoEnv = {};
    for (const k of Object.keys(env).sort()) if (k.startsWith("SAGEMAKER_") && k !== "SAGEMAKER_BIND_TO_PORT") echoEnv[k] = env[k]!;
  }
  return {
    failOn: env.BTKIT_EXAMPLE_FAIL_ON || undefined,
    delayMs: Number(env.BTKIT_EXAMPLE_DELAY_MS ?? 0) || 0,
    dropLine: flag(env.BTKIT_EXAMPLE_DROP_LINE),
    unhealthy: flag(env.BTKIT_EXAMPLE_UNHEALTHY),
    echoEnv,
    id: env.BTKIT_EXAMPLE_ID || undefined,
    executionParameters: env.BTKIT_EXAMPLE_EXECUTION_PARAMETERS || undefined,
  };
}

const NUMBER_RE = /^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/;

/** Score and length of one CSV record. */
function scoreCsv(line: string): [number, number] {
  let score = 0;
  let length = 0;
  let i = 0;
  const n = line.length;
  while (i <= n) {
    let field: string;
    if (line[i] === '"') {
      let v = "";
      i++;
      while (i < n) {
        const q = line.indexOf('"', i);
        if (q < 0) {
          v += line.slice(i);
          i = n;
          break;
        }
        v += line.slice(i, q);
        if (line[q + 1] === '"') {
          v += '"';
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      field = v;
      const c = line.indexOf(",", i);
      i = c < 0 ? n + 1 : c + 1;
      length += field.length;
      continue;
    }
    const c = line.indexOf(",", i);
    field = c < 0 ? line.slice(i) : line.slice(i, c);
    i = c < 0 ? n + 1 : c + 1;
    if (NUMBER_RE.test(field)) score += Number(field);
    else length += field.length;
  }
  return [score, length];
}

function scoreJson(v: unknown, acc: [number, number]): void {
  if (typeof v === "number") acc[0] += v;
  else if (typeof v === "string") {
    if (NUMBER_RE.test(v)) acc[0] += Number(v);
    else acc[1] += v.length;
  } else if (Array.isArray(v)) for (const x of v) scoreJson(x, acc);
  else if (typeof v === "object" && v !== null) for (const x of Object.values(v)) scoreJson(x, acc);
}

function round(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

class BadRequest extends Error {}

/** Splits a body into records: one per line (a final `\n` ends the last line). */
function recordsOf(body: string, contentType: string): string[] {
  if (contentType === "application/json") {
    const t = body.trim();
    if (t.length > 0) {
      try {
        JSON.parse(t);
        return [t];
      } catch {
        // several JSON documents, one per line
      }
    }
  }
  if (body.length === 0) return [];
  const lines = body.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  return lines.map((l) => (l.endsWith("\r") ? l.slice(0, -1) : l));
}

/** The response body for a request body: one line per record. Pure. */
export function predict(body: string, contentType: string, accept: string, sw: Pick<Switches, "dropLine" | "echoEnv" | "id"> = { dropLine: false, echoEnv: undefined, id: undefined }): string {
  const ct = contentType.split(";")[0]!.trim().toLowerCase();
  const records = recordsOf(body, ct);
  const csvOut = accept.split(";")[0]!.trim().toLowerCase() === "text/csv";
  const out: string[] = new Array(records.length);
  for (let r = 0; r < records.length; r++) {
    const rec = records[r]!;
    let score: number;
    let length: number;
    if (ct === "text/csv") [score, length] = scoreCsv(rec);
    else {
      const acc: [number, number] = [0, 0];
      if (rec.trim().length > 0) {
        let v: unknown;
        try {
          v = JSON.parse(rec);
        } catch (err) {
          throw new BadRequest(`record ${r + 1} is not valid JSON: ${(err as Error).message}`);
        }
        scoreJson(v, acc);
      }
      [score, length] = acc;
    }
    if (csvOut) out[r] = String(round(score));
    else if (sw.echoEnv === undefined && sw.id === undefined) out[r] = `{"score":${round(score)},"length":${length}}`;
    else {
      const o: Record<string, unknown> = { score: round(score), length };
      if (sw.id !== undefined) o.id = sw.id;
      if (sw.echoEnv !== undefined) o.env = sw.echoEnv;
      out[r] = JSON.stringify(o);
    }
  }
  if (sw.dropLine && out.length > 0) out.pop();
  return out.length === 0 ? "" : `${out.join("\n")}\n`;
}

/** Starts the example model server. */
export async function startExampleModel(options: ExampleModelOptions = {}): Promise<RunningExampleModel> {
  const env = options.env ?? process.env;
  const sw = switchesOf(env);
  const port = options.port ?? (Number(env.SAGEMAKER_BIND_TO_PORT ?? 8080) || 8080);
  const host = options.host ?? "127.0.0.1";
  const server = http.createServer((req, res) => {
    const url = req.url ?? "/";
    if (req.method === "GET" && url === "/ping") {
      res.writeHead(sw.unhealthy ? 503 : 200, { "content-length": 0 }).end();
      return;
    }
    if (req.method === "GET" && url === "/execution-parameters") {
      if (sw.executionParameters === undefined) res.writeHead(404, { "content-length": 0 }).end();
      else res.writeHead(200, { "content-type": "application/json" }).end(sw.executionParameters);
      return;
    }
    if (req.method === "POST" && url === "/invocations") {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const body = Buffer.concat(chunks).toString("utf8");
        const answer = (): void => {
          if (sw.failOn !== undefined && body.includes(sw.failOn)) {
            res.writeHead(500, { "content-type": "text/plain" }).end(`example model: a record contains ${JSON.stringify(sw.failOn)}\n`);
            return;
          }
          const ct = req.headers["content-type"] ?? "text/csv";
          const acc = req.headers.accept;
          const accept = acc === undefined || acc === "*/*" ? "application/jsonlines" : acc;
          try {
            const text = predict(body, ct, accept, sw);
            res.writeHead(200, { "content-type": accept.startsWith("text/csv") ? "text/csv" : accept, "content-length": Buffer.byteLength(text) }).end(text);
          } catch (err) {
            res.writeHead(400, { "content-type": "text/plain" }).end(`example model: ${(err as Error).message}\n`);
          }
        };
        if (sw.delayMs > 0) setTimeout(answer, sw.delayMs);
        else answer();
      });
      return;
    }
    res.writeHead(404, { "content-length": 0 }).end();
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  return {
    url: `http://${host}:${addr.port}`,
    port: addr.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
