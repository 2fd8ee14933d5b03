/**
 * What a broker call can fail with: one subclass per error a backend handles differently, each with
 * the contract's `code` and the HTTP `status`. Messages are the broker's, which never hold a token.
 */

export type TokenBrokerErrorCode =
  | 'invalid_request'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'reauthorization_required'
  | 'token_expired'
  | 'provider_unavailable'
  | 'method_not_allowed'
  | 'internal_error'
  /** No HTTP answer: connection refused, DNS, timeout. `status` is 0. */
  | 'network_error'
  /** SigV4: no AWS credentials could be loaded. `status` is 0. */
  | 'credentials_unavailable'
  /** An answer that is not the contract's shape. */
  | 'invalid_response'
  | (string & Record<never, never>);

export class TokenBrokerError extends Error {
  override readonly name: string = 'TokenBrokerError';
  constructor(
    readonly code: TokenBrokerErrorCode,
    /** HTTP status of the broker's answer; 0 when there was none. */
    readonly status: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The provider refused the refresh token: the retailer must connect again (a new connect link). */
export class ReauthorizationRequiredError extends TokenBrokerError {
  override readonly name = 'ReauthorizationRequiredError';
  constructor(message: string) {
    super('reauthorization_required', 409, message);
  }
}

/** A personal token is past its `expires_at`: someone must store a new one. */
export class TokenExpiredError extends TokenBrokerError {
  override readonly name = 'TokenExpiredError';
  constructor(message: string) {
    super('token_expired', 409, message);
  }
}

/** The provider is failing and no usable token is left; try again after `retryAfterSeconds`. */
export class ProviderUnavailableError extends TokenBrokerError {
  override readonly name = 'ProviderUnavailableError';
  constructor(
    message: string,
    /** From the `Retry-After` header; undefined when the answer had none. */
    readonly retryAfterSeconds: number | undefined,
  ) {
    super('provider_unavailable', 503, message);
  }
}

/** No such connection (or personal token, or session). */
export class NotFoundError extends TokenBrokerError {
  override readonly name = 'NotFoundError';
  constructor(message: string) {
    super('not_found', 404, message);
  }
}

/** Anything else: a bad request, wrong credentials, a broker or network failure. */
export class BrokerRequestError extends TokenBrokerError {
  override readonly name = 'BrokerRequestError';
}

/** `Retry-After` as delay seconds or an HTTP date, in whole seconds from `now`. */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - now) / 1000));
}

/** The typed error for an error answer `{"error","message"}` of the broker. */
export function errorFromResponse(
  status: number,
  body: unknown,
  retryAfter: string | null,
  now: number,
): TokenBrokerError {
  const fields = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
  const code =
    typeof fields.error === 'string' && fields.error !== ''
      ? fields.error
      : status === 401
        ? 'unauthorized'
        : // API Gateway answers a refused SigV4 signature with 403 {"message":"Forbidden"}.
          status === 403
          ? 'forbidden'
          : status === 404
            ? 'not_found'
            : `http_${status}`;
  const message = typeof fields.message === 'string' ? fields.message : `the broker answered ${status}`;
  switch (code) {
    case 'reauthorization_required':
      return new ReauthorizationRequiredError(message);
    case 'token_expired':
      return new TokenExpiredError(message);
    case 'provider_unavailable':
      return new ProviderUnavailableError(message, parseRetryAfter(retryAfter, now));
    case 'not_found':
      return new NotFoundError(message);
    default:
      return new BrokerRequestError(code, status, message);
  }
}
