/**
 * Tails a transform job's CloudWatch logs: group /aws/sagemaker/TransformJobs, every stream whose
 * name starts with `<job>/` (https://docs.aws.amazon.com/sagemaker/latest/dg/logging-cloudwatch.html; the SDK tails the same way:
 * aws/sagemaker-python-sdk src/sagemaker/session.py, _flush_log_streams). Each poll
 * returns the events that appeared since the last one, stream by stream in order.
 */
import { DescribeLogStreamsCommand, GetLogEventsCommand, type CloudWatchLogsClient } from "@aws-sdk/client-cloudwatch-logs";
import { awsMetadata } from "../errors.js";
import { serviceError } from "./service.js";

export const TRANSFORM_LOG_GROUP = "/aws/sagemaker/TransformJobs";

export type LogsLike = Pick<CloudWatchLogsClient, "send">;

export interface LogEvent {
  stream: string;
  /** milliseconds since the epoch */
  timestamp: number;
  message: string;
}

export interface LogTailer {
  /** the events written since the previous poll (none when the group or streams do not exist yet) */
  poll(): Promise<LogEvent[]>;
}

function missing(err: unknown): boolean {
  const { name } = awsMetadata(err);
  return name === "ResourceNotFoundException" || name === "ResourceNotFound";
}

/** A tailer for one job's streams; group defaults to /aws/sagemaker/TransformJobs. */
export function createLogTailer(jobName: string, deps: { client: LogsLike; group?: string }): LogTailer {
  const group = deps.group ?? TRANSFORM_LOG_GROUP;
  const tokens = new Map<string, string | undefined>();
  const streams = async (): Promise<string[]> => {
    const names: string[] = [];
    let next: string | undefined;
    do {
      const page = await deps.client.send(new DescribeLogStreamsCommand({ logGroupName: group, logStreamNamePrefix: `${jobName}/`, nextToken: next }));
      for (const s of page.logStreams ?? []) if (s.logStreamName) names.push(s.logStreamName);
      next = page.nextToken;
    } while (next);
    return names.sort();
  };
  return {
    async poll(): Promise<LogEvent[]> {
      const out: LogEvent[] = [];
      try {
        for (const stream of await streams()) {
          let token = tokens.get(stream);
          // GetLogEvents returns the same forward token once a stream has nothing new.
          for (let page = 0; page < 1000; page++) {
            const r = await deps.client.send(new GetLogEventsCommand({ logGroupName: group, logStreamName: stream, startFromHead: true, nextToken: token }));
            for (const e of r.events ?? []) out.push({ stream, timestamp: e.timestamp ?? 0, message: (e.message ?? "").replace(/\n$/, "") });
            const next = r.nextForwardToken;
            const done = next === undefined || next === token || (r.events ?? []).length === 0;
            token = next ?? token;
            if (done) break;
          }
          tokens.set(stream, token);
        }
      } catch (err) {
        if (missing(err)) return out;
        throw serviceError(err, "CloudWatch Logs", { job: jobName, group });
      }
      return out;
    },
  };
}
