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

/** A middy handler serving a group of routes. */
export function httpHandler(services: Services, handlers: Readonly<Record<string, RouteHandler>>) {
  return middy<BrokerEvent, HttpResult, Error, Context>()
    .use(finishResponses({ https: services.config.publicUrl.startsWith('https:') }))
    .use(httpHeaderNormalizer())
    .use(errorResponses(services.logger))
    .handler(dispatch(handlers));
}
