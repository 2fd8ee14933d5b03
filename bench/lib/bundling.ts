/**
 * The Lambda bundles, built as the stack ships them, with the esbuild API.
 *
 * The options come from `LAMBDA_BUNDLING` (infra/bundling.ts), the object `TokenBroker` hands to
 * every NodejsFunction. NodejsFunction turns them into an esbuild command run from the project root
 * (aws-cdk-lib/aws-lambda-nodejs/lib/bundling.js, buildEsbuildArgs); `esbuildOptions` below is the
 * same translation for the esbuild API. It refuses an option it does not know, so a new bundling
 * setting cannot ship without the bench building with it too, and test/infra/lambda.test.ts checks
 * that its tokens bundle is byte-identical to the synthesized asset.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { type BundlingOptions, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { type BuildOptions, build, type Metafile } from 'esbuild';
import { aliasArgs, BUNDLE_ALIASES, CREDENTIAL_CHAIN, LAMBDA_BUNDLING } from '../../infra/bundling';
import { ROOT } from './child';

/** The stack's bundling options (recorded with the results). */
export const STACK_BUNDLING: Readonly<BundlingOptions> = LAMBDA_BUNDLING;

/** The stack's functions: `functions/<name>.ts`, memory from the construct's FunctionSpec. */
export const FUNCTIONS = ['public', 'tokens', 'admin', 'sweep'] as const;
export type FunctionName = (typeof FUNCTIONS)[number];

/** Memory of the tokens function in the construct (`specs.tokens.memorySize`): the cost figure uses it. */
export const TOKENS_MEMORY_MB = 256;

/** The reference bundle: a function that only uses @aws-sdk/client-dynamodb (bench/lambda/dynamodb-only.ts). */
export const BASELINE = 'dynamodb-only';

/** Diagnostic: the tokens function with the Tracer aliased to a no-op (bench/lambda/tracer-off.ts). */
export const TOKENS_WITHOUT_TRACER = 'tokens-without-tracer';
export const TRACER_OFF_ALIAS: Readonly<Record<string, string>> = {
  '@aws-lambda-powertools/tracer': './bench/lambda/tracer-off.ts',
  '@aws-lambda-powertools/tracer/middleware': './bench/lambda/tracer-off.ts',
};

/** The reference built without the credential alias (the SDK's default chain), for comparison. */
export const DEFAULT_CHAIN_BASELINE = 'dynamodb-only-default-chain';

/** Diagnostic: the tokens function built as an ES module, as the stack built it before (with the
 * banner that gave bundled CommonJS packages a `require`). */
export const TOKENS_AS_ESM = 'tokens-esm';
export const ESM_BUNDLING: Readonly<BundlingOptions> = Object.freeze({
  ...STACK_BUNDLING,
  format: OutputFormat.ESM,
  banner: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);",
});

/** The stack's bundling without its credential-chain alias (its other aliases stay). */
export function withoutCredentialAlias(): Readonly<BundlingOptions> {
  const { [CREDENTIAL_CHAIN]: _chain, ...others } = BUNDLE_ALIASES;
  return { ...STACK_BUNDLING, esbuildArgs: aliasArgs(others) };
}

/** The options of `LAMBDA_BUNDLING` this translation handles; anything else makes it throw. */
const TRANSLATED = new Set<keyof BundlingOptions>([
  'format',
  'target',
  'mainFields',
  'minify',
  'sourceMap',
  'sourceMapMode',
  'sourcesContent',
  'banner',
  'externalModules',
  'bundleAwsSDK',
  'forceDockerBundling',
  'logLevel',
  'esbuildArgs',
]);

/**
 * esbuild CLI flags (`esbuildArgs`) this translation handles: `--alias` with one `name=path` or a
 * list of them (NodejsFunction passes each as `--alias:name=path`).
 */
function aliases(esbuildArgs: BundlingOptions['esbuildArgs']): Record<string, string> {
  const alias: Record<string, string> = {};
  for (const [flag, value] of Object.entries(esbuildArgs ?? {})) {
    const pairs = (Array.isArray(value) ? value : [value]).map((item) =>
      typeof item === 'string' ? item.split(/=(.*)/s) : [],
    );
    for (const [name, path] of pairs) {
      if (flag !== '--alias' || name === undefined || path === undefined) {
        throw new Error(
          `bench/lib/bundling.ts does not translate the esbuild argument ${flag}=${String(value)}`,
        );
      }
      alias[name] = path;
    }
  }
  return alias;
}

