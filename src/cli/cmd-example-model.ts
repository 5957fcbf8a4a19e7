/** btkit example-model serve: the example model server speaking the SageMaker container contract (loaded when the command runs). */
import { BtkitError } from "../errors.js";
import { COMMON_FLAGS, type Command } from "./command.js";

export const exampleModelCommand: Command = {
  spec: {
    name: "example-model",
    summary: "serve the example model (the SageMaker container contract) to try the pipeline without a model",
    usage: "serve [--port PORT]",
    description: [
      "Answers GET /ping, POST /invocations and GET /execution-parameters (404 unless",
      "BTKIT_EXAMPLE_EXECUTION_PARAMETERS holds its JSON) on SAGEMAKER_BIND_TO_PORT (default 8080).",
      "Each input record (a CSV or JSON line; SingleRecord or MultiRecord bodies) gives one output line:",
      '{"score": S, "length": L} (Accept application/jsonlines or application/json) or S (Accept text/csv),',
      "where S is the sum of the numeric fields as a float64, rounded to 6 decimal places (so not exact",
      "beyond 2^53 or below 1e-6: a demonstration, not a check of values), and L the total length of the",
      "text fields.",
      "Use it as a model in the emulator: Image local-cmd:btkit example-model (the emulator adds serve).",
      "",
      "Test switches: BTKIT_EXAMPLE_FAIL_ON=TEXT (HTTP 500 on a record holding TEXT), BTKIT_EXAMPLE_DELAY_MS=N,",
      "BTKIT_EXAMPLE_DROP_LINE=1 (one line short), BTKIT_EXAMPLE_UNHEALTHY=1 (/ping answers 503),",
      "BTKIT_EXAMPLE_ECHO_ENV=1 (add the SAGEMAKER_* environment to JSON output), BTKIT_EXAMPLE_ID=TEXT.",
    ].join("\n"),
    flags: {
      port: { type: "int", value: "PORT", min: 0, max: 65535, help: "port (default SAGEMAKER_BIND_TO_PORT, else 8080)" },
      host: { type: "string", value: "HOST", default: "127.0.0.1", help: "address to listen on" },
      ...COMMON_FLAGS,
    },
    positionals: { name: "serve", min: 1, max: 1 },
  },
  async run(ctx, args) {
    if (args.positionals[0] !== "serve") {
      throw new BtkitError("USAGE_BAD_VALUE", `btkit example-model takes the argument serve, got ${JSON.stringify(args.positionals[0])}`, { expected: "serve", got: args.positionals[0] });
    }
    const { startExampleModel } = await import("../emulator/example-model.js");
    const model = await startExampleModel({ port: args.flags.port as number | undefined, host: args.flags.host as string, env: ctx.env });
    try {
      ctx.log(`btkit example-model: serving at ${model.url}`);
      const signal = ctx.io.signal;
      await new Promise<void>((resolve) => {
        if (!signal) return;
        if (signal.aborted) resolve();
        else signal.addEventListener("abort", () => resolve(), { once: true });
      });
    } finally {
      await model.close();
    }
    return 0;
  },
};
