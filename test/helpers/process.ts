/** Runs the local runtime as a separate process (`npm start`'s entry), capturing everything it prints. */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type EmbeddedDynamoDb, startEmbeddedDynamoDb } from '../../functions/local/dynamodb';
import { LightspeedSimulator, type SimulatorOptions } from '../../functions/local/simulator';

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
 * The environment of a broker process with a Lightspeed app pointed at a standalone simulator, on a
 * shared DynamoDB endpoint (processes sharing it share `dataDir` too: its keyring seals the tokens).
 */
export function simulatorBrokerEnv(options: {
  readonly port: number;
  readonly apiKey: string;
  readonly dataDir: string;
  readonly dynamodbEndpoint: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly urls: { authorizeUrl: string; tokenUrl: string; apiBaseUrl: string };
}): Record<string, string> {
  return {
    PORT: String(options.port),
    BROKER_API_KEY: options.apiKey,
    BROKER_DATA_DIR: options.dataDir,
    DYNAMODB_ENDPOINT: options.dynamodbEndpoint,
    LIGHTSPEED_X_CLIENT_ID: options.clientId,
    LIGHTSPEED_X_CLIENT_SECRET: options.clientSecret,
    LIGHTSPEED_X_AUTHORIZE_URL: options.urls.authorizeUrl,
    LIGHTSPEED_X_TOKEN_URL: options.urls.tokenUrl,
    LIGHTSPEED_X_API_BASE_URL: options.urls.apiBaseUrl,
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
  simulator: LightspeedSimulator,
  apiKey: string,
  account: string,
): Promise<string> {
  const session = await fetch(`${broker.url}/connect-sessions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ provider: 'lightspeed-x' }),
  });
  const { connect_url } = (await session.json()) as { connect_url: string };
  const link = await fetch(connect_url, { redirect: 'manual' });
  const cookie = (link.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  const callback = simulator.consent(link.headers.get('location') ?? '', { domainPrefix: account });
  const done = await fetch(callback, { headers: { cookie }, redirect: 'manual' });
  await done.text();
  if (done.status !== 200) throw new Error(`connecting ${account} answered ${done.status}`);
  return new URL(callback).searchParams.get('code') ?? '';
}

/** Two broker processes on one DynamoDB endpoint, one data folder and one standalone simulator. */
export interface BrokerPair {
  readonly dynamodb: EmbeddedDynamoDb;
  readonly simulator: LightspeedSimulator;
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
  readonly simulator?: Partial<SimulatorOptions>;
  readonly clockSkewMs?: readonly [number | undefined, number | undefined];
}): Promise<BrokerPair> {
  const dynamodb = await startEmbeddedDynamoDb(undefined);
  const ports = [await freePort(), await freePort()];
  const simulator = new LightspeedSimulator({
    clientId: options.clientId,
    clientSecret: options.clientSecret,
    redirectUris: ports.map((port) => `http://localhost:${port}/oauth/lightspeed-x/callback`),
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
