/**
 * A loopback HTTP proxy in front of a real server that injects faults into chosen requests:
 * reset the connection, answer 503 SlowDown, stall (never answer), cut a response body short, or
 * answer 403 (with no body for a HEAD, as S3 does), or honour If-Match on a GET as S3 does and
 * s3rver does not (412 PreconditionFailed when the object's ETag is another,
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html).
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

export type Fault = "reset" | "slowdown" | "stall" | "cut-body" | "forbidden" | "if-match";

export interface FaultRule {
  /** which requests: method and a test on the path (with query) */
  match: (req: { method: string; url: string }) => boolean;
  fault: Fault;
  /** how many matching requests get the fault (default: all) */
  times?: number;
}

export interface FaultProxy {
  endpoint: string;
  rules: FaultRule[];
  /** requests seen, as "METHOD url" */
  seen: string[];
  close(): Promise<void>;
}

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const t = new URL(target);
  const rules: FaultRule[] = [];
  const seen: string[] = [];
  const sockets = new Set<import("node:net").Socket>();
  const server = http.createServer((req, res) => {
    const info = { method: req.method ?? "GET", url: req.url ?? "/" };
    seen.push(`${info.method} ${info.url}`);
    const rule = rules.find((r) => (r.times === undefined || r.times > 0) && r.match(info));
    if (rule && rule.times !== undefined) rule.times -= 1;
    const fault = rule?.fault;
    if (fault === "reset") {
      req.socket.destroy();
      return;
    }
    if (fault === "slowdown") {
      req.resume();
      req.on("end", () => {
        const body = '<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>FAULTPROXY</RequestId></Error>';
        res.writeHead(503, { "content-type": "application/xml", "content-length": Buffer.byteLength(body), "x-amz-request-id": "FAULTPROXY" });
        res.end(body);
      });
      return;
    }
    if (fault === "forbidden") {
      req.resume();
      req.on("end", () => {
        const body = req.method === "HEAD" ? "" : '<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>';
        res.writeHead(403, { "content-type": "application/xml", "content-length": Buffer.byteLength(body) });
        res.end(body);
      });
      return;
    }
    if (fault === "if-match" && req.headers["if-match"] !== undefined) {
      const want = String(req.headers["if-match"]).replaceAll('"', "");
      const head = http.request({ host: t.hostname, port: t.port, method: "HEAD", path: req.url }, (up) => {
        up.resume();
        const etag = String(up.headers.etag ?? "").replaceAll('"', "");
        if (etag === want) return forward();
        req.resume();
        const body = '<?xml version="1.0" encoding="UTF-8"?><Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message><Condition>If-Match</Condition></Error>';
        res.writeHead(412, { "content-type": "application/xml", "content-length": Buffer.byteLength(body) });
        res.end(body);
      });
      head.on("error", () => res.socket?.destroy());
      head.end();
      return;
    }
    if (fault === "stall") {
      req.resume();
      return; // never answers; the client's timeout must fire
    }
    forward();
    function forward(): void {
    const upstream = http.request(
      { host: t.hostname, port: t.port, method: req.method, path: req.url, headers: req.headers },
      (up) => {
        if (fault === "cut-body") {
          const len = Number(up.headers["content-length"] ?? 0);
          res.writeHead(up.statusCode ?? 502, up.headers);
          // the headers go now, on their own: the client has its answer before the body is cut
          res.flushHeaders();
          let sent = 0;
          const limit = Math.max(1, Math.floor(len / 2));
          up.on("data", (c: Buffer) => {
            if (sent >= limit) return;
            const part = c.subarray(0, limit - sent);
            sent += part.length;
            res.write(part);
            if (sent >= limit) {
              up.destroy();
              res.socket?.destroy();
            }
          });
          return;
        }
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on("error", () => res.socket?.destroy());
    req.pipe(upstream);
    }
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    rules,
    seen,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
