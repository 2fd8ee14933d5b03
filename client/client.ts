/**
 * TokenBrokerClient: what a SaaS backend calls before every provider request. `getToken` answers
 * from an in-process cache while the token stays valid for the margin, and sends one broker request
 * per (provider, account) however many callers ask at once. The other methods are thin wrappers of
 * the management routes (the CLI's one place for HTTP).
 */

import { BrokerRequestError, NotFoundError, ReauthorizationRequiredError, TokenExpiredError } from './errors';
import { type SigV4Options, SigV4Signer } from './sigv4';
import { HttpTransport, LambdaTransport, type LambdaTransportOptions, type Request } from './transport';
import type {
  ConnectionMetadata,
  ConnectionPage,
  ConnectSession,
  CreateConnectSessionInput,
  GetTokenOptions,
  ListConnectionsOptions,
  PersonalTokenInput,
  Provider,
  TokenResponse,
} from './types';

export type TokenBrokerAuth = { readonly apiKey: string } | { readonly sigv4: SigV4Options };

export interface TokenBrokerClientOptions {
  /** The broker's base URL, e.g. `http://localhost:8787` or `https://{id}.execute-api.{region}.amazonaws.com`. */
  readonly url?: string;
  /** The local runtime's API key, or SigV4 for a deployed broker (with `url`). */
  readonly auth?: TokenBrokerAuth;
  /** Fetch tokens by invoking the tokens function directly instead of through `url`. */
  readonly lambda?: LambdaTransportOptions;
  /** A cached token is used only while it stays valid this long (default 60 s). */
  readonly marginSeconds?: number;
  /** How long a personal token without expiry is cached (default 300 s). */
  readonly noExpiryCacheSeconds?: number;
  /** How long a `stale: true` answer is cached (default 30 s), so recovery is noticed soon. */
  readonly staleCacheSeconds?: number;
  /** Per request (default 30 s: a refresh may wait up to ~27 s for a slow provider). */
  readonly timeoutMs?: number;
  readonly fetch?: typeof fetch;
  /** Clock in epoch milliseconds, for tests. */
  readonly now?: () => number;
}

interface CacheEntry {
  readonly token: TokenResponse;
  /** Epoch ms after which the entry is not used. */
  readonly usableUntil: number;
  /** Epoch ms of the token's expiry, or undefined for a personal token without one. */
  readonly expiresAt: number | undefined;
}

interface Flight {
  readonly promise: Promise<TokenResponse>;
  readonly forced: boolean;
}

const DEFAULTS = { marginSeconds: 60, noExpiryCacheSeconds: 300, staleCacheSeconds: 30, timeoutMs: 30_000 };
/** Above this many entries, expired ones are dropped on the next insert. */
const CACHE_PRUNE_THRESHOLD = 1_000;

export class TokenBrokerClient {
  /** The broker's base URL; undefined for a client that only invokes the tokens function. */
  readonly url: string | undefined;
  private readonly http: HttpTransport | undefined;
  private readonly lambda: LambdaTransport | undefined;
  private readonly marginMs: number;
  private readonly noExpiryCacheMs: number;
  private readonly staleCacheMs: number;
  private readonly now: () => number;
  private readonly cache = new Map<string, CacheEntry>();
  private readonly flights = new Map<string, Flight>();
  /** Bumped by invalidate(): an answer to a request sent before it is not cached. */
  private readonly generations = new Map<string, number>();

