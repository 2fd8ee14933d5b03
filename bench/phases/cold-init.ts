/**
 * Cold init: each Lambda bundle, built as the stack ships it, imported in a fresh Node process,
 * minus a fresh `node -e 0`; the reference is a bundle of @aws-sdk/client-dynamodb alone built with
 * the same settings. Runs are interleaved in a new random order each time; medians are reported.
 *
 * The processes get the environment the stack gives the functions (Powertools names, log level,
 * NODE_OPTIONS=--enable-source-maps) plus what the Lambda runtime sets (so the Powertools Tracer is on, as it is on Lambda with active tracing), fake ARNs
 * and a fake region, so module-scope wiring (functions/aws.ts → awsServices()) constructs its AWS
 * clients without calling AWS. A separate, untimed run per bundle proves that: it fails if the import
 * opens any TCP connection or sends UDP. A diagnostic target shows the tokens bundle and the
 * reference without source maps, to tell what `--enable-source-maps` costs.
 *
 * The import is `import()` of the bundle file, as the Node.js runtime interface client loads a
 * handler (src/function/module-loader.ts there tries `import()` for every extension). Wall times on
 * a shared machine move by tens of ms between runs, so where valgrind is installed every target is
 * also counted in instructions (callgrind), which repeat from run to run.
 */
import { execFileSync, spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { pathToFileURL } from 'node:url';
import pLimit from 'p-limit';
import { lambdaEntry } from '../../infra/bundling';
import {
  BASELINE,
  type BuiltBundle,
  buildBundle,
  bytesByPackage,
  DEFAULT_CHAIN_BASELINE,
  ESM_BUNDLING,
  FUNCTIONS,
  TOKENS_AS_ESM,
  TOKENS_WITHOUT_TRACER,
  TRACER_OFF_ALIAS,
  withoutCredentialAlias,
} from '../lib/bundling';
import { benchTempDir } from '../lib/child';
import { median, shuffled } from '../lib/stats';

/** The stack's function environment (infra/token-broker.ts) with fake, syntactically valid values. */
const FUNCTION_ENV: Record<string, string> = {
  // Set by the Lambda runtime: the Powertools Tracer (and the X-Ray SDK's Lambda mode) turn on with them.
  AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
  AWS_LAMBDA_FUNCTION_NAME: 'TokenBroker-BrokerTokensFunction-BENCH',
  AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
  AWS_LAMBDA_LOG_FORMAT: 'JSON',
  AWS_LAMBDA_LOG_LEVEL: 'INFO',
  AWS_XRAY_DAEMON_ADDRESS: '169.254.79.129:2000',
  AWS_XRAY_CONTEXT_MISSING: 'LOG_ERROR',
  LAMBDA_TASK_ROOT: '/var/task',
  _HANDLER: 'index.handler',
  AWS_REGION: 'us-east-1',
  AWS_DEFAULT_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE',
  AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  AWS_SESSION_TOKEN: 'bench',
  AWS_EC2_METADATA_DISABLED: 'true',
  AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256',
  BROKER_PUBLIC_URL: 'https://abc123.execute-api.us-east-1.amazonaws.com',
  BROKER_TABLE_NAME: 'TokenBroker-BrokerTable-BENCH',
  BROKER_SECRET_PREFIX: 'tokenbroker/',
  BROKER_KMS_KEY_ARN: 'arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555',
  BROKER_EVENT_BUS_NAME: 'TokenBroker-BrokerEventBus-BENCH',
  BROKER_RETURN_TO_ORIGINS: '',
  REFRESH_MARGIN_SECONDS: '900',
  SWEEP_CONCURRENCY: '8',
  SWEEP_INTERVAL_SECONDS: '300',
  LIGHTSPEED_X_CLIENT_ID: 'bench-client-id',
  LIGHTSPEED_X_CLIENT_SECRET_ARN:
    'arn:aws:secretsmanager:us-east-1:123456789012:secret:TokenBroker-LightspeedXClientSecret-AbCdEf',
  POWERTOOLS_SERVICE_NAME: 'token-broker',
  POWERTOOLS_METRICS_NAMESPACE: 'TokenBroker',
  POWERTOOLS_LOG_LEVEL: 'INFO',
  NODE_OPTIONS: '--enable-source-maps',
};

/** Preloaded in the untimed check run: any socket the import opens marks the run as failed. */
const NETWORK_GUARD = `data:text/javascript,${encodeURIComponent(`
import net from 'node:net';
import dgram from 'node:dgram';
const flag = (what) => { process.stderr.write('BENCH_NETWORK_ATTEMPT ' + what + '\\n'); process.exitCode = 97; };
const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) { flag('tcp'); return connect.apply(this, args); };
const send = dgram.Socket.prototype.send;
dgram.Socket.prototype.send = function (...args) { flag('udp'); return send.apply(this, args); };
`)}`;

