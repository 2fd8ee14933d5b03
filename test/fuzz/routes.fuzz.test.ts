/**
 * Input fuzzing of every route in functions/routes.ts with fast-check, against an in-process broker
 * over real HTTP (node:http, so paths reach the server unnormalised). Path segments, query strings
 * (duplicates, percent-encoding, unicode, huge values), headers (credentials, content types, extra
 * and cookie headers) and bodies (JSON of wrong shapes, not JSON, huge) are generated; every answer
 * must keep these invariants:
 * - never a 5xx;
 * - never a stack frame or source path, and never a token, refresh token, client secret, API key or
 *   personal token (only a 200 token answer carries its own access token);
 * - a JSON error is exactly `{error, message}` with a known code; an HTML error page is a 400/410;
 * - backend routes answer 401 without the API key; unknown paths 404, other methods 405;
 * - no outbound provider call, except a token fetch of the one connected account.
 * Each property is bounded in runs and time.
 */
import { type IncomingHttpHeaders, request } from 'node:http';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { matchRoute } from '../../functions/local/server';
import { type RouteSpec, routes } from '../../functions/routes';
import { ACCOUNT_PATTERN } from '../../shared/domain/model';
import { KNOWN_ERROR_CODES } from '../faults/helpers';
import { connect, startTestBroker, TEST_API_KEY, type TestBroker, type TokenBody } from '../helpers/broker';

const CONNECTED = 'fuzz-store';
const PERSONAL_ACCOUNT = 'fuzz-erp';
const PERSONAL_TOKEN = 'pat_fuzz_personal_token_0123456789';
const RUNS = 120;
const TIME_LIMIT_MS = 6_000;

/** The contract's error codes: internal_error is not among them, as fuzzed input must never cause a 500. */
const KNOWN_ERRORS = new Set([...KNOWN_ERROR_CODES].filter((code) => code !== 'internal_error'));

let t: TestBroker;
let port: number;
/** Values no answer may contain (beyond a token answer's own access token). */
const secrets = new Set<string>();
const seenAccessTokens = new Set<string>();
/** Bodies of earlier successful writes: names and references stored then may be listed later. */
let storedByCallers = '';

beforeAll(async () => {
  t = await startTestBroker();
  port = Number(new URL(t.url).port);
  await connect(t, CONNECTED);
  const stored = await t.json(`/personal-tokens/xentral/${PERSONAL_ACCOUNT}`, {
    method: 'PUT',
    body: JSON.stringify({ token: PERSONAL_TOKEN, name: 'fuzz' }),
  });
  expect(stored.status).toBe(200);
  const first = await t.json<TokenBody>(`/tokens/lightspeed-x/${CONNECTED}`);
  seenAccessTokens.add(first.body.access_token);
  expect(t.broker.apiKey).toBe(TEST_API_KEY);
  secrets.add(TEST_API_KEY);
  secrets.add(PERSONAL_TOKEN);
  const clientSecret = t.broker.config.lightspeed.clientSecret;
  if (clientSecret !== undefined) secrets.add(clientSecret);
});
afterAll(() => t?.close());

interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string | undefined;
}

interface FuzzResponse {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

function send(fuzz: FuzzRequest): Promise<FuzzResponse> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: fuzz.method,
        path: fuzz.path,
        headers:
          fuzz.body === undefined
            ? fuzz.headers
            : { ...fuzz.headers, 'content-length': Buffer.byteLength(fuzz.body) },
        timeout: 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('no answer within 10 s')));
    req.on('error', reject);
    req.end(fuzz.body);
  });
}

// ---------------------------------------------------------------- generators

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** Printable ASCII: what an HTTP header value or a raw request-target may carry. */
const printable = (maxLength: number) =>
  fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength });

const dnsLabel = fc.stringMatching(/^[a-z0-9](?:[a-z0-9-]{0,20}[a-z0-9])?$/);

