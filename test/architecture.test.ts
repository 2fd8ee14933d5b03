/** The layering the design promises: the domain talks to ports, never to AWS. */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
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
});
