/**
 * A full disk (a 2 MiB tmpfs, mounted as root) while prep streams shards, while join writes, and
 * under stdout: every case is IO_WRITE_FAILED (exit 74) naming the path and ENOSPC, never an
 * INTERNAL error or an uncaught 'error' event, and no temporary or descriptor is left behind.
 * Outside CI, a machine that cannot mount a tmpfs skips these; with CI=true they must run.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUILD_TIMEOUT_MS, ensureBuilt } from "../helpers/build.js";

const root = path.resolve(import.meta.dirname, "../..");
const bin = path.join(root, "dist/bin/btkit.js");
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "btkit-full-"));
const full = path.join(dir, "full");
const mounted = mountTmpfs(full);

function mountTmpfs(at: string): boolean {
  fs.mkdirSync(at, { recursive: true });
  const r = spawnSync("mount", ["-t", "tmpfs", "-o", "size=2m", "tmpfs", at], { encoding: "utf8" });
  if (r.status === 0) return true;
  if (process.env.CI === "true") throw new Error(`cannot mount a tmpfs for the disk-full tests (CI must run them): ${r.stderr}`);
  return false;
}

beforeAll(ensureBuilt, BUILD_TIMEOUT_MS);
beforeAll(() => {
  // text that compresses poorly (gzip shards and compressed sidecars must still overflow 2 MiB)
  const rows: string[] = ["id,x,text"];
  let seed = 12345;
  const hex = (): string => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed.toString(16).padStart(8, "0");
  };
  for (let i = 0; i < 200_000; i++) rows.push(`${i},${i * 2},"text, ${hex()}${hex()}"`);
  fs.writeFileSync(path.join(dir, "big.csv"), `${rows.join("\n")}\n`);
});
afterAll(() => {
  if (mounted) spawnSync("umount", [full]);
  fs.rmSync(dir, { recursive: true, force: true });
});

function btkit(args: string[], stdout: number | "pipe" = "pipe"): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: dir, encoding: "utf8", stdio: ["ignore", stdout, "pipe"], env: { ...process.env, BTKIT_PROGRESS_INTERVAL_MS: "100000" } });
  return { status: r.status, stderr: r.stderr };
}

function filesUnder(folder: string): string[] {
  return fs.readdirSync(folder, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.relative(folder, path.join(e.parentPath, e.name)));
}

function emptyDevice(): void {
  for (const e of fs.readdirSync(full)) fs.rmSync(path.join(full, e), { recursive: true, force: true });
}

describe.skipIf(!mounted)("a full disk", () => {
  it.each([[["--shard-rows", "150000"]], [["--gzip", "--shard-rows", "150000"]], [["--gzip", "--instances", "2"]], [["--gzip", "--instances", "8"]], [["--format", "jsonl", "--gzip", "1"]], [["--gzip", "--features", "x"]]])("prep %j into it: exit 74 IO_WRITE_FAILED with ENOSPC, no temporaries, no descriptor", (extra) => {
    emptyDevice();
    const r = btkit(["prep", "big.csv", "--out", path.join(full, "out"), ...extra]);
    expect(r.status, r.stderr).toBe(74);
    expect(r.stderr).toContain("[IO_WRITE_FAILED]");
    expect(r.stderr).toContain("ENOSPC");
    expect(r.stderr).not.toContain("INTERNAL");
    const left = filesUnder(full);
    expect(left.filter((f) => f.includes(".btkit-") || f.endsWith(".tmp") || f.endsWith(".lock"))).toEqual([]);
    expect(left).not.toContain("out/btkit.json");
    // shards and sidecars come in pairs: none is left without the other
    const stems = (sub: string) => left.filter((f) => f.startsWith(`out/${sub}/`)).map((f) => path.basename(f).replace(/\..*$/, "")).sort();
    expect(stems("shards")).toEqual(stems("sidecars"));
  });

  it.each([["j.arrow"], ["j.arrows"], ["j.jsonl"], ["j.csv"]])("join --out %s into it: exit 74 IO_WRITE_FAILED with ENOSPC, no temporary, no lock", (name) => {
    emptyDevice();
    if (!fs.existsSync(path.join(dir, "job.json"))) {
      const p = btkit(["prep", "big.csv", "--out", "p", "--shard-rows", "100000"]);
      expect(p.status, p.stderr).toBe(0);
      fs.writeFileSync(path.join(dir, "prep.json"), spawnSync("cat", [path.join(dir, "p", "btkit.json")], { encoding: "utf8" }).stdout);
      const s = spawnSync(process.execPath, [bin, "submit", "--descriptor", "p", "--local", "--model-command", `${process.execPath} ${bin} example-model`, "--poll-seconds", "0.1", "--quiet"], { cwd: dir, encoding: "utf8" });
      expect(s.status, s.stderr).toBe(0);
      fs.writeFileSync(path.join(dir, "job.json"), s.stdout);
    }
    const r = btkit(["join", "--descriptor", "job.json", "--out", path.join(full, name)]);
    expect(r.status, r.stderr).toBe(74);
    expect(r.stderr).toContain("[IO_WRITE_FAILED]");
    expect(r.stderr).toContain("ENOSPC");
    expect(filesUnder(full)).toEqual([]);
  });

  it("stdout on it: the descriptor cannot be written, exit 74 naming stdout", () => {
    emptyDevice();
    const filler = fs.openSync(path.join(full, "filler"), "w");
    try {
      const block = Buffer.alloc(64 * 1024, 1);
      for (;;) fs.writeSync(filler, block);
    } catch (err) {
      expect((err as NodeJS.ErrnoException).code).toBe("ENOSPC");
    }
    fs.closeSync(filler);
    fs.writeFileSync(path.join(dir, "small.csv"), "id,x\n1,2\n");
    const out = fs.openSync(path.join(full, "descriptor.json"), "w");
    const r = btkit(["prep", "small.csv", "--out", "small"], out);
    fs.closeSync(out);
    expect(r.status, r.stderr).toBe(74);
    expect(r.stderr).toContain("[IO_WRITE_FAILED]: writing to stdout failed: ENOSPC");
  });
});
