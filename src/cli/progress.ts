/**
 * Progress on stderr: a redrawn bar on a terminal, a plain line every few seconds otherwise
 * (BTKIT_PROGRESS_INTERVAL_MS, default 5000), nothing with --quiet.
 */
import type { CliContext } from "./context.js";

export interface ProgressState {
  /** what is being done, e.g. "prep" */
  label: string;
  done?: number;
  total?: number;
  /** unit of done/total, singular ("row", "shard", ".out file"): shown plural unless the total (else done) is 1 */
  unit?: string;
  /** extra text after the numbers */
  detail?: string;
}

export class Progress {
  readonly #ctx: CliContext;
  readonly #tty: boolean;
  readonly #interval: number;
  readonly #start = Date.now();
  #last = 0;
  #state: ProgressState = { label: "" };
  #drawn = false;

  constructor(ctx: CliContext) {
    this.#ctx = ctx;
    this.#tty = ctx.stderrIsTTY;
    const env = Number(ctx.env.BTKIT_PROGRESS_INTERVAL_MS);
    this.#interval = this.#tty ? 100 : Number.isFinite(env) && env >= 0 ? env : 5000;
  }

  update(state: ProgressState, force = false): void {
    this.#state = state;
    if (this.#ctx.quiet) return;
    const now = Date.now();
    if (!force && now - this.#last < this.#interval) return;
    this.#last = now;
    this.#draw();
  }

  #text(): string {
    const s = this.#state;
    const secs = (Date.now() - this.#start) / 1000;
    const parts = [`${s.label}:`];
    if (s.done !== undefined) {
      const n = `${fmt(s.done)}${s.total !== undefined ? `/${fmt(s.total)}` : ""}${s.unit ? ` ${(s.total ?? s.done) === 1 ? s.unit : `${s.unit}s`}` : ""}`;
      parts.push(n);
      if (s.total !== undefined && s.total > 0 && this.#tty) parts.unshift(bar(s.done / s.total));
    }
    if (s.detail) parts.push(s.detail);
    parts.push(`${secs.toFixed(secs < 10 ? 1 : 0)}s`);
    return parts.join(" ");
  }

  #draw(): void {
    const text = this.#text();
    if (this.#tty) {
      const cols = this.#ctx.io.stderr.columns ?? 100;
      // back to the line's start and clear it: a shorter text leaves nothing of the longer one before
      this.#ctx.io.stderr.write(`\r\x1b[K${text.slice(0, cols - 1)}`);
      this.#drawn = true;
      this.#ctx.barDrawn = true;
    } else {
      this.#ctx.io.stderr.write(`${text}\n`);
    }
  }

  /** Ends the bar (a final line), so later logs start on a fresh line. */
  finish(final?: ProgressState): void {
    if (final) this.#state = final;
    if (this.#ctx.quiet) return;
    if (this.#tty) {
      this.#draw();
      if (this.#drawn) this.#ctx.io.stderr.write("\n");
      this.#ctx.barDrawn = false;
    } else if (final) {
      this.#draw();
    }
  }
}

function bar(frac: number): string {
  const w = 20;
  const n = Math.max(0, Math.min(w, Math.round(frac * w)));
  return `[${"#".repeat(n)}${"-".repeat(w - n)}]`;
}

function fmt(n: number): string {
  return n.toLocaleString("en-US");
}

export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}