/** Raw (already encoded) path segments: odd percent-encodings, traversal, case, length. */
const oddSegment = fc.constantFrom(
  '%',
  '%zz',
  '%C0%AF',
  '%00',
  '%2F',
  '%2f..%2f',
  '..',
  '.',
  '%2e%2e',
  'UPPER',
  '-lead',
  'trail-',
  'a_b',
  'a'.repeat(64),
  '%F0%9F%92%A9',
  '%E2%80%AE',
  '%EF%BB%BF',
  'fuzz-store%00',
  'FUZZ-STORE',
  'fuzz-store.',
  'a;b',
  '%3B',
  'a%20b',
  '~',
  "'",
  '<script>',
  '$%7Bjndi:ldap%7D',
  '__proto__',
  'constructor',
  '%66uzz-store',
);

/** Any unicode (graphemes) or ASCII, percent-encoded so it reaches the server as sent. */
const encodedText = (maxLength: number) =>
  fc
    .oneof(
      fc.string({ unit: 'grapheme', minLength: 1, maxLength }),
      fc.string({ unit: 'binary-ascii', minLength: 1, maxLength }),
    )
    .map(encodeURIComponent);

/** Long segments, up to ~3 000 characters (Node refuses request heads over 16 KiB itself). */
const hugeSegment = fc
  .tuple(fc.constantFrom('a', '%C3%A9', '-', '%00'), fc.integer({ min: 64, max: 3_000 }))
  .map(([unit, n]) => unit.repeat(Math.ceil(n / unit.length)));

const segment = fc.oneof(dnsLabel, oddSegment, encodedText(40), hugeSegment);
const providerSegment = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom('lightspeed-x', 'xentral') },
  segment,
);
const accountSegment = fc.oneof(
  { weight: 4, arbitrary: dnsLabel },
  { weight: 1, arbitrary: fc.constantFrom(CONNECTED, PERSONAL_ACCOUNT) },
  { weight: 3, arbitrary: segment },
);

const QUERY_KEYS = [
  'min_valid_seconds',
  'force_refresh',
  'provider',
  'status',
  'limit',
  'next_token',
  'state',
  'code',
  'error',
  'domain_prefix',
] as const;

const queryValue = fc.oneof(
  fc.constantFrom(
    'true',
    'false',
    '0',
    '300',
    '43200',
    '43201',
    '-1',
    '1e3',
    '0x10',
    '%201',
    '',
    'null',
    'active',
  ),
  fc.constantFrom('lightspeed-x', 'xentral', 'expired', 'reauthorization_required', 'access_denied'),
  fc.integer().map(String),
  encodedText(30),
  // A next_token-shaped value: base64url of arbitrary JSON.
  fc
    .jsonValue({ maxDepth: 3 })
    .map((value) => Buffer.from(JSON.stringify(value) ?? 'null').toString('base64url')),
  fc.integer({ min: 1_000, max: 6_000 }).map((n) => 'x'.repeat(n)),
);

/** A query string: known and unknown keys, duplicates, raw odd encodings; under Node's 16 KiB header limit. */
const queryString = fc
  .array(
    fc.tuple(
      fc.oneof(fc.constantFrom(...QUERY_KEYS), encodedText(12), fc.constantFrom('%', '%zz', '__proto__', '')),
      queryValue,
    ),
    { maxLength: 6 },
  )
  .map((pairs) =>
    pairs
      .map(([key, value]) => `${key}=${value}`)
      .join('&')
      .slice(0, 6_000),
  )
  // Sometimes every parameter twice.
  .chain((query) => fc.constantFrom(query === '' ? '' : `?${query}`, `?${query}&${query}`));

/** Keeps a request head under Node's own 16 KiB limit, which would answer 431 before the broker sees it. */
const fitsHead = (fuzz: FuzzRequest) => fuzz.path.length < 13_000;

/** The API key (startTestBroker's), its near misses, none, or anything printable. */
const authorization = fc.oneof(
  { weight: 6, arbitrary: fc.constant<string | undefined>(`Bearer ${TEST_API_KEY}`) },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      undefined,
      '',
      'Bearer not-the-api-key-0123456789',
      `Basic ${Buffer.from(`user:${TEST_API_KEY}`).toString('base64')}`,
      `bearer ${TEST_API_KEY}`,
      `Bearer    ${TEST_API_KEY}   `,
      `Bearer ${TEST_API_KEY} ${TEST_API_KEY}`,
      TEST_API_KEY,
    ),
  },
  printable(60),
);

const contentType = fc.oneof(
  fc.constantFrom(
    undefined,
    'application/json',
    'text/plain',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x',
    'application/json; charset=utf-16le',
    'application/xml',
    '*/*',
  ),
  printable(40),
);

