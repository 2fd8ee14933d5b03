#!/usr/bin/env node
// The `token-broker` command. The CLI is TypeScript: tsx compiles it on import, so it runs after
// `npm ci` with no build step.
import { register } from 'tsx/esm/api';

register();
const { run } = await import('./cli/index.ts');
for (const stream of [process.stdout, process.stderr]) {
  // `token-broker … | head` closes the pipe early; that is not an error.
  stream.on('error', (error) => {
    if (error.code !== 'EPIPE') throw error;
  });
}
process.exitCode = await run(process.argv.slice(2));
