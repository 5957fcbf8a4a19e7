import type { CommandSpec, ParsedArgs } from "./args.js";
import type { CliContext } from "./context.js";

/** A CLI command: a spec for parsing and help, and a run function thin over the library. */
export interface Command {
  spec: CommandSpec;
  /** returns the exit code; throws BtkitError for failures (main maps codes to exit statuses) */
  run(ctx: CliContext, args: ParsedArgs): Promise<number>;
}

/**
 * A command whose module is loaded only when it runs or its help is asked for: its name and
 * summary are all `btkit help` needs. The registry (commands.ts) lists these, so a stage of a
 * pipe loads its own command and no other (nor `--version` any).
 */
export interface LazyCommand {
  name: string;
  summary: string;
  load(): Promise<Command>;
}

/** What main() runs: a registry entry, or a command itself (tests pass their own). */
export type CommandEntry = Command | LazyCommand;

export function commandName(c: CommandEntry): string {
  return "load" in c ? c.name : c.spec.name;
}

export function commandSummary(c: CommandEntry): string {
  return "load" in c ? c.summary : c.spec.summary;
}

export async function loadCommand(c: CommandEntry): Promise<Command> {
  return "load" in c ? await c.load() : c;
}

/** Flags every command has. */
export const COMMON_FLAGS = {
  quiet: { type: "boolean", short: "q", help: "no progress or log lines on stderr (errors and warnings still show)", group: "General" },
  help: { type: "boolean", short: "h", help: "show this help", group: "General" },
} as const;
