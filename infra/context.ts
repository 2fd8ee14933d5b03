/**
 * Stack configuration from CDK context (`cdk deploy -c key=value` or cdk.json), with defaults that
 * let `npx cdk synth` run without any context at all.
 */
import { Duration } from 'aws-cdk-lib';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Node } from 'constructs';
import { PROVIDER_DEFINITIONS } from '../shared/providers';
import type { TokenBrokerStackProps } from './stack';
import type { OAuthClientOptions, OAuthProviderId } from './token-broker';

const PROVIDER_KEY_SUFFIXES = ['ClientId', 'ClientSecretArn', 'Scopes'] as const;
type ProviderKeySuffix = (typeof PROVIDER_KEY_SUFFIXES)[number];

/** A complete secret ARN ends in the 6 random characters Secrets Manager appends to the name. */
const SECRET_COMPLETE_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+-[A-Za-z0-9]{6}$/;

/** Each OAuth provider's keys, named after its definition's `oauth.context` (`lightspeedClientId`, …). */
const PROVIDER_CONTEXT_KEYS: Readonly<Record<string, string>> = Object.fromEntries(
  PROVIDER_DEFINITIONS.flatMap(({ displayName, oauth }) =>
    oauth === undefined
      ? []
      : [
          [
            `${oauth.context}ClientId`,
            `${displayName}: OAuth client id from the ${oauth.portalName}; without it ${displayName} OAuth connect is not configured`,
          ],
          [
            `${oauth.context}ClientSecretArn`,
            `${displayName}: complete ARN of an existing secret holding the client secret (default: one is created)`,
          ],
          [
            `${oauth.context}Scopes`,
            `${displayName}: space- or comma-separated scopes like ${oauth.scopes.example} (default: ${oauth.scopes.default.join(' ')})`,
          ],
        ],
  ),
);

/** Every context key the app reads, with what it means (also listed in the README, "Deploy to AWS"). */
export const CONTEXT_KEYS = {
  stackName: 'stack name (default TokenBroker); also the default secret prefix, lower-cased',
  ...PROVIDER_CONTEXT_KEYS,
  returnToOrigins: 'comma-separated origins allowed as return_to',
  refreshMarginSeconds: 'the sweep refreshes tokens expiring within this (default 900)',
  sweepIntervalSeconds: 'how often the sweep runs, at least 60 (default 300)',
  sweepConcurrency: 'parallel refreshes in one sweep (default 8)',
  alarmEmail: 'e-mail address subscribed to the alarm topic',
  domainName: 'custom domain of the API (needs certificateArn)',
  certificateArn: 'ACM certificate of domainName, in the stack region',
  hostedZoneId: 'Route 53 zone to create the alias record in (with hostedZoneName)',
  hostedZoneName: 'name of that zone',
  secretPrefix: 'Secrets Manager name prefix ending in "/" (default <stackname>/)',
  logLevel: 'DEBUG, INFO, WARN or ERROR (default INFO)',
  logRetentionDays: 'retention of function and access logs in days (default 30)',
  sourceMapStackTraces:
    'true or false: stack traces name the TypeScript sources (NODE_OPTIONS=--enable-source-maps), at a cost in cold start (default true)',
  throttleRateLimit: 'steady-state requests per second of the API (default 100)',
  throttleBurstLimit: 'burst requests of the API (default 200)',
} as const;
/** A general key, or an OAuth provider's (`<context>ClientId`, `<context>ClientSecretArn`, `<context>Scopes`). */
export type ContextKey =
  | Exclude<keyof typeof CONTEXT_KEYS, number>
  | `${string}${'ClientId' | 'ClientSecretArn' | 'Scopes'}`;

/**
 * A key shaped like a provider key that no provider has (`lightspeedXClientId`, `ShopifyClientId`)
 * would be ignored and deploy the broker without that app: refuse it, naming the keys that exist.
 */
function rejectUnknownProviderKeys(node: Node): void {
  const shape = new RegExp(`(?:${PROVIDER_KEY_SUFFIXES.join('|')})$`);
  for (const key of Object.keys(node.getAllContext())) {
    if (!shape.test(key) || Object.hasOwn(PROVIDER_CONTEXT_KEYS, key) || key.includes(':')) continue;
    const clientIds = Object.keys(PROVIDER_CONTEXT_KEYS).filter((known) => known.endsWith('ClientId'));
    throw new Error(
      `context ${key} names no OAuth provider; the providers' keys are <provider>ClientId, ` +
        `<provider>ClientSecretArn and <provider>Scopes with <provider> one of ` +
        `${clientIds.map((known) => known.slice(0, -'ClientId'.length)).join(', ')}`,
    );
  }
}

export interface BrokerContext {
  readonly stackName: string;
  readonly props: TokenBrokerStackProps;
}

