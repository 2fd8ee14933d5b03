/**
 * Wires the domain to adapters. Each runtime (Lambda in functions/aws.ts, the local runtime in
 * functions/local/main.ts) builds a `Runtime` once and gets the same services from it.
 */
import type { BrokerConfig } from '../shared/config';
import { ConnectService } from '../shared/domain/connect';
import { ConnectionService } from '../shared/domain/connections';
import type { ProviderId } from '../shared/domain/model';
import type {
  Clock,
  ConnectionStore,
  EventSink,
  HttpClient,
  Logger,
  MetricSink,
  OAuthClientCredentials,
  SecretStore,
  SessionStore,
} from '../shared/domain/ports';
import { Refresher } from '../shared/domain/refresh';
import type { RetryPolicy } from '../shared/domain/retry';
import { type SweepReport, sweep } from '../shared/domain/sweep';
import { Telemetry } from '../shared/domain/telemetry';
import { TokenService } from '../shared/domain/tokens';
import { createProviders, type ProviderDefinitions } from '../shared/providers';

export interface Runtime {
  readonly config: BrokerConfig;
  /** The providers served, when not the built-ins (`config` was read for the same list). */
  readonly providerDefinitions?: ProviderDefinitions;
  readonly store: ConnectionStore & SessionStore;
  readonly secrets: SecretStore;
  /** The broker's client secret for a provider (env locally, Secrets Manager on AWS). */
  readonly clientSecret: (provider: ProviderId) => Promise<string>;
  readonly http: HttpClient;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Lease owner id of this process. */
  readonly owner: string;
  readonly retryPolicy?: RetryPolicy;
  /** Refresher's cooldown in ms, overriding REFRESH_COOLDOWN_SECONDS (tests). */
  readonly refreshCooldownMs?: number;
  /** Where domain events go (EventBridge on AWS, the log locally). */
  readonly events: EventSink;
  readonly metrics: MetricSink;
}

export interface Services {
  readonly config: BrokerConfig;
  readonly logger: Logger;
  readonly tokens: TokenService;
  readonly connect: ConnectService;
  readonly connections: ConnectionService;
  readonly refresher: Refresher;
  readonly providers: ReturnType<typeof createProviders>;
  sweep(): Promise<SweepReport>;
  /** Resolves when the store answers; rejects when it cannot be reached (`GET /health`). */
  health(): Promise<void>;
}

/** Builds the services of one process. */
export function createServices(runtime: Runtime): Services {
  const { config, store, secrets, http, clock, logger } = runtime;
  const telemetry = new Telemetry({
    events: runtime.events,
    metrics: runtime.metrics,
    logger,
    now: clock.now,
  });
  const providers = createProviders(config, runtime.providerDefinitions);
  const clientId = (provider: ProviderId): string | undefined => config.providers[provider]?.app?.clientId;
  const credentials = async (provider: ProviderId): Promise<OAuthClientCredentials> => {
    const id = clientId(provider);
    if (id === undefined) throw new Error(`${provider} has no client id configured`);
    return { clientId: id, clientSecret: await runtime.clientSecret(provider) };
  };
  const refresher = new Refresher({
    store,
    providers,
    credentials,
    http,
    clock,
    logger,
    owner: runtime.owner,
    retryPolicy: runtime.retryPolicy,
    cooldownMs: runtime.refreshCooldownMs ?? config.refreshCooldownSeconds * 1000,
    telemetry,
  });
  const secretPrefix = config.secretPrefix;
  return {
    config,
    logger,
    providers,
    refresher,
    tokens: new TokenService({
      store,
      secrets,
      refresher,
      providers,
      clock,
      logger,
      secretPrefix,
      telemetry,
    }),
    connect: new ConnectService({
      store,
      sessions: store,
      providers,
      credentials,
      clientId,
      countConnected: (provider) => store.countOAuthConnections(provider),
      telemetry,
      http,
      clock,
      logger,
      publicUrl: config.publicUrl,
      returnToOrigins: config.returnToOrigins,
    }),
    connections: new ConnectionService({
      store,
      secrets,
      providers,
      clock,
      logger,
      secretPrefix,
      telemetry,
      http,
      clientId,
    }),
    health: () => store.ping(),
    sweep: () =>
      sweep({
        store,
        refresher,
        clock,
        logger,
        telemetry,
        marginSeconds: config.refreshMarginSeconds,
        concurrency: config.sweepConcurrency,
        providers,
      }),
  };
}
