/**
 * Child process for the flat-memory test: prepares a generated CSV streamed through a pipe (never
 * held in memory), then prints rows, input bytes, shard count and peak RSS as JSON.
 */
import { PassThrough } from "node:stream";
import { prepare } from "../../src/prepare/index.js";

const [out, sizeText] = process.argv.slice(2);
const size = Number(sizeText);
const pipe = new PassThrough({ highWaterMark: 1 << 20 });
let bytes = 0;
(async () => {
  const text = "lorem ipsum dolor sit amet, consectetur adipiscing elit ".repeat(4);
  let row = 0;
  pipe.write("id,text\n");
  while (bytes < size) {
    let chunk = "";
    for (let i = 0; i < 2000; i++) chunk += `${row++},"${text}${row % 1000}"\n`;
    const b = Buffer.from(chunk);
    bytes += b.length;
    if (!pipe.write(b)) await new Promise((r) => pipe.once("drain", r));
  }
  pipe.end();
})();
const d = await prepare({ inputs: ["-"], out: out!, stdin: pipe, keep: ["id"], shardSize: 64 * 1024 * 1024 });
process.stdout.write(JSON.stringify({ rows: d.source.rowsWritten, bytes, shards: d.shards.length, maxRssMiB: Math.round(process.resourceUsage().maxRSS / 1024) }));
