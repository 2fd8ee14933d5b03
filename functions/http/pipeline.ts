/**
 * The request pipeline: the whole middy chain of the HTTP functions, assembled here and nowhere
 * else, for the Lambda entries (functions/{public,tokens,admin}.ts) and the local runtime
 * (functions/local/runtime.ts) alike. Its last part, observability, is functions/observability.ts.
 *
 * Order matters in middy: `before` runs top to bottom, `after` and `onError` bottom to top. So a
 * request meets, in this order: the direct-invocation adapter (tokens function on Lambda only), the
 * header normaliser, then the observability middlewares (X-Ray subsegment, request ids in logs,
 * metrics), then `dispatch` (route, caller, body limit). On the way back, observability closes first,
 * errorResponses turns any error into the contract's answer, and finishResponses adds HSTS and drops
 * a HEAD answer's body last of all, so error answers get both too.
 */
import middy from '@middy/core';
import httpHeaderNormalizer from '@middy/http-header-normalizer';
import type { Context } from 'aws-lambda';
import type { BrokerConfig } from '../../shared/config';
import type { Logger } from '../../shared/domain/ports';
import { type Observability, observe } from '../observability';
import { type BrokerEvent, dispatch, errorResponses, finishResponses, type RouteHandler } from './middleware';
import type { HttpResult } from './responses';

/** A function group's routes: route key → handler. */
export type RouteTable = Readonly<Record<string, RouteHandler>>;

export interface PipelineOptions {
  /** Lambda's or the local runtime's (functions/observability.ts); none in unit tests. */
  readonly observability?: Observability;
  /**
   * The tokens function's direct-invocation adapter (`directInvocation()` of handlers/tokens.ts),
   * which turns a `lambda:InvokeFunction` event into the route's API Gateway event before anything
   * else runs. Passed in, not imported, so the other functions' bundles do not carry it.
   */
  readonly directInvocation?: middy.MiddlewareObj<BrokerEvent, HttpResult, Error, Context>;
}

/** The handler of an HTTP function group: its routes behind the whole chain. */
export function httpPipeline(
  services: { readonly config: Pick<BrokerConfig, 'publicUrl'>; readonly logger: Logger },
  routes: RouteTable,
  options: PipelineOptions = {},
): middy.MiddyfiedHandler<BrokerEvent, HttpResult, Error, Context> {
  const handler = middy<BrokerEvent, HttpResult, Error, Context>();
  if (options.directInvocation !== undefined) handler.use(options.directInvocation);
  handler
    .use(finishResponses({ https: services.config.publicUrl.startsWith('https:') }))
    .use(httpHeaderNormalizer())
    .use(errorResponses(services.logger));
  return observe(handler, options.observability).handler(dispatch(routes));
}
