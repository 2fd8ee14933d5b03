/**
 * `GET /tokens/{provider}/{account}`: the route SaaS backends call before every provider request,
 * through API Gateway or, for backends inside AWS, by invoking the function directly.
 */
import type middy from '@middy/core';
import type { Context } from 'aws-lambda';
import * as z from 'zod/mini';
import type { BrokerEvent } from '../http/middleware';
import type { RouteTable } from '../http/pipeline';
import { tokenResponse } from '../http/presenters';
import { parseInput, providerRequestSchemas, tokenQuerySchema } from '../http/requests';
import { type HttpResult, json } from '../http/responses';
import { routeKey } from '../routes';
import type { Services } from '../services';

const TOKEN_ROUTE = routeKey({ method: 'GET', path: '/tokens/{provider}/{account}' });

/**
 * The audit line's `caller` of a direct invocation. Lambda does not tell a function who invoked it:
 * the principal is in CloudTrail's data event for the `Invoke` (README, "Direct invocation"), whose
 * request id is the audit line's Lambda request id.
 */
export const DIRECT_INVOCATION_CALLER = 'lambda:invoke';

/**
 * What a backend sends with `lambda:InvokeFunction`: the route's path parameters and query
 * parameters as one JSON object. The answer is the route's answer as API Gateway gets it
 * (`statusCode`, `headers`, `body` holding the same JSON).
 */
export const directTokenRequestSchema = z.strictObject({
  provider: z.string({ error: 'is required and must be a string' }),
  account: z.string({ error: 'is required and must be a string' }),
  min_valid_seconds: z.optional(z.union([z.number(), z.string()], { error: 'must be a whole number' })),
  force_refresh: z.optional(z.union([z.boolean(), z.string()], { error: 'must be true or false' })),
});

/** The route's API Gateway event for a direct invocation (path and query as API Gateway passes them). */
function routeEvent(
  requestId: string,
  path: { provider: string; account: string } | undefined,
  query: Record<string, string>,
): BrokerEvent {
  const rawPath =
    path === undefined
      ? '/tokens'
      : `/tokens/${encodeURIComponent(path.provider)}/${encodeURIComponent(path.account)}`;
  return {
    version: '2.0',
    routeKey: TOKEN_ROUTE,
    rawPath,
    rawQueryString: new URLSearchParams(query).toString(),
    headers: {},
    ...(path === undefined ? {} : { pathParameters: path }),
    ...(Object.keys(query).length === 0 ? {} : { queryStringParameters: query }),
    isBase64Encoded: false,
    requestContext: {
      requestId,
      routeKey: TOKEN_ROUTE,
      http: { method: 'GET', path: rawPath, protocol: 'lambda', sourceIp: '', userAgent: '' },
      authorizer: { lambda: { caller: DIRECT_INVOCATION_CALLER } },
    },
  } as unknown as BrokerEvent;
}

/**
 * A direct invocation's request as the API Gateway event of the route, so both go one way
 * (functions/http/pipeline.ts puts it first on the tokens function on Lambda).
 */
export function directInvocation(): middy.MiddlewareObj<BrokerEvent, HttpResult, Error, Context> {
  return {
    before: (request) => {
      const event = request.event as unknown;
      if (typeof event === 'object' && event !== null && 'routeKey' in event) return;
      // Every later middleware (and the error answer) sees an event of the route, even a refused one.
      request.event = routeEvent(request.context.awsRequestId, undefined, {});
      const direct = parseInput(directTokenRequestSchema, event, 'event');
      // Query values as API Gateway passes them (strings), so the route checks them the same way.
      const query = Object.fromEntries(
        (['min_valid_seconds', 'force_refresh'] as const)
          .filter((name) => direct[name] !== undefined)
          .map((name) => [name, String(direct[name])]),
      );
      request.event = routeEvent(
        request.context.awsRequestId,
        { provider: direct.provider, account: direct.account },
        query,
      );
    },
  };
}

/** The `tokens` group's route. */
export function tokenRoutes(services: Services): RouteTable {
  const { connectionPath: connectionPathSchema } = providerRequestSchemas(services.providers);
  return {
    [TOKEN_ROUTE]: async ({ path, query, caller }) => {
      const key = parseInput(connectionPathSchema, path, 'path');
      const options = parseInput(tokenQuerySchema, query, 'query');
      const token = await services.tokens.getToken(key, {
        minValidSeconds: options.min_valid_seconds,
        forceRefresh: options.force_refresh,
        caller: caller ?? 'unknown',
      });
      return json(200, tokenResponse(token));
    },
  };
}
