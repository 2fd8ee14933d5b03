/**
 * Token-endpoint faults of the OAuth simulators: their shape, the check of a fault given in code
 * or as JSON to the control endpoint, the FIFO queue they wait in, and how a faulty answer looks.
 */
import { type OutgoingHttpHeaders, type ServerResponse, STATUS_CODES } from 'node:http';
import { isRecord, NO_STORE, nonNegativeInteger, send, sendJson } from './http';
import { DOMAIN_PREFIX_PATTERN } from './random';

/** The grant a fault is limited to. */
export type FaultGrant = 'authorization_code' | 'refresh_token';

/** Options every fault takes. */
export interface FaultOptions {
  /** How many token-endpoint calls the fault affects, default 1. */
  times?: number;
  /** Only calls with this grant_type; invalid_grant and omit_refresh_token default to refresh_token. */
  grant?: FaultGrant;
}

/** A misbehaviour of the token endpoints (exchange and refresh), consumed in FIFO order. */
export type Fault =
  /**
   * An error status. `retryAfter`: the header as given; `retryAfterDateIn`: an HTTP date that many
   * seconds after the answer (as Lightspeed sends it), so a slow client still sees the whole wait.
   */
  | (FaultOptions & { kind: 'status'; status: number; retryAfter?: string; retryAfterDateIn?: number })
  | (FaultOptions & { kind: 'hang'; ms: number; afterProcessing?: boolean })
  /** A 200 cut off mid-object; `afterProcessing`: the grant took effect first (tokens rotated). */
  | (FaultOptions & { kind: 'malformed'; afterProcessing?: boolean })
  | (FaultOptions & { kind: 'invalid_grant' })
  | (FaultOptions & { kind: 'omit_refresh_token' })
  /** The grant takes effect, then the 200 carries the new refresh token beside an unusable access part. */
  | (FaultOptions & { kind: 'unusable'; variant: UnusableVariant })
  /**
   * The grant takes effect, but the answer names another store (X-Series `domain_prefix`, Square
   * `merchant_id`); where the answer names none, the tokens act for that store instead, which the
   * verify call shows. `domainPrefix` for X-Series, `account` for any profile.
   */
  | (FaultOptions & { kind: 'foreign_account'; domainPrefix: string; account?: undefined })
  | (FaultOptions & { kind: 'foreign_account'; account: string; domainPrefix?: undefined });

/** An account id of any profile: shop names, merchant ids, digits. */
const ACCOUNT_PATTERN = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,62})$/;

/** How an `unusable` fault spoils the access-token part of a good answer. */
export const UNUSABLE_VARIANTS = [
  'mac',
  'no_access_token',
  'expires_in_1e13',
  'expires_in_1e308',
  'control_characters',
  'crlf',
] as const;
export type UnusableVariant = (typeof UNUSABLE_VARIANTS)[number];

/** A good token answer with its access-token part spoilt as `variant` says. */
export function spoil(body: Record<string, unknown>, variant: UnusableVariant): Record<string, unknown> {
  const token = String(body.access_token);
  switch (variant) {
    case 'mac':
      return { ...body, token_type: 'mac', mac_key: 'adijq39jdlaska9asud', mac_algorithm: 'hmac-sha-256' };
    case 'no_access_token': {
      const { access_token: _, ...rest } = body;
      return rest;
    }
    case 'expires_in_1e13':
      return withExpiry(body, 1e13);
    case 'expires_in_1e308':
      return withExpiry(body, 1e308);
    case 'control_characters':
      return { ...body, access_token: `${token.slice(0, 8)}\u0001${token.slice(8)}` };
    case 'crlf':
      return { ...body, access_token: `${token}\r\nX-Injected: 1` };
  }
}

/** An absurd lifetime in whichever field the profile's answer states it. */
function withExpiry(body: Record<string, unknown>, seconds: number): Record<string, unknown> {
  // Square states an ISO 8601 instant, Clover epoch seconds, the others `expires_in`.
  if ('expires_at' in body) {
    return {
      ...body,
      expires_at: seconds > 1e15 ? `+${'9'.repeat(20)}-01-01T00:00:00Z` : '+275760-09-13T00:00:00Z',
    };
  }
  if ('access_token_expiration' in body) return { ...body, access_token_expiration: seconds };
  return { ...body, expires_in: seconds };
}

