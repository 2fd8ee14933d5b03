/**
 * Configuration: the environment read once into a frozen, typed object. Both runtimes and the CDK
 * stack use the names in `ENV`, so a variable is spelled in one place only.
 */
import * as z from 'zod/mini';

/** Every environment variable the broker reads (contract names first, then additions). */
export const ENV = {
  port: 'PORT',
  publicUrl: 'BROKER_PUBLIC_URL',
  apiKey: 'BROKER_API_KEY',
  dataDir: 'BROKER_DATA_DIR',
  dynamodbEndpoint: 'DYNAMODB_ENDPOINT',
  returnToOrigins: 'BROKER_RETURN_TO_ORIGINS',
  refreshMarginSeconds: 'REFRESH_MARGIN_SECONDS',
  sweepIntervalSeconds: 'SWEEP_INTERVAL_SECONDS',
  lightspeedClientId: 'LIGHTSPEED_X_CLIENT_ID',
  lightspeedClientSecret: 'LIGHTSPEED_X_CLIENT_SECRET',
  lightspeedScopes: 'LIGHTSPEED_X_SCOPES',
  lightspeedAuthorizeUrl: 'LIGHTSPEED_X_AUTHORIZE_URL',
  lightspeedTokenUrl: 'LIGHTSPEED_X_TOKEN_URL',
  lightspeedApiBaseUrl: 'LIGHTSPEED_X_API_BASE_URL',
  xentralApiBaseUrl: 'XENTRAL_API_BASE_URL',
  // Additions (documented in the README):
  tableName: 'BROKER_TABLE_NAME',
  secretPrefix: 'BROKER_SECRET_PREFIX',
  lightspeedClientSecretArn: 'LIGHTSPEED_X_CLIENT_SECRET_ARN',
  sweepConcurrency: 'SWEEP_CONCURRENCY',
  kmsKeyArn: 'BROKER_KMS_KEY_ARN',
  eventBusName: 'BROKER_EVENT_BUS_NAME',
  refreshCooldownSeconds: 'REFRESH_COOLDOWN_SECONDS',
} as const;

export const DEFAULT_LIGHTSPEED_SCOPES = [
  'outlets:read',
  'products:read',
  'inventory:read',
  'sales:read',
  'customers:read',
] as const;

export interface LightspeedConfig {
  /** Unset means demo mode in the local runtime (the built-in simulator is used). */
  readonly clientId: string | undefined;
  /** Local runtime: the secret itself. */
  readonly clientSecret: string | undefined;
  /** AWS: the Secrets Manager id of the client secret (never put the secret in an env var there). */
  readonly clientSecretArn: string | undefined;
  readonly scopes: readonly string[];
  readonly authorizeUrl: string;
  /** Template with `{domain_prefix}`. */
  readonly tokenUrl: string;
  /** Template with `{domain_prefix}`. */
  readonly apiBaseUrl: string;
}

export interface BrokerConfig {
  readonly port: number;
  readonly publicUrl: string;
  readonly apiKey: string | undefined;
  readonly dataDir: string;
  readonly dynamodbEndpoint: string | undefined;
  readonly tableName: string;
  readonly secretPrefix: string;
  readonly returnToOrigins: readonly string[];
  readonly refreshMarginSeconds: number;
  readonly sweepIntervalSeconds: number;
  readonly sweepConcurrency: number;
  /**
   * A refresh this recent satisfies every caller, `force_refresh` included (default 5, at most 5:
   * the README promises `force_refresh` never returns a token older than 5 s at the call's start).
   */
  readonly refreshCooldownSeconds: number;
  /** AWS: the KMS key that wraps the data keys sealing stored tokens (and personal-token secrets). */
  readonly kmsKeyArn: string | undefined;
  /** AWS: the EventBridge bus that receives the broker's events (unset: events are only logged). */
  readonly eventBusName: string | undefined;
  readonly lightspeed: LightspeedConfig;
  /** Template with `{account}`. */
  readonly xentralApiBaseUrl: string;
}

