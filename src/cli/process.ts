/**
 * The process boundary: wires process streams, SIGINT, SIGTERM and SIGHUP to main(). Only the bin
 * calls this. The first signal aborts the command's signal, so it stops promptly through its own
 * failure path (temporaries removed, nothing under a final name) and main() returns 130 (SIGINT),
 * 143 (SIGTERM) or 129 (SIGHUP); a second signal exits at once. Signals within SAME_SIGNAL_MS of the first count as
 * that one: a terminal's Ctrl-C reaches this process both directly and through the first process
 * of a relaunch (relaunch.ts), which forwards it.
 */
import { exitOfSignal, Interrupted, main, type StopSignal } from "./main.js";
import { watchFirstProcess } from "./relaunch.js";

const SAME_SIGNAL_MS = 500;

export async function runFromProcess(): Promise<number> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const ac = new AbortController();
  let first: number | undefined;
  const stop = (sig: StopSignal): void => {
    const now = Date.now();
    if (first === undefined) {
      first = now;
      ac.abort(new Interrupted(sig));
    } else if (now - first > SAME_SIGNAL_MS) process.exit(exitOfSignal(sig));
  };
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(sig, () => stop(sig));
  // a relaunched command (relaunch.ts) stops as for SIGTERM when its first process is gone (killed
  // with SIGKILL, which cannot be forwarded): nobody is left to wait for it
  watchFirstProcess(process.env, () => {
    process.stderr.write(`btkit: the first btkit process (pid ${process.env.BTKIT_FIRST_PID}) is gone: stopping\n`);
    stop("SIGTERM");
  });
  // stdout errors (EPIPE, ENOSPC) are the CLI context's to report as coded errors, never uncaught
  process.stdout.on("error", () => undefined);
  return main(process.argv.slice(2), {
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    cwd: process.cwd(),
    signal: ac.signal,
  });
}
