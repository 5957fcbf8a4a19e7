import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isBtkitError, type BtkitError } from "../../src/errors.js";
import { collect } from "../../src/io/body.js";
import { Storage } from "../../src/io/storage.js";
import { tempDir } from "../helpers/tmp.js";

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
});
afterEach(async () => {
  await cleanup();
});

describe("local storage", () => {
  it("writes atomically through a temporary name and returns size and sha256", async () => {
    const s = new Storage({ cwd: dir });
    const res = await s.write("out/a/b.txt", "hello\n");
    expect(res).toEqual({
      location: path.join(dir, "out/a/b.txt"),
      bytes: 6,
      sha256: "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03",
    });
    expect(await fs.readFile(path.join(dir, "out/a/b.txt"), "utf8")).toBe("hello\n");
    expect(await fs.readdir(path.join(dir, "out/a"))).toEqual(["b.txt"]);
  });

  it("sha256: false writes the same bytes, counted, and leaves the digest out (join's table outputs)", async () => {
    const s = new Storage({ cwd: dir });
    const res = await s.write("out/t.jsonl", ["{}\n", "{}\n"].map((t) => Buffer.from(t)), { sha256: false });
    expect(res).toEqual({ location: path.join(dir, "out/t.jsonl"), bytes: 6 });
    expect(await fs.readFile(path.join(dir, "out/t.jsonl"), "utf8")).toBe("{}\n{}\n");
  });

  it("a write to a symbolic link fills the file it points to and keeps the link; a FIFO or folder is IO_BAD_LOCATION, untouched", async () => {
    const s = new Storage({ cwd: dir });
    await fs.writeFile(path.join(dir, "target.txt"), "old\n");
    await fs.symlink("target.txt", path.join(dir, "link.txt"));
    await fs.symlink("later.txt", path.join(dir, "dangling.txt"));
    const res = await s.write("link.txt", "new\n");
    expect(res.location).toBe(path.join(dir, "target.txt"));
    expect((await fs.lstat(path.join(dir, "link.txt"))).isSymbolicLink()).toBe(true);
    expect(await fs.readFile(path.join(dir, "target.txt"), "utf8")).toBe("new\n");
    await s.write("dangling.txt", "made\n");
    expect((await fs.lstat(path.join(dir, "dangling.txt"))).isSymbolicLink()).toBe(true);
    expect(await fs.readFile(path.join(dir, "later.txt"), "utf8")).toBe("made\n");
    await new Promise<void>((resolve, reject) => spawn("mkfifo", [path.join(dir, "fifo")]).on("exit", (c) => (c === 0 ? resolve() : reject(new Error(`mkfifo ${c}`)))));
    await fs.mkdir(path.join(dir, "folder"));
    for (const [name, what] of [["fifo", "a FIFO"], ["folder", "a folder"]]) {
      const err = (await s.write(name!, "x").catch((e: unknown) => e)) as BtkitError;
      expect(isBtkitError(err)).toBe(true);
      expect(err.code).toBe("IO_BAD_LOCATION");
      expect(err.message).toContain(`is ${what}, not a file`);
    }
    expect((await fs.lstat(path.join(dir, "fifo"))).isFIFO()).toBe(true);
  });

  it("a body that fails midway leaves neither the final file nor a temporary one", async () => {
    const s = new Storage({ cwd: dir });
    await s.write("keep.txt", "old content");
    async function* failing(): AsyncGenerator<Buffer> {
      yield Buffer.from("partial data");
      throw new Error("source broke");
    }
    const err = (await s.write("keep.txt", failing()).catch((e: unknown) => e)) as BtkitError;
    expect(isBtkitError(err, "IO_WRITE_FAILED")).toBe(true);
    expect(err.message).toContain("source broke");
    expect(await fs.readFile(path.join(dir, "keep.txt"), "utf8")).toBe("old content");
    expect(await fs.readdir(dir)).toEqual(["keep.txt"]);
  });

  it("a body past the background flushes (16 MiB each) is written whole, and one failing after a flush began leaves nothing", async () => {
    const s = new Storage({ cwd: dir });
    const block = Buffer.alloc(1024 * 1024);
    const blocks = (n: number, fail: boolean) =>
      (async function* (): AsyncGenerator<Buffer> {
        for (let i = 0; i < n; i++) yield Buffer.from(block.fill(i % 251));
        if (fail) throw new Error("source broke after 40 MiB");
      })();
    const res = await s.write("big.bin", blocks(40, false));
    const back = await fs.readFile(path.join(dir, "big.bin"));
    expect(back.length).toBe(40 * 1024 * 1024);
    expect([back[0], back[16 * 1024 * 1024], back[40 * 1024 * 1024 - 1]]).toEqual([0, 16, 39]);
    expect(res.sha256).toBe(createHash("sha256").update(back).digest("hex"));
    const err = (await s.write("big.bin", blocks(40, true)).catch((e: unknown) => e)) as BtkitError;
    expect(isBtkitError(err, "IO_WRITE_FAILED")).toBe(true);
    expect(err.message).toContain("source broke after 40 MiB");
    expect(await fs.readdir(dir)).toEqual(["big.bin"]);
    expect((await fs.stat(path.join(dir, "big.bin"))).size).toBe(40 * 1024 * 1024);
  });

  it("noOverwrite refuses an existing file with IO_EXISTS", async () => {
    const s = new Storage({ cwd: dir });
    await s.write("x", "1");
    const err = await s.write("x", "2", { noOverwrite: true }).catch((e: unknown) => e);
    expect(isBtkitError(err, "IO_EXISTS")).toBe(true);
  });

  it("a writer killed mid-write leaves no file under the final name, and the rerun removes its temporary file", async () => {
    const target = path.join(dir, "big.bin");
    const script = `
      import { Storage } from ${JSON.stringify(path.resolve("src/io/storage.ts"))};
      async function* slow() { for (let i = 0; ; i++) { yield Buffer.alloc(65536, i % 256); if (i === 20) process.stdout.write("started\\n"); await new Promise(r => setTimeout(r, 5)); } }
      await new Storage().write(${JSON.stringify(target)}, slow());
    `;
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
    await new Promise<void>((resolve) => child.stdout.on("data", (c: Buffer) => c.toString().includes("started") && resolve()));
    child.kill("SIGKILL");
    await new Promise((r) => child.on("exit", r));
    const left = await fs.readdir(dir);
    expect(left).not.toContain("big.bin");
    expect(left.filter((n) => n.endsWith(".tmp")).length).toBe(1);
    await new Storage().write(target, "complete");
    expect(await fs.readdir(dir)).toEqual(["big.bin"]);
    expect(await fs.readFile(target, "utf8")).toBe("complete");
  });

  it("reads gzip transparently, raw on request, and reports truncated or corrupt gzip as IO_GZIP_CORRUPT", async () => {
    const s = new Storage({ cwd: dir });
    const text = "a,b\n1,2\n".repeat(10_000);
    const gz = gzipSync(text);
    await fs.writeFile(path.join(dir, "ok.gz"), gz);
    await fs.writeFile(path.join(dir, "cut.gz"), gz.subarray(0, gz.length - 20));
    const bad = Buffer.from(gz);
    bad[Math.floor(bad.length / 2)]! ^= 0xff;
    bad[Math.floor(bad.length / 2) + 1]! ^= 0xff;
    await fs.writeFile(path.join(dir, "bad.gz"), bad);
    // two gzip members concatenated read as one stream (as gzip -d does)
    await fs.writeFile(path.join(dir, "multi.gz"), Buffer.concat([gzipSync("first\n"), gzipSync("second\n")]));
    expect((await collect(await s.read("ok.gz"))).toString()).toBe(text);
    expect((await collect(await s.read("ok.gz", { decompress: "never" }))).equals(gz)).toBe(true);
    expect((await collect(await s.read("multi.gz"))).toString()).toBe("first\nsecond\n");
    for (const name of ["cut.gz", "bad.gz"]) {
      const err = (await collect(await s.read(name)).catch((e: unknown) => e)) as BtkitError;
      expect(isBtkitError(err, "IO_GZIP_CORRUPT"), name).toBe(true);
      expect(err.context.location).toBe(path.join(dir, name));
    }
  });

  it("a missing file is IO_NOT_FOUND; a folder is not readable as a file", async () => {
    const s = new Storage({ cwd: dir });
    expect(isBtkitError(await s.read("nope.csv").catch((e: unknown) => e), "IO_NOT_FOUND")).toBe(true);
    expect(isBtkitError(await s.read(".").catch((e: unknown) => e), "IO_READ_FAILED")).toBe(true);
    expect(await s.head("nope.csv")).toBeUndefined();
  });

  it("a file another writer removes while a folder is listed is not listed, and no raw ENOENT escapes", async () => {
    // parts of one prep or join write into one folder at once: their temporaries are renamed and
    // their markers replaced while another part lists the folder
    const s = new Storage({ cwd: dir });
    for (const n of ["a", "b", "c"]) await s.write(`q/${n}.txt`, n);
    const seen: string[] = [];
    for await (const o of s.list("q")) {
      seen.push(o.relative);
      if (o.relative === "a.txt") await fs.rm(path.join(dir, "q", "b.txt"));
    }
    expect(seen).toEqual(["a.txt", "c.txt"]);
  });

  it("lists files below a folder recursively in key order, skipping unfinished temporary files", async () => {
    const s = new Storage({ cwd: dir });
    await s.write("p/b.txt", "bb");
    await s.write("p/a/z.txt", "z");
    await s.write("p/a-c.txt", "c");
    await fs.writeFile(path.join(dir, "p", ".b.txt.btkit-1-ab.tmp"), "junk");
    const seen = [];
    for await (const o of s.list("p")) seen.push([o.relative, o.size]);
    expect(seen).toEqual([
      ["a-c.txt", 1],
      ["a/z.txt", 1],
      ["b.txt", 2],
    ]);
    await s.delete("p/b.txt");
    expect(await s.exists("p/b.txt")).toBe(false);
  });
});