/** Checks a fault from code or from the control endpoint's JSON body; throws a TypeError/RangeError naming the problem. */
export function parseFault(value: unknown): Fault {
  if (!isRecord(value)) throw new TypeError('a fault must be a JSON object');
  const options: FaultOptions = {};
  if (value.times !== undefined) {
    options.times = nonNegativeInteger(value.times, 'times');
    if (options.times < 1) throw new RangeError('times must be at least 1');
  }
  if (value.grant !== undefined) {
    if (value.grant !== 'authorization_code' && value.grant !== 'refresh_token') {
      throw new RangeError('grant must be authorization_code or refresh_token');
    }
    options.grant = value.grant;
  }
  switch (value.kind) {
    case 'status': {
      const status = value.status;
      if (typeof status !== 'number' || !Number.isInteger(status) || status < 400 || status > 599) {
        throw new RangeError('status must be an HTTP error status (400-599)');
      }
      if (value.retryAfter !== undefined && typeof value.retryAfter !== 'string') {
        throw new TypeError('retryAfter must be a string (HTTP date or seconds)');
      }
      const fault: Fault = { ...options, kind: 'status', status };
      if (value.retryAfter !== undefined) fault.retryAfter = value.retryAfter;
      if (value.retryAfterDateIn !== undefined) {
        fault.retryAfterDateIn = nonNegativeInteger(value.retryAfterDateIn, 'retryAfterDateIn');
      }
      return fault;
    }
    case 'hang': {
      const ms = nonNegativeInteger(value.ms, 'ms');
      return { ...options, kind: 'hang', ms, afterProcessing: afterProcessingOption(value) };
    }
    case 'malformed':
      return { ...options, kind: 'malformed', afterProcessing: afterProcessingOption(value) };
    case 'unusable': {
      const variant = UNUSABLE_VARIANTS.find((known) => known === value.variant);
      if (variant === undefined)
        throw new RangeError(`variant must be one of ${UNUSABLE_VARIANTS.join(', ')}`);
      return { ...options, kind: 'unusable', variant };
    }
    case 'invalid_grant':
    case 'omit_refresh_token':
      return { ...options, kind: value.kind };
    case 'foreign_account':
      if (value.account !== undefined && value.domainPrefix === undefined) {
        if (typeof value.account !== 'string' || !ACCOUNT_PATTERN.test(value.account)) {
          throw new RangeError('account must be 1-63 letters, digits, dots, hyphens or underscores');
        }
        return { ...options, kind: 'foreign_account', account: value.account };
      }
      if (typeof value.domainPrefix !== 'string' || !DOMAIN_PREFIX_PATTERN.test(value.domainPrefix)) {
        throw new RangeError('domainPrefix must be a DNS label');
      }
      return { ...options, kind: 'foreign_account', domainPrefix: value.domainPrefix };
    default:
      throw new RangeError(
        'kind must be status, hang, malformed, unusable, invalid_grant, omit_refresh_token or foreign_account',
      );
  }
}

function afterProcessingOption(value: Record<string, unknown>): boolean {
  if (value.afterProcessing !== undefined && typeof value.afterProcessing !== 'boolean') {
    throw new TypeError('afterProcessing must be a boolean');
  }
  return value.afterProcessing === true;
}

function faultApplies(fault: Fault, grant: string | undefined): boolean {
  const implied =
    fault.kind === 'invalid_grant' || fault.kind === 'omit_refresh_token' ? 'refresh_token' : undefined;
  const only = fault.grant ?? implied;
  return only === undefined || only === grant;
}

/** Faults waiting for token-endpoint calls, each for its `times` calls, first in first out. */
export class FaultQueue {
  private queued: { fault: Fault; remaining: number }[] = [];

  get length(): number {
    return this.queued.length;
  }

  /** Queues a fault; throws on a malformed one. */
  push(fault: Fault): void {
    const checked = parseFault(fault);
    this.queued.push({ fault: checked, remaining: checked.times ?? 1 });
  }

  clear(): void {
    this.queued = [];
  }

  /** The first fault that applies to a call with this grant, counting the call against it. */
  take(grant: string | undefined): Fault | undefined {
    const index = this.queued.findIndex((queued) => faultApplies(queued.fault, grant));
    const queued = this.queued[index];
    if (queued === undefined) return undefined;
    queued.remaining -= 1;
    if (queued.remaining <= 0) this.queued.splice(index, 1);
    return queued.fault;
  }
}

/** A 200 cut off mid-object, as a proxy dropping the connection would leave it. */
export function sendTruncated(res: ServerResponse): void {
  send(res, 200, 'application/json; charset=utf-8', '{"access_token":"', NO_STORE);
}

/** An error status as the service or a gateway in front of it would answer it; `errorBody`: the provider's 4xx shape. */
export function sendStatusFault(
  res: ServerResponse,
  status: number,
  given: string | undefined,
  now: number,
  dateIn?: number,
  errorBody?: (status: number, error: 'invalid_client' | 'invalid_request', description: string) => unknown,
): void {
  const retryAfter = dateIn === undefined ? given : new Date(now + dateIn * 1000).toUTCString();
  const headers: OutgoingHttpHeaders = { ...NO_STORE };
  if (retryAfter !== undefined) headers['retry-after'] = retryAfter;
  if (status === 429) {
    headers['retry-after'] = retryAfter ?? new Date(now + 60_000).toUTCString();
    headers['x-ratelimit-limit'] = '60';
    headers['x-ratelimit-remaining'] = '0';
    sendJson(res, 429, { error: 'Too Many Requests', message: 'Rate limiting enforced' }, headers);
    return;
  }
  const reason = STATUS_CODES[status] ?? 'Error';
  if (status === 502 || status === 503 || status === 504) {
    // Gateways answer with their own HTML page, not the API's JSON.
    const html = `<html><head><title>${status} ${reason}</title></head><body><h1>${status} ${reason}</h1></body></html>`;
    send(res, status, 'text/html; charset=utf-8', html, headers);
    return;
  }
  if (status < 500 && errorBody !== undefined) {
    sendJson(
      res,
      status,
      errorBody(status, status === 401 ? 'invalid_client' : 'invalid_request', reason),
      headers,
    );
    return;
  }
  const error = status === 401 ? 'invalid_client' : status >= 500 ? 'server_error' : 'invalid_request';
  sendJson(res, status, { error, error_description: reason }, headers);
}
