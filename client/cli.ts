/**
 * `token-broker`: the broker's command line, for the local runtime (API key) and a deployed broker
 * (SigV4) alike. Every HTTP call goes through TokenBrokerClient. `run` takes its IO as an argument
 * so it can be driven in-process; client/bin.mjs runs it on the real process.
 */
import { readFileSync } from 'node:fs';
import { Argument, Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { PROVIDER_DEFINITIONS } from '../shared/providers';
import { TokenBrokerClient } from './client';
import { ProviderUnavailableError, TokenBrokerError } from './errors';
import { duration, fields, table, when } from './format';
import { PromptCancelledError, readSecret, type SecretSource } from './secret-input';
import { isLoopback, resolveTarget, type Target, UsageError } from './target';
import {
  CONNECTION_STATUSES,
  type ConnectionMetadata,
  type ConnectionStatus,
  PROVIDERS,
  type Provider,
  type TokenResponse,
} from './types';

/** Exit codes, one per class of failure, so scripts can tell them apart. */
export const EXIT = {
  ok: 0,
  /** An unexpected failure, or a broker error without a class of its own (e.g. 500). */
  error: 1,
  /** Bad arguments or flags, or the broker's 400 invalid_request. */
  usage: 2,
  /** 401/403: missing or wrong API key or AWS credentials. */
  unauthorized: 3,
  notFound: 4,
  reauthorizationRequired: 5,
  tokenExpired: 6,
  providerUnavailable: 7,
  /** No answer from the broker (connection refused, DNS, timeout). */
  unreachable: 8,
  /** Ctrl-C at the token prompt. */
  cancelled: 130,
} as const;

export interface CliIo {
  readonly stdin: SecretSource;
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  readonly fetch?: typeof fetch;
  readonly now?: () => number;
}

interface GlobalOptions {
  url?: string;
  apiKey?: string;
  aws?: boolean;
  region?: string;
  lambda?: string;
  json?: boolean;
}

const EXIT_HELP = `
Target:
  --url, else BROKER_URL, else http://localhost:8787.
  Local runtime: --api-key, else BROKER_API_KEY, else \${BROKER_DATA_DIR:-.broker}/api-key (what npm start saved).
  Deployed broker: SigV4 with the standard AWS credential chain, with --aws, for an execute-api host,
  or for an https URL when no API key is given. Region: --region, else the execute-api host's, else AWS_REGION.
  Inside AWS, token get can invoke the tokens function directly: --lambda <name or ARN> (the stack output
  TokensFunctionName; needs lambda:InvokeFunction), with the standard credential chain and --region or AWS_REGION.

Exit codes:
  0 ok  1 other error  2 usage or invalid_request  3 unauthorized  4 not_found
  5 reauthorization_required  6 token_expired  7 provider_unavailable  8 broker unreachable  130 cancelled`;

/** Runs the CLI with `args` (without `node` and the script) and resolves its exit code. */
export async function run(args: readonly string[], io: CliIo = processIo()): Promise<number> {
  const json = args.includes('--json');
  let target: Target | undefined;
  const print = (text: string) => io.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  const note = (text: string) => io.stderr.write(`${text}\n`);

  const program = new Command('token-broker')
    .description('Connect links, connections, personal tokens and tokens from a token broker.')
    .version(packageVersion(), '-V, --version')
    .option('--url <url>', 'broker base URL (env BROKER_URL; default http://localhost:8787)')
    .option('--api-key <key>', 'local runtime API key (better: env BROKER_API_KEY; default: .broker/api-key)')
    .option('--aws', 'sign with SigV4 and the AWS credential chain (a deployed broker)')
    .option('--region <region>', 'AWS region for SigV4 (default: from the execute-api host, else AWS_REGION)')
    .option('--lambda <function>', 'token get only: invoke the tokens function directly (name or ARN)')
    .option('--json', 'print JSON instead of tables (errors as JSON on stderr)')
    .configureHelp({ showGlobalOptions: true })
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    })
    .showHelpAfterError('(add --help for usage)')
    .exitOverride()
    .addHelpText('after', EXIT_HELP);

  const connect = async (command: Command, tokenFetch = false) => {
    const globals = command.optsWithGlobals<GlobalOptions>();
    if (globals.lambda !== undefined) {
      if (!tokenFetch)
        throw new UsageError('--lambda serves token get only; use --url for the other commands');
      if (globals.url !== undefined || globals.apiKey !== undefined || globals.aws === true) {
        throw new UsageError(
          '--lambda replaces --url, --api-key and --aws: give one way to reach the broker',
        );
      }
      return new TokenBrokerClient({
        lambda: {
          functionName: globals.lambda,
          ...(globals.region === undefined ? {} : { region: globals.region }),
        },
        ...(io.now === undefined ? {} : { now: io.now }),
      });
    }
    target = await resolveTarget(globals, { env: io.env, cwd: io.cwd });
    return new TokenBrokerClient({
      url: target.url,
      auth: target.auth,
      ...(io.fetch === undefined ? {} : { fetch: io.fetch }),
      ...(io.now === undefined ? {} : { now: io.now }),
    });
  };
  const now = () => (io.now ?? Date.now)();
  const output = (value: unknown, human: () => string) =>
    print(json ? JSON.stringify(value, null, 2) : human());

  program
    .command('connect-link')
    .description("create a single-use connect link (10 minutes) to open in the retailer's browser")
    .addArgument(providerArgument())
    .option('--return-to <url>', 'where the browser goes afterwards (an origin in BROKER_RETURN_TO_ORIGINS)')
    .option('--reference <ref>', 'your id for the retailer, kept on the connection')
    .action(
      async (provider: Provider, options: { returnTo?: string; reference?: string }, command: Command) => {
        const client = await connect(command);
        const session = await client.createConnectSession({
          provider,
          ...(options.returnTo === undefined ? {} : { returnTo: options.returnTo }),
          ...(options.reference === undefined ? {} : { reference: options.reference }),
        });
        output(session, () =>
          fields([
            ['connect_url', session.connect_url],
            ['expires_at', when(session.expires_at, now())],
            ['session', session.id],
          ]),
        );
      },
    );

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
      const client = await connect(command);
      const filters = {
        ...(options.provider === undefined ? {} : { provider: options.provider }),
        ...(options.status === undefined ? {} : { status: options.status }),
        ...(options.limit === undefined ? {} : { limit: options.limit }),
      };
      if (options.all === true) {
        const all: ConnectionMetadata[] = [];
        for await (const connection of client.allConnections(filters)) all.push(connection);
        output({ connections: all }, () => connectionTable(all, now()));
        return;
      }
      const page = await client.listConnections({
        ...filters,
        ...(options.nextToken === undefined ? {} : { nextToken: options.nextToken }),
      });
      output(page, () => connectionTable(page.connections, now()));
      if (!json && page.next_token !== undefined) {
        note(`More connections: add --all, or --next-token ${page.next_token}`);
      }
    });
  connections
    .command('show')
    .description('show the connection a token fetch would use')
    .addArgument(providerArgument())
    .argument(
      '<account>',
      `the account (${PROVIDER_DEFINITIONS.map((p) => p.account.description).join(', ')})`,
    )
    .action(async (provider: Provider, account: string, _options: unknown, command: Command) => {
      const client = await connect(command);
      const connection = await client.getConnection(provider, account);
      output(connection, () => connectionFields(connection, now()));
    });
  connections
    .command('delete')
    .description('forget a connection and its tokens (OAuth and personal)')
    .addArgument(providerArgument())
    .argument('<account>', 'the account')
    .action(async (provider: Provider, account: string, _options: unknown, command: Command) => {
      const client = await connect(command);
      await client.deleteConnection(provider, account);
      output({ provider, account, deleted: true }, () => `Deleted ${provider}/${account} and its tokens.`);
    });

  const personal = program
    .command('personal-token')
    .description('store, delete and list personal tokens (Lightspeed personal tokens, Xentral PATs)');
  personal
    .command('put')
    .description('store or replace a personal token, read from stdin or a hidden prompt (never an argument)')
    .addArgument(providerArgument())
    .argument('<account>', 'the account')
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
        const client = await connect(command);
        const token = await readSecret(io.stdin, io.stderr, 'personal token');
        const stored = await client.putPersonalToken(provider, account, {
          token,
          ...(options.name === undefined ? {} : { name: options.name }),
          ...(options.expiresAt === undefined ? {} : { expiresAt: options.expiresAt }),
          ...(options.verify === true ? { verify: true } : {}),
        });
        output(stored, () => `Stored personal token.\n${connectionFields(stored, now())}`);
      },
    );
  personal
    .command('delete')
    .description('delete a personal token (an OAuth connection for the account is kept)')
    .addArgument(providerArgument())
    .argument('<account>', 'the account')
    .action(async (provider: Provider, account: string, _options: unknown, command: Command) => {
      const client = await connect(command);
      await client.deletePersonalToken(provider, account);
      output(
        { provider, account, deleted: true },
        () => `Deleted the personal token of ${provider}/${account}.`,
      );
    });
  personal
    .command('list')
    .description('list personal tokens with their expiry')
    .addOption(new Option('--provider <provider>', 'only this provider').choices(PROVIDERS))
    .action(async (options: { provider?: Provider }, command: Command) => {
      const client = await connect(command);
      const tokens: ConnectionMetadata[] = [];
      const filters = options.provider === undefined ? {} : { provider: options.provider };
      for await (const connection of client.allConnections({ ...filters, limit: 100 })) {
        if (connection.source === 'personal') tokens.push(connection);
      }
      output({ connections: tokens }, () =>
        tokens.length === 0
          ? 'No personal tokens.'
          : table(
              ['PROVIDER', 'ACCOUNT', 'NAME', 'STATUS', 'EXPIRES'],
              tokens.map((c) => [c.provider, c.account, c.name ?? '', c.status, when(c.expires_at, now())]),
            ),
      );
    });

  program
    .command('token')
    .description('fetch tokens')
    .command('get')
    .description('get a current access token (refreshed first when needed)')
    .addArgument(providerArgument())
    .argument('<account>', 'the account')
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
        const client = await connect(command, true);
        const token = await client.getToken(provider, account, {
          ...(options.minValidSeconds === undefined ? {} : { minValidSeconds: options.minValidSeconds }),
          ...(options.forceRefresh === true ? { forceRefresh: true } : {}),
        });
        if (options.tokenOnly === true && !json) {
          print(token.access_token);
          return;
        }
        output(token, () => tokenFields(token, now()));
        if (!json && token.stale === true) {
          note('Warning: stale: the broker could not refresh (provider failing); this token is still valid.');
        }
      },
    );

  try {
    await program.parseAsync([...args], { from: 'user' });
    return EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    return report(error, json, io, target);
  }
}