const headerName = fc.oneof(
  fc.constantFrom(
    'accept',
    'accept-encoding',
    'x-forwarded-for',
    'x-amz-date',
    'cookie',
    'origin',
    'referer',
    'user-agent',
    'x-http-method-override',
    'x-api-key',
  ),
  fc.stringMatching(/^x-[a-z0-9-]{1,20}$/),
);
const extraHeaders = fc.dictionary(headerName, printable(200), { maxKeys: 4 });
// Mostly none (the client sends the broker's own), sometimes another name: refused before routing.
const host = fc.oneof(
  { arbitrary: fc.constant(undefined), weight: 4 },
  { arbitrary: fc.constantFrom('evil.example', 'localhost:1', '127.0.0.1', 'LOCALHOST'), weight: 1 },
);

/** Near-valid PUT /personal-tokens bodies. */
const personalTokenBody = fc
  .record(
    {
      token: fc.oneof(
        fc.stringMatching(/^[\x21-\x7e]{8,64}$/),
        fc.string({ unit: 'grapheme', maxLength: 80 }),
      ),
      name: fc.string({ unit: 'grapheme', maxLength: 120 }),
      expires_at: fc.oneof(
        fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
        fc.constantFrom(null, '2999-01-01T00:00:00Z', 'tomorrow', 0),
      ),
      verify: fc.oneof(fc.boolean(), fc.constantFrom('true', 1, null)),
    },
    { requiredKeys: [] },
  )
  .map((value) => JSON.stringify(value));

/** Near-valid POST /connect-sessions bodies. */
const connectSessionBody = fc
  .record(
    {
      provider: fc.oneof(
        fc.constantFrom('lightspeed-x', 'xentral', 'LIGHTSPEED-X'),
        fc.string({ maxLength: 20 }),
      ),
      return_to: fc.oneof(
        fc.webUrl(),
        fc.constantFrom('javascript:alert(1)', 'ftp://x', '//evil.example', 'http://localhost'),
      ),
      reference: fc.string({ unit: 'grapheme', maxLength: 300 }),
    },
    { requiredKeys: [] },
  )
  .map((value) => JSON.stringify(value));

/** Valid bodies, so the success paths are fuzzed too (parameters, headers and query still vary). */
const validBodies: Partial<Record<string, fc.Arbitrary<string>>> = {
  'PUT /personal-tokens/{provider}/{account}': fc
    .record(
      {
        token: fc.stringMatching(/^[\x21-\x7e]{8,64}$/),
        name: fc.stringMatching(/^[\x20-\x7e]{1,60}$/),
        expires_at: fc.oneof(
          fc.constant(null),
          fc
            .integer({ min: 1, max: 3_000 })
            .map((days) => new Date(Date.now() + days * 86_400_000).toISOString()),
        ),
        verify: fc.boolean(),
      },
      { requiredKeys: ['token'] },
    )
    .map((value) => JSON.stringify(value)),
  'POST /connect-sessions': fc
    .record(
      {
        provider: fc.constant('lightspeed-x'),
        reference: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 60 }),
      },
      { requiredKeys: ['provider'] },
    )
    .map((value) => JSON.stringify(value)),
};

/** Bodies: none, JSON of the wrong shapes, near-valid bodies, not JSON, huge. */
const body = fc.oneof(
  fc.constant(undefined),
  fc.constant(''),
  { weight: 2, arbitrary: fc.json({ maxDepth: 4 }) },
  fc
    .dictionary(
      fc.oneof(
        fc.constantFrom(
          'provider',
          'return_to',
          'reference',
          'token',
          'name',
          'expires_at',
          '__proto__',
          'constructor',
        ),
        fc.string({ maxLength: 10 }),
      ),
      fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.string({ unit: 'grapheme', maxLength: 60 })),
      { maxKeys: 5 },
    )
    .map((value) => JSON.stringify(value)),
  { weight: 3, arbitrary: personalTokenBody },
  { weight: 3, arbitrary: connectSessionBody },
  fc.string({ unit: 'grapheme', maxLength: 200 }),
  fc.integer({ min: 100, max: 5_000 }).map((depth) => `${'['.repeat(depth)}${']'.repeat(depth)}`),
  fc
    .tuple(fc.constantFrom('{"token":"', '{"reference":"', '"', ''), fc.integer({ min: 16_000, max: 60_000 }))
    .map(([prefix, n]) => `${prefix}${'\u00e9'.repeat(Math.floor(n / 2))}`),
);
const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'] as const;

