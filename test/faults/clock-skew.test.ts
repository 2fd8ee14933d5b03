/**
 * Two broker processes on one table whose wall clocks differ by 60 s (the second one's Date is
 * shifted by test/helpers/skewed-clock.mjs). The lease must fence the provider call without
 * comparing one host's clock with the other's: the simulator, on the real clock, counts refreshes
 * of one connection that overlap, and refresh tokens presented after they were rotated away.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EmbeddedDynamoDb, startEmbeddedDynamoDb } from '../../functions/local/dynamodb';
import { LightspeedSimulator } from '../../functions/local/simulator';
import {
  type BrokerProcess,
  connectThroughProcess,
  freePort,
  simulatorBrokerEnv,
  spawnBroker,
} from '../helpers/process';

const API_KEY = 'clock-skew-key-0123456789abc';
const CLIENT_ID = 'skew-client';
const CLIENT_SECRET = 'skew-client-secret-0a1b2c3d4e';
const ACCOUNTS = ['skew-a', 'skew-b', 'skew-c'];
const SKEW_MS = 60_000;
const auth = { authorization: `Bearer ${API_KEY}` };

let dynamodb: EmbeddedDynamoDb;
let simulator: LightspeedSimulator;
let brokers: BrokerProcess[] = [];
let dataDir: string;

beforeAll(async () => {
  dynamodb = await startEmbeddedDynamoDb(undefined);
  const ports = [await freePort(), await freePort()];
  simulator = new LightspeedSimulator({
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    redirectUris: ports.map((port) => `http://localhost:${port}/oauth/lightspeed-x/callback`),
    // Slow answers keep each refresh open long enough for the other process to try one.
    tokenLatencyMs: 150,
  });
  const urls = simulator.urls(await simulator.listen());
  dataDir = await mkdtemp(join(tmpdir(), 'broker-skew-'));
  brokers = await Promise.all(
    ports.map((port, index) =>
      spawnBroker(
        {
          ...simulatorBrokerEnv({
            port,
            apiKey: API_KEY,
            dataDir,
            dynamodbEndpoint: dynamodb.endpoint,
            clientId: CLIENT_ID,
            clientSecret: CLIENT_SECRET,
            urls,
          }),
          SWEEP_INTERVAL_SECONDS: '3600',
          // Every forced call wants its own refresh: the most pressure on the lease.
          REFRESH_COOLDOWN_SECONDS: '0',
          POWERTOOLS_LOG_LEVEL: 'WARN',
        },
        30_000,
        index === 1 ? { clockSkewMs: SKEW_MS } : {},
      ),
    ),
  );
  for (const account of ACCOUNTS) await connectThroughProcess(brokers[0]!, simulator, API_KEY, account);
}, 90_000);

afterAll(async () => {
  await Promise.all(brokers.map((broker) => broker.stop()));
  await simulator?.close();
  await dynamodb?.close();
  if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
});

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
