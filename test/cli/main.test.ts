import { spawn } from "node:child_process";
import { PassThrough, Readable, Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { closest, parseArgs, type CommandSpec } from "../../src/cli/args.js";
import { COMMON_FLAGS, type Command, type CommandEntry, type LazyCommand } from "../../src/cli/command.js";
import { COMMANDS } from "../../src/cli/commands.js";
import { COMPRESSION_CHOICES, FORMAT_CHOICES, PREDICTION_FORMAT_CHOICES } from "../../src/cli/cmd-join.js";
import { main } from "../../src/cli/main.js";
import { OUTPUT_FORMATS, PARQUET_COMPRESSIONS, PREDICTION_FORMATS } from "../../src/join/index.js";
import { BtkitError, EXIT } from "../../src/errors.js";
import { VERSION } from "../../src/version.js";
import { runCli } from "../helpers/cli.js";
import { sampleDescriptor } from "../helpers/descriptor.js";
import { thrownBy } from "../helpers/errors.js";
import { tempDir } from "../helpers/tmp.js";
import fs from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";

const spec: CommandSpec = {
  name: "demo",
  summary: "a command for tests",
  usage: "INPUT... [--shard-rows N]",
  positionals: { name: "INPUT", min: 1, max: 3 },
  flags: {
    "shard-rows": { type: "int", help: "rows per shard", min: 1 },
    format: { type: "string", help: "output format", choices: ["csv", "jsonl"], default: "csv" },
    gzip: { type: "int", help: "gzip level", bareValue: "6", min: 0, max: 9, value: "LEVEL" },
    env: { type: "string", help: "K=V", multiple: true },
    "dry-run": { type: "boolean", help: "print only" },
    ...COMMON_FLAGS,
  },
};

const parseError = (argv: string[]): BtkitError => thrownBy(() => parseArgs(spec, argv));

describe("argument parsing", () => {
  it("parses flags, defaults, repeated flags, bare values and positionals", () => {
    const a = parseArgs(spec, ["in.csv", "--shard-rows", "100", "--env", "A=1", "--env=B=2", "--gzip", "b.csv", "--dry-run"]);
    expect(a.positionals).toEqual(["in.csv", "b.csv"]);
    expect(a.flags).toMatchObject({ "shard-rows": 100, env: ["A=1", "B=2"], gzip: 6, "dry-run": true, format: "csv" });
    expect(parseArgs(spec, ["x", "--gzip", "1"]).flags.gzip).toBe(1);
    expect(parseArgs(spec, ["x", "--no-dry-run"]).flags["dry-run"]).toBe(false);
    expect([...parseArgs(spec, ["x", "--format=jsonl"]).given]).toEqual(["format"]);
  });

  it("a misspelled flag is a usage error suggesting the right one", () => {
    const err = parseError(["x", "--dry-rn"]);
    expect(err.code).toBe("USAGE_UNKNOWN_FLAG");
    expect(err.message).toContain("did you mean --dry-run?");
    expect(err.exitCode).toBe(EXIT.usage);
    expect(parseError(["x", "--shardrows", "3"]).message).toContain("--shard-rows");
    // a boolean flag's negation is suggested too
    expect(parseError(["x", "--no-dry-rn"]).message).toContain("did you mean --no-dry-run?");
  });

  it("a flag typed shortened or lengthened, its letters in order, suggests the flag it abbreviates, or the nearest two", () => {
    expect(closest("--model-cmd", ["--model-url", "--model-command", "--model"])).toBe("--model-command");
    expect(closest("--no-feature", ["--features", "--no-features", "--feature-names"])).toBe("--no-features");
    expect(closest("--output", ["--out", "--outputs", "--descriptor-out"])).toBe("--outputs or --out");
    // the rest as before: edit distance
    expect(closest("--dry-rn", ["--dry-run", "--format"])).toBe("--dry-run");
    expect(closest("--zzz", ["--dry-run", "--format"])).toBeUndefined();
  });

  it.each([
    [["x", "--shard-rows", "ten"], "USAGE_BAD_VALUE", "expects a whole number"],
    [["x", "--shard-rows", "0"], "USAGE_BAD_VALUE", "at least 1"],
    [["x", "--format", "jsnl"], "USAGE_BAD_VALUE", "did you mean jsonl?"],
    [["x", "--shard-rows"], "USAGE_MISSING", "needs a value"],
    [[], "USAGE_MISSING", "needs INPUT"],
    [["a", "b", "c", "d"], "USAGE_BAD_VALUE", "unexpected argument"],
    [["x", "--format", "csv", "--format", "jsonl"], "USAGE_BAD_VALUE", "given twice"],
  ])("%j is %s", (argv, code, text) => {
    const err = parseError(argv);
    expect(err.code).toBe(code);
    expect(err.message).toContain(text);
  });
});

describe("main", () => {
  const ran: string[][] = [];
  const demo: Command = {
    spec,
    async run(ctx, args) {
      ran.push(args.positionals);
      if (args.positionals[0] === "fail") throw new BtkitError("PREP_RAGGED_ROW", "row 3 has 2 fields, expected 3", { input: "a.csv", line: 4 });
      if (args.positionals[0] === "crash") throw new TypeError("boom");
      ctx.log("working");
      await ctx.out('{"ok":true}\n');
      return 0;
    },
  };

  async function run(argv: string[], env: Record<string, string> = {}, commands: CommandEntry[] = [demo]) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(argv, {
      stdin: Readable.from([]),
      stdout: new Writable({ write: (c, _e, cb) => (out.push(String(c)), cb()) }),
      stderr: new Writable({ write: (c, _e, cb) => (err.push(String(c)), cb()) }),
      env,
    }, commands);
    return { code, stdout: out.join(""), stderr: err.join("") };
  }

  it("prints the version on stdout, help on request, and usage for no command", async () => {
    expect(await run(["--version"])).toEqual({ code: 0, stdout: `${VERSION}\n`, stderr: "" });
    const help = await run(["help", "demo"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Usage: btkit demo INPUT...");
    expect(help.stdout).toContain("--gzip[=LEVEL]");
    expect(help.stdout).toContain("(csv|jsonl) [default: csv]");
    // asked for, help goes to stdout (pipe it to a pager); no command at all is a usage error on stderr
    const top = await run(["--help"]);
    expect(top.code).toBe(0);
    expect(top.stdout).toContain("demo");
    expect(top.stdout).toContain("Exit codes:");
    expect(top.stderr).toBe("");
    const none = await run([]);
    expect(none.code).toBe(EXIT.usage);
    expect(none.stdout).toBe("");
    expect(none.stderr).toContain("Exit codes:");
  });

  // asked-for help is output (stdout, exit 0); help because the command line is wrong is a usage error (stderr, exit 2)
  it.each([
    [["--help"], "stdout", EXIT.ok, "Exit codes:"],
    [["-h"], "stdout", EXIT.ok, "Exit codes:"],
    [["help"], "stdout", EXIT.ok, "Exit codes:"],
    [["help", "demo"], "stdout", EXIT.ok, "Usage: btkit demo INPUT..."],
    [["demo", "--help"], "stdout", EXIT.ok, "Usage: btkit demo INPUT..."],
    [["demo", "-h"], "stdout", EXIT.ok, "Usage: btkit demo INPUT..."],
    [["demo", "in.csv", "--dry-run", "--help"], "stdout", EXIT.ok, "Usage: btkit demo INPUT..."],
    [["--version"], "stdout", EXIT.ok, VERSION],
    [["-V"], "stdout", EXIT.ok, VERSION],
    [[], "stderr", EXIT.usage, "Exit codes:"],
    [["help", "dmeo"], "stderr", EXIT.usage, "[USAGE_UNKNOWN_COMMAND]"],
    [["dmeo", "--help"], "stderr", EXIT.usage, "[USAGE_UNKNOWN_COMMAND]"],
  ] as const)("btkit %j writes to %s and exits %i", async (argv, stream, code, text) => {
    const runs = ran.length;
    const r = await run([...argv]);
    expect(r.code).toBe(code);
    expect(r[stream]).toContain(text);
    expect(r[stream === "stdout" ? "stderr" : "stdout"]).toBe("");
    expect(ran.length).toBe(runs);
  });

  it("loads a lazy command only to run it or to show its help", async () => {
    let loads = 0;
    const lazy: LazyCommand = { name: "demo", summary: spec.summary, load: async () => (loads++, demo) };
    for (const argv of [["--version"], ["help"], ["--help"], [], ["dmeo"]]) await run(argv, {}, [lazy]);
    expect(loads).toBe(0);
    expect((await run(["help"], {}, [lazy])).stdout).toContain("  demo      a command for tests");
    expect((await run(["help", "demo"], {}, [lazy])).stdout).toContain("Usage: btkit demo INPUT...");
    expect(loads).toBe(1);
    expect(await run(["demo", "in.csv"], {}, [lazy])).toEqual({ code: 0, stdout: '{"ok":true}\n', stderr: "working\n" });
    expect(loads).toBe(2);
    const broken: LazyCommand = { name: "broken", summary: "s", load: async () => Promise.reject(new Error("cannot load")) };
    const r = await run(["broken", "x"], {}, [broken]);
    expect(r.code).toBe(EXIT.internal);
    expect(r.stderr).toContain("btkit broken: internal error [INTERNAL]: Error: cannot load");
  });

  it("keeps stdout for pipe data and logs on stderr", async () => {
    const r = await run(["demo", "in.csv"]);
    expect(r).toEqual({ code: 0, stdout: '{"ok":true}\n', stderr: "working\n" });
    expect((await run(["demo", "in.csv", "--quiet"])).stderr).toBe("");
  });

  it("maps errors to exit codes with code and place on stderr", async () => {
    const r = await run(["demo", "fail"]);
    expect(r.code).toBe(EXIT.data);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("error [PREP_RAGGED_ROW]: row 3 has 2 fields, expected 3");
    expect(r.stderr).toContain("input=a.csv line=4");
    const c = await run(["demo", "crash"]);
    expect(c.code).toBe(EXIT.internal);
    expect(c.stderr).toContain("internal error [INTERNAL]: TypeError: boom");
    const u = await run(["dmeo"]);
    expect(u.code).toBe(EXIT.usage);
    expect(u.stderr).toContain("did you mean demo?");
    const f = await run(["demo", "x", "--dry-rn"]);
    expect(f.code).toBe(EXIT.usage);
    expect(f.stderr).toContain("did you mean --dry-run?");
    // where to read more is said once, on its own line
    expect(f.stderr.match(/btkit help demo/g)).toEqual(["btkit help demo"]);
    expect(f.stderr).toContain("\n  see: btkit help demo\n");
  });

  it("never prints credentials from the environment, even inside an error", async () => {
    const canary = "CanarySecretValue0123456789xyz";
    const leaky: Command = {
      spec: { ...spec, name: "leak", positionals: { name: "X", min: 0, max: 1 } },
      async run() {
        throw new BtkitError("IO_S3", `request failed: https://b/k?X-Amz-Signature=abc123def&secret=${canary} key AKIACANARYKEY0000000`);
      },
    };
    const err: string[] = [];
    const code = await main(["leak"], {
      stdin: Readable.from([]),
      stdout: new PassThrough(),
      stderr: new Writable({ write: (c, _e, cb) => (err.push(String(c)), cb()) }),
      env: { AWS_ACCESS_KEY_ID: "AKIACANARYKEY0000000", AWS_SECRET_ACCESS_KEY: canary },
    }, [leaky]);
    expect(code).toBe(EXIT.service);
    const text = err.join("");
    expect(text).toContain("error [IO_S3]");
    expect(text).not.toContain(canary);
    expect(text).not.toContain("AKIACANARYKEY0000000");
    expect(text).not.toContain("abc123def");
  });

  it("reads the descriptor from stdin or --descriptor, and explains when there is none", async () => {
    const reader: Command = {
      spec: { ...spec, name: "read", positionals: { name: "X", min: 0, max: 0 }, flags: { descriptor: { type: "string", help: "d" }, ...COMMON_FLAGS } },
      async run(ctx, args) {
        const { descriptor, source } = await ctx.readDescriptor(args.flags.descriptor as string | undefined);
        await ctx.out(`${source} ${descriptor.shards.length}\n`);
        return 0;
      },
    };
    const d = JSON.stringify(sampleDescriptor());
    const fromStdin = await runCli(["read"], { stdin: `${d}\n` }, [reader]);
    expect(fromStdin).toMatchObject({ code: 0, stdout: "stdin 2\n" });
    const { dir, cleanup } = await tempDir();
    try {
      await fs.writeFile(path.join(dir, "btkit.json"), d);
      const fromFolder = await runCli(["read", "--descriptor", dir], {}, [reader]);
      expect(fromFolder).toMatchObject({ code: 0, stdout: `${path.join(dir, "btkit.json")} 2\n` });
      expect(await runCli(["read", "--descriptor", `${dir}/`], {}, [reader])).toMatchObject({ code: 0, stdout: `${path.join(dir, "btkit.json")} 2\n` });
      // any file is the descriptor itself, whatever its name
      for (const name of ["job.txt", "job", "saved.descriptor", "j.JSON"]) {
        await fs.writeFile(path.join(dir, name), `${d}\n`);
        expect(await runCli(["read", "--descriptor", path.join(dir, name)], {}, [reader])).toMatchObject({ code: 0, stdout: `${path.join(dir, name)} 2\n` });
        expect(await runCli(["read", "--descriptor", name], { cwd: dir }, [reader])).toMatchObject({ code: 0, stdout: `${path.join(dir, name)} 2\n` });
      }
      expect(await runCli(["read", "--descriptor", pathToFileURL(path.join(dir, "job")).href], {}, [reader])).toMatchObject({ code: 0, stdout: `${path.join(dir, "job")} 2\n` });
      // neither a file nor a folder holding btkit.json
      const missing = await runCli(["read", "--descriptor", path.join(dir, "nothing")], {}, [reader]);
      expect(missing.code).toBe(EXIT.noInput);
      expect(missing.stderr).toContain(`error [IO_NOT_FOUND]: no descriptor at --descriptor ${path.join(dir, "nothing")}: no such file or object, nor a folder or prefix holding btkit.json (${path.join(dir, "nothing", "btkit.json")})`);
      await fs.mkdir(path.join(dir, "empty"));
      expect((await runCli(["read", "--descriptor", path.join(dir, "empty")], {}, [reader])).stderr).toContain("nor a folder or prefix holding btkit.json");
    } finally {
      await cleanup();
    }
    const none = await runCli(["read"], { stdin: "" }, [reader]);
    expect(none.code).toBe(EXIT.usage);
    expect(none.stderr).toContain("[PROTO_NO_INPUT]");
    const bad = await runCli(["read"], { stdin: '{"btkit":"9.0"}' }, [reader]);
    expect(bad.code).toBe(EXIT.data);
    expect(bad.stderr).toContain("[PROTO_VERSION]");
  });

  it("ends quietly with exit 0 when stdout is closed (EPIPE)", async () => {
    const err: string[] = [];
    const epipe = new Writable({
      write: (_c, _e, cb) => cb(Object.assign(new Error("write EPIPE"), { code: "EPIPE" })),
    });
    epipe.on("error", () => undefined);
    const code = await main(["demo", "in.csv"], {
      stdin: Readable.from([]),
      stdout: epipe,
      stderr: new Writable({ write: (c, _e, cb) => (err.push(String(c)), cb()) }),
      env: {},
    }, [demo]);
    expect(code).toBe(0);
    expect(err.join("")).toBe("working\n");
  });
});

describe("the command registry", () => {
  it("names and summarizes each command as its module's spec does", async () => {
    for (const entry of COMMANDS) {
      const cmd = await entry.load();
      expect({ name: entry.name, summary: entry.summary }).toEqual({ name: cmd.spec.name, summary: cmd.spec.summary });
    }
  });

  it("join's flag choices are the join library's lists", () => {
    expect(FORMAT_CHOICES).toEqual(OUTPUT_FORMATS);
    expect(COMPRESSION_CHOICES).toEqual(PARQUET_COMPRESSIONS);
    expect(PREDICTION_FORMAT_CHOICES).toEqual(PREDICTION_FORMATS);
  });

  it("prints every command's help on stdout with exit 0", async () => {
    const top = await runCli(["--help"]);
    expect(top).toMatchObject({ code: 0, stderr: "" });
    for (const entry of COMMANDS) {
      expect(top.stdout).toContain(`  ${entry.name.padEnd(15)}${entry.summary}\n`);
      for (const argv of [["help", entry.name], [entry.name, "--help"], [entry.name, "-h"]]) {
        const r = await runCli(argv);
        expect(r).toMatchObject({ code: 0, stderr: "" });
        expect(r.stdout).toContain(`Usage: btkit ${entry.name} `);
      }
    }
    const none = await runCli([]);
    expect(none).toMatchObject({ code: EXIT.usage, stdout: "" });
    expect(none.stderr).toContain("Commands:");
  });
});

describe("the bin", () => {
  it("runs as a process and prints the version", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", "bin/btkit.ts", "--version"], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    const code = await new Promise((r) => child.on("exit", r));
    expect(code).toBe(0);
    expect(stdout).toBe(`${VERSION}\n`);
  });
});