const headers = fc
  .record({ authorization, contentType, extra: extraHeaders, host })
  .map(({ authorization: auth, contentType: type, extra, host: hostHeader }) => {
    const out: Record<string, string> = { ...extra };
    if (auth !== undefined) out.authorization = auth;
    if (type !== undefined) out['content-type'] = type;
    if (hostHeader !== undefined) out.host = hostHeader;
    return out;
  });

function fill(template: string, params: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (_, name: string) => params[name] ?? 'x');
}

/** The route the local runtime matches, with its decoded path parameters. */
function routeOf(method: string, pathname: string) {
  const match = matchRoute(method, pathname);
  const params: Readonly<Record<string, string | undefined>> = match.params;
  return { route: match.route, params };
}

/** A request for one route: its method (sometimes another), fuzzed parameters, query, headers, body. */
function requestFor(route: RouteSpec, { mutating }: { mutating: boolean }) {
  // Deleting or replacing the two fixtures would only blind the later runs.
  const account = mutating
    ? accountSegment.filter((a) => ![CONNECTED, PERSONAL_ACCOUNT].includes(safeDecode(a)))
    : accountSegment;
  return fc
    .record({
      method: fc.oneof(
        { weight: 9, arbitrary: fc.constant(route.method) },
        { weight: 1, arbitrary: fc.constantFrom(...METHODS) },
      ),
      params: fc.record({ provider: providerSegment, account, session_id: segment }),
      query: fc.oneof(fc.constant(''), { weight: 2, arbitrary: queryString }),
      headers,
      body:
        route.method === 'GET' || route.method === 'DELETE'
          ? fc.option(body, { freq: 5 })
          : fc.oneof(body, { weight: 1, arbitrary: validBodies[`${route.method} ${route.path}`] ?? body }),
    })
    .map(
      ({ method, params, query, headers: h, body: b }): FuzzRequest => ({
        method,
        path: `${fill(route.path, params)}${query}`,
        headers: h,
        body: b ?? undefined,
      }),
    )
    .filter((fuzz) => fitsHead(fuzz));
}

/** Anything at all: any method, any path outside the local-only and simulator prefixes. */
const anyRequest = fc
  .record({
    method: fc.constantFrom(...METHODS),
    segments: fc.array(
      fc.oneof(
        fc.constantFrom('tokens', 'connections', 'personal-tokens', 'oauth', 'connect', 'health'),
        segment,
      ),
      {
        maxLength: 5,
      },
    ),
    query: queryString,
    headers,
    body: fc.option(body, { freq: 3 }),
  })
  .map(
    ({ method, segments, query, headers: h, body: b }): FuzzRequest => ({
      method,
      path: `/${segments.join('/')}${query}`,
      headers: h,
      body: b ?? undefined,
    }),
  )
  // `/_local/…` and `/_sim/…` belong to the local runtime and the demo simulator, not the API.
  .filter((fuzz) => fitsHead(fuzz) && !fuzz.path.startsWith('/_'));

// ---------------------------------------------------------------- oracle

/** Everything the caller sent, raw and decoded: an echo of it is not a leak. */
function sentText(fuzz: FuzzRequest): string {
  const url = new URL(fuzz.path, 'http://localhost');
  const decodedQuery = [...url.searchParams].flat().join('\n');
  return [
    fuzz.path,
    safeDecode(fuzz.path),
    url.pathname,
    decodedQuery,
    fuzz.body ?? '',
    ...Object.values(fuzz.headers),
  ].join('\n');
}

const STACK =
  /\n\s+at |\bat (?:async )?\S+ \(\S+:\d+:\d+\)|node:internal|node_modules|\/[\w./-]+\.[cm]?[jt]s:\d+/;

function authorized(headersSent: Record<string, string>): boolean {
  const match = /^Bearer\s+(\S+)\s*$/i.exec((headersSent.authorization ?? '').trim());
  return match?.[1] === TEST_API_KEY;
}

