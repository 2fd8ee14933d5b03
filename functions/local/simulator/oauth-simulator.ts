/**
 * The OAuth provider simulator engine: the authorize and consent pages, the token endpoints with
 * their faults, rate limit and statistics, the verify API and the control endpoints, for whichever
 * provider its SimulatorProfile describes (profiles/). Nothing here logs: requests carry client
 * secrets, codes and tokens.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { withParams } from '../../http/url';
import { type AuthorizeRequest, checkAuthorize } from './authorize';
import { normalizeBasePath, SimulatorServer } from './base';
import { consentPage, sendErrorPage, sendPage } from './consent-page';
import { type Controllable, control } from './control';
import { type Fault, FaultQueue, sendStatusFault, sendTruncated, spoil } from './faults';
import { type GrantContext, grant, invalidGrant } from './grants';
import {
  abortOnClose,
  contentTypeIs,
  FORM_TYPE,
  jsonParams,
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
import type { Route, SimulatorProfile, TokenError } from './profile';
import { RateWindows } from './rate-limit';
import { IssuedTokens, type OAuthSimulatorState } from './state';
import { SimulatorCounters, type SimulatorStats } from './stats';

const TOKEN_RATE_WINDOW_MS = 5 * 60 * 1000;
const JSON_TYPE = 'application/json';

/** Options of every OAuth simulator. */
export interface OAuthSimulatorOptions {
  clientId: string;
  clientSecret: string;
  /** Registered redirect URIs; authorize requests must match one exactly (no extra params). */
  redirectUris: string[];
  /** Path prefix the simulator answers under, default '/_sim'; the profile id follows it. */
  basePath?: string;
  /** Lifetime of issued access tokens, default the profile's (documented) one. */
  accessTokenTtlSeconds?: number;
  /** Added latency on every token-endpoint call, default 0. */
  tokenLatencyMs?: number;
  /** Clock for tests, default Date.now. */
  now?: () => number;
  /** Put `state` on the access_denied redirect after a Deny (X-Series shows none). Default false. */
  includeStateOnDenial?: boolean;
  /**
   * Token-endpoint calls allowed per account partition (X-Series domain prefix, Shopify shop; the
   * whole app where the URL names none) in each 5-minute window; beyond it, 429 with an HTTP-date
   * Retry-After. No provider documents the number, so the default is no limit.
   */
  tokenRateLimit?: number;
  /** Tokens issued before (a demo restart), from `snapshot()`: they keep working. */
  restore?: OAuthSimulatorState;
  /** Called after every change of the issued tokens (the demo persists `snapshot()` then). */
  onTokensChanged?: () => void;
  /**
   * The bearer key the control endpoints (`_control/…`) require, from loopback peers only; without
   * one they do not exist. The demo passes the broker's API key: a cross-site form cannot send it.
   */
  controlKey?: string;
}

/** Who approves on the consent page: the account the person picked, or a Deny. */
export type ConsentDecision = 'deny' | { account: string } | { domainPrefix: string };

/** A simulated OAuth provider; the profile says which one. */
export class OAuthSimulator extends SimulatorServer implements Controllable {
  protected readonly now: () => number;
  private accessTokenTtlSeconds: number;
  private refreshTokenTtlSeconds: number | undefined;
  private tokenLatencyMs = 0;
  protected readonly issued: IssuedTokens;
  private readonly tokenWindows = new RateWindows(TOKEN_RATE_WINDOW_MS);
  private readonly faults = new FaultQueue();
  protected readonly counters = new SimulatorCounters();

  constructor(
    protected readonly options: OAuthSimulatorOptions,
    readonly profile: SimulatorProfile,
  ) {
    super(`${normalizeBasePath(options.basePath ?? '/_sim')}/${profile.id}`);
    this.now = options.now ?? Date.now;
    this.accessTokenTtlSeconds = profile.defaultAccessTokenTtlSeconds;
    this.setAccessTokenTtl(options.accessTokenTtlSeconds ?? profile.defaultAccessTokenTtlSeconds);
    this.setTokenLatency(options.tokenLatencyMs ?? 0);
    this.issued = new IssuedTokens(options.restore, (kind) => profile.newToken(kind));
  }

