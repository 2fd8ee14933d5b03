/**
 * The listing's cursor codec. A cursor names the partition (provider) a listing is in and
 * DynamoDB's LastEvaluatedKey inside it; what comes back is checked before DynamoDB sees it.
 */
import { InvalidInputError } from '../../domain/errors';
import { ANY_ACCOUNT_PATTERN, type ProviderId } from '../../domain/model';
import { PROVIDER_IDS } from '../../providers';

export interface Cursor {
  /** Index into the listed partitions (the store's providers, or the one filtered provider). */
  p: number;
  /** DynamoDB's LastEvaluatedKey of the by-provider index: table and index key of one connection item. */
  k?: Record<string, unknown> | undefined;
}

/** The opaque text of a cursor. */
export const encodeCursor = (cursor: Cursor): string =>
  Buffer.from(JSON.stringify(cursor)).toString('base64url');

const foreignCursor = () => new InvalidInputError('cursor', 'is not a token this broker issued');
const otherFilter = () => new InvalidInputError('cursor', 'does not belong to this provider filter');

/**
 * A cursor this store issued for `partitions`. Its start key goes to DynamoDB as ExclusiveStartKey,
 * which refuses a malformed one with a ValidationException (a 500), so every part is checked
 * against the key a page of that partition can end on.
 */
export function decodeCursor(
  token: string,
  partitions: readonly ProviderId[],
  providerIds: readonly ProviderId[] = PROVIDER_IDS,
): Cursor {
  let cursor: unknown;
  try {
    cursor = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw foreignCursor();
  }
  if (typeof cursor !== 'object' || cursor === null) throw foreignCursor();
  const { p, k, ...rest } = cursor as Record<string, unknown>;
  if (Object.keys(rest).length > 0 || typeof p !== 'number' || !Number.isInteger(p) || p < 0) {
    throw foreignCursor();
  }
  const partition = partitions[p];
  if (partition === undefined) {
    // A cursor of the unfiltered listing used with a provider filter.
    if (partitions.length === 1 && p < providerIds.length) throw otherFilter();
    throw foreignCursor();
  }
  if (k === undefined) return { p };
  const startKey = providerIndexKey(k, providerIds);
  if (startKey === undefined) throw foreignCursor();
  if (startKey.gsiProvider !== partition) throw partitions.length === 1 ? otherFilter() : foreignCursor();
  return { p, k: startKey };
}

/**
 * `k` if it has exactly the shape of a connection item's by-provider index key (table key plus
 * index key, each part well formed), else undefined. The parts are not checked against each other:
 * a listing must page past any stored item, whatever it holds.
 */
function providerIndexKey(
  k: unknown,
  providerIds: readonly ProviderId[],
): Record<string, string> | undefined {
  if (typeof k !== 'object' || k === null || Array.isArray(k)) return undefined;
  const { pk, sk, gsiProvider, gsiAccount, ...rest } = k as Record<string, unknown>;
  if (Object.keys(rest).length > 0) return undefined;
  if (typeof pk !== 'string' || typeof sk !== 'string' || typeof gsiProvider !== 'string') return undefined;
  if (typeof gsiAccount !== 'string') return undefined;
  const [prefix, pkProvider, pkAccount, ...pkRest] = pk.split('#');
  const [account, source, ...accountRest] = gsiAccount.split('#');
  const wellFormed =
    prefix === 'conn' &&
    pkRest.length === 0 &&
    isProviderId(pkProvider, providerIds) &&
    isAccount(pkAccount) &&
    (sk === 'oauth' || sk === 'personal') &&
    isProviderId(gsiProvider, providerIds) &&
    accountRest.length === 0 &&
    isAccount(account) &&
    (source === 'oauth' || source === 'personal');
  return wellFormed ? { pk, sk, gsiProvider, gsiAccount } : undefined;
}

const isProviderId = (value: string | undefined, providerIds: readonly ProviderId[]): value is ProviderId =>
  (providerIds as readonly (string | undefined)[]).includes(value);
const isAccount = (value: string | undefined): boolean =>
  value !== undefined && ANY_ACCOUNT_PATTERN.test(value);
