/**
 * What the run reports: the keys it must produce, the targets, and the table printed at the end
 * (the same figures as bench/results.json).
 */
import { BASELINE, TOKENS_MEMORY_MB } from './lib/bundling';
import type { Settings } from './options';
import { PRICES } from './prices';

/** The keys issues 5 and 14 ask for; the run fails if one is missing or not a number. */
export const REQUIRED = {
  numbers: [
    'cost_per_million_direct_invocations_usd',
    'sweep_read_ratio_100k',
    'fetch_p99_during_sweep_ratio',
    'fetch_overhead_ratio',
    'http_rps_ratio',
    'http_p99_ms',
    'cold_init_ratio',
    'sweep_rcu_ratio',
    'sweep_1000_due_seconds',
    'provider_429s',
    'cost_per_million_fetches_usd',
  ],
  perFunction: ['cold_init_ms', 'cold_init_ratio_by_function', 'bundle_bytes', 'bundle_gzip_bytes'],
  functions: ['public', 'tokens', 'admin', 'sweep'],
} as const;

export const TARGETS = {
  fetch_overhead_ratio: { text: '≤ 1.2', met: (v: number) => v <= 1.2 },
  http_rps_ratio: { text: '≥ 0.8', met: (v: number) => v >= 0.8 },
  cold_init_ratio: { text: '≤ 1.25 (tokens)', met: (v: number) => v <= 1.25 },
  cold_init_ratio_by_function: { text: '≤ 1.25 each', met: (v: number) => v <= 1.25 },
  bundle_bytes: { text: '≤ 500 KB each', met: (v: number) => v <= 500_000 },
  sweep_rcu_ratio: { text: '≤ 1.2', met: (v: number) => v <= 1.2 },
  sweep_read_ratio_100k: { text: '≤ 1.1', met: (v: number) => v <= 1.1 },
  fetch_p99_during_sweep_ratio: { text: '≤ 2', met: (v: number) => v <= 2 },
  provider_429s: { text: '0', met: (v: number) => v === 0 },
  cost_per_million_direct_invocations_usd: { text: '≤ $0.40', met: (v: number) => v <= 0.4 },
} as const;

/** The required keys that are missing or not a finite number (`key` or `key.function`). */
export function missingKeys(results: Readonly<Record<string, unknown>>): string[] {
  const missing: string[] = [];
  for (const key of REQUIRED.numbers) {
    if (typeof results[key] !== 'number' || !Number.isFinite(results[key])) missing.push(key);
  }
  for (const key of REQUIRED.perFunction) {
    for (const name of REQUIRED.functions) {
      const value = (results[key] as Record<string, number> | undefined)?.[name];
      if (typeof value !== 'number' || !Number.isFinite(value)) missing.push(`${key}.${name}`);
    }
  }
  return missing;
}

/** Each target with whether it was met (null when its value is missing). */
export function targetsMet(results: Readonly<Record<string, unknown>>) {
  return Object.fromEntries(
    Object.entries(TARGETS).map(([key, target]) => {
      const value = results[key];
      const values = typeof value === 'object' && value !== null ? Object.values(value) : [value];
      const numeric = values.every((v) => typeof v === 'number' && Number.isFinite(v));
      return [
        key,
        { target: target.text, met: numeric ? values.every((v) => target.met(v as number)) : null },
      ];
    }),
  );
}

