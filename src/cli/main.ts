/**
 * The CLI's one entry point: main(argv, io) returns an exit code and never exits the process.
 * stdout carries only pipe data; everything else goes to stderr.
 */
import { BtkitError, EXIT, redact, registerEnvSecrets } from "../errors.js";
import { VERSION } from "../version.js";
import { closest, formatHelp, parseArgs } from "./args.js";
import { commandName, commandSummary, loadCommand, type Command, type CommandEntry } from "./command.js";
import { COMMANDS } from "./commands.js";
import { CliContext, StdoutClosed, type CliIo } from "./context.js";

export type { CliIo } from "./context.js";

function topHelp(commands: readonly CommandEntry[]): string {
  const width = Math.max(8, ...commands.map((c) => commandName(c).length)) + 2;
  return [
    `btkit ${VERSION}: batch transform kit for Amazon SageMaker Batch Transform`,
    "",
    "Usage: btkit COMMAND [options]",
    "       btkit prep INPUT... --out DIR | btkit submit ... --wait | btkit join --out FILE",
    "",
    "Commands:",
    ...commands.map((c) => `  ${commandName(c).padEnd(width)}${commandSummary(c)}`),
    `  ${"help".padEnd(width)}show help for a command (btkit help COMMAND)`,
    "",
    "Options:",
    "  -h, --help      show help",
    "  -V, --version   print the version",
    "",
    "Each command reads the previous command's descriptor (one JSON line) on stdin or from",
    "--descriptor, and prints its own on stdout. Logs and progress go to stderr.",
    "",
    "Exit codes:",
    `  ${EXIT.ok}   ok`,
    `  ${EXIT.internal}   internal error (a bug; please report it with the stack printed)`,
    `  ${EXIT.usage}   usage error (unknown flag, bad value, missing argument)`,
    `  ${EXIT.jobFailed}   the transform job ended Failed`,
    `  ${EXIT.jobStopped}   the transform job ended Stopped`,
    `  ${EXIT.timeout}   waiting for the job timed out (the job goes on; with --local it ends with the command)`,
    `  ${EXIT.data}  bad input data (invalid rows, count mismatch, schema conflict)`,
    `  ${EXIT.noInput}  an input does not exist`,
    `  ${EXIT.service}  AWS (or the emulator) refused or failed a call`,
    `  ${EXIT.io}  reading or writing failed (network, disk, corrupt gzip, verification)`,
    `  ${EXIT.conflict}  an output or job exists with other settings`,
    `  ${EXIT.conflict}  (also) another btkit command is writing to the same output`,
    `  ${EXIT.interrupted} interrupted (Ctrl-C, SIGINT): temporary files removed`,
    `  ${EXIT.terminated} terminated (SIGTERM): temporary files removed`,
    `  ${EXIT.hangup} hung up (SIGHUP, the terminal closed): temporary files removed`,
    "",
    "Environment: AWS_REGION, AWS_PROFILE, AWS_ENDPOINT_URL[_S3|_SAGEMAKER] as for the AWS CLI;",
    "BTKIT_S3_PATH_STYLE=1 and BTKIT_S3_CHECKSUMS=WHEN_REQUIRED for S3-compatible servers.",
    "",
  ].join("\n");
}

/**
 * Runs one command line. `commands` defaults to the registry, whose modules load only when their
 * command runs or its help is asked for; tests pass commands themselves.
 */
export async function main(argv: readonly string[], io: CliIo, commands: readonly CommandEntry[] = COMMANDS): Promise<number> {
  registerEnvSecrets(io.env);
  const ctx = new CliContext(io);
  const [first, ...rest] = argv;
  if (first === undefined) {
    // no command is a usage error: the help goes to stderr, stdout stays for pipe data
    io.stderr.write(topHelp(commands));
    return EXIT.usage;
  }
  if (first === "--help" || first === "-h") {
    // asked for: to stdout like `btkit help`, so `btkit --help | less` works
    await ctx.out(topHelp(commands)).catch(() => undefined);
    return EXIT.ok;
  }
  if (first === "--version" || first === "-V" || first === "version") {
    await ctx.out(`${VERSION}\n`).catch(() => undefined);
    return EXIT.ok;
  }
  if (first === "help") {
    if (rest.length === 0) {
      await ctx.out(topHelp(commands)).catch(() => undefined);
      return EXIT.ok;
    }
    const entry = commands.find((c) => commandName(c) === rest[0]);
    if (!entry) return unknownCommand(ctx, rest[0]!, commands);
    return await commandHelp(ctx, entry);
  }
  const entry = commands.find((c) => commandName(c) === first);
  if (!entry) return unknownCommand(ctx, first, commands);
  if (rest.includes("--help") || rest.includes("-h")) return await commandHelp(ctx, entry);
  const name = commandName(entry);
  try {
    const cmd = await loadCommand(entry);
    const args = parseArgs(cmd.spec, rest);
    ctx.quiet = args.flags.quiet === true;
    return await cmd.run(ctx, args);
  } catch (err) {
    if (io.signal?.aborted) return reportInterrupted(ctx, err, name, io.signal.reason);
    return reportError(ctx, err, name);
  }
}

