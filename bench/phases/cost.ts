/** Phase 6: cost per million token fetches, from the measured duration and capacity. */
import { TOKENS_MEMORY_MB } from '../lib/bundling';
import { round } from '../lib/stats';
import { PRICES } from '../prices';
import type { Fetched } from './fetch';

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
const perMillion = (costs: Record<string, number>) =>
  Object.fromEntries(Object.entries(costs).map(([k, v]) => [k, round(v * 1e6, 4)]));

export function costResults(fetched: Fetched): Record<string, unknown> {
  // Lambda bills duration in 1 ms steps, rounded up.
  const billedMs = Math.ceil(fetched.lambdaMs);
  const gbSeconds = (TOKENS_MEMORY_MB / 1024) * (billedMs / 1000);
  const perFetch = {
    api_gateway: PRICES.apiGatewayHttpPerRequest,
    lambda_requests: PRICES.lambdaPerRequest,
    lambda_duration: gbSeconds * PRICES.lambdaArm64PerGbSecond,
    dynamodb_reads: fetched.capacity.readUnitsPerFetch * PRICES.dynamoDbPerReadRequestUnit,
    dynamodb_writes: fetched.capacity.writeUnitsPerFetch * PRICES.dynamoDbPerWriteRequestUnit,
    kms: fetched.capacity.keyProviderCallsPerFetch * PRICES.kmsPerRequest,
  };
  // Direct invocation: the same function, request and reads, without API Gateway in between.
  const { api_gateway: _api, ...direct } = perFetch;
  // On Lambda a fetch waits for a real DynamoDB round trip: the same model at 10 ms billed.
  const at10ms = (TOKENS_MEMORY_MB / 1024) * 0.01 * PRICES.lambdaArm64PerGbSecond;
  const slow = sum(Object.values(direct)) - direct.lambda_duration + at10ms;
  return {
    cost_per_million_fetches_usd: round(sum(Object.values(perFetch)) * 1e6, 4),
    cost_per_million_direct_invocations_usd: round(sum(Object.values(direct)) * 1e6, 4),
    cost: {
      per_million_usd: perMillion(perFetch),
      direct_invocation_per_million_usd: perMillion(direct),
      at_10_ms_billed_per_million_usd: {
        api_gateway: round((slow + perFetch.api_gateway) * 1e6, 4),
        direct: round(slow * 1e6, 4),
      },
      /** recordTokenInvocations(trail): one CloudTrail data event per direct invocation. */
      cloudtrail_data_events_per_million_usd: round(PRICES.cloudTrailDataEvent * 1e6, 4),
      billed_duration_ms: billedMs,
      memory_mb: TOKENS_MEMORY_MB,
      read_units_per_fetch: fetched.capacity.readUnitsPerFetch,
      write_units_per_fetch: fetched.capacity.writeUnitsPerFetch,
      kms_calls_per_fetch: fetched.capacity.keyProviderCallsPerFetch,
      prices: PRICES,
      note: 'Duration is the in-process median on this machine rounded up to 1 ms; a 256 MB arm64 Lambda has a fraction of a vCPU and a real DynamoDB round trip, so its billed duration is longer.',
    },
  };
}
