#!/usr/bin/env node
import { runFromProcess } from "../src/cli/process.js";

process.exitCode = await runFromProcess();
