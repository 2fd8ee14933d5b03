/**
 * The load test behind `npm run load` (load/run.ts) and test/faults/load-quick.test.ts: autocannon
 * against an in-process local runtime in demo mode, with many connected accounts whose short-lived
 * tokens make the sweep and on-demand refreshes (min_valid_seconds close to the lifetime, some
 * force_refresh) run — and race — throughout. It passes only with zero failed requests and zero
 * double refreshes, as the simulator sees them: never two refreshes of one account at once, never a
 * revoked (rotated-away) refresh token presented, never invalid_grant.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import pMap from 'p-map';
import { startEmbeddedDynamoDb } from '../functions/local/dynamodb';
import { type LocalBroker, startLocalBroker } from '../functions/local/runtime';
import type { SweepReport } from '../shared/domain/sweep';

export interface LoadOptions {
  /** Seconds of sustained load. */
  readonly durationSeconds: number;
  /** Concurrent HTTP connections (clients). */
  readonly connections: number;
  /** Connected accounts the requests spread over. */
  readonly accounts: number;
  /** Lifetime of the simulator's access tokens. */
  readonly tokenTtlSeconds: number;
  /** REFRESH_MARGIN_SECONDS: the sweep refreshes tokens expiring within this. */
  readonly refreshMarginSeconds: number;
  /** SWEEP_INTERVAL_SECONDS. */
  readonly sweepIntervalSeconds: number;
  /** Share of requests asking for min_valid_seconds close to the lifetime (an on-demand refresh). */
  readonly demandingShare: number;
  /** Share of requests with force_refresh=true. */
  readonly forcedShare: number;
  /** Where to write the figures as JSON; undefined: nowhere. */
  readonly resultsFile?: string | undefined;
  /** Progress lines; default silent. */
  readonly log?: (line: string) => void;
}

export const DEFAULT_LOAD_OPTIONS: LoadOptions = {
  durationSeconds: 20,
  connections: 50,
  accounts: 200,
  // Due for the sweep 5 s after each refresh: even a 5 s run sees every kind of refresh.
  tokenTtlSeconds: 30,
  refreshMarginSeconds: 25,
  sweepIntervalSeconds: 1,
  demandingShare: 0.05,
  forcedShare: 0.005,
};

/** What a run measured; also the shape of load/results.json. */
export interface LoadFigures {
  readonly startedAt: string;
  readonly options: Omit<LoadOptions, 'log' | 'resultsFile'>;
  readonly requests: {
    readonly total: number;
    readonly perSecond: number;
    readonly non2xx: number;
    readonly errors: number;
    readonly timeouts: number;
    readonly stale: number;
    readonly demanding: number;
    readonly forced: number;
    readonly statusCodes: Readonly<Record<string, number>>;
  };
  readonly latencyMs: {
    readonly p50: number;
    readonly p90: number;
    readonly p99: number;
    readonly max: number;
    readonly mean: number;
  };
  readonly provider: {
    readonly refreshes: number;
    readonly refreshAttempts: number;
    readonly maxConcurrentRefreshesPerAccount: number;
    readonly revokedRefreshTokenUses: number;
    readonly invalidGrants: number;
    readonly accountsRefreshed: number;
  };
  readonly sweep: {
    readonly runs: number;
    readonly due: number;
    readonly refreshed: number;
    readonly alreadyFresh: number;
    readonly failed: number;
  };
  readonly connections: { readonly active: number; readonly reauthorizationRequired: number };
  readonly passed: boolean;
  readonly failures: readonly string[];
}

const API_KEY = 'load-test-api-key-0123456789abcdef';

const demandingSeconds = (options: Pick<LoadOptions, 'tokenTtlSeconds'>) =>
  Math.max(1, options.tokenTtlSeconds - 2);

