/** The listing cursor codec: what it issues it accepts, anything else is refused with a domain error. */
import { describe, expect, it } from 'vitest';
import { type Cursor, decodeCursor, encodeCursor } from '../../../../shared/adapters/dynamodb/cursor';
import { InvalidInputError } from '../../../../shared/domain/errors';
import type { ProviderId } from '../../../../shared/domain/model';
import { PROVIDER_IDS } from '../../../../shared/providers';

const encode = (cursor: unknown) => Buffer.from(JSON.stringify(cursor)).toString('base64url');
const key = (account: string, sk = 'oauth', provider = 'lightspeed-x') => ({
  pk: `conn#${provider}#${account}`,
  sk,
  gsiProvider: provider,
  gsiAccount: `${account}#${sk}`,
});
const refusal = (token: string, partitions: readonly ProviderId[] = PROVIDER_IDS) => {
  try {
    decodeCursor(token, partitions);
  } catch (error) {
    return error;
  }
  throw new Error('the cursor was accepted');
};

/** The partition of xentral's connections in the unfiltered listing (registry order). */
const XENTRAL = PROVIDER_IDS.indexOf('xentral');

describe('cursor codec', () => {
  it('decodes what it encodes, for the start and the middle of a partition', () => {
    const cursors: Cursor[] = [{ p: 0 }, { p: XENTRAL, k: key('page-c', 'personal', 'xentral') }];
    for (const cursor of cursors) expect(decodeCursor(encodeCursor(cursor), PROVIDER_IDS)).toEqual(cursor);
  });

  it.each([
    ['a foreign start key', encode({ p: 0, k: { pk: 'x' } })],
    ['a start key with an extra attribute', encode({ p: 0, k: { ...key('page-a'), extra: 'x' } })],
    [
      'a start key missing the index key',
      encode({ p: 0, k: { pk: 'conn#lightspeed-x#page-a', sk: 'oauth' } }),
    ],
    ['a start key of numbers', encode({ p: 0, k: { pk: 1, sk: 2, gsiProvider: 3, gsiAccount: 4 } })],
    ['a start key of a session item', encode({ p: 0, k: { ...key('page-a'), pk: 'session#abc' } })],
    [
      'a start key with a nested part',
      encode({ p: 0, k: { ...key('page-a'), pk: 'conn#lightspeed-x#a#b' } }),
    ],
    ['a start key with an unknown sort key', encode({ p: 0, k: key('page-a', 'session') })],
    ['a start key whose account is no DNS label', encode({ p: 0, k: key('A'.repeat(3000)) })],
    ['a start key of the other provider', encode({ p: 0, k: key('page-c', 'personal', 'xentral') })],
    ['a start key that is a list', encode({ p: 0, k: [] })],
    ['an unknown cursor field', encode({ p: 0, q: 1 })],
    ['a partition out of range', encode({ p: PROVIDER_IDS.length })],
    ['a fractional partition', encode({ p: 0.5 })],
    ['JSON that is no object', encode(null)],
    ['no JSON at all', 'not-a-cursor'],
  ])('refuses %s with an InvalidInputError on the cursor, naming no request field', (_, cursor) => {
    const error = refusal(cursor);
    expect(error).toBeInstanceOf(InvalidInputError);
    expect(error).toMatchObject({
      code: 'invalid_input',
      input: 'cursor',
      message: 'is not a token this broker issued',
    });
    expect(error).not.toHaveProperty('field');
  });

  it('refuses a cursor of the unfiltered listing, or of another provider, under a provider filter', () => {
    expect(refusal(encode({ p: XENTRAL }), ['xentral'])).toMatchObject({
      message: 'does not belong to this provider filter',
    });
    expect(refusal(encode({ p: 0, k: key('page-a') }), ['xentral'])).toMatchObject({
      message: 'does not belong to this provider filter',
    });
  });
});
