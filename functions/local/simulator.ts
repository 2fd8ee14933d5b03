/**
 * Built-in provider simulators for Lightspeed Retail X-Series (OAuth, provider id `lightspeed-x`) and
 * Xentral (personal access tokens). They reproduce the documented behaviour in
 * ../../../shared/docs/providers.md closely enough that the broker can be exercised without the real
 * services: in demo mode (mounted on the local runtime's own server) and in integration tests
 * (standalone, with fault injection and statistics).
 *
 * Nothing here logs: requests carry client secrets, codes and tokens.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import {
  createServer,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type Server,
  type ServerResponse,
  STATUS_CODES,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';

/** Options of the Lightspeed simulator. */
export interface SimulatorOptions {
  clientId: string;
  clientSecret: string;
  /** Registered redirect URIs; authorize requests must match one exactly (no extra params). */
  redirectUris: string[];
  /** Path prefix the simulator answers under, default '/_sim'. */
  basePath?: string;
  /** Lifetime of issued access tokens, default 86400. */
  accessTokenTtlSeconds?: number;
  /** Added latency on every token-endpoint call, default 0. */
  tokenLatencyMs?: number;
  /** Whether refresh responses rotate (new refresh_token, old one revoked). Default true. */
  rotateRefreshTokens?: boolean;
  /** Clock for tests, default Date.now. */
  now?: () => number;
  /** Put `state` on the access_denied redirect after a Deny; the real docs show none. Default false. */
  includeStateOnDenial?: boolean;
  /** Registers of every simulated retailer; the API allows 300 × registers + 50 calls per 5 minutes. Default 1. */
  registers?: number;
  /**
   * Token-endpoint calls allowed per retailer (and app) in each 5-minute window; beyond it, 429 with
   * an HTTP-date Retry-After. providers.md says only that the token endpoint has "its own, smaller
   * limit" than the API's: the number is an assumption, so the default is no limit.
   */
  tokenRateLimit?: number;
  /** Tokens issued before (a demo restart), from `snapshot()`: they keep working. */
  restore?: LightspeedSimulatorState;
  /** Called after every change of the issued tokens (the demo persists `snapshot()` then). */
  onTokensChanged?: () => void;
  /**
   * The bearer key the control endpoints (`_control/…`) require, from loopback peers only; without
   * one they do not exist. The demo passes the broker's API key: a cross-site form cannot send it.
   */
  controlKey?: string;
}

/**
 * What the simulator must keep across a restart so that connections made before it still work, as
 * they would against the real service: the live access tokens and the active refresh tokens
 * (rotated and revoked ones only ever answer `invalid_grant`, which an unknown token does too).
 */
export interface LightspeedSimulatorState {
  accessTokens: [token: string, record: { domainPrefix: string; expiresAt: number; revoked: boolean }][];
  refreshTokens: [token: string, record: { domainPrefix: string; scope: string }][];
}

/** The grant a fault is limited to. */
export type FaultGrant = 'authorization_code' | 'refresh_token';

/** Options every fault takes. */
export interface FaultOptions {
  /** How many token-endpoint calls the fault affects, default 1. */
  times?: number;
  /** Only calls with this grant_type; invalid_grant and omit_refresh_token default to refresh_token. */
  grant?: FaultGrant;
}

/** A misbehaviour of the token endpoint (POST .../api/1.0/token), consumed in FIFO order. */
export type Fault =
  | (FaultOptions & { kind: 'status'; status: number; retryAfter?: string })
  | (FaultOptions & { kind: 'hang'; ms: number; afterProcessing?: boolean })
  /** A 200 cut off mid-object; `afterProcessing`: the grant took effect first (tokens rotated). */
  | (FaultOptions & { kind: 'malformed'; afterProcessing?: boolean })
  | (FaultOptions & { kind: 'invalid_grant' })
  | (FaultOptions & { kind: 'omit_refresh_token' })
  /** The grant takes effect, then the 200 carries the new refresh token beside an unusable access part. */
  | (FaultOptions & { kind: 'unusable'; variant: UnusableVariant })
  /** The grant takes effect, but the answer names another store in `domain_prefix`. */
  | (FaultOptions & { kind: 'foreign_account'; domainPrefix: string });

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

function spoil(body: Record<string, unknown>, variant: UnusableVariant): Record<string, unknown> {
  const token = String(body.access_token);
  switch (variant) {
    case 'mac':
      return { ...body, token_type: 'mac', mac_key: 'adijq39jdlaska9asud', mac_algorithm: 'hmac-sha-256' };
    case 'no_access_token': {
      const { access_token: _, ...rest } = body;
      return rest;
    }
    case 'expires_in_1e13':
      return { ...body, expires_in: 1e13 };
    case 'expires_in_1e308':
      return { ...body, expires_in: 1e308 };
    case 'control_characters':
      return { ...body, access_token: `${token.slice(0, 8)}\u0001${token.slice(8)}` };
    case 'crlf':
      return { ...body, access_token: `${token}\r\nX-Injected: 1` };
  }
}

/** Per-account counters of the Lightspeed simulator. */
export interface AccountStats {
  refreshes: number;
  refreshAttempts: number;
  maxConcurrentRefreshes: number;
}

/** Counters of the Lightspeed simulator since construction or the last resetStats(). */
export interface SimulatorStats {
  tokenCalls: number;
  exchanges: number;
  refreshes: number;
  refreshAttempts: number;
  invalidGrants: number;
  revokedRefreshTokenUses: number;
  maxConcurrentRefreshesPerAccount: number;
  byAccount: Record<string, AccountStats>;
  apiCalls: number;
}

/** The documented rule for a domain prefix: it becomes a host name label. */
export const DOMAIN_PREFIX_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

