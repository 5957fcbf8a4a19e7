/**
 * A real S3-compatible server (s3rver) on 127.0.0.1, port 0, in a temporary folder, with a client
 * and Storage set up the way S3-compatible servers need (path style, WHEN_REQUIRED checksums).
 */
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import S3rver from "s3rver";
import { afterAll, beforeAll } from "vitest";
import { Storage, type StorageOptions } from "../../src/io/storage.js";
import type { S3Settings } from "../../src/io/s3.js";

export interface TestS3 {
  endpoint: string;
  client: S3Client;
  settings: S3Settings;
  /** environment for child processes (the CLI) to reach this server */
  env: Record<string, string>;
  storage(options?: Partial<StorageOptions>): Storage;
  createBucket(name: string): Promise<void>;
  close(): Promise<void>;
}

export async function startS3(buckets: string[] = ["test-bucket"]): Promise<TestS3> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "btkit-s3rver-"));
  const server = new S3rver({ address: "127.0.0.1", port: 0, silent: true, directory: dir });
  const addr = (await server.run()) as unknown as { port: number } | { address: string; port: number };
  const endpoint = `http://127.0.0.1:${addr.port}`;
  const settings: S3Settings = {
    endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    checksums: "WHEN_REQUIRED",
    credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
    partSizeBytes: 5 * 1024 * 1024,
    queueSize: 2,
  };
  const client = new S3Client({
    endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: settings.credentials!,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
  const t: TestS3 = {
    endpoint,
    client,
    settings,
    env: {
      AWS_ENDPOINT_URL_S3: endpoint,
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "S3RVER",
      AWS_SECRET_ACCESS_KEY: "S3RVER",
      AWS_REQUEST_CHECKSUM_CALCULATION: "WHEN_REQUIRED",
      AWS_RESPONSE_CHECKSUM_VALIDATION: "WHEN_REQUIRED",
      BTKIT_S3_PATH_STYLE: "1",
    },
    storage: (options = {}) => new Storage({ s3: settings, ...options }),
    createBucket: async (name) => {
      await client.send(new CreateBucketCommand({ Bucket: name }));
    },
    close: async () => {
      client.destroy();
      await server.close();
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
  for (const b of buckets) await t.createBucket(b);
  return t;
}

/**
 * The test server for the enclosing suite: started before its tests, closed after them. Returns
 * the server as a getter (it exists once beforeAll ran).
 */
export function useS3(buckets: string[]): () => TestS3 {
  let s3: TestS3 | undefined;
  beforeAll(async () => {
    s3 = await startS3(buckets);
  });
  afterAll(async () => {
    await s3?.close();
  });
  return () => s3!;
}

