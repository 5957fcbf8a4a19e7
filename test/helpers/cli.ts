/** Runs the CLI's main() in-process with captured streams. */
import { PassThrough, Readable } from "node:stream";
import type { Command } from "../../src/cli/command.js";
import { main } from "../../src/cli/main.js";

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** `tty`: stderr is a terminal (200 columns), so progress is drawn as a bar. */
export async function runCli(argv: string[], options: { stdin?: string; env?: Record<string, string | undefined>; cwd?: string; tty?: boolean } = {}, commands?: Command[]): Promise<CliRun> {
  const stdout = new PassThrough();
  const stderr = new PassThrough() as PassThrough & { isTTY?: boolean; columns?: number };
  if (options.tty) Object.assign(stderr, { isTTY: true, columns: 200 });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on("data", (c: Buffer) => out.push(c));
  stderr.on("data", (c: Buffer) => err.push(c));
  const stdin = Readable.from(options.stdin === undefined ? [] : [Buffer.from(options.stdin)]) as Readable & { isTTY?: boolean };
  const code = await main(argv, {
    stdin,
    stdout,
    stderr,
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true", BTKIT_PROGRESS_INTERVAL_MS: "0", ...options.env },
    cwd: options.cwd,
  }, commands);
  return { code, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") };
}
