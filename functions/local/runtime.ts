/**
 * The local runtime: the same handlers as on AWS, behind a `node:http` server that plays API
 * Gateway, on an embedded DynamoDB (or DYNAMODB_ENDPOINT), a 0600 file secret store, the sweep on
 * a timer, and in demo mode the built-in provider simulator on the same port.
 */
// First: it must be in place before any AWS SDK request (see the module).
import './invocations';
import { randomBytes, randomUUID } from 'node:crypto';
import { link, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { LocalKeyring } from '../../shared/adapters/crypto/local-keyring';
import { DynamoDbStore } from '../../shared/adapters/dynamodb/store';
import { fetchHttpClient } from '../../shared/adapters/http/fetch-client';
import { createPowertoolsLogger, portLogger } from '../../shared/adapters/logging';
import { FileSecretStore } from '../../shared/adapters/secrets/file-store';
import { type BrokerConfig, ConfigError, ENV, loadConfig } from '../../shared/config';
import { EnvelopeCipher } from '../../shared/domain/crypto';
import { type EventSink, type Logger, systemClock } from '../../shared/domain/ports';
import type { RetryPolicy } from '../../shared/domain/retry';
import type { SweepReport } from '../../shared/domain/sweep';
import { logEventSink } from '../../shared/domain/telemetry';
import { type OAuthAppConfig, PROVIDER_DEFINITIONS, type ProviderDefinitions } from '../../shared/providers';
import { lightspeedX } from '../../shared/providers/lightspeed-x';
import { xentral } from '../../shared/providers/xentral';
import { adminRoutes } from '../handlers/admin';
import { publicRoutes } from '../handlers/public';
import { sweepJob } from '../handlers/sweep';
import { tokenRoutes } from '../handlers/tokens';
import { httpPipeline } from '../http/pipeline';
import { jobPipeline, type Observability } from '../observability';
import { createServices, type Services } from '../services';
import { DEMO_SETTINGS, isDemoProvider } from './demo';
import { ensureTable, LOCAL_CREDENTIALS, SALVAGE_ENV, startEmbeddedDynamoDb } from './dynamodb';
import { invocationScope } from './invocations';
import {
  bearerMatches,
  lambdaContext,
  localHostNames,
  localRequestListener,
  startingListener,
} from './server';
import { LightspeedSimulator, XentralSimulator } from './simulator';
import { demoSimulatorWriter, loadDemoSimulator } from './simulator/persisted';
import { createProviderSimulator, type OAuthSimulator, type ProviderSimulatorId } from './simulator/profiles';

/** Local-runtime-only variables (documented in the README). */
export const LOCAL_ENV = {
  host: 'BROKER_HOST',
  simulatorTokenTtl: 'SIMULATOR_TOKEN_TTL_SECONDS',
} as const;

export const DEMO_CLIENT_ID = 'demo-client-id';

export interface LocalBroker {
  readonly url: string;
  readonly apiKey: string;
  readonly apiKeySource: 'environment' | 'file' | 'generated';
  readonly config: BrokerConfig;
  readonly services: Services;
  readonly demo: boolean;
  readonly simulator: LightspeedSimulator | undefined;
  /** In demo mode, the simulator of every simulated OAuth provider, by provider id. */
  readonly simulators: Readonly<Record<string, OAuthSimulator>>;
  readonly xentralSimulator: XentralSimulator | undefined;
  readonly dynamodbEndpoint: string;
  readonly embeddedDynamoDb: boolean;
  /** Runs one sweep now (the timer skips a beat if one is running). */
  sweep(): Promise<SweepReport>;
  close(): Promise<void>;
}

export interface LocalBrokerOptions {
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Tests shorten the provider retry budget. */
  readonly retryPolicy?: RetryPolicy;
  /** How recent a refresh satisfies every caller (tests of other behaviour turn it off with 0). */
  readonly refreshCooldownMs?: number;
  /** Tests observe the domain's log lines and events through these. */
  readonly logger?: Logger;
  readonly events?: EventSink;
  /**
   * The providers to serve (default: the built-ins). A provider of its own is configured through the
   * variables its definition names, like a built-in; the demo simulators play the built-ins only.
   */
  readonly providers?: ProviderDefinitions;
}

const MIN_API_KEY_LENGTH = 16;

/** SIMULATOR_TOKEN_TTL_SECONDS, checked before anything starts; unset: each provider's own lifetime. */
function simulatorTokenTtl(env: Readonly<Record<string, string | undefined>>): number | undefined {
  const raw = env[LOCAL_ENV.simulatorTokenTtl]?.trim();
  if (raw === undefined || raw === '') return undefined;
  const seconds = Number(raw);
  if (!/^\d{1,9}$/.test(raw) || seconds < 1) {
    throw new ConfigError(
      `${LOCAL_ENV.simulatorTokenTtl} must be a whole number of seconds from 1, got "${raw}"`,
    );
  }
  return seconds;
}

async function loadApiKey(env: Readonly<Record<string, string | undefined>>, dataDir: string) {
  const fromEnv = env[ENV.apiKey]?.trim();
  if (fromEnv) {
    if (fromEnv.length < MIN_API_KEY_LENGTH)
      throw new ConfigError(`${ENV.apiKey} must be at least ${MIN_API_KEY_LENGTH} characters`);
    return { apiKey: fromEnv, source: 'environment' as const };
  }
  const path = join(dataDir, 'api-key');
  let stored: string | undefined;
  try {
    stored = (await readFile(path, 'utf8')).trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  if (stored !== undefined) {
    // A damaged file is not replaced: the backends hold the old key, and a new one would lock them
    // out without a word. The message never quotes the file (it may be most of the key).
    if (stored.length < MIN_API_KEY_LENGTH || /\s/.test(stored)) {
      throw new ConfigError(
        `${path} is ${stored === '' ? 'empty' : 'damaged (truncated or not one key)'}: restore it, or set ` +
          `${ENV.apiKey}, or delete the file to generate a new key (backends must then use the new one)`,
      );
    }
    return { apiKey: stored, source: 'file' as const };
  }
  const apiKey = `tbk_${randomBytes(24).toString('base64url')}`;
  // Create-if-absent by hard link of a complete file: processes starting together on one folder
  // agree on one key, and none ever reads a half-written one.
  const temporary = `${path}.${process.pid}.${randomUUID()}.tmp`;
  await writeFile(temporary, `${apiKey}\n`, { mode: 0o600 });
  try {
    await link(temporary, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return loadApiKey(env, dataDir);
    throw error;
  } finally {
    await unlink(temporary);
  }
  return { apiKey, source: 'generated' as const };
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolvePort, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'EADDRINUSE'
          ? new ConfigError(`port ${port} is in use; set ${ENV.port} to another port`)
          : error,
      ),
    );
    server.listen(port, host, () => resolvePort((server.address() as AddressInfo).port));
  });
}

