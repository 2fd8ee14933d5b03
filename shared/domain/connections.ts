/** Connection metadata (list, show, delete) and personal tokens (put, delete). Never a token out. */
import { randomUUID } from 'node:crypto';
import type { ProviderRegistry } from '../providers/types';
import { InvalidRequestError, NotFoundError } from './errors';
import {
  type ConnectionKey,
  type ConnectionMetadata,
  type ConnectionStatus,
  type PersonalConnection,
  type ProviderId,
  toMetadata,
} from './model';
import type { Clock, ConnectionStore, Logger, SecretStore } from './ports';
import { personalTokenSecretName } from './secret-names';

export interface ConnectionServiceDeps {
  readonly store: ConnectionStore;
  readonly secrets: SecretStore;
  readonly providers: ProviderRegistry;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly secretPrefix: string;
}

const DAY_MS = 86_400_000;

/** Reads and manages stored connections. */
export class ConnectionService {
  constructor(private readonly deps: ConnectionServiceDeps) {}

  /** `GET /connections`: a page of metadata. */
  async list(query: { provider?: ProviderId; status?: ConnectionStatus; limit: number; nextToken?: string }) {
    const now = this.deps.clock.now();
    const page = await this.deps.store.list({
      provider: query.provider,
      status: query.status,
      limit: query.limit,
      cursor: query.nextToken,
      now,
    });
    const body: { connections: ConnectionMetadata[]; next_token?: string } = {
      connections: page.items.map((item) => toMetadata(item, now)),
    };
    if (page.nextCursor !== undefined) body.next_token = page.nextCursor;
    return body;
  }

  /** `GET /connections/{provider}/{account}`: the credential a token fetch would use. */
  async get(key: ConnectionKey): Promise<ConnectionMetadata> {
    const { oauth, personal } = await this.deps.store.getCredentials(key);
    const effective = oauth?.status === 'active' ? oauth : (personal ?? oauth);
    if (effective === undefined) throw new NotFoundError(`no connection for ${key.provider}/${key.account}`);
    return toMetadata(effective, this.deps.clock.now());
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
  }

  /**
   * `PUT /personal-tokens/{provider}/{account}`: stores the token in the secret store first, then
   * the metadata pointing at its version, so a reader never finds metadata without a token.
   */
  async putPersonalToken(
    key: ConnectionKey,
    input: { token: string; name?: string | undefined; expiresAt?: string | null | undefined },
  ): Promise<ConnectionMetadata> {
    const { store, secrets, clock, logger, providers, secretPrefix } = this.deps;
    const now = clock.now();
    const expiresAt =
      input.expiresAt === undefined || input.expiresAt === null ? undefined : Date.parse(input.expiresAt);
    if (expiresAt !== undefined && expiresAt <= now) {
      throw new InvalidRequestError('expires_at', 'is in the past; the token would be unusable');
    }
    const maxDays = providers[key.provider].personalTokenMaxDays;
    if (maxDays !== undefined && expiresAt !== undefined && expiresAt - now > maxDays * DAY_MS) {
      // Older Xentral tokens may legitimately exceed the new limit: store, but say so.
      logger.warn('personal token outlives the provider limit for new tokens', { ...key, maxDays });
    }
    const existing = (await store.getCredentials(key)).personal;
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
    return toMetadata(saved, now);
  }

  /** `DELETE /personal-tokens/{provider}/{account}`: metadata first, then the secret. */
  async deletePersonalToken(key: ConnectionKey): Promise<void> {
    const existed = await this.deps.store.deletePersonal(key);
    await this.deps.secrets.delete(personalTokenSecretName(this.deps.secretPrefix, key));
    if (!existed) throw new NotFoundError(`no personal token for ${key.provider}/${key.account}`);
    this.deps.logger.info('personal token deleted', { ...key });
  }
}