/** A configuration variable is missing or malformed; the message names it. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'invalid_configuration';
}

type Env = Readonly<Record<string, string | undefined>>;

const value = (env: Env, name: string): string | undefined => {
  const raw = env[name]?.trim();
  return raw === undefined || raw === '' ? undefined : raw;
};

const integer = (env: Env, name: string, fallback: number, min: number, max: number): number => {
  const raw = value(env, name);
  if (raw === undefined) return fallback;
  const parsed = z.safeParse(z.pipe(z.coerce.number(), z.int().check(z.minimum(min), z.maximum(max))), raw);
  if (!parsed.success) {
    throw new ConfigError(`${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
  }
  return parsed.data;
};

const httpUrl = (env: Env, name: string, fallback: string): string => {
  const raw = value(env, name) ?? fallback;
  let url: URL;
  try {
    // Templates hold `{domain_prefix}` in the host name, which URL would reject; check a sample.
    url = new URL(raw.replaceAll('{domain_prefix}', 'sample').replaceAll('{account}', 'sample'));
  } catch {
    throw new ConfigError(`${name} must be an absolute http(s) URL, got "${raw}"`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ConfigError(`${name} must be an http(s) URL, got "${raw}"`);
  }
  return raw.replace(/\/+$/, '');
};

const origins = (env: Env, name: string): string[] => {
  const raw = value(env, name);
  if (raw === undefined) return [];
  return raw
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '')
    .map((entry) => {
      let url: URL;
      try {
        url = new URL(entry);
      } catch {
        throw new ConfigError(`${name} must list origins like https://app.example.com, got "${entry}"`);
      }
      if (url.origin === 'null' || (url.pathname !== '/' && url.pathname !== '') || url.search || url.hash) {
        throw new ConfigError(`${name} must list bare origins (scheme, host, port), got "${entry}"`);
      }
      return url.origin;
    });
};

/** Reads the configuration from `env` once; throws a ConfigError naming the first bad variable. */
export function loadConfig(env: Env = process.env): BrokerConfig {
  const port = integer(env, ENV.port, 8787, 0, 65_535);
  const scopes = (value(env, ENV.lightspeedScopes)?.split(/\s+/) ?? [...DEFAULT_LIGHTSPEED_SCOPES]).filter(
    (scope) => scope !== '',
  );
  for (const scope of scopes) {
    if (!/^[a-z_]+(?::[a-z_]+)*$/.test(scope)) {
      throw new ConfigError(`${ENV.lightspeedScopes} has an invalid scope "${scope}" (e.g. products:read)`);
    }
  }
  const config: BrokerConfig = {
    port,
    publicUrl: httpUrl(env, ENV.publicUrl, `http://localhost:${port}`),
    apiKey: value(env, ENV.apiKey),
    dataDir: value(env, ENV.dataDir) ?? '.broker',
    dynamodbEndpoint: value(env, ENV.dynamodbEndpoint),
    tableName: value(env, ENV.tableName) ?? 'token-broker',
    secretPrefix: value(env, ENV.secretPrefix) ?? 'token-broker/',
    returnToOrigins: Object.freeze(origins(env, ENV.returnToOrigins)),
    refreshMarginSeconds: integer(env, ENV.refreshMarginSeconds, 900, 0, 7 * 86_400),
    sweepIntervalSeconds: integer(env, ENV.sweepIntervalSeconds, 300, 1, 86_400),
    sweepConcurrency: integer(env, ENV.sweepConcurrency, 8, 1, 64),
    refreshCooldownSeconds: integer(env, ENV.refreshCooldownSeconds, 5, 0, 5),
    kmsKeyArn: value(env, ENV.kmsKeyArn),
    eventBusName: value(env, ENV.eventBusName),
    lightspeed: Object.freeze({
      clientId: value(env, ENV.lightspeedClientId),
      clientSecret: value(env, ENV.lightspeedClientSecret),
      clientSecretArn: value(env, ENV.lightspeedClientSecretArn),
      scopes: Object.freeze(scopes),
      authorizeUrl: httpUrl(env, ENV.lightspeedAuthorizeUrl, 'https://secure.retail.lightspeed.app/connect'),
      tokenUrl: httpUrl(
        env,
        ENV.lightspeedTokenUrl,
        'https://{domain_prefix}.retail.lightspeed.app/api/1.0/token',
      ),
      apiBaseUrl: httpUrl(env, ENV.lightspeedApiBaseUrl, 'https://{domain_prefix}.retail.lightspeed.app/api'),
    }),
    xentralApiBaseUrl: httpUrl(env, ENV.xentralApiBaseUrl, 'https://{account}.xentral.biz/api'),
  };
  if (config.lightspeed.clientId !== undefined && scopes.length === 0) {
    throw new ConfigError(`${ENV.lightspeedScopes} must name at least one scope: Lightspeed refuses none`);
  }
  return Object.freeze(config);
}
