/** Connection metadata (list, show, delete) and personal tokens (put, delete). Never a token out. */
import { randomUUID } from 'node:crypto';
import { InvalidInputError, NotFoundError, ProviderError, ProviderUnavailableError } from './errors';
import {
  type ConnectionKey,
  type ConnectionStatus,
  type ConnectionView,
  type PersonalConnection,
  type ProviderId,
  viewOf,
} from './model';
import type { Clock, ConnectionStore, HttpClient, Logger, ProviderRegistry, SecretStore } from './ports';
import { effectiveCredential } from './precedence';
import { DEFAULT_RETRY_POLICY, withRetries } from './retry';
import { personalTokenSecretName } from './secret-names';
import type { Telemetry } from './telemetry';

export interface ConnectionServiceDeps {
  readonly store: ConnectionStore;
  readonly secrets: SecretStore;
  readonly providers: ProviderRegistry;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly secretPrefix: string;
  readonly telemetry: Telemetry;
  readonly http: HttpClient;
  /** Client id per provider app, for the connection counts of the listing. */
  readonly clientId: (provider: ProviderId) => string | undefined;
}

const DAY_MS = 86_400_000;

/** Stores connected to one provider app, reported with the listing. */
export interface AppUsage {
  readonly provider: ProviderId;
  readonly clientId: string;
  readonly connectedStores: number;
  /** Stores the app may connect until the provider approves it; undefined where there is no such limit. */
  readonly unapprovedAppLimit: number | undefined;
}

/** A page of the listing. */
export interface ConnectionList {
  readonly connections: readonly ConnectionView[];
  /** The cursor of the next page; undefined on the last one. */
  readonly nextCursor: string | undefined;
  readonly apps: readonly AppUsage[];
}

/** Reads and manages stored connections. */
export class ConnectionService {
  constructor(private readonly deps: ConnectionServiceDeps) {}

  /** `GET /connections`: a page of metadata. */
  async list(query: {
    provider?: ProviderId;
    status?: ConnectionStatus;
    limit: number;
    cursor?: string;
  }): Promise<ConnectionList> {
    const now = this.deps.clock.now();
    const page = await this.deps.store.list({
      provider: query.provider,
      status: query.status,
      limit: query.limit,
      cursor: query.cursor,
      now,
    });
    return {
      connections: page.items.map((item) => viewOf(item, now)),
      nextCursor: page.nextCursor,
      apps: await this.appUsage(query.provider),
    };
  }

  /** Stores connected per provider app (Lightspeed caps unapproved apps at 30 stores). */
  async appUsage(provider?: ProviderId): Promise<AppUsage[]> {
    const usage: AppUsage[] = [];
    for (const definition of Object.values(this.deps.providers)) {
      const clientId = this.deps.clientId(definition.id);
      const limit = definition.unapprovedAppStoreLimit;
      if (definition.oauth === undefined || clientId === undefined) continue;
      if (provider !== undefined && provider !== definition.id) continue;
      usage.push({
        provider: definition.id,
        clientId,
        connectedStores: await this.deps.store.countOAuthConnections(definition.id),
        unapprovedAppLimit: limit,
      });
    }
    return usage;
  }

  /** `GET /connections/{provider}/{account}`: the credential a token fetch would use. */
  async get(key: ConnectionKey): Promise<ConnectionView> {
    const { store, providers, clock } = this.deps;
    // The token route's precedence; metadata only, so no token is opened.
    const effective = await effectiveCredential(
      providers[key.provider].oauth === undefined ? undefined : () => store.getOAuthRecord(key),
      () => store.getPersonal(key),
    );
    if (effective === undefined) throw new NotFoundError(`no connection for ${key.provider}/${key.account}`);
    return viewOf(effective, clock.now());
  }

  /** `DELETE /connections/{provider}/{account}`: forgets every credential of the account. */
  async delete(key: ConnectionKey): Promise<void> {
    const removed = await this.deps.store.deleteAll(key);
    if (removed.personal !== undefined) {
      await this.deps.secrets.delete(personalTokenSecretName(this.deps.secretPrefix, key));
    }
    if (removed.oauth === undefined && removed.personal === undefined) {
      throw new NotFoundError(`no connection for ${key.provider}/${key.account}`);
    }
    this.deps.logger.info('connection deleted', { ...key, sources: Object.keys(removed) });
    await this.deps.telemetry.event('connection.deleted', key, {
      sources: Object.keys(removed).join(','),
      reference: removed.oauth?.reference ?? removed.personal?.reference ?? null,
    });
  }

