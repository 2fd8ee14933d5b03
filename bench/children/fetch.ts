/**
 * Child process: the token-fetch handler invoked in-process with an API Gateway v2 event (warm, a
 * valid token in the store), side by side with a bare GetItem of the same item through the same
 * document client, against the run's dynalite. Its stdout (the broker's INFO logs and EMF metrics,
 * as on Lambda) is dropped by the parent.
 *
 * Two handler variants, both on one Services wiring like the local runtime's (DynamoDbStore +
 * EnvelopeCipher + LocalKeyring + FileSecretStore):
 * - `lambda`: the tokens routes through the request pipeline with Lambda's observability
 *   (functions/aws.ts: Powertools tracer, logger context, EMF metrics): what the tokens function
 *   runs and bills.
 * - `handler`: the tokens routes through the request pipeline without observability.
 * The steps in between show where the overhead goes, each including the one before (except `query`):
 * - `query`: the store's read with its access-token cache off (a DynamoDbStore with
 *   accessTokenCacheMs 0): the same consistent GetItem, mapping, and opening the sealed access token
 *   (AES-GCM). What a fetch's read costs the first time a process sees a token. Not part of the
 *   chain; the name is kept from when the store read with a Query (bench/phases/fetch.ts uses it);
 * - `store`: DynamoDbStore.getOAuth as it runs: the GetItem and mapping; the access token opened
 *   once, then reused while its sealed value is unchanged;
 * - `service`: TokenService.getToken (store, freshness check, audit log line, counter);
 * - `handler`, `lambda`: the HTTP plumbing (middy, header normaliser, zod, JSON) and the Lambda middlewares.
 */
import { join } from 'node:path';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { logger as lambdaLogger, metrics as lambdaMetrics, observability } from '../../functions/aws';
import { tokenRoutes } from '../../functions/handlers/tokens';
import { httpPipeline } from '../../functions/http/pipeline';
import { lambdaContext } from '../../functions/local/server';
import { createServices, type Runtime } from '../../functions/services';
import { DynamoDbStore } from '../../shared/adapters/dynamodb/store';
import { fetchHttpClient } from '../../shared/adapters/http/fetch-client';
import { createPowertoolsLogger, portLogger } from '../../shared/adapters/logging';
import { FileSecretStore } from '../../shared/adapters/secrets/file-store';
import { systemClock } from '../../shared/domain/ports';
import { logEventSink } from '../../shared/domain/telemetry';
import { meterCapacity } from '../lib/capacity';
import { benchTempDir, serveParent } from '../lib/child';
import { benchConfig, FETCH_KEY, localClients, openStore, seedValidToken, tokenEvent } from '../lib/runtime';
import { median, percentile } from '../lib/stats';

const endpoint = process.env.BENCH_DYNAMODB_ENDPOINT ?? '';
const table = 'bench-fetch';
const dataDir = await benchTempDir('fetch-');
const config = benchConfig({ BROKER_TABLE_NAME: table, BROKER_DATA_DIR: dataDir });
// The same key as the store writes (`conn#{provider}#{account}`, sk `oauth`).
const itemKey = { pk: `conn#${FETCH_KEY.provider}#${FETCH_KEY.account}`, sk: 'oauth' };

type Sink = Pick<Runtime, 'logger' | 'events' | 'metrics'>;

async function wiring(meter: boolean) {
  const { client, documents } = localClients(endpoint);
  const capacity = meter ? meterCapacity(client) : undefined;
  const { store, keys, cipher } = await openStore(client, documents, table, dataDir);
  const uncachedStore = new DynamoDbStore(documents, table, cipher, { accessTokenCacheMs: 0 });
  const runtime = (sink: Sink): Runtime => ({
    config,
    store,
    secrets: new FileSecretStore(join(dataDir, 'secrets.json')),
    clientSecret: async (provider) => config.providers[provider]?.app?.clientSecret ?? '',
    http: fetchHttpClient(),
    clock: systemClock,
    owner: `bench:${process.pid}`,
    ...sink,
  });
  const localLogger = portLogger(createPowertoolsLogger());
  const localServices = createServices(
    runtime({
      logger: localLogger,
      events: logEventSink(localLogger),
      metrics: { count: () => undefined },
    }),
  );
  const handler = httpPipeline(localServices, tokenRoutes(localServices));
  const awsLogger = portLogger(lambdaLogger);
  const awsServices = createServices(
    runtime({
      logger: awsLogger,
      events: logEventSink(awsLogger),
      metrics: { count: (name, value = 1) => lambdaMetrics.addMetric(name, MetricUnit.Count, value) },
    }),
  );
  const lambda = httpPipeline(awsServices, tokenRoutes(awsServices), { observability });
  const services = createServices(
    runtime({ logger: localLogger, events: logEventSink(localLogger), metrics: { count: () => undefined } }),
  );
  return { client, documents, store, uncachedStore, keys, capacity, handler, lambda, services };
}