interface ListFlags {
  provider?: Provider;
  status?: ConnectionStatus;
  limit?: number;
  nextToken?: string;
  all?: boolean;
}

/** Prints an error to stderr (the contract's code and message) and picks the exit code. */
function report(error: unknown, json: boolean, io: CliIo, target: Target | undefined): number {
  const write = (code: string, message: string, extra: Record<string, unknown> = {}, hint?: string) => {
    if (json) io.stderr.write(`${JSON.stringify({ error: code, message, ...extra })}\n`);
    else io.stderr.write(`token-broker: ${code}: ${message}${hint === undefined ? '' : `\n${hint}`}\n`);
  };
  if (error instanceof UsageError) {
    write('usage', error.message);
    return EXIT.usage;
  }
  if (error instanceof PromptCancelledError) {
    write('cancelled', 'nothing was stored');
    return EXIT.cancelled;
  }
  if (error instanceof TokenBrokerError) {
    const retryAfter = error instanceof ProviderUnavailableError ? error.retryAfterSeconds : undefined;
    const extra = {
      status: error.status,
      ...(retryAfter === undefined ? {} : { retry_after_seconds: retryAfter }),
    };
    const hint = hintFor(error, target, retryAfter);
    write(error.code, error.message, extra, hint);
    return exitCodeFor(error);
  }
  write('internal_error', error instanceof Error ? error.message : String(error));
  return EXIT.error;
}

