/**
 * Two local-runtime processes share one DynamoDB endpoint and one provider: token fetches and the
 * sweep in both must never refresh one connection twice at once (asserted at the simulator), and
 * nothing either process logs may contain a token, a code, the client secret or an API key.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OAuthSimulator } from '../../functions/local/simulator/profiles';
import {
  type BrokerPair,
  type BrokerProcess,
  connectThroughProcess,
  startBrokerPair,
} from '../helpers/process';

const API_KEY = 'multi-process-key-0123456789';
const CLIENT_ID = 'race-client';
const CLIENT_SECRET = 'race-client-secret-9f8e7d6c5b4a';
const ACCOUNTS = ['race-a', 'race-b', 'race-c'];

let pair: BrokerPair;
let simulator: OAuthSimulator;
let brokers: readonly BrokerProcess[] = [];
/** Every secret value the test saw; none may appear in any log line. */
const secrets = new Set<string>([API_KEY, CLIENT_SECRET]);

const auth = { authorization: `Bearer ${API_KEY}` };

async function connectThrough(broker: BrokerProcess, account: string) {
  secrets.add(await connectThroughProcess(broker, simulator, API_KEY, account));
}

beforeAll(async () => {
  pair = await startBrokerPair({
    apiKey: API_KEY,
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    // Shorter than the default min_valid_seconds and the sweep margin: every fetch and sweep wants a refresh.
    simulator: { accessTokenTtlSeconds: 60, tokenLatencyMs: 40 },
    env: {
      SWEEP_INTERVAL_SECONDS: '1',
      REFRESH_MARGIN_SECONDS: '900',
      // The most refresh pressure: no cooldown, every wanting caller may refresh.
      REFRESH_COOLDOWN_SECONDS: '0',
      POWERTOOLS_LOG_LEVEL: 'DEBUG',
    },
  });
  ({ simulator, brokers } = pair);
  for (const account of ACCOUNTS) await connectThrough(brokers[0]!, account);
}, 90_000);

afterAll(() => pair?.stop());

