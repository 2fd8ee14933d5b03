/**
 * Test harness: a local broker in demo mode (in-process, real HTTP on 127.0.0.1, dynalite, the
 * simulator) and a scripted retailer browser that walks the connect flow.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type LocalBroker, startLocalBroker } from '../../functions/local/runtime';
import type { LightspeedSimulator } from '../../functions/local/simulator';
import type { DomainEvent, EventSink, Logger } from '../../shared/domain/ports';
import type { RetryPolicy } from '../../shared/domain/retry';

export const TEST_API_KEY = 'test-api-key-0123456789abcdef';

/** A retry policy with short waits so fault tests stay fast; same shape as production. */
export const FAST_RETRY: RetryPolicy = {
  attempts: 3,
  baseDelayMs: 20,
  maxDelayMs: 100,
  attemptTimeoutMs: 1_500,
  budgetMs: 4_000,
  maxRetryAfterSeconds: 2,
};

export interface TestBroker {
  readonly broker: LocalBroker;
  readonly url: string;
  readonly simulator: LightspeedSimulator;
  readonly dataDir: string;
  /** fetch against the broker with the API key. */
  api(path: string, init?: RequestInit): Promise<Response>;
  /** JSON body of an authenticated request. */
  json<T = Record<string, unknown>>(
    path: string,
    init?: RequestInit,
  ): Promise<{ status: number; body: T; headers: Headers }>;
  close(options?: { keepData?: boolean }): Promise<void>;
}

export async function startTestBroker(
  env: Record<string, string> = {},
  options: {
    dataDir?: string;
    retryPolicy?: RetryPolicy;
    /** Default 0: most suites force refresh after refresh; the storm tests use the real cooldown. */
    refreshCooldownMs?: number;
    logger?: Logger;
    events?: EventSink;
  } = {},
): Promise<TestBroker> {
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'broker-test-')));
  const broker = await startLocalBroker({
    env: {
      PORT: '0',
      BROKER_API_KEY: TEST_API_KEY,
      BROKER_DATA_DIR: dataDir,
      SWEEP_INTERVAL_SECONDS: '3600',
      POWERTOOLS_LOG_LEVEL: 'SILENT',
      ...env,
    },
    retryPolicy: options.retryPolicy ?? FAST_RETRY,
    refreshCooldownMs: options.refreshCooldownMs ?? 0,
    ...(options.logger === undefined ? {} : { logger: options.logger }),
    ...(options.events === undefined ? {} : { events: options.events }),
  });
  if (broker.simulator === undefined) throw new Error('test broker must run in demo mode');
  const api = (path: string, init: RequestInit = {}) =>
    fetch(`${broker.url}${path}`, {
      ...init,
      redirect: 'manual',
      headers: {
        authorization: `Bearer ${broker.apiKey}`,
        'content-type': 'application/json',
        ...init.headers,
      },
    });
  return {
    broker,
    url: broker.url,
    simulator: broker.simulator,
    dataDir,
    api,
    json: async <T>(path: string, init?: RequestInit) => {
      const response = await api(path, init);
      const text = await response.text();
      return {
        status: response.status,
        body: (text === '' ? {} : JSON.parse(text)) as T,
        headers: response.headers,
      };
    },
    close: async ({ keepData = false } = {}) => {
      await broker.close();
      if (!keepData) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Where the browser stands after opening a connect link. */
export interface Authorization {
  /** The provider authorization URL the broker redirected to. */
  readonly location: string;
  readonly state: string;
  /** `name=value` of the binding cookie. */
  readonly cookie: string;
  readonly setCookie: string;
}

/** Creates a connect session through the API. */
export async function createSession(
  t: TestBroker,
  body: Record<string, unknown> = { provider: 'lightspeed-x' },
) {
  const { status, body: session } = await t.json<{ id: string; connect_url: string; expires_at: string }>(
    '/connect-sessions',
    { method: 'POST', body: JSON.stringify(body) },
  );
  if (status !== 201) throw new Error(`connect session: ${status} ${JSON.stringify(session)}`);
  return session;
}

/** Opens a connect link as a browser would (no API key) and captures the redirect and cookie. */
export async function openConnectLink(connectUrl: string): Promise<Authorization> {
  const response = await fetch(connectUrl, { redirect: 'manual' });
  if (response.status !== 302) throw new Error(`connect link answered ${response.status}`);
  const location = response.headers.get('location') ?? '';
  const setCookie = response.headers.get('set-cookie') ?? '';
  return {
    location,
    state: new URL(location).searchParams.get('state') ?? '',
    cookie: setCookie.split(';')[0] ?? '',
    setCookie,
  };
}

/** Opens a callback URL in the browser that holds `cookie`. */
export function openCallback(callbackUrl: string, cookie?: string): Promise<Response> {
  return fetch(callbackUrl, { redirect: 'manual', headers: cookie ? { cookie } : {} });
}

/** The whole flow: session, link, consent at the simulator, callback. Resolves the callback response. */
export async function connect(
  t: TestBroker,
  account = 'demo-store',
  session: Record<string, unknown> = { provider: 'lightspeed-x' },
): Promise<Response> {
  const { connect_url } = await createSession(t, session);
  const auth = await openConnectLink(connect_url);
  const callback = t.simulator.consent(auth.location, { domainPrefix: account });
  const response = await openCallback(callback, auth.cookie);
  await response.text();
  return response;
}

export interface TokenBody {
  provider: string;
  account: string;
  access_token: string;
  token_type: string;
  expires_at: string | null;
  source: string;
  api_base_url: string;
  stale?: boolean;
  error?: string;
  message?: string;
}

/** A logger and an event sink that keep everything for assertions. */
export function recorder() {
  const lines: { level: string; message: string; attributes: Record<string, unknown> }[] = [];
  const events: DomainEvent[] = [];
  const log =
    (level: string) =>
    (message: string, attributes: Record<string, unknown> = {}) => {
      lines.push({ level, message, attributes });
    };
  const logger: Logger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
  const sink: EventSink = {
    publish: async (event) => {
      events.push(event);
    },
  };
  return { lines, events, logger, sink };
}
