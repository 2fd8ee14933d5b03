/** Runs the local runtime as a separate process (`npm start`'s entry), capturing everything it prints. */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEMO_SETTINGS } from '../../functions/local/demo';
import { type EmbeddedDynamoDb, startEmbeddedDynamoDb } from '../../functions/local/dynamodb';
import type { SimulatorOptions } from '../../functions/local/simulator';
import {
  createProviderSimulator,
  type OAuthSimulator,
  type ProviderSimulatorId,
} from '../../functions/local/simulator/profiles';
import { providerDefinition } from '../../shared/providers';

export interface BrokerProcess {
  readonly url: string;
  readonly child: ChildProcess;
  /** Everything printed so far, stdout and stderr. */
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

/**
 * The environment of a broker process with an app of `provider` (default Lightspeed X-Series) pointed
 * at a standalone simulator, on a shared DynamoDB endpoint (processes sharing it share `dataDir`
 * too: its keyring seals the tokens). The variables are the provider definition's own.
 */
export function simulatorBrokerEnv(options: {
  readonly port: number;
  readonly apiKey: string;
  readonly dataDir: string;
  readonly dynamodbEndpoint: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly provider?: ProviderSimulatorId;
  /** The simulator's `urls(origin)`. */
  readonly urls: Readonly<Record<string, string>>;
}): Record<string, string> {
  const id = options.provider ?? 'lightspeed-x';
  const definition = providerDefinition(id);
  if (definition.oauth === undefined) throw new Error(`${id} has no OAuth app`);
  const settings = Object.entries(DEMO_SETTINGS[id](options.urls)).map(([name, value]) => {
    const setting = definition.settings[name];
    if (setting === undefined) throw new Error(`${id} has no setting ${name}`);
    return [setting.env, value];
  });
  return {
    PORT: String(options.port),
    BROKER_API_KEY: options.apiKey,
    BROKER_DATA_DIR: options.dataDir,
    DYNAMODB_ENDPOINT: options.dynamodbEndpoint,
    [definition.oauth.env.clientId]: options.clientId,
    [definition.oauth.env.clientSecret]: options.clientSecret,
    ...Object.fromEntries(settings),
  };
}

/**
 * Starts `functions/local/main.ts` with `env` and waits until it prints its URL. `clockSkewMs`
 * shifts the process's wall clock (test/helpers/skewed-clock.mjs), as on a host whose clock is off.
 */
export async function spawnBroker(
  env: Record<string, string>,
  timeoutMs = 30_000,
  options: { clockSkewMs?: number } = {},
): Promise<BrokerProcess> {
  const skew =
    options.clockSkewMs === undefined
      ? []
      : ['--import', new URL('./skewed-clock.mjs', import.meta.url).href];
  const child = spawn(process.execPath, [...skew, '--import', 'tsx', 'functions/local/main.ts'], {
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      ...(options.clockSkewMs === undefined ? {} : { TEST_CLOCK_SKEW_MS: String(options.clockSkewMs) }),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8');
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8');
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`broker did not start:\n${output}`)), timeoutMs);
    const check = () => {
      const match = /Token broker listening on (\S+)/.exec(output);
      if (match?.[1] !== undefined) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout?.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`broker exited with ${code}:\n${output}`));
    });
  });
  return {
    url,
    child,
    output: () => output,
    stop: async (signal = 'SIGINT') => {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
}

/**
 * Connects `account` through a broker process as a retailer would: a connect session, the link,
 * the simulator's consent, the callback with the binding cookie. Resolves the authorization code
 * the callback carried (tests that look for leaks add it to their secrets).
 */
export async function connectThroughProcess(
  broker: BrokerProcess,
  simulator: OAuthSimulator,
  apiKey: string,
  account: string,
  provider: ProviderSimulatorId = 'lightspeed-x',
): Promise<string> {
  // The account goes into every session: the callback must then name the same one.
  const session = await fetch(`${broker.url}/connect-sessions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ provider, account }),
  });
  const { connect_url } = (await session.json()) as { connect_url: string };
  const link = await fetch(connect_url, { redirect: 'manual' });
  const cookie = (link.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  const callback = simulator.consent(link.headers.get('location') ?? '', { account });
  const done = await fetch(callback, { headers: { cookie }, redirect: 'manual' });
  await done.text();
  if (done.status !== 200) throw new Error(`connecting ${account} answered ${done.status}`);
  return new URL(callback).searchParams.get('code') ?? '';
}

/** Two broker processes on one DynamoDB endpoint, one data folder and one standalone simulator. */
export interface BrokerPair {
  readonly dynamodb: EmbeddedDynamoDb;
  readonly simulator: OAuthSimulator;
  readonly brokers: readonly [BrokerProcess, BrokerProcess];
  readonly dataDir: string;
  /** Stops both (the first with `firstSignal`), the simulator and DynamoDB, and removes the folder. */
  stop(firstSignal?: NodeJS.Signals): Promise<void>;
}

/**
 * Starts two `npm start` processes sharing a table, as two Lambda instances share one: the same
 * data folder (its keyring seals the tokens both read), a standalone simulator that knows both
 * redirect URIs. `env` is added to both; `clockSkewMs[i]` shifts process i's wall clock.
 */
export async function startBrokerPair(options: {
  readonly apiKey: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly env: Record<string, string>;
  /** Default Lightspeed X-Series. */
  readonly provider?: ProviderSimulatorId;
  readonly simulator?: Partial<SimulatorOptions>;
  readonly clockSkewMs?: readonly [number | undefined, number | undefined];
}): Promise<BrokerPair> {
  const dynamodb = await startEmbeddedDynamoDb(undefined);
  const ports = [await freePort(), await freePort()];
  const provider = options.provider ?? 'lightspeed-x';
  const simulator = createProviderSimulator(provider, {
    clientId: options.clientId,
    clientSecret: options.clientSecret,
    redirectUris: ports.map((port) => `http://localhost:${port}/oauth/${provider}/callback`),
    ...options.simulator,
  });
  const urls = simulator.urls(await simulator.listen());
  const dataDir = await mkdtemp(join(tmpdir(), 'broker-pair-'));
  const brokers = (await Promise.all(
    ports.map((port, index) => {
      const skew = options.clockSkewMs?.[index];
      return spawnBroker(
        {
          ...simulatorBrokerEnv({
            port,
            apiKey: options.apiKey,
            dataDir,
            dynamodbEndpoint: dynamodb.endpoint,
            clientId: options.clientId,
            clientSecret: options.clientSecret,
            provider,
            urls,
          }),
          ...options.env,
        },
        30_000,
        skew === undefined ? {} : { clockSkewMs: skew },
      );
    }),
  )) as unknown as [BrokerProcess, BrokerProcess];
  return {
    dynamodb,
    simulator,
    brokers,
    dataDir,
    stop: async (firstSignal) => {
      await Promise.all([brokers[0].stop(firstSignal), brokers[1].stop()]);
      await simulator.close();
      await dynamodb.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
