/** `token-broker connections list|show|delete`: connection metadata, never a token. */

import { type Command, Option } from 'commander';
import {
  CONNECTION_STATUSES,
  type ConnectionMetadata,
  type ConnectionStatus,
  PROVIDERS,
  type Provider,
} from '../types';
import { accountCommand, type CliContext, deleteAction, integer } from './context';
import { connectionFields, connectionTable } from './render';

interface ListFlags {
  provider?: Provider;
  status?: ConnectionStatus;
  limit?: number;
  nextToken?: string;
  all?: boolean;
}

export function registerConnections(program: Command, cli: CliContext): void {
  const connections = program
    .command('connections')
    .description('list, show and delete connections (metadata only, never a token)');
  connections
    .command('list')
    .description('list connections, one page (--all: every page)')
    .addOption(new Option('--provider <provider>', 'only this provider').choices(PROVIDERS))
    .addOption(new Option('--status <status>', 'only this status').choices(CONNECTION_STATUSES))
    .option('--limit <n>', 'page size, 1 to 100 (default 50)', integer(1, 100))
    .option('--next-token <token>', 'the page after the one that printed this token')
    .option('--all', 'follow next_token through every page')
    .action(async (options: ListFlags, command: Command) => {
      const client = await cli.client(command);
      const filters = {
        ...(options.provider === undefined ? {} : { provider: options.provider }),
        ...(options.status === undefined ? {} : { status: options.status }),
        ...(options.limit === undefined ? {} : { limit: options.limit }),
      };
      if (options.all === true) {
        const all: ConnectionMetadata[] = [];
        for await (const connection of client.allConnections(filters)) all.push(connection);
        cli.output({ connections: all }, () => connectionTable(all, cli.now()));
        return;
      }
      const page = await client.listConnections({
        ...filters,
        ...(options.nextToken === undefined ? {} : { nextToken: options.nextToken }),
      });
      cli.output(page, () => connectionTable(page.connections, cli.now()));
      if (!cli.json && page.next_token !== undefined) {
        cli.note(`More connections: add --all, or --next-token ${page.next_token}`);
      }
    });
  accountCommand(connections, 'show', 'show the connection a token fetch would use').action(
    async (provider: Provider, account: string, _options: unknown, command: Command) => {
      const connection = await (await cli.client(command)).getConnection(provider, account);
      cli.output(connection, () => connectionFields(connection, cli.now()));
    },
  );
  accountCommand(connections, 'delete', 'forget a connection and its tokens (OAuth and personal)').action(
    deleteAction(
      cli,
      (client, provider, account) => client.deleteConnection(provider, account),
      (provider, account) => `Deleted ${provider}/${account} and its tokens.`,
    ),
  );
}