const importScript = (file: string) =>
  `import(${JSON.stringify(pathToFileURL(file).href)}).then(() => process.exit(), (error) => { console.error(error); process.exit(1); })`;

/** Runs `command` in a fresh process; its wall time, spawn to exit, in ms, and its stderr. */
function runProcess(
  command: string,
  args: string[],
  env: Record<string, string>,
): Promise<{ ms: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      const ms = performance.now() - started;
      if (code === 0) resolve({ ms, stderr });
      else
        reject(
          new Error(
            `${command} ${args.join(' ').slice(0, 120)}… exited with ${code}: ${stderr.slice(-2000)}`,
          ),
        );
    });
  });
}

/** Wall time of one fresh node process, spawn to exit, in ms. */
const timeProcess = (args: string[], env: Record<string, string>) => runProcess(process.execPath, args, env);

/** valgrind's path, or undefined when it is not installed (.ci/run installs it). */
function findValgrind(): string | undefined {
  try {
    return execFileSync('sh', ['-c', 'command -v valgrind'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * Instructions one fresh process executes, counted by valgrind's callgrind, where wall time moves by
 * tens of ms between runs here. V8 compiles and collects garbage on background threads by default,
 * and how much of that work a process does before it exits depends on timing: counts of the same
 * import varied from 589 to 825 million. With V8's `--single-threaded --predictable` all of it runs
 * on the main thread, deterministically: three counts of the tokens bundle, two of them side by
 * side, agreed within 0.01 %. `--smc-check=all-non-file` lets valgrind follow V8's generated code.
 */
async function countInstructions(
  valgrind: string,
  args: string[],
  env: Record<string, string>,
): Promise<number> {
  const { stderr } = await runProcess(
    valgrind,
    [
      '--tool=callgrind',
      '--callgrind-out-file=/dev/null',
      '--smc-check=all-non-file',
      process.execPath,
      '--single-threaded',
      '--predictable',
      ...args,
    ],
    env,
  );
  const collected = /Collected : (\d+)/.exec(stderr)?.[1];
  if (collected === undefined) throw new Error(`callgrind printed no count: ${stderr.slice(-1500)}`);
  return Number(collected);
}

export interface ColdInitOptions {
  readonly runs: number;
  readonly log: (line: string) => void;
}

export async function measureColdInit(options: ColdInitOptions) {
  const outDir = await benchTempDir('bundles-');
  const started = performance.now();
  const bundles: Record<string, BuiltBundle> = {};
  for (const name of FUNCTIONS) bundles[name] = await buildBundle(name, lambdaEntry(name), outDir);
  bundles[BASELINE] = await buildBundle(BASELINE, 'bench/lambda/dynamodb-only.ts', outDir);
  // Diagnostic: the reference with the SDK's default credential chain (the stack's bundling without
  // its credential alias), i.e. the reference of earlier runs, before the alias shrank both.
  bundles[DEFAULT_CHAIN_BASELINE] = await buildBundle(
    DEFAULT_CHAIN_BASELINE,
    'bench/lambda/dynamodb-only.ts',
    outDir,
    withoutCredentialAlias(),
  );
  // Diagnostic: the tokens function as an ES module (the stack's format before it moved to CommonJS).
  bundles[TOKENS_AS_ESM] = await buildBundle(TOKENS_AS_ESM, lambdaEntry('tokens'), outDir, ESM_BUNDLING);
  // Diagnostic: the tokens function without the Tracer (what dropping X-Ray SDK tracing would buy).
  bundles[TOKENS_WITHOUT_TRACER] = await buildBundle(
    TOKENS_WITHOUT_TRACER,
    lambdaEntry('tokens'),
    outDir,
    undefined,
    TRACER_OFF_ALIAS,
  );
  options.log(
    `  built ${Object.keys(bundles).length} bundles in ${((performance.now() - started) / 1000).toFixed(1)} s (${outDir})`,
  );

  const env = { PATH: process.env.PATH ?? '', ...FUNCTION_ENV };
  const noSourceMaps = { ...env, NODE_OPTIONS: '' };
  for (const bundle of Object.values(bundles)) {
    await timeProcess(['--import', NETWORK_GUARD, '-e', importScript(bundle.file)], env).catch(
      (error: Error) => {
        throw new Error(`importing the ${bundle.name} bundle failed or used the network: ${error.message}`);
      },
    );
  }

  // Targets: a bare process, each bundle, and (diagnostic) tokens and the reference without source maps.
  const targets: Record<string, () => Promise<{ ms: number }>> = {
    'node -e 0': () => timeProcess(['-e', '0'], env),
    'node -e 0 (no source maps)': () => timeProcess(['-e', '0'], noSourceMaps),
    'tokens (no source maps)': () => timeProcess(['-e', importScript(bundles.tokens!.file)], noSourceMaps),
    [`${BASELINE} (no source maps)`]: () =>
      timeProcess(['-e', importScript(bundles[BASELINE]!.file)], noSourceMaps),
  };
  for (const bundle of Object.values(bundles))
    targets[bundle.name] = () => timeProcess(['-e', importScript(bundle.file)], env);
  const samples: Record<string, number[]> = Object.fromEntries(
    Object.keys(targets).map((name) => [name, []]),
  );
  for (let run = 0; run < options.runs; run++) {
    for (const name of shuffled(Object.keys(targets))) samples[name]!.push((await targets[name]!()).ms);
  }
  const medians = Object.fromEntries(Object.entries(samples).map(([name, values]) => [name, median(values)]));
  const net = (name: string, empty = 'node -e 0') =>
    (medians[name] ?? Number.NaN) - (medians[empty] ?? Number.NaN);
  const coldInit = Object.fromEntries([...FUNCTIONS, BASELINE].map((name) => [name, net(name)]));
  const ratios = Object.fromEntries(FUNCTIONS.map((name) => [name, net(name) / net(BASELINE)]));
  const defaultChainMs = net(DEFAULT_CHAIN_BASELINE);

  // Instruction counts: one callgrind run per bundle (and a bare process), minus the bare process.
  const valgrind = findValgrind();
  let instructions: Record<string, number> | undefined;
  if (valgrind === undefined) {
    options.log('  valgrind not found: no instruction counts (apt-get install valgrind)');
  } else {
    // Counts do not depend on what else runs, so the runs share the cores.
    const limit = pLimit(availableParallelism());
    const count = (args: string[], environment = env) =>
      limit(() => countInstructions(valgrind, args, environment));
    const [bare, bareNoMaps] = await Promise.all([count(['-e', '0']), count(['-e', '0'], noSourceMaps)]);
    const jobs = Object.values(bundles).map(
      async (bundle): Promise<[string, number]> => [
        bundle.name,
        (await count(['-e', importScript(bundle.file)])) - bare,
      ],
    );
    // Diagnostic: what `--enable-source-maps` costs the tokens function and the reference.
    for (const name of ['tokens', BASELINE]) {
      jobs.push(
        (async (): Promise<[string, number]> => [
          `${name} (no source maps)`,
          (await count(['-e', importScript(bundles[name]!.file)], noSourceMaps)) - bareNoMaps,
        ])(),
      );
    }
    instructions = Object.fromEntries(await Promise.all(jobs));
    options.log(
      `  instructions (millions, minus node -e 0): ${Object.entries(instructions)
        .map(([name, count]) => `${name} ${(count / 1e6).toFixed(0)}`)
        .join(', ')}`,
    );
  }
  const byInstructions = (name: string, reference: string) =>
    instructions === undefined ? null : instructions[name]! / instructions[reference]!;
  return {
    cold_init_ms: Object.fromEntries(FUNCTIONS.map((name) => [name, coldInit[name]!])),
    cold_init_ratio: ratios.tokens!,
    cold_init_ratio_by_function: ratios,
    baseline_cold_init_ms: coldInit[BASELINE]!,
    /** The tokens function with the Tracer aliased to a no-op: its cold init, ratio and bytes. */
    tokens_without_tracer: {
      cold_init_ms: net(TOKENS_WITHOUT_TRACER),
      cold_init_ratio: net(TOKENS_WITHOUT_TRACER) / net(BASELINE),
      bundle_bytes: bundles[TOKENS_WITHOUT_TRACER]!.bytes,
    },
    /** The tokens function built as an ES module: its cold init, ratio and bytes. */
    tokens_as_esm: {
      cold_init_ms: net(TOKENS_AS_ESM),
      cold_init_ratio: net(TOKENS_AS_ESM) / net(BASELINE),
      bundle_bytes: bundles[TOKENS_AS_ESM]!.bytes,
    },
    /** The reference with the SDK's default credential chain, and every function against it. */
    default_chain_baseline: {
      cold_init_ms: defaultChainMs,
      bundle_bytes: bundles[DEFAULT_CHAIN_BASELINE]!.bytes,
      cold_init_ratio_by_function: Object.fromEntries(
        FUNCTIONS.map((name) => [name, net(name) / defaultChainMs]),
      ),
    },
    /**
     * The same comparisons in executed instructions (callgrind), null without valgrind: each
     * bundle's import minus `node -e 0`, and every function against both references.
     */
    cold_init_instructions:
      instructions === undefined
        ? null
        : {
            counts: instructions,
            ratio_by_function: Object.fromEntries(
              FUNCTIONS.map((name) => [name, byInstructions(name, BASELINE)]),
            ),
            default_chain_ratio_by_function: Object.fromEntries(
              FUNCTIONS.map((name) => [name, byInstructions(name, DEFAULT_CHAIN_BASELINE)]),
            ),
            tokens_without_tracer_ratio: byInstructions(TOKENS_WITHOUT_TRACER, BASELINE),
            tokens_as_esm_ratio: byInstructions(TOKENS_AS_ESM, BASELINE),
            without_source_maps_ratio: byInstructions(
              'tokens (no source maps)',
              `${BASELINE} (no source maps)`,
            ),
          },
    node_e_0_ms: medians['node -e 0']!,
    without_source_maps: {
      tokens_ms: net('tokens (no source maps)', 'node -e 0 (no source maps)'),
      baseline_ms: net(`${BASELINE} (no source maps)`, 'node -e 0 (no source maps)'),
    },
    bundle_bytes: Object.fromEntries(FUNCTIONS.map((name) => [name, bundles[name]!.bytes])),
    bundle_gzip_bytes: Object.fromEntries(FUNCTIONS.map((name) => [name, bundles[name]!.gzipBytes])),
    baseline_bundle_bytes: bundles[BASELINE]!.bytes,
    tokens_bundle_top_packages: bytesByPackage(bundles.tokens!.metafile).slice(0, 15),
    runs: options.runs,
    samples_ms: samples,
  };
}
