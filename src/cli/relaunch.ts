/**
 * One malloc arena for the data commands, and a small young generation for join. glibc gives each thread that allocates its own malloc
 * arena, and with the worker threads of join and prep (Parquet encoding, JSON Lines and CSV
 * writing, gzip) their fragmentation added 40-50 MB to peak RSS: joining the 100 MB bench table
 * to JSON Lines peaked at 284-305 MB, with MALLOC_ARENA_MAX=1 at 241-245 MB, no slower
 * (BENCHMARKS.md). glibc reads MALLOC_ARENA_MAX only when a process starts (mallopt(3),
 * M_ARENA_MAX; https://man7.org/linux/man-pages/man3/mallopt.3.html), so on Linux `btkit prep`
 * and `btkit join` run themselves once more with it set (in the Docker image too): unless it is
 * set already, BTKIT_RELAUNCH=0 says not to, or the command only prints help.
 *
 * A join's second process also runs with V8's --max-semi-space-size=2 (MiB; V8's default grows to
 * 16 per isolate, main thread and workers alike), unless the command line or NODE_OPTIONS sets it:
 * the young generation is where join's per-batch values live and die, and grown to its default it
 * held 30-50 MB of RSS that a smaller one does not. The 1 GB bench table joined to JSON Lines
 * peaked at 287 MB and 236 MB with it, in the same time (36.6 s against 37.2 s); its main thread
 * spends about 2% more in the garbage collector. prep keeps the default: with 2 MiB it took 10%
 * longer (more of its young objects survive), and it stays below 160 MB without (BENCHMARKS.md).
 *
 * The first process waits and exits as the second does (128 + the signal's number when a signal
 * ended it). It forwards SIGINT, SIGTERM and SIGHUP, so a signal sent to it alone (`kill PID`,
 * `docker stop`) reaches the command; a terminal's Ctrl-C reaches both (one process group), and
 * the command counts signals that close together as one (process.ts). A SIGKILL cannot be
 * forwarded: the command notices within half a second that its first process is gone and stops
 * as for SIGTERM (watchFirstProcess). This module imports nothing else of btkit, so the first
 * process stays small.
 */
import { spawn } from "node:child_process";
import { constants } from "node:os";

/** The commands that run with one arena (the others start no worker threads and stay small). */
const DATA_COMMANDS = new Set(["prep", "join"]);
const FORWARDED = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
/** V8's semi-space limit for a relaunched join, in MiB (see above) */
export const JOIN_SEMI_SPACE_MIB = 2;

/**
 * The node options of the second process running `command`: this one's, and for join
 * --max-semi-space-size unless `execArgv` or NODE_OPTIONS already sets it (the user's choice stands).
 */
export function relaunchExecArgv(command: string | undefined, execArgv: readonly string[], env: NodeJS.ProcessEnv): string[] {
  if (command !== "join") return [...execArgv];
  const set = [...execArgv, ...(env.NODE_OPTIONS ?? "").split(/\s+/)].some((a) => /^--max[-_]semi[-_]space[-_]size(=|$)/.test(a));
  return set ? [...execArgv] : [...execArgv, `--max-semi-space-size=${JOIN_SEMI_SPACE_MIB}`];
}

/** Whether a command line should run in a second process with MALLOC_ARENA_MAX=1 (see above). */
export function shouldRelaunch(args: readonly string[], env: NodeJS.ProcessEnv, platform: NodeJS.Platform): boolean {
  if (platform !== "linux" || env.MALLOC_ARENA_MAX !== undefined || env.BTKIT_RELAUNCH === "0") return false;
  const command = args[0];
  if (command === undefined || !DATA_COMMANDS.has(command)) return false;
  return !args.some((a) => a === "--help" || a === "-h");
}

/**
 * Runs this command line again in a child process with MALLOC_ARENA_MAX=1 (and join's
 * semi-space limit, relaunchExecArgv) when shouldRelaunch
 * says so, and resolves the exit code to end with; undefined when this process is to run the
 * command itself.
 */
export function relaunch(): Promise<number> | undefined {
  if (!shouldRelaunch(process.argv.slice(2), process.env, process.platform)) return undefined;
  const child = spawn(process.execPath, [...relaunchExecArgv(process.argv[2], process.execArgv, process.env), ...process.argv.slice(1)], {
    stdio: "inherit",
    env: { ...process.env, MALLOC_ARENA_MAX: "1", BTKIT_FIRST_PID: String(process.pid) },
  });
  const forward = (sig: NodeJS.Signals): void => {
    child.kill(sig);
  };
  for (const sig of FORWARDED) process.on(sig, forward);
  return new Promise((resolve) => {
    child.on("error", (err) => {
      process.stderr.write(`btkit: error [INTERNAL]: could not start ${process.execPath} again with MALLOC_ARENA_MAX=1: ${err.message}\n  BTKIT_RELAUNCH=0 runs the command in this process\n`);
      resolve(1);
    });
    child.on("exit", (code, signal) => {
      for (const sig of FORWARDED) process.off(sig, forward);
      resolve(code ?? 128 + (signal === null ? 0 : (constants.signals[signal] ?? 0)));
    });
  });
}

/** How often a relaunched command checks that its first process is still there (ms). */
const WATCH_MS = 500;

/**
 * In a relaunched command (BTKIT_FIRST_PID set), calls `gone` once when the first process is no
 * longer its parent: it was killed with SIGKILL, which it cannot forward, and the command would
 * otherwise go on as an orphan nobody waits for (still writing, holding its output's lock). The
 * check is a timer that does not keep the process alive.
 */
export function watchFirstProcess(env: NodeJS.ProcessEnv, gone: () => void): void {
  const first = Number(env.BTKIT_FIRST_PID);
  if (!Number.isInteger(first) || first <= 0 || process.ppid !== first) return;
  const timer = setInterval(() => {
    if (process.ppid === first) return;
    clearInterval(timer);
    gone();
  }, WATCH_MS);
  timer.unref();
}
