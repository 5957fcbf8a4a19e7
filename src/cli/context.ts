/**
 * What a command runs with: its streams, environment and working folder, plus the helpers every
 * command uses (pipe output, logs and progress on stderr, reading the descriptor from the pipe).
 */
import type { Readable, Writable } from "node:stream";
import { BtkitError, redact } from "../errors.js";
import { parseDescriptor, serializeDescriptor, type Descriptor, type SkipCount } from "../protocol/descriptor.js";
import type { Storage } from "../io/storage.js";
import { formatLocation, parseLocation } from "../io/location.js";
import { LAYOUT } from "../protocol/layout.js";

export interface CliIo {
  stdin: Readable & { isTTY?: boolean };
  stdout: Writable & { isTTY?: boolean };
  stderr: Writable & { isTTY?: boolean; columns?: number };
  env: Record<string, string | undefined>;
  cwd?: string;
  /** aborted on Ctrl-C (the bin wires SIGINT to it) */
  signal?: AbortSignal;
}

function stdoutFailed(err: Error): BtkitError {
  return new BtkitError("IO_WRITE_FAILED", `writing to stdout failed: ${err.message}`, { location: "stdout" }, { cause: err });
}

export class StdoutClosed extends Error {
  constructor() {
    super("stdout closed");
  }
}

export class CliContext {
  readonly io: CliIo;
  readonly cwd: string;
  quiet = false;
  #storage: Promise<Storage> | undefined;
  #stdoutClosed = false;
  /** a progress bar is drawn on stderr's current line, without its newline (a terminal) */
  #barDrawn = false;
  #stdoutError: NodeJS.ErrnoException | undefined;

