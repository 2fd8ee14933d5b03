/** The layering the design promises: the domain talks to ports, never to AWS. */
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

async function sources(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile() && e.name.endsWith('.ts')).map((e) => join(e.parentPath, e.name));
}

describe('architecture', () => {
  it('keeps shared/domain and shared/providers free of AWS SDK and Powertools imports', async () => {
    const files = [...(await sources('shared/domain')), ...(await sources('shared/providers'))];
    expect(files.length).toBeGreaterThan(10);
    for (const file of files) {
      const text = await readFile(file, 'utf8');
      expect(text, file).not.toMatch(/from '@aws-(sdk|lambda-powertools)\//);
    }
  });

  it('keeps the Lambda entry points thin: one import of their handler factory and the AWS runtime', async () => {
    for (const entry of ['public', 'tokens', 'admin', 'sweep']) {
      const text = await readFile(`functions/${entry}.ts`, 'utf8');
      expect(text).toContain(`./handlers/${entry}`);
      expect(text.split('\n').length).toBeLessThan(15);
    }
  });

  it('assembles the middy chain in one place: only the pipeline builds handlers or adds middlewares', async () => {
    const chainFiles = new Set(['functions/http/pipeline.ts', 'functions/observability.ts']);
    const files = [...(await sources('functions')), ...(await sources('shared'))];
    for (const file of files) {
      const text = await readFile(file, 'utf8');
      // A value import of middy (not `import type`), a middy middleware package, or Powertools' middlewares.
      const builds =
        /^import middy from '@middy\/core'/m.test(text) ||
        /from '@middy\/(?!core')/.test(text) ||
        /from '@aws-lambda-powertools\/[a-z]+\/middleware'/.test(text) ||
        /\.use\(/.test(text);
      expect(builds, file).toBe(chainFiles.has(file));
    }
  });

  it('keeps shared/domain speaking domain: it imports nothing from providers, adapters or functions', async () => {
    const files = await sources('shared/domain');
    for (const file of files) {
      // The one exception: the provider ids are the registry's, named as a type only (erased at run time).
      const text = (await readFile(file, 'utf8')).replace(
        "import type { ProviderId } from '../providers';",
        '',
      );
      expect(text, file).not.toMatch(/from '\.\.\/(providers|adapters|config)/);
      expect(text, file).not.toMatch(/from '[./]*functions\//);
    }
  });

  it('keeps shared/ free of imports from functions/ (the HTTP layer depends on the domain, not back)', async () => {
    for (const file of await sources('shared')) {
      const text = await readFile(file, 'utf8');
      expect(text, file).not.toMatch(/from '(\.\.\/)+functions\//);
    }
  });

  it('keeps HTTP out of the domain: no status code on domain errors and no request schema (zod) in shared/domain', async () => {
    const errors = await readFile('shared/domain/errors.ts', 'utf8');
    expect(errors).not.toMatch(/(readonly|abstract) .*status(: number| = \d)/);
    for (const file of await sources('shared/domain')) {
      const text = await readFile(file, 'utf8');
      expect(text, file).not.toMatch(/from 'zod/);
      // Request fields are the HTTP layer's names (functions/http/errors.ts maps the domain's inputs).
      expect(text, file).not.toMatch(/'(body|query|path)\.[a-z_]+'/);
    }
  });

  it('declares every port interface in shared/domain/ports.ts and nowhere else in shared/', async () => {
    const ports = await readFile('shared/domain/ports.ts', 'utf8');
    const names = [...ports.matchAll(/^export (?:interface|type) (\w+)/gm)].map((m) => m[1]);
    expect(names).toEqual(
      expect.arrayContaining([
        'ConnectionStore',
        'SessionStore',
        'SecretStore',
        'HttpClient',
        'EventSink',
        'MetricSink',
        'KeyProvider',
        'TokenCipher',
        'Provider',
      ]),
    );
    for (const file of await sources('shared')) {
      if (file.endsWith('ports.ts')) continue;
      const text = await readFile(file, 'utf8');
      for (const name of names)
        expect(text, `${file} declares ${name}`).not.toMatch(
          new RegExp(`^export (interface|type) ${name}\\b`, 'm'),
        );
    }
  });

  it('keeps the provider registry free of libraries, so the client and the CLI can read it', async () => {
    // Every module the registry loads at run time (type-only imports are erased); Node's own modules
    // (Shopify's HMAC check needs node:crypto) are no library.
    const seen = new Set<string>();
    const visit = async (file: string): Promise<void> => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = await readFile(file, 'utf8');
      for (const [, specifier] of text.matchAll(/^(?:import|export) (?!type )[^;]*? from '([^']+)';/gms)) {
        expect(specifier, `${file} imports ${specifier}`).toMatch(/^(\.|node:)/);
        if (specifier?.startsWith('.')) await visit(resolve(dirname(file), `${specifier}.ts`));
      }
    };
    await visit(resolve('shared/providers/index.ts'));
    expect(seen.size).toBeGreaterThan(4);
  });
});
