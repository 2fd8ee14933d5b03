import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Integration tests start dynalite, the simulator and local-runtime processes on loopback.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two cores: keep the process-spawning suites from starving each other.
    maxWorkers: 2,
    // In-process brokers log through Powertools; the log-secrecy test spawns processes with logs on.
    env: { POWERTOOLS_LOG_LEVEL: 'SILENT' },
  },
});
