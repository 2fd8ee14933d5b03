/**
 * `token-broker`: the broker's command line, for the local runtime (API key) and a deployed broker
 * (SigV4) alike. Every HTTP call goes through TokenBrokerClient. `run` takes its IO as an argument
 * so it can be driven in-process; client/bin.mjs runs it on the real process. One file per command
 * beside this one; exit codes in exit.ts, human output in render.ts.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { registerConnectLink } from './connect-link';
import { registerConnections } from './connections';
import { CliContext, type CliIo } from './context';
import { EXIT, EXIT_CODES_HELP, reportFailure } from './exit';
import { registerPersonalToken } from './personal-token';
import { registerToken } from './token';

export type { CliIo } from './context';
export { EXIT, exitCodeFor } from './exit';

const TARGET_HELP = `
Target:
  --url, else BROKER_URL, else http://localhost:8787.
  Local runtime: --api-key, else BROKER_API_KEY, else \${BROKER_DATA_DIR:-.broker}/api-key (what npm start saved).
  Deployed broker: SigV4 with the standard AWS credential chain, with --aws, for an execute-api host,
  or for an https URL when no API key is given. Region: --region, else the execute-api host's, else AWS_REGION.
  Inside AWS, token get can invoke the tokens function directly: --lambda <name or ARN> (the stack output
  TokensFunctionName; needs lambda:InvokeFunction), with the standard credential chain and --region or AWS_REGION.
`;

/** Runs the CLI with `args` (without `node` and the script) and resolves its exit code. */
export async function run(args: readonly string[], io: CliIo = processIo()): Promise<number> {
  const cli = new CliContext(io, args.includes('--json'));
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
    .addHelpText('after', `${TARGET_HELP}\n${EXIT_CODES_HELP}`);
  registerConnectLink(program, cli);
  registerConnections(program, cli);
  registerPersonalToken(program, cli);
  registerToken(program, cli);

  try {
    await program.parseAsync([...args], { from: 'user' });
    return EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    return reportFailure(error, cli.json, io.stderr, cli.target);
  }
}

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
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