/** Connects one account through the real flow: session, connect link, consent, callback. */
async function connectAccount(broker: LocalBroker, account: string): Promise<void> {
  const auth = { authorization: `Bearer ${API_KEY}` };
  const session = await fetch(`${broker.url}/connect-sessions`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ provider: 'lightspeed-x' }),
  });
  const { connect_url } = (await session.json()) as { connect_url: string };
  const link = await fetch(connect_url, { redirect: 'manual' });
  await link.text();
  const cookie = (link.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  const callbackUrl = broker.simulator?.consent(link.headers.get('location') ?? '', {
    domainPrefix: account,
  });
  if (callbackUrl === undefined) throw new Error('the load test needs demo mode');
  const callback = await fetch(callbackUrl, { headers: { cookie }, redirect: 'manual' });
  await callback.text();
  if (callback.status !== 200) throw new Error(`connecting ${account} answered ${callback.status}`);
}

/** Statuses of every connection, paging through GET /connections. */
async function connectionStatuses(broker: LocalBroker): Promise<{ active: number; reauth: number }> {
  let active = 0;
  let reauth = 0;
  let next: string | undefined;
  for (let page = 0; page < 100; page++) {
    const query = new URLSearchParams({ provider: 'lightspeed-x', limit: '100' });
    if (next !== undefined) query.set('next_token', next);
    const response = await fetch(`${broker.url}/connections?${query}`, {
      headers: { authorization: `Bearer ${API_KEY}` },
    });
    const body = (await response.json()) as { connections: { status: string }[]; next_token?: string };
    for (const connection of body.connections) {
      if (connection.status === 'active') active++;
      else reauth++;
    }
    next = body.next_token;
    if (next === undefined) break;
  }
  return { active, reauth };
}

