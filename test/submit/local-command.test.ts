/**
 * submit --local --model-command: the emulator starts the command with `serve` as the model
 * process (port from SAGEMAKER_BIND_TO_PORT). The model here is a tiny Node script written by the
 * test: each record line becomes its length.
 */
import fs from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, expect, it } from "vitest";
import { DEFAULT_DEPS } from "../../src/cli/job-prologue.js";
import { parseDescriptor, serializeDescriptor, type Descriptor } from "../../src/protocol/descriptor.js";
import { tempDir } from "../helpers/tmp.js";
import { writeTestDescriptor } from "./descriptor.js";
import { runJobCli } from "./run.js";

const MODEL = `
import http from "node:http";
if (process.argv[2] !== "serve") { console.error("expected serve, got " + process.argv[2]); process.exit(2); }
http.createServer((req, res) => {
  if (req.url === "/ping") return res.end();
  if (req.url !== "/invocations") { res.statusCode = 404; return res.end(); }
  let body = "";
  req.on("data", (c) => (body += c));
  req.on("end", () => {
    const lines = body.split("\\n").filter((l) => l.length > 0);
    res.end(lines.map((l) => String(l.length)).join("\\n") + "\\n");
  });
}).listen(Number(process.env.SAGEMAKER_BIND_TO_PORT), "127.0.0.1");
`;

let dir: string;
let cleanup: () => Promise<void>;
let d: Descriptor;

beforeEach(async () => {
  ({ dir, cleanup } = await tempDir("btkit-submit-cmd-"));
  d = await writeTestDescriptor(dir, { shards: 2, rowsPerShard: 3 });
  await fs.writeFile(path.join(dir, "model.mjs"), MODEL);
});
afterEach(() => cleanup());

it("creates the model as local-cmd, runs it, and keeps state beside the output", async () => {
  const cmd = `${JSON.stringify(process.execPath)} ${JSON.stringify(path.join(dir, "model.mjs"))}`;
  const r = await runJobCli(DEFAULT_DEPS, ["submit", "--local", "--model-command", cmd, "--poll-seconds", "0.05"], { stdin: serializeDescriptor(d) });
  expect(r.stderr).toMatch(/created model btkit-model-[0-9a-f]{16}/);
  expect(r.code).toBe(0);
  const out = parseDescriptor(r.stdout);
  expect(out.job).toMatchObject({ backend: "emulator", status: "Completed" });
  const shard = (await fs.readFile(path.join(dir, "shards", "part-00001.csv"), "utf8")).trim().split("\n");
  const got = (await fs.readFile(path.join(dir, "output", out.job!.name, "part-00001.csv.out"), "utf8")).trim().split("\n");
  expect(got).toEqual(shard.map((l) => String(l.length)));
  // the default state folder sits beside output/, and a rerun there attaches
  expect((await fs.readdir(path.join(dir, "emulator-state"))).length).toBeGreaterThan(0);
  const again = await runJobCli(DEFAULT_DEPS, ["submit", "--local", "--model-command", cmd, "--poll-seconds", "0.05"], { stdin: serializeDescriptor(d) });
  expect(again.code).toBe(0);
  expect(again.stderr).toContain(`attached to existing job ${out.job!.name} (Completed)`);
  // a descriptor that records no state folder (an older one): the default one beside the output folder is found
  const { stateDir: _stateDir, ...job } = out.job!;
  const s = await runJobCli(DEFAULT_DEPS, ["status"], { stdin: serializeDescriptor({ ...out, job }), env: { AWS_ACCESS_KEY_ID: "", AWS_PROFILE: "btkit-none" } });
  expect(s.code).toBe(0);
  expect(s.stderr).toContain(`job ${job.name} ran on an emulator at ${job.endpoint}, which is gone: using its state in ${path.join(dir, "emulator-state")}`);
  expect(parseDescriptor(s.stdout).job!.status).toBe("Completed");
});

it("the emulated-behaviour flags reach the emulator submit --local starts (--assemble-line always adds a newline after each response)", async () => {
  const cmd = `${JSON.stringify(process.execPath)} ${JSON.stringify(path.join(dir, "model.mjs"))}`;
  const outs: Record<string, string> = {};
  for (const [label, flags] of [["default", []], ["always", ["--assemble-line", "always", "--state", path.join(dir, "state-always")]]] as const) {
    const r = await runJobCli(DEFAULT_DEPS, ["submit", "--local", "--model-command", cmd, "--poll-seconds", "0.05", "--output", path.join(dir, `out-${label}`), ...flags], { stdin: serializeDescriptor(d) });
    expect(r.code).toBe(0);
    const job = parseDescriptor(r.stdout).job!;
    outs[label] = await fs.readFile(new URL(`${job.outputLocation.replace(/\/?$/, "/")}part-00000.csv.out`), "utf8");
  }
  const shard = (await fs.readFile(path.join(dir, "shards", "part-00000.csv"), "utf8")).trim().split("\n");
  const lengths = shard.map((l) => String(l.length));
  // default: MultiRecord, one response ending in a newline, none added
  expect(outs.default).toBe(`${lengths.join("\n")}\n`);
  // the same response, which ends in a newline already, and "always" adds one more after it
  expect(outs.always).toBe(`${lengths.join("\n")}\n\n`);
});
