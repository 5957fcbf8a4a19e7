/** DuckDB as the independent reader of what join wrote. */
import { DuckDBInstance } from "@duckdb/node-api";

export async function duckRows(sql: string): Promise<Array<Record<string, unknown>>> {
  const inst = await DuckDBInstance.create(":memory:");
  const con = await inst.connect();
  try {
    const r = await con.runAndReadAll(sql);
    return r.getRowObjectsJS() as Array<Record<string, unknown>>;
  } finally {
    con.closeSync();
    inst.closeSync();
  }
}

export async function duckTypes(sql: string): Promise<Record<string, string>> {
  const inst = await DuckDBInstance.create(":memory:");
  const con = await inst.connect();
  try {
    const r = await con.runAndReadAll(sql);
    const names = r.columnNames();
    const types = r.columnTypes().map(String);
    return Object.fromEntries(names.map((n, i) => [n, types[i]!]));
  } finally {
    con.closeSync();
    inst.closeSync();
  }
}

/** SQL quoting of a path. */
export function sqlString(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}
