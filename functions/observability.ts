/**
 * How a runtime watches its invocations, the last part of every function's middy chain (after the
 * HTTP part in functions/http/pipeline.ts), and the chain of the scheduled sweep, which is that
 * part alone. Kept apart from the HTTP pipeline so the sweep's bundle carries no HTTP code.
 */
import type { Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { Tracer } from '@aws-lambda-powertools/tracer';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';

/**
 * Lambda passes all of it (functions/aws.ts); the local runtime only the logger (no X-Ray daemon,
 * no CloudWatch), with `resetKeys` because one process serves many requests.
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

type Chain<E, R> = middy.MiddyfiedHandler<E, R, Error, Context>;

/** Adds the observability middlewares to `handler`, in this order (none without `observability`). */
export function observe<E, R>(handler: Chain<E, R>, observability: Observability | undefined): Chain<E, R> {
  if (observability === undefined) return handler;
  const { tracer, logger, metrics, resetKeys } = observability;
  // Never the response as trace metadata (Powertools' default): it is the token itself. The stack
  // also sets POWERTOOLS_TRACER_CAPTURE_RESPONSE=false, so no other capture path records one either.
  if (tracer !== undefined) handler.use(captureLambdaHandler(tracer, { captureResponse: false }));
  handler.use(injectLambdaContext(logger, resetKeys === true ? { resetKeys: true } : {}));
  if (metrics !== undefined) handler.use(logMetrics(metrics));
  return handler;
}

/** The handler of a scheduled job (the sweep): no HTTP, the same observability. */
export function jobPipeline<R>(job: () => Promise<R>, observability?: Observability): Chain<unknown, R> {
  return observe(middy<unknown, R, Error, Context>(), observability).handler(() => job());
}
