/**
 * The registry of commands, in the order help lists them. A command is added here when it is
 * built; there are no placeholders.
 */
import type { Command } from "./command.js";
import { prepCommand } from "./cmd-prep.js";
import { mergeCommand } from "./cmd-merge.js";
import { submitCommand } from "./cmd-submit.js";
import { statusCommand } from "./cmd-status.js";
import { stopCommand } from "./cmd-stop.js";
import { emulatorCommand } from "./cmd-emulator.js";
import { exampleModelCommand } from "./cmd-example-model.js";
import { joinCommand } from "./cmd-join.js";

export const COMMANDS: Command[] = [
  prepCommand,
  mergeCommand,
  submitCommand,
  statusCommand,
  stopCommand,
  joinCommand,
  emulatorCommand,
  exampleModelCommand,
];
