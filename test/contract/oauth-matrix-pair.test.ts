/**
 * The contract matrix's race across processes: for every OAuth provider of the registry, two
 * `npm start` processes on one table and one simulator fetch, force and sweep the same connections
 * at once. One refresh per connection at a time, never a used refresh token presented, nothing
 * secret in either process's log.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProviderSimulatorId } from '../../functions/local/simulator/profiles';
import { loadConfig } from '../../shared/config';
import { createProviders, PROVIDER_DEFINITIONS } from '../../shared/providers';
import { type BrokerPair, connectThroughProcess, startBrokerPair } from '../helpers/process';
import { accountFor } from './matrix';

const API_KEY = 'matrix-pair-api-key-0123456789';
const CLIENT_ID = 'matrix-client-id';
const CLIENT_SECRET = 'matrix-client-secret-do-not-log';
const auth = { authorization: `Bearer ${API_KEY}` };
const providers = createProviders(loadConfig({}));
const OAUTH_PROVIDERS = PROVIDER_DEFINITIONS.filter((definition) => definition.oauth !== undefined).map(
  (definition) => definition.id as ProviderSimulatorId,
);

describe.each(OAUTH_PROVIDERS)('%s: two broker processes on one table', (id) => {
  let pair: BrokerPair;
  // The API key is printed in each start-up banner (its purpose); log lines are checked for it below.
  const secrets = new Set<string>([CLIENT_SECRET]);
  const accounts: string[] = [];

  beforeAll(async () => {
    pair = await startBrokerPair({
      apiKey: API_KEY,
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      provider: id,
      // Shorter than the default min_valid_seconds: every fetch wants a refresh, in both processes.
      simulator: { accessTokenTtlSeconds: 60, tokenLatencyMs: 30 },
      env: { SWEEP_INTERVAL_SECONDS: '1', REFRESH_COOLDOWN_SECONDS: '0', POWERTOOLS_LOG_LEVEL: 'DEBUG' },
    });
    for (let n = 1; n <= 2; n++) {
      const account = accountFor(providers[id], pair.simulator, n);
      accounts.push(account);
      secrets.add(await connectThroughProcess(pair.brokers[0], pair.simulator, API_KEY, account, id));
    }
  }, 90_000);

  afterAll(() => pair?.stop());

  it('never runs two refreshes of one connection at once, nor presents a used refresh token', async () => {
    pair.simulator.resetStats();
    const statuses: number[] = [];
    const deadline = Date.now() + 2_500;
    const worker = async (n: number) => {
      for (let i = 0; Date.now() < deadline; i++) {
        const broker = pair.brokers[(n + i) % 2]!;
        const account = accounts[(n + i) % accounts.length]!;
        const query = i % 4 === 0 ? '?force_refresh=true' : '';
        const response = await fetch(`${broker.url}/tokens/${id}/${account}${query}`, { headers: auth });
        const body = (await response.json()) as { access_token?: string };
        if (body.access_token !== undefined) secrets.add(body.access_token);
        statuses.push(response.status);
      }
    };
    await Promise.all(Array.from({ length: 8 }, (_, n) => worker(n)));

    const stats = pair.simulator.stats();
    expect(statuses.length).toBeGreaterThan(10);
    expect(statuses.filter((status) => status !== 200)).toEqual([]);
    expect(stats.refreshes).toBeGreaterThan(4);
    expect(stats.maxConcurrentRefreshesPerAccount).toBe(1);
    expect(stats.revokedRefreshTokenUses).toBe(0);
    expect(stats.invalidGrants).toBe(0);
    // Wait for a sweep of the second process's own, then nothing secret may be in either log.
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    const logs = pair.brokers.map((broker) => broker.output()).join('\n');
    expect(logs).toContain('token refreshed');
    for (const secret of secrets) {
      expect(logs.includes(secret), `a secret of length ${secret.length} in the logs`).toBe(false);
    }
    const lines = logs.split('\n').filter((line) => line.startsWith('{'));
    expect(lines.length).toBeGreaterThan(5);
    for (const line of lines) {
      expect(line).not.toContain(API_KEY);
      expect(line.toLowerCase()).not.toMatch(/"authorization"|bearer /);
    }
  }, 60_000);
});