const MAX_BODY_BYTES = 64 * 1024;
const CODE_TTL_MS = 10 * 60 * 1000;
const API_WINDOW_MS = 5 * 60 * 1000;
const XENTRAL_WINDOW_MS = 60 * 1000;
// The documented examples' `expires` and `expires_in` disagree; ours point past the real expiry so a
// client that trusts `expires` uses a dead token and its tests notice.
const EXPIRES_SKEW_SECONDS = 90;
const FORM_TYPE = 'application/x-www-form-urlencoded';
const NO_STORE: OutgoingHttpHeaders = { 'cache-control': 'no-store', pragma: 'no-cache' };
const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A random string of [A-Za-z0-9], as the real tokens look. */
function randomToken(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length)) {
      // 248 = 4 × 62: dropping the remaining byte values keeps every character equally likely.
      if (byte < 248 && out.length < length) out += ALPHANUMERIC.charAt(byte % 62);
    }
  }
  return out;
}

/** Compares secrets without leaking their length or content through timing. */
function safeEqual(a: string, b: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(a), digest(b));
}

/** A UUID-shaped id derived from its parts, so payloads are stable across calls and runs. */
function stableId(...parts: string[]): string {
  const hex = createHash('sha256').update(parts.join('\u0000')).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

function normalizeBasePath(path: string): string {
  const withSlash = path.startsWith('/') ? path : `/${path}`;
  return withSlash.replace(/\/+$/, '');
}

function isUnder(pathname: string, root: string): boolean {
  return pathname === root || pathname.startsWith(`${root}/`);
}

function requestUrl(req: IncomingMessage): URL | undefined {
  try {
    return new URL(req.url ?? '/', 'http://simulator.invalid');
  } catch {
    return undefined;
  }
}

function contentTypeIs(req: IncomingMessage, type: string): boolean {
  return (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() === type;
}

function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  return address === '::1' || /^(?:::ffff:)?127\./.test(address);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Resolves the body, or undefined when it exceeds 64 KiB (the rest is drained, not buffered). */
function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > MAX_BODY_BYTES) {
      req.resume();
      resolve(undefined);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    req.on('data', (chunk: Buffer) => {
      if (settled) return;
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        settled = true;
        chunks.length = 0;
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (settled) return;
      settled = true;
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', (error) => {
      if (settled) return;
      settled = true;
      reject(error);
    });
    req.on('close', () => {
      if (settled) return;
      settled = true;
      reject(new Error('request closed before its body was read'));
    });
  });
}

function send(
  res: ServerResponse,
  status: number,
  contentType: string,
  body: string,
  headers: OutgoingHttpHeaders = {},
): void {
  // A client that gave up (hang fault, abort) leaves nothing to write to.
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, {
    'content-type': contentType,
    'content-length': Buffer.byteLength(body),
    'x-content-type-options': 'nosniff',
    ...headers,
  });
  res.end(body);
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: OutgoingHttpHeaders = {},
): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(body), headers);
}

function sendTooLarge(res: ServerResponse): void {
  sendJson(
    res,
    413,
    { error: 'payload_too_large', message: `request bodies are limited to ${MAX_BODY_BYTES} bytes` },
    { connection: 'close' },
  );
}

function sendNotFound(res: ServerResponse): void {
  sendJson(res, 404, { error: 'not_found', message: 'no such simulator endpoint' });
}

function sendMethodNotAllowed(res: ServerResponse, allow: string): void {
  sendJson(res, 405, { error: 'method_not_allowed', message: `use ${allow}` }, { allow });
}

function redirect(res: ServerResponse, location: string): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(302, { location, 'content-length': 0, ...NO_STORE });
  res.end();
}

/** Aborts when the client goes away before the response has been written. */
function abortOnClose(res: ServerResponse): AbortSignal {
  const controller = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) controller.abort();
  });
  return controller.signal;
}

/** Waits `ms`; resolves false if the client went away meanwhile. */
async function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return false;
  if (ms <= 0) return true;
  try {
    await delay(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}

const PAGE_STYLE = `
  *{box-sizing:border-box}
  body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f3f4f6;color:#111827}
  main{max-width:32rem;margin:2rem auto;padding:1.5rem;background:#fff;border-radius:.75rem;box-shadow:0 1px 3px #0002}
  h1{font-size:1.4rem;margin:0 0 1rem}
  code{background:#f3f4f6;padding:.1rem .3rem;border-radius:.25rem;word-break:break-all}
  label{display:block;font-weight:600;margin:1rem 0 .25rem}
  input[type=text]{width:100%;padding:.6rem;font:inherit;border:1px solid #9ca3af;border-radius:.4rem}
  .actions{display:flex;gap:.75rem;margin-top:1.25rem;flex-wrap:wrap}
  button{flex:1 1 8rem;padding:.7rem 1rem;font:inherit;font-weight:600;border-radius:.4rem;border:1px solid #1f2937;cursor:pointer}
  button[value=allow]{background:#1f2937;color:#fff}
  button[value=deny]{background:#fff;color:#1f2937}
  .error{color:#991b1b;background:#fee2e2;padding:.5rem .75rem;border-radius:.4rem}
  .note{color:#4b5563;font-size:.875rem}
  @media (max-width:30rem){main{margin:0;border-radius:0;min-height:100vh}}
`;

const PAGE_HEADERS: OutgoingHttpHeaders = {
  ...NO_STORE,
  // The page has no scripts or external assets; inline CSS is the only thing it needs.
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
  'referrer-policy': 'no-referrer',
};

/** `title` and `bodyHtml` are trusted markup; callers escape what they interpolate. */
function page(title: string, bodyHtml: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<style>${PAGE_STYLE}</style>
</head>
<body>
<main>
${bodyHtml}
</main>
</body>
</html>
`;
}

function sendPage(res: ServerResponse, status: number, html: string): void {
  send(res, status, 'text/html; charset=utf-8', html, PAGE_HEADERS);
}

function sendErrorPage(res: ServerResponse, message: string): void {
  sendPage(
    res,
    400,
    page(
      'Authorization error',
      `<h1>Authorization error</h1>\n<p class="error" role="alert">${escapeHtml(message)}</p>\n` +
        '<p class="note">Simulated Lightspeed Retail X-Series. The request was not redirected.</p>',
    ),
  );
}

interface AuthorizeRequest {
  clientId: string;
  redirectUri: string;
  state: string;
  scope: string;
  /** PKCE S256 challenge, when the client sent one (Lightspeed does not support PKCE; tests do). */
  codeChallenge?: string;
}

type AuthorizeCheck =
  | { kind: 'error'; message: string }
  | { kind: 'denied'; location: string }
  | { kind: 'ok'; request: AuthorizeRequest };

interface AuthorizationCode {
  clientId: string;
  redirectUri: string;
  domainPrefix: string;
  scope: string;
  codeChallenge?: string;
  expiresAt: number;
  used: boolean;
}

interface AccessTokenRecord {
  domainPrefix: string;
  expiresAt: number;
  revoked: boolean;
}

interface RefreshTokenRecord {
  domainPrefix: string;
  scope: string;
  state: 'active' | 'rotated' | 'revoked';
}

interface QueuedFault {
  fault: Fault;
  remaining: number;
}

interface RateWindow {
  start: number;
  count: number;
}

interface GrantResult {
  status: number;
  body: Record<string, unknown>;
}

const AUTHORIZE_PARAMS = [
  'response_type',
  'client_id',
  'redirect_uri',
  'state',
  'scope',
  'code_challenge',
  'code_challenge_method',
] as const;

function nonNegativeInteger(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${name} must be a non-negative integer`);
  }
  return value;
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
      return value.retryAfter === undefined
        ? { ...options, kind: 'status', status }
        : { ...options, kind: 'status', status, retryAfter: value.retryAfter };
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

