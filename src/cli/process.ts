/**
 * The process boundary: wires process streams, SIGINT and SIGTERM to main(). Only the bin calls
 * this. The first signal aborts the command's signal, so it stops promptly through its own failure
 * path (temporaries removed, nothing under a final name) and main() returns 130 (SIGINT) or 143
 * (SIGTERM); a second signal exits at once.
 */
import { EXIT } from "../errors.js";
import { Interrupted, main } from "./main.js";

export async function runFromProcess(): Promise<number> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const ac = new AbortController();
  let signals = 0;
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.on(sig, () => {
      signals += 1;
      if (signals > 1) process.exit(sig === "SIGTERM" ? EXIT.terminated : EXIT.interrupted);
      ac.abort(new Interrupted(sig));
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