/** Every call the broker made to a provider: token endpoint, Lightspeed API and Xentral API. */
const outboundCalls = () => {
  const lightspeed = t.simulator.stats();
  return {
    token: lightspeed.tokenCalls,
    api: lightspeed.apiCalls + t.broker.xentralSimulator!.stats().apiCalls,
  };
};

async function check(fuzz: FuzzRequest): Promise<void> {
  const before = outboundCalls();
  const response = await send(fuzz);
  const url = new URL(fuzz.path, 'http://localhost');
  const { route, params } = routeOf(fuzz.method, url.pathname);
  const context = `${fuzz.method} ${fuzz.path.slice(0, 300)} → ${response.status} ${response.text.slice(0, 300)}`;
  const type = String(response.headers['content-type'] ?? '');
  const everything = `${response.text}\n${JSON.stringify(response.headers)}`;

  expect(response.status, context).toBeLessThan(500);
  expect(STACK.test(response.text), `stack trace in ${context}`).toBe(false);

  // The local runtime answers only its own names (DNS rebinding); nothing runs for another one.
  if (fuzz.headers.host !== undefined) {
    expect(response.status, context).toBe(400);
    expect(JSON.parse(response.text), context).toMatchObject({ error: 'invalid_request' });
    expect(outboundCalls(), context).toEqual(before);
    return;
  }

  const tokenAnswer = route?.path === '/tokens/{provider}/{account}' && response.status === 200;
  let ownToken: string | undefined;
  if (tokenAnswer) {
    ownToken = (JSON.parse(response.text) as TokenBody).access_token;
    expect(typeof ownToken, context).toBe('string');
  }
  const scrubbed = ownToken === undefined ? everything : everything.replaceAll(ownToken, '');
  for (const secret of [...secrets, ...seenAccessTokens]) {
    expect(scrubbed.includes(secret), `a secret of length ${secret.length} in ${context}`).toBe(false);
  }
  expect(/refresh_token/i.test(response.text) && !/refresh_token/i.test(sentText(fuzz)), context).toBe(false);
  if (ownToken !== undefined) seenAccessTokens.add(ownToken);
  // Provider tokens and codes are 40+ random alphanumerics; outside a token answer (and a connect
  // session's own id) nothing like that is shown unless the caller sent it.
  if (!tokenAnswer && response.status !== 201) {
    const sent = sentText(fuzz);
    // A listing's own paging cursor is the broker's to hand out.
    const cursor = /"next_token":"([^"]*)"/.exec(response.text)?.[1];
    const shown = cursor === undefined ? response.text : response.text.replace(cursor, '');
    for (const [run] of shown.matchAll(/[A-Za-z0-9]{40,}/g)) {
      const echoed = sent.includes(run) || storedByCallers.includes(run);
      expect(echoed, `token-shaped value ${run.slice(0, 8)}… in ${context}`).toBe(true);
    }
  }
  if (response.status < 300 && fuzz.body !== undefined && fuzz.method !== 'GET') {
    storedByCallers += `\n${fuzz.body}`;
  }

  if (response.status >= 400) {
    if (type.startsWith('application/json')) {
      const error = JSON.parse(response.text) as Record<string, unknown>;
      expect(Object.keys(error).sort(), context).toEqual(['error', 'message']);
      expect(typeof error.message, context).toBe('string');
      expect(KNOWN_ERRORS.has(String(error.error)), context).toBe(true);
    } else {
      // Only the retailer-facing public routes answer with pages.
      expect(type, context).toMatch(/^text\/html/);
      expect(route?.access, context).toBe('public');
      expect([400, 410], context).toContain(response.status);
      expect(response.headers['referrer-policy'], context).toBe('no-referrer');
    }
  }
  if (route === undefined) {
    expect([404, 405], context).toContain(response.status);
  } else if (route.access === 'backend' && !authorized(fuzz.headers)) {
    expect(response.status, context).toBe(401);
  }

  // Only a token fetch of the connected account may reach the provider (force_refresh).
  const mayCallProvider =
    route?.path === '/tokens/{provider}/{account}' &&
    params.provider === 'lightspeed-x' &&
    params.account === CONNECTED;
  if (!mayCallProvider) expect(outboundCalls().token, `provider called by ${context}`).toBe(before.token);
  // Only a PUT of a personal token with "verify": true, for a valid account, by the backend, may call
  // the provider's API (one cheap authenticated call).
  let verifies = false;
  try {
    verifies = (JSON.parse(fuzz.body ?? 'null') as { verify?: unknown } | null)?.verify === true;
  } catch {
    verifies = false;
  }
  const mayCallApi =
    route?.path === '/personal-tokens/{provider}/{account}' &&
    fuzz.method === 'PUT' &&
    authorized(fuzz.headers) &&
    ACCOUNT_PATTERN.test(params.account ?? '') &&
    verifies;
  if (!mayCallApi) expect(outboundCalls().api, `provider API called by ${context}`).toBe(before.api);
  else expect(outboundCalls().api - before.api, context).toBeLessThanOrEqual(1);
}

