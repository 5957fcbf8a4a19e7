/**
 * The registry of commands, in the order help lists them. A command is added here when it is
 * built; there are no placeholders.
 */
import type { Command } from "./command.js";

export const COMMANDS: Command[] = [];