/** What the running process adds to the configuration: its port, public URL and demo providers. */
interface LocalCompletion {
  readonly port: number;
  readonly publicUrl: string;
  readonly providers: Record<
    string,
    { readonly settings: Record<string, string>; readonly app?: Partial<OAuthAppConfig> }
  >;
}

/**
 * The configuration read once at start (loadConfig), completed with what only the running process
 * knows: the port it got (PORT=0), the public URL that follows, and in demo mode the simulators'
 * URLs and app. It reads nothing from the environment.
 */
function completeConfig(initial: BrokerConfig, completion: LocalCompletion): BrokerConfig {
  const providers = { ...initial.providers };
  for (const [id, patch] of Object.entries(completion.providers)) {
    const current = providers[id];
    if (current === undefined) continue;
    providers[id] = Object.freeze({
      settings: Object.freeze({ ...current.settings, ...patch.settings }),
      app:
        current.app === undefined || patch.app === undefined
          ? current.app
          : Object.freeze({ ...current.app, ...patch.app }),
    });
  }
  return Object.freeze({
    ...initial,
    port: completion.port,
    publicUrl: completion.publicUrl,
    providers: Object.freeze(providers),
  });
}

/** Starts the whole broker on this machine. */
export async function startLocalBroker(options: LocalBrokerOptions = {}): Promise<LocalBroker> {
  const env = options.env ?? process.env;
  const definitions = options.providers ?? PROVIDER_DEFINITIONS;
  const initial = loadConfig(env, definitions);
  const dataDir = resolve(initial.dataDir);
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const { apiKey, source: apiKeySource } = await loadApiKey(env, dataDir);
  // Stored tokens are sealed under data keys wrapped by this keyring (KMS on AWS). Opened before
  // listening, so that a damaged file stops the start with nothing left open.
  const keyring = await LocalKeyring.open(join(dataDir, 'keyring.json'));
  const host = env[LOCAL_ENV.host]?.trim() || '127.0.0.1';

  // Demo mode: no simulated provider has an app of its own, so the simulators stand in for all of
  // them (a real app for one provider alongside simulators for the others would only confuse).
  const simulated = definitions.filter(
    (definition) => definition.oauth !== undefined && isDemoProvider(definition.id),
  );
  const demo =
    simulated.length > 0 &&
    simulated.every((definition) => initial.providers[definition.id]?.app?.clientId === undefined);
  const simulatorStatePath = join(dataDir, 'simulator.json');
  const simulatorTtl = simulatorTokenTtl(env);
  // Before listening, so that a damaged file stops the start with nothing left open.
  const savedSimulator = demo ? await loadDemoSimulator(simulatorStatePath) : undefined;

  // Listen first: with PORT=0 the public URL (and the redirect URI) depends on the port we get.
  // Until the broker is built, the server answers 503 "starting"; then its listener is swapped.
  const allowedHosts = new Set<string>();
  const starting = startingListener(allowedHosts);
  const front = createServer(starting);
  let server: Server | undefined = front;
  const powertools = createPowertoolsLogger();
  // Before listening too: a damaged store stops the start with nothing left open.
  let embedded: Awaited<ReturnType<typeof startEmbeddedDynamoDb>> | undefined;
  if (initial.dynamodbEndpoint === undefined) {
    embedded = await startEmbeddedDynamoDb(join(dataDir, 'dynamodb'), 0, {
      salvage: env[SALVAGE_ENV]?.trim() === '1',
      log: (level, message) => powertools[level](message),
    });
  }
  let port: number;
  try {
    port = await listen(front, initial.port, host);
  } catch (error) {
    await embedded?.close();
    throw error;
  }
  const publicUrl = env[ENV.publicUrl]?.trim() ? initial.publicUrl : `http://localhost:${port}`;
  for (const name of localHostNames(publicUrl, port, host)) allowedHosts.add(name);

  let simulator: LightspeedSimulator | undefined;
  const simulators: Record<string, OAuthSimulator> = {};
  let xentralSimulator: XentralSimulator | undefined;
  // What only the running process knows, filled into the configuration read at start.
  const completion: LocalCompletion = { port, publicUrl, providers: {} };
  let simulatorWriter: ReturnType<typeof demoSimulatorWriter> | undefined;
  if (savedSimulator !== undefined) {
    const { clientSecret } = savedSimulator;
    for (const definition of simulated) {
      const id = definition.id as ProviderSimulatorId;
      const options = {
        clientId: DEMO_CLIENT_ID,
        clientSecret,
        redirectUris: [`${publicUrl}/oauth/${id}/callback`],
        ...(simulatorTtl === undefined ? {} : { accessTokenTtlSeconds: simulatorTtl }),
        restore: id === lightspeedX.id ? savedSimulator.tokens : savedSimulator.providers?.[id],
        onTokensChanged: () => simulatorWriter?.changed(),
        controlKey: apiKey,
      };
      // Lightspeed keeps its own class (tests and the CLI reach it as `broker.simulator`).
      const played =
        id === lightspeedX.id ? new LightspeedSimulator(options) : createProviderSimulator(id, options);
      simulators[id] = played;
      completion.providers[id] = {
        settings: DEMO_SETTINGS[id](played.urls(publicUrl)),
        app: { clientId: DEMO_CLIENT_ID, clientSecret },
      };
    }
    simulator = simulators[lightspeedX.id] as LightspeedSimulator | undefined;
    simulatorWriter = demoSimulatorWriter(simulatorStatePath, () => ({
      clientSecret,
      tokens: simulators[lightspeedX.id]?.snapshot() ?? { accessTokens: [], refreshTokens: [] },
      providers: Object.fromEntries(
        Object.entries(simulators)
          .filter(([id]) => id !== lightspeedX.id)
          .map(([id, played]) => [id, played.snapshot()]),
      ),
    }));
    xentralSimulator = new XentralSimulator();
    if (!env[xentral.settings.apiBaseUrl.env]) {
      completion.providers[xentral.id] = {
        settings: { apiBaseUrl: xentralSimulator.urls(publicUrl).apiBaseUrl },
      };
    }
  }
  for (const definition of definitions) {
    const app = initial.providers[definition.id]?.app;
    if (definition.oauth === undefined || app?.clientId === undefined || app.clientSecret !== undefined)
      continue;
    if (demo && isDemoProvider(definition.id)) continue;
    const names = definition.oauth.env;
    throw new ConfigError(`${names.clientSecret} is required when ${names.clientId} is set`);
  }
  const config = completeConfig(initial, completion);

  const dynamodbEndpoint = config.dynamodbEndpoint ?? embedded!.endpoint;
  const dynamodb = new DynamoDBClient({
    endpoint: dynamodbEndpoint,
    region: 'local',
    credentials: LOCAL_CREDENTIALS,
  });
  await ensureTable(dynamodb, config.tableName);
  const documents = DynamoDBDocumentClient.from(dynamodb, {
    marshallOptions: { removeUndefinedValues: true },
  });

  const domainLogger = options.logger ?? portLogger(powertools);
  const services = createServices({
    config,
    store: new DynamoDbStore(documents, config.tableName, new EnvelopeCipher(keyring), {
      providerIds: definitions.map((definition) => definition.id),
    }),
    secrets: new FileSecretStore(join(dataDir, 'secrets.json')),
    providerDefinitions: definitions,
    clientSecret: async (provider) => config.providers[provider]?.app?.clientSecret ?? '',
    http: fetchHttpClient(),
    clock: systemClock,
    logger: domainLogger,
    owner: `local:${process.pid}:${randomUUID().slice(0, 8)}`,
    // Locally, events are log lines (`"message":"event"`); there are no CloudWatch metrics.
    events: options.events ?? logEventSink(domainLogger),
    metrics: { count: () => undefined },
    ...(options.retryPolicy === undefined ? {} : { retryPolicy: options.retryPolicy }),
    ...(options.refreshCooldownMs === undefined ? {} : { refreshCooldownMs: options.refreshCooldownMs }),
  });
  const invocation = await invocationScope();
  // Request ids on every log line; no X-Ray daemon or CloudWatch here.
  const observability: Observability = { logger: powertools, resetKeys: true };
  const http = (routes: Parameters<typeof httpPipeline>[1]) =>
    invocation(httpPipeline(services, routes, { observability }));
  const sweepHandler = invocation(jobPipeline(sweepJob(services), observability));

  let running: Promise<SweepReport> | undefined;
  const runSweep = (): Promise<SweepReport> => {
    running ??= sweepHandler(undefined, lambdaContext(randomUUID(), 'sweep')).finally(() => {
      running = undefined;
    });
    return running;
  };
  const timer = setInterval(() => {
    runSweep().catch((error: unknown) => powertools.error('sweep failed', { error: String(error) }));
  }, config.sweepIntervalSeconds * 1000);

  const localRoutes = async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (path === '/_local/sweep' && req.method === 'POST') {
      if (!bearerMatches(req.headers.authorization, apiKey)) {
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({ error: 'unauthorized', message: 'send Authorization: Bearer $BROKER_API_KEY' }),
        );
        return true;
      }
      const report = await runSweep();
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(report));
      return true;
    }
    for (const played of Object.values(simulators)) if (await played.handle(req, res)) return true;
    if (xentralSimulator !== undefined && (await xentralSimulator.handle(req, res))) return true;
    return false;
  };

  front.off('request', starting).on(
    'request',
    localRequestListener({
      apiKey,
      allowedHosts,
      handlers: {
        public: http(publicRoutes(services)),
        tokens: http(tokenRoutes(services)),
        admin: http(adminRoutes(services)),
      },
      extensions: [localRoutes],
    }),
  );

  return {
    url: publicUrl,
    apiKey,
    apiKeySource,
    config,
    services,
    demo,
    simulator,
    simulators,
    xentralSimulator,
    dynamodbEndpoint,
    embeddedDynamoDb: embedded !== undefined,
    sweep: runSweep,
    close: async () => {
      clearInterval(timer);
      await running?.catch(() => undefined);
      await new Promise<void>((done) => {
        server?.close(() => done());
        server?.closeAllConnections();
      });
      server = undefined;
      dynamodb.destroy();
      await embedded?.close();
      await simulatorWriter?.flush();
    },
  };
}