function oauthError(status: number, error: string, description: string): GrantResult {
  return { status, body: { error, error_description: description } };
}

/**
 * What both simulators share: answering only under their root path, never leaking details of a
 * failure (a request may hold secrets), and an optional standalone server on 127.0.0.1.
 */
abstract class SimulatorServer {
  private server: Server | undefined;

  protected constructor(protected readonly root: string) {}

  /** Serves one request under `root`. */
  protected abstract route(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> | void;

  /** Handles a request if its path is under the simulator's root; resolves false (and writes nothing) otherwise. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const url = requestUrl(req);
    if (url === undefined || !isUnder(url.pathname, this.root)) return false;
    try {
      await this.route(req, res, url);
    } catch {
      // Deliberately no details: the request may hold secrets.
      if (!res.headersSent) sendJson(res, 500, { error: 'server_error', message: 'simulator failure' });
      else res.destroy();
    }
    return true;
  }

  /** Starts a standalone server on 127.0.0.1 (port 0 = any); resolves its origin, e.g. http://127.0.0.1:53211 */
  async listen(port = 0): Promise<string> {
    if (this.server !== undefined) throw new Error('the simulator is already listening');
    const { server, origin } = await serve((req, res) => this.handle(req, res), port);
    this.server = server;
    return origin;
  }

  /** Stops the standalone server, cutting off requests still in flight (e.g. hang faults). */
  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server !== undefined) await stop(server);
  }
}

/** Lightspeed Retail X-Series simulator (provider id lightspeed-x). */
export class LightspeedSimulator extends SimulatorServer {
  private readonly now: () => number;
  private accessTokenTtlSeconds: number;
  private tokenLatencyMs: number;
  private readonly codes = new Map<string, AuthorizationCode>();
  private readonly accessTokens = new Map<string, AccessTokenRecord>();
  private readonly refreshTokens = new Map<string, RefreshTokenRecord>();
  private readonly rateWindows = new Map<string, RateWindow>();
  private readonly tokenRateWindows = new Map<string, RateWindow>();
  private readonly refreshesInFlight = new Map<string, number>();
  private faults: QueuedFault[] = [];
  private counters = LightspeedSimulator.emptyStats();

  constructor(private readonly options: SimulatorOptions) {
    super(`${normalizeBasePath(options.basePath ?? '/_sim')}/lightspeed-x`);
    this.now = options.now ?? Date.now;
    this.accessTokenTtlSeconds = 86_400;
    this.tokenLatencyMs = 0;
    this.setAccessTokenTtl(options.accessTokenTtlSeconds ?? 86_400);
    this.setTokenLatency(options.tokenLatencyMs ?? 0);
    for (const [token, record] of options.restore?.accessTokens ?? []) this.accessTokens.set(token, record);
    for (const [token, record] of options.restore?.refreshTokens ?? [])
      this.refreshTokens.set(token, { ...record, state: 'active' });
  }

  /** The issued tokens worth keeping across a restart (see LightspeedSimulatorState). */
  snapshot(): LightspeedSimulatorState {
    const now = this.now();
    return {
      accessTokens: [...this.accessTokens].filter(([, record]) => !record.revoked && record.expiresAt > now),
      refreshTokens: [...this.refreshTokens]
        .filter(([, record]) => record.state === 'active')
        .map(([token, { domainPrefix, scope }]) => [token, { domainPrefix, scope }]),
    };
  }

  private static emptyStats(): SimulatorStats {
    return {
      tokenCalls: 0,
      exchanges: 0,
      refreshes: 0,
      refreshAttempts: 0,
      invalidGrants: 0,
      revokedRefreshTokenUses: 0,
      maxConcurrentRefreshesPerAccount: 0,
      byAccount: {},
      apiCalls: 0,
    };
  }

  /** URLs to configure the broker with, for a given origin (http://host:port). Templates keep `{domain_prefix}`. */
  urls(origin: string): { authorizeUrl: string; tokenUrl: string; apiBaseUrl: string } {
    const base = `${origin.replace(/\/+$/, '')}${this.root}`;
    return {
      authorizeUrl: `${base}/connect`,
      tokenUrl: `${base}/{domain_prefix}/api/1.0/token`,
      apiBaseUrl: `${base}/{domain_prefix}/api`,
    };
  }

  /** Queues a token-endpoint fault (FIFO); throws on a malformed fault. */
  injectFault(fault: Fault): void {
    const checked = parseFault(fault);
    this.faults.push({ fault: checked, remaining: checked.times ?? 1 });
  }

  /** Drops every queued fault. */
  clearFaults(): void {
    this.faults = [];
  }

  /** Lifetime of access tokens issued from now on. */
  setAccessTokenTtl(seconds: number): void {
    if (!Number.isSafeInteger(seconds) || seconds < 1)
      throw new RangeError('accessTokenTtlSeconds must be ≥ 1');
    this.accessTokenTtlSeconds = seconds;
  }

