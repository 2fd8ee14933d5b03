/**
 * Deploy-time identifiers that the infrastructure (infra/) and the runtime (functions/, shared/adapters)
 * must agree on. One definition each: IAM conditions, alarms and EventBridge rules are written against
 * exactly these values, so a runtime that sent another one would be denied or go unwatched.
 */

/** The service name the runtime reports (Powertools' `service` dimension, logger and tracer). */
export const SERVICE_NAME = 'token-broker';

/** The metrics the application emits (CloudWatch EMF through Powertools) and the alarms watch. */
export const METRICS = {
  namespace: 'TokenBroker',
  service: SERVICE_NAME,
  refreshFailed: 'RefreshFailed',
  reauthorizationRequired: 'ReauthorizationRequired',
  refreshSucceeded: 'RefreshSucceeded',
  tokenFetched: 'TokenFetched',
} as const;

/**
 * The encryption context the functions send with their own KMS calls (data keys sealing stored tokens,
 * shared/adapters/crypto/kms-keys.ts). IAM allows direct use of the key only with this context.
 */
export const TOKEN_DATA_KEY_CONTEXT = { service: SERVICE_NAME, purpose: 'token-data-key' } as const;

/** The event source every broker event carries, for EventBridge rules. */
export const EVENT_SOURCE = SERVICE_NAME;
