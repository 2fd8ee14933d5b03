/**
 * The HTTP plumbing every handler group shares: routing by route key, caller authentication for
 * backend routes, request-size limits, and the one place errors become responses.
 */
import type middy from '@middy/core';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import {
  BrokerError,
  InvalidRequestError,
  ProviderUnavailableError,
  UnauthorizedError,
} from '../../shared/domain/errors';
import type { Logger } from '../../shared/domain/ports';
import { routeKey, routes } from '../routes';
import { type HttpResult, json } from './responses';

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

function callerOf(event: BrokerEvent): string | undefined {
  const authorizer = event.requestContext.authorizer;
  return authorizer?.iam?.userArn ?? authorizer?.iam?.callerId ?? authorizer?.lambda?.caller;
}

/** One Lambda handler for a group of routes, dispatched by the event's route key. */
export function dispatch(handlers: Readonly<Record<string, RouteHandler>>) {
  return async (event: BrokerEvent): Promise<HttpResult> => {
    const handler = handlers[event.routeKey];
    const access = accessOf.get(event.routeKey);
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
 * Turns errors into the contract's JSON errors: exposed BrokerErrors with their status and code,
 * anything else a bare 500 (logged, never echoed).
 */
export function errorResponses(logger: Logger): middy.MiddlewareObj<BrokerEvent, HttpResult, Error, Context> {
  return {
    onError: async (request) => {
      const { error } = request;
      if (error instanceof BrokerError && error.expose) {
        const headers: Record<string, string> = {};
        if (error instanceof ProviderUnavailableError)
          headers['retry-after'] = String(error.retryAfterSeconds);
        request.response = json(error.status, { error: error.code, message: error.message }, headers);
        return;
      }
      const operatorMessage = (error as { operatorMessage?: unknown } | null)?.operatorMessage;
      logger.error('request failed', {
        route: request.event.routeKey,
        errorName: error?.name,
        errorCode: (error as { code?: unknown } | null)?.code,
        // Only errors that vouch for their text (no token, secret or provider body) get it logged.
        ...(typeof operatorMessage === 'string' ? { operatorMessage } : {}),
      });
      request.response = json(500, {
        error: 'internal_error',
        message: 'the broker failed; try again later',
      });
    },
  };
}
