/**
 * Inputs that are not UTF-8: each refusal names the --encoding value that reads the file, and that
 * flag on the same file prepares it with the right values (checked through the sidecar and the
 * shard), counted in the descriptor's notes.
 */
import fs from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, expect, it } from "vitest";
import { EXIT } from "../../src/errors.js";
import { parseDescriptor } from "../../src/protocol/descriptor.js";
import { runCli } from "../helpers/cli.js";
import { tempDir } from "../helpers/tmp.js";
import { sidecarTable } from "../helpers/sidecar.js";

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ dir, cleanup } = await tempDir("btkit-encoding-")));
afterEach(() => cleanup());

const TEXT = "id,name\r\n1,café\r\n2,日本 👍\r\n";
const JSONL = '{"id":1,"name":"café"}\n{"id":2,"name":"日本 👍"}\n';

function utf16be(text: string): Buffer {
  const le = Buffer.from(text, "utf16le");
  for (let i = 0; i + 1 < le.length; i += 2) [le[i], le[i + 1]] = [le[i + 1]!, le[i]!];
  return le;
}

// name is kept in the sidecar, where the test reads it back
const prep = (file: string, ...args: string[]) => runCli(["prep", file, "--out", "out", "--overwrite", "--keep", "id,name", ...args], { cwd: dir });

/** prep refuses `file` naming `flag`; with the flag it reads ids 1, 2 and names café, 日本 👍. */
async function flagWorks(name: string, bytes: Buffer, flag: string, ...extra: string[]): Promise<void> {
  await fs.writeFile(path.join(dir, name), bytes);
  const refused = await prep(name, ...extra);
  expect(refused.code, refused.stderr).toBe(EXIT.data);
  expect(refused.stderr).toContain("PREP_ENCODING");
  expect(refused.stderr).toContain(`read it with encoding: "${flag}" (--encoding ${flag})`);
  const ok = await prep(name, "--encoding", flag, ...extra);
  expect(ok.code, ok.stderr).toBe(0);
  const d = parseDescriptor(ok.stdout);
  expect(d.source.rowsWritten).toBe(2);
  expect(d.source.notes).toContainEqual({ reason: `text inputs read as ${flag} and converted to UTF-8 (--encoding)`, count: 1 });
  const side = await sidecarTable(path.join(dir, "out", "sidecars", "part-00000.parquet"));
  expect([...side.getChild("name")!]).toEqual(flag === "latin1" ? ["café", "caf\u00e9s"] : ["café", "日本 👍"]);
}

it("UTF-16LE with a byte order mark (CSV and JSON Lines): --encoding utf-16le", async () => {
  await flagWorks("bom.csv", Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(TEXT, "utf16le")]), "utf-16le");
  expect(await fs.readFile(path.join(dir, "out", "shards", "part-00000.csv"), "utf8")).toBe("1,café\n2,日本 👍\n");
  await flagWorks("bom.jsonl", Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(JSONL, "utf16le")]), "utf-16le");
});

it("UTF-16BE without a byte order mark, CRLF line ends (named as UTF-16, not as a bare CR): --encoding utf-16be", async () => {
  await fs.writeFile(path.join(dir, "be.csv"), utf16be(TEXT));
  const refused = await prep("be.csv");
  expect(refused.stderr).toContain("looks like UTF-16BE without a byte order mark");
  expect(refused.stderr).not.toContain("bare CR");
  await flagWorks("be.csv", utf16be(TEXT), "utf-16be");
});

it("Latin-1 bytes are refused as invalid UTF-8 naming --encoding latin1, which reads them", async () => {
  await flagWorks("latin.csv", Buffer.from("id,name\n1,café\n2,cafés\n", "latin1"), "latin1");
  expect(await fs.readFile(path.join(dir, "out", "shards", "part-00000.csv"), "utf8")).toBe("1,café\n2,cafés\n");
});

it("bytes that are not valid in the encoding given are PREP_ENCODING naming it", async () => {
  // a lone high surrogate
  await fs.writeFile(path.join(dir, "bad.csv"), Buffer.concat([Buffer.from("id\r\n1\r\n", "utf16le"), Buffer.from([0x00, 0xd8, 0x31, 0x00])]));
  const r = await prep("bad.csv", "--encoding", "utf-16le");
  expect(r.code).toBe(EXIT.data);
  expect(r.stderr).toContain("PREP_ENCODING");
  expect(r.stderr).toContain("bad.csv is not valid utf-16le");
  const usage = await prep("bad.csv", "--encoding", "ebcdic");
  expect(usage.code).toBe(EXIT.usage);
});

it("an --encoding the file is not in is refused, naming why (UTF-8 read as UTF-16 or as Latin-1), never read as garbage", async () => {
  await fs.writeFile(path.join(dir, "utf8.csv"), "id,name\n1,ab\n2,café\n");
  for (const [enc, why] of [
    ["utf-16le", "its first bytes hold no NUL byte, which UTF-16 CSV or JSON text has"],
    ["latin1", "its first bytes are valid UTF-8 with non-ASCII characters"],
  ] as const) {
    const r = await prep("utf8.csv", "--encoding", enc);
    expect(r.code, r.stderr).toBe(EXIT.data);
    expect(r.stderr).toContain(`utf8.csv does not look like ${enc}: ${why}: it is most likely UTF-8; leave out encoding (--encoding)`);
  }
  await fs.writeFile(path.join(dir, "bom.csv"), Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from("id,name\n1,ab\n")]));
  expect((await prep("bom.csv", "--encoding", "windows-1252")).stderr).toContain("it starts with a UTF-8 byte order mark: it is UTF-8; leave out encoding (--encoding)");
  await fs.writeFile(path.join(dir, "le.csv"), Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from("id,name\n1,ab\n", "utf16le")]));
  expect((await prep("le.csv", "--encoding", "utf-16be")).stderr).toContain('it starts with a UTF-16LE byte order mark; use encoding: "utf-16le" (--encoding utf-16le)');
  // the way out each names works: no --encoding for the UTF-8 file
  expect((await prep("utf8.csv")).code).toBe(0);
  expect((await prep("le.csv", "--encoding", "utf-16le")).code).toBe(0);
});

it("--encoding on a Parquet input is a usage error naming the way out (its text is UTF-8 by its format)", async () => {
  const { tableToIPC, tableFromArrays } = await import("apache-arrow");
  await fs.writeFile(path.join(dir, "t.arrow"), tableToIPC(tableFromArrays({ id: Int32Array.from([1, 2]) }), "file"));
  const r = await prep("t.arrow", "--encoding", "latin1");
  expect(r.code).toBe(EXIT.usage);
  expect(r.stderr).toContain('encoding: "latin1" (--encoding latin1) applies to text inputs (CSV, TSV, JSON)');
  expect(r.stderr).toContain("leave it out");
  expect((await runCli(["prep", "t.arrow", "--out", "out2"], { cwd: dir })).code).toBe(0);
});

