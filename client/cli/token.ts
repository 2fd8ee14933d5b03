/** `token-broker token get <provider> <account>`: a current access token. */
import type { Command } from 'commander';
import type { Provider } from '../types';
import { accountCommand, type CliContext, integer } from './context';
import { tokenFields } from './render';

export function registerToken(program: Command, cli: CliContext): void {
  const tokenCommand = program.command('token').description('fetch tokens');
  accountCommand(tokenCommand, 'get', 'get a current access token (refreshed first when needed)')
    .option(
      '--min-valid-seconds <n>',
      'refresh first if it expires sooner (0 to 43200; broker default 300)',
      integer(0, 43_200),
    )
    .option('--force-refresh', 'refresh now, even if the token is still valid')
    .option('--token-only', 'print only the access token (for TOKEN=$(…))')
    .action(
      async (
        provider: Provider,
        account: string,
        options: { minValidSeconds?: number; forceRefresh?: boolean; tokenOnly?: boolean },
        command: Command,
      ) => {
        const client = await cli.client(command, { tokenFetch: true });
        const token = await client.getToken(provider, account, {
          ...(options.minValidSeconds === undefined ? {} : { minValidSeconds: options.minValidSeconds }),
          ...(options.forceRefresh === true ? { forceRefresh: true } : {}),
        });
        if (options.tokenOnly === true && !cli.json) {
          cli.print(token.access_token);
          return;
        }
        cli.output(token, () => tokenFields(token, cli.now()));
        if (!cli.json && token.stale === true) {
          cli.note(
            'Warning: stale: the broker could not refresh (provider failing); this token is still valid.',
          );
        }
      },
    );
}
