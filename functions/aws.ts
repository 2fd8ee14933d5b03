/**
 * The AWS runtime: adapters for Lambda, built once per container at module scope (cold start),
 * so warm invocations reuse clients, cached secrets and the in-process single-flight map.
 */
import { randomUUID } from 'node:crypto';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { KMSClient } from '@aws-sdk/client-kms';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { KmsKeyProvider } from '../shared/adapters/crypto/kms-keys';
import { createDocumentClient } from '../shared/adapters/dynamodb/client';
import { DynamoDbStore } from '../shared/adapters/dynamodb/store';
import { fetchHttpClient } from '../shared/adapters/http/fetch-client';
import { createPowertoolsLogger, portLogger } from '../shared/adapters/logging';
import { CachedSecretStore } from '../shared/adapters/secrets/cached-store';
import { SecretsManagerStore } from '../shared/adapters/secrets/secrets-manager-store';
import { ConfigError, ENV, loadConfig } from '../shared/config';
import { EnvelopeCipher } from '../shared/domain/crypto';
import { systemClock } from '../shared/domain/ports';
import { createServices, type Services } from './services';

export const logger = createPowertoolsLogger();
export const metrics = new Metrics({ namespace: 'TokenBroker', serviceName: 'token-broker' });

let services: Services | undefined;

/** The process-wide services of a Lambda container. */
export function awsServices(): Services {
  if (services !== undefined) return services;
  const config = loadConfig();
  if (config.kmsKeyArn === undefined)
    throw new ConfigError(`${ENV.kmsKeyArn} is required on AWS: stored tokens are encrypted`);
  const cipher = new EnvelopeCipher(new KmsKeyProvider(new KMSClient({}), config.kmsKeyArn));
  const secretsClient = new SecretsManagerClient({});
  const secrets = new CachedSecretStore(
    new SecretsManagerStore(secretsClient, { kmsKeyId: config.kmsKeyArn }),
  );
  // Client secrets: cached without a known version, so a rotation takes effect within the TTL.
  const clientSecrets = new CachedSecretStore(new SecretsManagerStore(secretsClient));
  const count = (name: string) => (key: { provider: string }) => {
    metrics.addDimension('provider', key.provider);
    metrics.addMetric(name, MetricUnit.Count, 1);
  };
  services = createServices({
    config,
    store: new DynamoDbStore(createDocumentClient(), config.tableName, cipher),
    secrets,
    clientSecret: async (provider) => {
      const id = config.lightspeed.clientSecretArn;
      if (provider !== 'lightspeed-x' || id === undefined) {
        throw new Error(`${ENV.lightspeedClientSecretArn} is not set`);
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
    logger: portLogger(logger),
    owner: `lambda:${process.env.AWS_LAMBDA_LOG_STREAM_NAME ?? randomUUID()}`,
    observer: {
      refreshed: count('RefreshSucceeded'),
      failed: count('RefreshFailed'),
      reauthorizationRequired: count('ReauthorizationRequired'),
    },
  });
  return services;
}