  /** Latency added to every token-endpoint call from now on. */
  setTokenLatency(ms: number): void {
    this.tokenLatencyMs = nonNegativeInteger(ms, 'tokenLatencyMs');
  }

  /** A snapshot of the counters. */
  stats(): SimulatorStats {
    const byAccount: Record<string, AccountStats> = {};
    let max = 0;
    for (const [account, stats] of Object.entries(this.counters.byAccount)) {
      byAccount[account] = { ...stats };
      max = Math.max(max, stats.maxConcurrentRefreshes);
    }
    return { ...this.counters, byAccount, maxConcurrentRefreshesPerAccount: max };
  }

  /** Zeroes the counters (refreshes still in flight keep being tracked). */
  resetStats(): void {
    this.counters = LightspeedSimulator.emptyStats();
  }

  /** Test helper: performs the retailer's consent for an authorize URL (as the consent page's Approve/Decline would) and returns the full callback URL the browser would be redirected to. */
  consent(authorizeUrl: string, decision: { domainPrefix: string } | 'deny'): string {
    const check = this.checkAuthorize(new URL(authorizeUrl).searchParams);
    if (check.kind === 'error') throw new Error(`the authorize request is refused: ${check.message}`);
    if (check.kind === 'denied') return check.location;
    if (decision === 'deny') return this.denialLocation(check.request);
    if (!DOMAIN_PREFIX_PATTERN.test(decision.domainPrefix)) {
      throw new RangeError('domainPrefix must be a DNS label (lower-case letters, digits, hyphens)');
    }
    return this.approve(check.request, decision.domainPrefix);
  }

  /** Test helper: revokes every token of an account (like a retailer disconnecting the app). */
  revokeAccount(domainPrefix: string): void {
    for (const record of this.accessTokens.values()) {
      if (record.domainPrefix === domainPrefix) record.revoked = true;
    }
    for (const record of this.refreshTokens.values()) {
      if (record.domainPrefix === domainPrefix && record.state === 'active') record.state = 'revoked';
    }
    for (const [code, record] of this.codes) {
      if (record.domainPrefix === domainPrefix) this.codes.delete(code);
    }
    this.options.onTokensChanged?.();
  }

  protected async route(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const segments = url.pathname.slice(this.root.length).split('/').slice(1);
    const [first, second, third, fourth] = segments;
    if (segments.length === 1 && first === 'connect') {
      if (req.method !== 'GET') return sendMethodNotAllowed(res, 'GET');
      return this.authorizePage(res, url);
    }
    if (segments.length === 1 && first === 'consent') {
      if (req.method !== 'POST') return sendMethodNotAllowed(res, 'POST');
      return this.consentForm(req, res);
    }
    if (segments.length === 2 && first === '_control' && second !== undefined) {
      return this.control(req, res, second);
    }
    if (first === undefined || !DOMAIN_PREFIX_PATTERN.test(first) || second !== 'api')
      return sendNotFound(res);
    if (segments.length === 4 && third === '1.0' && fourth === 'token') {
      if (req.method !== 'POST') return sendMethodNotAllowed(res, 'POST');
      return this.tokenEndpoint(req, res, url, first);
    }
    if (segments.length >= 4 && third === '2.0' && segments.slice(3).every((segment) => segment !== '')) {
      if (req.method !== 'GET') return sendMethodNotAllowed(res, 'GET');
      return this.api(req, res, first, segments.slice(3));
    }
    return sendNotFound(res);
  }

  private checkAuthorize(params: URLSearchParams): AuthorizeCheck {
    for (const name of AUTHORIZE_PARAMS) {
      if (params.getAll(name).length > 1) return { kind: 'error', message: `${name} must be given once` };
    }
    const clientId = params.get('client_id');
    if (clientId === null || clientId !== this.options.clientId) {
      return { kind: 'error', message: 'Unknown client_id: no such application' };
    }
    const redirectUri = params.get('redirect_uri');
    if (redirectUri === null || !this.options.redirectUris.includes(redirectUri)) {
      return {
        kind: 'error',
        message: 'redirect_uri does not match a registered redirect URI of this application',
      };
    }
    if (params.get('response_type') !== 'code') {
      return { kind: 'error', message: 'response_type must be code' };
    }
    const state = params.get('state');
    if (state === null || state.length < 8) {
      return { kind: 'error', message: 'state required: at least 8 characters' };
    }
    const codeChallenge = params.get('code_challenge') ?? undefined;
    if (
      codeChallenge !== undefined &&
      (params.get('code_challenge_method') !== 'S256' || !/^[A-Za-z0-9_-]{43}$/.test(codeChallenge))
    ) {
      return {
        kind: 'error',
        message: 'code_challenge must be an S256 challenge (code_challenge_method=S256)',
      };
    }
    const scope = (params.get('scope') ?? '').split(/\s+/).filter((name) => name !== '');
    if (scope.length === 0) {
      return { kind: 'denied', location: withParams(redirectUri, { error: 'access_denied', state }) };
    }
    const request: AuthorizeRequest = { clientId, redirectUri, state, scope: scope.join(' ') };
    if (codeChallenge !== undefined) request.codeChallenge = codeChallenge;
    return { kind: 'ok', request };
  }

  private authorizePage(res: ServerResponse, url: URL): void {
    const check = this.checkAuthorize(url.searchParams);
    if (check.kind === 'error') {
      sendErrorPage(res, check.message);
      return;
    }
    if (check.kind === 'denied') {
      redirect(res, check.location);
      return;
    }
    sendPage(res, 200, this.consentPage(check.request, 'demo-store'));
  }

