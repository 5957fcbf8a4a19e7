// node --import ./test/helpers/record-imports.mjs PROGRAM: appends the URL of every module the
// program's imports resolve to, one a line, to the file named by BTKIT_RECORD_IMPORTS (the
// startup test asserts what `btkit --version` and help do not load). Node runs the hooks below on
// its loader thread; they see every import and import() (a CommonJS package's own require()s
// are not seen, but the import that loads the package is).
import { register } from "node:module";

register("./record-imports-hooks.mjs", import.meta.url, { data: { file: process.env.BTKIT_RECORD_IMPORTS } });