  constructor(io: CliIo) {
    this.io = io;
    this.cwd = io.cwd ?? process.cwd();
    // a signal stops a command still waiting on stdin (a descriptor, or prep's table from -): its
    // pending read would keep the process alive after the command ends; nothing reads stdin after
    const signal = io.signal;
    signal?.addEventListener("abort", () => void io.stdin.destroy(), { once: true });
    io.stdout.on?.("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "EPIPE") this.#stdoutClosed = true;
      else this.#stdoutError ??= err;
    });
  }

  get env(): Record<string, string | undefined> {
    return this.io.env;
  }

  /**
   * Storage configured from the environment (AWS config, AWS_ENDPOINT_URL_S3, BTKIT_S3_*), made on
   * first use; the S3 SDK loads only with its first S3 call (io/s3.ts), so `--version`, help and
   * a command on local paths never pay for it.
   */
  storage(): Promise<Storage> {
    this.#storage ??= (async () => {
      const [{ Storage }, { s3SettingsFromEnv }] = await Promise.all([import("../io/storage.js"), import("../io/s3.js")]);
      return new Storage({ cwd: this.cwd, env: this.io.env, s3: s3SettingsFromEnv(this.io.env) });
    })();
    return this.#storage;
  }

  /**
   * Writes pipe data to stdout; a closed stdout (EPIPE) throws StdoutClosed, which main ends on
   * quietly; any other failure (a full disk, ENOSPC; a size limit, EFBIG) is IO_WRITE_FAILED.
   */
  async out(text: string | Uint8Array): Promise<void> {
    if (this.#stdoutClosed) throw new StdoutClosed();
    if (this.#stdoutError) throw stdoutFailed(this.#stdoutError);
    const stdout = this.io.stdout;
    await new Promise<void>((resolve, reject) => {
      const ok = stdout.write(text, (err) => {
        if (err) {
          if ((err as NodeJS.ErrnoException).code === "EPIPE") {
            this.#stdoutClosed = true;
            reject(new StdoutClosed());
          } else reject(stdoutFailed(err));
        } else if (ok) resolve();
      });
      if (!ok) stdout.once("drain", resolve);
    });
  }

  /**
   * A flag's local folder as an absolute path: a path (against the working folder) or a file://
   * URI. An s3:// location is a usage error saying `why` a local one is needed.
   */
  localFolder(flag: string, text: string, why: string): string {
    const loc = parseLocation(text, this.cwd);
    if (loc.kind !== "local") throw new BtkitError("USAGE_BAD_VALUE", `${flag} ${text}: ${why}; give a local path or a file:// URI`, { option: flag, location: text });
    return loc.path;
  }

  /** Writes a stream of pipe data to stdout, chunk by chunk as stdout takes it (see out). */
  async outStream(body: AsyncIterable<Uint8Array>): Promise<void> {
    for await (const chunk of body) await this.out(chunk);
  }

  /** A line to stderr (redacted), on a line of its own (a progress bar's line is cleared first). */
  log(message: string): void {
    if (this.quiet) return;
    this.clearBar();
    this.io.stderr.write(`${redact(message)}\n`);
  }

  /**
   * The counted notes of a descriptor (what the data went through: values rounded, a byte order
   * mark stripped, lines skipped by a flag), one log line each, so a run says them and not only its
   * descriptor. Notes with a count of 0 are not shown.
   */
  notes(command: string, notes: readonly SkipCount[] | undefined): void {
    for (const n of notes ?? []) if (n.count > 0) this.log(`${command}: note: ${n.reason} (${n.count.toLocaleString("en-US")})`);
  }

  /** A warning to stderr, shown even with --quiet. */
  warn(message: string): void {
    this.clearBar();
    this.io.stderr.write(`btkit: warning: ${redact(message)}\n`);
  }

  /** Progress (progress.ts) drew its bar on the current line of stderr, without a newline, or ended it. */
  set barDrawn(drawn: boolean) {
    this.#barDrawn = drawn;
  }

  /**
   * Clears a progress bar from stderr's current line, so that a log line, a warning or an error
   * starts at its beginning instead of after the bar; the bar is drawn again at its next update.
   */
  clearBar(): void {
    if (!this.#barDrawn) return;
    this.io.stderr.write("\r\x1b[K");
    this.#barDrawn = false;
  }

  get stderrIsTTY(): boolean {
    return this.io.stderr.isTTY === true && this.io.env.CI !== "true";
  }

  /** Prints a descriptor as one JSON line on stdout (validated first). */
  async emitDescriptor(d: Descriptor): Promise<void> {
    await this.out(`${serializeDescriptor(d)}\n`);
  }

  /**
   * Reads the descriptor: from --descriptor (a path or URI: a file or object that exists, whatever
   * its name, is the descriptor; a folder or prefix means its btkit.json), else from stdin when it
   * is not a terminal.
   */
  async readDescriptor(from: string | undefined): Promise<{ descriptor: Descriptor; source: string }> {
    if (from !== undefined && from !== "-") {
      const storage = await this.storage();
      const given = storage.parse(from);
      const folder = /[/\\]$/.test(from) || (await storage.head(given)) === undefined;
      const loc = folder ? storage.child(given, LAYOUT.descriptor) : given;
      const where = formatLocation(loc);
      let text: string;
      try {
        text = await storage.readText(loc);
      } catch (err) {
        if (!(err instanceof BtkitError) || err.code !== "IO_NOT_FOUND") throw err;
        throw new BtkitError("IO_NOT_FOUND", `no descriptor at --descriptor ${from}: no such file or object, nor a folder or prefix holding ${LAYOUT.descriptor} (${where})`, { location: where, option: "--descriptor" }, { cause: err });
      }
      return { descriptor: parseDescriptor(text, where), source: where };
    }
    if (this.io.stdin.isTTY) {
      throw new BtkitError("PROTO_NO_INPUT", "no descriptor: pipe one in (btkit prep ... | btkit NEXT) or give --descriptor PATH|URI");
    }
    const chunks: Buffer[] = [];
    const signal = this.io.signal;
    signal?.throwIfAborted();
    // a signal while the descriptor is awaited ends the read (stdin destroyed: see the
    // constructor); the command stops as for any signal, not as for an empty pipe
    try {
      for await (const c of this.io.stdin) chunks.push(typeof c === "string" ? Buffer.from(c) : (c as Buffer));
    } catch (err) {
      throw signal?.aborted ? signal.reason : err;
    }
    signal?.throwIfAborted();
    const text = Buffer.concat(chunks).toString("utf8").trim();
    if (text.length === 0) {
      throw new BtkitError("PROTO_NO_INPUT", "no descriptor on stdin (the previous command printed nothing, or failed): give --descriptor PATH|URI");
    }
    // The pipe carries one document; tolerate several lines by taking the last one (a rerun that
    // printed twice), but each must be valid.
    const lines = text.split("\n").filter((l) => l.trim().length > 0);
    return { descriptor: parseDescriptor(lines[lines.length - 1]!, "descriptor on stdin"), source: "stdin" };
  }
}
