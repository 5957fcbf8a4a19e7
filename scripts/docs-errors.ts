/**
 * Rewrites the error code table in ARCHITECTURE.md (between the markers) from src/errors.ts, so the
 * documented table cannot drift: `npm run docs:errors`. test/errors.test.ts checks every code is listed.
 */
import fs from "node:fs";
import { ERROR_CODES, EXIT } from "../src/errors.js";

const file = new URL("../ARCHITECTURE.md", import.meta.url);
const text = fs.readFileSync(file, "utf8");
const begin = "<!-- error-codes:begin -->";
const end = "<!-- error-codes:end -->";
const rows = Object.entries(ERROR_CODES).map(([code, [kind, meaning]]) => `| \`${code}\` | ${EXIT[kind]} (${kind}) | ${meaning} |`);
const table = ["| code | exit | meaning |", "| --- | --- | --- |", ...rows].join("\n");
const i = text.indexOf(begin);
const j = text.indexOf(end);
if (i < 0 || j < 0) throw new Error("ARCHITECTURE.md lacks the error-codes markers");
fs.writeFileSync(file, `${text.slice(0, i + begin.length)}\n${table}\n${text.slice(j)}`);
process.stdout.write(`wrote ${rows.length} error codes into ARCHITECTURE.md\n`);
