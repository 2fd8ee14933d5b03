/** `token-broker personal-token put|delete|list`: personal tokens, read from stdin or a hidden prompt. */
import { type Command, Option } from 'commander';
import { readSecret } from '../secret-input';
import { type ConnectionMetadata, PROVIDERS, type Provider } from '../types';
import { accountCommand, type CliContext, deleteAction } from './context';
import { listing, PROVIDER_HELP } from './providers';
import { connectionFields, personalTokenTable } from './render';

/** The providers that take personal tokens (the broker refuses `PUT` for the others). */
const PERSONAL = PROVIDER_HELP.filter((p) => p.personalTokens);

/** `Lightspeed X-Series, Xentral; not Lightspeed R-Series`: who takes personal tokens and who does not. */
function personalProviders(): string {
  const none = PROVIDER_HELP.filter((p) => !p.personalTokens);
  const names = listing(
    PERSONAL.map((p) => p.displayName),
    'and',
  );
  return none.length === 0 ? names : `${names}; not ${listing(none.map((p) => p.displayName))}`;
}

export function registerPersonalToken(program: Command, cli: CliContext): void {
  const personal = program
    .command('personal-token')
    .description(`store, delete and list personal tokens (${personalProviders()})`);
  accountCommand(
    personal,
    'put',
    'store or replace a personal token, read from stdin or a hidden prompt (never an argument)',
    { providers: PERSONAL },
  )
    .option('--name <name>', 'a label, e.g. "ERP sync"')
    .option('--expires-at <date-time>', 'when the token expires (ISO 8601, e.g. 2027-03-01T00:00:00Z)')
    .option('--verify', 'have the broker check the token with one call to the provider first')
    .addHelpText(
      'after',
      '\nExamples:\n  token-broker personal-token put xentral acme --name "ERP sync" --verify < token.txt',
    )
    .action(
      async (
        provider: Provider,
        account: string,
        options: { name?: string; expiresAt?: string; verify?: boolean },
        command: Command,
      ) => {
        const client = await cli.client(command);
        const token = await readSecret(cli.io.stdin, cli.io.stderr, 'personal token');
        const stored = await client.putPersonalToken(provider, account, {
          token,
          ...(options.name === undefined ? {} : { name: options.name }),
          ...(options.expiresAt === undefined ? {} : { expiresAt: options.expiresAt }),
          ...(options.verify === true ? { verify: true } : {}),
        });
        cli.output(stored, () => `Stored personal token.\n${connectionFields(stored, cli.now())}`);
      },
    );
  accountCommand(
    personal,
    'delete',
    'delete a personal token (an OAuth connection for the account is kept)',
  ).action(
    deleteAction(
      cli,
      (client, provider, account) => client.deletePersonalToken(provider, account),
      (provider, account) => `Deleted the personal token of ${provider}/${account}.`,
    ),
  );
  personal
    .command('list')
    .description('list personal tokens with their expiry')
    .addOption(new Option('--provider <provider>', 'only this provider').choices(PROVIDERS))
    .action(async (options: { provider?: Provider }, command: Command) => {
      const client = await cli.client(command);
      const tokens: ConnectionMetadata[] = [];
      const filters = options.provider === undefined ? {} : { provider: options.provider };
      for await (const connection of client.allConnections({ ...filters, limit: 100 })) {
        if (connection.source === 'personal') tokens.push(connection);
      }
      cli.output({ connections: tokens }, () => personalTokenTable(tokens, cli.now()));
    });
}
