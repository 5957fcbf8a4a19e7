import { describe, expect, it } from "vitest";
import { isBtkitError } from "../../src/errors.js";
import { childLocation, manifestEntryLocation, parseLocation, toUri, isUnder } from "../../src/io/location.js";

describe("locations", () => {
  it("parses local paths, file:// and s3:// URIs", () => {
    expect(parseLocation("data/x.csv", "/work")).toEqual({ kind: "local", path: "/work/data/x.csv" });
    expect(parseLocation("file:///tmp/a%20b.csv")).toEqual({ kind: "local", path: "/tmp/a b.csv" });
    expect(parseLocation("s3://my-bucket/a/b.csv")).toEqual({ kind: "s3", bucket: "my-bucket", key: "a/b.csv" });
    expect(parseLocation("s3://my-bucket")).toEqual({ kind: "s3", bucket: "my-bucket", key: "" });
    expect(toUri({ kind: "local", path: "/tmp/a b" })).toBe("file:///tmp/a%20b");
  });

  it.each([
    ["http://example.com/x", "scheme"],
    ["gs://bucket/x", "scheme"],
    ["s3:///key", "bucket name is empty"],
    ["s3://Bad_Bucket/x", "not a valid S3 bucket name"],
    ["s3://bucket/a/../b", "'..' segment"],
    ["s3://bucket//x/", "empty segment (//)"],
    ["s3://bucket/a//b.csv", "empty segment (//)"],
    ["", "empty"],
  ])("rejects %s", (text, why) => {
    let err: unknown;
    try {
      parseLocation(text);
    } catch (e) {
      err = e;
    }
    expect(isBtkitError(err, "IO_BAD_LOCATION")).toBe(true);
    expect((err as Error).message).toContain(why);
  });

  it("children stay under their base", () => {
    expect(childLocation({ kind: "s3", bucket: "b", key: "out" }, "shards/p.csv")).toEqual({ kind: "s3", bucket: "b", key: "out/shards/p.csv" });
    expect(childLocation({ kind: "local", path: "/o" }, "x/y")).toEqual({ kind: "local", path: "/o/x/y" });
    for (const bad of ["../x", "/abs", "a/../../b", "a\\b", ""]) {
      expect(() => childLocation({ kind: "local", path: "/o" }, bad), bad).toThrow(/stays under|invalid location/);
    }
    expect(isUnder({ kind: "local", path: "/o/x" }, { kind: "local", path: "/o" })).toBe(true);
    expect(isUnder({ kind: "local", path: "/other" }, { kind: "local", path: "/o" })).toBe(false);
  });

  it("manifest entries concatenate to the prefix and may not escape it", () => {
    expect(manifestEntryLocation("s3://b/p/", "part-1.csv")).toBe("s3://b/p/part-1.csv");
    expect(() => manifestEntryLocation("s3://b/p/", "../secret")).toThrow(/escapes its prefix/);
    expect(() => manifestEntryLocation("s3://b/p/", "/root")).toThrow(/escapes its prefix/);
    // file:// URIs are percent-decoded when read: the decoded entry may not climb out either
    expect(() => manifestEntryLocation("file:///d/shards/", "%2e%2e/x.csv")).toThrow(/escapes its prefix/);
    expect(() => manifestEntryLocation("file:///d/shards/", "a/%2E%2E/%2e%2e/x.csv")).toThrow(/escapes its prefix/);
    expect(() => manifestEntryLocation("file:///d/shards/", "./x.csv")).toThrow(/escapes its prefix/);
    expect(manifestEntryLocation("file:///d/shards/", "part%2000.csv")).toBe("file:///d/shards/part%2000.csv");
    // an S3 key is literal: %2e%2e is a name, not a step up
    expect(manifestEntryLocation("s3://b/p/", "%2e%2e/x.csv")).toBe("s3://b/p/%2e%2e/x.csv");
  });
});
