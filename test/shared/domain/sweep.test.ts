/**
 * The sweep's pacing: each provider's refreshes run in a lane of their own, as its definition's
 * `pacing` says (at once, and started per second), so a strict provider is neither flooded nor
 * holds up the others.
 */
import { describe, expect, it } from 'vitest';
import type { ConnectionKey, ProviderId } from '../../../shared/domain/model';
import {
  type ConnectionStore,
  type ProviderRegistry,
  systemClock,
  type TokenEndpointPacing,
} from '../../../shared/domain/ports';
import type { Refresher } from '../../../shared/domain/refresh';
import { sweep } from '../../../shared/domain/sweep';
import { silentTelemetry } from '../../../shared/domain/telemetry';
import { SILENT_LOGGER } from '../../helpers/store';

const SLOW: TokenEndpointPacing = { concurrency: 1, perSecond: 2, basis: 'test' };
const FAST: TokenEndpointPacing = { concurrency: 4, perSecond: 100, basis: 'test' };

/** A registry of two providers that only have what the sweep reads: their pacing. */
const providers = {
  slow: { oauth: { pacing: SLOW } },
  fast: { oauth: { pacing: FAST } },
} as unknown as ProviderRegistry;

const due = (provider: string, count: number) =>
  Array.from({ length: count }, (_, n) => ({
    provider: provider as ProviderId,
    account: `${provider}-${n}`,
    source: 'oauth' as const,
  }));

describe('sweep pacing', () => {
  it('keeps each provider within its pacing, and a slow provider does not hold up a fast one', async () => {
    // Arrange
    const keys = [...due('slow', 5), ...due('fast', 12)];
    const store = {
      async *findDue() {
        yield* keys;
      },
    } as unknown as ConnectionStore;
    const running: Record<string, number> = { slow: 0, fast: 0 };
    const peak: Record<string, number> = { slow: 0, fast: 0 };
    const starts: Record<string, number[]> = { slow: [], fast: [] };
    const finished: Record<string, number> = {};
    const refresher = {
      async ensureFreshByKey(key: ConnectionKey) {
        const provider = key.provider as string;
        starts[provider]!.push(performance.now());
        running[provider]! += 1;
        peak[provider] = Math.max(peak[provider]!, running[provider]!);
        await new Promise((resolve) => setTimeout(resolve, 20));
        running[provider]! -= 1;
        finished[provider] = performance.now();
        return { refreshed: true, connection: {} };
      },
    } as unknown as Refresher;

    // Act
    const report = await sweep({
      store,
      refresher,
      providers,
      clock: systemClock,
      logger: SILENT_LOGGER,
      telemetry: silentTelemetry(SILENT_LOGGER),
      marginSeconds: 900,
      concurrency: 8,
    });

    // Assess
    expect(report).toMatchObject({ due: 17, refreshed: 17, failed: 0 });
    expect(peak.slow).toBe(1);
    expect(peak.fast).toBeLessThanOrEqual(4);
    expect(peak.fast).toBeGreaterThan(1);
    // Never more than 2 slow starts within any second (strict, no burst across windows).
    const slow = starts.slow!;
    for (let i = 2; i < slow.length; i++) expect(slow[i]! - slow[i - 2]!).toBeGreaterThanOrEqual(990);
    expect(finished.fast!).toBeLessThan(finished.slow!);
  });

  it('caps the work in flight over all lanes by the sweep’s overall concurrency', async () => {
    // Arrange
    const keys = [...due('fast', 8), ...due('slow', 2)];
    const store = {
      async *findDue() {
        yield* keys;
      },
    } as unknown as ConnectionStore;
    let running = 0;
    let peak = 0;
    const refresher = {
      async ensureFreshByKey() {
        running += 1;
        peak = Math.max(peak, running);
        await new Promise((resolve) => setTimeout(resolve, 10));
        running -= 1;
        return { refreshed: false, connection: {} };
      },
    } as unknown as Refresher;

    // Act
    const report = await sweep({
      store,
      refresher,
      providers,
      clock: systemClock,
      logger: SILENT_LOGGER,
      telemetry: silentTelemetry(SILENT_LOGGER),
      marginSeconds: 900,
      concurrency: 2,
    });

    // Assess
    expect(report).toMatchObject({ due: 10, alreadyFresh: 10 });
    expect(peak).toBe(2);
  });
});
