/**
 * Configuration: the environment read once into a frozen, typed object. Both runtimes and the CDK
 * stack use the names in `ENV` and, for a provider's variables, the names in its definition
 * (shared/providers/<id>.ts), so a variable is spelled in one place only.
 */
import * as z from 'zod/mini';
import { PROVIDER_DEFINITIONS, type ProviderDefinitions } from './providers';
import type { OAuthAppConfig, ProviderConfig, ProviderDefinition } from './providers/definition';

/**
 * Every environment variable the broker reads apart from the providers' own (contract names first,
 * then additions); those are in each provider's definition (`settings`, `oauth.env`).
 */
export const ENV = {
  port: 'PORT',
  publicUrl: 'BROKER_PUBLIC_URL',
  apiKey: 'BROKER_API_KEY',
  dataDir: 'BROKER_DATA_DIR',
  dynamodbEndpoint: 'DYNAMODB_ENDPOINT',
  returnToOrigins: 'BROKER_RETURN_TO_ORIGINS',
  refreshMarginSeconds: 'REFRESH_MARGIN_SECONDS',
  sweepIntervalSeconds: 'SWEEP_INTERVAL_SECONDS',
  // Additions (documented in the README):
  tableName: 'BROKER_TABLE_NAME',
  secretPrefix: 'BROKER_SECRET_PREFIX',
  sweepConcurrency: 'SWEEP_CONCURRENCY',
  kmsKeyArn: 'BROKER_KMS_KEY_ARN',
  eventBusName: 'BROKER_EVENT_BUS_NAME',
  refreshCooldownSeconds: 'REFRESH_COOLDOWN_SECONDS',
} as const;

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
  /** Each provider's settings and OAuth app, by provider id, read from the variables its definition names. */
  readonly providers: Readonly<Record<string, ProviderConfig>>;
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
    // Templates hold placeholders (`{domain_prefix}`, `{shop}`, …) in the host name: check a sample.
    url = new URL(raw.replace(/\{[a-z_]+\}/g, 'sample'));
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

/**
 * Reads the configuration from `env` once, for the built-in providers or a runtime's own list;
 * throws a ConfigError naming the first bad variable.
 */
export function loadConfig(
  env: Env = process.env,
  definitions: ProviderDefinitions = PROVIDER_DEFINITIONS,
): BrokerConfig {
  const port = integer(env, ENV.port, 8787, 0, 65_535);
  const general = {
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
  };
  const providers: Record<string, ProviderConfig> = {};
  for (const definition of definitions) {
    if (Object.hasOwn(providers, definition.id))
      throw new ConfigError(`provider ${definition.id} is defined twice`);
    providers[definition.id] = providerConfig(env, definition);
  }
  return Object.freeze({ ...general, providers: Object.freeze(providers) });
}

/** One provider's part of the configuration: its URLs, and its OAuth app when it has one. */
function providerConfig(env: Env, definition: ProviderDefinition): ProviderConfig {
  const settings: Record<string, string> = {};
  for (const [name, setting] of Object.entries(definition.settings)) {
    settings[name] = httpUrl(env, setting.env, setting.default);
  }
  return Object.freeze({
    settings: Object.freeze(settings),
    app: definition.oauth === undefined ? undefined : oauthApp(env, definition.oauth),
  });
}

function oauthApp(env: Env, spec: NonNullable<ProviderDefinition['oauth']>): OAuthAppConfig {
  const scopes = (value(env, spec.env.scopes)?.split(/\s+/) ?? [...spec.scopes.default]).filter(
    (scope) => scope !== '',
  );
  for (const scope of scopes) {
    if (!spec.scopes.pattern.test(scope)) {
      throw new ConfigError(
        `${spec.env.scopes} has an invalid scope "${scope}" (e.g. ${spec.scopes.example})`,
      );
    }
  }
  const clientId = value(env, spec.env.clientId);
  if (clientId !== undefined && scopes.length === 0 && spec.scopes.requiredBecause !== undefined) {
    throw new ConfigError(`${spec.env.scopes} must name at least one scope: ${spec.scopes.requiredBecause}`);
  }
  return Object.freeze({
    clientId,
    clientSecret: value(env, spec.env.clientSecret),
    clientSecretArn: value(env, spec.env.clientSecretArn),
    scopes: Object.freeze(scopes),
  });
}