  private consentPage(request: AuthorizeRequest, domainPrefix: string, error?: string): string {
    const hidden = (name: string, value: string) =>
      `<input type="hidden" name="${name}" value="${escapeHtml(value)}">`;
    const scopes = request.scope
      .split(' ')
      .map((scope) => `<li><code>${escapeHtml(scope)}</code></li>`)
      .join('');
    const alert =
      error === undefined
        ? ''
        : `<p class="error" id="domain-prefix-error" role="alert">${escapeHtml(error)}</p>`;
    const describedBy =
      error === undefined ? '' : ' aria-describedby="domain-prefix-error" aria-invalid="true"';
    return page(
      'Connect to Lightspeed Retail',
      `<h1>Connect to Lightspeed Retail</h1>
<p>The application <code>${escapeHtml(request.clientId)}</code> asks for access to your store:</p>
<ul>${scopes}</ul>
<form method="post" action="${escapeHtml(`${this.root}/consent`)}">
${hidden('response_type', 'code')}
${hidden('client_id', request.clientId)}
${hidden('redirect_uri', request.redirectUri)}
${hidden('state', request.state)}
${hidden('scope', request.scope)}
${request.codeChallenge === undefined ? '' : `${hidden('code_challenge', request.codeChallenge)}\n${hidden('code_challenge_method', 'S256')}\n`}<label for="domain_prefix">Store domain prefix</label>
<input type="text" id="domain_prefix" name="domain_prefix" value="${escapeHtml(domainPrefix)}" required
 maxlength="63" autocapitalize="none" autocomplete="off" spellcheck="false"${describedBy}>
${alert}
<div class="actions">
<button type="submit" name="decision" value="allow">Allow</button>
<button type="submit" name="decision" value="deny" formnovalidate>Deny</button>
</div>
</form>
<p class="note">Simulated Lightspeed Retail X-Series: no real store is involved.</p>`,
    );
  }

  private async consentForm(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    if (body === undefined) return sendTooLarge(res);
    if (!contentTypeIs(req, FORM_TYPE))
      return sendErrorPage(res, `The consent form must be sent as ${FORM_TYPE}`);
    const form = new URLSearchParams(body);
    // The hidden fields come back from the browser and could have been edited: check them again.
    const check = this.checkAuthorize(form);
    if (check.kind === 'error') return sendErrorPage(res, check.message);
    if (check.kind === 'denied') return redirect(res, check.location);
    const decision = form.get('decision');
    if (decision === 'deny') return redirect(res, this.denialLocation(check.request));
    if (decision !== 'allow') return sendErrorPage(res, 'decision must be allow or deny');
    const typed = form.get('domain_prefix') ?? '';
    const domainPrefix = typed.trim().toLowerCase();
    if (!DOMAIN_PREFIX_PATTERN.test(domainPrefix)) {
      const message =
        'Enter the store domain prefix: lower-case letters, digits and hyphens, starting and ending with a letter or digit.';
      return sendPage(res, 400, this.consentPage(check.request, typed, message));
    }
    redirect(res, this.approve(check.request, domainPrefix));
  }

  private denialLocation(request: AuthorizeRequest): string {
    return withParams(request.redirectUri, {
      error: 'access_denied',
      state: this.options.includeStateOnDenial === true ? request.state : undefined,
    });
  }

  private approve(request: AuthorizeRequest, domainPrefix: string): string {
    const code = randomToken(40);
    this.codes.set(code, {
      clientId: request.clientId,
      redirectUri: request.redirectUri,
      domainPrefix,
      scope: request.scope,
      ...(request.codeChallenge === undefined ? {} : { codeChallenge: request.codeChallenge }),
      expiresAt: this.now() + CODE_TTL_MS,
      used: false,
    });
    return withParams(request.redirectUri, { code, domain_prefix: domainPrefix, state: request.state });
  }

  private account(domainPrefix: string): AccountStats {
    let stats = this.counters.byAccount[domainPrefix];
    if (stats === undefined) {
      stats = { refreshes: 0, refreshAttempts: 0, maxConcurrentRefreshes: 0 };
      this.counters.byAccount[domainPrefix] = stats;
    }
    return stats;
  }

  /** Counts a refresh as in flight from now until its response is finished or abandoned. */
  private trackRefresh(domainPrefix: string, res: ServerResponse): void {
    const inFlight = (this.refreshesInFlight.get(domainPrefix) ?? 0) + 1;
    this.refreshesInFlight.set(domainPrefix, inFlight);
    const stats = this.account(domainPrefix);
    stats.refreshAttempts += 1;
    stats.maxConcurrentRefreshes = Math.max(stats.maxConcurrentRefreshes, inFlight);
    this.counters.refreshAttempts += 1;
    // Over once the answer is handed to the socket ('finish') or the client is gone ('close'):
    // 'close' alone can come after the client already sent its next request, counting an overlap
    // that never happened.
    let over = false;
    const end = () => {
      if (over) return;
      over = true;
      const left = (this.refreshesInFlight.get(domainPrefix) ?? 1) - 1;
      if (left > 0) this.refreshesInFlight.set(domainPrefix, left);
      else this.refreshesInFlight.delete(domainPrefix);
    };
    res.once('finish', end);
    res.once('close', end);
  }

  private takeFault(grant: string | undefined): Fault | undefined {
    const index = this.faults.findIndex((queued) => faultApplies(queued.fault, grant));
    const queued = this.faults[index];
    if (queued === undefined) return undefined;
    queued.remaining -= 1;
    if (queued.remaining <= 0) this.faults.splice(index, 1);
    return queued.fault;
  }

  private async tokenEndpoint(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    domainPrefix: string,
  ): Promise<void> {
    this.counters.tokenCalls += 1;
    const limited = this.overTokenRateLimit(domainPrefix);
    if (limited !== undefined) return this.sendStatusFault(res, 429, limited);
    const signal = abortOnClose(res);
    const body = await readBody(req);
    if (body === undefined) return sendTooLarge(res);
    const isForm = contentTypeIs(req, FORM_TYPE);
    const params = isForm ? new URLSearchParams(body) : new URLSearchParams();
    const grant = params.get('grant_type') ?? undefined;
    if (grant === 'refresh_token') this.trackRefresh(domainPrefix, res);
    if (!(await pause(this.tokenLatencyMs, signal))) return;

    const fault = this.takeFault(grant);
    if (fault?.kind === 'status') return this.sendStatusFault(res, fault.status, fault.retryAfter);
    // Cut off mid-object, as a proxy dropping the connection would leave it.
    const truncated = () => send(res, 200, 'application/json; charset=utf-8', '{"access_token":"', NO_STORE);
    if (fault?.kind === 'malformed' && !fault.afterProcessing) return truncated();
    if (fault?.kind === 'invalid_grant') {
      const refused = this.invalidGrant(
        grant === 'authorization_code'
          ? 'The authorization code is invalid'
          : 'The refresh token is invalid or has been revoked',
      );
      return sendJson(res, refused.status, refused.body, NO_STORE);
    }
    if (fault?.kind === 'hang' && !fault.afterProcessing && !(await pause(fault.ms, signal))) return;

    const result = this.grant(url, isForm, params, domainPrefix, fault?.kind === 'omit_refresh_token');
    if (fault?.kind === 'foreign_account' && result.status === 200)
      result.body.domain_prefix = fault.domainPrefix;
    // The grant has taken effect; a client that gives up now loses the new tokens, as over a real network.
    if (fault?.kind === 'hang' && fault.afterProcessing && !(await pause(fault.ms, signal))) return;
    if (result.status === 200 && fault?.kind === 'malformed') return truncated();
    if (result.status === 200 && fault?.kind === 'unusable') {
      return sendJson(res, 200, spoil(result.body, fault.variant), NO_STORE);
    }
    sendJson(res, result.status, result.body, NO_STORE);
  }

