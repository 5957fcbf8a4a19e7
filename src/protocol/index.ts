export * from "./descriptor.js";
export * from "./layout.js";
export type { Checker } from "./check.js";
