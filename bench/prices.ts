/**
 * AWS list prices the benchmark turns measurements into money with: the one place they are written.
 *
 * us-east-1, on-demand, without free tiers, as published on the AWS pricing pages
 * (aws.amazon.com/api-gateway/pricing, /lambda/pricing, /dynamodb/pricing, /kms/pricing,
 * /cloudtrail/pricing) and known to
 * the author on the date below. They were NOT fetched by this benchmark (it has no network access):
 * check them before relying on the cost figure, and update the date with the numbers.
 */
export const PRICES = {
  asOf: '2026-11-23',
  region: 'us-east-1',
  source: 'AWS public pricing pages as known on the date above; not fetched by the benchmark',
  /** API Gateway HTTP API, per request (first 300 million a month). */
  apiGatewayHttpPerRequest: 1.0 / 1_000_000,
  /** Lambda requests. */
  lambdaPerRequest: 0.2 / 1_000_000,
  /** Lambda duration on arm64 (Graviton), per GB-second; billed in 1 ms steps. */
  lambdaArm64PerGbSecond: 0.0000133334,
  /** DynamoDB on-demand: per read request unit (one strongly consistent read of up to 4 KB). */
  dynamoDbPerReadRequestUnit: 0.125 / 1_000_000,
  /** DynamoDB on-demand: per write request unit (one write of up to 1 KB). */
  dynamoDbPerWriteRequestUnit: 0.625 / 1_000_000,
  /** KMS: $0.03 per 10,000 requests (a Decrypt of a token data key that is not cached in the container). */
  kmsPerRequest: 0.03 / 10_000,
  /** CloudTrail data events (e.g. Lambda Invoke), per event delivered: $0.10 per 100,000. */
  cloudTrailDataEvent: 0.1 / 100_000,
} as const;
