/** btkit merge: thin over merge() (src/prepare, loaded when the command runs). */
import { parseDescriptor } from "../protocol/descriptor.js";
import { COMMON_FLAGS, type Command } from "./command.js";

export const mergeCommand: Command = {
  spec: {
    name: "merge",
    summary: "combine the descriptors of btkit prep --part runs into one",
    usage: "DESCRIPTOR...",
    description:
      "Reads the part descriptors (files or s3:// objects: OUT/parts/part-IofN.btkit.json, or a --part run's stdout saved to a file), checks that they are parts 0..N-1 of one preparation with one schema, renumbers rows globally (rewriting the sidecars of later parts), and writes OUT/manifest.json and OUT/btkit.json. Prints the merged descriptor as one JSON line.",
    examples: ["btkit merge out/parts/part-0of2.btkit.json out/parts/part-1of2.btkit.json | btkit submit ..."],
    positionals: { name: "DESCRIPTOR", min: 1, max: 100000 },
    flags: { ...COMMON_FLAGS },
  },
  async run(ctx, args) {
    const { merge } = await import("../prepare/index.js");
    const storage = await ctx.storage();
    const parts = [];
    for (const p of args.positionals) parts.push(parseDescriptor(await storage.readText(p), p));
    const d = await merge(parts, { storage });
    // the parts' counted notes, summed (as prep prints its own)
    ctx.notes("merge", d.source.notes);
    await ctx.emitDescriptor(d);
    return 0;
  },
};
