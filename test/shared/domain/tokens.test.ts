/**
 * TokenService over a recording DynamoDbStore (dynalite) and the real Refresher, with a scripted
 * token endpoint: which credential wins, and what each fetch reads and opens to find out.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { NotFoundError, ReauthorizationRequiredError } from '../../../shared/domain/errors';
import type { ConnectionKey } from '../../../shared/domain/model';
import {
  type HttpClient,
  type ProviderRequest,
  type SecretStore,
  systemClock,
} from '../../../shared/domain/ports';
import { personalTokenSecretName } from '../../../shared/domain/secret-names';
import { silentTelemetry } from '../../../shared/domain/telemetry';
import { TokenService } from '../../../shared/domain/tokens';
import {
  fixtureRefresher,
  renewalFor,
  SILENT_LOGGER,
  type StoreFixture,
  startStoreFixture,
  TEST_PROVIDERS,
} from '../../helpers/store';

const HOUR = 3_600_000;
const PREFIX = 'test/';
const logger = SILENT_LOGGER;
const providers = TEST_PROVIDERS;

/** Personal tokens in memory, by secret name. */
class MemorySecrets implements SecretStore {
  readonly values = new Map<string, string>();
  async get(name: string) {
    const value = this.values.get(name);
    return value === undefined ? undefined : { value, version: 'v1' };
  }
  async put(name: string, value: string) {
    this.values.set(name, value);
    return { version: 'v1' };
  }
  async delete(name: string) {
    this.values.delete(name);
  }
}

let f: StoreFixture;
let secrets: MemorySecrets;
/** The token endpoint's next answer, and the requests it got. */
let answer: { status: number; body: unknown };
let calls: ProviderRequest[];
let service: TokenService;

const http: HttpClient = async (request) => {
  calls.push(request);
  return {
    status: answer.status,
    headers: { get: () => null },
    body: JSON.stringify(answer.body),
    receivedAt: Date.now(),
  };
};

beforeAll(async () => {
  f = await startStoreFixture();
  secrets = new MemorySecrets();
  const telemetry = silentTelemetry(logger);
  const refresher = fixtureRefresher(f, {
    http,
    retryPolicy: {
      attempts: 1,
      baseDelayMs: 1,
      maxDelayMs: 1,
      attemptTimeoutMs: 1_000,
      budgetMs: 1_000,
      maxRetryAfterSeconds: 1,
    },
  });
  service = new TokenService({
    store: f.store,
    secrets,
    refresher,
    providers,
    clock: systemClock,
    logger,
    secretPrefix: PREFIX,
    telemetry,
  });
});
afterAll(() => f?.close());
beforeEach(() => {
  calls = [];
  answer = { status: 400, body: { error: 'invalid_grant' } };
});

const lightspeed = (account: string): ConnectionKey => ({ provider: 'lightspeed-x', account });
const fetchToken = (key: ConnectionKey, minValidSeconds = 60) =>
  service.getToken(key, { minValidSeconds, forceRefresh: false, caller: 'test' });

async function connectOAuth(key: ConnectionKey, expiresInMs = 24 * HOUR) {
  const now = Date.now();
  await f.store.saveAuthorization(
    key,
    { accessToken: `at-${key.account}`, refreshToken: `rt-${key.account}`, expiresAt: now + expiresInMs },
    { now, renewal: renewalFor(now) },
  );
}

async function storePersonal(key: ConnectionKey) {
  await secrets.put(personalTokenSecretName(PREFIX, key), `pat-${key.account}`);
  await f.store.putPersonal({ ...key, source: 'personal', secretVersion: 'v1', connectedAt: Date.now() });
}

/** The sort keys the store read, in order. */
const reads = () =>
  f.requests.filter((r) => r.command === 'Get').map((r) => (r.input.Key as { sk: string }).sk);

describe('TokenService.getToken', () => {
  it('answers an active, fresh OAuth connection with one GetItem and one opened token', async () => {
    const key = lightspeed('fresh');
    await connectOAuth(key);
    await storePersonal(key);
    const item = await f.rawItem(key, 'oauth');
    f.reset();

    const answer = await fetchToken(key);

    expect(answer).toMatchObject({ source: 'oauth', accessToken: 'at-fresh' });
    expect(f.requests.map((r) => r.command)).toEqual(['Get']);
    expect(reads()).toEqual(['oauth']);
    expect(f.cipher.opened).toEqual([item?.accessToken]);

    // The same token again: still one GetItem, and the opened token is reused.
    f.reset();
    expect(await fetchToken(key)).toMatchObject({ source: 'oauth', accessToken: 'at-fresh' });
    expect(reads()).toEqual(['oauth']);
    expect(f.cipher.opened).toEqual([]);
  });

  it('reads only the personal item for a provider without OAuth', async () => {
    const key: ConnectionKey = { provider: 'xentral', account: 'erp' };
    await storePersonal(key);
    f.reset();

    expect(await fetchToken(key)).toMatchObject({ source: 'personal', accessToken: 'pat-erp' });
    expect(f.requests.map((r) => r.command)).toEqual(['Get']);
    expect(reads()).toEqual(['personal']);
    expect(f.cipher.opened).toEqual([]);
  });

  it('falls back to the personal token when there is no OAuth connection', async () => {
    const key = lightspeed('personal-only');
    await storePersonal(key);
    f.reset();

    expect(await fetchToken(key)).toMatchObject({ source: 'personal', accessToken: 'pat-personal-only' });
    expect(reads()).toEqual(['oauth', 'personal']);
  });

  it('uses the personal token when the OAuth connection already needs reauthorization', async () => {
    const key = lightspeed('marked-dead');
    await connectOAuth(key);
    const connection = await f.store.getOAuth(key);
    await f.store.markReauthorizationRequired(key, {
      version: connection?.version ?? 0,
      error: 'invalid_grant',
      now: Date.now(),
    });
    await expect(fetchToken(key)).rejects.toBeInstanceOf(ReauthorizationRequiredError);
    await storePersonal(key);

    expect(await fetchToken(key)).toMatchObject({ source: 'personal' });
    expect(calls).toEqual([]);
  });

  it('falls back to the personal token when the refresh finds the OAuth connection dead', async () => {
    const key = lightspeed('dies-now');
    await connectOAuth(key, 10_000);
    await storePersonal(key);
    f.reset();

    const answer = await fetchToken(key, 300);

    expect(answer).toMatchObject({ source: 'personal', accessToken: 'pat-dies-now' });
    expect(calls).toHaveLength(1);
    expect(reads().at(-1)).toBe('personal');
    expect((await f.store.getOAuth(key))?.status).toBe('reauthorization_required');
  });

  it('answers reauthorization_required when the refresh finds the connection dead and there is no personal token', async () => {
    const key = lightspeed('dies-alone');
    await connectOAuth(key, 10_000);

    await expect(fetchToken(key, 300)).rejects.toBeInstanceOf(ReauthorizationRequiredError);
    expect(calls).toHaveLength(1);
  });

  it('answers not_found when the account has no credential, after reading both', async () => {
    f.reset();
    await expect(fetchToken(lightspeed('nobody'))).rejects.toBeInstanceOf(NotFoundError);
    expect(reads()).toEqual(['oauth', 'personal']);
  });
});