const options = { numRuns: RUNS, plugins: [fc.interruptAfterTimeLimit(TIME_LIMIT_MS)] };

describe('fuzzing every route', () => {
  it.each(routes.map((route) => [`${route.method} ${route.path}`, route] as const))(
    'keeps the invariants for %s',
    async (_, route) => {
      const mutating = route.method !== 'GET' && route.method !== 'POST';
      await fc.assert(fc.asyncProperty(requestFor(route, { mutating }), check), options);
    },
    30_000,
  );

  it('keeps the invariants for any method on any path', async () => {
    await fc.assert(fc.asyncProperty(anyRequest, check), { ...options, numRuns: 200 });
  }, 30_000);

  it('never calls the provider for an account that is not a DNS label, even with force_refresh or verify', async () => {
    const invalidAccount = fc
      .oneof(oddSegment, encodedText(70), hugeSegment)
      .filter((raw) => !ACCOUNT_PATTERN.test(safeDecode(new URL(`/x/${raw}`, 'http://l').pathname.slice(3))));
    await fc.assert(
      fc.asyncProperty(invalidAccount, queryString, async (account, query) => {
        const calls = t.simulator.stats().tokenCalls;
        const joined = query === '' ? '?force_refresh=true' : `${query}&force_refresh=true`;
        const response = await send({
          method: 'GET',
          path: `/tokens/lightspeed-x/${account}${joined}`,
          headers: { authorization: `Bearer ${TEST_API_KEY}` },
        });
        expect([400, 404]).toContain(response.status);
        const calls2 = outboundCalls();
        const verify = await send({
          method: 'PUT',
          path: `/personal-tokens/xentral/${account}`,
          headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json' },
          body: JSON.stringify({ token: 'pat_fuzz_verify_0123456789', verify: true }),
        });
        expect([400, 404]).toContain(verify.status);
        expect(t.simulator.stats().tokenCalls).toBe(calls);
        expect(outboundCalls()).toEqual(calls2);
      }),
      { ...options, numRuns: 150 },
    );
  }, 30_000);
});

describe('regressions found by fuzzing', () => {
  // Was a 500: decodeCursor checked only the partition index `p`, and DynamoDB refused the forged
  // start key `k` with a ValidationException. The store now checks the start key's shape.
  it('answers 400 to a next_token whose start key was tampered with', async () => {
    const forged = Buffer.from(JSON.stringify({ p: 0, k: { pk: 'x' } })).toString('base64url');
    const response = await send({
      method: 'GET',
      path: `/connections?next_token=${forged}`,
      headers: { authorization: `Bearer ${TEST_API_KEY}` },
    });
    expect(response.status).toBe(400);
    const body = JSON.parse(response.text) as { error: string; message: string };
    expect(body.error).toBe('invalid_request');
    expect(body.message).toContain('next_token');
  });

  // Regression: the clearing cookie's path embedded the raw provider segment and threw.
  it('answers 400 to a callback for an unknown provider whose name cannot be a cookie path', async () => {
    for (const provider of ['a%3Bb', '%00', '%C3%A9', '%3C']) {
      const response = await send({
        method: 'GET',
        path: `/oauth/${provider}/callback?state=abc`,
        headers: {},
      });
      expect(response.status).toBe(400);
    }
  });

  // Regression: `new URL(req.url, http://${host})` threw, and every route answered 500.
  it('answers a request with an unparsable Host header without a 500', async () => {
    const response = await send({ method: 'GET', path: '/health', headers: { host: 'a b' } });
    expect(response.status).toBeLessThan(500);
  });
});
