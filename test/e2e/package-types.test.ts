/**
 * TypeScript users resolve btkit's types under every moduleResolution in use: node16/nodenext (and
 * bundler) through package.json "exports", node10 through the top-level "types" and "typesVersions"
 * (which map the subpaths). A consumer project is built here with its own node_modules/btkit.
 */
import fs from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { BUILD_TIMEOUT_MS, ensureBuilt } from "../helpers/build.js";
import { run } from "../helpers/spawn.js";
import { tempDir } from "../helpers/tmp.js";

const root = path.resolve(import.meta.dirname, "../..");
const tsc = path.join(root, "node_modules/typescript/bin/tsc");
let dir: string;
let cleanup: () => Promise<void>;

const consumer = `import { BtkitError, VERSION, type Descriptor } from "btkit";
import { prepare, merge } from "btkit/prepare";
import { join } from "btkit/join";
import { startEmulator } from "btkit/emulator";
import { buildTransformJobRequest } from "btkit/submit";
export const all = [BtkitError, VERSION, prepare, merge, join, startEmulator, buildTransformJobRequest];
export const rows = (d: Descriptor): number => d.source.rowsWritten;
`;

beforeAll(ensureBuilt, BUILD_TIMEOUT_MS);
beforeAll(async () => {
  ({ dir, cleanup } = await tempDir("btkit-types-"));
  await fs.mkdir(path.join(dir, "node_modules"));
  await fs.symlink(root, path.join(dir, "node_modules", "btkit"), "dir");
  await fs.writeFile(path.join(dir, "consumer.ts"), consumer);
  await fs.writeFile(path.join(dir, "consumer.mts"), consumer);
});
afterAll(async () => cleanup?.());

it.each([
  ["node10", ["--moduleResolution", "node10", "--ignoreDeprecations", "6.0", "--module", "esnext", "consumer.ts"]],
  ["node16", ["--moduleResolution", "node16", "--module", "node16", "consumer.mts"]],
])("the root import and every subpath resolve with moduleResolution %s", async (_name, flags) => {
  const r = await run(process.execPath, [tsc, "--noEmit", "--strict", "--target", "es2022", ...flags], { cwd: dir });
  expect(r.stdout + r.stderr).toBe("");
  expect(r.status).toBe(0);
});