/** Reads the broker's context keys; throws naming the key when a value is malformed. */
export function readBrokerContext(node: Node): BrokerContext {
  const raw = (key: ContextKey): unknown => node.tryGetContext(key);
  const text = (key: ContextKey): string | undefined => {
    const value = raw(key);
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'string' && typeof value !== 'number') {
      throw new Error(`context ${key} must be a string, got ${JSON.stringify(value)}`);
    }
    const trimmed = String(value).trim();
    return trimmed === '' ? undefined : trimmed;
  };
  const list = (key: ContextKey, separator: RegExp): string[] | undefined => {
    const value = raw(key);
    if (Array.isArray(value)) return value.map(String);
    return text(key)
      ?.split(separator)
      .map((item) => item.trim())
      .filter((item) => item !== '');
  };
  const integer = (key: ContextKey, min: number, max: number): number | undefined => {
    const value = text(key);
    if (value === undefined) return undefined;
    const parsed = Number(value);
    if (!Number.isInteger(parsed) || parsed < min || parsed > max) {
      throw new Error(`context ${key} must be a whole number from ${min} to ${max}, got "${value}"`);
    }
    return parsed;
  };

  const flag = (key: ContextKey): boolean | undefined => {
    const value = raw(key);
    if (value === undefined || value === null || typeof value === 'boolean') return value ?? undefined;
    const word = text(key)?.toLowerCase();
    if (word === undefined) return undefined;
    if (word !== 'true' && word !== 'false') {
      throw new Error(`context ${key} must be true or false, got "${String(value)}"`);
    }
    return word === 'true';
  };

  const stackName = text('stackName') ?? 'TokenBroker';
  rejectUnknownProviderKeys(node);
  const providers: Partial<Record<OAuthProviderId, OAuthClientOptions>> = {};
  for (const { id, oauth } of PROVIDER_DEFINITIONS) {
    if (oauth === undefined) continue;
    const key = (suffix: ProviderKeySuffix): ContextKey => `${oauth.context}${suffix}`;
    const clientId = text(key('ClientId'));
    const clientSecretArn = text(key('ClientSecretArn'));
    const scopes = list(key('Scopes'), /[\s,]+/);
    if (clientId === undefined) {
      const given = [
        clientSecretArn === undefined ? [] : [key('ClientSecretArn')],
        scopes === undefined ? [] : [key('Scopes')],
      ].flat();
      if (given.length > 0)
        throw new Error(
          `context ${given.join(' and ')} need ${key('ClientId')} (the ${oauth.portalName} OAuth client id)`,
        );
      continue;
    }
    if (clientSecretArn !== undefined && !SECRET_COMPLETE_ARN.test(clientSecretArn)) {
      throw new Error(
        `context ${key('ClientSecretArn')} must be the complete ARN of a Secrets Manager secret ` +
          `(arn:aws:secretsmanager:<region>:<account>:secret:<name>-<6 characters>), got "${clientSecretArn}"`,
      );
    }
    providers[id as OAuthProviderId] = {
      clientId,
      ...(clientSecretArn !== undefined ? { clientSecretArn } : {}),
      ...(scopes !== undefined ? { scopes } : {}),
    };
  }
  const domainName = text('domainName');
  const certificateArn = text('certificateArn');
  if ((domainName === undefined) !== (certificateArn === undefined)) {
    throw new Error('context domainName and certificateArn go together');
  }
  const hostedZoneId = text('hostedZoneId');
  const hostedZoneName = text('hostedZoneName');
  const logLevel = text('logLevel')?.toUpperCase();
  if (logLevel !== undefined && !['DEBUG', 'INFO', 'WARN', 'ERROR'].includes(logLevel)) {
    throw new Error(`context logLevel must be DEBUG, INFO, WARN or ERROR, got "${logLevel}"`);
  }
  const retentionDays = integer('logRetentionDays', 1, 3653);
  if (retentionDays !== undefined && !Object.values(RetentionDays).includes(retentionDays)) {
    throw new Error(
      `context logRetentionDays must be a CloudWatch Logs retention (1, 3, 5, 7, 14, 30, 60, 90, …)`,
    );
  }
  const refreshMargin = integer('refreshMarginSeconds', 0, 7 * 86_400);
  const sweepInterval = integer('sweepIntervalSeconds', 60, 86_400);
  const sweepConcurrency = integer('sweepConcurrency', 1, 64);
  const rateLimit = integer('throttleRateLimit', 1, 10_000);
  const burstLimit = integer('throttleBurstLimit', 1, 5_000);
  const returnToOrigins = list('returnToOrigins', /,/);
  const alarmEmail = text('alarmEmail');
  const secretPrefix = text('secretPrefix');
  const sourceMapStackTraces = flag('sourceMapStackTraces');

  const props: TokenBrokerStackProps = {
    description: 'Token broker: OAuth connect, single-flight token refresh, scheduled sweep, personal tokens',
    ...(Object.keys(providers).length > 0 ? { providers } : {}),
    ...(returnToOrigins !== undefined ? { returnToOrigins } : {}),
    ...(refreshMargin !== undefined ? { refreshMargin: Duration.seconds(refreshMargin) } : {}),
    ...(sweepInterval !== undefined ? { sweepInterval: Duration.seconds(sweepInterval) } : {}),
    ...(sweepConcurrency !== undefined ? { sweepConcurrency } : {}),
    ...(alarmEmail !== undefined ? { alarmEmail } : {}),
    ...(secretPrefix !== undefined ? { secretPrefix } : {}),
    ...(logLevel !== undefined ? { logLevel: logLevel as 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' } : {}),
    ...(retentionDays !== undefined ? { logRetention: retentionDays as RetentionDays } : {}),
    ...(sourceMapStackTraces !== undefined ? { sourceMapStackTraces } : {}),
    ...(rateLimit !== undefined || burstLimit !== undefined
      ? { throttle: { rateLimit: rateLimit ?? 100, burstLimit: burstLimit ?? 200 } }
      : {}),
    ...(domainName !== undefined && certificateArn !== undefined
      ? {
          customDomain: {
            domainName,
            certificateArn,
            ...(hostedZoneId !== undefined ? { hostedZoneId } : {}),
            ...(hostedZoneName !== undefined ? { hostedZoneName } : {}),
          },
        }
      : {}),
  };
  return { stackName, props };
}
