/**
 * The scheduled refresher: every active OAuth connection whose token expires within the margin is
 * refreshed without any caller asking, through the same single-flight protocol as the token route;
 * personal tokens entering their last 14 days are announced once (status `expiring`, an event, a
 * counter, a log line). Both come from one sparse index, so the cost follows what is due.
 *
 * Each provider's refreshes run in a lane of their own, paced as its definition says (refreshes at
 * once, and started per second): one provider's strict token endpoint neither gets flooded nor
 * holds up the others, and the sweep's overall concurrency caps the work in flight over all lanes.
 */
import pLimit from 'p-limit';
import pThrottle from 'p-throttle';
import { NotFoundError, ProviderUnavailableError, ReauthorizationRequiredError } from './errors';
import { type ConnectionKey, connectionStatus } from './model';
import type { Clock, ConnectionStore, Logger, ProviderRegistry, TokenEndpointPacing } from './ports';
import type { Refresher } from './refresh';
import type { Telemetry } from './telemetry';

export interface SweepReport {
  due: number;
  refreshed: number;
  alreadyFresh: number;
  failed: number;
  reauthorizationRequired: number;
  personalExpiring: number;
  durationMs: number;
}

export interface SweepDeps {
  readonly store: ConnectionStore;
  readonly refresher: Refresher;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly telemetry: Telemetry;
  readonly marginSeconds: number;
  /** Work in flight at once, over all providers (each provider's pacing may allow less). */
  readonly concurrency: number;
  /** Where each provider's pacing comes from. */
  readonly providers: ProviderRegistry;
}

/** Due keys read ahead of the work: bounds the sweep's memory however many are due. */
const MAX_QUEUED = 1_000;

type Lane = <T>(task: () => Promise<T>) => Promise<T>;

/** A lane that starts at most `perSecond` tasks a second and runs at most `concurrency` at once. */
function pacedLane(pacing: TokenEndpointPacing, maxConcurrency: number): Lane {
  const limit = pLimit(Math.max(1, Math.min(pacing.concurrency, maxConcurrency)));
  // strict: no burst of 2 × perSecond across a window boundary.
  const throttle = pThrottle({ limit: Math.max(1, pacing.perSecond), interval: 1_000, strict: true });
  const start = throttle(<T>(task: () => Promise<T>) => task());
  return (task) => limit(() => start(task) as ReturnType<typeof task>);
}

/** Runs one sweep over the sparse index and reports what it did. */
export async function sweep(deps: SweepDeps): Promise<SweepReport> {
  const { store, clock, logger, marginSeconds, concurrency } = deps;
  const started = clock.now();
  const report: SweepReport = {
    due: 0,
    refreshed: 0,
    alreadyFresh: 0,
    failed: 0,
    reauthorizationRequired: 0,
    personalExpiring: 0,
    durationMs: 0,
  };
  // Taken once a lane lets a task start, so a throttled lane never holds a slot another could use.
  const overall = pLimit(concurrency);
  const lanes = new Map<string, Lane>();
  const laneOf = (provider: string): Lane => {
    let lane = lanes.get(provider);
    if (lane === undefined) {
      const pacing = deps.providers[provider as ConnectionKey['provider']]?.oauth?.pacing;
      lane = pacing === undefined ? (task) => task() : pacedLane(pacing, concurrency);
      lanes.set(provider, lane);
    }
    return lane;
  };
  const pending = new Set<Promise<void>>();
  // The first failure the work did not handle itself (a store outage) fails the sweep, after the
  // work in flight has ended, as a failing refresh of one connection never does.
  let failure: { error: unknown } | undefined;
  for await (const due of store.findDue(started + marginSeconds * 1000)) {
    report.due++;
    const key: ConnectionKey = { provider: due.provider, account: due.account };
    const work =
      due.source === 'personal'
        ? // Personal tokens make no provider call: the overall bound is their only pacing.
          overall(() => announceExpiring(deps, key, report))
        : laneOf(key.provider)(() => overall(() => refreshDue(deps, key, report)));
    const tracked: Promise<void> = work
      .catch((error: unknown) => {
        failure ??= { error };
      })
      .finally(() => pending.delete(tracked));
    pending.add(tracked);
    while (pending.size >= MAX_QUEUED) await Promise.race(pending);
  }
  await Promise.all(pending);
  if (failure !== undefined) throw failure.error;
  report.durationMs = clock.now() - started;
  logger.info('sweep finished', { ...report });
  return report;
}

async function refreshDue(deps: SweepDeps, key: ConnectionKey, report: SweepReport): Promise<void> {
  try {
    const { refreshed } = await deps.refresher.ensureFreshByKey(key, {
      minValidSeconds: deps.marginSeconds,
      force: false,
    });
    if (refreshed) report.refreshed++;
    else report.alreadyFresh++;
  } catch (error) {
    // Deleted since the index was read: nothing left to refresh.
    if (error instanceof NotFoundError) return;
    if (error instanceof ReauthorizationRequiredError) report.reauthorizationRequired++;
    else {
      report.failed++;
      if (!(error instanceof ProviderUnavailableError)) {
        deps.logger.error('sweep could not refresh a connection', {
          ...key,
          error: error instanceof Error ? error.name : 'unknown',
        });
      }
    }
  }
}

async function announceExpiring(deps: SweepDeps, key: ConnectionKey, report: SweepReport): Promise<void> {
  const now = deps.clock.now();
  const personal = await deps.store.getPersonal(key);
  if (personal?.expiresAt === undefined || personal.expiringNotifiedAt !== undefined) return;
  const status = connectionStatus(personal, now);
  if (status !== 'expiring' && status !== 'expired') return;
  const expiresAt = new Date(personal.expiresAt).toISOString();
  deps.logger.warn('personal token expires soon; store a new one', { ...key, expiresAt, status });
  deps.telemetry.count('PersonalTokenExpiring');
  await deps.telemetry.event('personal_token.expiring', key, {
    expires_at: expiresAt,
    name: personal.name ?? null,
    reference: personal.reference ?? null,
  });
  await deps.store.markExpiringNotified(key, now);
  report.personalExpiring++;
}
