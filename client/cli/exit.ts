/** Exit codes, and how a failure is told on stderr (the contract's code and message, a hint). */
import { ProviderUnavailableError, TokenBrokerError } from '../errors';
import { duration } from '../format';
import { PromptCancelledError } from '../secret-input';
import { isLoopback, type Target, UsageError } from '../target';

/** Exit codes, one per class of failure, so scripts can tell them apart. */
export const EXIT = {
  ok: 0,
  /** An unexpected failure, or a broker error without a class of its own (e.g. 500). */
  error: 1,
  /** Bad arguments or flags, or the broker's 400 invalid_request. */
  usage: 2,
  /** 401/403: missing or wrong API key or AWS credentials. */
  unauthorized: 3,
  notFound: 4,
  reauthorizationRequired: 5,
  tokenExpired: 6,
  providerUnavailable: 7,
  /** No answer from the broker (connection refused, DNS, timeout). */
  unreachable: 8,
  /** Ctrl-C at the token prompt. */
  cancelled: 130,
} as const;

/** The exit codes as `--help` lists them. */
export const EXIT_CODES_HELP = `Exit codes:
  0 ok  1 other error  2 usage or invalid_request  3 unauthorized  4 not_found
  5 reauthorization_required  6 token_expired  7 provider_unavailable  8 broker unreachable  130 cancelled`;

/** The exit code of each broker error code; any other code exits with EXIT.error. */
const EXIT_BY_CODE: Readonly<Record<string, number>> = {
  invalid_request: EXIT.usage,
  unauthorized: EXIT.unauthorized,
  forbidden: EXIT.unauthorized,
  credentials_unavailable: EXIT.unauthorized,
  not_found: EXIT.notFound,
  reauthorization_required: EXIT.reauthorizationRequired,
  token_expired: EXIT.tokenExpired,
  provider_unavailable: EXIT.providerUnavailable,
  network_error: EXIT.unreachable,
};

/** The exit code for a broker error. */
export function exitCodeFor(error: TokenBrokerError): number {
  return Object.hasOwn(EXIT_BY_CODE, error.code) ? (EXIT_BY_CODE[error.code] ?? EXIT.error) : EXIT.error;
}

/** Prints an error to stderr (the contract's code and message) and picks the exit code. */
export function reportFailure(
  error: unknown,
  json: boolean,
  stderr: { write(text: string): unknown },
  target: Target | undefined,
): number {
  const write = (code: string, message: string, extra: Record<string, unknown> = {}, hint?: string) => {
    if (json) stderr.write(`${JSON.stringify({ error: code, message, ...extra })}\n`);
    else stderr.write(`token-broker: ${code}: ${message}${hint === undefined ? '' : `\n${hint}`}\n`);
  };
  if (error instanceof UsageError) {
    write('usage', error.message);
    return EXIT.usage;
  }
  if (error instanceof PromptCancelledError) {
    write('cancelled', 'nothing was stored');
    return EXIT.cancelled;
  }
  if (error instanceof TokenBrokerError) {
    const retryAfter = error instanceof ProviderUnavailableError ? error.retryAfterSeconds : undefined;
    const extra = {
      status: error.status,
      ...(retryAfter === undefined ? {} : { retry_after_seconds: retryAfter }),
    };
    write(error.code, error.message, extra, hintFor(error, target, retryAfter));
    return exitCodeFor(error);
  }
  write('internal_error', error instanceof Error ? error.message : String(error));
  return EXIT.error;
}

function hintFor(error: TokenBrokerError, target: Target | undefined, retryAfter: number | undefined) {
  switch (error.code) {
    case 'unauthorized':
    case 'forbidden':
    case 'credentials_unavailable':
      return target === undefined
        ? undefined
        : `(credentials from ${target.authSource}, broker ${target.url})`;
    case 'network_error':
      return target !== undefined && isLoopback(new URL(target.url).hostname)
        ? '(is the local broker running? npm start)'
        : undefined;
    case 'provider_unavailable':
      return retryAfter === undefined ? undefined : `(retry after ${duration(retryAfter * 1000)})`;
    case 'reauthorization_required':
      return '(the retailer must connect again: token-broker connect-link <provider>)';
    default:
      return undefined;
  }
}
