/** Middy wiring shared by every handler group: Lambda context in logs, header names, errors. */
import middy from '@middy/core';
import httpHeaderNormalizer from '@middy/http-header-normalizer';
import type { Context } from 'aws-lambda';
import {
  type BrokerEvent,
  dispatch,
  errorResponses,
  finishResponses,
  type RouteHandler,
} from '../http/middleware';
import type { HttpResult } from '../http/responses';
import type { Services } from '../services';

type Middleware = middy.MiddlewareObj<BrokerEvent, HttpResult, Error, Context>;

/**
 * A middy handler serving a group of routes. `first` runs before anything else, e.g. turning a
 * direct invocation's event into the route's API Gateway event.
 */
export function httpHandler(
  services: Services,
  handlers: Readonly<Record<string, RouteHandler>>,
  first: readonly Middleware[] = [],
) {
  const handler = middy<BrokerEvent, HttpResult, Error, Context>();
  if (first.length > 0) handler.use([...first]);
  return handler
    .use(finishResponses({ https: services.config.publicUrl.startsWith('https:') }))
    .use(httpHeaderNormalizer())
    .use(errorResponses(services.logger))
    .handler(dispatch(handlers));
}
