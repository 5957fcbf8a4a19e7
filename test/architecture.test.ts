/**
 * ARCHITECTURE.md stays true: its module tree lists every source file under src/ (and names no
 * file that is gone), and its error table is the one errors.ts generates.
 */
import fs from "node:fs";
import { expect, it } from "vitest";
import { ERROR_CODES } from "../src/errors.js";

const arch = fs.readFileSync(new URL("../ARCHITECTURE.md", import.meta.url), "utf8");

/** The paths the tree block lists: `  folder/` lines open a folder, `    name.ts` lines are its files. */
function listedFiles(): string[] {
  const block = arch.slice(arch.indexOf("```\nbin/btkit.ts"), arch.indexOf("```", arch.indexOf("```\nbin/btkit.ts") + 3));
  const files: string[] = [];
  let folder = "";
  for (const line of block.split("\n")) {
    const m = /^( {2,4})([\w.-]+\/?)(\s|$)/.exec(line);
    if (!m) continue;
    if (m[1] === "  ") {
      if (m[2]!.endsWith("/")) folder = m[2]!;
      else {
        folder = "";
        files.push(m[2]!);
      }
    } else if (m[2]!.endsWith(".ts")) files.push(folder + m[2]!);
  }
  return files.sort();
}

it("the module tree lists every source file under src/, and only those", () => {
  const src = new URL("../src/", import.meta.url);
  const actual = (fs.readdirSync(src, { recursive: true }) as string[]).filter((f) => f.endsWith(".ts")).map((f) => f.split("\\").join("/")).sort();
  expect(listedFiles()).toEqual(actual);
});

it("the error table has one row per code, in the table's order", () => {
  const rows = [...arch.matchAll(/^\| `([A-Z0-9_]+)` \|/gm)].map((m) => m[1]);
  expect(rows).toEqual(Object.keys(ERROR_CODES));
});
