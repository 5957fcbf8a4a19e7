/** btkit emulator: serves a local SageMaker (Batch Transform subset) until Ctrl-C. The emulator loads when the command runs. */
import { BtkitError, counted } from "../errors.js";
import { COMMON_FLAGS, type Command } from "./command.js";
import { EMULATOR_BEHAVIOUR_FLAGS, PROCESSING_COMMAND_FLAG, emulatorBehaviourOf, processingCommandsOf } from "./emulator-flags.js";

export const emulatorCommand: Command = {
  spec: {
    name: "emulator",
    summary: "serve a local SageMaker (models, transform jobs, their logs) for testing without AWS",
    usage: "[--host 127.0.0.1] [--port 0] [--state DIR] [--image-map URI=CMD]... [--processing-command NAME=CMD]...",
    description: [
      "Prints its endpoint (http://HOST:PORT) on stdout and serves until Ctrl-C. Point any AWS client at it:",
      "  aws --endpoint-url URL sagemaker list-transform-jobs, or AWS_ENDPOINT_URL_SAGEMAKER=URL.",
      "It speaks the SageMaker JSON protocol (CreateModel, DescribeModel, DeleteModel, ListModels,",
      "CreateTransformJob, DescribeTransformJob, ListTransformJobs, StopTransformJob, AddTags, ListTags, DeleteTags)",
      "and the CloudWatch Logs calls DescribeLogGroups, DescribeLogStreams, GetLogEvents and FilterLogEvents for",
      "/aws/sagemaker/TransformJobs. Processing jobs (CreateProcessingJob, DescribeProcessingJob, ListProcessingJobs,",
      "StopProcessingJob) run their ContainerEntrypoint as one local process per instance (btkit is this package's CLI;",
      "--processing-command maps other names), logged to /aws/sagemaker/ProcessingJobs.",
      "Requests are not authenticated: any access key and secret (any SigV4 signature) is accepted.",
      "",
      "What a model runs is its PrimaryContainer.Image:",
      "  local-cmd:<command>      each instance runs sh -c '<command> serve' with SAGEMAKER_BIND_TO_PORT=<port>",
      "                           and the container environment, e.g. local-cmd:btkit example-model",
      "  local-url:<http://h:p>   the model is already served at that URL",
      "  any other image URI      run the command given by --image-map URI=CMD, else the job fails",
      "",
      "Inputs and outputs are s3:// (through AWS_ENDPOINT_URL_S3 or AWS) or, as a local extension, file:///abs/path/.",
      "With --state DIR, models and jobs survive a restart; a job that was running is then reported Failed",
      "(\"the emulator restarted while the job was running\").",
      "",
      "Where AWS documents no behaviour (or public recordings of real jobs disagree with the docs), the",
      "emulator has a flag with a stated default: the 'Emulated behaviour' flags below. The same flags work",
      "with btkit submit --local.",
    ].join("\n"),
    examples: ["btkit emulator --port 4566 --state .btkit-emulator", "btkit emulator --image-map 123.dkr.ecr.us-east-1.amazonaws.com/model:1='python serve.py'"],
    flags: {
      host: { type: "string", value: "HOST", default: "127.0.0.1", help: "address to listen on" },
      port: { type: "int", value: "PORT", default: 0, min: 0, max: 65535, help: "port to listen on (0: a free port)" },
      state: { type: "string", value: "DIR", help: "keep models and jobs in this folder (JSON files) so they survive a restart" },
      "image-map": { type: "string", value: "URI=CMD", multiple: true, help: "run CMD (with the argument serve) for models whose image is URI" },
      ...PROCESSING_COMMAND_FLAG,
      ...EMULATOR_BEHAVIOUR_FLAGS,
      ...COMMON_FLAGS,
    },
  },
  async run(ctx, args) {
    const imageMap: Record<string, string> = {};
    for (const m of (args.flags["image-map"] as string[] | undefined) ?? []) {
      const eq = m.indexOf("=");
      if (eq <= 0 || eq === m.length - 1) throw new BtkitError("USAGE_BAD_VALUE", `--image-map expects URI=COMMAND, got ${JSON.stringify(m)}`, { option: "image-map", got: m });
      imageMap[m.slice(0, eq)] = m.slice(eq + 1);
    }
    const state = args.flags.state as string | undefined;
    const { startEmulator } = await import("../emulator/index.js");
    const emu = await startEmulator({
      host: args.flags.host as string,
      port: args.flags.port as number,
      stateDir: state === undefined ? undefined : ctx.localFolder("--state", state, "the emulator keeps its models and jobs in a local folder"),
      storage: await ctx.storage(),
      imageMap,
      env: ctx.env,
      cwd: ctx.cwd,
      processingCommands: processingCommandsOf(args),
      ...emulatorBehaviourOf(args),
    });
    if (emu.reaped > 0) ctx.warn(`stopped ${counted(emu.reaped, "model process", "model processes")} that a killed earlier emulator left running (recorded in ${state})`);
    try {
      await ctx.out(`${emu.endpoint}\n`);
      ctx.log(`btkit emulator: serving SageMaker and CloudWatch Logs at ${emu.endpoint} (region ${emu.region}); Ctrl-C to stop`);
      const signal = ctx.io.signal;
      if (signal) {
        await new Promise<void>((resolve) => {
          if (signal.aborted) resolve();
          else signal.addEventListener("abort", () => resolve(), { once: true });
        });
      } else await new Promise<void>(() => undefined);
    } finally {
      await emu.close();
    }
    return 0;
  },
};
