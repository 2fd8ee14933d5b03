/**
 * Two broker processes on one table whose wall clocks differ by 60 s (the second one's Date is
 * shifted by test/helpers/skewed-clock.mjs). The lease must fence the provider call without
 * comparing one host's clock with the other's: the simulator, on the real clock, counts refreshes
 * of one connection that overlap, and refresh tokens presented after they were rotated away.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OAuthSimulator } from '../../functions/local/simulator/profiles';
import {
  type BrokerPair,
  type BrokerProcess,
  connectThroughProcess,
  startBrokerPair,
} from '../helpers/process';

const API_KEY = 'clock-skew-key-0123456789abc';
const ACCOUNTS = ['skew-a', 'skew-b', 'skew-c'];
const SKEW_MS = 60_000;
const auth = { authorization: `Bearer ${API_KEY}` };

let pair: BrokerPair;
let simulator: OAuthSimulator;
let brokers: readonly BrokerProcess[];

beforeAll(async () => {
  pair = await startBrokerPair({
    apiKey: API_KEY,
    clientId: 'skew-client',
    clientSecret: 'skew-client-secret-0a1b2c3d4e',
    // Slow answers keep each refresh open long enough for the other process to try one.
    simulator: { tokenLatencyMs: 150 },
    env: {
      SWEEP_INTERVAL_SECONDS: '3600',
      // Every forced call wants its own refresh: the most pressure on the lease.
      REFRESH_COOLDOWN_SECONDS: '0',
      POWERTOOLS_LOG_LEVEL: 'WARN',
    },
    clockSkewMs: [undefined, SKEW_MS],
  });
  ({ simulator, brokers } = pair);
  for (const account of ACCOUNTS) await connectThroughProcess(brokers[0]!, simulator, API_KEY, account);
}, 90_000);

afterAll(() => pair?.stop());

describe('two processes whose clocks differ by 60 s', () => {
  it('never refresh one connection at the same time, and never present a rotated-away refresh token', async () => {
    // The skewed process really runs 60 s ahead: its tokens expire 60 s later than the other's.
    const expiries: number[] = [];
    for (const broker of brokers) {
      const response = await fetch(`${broker.url}/tokens/lightspeed-x/skew-a?force_refresh=true`, {
        headers: auth,
      });
      expiries.push(Date.parse(((await response.json()) as { expires_at: string }).expires_at));
    }
    expect(expiries[1]! - expiries[0]!).toBeGreaterThan(SKEW_MS - 5_000);

    simulator.resetStats();
    const statuses: number[] = [];
    const deadline = Date.now() + 6_000;
    const worker = async (n: number) => {
      for (let i = 0; Date.now() < deadline; i++) {
        const broker = brokers[(n + i) % 2]!;
        const account = ACCOUNTS[(n + i) % ACCOUNTS.length]!;
        const response = await fetch(`${broker.url}/tokens/lightspeed-x/${account}?force_refresh=true`, {
          headers: auth,
        });
        await response.arrayBuffer();
        statuses.push(response.status);
      }
    };
    await Promise.all(Array.from({ length: 8 }, (_, n) => worker(n)));

    const stats = simulator.stats();
    expect(stats.refreshes).toBeGreaterThan(6);
    expect(stats.maxConcurrentRefreshesPerAccount).toBe(1);
    expect(stats.revokedRefreshTokenUses).toBe(0);
    expect(stats.invalidGrants).toBe(0);
    // Callers that waited for the other process's refresh may get 503 (still in progress), never 409 or 500.
    expect(statuses.filter((status) => status !== 200 && status !== 503)).toEqual([]);
    for (const account of ACCOUNTS) {
      const response = await fetch(`${brokers[0]!.url}/connections/lightspeed-x/${account}`, {
        headers: auth,
      });
      expect(((await response.json()) as { status: string }).status).toBe('active');
    }
  }, 60_000);
});
