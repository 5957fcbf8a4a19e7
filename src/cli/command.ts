import type { CommandSpec, ParsedArgs } from "./args.js";
import type { CliContext } from "./context.js";

/** A CLI command: a spec for parsing and help, and a run function thin over the library. */
export interface Command {
  spec: CommandSpec;
  /** returns the exit code; throws BtkitError for failures (main maps codes to exit statuses) */
  run(ctx: CliContext, args: ParsedArgs): Promise<number>;
}

/** Flags every command has. */
export const COMMON_FLAGS = {
  quiet: { type: "boolean", short: "q", help: "no progress or log lines on stderr (errors and warnings still show)", group: "General" },
  help: { type: "boolean", short: "h", help: "show this help", group: "General" },
} as const;
