import js from "@eslint/js";
import tseslint from "typescript-eslint";

// One-way dependencies (ARCHITECTURE.md): bin -> cli -> {prepare, submit, emulator, join} -> {protocol, io}.
const stage = (name, others) => ({
  files: [`src/${name}/**/*.ts`],
  rules: {
    "no-restricted-imports": ["error", {
      patterns: [
        ...others.map((o) => ({ group: [`../${o}/*`, `../${o}/index.js`, `../../${o}/*`], message: `src/${name} must not import src/${o} (one-way dependencies, see ARCHITECTURE.md)` })),
        { group: ["../cli/*", "../../cli/*"], message: "library code must not import the CLI" },
      ],
    }],
  },
});

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "coverage/**", "**/*.js", "**/*.mjs", "**/*.cjs"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" }],
      "no-constant-condition": ["error", { checkLoops: false }],
    },
  },
  stage("prepare", ["submit", "join", "emulator"]),
  stage("submit", ["prepare", "join", "emulator"]),
  stage("join", ["prepare", "submit", "emulator"]),
  stage("emulator", ["prepare", "submit", "join"]),
  {
    files: ["src/io/**/*.ts", "src/protocol/**/*.ts"],
    rules: {
      "no-restricted-imports": ["error", {
        patterns: [{ group: ["../prepare/*", "../submit/*", "../join/*", "../emulator/*", "../cli/*"], message: "io and protocol sit below the stages" }],
      }],
    },
  },
);