  /** The Retry-After (an HTTP date) when this call is over the retailer's token-endpoint limit. */
  private overTokenRateLimit(domainPrefix: string): string | undefined {
    const limit = this.options.tokenRateLimit;
    if (limit === undefined) return undefined;
    const now = this.now();
    let window = this.tokenRateWindows.get(domainPrefix);
    if (window === undefined || now >= window.start + API_WINDOW_MS) {
      window = { start: now, count: 0 };
      this.tokenRateWindows.set(domainPrefix, window);
    }
    window.count += 1;
    return window.count > limit ? new Date(window.start + API_WINDOW_MS).toUTCString() : undefined;
  }

  private sendStatusFault(res: ServerResponse, status: number, retryAfter: string | undefined): void {
    const headers: OutgoingHttpHeaders = { ...NO_STORE };
    if (retryAfter !== undefined) headers['retry-after'] = retryAfter;
    if (status === 429) {
      headers['retry-after'] = retryAfter ?? new Date(this.now() + 60_000).toUTCString();
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
    const error = status === 401 ? 'invalid_client' : status >= 500 ? 'server_error' : 'invalid_request';
    sendJson(res, status, { error, error_description: reason }, headers);
  }

  private grant(
    url: URL,
    isForm: boolean,
    params: URLSearchParams,
    domainPrefix: string,
    omitRefreshToken: boolean,
  ): GrantResult {
    if (url.search !== '') {
      return oauthError(400, 'invalid_request', 'parameters must be sent in the request body');
    }
    if (!isForm) return oauthError(400, 'invalid_request', `the request body must be ${FORM_TYPE}`);
    for (const name of new Set(params.keys())) {
      if (params.getAll(name).length > 1)
        return oauthError(400, 'invalid_request', `${name} must be given once`);
    }
    const clientId = params.get('client_id');
    const clientSecret = params.get('client_secret');
    if (
      clientId === null ||
      clientSecret === null ||
      clientId !== this.options.clientId ||
      !safeEqual(clientSecret, this.options.clientSecret)
    ) {
      return oauthError(401, 'invalid_client', 'Client authentication failed');
    }
    const grant = params.get('grant_type');
    if (grant === null) return oauthError(400, 'invalid_request', 'grant_type is required');
    if (grant === 'authorization_code') return this.exchange(params, domainPrefix, omitRefreshToken);
    if (grant === 'refresh_token') return this.refresh(params, domainPrefix, omitRefreshToken);
    return oauthError(
      400,
      'unsupported_grant_type',
      'grant_type must be authorization_code or refresh_token',
    );
  }

  private invalidGrant(description: string): GrantResult {
    this.counters.invalidGrants += 1;
    return oauthError(400, 'invalid_grant', description);
  }

  private exchange(params: URLSearchParams, domainPrefix: string, omitRefreshToken: boolean): GrantResult {
    const code = params.get('code');
    const redirectUri = params.get('redirect_uri');
    if (code === null || redirectUri === null) {
      return oauthError(400, 'invalid_request', 'code and redirect_uri are required');
    }
    const record = this.codes.get(code);
    if (record === undefined) return this.invalidGrant('The authorization code is invalid');
    if (record.used) return this.invalidGrant('The authorization code has already been used');
    if (this.now() >= record.expiresAt) return this.invalidGrant('The authorization code has expired');
    if (record.clientId !== params.get('client_id')) {
      return this.invalidGrant('The authorization code was issued to another client');
    }
    if (record.redirectUri !== redirectUri) {
      return this.invalidGrant('redirect_uri does not match the authorization request');
    }
    if (record.domainPrefix !== domainPrefix) {
      return this.invalidGrant('The authorization code belongs to another store');
    }
    record.used = true;
    // RFC 7636 §4.6, checked after the code is spent: a wrong verifier burns the code, as it should.
    if (record.codeChallenge !== undefined) {
      const verifier = params.get('code_verifier');
      if (
        verifier === null ||
        createHash('sha256').update(verifier).digest('base64url') !== record.codeChallenge
      )
        return this.invalidGrant('code_verifier does not match the code_challenge');
    }
    this.counters.exchanges += 1;
    const body = this.issueAccessToken(record.domainPrefix);
    if (!omitRefreshToken) body.refresh_token = this.issueRefreshToken(record.domainPrefix, record.scope);
    this.options.onTokensChanged?.();
    return { status: 200, body };
  }

  private refresh(params: URLSearchParams, domainPrefix: string, omitRefreshToken: boolean): GrantResult {
    const token = params.get('refresh_token');
    if (token === null) return oauthError(400, 'invalid_request', 'refresh_token is required');
    const record = this.refreshTokens.get(token);
    if (record === undefined || record.domainPrefix !== domainPrefix) {
      return this.invalidGrant('The refresh token is invalid');
    }
    if (record.state === 'rotated') {
      this.counters.revokedRefreshTokenUses += 1;
      return this.invalidGrant('The refresh token has been revoked');
    }
    if (record.state === 'revoked') return this.invalidGrant('The refresh token has been revoked');
    this.counters.refreshes += 1;
    this.account(domainPrefix).refreshes += 1;
    const body = this.issueAccessToken(domainPrefix);
    // The legacy behaviour (no refresh_token in the response) never rotated.
    if (this.options.rotateRefreshTokens !== false && !omitRefreshToken) {
      record.state = 'rotated';
      body.refresh_token = this.issueRefreshToken(domainPrefix, record.scope);
    }
    body.domain_prefix = domainPrefix;
    body.scope = record.scope;
    this.options.onTokensChanged?.();
    return { status: 200, body };
  }

  private issueAccessToken(domainPrefix: string): Record<string, unknown> {
    const issuedAt = this.now();
    const ttl = this.accessTokenTtlSeconds;
    const token = randomToken(40);
    this.accessTokens.set(token, { domainPrefix, expiresAt: issuedAt + ttl * 1000, revoked: false });
    return {
      access_token: token,
      token_type: 'Bearer',
      expires: Math.floor(issuedAt / 1000) + ttl + EXPIRES_SKEW_SECONDS,
      expires_in: ttl,
    };
  }

  private issueRefreshToken(domainPrefix: string, scope: string): string {
    const token = randomToken(40);
    this.refreshTokens.set(token, { domainPrefix, scope, state: 'active' });
    return token;
  }

  private api(req: IncomingMessage, res: ServerResponse, domainPrefix: string, resource: string[]): void {
    this.counters.apiCalls += 1;
    const token = bearerToken(req);
    const record = token === undefined ? undefined : this.accessTokens.get(token);
    if (
      record === undefined ||
      record.revoked ||
      record.domainPrefix !== domainPrefix ||
      this.now() >= record.expiresAt
    ) {
      sendJson(
        res,
        401,
        { error: 'Unauthorized', message: 'The access token is missing, invalid or expired' },
        { 'www-authenticate': 'Bearer' },
      );
      return;
    }
    const limit = 300 * (this.options.registers ?? 1) + 50;
    const now = this.now();
    let window = this.rateWindows.get(domainPrefix);
    if (window === undefined || now >= window.start + API_WINDOW_MS) {
      window = { start: now, count: 0 };
      this.rateWindows.set(domainPrefix, window);
    }
    window.count += 1;
    const headers: OutgoingHttpHeaders = {
      'x-ratelimit-limit': String(limit),
      'x-ratelimit-remaining': String(Math.max(0, limit - window.count)),
    };
    if (window.count > limit) {
      headers['retry-after'] = new Date(window.start + API_WINDOW_MS).toUTCString();
      sendJson(res, 429, { error: 'Too Many Requests', message: 'Rate limiting enforced' }, headers);
      return;
    }
    sendJson(res, 200, lightspeedPayload(domainPrefix, resource.join('/')), headers);
  }

  private async control(req: IncomingMessage, res: ServerResponse, action: string): Promise<void> {
    const key = this.options.controlKey;
    if (key === undefined) return sendNotFound(res);
    if (!isLoopback(req.socket.remoteAddress)) {
      return sendJson(res, 403, {
        error: 'forbidden',
        message: 'control endpoints answer loopback peers only',
      });
    }
    const presented = bearerToken(req);
    if (presented === undefined || !safeEqual(presented, key)) {
      return sendJson(
        res,
        401,
        { error: 'unauthorized', message: 'control endpoints need Authorization: Bearer <the API key>' },
        { 'www-authenticate': 'Bearer' },
      );
    }
    const body = await readBody(req);
    if (body === undefined) return sendTooLarge(res);
    const json = (): unknown => (body.trim() === '' ? {} : JSON.parse(body));
    try {
      switch (`${req.method} ${action}`) {
        case 'POST faults':
          this.injectFault(parseFault(json()));
          return sendJson(res, 201, { queued: this.faults.length });
        case 'DELETE faults':
          this.clearFaults();
          return sendJson(res, 200, { queued: 0 });
        case 'GET stats':
          return sendJson(res, 200, this.stats());
        case 'POST reset-stats':
          this.resetStats();
          return sendJson(res, 200, this.stats());
        case 'POST settings': {
          const settings = json();
          if (!isRecord(settings)) throw new TypeError('settings must be a JSON object');
          if (settings.accessTokenTtlSeconds !== undefined) {
            this.setAccessTokenTtl(
              nonNegativeInteger(settings.accessTokenTtlSeconds, 'accessTokenTtlSeconds'),
            );
          }
          if (settings.tokenLatencyMs !== undefined) {
            this.setTokenLatency(nonNegativeInteger(settings.tokenLatencyMs, 'tokenLatencyMs'));
          }
          return sendJson(res, 200, {
            accessTokenTtlSeconds: this.accessTokenTtlSeconds,
            tokenLatencyMs: this.tokenLatencyMs,
          });
        }
        case 'POST revoke-account': {
          const request = json();
          if (!isRecord(request) || typeof request.domainPrefix !== 'string') {
            throw new TypeError('domainPrefix must be a string');
          }
          this.revokeAccount(request.domainPrefix);
          return sendJson(res, 200, { revoked: request.domainPrefix });
        }
        default:
          return sendNotFound(res);
      }
    } catch (error) {
      const message = error instanceof Error ? error.message : 'invalid request';
      return sendJson(res, 400, { error: 'invalid_request', message });
    }
  }
}

function withParams(base: string, params: Record<string, string | undefined>): string {
  const url = new URL(base);
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined) url.searchParams.append(name, value);
  }
  return url.toString();
}

