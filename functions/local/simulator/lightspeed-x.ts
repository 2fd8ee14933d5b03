/**
 * Lightspeed Retail X-Series simulator (provider id `lightspeed-x`): the authorize and consent pages,
 * the token endpoint with its faults and rate limit, the REST API, and the control endpoints. It
 * reproduces docs/providers.md closely enough to exercise the broker without the
 * real service.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { withParams } from '../../http/url';
import { type AuthorizeRequest, checkAuthorize, denialLocation } from './authorize';
import { normalizeBasePath, SimulatorServer } from './base';
import { consentPage, sendErrorPage, sendPage } from './consent-page';
import { type Controllable, control } from './control';
import { type Fault, FaultQueue, sendStatusFault, sendTruncated, spoil } from './faults';
import { type GrantContext, grant, invalidGrant } from './grants';
import {
  abortOnClose,
  bearerToken,
  contentTypeIs,
  FORM_TYPE,
  NO_STORE,
  nonNegativeInteger,
  pause,
  readBody,
  redirect,
  sendJson,
  sendMethodNotAllowed,
  sendNotFound,
  sendTooLarge,
} from './http';
import { lightspeedPayload } from './payloads';
import { DOMAIN_PREFIX_PATTERN } from './random';
import { RateWindows } from './rate-limit';
import { IssuedTokens, type LightspeedSimulatorState } from './state';
import { LightspeedCounters, type SimulatorStats } from './stats';

// The API's and the token endpoint's limits both count per retailer in 5-minute windows.
const RATE_WINDOW_MS = 5 * 60 * 1000;

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

/** Lightspeed Retail X-Series simulator (provider id lightspeed-x). */
export class LightspeedSimulator extends SimulatorServer implements Controllable {
  private readonly now: () => number;
  private accessTokenTtlSeconds: number;
  private tokenLatencyMs: number;
  private readonly issued: IssuedTokens;
  private readonly apiWindows = new RateWindows(RATE_WINDOW_MS);
  private readonly tokenWindows = new RateWindows(RATE_WINDOW_MS);
  private readonly faults = new FaultQueue();
  private readonly counters = new LightspeedCounters();

  constructor(private readonly options: SimulatorOptions) {
    super(`${normalizeBasePath(options.basePath ?? '/_sim')}/lightspeed-x`);
    this.now = options.now ?? Date.now;
    this.accessTokenTtlSeconds = 86_400;
    this.tokenLatencyMs = 0;
    this.setAccessTokenTtl(options.accessTokenTtlSeconds ?? 86_400);
    this.setTokenLatency(options.tokenLatencyMs ?? 0);
    this.issued = new IssuedTokens(options.restore);
  }

  /** The issued tokens worth keeping across a restart (see LightspeedSimulatorState). */
  snapshot(): LightspeedSimulatorState {
    return this.issued.snapshot(this.now());
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
    this.faults.push(fault);
  }

  /** Drops every queued fault. */
  clearFaults(): void {
    this.faults.clear();
  }

  /** How many faults wait for token-endpoint calls. */
  get queuedFaults(): number {
    return this.faults.length;
  }

  /** The settings the control endpoint can change, as they are now. */
  get settings(): { accessTokenTtlSeconds: number; tokenLatencyMs: number } {
    return { accessTokenTtlSeconds: this.accessTokenTtlSeconds, tokenLatencyMs: this.tokenLatencyMs };
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
    return this.counters.snapshot();
  }

  /** Zeroes the counters (refreshes still in flight keep being tracked). */
  resetStats(): void {
    this.counters.reset();
  }

  /** Test helper: performs the retailer's consent for an authorize URL (as the consent page's Approve/Decline would) and returns the full callback URL the browser would be redirected to. */
  consent(authorizeUrl: string, decision: { domainPrefix: string } | 'deny'): string {
    const check = checkAuthorize(new URL(authorizeUrl).searchParams, this.options);
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
    this.issued.revokeAccount(domainPrefix);
    this.options.onTokensChanged?.();
  }

  protected async route(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const segments = this.segments(url);
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
      return control(this, this.options.controlKey, req, res, second);
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

  private authorizePage(res: ServerResponse, url: URL): void {
    const check = checkAuthorize(url.searchParams, this.options);
    if (check.kind === 'error') {
      sendErrorPage(res, check.message);
      return;
    }
    if (check.kind === 'denied') {
      redirect(res, check.location);
      return;
    }
    sendPage(res, 200, consentPage(`${this.root}/consent`, check.request, 'demo-store'));
  }

  private async consentForm(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    if (body === undefined) return sendTooLarge(res);
    if (!contentTypeIs(req, FORM_TYPE))
      return sendErrorPage(res, `The consent form must be sent as ${FORM_TYPE}`);
    const form = new URLSearchParams(body);
    // The hidden fields come back from the browser and could have been edited: check them again.
    const check = checkAuthorize(form, this.options);
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
      return sendPage(res, 400, consentPage(`${this.root}/consent`, check.request, typed, message));
    }
    redirect(res, this.approve(check.request, domainPrefix));
  }

