/**
 * `npm run load [-- --duration 20 --connections 50 --accounts 200 | --quick]`: the load test
 * (runner.ts) with its figures printed and written to load/results.json. Exits 1 unless every
 * request succeeded and no account was ever refreshed twice at once.
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULT_LOAD_OPTIONS, formatFigures, runLoad } from './runner';

const USAGE = `usage: npm run load -- [--duration <seconds>] [--connections <n>] [--accounts <n>] [--quick] [--out <file>]
  --duration      seconds of load (default ${DEFAULT_LOAD_OPTIONS.durationSeconds}; --quick: 5)
  --connections   concurrent clients (default ${DEFAULT_LOAD_OPTIONS.connections})
  --accounts      connected accounts (default ${DEFAULT_LOAD_OPTIONS.accounts})
  --out           where to write the figures (default load/results.json)`;

function positiveInteger(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    process.stderr.write(`--${name} must be a whole number ≥ 1\n${USAGE}\n`);
    process.exit(2);
  }
  return n;
}

async function main(): Promise<void> {
  let values: ReturnType<typeof parse>['values'];
  try {
    values = parse().values;
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
  if (values.help === true) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const quick = values.quick === true;
  const figures = await runLoad({
    durationSeconds: positiveInteger(
      'duration',
      values.duration,
      quick ? 5 : DEFAULT_LOAD_OPTIONS.durationSeconds,
    ),
    connections: positiveInteger('connections', values.connections, DEFAULT_LOAD_OPTIONS.connections),
    accounts: positiveInteger('accounts', values.accounts, DEFAULT_LOAD_OPTIONS.accounts),
    resultsFile: values.out ?? fileURLToPath(new URL('./results.json', import.meta.url)),
    log: (line) => process.stderr.write(`${line}\n`),
  });
  process.stdout.write(`${formatFigures(figures)}\n`);
  process.exitCode = figures.passed ? 0 : 1;
}

function parse() {
  return parseArgs({
    options: {
      duration: { type: 'string' },
      connections: { type: 'string' },
      accounts: { type: 'string' },
      out: { type: 'string' },
      quick: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
}

main().catch((error: unknown) => {
  process.stderr.write(
    `the load test failed to run: ${error instanceof Error ? error.stack : String(error)}\n`,
  );
  process.exitCode = 1;
});
