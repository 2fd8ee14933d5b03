import type middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { describe, expect, it, vi } from 'vitest';
import { InvalidRequestError, UnauthorizedError } from '../../../functions/http/errors';
import {
  type Authorizer,
  type BrokerEvent,
  dispatch,
  errorResponses,
  MAX_BODY_BYTES,
  type Request,
  type RouteHandler,
  STRICT_TRANSPORT_SECURITY,
} from '../../../functions/http/middleware';
import { pages } from '../../../functions/http/pages';
import { httpPipeline } from '../../../functions/http/pipeline';
import { type HttpResult, json, page, redirect } from '../../../functions/http/responses';
import { routeKey, routes } from '../../../functions/routes';
import type { Services } from '../../../functions/services';
import {
  BrokerError,
  NotFoundError,
  ProviderError,
  ProviderUnavailableError,
  ReauthorizationRequiredError,
  TokenExpiredError,
} from '../../../shared/domain/errors';
import type { Logger } from '../../../shared/domain/ports';

const TOKENS_ROUTE = 'GET /tokens/{provider}/{account}';
const CONNECT_SESSIONS_ROUTE = 'POST /connect-sessions';
const HEALTH_ROUTE = 'GET /health';
const BACKEND_ARN = 'arn:aws:iam::111122223333:role/saas-backend';
const IAM: Authorizer = { iam: { userArn: BACKEND_ARN, accountId: '111122223333' } };

interface LogCall {
  level: keyof Logger;
  message: string;
  attributes: Record<string, unknown> | undefined;
}

function recordingLogger(): Logger & { calls: LogCall[] } {
  const calls: LogCall[] = [];
  const record =
    (level: keyof Logger) =>
    (message: string, attributes?: Record<string, unknown>): void => {
      calls.push({ level, message, attributes });
    };
  return {
    calls,
    debug: record('debug'),
    info: record('info'),
    warn: record('warn'),
    error: record('error'),
  };
}

/** An API Gateway v2 event for `key` ("METHOD /path"), as the local runtime and AWS deliver it. */
function event(
  key: string,
  options: {
    authorizer?: Authorizer;
    body?: string;
    isBase64Encoded?: boolean;
    headers?: Record<string, string>;
    pathParameters?: Record<string, string>;
    queryStringParameters?: Record<string, string>;
  } = {},
): BrokerEvent {
  const [method = 'GET', path = '/'] = key.split(' ');
  return {
    version: '2.0',
    routeKey: key,
    rawPath: path,
    rawQueryString: '',
    headers: options.headers ?? { host: 'broker.example.com' },
    isBase64Encoded: options.isBase64Encoded ?? false,
    ...(options.body === undefined ? {} : { body: options.body }),
    ...(options.pathParameters === undefined ? {} : { pathParameters: options.pathParameters }),
    ...(options.queryStringParameters === undefined
      ? {}
      : { queryStringParameters: options.queryStringParameters }),
    requestContext: {
      accountId: '111122223333',
      apiId: 'abc123',
      domainName: 'broker.example.com',
      domainPrefix: 'broker',
      http: { method, path, protocol: 'HTTP/1.1', sourceIp: '203.0.113.9', userAgent: 'vitest' },
      requestId: 'req-0001',
      routeKey: key,
      stage: '$default',
      time: '01/May/2026:08:00:00 +0000',
      timeEpoch: Date.parse('2026-05-01T08:00:00Z'),
      ...(options.authorizer === undefined ? {} : { authorizer: options.authorizer }),
    },
  };
}

const ok: RouteHandler = async () => json(200, { status: 'ok' });

/** A middy handler over `handlers` with a recording logger; `seen` holds each request a handler got. */
function handlerFor(handlers: Record<string, RouteHandler>, publicUrl = 'http://localhost:8787') {
  const logger = recordingLogger();
  const services = { logger, config: { publicUrl } } as unknown as Services;
  const handler = httpPipeline(services, handlers);
  return {
    logger,
    invoke: (e: BrokerEvent): Promise<HttpResult> => handler(e, {} as Context),
  };
}

/** A handler group where `key` throws `error`. */
const throwing = (key: string, error: unknown) =>
  handlerFor({
    [key]: async () => {
      throw error;
    },
  });

