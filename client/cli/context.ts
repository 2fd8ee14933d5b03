/** What every command gets: its IO, the broker client for the global options, output helpers. */
import { Argument, type Command, InvalidArgumentError } from 'commander';
import { TokenBrokerClient } from '../client';
import type { SecretSource } from '../secret-input';
import { resolveTarget, type Target, UsageError } from '../target';
import { PROVIDERS, type Provider } from '../types';
import { accountHelp, listing, PROVIDER_HELP, type ProviderHelp } from './providers';

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

/** One run of the CLI as its commands see it. */
export class CliContext {
  /** The broker reached over HTTP, once a command has resolved it (for error hints). */
  target: Target | undefined;

  constructor(
    readonly io: CliIo,
    /** `--json`: the broker's JSON on stdout, errors as JSON on stderr. */
    readonly json: boolean,
  ) {}

  now(): number {
    return (this.io.now ?? Date.now)();
  }

  print(text: string): void {
    this.io.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  }

  /** A line for the person at the terminal, on stderr (never mixed into a piped result). */
  note(text: string): void {
    this.io.stderr.write(`${text}\n`);
  }

  /** `value` as JSON with `--json`, else `human()`. */
  output(value: unknown, human: () => string): void {
    this.print(this.json ? JSON.stringify(value, null, 2) : human());
  }

  /** The client for the global options; `--lambda` serves the token fetch only. */
  async client(command: Command, options: { tokenFetch?: boolean } = {}): Promise<TokenBrokerClient> {
    const globals = command.optsWithGlobals<GlobalOptions>();
    const now = this.io.now === undefined ? {} : { now: this.io.now };
    if (globals.lambda !== undefined) {
      if (options.tokenFetch !== true)
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
        ...now,
      });
    }
    this.target = await resolveTarget(globals, { env: this.io.env, cwd: this.io.cwd });
    return new TokenBrokerClient({
      url: this.target.url,
      auth: this.target.auth,
      ...(this.io.fetch === undefined ? {} : { fetch: this.io.fetch }),
      ...now,
    });
  }
}

/** The `<provider>` argument, limited to the providers the broker knows (or those of `ids`). */
export function providerArgument(ids: readonly Provider[] = PROVIDERS): Argument {
  return new Argument('<provider>', listing(ids)).choices(ids);
}

/** A subcommand of `parent` on one connection: `<provider> <account>`. */
export function accountCommand(
  parent: Command,
  name: string,
  description: string,
  options: { readonly providers?: readonly ProviderHelp[] } = {},
): Command {
  const providers = options.providers ?? PROVIDER_HELP;
  return parent
    .command(name)
    .description(description)
    .addArgument(providerArgument(providers.map((p) => p.id)))
    .argument('<account>', accountHelp(providers));
}

/** The action of a `delete` subcommand: `remove`, then a confirmation (`deleted: true` in JSON). */
export function deleteAction(
  cli: CliContext,
  remove: (client: TokenBrokerClient, provider: Provider, account: string) => Promise<void>,
  done: (provider: Provider, account: string) => string,
) {
  return async (provider: Provider, account: string, _options: unknown, command: Command) => {
    await remove(await cli.client(command), provider, account);
    cli.output({ provider, account, deleted: true }, () => done(provider, account));
  };
}

/** An option parser for a whole number in [min, max]. */
export function integer(min: number, max: number) {
  return (value: string): number => {
    if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
      throw new InvalidArgumentError(`must be a whole number from ${min} to ${max}`);
    }
    return Number(value);
  };
}
