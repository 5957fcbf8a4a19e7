import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

function findVersion(): string {
  // src/version.ts runs from src/ (tsx) or dist/src/ (built): try both depths.
  for (const p of ["../package.json", "../../package.json"]) {
    try {
      const pkg = require(p) as { name?: string; version?: string };
      if (pkg.name === "btkit" && pkg.version) return pkg.version;
    } catch {
      // try the next
    }
  }
  return "0.0.0";
}

/** btkit's version, from package.json. */
export const VERSION = findVersion();
