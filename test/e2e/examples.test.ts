/**
 * The library examples in examples/, run as a user runs them (node, importing "btkit/..." through
 * the package's own exports, after the build), and their output checked against values computed
 * here from the same row formula.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUILD_TIMEOUT_MS, ensureBuilt } from "../helpers/build.js";
import { run, type Ran } from "../helpers/spawn.js";
import { tempDir } from "../helpers/tmp.js";

const root = path.resolve(import.meta.dirname, "../..");
let dir: string;
let cleanup: () => Promise<void>;

beforeAll(ensureBuilt, BUILD_TIMEOUT_MS);
beforeAll(async () => {
  ({ dir, cleanup } = await tempDir("btkit-examples-"));
});
afterAll(async () => cleanup?.());

function node(script: string, args: string[]): Promise<Ran> {
  return run(process.execPath, [path.join(root, "examples", script), ...args], { cwd: root, env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" } });
}

/** The rows etl-prepare.mjs generates, recomputed: what the example model scores for each city. */
function expectedByCity(n: number): Map<string, { orders: number; score: number }> {
  const cities = ["Zürich", "São Paulo", "Kraków", "Oslo", 'New York, "NY"'];
  const m = new Map<string, { orders: number; score: number }>();
  for (let i = 0; i < n; i++) {
    const quantity = 1 + (i % 9);
    const unitPrice = Math.round(((i * 37) % 5000) + 99) / 100;
    const discount = i % 11 === 0 ? 0 : (i % 5) / 10; // null: an empty CSV field, not a number
    const city = cities[i % cities.length]!;
    const a = m.get(city) ?? { orders: 0, score: 0 };
    a.orders++;
    a.score += quantity + unitPrice + discount;
    m.set(city, a);
  }
  return m;
}

describe("examples/", () => {
  const rows = 3000;

  it("etl-prepare.mjs prepares shards from an async iterable of rows and prints the descriptor", async () => {
    const r = await node("etl-prepare.mjs", [path.join(dir, "prep"), String(rows)]);
    expect(r.stderr).not.toMatch(/error|Error/);
    expect(r.status).toBe(0);
    const d = JSON.parse(r.stdout);
    expect(d.source.rowsWritten).toBe(rows);
    expect(d.shards.map((s: { name: string }) => s.name)).toEqual(["part-00000.csv.gz", "part-00001.csv.gz"]);
    expect(d.shards.reduce((a: number, s: { rows: number }) => a + s.rows, 0)).toBe(rows);
    expect(d.modelInput.features).toEqual(["quantity", "unit_price", "discount"]);
    expect(Object.fromEntries(d.schema.columns.map((c: { name: string; type: string }) => [c.name, c.type]))).toEqual({
      order_id: "int64",
      customer: "utf8",
      city: "utf8",
      quantity: "int64",
      unit_price: "float64",
      discount: "float64",
    });
    expect(fs.existsSync(path.join(dir, "prep", "btkit.json"))).toBe(true);
  });

  it("score-and-stream.mjs runs the job on the emulator and streams joined Arrow batches into its own sink", async () => {
    const r = await node("score-and-stream.mjs", [path.join(dir, "prep")]);
    expect(r.stderr).not.toMatch(/error|Error/);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/launched job btkit-[0-9a-f]+/);
    expect(r.stderr).toContain("columns: order_id, customer, city, quantity, unit_price, discount, pred_score, pred_length");
    const out = JSON.parse(r.stdout) as { job: string; rows: number; cities: Array<{ city: string; orders: number; score: number }> };
    expect(out.rows).toBe(rows);
    const want = expectedByCity(rows);
    expect(out.cities.map((c) => c.city).sort()).toEqual([...want.keys()].sort());
    for (const c of out.cities) {
      expect(c.orders).toBe(want.get(c.city)!.orders);
      expect(c.score).toBeCloseTo(want.get(c.city)!.score, 1);
    }
    // a rerun attaches to the finished job instead of launching another
    const again = await node("score-and-stream.mjs", [path.join(dir, "prep")]);
    expect(again.status).toBe(0);
    expect(again.stderr).toContain(`attached to job ${out.job}`);
    expect(JSON.parse(again.stdout)).toEqual(out);
  });
});