/** A command's help, asked for: on stdout, exit 0. */
async function commandHelp(ctx: CliContext, entry: CommandEntry): Promise<number> {
  let cmd: Command;
  try {
    cmd = await loadCommand(entry);
  } catch (err) {
    return reportError(ctx, err, commandName(entry));
  }
  await ctx.out(formatHelp(cmd.spec)).catch(() => undefined);
  return EXIT.ok;
}

/** The abort reason of a signal the process received. */
export type StopSignal = "SIGINT" | "SIGTERM" | "SIGHUP";

/** The exit code of a command a signal stopped: 128 + the signal's number. */
export function exitOfSignal(sig: StopSignal): number {
  return sig === "SIGTERM" ? EXIT.terminated : sig === "SIGHUP" ? EXIT.hangup : EXIT.interrupted;
}

export class Interrupted extends Error {
  readonly signal: StopSignal;

  constructor(signal: StopSignal) {
    super(`interrupted by ${signal}`);
    this.name = "Interrupted";
    this.signal = signal;
  }
}

/**
 * A command stopped by a signal ends 130 (SIGINT), 143 (SIGTERM) or 129 (SIGHUP), whatever error the stop
 * surfaced as (an aborted write, an aborted request): its own message when it is a coded one that
 * says more (SUBMIT_INTERRUPTED), else that it stopped with temporaries removed and no descriptor published.
 */
function reportInterrupted(ctx: CliContext, err: unknown, command: string, reason: unknown): number {
  const sig = reason instanceof Interrupted ? reason.signal : "SIGINT";
  ctx.clearBar();
  if (err instanceof BtkitError && err.code === "SUBMIT_INTERRUPTED") reportError(ctx, err, command);
  else ctx.io.stderr.write(`btkit ${command}: interrupted (${sig}): stopped; temporary files removed, no descriptor published (run the same command again to start over)\n`);
  return exitOfSignal(sig);
}

function unknownCommand(ctx: CliContext, name: string, commands: readonly CommandEntry[]): number {
  const near = closest(name, [...commands.map(commandName), "help"]);
  ctx.io.stderr.write(`btkit: error [USAGE_UNKNOWN_COMMAND]: no command ${JSON.stringify(name)}${near ? `; did you mean ${near}?` : ""} (btkit --help lists them)\n`);
  return EXIT.usage;
}

/** Prints an error to stderr and returns its exit status. */
export function reportError(ctx: CliContext, err: unknown, command: string): number {
  if (err instanceof StdoutClosed) return EXIT.ok;
  // not after a progress bar left on the line
  ctx.clearBar();
  if (err instanceof BtkitError) {
    const lines = [`btkit ${command}: error [${err.code}]: ${err.message}`];
    const where = Object.entries(err.context).filter(([k]) => k !== "expected" && k !== "got" && k !== "option");
    if (where.length > 0) lines.push(`  at ${where.map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`).join(" ")}`);
    if (err.code.startsWith("USAGE_")) lines.push(`  see: btkit help ${command}`);
    ctx.io.stderr.write(`${redact(lines.join("\n"))}\n`);
    return err.exitCode;
  }
  const text = err instanceof Error ? (err.stack ?? err.message) : String(err);
  ctx.io.stderr.write(`btkit ${command}: internal error [INTERNAL]: ${redact(text)}\n  this is a bug in btkit; please report it with the lines above\n`);
  return EXIT.internal;
}
