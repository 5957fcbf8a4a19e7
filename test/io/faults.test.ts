import { ListObjectsCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { isBtkitError, type BtkitError } from "../../src/errors.js";
import { collect } from "../../src/io/body.js";
import { createS3Client, s3SettingsFromEnv, s3Timing } from "../../src/io/s3.js";
import { startFaultProxy, type FaultProxy } from "../helpers/fault-proxy.js";
import { startS3, type TestS3 } from "../helpers/s3server.js";

let s3: TestS3;
let proxy: FaultProxy;
beforeAll(async () => {
  s3 = await startS3(["faults"]);
  proxy = await startFaultProxy(s3.endpoint);
});
afterAll(async () => {
  await proxy?.close();
  await s3?.close();
});
afterEach(() => {
  proxy.rules.length = 0;
});

function storage() {
  return s3.storage({ s3: { ...s3.settings, endpoint: proxy.endpoint, stallTimeoutMs: 3000, maxAttempts: 2 } });
}

async function keys(prefix: string): Promise<string[]> {
  const r = await s3.client.send(new ListObjectsCommand({ Bucket: "faults", Prefix: prefix }));
  return (r.Contents ?? []).map((o) => o.Key!);
}

const isPut = (r: { method: string; url: string }) => r.method === "PUT";
const isPartUpload = (r: { method: string; url: string }) => r.method === "PUT" && r.url.includes("partNumber=2");

describe("S3 faults through a loopback proxy", () => {
  it("a connection reset on every upload is IO_WRITE_FAILED and leaves nothing under the key", async () => {
    proxy.rules.push({ match: isPut, fault: "reset" });
    const err = (await storage().write("s3://faults/reset/a.bin", randomBytes(1000)).catch((e: unknown) => e)) as BtkitError;
    expect(isBtkitError(err, "IO_WRITE_FAILED")).toBe(true);
    expect(err.context.location).toBe("s3://faults/reset/a.bin");
    // a reset is a lost connection, not a stall
    expect(err.message).toContain("the connection to S3 was closed");
    expect(err.message).not.toContain("stopped answering");
    expect(await keys("reset/")).toEqual([]);
  });

  it("503 SlowDown on a multipart part is retried by the SDK, then fails coded with nothing left (parts aborted)", async () => {
    proxy.rules.push({ match: isPartUpload, fault: "slowdown" });
    const data = randomBytes(11 * 1024 * 1024);
    const err = (await storage().write("s3://faults/slow/b.bin", data).catch((e: unknown) => e)) as BtkitError;
    expect(isBtkitError(err, "IO_WRITE_FAILED")).toBe(true);
    // the first real cause, not a later cleanup call's refusal
    expect(err.message).toContain("SlowDown");
    expect(await keys("slow/")).toEqual([]);
    // the part was tried more than once: retries happened before giving up
    expect(proxy.seen.filter((s) => s.startsWith("PUT") && s.includes("partNumber=2")).length).toBeGreaterThanOrEqual(2);
  });

  it("a transient 503 is retried and the write succeeds with the right bytes", async () => {
    proxy.rules.push({ match: isPut, fault: "slowdown", times: 1 });
    const data = randomBytes(4096);
    const res = await storage().write("s3://faults/transient/c.bin", data);
    expect(res.bytes).toBe(4096);
    expect((await collect(await s3.storage().read("s3://faults/transient/c.bin"))).equals(data)).toBe(true);
  });

  it("a stalled server is a timeout error within the stall deadline (retries and cleanup included), and leaves nothing", async () => {
    proxy.rules.push({ match: isPut, fault: "stall" });
    const putsBefore = proxy.seen.filter((s) => s.startsWith("PUT")).length;
    const started = Date.now();
    const err = (await storage().write("s3://faults/stall/d.bin", randomBytes(100)).catch((e: unknown) => e)) as BtkitError;
    const took = Date.now() - started;
    expect(isBtkitError(err, "IO_WRITE_FAILED")).toBe(true);
    expect(err.message).toMatch(/timed out|timeout/i);
    // the deadline is 3 s; a bound, not a speed target: without it the attempts alone took 2 x 120 s
    expect(took).toBeLessThan(3000 + 1000);
    // both attempts were made (maxAttempts 2), each cut by socket inactivity
    expect(proxy.seen.filter((s) => s.startsWith("PUT")).length - putsBefore).toBe(2);
    expect(await keys("stall/")).toEqual([]);
  });

  it("a stalled read fails within the deadline too, naming BTKIT_S3_STALL_TIMEOUT", async () => {
    await s3.storage().write("s3://faults/stall-read/e.bin", randomBytes(100));
    proxy.rules.push({ match: (r) => r.method === "GET", fault: "stall" });
    const started = Date.now();
    const err = (await storage().readText("s3://faults/stall-read/e.bin").catch((e: unknown) => e)) as BtkitError;
    expect(Date.now() - started).toBeLessThan(3000 + 1000);
    expect(err.code).toBe("IO_READ_FAILED");
    expect(err.message).toContain("BTKIT_S3_STALL_TIMEOUT");
  });

  it("keys in an environment given in place of the process's are the client's credentials (the SDK's chain reads process.env only)", async () => {
    const c = await createS3Client({}, { AWS_ACCESS_KEY_ID: "AKIDFROMENV", AWS_SECRET_ACCESS_KEY: "secret-from-env", AWS_SESSION_TOKEN: "token", AWS_REGION: "us-east-1" });
    const creds = await (c.config.credentials as () => Promise<{ accessKeyId: string; secretAccessKey: string; sessionToken?: string }>)();
    expect([creds.accessKeyId, creds.secretAccessKey, creds.sessionToken]).toEqual(["AKIDFROMENV", "secret-from-env", "token"]);
    // explicit settings win
    const given = await createS3Client({ credentials: { accessKeyId: "AKIDGIVEN", secretAccessKey: "s" } }, { AWS_ACCESS_KEY_ID: "AKIDFROMENV", AWS_SECRET_ACCESS_KEY: "x", AWS_REGION: "us-east-1" });
    expect((await (given.config.credentials as () => Promise<{ accessKeyId: string }>)()).accessKeyId).toBe("AKIDGIVEN");
  });

  it("BTKIT_S3_STALL_TIMEOUT sets the deadline in seconds; a bad value is a usage error naming it", () => {
    expect(s3SettingsFromEnv({ BTKIT_S3_STALL_TIMEOUT: "30" }).stallTimeoutMs).toBe(30_000);
    expect(s3Timing({ stallTimeoutMs: 30_000, maxAttempts: 3 })).toEqual({ stallMs: 30_000, attempts: 3, attemptMs: 8000, cleanupMs: 3000 });
    // the defaults: 3 attempts of 32 s of inactivity, 10 s of cleanup: within 2 minutes in all
    const d = s3Timing({});
    expect(d.attempts * d.attemptMs + d.cleanupMs).toBeLessThanOrEqual(120_000);
    let err: unknown;
    try {
      s3SettingsFromEnv({ BTKIT_S3_STALL_TIMEOUT: "soon" });
    } catch (e) {
      err = e;
    }
    expect(isBtkitError(err, "USAGE_BAD_VALUE")).toBe(true);
    expect((err as BtkitError).message).toContain("BTKIT_S3_STALL_TIMEOUT");
  });

  it("a read pinned to an ETag (If-Match) of an object replaced since is IO_CHANGED, never the other bytes", async () => {
    proxy.rules.push({ match: (r) => r.method === "GET", fault: "if-match" });
    const storage = s3.storage({ s3: { ...s3.settings, endpoint: proxy.endpoint } });
    const at = "s3://faults/pinned/table.csv";
    await storage.write(at, "id\n1\n2\n");
    const seen = (await storage.head(at))!.etag!;
    expect(await storage.readText(at, { ifMatch: seen })).toBe("id\n1\n2\n");
    await s3.client.send(new PutObjectCommand({ Bucket: "faults", Key: "pinned/table.csv", Body: "id\n1\n" }));
    const e = (await storage.readText(at, { ifMatch: seen }).catch((x: unknown) => x)) as BtkitError;
    expect(isBtkitError(e, "IO_CHANGED")).toBe(true);
    expect(e.message).toContain(`${at} was replaced since it was first seen`);
    expect(await storage.readText(at)).toBe("id\n1\n");
  });

  it("a 403 on HEAD (no body to name it) says access denied, not UnknownError", async () => {
    proxy.rules.push({ match: (r) => r.method === "HEAD", fault: "forbidden" });
    const err = (await storage().head("s3://faults/any/key.bin").catch((e: unknown) => e)) as BtkitError;
    expect(isBtkitError(err, "IO_S3")).toBe(true);
    expect(err.message).toContain("access denied (HTTP 403 Forbidden)");
    expect(err.message).not.toContain("UnknownError");
    expect(err.context.httpStatus).toBe(403);
  });

  it("a read whose body is cut short is IO_READ_FAILED, never a short stream", async () => {
    const data = randomBytes(300_000);
    await s3.storage().write("s3://faults/cut/e.bin", data);
    proxy.rules.push({ match: (r) => r.method === "GET" && r.url.includes("cut/e.bin"), fault: "cut-body" });
    const err = (await collect(await storage().read("s3://faults/cut/e.bin")).catch((e: unknown) => e)) as BtkitError;
    expect(isBtkitError(err, "IO_READ_FAILED"), String(err)).toBe(true);
    expect(err.context.location).toBe("s3://faults/cut/e.bin");
    // the headers came, half the body, then the connection closed: the bytes counted are named
    expect(err.message).toMatch(/^reading s3:\/\/faults\/cut\/e\.bin failed after [\d,]+ bytes/);
    expect(err.context.expected).toBe(300_000);
    expect(err.context.got).toBeLessThanOrEqual(150_000);
  });

  it("a connection reset before S3 answers a read is IO_READ_FAILED too, named a lost connection (not a stall), after the SDK's retries", async () => {
    await s3.storage().write("s3://faults/reset-read/f.bin", randomBytes(1000));
    proxy.rules.push({ match: (r) => r.method === "GET" && r.url.includes("reset-read/f.bin"), fault: "reset" });
    const getsBefore = proxy.seen.filter((s) => s.startsWith("GET")).length;
    const err = (await storage().read("s3://faults/reset-read/f.bin").catch((e: unknown) => e)) as BtkitError;
    expect(isBtkitError(err, "IO_READ_FAILED"), String(err)).toBe(true);
    expect(err.context.location).toBe("s3://faults/reset-read/f.bin");
    expect(err.message).toContain("reading s3://faults/reset-read/f.bin failed before S3 answered");
    expect(err.message).toContain("ECONNRESET: the connection to S3 was closed before the answer was complete");
    expect(err.message).not.toContain("stopped answering");
    // retried as the SDK retries a reset (maxAttempts 2), then given up
    expect(proxy.seen.filter((s) => s.startsWith("GET")).length - getsBefore).toBe(2);
  });

  it("a refused connection on a read is IO_READ_FAILED saying no connection could be made; the caller's own abort is not a failed read", async () => {
    // a port nothing listens on: a server started and closed
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const refused = s3.storage({ s3: { ...s3.settings, endpoint: `http://127.0.0.1:${port}`, stallTimeoutMs: 3000, maxAttempts: 2 } });
    const err = (await refused.read("s3://faults/refused/g.bin").catch((e: unknown) => e)) as BtkitError;
    expect(isBtkitError(err, "IO_READ_FAILED"), String(err)).toBe(true);
    expect(err.message).toContain("reading s3://faults/refused/g.bin failed before S3 answered");
    expect(err.message).toContain("ECONNREFUSED: no connection to the S3 endpoint could be made");
    expect(err.message).not.toContain("closed before the answer");
    // aborted by its caller: not a failed read (the CLI reports an interrupt by the signal itself)
    await s3.storage().write("s3://faults/abort/h.bin", "x");
    const ac = new AbortController();
    ac.abort();
    const aborted = (await storage().read("s3://faults/abort/h.bin", { signal: ac.signal }).catch((e: unknown) => e)) as BtkitError;
    expect(aborted.code, String(aborted)).toBe("IO_S3");
    expect(aborted.message).toContain("AbortError");
  });
});
