/** The simulator's split: importers keep `functions/local/simulator`, and no module needs scrolling twice. */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as simulator from '../../../../functions/local/simulator';

const FOLDER = 'functions/local/simulator';

describe('simulator layout', () => {
  it('exports the public API from the folder as the single file did', () => {
    expect(Object.keys(simulator).sort()).toEqual([
      'DOMAIN_PREFIX_PATTERN',
      'LightspeedSimulator',
      'UNUSABLE_VARIANTS',
      'XentralSimulator',
      'parseFault',
    ]);
  });

  it('keeps every simulator module under 400 lines', async () => {
    const files = (await readdir(FOLDER)).filter((name) => name.endsWith('.ts'));
    expect(files.length).toBeGreaterThan(5);
    for (const file of files) {
      const lines = (await readFile(join(FOLDER, file), 'utf8')).split('\n').length;
      expect(lines, file).toBeLessThanOrEqual(400);
    }
  });
});
