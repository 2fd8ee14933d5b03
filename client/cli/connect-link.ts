/** `token-broker connect-link <provider>`: a single-use link for the retailer's browser. */
import type { Command } from 'commander';
import { fields, when } from '../format';
import type { Provider } from '../types';
import { type CliContext, providerArgument } from './context';
import { accountOf, listing, PROVIDER_HELP, type ProviderHelp } from './providers';

/** Only providers with an OAuth app have a connect flow; the others take personal tokens. */
const OAUTH = PROVIDER_HELP.filter((p) => p.oauth);

/** `--account`'s help: which providers need it and what each one's account is. */
export function connectAccountHelp(providers: readonly ProviderHelp[] = OAUTH): string {
  const first = providers.filter((p) => p.accountFirst);
  const rest = providers.filter((p) => !p.accountFirst);
  return [
    'the account being connected',
    first.length === 0 ? undefined : `required for ${listing(first.map((p) => p.id))}`,
    rest.length === 0
      ? undefined
      : `optional for ${listing(
          rest.map((p) => p.id),
          'and',
        )} (the provider must then name this account)`,
    providers.map(accountOf).join('; '),
  ]
    .filter((part) => part !== undefined)
    .join('; ');
}

/** `Examples:` lines: one per provider, with `--account` where it is required. */
function examples(providers: readonly ProviderHelp[] = OAUTH): string {
  const lines = providers.map(
    (p) =>
      `  token-broker connect-link ${p.id}${p.accountFirst ? ` --account ${p.example}` : ''} --reference tenant-7`,
  );
  return `\nExamples:\n${lines.join('\n')}`;
}

export function registerConnectLink(program: Command, cli: CliContext): void {
  program
    .command('connect-link')
    .description("create a single-use connect link (10 minutes) to open in the retailer's browser")
    .addArgument(providerArgument(OAUTH.map((p) => p.id)))
    .option('--account <account>', connectAccountHelp())
    .option('--return-to <url>', 'where the browser goes afterwards (an origin in BROKER_RETURN_TO_ORIGINS)')
    .option('--reference <ref>', 'your id for the retailer, kept on the connection')
    .addHelpText('after', examples())
    .action(
      async (
        provider: Provider,
        options: { account?: string; returnTo?: string; reference?: string },
        command: Command,
      ) => {
        const client = await cli.client(command);
        // The broker checks the account against the provider's syntax and says which rule failed.
        const session = await client.createConnectSession({
          provider,
          ...(options.account === undefined ? {} : { account: options.account }),
          ...(options.returnTo === undefined ? {} : { returnTo: options.returnTo }),
          ...(options.reference === undefined ? {} : { reference: options.reference }),
        });
        cli.output(session, () =>
          fields([
            ['connect_url', session.connect_url],
            ['expires_at', when(session.expires_at, cli.now())],
            ['session', session.id],
          ]),
        );
      },
    );
}
