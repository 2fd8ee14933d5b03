/**
 * The Lambda bundles, built as the stack ships them, with the esbuild API.
 *
 * `infra/token-broker.ts` (TokenBroker.createFunction) gives NodejsFunction these bundling options;
 * they are written inline there, so they are REPLICATED here. Keep the two in step (or export them
 * from infra, see bench/README-SECTION.md). NodejsFunction turns them into this esbuild command,
 * run from the project root (aws-cdk-lib/aws-lambda-nodejs/lib/bundling.js, buildEsbuildArgs):
 *
 *   esbuild --bundle functions/<name>.ts --target=node24 --platform=node --format=esm
 *     --outfile=<asset>/index.mjs --minify --sourcemap --sources-content=false --log-level=warning
 *     --banner:js="<banner>" --main-fields=module,main
 *
 * with no --external (externalModules: [], bundleAwsSDK: true: the AWS SDK is bundled).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { type BuildOptions, build, type Metafile } from 'esbuild';
import { ROOT } from './child';

/** infra/token-broker.ts → createFunction → `bundling` (OutputFormat.ESM, SourceMapMode.DEFAULT, LogLevel.WARNING). */
export const STACK_BUNDLING = {
  format: 'esm',
  minify: true,
  sourceMap: true,
  sourcesContent: false,
  target: 'node24',
  mainFields: ['module', 'main'],
  banner: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);",
  externalModules: [] as string[],
  logLevel: 'warning',
} as const;

/** The stack's functions: `functions/<name>.ts`, memory from the construct's FunctionSpec. */
export const FUNCTIONS = ['public', 'tokens', 'admin', 'sweep'] as const;
export type FunctionName = (typeof FUNCTIONS)[number];

/** Memory of the tokens function in the construct (`specs.tokens.memorySize`): the cost figure uses it. */
export const TOKENS_MEMORY_MB = 256;

/** The reference bundle: a function that only uses @aws-sdk/client-dynamodb (bench/lambda/dynamodb-only.ts). */
export const BASELINE = 'dynamodb-only';

/** The esbuild API options equivalent to the CLI command NodejsFunction runs. */
export function esbuildOptions(entry: string, outfile: string): BuildOptions {
  return {
    absWorkingDir: ROOT,
    entryPoints: [entry],
    bundle: true,
    target: STACK_BUNDLING.target,
    platform: 'node',
    format: STACK_BUNDLING.format,
    outfile,
    minify: STACK_BUNDLING.minify,
    sourcemap: STACK_BUNDLING.sourceMap,
    sourcesContent: STACK_BUNDLING.sourcesContent,
    external: [...STACK_BUNDLING.externalModules],
    logLevel: STACK_BUNDLING.logLevel,
    banner: { js: STACK_BUNDLING.banner },
    mainFields: [...STACK_BUNDLING.mainFields],
    // Not an output option: esbuild's record of what went into the bundle, for the size analysis.
    metafile: true,
  };
}

export interface BuiltBundle {
  readonly name: string;
  /** index.mjs */
  readonly file: string;
  readonly bytes: number;
  readonly gzipBytes: number;
  readonly metafile: Metafile;
}

/** Builds one bundle into `<outDir>/<name>/index.mjs` (+ .map), as the asset directory holds it. */
export async function buildBundle(name: string, entry: string, outDir: string): Promise<BuiltBundle> {
  const dir = join(outDir, name);
  await mkdir(dir, { recursive: true });
  const file = join(dir, 'index.mjs');
  const result = await build(esbuildOptions(entry, file));
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
