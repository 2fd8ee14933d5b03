/**
 * The local runtime's HTTP front: plays API Gateway (HTTP API) for the unchanged Lambda handlers.
 * It matches the route table, checks the bearer API key on backend routes (where AWS checks
 * SigV4), turns `node:http` requests into API Gateway v2 events, and writes the results back.
 */
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { type BrokerEvent, MAX_BODY_BYTES } from '../http/middleware';
import { type FunctionGroup, methodsOf, type RouteSpec, routeKey, routes } from '../routes';

export type GroupHandler = (
  event: BrokerEvent,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;

export interface LocalServerOptions {
  readonly handlers: Readonly<Record<FunctionGroup, GroupHandler>>;
  readonly apiKey: string;
  /** Extra request handlers tried first (the demo simulator, local-only routes); resolve true if handled. */
  readonly extensions?: readonly ((req: IncomingMessage, res: ServerResponse) => Promise<boolean>)[];
  /**
   * The `Host` values (`name:port`, lower case) the server answers; any other is refused before
   * anything else runs, against DNS rebinding. Filled once the port is known.
   */
  readonly allowedHosts: ReadonlySet<string>;
}

/** The `Host` values a local broker on `port` answers: the public URL's, then loopback names. */
export function localHostNames(publicUrl: string, port: number, listenHost?: string): Set<string> {
  const names = [new URL(publicUrl).host, `localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`];
  // A concrete listening address (not a wildcard) is a name a client may use as well.
  if (listenHost !== undefined && !['0.0.0.0', '::', '[::]'].includes(listenHost)) {
    const host = normalHost(
      `${listenHost.includes(':') && !listenHost.startsWith('[') ? `[${listenHost}]` : listenHost}:${port}`,
    );
    if (host !== undefined) names.push(host);
  }
  return new Set(names.map((name) => name.toLowerCase()));
}

/** `Host` as a URL authority would spell it (lower case, default port dropped), or undefined. */
function normalHost(host: string | undefined): string | undefined {
  if (host === undefined || host === '' || /[\s/?#@\\]/.test(host)) return undefined;
  try {
    return new URL(`http://${host}`).host;
  } catch {
    return undefined;
  }
}

/** A short, stable id of the API key for logs and audit: never the key itself. */
export const apiKeyId = (apiKey: string): string =>
  `api-key:${createHash('sha256').update(apiKey).digest('hex').slice(0, 12)}`;

const sha = (value: string) => createHash('sha256').update(value).digest();

/** Constant-time check of an `Authorization: Bearer …` header against the key. */
export function bearerMatches(header: string | undefined, apiKey: string): boolean {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1] !== undefined && timingSafeEqual(sha(match[1]), sha(apiKey));
}

interface CompiledRoute {
  readonly spec: RouteSpec;
  readonly segments: readonly string[];
}

const compiled: readonly CompiledRoute[] = routes.map((spec) => ({
  spec,
  segments: spec.path.split('/').slice(1),
}));

/** Finds the route of a method and path, with its path parameters (decoded). */
export function matchRoute(method: string, path: string) {
  const parts = path.split('/').slice(1);
  let pathMatched = false;
  for (const route of compiled) {
    if (route.segments.length !== parts.length) continue;
    const params: Record<string, string> = {};
    let ok = true;
    for (let i = 0; i < parts.length && ok; i++) {
      const segment = route.segments[i] ?? '';
      const part = parts[i] ?? '';
      if (segment.startsWith('{')) {
        let decoded: string;
        try {
          decoded = decodeURIComponent(part);
        } catch {
          decoded = part;
        }
        if (decoded === '') ok = false;
        else params[segment.slice(1, -1)] = decoded;
      } else ok = segment === part;
    }
    if (!ok) continue;
    pathMatched = true;
    if (methodsOf(route.spec).some((m) => m === method)) return { route: route.spec, params, pathMatched };
  }
  return { route: undefined, params: {}, pathMatched };
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(JSON.stringify(body));
}

/**
 * Reads the body, stopping one byte past the broker's limit: what was read then goes on to
 * `dispatch`, which refuses it like any oversized body on Lambda (one rule, one message).
 */
function readBody(req: IncomingMessage): Promise<{ body: string | undefined; truncated: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) return;
      // Paused, not destroyed: destroying the request would take the socket the answer needs.
      req.off('data', onData).off('end', onEnd).pause();
      // UTF-8 decoding never shortens bytes (a broken sequence becomes a 3-byte U+FFFD), so the
      // text stays over the limit.
      const read = Buffer.concat(chunks).subarray(0, MAX_BODY_BYTES + 1);
      resolve({ body: read.toString('utf8'), truncated: true });
    };
    const onEnd = () =>
      resolve({ body: size === 0 ? undefined : Buffer.concat(chunks).toString('utf8'), truncated: false });
    req.on('data', onData).once('end', onEnd).once('error', reject);
  });
}

