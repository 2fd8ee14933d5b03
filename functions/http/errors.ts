/**
 * The one table from domain error codes to HTTP: status, the public `error` code and headers. Domain
 * errors carry no transport detail; a code missing here is not exposed (a bare 500).
 */
import {
  BrokerError,
  brokerError,
  type DomainInput,
  InvalidInputError,
  ProviderUnavailableError,
} from '../../shared/domain/errors';

/** A path, query or body field of the request is malformed; `field` names it as the caller wrote it. */
export class InvalidRequestError extends brokerError('InvalidRequestError', 'invalid_request') {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

/** The caller of a backend route did not authenticate. */
export class UnauthorizedError extends brokerError('UnauthorizedError', 'unauthorized') {
  constructor(message = 'missing or invalid credentials') {
    super(message);
  }
}

/** The request field each domain input comes from, named in the caller's message. */
const WIRE_FIELDS: Readonly<Record<DomainInput, string>> = {
  provider: 'body.provider',
  account: 'path.account',
  sessionAccount: 'body.account',
  returnTo: 'body.return_to',
  token: 'body.token',
  expiresAt: 'body.expires_at',
  cursor: 'query.next_token',
};

interface HttpError {
  readonly status: number;
  /** The contract's `error` code when it differs from the domain's. */
  readonly code?: string;
  /** The request field the message is about, when the domain cannot know its name. */
  readonly field?: (error: BrokerError) => string | undefined;
  readonly headers?: (error: BrokerError) => Record<string, string>;
}

/** Domain error code → its HTTP answer. */
export const HTTP_ERRORS: Readonly<Record<string, HttpError>> = {
  invalid_request: { status: 400 },
  invalid_input: {
    status: 400,
    code: 'invalid_request',
    field: (error) => (error instanceof InvalidInputError ? WIRE_FIELDS[error.input] : undefined),
  },
  unauthorized: { status: 401 },
  not_found: { status: 404 },
  reauthorization_required: { status: 409 },
  token_expired: { status: 409 },
  provider_unavailable: {
    status: 503,
    headers: (error): Record<string, string> =>
      error instanceof ProviderUnavailableError ? { 'retry-after': String(error.retryAfterSeconds) } : {},
  },
};

/** The contract's `error` codes, in the table's order, then the bare 500's. */
export const PUBLIC_ERROR_CODES = [
  ...new Set(Object.entries(HTTP_ERRORS).map(([code, mapping]) => mapping.code ?? code)),
  'internal_error',
] as const;

/** What a caller sees of an error: its status, body and headers; undefined when it must stay hidden. */
export function httpErrorOf(
  error: unknown,
): { status: number; body: { error: string; message: string }; headers: Record<string, string> } | undefined {
  if (!(error instanceof BrokerError) || !error.expose) return undefined;
  const mapping = HTTP_ERRORS[error.code];
  if (mapping === undefined) return undefined;
  const field = mapping.field?.(error);
  const message = field === undefined ? error.message : `${field}: ${error.message}`;
  return {
    status: mapping.status,
    body: { error: mapping.code ?? error.code, message },
    headers: mapping.headers?.(error) ?? {},
  };
}
