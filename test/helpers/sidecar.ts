/**
 * Reads a sidecar prep wrote with parquet-wasm's own reader (not btkit's sidecar-file.ts), so a
 * test sees what any Parquet reader sees.
 */
import fs from "node:fs/promises";
import { tableFromIPC, type Table } from "apache-arrow";
import * as pw from "parquet-wasm";

export async function sidecarTable(file: string): Promise<Table> {
  return tableFromIPC(pw.readParquet(await fs.readFile(file)).intoIPCStream());
}

/** The same, from the sidecar's bytes. */
export function sidecarTableOf(bytes: Uint8Array): Table {
  return tableFromIPC(pw.readParquet(bytes).intoIPCStream());
}