function hintFor(error: TokenBrokerError, target: Target | undefined, retryAfter: number | undefined) {
  switch (error.code) {
    case 'unauthorized':
    case 'forbidden':
    case 'credentials_unavailable':
      return target === undefined
        ? undefined
        : `(credentials from ${target.authSource}, broker ${target.url})`;
    case 'network_error':
      return target !== undefined && isLoopback(new URL(target.url).hostname)
        ? '(is the local broker running? npm start)'
        : undefined;
    case 'provider_unavailable':
      return retryAfter === undefined ? undefined : `(retry after ${duration(retryAfter * 1000)})`;
    case 'reauthorization_required':
      return '(the retailer must connect again: token-broker connect-link <provider>)';
    default:
      return undefined;
  }
}

/** The exit code for a broker error. */
export function exitCodeFor(error: TokenBrokerError): number {
  switch (error.code) {
    case 'invalid_request':
      return EXIT.usage;
    case 'unauthorized':
    case 'forbidden':
    case 'credentials_unavailable':
      return EXIT.unauthorized;
    case 'not_found':
      return EXIT.notFound;
    case 'reauthorization_required':
      return EXIT.reauthorizationRequired;
    case 'token_expired':
      return EXIT.tokenExpired;
    case 'provider_unavailable':
      return EXIT.providerUnavailable;
    case 'network_error':
      return EXIT.unreachable;
    default:
      return EXIT.error;
  }
}