/** The file NodejsFunction writes the bundle to: `index.mjs` for ESM, `index.js` for CommonJS. */
export function bundleFileName(bundling: Readonly<BundlingOptions> = STACK_BUNDLING): string {
  return bundling.format === OutputFormat.ESM ? 'index.mjs' : 'index.js';
}

/** The esbuild API options equivalent to the command NodejsFunction runs with `bundling`. */
export function esbuildOptions(
  entry: string,
  outfile: string,
  bundling: Readonly<BundlingOptions> = STACK_BUNDLING,
): BuildOptions {
  const unknown = Object.keys(bundling).filter((key) => !TRANSLATED.has(key as keyof BundlingOptions));
  if (unknown.length > 0) {
    throw new Error(`bench/lib/bundling.ts does not translate the bundling option(s) ${unknown.join(', ')}`);
  }
  if (bundling.target === undefined || bundling.externalModules === undefined) {
    // NodejsFunction would derive them from the runtime and the SDK setting; the stack sets both.
    throw new Error('LAMBDA_BUNDLING must set target and externalModules explicitly');
  }
  const sourceMap = bundling.sourceMapMode ?? (bundling.sourceMap ? 'default' : undefined);
  const alias = aliases(bundling.esbuildArgs);
  return {
    absWorkingDir: ROOT,
    entryPoints: [entry],
    bundle: true,
    target: bundling.target,
    platform: 'node',
    ...(bundling.format === undefined ? {} : { format: bundling.format }),
    outfile,
    minify: bundling.minify ?? false,
    // SourceMapMode.DEFAULT is `--sourcemap` (linked); the other modes are esbuild's own names.
    sourcemap: sourceMap === undefined ? false : sourceMap === 'default' ? true : sourceMap,
    sourcesContent: bundling.sourcesContent ?? true,
    external: [...bundling.externalModules],
    ...(bundling.logLevel === undefined ? {} : { logLevel: bundling.logLevel }),
    ...(bundling.banner === undefined ? {} : { banner: { js: bundling.banner } }),
    ...(bundling.mainFields === undefined ? {} : { mainFields: [...bundling.mainFields] }),
    ...(Object.keys(alias).length === 0 ? {} : { alias }),
    // Not an output option: esbuild's record of what went into the bundle, for the size analysis.
    metafile: true,
  };
}

export interface BuiltBundle {
  readonly name: string;
  /** index.js (index.mjs for an ESM build) */
  readonly file: string;
  readonly bytes: number;
  readonly gzipBytes: number;
  readonly metafile: Metafile;
}

/** Builds one bundle into `<outDir>/<name>/index.js` (+ .map), as the asset directory holds it. */
export async function buildBundle(
  name: string,
  entry: string,
  outDir: string,
  bundling: Readonly<BundlingOptions> = STACK_BUNDLING,
  /** Diagnostic bundles only: more esbuild aliases on top of the stack's. */
  extraAlias: Readonly<Record<string, string>> = {},
): Promise<BuiltBundle> {
  const dir = join(outDir, name);
  await mkdir(dir, { recursive: true });
  const file = join(dir, bundleFileName(bundling));
  const options = esbuildOptions(entry, file, bundling);
  if (Object.keys(extraAlias).length > 0) options.alias = { ...options.alias, ...extraAlias };
  const result = await build(options);
  if (result.errors.length > 0) throw new Error(`esbuild failed for ${entry}`);
  const code = await readFile(file);
  await writeFile(join(dir, 'meta.json'), JSON.stringify(result.metafile));
  return {
    name,
    file,
    bytes: code.length,
    gzipBytes: gzipSync(code, { level: 9 }).length,
    metafile: result.metafile!,
  };
}

/** Bytes in the bundle per package (node_modules/<name> or <@scope/name>), project sources by top folder. */
export function bytesByPackage(metafile: Metafile): { name: string; bytes: number }[] {
  const totals = new Map<string, number>();
  for (const output of Object.values(metafile.outputs)) {
    for (const [path, input] of Object.entries(output.inputs)) {
      const normalized = path.replace(/\\/g, '/');
      const at = normalized.lastIndexOf('node_modules/');
      const rest = at === -1 ? undefined : normalized.slice(at + 'node_modules/'.length).split('/');
      const owner =
        rest === undefined
          ? `(project) ${normalized.split('/')[0] ?? normalized}/`
          : rest[0]?.startsWith('@')
            ? `${rest[0]}/${rest[1]}`
            : (rest[0] ?? normalized);
      totals.set(owner, (totals.get(owner) ?? 0) + input.bytesInOutput);
    }
  }
  return [...totals].map(([name, bytes]) => ({ name, bytes })).sort((a, b) => b.bytes - a.bytes);
}