/** Runs the load test and returns its figures (and writes them to `resultsFile`). */
export async function runLoad(overrides: Partial<LoadOptions> = {}): Promise<LoadFigures> {
  const options: LoadOptions = { ...DEFAULT_LOAD_OPTIONS, ...overrides };
  const log = options.log ?? (() => undefined);
  // One JSON log line per request would measure the terminal, not the broker.
  process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';
  const startedAt = new Date().toISOString();
  const dataDir = await mkdtemp(join(tmpdir(), 'broker-load-'));
  const dynamodb = await startEmbeddedDynamoDb(undefined);
  let broker: LocalBroker | undefined;
  try {
    broker = await startLocalBroker({
      env: {
        PORT: '0',
        BROKER_API_KEY: API_KEY,
        BROKER_DATA_DIR: dataDir,
        DYNAMODB_ENDPOINT: dynamodb.endpoint,
        SIMULATOR_TOKEN_TTL_SECONDS: String(options.tokenTtlSeconds),
        REFRESH_MARGIN_SECONDS: String(options.refreshMarginSeconds),
        SWEEP_INTERVAL_SECONDS: String(options.sweepIntervalSeconds),
      },
    });
    const simulator = broker.simulator;
    if (simulator === undefined) throw new Error('the load test needs demo mode');

    // Observe the sweeps the runtime's own timer runs: wrap the service to keep each report.
    const reports: { startedAt: number; report: SweepReport }[] = [];
    const services = broker.services;
    const sweep = services.sweep.bind(services);
    let sweeping: Promise<SweepReport> | undefined;
    services.sweep = async () => {
      const sweepStartedAt = Date.now();
      const current = sweep();
      sweeping = current;
      try {
        const report = await current;
        reports.push({ startedAt: sweepStartedAt, report });
        return report;
      } finally {
        if (sweeping === current) sweeping = undefined;
      }
    };

    const accounts = Array.from({ length: options.accounts }, (_, i) => `load-${String(i).padStart(4, '0')}`);
    log(`connecting ${accounts.length} accounts through the connect flow…`);
    const running = broker;
    await pMap(accounts, (account) => connectAccount(running, account), { concurrency: 8 });
    simulator.resetStats();
    const loadStartedAt = Date.now();

    let demanding = 0;
    let forced = 0;
    let stale = 0;
    // Valid for at least 5 s: never expired, and refreshed by the sweep rather than on demand.
    const relaxed = '?min_valid_seconds=5';
    // Above the sweep's margin: such a caller refreshes a token older than 2 s itself, racing the sweep.
    const demandingQuery = `?min_valid_seconds=${demandingSeconds(options)}`;
    log(
      `${options.connections} connections for ${options.durationSeconds} s against ${broker.url}` +
        ` (token TTL ${options.tokenTtlSeconds} s, sweep every ${options.sweepIntervalSeconds} s, margin ${options.refreshMarginSeconds} s)…`,
    );
    const result = await autocannon({
      url: broker.url,
      connections: options.connections,
      duration: options.durationSeconds,
      timeout: 30,
      headers: { authorization: `Bearer ${API_KEY}` },
      requests: [
        {
          method: 'GET',
          setupRequest: (request) => {
            const account = accounts[Math.floor(Math.random() * accounts.length)];
            const roll = Math.random();
            let query = relaxed;
            if (roll < options.forcedShare) {
              query = '?force_refresh=true';
              forced++;
            } else if (roll < options.forcedShare + options.demandingShare) {
              query = demandingQuery;
              demanding++;
            }
            return { ...request, path: `/tokens/lightspeed-x/${account}${query}` };
          },
          onResponse: (status, body) => {
            if (status === 200 && body.includes('"stale":true')) stale++;
          },
        },
      ],
    });
    const loadEndedAt = Date.now();
    // The sweep under way when the load stopped is part of the run: let it finish, then count.
    await sweeping?.catch(() => undefined);
    const stats = simulator.stats();
    services.sweep = sweep;
    const counted = reports
      .filter((r) => r.startedAt >= loadStartedAt && r.startedAt < loadEndedAt)
      .map((r) => r.report);
    const statuses = await connectionStatuses(broker);

    const statusCodes: Record<string, number> = {};
    for (const [code, entry] of Object.entries(result.statusCodeStats ?? {})) {
      statusCodes[code] = entry.count ?? 0;
    }
    const failures: string[] = [];
    if (result.non2xx > 0) failures.push(`${result.non2xx} non-2xx answers`);
    if (result.errors > 0) failures.push(`${result.errors} request errors (${result.timeouts} timeouts)`);
    if (stats.maxConcurrentRefreshesPerAccount > 1) {
      failures.push(`an account was refreshed ${stats.maxConcurrentRefreshesPerAccount} times at once`);
    }
    if (stats.revokedRefreshTokenUses > 0) {
      failures.push(`${stats.revokedRefreshTokenUses} uses of a revoked refresh token (a lost rotation)`);
    }
    if (stats.invalidGrants > 0) failures.push(`${stats.invalidGrants} invalid_grant answers`);
    if (statuses.reauth > 0) failures.push(`${statuses.reauth} connections need reauthorization`);
    if (result.requests.total === 0) failures.push('no requests completed');
    if (stats.refreshes === 0)
      failures.push('no refresh happened: the run proved nothing about single flight');

    const sum = (pick: (report: SweepReport) => number) => counted.reduce((total, r) => total + pick(r), 0);
    const figures: LoadFigures = {
      startedAt,
      options: {
        durationSeconds: options.durationSeconds,
        connections: options.connections,
        accounts: options.accounts,
        tokenTtlSeconds: options.tokenTtlSeconds,
        refreshMarginSeconds: options.refreshMarginSeconds,
        sweepIntervalSeconds: options.sweepIntervalSeconds,
        demandingShare: options.demandingShare,
        forcedShare: options.forcedShare,
      },
      requests: {
        total: result.requests.total,
        perSecond: Math.round((result.requests.total / result.duration) * 10) / 10,
        non2xx: result.non2xx,
        errors: result.errors,
        timeouts: result.timeouts,
        stale,
        demanding,
        forced,
        statusCodes,
      },
      latencyMs: {
        p50: result.latency.p50,
        p90: result.latency.p90,
        p99: result.latency.p99,
        max: result.latency.max,
        mean: result.latency.mean,
      },
      provider: {
        refreshes: stats.refreshes,
        refreshAttempts: stats.refreshAttempts,
        maxConcurrentRefreshesPerAccount: stats.maxConcurrentRefreshesPerAccount,
        revokedRefreshTokenUses: stats.revokedRefreshTokenUses,
        invalidGrants: stats.invalidGrants,
        accountsRefreshed: Object.keys(stats.byAccount).length,
      },
      sweep: {
        runs: counted.length,
        due: sum((r) => r.due),
        refreshed: sum((r) => r.refreshed),
        alreadyFresh: sum((r) => r.alreadyFresh),
        failed: sum((r) => r.failed),
      },
      connections: { active: statuses.active, reauthorizationRequired: statuses.reauth },
      passed: failures.length === 0,
      failures,
    };
    if (options.resultsFile !== undefined) {
      await writeFile(options.resultsFile, formattedJson(figures));
    }
    return figures;
  } finally {
    await broker?.close();
    await dynamodb.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

/**
 * JSON as the repository's formatter (Biome: 2 spaces, width 110) would write it, so a results
 * file passes `biome ci`: arrays of plain values stay on one line when they fit.
 */
export function formattedJson(value: unknown): string {
  const arrays =
    /^( *)("[^"\n]*": )?\[\n((?: *(?:"(?:[^"\\\n]|\\.)*"|-?[\d.eE+]+|true|false|null),?\n)+) *\]/gm;
  const text = JSON.stringify(value, null, 2).replace(
    arrays,
    (whole: string, indent: string, key: string | undefined, items: string) => {
      const values = items
        .split('\n')
        .map((item) => item.trim())
        .filter((item) => item !== '');
      const inline = `${indent}${key ?? ''}[${values.join(' ')}]`;
      return inline.length < 110 ? inline : whole;
    },
  );
  return `${text}\n`;
}

