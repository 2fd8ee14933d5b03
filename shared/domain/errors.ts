/**
 * Domain errors. Each has a stable `code` and no transport detail: the HTTP layer's one table
 * (functions/http/errors.ts) maps codes to statuses and headers. Those with `expose` set reach
 * callers as they are, everything else becomes a bare 500. Messages never contain a token, a
 * code, a secret or a provider's raw body.
 */
export abstract class BrokerError extends Error {
  abstract readonly code: string;
  /** Safe to show to the caller as it is. */
  readonly expose: boolean = true;
}

/** The base of one exposed domain error: its class name and stable code, nothing else. */
export function brokerError<const Code extends string>(name: string, code: Code) {
  return class extends BrokerError {
    override readonly name = name;
    readonly code = code;
  };
}

/** The inputs of the domain's operations that can be refused, by their domain names. */
export type DomainInput =
  | 'provider'
  | 'account'
  /** The account a connect session names (it comes in a body, where `account` comes in a path). */
  | 'sessionAccount'
  | 'returnTo'
  | 'token'
  | 'expiresAt'
  | 'cursor';

/**
 * An input the domain refuses (the HTTP layer names the request field it came from). A cursor is
 * refused when this broker did not issue it, or issued it for another filter.
 */
export class InvalidInputError extends brokerError('InvalidInputError', 'invalid_input') {
  constructor(
    readonly input: DomainInput,
    message: string,
  ) {
    super(message);
  }
}

/** No such connection, personal token or session. */
export class NotFoundError extends brokerError('NotFoundError', 'not_found') {}

/** The provider refused the refresh token; the retailer must connect again. */
export class ReauthorizationRequiredError extends brokerError(
  'ReauthorizationRequiredError',
  'reauthorization_required',
) {}

/** A personal token is past its `expires_at`. */
export class TokenExpiredError extends brokerError('TokenExpiredError', 'token_expired') {}

/** The token must be refreshed and the provider is failing; retry after `retryAfterSeconds`. */
export class ProviderUnavailableError extends brokerError(
  'ProviderUnavailableError',
  'provider_unavailable',
) {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** What went wrong at a provider, classified for the refresh protocol. */
export type ProviderFailureKind =
  /** The grant (refresh token or code) was refused: never retried. */
  | 'invalid_grant'
  /**
   * The request never reached the provider's grant logic, or the provider said it failed (429,
   * 5xx, a refused connection): retried with backoff.
   */
  | 'transient'
  /**
   * The provider may have processed the grant, and its answer is lost or unusable (a timeout, a
   * connection cut mid-answer, a 200 that cannot be used). A rotating provider has then revoked
   * the refresh token the request carried, so presenting it again cannot help: never retried.
   */
  | 'unconfirmed'
  /** The answer names another account than the one asked for: refused, nothing stored. */
  | 'account_mismatch'
  /** The provider refused the broker's own client credentials: an operator must fix the config. */
  | 'invalid_client';

/** A provider call failed. Holds the provider's `error` code but never its raw body. */
export class ProviderError extends Error {
  override readonly name = 'ProviderError';
  readonly code = 'provider_error';
  constructor(
    readonly kind: ProviderFailureKind,
    message: string,
    readonly details: {
      readonly status?: number;
      readonly providerError?: string;
      readonly retryAfterSeconds?: number;
      /** `account_mismatch`: the account the answer named, when it is a well-formed account id. */
      readonly answeredAccount?: string;
    } = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * A 200 from the token endpoint whose access-token part cannot be used. When it still carries a
 * usable new refresh token, the provider has rotated: that token is kept in a private field (never
 * enumerable, so no logger or serializer sees it) for the refresh protocol to store.
 */
export class UnusableTokenAnswerError extends ProviderError {
  readonly #refreshToken: string | undefined;
  constructor(message: string, status: number, refreshToken: string | undefined) {
    super('unconfirmed', message, { status });
    this.#refreshToken = refreshToken;
  }

  /** The new refresh token the unusable answer carried, if any. */
  salvagedRefreshToken(): string | undefined {
    return this.#refreshToken;
  }
}

/** The tokens of a finished exchange could not be stored, even after retries; the code is spent. */
export class AuthorizationNotStoredError extends Error {
  override readonly name = 'AuthorizationNotStoredError';
  readonly code = 'authorization_not_stored';
  /** Safe for the log: names the account, never a token. */
  readonly operatorMessage: string;
  constructor(key: { provider: string; account: string }, attempts: number, options: { cause: unknown }) {
    super('the tokens of a finished code exchange could not be stored', options);
    this.operatorMessage = `${key.provider}/${key.account}: the provider issued tokens but ${attempts} writes failed; the retailer must connect again`;
  }
}

/** A conditional write lost a race (lease taken, version moved on); the caller re-reads. */
export class ConcurrentUpdateError extends Error {
  override readonly name = 'ConcurrentUpdateError';
  readonly code = 'concurrent_update';
}
