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
 * esbuild settings of every function (NodejsFunction runs the esbuild in node_modules, never Docker).
 *
 * - ESM, with `module` before `main`: the AWS SDK and Powertools then resolve to their ES module
 *   builds, which esbuild can tree-shake (with esbuild's default order for Node, `main` first, each
 *   bundle is about 290 KB larger).
 * - The banner gives the bundled CommonJS packages (aws-xray-sdk-core and its dependencies) the
 *   `require` they call Node's built-in modules with.
 * - Minified, with a linked source map (index.mjs.map, without the sources' text); the functions run
 *   with NODE_OPTIONS=--enable-source-maps, so stack traces point at the TypeScript sources. Node reads
 *   the map while the bundle loads: `npm run bench` measures that share of the cold start.
 * - The AWS SDK is bundled: the version we test is the version that runs, and a cold start reads
 *   one file instead of resolving the runtime's copy.
 * - The SDK's default credential chain is replaced by its environment provider, which is where a
 *   Lambda function's credentials are (infra/lambda-credentials.ts): 130 KB less in every bundle.
 */
export const LAMBDA_BUNDLING: Readonly<BundlingOptions> = Object.freeze({
  format: OutputFormat.ESM,
  target: `node${/\d+/.exec(LAMBDA_RUNTIME.name)?.[0] ?? ''}`,
  mainFields: ['module', 'main'],
  minify: true,
  sourceMap: true,
  sourceMapMode: SourceMapMode.DEFAULT,
  sourcesContent: false,
  banner: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);",
  externalModules: [],
  bundleAwsSDK: true,
  forceDockerBundling: false,
  logLevel: LogLevel.WARNING,
  esbuildArgs: { '--alias': `${CREDENTIAL_CHAIN}=./infra/lambda-credentials.ts` },
});
