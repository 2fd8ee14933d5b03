/**
 * The scheduled refresher: every active OAuth connection whose token expires within the margin is
 * refreshed without any caller asking, through the same single-flight protocol as the token route;
 * personal tokens entering their last 14 days are announced once (status `expiring`, an event, a
 * counter, a log line). Both come from one sparse index, so the cost follows what is due.
 */
import pMap from 'p-map';
import { NotFoundError, ProviderUnavailableError, ReauthorizationRequiredError } from './errors';
import { type ConnectionKey, connectionStatus } from './model';
import type { Clock, ConnectionStore, Logger } from './ports';
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
  /** Refreshes in flight at once: bounded so the provider's token endpoint is not flooded. */
  readonly concurrency: number;
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
  await pMap(
    store.findDue(started + marginSeconds * 1000),
    async (due) => {
      report.due++;
      const key: ConnectionKey = { provider: due.provider, account: due.account };
      if (due.source === 'personal') await announceExpiring(deps, key, report);
      else await refreshDue(deps, key, report);
    },
    { concurrency },
  );
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
