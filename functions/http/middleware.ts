/**
 * The HTTP plumbing every handler group shares: routing by route key (`HEAD` served by the `GET`
 * handler), caller authentication for backend routes, request-size limits, the one place errors
 * become responses (JSON for callers, HTML pages for retailers' browsers), and the headers every
 * answer carries.
 */
import type middy from '@middy/core';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import type { Logger } from '../../shared/domain/ports';
import { getKeyOf, methodsOf, routeKey, routes } from '../routes';
import { httpErrorOf, InvalidRequestError, UnauthorizedError } from './errors';
import { pages } from './pages';
import { type HttpResult, json, page } from './responses';

/** What the local runtime's authorizer or API Gateway's IAM authorizer put on the request. */
export interface Authorizer {
  iam?: { userArn?: string; callerId?: string; accountId?: string };
  lambda?: { caller?: string };
}

export type BrokerEvent = APIGatewayProxyEventV2 & { requestContext: { authorizer?: Authorizer } };

export interface Request {
  readonly event: BrokerEvent;
  /** Who called a backend route (IAM principal or API key id); undefined on public routes. */
  readonly caller: string | undefined;
  readonly path: Readonly<Record<string, string | undefined>>;
  readonly query: Readonly<Record<string, string | undefined>>;
  /** The decoded body text. */
  readonly body: string | undefined;
}

export type RouteHandler = (request: Request) => Promise<HttpResult>;

/** Request bodies larger than this are refused before parsing. */
export const MAX_BODY_BYTES = 16 * 1024;

const accessOf = new Map(routes.map((route) => [routeKey(route), route.access]));
const methodKeys = new Set(
  routes.flatMap((route) => methodsOf(route).map((method) => routeKey({ method, path: route.path }))),
);
const browserRoutes = new Set(routes.filter((route) => route.browser === true).map(routeKey));

function callerOf(event: BrokerEvent): string | undefined {
  const authorizer = event.requestContext.authorizer;
  return authorizer?.iam?.userArn ?? authorizer?.iam?.callerId ?? authorizer?.lambda?.caller;
}

/** One Lambda handler for a group of routes, dispatched by the event's route key. */
export function dispatch(handlers: Readonly<Record<string, RouteHandler>>) {
  return async (event: BrokerEvent): Promise<HttpResult> => {
    const key = getKeyOf(event.routeKey);
    const handler = methodKeys.has(event.routeKey) ? handlers[key] : undefined;
    const access = accessOf.get(key);
    if (handler === undefined || access === undefined) {
      return json(404, { error: 'not_found', message: `no route ${event.routeKey}` });
    }
    const caller = callerOf(event);
    // Defence in depth: API Gateway's IAM authorizer already refused unsigned calls.
    if (access === 'backend' && caller === undefined) throw new UnauthorizedError();
    let body = event.body;
    if (body !== undefined && event.isBase64Encoded) body = Buffer.from(body, 'base64').toString('utf8');
    if (body !== undefined && Buffer.byteLength(body) > MAX_BODY_BYTES) {
      throw new InvalidRequestError('body', `must be at most ${MAX_BODY_BYTES} bytes`);
    }
    return handler({
      event,
      caller,
      path: event.pathParameters ?? {},
      query: event.queryStringParameters ?? {},
      body,
    });
  };
}

/**
 * Turns errors into the contract's JSON errors: exposed BrokerErrors as the table in errors.ts says,
 * anything else a bare 500 (logged, never echoed).
 */
export function errorResponses(logger: Logger): middy.MiddlewareObj<BrokerEvent, HttpResult, Error, Context> {
  return {
    onError: async (request) => {
      const { error } = request;
      const exposed = httpErrorOf(error);
      // A retailer's browser gets a page it can read, with the pages' headers, never JSON.
      if (browserRoutes.has(getKeyOf(request.event.routeKey))) {
        if (exposed !== undefined) {
          request.response =
            exposed.status === 400 ? page(400, pages.invalid()) : page(exposed.status, pages.unavailable());
          return;
        }
        logFailure(logger, request.event.routeKey, error);
        request.response = page(500, pages.unavailable());
        return;
      }
      if (exposed !== undefined) {
        request.response = json(exposed.status, exposed.body, exposed.headers);
        return;
      }
      logFailure(logger, request.event.routeKey, error);
      request.response = json(500, {
        error: 'internal_error',
        message: 'the broker failed; try again later',
      });
    },
  };
}

function logFailure(logger: Logger, route: string, error: Error | null | undefined): void {
  const operatorMessage = (error as { operatorMessage?: unknown } | null)?.operatorMessage;
  logger.error('request failed', {
    route,
    errorName: error?.name,
    errorCode: (error as { code?: unknown } | null)?.code,
    // Only errors that vouch for their text (no token, secret or provider body) get it logged.
    ...(typeof operatorMessage === 'string' ? { operatorMessage } : {}),
  });
}

/** HSTS for a broker served over https: a year, this host only (the domain may be shared). */
export const STRICT_TRANSPORT_SECURITY = 'max-age=31536000';

/**
 * The last touch on every answer, errors included: HSTS when the broker's public URL is https, and
 * no body for `HEAD` (same status and headers as `GET`). Register it before errorResponses so that
 * it sees the error's response too.
 */
export function finishResponses(options: {
  https: boolean;
}): middy.MiddlewareObj<BrokerEvent, HttpResult, Error, Context> {
  const finish = async (request: middy.Request<BrokerEvent, HttpResult, Error, Context>) => {
    const response = request.response;
    if (response === undefined || response === null) return;
    const headers = { ...response.headers };
    if (options.https) headers['strict-transport-security'] = STRICT_TRANSPORT_SECURITY;
    const head = request.event.routeKey.startsWith('HEAD ');
    const { body: _body, ...rest } = response;
    request.response = head ? { ...rest, headers } : { ...response, headers };
  };
  return { after: finish, onError: finish };
}
