/**
 * Signals through the built CLI as a process: SIGINT and SIGTERM stop prep promptly with exit 130
 * and 143, the temporary files removed and no descriptor published; a rerun then completes.
 */
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { BUILD_TIMEOUT_MS, ensureBuilt } from "../helpers/build.js";
import { tempDir } from "../helpers/tmp.js";

const root = path.resolve(import.meta.dirname, "../..");
const bin = path.join(root, "dist/bin/btkit.js");
let dir: string;
let cleanup: () => Promise<void>;

beforeAll(ensureBuilt, BUILD_TIMEOUT_MS);
beforeAll(async () => {
  ({ dir, cleanup } = await tempDir("btkit-signals-"));
  const fd = fs.openSync(path.join(dir, "big.csv"), "w");
  fs.writeSync(fd, "id,x,text\n");
  const rows: string[] = [];
  for (let i = 0; i < 600_000; i++) {
    rows.push(`${i},${i * 2},"some text, with a comma ${i}"`);
    if (rows.length === 50_000) {
      fs.writeSync(fd, `${rows.join("\n")}\n`);
      rows.length = 0;
    }
  }
  fs.closeSync(fd);
});
afterAll(() => cleanup?.());

/** Every file below a folder, relative. */
function files(folder: string): string[] {
  if (!fs.existsSync(folder)) return [];
  return fs.readdirSync(folder, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.relative(folder, path.join(e.parentPath, e.name)));
}

/** Runs prep, sends `signal` once its progress shows it is writing shards, and resolves its exit. */
function prepAndSignal(out: string, signal: NodeJS.Signals): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, "prep", "big.csv", "--out", out, "--gzip", "--shard-rows", "50000"], {
      cwd: dir,
      env: { ...process.env, BTKIT_PROGRESS_INTERVAL_MS: "0" },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    let sent = false;
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
      if (!sent && /prep: [\d,]+ rows/.test(stderr)) {
        sent = true;
        child.kill(signal);
      }
    });
    child.on("exit", (code, sig) => resolve({ code: code ?? (sig === null ? null : -1), stderr: `${stderr}\n[exit ${code} ${sig}]` }));
  });
}

it.each([
  ["SIGINT", 130],
  ["SIGTERM", 143],
] as const)("%s stops prep with exit %i, temporaries removed, no descriptor; a rerun completes", async (signal, exit) => {
  const out = `out-${signal}`;
  const r = await prepAndSignal(out, signal);
  expect(r.code, `${r.stderr} ${JSON.stringify(files(path.join(dir, out)))}`).toBe(exit);
  expect(r.stderr).toContain(`interrupted (${signal})`);
  const left = files(path.join(dir, out));
  expect(left.filter((f) => /\.tmp$|\.lock$/.test(path.basename(f)))).toEqual([]);
  expect(left).not.toContain("btkit.json");
  execFileSync(process.execPath, [bin, "prep", "big.csv", "--out", out, "--gzip", "--shard-rows", "50000", "--quiet"], { cwd: dir, stdio: "ignore" });
  expect(files(path.join(dir, out))).toContain("btkit.json");
});
