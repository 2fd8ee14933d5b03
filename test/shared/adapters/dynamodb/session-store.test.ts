/**
 * DynamoDbStore's connect sessions and OAuth states against dynalite: a state is consumed only with
 * its provider and binding hash, a session counts its attempts and completes once, and the health
 * read touches nothing.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { OAuthState } from '../../../../shared/domain/model';
import { type StoreFixture, startStoreFixture } from '../../../helpers/store';

let f: StoreFixture;
beforeAll(async () => {
  f = await startStoreFixture();
});
afterAll(() => f?.close());
beforeEach(() => f.reset());

const MINUTE = 60_000;
let counter = 0;
const unique = (prefix: string) => `${prefix}${String(++counter).padStart(4, '0')}`.padEnd(43, 'x');

function state(overrides: Partial<OAuthState> = {}): OAuthState {
  return {
    state: unique('state'),
    provider: 'lightspeed-x',
    sessionId: unique('session'),
    browserBindingHash: 'binding-hash-of-the-browser',
    codeVerifier: 'verifier-0123456789',
    returnTo: 'https://app.example.com/done',
    reference: 'tenant-1',
    expiresAt: Date.now() + 10 * MINUTE,
    ...overrides,
  };
}

describe('DynamoDbStore OAuth states', () => {
  it('leaves a state in place when the binding hash or the provider is wrong, and hands it out once to the right one', async () => {
    const saved = state();
    await f.store.saveOAuthState(saved);
    const now = Date.now();
    const wrongBinding = { provider: 'lightspeed-x' as const, browserBindingHash: 'forged', now };
    const wrongProvider = { provider: 'xentral' as const, browserBindingHash: saved.browserBindingHash, now };
    expect(await f.store.consumeOAuthState(saved.state, wrongBinding)).toBeUndefined();
    expect(await f.store.consumeOAuthState(saved.state, wrongProvider)).toBeUndefined();

    const right = { provider: 'lightspeed-x' as const, browserBindingHash: saved.browserBindingHash, now };
    expect(await f.store.consumeOAuthState(saved.state, right)).toEqual(saved);
    expect(await f.store.consumeOAuthState(saved.state, right)).toBeUndefined();
  });

  it('does not hand out an expired state', async () => {
    const saved = state({ expiresAt: Date.now() - 1 });
    await f.store.saveOAuthState(saved);
    const binding = { provider: 'lightspeed-x' as const, browserBindingHash: saved.browserBindingHash };
    expect(await f.store.consumeOAuthState(saved.state, { ...binding, now: Date.now() })).toBeUndefined();
  });
});

describe('DynamoDbStore connect sessions', () => {
  async function session(expiresAt = Date.now() + 10 * MINUTE) {
    const id = unique('sess');
    await f.store.createConnectSession({
      id,
      provider: 'lightspeed-x',
      reference: 'tenant-2',
      createdAt: Date.now(),
      expiresAt,
      keepUntil: expiresAt + 10 * MINUTE,
    });
    return id;
  }

  it('starts attempts up to the limit, then none', async () => {
    const id = await session();
    for (let n = 0; n < 3; n++) {
      expect(await f.store.startConnectAttempt(id, Date.now(), 3)).toMatchObject({
        id,
        reference: 'tenant-2',
      });
    }
    expect(await f.store.startConnectAttempt(id, Date.now(), 3)).toBeUndefined();
  });

  it('starts no attempt once the session expired, yet an attempt started before can still complete it', async () => {
    const expiresAt = Date.now() + MINUTE;
    const id = await session(expiresAt);
    expect(await f.store.startConnectAttempt(id, expiresAt - 1, 10)).toBeDefined();
    expect(await f.store.startConnectAttempt(id, expiresAt, 10)).toBeUndefined();
    expect(await f.store.completeConnectSession(id)).toBe(true);
  });

  it('completes a session once; then it starts no attempt', async () => {
    const id = await session();
    expect(await f.store.completeConnectSession(id)).toBe(true);
    expect(await f.store.completeConnectSession(id)).toBe(false);
    expect(await f.store.startConnectAttempt(id, Date.now(), 10)).toBeUndefined();
  });
});

describe('DynamoDbStore health read', () => {
  it('reads one key that never exists, eventually consistent, and resolves', async () => {
    await f.store.ping();
    expect(f.requests).toEqual([
      { command: 'Get', input: expect.objectContaining({ Key: { pk: 'health', sk: 'health' } }) },
    ]);
    expect(f.requests[0]?.input.ConsistentRead).toBeUndefined();
  });
});