  /** The issued tokens worth keeping across a restart (see OAuthSimulatorState). */
  snapshot(): OAuthSimulatorState {
    return this.issued.snapshot(this.now());
  }

  /** URLs to configure the broker with, for a given origin (http://host:port); templates keep their `{placeholders}`. */
  urls(origin: string): Record<string, string> {
    return this.profile.urls(`${origin.replace(/\/+$/, '')}${this.root}`);
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
  /**
   * Lifetime of refresh tokens issued from now on, for a profile whose provider states one (Shopify,
   * Clover); `undefined` goes back to the documented lifetime. Others issue refresh tokens without.
   */
  setRefreshTokenTtl(seconds: number | undefined): void {
    if (seconds !== undefined && (!Number.isSafeInteger(seconds) || seconds < 1))
      throw new RangeError('refreshTokenTtlSeconds must be ≥ 1');
    this.refreshTokenTtlSeconds = seconds;
  }

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

  /**
   * Test helper: performs the person's consent for an authorize URL (as the consent page's
   * Allow/Deny would) and returns the full callback URL the browser would be redirected to.
   */
  consent(authorizeUrl: string, decision: ConsentDecision): string {
    const url = new URL(authorizeUrl);
    const route = this.profile.route(this.segments(url));
    if (route?.kind !== 'authorize') throw new Error('not an authorize URL of this simulator');
    const check = this.checkAuthorize(url.searchParams, route.partition);
    if (check.kind === 'error') throw new Error(`the authorize request is refused: ${check.message}`);
    if (check.kind === 'denied') return check.location;
    if (decision === 'deny') return this.denialLocation(check.request);
    const typed = 'account' in decision ? decision.account : decision.domainPrefix;
    const account = this.profile.accountSource === 'partition' ? route.partition : typed;
    if (!this.profile.account.pattern.test(account))
      throw new RangeError(this.profile.account.invalidMessage);
    return this.approve(check.request, account, route.partition);
  }

  /** Test helper: revokes every token of an account (like a merchant disconnecting the app). */
  revokeAccount(account: string): void {
    this.issued.revokeAccount(account);
    this.options.onTokensChanged?.();
  }

  protected async route(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const segments = this.segments(url);
    const [first, second] = segments;
    if (segments.length === 1 && first === 'consent') {
      if (req.method !== 'POST') return sendMethodNotAllowed(res, 'POST');
      return this.consentForm(req, res);
    }
    if (segments.length === 2 && first === '_control' && second !== undefined) {
      return control(this, this.options.controlKey, req, res, second);
    }
    const route = this.profile.route(segments);
    if (route === undefined) return sendNotFound(res);
    if (route.kind === 'authorize') {
      if (req.method !== 'GET') return sendMethodNotAllowed(res, 'GET');
      return this.authorizePage(res, url, route.partition);
    }
    if (route.kind === 'token') {
      if (req.method !== 'POST') return sendMethodNotAllowed(res, 'POST');
      return this.tokenEndpoint(req, res, url, route);
    }
    if (req.method !== 'GET') return sendMethodNotAllowed(res, 'GET');
    this.counters.counters.apiCalls += 1;
    this.profile.api(req, res, route, {
      now: this.now(),
      checkAccessToken: (token, partition) => this.issued.checkAccessToken(token, partition, this.now()),
    });
  }

  private checkAuthorize(params: URLSearchParams, partition: string) {
    if (this.profile.partitionValid?.(partition) === false) {
      return { kind: 'error' as const, message: `Unknown ${this.profile.copy.field.label.toLowerCase()}` };
    }
    return checkAuthorize(params, this.options, this.profile.authorize);
  }

  private authorizePage(res: ServerResponse, url: URL, partition: string): void {
    const check = this.checkAuthorize(url.searchParams, partition);
    if (check.kind === 'error') {
      sendErrorPage(res, check.message, this.profile.copy);
      return;
    }
    if (check.kind === 'denied') {
      redirect(res, check.location);
      return;
    }
    const shown = this.profile.accountSource === 'partition' ? partition : this.profile.account.suggestion;
    sendPage(res, 200, this.page(check.request, shown, partition));
  }

  private page(request: AuthorizeRequest, account: string, partition: string, error?: string): string {
    const extra: Record<string, string> =
      partition === '' || this.profile.accountSource === 'partition' ? {} : { partition };
    return consentPage(`${this.root}/consent`, request, account, error, this.profile.copy, extra);
  }

  private async consentForm(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { profile } = this;
    const body = await readBody(req);
    if (body === undefined) return sendTooLarge(res);
    if (!contentTypeIs(req, FORM_TYPE))
      return sendErrorPage(res, `The consent form must be sent as ${FORM_TYPE}`, profile.copy);
    const form = new URLSearchParams(body);
    const typed = form.get(profile.copy.field.name) ?? '';
    // Square and R-Series name no partition in their URLs: ''.
    const partition = profile.accountSource === 'partition' ? typed : (form.get('partition') ?? '');
    // The hidden fields come back from the browser and could have been edited: check them again.
    const check = this.checkAuthorize(form, partition);
    if (check.kind === 'error') return sendErrorPage(res, check.message, profile.copy);
    if (check.kind === 'denied') return redirect(res, check.location);
    const decision = form.get('decision');
    if (decision === 'deny') return redirect(res, this.denialLocation(check.request));
    if (decision !== 'allow') return sendErrorPage(res, 'decision must be allow or deny', profile.copy);
    const account = profile.account.normalize(typed);
    if (!profile.account.pattern.test(account)) {
      const message = profile.account.pageMessage ?? profile.account.invalidMessage;
      return sendPage(res, 400, this.page(check.request, typed, partition, message));
    }
    redirect(res, this.approve(check.request, account, partition));
  }

  private denialLocation(request: AuthorizeRequest): string {
    return withParams(
      request.redirectUri,
      this.profile.denial(request, this.options.includeStateOnDenial === true),
    );
  }

  private approve(request: AuthorizeRequest, account: string, partition: string): string {
    const now = this.now();
    const codePartition = this.profile.partitionIsAccount === true ? account : partition;
    const code = this.issued.issueCode(request, account, codePartition, now);
    const { clientId, clientSecret } = this.options;
    return withParams(
      request.redirectUri,
      this.profile.callback({
        request,
        code,
        account,
        partition: codePartition,
        now,
        clientId,
        clientSecret,
      }),
    );
  }

  private grantContext(): GrantContext {
    return {
      profile: this.profile,
      clientId: this.options.clientId,
      clientSecret: this.options.clientSecret,
      accessTokenTtlSeconds: this.accessTokenTtlSeconds,
      refreshTokenTtlSeconds: this.refreshTokenTtlSeconds,
      issued: this.issued,
      stats: this.counters,
      now: this.now,
      tokensChanged: () => this.options.onTokensChanged?.(),
    };
  }

  private sendTokenError(res: ServerResponse, error: TokenError): void {
    const answer = this.profile.token.error(error);
    sendJson(res, answer.status, answer.body, NO_STORE);
  }

  private async tokenEndpoint(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    route: Extract<Route, { kind: 'token' }>,
  ): Promise<void> {
    const { profile } = this;
    this.counters.counters.tokenCalls += 1;
    const limited = this.overTokenRateLimit(route.partition);
    if (limited !== undefined) return sendStatusFault(res, 429, limited, this.now());
    const signal = abortOnClose(res);
    const body = await readBody(req);
    if (body === undefined) return sendTooLarge(res);
    const { params, encodingOk } = this.parseTokenBody(req, body);
    const grantType = profile.token.grantOf(route.endpoint, params);
    const grantName = typeof grantType === 'string' ? grantType : undefined;
    if (grantName === 'refresh_token') {
      const presented = params.get('refresh_token');
      const owner = presented === null ? undefined : this.issued.refreshTokens.get(presented)?.account;
      this.counters.trackRefresh(owner ?? (route.partition || 'unknown'), res);
    }
    if (!(await pause(this.tokenLatencyMs, signal))) return;

    const fault = this.faults.take(grantName);
    if (fault?.kind === 'status') {
      const shape = (status: number, error: 'invalid_client' | 'invalid_request', description: string) =>
        profile.token.error({ status, error, description }).body;
      return sendStatusFault(res, fault.status, fault.retryAfter, this.now(), fault.retryAfterDateIn, shape);
    }
    if (fault?.kind === 'malformed' && !fault.afterProcessing) return sendTruncated(res);
    if (fault?.kind === 'invalid_grant') {
      const refused = invalidGrant(
        this.grantContext(),
        grantName === 'authorization_code'
          ? 'The authorization code is invalid'
          : 'The refresh token is invalid or has been revoked',
      );
      if ('error' in refused) return this.sendTokenError(res, refused.error);
    }
    if (fault?.kind === 'hang' && !fault.afterProcessing && !(await pause(fault.ms, signal))) return;

    const result = grant(
      this.grantContext(),
      { url, endpoint: route.endpoint, partition: route.partition, encodingOk, params },
      fault?.kind === 'omit_refresh_token',
    );
    if ('error' in result) return this.sendTokenError(res, result.error);
    if (fault?.kind === 'foreign_account') {
      const other = fault.account ?? fault.domainPrefix;
      if (!profile.token.nameAccount(result.body, other)) {
        this.issued.reassign({ access: result.body.access_token, refresh: result.body.refresh_token }, other);
      }
    }
    // The grant has taken effect; a client that gives up now loses the new tokens, as over a real network.
    if (fault?.kind === 'hang' && fault.afterProcessing && !(await pause(fault.ms, signal))) return;
    if (fault?.kind === 'malformed') return sendTruncated(res);
    if (fault?.kind === 'unusable') return sendJson(res, 200, spoil(result.body, fault.variant), NO_STORE);
    sendJson(res, 200, result.body, NO_STORE);
  }

  /** The body's parameters as strings, and whether it came in an encoding the profile takes. */
  private parseTokenBody(
    req: IncomingMessage,
    body: string,
  ): { params: URLSearchParams; encodingOk: boolean } {
    const { encoding, wrongEncoding } = this.profile.token;
    const isForm = contentTypeIs(req, FORM_TYPE);
    const isJson = contentTypeIs(req, JSON_TYPE);
    const formOk = isForm && encoding !== 'json';
    const jsonOk = isJson && encoding !== 'form';
    if (formOk) return { params: new URLSearchParams(body), encodingOk: true };
    if (jsonOk) {
      const params = jsonParams(body);
      return params === undefined
        ? { params: new URLSearchParams(), encodingOk: false }
        : { params, encodingOk: true };
    }
    // R-Series reads a JSON body as no parameters at all and then misses grant_type.
    return { params: new URLSearchParams(), encodingOk: wrongEncoding === 'empty' };
  }

  /** The Retry-After (an HTTP date) when this call is over the partition's token-endpoint limit. */
  private overTokenRateLimit(partition: string): string | undefined {
    const limit = this.options.tokenRateLimit;
    if (limit === undefined) return undefined;
    const hit = this.tokenWindows.hit(partition, this.now(), limit);
    return hit.over ? new Date(hit.resetAt).toUTCString() : undefined;
  }
}