  constructor(options: TokenBrokerClientOptions) {
    this.now = options.now ?? Date.now;
    const context = { timeoutMs: options.timeoutMs ?? DEFAULTS.timeoutMs, now: this.now };
    if (options.lambda !== undefined && options.lambda.functionName.trim() === '') {
      throw new TypeError('lambda.functionName must not be empty');
    }
    this.lambda = options.lambda === undefined ? undefined : new LambdaTransport(options.lambda, context);
    if (options.url === undefined || options.auth === undefined) {
      if (options.lambda === undefined) throw new TypeError('pass url and auth, or lambda');
      if (options.url !== undefined || options.auth !== undefined) {
        throw new TypeError('url and auth go together: pass both or neither');
      }
      this.url = undefined;
      this.http = undefined;
    } else {
      const url = new URL(options.url);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        throw new TypeError(`url must be http(s), got ${url.protocol}`);
      }
      this.url = url.href.replace(/\/+$/, '');
      let auth: { readonly apiKey: string } | { readonly signer: SigV4Signer };
      if ('apiKey' in options.auth) {
        if (options.auth.apiKey.trim() === '') throw new TypeError('auth.apiKey must not be empty');
        auth = { apiKey: options.auth.apiKey.trim() };
      } else {
        auth = { signer: new SigV4Signer(options.auth.sigv4) };
      }
      this.http = new HttpTransport(this.url, auth, options.fetch ?? globalThis.fetch, context);
    }
    this.marginMs = seconds('marginSeconds', options.marginSeconds ?? DEFAULTS.marginSeconds);
    this.noExpiryCacheMs = seconds(
      'noExpiryCacheSeconds',
      options.noExpiryCacheSeconds ?? DEFAULTS.noExpiryCacheSeconds,
    );
    this.staleCacheMs = seconds('staleCacheSeconds', options.staleCacheSeconds ?? DEFAULTS.staleCacheSeconds);
  }

  /**
   * A token valid for at least the margin (and `minValidSeconds`, when given): from the cache, or
   * from the broker with one request shared by every concurrent caller for the same connection.
   * Throws ReauthorizationRequiredError, TokenExpiredError, ProviderUnavailableError,
   * NotFoundError or BrokerRequestError.
   */
  async getToken(provider: Provider, account: string, options: GetTokenOptions = {}): Promise<TokenResponse> {
    const key = cacheKey(provider, account);
    const forced = options.forceRefresh === true;
    const requiredMs = Math.max(this.marginMs, (options.minValidSeconds ?? 0) * 1000);
    if (!forced) {
      const cached = this.usable(this.cache.get(key), requiredMs);
      if (cached !== undefined) return cached;
    }
    const flight = this.flights.get(key);
    // A forced refresh must not take an answer to a request sent without force_refresh.
    if (flight !== undefined && (flight.forced || !forced)) {
      const token = await flight.promise;
      if (forced || options.minValidSeconds === undefined || this.validFor(token, requiredMs)) return token;
    }
    return this.fly(key, provider, account, options);
  }

  /** Drops the cached token, e.g. after the provider refused it with 401. */
  invalidate(provider: Provider, account: string): void {
    const key = cacheKey(provider, account);
    this.cache.delete(key);
    this.generations.set(key, (this.generations.get(key) ?? 0) + 1);
  }

  /** Drops every cached token. */
  invalidateAll(): void {
    for (const key of new Set([...this.cache.keys(), ...this.flights.keys()])) {
      this.generations.set(key, (this.generations.get(key) ?? 0) + 1);
    }
    this.cache.clear();
  }

  /** `POST /connect-sessions`: a single-use connect link for a retailer, valid 10 minutes. */
  createConnectSession(input: CreateConnectSessionInput): Promise<ConnectSession> {
    return this.request<ConnectSession>({
      method: 'POST',
      path: '/connect-sessions',
      body: {
        provider: input.provider,
        ...(input.account === undefined ? {} : { account: input.account }),
        ...(input.returnTo === undefined ? {} : { return_to: input.returnTo }),
        ...(input.reference === undefined ? {} : { reference: input.reference }),
      },
    });
  }

  /** `GET /connections`: one page of metadata; pass `next_token` back as `nextToken` for the next. */
  listConnections(options: ListConnectionsOptions = {}): Promise<ConnectionPage> {
    return this.request<ConnectionPage>({
      method: 'GET',
      path: '/connections',
      query: {
        provider: options.provider,
        status: options.status,
        limit: options.limit,
        next_token: options.nextToken,
      },
    });
  }

  /** Every connection matching the filters, following `next_token` page by page. */
  async *allConnections(
    options: Omit<ListConnectionsOptions, 'nextToken'> = {},
  ): AsyncGenerator<ConnectionMetadata, void, undefined> {
    let nextToken: string | undefined;
    do {
      const page = await this.listConnections({
        ...options,
        ...(nextToken === undefined ? {} : { nextToken }),
      });
      yield* page.connections;
      nextToken = page.next_token;
    } while (nextToken !== undefined);
  }

  /** `GET /connections/{provider}/{account}`: the credential a token fetch would use. */
  getConnection(provider: Provider, account: string): Promise<ConnectionMetadata> {
    return this.request<ConnectionMetadata>({
      method: 'GET',
      path: connectionPath('connections', provider, account),
    });
  }

  /** `DELETE /connections/{provider}/{account}`: forgets the connection and its tokens. */
  async deleteConnection(provider: Provider, account: string): Promise<void> {
    this.invalidate(provider, account);
    await this.request({ method: 'DELETE', path: connectionPath('connections', provider, account) });
  }

  /** `PUT /personal-tokens/{provider}/{account}`: stores (or replaces) a personal token; never echoed. */
  async putPersonalToken(
    provider: Provider,
    account: string,
    input: PersonalTokenInput,
  ): Promise<ConnectionMetadata> {
    this.invalidate(provider, account);
    return this.request<ConnectionMetadata>({
      method: 'PUT',
      path: connectionPath('personal-tokens', provider, account),
      body: {
        token: input.token,
        ...(input.name === undefined ? {} : { name: input.name }),
        ...(input.expiresAt === undefined ? {} : { expires_at: input.expiresAt }),
        ...(input.verify === true ? { verify: true } : {}),
      },
    });
  }

  /** `DELETE /personal-tokens/{provider}/{account}`. */
  async deletePersonalToken(provider: Provider, account: string): Promise<void> {
    this.invalidate(provider, account);
    await this.request({ method: 'DELETE', path: connectionPath('personal-tokens', provider, account) });
  }

  private fly(
    key: string,
    provider: Provider,
    account: string,
    options: GetTokenOptions,
  ): Promise<TokenResponse> {
    const generation = this.generations.get(key) ?? 0;
    const promise = this.fetchToken(provider, account, options).then(
      (token) => {
        if ((this.generations.get(key) ?? 0) === generation) this.store(key, token);
        return token;
      },
      (error: unknown) => {
        // The connection is gone or dead: a cached token for it must not be handed out any more.
        if (
          error instanceof ReauthorizationRequiredError ||
          error instanceof TokenExpiredError ||
          error instanceof NotFoundError
        ) {
          this.cache.delete(key);
        }
        throw error;
      },
    );
    const flight: Flight = { promise, forced: options.forceRefresh === true };
    this.flights.set(key, flight);
    const land = () => {
      if (this.flights.get(key) === flight) this.flights.delete(key);
    };
    promise.then(land, land);
    return promise;
  }

  private async fetchToken(
    provider: Provider,
    account: string,
    options: GetTokenOptions,
  ): Promise<TokenResponse> {
    const token =
      this.lambda === undefined
        ? await this.request<unknown>({
            method: 'GET',
            path: connectionPath('tokens', provider, account),
            query: {
              min_valid_seconds: options.minValidSeconds,
              force_refresh: options.forceRefresh === true ? true : undefined,
            },
          })
        : await this.lambda.invoke({
            provider,
            account,
            ...(options.minValidSeconds === undefined ? {} : { min_valid_seconds: options.minValidSeconds }),
            ...(options.forceRefresh === true ? { force_refresh: true } : {}),
          });
    if (!isTokenResponse(token)) {
      throw new BrokerRequestError('invalid_response', 200, 'the broker answered without a token');
    }
    return Object.freeze({ ...token });
  }

  /** One request over HTTP (the management routes, and tokens without `lambda`). */
  private async request<T>(request: Request): Promise<T> {
    if (this.http === undefined) {
      throw new TypeError(
        'this client only invokes the tokens function (lambda): pass url and auth for the management methods',
      );
    }
    return this.http.request<T>(request);
  }

  private store(key: string, token: TokenResponse): void {
    const now = this.now();
    const expiresAt = token.expires_at === null ? undefined : Date.parse(token.expires_at);
    let usableUntil = expiresAt === undefined ? now + this.noExpiryCacheMs : expiresAt - this.marginMs;
    if (token.stale === true) usableUntil = Math.min(usableUntil, now + this.staleCacheMs);
    if (Number.isNaN(usableUntil) || usableUntil <= now) {
      this.cache.delete(key);
      return;
    }
    if (this.cache.size >= CACHE_PRUNE_THRESHOLD) {
      for (const [k, entry] of this.cache) if (entry.usableUntil <= now) this.cache.delete(k);
    }
    this.cache.set(key, { token, usableUntil, expiresAt });
  }

  private usable(entry: CacheEntry | undefined, requiredMs: number): TokenResponse | undefined {
    if (entry === undefined) return undefined;
    const now = this.now();
    if (now >= entry.usableUntil) return undefined;
    if (entry.expiresAt !== undefined && entry.expiresAt - now < requiredMs) return undefined;
    return entry.token;
  }

  private validFor(token: TokenResponse, requiredMs: number): boolean {
    return token.expires_at === null || Date.parse(token.expires_at) - this.now() >= requiredMs;
  }
}

const cacheKey = (provider: string, account: string) => `${provider}/${account}`;

const connectionPath = (route: string, provider: string, account: string) =>
  `/${route}/${encodeURIComponent(provider)}/${encodeURIComponent(account)}`;

function seconds(name: string, value: number): number {
  if (!Number.isFinite(value) || value < 0) throw new TypeError(`${name} must be a number of seconds >= 0`);
  return value * 1000;
}

function isTokenResponse(value: unknown): value is TokenResponse {
  if (typeof value !== 'object' || value === null) return false;
  const token = value as Record<string, unknown>;
  return (
    typeof token.access_token === 'string' &&
    typeof token.provider === 'string' &&
    typeof token.account === 'string' &&
    (token.expires_at === null || typeof token.expires_at === 'string')
  );
}
