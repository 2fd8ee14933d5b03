/**
 * The bundles the stack ships, built with its own esbuild settings (infra/bundling.ts through
 * bench/lib/bundling.ts, which test/infra/lambda.test.ts keeps byte-identical to the synthesized
 * asset), loaded the way the Lambda runtime loads a handler file, and run through the traced flow of
 * test/helpers/traced-flow.ts: the module format and the aliases must not cost a segment, a
 * subsegment or a secret. And each alias must still hand the bundled code every export it uses.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type BuiltBundle, buildBundle, FUNCTIONS } from '../../bench/lib/bundling';
import { BUNDLE_ALIASES, lambdaEntry } from '../../infra/bundling';
import { describeTracedFlow, type Handlers, type Invoke } from '../helpers/traced-flow';

const outDir = mkdtempSync(join(tmpdir(), 'broker-bundles-'));
const built: Partial<Record<(typeof FUNCTIONS)[number], BuiltBundle>> = {};
const requireModule = createRequire(import.meta.url);
const children: ChildProcess[] = [];

afterAll(() => {
  for (const child of children) child.kill();
  rmSync(outDir, { recursive: true, force: true });
});

/**
 * A bundle in a process of its own (test/helpers/bundle-runtime.mjs), with the environment the
 * traced flow has set: each bundle carries its own copy of the X-Ray SDK, which, like on AWS, must
 * have its process to itself.
 */
async function startFunction(file: string): Promise<Invoke> {
  const child = fork(join(import.meta.dirname, '../helpers/bundle-runtime.mjs'), [file], {
    env: { ...process.env },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  children.push(child);
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  let next = 0;
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${file} exited with ${code} while loading`)));
    child.on('message', (message: { ready?: true; id?: number; result?: unknown; error?: string }) => {
      if (message.ready) return resolve();
      const call = pending.get(message.id ?? -1);
      pending.delete(message.id ?? -1);
      if (message.error !== undefined) call?.reject(new Error(message.error));
      else call?.resolve(message.result);
    });
  });
  return (event, context) =>
    new Promise((resolve, reject) => {
      const id = next++;
      pending.set(id, { resolve, reject });
      child.send({
        id,
        event,
        traceId: process.env._X_AMZN_TRACE_ID,
        requestId: context.awsRequestId,
        functionName: context.functionName,
      });
    });
}

describeTracedFlow('X-Ray traces of the Lambda functions (the shipped bundles)', async () => {
  const handlers: Partial<Handlers> = {};
  for (const name of FUNCTIONS) {
    const bundle = await buildBundle(name, lambdaEntry(name), outDir);
    built[name] = bundle;
    handlers[name] = await startFunction(bundle.file);
  }
  return handlers as Handlers;
});

describe('bundle aliases', () => {
  const root = join(import.meta.dirname, '../..');

  it.each(Object.entries(BUNDLE_ALIASES))(
    '%s: every bundled importer uses only what %s exports',
    (name, path) => {
      const exported = new Set(Object.keys(requireModule(join(root, path)) as object));
      expect(exported.size).toBeGreaterThan(0);
      let importers = 0;
      for (const bundle of Object.values(built)) {
        for (const [file, input] of Object.entries(bundle.metafile.inputs)) {
          if (!input.imports.some((entry) => entry.original === name)) continue;
          importers++;
          const source = readFileSync(join(root, file), 'utf8');
          // The module bound to the import, then every property read or named import of it.
          const binding =
            new RegExp(`(?:var|const|let)\\s+(\\w+)\\s*=\\s*require\\(['"]${name}['"]\\)`).exec(
              source,
            )?.[1] ??
            new RegExp(`import\\s+\\*\\s+as\\s+(\\w+)\\s+from\\s+['"]${name}['"]`).exec(source)?.[1];
          const named =
            new RegExp(`import\\s*\\{([^}]*)\\}\\s*from\\s*['"]${name}['"]`).exec(source)?.[1] ??
            new RegExp(
              `(?:const|let|var)\\s*\\{([^}]*)\\}\\s*=\\s*(?:await\\s+import|require)\\(['"]${name}['"]\\)`,
            ).exec(source)?.[1];
          const used = new Set<string>([
            ...(binding === undefined
              ? []
              : [...source.matchAll(new RegExp(`\\b${binding}\\.(\\w+)`, 'g'))].map((m) => m[1] ?? '')),
            ...(named ?? '')
              .split(',')
              .map((part) => part.trim().split(/\s+as\s+|\s*:\s*/)[0] ?? '')
              .filter(Boolean),
          ]);
          expect(
            binding !== undefined || named !== undefined,
            `${file} imports ${name} in a way this test cannot read`,
          ).toBe(true);
          expect(used.size, `${file} uses nothing of ${name}?`).toBeGreaterThan(0);
          for (const member of used) expect(exported, `${file} uses ${name}.${member}`).toContain(member);
        }
      }
      expect(importers, `no bundle imports ${name}: drop its alias`).toBeGreaterThan(0);
    },
  );

  it('semver: gives the X-Ray SDK the real semver.gte', () => {
    const { gte } = requireModule(join(root, BUNDLE_ALIASES.semver ?? '')) as {
      gte: (a: string, b: string) => boolean;
    };
    expect(gte('3.1164.0', '3.0.0')).toBe(true);
    expect(gte('2.1.0', '2.7.0')).toBe(false);
    expect(gte).toBe(requireModule('semver').gte);
  });
});
