/** The README's main job (npm run demo runs examples/quickstart.sh after a build) works as shown. */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUILD_TIMEOUT_MS, ensureBuilt } from "../helpers/build.js";
import { tempDir } from "../helpers/tmp.js";

const root = path.resolve(import.meta.dirname, "../..");
let dir: string;
let cleanup: () => Promise<void>;
beforeAll(ensureBuilt, BUILD_TIMEOUT_MS);
beforeAll(async () => {
  ({ dir, cleanup } = await tempDir("btkit-quickstart-"));
});
afterAll(async () => {
  await cleanup?.();
});

describe("quickstart", () => {
  it("runs prep | submit --local | join over the bundled dataset and prints a summary with the first rows", () => {
    const r = spawnSync("bash", [path.join(root, "examples/quickstart.sh")], {
      env: { ...process.env, BTKIT_DEMO_DIR: dir, BTKIT_DEMO_ROWS: "3000", AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
      encoding: "utf8",
    });
    expect(r.stderr).not.toMatch(/error \[/);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("rows:    3000 read, 3000 written, 0 skipped");
    expect(r.stdout).toContain("shards:  2 (text/csv, compression Gzip)");
    expect(r.stdout).toMatch(/job: {5}btkit-[0-9a-f]{16} on emulator: Completed/);
    expect(r.stdout).toContain("joined:  3000 rows");
    // the first data row of the generated file, with its prediction (rating + price)
    expect(r.stdout).toMatch(/\n1 +Kōji +∅ +great très bien +5 +46\.01 +false +2025-01-01T00:08:22\.196Z +51\.01/);
    const d = JSON.parse(fs.readFileSync(path.join(dir, "descriptor.json"), "utf8"));
    expect(d.results.rows).toBe(3000);
  });
});
