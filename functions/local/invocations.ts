/**
 * Per-invocation context for the local runtime. On Lambda a container runs one invocation at a
 * time, so Powertools may keep the request context (request id, function name) in module state.
 * This process serves many requests and the sweep at once, as Lambda Managed Instances do; like
 * their runtime, it runs every invocation in its own InvokeStore context, which Powertools uses
 * when AWS_LAMBDA_MAX_CONCURRENCY is set. Each log line then carries its own invocation's context.
 *
 * Import this module before anything else sends an AWS SDK request: the SDK's first request asks
 * for the process-wide InvokeStore, and that first request fixes whether it is per invocation.
 */
import { InvokeStore, InvokeStoreBase } from '@aws/lambda-invoke-store';
import type { Context } from 'aws-lambda';

/** Invocations this process runs at once, as far as Powertools is concerned (no limit is enforced). */
const LOCAL_MAX_CONCURRENCY = 64;

process.env.AWS_LAMBDA_MAX_CONCURRENCY ??= String(LOCAL_MAX_CONCURRENCY);

type Invoke<E, R> = (event: E, context: Context) => Promise<R>;

/** Wraps handlers so that each call runs in a context of its own. */
export async function invocationScope(): Promise<<E, R>(handler: Invoke<E, R>) => Invoke<E, R>> {
  const store = await InvokeStore.getInstanceAsync(true);
  // A single-invocation store keeps the last context after `run`; a per-invocation one does not.
  store.run({}, () => undefined);
  if (store.hasContext()) {
    throw new Error(
      'the AWS SDK was used before functions/local/invocations.ts was loaded: import it first, ' +
        'or concurrent requests would log one another’s request ids',
    );
  }
  return (handler) => (event, context) =>
    store.run({ [InvokeStoreBase.PROTECTED_KEYS.REQUEST_ID]: context.awsRequestId }, () =>
      handler(event, context),
    );
}