function bearerToken(req: IncomingMessage): string | undefined {
  return /^Bearer +([A-Za-z0-9._~+/=-]+) *$/i.exec(req.headers.authorization ?? '')?.[1];
}

function lightspeedPayload(domainPrefix: string, resource: string): Record<string, unknown> {
  const version = { min: 1, max: 2 };
  if (resource === 'outlets') {
    return {
      data: [
        {
          id: stableId(domainPrefix, 'outlet', '1'),
          name: 'Main Street',
          time_zone: 'Pacific/Auckland',
          currency: 'NZD',
          currency_symbol: '$',
          display_prices: 'inclusive',
          version: 1,
        },
        {
          id: stableId(domainPrefix, 'outlet', '2'),
          name: 'Harbour Kiosk',
          time_zone: 'Pacific/Auckland',
          currency: 'NZD',
          currency_symbol: '$',
          display_prices: 'inclusive',
          version: 2,
        },
      ],
      version,
    };
  }
  if (resource === 'users') {
    return {
      data: [
        {
          id: stableId(domainPrefix, 'user', 'admin'),
          username: 'admin',
          display_name: 'Store Admin',
          email: `admin@${domainPrefix}.example`,
          account_type: 'admin',
          is_primary_user: true,
          version: 1,
        },
        {
          id: stableId(domainPrefix, 'user', 'cashier'),
          username: 'cashier',
          display_name: 'Front Counter',
          email: `cashier@${domainPrefix}.example`,
          account_type: 'cashier',
          is_primary_user: false,
          version: 2,
        },
      ],
      version,
    };
  }
  return { data: [], version: { min: 0, max: 0 } };
}