/** The figures as a few lines for a terminal. */
export function formatFigures(f: LoadFigures): string {
  const o = f.options;
  const pct = (share: number) => `${Math.round(share * 1000) / 10}%`;
  return [
    `load: ${o.connections} connections × ${o.durationSeconds} s, ${o.accounts} connected accounts (demo mode, in-process)`,
    `      token TTL ${o.tokenTtlSeconds} s, sweep every ${o.sweepIntervalSeconds} s with a ${o.refreshMarginSeconds} s margin,` +
      ` ${pct(o.demandingShare)} of requests min_valid_seconds=${demandingSeconds(o)}, ${pct(o.forcedShare)} force_refresh`,
    `requests       ${f.requests.total} (${f.requests.perSecond}/s): non-2xx ${f.requests.non2xx}, errors ${f.requests.errors},` +
      ` timeouts ${f.requests.timeouts}, stale ${f.requests.stale}`,
    `latency        p50 ${f.latencyMs.p50} ms, p90 ${f.latencyMs.p90} ms, p99 ${f.latencyMs.p99} ms, max ${f.latencyMs.max} ms`,
    `provider       ${f.provider.refreshes} refresh calls (${f.provider.refreshAttempts} attempts) over ${f.provider.accountsRefreshed}` +
      ` accounts; ${f.requests.demanding + f.requests.forced} requests asked for a refresh`,
    `sweep          ${f.sweep.runs} runs: ${f.sweep.due} connections due, ${f.sweep.refreshed} refreshed (by it or a` +
      ` concurrent caller), ${f.sweep.alreadyFresh} already fresh, ${f.sweep.failed} failed`,
    `single flight  max concurrent refreshes per account ${f.provider.maxConcurrentRefreshesPerAccount},` +
      ` revoked refresh token uses ${f.provider.revokedRefreshTokenUses}, invalid_grant ${f.provider.invalidGrants}`,
    `connections    ${f.connections.active} active, ${f.connections.reauthorizationRequired} need reauthorization`,
    f.passed ? 'PASS' : `FAIL: ${f.failures.join('; ')}`,
  ].join('\n');
}
