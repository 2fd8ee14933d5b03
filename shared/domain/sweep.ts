/**
 * The scheduled refresher: every active OAuth connection whose token expires within the margin is
 * refreshed without any caller asking, through the same single-flight protocol as the token route.
 */
import pMap from 'p-map';
import { NotFoundError, ProviderUnavailableError, ReauthorizationRequiredError } from './errors';
import type { Clock, ConnectionStore, Logger } from './ports';
import type { Refresher } from './refresh';

export interface SweepReport {
  due: number;
  refreshed: number;
  alreadyFresh: number;
  failed: number;
  reauthorizationRequired: number;
  durationMs: number;
}

export interface SweepDeps {
  readonly store: ConnectionStore;
  readonly refresher: Refresher;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly marginSeconds: number;
  /** Refreshes in flight at once: bounded so the provider's token endpoint is not flooded. */
  readonly concurrency: number;
}

/** Runs one sweep over the sparse index and reports what it did. */
export async function sweep(deps: SweepDeps): Promise<SweepReport> {
  const { store, refresher, clock, logger, marginSeconds, concurrency } = deps;
  const started = clock.now();
  const report: SweepReport = {
    due: 0,
    refreshed: 0,
    alreadyFresh: 0,
    failed: 0,
    reauthorizationRequired: 0,
    durationMs: 0,
  };
  await pMap(
    store.findDue(started + marginSeconds * 1000),
    async (key) => {
      report.due++;
      try {
        const connection = await store.getOAuth(key);
        if (connection === undefined || connection.status !== 'active') return;
        const { refreshed } = await refresher.ensureFresh(connection, {
          minValidSeconds: marginSeconds,
          force: false,
        });
        if (refreshed) report.refreshed++;
        else report.alreadyFresh++;
      } catch (error) {
        if (error instanceof ReauthorizationRequiredError) report.reauthorizationRequired++;
        else if (error instanceof ProviderUnavailableError || error instanceof NotFoundError) report.failed++;
        else {
          report.failed++;
          logger.error('sweep could not refresh a connection', { ...key, error: String(error) });
        }
      }
    },
    { concurrency },
  );
  report.durationMs = clock.now() - started;
  logger.info('sweep finished', { ...report });
  return report;
}
