/**
 * Instance-seconds and cost. Batch transform bills each instance from TransformStartTime to
 * TransformEndTime (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DescribeTransformJob.html).
 */
import { counted, optionHint } from "../errors.js";

/**
 * On-demand prices in USD per instance-hour for common transform instance types, region
 * us-east-1, as remembered from the SageMaker pricing page (real-time and batch inference) of
 * 2024: NOT checked against the page (it could not be reached when this was written). They are a
 * convenience for rough estimates only, and every estimate says so: give --price-per-hour for
 * your region and date.
 */
export const PRICE_TABLE = {
  region: "us-east-1",
  asOf: "2024",
  currency: "USD",
  perHour: {
    "ml.m5.large": 0.115,
    "ml.m5.xlarge": 0.23,
    "ml.m5.2xlarge": 0.461,
    "ml.m5.4xlarge": 0.922,
    "ml.c5.large": 0.102,
    "ml.c5.xlarge": 0.204,
    "ml.c5.2xlarge": 0.408,
    "ml.c5.4xlarge": 0.816,
    "ml.m4.xlarge": 0.24,
    "ml.g4dn.xlarge": 0.736,
    "ml.p3.2xlarge": 3.825,
  } as Record<string, number>,
} as const;

/** Billed instance-seconds: (end - start) rounded up to whole seconds, times the instance count. */
export function instanceSeconds(start: Date | string | undefined, end: Date | string | undefined, instanceCount: number): number | undefined {
  if (start === undefined || end === undefined) return undefined;
  const ms = new Date(end).getTime() - new Date(start).getTime();
  if (!Number.isFinite(ms) || ms < 0) return undefined;
  return Math.ceil(ms / 1000) * instanceCount;
}

export interface CostEstimate {
  instanceSeconds: number;
  pricePerHour: number;
  /** where the price came from: "--price-per-hour" or the bundled table with region and date */
  priceSource: string;
  cost: number;
}

/** The cost of instance-seconds at a price (given, else from the bundled table), or undefined when no price is known. */
export function estimateCost(seconds: number, instanceType: string, pricePerHour?: number): CostEstimate | undefined {
  const price = pricePerHour ?? PRICE_TABLE.perHour[instanceType];
  if (price === undefined) return undefined;
  const source = pricePerHour !== undefined ? "--price-per-hour" : `bundled on-demand price for ${instanceType}, ${PRICE_TABLE.region}, ${PRICE_TABLE.asOf}, unverified: give ${optionHint("pricePerHour")} for an exact figure`;
  return { instanceSeconds: seconds, pricePerHour: price, priceSource: source, cost: Math.round((seconds / 3600) * price * 10000) / 10000 };
}

/**
 * A dry-run estimate: instances work in parallel on whole shards, so the wall time is the busiest
 * instance's share, ceil(shards / instances) x secondsPerShard, billed on every instance.
 */
export function estimateInstanceSeconds(shards: number, instanceCount: number, secondsPerShard: number): number {
  const perInstance = Math.ceil(shards / Math.max(1, instanceCount));
  return Math.ceil(perInstance * secondsPerShard) * instanceCount;
}

export function formatCost(c: CostEstimate): string {
  return `${counted(c.instanceSeconds, "instance-second")} x ${c.pricePerHour} USD/hour = ${c.cost.toFixed(4)} USD (${c.priceSource})`;
}
