/**
 * The AWS runtime: adapters for Lambda, built once per container at module scope (cold start),
 * so warm invocations reuse clients, cached secrets and the in-process single-flight map.
 *
 * All four AWS clients are imported statically. Loading Secrets Manager and EventBridge on first use
 * (a token fetch that needs no refresh uses neither) was measured and dropped: without code
 * splitting esbuild keeps a dynamically imported package whole, which made the tokens bundle 42 KB
 * larger for about 3 ms less import time.
 */
import { randomUUID } from 'node:crypto';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { KMSClient } from '@aws-sdk/client-kms';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { KmsKeyProvider } from '../shared/adapters/crypto/kms-keys';
import { createDocumentClient } from '../shared/adapters/dynamodb/client';
import { DynamoDbStore } from '../shared/adapters/dynamodb/store';
import { eventBridgeSink } from '../shared/adapters/events/eventbridge';
import { fetchHttpClient } from '../shared/adapters/http/fetch-client';
import { createPowertoolsLogger, portLogger } from '../shared/adapters/logging';
import { CachedSecretStore } from '../shared/adapters/secrets/cached-store';
import { SecretsManagerStore } from '../shared/adapters/secrets/secrets-manager-store';
import { ConfigError, ENV, loadConfig } from '../shared/config';
import { METRICS, SERVICE_NAME } from '../shared/constants';
import { EnvelopeCipher } from '../shared/domain/crypto';
import { type MetricSink, systemClock } from '../shared/domain/ports';
import { logEventSink } from '../shared/domain/telemetry';
import { providerDefinition } from '../shared/providers';
import type { Observability } from './observability';
import { createServices, type Services } from './services';

export const logger = createPowertoolsLogger();
export const metrics = new Metrics({ namespace: METRICS.namespace, serviceName: METRICS.service });
/**
 * X-Ray through the Powertools Tracer: with the functions' active tracing, a subsegment per
 * invocation (`## index.handler`: ColdStart and Service annotations, the error's name, message and
 * stack, never the response), one per AWS SDK call of the clients passed through
 * `captureAWSv3Client` below (operation, region, request id; DynamoDB's table name) and one per
 * provider call through fetch (host and path, no query string, no headers, no body).
 * test/functions/aws.test.ts (from the sources) and test/infra/bundles.test.ts (the shipped bundles,
 * a process each) collect every segment of a whole flow and find no secret in them.
 *
 * The Tracer is built on aws-xray-sdk-core, a CommonJS package esbuild cannot tree-shake, so every
 * bundle carries all of it, with cls-hooked and shimmer (semver is trimmed to the one function it
 * calls, infra/xray-semver.cjs): 104 KB of the tokens bundle and, in `npm run bench`
 * (`cold_init.cold_init_instructions`), 97 million of the 698 million instructions of its import,
 * the largest part of the cold start above a DynamoDB-only function after source maps. That cost is
 * accepted here, and deliberately not hidden:
 * - Not imported lazily: with active tracing the Tracer works from the first invocation on, so a
 *   lazy import would only move its time from the init phase into the first request (and flatter
 *   a benchmark run outside Lambda, where the Tracer is off).
 * - Not replaced by a smaller X-Ray client of our own (segment documents over UDP to the daemon):
 *   the Powertools Tracer is what the product asks for, and it maintains the X-Ray protocol, the SDK
 *   instrumentation and Lambda's invocation context for us.
 */
export const tracer = new Tracer({ serviceName: SERVICE_NAME });

/**
 * The domain's counters as EMF metrics, with the one dimension Powertools adds (`service`): the
 * stack's alarms watch exactly this dimension set (a test compares the two).
 */
export const awsMetricSink: MetricSink = {
  count: (name, value = 1) => metrics.addMetric(name, MetricUnit.Count, value),
};

let services: Services | undefined;

/** The process-wide services of a Lambda container. */
export function awsServices(): Services {
  if (services !== undefined) return services;
  const config = loadConfig();
  if (config.kmsKeyArn === undefined)
    throw new ConfigError(`${ENV.kmsKeyArn} is required on AWS: stored tokens are encrypted`);
  const cipher = new EnvelopeCipher(
    new KmsKeyProvider(tracer.captureAWSv3Client(new KMSClient({})), config.kmsKeyArn),
  );
  const secretsClient = tracer.captureAWSv3Client(new SecretsManagerClient({}));
  const secrets = new CachedSecretStore(
    new SecretsManagerStore(secretsClient, { kmsKeyId: config.kmsKeyArn }),
  );
  // Client secrets: cached without a known version, so a rotation takes effect within the TTL.
  const clientSecrets = new CachedSecretStore(new SecretsManagerStore(secretsClient));
  const portLog = portLogger(logger);
  services = createServices({
    config,
    store: new DynamoDbStore(createDocumentClient(tracer), config.tableName, cipher),
    secrets,
    clientSecret: async (provider) => {
      const id = config.providers[provider]?.app?.clientSecretArn;
      if (id === undefined) {
        throw new Error(`${providerDefinition(provider).oauth?.env.clientSecretArn ?? provider} is not set`);
      }
      const secret = await clientSecrets.get(id);
      if (secret === undefined || secret.value.trim() === '') {
        throw new Error(
          `the client secret ${id} has no value yet; set it with aws secretsmanager put-secret-value`,
        );
      }
      return secret.value.trim();
    },
    http: fetchHttpClient(),
    clock: systemClock,
    logger: portLog,
    owner: `lambda:${process.env.AWS_LAMBDA_LOG_STREAM_NAME ?? randomUUID()}`,
    events:
      config.eventBusName === undefined
        ? logEventSink(portLog)
        : eventBridgeSink(tracer.captureAWSv3Client(new EventBridgeClient({})), config.eventBusName),
    metrics: awsMetricSink,
  });
  return services;
}

/** Request ids in every log line, an X-Ray subsegment per invocation, counters flushed as EMF. */
export const observability: Observability = { logger, tracer, metrics };
