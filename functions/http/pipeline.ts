/**
 * The request pipeline: the whole middy chain every function runs, assembled here and nowhere
 * else, for Lambda (functions/aws.ts) and the local runtime (functions/local/runtime.ts) alike.
 *
 * Order matters in middy: `before` runs top to bottom, `after` and `onError` bottom to top. So a
 * request meets, in this order: the direct-invocation adapter (tokens function on Lambda only), the
 * header normaliser, then the observability middlewares (X-Ray subsegment, request ids in logs,
 * metrics), then `dispatch` (route, caller, body limit). On the way back, observability closes first,
 * errorResponses turns any error into the contract's answer, and finishResponses adds HSTS and drops
 * a HEAD answer's body last of all, so error answers get both too.
 */
import type { Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { Tracer } from '@aws-lambda-powertools/tracer';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import httpHeaderNormalizer from '@middy/http-header-normalizer';
import type { Context } from 'aws-lambda';
import type { BrokerConfig } from '../../shared/config';
import type { Logger } from '../../shared/domain/ports';
import { directInvocation } from '../handlers/tokens';
import { type BrokerEvent, dispatch, errorResponses, finishResponses, type RouteHandler } from './middleware';
import type { HttpResult } from './responses';

/** A function group's routes: route key → handler. */
export type RouteTable = Readonly<Record<string, RouteHandler>>;

/**
 * How a runtime watches its invocations. Lambda passes all of it; the local runtime only the logger
 * (no X-Ray daemon, no CloudWatch), with `resetKeys` because one process serves many requests.
 */
export interface Observability {
  /** Request id, function name and cold start on every log line. */
  readonly logger: PowertoolsLogger;
  readonly resetKeys?: boolean;
  /** An X-Ray subsegment per invocation; never the response (see below). */
  readonly tracer?: Tracer;
  /** The domain's counters, flushed as EMF when the invocation ends. */
  readonly metrics?: Metrics;
}

export interface PipelineOptions {
  readonly observability?: Observability;
  /**
   * Also accept the tokens function's direct-invocation event (`lambda:InvokeFunction` with
   * `{provider, account, …}`), turned into the route's API Gateway event before anything else runs.
   */
  readonly directInvocation?: boolean;
}

type Chain<E, R> = middy.MiddyfiedHandler<E, R, Error, Context>;

function observe<E, R>(handler: Chain<E, R>, observability: Observability | undefined): Chain<E, R> {
  if (observability === undefined) return handler;
  const { tracer, logger, metrics, resetKeys } = observability;
  // Never the response as trace metadata (Powertools' default): it is the token itself. The stack
  // also sets POWERTOOLS_TRACER_CAPTURE_RESPONSE=false, so no other capture path records one either.
  if (tracer !== undefined) handler.use(captureLambdaHandler(tracer, { captureResponse: false }));
  handler.use(injectLambdaContext(logger, resetKeys === true ? { resetKeys: true } : {}));
  if (metrics !== undefined) handler.use(logMetrics(metrics));
  return handler;
}

/** The handler of an HTTP function group: its routes behind the whole chain. */
export function httpPipeline(
  services: { readonly config: Pick<BrokerConfig, 'publicUrl'>; readonly logger: Logger },
  routes: RouteTable,
  options: PipelineOptions = {},
): Chain<BrokerEvent, HttpResult> {
  const handler = middy<BrokerEvent, HttpResult, Error, Context>();
  if (options.directInvocation === true) handler.use(directInvocation());
  handler
    .use(finishResponses({ https: services.config.publicUrl.startsWith('https:') }))
    .use(httpHeaderNormalizer())
    .use(errorResponses(services.logger));
  return observe(handler, options.observability).handler(dispatch(routes));
}

/** The handler of a scheduled job (the sweep): no HTTP, the same observability. */
export function jobPipeline<R>(job: () => Promise<R>, observability?: Observability): Chain<unknown, R> {
  return observe(middy<unknown, R, Error, Context>(), observability).handler(() => job());
}
