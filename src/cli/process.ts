/**
 * The process boundary: wires process streams, SIGINT and SIGTERM to main(). Only the bin calls
 * this. The first signal aborts the command's signal, so it stops promptly through its own failure
 * path (temporaries removed, nothing under a final name) and main() returns 130 (SIGINT) or 143
 * (SIGTERM); a second signal exits at once. Signals within SAME_SIGNAL_MS of the first count as
 * that one: a terminal's Ctrl-C reaches this process both directly and through the first process
 * of a relaunch (relaunch.ts), which forwards it.
 */
import { EXIT } from "../errors.js";
import { Interrupted, main } from "./main.js";

const SAME_SIGNAL_MS = 500;

export async function runFromProcess(): Promise<number> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const ac = new AbortController();
  let first: number | undefined;
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.on(sig, () => {
      const now = Date.now();
      if (first === undefined) {
        first = now;
        ac.abort(new Interrupted(sig));
      } else if (now - first > SAME_SIGNAL_MS) process.exit(sig === "SIGTERM" ? EXIT.terminated : EXIT.interrupted);
    });
  }
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
