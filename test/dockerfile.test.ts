/**
 * The Dockerfile's claims that can be checked without Docker: every file it copies from the
 * repository exists and is not excluded by .dockerignore; the build runs package.json's build
 * script, whose output folder is the one the runtime stage copies; the command on PATH is the
 * package's bin (with its shebang, so the symlink runs); the entrypoint is the one
 * `prep --processing` gives its jobs; the base image's Node.js meets package.json's engines.
 */
import fs from "node:fs";
import path from "node:path";
import { expect, it } from "vitest";
import { BTKIT_ENTRYPOINT } from "../src/submit/processing.js";

const root = path.resolve(import.meta.dirname, "..");
const dockerfile = fs.readFileSync(path.join(root, "Dockerfile"), "utf8");
const ignore = fs.readFileSync(path.join(root, ".dockerignore"), "utf8").split("\n").map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#"));
const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as { bin: Record<string, string>; scripts: Record<string, string>; engines: { node: string } };
const instructions = dockerfile.split("\n").filter((l) => /^[A-Z]+ /.test(l));

it("every COPY from the build context names files that exist and that .dockerignore keeps", () => {
  const copies = instructions.filter((l) => l.startsWith("COPY ") && !l.includes("--from="));
  expect(copies.length).toBeGreaterThan(0);
  for (const line of copies) {
    const parts = line.split(/\s+/).slice(1);
    for (const src of parts.slice(0, -1)) {
      expect(fs.existsSync(path.join(root, src)), `${src} (${line}) exists`).toBe(true);
      expect(ignore.some((p) => src === p || src.startsWith(`${p}/`)), `${src} is not in .dockerignore`).toBe(false);
    }
  }
});

it("the build stage runs package.json's build script, and the runtime copies its output", () => {
  expect(instructions).toContain("RUN npm run build");
  const tsconfig = JSON.parse(fs.readFileSync(path.join(root, "tsconfig.build.json"), "utf8")) as { compilerOptions: { outDir: string }; include: string[] };
  // tsc, then the bin made executable (the image's btkit link runs it as a program)
  expect(pkg.scripts.build).toBe(`tsc -p tsconfig.build.json && node -e "require('node:fs').chmodSync('dist/bin/btkit.js', 0o755)"`);
  expect(tsconfig.compilerOptions.outDir).toBe("dist");
  // every folder the build compiles is copied into the build stage
  for (const folder of tsconfig.include) expect(instructions, `COPY ${folder}`).toContain(`COPY ${folder} ./${folder}`);
  expect(instructions).toContain("COPY --from=build /src/dist/src ./dist/src");
  expect(instructions).toContain("COPY --from=build /src/dist/bin ./dist/bin");
  expect(instructions).toContain("RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force");
});

it("`btkit` on PATH is the package's bin, and the entrypoint is the one prep --processing gives its jobs", () => {
  const bin = pkg.bin.btkit!.replace(/^\.\//, "");
  expect(bin).toBe("dist/bin/btkit.js");
  expect(dockerfile).toContain(`ln -s /opt/btkit/${bin} /usr/local/bin/btkit`);
  // the symlink runs the file itself: it needs its shebang (tsc keeps it from bin/btkit.ts)
  expect(fs.readFileSync(path.join(root, "bin/btkit.ts"), "utf8").startsWith("#!/usr/bin/env node\n")).toBe(true);
  const entry = instructions.find((l) => l.startsWith("ENTRYPOINT "))!;
  expect(JSON.parse(entry.slice("ENTRYPOINT ".length))).toEqual([...BTKIT_ENTRYPOINT]);
});

it("the base image's Node.js major meets package.json's engines", () => {
  const froms = instructions.filter((l) => l.startsWith("FROM ")).map((l) => /^FROM node:(\d+)-slim/.exec(l)?.[1]);
  expect(froms).toEqual(["20", "20"]);
  expect(pkg.engines.node).toMatch(/^>=20\./);
});
