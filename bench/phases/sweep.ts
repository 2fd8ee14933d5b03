/**
 * The sweep, for real: createServices + sweep() on the run's dynalite against the Lightspeed
 * simulator (its own process, bench/children/simulator.ts), with refresh tokens it issued
 * (authorization-code grants, as a connect does).
 *
 * - RCU: the same 100 due connections among 1,000, 10,000 and 100,000 connections (three tables;
 *   --quick: 20,000 instead of 100,000); the read capacity DynamoDB reports (ReturnConsumedCapacity)
 *   for one sweep of each. docs/capacity.md builds on the ratio: a sweep's reads follow what is due,
 *   not how many connections exist.
 * - Time: one sweep refreshing 1,000 due connections with 50 ms added to every token call, at the
 *   configured concurrency; every answer of the token endpoint is counted (429s, peak concurrency,
 *   peak calls per second).
 * - Interference: token fetches through the Lambda handler in another process (bench/children/fetch.ts,
 *   as a tokens function beside the sweep function), their p99 while the first timed sweep runs
 *   against their p99 just before it, on the same dynalite.
 */
import { join } from 'node:path';
import { BatchWriteCommand, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import pMap from 'p-map';
import { createServices } from '../../functions/services';
import { sweepShardOf } from '../../shared/adapters/dynamodb/schema';
import type { DynamoDbStore } from '../../shared/adapters/dynamodb/store';
import { fetchHttpClient } from '../../shared/adapters/http/fetch-client';
import { FileSecretStore } from '../../shared/adapters/secrets/file-store';
import type { ConnectionKey } from '../../shared/domain/model';
import { systemClock, type TokenCipher } from '../../shared/domain/ports';
import { refreshDeadline, renewalOf, UNSTATED_RENEWAL } from '../../shared/domain/renewal';
import type { SweepReport } from '../../shared/domain/sweep';
import { logEventSink } from '../../shared/domain/telemetry';
import type { Observed } from '../children/simulator';
import { type CapacityMeter, meterCapacity } from '../lib/capacity';
import { benchTempDir, startChild } from '../lib/child';
import {
  benchConfig,
  countingLogger,
  fakeToken,
  localClients,
  openStore,
  SIMULATOR_APP,
} from '../lib/runtime';
import { median } from '../lib/stats';

const { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, scope: SCOPE } = SIMULATOR_APP;
/** Due: expires in 5 minutes, inside the default 15-minute refresh margin. */
const DUE_IN_MS = 5 * 60_000;

/** How long fetches run alone before the sweep starts (about a 1,000-due sweep's duration here). */
const INTERFERENCE_BASELINE_MS = 6_000;

const pkOf = (key: ConnectionKey) => `conn#${key.provider}#${key.account}`;
const lightspeed = (account: string): ConnectionKey => ({ provider: 'lightspeed-x', account });

/**
 * The item DynamoDbStore.saveAuthorization writes for a new connection (version 1). `sealed` reuses
 * sealed tokens of the same size for connections the sweep never opens (seeding 100,000 is then
 * bounded by DynamoDB writes, not by sealing).
 */
async function connectionItem(
  cipher: TokenCipher,
  key: ConnectionKey,
  expiresAt: number,
  now: number,
  sealed?: { accessToken: string; refreshToken: string },
) {
  const pk = pkOf(key);
  // As the store writes it: a Lightspeed refresh token without a stated expiry, renewed at the cadence.
  const { renewBy } = renewalOf({ accessToken: 'seed', expiresAt }, undefined, UNSTATED_RENEWAL, now);
  return {
    pk,
    sk: 'oauth',
    provider: key.provider,
    account: key.account,
    source: 'oauth',
    status: 'active',
    accessToken: sealed?.accessToken ?? (await cipher.seal(fakeToken(), key)),
    refreshToken: sealed?.refreshToken ?? (await cipher.seal(fakeToken(), key)),
    expiresAt,
    scope: SCOPE,
    connectedAt: now,
    failureCount: 0,
    gsiProvider: key.provider,
    gsiAccount: `${key.account}#oauth`,
    sweepShard: sweepShardOf(pk),
    renewBy,
    sweepAt: refreshDeadline({ expiresAt, renewBy }),
    version: 1,
  };
}

interface SweepTable {
  readonly table: string;
  readonly store: DynamoDbStore;
  readonly cipher: TokenCipher;
  readonly meter: CapacityMeter;
  sweep(): Promise<SweepReport>;
  readonly logger: ReturnType<typeof countingLogger>;
}

export interface SweepOptions {
  readonly endpoint: string;
  /** Connections in the small, large and huge table (1,000, 10,000 and 100,000). */
  readonly small: number;
  readonly large: number;
  readonly huge: number;
  /** Due connections in both. */
  readonly due: number;
  /** Due connections of the timed sweep (1,000) and its repeats. */
  readonly timedDue: number;
  readonly timedRuns: number;
  readonly tokenLatencyMs: number;
  /** CPU time of the run's dynalite process (µs, user + system). */
  readonly dynamoCpu: () => Promise<number>;
  /** Token fetches in another process: started before, stopped after a measured window. */
  readonly fetchLoop: {
    start(): Promise<void>;
    stop(): Promise<{ fetches: number; p50: number; p99: number }>;
  };
  readonly log: (line: string) => void;
}

export async function measureSweep(options: SweepOptions) {
  const { endpoint, log } = options;
  const dataDir = await benchTempDir('sweep-');
  const sim = await startChild<{ urls: { authorizeUrl: string; tokenUrl: string; apiBaseUrl: string } }>(
    'children/simulator.ts',
  );
  const plain = localClients(endpoint);
  const metered = localClients(endpoint);
  const meter = meterCapacity(metered.client);

  const open = async (table: string): Promise<SweepTable> => {
    const { cipher } = await openStore(plain.client, plain.documents, table, dataDir);
    const { store } = await openStore(metered.client, metered.documents, table, dataDir);
    const logger = countingLogger();
    const urls = sim.ready.urls;
    const config = benchConfig({
      BROKER_TABLE_NAME: table,
      BROKER_DATA_DIR: dataDir,
      LIGHTSPEED_X_CLIENT_ID: CLIENT_ID,
      LIGHTSPEED_X_CLIENT_SECRET: CLIENT_SECRET,
      LIGHTSPEED_X_AUTHORIZE_URL: urls.authorizeUrl,
      LIGHTSPEED_X_TOKEN_URL: urls.tokenUrl,
      LIGHTSPEED_X_API_BASE_URL: urls.apiBaseUrl,
    });
    const services = createServices({
      config,
      store,
      secrets: new FileSecretStore(join(dataDir, 'secrets.json')),
      clientSecret: async () => CLIENT_SECRET,
      http: fetchHttpClient(),
      clock: systemClock,
      logger,
      owner: `bench-sweep:${process.pid}`,
      events: logEventSink(logger),
      metrics: { count: () => undefined },
    });
    return { table, store, cipher, meter, logger, sweep: () => services.sweep() };
  };

  /** Due connections through the store, with refresh tokens the simulator knows. */
  const seedDue = async (target: SweepTable, accounts: readonly string[]) => {
    const minted = await sim.call<{ accessToken: string; refreshToken: string }[]>('mint', accounts);
    const now = Date.now();
    await pMap(
      accounts,
      async (account, i) => {
        await target.store.saveAuthorization(
          lightspeed(account),
          { ...minted[i]!, expiresAt: now + DUE_IN_MS, scope: SCOPE },
          {
            now,
            renewal: renewalOf({ accessToken: 'seed', expiresAt: now }, undefined, UNSTATED_RENEWAL, now),
          },
        );
      },
      { concurrency: 16 },
    );
  };

  /** Connections not due (expiring in 1 to 24 hours), written 25 at a time. */
  const seedIdle = async (target: SweepTable, count: number, prefix: string) => {
    const now = Date.now();
    const probe = lightspeed(`${prefix}-sealed`);
    const sealed = {
      accessToken: await target.cipher.seal(fakeToken(), probe),
      refreshToken: await target.cipher.seal(fakeToken(), probe),
    };
    const batches: Record<string, unknown>[][] = [];
    let batch: Record<string, unknown>[] = [];
    for (let i = 0; i < count; i++) {
      const expiresAt = now + 3600_000 + Math.floor(Math.random() * 23 * 3600_000);
      batch.push(await connectionItem(target.cipher, lightspeed(`${prefix}-${i}`), expiresAt, now, sealed));
      if (batch.length === 25) {
        batches.push(batch);
        batch = [];
      }
    }
    if (batch.length > 0) batches.push(batch);
    await pMap(
      batches,
      async (items) => {
        let requests: { PutRequest: { Item: Record<string, unknown> } }[] = items.map((Item) => ({
          PutRequest: { Item },
        }));
        while (requests.length > 0) {
          const result = await plain.documents.send(
            new BatchWriteCommand({ RequestItems: { [target.table]: requests } }),
          );
          requests = (result.UnprocessedItems?.[target.table] ?? []) as typeof requests;
        }
      },
      { concurrency: 4 },
    );
  };

  /** Fails if a BatchWrite item would not look like one the store writes. */
  const checkItemShape = async () => {
    const probe = await open('bench-sweep-shape');
    const key = lightspeed('shape-probe');
    const now = Date.now();
    await probe.store.saveAuthorization(
      key,
      { accessToken: fakeToken(), refreshToken: fakeToken(), expiresAt: now + DUE_IN_MS, scope: SCOPE },
      { now, renewal: renewalOf({ accessToken: 'seed', expiresAt: now }, undefined, UNSTATED_RENEWAL, now) },
    );
    const stored = await plain.documents.send(
      new GetCommand({ TableName: probe.table, Key: { pk: pkOf(key), sk: 'oauth' }, ConsistentRead: true }),
    );
    const ours = await connectionItem(probe.cipher, key, now + DUE_IN_MS, now);
    const names = (item: object) => Object.keys(item).sort().join(',');
    if (
      stored.Item === undefined ||
      names(stored.Item) !== names(ours) ||
      stored.Item.sweepShard !== ours.sweepShard
    )
      throw new Error(
        `the seeded item no longer matches DynamoDbStore.saveAuthorization:\n store: ${names(stored.Item ?? {})} shard ${stored.Item?.sweepShard}\n bench: ${names(ours)} shard ${ours.sweepShard}`,
      );
  };

  const expectRefreshed = (report: SweepReport, expected: number, what: string, target: SweepTable) => {
    if (report.refreshed !== expected || report.failed !== 0 || report.due !== expected)
      throw new Error(
        `${what}: expected ${expected} refreshed, got ${JSON.stringify(report)}; ${target.logger.errors.slice(0, 3).join(' | ')}`,
      );
  };

  try {
    await checkItemShape();

    // --- Read capacity: the same due connections among `small` and among `large` ------------------
    const dueAccounts = Array.from({ length: options.due }, (_, i) => `due-${i}`);
    const rcu: Record<
      'small' | 'large' | 'huge',
      { readUnits: number; writeUnits: number; byCommand: object; seedSeconds: number }
    > = {
      small: { readUnits: 0, writeUnits: 0, byCommand: {}, seedSeconds: 0 },
      large: { readUnits: 0, writeUnits: 0, byCommand: {}, seedSeconds: 0 },
      huge: { readUnits: 0, writeUnits: 0, byCommand: {}, seedSeconds: 0 },
    };
    for (const size of ['small', 'large', 'huge'] as const) {
      const count = options[size];
      const started = performance.now();
      const target = await open(`bench-sweep-${count}`);
      await seedDue(target, dueAccounts);
      await seedIdle(target, count - options.due, 'idle');
      const seedSeconds = (performance.now() - started) / 1000;
      log(`  seeded ${count} connections (${options.due} due) in ${seedSeconds.toFixed(1)} s`);
      meter.reset();
      const report = await target.sweep();
      expectRefreshed(report, options.due, `sweep of ${count}`, target);
      rcu[size] = {
        readUnits: meter.readUnits,
        writeUnits: meter.writeUnits,
        byCommand: meter.byCommand,
        seedSeconds,
      };
      log(`  sweep over ${count}: ${meter.readUnits} read units, ${meter.writeUnits} write units`);
    }

    // --- Time: 1,000 due with token-call latency, at the configured concurrency -----------------------
    const timed = await open('bench-sweep-timed');
    const timedAccounts = Array.from({ length: options.timedDue }, (_, i) => `timed-${i}`);
    let started = performance.now();
    await seedDue(timed, timedAccounts);
    log(
      `  seeded ${options.timedDue} due connections in ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );
    await sim.call('latency', options.tokenLatencyMs);
    const seconds: number[] = [];
    const runs: {
      seconds: number;
      maxInFlight: number;
      peakPerSecond: number;
      statuses: Record<number, number>;
      dynaliteBusy: number;
      brokerBusy: number;
    }[] = [];
    let provider429s = 0;
    const none = { fetches: 0, p50: Number.NaN, p99: Number.NaN };
    const interference = { without: none, during: none };
    for (let run = 0; run < options.timedRuns; run++) {
      if (run > 0) {
        // Due again: the refreshed tokens expire in 24 h; move them back inside the margin, and their
        // refresh back past the refresh cooldown (time passing moves both).
        const now = Date.now();
        await pMap(
          timedAccounts,
          (account) =>
            plain.documents.send(
              new UpdateCommand({
                TableName: timed.table,
                Key: { pk: pkOf(lightspeed(account)), sk: 'oauth' },
                UpdateExpression: 'SET expiresAt = :at, sweepAt = :at, refreshedAt = :refreshed',
                ExpressionAttributeValues: { ':at': now + DUE_IN_MS, ':refreshed': now - 3_600_000 },
              }),
            ),
          { concurrency: 16 },
        );
      }
      await sim.call('reset');
      if (run === 0) {
        // Fetches alone for about as long as a sweep takes (the floor below), then with the sweep.
        await options.fetchLoop.start();
        await new Promise((resolve) => setTimeout(resolve, INTERFERENCE_BASELINE_MS));
        interference.without = await options.fetchLoop.stop();
        await options.fetchLoop.start();
      }
      const dynamoBefore = await options.dynamoCpu();
      const brokerBefore = process.cpuUsage();
      started = performance.now();
      const report = await timed.sweep();
      const elapsed = (performance.now() - started) / 1000;
      if (run === 0) {
        interference.during = await options.fetchLoop.stop();
        log(
          `  token fetches in another process: p99 ${interference.without.p99.toFixed(2)} ms alone (${interference.without.fetches}), ${interference.during.p99.toFixed(2)} ms during the sweep (${interference.during.fetches})`,
        );
      }
      const brokerCpu = process.cpuUsage(brokerBefore);
      const brokerBusy = (brokerCpu.user + brokerCpu.system) / 1e6 / elapsed;
      const dynaliteBusy = ((await options.dynamoCpu()) - dynamoBefore) / 1e6 / elapsed;
      expectRefreshed(report, options.timedDue, 'timed sweep', timed);
      const seen = await sim.call<Observed>('observed');
      if (seen.maxConcurrentRefreshesPerAccount > 1 || seen.revokedRefreshTokenUses > 0)
        throw new Error(`the sweep refreshed a connection twice at once: ${JSON.stringify(seen)}`);
      seconds.push(elapsed);
      provider429s += seen.statuses[429] ?? 0;
      runs.push({
        seconds: elapsed,
        maxInFlight: seen.maxInFlight,
        peakPerSecond: seen.peakPerSecond,
        statuses: seen.statuses,
        // Share of one core the sweeping process and dynalite used during the sweep.
        dynaliteBusy,
        brokerBusy,
      });
      log(
        `  sweep of ${options.timedDue} due: ${elapsed.toFixed(2)} s, token calls at most ${seen.maxInFlight} at once and ${seen.peakPerSecond}/s, statuses ${JSON.stringify(seen.statuses)}, CPU: sweeping process ${(100 * brokerBusy).toFixed(0)} %, dynalite ${(100 * dynaliteBusy).toFixed(0)} % of a core`,
      );
    }
    const concurrency = benchConfig().sweepConcurrency;
    return {
      rcu,
      sweep_rcu_ratio: rcu.large.readUnits / rcu.small.readUnits,
      sweep_read_ratio_100k: rcu.huge.readUnits / rcu.small.readUnits,
      fetch_p99_during_sweep_ratio: interference.during.p99 / interference.without.p99,
      fetch_during_sweep: interference,
      sweep_1000_due_seconds: median(seconds),
      provider_429s: provider429s,
      concurrency,
      runs,
      tokenEndpointPeakConcurrency: Math.max(...runs.map((run) => run.maxInFlight)),
      tokenEndpointPeakPerSecond: Math.max(...runs.map((run) => run.peakPerSecond)),
      dynaliteBusy: median(runs.map((run) => run.dynaliteBusy)),
      brokerBusy: median(runs.map((run) => run.brokerBusy)),
      /** The floor: every token call waits the latency, `concurrency` at a time. */
      floorSeconds: (options.timedDue / concurrency) * (options.tokenLatencyMs / 1000),
    };
  } finally {
    await sim.stop();
    plain.client.destroy();
    metered.client.destroy();
  }
}
