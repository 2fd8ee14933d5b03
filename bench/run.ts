/**
 * `npm run bench [-- --quick] [--out FILE] [--skip fetch,http,cold,sweep]`: what the broker costs
 * on top of one DynamoDB read, measured side by side in one run on this machine (issue 5). Prints a table, writes JSON
 * (bench/results.json; --quick: bench/results.quick.json) and exits non-zero if a result key is
 * missing or a phase failed. Targets that are not met do not fail the run: they are reported.
 *
 * Machines here are shared and noisy: every figure is a median over repeated runs, and the ratios
 * compare measurements taken interleaved in the same run, never against numbers from elsewhere.
 *
 * The runner reads as its steps: options (options.ts), phases (phases/index.ts), results, report
 * (report.ts).
 */
import { writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { round } from './lib/stats';
import { parseOptions } from './options';
import { runPhases } from './phases/index';
import { missingKeys, reportTable, targetsMet } from './report';

const log = (line: string) => process.stdout.write(`${line}\n`);
const options = parseOptions(process.argv.slice(2));
const mode = options.quick ? 'quick' : 'full';

const startedAt = new Date();
const started = performance.now();
const loadBefore = loadavg();
log(
  `bench (${mode}): node ${process.version}, ${availableParallelism()} cores, load ${loadBefore.map((l) => l.toFixed(2)).join(' ')}`,
);

const { results, errors, phaseSeconds } = await runPhases(options, log);

const missing = missingKeys(results);
const totalSeconds = round((performance.now() - started) / 1000, 1);
const output = {
  ...results,
  targets: targetsMet(results),
  meta: {
    date: startedAt.toISOString(),
    mode,
    command: options.quick ? 'npm run bench -- --quick' : 'npm run bench',
    node: process.version,
    cores: availableParallelism(),
    cpu: cpus()[0]?.model ?? 'unknown',
    load_average_before: loadBefore,
    load_average_after: loadavg(),
    total_seconds: totalSeconds,
    phase_seconds: phaseSeconds,
    settings: options.settings,
  },
  missing_keys: missing,
  errors,
};
await writeFile(options.outFile, `${JSON.stringify(output, null, 2)}\n`);

log('');
log(reportTable(results, options.settings));
log('');
log(`${mode} run: ${totalSeconds} s; wrote ${options.outFile}`);
if (errors.length > 0) log(`\n${errors.length} phase(s) failed:\n${errors.join('\n')}`);
if (missing.length > 0) log(`missing result keys: ${missing.join(', ')}`);
process.exit(errors.length > 0 || missing.length > 0 ? 1 : 0);
