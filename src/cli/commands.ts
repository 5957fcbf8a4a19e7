/**
 * The registry of commands, in the order help lists them. A command is added here when it is
 * built; there are no placeholders. Each entry names its module, loaded only when the command runs
 * or its help is asked for (`btkit --version` and `btkit help` load none); the name and summary
 * here are the module's spec's (test/cli/main.test.ts checks that they agree).
 */
import type { LazyCommand } from "./command.js";

export const COMMANDS: LazyCommand[] = [
  { name: "prep", summary: "turn tables into model-input shards, sidecars, a SageMaker manifest and a descriptor", load: async () => (await import("./cmd-prep.js")).prepCommand },
  { name: "merge", summary: "combine the descriptors of btkit prep --part runs into one", load: async () => (await import("./cmd-merge.js")).mergeCommand },
  { name: "submit", summary: "launch (or attach to) the transform job for a prepared descriptor", load: async () => (await import("./cmd-submit.js")).submitCommand },
  { name: "status", summary: "show (or wait for) the transform job of a submitted descriptor", load: async () => (await import("./cmd-status.js")).statusCommand },
  { name: "stop", summary: "stop the transform job of a submitted descriptor", load: async () => (await import("./cmd-stop.js")).stopCommand },
  { name: "join", summary: "join the job's predictions back to their rows: Parquet, Arrow, JSON Lines or CSV", load: async () => (await import("./cmd-join.js")).joinCommand },
  { name: "emulator", summary: "serve a local SageMaker (models, transform jobs, their logs) for testing without AWS", load: async () => (await import("./cmd-emulator.js")).emulatorCommand },
  { name: "example-model", summary: "serve the example model (the SageMaker container contract) to try the pipeline without a model", load: async () => (await import("./cmd-example-model.js")).exampleModelCommand },
];
