/**
 * The four Lambda handlers with X-Ray tracing on, as on AWS with active tracing: the X-Ray SDK in
 * Lambda mode sends every closed subsegment over UDP to `AWS_XRAY_DAEMON_ADDRESS`, here a loopback
 * socket that keeps every datagram. A whole connect, fetch, refresh, sweep and personal-token flow
 * (dynalite, the Lightspeed simulator, a loopback KMS/Secrets Manager/EventBridge) must leave
 * segments behind, and none of them may hold a token, code or secret.
 *
 * `describeTracedFlow` runs that flow against handlers its caller loads once the environment is set:
 * test/functions/aws.test.ts takes them from the TypeScript sources, test/infra/bundles.test.ts from
 * the bundles the stack ships (infra/bundling.ts), so both the code and what esbuild makes of it
 * (module format, aliases) are proven to trace.
 */
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrokerEvent } from '../../functions/http/middleware';
import type { HttpResult } from '../../functions/http/responses';
import {
  type EmbeddedDynamoDb,
  ensureTable,
  LOCAL_CREDENTIALS,
  startEmbeddedDynamoDb,
} from '../../functions/local/dynamodb';
import { lambdaContext } from '../../functions/local/server';
import { LightspeedSimulator } from '../../functions/local/simulator';
import { routeKey, routes } from '../../functions/routes';
import { type FakeAwsServices, startFakeAwsServices } from '../helpers/aws-services';

const PUBLIC_URL = 'https://broker.example.com';
const CLIENT_ID = 'trace-client-id';
const CLIENT_SECRET = `client-secret-${randomBytes(12).toString('hex')}`;
const CLIENT_SECRET_ARN =
  'arn:aws:secretsmanager:us-east-1:123456789012:secret:TokenBroker-LightspeedXClientSecret-AbCdEf';
const PERSONAL_TOKEN = `xentral-api-key-${randomBytes(16).toString('hex')}`;
const AWS_SECRET_KEY = `aws-secret-${randomBytes(16).toString('hex')}`;
const TABLE_NAME = 'traced-broker';
const CALLER = 'arn:aws:iam::123456789012:role/backend';

export type Invoke = (event: unknown, context: Context) => Promise<unknown>;
export type Handlers = { public: Invoke; tokens: Invoke; admin: Invoke; sweep: Invoke };

let daemon: Socket;
const datagrams: string[] = [];
let dynamodb: EmbeddedDynamoDb;
let aws: FakeAwsServices;
let simulator: LightspeedSimulator;
let handlers: Handlers;
let invocations = 0;
/** Everything that must never reach a trace, collected while the flow runs. */
const secrets = new Set<string>([CLIENT_SECRET, PERSONAL_TOKEN, AWS_SECRET_KEY]);

const hex = (bytes: number) => randomBytes(bytes).toString('hex');

/** One invocation as Lambda makes it: a fresh, sampled trace header per request. */
async function invoke<T = HttpResult>(group: keyof typeof handlers, event: unknown): Promise<T> {
  invocations++;
  const seconds = Math.floor(Date.now() / 1000).toString(16);
  process.env._X_AMZN_TRACE_ID = `Root=1-${seconds}-${hex(12)};Parent=${hex(8)};Sampled=1`;
  const result = (await handlers[group](event, lambdaContext(`req-${invocations}`, group))) as T;
  for (const [token] of simulator.snapshot().accessTokens) secrets.add(token);
  for (const [token] of simulator.snapshot().refreshTokens) secrets.add(token);
  return result;
}

