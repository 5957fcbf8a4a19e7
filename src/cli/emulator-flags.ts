/**
 * The emulator's options for behaviours the service's documentation leaves open (EmulatorOptions in
 * src/emulator/index.ts, where each is documented with its source), as flags of `btkit emulator`
 * and `btkit submit --local`. Each help text states the default and why it is the default.
 * Kept free of the emulator's own code, so a command's help never loads it.
 */
import { BtkitError } from "../errors.js";
import type { FlagSpec, ParsedArgs } from "./args.js";

const GROUP = "Emulated behaviour (where AWS documents none: a stated default)";

export const EMULATOR_BEHAVIOUR_FLAGS: Record<string, FlagSpec> = {
  "batch-strategy": {
    type: "string",
    value: "S",
    choices: ["MultiRecord", "SingleRecord"],
    default: "MultiRecord",
    help: "BatchStrategy when neither the request nor the model's /execution-parameters sets it (the SageMaker Python SDK's local mode uses MultiRecord)",
    group: GROUP,
  },
  "assemble-line": {
    type: "string",
    value: "HOW",
    choices: ["append-if-missing", "always"],
    default: "append-if-missing",
    help: "AssembleWith Line: add a newline after a response only when it does not end with one, or always",
    group: GROUP,
  },
  "output-keys": {
    type: "string",
    value: "HOW",
    choices: ["relative", "basename"],
    default: "relative",
    help: ".out keys keep the input's path below the S3Prefix (relative) or only its name",
    group: GROUP,
  },
  "gzip-output-name": {
    type: "string",
    value: "HOW",
    choices: ["keep", "strip"],
    default: "keep",
    help: "a Gzip input x.csv.gz gives x.csv.gz.out (keep) or x.csv.out (strip); output is never compressed",
    group: GROUP,
  },
  "folder-markers": {
    type: "string",
    value: "HOW",
    choices: ["skip", "read"],
    default: "skip",
    help: "zero-byte keys ending in / under an S3Prefix (folder markers the console makes): skipped or read as inputs",
    group: GROUP,
  },
  "slice-end": {
    type: "string",
    value: "HOW",
    choices: ["inclusive", "exclusive"],
    default: "inclusive",
    help: "a DataProcessing slice [s:e] includes e (as the data-processing page's text says) or not",
    group: GROUP,
  },
  "json-join-keys": {
    type: "string",
    value: "ORDER",
    choices: ["sorted", "output-first", "input-first"],
    default: "sorted",
    help: "JoinSource Input with JSON: keys sorted, compact (every public recording of a real job), SageMakerOutput first, or last (the data-processing page's hand-written example)",
    group: GROUP,
  },
  "join-mismatch": {
    type: "string",
    value: "WHEN",
    choices: ["run", "create"],
    default: "run",
    help: "JoinSource Input with Accept other than ContentType (or AssembleWith other than SplitType): each object fails with the reason (run) or CreateTransformJob is refused (create)",
    group: GROUP,
  },
};

/**
 * `--processing-command NAME=CMD`: what a processing job's ContainerEntrypoint `NAME` runs (the
 * emulator's processingCommands option; the emulator runs no Docker, so an instance is a local
 * process). CMD is a shell command, run as `sh -c 'CMD "$@"'` with the rest of the entrypoint and
 * the ContainerArguments as its arguments, as `--image-map` commands are. `btkit` runs this
 * package's CLI unless given here.
 */
export const PROCESSING_COMMAND_FLAG: Record<string, FlagSpec> = {
  "processing-command": {
    type: "string",
    value: "NAME=CMD",
    multiple: true,
    help: "processing jobs: run the shell command CMD (with the entrypoint's other elements and the ContainerArguments as its arguments) where a ContainerEntrypoint begins with NAME; default: btkit is this package's CLI, any other NAME is looked up on PATH",
    group: "Processing jobs (emulated)",
  },
};

/** The processingCommands option of `--processing-command NAME=CMD` flags (none given: undefined). */
export function processingCommandsOf(args: ParsedArgs): Record<string, string[]> | undefined {
  const given = args.flags["processing-command"] as string[] | undefined;
  if (given === undefined || given.length === 0) return undefined;
  const out: Record<string, string[]> = {};
  for (const m of given) {
    const eq = m.indexOf("=");
    const name = m.slice(0, Math.max(eq, 0));
    if (eq <= 0 || eq === m.length - 1 || /\s/.test(name)) {
      throw new BtkitError("USAGE_BAD_VALUE", `--processing-command expects NAME=CMD (NAME the first element of a ContainerEntrypoint, CMD a shell command), got ${JSON.stringify(m)}: for example --processing-command btkit='node dist/bin/btkit.js'`, { option: "--processing-command", got: m });
    }
    out[name] = ["sh", "-c", `${m.slice(eq + 1)} "$@"`, "sh"];
  }
  return out;
}

/** The emulator options the flags above give (the names of EmulatorOptions). */
export interface EmulatorBehaviour {
  defaultBatchStrategy: "MultiRecord" | "SingleRecord";
  assembleLine: "append-if-missing" | "always";
  outputKeys: "relative" | "basename";
  gzipOutputName: "keep" | "strip";
  skipFolderMarkers: boolean;
  sliceEnd: "inclusive" | "exclusive";
  jsonJoinKeys: "sorted" | "output-first" | "input-first";
  joinMismatch: "run" | "create";
}

/** The behaviour options of parsed flags (defaults applied by the parser). */
export function emulatorBehaviourOf(args: ParsedArgs): EmulatorBehaviour {
  const f = args.flags as Record<string, string | undefined>;
  const get = <T extends string>(name: string): T => (f[name] ?? (EMULATOR_BEHAVIOUR_FLAGS[name]!.default as string)) as T;
  return {
    defaultBatchStrategy: get("batch-strategy"),
    assembleLine: get("assemble-line"),
    outputKeys: get("output-keys"),
    gzipOutputName: get("gzip-output-name"),
    skipFolderMarkers: get("folder-markers") === "skip",
    sliceEnd: get("slice-end"),
    jsonJoinKeys: get("json-join-keys"),
    joinMismatch: get("join-mismatch"),
  };
}