describe('two local-runtime processes on one DynamoDB endpoint', () => {
  it('never run two refreshes of one connection at once, while both fetch and sweep', async () => {
    simulator.resetStats();
    const statuses: number[] = [];
    const deadline = Date.now() + 4_000;
    const worker = async (n: number) => {
      for (let i = 0; Date.now() < deadline; i++) {
        const broker = brokers[(n + i) % 2]!;
        const account = ACCOUNTS[(n + i) % ACCOUNTS.length]!;
        const query = i % 5 === 0 ? '?force_refresh=true' : '';
        const response = await fetch(`${broker.url}/tokens/lightspeed-x/${account}${query}`, {
          headers: auth,
        });
        const body = (await response.json()) as { access_token?: string };
        if (body.access_token !== undefined) secrets.add(body.access_token);
        statuses.push(response.status);
      }
    };
    await Promise.all(Array.from({ length: 12 }, (_, n) => worker(n)));
    const stats = simulator.stats();
    expect(statuses.length).toBeGreaterThan(20);
    expect(statuses.filter((status) => status !== 200)).toEqual([]);
    expect(stats.refreshes).toBeGreaterThan(10);
    expect(stats.maxConcurrentRefreshesPerAccount).toBe(1);
    expect(stats.revokedRefreshTokenUses).toBe(0);
    expect(stats.invalidGrants).toBe(0);
    for (const account of ACCOUNTS) {
      const metadata = (await (
        await fetch(`${brokers[1]!.url}/connections/lightspeed-x/${account}`, { headers: auth })
      ).json()) as {
        status: string;
      };
      expect(metadata.status).toBe('active');
    }
  }, 60_000);

  it('logs no token, code, client secret, API key or Authorization header', async () => {
    const broker = brokers[1]!;
    const personal = 'personal-token-must-not-leak-42';
    secrets.add(personal);
    await fetch(`${broker.url}/personal-tokens/lightspeed-x/race-a`, {
      method: 'PUT',
      headers: auth,
      body: JSON.stringify({ token: personal, name: 'script' }),
    });
    await fetch(`${broker.url}/tokens/lightspeed-x/race-a`, { headers: auth });
    await fetch(`${broker.url}/tokens/lightspeed-x/NOT_VALID`, { headers: auth });
    await fetch(`${broker.url}/connect-sessions`, {
      method: 'POST',
      headers: auth,
      body: '{"provider":"lightspeed-x","return_to":"ftp://x"}',
    });
    simulator.revokeAccount('race-c');
    await fetch(`${broker.url}/tokens/lightspeed-x/race-c?force_refresh=true`, { headers: auth });
    await fetch(`${broker.url}/personal-tokens/lightspeed-x/race-a`, { method: 'DELETE', headers: auth });
    await new Promise((resolve) => setTimeout(resolve, 1500));

    const logs = brokers.map((b) => b.output()).join('\n');
    // The log really carries the flow (else this test would prove nothing).
    expect(logs).toContain('token refreshed');
    expect(logs).toContain('token handed out');
    expect(logs).toContain('connection needs reauthorization');
    for (const secret of secrets) {
      if (secret === '' || secret === API_KEY) continue;
      expect(logs.includes(secret), `a secret of length ${secret.length} appears in the logs`).toBe(false);
    }
    // The API key is printed once in each start-up banner (that is its purpose), never in a log line.
    const jsonLines = logs.split('\n').filter((line) => line.startsWith('{'));
    expect(jsonLines.length).toBeGreaterThan(10);
    for (const line of jsonLines) {
      expect(line).not.toContain(API_KEY);
      expect(line.toLowerCase()).not.toMatch(/"authorization"|bearer /);
      // Provider tokens and codes are 40+ random alphanumerics; nothing like that belongs in a log.
      expect(line).not.toMatch(/[A-Za-z0-9]{40,}/);
    }
  }, 30_000);

  it('gives every log line the context of its own invocation, though requests and sweeps overlap', async () => {
    const lines = brokers
      .flatMap((b) => b.output().split('\n'))
      .filter((line) => line.startsWith('{'))
      .map(
        (line) =>
          JSON.parse(line) as { message: string; function_name?: string; function_request_id?: string },
      );
    const functionOf = (message: string) =>
      new Set(lines.filter((l) => l.message === message).map((l) => l.function_name));
    // The first test ran 12 callers against both processes while each swept every second.
    expect(functionOf('token handed out')).toEqual(new Set(['token-broker-tokens']));
    expect(functionOf('sweep finished')).toEqual(new Set(['token-broker-sweep']));
    const handedOut = lines.filter((l) => l.message === 'token handed out');
    // One audit line per fetch: each request id appears on exactly one of them.
    const ids = handedOut.map((l) => l.function_request_id);
    expect(ids.every((id) => typeof id === 'string')).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('keeps every personal token when both processes store them at once on the shared folder', async () => {
    const accounts = Array.from({ length: 40 }, (_, i) => `shared-folder-${i}`);
    const puts = await Promise.all(
      accounts.map((account, i) =>
        fetch(`${brokers[i % 2]!.url}/personal-tokens/xentral/${account}`, {
          method: 'PUT',
          headers: { ...auth, 'content-type': 'application/json' },
          body: JSON.stringify({ token: `pat_${account}_0123456789`, name: 'shared folder' }),
        }).then((response) => response.status),
      ),
    );
    expect(puts.every((status) => status === 200 || status === 201)).toBe(true);
    const fetched = await Promise.all(
      accounts.map(async (account, i) => {
        const response = await fetch(`${brokers[(i + 1) % 2]!.url}/tokens/xentral/${account}`, {
          headers: auth,
        });
        return ((await response.json()) as { access_token?: string }).access_token;
      }),
    );
    expect(fetched).toEqual(accounts.map((account) => `pat_${account}_0123456789`));
  }, 30_000);

  it('stops cleanly on Ctrl-C', async () => {
    const [first] = brokers;
    expect(await first!.stop('SIGINT')).toBe(0);
    expect(first!.output()).toContain('SIGINT: stopping the broker');
    // The other process keeps serving from the shared table.
    const response = await fetch(`${brokers[1]!.url}/tokens/lightspeed-x/race-b`, { headers: auth });
    expect(response.status).toBe(200);
  }, 30_000);
});
