import fs from "node:fs";
import { describe, expect, it } from "vitest";
import { BtkitError, ERROR_CODES, EXIT, optionHint, redact, registerSecret } from "../src/errors.js";

describe("BtkitError", () => {
  it("carries code, context, cause, and the request id of an AWS cause", () => {
    const cause = Object.assign(new Error("Access Denied"), { name: "AccessDenied", $metadata: { requestId: "REQ123", httpStatusCode: 403 } });
    const err = new BtkitError("IO_S3", "S3 read failed", { location: "s3://b/k" }, { cause });
    expect(err.code).toBe("IO_S3");
    expect(err.cause).toBe(cause);
    expect(err.context).toEqual({ location: "s3://b/k", requestId: "REQ123", httpStatus: 403 });
    expect(err.exitCode).toBe(EXIT.service);
    expect(JSON.parse(JSON.stringify(err))).toEqual({ code: "IO_S3", message: "S3 read failed", context: err.context });
  });

  it("optionHint names the library option, then the CLI flag", () => {
    expect(optionHint("sampleRows")).toBe("sampleRows (--sample-rows)");
    expect(optionHint("onInvalid", "skip")).toBe('onInvalid: "skip" (--on-invalid skip)');
    expect(optionHint("overwrite", true)).toBe("overwrite: true (--overwrite)");
    expect(optionHint("maxPayloadMb", 8)).toBe("maxPayloadMb: 8 (--max-payload-mb 8)");
    expect(optionHint("header", false, "--no-header")).toBe("header: false (--no-header)");
  });

  it("library messages outside src/cli name no flag without its option (errors.ts optionHint)", () => {
    // a flag right after "use", "with", "raise" or "give" in a message string: advice a library caller cannot follow
    // (the emulator speaks the service's errors; errors.ts's table is the CLI's)
    const offenders: string[] = [];
    const root = new URL("../src/", import.meta.url);
    for (const rel of fs.readdirSync(root, { recursive: true }) as string[]) {
      if (!rel.endsWith(".ts") || rel.startsWith("cli/") || rel.startsWith("emulator/") || rel === "errors.ts") continue;
      const lines = fs.readFileSync(new URL(rel, root), "utf8").split("\n");
      lines.forEach((line, i) => {
        if (/^\s*(\*|\/\/|\/\*)/.test(line)) return;
        if (/\b(use|with|raise|give|lower|declare it with|leave out|check) --[a-z]/.test(line) && !/btkit [a-z]+ --/.test(line)) offenders.push(`${rel}:${i + 1}`);
      });
    }
    expect(offenders).toEqual([]);
  });

  it("maps every code to a documented exit status, and ARCHITECTURE.md lists every code", () => {
    const arch = fs.readFileSync(new URL("../ARCHITECTURE.md", import.meta.url), "utf8");
    for (const [code, [kind]] of Object.entries(ERROR_CODES)) {
      expect(EXIT[kind], code).toBeTypeOf("number");
      expect(arch, `ARCHITECTURE.md lists ${code}`).toContain(`\`${code}\``);
    }
  });

  it("has no code that nothing in src/ or bin/ raises or prints", () => {
    const texts: string[] = [];
    for (const dir of ["../src", "../bin"]) {
      const root = new URL(`${dir}/`, import.meta.url);
      for (const rel of fs.readdirSync(root, { recursive: true }) as string[]) {
        if (rel.endsWith(".ts") && !(dir === "../src" && rel === "errors.ts")) texts.push(fs.readFileSync(new URL(rel, root), "utf8"));
      }
    }
    const all = texts.join("\n");
    for (const code of Object.keys(ERROR_CODES)) {
      expect(all.includes(`"${code}"`) || all.includes(`[${code}]`), `${code} is raised somewhere`).toBe(true);
    }
  });

  it("redacts presigned URLs, authorization headers, key ids and registered secrets", () => {
    registerSecret("canarySecretKey0123456789abcdef");
    const text = [
      "GET https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F2026&X-Amz-Signature=deadbeef01&X-Amz-Security-Token=tok",
      "authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261122/us-east-1/s3/aws4_request, Signature=abcdef0123",
      "key AKIAIOSFODNN7EXAMPLE and secret canarySecretKey0123456789abcdef",
      'config {"secretAccessKey": "wJalrXUtnFEMI/K7MDENG"}',
    ].join("\n");
    const out = redact(text);
    for (const leak of ["AKIAIOSFODNN7EXAMPLE", "deadbeef01", "abcdef0123", "canarySecretKey0123456789abcdef", "wJalrXUtnFEMI", "=tok"]) {
      expect(out, leak).not.toContain(leak);
    }
    expect(out).toContain("X-Amz-Algorithm=AWS4-HMAC-SHA256");
    const err = new BtkitError("IO_S3", "failed with secret canarySecretKey0123456789abcdef", { location: "https://x/?X-Amz-Signature=ff00" });
    expect(err.message).not.toContain("canarySecretKey");
    expect(err.context.location).toBe("https://x/?X-Amz-Signature=[redacted]");
  });
});