  /**
   * `PUT /personal-tokens/{provider}/{account}`: stores the token in the secret store first, then
   * the metadata pointing at its version, so a reader never finds metadata without a token.
   */
  async putPersonalToken(
    key: ConnectionKey,
    input: {
      token: string;
      name?: string | undefined;
      expiresAt?: string | null | undefined;
      verify?: boolean;
    },
  ): Promise<ConnectionView> {
    const { store, secrets, clock, logger, providers, secretPrefix } = this.deps;
    const now = clock.now();
    const expiresAt =
      input.expiresAt === undefined || input.expiresAt === null ? undefined : Date.parse(input.expiresAt);
    if (expiresAt !== undefined && expiresAt <= now) {
      throw new InvalidInputError('expiresAt', 'is in the past; the token would be unusable');
    }
    const provider = providers[key.provider];
    if (provider.verifyRequest === undefined) {
      throw new InvalidInputError(
        'provider',
        `${provider.displayName} has no personal tokens; connect the account with POST /connect-sessions`,
      );
    }
    const maxDays = provider.personalTokenMaxDays;
    // A day of slack for time zones and clocks; beyond that no real token of this provider exists.
    if (maxDays !== undefined && expiresAt !== undefined && expiresAt - now > (maxDays + 1) * DAY_MS) {
      throw new InvalidInputError(
        'expiresAt',
        `${provider.displayName} personal access tokens expire within ${maxDays} days of creation; check the date`,
      );
    }
    if (maxDays !== undefined && expiresAt === undefined) {
      // Tokens created before the limit have no expiry; new ones always have one.
      logger.info('personal token stored without expiry; new tokens of this provider expire', {
        ...key,
        maxDays,
      });
    }
    if (input.verify === true) await this.verify(key, input.token);
    const existing = await store.getPersonal(key);
    const { version } = await secrets.put(personalTokenSecretName(secretPrefix, key), input.token);
    const connection: PersonalConnection = {
      ...key,
      source: 'personal',
      name: input.name ?? existing?.name,
      expiresAt,
      secretVersion: version || randomUUID(),
      connectedAt: existing?.connectedAt ?? now,
      refreshedAt: existing === undefined ? undefined : now,
      reference: existing?.reference,
    };
    const saved = await store.putPersonal(connection);
    logger.info(existing === undefined ? 'personal token stored' : 'personal token replaced', {
      ...key,
      expiresAt: expiresAt === undefined ? null : new Date(expiresAt).toISOString(),
    });
    return viewOf(saved, now);
  }

  /**
   * One cheap authenticated call with the token: 401 means the provider refuses it (a clear 400,
   * nothing stored); 2xx and 403 (valid, lacking some permission) accept it.
   */
  private async verify(key: ConnectionKey, token: string): Promise<void> {
    const { providers, http, clock, logger } = this.deps;
    const build = providers[key.provider].verifyRequest;
    if (build === undefined) throw new Error(`${key.provider} has no personal tokens`);
    const request = build(key.account, token);
    let status: number;
    try {
      status = await withRetries(
        async (timeoutMs) => {
          const response = await http(request, timeoutMs);
          if (response.status === 429 || response.status >= 500) {
            throw new ProviderError('transient', `verification answered ${response.status}`, {
              status: response.status,
            });
          }
          return response.status;
        },
        DEFAULT_RETRY_POLICY,
        clock,
      );
    } catch (error) {
      if (!(error instanceof ProviderError)) throw error;
      throw new ProviderUnavailableError(
        'the provider could not be reached to verify the token; try again or store it without verify',
        error.details.retryAfterSeconds ?? 5,
        { cause: error },
      );
    }
    logger.info('personal token verified', { ...key, status });
    if (status === 401)
      throw new InvalidInputError('token', `${providers[key.provider].displayName} refused this token (401)`);
    if (status === 404)
      throw new InvalidInputError(
        'account',
        `${providers[key.provider].displayName} does not know this account (404)`,
      );
    if (!(status >= 200 && status < 300) && status !== 403) {
      throw new InvalidInputError('token', `the provider answered ${status} to the verification call`);
    }
  }

  /** `DELETE /personal-tokens/{provider}/{account}`: metadata first, then the secret. */
  async deletePersonalToken(key: ConnectionKey): Promise<void> {
    const existed = await this.deps.store.deletePersonal(key);
    await this.deps.secrets.delete(personalTokenSecretName(this.deps.secretPrefix, key));
    if (!existed) throw new NotFoundError(`no personal token for ${key.provider}/${key.account}`);
    this.deps.logger.info('personal token deleted', { ...key });
  }
}