function connectionTable(connections: readonly ConnectionMetadata[], now: number): string {
  if (connections.length === 0) return 'No connections.';
  const named = connections.some((c) => typeof c.name === 'string');
  return table(
    ['PROVIDER', 'ACCOUNT', 'SOURCE', 'STATUS', 'EXPIRES', 'REFERENCE', ...(named ? ['NAME'] : [])],
    connections.map((c) => [
      c.provider,
      c.account,
      c.source,
      c.status,
      when(c.expires_at, now),
      c.reference ?? '',
      ...(named ? [c.name ?? ''] : []),
    ]),
  );
}

function connectionFields(c: ConnectionMetadata, now: number): string {
  return fields([
    ['provider', c.provider],
    ['account', c.account],
    ['source', c.source],
    ['status', c.status],
    ['expires_at', when(c.expires_at, now)],
    ['connected_at', c.connected_at],
    ['refreshed_at', c.refreshed_at ?? '-'],
    ['reference', c.reference ?? '-'],
    ['name', c.source === 'personal' ? (c.name ?? '-') : undefined],
    ['last_error', c.source === 'oauth' ? (c.last_error ?? '-') : undefined],
  ]);
}

function tokenFields(t: TokenResponse, now: number): string {
  return fields([
    ['access_token', t.access_token],
    ['token_type', t.token_type],
    ['source', t.source],
    ['expires_at', when(t.expires_at, now)],
    ['api_base_url', t.api_base_url],
    ['stale', t.stale === true ? 'true' : undefined],
  ]);
}

function providerArgument(): Argument {
  const ids = [...PROVIDERS];
  return new Argument('<provider>', `${ids.slice(0, -1).join(', ')} or ${ids.at(-1)}`).choices(ids);
}

function integer(min: number, max: number) {
  return (value: string): number => {
    if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
      throw new InvalidArgumentError(`must be a whole number from ${min} to ${max}`);
    }
    return Number(value);
  };
}

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

function processIo(): CliIo {
  return {
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    cwd: process.cwd(),
  };
}