/** The results as a Markdown table: metric, measured (with its inputs), target, met. */
export function reportTable(results: Readonly<Record<string, unknown>>, settings: Settings): string {
  const num = (key: string) => results[key] as number;
  const perFn = (key: string) => results[key] as Record<string, number> | undefined;
  const fmt = (value: unknown, digits = 2) =>
    typeof value === 'number' && Number.isFinite(value) ? value.toFixed(digits) : 'n/a';
  const met = (key: keyof typeof TARGETS, value: unknown) =>
    typeof value === 'number' && Number.isFinite(value)
      ? TARGETS[key].met(value)
        ? 'yes'
        : '**no**'
      : 'n/a';
  const f = results.fetch as { lambda_handler_median_ms: number; get_item_median_ms: number } | undefined;
  const h = results.http as { broker: { rps: number }; bare: { rps: number } } | undefined;
  const s = results.sweep as
    | {
        rcu: {
          small: { readUnits: number };
          large: { readUnits: number };
          huge: { readUnits: number; seedSeconds: number };
        };
        fetch_during_sweep: { without: { p99: number }; during: { p99: number } };
        concurrency: number;
        floorSeconds: number;
      }
    | undefined;
  const c = results.cost as { billed_duration_ms: number } | undefined;
  const cold = perFn('cold_init_ms');
  const bytes = perFn('bundle_bytes');
  const gzip = perFn('bundle_gzip_bytes');
  const kb = (value: number | undefined) => (value === undefined ? 'n/a' : `${(value / 1000).toFixed(0)} KB`);
  const baselineMs = (results.cold_init as { baseline_cold_init_ms?: number } | undefined)
    ?.baseline_cold_init_ms;
  const defaultChain = (
    results.cold_init as
      | {
          default_chain_baseline?: {
            cold_init_ms: number;
            cold_init_ratio_by_function: Record<string, number>;
          };
        }
      | undefined
  )?.default_chain_baseline;
  const withoutTracer = (
    results.cold_init as
      | { tokens_without_tracer?: { cold_init_ms: number; cold_init_ratio: number; bundle_bytes: number } }
      | undefined
  )?.tokens_without_tracer;
  const asEsm = (
    results.cold_init as { tokens_as_esm?: { cold_init_ms: number; bundle_bytes: number } } | undefined
  )?.tokens_as_esm;
  const instructions = (
    results.cold_init as
      | {
          cold_init_instructions?: {
            ratio_by_function: Record<string, number>;
            default_chain_ratio_by_function: Record<string, number>;
            tokens_without_tracer_ratio: number;
            tokens_as_esm_ratio: number;
            without_source_maps_ratio: number;
            counts: Record<string, number>;
          } | null;
        }
      | undefined
  )?.cold_init_instructions;
  const rows: string[][] = [
    [
      'fetch_overhead_ratio',
      `${fmt(num('fetch_overhead_ratio'))} (handler ${fmt(f?.lambda_handler_median_ms, 3)} ms / GetItem ${fmt(f?.get_item_median_ms, 3)} ms)`,
      TARGETS.fetch_overhead_ratio.text,
      met('fetch_overhead_ratio', num('fetch_overhead_ratio')),
    ],
    [
      'http_rps_ratio',
      `${fmt(num('http_rps_ratio'))} (median of per-round ratios; broker ${fmt(h?.broker.rps, 0)}, bare ${fmt(h?.bare.rps, 0)} req/s)`,
      TARGETS.http_rps_ratio.text,
      met('http_rps_ratio', num('http_rps_ratio')),
    ],
    ['http_p99_ms', `${fmt(num('http_p99_ms'), 0)} ms`, '—', ''],
    [
      'cold_init_ms',
      REQUIRED.functions.map((name) => `${name} ${fmt(cold?.[name], 0)}`).join(', ') +
        ` (client-dynamodb alone ${fmt(baselineMs, 0)}; with the default credential chain ${fmt(defaultChain?.cold_init_ms, 0)}; tokens without the Tracer ${fmt(withoutTracer?.cold_init_ms, 0)}, ratio ${fmt(withoutTracer?.cold_init_ratio)}, ${kb(withoutTracer?.bundle_bytes)}; tokens built as ESM ${fmt(asEsm?.cold_init_ms, 0)})`,
      '—',
      '',
    ],
    [
      'cold_init_ratio',
      fmt(num('cold_init_ratio')),
      TARGETS.cold_init_ratio.text,
      met('cold_init_ratio', num('cold_init_ratio')),
    ],
    [
      'cold_init_ratio_by_function',
      REQUIRED.functions
        .map((name) => `${name} ${fmt(perFn('cold_init_ratio_by_function')?.[name])}`)
        .join(', '),
      `${TARGETS.cold_init_ratio_by_function.text} (against the default-chain reference: ${REQUIRED.functions
        .map((name) => `${name} ${fmt(defaultChain?.cold_init_ratio_by_function[name])}`)
        .join(', ')})`,
      perFn('cold_init_ratio_by_function') === undefined
        ? 'n/a'
        : Object.values(perFn('cold_init_ratio_by_function') ?? {}).every((v) =>
              TARGETS.cold_init_ratio_by_function.met(v),
            )
          ? 'yes'
          : '**no**',
    ],
    [
      'cold_init_instructions',
      instructions == null
        ? 'n/a (valgrind not installed)'
        : `ratio ${REQUIRED.functions.map((name) => `${name} ${fmt(instructions.ratio_by_function[name])}`).join(', ')} (against the default-chain reference: ${REQUIRED.functions
            .map((name) => `${name} ${fmt(instructions.default_chain_ratio_by_function[name])}`)
            .join(
              ', ',
            )}; tokens without the Tracer ${fmt(instructions.tokens_without_tracer_ratio)}, tokens built as ESM ${fmt(instructions.tokens_as_esm_ratio)}, tokens and reference without source maps ${fmt(instructions.without_source_maps_ratio)}); millions: tokens ${fmt((instructions.counts.tokens ?? Number.NaN) / 1e6, 0)}, reference ${fmt((instructions.counts[BASELINE] ?? Number.NaN) / 1e6, 0)}, tokens without source maps ${fmt((instructions.counts['tokens (no source maps)'] ?? Number.NaN) / 1e6, 0)}`,
      '(diagnostic: the ratios above, counted in instructions)',
      '',
    ],
    [
      'bundle_bytes',
      REQUIRED.functions.map((name) => `${name} ${kb(bytes?.[name])}`).join(', '),
      TARGETS.bundle_bytes.text,
      bytes === undefined
        ? 'n/a'
        : Object.values(bytes).every((v) => TARGETS.bundle_bytes.met(v))
          ? 'yes'
          : '**no**',
    ],
    [
      'bundle_gzip_bytes',
      REQUIRED.functions.map((name) => `${name} ${kb(gzip?.[name])}`).join(', '),
      '—',
      '',
    ],
    [
      'sweep_rcu_ratio',
      `${fmt(num('sweep_rcu_ratio'))} (${fmt(s?.rcu.large.readUnits, 1)} / ${fmt(s?.rcu.small.readUnits, 1)} RRU)`,
      TARGETS.sweep_rcu_ratio.text,
      met('sweep_rcu_ratio', num('sweep_rcu_ratio')),
    ],
    [
      'sweep_1000_due_seconds',
      `${fmt(num('sweep_1000_due_seconds'), 1)} s (concurrency ${s?.concurrency ?? 'n/a'}, floor ${fmt(s?.floorSeconds, 2)} s)`,
      '—',
      '',
    ],
    [
      'provider_429s',
      fmt(num('provider_429s'), 0),
      TARGETS.provider_429s.text,
      met('provider_429s', num('provider_429s')),
    ],
    [
      'sweep_read_ratio_100k',
      `${fmt(num('sweep_read_ratio_100k'))} (${fmt(s?.rcu.huge.readUnits, 1)} RRU over ${settings.sweep.huge.toLocaleString('en')} / ${fmt(s?.rcu.small.readUnits, 1)} over ${settings.sweep.small.toLocaleString('en')}, seeded in ${fmt(s?.rcu.huge.seedSeconds, 0)} s)`,
      TARGETS.sweep_read_ratio_100k.text,
      met('sweep_read_ratio_100k', num('sweep_read_ratio_100k')),
    ],
    [
      'fetch_p99_during_sweep_ratio',
      `${fmt(num('fetch_p99_during_sweep_ratio'))} (p99 ${fmt(s?.fetch_during_sweep.during.p99)} ms during the sweep of ${settings.sweep.timedDue} due / ${fmt(s?.fetch_during_sweep.without.p99)} ms before it)`,
      TARGETS.fetch_p99_during_sweep_ratio.text,
      met('fetch_p99_during_sweep_ratio', num('fetch_p99_during_sweep_ratio')),
    ],
    [
      'cost_per_million_fetches_usd',
      `$${fmt(num('cost_per_million_fetches_usd'), 3)} through API Gateway (billed ${c?.billed_duration_ms ?? 'n/a'} ms at ${TOKENS_MEMORY_MB} MB, prices of ${PRICES.asOf})`,
      '—',
      '',
    ],
    [
      'cost_per_million_direct_invocations_usd',
      `$${fmt(num('cost_per_million_direct_invocations_usd'), 3)} (lambda:InvokeFunction; + $${fmt(PRICES.cloudTrailDataEvent * 1e6)} with CloudTrail data events)`,
      TARGETS.cost_per_million_direct_invocations_usd.text,
      met('cost_per_million_direct_invocations_usd', num('cost_per_million_direct_invocations_usd')),
    ],
  ];
  return [
    '| metric | measured | target | met |',
    '|---|---|---|---|',
    ...rows.map((row) => `| ${row.join(' | ')} |`),
  ].join('\n');
}
