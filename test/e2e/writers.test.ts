/**
 * One writer per output: two preps into one --out, two joins into one file, two emulators on one
 * state folder. The second is refused with IO_LOCKED (exit 75) naming the holder; nothing of the
 * two is mixed; a lock left by a process that is gone is taken over.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startEmulator, startExampleModel } from "../../src/emulator/index.js";
import { EXIT } from "../../src/errors.js";
import { claim, lockFor } from "../../src/io/lock.js";
import { Storage } from "../../src/io/storage.js";
import { parseDescriptor } from "../../src/protocol/descriptor.js";
import { rejectedBy } from "../helpers/errors.js";
import { runCli } from "../helpers/cli.js";
import { startS3 } from "../helpers/s3server.js";
import { tempDir } from "../helpers/tmp.js";

let dir: string;
let cleanup: () => Promise<void>;

beforeEach(async () => {
  ({ dir, cleanup } = await tempDir("btkit-writers-"));
  for (const [name, rows] of [["a.csv", 3000], ["b.csv", 2000]] as const) {
    await fs.writeFile(path.join(dir, name), `id,x\n${Array.from({ length: rows }, (_, i) => `${name}-${i},${i}`).join("\n")}\n`);
  }
});
afterEach(() => cleanup());

const cli = (argv: string[], stdin?: string) => runCli(argv, { stdin, cwd: dir });

/** The pid of a process that has ended. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
  return Number(r.stdout);
}

describe("one writer per output", () => {
  it("two preps of different inputs into one --out: one is refused (exit 75), the other's preparation is whole", async () => {
    const [a, b] = await Promise.all([cli(["prep", "a.csv", "--out", "out", "--shard-rows", "500"]), cli(["prep", "b.csv", "--out", "out", "--shard-rows", "500"])]);
    const codes = [a.code, b.code].sort();
    expect(codes).toEqual([0, EXIT.conflict]);
    const loser = a.code === 0 ? b : a;
    const winner = a.code === 0 ? a : b;
    expect(loser.stderr).toContain("IO_LOCKED");
    expect(loser.stderr).toContain("btkit prep (pid");
    const d = parseDescriptor(winner.stdout);
    // the descriptor on disk is the winner's, and every shard it lists holds what it records
    expect(parseDescriptor(await fs.readFile(path.join(dir, "out", "btkit.json"), "utf8")).shards).toEqual(d.shards);
    const storage = new Storage();
    for (const s of d.shards) await storage.verify(s.location, { bytes: s.bytes, sha256: s.sha256 }, "shard");
    await expect(fs.stat(path.join(dir, "out", ".btkit.lock"))).rejects.toThrow();
  });

  it("a lock left by a process that is gone is taken over; a live holder's is not", async () => {
    const out = path.join(dir, "out");
    await fs.mkdir(out);
    const lockFile = path.join(out, ".btkit.lock");
    await fs.writeFile(lockFile, JSON.stringify({ pid: deadPid(), host: os.hostname(), command: "btkit prep", since: "2026-01-01T00:00:00Z", token: "x" }));
    const r = await cli(["prep", "a.csv", "--out", "out"]);
    expect(r.code).toBe(0);
    await expect(fs.stat(lockFile)).rejects.toThrow();

    const held = await claim(new Storage(), lockFor({ kind: "local", path: out }, "folder"), "btkit test");
    const refused = await cli(["prep", "b.csv", "--out", "out", "--overwrite"]);
    expect(refused.code).toBe(EXIT.conflict);
    expect(refused.stderr).toContain(`btkit test (pid ${process.pid} on ${os.hostname()}`);
    await held.release();
    expect((await cli(["prep", "b.csv", "--out", "out", "--overwrite"])).code).toBe(0);
  });

  it("S3, on a server that ignores If-None-Match (s3rver): a live claim is refused, a stale one taken over, a released one free", async () => {
    const s3 = await startS3(["locks"]);
    try {
      const storage = s3.storage();
      const lock = lockFor(storage.parse("s3://locks/out/"), "folder");
      const first = await claim(storage, lock, "btkit prep");
      const e = await rejectedBy(claim(storage, lock, "btkit join"));
      expect(e.code).toBe("IO_LOCKED");
      expect(e.message).toContain(`btkit prep (pid ${process.pid} on ${os.hostname()}`);
      // the refused claim did not replace the live one: its release removes the lock
      await first.release();
      expect(await storage.exists(lock)).toBe(false);
      await storage.write(lock, JSON.stringify({ pid: deadPid(), host: os.hostname(), command: "btkit prep", since: "2026-01-01T00:00:00Z", token: "x" }));
      const next = await claim(storage, lock, "btkit prep");
      expect(JSON.parse(await storage.readText(lock)).pid).toBe(process.pid);
      await next.release();
    } finally {
      await s3.close();
    }
  });

  it("a rerun removes the temporaries a killed prep left under --out", async () => {
    const dead = deadPid();
    for (const sub of ["shards", "sidecars"]) {
      await fs.mkdir(path.join(dir, "out", sub), { recursive: true });
      await fs.writeFile(path.join(dir, "out", sub, `.part-00000.x.btkit-${dead}-0a1b2c3d.tmp`), "half a shard");
    }
    const live = path.join(dir, "out", "shards", `.part-00009.x.btkit-${process.pid}-0a1b2c3d.tmp`);
    await fs.writeFile(live, "a live writer's");
    expect((await cli(["prep", "a.csv", "--out", "out"])).code).toBe(0);
    const left = (await fs.readdir(path.join(dir, "out"), { recursive: true })).filter((f) => f.endsWith(".tmp"));
    expect(left).toEqual([path.join("shards", path.basename(live))]);
  });

  it("two joins into one file: one is refused, the file is one join's whole output", async () => {
    const p = await cli(["prep", "a.csv", "--out", "p", "--shard-rows", "1000", "--features", "x"]);
    const model = await startExampleModel({ port: 0, env: {} });
    try {
      const s = await cli(["submit", "--local", "--state", "state", "--model-url", model.url, "--poll-seconds", "0.05"], p.stdout);
      expect(s.code).toBe(0);
      const [j1, j2] = await Promise.all([cli(["join", "--out", "j.csv", "--format", "csv"], s.stdout), cli(["join", "--out", "j.csv", "--format", "csv", "--row-number"], s.stdout)]);
      expect([j1.code, j2.code].sort()).toEqual([0, EXIT.conflict]);
      const winner = j1.code === 0 ? j1 : j2;
      const header = (await fs.readFile(path.join(dir, "j.csv"), "utf8")).split("\n")[0];
      expect(header).toBe(winner === j1 ? "id,x,prediction" : "id,x,__btkit_row,prediction");
      expect((j1.code === 0 ? j2 : j1).stderr).toContain("is being written by another join");
    } finally {
      await model.close();
    }
  });

  it("two emulators on one state folder: the second is refused, so one job name runs once", async () => {
    const state = path.join(dir, "state");
    const first = await startEmulator({ stateDir: state, storage: new Storage() });
    try {
      const e = await rejectedBy(startEmulator({ stateDir: state, storage: new Storage() }));
      expect(e.code).toBe("IO_LOCKED");
      expect(e.message).toContain("in use by another emulator");
    } finally {
      await first.close();
    }
    const again = await startEmulator({ stateDir: state, storage: new Storage() });
    await again.close();
  });
});