  private denialLocation(request: AuthorizeRequest): string {
    return denialLocation(request, this.options.includeStateOnDenial === true);
  }

  private approve(request: AuthorizeRequest, domainPrefix: string): string {
    const code = this.issued.issueCode(request, domainPrefix, this.now());
    return withParams(request.redirectUri, { code, domain_prefix: domainPrefix, state: request.state });
  }

  private grantContext(): GrantContext {
    return {
      clientId: this.options.clientId,
      clientSecret: this.options.clientSecret,
      rotateRefreshTokens: this.options.rotateRefreshTokens !== false,
      accessTokenTtlSeconds: this.accessTokenTtlSeconds,
      issued: this.issued,
      stats: this.counters,
      now: this.now,
      tokensChanged: () => this.options.onTokensChanged?.(),
    };
  }

  private async tokenEndpoint(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    domainPrefix: string,
  ): Promise<void> {
    this.counters.counters.tokenCalls += 1;
    const limited = this.overTokenRateLimit(domainPrefix);
    if (limited !== undefined) return sendStatusFault(res, 429, limited, this.now());
    const signal = abortOnClose(res);
    const body = await readBody(req);
    if (body === undefined) return sendTooLarge(res);
    const isForm = contentTypeIs(req, FORM_TYPE);
    const params = isForm ? new URLSearchParams(body) : new URLSearchParams();
    const grantType = params.get('grant_type') ?? undefined;
    if (grantType === 'refresh_token') this.counters.trackRefresh(domainPrefix, res);
    if (!(await pause(this.tokenLatencyMs, signal))) return;

    const fault = this.faults.take(grantType);
    if (fault?.kind === 'status') {
      return sendStatusFault(res, fault.status, fault.retryAfter, this.now(), fault.retryAfterDateIn);
    }
    if (fault?.kind === 'malformed' && !fault.afterProcessing) return sendTruncated(res);
    if (fault?.kind === 'invalid_grant') {
      const refused = invalidGrant(
        this.grantContext(),
        grantType === 'authorization_code'
          ? 'The authorization code is invalid'
          : 'The refresh token is invalid or has been revoked',
      );
      return sendJson(res, refused.status, refused.body, NO_STORE);
    }
    if (fault?.kind === 'hang' && !fault.afterProcessing && !(await pause(fault.ms, signal))) return;

    const result = grant(
      this.grantContext(),
      { url, isForm, params, domainPrefix },
      fault?.kind === 'omit_refresh_token',
    );
    if (fault?.kind === 'foreign_account' && result.status === 200)
      result.body.domain_prefix = fault.domainPrefix;
    // The grant has taken effect; a client that gives up now loses the new tokens, as over a real network.
    if (fault?.kind === 'hang' && fault.afterProcessing && !(await pause(fault.ms, signal))) return;
    if (result.status === 200 && fault?.kind === 'malformed') return sendTruncated(res);
    if (result.status === 200 && fault?.kind === 'unusable') {
      return sendJson(res, 200, spoil(result.body, fault.variant), NO_STORE);
    }
    sendJson(res, result.status, result.body, NO_STORE);
  }

  /** The Retry-After (an HTTP date) when this call is over the retailer's token-endpoint limit. */
  private overTokenRateLimit(domainPrefix: string): string | undefined {
    const limit = this.options.tokenRateLimit;
    if (limit === undefined) return undefined;
    const hit = this.tokenWindows.hit(domainPrefix, this.now(), limit);
    return hit.over ? new Date(hit.resetAt).toUTCString() : undefined;
  }

  private api(req: IncomingMessage, res: ServerResponse, domainPrefix: string, resource: string[]): void {
    this.counters.counters.apiCalls += 1;
    if (!this.issued.accessTokenValid(bearerToken(req), domainPrefix, this.now())) {
      sendJson(
        res,
        401,
        { error: 'Unauthorized', message: 'The access token is missing, invalid or expired' },
        { 'www-authenticate': 'Bearer' },
      );
      return;
    }
    const limit = 300 * (this.options.registers ?? 1) + 50;
    const hit = this.apiWindows.hit(domainPrefix, this.now(), limit);
    if (hit.over) {
      const headers = { ...hit.headers, 'retry-after': new Date(hit.resetAt).toUTCString() };
      sendJson(res, 429, { error: 'Too Many Requests', message: 'Rate limiting enforced' }, headers);
      return;
    }
    sendJson(res, 200, lightspeedPayload(domainPrefix, resource.join('/')), hit.headers);
  }
}
