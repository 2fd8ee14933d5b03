/** `token-broker connect-link <provider>`: a single-use link for the retailer's browser. */
import type { Command } from 'commander';
import { fields, when } from '../format';
import type { Provider } from '../types';
import { type CliContext, providerArgument } from './context';

export function registerConnectLink(program: Command, cli: CliContext): void {
  program
    .command('connect-link')
    .description("create a single-use connect link (10 minutes) to open in the retailer's browser")
    .addArgument(providerArgument())
    .option('--return-to <url>', 'where the browser goes afterwards (an origin in BROKER_RETURN_TO_ORIGINS)')
    .option('--reference <ref>', 'your id for the retailer, kept on the connection')
    .action(
      async (provider: Provider, options: { returnTo?: string; reference?: string }, command: Command) => {
        const client = await cli.client(command);
        const session = await client.createConnectSession({
          provider,
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
