/**
 * Diagnostic only, never shipped: what the functions would weigh without the Powertools Tracer
 * (and the X-Ray SDK under it). The cold-init phase aliases `@aws-lambda-powertools/tracer` and its
 * middleware to this module for one extra bundle of the tokens function, so the Tracer's share of
 * the cold start is a measured figure of the same run. No X-Ray segment is recorded with it.
 */
import type middy from '@middy/core';

export class Tracer {
  captureAWSv3Client<T>(client: T): T {
    return client;
  }
}

export function captureLambdaHandler(_tracer: Tracer, _options?: unknown): middy.MiddlewareObj {
  return { before: () => undefined };
}
