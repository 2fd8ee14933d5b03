/**
 * How the Lambda functions are built: the one definition of their runtime and bundling options.
 *
 * `TokenBroker` (infra/token-broker.ts) hands `LAMBDA_BUNDLING` to every NodejsFunction, and the
 * cold-start benchmark (bench/lib/bundling.ts) builds its bundles from the same object, so the bench
 * measures exactly what ships (a test compares its tokens bundle with the synthesized asset).
 */
import { Runtime } from 'aws-cdk-lib/aws-lambda';
import { type BundlingOptions, LogLevel, OutputFormat, SourceMapMode } from 'aws-cdk-lib/aws-lambda-nodejs';

/** Lambda runtime of every function; a test keeps it on the Node major the tests run on. */
export const LAMBDA_RUNTIME = Runtime.NODEJS_24_X;

/** The entry of a function, relative to the repository root: one file per function in `functions/`. */
export const lambdaEntry = (name: string): string => `functions/${name}.ts`;

/** The SDK package every client imports its default credential chain from. */
export const CREDENTIAL_CHAIN = '@aws-sdk/credential-provider-node';

/**
 * Packages the bundles take from a module of ours instead (esbuild `--alias`), each re-exporting the
 * part of the real package that the bundled code calls.
 */
export const BUNDLE_ALIASES: Readonly<Record<string, string>> = Object.freeze({
  [CREDENTIAL_CHAIN]: './infra/lambda-credentials.ts',
  semver: './infra/xray-semver.cjs',
});

/** `aliases` as NodejsFunction's `esbuildArgs`: one `--alias` with a `name=path` per package. */
export const aliasArgs = (aliases: Readonly<Record<string, string>>): Record<string, string[]> => ({
  '--alias': Object.entries(aliases).map(([name, path]) => `${name}=${path}`),
});

/**
 * esbuild settings of every function (NodejsFunction runs the esbuild in node_modules, never Docker).
 *
 * - `module` before `main`: the AWS SDK and Powertools resolve to their ES module builds, which
 *   esbuild can tree-shake (with esbuild's default order for Node, `main` first, each bundle is
 *   about 290 KB larger).
 * - Written out as CommonJS (index.js), not as an ES module: the tree-shaking above happens on the
 *   inputs and is the same in both formats, but an ES module bundle keeps the sources'
 *   `import http from 'node:http'` (the Powertools Tracer's, for one) as an ES import, and Node builds
 *   an ES module facade for it that reads every export of `node:http`, lazy ones included: that
 *   loads undici, http2, worker_threads and perf_hooks, which none of the functions uses at init.
 *   As CommonJS the import is a plain `require`. `npm run bench` builds the tokens function both
 *   ways and reports the ES module's cold init beside the shipped one (`cold_init.tokens_as_esm`). A
 *   CommonJS bundle also has the `require` the bundled CommonJS packages (aws-xray-sdk-core and its
 *   dependencies) call Node's built-in modules with, so it needs no banner.
 * - Minified, with a linked source map (index.js.map, without the sources' text); the functions run
 *   with NODE_OPTIONS=--enable-source-maps, so stack traces point at the TypeScript sources. Node reads
 *   the map while the bundle loads: `npm run bench` measures that share of the cold start.
 * - The AWS SDK is bundled: the version we test is the version that runs, and a cold start reads
 *   one file instead of resolving the runtime's copy.
 * - Two packages are aliased (BUNDLE_ALIASES): the SDK's default credential chain to its
 *   environment provider, which is where a Lambda function's credentials are
 *   (infra/lambda-credentials.ts, 130 KB less in every bundle), and semver to the one function of it
 *   that the X-Ray SDK calls (infra/xray-semver.cjs, about 20 KB less).
 */
export const LAMBDA_BUNDLING: Readonly<BundlingOptions> = Object.freeze({
  format: OutputFormat.CJS,
  target: `node${/\d+/.exec(LAMBDA_RUNTIME.name)?.[0] ?? ''}`,
  mainFields: ['module', 'main'],
  minify: true,
  sourceMap: true,
  sourceMapMode: SourceMapMode.DEFAULT,
  sourcesContent: false,
  externalModules: [],
  bundleAwsSDK: true,
  forceDockerBundling: false,
  logLevel: LogLevel.WARNING,
  esbuildArgs: aliasArgs(BUNDLE_ALIASES),
});