/** An API Gateway HTTP API (v2) event for a route of the contract, signed by `CALLER` on backend routes. */
function httpEvent(
  method: string,
  path: string,
  options: { query?: Record<string, string>; body?: unknown; cookies?: string[] } = {},
): BrokerEvent {
  const route = routes.find(
    (r) =>
      r.method === method &&
      new RegExp(`^${r.path.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(path.split('?')[0] ?? ''),
  );
  if (route === undefined) throw new Error(`no route for ${method} ${path}`);
  const names = [...route.path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1] ?? '');
  const values = path.split('/').filter((_, i) => route.path.split('/')[i]?.startsWith('{'));
  const pathParameters = Object.fromEntries(
    names.map((name, i) => [name, decodeURIComponent(values[i] ?? '')]),
  );
  const key = routeKey(route);
  return {
    version: '2.0',
    routeKey: key,
    rawPath: path,
    rawQueryString: new URLSearchParams(options.query ?? {}).toString(),
    headers: { host: new URL(PUBLIC_URL).host, 'content-type': 'application/json' },
    ...(options.cookies === undefined ? {} : { cookies: options.cookies }),
    ...(options.query === undefined ? {} : { queryStringParameters: options.query }),
    ...(names.length === 0 ? {} : { pathParameters }),
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
    isBase64Encoded: false,
    requestContext: {
      accountId: '123456789012',
      apiId: 'abc123',
      domainName: new URL(PUBLIC_URL).host,
      domainPrefix: 'broker',
      http: { method, path, protocol: 'HTTP/1.1', sourceIp: '203.0.113.7', userAgent: 'test' },
      requestId: `api-${hex(6)}`,
      routeKey: key,
      stage: '$default',
      time: new Date().toISOString(),
      timeEpoch: Date.now(),
      ...(route.access === 'backend' ? { authorizer: { iam: { userArn: CALLER } } } : {}),
    },
  } as BrokerEvent;
}

const bodyOf = <T = Record<string, unknown>>(result: HttpResult) => JSON.parse(String(result.body)) as T;

/** Waits until the daemon socket has been quiet for a moment (the SDK sends asynchronously). */
async function drain(): Promise<void> {
  const deadline = Date.now() + 5_000;
  let seen = -1;
  while (seen !== datagrams.length && Date.now() < deadline) {
    seen = datagrams.length;
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}

/**
 * The whole traced flow as one test named `title`, against the handlers `load` returns (called
 * once, after the Lambda environment is in place). One call per test file: the X-Ray SDK and the
 * environment belong to the process.
 */
export function describeTracedFlow(title: string, load: () => Promise<Handlers>): void {
  beforeAll(async () => {
    daemon = createSocket('udp4');
    daemon.on('message', (message) => datagrams.push(message.toString('utf8')));
    await new Promise<void>((resolve) => daemon.bind(0, '127.0.0.1', resolve));
    dynamodb = await startEmbeddedDynamoDb(undefined);
    const setup = new DynamoDBClient({
      endpoint: dynamodb.endpoint,
      region: 'us-east-1',
      credentials: LOCAL_CREDENTIALS,
    });
    await ensureTable(setup, TABLE_NAME);
    setup.destroy();
    aws = await startFakeAwsServices({ [CLIENT_SECRET_ARN]: CLIENT_SECRET });
    simulator = new LightspeedSimulator({
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      redirectUris: [`${PUBLIC_URL}/oauth/lightspeed-x/callback`],
      // Inside the sweep's 15-minute margin: the sweep refreshes it.
      accessTokenTtlSeconds: 600,
    });
    const urls = simulator.urls(await simulator.listen());
    Object.assign(process.env, {
      // What the Lambda runtime sets (the Powertools Tracer and the X-Ray SDK's Lambda mode turn on).
      AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
      AWS_LAMBDA_FUNCTION_NAME: 'TokenBroker-Traced',
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256',
      LAMBDA_TASK_ROOT: '/var/task',
      _HANDLER: 'index.handler',
      AWS_XRAY_DAEMON_ADDRESS: `127.0.0.1:${(daemon.address() as AddressInfo).port}`,
      AWS_XRAY_CONTEXT_MISSING: 'LOG_ERROR',
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE',
      AWS_SECRET_ACCESS_KEY: AWS_SECRET_KEY,
      AWS_SESSION_TOKEN: 'session',
      AWS_ENDPOINT_URL_DYNAMODB: dynamodb.endpoint,
      AWS_ENDPOINT_URL_KMS: aws.endpoint,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: aws.endpoint,
      AWS_ENDPOINT_URL_EVENTBRIDGE: aws.endpoint,
      // The sweep refreshes right after a forced refresh: no cooldown between them.
      REFRESH_COOLDOWN_SECONDS: '0',
      // The stack's environment (infra/token-broker.ts), but for the one setting under test: the
      // middleware must keep the response out of traces by itself.
      BROKER_PUBLIC_URL: PUBLIC_URL,
      BROKER_TABLE_NAME: TABLE_NAME,
      BROKER_SECRET_PREFIX: 'tokenbroker/',
      BROKER_KMS_KEY_ARN: 'arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555',
      BROKER_EVENT_BUS_NAME: 'TokenBroker-Events',
      LIGHTSPEED_X_CLIENT_ID: CLIENT_ID,
      LIGHTSPEED_X_CLIENT_SECRET_ARN: CLIENT_SECRET_ARN,
      LIGHTSPEED_X_AUTHORIZE_URL: urls.authorizeUrl,
      LIGHTSPEED_X_TOKEN_URL: urls.tokenUrl,
      LIGHTSPEED_X_API_BASE_URL: urls.apiBaseUrl,
      POWERTOOLS_SERVICE_NAME: 'token-broker',
      POWERTOOLS_METRICS_NAMESPACE: 'TokenBroker',
      // EMF lines on stdout are not under test here.
      POWERTOOLS_METRICS_DISABLED: 'true',
    });
    delete process.env.POWERTOOLS_TRACER_CAPTURE_RESPONSE;
    // Loaded only now: the Tracer and the X-Ray SDK read the environment when they load.
    handlers = await load();
  }, 60_000);

  afterAll(async () => {
    await simulator?.close();
    await aws?.close();
    await dynamodb?.close();
    daemon?.close();
  });

  interface Document {
    name?: string;
    namespace?: string;
    type?: string;
    http?: { request?: { url?: string } };
    metadata?: Record<string, Record<string, unknown>>;
    subsegments?: Document[];
  }

  /** Every (sub)segment document of the datagrams, nested ones included. */
  function documents(): Document[] {
    const all: Document[] = [];
    const walk = (doc: Document) => {
      all.push(doc);
      for (const child of doc.subsegments ?? []) walk(child);
    };
    for (const datagram of datagrams) {
      const [header, body] = datagram.split('\n');
      expect(JSON.parse(header ?? '')).toMatchObject({ format: 'json', version: 1 });
      walk(JSON.parse(body ?? '') as Document);
    }
    return all;
  }

  describe(title, () => {
    it('hold no token, code, client secret, API key or data key across connect, fetch, refresh, sweep and a direct invocation', async () => {
      // Connect: session (admin), link (public), consent at the provider, callback (public).
      const session = bodyOf<{ id: string }>(
        await invoke('admin', httpEvent('POST', '/connect-sessions', { body: { provider: 'lightspeed-x' } })),
      );
      const link = await invoke('public', httpEvent('GET', `/connect/${session.id}`));
      expect(link.statusCode).toBe(302);
      const callbackUrl = new URL(
        simulator.consent(link.headers.location ?? '', { domainPrefix: 'trace-store' }),
      );
      const code = callbackUrl.searchParams.get('code') ?? '';
      expect(code).not.toBe('');
      secrets.add(code);
      const connected = await invoke(
        'public',
        httpEvent('GET', '/oauth/lightspeed-x/callback', {
          query: Object.fromEntries(callbackUrl.searchParams),
          cookies: (link.cookies ?? []).map((cookie) => cookie.split(';')[0] ?? ''),
        }),
      );
      expect(connected.statusCode).toBe(200);

      // Fetch, forced refresh, the sweep's refresh, fetch again.
      const fetchToken = async (query?: Record<string, string>) => {
        const result = await invoke(
          'tokens',
          httpEvent('GET', '/tokens/lightspeed-x/trace-store', { query }),
        );
        expect(result.statusCode).toBe(200);
        const token = bodyOf<{ access_token: string }>(result).access_token;
        secrets.add(token);
        return token;
      };
      const first = await fetchToken();
      const refreshed = await fetchToken({ force_refresh: 'true' });
      expect(refreshed).not.toBe(first);
      const report = await invoke<{ refreshed?: number }>('sweep', {});
      expect(report).toMatchObject({ refreshed: 1 });
      expect(await fetchToken()).not.toBe(refreshed);

      // The tokens function invoked directly (lambda:InvokeFunction): the same answer, traced alike.
      const direct = await invoke('tokens', { provider: 'lightspeed-x', account: 'trace-store' });
      expect(direct.statusCode).toBe(200);
      secrets.add(bodyOf<{ access_token: string }>(direct).access_token);

      // A personal token: stored through Secrets Manager (admin), read back (tokens).
      const stored = await invoke(
        'admin',
        httpEvent('PUT', '/personal-tokens/xentral/trace-erp', { body: { token: PERSONAL_TOKEN } }),
      );
      expect([200, 201]).toContain(stored.statusCode);
      const personal = await invoke('tokens', httpEvent('GET', '/tokens/xentral/trace-erp'));
      expect(bodyOf<{ access_token: string }>(personal).access_token).toBe(PERSONAL_TOKEN);

      // An error on the way: the provider refuses the refresh token (the error is captured in the trace).
      simulator.injectFault({ kind: 'invalid_grant' });
      const refused = await invoke(
        'tokens',
        httpEvent('GET', '/tokens/lightspeed-x/trace-store', { query: { force_refresh: 'true' } }),
      );
      expect(refused.statusCode).toBeGreaterThanOrEqual(400);

      for (const key of aws.dataKeys) secrets.add(key.toString('base64'));
      await drain();

      // Not vacuous: one handler subsegment per invocation, and the AWS and provider calls.
      const docs = documents();
      const handlerSegments = docs.filter((doc) => doc.name === '## index.handler');
      expect(handlerSegments).toHaveLength(invocations);
      const names = new Set(docs.map((doc) => doc.name));
      for (const service of ['DynamoDB', 'KMS', 'SecretsManager', 'EventBridge'])
        expect(names).toContain(service);
      const providerCalls = docs.filter(
        (doc) => doc.namespace === 'remote' && doc.http?.request?.url?.includes('/api/1.0/token'),
      );
      expect(providerCalls.length).toBeGreaterThanOrEqual(4);
      for (const call of providerCalls) expect(call.http?.request?.url).not.toContain('?');
      expect(aws.calls).toEqual(
        expect.arrayContaining([
          'KMS.GenerateDataKey',
          'secretsmanager.GetSecretValue',
          'EventBridge.PutEvents',
        ]),
      );

      // No response as metadata, and no secret anywhere, in any encoding a trace could hold it.
      expect(secrets.size).toBeGreaterThan(10);
      const text = datagrams.join('\n');
      for (const secret of secrets) {
        for (const form of new Set([
          secret,
          encodeURIComponent(secret),
          JSON.stringify(secret).slice(1, -1),
        ])) {
          expect(text.includes(form), `a secret of ${secret.length} characters is in a trace`).toBe(false);
        }
      }
      for (const doc of handlerSegments) {
        const keys = Object.values(doc.metadata ?? {}).flatMap((namespace) => Object.keys(namespace));
        expect(keys.filter((key) => key.endsWith('response'))).toEqual([]);
      }
    });
  });
}