function toEvent(
  req: IncomingMessage,
  url: URL,
  route: RouteSpec,
  params: Record<string, string>,
  body: string | undefined,
  caller: string | undefined,
): BrokerEvent {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined && name !== 'cookie')
      headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  // API Gateway joins repeated query parameters with commas; so do we.
  const query: Record<string, string> = {};
  for (const [name, value] of url.searchParams)
    query[name] = name in query ? `${query[name]},${value}` : value;
  const cookies = req.headers.cookie
    ?.split(';')
    .map((c) => c.trim())
    .filter((c) => c !== '');
  const now = Date.now();
  // API Gateway names a HEAD request's route `HEAD /path`; Node sends no body for HEAD either way.
  const key = routeKey({ method: req.method === 'HEAD' ? 'HEAD' : route.method, path: route.path });
  return {
    version: '2.0',
    routeKey: key,
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    ...(cookies === undefined ? {} : { cookies }),
    headers,
    ...(Object.keys(query).length === 0 ? {} : { queryStringParameters: query }),
    ...(Object.keys(params).length === 0 ? {} : { pathParameters: params }),
    requestContext: {
      accountId: 'local',
      apiId: 'local',
      domainName: url.host,
      domainPrefix: url.hostname,
      http: {
        method: req.method ?? 'GET',
        path: url.pathname,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress ?? '',
        userAgent: req.headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey: key,
      stage: '$default',
      time: new Date(now).toISOString(),
      timeEpoch: now,
      ...(caller === undefined ? {} : { authorizer: { lambda: { caller } } }),
    },
    ...(body === undefined ? {} : { body }),
    isBase64Encoded: false,
  } as BrokerEvent;
}

/** The Lambda context an invocation of a function group gets (the names the stack gives them). */
export function lambdaContext(requestId: string, group: string): Context {
  return {
    awsRequestId: requestId,
    functionName: `token-broker-${group}`,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:token-broker-${group}`,
    memoryLimitInMB: '256',
    logGroupName: `/local/token-broker-${group}`,
    logStreamName: 'local',
    callbackWaitsForEmptyEventLoop: false,
    getRemainingTimeInMillis: () => 29_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** The request's URL, or undefined when the Host header cannot be a URL authority. */
function requestUrl(path: string | undefined, host: string | undefined): URL | undefined {
  try {
    return new URL(path ?? '/', `http://${host ?? 'localhost'}`);
  } catch {
    return undefined;
  }
}

/**
 * A page on another site that rebinds its name to 127.0.0.1 sends its own name as Host: it must
 * reach nothing here, the simulator and local routes included. Answers and resolves false if refused.
 */
function hostAllowed(req: IncomingMessage, res: ServerResponse, allowedHosts: ReadonlySet<string>): boolean {
  const host = normalHost(req.headers.host);
  if (host !== undefined && allowedHosts.has(host)) return true;
  sendJson(res, 400, {
    error: 'invalid_request',
    message:
      'the Host header is not a name this broker answers to: use the host of BROKER_PUBLIC_URL, ' +
      'or localhost, 127.0.0.1 or [::1] with the port',
  });
  return false;
}

/** What the server answers while the broker is still being built (it listens first, for its port). */
export function startingListener(allowedHosts: ReadonlySet<string>): RequestListener {
  return (req, res) => {
    if (!hostAllowed(req, res, allowedHosts)) return;
    res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' });
    res.end(JSON.stringify({ error: 'starting', message: 'the broker is starting' }));
  };
}

/** The broker's request listener: extensions first, then the routes through their function groups. */
export function localRequestListener(options: LocalServerOptions): RequestListener {
  const caller = apiKeyId(options.apiKey);
  return async (req, res) => {
    try {
      if (!hostAllowed(req, res, options.allowedHosts)) return;
      for (const extension of options.extensions ?? []) if (await extension(req, res)) return;
      const url = requestUrl(req.url, req.headers.host);
      if (url === undefined) {
        // Node's parser lets any Host through; API Gateway would refuse such a request too.
        return sendJson(res, 400, {
          error: 'invalid_request',
          message: 'the Host header is not a valid host name or address',
        });
      }
      const { route, params, pathMatched } = matchRoute(req.method ?? 'GET', url.pathname);
      if (route === undefined) {
        return sendJson(res, pathMatched ? 405 : 404, {
          error: pathMatched ? 'method_not_allowed' : 'not_found',
          message: `no route ${req.method} ${url.pathname}`,
        });
      }
      if (route.access === 'backend' && !bearerMatches(req.headers.authorization, options.apiKey)) {
        return sendJson(
          res,
          401,
          { error: 'unauthorized', message: 'send Authorization: Bearer $BROKER_API_KEY' },
          {
            'www-authenticate': 'Bearer',
          },
        );
      }
      const { body, truncated } = await readBody(req);
      // The rest of an oversized body is never read: the connection cannot carry another request.
      if (truncated) res.setHeader('connection', 'close');
      const event = toEvent(req, url, route, params, body, route.access === 'backend' ? caller : undefined);
      const result = await options.handlers[route.group](
        event,
        lambdaContext(event.requestContext.requestId, route.group),
      );
      const headers: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(result.headers ?? {})) headers[name] = String(value);
      if (result.cookies !== undefined && result.cookies.length > 0) headers['set-cookie'] = result.cookies;
      res.writeHead(result.statusCode ?? 200, headers);
      res.end(
        result.body === undefined
          ? undefined
          : result.isBase64Encoded
            ? Buffer.from(result.body, 'base64')
            : result.body,
      );
    } catch {
      if (!res.headersSent)
        sendJson(res, 500, { error: 'internal_error', message: 'the broker failed; try again later' });
      else res.destroy();
    }
  };
}
