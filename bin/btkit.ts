#!/usr/bin/env node
import { relaunch } from "../src/cli/relaunch.js";

// prep and join on Linux run in a second process with one malloc arena (src/cli/relaunch.ts)
const relaunched = relaunch();
process.exitCode = relaunched !== undefined ? await relaunched : await (await import("../src/cli/process.js")).runFromProcess();