/** Records the request the route handler receives. */
function capturing() {
  const seen: Request[] = [];
  const handler: RouteHandler = async (request) => {
    seen.push(request);
    return json(200, { ok: true });
  };
  return { seen, handler };
}

const bodyOf = (result: HttpResult): unknown => JSON.parse(String(result.body));

describe('httpPipeline errors', () => {
  it.each([
    [
      'InvalidRequestError',
      new InvalidRequestError('query.min_valid_seconds', 'must be a whole number from 0 to 43200'),
      400,
      'invalid_request',
      'query.min_valid_seconds: must be a whole number from 0 to 43200',
    ],
    ['UnauthorizedError', new UnauthorizedError(), 401, 'unauthorized', 'missing or invalid credentials'],
    [
      'NotFoundError',
      new NotFoundError('no connection lightspeed-x/demo-store'),
      404,
      'not_found',
      'no connection lightspeed-x/demo-store',
    ],
    [
      'ReauthorizationRequiredError',
      new ReauthorizationRequiredError('the retailer must connect demo-store again'),
      409,
      'reauthorization_required',
      'the retailer must connect demo-store again',
    ],
    [
      'TokenExpiredError',
      new TokenExpiredError('the personal token expired at 2026-04-30T00:00:00.000Z'),
      409,
      'token_expired',
      'the personal token expired at 2026-04-30T00:00:00.000Z',
    ],
    [
      'ProviderUnavailableError',
      new ProviderUnavailableError('Lightspeed Retail X-Series is failing; try again later', 30),
      503,
      'provider_unavailable',
      'Lightspeed Retail X-Series is failing; try again later',
    ],
  ])('answers a %s with its status and the contract JSON', async (_, error, status, code, message) => {
    // Prepare
    const { invoke } = throwing(TOKENS_ROUTE, error);

    // Act
    const result = await invoke(event(TOKENS_ROUTE, { authorizer: IAM }));

    // Assess
    expect(result.statusCode).toBe(status);
    expect(bodyOf(result)).toEqual({ error: code, message });
    expect(result.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(result.headers['cache-control']).toBe('no-store');
  });

  it('sets Retry-After in seconds on 503 provider_unavailable', async () => {
    // Prepare
    const { invoke } = throwing(TOKENS_ROUTE, new ProviderUnavailableError('provider failing', 42));

    // Act
    const result = await invoke(event(TOKENS_ROUTE, { authorizer: IAM }));

    // Assess
    expect(result.statusCode).toBe(503);
    expect(result.headers['retry-after']).toBe('42');
  });

  it('sets no Retry-After on other errors', async () => {
    // Prepare
    const { invoke } = throwing(TOKENS_ROUTE, new NotFoundError('no connection'));

    // Act
    const result = await invoke(event(TOKENS_ROUTE, { authorizer: IAM }));

    // Assess
    expect(result.headers['retry-after']).toBeUndefined();
  });

  it('answers a bare 500 for an unexpected error, leaking neither its message nor its stack', async () => {
    // Prepare
    const error = new Error(
      'refresh token rt-LEAKED-123 rejected by https://demo-store.retail.lightspeed.app',
    );
    const { invoke, logger } = throwing(TOKENS_ROUTE, error);

    // Act
    const result = await invoke(event(TOKENS_ROUTE, { authorizer: IAM }));

    // Assess
    expect(result.statusCode).toBe(500);
    expect(bodyOf(result)).toEqual({
      error: 'internal_error',
      message: 'the broker failed; try again later',
    });
    expect(result.body).not.toContain('rt-LEAKED-123');
    expect(result.body).not.toContain('middleware.test');
    expect(result.body).not.toMatch(/\bat\s/);
    expect(result.headers['retry-after']).toBeUndefined();
    expect(logger.calls).toEqual([
      {
        level: 'error',
        message: 'request failed',
        attributes: { route: TOKENS_ROUTE, errorName: 'Error', errorCode: undefined },
      },
    ]);
    expect(JSON.stringify(logger.calls)).not.toContain('rt-LEAKED-123');
  });

  it('answers a bare 500 for a ProviderError, which is not for callers', async () => {
    // Prepare
    const error = new ProviderError(
      'invalid_client',
      "token endpoint refused the broker's request with 401",
      {
        status: 401,
      },
    );
    const { invoke, logger } = throwing(TOKENS_ROUTE, error);

    // Act
    const result = await invoke(event(TOKENS_ROUTE, { authorizer: IAM }));

    // Assess
    expect(result.statusCode).toBe(500);
    expect(bodyOf(result)).toEqual({
      error: 'internal_error',
      message: 'the broker failed; try again later',
    });
    expect(logger.calls[0]?.attributes).toEqual({
      route: TOKENS_ROUTE,
      errorName: 'ProviderError',
      errorCode: 'provider_error',
    });
  });

  it('answers a bare 500 for a BrokerError not marked safe to expose', async () => {
    // Prepare
    class HiddenError extends BrokerError {
      readonly code = 'hidden_detail';
      readonly status = 418;
      override readonly expose = false;
    }
    const { invoke } = throwing(TOKENS_ROUTE, new HiddenError('internal detail'));

    // Act
    const result = await invoke(event(TOKENS_ROUTE, { authorizer: IAM }));

    // Assess
    expect(result.statusCode).toBe(500);
    expect(bodyOf(result)).toEqual({
      error: 'internal_error',
      message: 'the broker failed; try again later',
    });
  });

  it('answers a bare 500 when something that is not an Error is thrown', async () => {
    // Prepare
    const { invoke } = throwing(TOKENS_ROUTE, 'a thrown string');

    // Act
    const result = await invoke(event(TOKENS_ROUTE, { authorizer: IAM }));

    // Assess
    expect(result.statusCode).toBe(500);
    expect(result.body).not.toContain('a thrown string');
  });
});

describe('httpPipeline routing and authentication', () => {
  it('answers 404 for a route key it does not know, without calling any handler', async () => {
    // Prepare
    const handler = vi.fn(ok);
    const { invoke } = handlerFor({ [HEALTH_ROUTE]: handler });

    // Act
    const result = await invoke(event('GET /admin/secrets'));

    // Assess
    expect(result.statusCode).toBe(404);
    expect(bodyOf(result)).toEqual({ error: 'not_found', message: 'no route GET /admin/secrets' });
    expect(handler).not.toHaveBeenCalled();
  });

  it('answers 404 for a contract route that this handler group does not serve', async () => {
    // Prepare
    const { invoke } = handlerFor({ [HEALTH_ROUTE]: ok });

    // Act
    const result = await invoke(event(TOKENS_ROUTE, { authorizer: IAM }));

    // Assess
    expect(result.statusCode).toBe(404);
  });

  it('answers 404 for a handler keyed by a route that is not in the route table', async () => {
    // Prepare
    const { invoke } = handlerFor({ 'GET /debug': ok });

    // Act
    const result = await invoke(event('GET /debug', { authorizer: IAM }));

    // Assess
    expect(result.statusCode).toBe(404);
  });

  it.each(routes.filter((route) => route.access === 'backend').map(routeKey))(
    'answers 401 on backend route %s without an authorizer, before the handler runs',
    async (key) => {
      // Prepare
      const handler = vi.fn(ok);
      const { invoke } = handlerFor({ [key]: handler });

      // Act
      const result = await invoke(event(key));

      // Assess
      expect(result.statusCode).toBe(401);
      expect(bodyOf(result)).toEqual({ error: 'unauthorized', message: 'missing or invalid credentials' });
      expect(handler).not.toHaveBeenCalled();
    },
  );

  it('answers 401 on a backend route whose authorizer names no caller', async () => {
    // Prepare
    const handler = vi.fn(ok);
    const { invoke } = handlerFor({ [TOKENS_ROUTE]: handler });

    // Act
    const result = await invoke(event(TOKENS_ROUTE, { authorizer: { iam: {} } }));

    // Assess
    expect(result.statusCode).toBe(401);
    expect(handler).not.toHaveBeenCalled();
  });

  it.each([
    ['an IAM user ARN', { iam: { userArn: BACKEND_ARN, callerId: 'AROAEXAMPLE' } }, BACKEND_ARN],
    ['an IAM caller id', { iam: { callerId: 'AROAEXAMPLE:session' } }, 'AROAEXAMPLE:session'],
    ['the local API key authorizer', { lambda: { caller: 'api-key' } }, 'api-key'],
  ])('passes the caller named by %s to a backend handler', async (_, authorizer: Authorizer, caller) => {
    // Prepare
    const { seen, handler } = capturing();
    const { invoke } = handlerFor({ [TOKENS_ROUTE]: handler });

    // Act
    const result = await invoke(event(TOKENS_ROUTE, { authorizer }));

    // Assess
    expect(result.statusCode).toBe(200);
    expect(seen[0]?.caller).toBe(caller);
  });

  it('serves a public route without an authorizer', async () => {
    // Prepare
    const { seen, handler } = capturing();
    const { invoke } = handlerFor({ [HEALTH_ROUTE]: handler });

    // Act
    const result = await invoke(event(HEALTH_ROUTE));

    // Assess
    expect(result.statusCode).toBe(200);
    expect(seen[0]?.caller).toBeUndefined();
  });

  it('hands path and query parameters to the handler, empty when absent', async () => {
    // Prepare
    const { seen, handler } = capturing();
    const { invoke } = handlerFor({ [TOKENS_ROUTE]: handler });

    // Act
    await invoke(
      event(TOKENS_ROUTE, {
        authorizer: IAM,
        pathParameters: { provider: 'lightspeed-x', account: 'demo-store' },
        queryStringParameters: { min_valid_seconds: '600' },
      }),
    );
    await invoke(event(TOKENS_ROUTE, { authorizer: IAM }));

    // Assess
    expect(seen[0]?.path).toEqual({ provider: 'lightspeed-x', account: 'demo-store' });
    expect(seen[0]?.query).toEqual({ min_valid_seconds: '600' });
    expect(seen[1]?.path).toEqual({});
    expect(seen[1]?.query).toEqual({});
  });

  it('lower-cases header names before the handler sees them', async () => {
    // Prepare
    const { seen, handler } = capturing();
    const { invoke } = handlerFor({ [HEALTH_ROUTE]: handler });

    // Act
    await invoke(event(HEALTH_ROUTE, { headers: { 'Content-Type': 'application/json', Cookie: 'a=b' } }));

    // Assess
    expect(seen[0]?.event.headers).toEqual({ 'content-type': 'application/json', cookie: 'a=b' });
  });
});

describe('httpPipeline bodies', () => {
  it('decodes a base64 body', async () => {
    // Prepare
    const { seen, handler } = capturing();
    const { invoke } = handlerFor({ [CONNECT_SESSIONS_ROUTE]: handler });
    const text = '{"provider":"lightspeed-x","reference":"Bäckerei Müller"}';

    // Act
    await invoke(
      event(CONNECT_SESSIONS_ROUTE, {
        authorizer: IAM,
        body: Buffer.from(text, 'utf8').toString('base64'),
        isBase64Encoded: true,
      }),
    );

    // Assess
    expect(seen[0]?.body).toBe(text);
  });

  it('passes a plain body as it is', async () => {
    // Prepare
    const { seen, handler } = capturing();
    const { invoke } = handlerFor({ [CONNECT_SESSIONS_ROUTE]: handler });

    // Act
    await invoke(event(CONNECT_SESSIONS_ROUTE, { authorizer: IAM, body: '{"provider":"xentral"}' }));

    // Assess
    expect(seen[0]?.body).toBe('{"provider":"xentral"}');
  });

  it('accepts a body of exactly MAX_BODY_BYTES', async () => {
    // Prepare
    const { seen, handler } = capturing();
    const { invoke } = handlerFor({ [CONNECT_SESSIONS_ROUTE]: handler });

    // Act
    const result = await invoke(
      event(CONNECT_SESSIONS_ROUTE, { authorizer: IAM, body: 'x'.repeat(MAX_BODY_BYTES) }),
    );

    // Assess
    expect(result.statusCode).toBe(200);
    expect(seen[0]?.body).toHaveLength(MAX_BODY_BYTES);
  });

  it('refuses a body over MAX_BODY_BYTES with a 400 naming body, before the handler runs', async () => {
    // Prepare
    const handler = vi.fn(ok);
    const { invoke } = handlerFor({ [CONNECT_SESSIONS_ROUTE]: handler });

    // Act
    const result = await invoke(
      event(CONNECT_SESSIONS_ROUTE, { authorizer: IAM, body: 'x'.repeat(MAX_BODY_BYTES + 1) }),
    );

    // Assess
    expect(MAX_BODY_BYTES).toBe(16 * 1024);
    expect(result.statusCode).toBe(400);
    expect(bodyOf(result)).toEqual({
      error: 'invalid_request',
      message: 'body: must be at most 16384 bytes',
    });
    expect(handler).not.toHaveBeenCalled();
  });

  it('measures the body in UTF-8 bytes, not characters', async () => {
    // Prepare
    const handler = vi.fn(ok);
    const { invoke } = handlerFor({ [CONNECT_SESSIONS_ROUTE]: handler });
    const body = 'ä'.repeat(MAX_BODY_BYTES / 2 + 1);

    // Act
    const result = await invoke(event(CONNECT_SESSIONS_ROUTE, { authorizer: IAM, body }));

    // Assess
    expect(body.length).toBeLessThan(MAX_BODY_BYTES);
    expect(result.statusCode).toBe(400);
    expect(handler).not.toHaveBeenCalled();
  });

  it('measures a base64 body after decoding it', async () => {
    // Prepare
    const { invoke } = handlerFor({ [CONNECT_SESSIONS_ROUTE]: ok });
    const encoded = Buffer.from('y'.repeat(MAX_BODY_BYTES)).toString('base64');

    // Act
    const result = await invoke(
      event(CONNECT_SESSIONS_ROUTE, { authorizer: IAM, body: encoded, isBase64Encoded: true }),
    );

    // Assess
    expect(encoded.length).toBeGreaterThan(MAX_BODY_BYTES);
    expect(result.statusCode).toBe(200);
  });
});

describe('dispatch', () => {
  it('rejects a backend call without a caller with an UnauthorizedError', async () => {
    // Prepare
    const handle = dispatch({ [TOKENS_ROUTE]: ok });

    // Act
    const answer = handle(event(TOKENS_ROUTE));

    // Assess
    await expect(answer).rejects.toBeInstanceOf(UnauthorizedError);
  });

  it('rejects an oversized body with an InvalidRequestError on field body', async () => {
    // Prepare
    const handle = dispatch({ [CONNECT_SESSIONS_ROUTE]: ok });

    // Act
    const answer = handle(
      event(CONNECT_SESSIONS_ROUTE, { authorizer: IAM, body: 'x'.repeat(MAX_BODY_BYTES + 1) }),
    );

    // Assess
    await expect(answer).rejects.toMatchObject({ name: 'InvalidRequestError', field: 'body' });
  });

  it('answers the handler result for a known route', async () => {
    // Prepare
    const handle = dispatch({ [HEALTH_ROUTE]: ok });

    // Act
    const result = await handle(event(HEALTH_ROUTE));

    // Assess
    expect(result.statusCode).toBe(200);
    expect(bodyOf(result)).toEqual({ status: 'ok' });
  });
});

describe('errorResponses', () => {
  type MiddyRequest = middy.Request<BrokerEvent, HttpResult, Error, Context>;

  const requestWith = (error: Error): MiddyRequest => ({
    event: event(TOKENS_ROUTE, { authorizer: IAM }),
    context: {} as Context,
    response: null,
    error,
    internal: {},
  });

  it('sets the response of an exposed error', async () => {
    // Prepare
    const request = requestWith(new NotFoundError('no connection xentral/acme42'));
    const middleware = errorResponses(recordingLogger());

    // Act
    await middleware.onError?.(request);

    // Assess
    expect(request.response?.statusCode).toBe(404);
    expect(JSON.parse(String(request.response?.body))).toEqual({
      error: 'not_found',
      message: 'no connection xentral/acme42',
    });
  });

  it('logs an unexpected error by name and code only', async () => {
    // Prepare
    const failure = Object.assign(new Error('Authorization: Bearer at-LEAKED-9'), { code: 'ECONNRESET' });
    const request = requestWith(failure);
    const logger = recordingLogger();

    // Act
    await errorResponses(logger).onError?.(request);

    // Assess
    expect(request.response?.statusCode).toBe(500);
    expect(logger.calls).toEqual([
      {
        level: 'error',
        message: 'request failed',
        attributes: { route: TOKENS_ROUTE, errorName: 'Error', errorCode: 'ECONNRESET' },
      },
    ]);
    expect(JSON.stringify(logger.calls)).not.toContain('at-LEAKED-9');
  });
});

describe('failures on browser routes are pages', () => {
  const BROWSER_ROUTES = routes.filter((route) => route.browser === true).map(routeKey);

  it('marks the connect link and the callback as browser routes', () => {
    expect(BROWSER_ROUTES.sort()).toEqual([
      'GET /connect/{session_id}',
      'GET /oauth/{provider}/callback',
      'GET /oauth/{provider}/install',
    ]);
  });

  it.each(BROWSER_ROUTES)(
    'answers an unexpected error on %s with the HTML error page and its headers',
    async (key) => {
      const { invoke, logger } = throwing(
        key,
        Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
      );
      const result = await invoke(event(key));
      expect(result.statusCode).toBe(500);
      expect(result.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(result.headers['content-security-policy']).toContain("default-src 'none'");
      expect(result.headers['referrer-policy']).toBe('no-referrer');
      expect(String(result.body)).toContain('The connection service has a problem');
      expect(String(result.body)).not.toContain('ECONNREFUSED');
      expect(logger.calls).toEqual([
        expect.objectContaining({
          level: 'error',
          message: 'request failed',
          attributes: expect.objectContaining({ route: key }),
        }),
      ]);
    },
  );

  it('answers an exposed 400 on a browser route with the invalid page', async () => {
    const { invoke } = throwing('GET /connect/{session_id}', new InvalidRequestError('body', 'too large'));
    const result = await invoke(event('GET /connect/{session_id}'));
    expect(result.statusCode).toBe(400);
    expect(String(result.body)).toContain('This connection request is no longer valid');
  });

  it('keeps JSON errors on the other public routes', async () => {
    const { invoke } = throwing(HEALTH_ROUTE, new Error('boom'));
    const result = await invoke(event(HEALTH_ROUTE));
    expect(result.headers['content-type']).toContain('application/json');
  });
});

describe('HEAD and HSTS', () => {
  it('serves HEAD with the GET handler: same status and headers, no body', async () => {
    const { invoke } = handlerFor({ [HEALTH_ROUTE]: ok });
    const result = await invoke(event('HEAD /health'));
    expect(result.statusCode).toBe(200);
    expect(result.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(result.body).toBeUndefined();
  });

  it('answers HEAD on a browser route that fails with the page status and headers, no body', async () => {
    const { invoke } = throwing('GET /connect/{session_id}', new Error('down'));
    const result = await invoke(event('HEAD /connect/{session_id}'));
    expect(result.statusCode).toBe(500);
    expect(result.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(result.body).toBeUndefined();
  });

  it('answers 404 for HEAD on a route that has no GET', async () => {
    const { invoke } = handlerFor({ [CONNECT_SESSIONS_ROUTE]: ok });
    const result = await invoke(event('HEAD /connect-sessions', { authorizer: IAM }));
    expect(result.statusCode).toBe(404);
  });

  it.each([
    ['a JSON answer', HEALTH_ROUTE, ok],
    ['a page', 'GET /connect/{session_id}', async () => page(410, pages.expired())],
    [
      'a redirect',
      'GET /connect/{session_id}',
      async () => redirect(302, 'https://provider.example/authorize'),
    ],
    [
      'a JSON error',
      HEALTH_ROUTE,
      async () => {
        throw new NotFoundError('nothing');
      },
    ],
    [
      'an error page',
      'GET /oauth/{provider}/callback',
      async () => {
        throw new Error('down');
      },
    ],
  ] as const)(
    'sends Strict-Transport-Security on %s when the public URL is https',
    async (_, key, handler) => {
      const secure = handlerFor({ [key]: handler }, 'https://broker.example.com');
      expect((await secure.invoke(event(key))).headers['strict-transport-security']).toBe(
        STRICT_TRANSPORT_SECURITY,
      );
      const plain = handlerFor({ [key]: handler }, 'http://localhost:8787');
      expect((await plain.invoke(event(key))).headers['strict-transport-security']).toBeUndefined();
    },
  );
});
