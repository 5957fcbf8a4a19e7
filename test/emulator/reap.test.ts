/**
 * kill -9 of `btkit submit --local` cannot stop its model processes; the next emulator on the same
 * state folder stops them (they are recorded there with their start time) and reports how many.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startEmulator } from "../../src/emulator/index.js";
import { Storage } from "../../src/io/storage.js";
import { serializeDescriptor } from "../../src/protocol/descriptor.js";
import { writeTestDescriptor } from "../submit/descriptor.js";
import { tempDir } from "../helpers/tmp.js";

const ROOT = path.resolve(import.meta.dirname, "../..");
let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  ({ dir, cleanup } = await tempDir("btkit-reap-"));
});
afterAll(() => cleanup());

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function until(what: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!what()) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 50));
  }
}

it("a model process left by a killed submit --local is stopped by the next emulator on its state folder", async () => {
  const d = await writeTestDescriptor(dir, { shards: 1, rowsPerShard: 2 });
  const state = path.join(dir, "state");
  const model = `${process.execPath} --import tsx ${path.join(ROOT, "bin/btkit.ts")} example-model`;
  const child = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "bin/btkit.ts"), "submit", "--local", "--state", state, "--model-command", model, "--poll-seconds", "0.1"], {
    cwd: ROOT,
    env: { ...process.env, BTKIT_EXAMPLE_DELAY_MS: "60000" },
    stdio: ["pipe", "ignore", "ignore"],
  });
  child.stdin.end(serializeDescriptor(d));
  const records = path.join(state, "processes");
  await until(() => fs.existsSync(records) && fs.readdirSync(records).some((f) => f.endsWith(".json")), 30_000);
  const pid = Number(fs.readdirSync(records).find((f) => f.endsWith(".json"))!.replace(/\.json$/, ""));
  child.kill("SIGKILL");
  await new Promise((r) => child.once("exit", r));
  // the model outlived the killed submit
  expect(alive(pid)).toBe(true);
  const emu = await startEmulator({ stateDir: state, storage: new Storage() });
  try {
    expect(emu.reaped).toBe(1);
    await until(() => !alive(pid), 5000);
    expect(fs.readdirSync(records)).toEqual([]);
  } finally {
    await emu.close();
  }
}, 60_000);
