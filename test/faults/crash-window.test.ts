/**
 * The refresh crash window: a process that dies after the provider rotated the refresh token but
 * before it wrote the new one leaves a lease that never completes. Once that lease runs out, the next
 * refresh presents the revoked token and meets invalid_grant; the broker must recognise the
 * unfinished lease and say so (`last_error: "refresh_interrupted"` and its own log line), not blame
 * the retailer. Two real local-runtime processes (`functions/local/main.ts`) share one dynalite, one
 * data directory (its keyring seals the tokens) and a standalone simulator; process A is SIGKILLed
 * mid-refresh and process B finds the wreck.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EmbeddedDynamoDb } from '../../functions/local/dynamodb';
import type { OAuthSimulator } from '../../functions/local/simulator/profiles';
import {
  type BrokerPair,
  type BrokerProcess,
  connectThroughProcess,
  startBrokerPair,
} from '../helpers/process';
import { expectCleanError, expireLease, readLease, waitFor } from './helpers';

const API_KEY = 'crash-window-key-0123456789';
const CLIENT_ID = 'crash-client';
const CLIENT_SECRET = 'crash-client-secret-5e4d3c2b1a';
const INTERRUPTED_LOG =
  'connection needs reauthorization: an earlier refresh died between the provider answer and the write';
const REFUSED_LOG = 'connection needs reauthorization: the provider refused the refresh token';

const auth = { authorization: `Bearer ${API_KEY}` };

let pair: BrokerPair;
let dynamodb: EmbeddedDynamoDb;
let simulator: OAuthSimulator;
let a: BrokerProcess;
let b: BrokerProcess;

const connectThrough = (broker: BrokerProcess, account: string) =>
  connectThroughProcess(broker, simulator, API_KEY, account);

const fetchToken = (broker: BrokerProcess, account: string) =>
  fetch(`${broker.url}/tokens/lightspeed-x/${account}?force_refresh=true`, { headers: auth });

async function metadata(broker: BrokerProcess, account: string) {
  const response = await fetch(`${broker.url}/connections/lightspeed-x/${account}`, { headers: auth });
  return (await response.json()) as { status: string; last_error: string | null };
}

beforeAll(async () => {
  pair = await startBrokerPair({
    apiKey: API_KEY,
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    env: {
      SWEEP_INTERVAL_SECONDS: '3600',
      // Each test refreshes right after the last refresh and means it.
      REFRESH_COOLDOWN_SECONDS: '0',
      POWERTOOLS_LOG_LEVEL: 'INFO',
    },
  });
  ({ dynamodb, simulator } = pair);
  [a, b] = pair.brokers;
}, 60_000);

// A is killed by the first test; stopping it again is harmless.
afterAll(() => pair?.stop('SIGKILL'));

describe('a process killed between the provider answer and the token write', () => {
  it('leaves a lease that, once expired, makes the next refresh mark the connection refresh_interrupted', async () => {
    await connectThrough(a, 'crash-store');
    simulator.resetStats();
    // The provider rotates the refresh token, then holds its answer back.
    simulator.injectFault({ kind: 'hang', ms: 10_000, afterProcessing: true, grant: 'refresh_token' });
    const doomed = fetchToken(a, 'crash-store').then(
      (response) => response.status,
      () => 'connection lost' as const,
    );
    await waitFor('the provider to rotate the refresh token', () => simulator.stats().refreshes === 1);
    // A holds the lease and the only copy of the new tokens is in flight to it.
    expect((await readLease(dynamodb.endpoint, 'crash-store')).leaseOwner).toMatch(/^local:/);

    await a.stop('SIGKILL');
    expect(a.child.signalCode).toBe('SIGKILL');
    expect(await doomed).toBe('connection lost');
    simulator.clearFaults();

    // Stands in for time passing: the dead process's lease (~27 s) runs out.
    const lease = await expireLease(dynamodb.endpoint, 'crash-store');
    expect(lease.leaseUntil).toBeGreaterThan(Date.now());

    const refused = await fetchToken(b, 'crash-store');
    expect(refused.status).toBe(409);
    expectCleanError(await refused.json(), 'reauthorization_required');
    expect(await metadata(b, 'crash-store')).toMatchObject({
      status: 'reauthorization_required',
      last_error: 'refresh_interrupted',
    });
    await waitFor('B to log the interrupted refresh', () => b.output().includes(INTERRUPTED_LOG), {
      timeoutMs: 5_000,
    });
    const line = b
      .output()
      .split('\n')
      .find((l) => l.includes(INTERRUPTED_LOG));
    expect(JSON.parse(line ?? '{}')).toMatchObject({
      level: 'WARN',
      provider: 'lightspeed-x',
      account: 'crash-store',
      reason: 'refresh_interrupted',
    });

    // The revoked token was presented once; after the mark the provider is left alone.
    const stats = simulator.stats();
    expect(stats.revokedRefreshTokenUses).toBe(1);
    expect((await fetchToken(b, 'crash-store')).status).toBe(409);
    expect(simulator.stats().tokenCalls).toBe(stats.tokenCalls);
  }, 40_000);

  it('marks a revoked connection invalid_grant, not refresh_interrupted, when its last lease was released normally', async () => {
    await connectThrough(b, 'control-store');
    // A normal refresh: lease taken, tokens written, lease released.
    expect((await fetchToken(b, 'control-store')).status).toBe(200);
    expect(await readLease(dynamodb.endpoint, 'control-store')).toEqual({
      leaseOwner: undefined,
      leaseUntil: undefined,
    });

    simulator.revokeAccount('control-store');
    const refused = await fetchToken(b, 'control-store');
    expect(refused.status).toBe(409);
    expectCleanError(await refused.json(), 'reauthorization_required');
    expect(await metadata(b, 'control-store')).toMatchObject({
      status: 'reauthorization_required',
      last_error: 'invalid_grant',
    });
    await waitFor('B to log the refused refresh', () => b.output().includes(REFUSED_LOG), {
      timeoutMs: 5_000,
    });
    const lines = b.output().split('\n');
    expect(lines.some((l) => l.includes(INTERRUPTED_LOG) && l.includes('control-store'))).toBe(false);
  }, 30_000);
});