const main = await wiring(false);
await seedValidToken(main.store);

const invoke = async (fn: typeof main.handler | typeof main.lambda) => {
  const event = tokenEvent();
  const result = (await fn(
    event,
    lambdaContext(event.requestContext.requestId, 'tokens'),
  )) as APIGatewayProxyStructuredResultV2;
  if (result.statusCode !== 200) throw new Error(`token fetch answered ${result.statusCode}: ${result.body}`);
};

const operations = {
  getItem: async () => {
    const result = await main.documents.send(
      new GetCommand({ TableName: table, Key: itemKey, ConsistentRead: true }),
    );
    if (result.Item === undefined) throw new Error('the seeded item is missing');
  },
  query: async () => {
    const oauth = await main.uncachedStore.getOAuth(FETCH_KEY);
    if (oauth === undefined) throw new Error('the seeded item is missing');
  },
  store: async () => {
    const oauth = await main.store.getOAuth(FETCH_KEY);
    if (oauth === undefined) throw new Error('the seeded item is missing');
  },
  service: async () => {
    await main.services.tokens.getToken(FETCH_KEY, {
      minValidSeconds: 60,
      forceRefresh: false,
      caller: 'bench',
    });
  },
  handler: () => invoke(main.handler),
  lambda: () => invoke(main.lambda),
};
type Operation = keyof typeof operations;
const names = Object.keys(operations) as Operation[];

/** Interleaves the operations (rotating their order) and returns every sample in ms. */
async function sample(iterations: number): Promise<Record<Operation, number[]>> {
  const samples = Object.fromEntries(names.map((name) => [name, [] as number[]])) as Record<
    Operation,
    number[]
  >;
  for (let i = 0; i < iterations; i++) {
    for (let j = 0; j < names.length; j++) {
      const name = names[(i + j) % names.length] as Operation;
      const started = performance.now();
      await operations[name]();
      samples[name].push(performance.now() - started);
    }
  }
  return samples;
}

/**
 * A background loop of Lambda-handler fetches (for the fetch p99 while a sweep runs elsewhere),
 * paced at LOOP_PER_SECOND: a steady load of callers, not a loop that saturates dynalite by itself.
 */
let loop: { running: boolean; samples: number[]; done: Promise<void> } | undefined;
const LOOP_PER_SECOND = 100;

serveParent(
  { pid: process.pid },
  {
    /** Starts fetching through the Lambda handler, one after another, until `loopStop`. */
    loopStart: async () => {
      if (loop !== undefined) throw new Error('a fetch loop is already running');
      const state = { running: true, samples: [] as number[], done: Promise.resolve() };
      state.done = (async () => {
        const interval = 1000 / LOOP_PER_SECOND;
        let next = performance.now();
        while (state.running) {
          const started = performance.now();
          await invoke(main.lambda);
          state.samples.push(performance.now() - started);
          next += interval;
          const wait = next - performance.now();
          if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
          else next = performance.now();
        }
      })();
      loop = state;
      return undefined;
    },
    /** Stops the loop: how many fetches it made, their median and p99 in ms. */
    loopStop: async () => {
      if (loop === undefined) throw new Error('no fetch loop is running');
      const state = loop;
      loop = undefined;
      state.running = false;
      await state.done;
      return {
        fetches: state.samples.length,
        p50: median(state.samples),
        p99: percentile(state.samples, 99),
      };
    },
    measure: async (argument) => {
      const { rounds, iterations, warmup } = argument as {
        rounds: number;
        iterations: number;
        warmup: number;
      };
      await sample(warmup);
      const results: { median: Record<Operation, number>; p99: Record<Operation, number> }[] = [];
      for (let round = 0; round < rounds; round++) {
        const samples = await sample(iterations);
        results.push({
          median: Object.fromEntries(names.map((name) => [name, median(samples[name])])) as Record<
            Operation,
            number
          >,
          p99: Object.fromEntries(names.map((name) => [name, percentile(samples[name], 99)])) as Record<
            Operation,
            number
          >,
        });
      }
      return results;
    },
    /** DynamoDB requests, capacity units and key-provider (KMS) calls per warm fetch. */
    capacity: async (argument) => {
      const { fetches } = argument as { fetches: number };
      const metered = await wiring(true);
      for (let i = 0; i < 5; i++) await invoke(metered.lambda);
      metered.capacity?.reset();
      metered.keys.calls = 0;
      for (let i = 0; i < fetches; i++) await invoke(metered.lambda);
      const capacity = metered.capacity!;
      return {
        dynamodbRequestsPerFetch: capacity.requests / fetches,
        readUnitsPerFetch: capacity.readUnits / fetches,
        writeUnitsPerFetch: capacity.writeUnits / fetches,
        keyProviderCallsPerFetch: metered.keys.calls / fetches,
        byCommand: capacity.byCommand,
      };
    },
  },
);
