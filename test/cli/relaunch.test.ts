/**
 * prep and join run in a second process with MALLOC_ARENA_MAX=1 on Linux (src/cli/relaunch.ts):
 * which command lines do, that the command really runs there (its environment read from /proc),
 * that a signal sent to the first process alone reaches it, and that a Ctrl-C reaching both
 * processes (a process group's signal, as a terminal sends; the kernel may merge it with the
 * forwarded one) still stops it cleanly, not at once.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { relaunchExecArgv, shouldRelaunch } from "../../src/cli/relaunch.js";
import { BUILD_TIMEOUT_MS, ensureBuilt } from "../helpers/build.js";
import { tempDir } from "../helpers/tmp.js";

const root = path.resolve(import.meta.dirname, "../..");
const bin = path.join(root, "dist/bin/btkit.js");

describe("shouldRelaunch", () => {
  it("prep and join on Linux, unless MALLOC_ARENA_MAX is set, BTKIT_RELAUNCH=0, or help is asked", () => {
    expect(shouldRelaunch(["prep", "in.csv", "--out", "d"], {}, "linux")).toBe(true);
    expect(shouldRelaunch(["join", "--descriptor", "d", "--out", "x.parquet"], {}, "linux")).toBe(true);
    expect(shouldRelaunch(["prep", "in.csv"], { MALLOC_ARENA_MAX: "2" }, "linux")).toBe(false);
    expect(shouldRelaunch(["prep", "in.csv"], { BTKIT_RELAUNCH: "0" }, "linux")).toBe(false);
    expect(shouldRelaunch(["prep", "--help"], {}, "linux")).toBe(false);
    expect(shouldRelaunch(["join", "-h"], {}, "linux")).toBe(false);
    expect(shouldRelaunch(["prep", "in.csv"], {}, "darwin")).toBe(false);
    for (const other of [[], ["--version"], ["help", "prep"], ["submit"], ["status"], ["emulator"]]) expect(shouldRelaunch(other, {}, "linux")).toBe(false);
  });
});

describe("relaunchExecArgv", () => {
  it("adds --max-semi-space-size=2 to a join's node options, unless they or NODE_OPTIONS set it; prep's are kept as they are", () => {
    expect(relaunchExecArgv("join", [], {})).toEqual(["--max-semi-space-size=2"]);
    expect(relaunchExecArgv("join", ["--enable-source-maps"], { NODE_OPTIONS: "--max-old-space-size=4096" })).toEqual(["--enable-source-maps", "--max-semi-space-size=2"]);
    expect(relaunchExecArgv("join", ["--max-semi-space-size=16"], {})).toEqual(["--max-semi-space-size=16"]);
    expect(relaunchExecArgv("join", ["--max_semi_space_size", "8"], {})).toEqual(["--max_semi_space_size", "8"]);
    expect(relaunchExecArgv("join", [], { NODE_OPTIONS: "--enable-source-maps --max-semi-space-size=1" })).toEqual([]);
    expect(relaunchExecArgv("prep", ["--enable-source-maps"], {})).toEqual(["--enable-source-maps"]);
  });
});

describe.runIf(process.platform === "linux")("the relaunched command (built CLI)", () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeAll(ensureBuilt, BUILD_TIMEOUT_MS);
  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir("btkit-relaunch-"));
    const rows: string[] = ["id,x,text"];
    for (let i = 0; i < 400_000; i++) rows.push(`${i},${i * 2},"text, with a comma ${i}"`);
    fs.writeFileSync(path.join(dir, "big.csv"), `${rows.join("\n")}\n`);
  });
  afterAll(() => cleanup?.());

  /** Starts prep; once it reports rows, calls `act` with the first process's pid and its child processes' pids. */
  function prepThen(out: string, act: (parent: number, children: number[]) => void, options: { detached?: boolean; env?: Record<string, string> } = {}): Promise<{ code: number | null; stderr: string }> {
    const env: NodeJS.ProcessEnv = { ...process.env, BTKIT_PROGRESS_INTERVAL_MS: "0" };
    delete env.MALLOC_ARENA_MAX;
    delete env.BTKIT_RELAUNCH;
    Object.assign(env, options.env);
    return new Promise((resolve) => {
      const p = spawn(process.execPath, [bin, "prep", "big.csv", "--out", out, "--gzip", "--shard-rows", "20000"], { cwd: dir, env, stdio: ["ignore", "ignore", "pipe"], detached: options.detached ?? false });
      let stderr = "";
      let acted = false;
      p.stderr.on("data", (c: Buffer) => {
        stderr += c.toString();
        if (!acted && /prep: [\d,]+ rows/.test(stderr)) {
          acted = true;
          const children = fs.readFileSync(`/proc/${p.pid}/task/${p.pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
          act(p.pid!, children);
        }
      });
      p.on("exit", (code) => resolve({ code, stderr }));
    });
  }

  const leftovers = (out: string): string[] =>
    fs.existsSync(path.join(dir, out)) ? fs.readdirSync(path.join(dir, out), { recursive: true }).map(String).filter((f) => /\.tmp$|\.lock$/.test(f)) : [];

  it("runs prep in a child process with MALLOC_ARENA_MAX=1 (V8's options unchanged), and SIGTERM to the first process stops it cleanly (143)", async () => {
    let childEnv = "";
    let childArgs: string[] = [];
    let count = 0;
    const r = await prepThen("out-term", (parent, children) => {
      count = children.length;
      childEnv = fs.readFileSync(`/proc/${children[0]}/environ`, "utf8");
      childArgs = fs.readFileSync(`/proc/${children[0]}/cmdline`, "utf8").split("\0");
      process.kill(parent, "SIGTERM");
    });
    expect(count).toBe(1);
    expect(childEnv.split("\0")).toContain("MALLOC_ARENA_MAX=1");
    expect(childArgs.slice(1, 3)).toEqual([bin, "prep"]);
    expect(r.code, r.stderr).toBe(143);
    expect(r.stderr).toContain("interrupted (SIGTERM)");
    expect(leftovers("out-term")).toEqual([]);
    expect(fs.existsSync(path.join(dir, "out-term", "btkit.json"))).toBe(false);
  });

  it("runs join in a child process with --max-semi-space-size=2 added to node's options, unless NODE_OPTIONS sets it", async () => {
    // join waits for its descriptor on stdin: the child is read from /proc meanwhile, then stopped
    const childArgs = async (env: NodeJS.ProcessEnv): Promise<string[]> => {
      const p = spawn(process.execPath, [bin, "join", "--out", "x.jsonl"], { cwd: dir, env, stdio: ["pipe", "ignore", "ignore"] });
      try {
        const deadline = Date.now() + 15_000;
        while (Date.now() < deadline) {
          const children = fs.readFileSync(`/proc/${p.pid}/task/${p.pid}/children`, "utf8").trim();
          // the child between fork and exec (on a loaded machine) shows an empty command line or the
          // parent's own: read again until it runs with relaunch's environment (BTKIT_FIRST_PID)
          const child = children === "" ? undefined : children.split(/\s+/)[0];
          const execed = child !== undefined && fs.readFileSync(`/proc/${child}/environ`, "utf8").split("\0").some((v) => v.startsWith("BTKIT_FIRST_PID="));
          const args = execed ? fs.readFileSync(`/proc/${child}/cmdline`, "utf8").split("\0") : [];
          if (args.length > 1) return args;
          await new Promise((r) => setTimeout(r, 20));
        }
        throw new Error("join started no child process");
      } finally {
        const exited = new Promise((r) => p.on("exit", r));
        p.kill("SIGTERM");
        await exited;
      }
    };
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.MALLOC_ARENA_MAX;
    delete env.BTKIT_RELAUNCH;
    delete env.NODE_OPTIONS;
    expect((await childArgs(env)).slice(1, 4)).toEqual(["--max-semi-space-size=2", bin, "join"]);
    expect((await childArgs({ ...env, NODE_OPTIONS: "--max-semi-space-size=8" })).slice(1, 3)).toEqual([bin, "join"]);
  });

  it("a command still waiting on stdin (join for its descriptor, prep for its table from -) stops on SIGTERM with exit 143", async () => {
    // before: the pending stdin read kept the process alive after the command had stopped
    for (const args of [["join", "--out", "x.jsonl"], ["prep", "-", "--out", "out-stdin"]]) {
      const env: NodeJS.ProcessEnv = { ...process.env };
      delete env.MALLOC_ARENA_MAX;
      delete env.BTKIT_RELAUNCH;
      delete env.NODE_OPTIONS;
      const p = spawn(process.execPath, [bin, ...args], { cwd: dir, env, stdio: ["pipe", "ignore", "pipe"] });
      let stderr = "";
      p.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number | null>((r) => p.on("exit", (code) => r(code)));
      // the relaunched child, a second after it appears (its signal handlers are in place)
      const deadline = Date.now() + 15_000;
      while (Date.now() < deadline && fs.readFileSync(`/proc/${p.pid}/task/${p.pid}/children`, "utf8").trim() === "") await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, 1000));
      p.kill("SIGTERM");
      const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r("still running 10 s after SIGTERM"), 10_000))]);
      if (code === "still running 10 s after SIGTERM") p.kill("SIGKILL");
      expect(code, `${args[0]}: ${stderr}`).toBe(143);
      expect(stderr).toContain("interrupted (SIGTERM)");
    }
  }, 60_000);

  it("BTKIT_RELAUNCH=0 runs the command in the first process (no child), which completes", async () => {
    let count = -1;
    const r = await prepThen("out-one", (_parent, children) => (count = children.length), { env: { BTKIT_RELAUNCH: "0" } });
    expect(r.code, r.stderr).toBe(0);
    expect(count).toBe(0);
    expect(fs.existsSync(path.join(dir, "out-one", "btkit.json"))).toBe(true);
  });

  it("SIGHUP (a closed terminal) to the first process stops the command cleanly: exit 129, temporaries removed", async () => {
    const r = await prepThen("out-hup", (parent) => process.kill(parent, "SIGHUP"));
    expect(r.code, r.stderr).toBe(129);
    expect(r.stderr).toContain("interrupted (SIGHUP)");
    expect(leftovers("out-hup")).toEqual([]);
  });

  it("SIGKILL of the first process: the command notices it is gone and stops as for SIGTERM, leaving no temporaries or lock", async () => {
    let child = 0;
    await prepThen("out-kill", (parent, children) => {
      child = children[0]!;
      process.kill(parent, "SIGKILL");
    });
    // the orphan stops within about half a second of the check
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && fs.existsSync(`/proc/${child}`) && !fs.readFileSync(`/proc/${child}/stat`, "utf8").includes(") Z ")) await new Promise((r) => setTimeout(r, 100));
    expect(fs.existsSync(`/proc/${child}`) && !fs.readFileSync(`/proc/${child}/stat`, "utf8").includes(") Z ")).toBe(false);
    expect(leftovers("out-kill")).toEqual([]);
    expect(fs.existsSync(path.join(dir, "out-kill", "btkit.json"))).toBe(false);
  });

  it("a Ctrl-C to the process group (both processes get SIGINT, the first forwards it) counts once: exit 130, temporaries removed", async () => {
    const r = await prepThen("out-int", (parent) => process.kill(-parent, "SIGINT"), { detached: true });
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toContain("interrupted (SIGINT)");
    expect(leftovers("out-int")).toEqual([]);
  });
});
