/**
 * Item ↔ record mapping for the table's items (schema.ts): the one place that knows how a connection,
 * a connect session and an OAuth state are laid out as attributes.
 */
import {
  type ConnectionKey,
  type ConnectSession,
  EXPIRING_WINDOW_MS,
  type OAuthRecord,
  type OAuthState,
  type PersonalConnection,
  type ProviderId,
} from '../../domain/model';
import { sweepShardOf, TABLE } from './schema';

/** A table item as the document client returns it. */
export type Item = Record<string, unknown>;

/** The partition key of a connection's items (its OAuth and personal items share it). */
export const connectionPk = (key: ConnectionKey): string => `conn#${key.provider}#${key.account}`;

/** Whether a write failed its condition (DynamoDB's name for a lost race). */
export const isConditionFailure = (error: unknown): boolean =>
  error instanceof Error &&
  (error.name === 'ConditionalCheckFailedException' || error.name === 'TransactionCanceledException');

const num = (value: unknown): number | undefined => (typeof value === 'number' ? value : undefined);
const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

/** The metadata of an OAuth item; its sealed tokens stay behind. */
export function toOAuthRecord(item: Item): OAuthRecord {
  return {
    provider: item.provider as ProviderId,
    account: String(item.account),
    source: 'oauth',
    status: item.status === 'reauthorization_required' ? 'reauthorization_required' : 'active',
    expiresAt: Number(item.expiresAt),
    refreshExpiresAt: num(item.refreshExpiresAt),
    renewBy: num(item.renewBy),
    version: Number(item.version),
    leaseOwner: str(item.leaseOwner),
    leaseUntil: num(item.leaseUntil),
    connectedAt: Number(item.connectedAt),
    refreshedAt: num(item.refreshedAt),
    reference: str(item.reference),
    scope: str(item.scope),
    failureCount: num(item.failureCount) ?? 0,
    lastError: str(item.lastError),
    lastFailureAt: num(item.lastFailureAt),
    retryAfterSeconds: num(item.retryAfterSeconds),
    unconfirmedAt: num(item.unconfirmedAt),
  };
}

/** A personal-token item's metadata (the token itself lives in the secret store). */
export function toPersonal(item: Item): PersonalConnection {
  return {
    provider: item.provider as ProviderId,
    account: String(item.account),
    source: 'personal',
    name: str(item.name),
    expiresAt: num(item.expiresAt),
    secretVersion: String(item.secretVersion),
    expiringNotifiedAt: num(item.expiringNotifiedAt),
    connectedAt: Number(item.connectedAt),
    refreshedAt: num(item.refreshedAt),
    reference: str(item.reference),
  };
}

/** Either kind of connection item, by its sort key. */
export const toConnection = (item: Item): OAuthRecord | PersonalConnection =>
  item.sk === 'oauth' ? toOAuthRecord(item) : toPersonal(item);

/** The item of a personal token's metadata, in the sweep index while its expiry is unannounced. */
export function personalItem(connection: PersonalConnection): Item {
  const item: Item = {
    pk: connectionPk(connection),
    sk: 'personal',
    provider: connection.provider,
    account: connection.account,
    source: 'personal',
    secretVersion: connection.secretVersion,
    connectedAt: connection.connectedAt,
    gsiProvider: connection.provider,
    gsiAccount: `${connection.account}#personal`,
  };
  if (connection.name !== undefined) item.name = connection.name;
  if (connection.expiresAt !== undefined) {
    item.expiresAt = connection.expiresAt;
    if (connection.expiringNotifiedAt === undefined) {
      // The sweep looks at a personal token when its expiring window opens.
      item.sweepShard = sweepShardOf(String(item.pk));
      item.sweepAt = connection.expiresAt - EXPIRING_WINDOW_MS;
    } else item.expiringNotifiedAt = connection.expiringNotifiedAt;
  }
  if (connection.refreshedAt !== undefined) item.refreshedAt = connection.refreshedAt;
  if (connection.reference !== undefined) item.reference = connection.reference;
  return item;
}

/** The connection key an item of the sweep index names, with the kind of credential it is. */
export function dueKeyOf(item: Item): (ConnectionKey & { source: 'oauth' | 'personal' }) | undefined {
  const [, provider, account] = String(item.pk).split('#');
  if (provider === undefined || account === undefined) return undefined;
  return { provider: provider as ProviderId, account, source: item.sk === 'personal' ? 'personal' : 'oauth' };
}

/** Single-use items (sessions, states) are removed by DynamoDB TTL once they can no longer be used. */
const ttlOf = (keepUntil: number) => ({ [TABLE.ttlAttribute]: Math.ceil(keepUntil / 1000) });

/** Where a connect flow leads, which a session hands on to each of its OAuth states. */
const flowTarget = (item: Item) => ({
  provider: item.provider as ProviderId,
  account: str(item.account),
  returnTo: str(item.returnTo),
  reference: str(item.reference),
});

export const sessionPk = (id: string): string => `session#${id}`;
export const statePk = (state: string): string => `state#${state}`;

/** A connect session's item; it lives (for its audit) until `keepUntil`. */
export function sessionItem(session: ConnectSession): Item {
  const { id, ...attributes } = session;
  return { pk: sessionPk(id), sk: 'session', ...attributes, attempts: 0, ...ttlOf(session.keepUntil) };
}

/** The session an item holds (`keepUntil` defaults to the expiry for items written before it existed). */
export function toSession(id: string, item: Item): ConnectSession {
  return {
    id,
    ...flowTarget(item),
    createdAt: Number(item.createdAt),
    expiresAt: Number(item.expiresAt),
    keepUntil: num(item.keepUntil) ?? Number(item.expiresAt),
  };
}

/** An OAuth state's item; gone with its expiry. */
export function stateItem(state: OAuthState): Item {
  const { state: id, ...attributes } = state;
  return { pk: statePk(id), sk: 'state', ...attributes, ...ttlOf(state.expiresAt) };
}

/** The OAuth state an item holds. */
export function toState(state: string, item: Item): OAuthState {
  return {
    state,
    ...flowTarget(item),
    sessionId: String(item.sessionId),
    browserBindingHash: String(item.browserBindingHash),
    codeVerifier: str(item.codeVerifier),
    expiresAt: Number(item.expiresAt),
  };
}