/** Options of the Xentral simulator. */
export interface XentralSimulatorOptions {
  /** Path prefix the simulator answers under, default '/_sim/xentral'. */
  basePath?: string;
  /** Clock for tests, default Date.now. */
  now?: () => number;
}

/** Xentral simulator: personal access tokens only. */
export class XentralSimulator extends SimulatorServer {
  private readonly now: () => number;
  private readonly tokens = new Map<string, Set<string>>();
  private readonly rateWindows = new Map<string, RateWindow>();
  private counters = { apiCalls: 0, unauthorized: 0 };

  constructor(options: XentralSimulatorOptions = {}) {
    super(normalizeBasePath(options.basePath ?? '/_sim/xentral'));
    this.now = options.now ?? Date.now;
  }

  /** Registers a personal access token for an instance (returns the token, generating one if not given). */
  createToken(instance: string, token: string = randomToken(48)): string {
    if (!DOMAIN_PREFIX_PATTERN.test(instance)) throw new RangeError('instance must be a DNS label');
    if (!/^[A-Za-z0-9._~+/=|-]+$/.test(token)) throw new RangeError('token must be a bearer token string');
    let set = this.tokens.get(instance);
    if (set === undefined) {
      set = new Set();
      this.tokens.set(instance, set);
    }
    set.add(token);
    return token;
  }

  /** Test helper: deletes a personal access token, as an admin would. */
  revokeToken(instance: string, token: string): void {
    this.tokens.get(instance)?.delete(token);
  }

  /** URLs to configure the broker with; the template keeps `{account}`. */
  urls(origin: string): { apiBaseUrl: string } {
    return { apiBaseUrl: `${origin.replace(/\/+$/, '')}${this.root}/{account}/api` };
  }

  /** A snapshot of the counters. */
  stats(): { apiCalls: number; unauthorized: number } {
    return { ...this.counters };
  }

  /** Zeroes the counters. */
  resetStats(): void {
    this.counters = { apiCalls: 0, unauthorized: 0 };
  }

  protected route(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const segments = url.pathname.slice(this.root.length).split('/').slice(1);
    const [instance, api] = segments;
    if (
      instance === undefined ||
      !DOMAIN_PREFIX_PATTERN.test(instance) ||
      api !== 'api' ||
      segments.length < 3 ||
      segments.slice(2).some((segment) => segment === '')
    ) {
      sendNotFound(res);
      return;
    }
    if (req.method !== 'GET') {
      sendMethodNotAllowed(res, 'GET');
      return;
    }
    this.counters.apiCalls += 1;

    // The limit is per instance and client IP and is enforced in front of authentication.
    const limit = 100;
    const now = this.now();
    const key = `${instance}|${req.socket.remoteAddress ?? ''}`;
    let window = this.rateWindows.get(key);
    if (window === undefined || now >= window.start + XENTRAL_WINDOW_MS) {
      window = { start: now, count: 0 };
      this.rateWindows.set(key, window);
    }
    window.count += 1;
    const resetAt = window.start + XENTRAL_WINDOW_MS;
    const headers: OutgoingHttpHeaders = {
      'x-ratelimit-limit': String(limit),
      'x-ratelimit-remaining': String(Math.max(0, limit - window.count)),
    };
    if (window.count > limit) {
      headers['retry-after'] = String(Math.max(1, Math.ceil((resetAt - now) / 1000)));
      headers['x-ratelimit-reset'] = String(Math.ceil(resetAt / 1000));
      sendJson(res, 429, { message: 'Too Many Attempts.' }, headers);
      return;
    }

    const token = bearerToken(req);
    if (token === undefined || this.tokens.get(instance)?.has(token) !== true) {
      this.counters.unauthorized += 1;
      // The real service answers 401 with an HTML body; clients must not parse it as JSON.
      send(res, 401, 'text/html; charset=UTF-8', 'Unauthorized', headers);
      return;
    }
    sendJson(res, 200, xentralPayload(instance, segments.slice(2).join('/')), headers);
  }
}

function xentralPayload(instance: string, resource: string): Record<string, unknown> {
  if (resource === 'v1/users') {
    const data = [
      { id: 1, username: 'admin', email: `admin@${instance}.example`, firstName: 'Ada', lastName: 'Admin' },
      { id: 2, username: 'lager', email: `lager@${instance}.example`, firstName: 'Lars', lastName: 'Lager' },
    ];
    return { data, extra: { totalCount: data.length, page: { number: 1, size: 10 } } };
  }
  return { data: [], extra: { totalCount: 0, page: { number: 1, size: 10 } } };
}

type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;

async function serve(handler: Handler, port: number): Promise<{ server: Server; origin: string }> {
  const server = createServer((req, res) => {
    handler(req, res).then(
      (handled) => {
        if (!handled) sendNotFound(res);
      },
      () => {
        if (!res.headersSent) sendJson(res, 500, { error: 'server_error' });
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  return { server, origin: `http://127.0.0.1:${address.port}` };
}

async function stop(server: Server): Promise<void> {
  const closed = new Promise<void>((resolve, reject) => {
    server.close((error) => (error ? reject(error) : resolve()));
  });
  // Keep-alive sockets and hanging requests would otherwise hold close() open indefinitely.
  server.closeAllConnections();
  await closed;
}
