/** What the broker knows about a provider: data plus small pure functions, one file per provider. */
import type { ProviderId, TokenSet } from '../domain/model';

/** An HTTP request to a provider, built without performing it (so it can be tested as data). */
export interface ProviderRequest {
  readonly url: string;
  readonly method: 'GET' | 'POST';
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
}

/** A provider's answer as received: the body is text, never parsed before the status is checked. */
export interface ProviderResponse {
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  readonly body: string;
  /** Epoch ms when the response arrived: expiry is computed from here. */
  readonly receivedAt: number;
}

export interface OAuthClientCredentials {
  readonly clientId: string;
  readonly clientSecret: string;
}

/** The OAuth 2.0 authorization-code flow of one provider. */
export interface OAuthAdapter {
  /** Query parameter of the callback that names the account (Lightspeed: `domain_prefix`). */
  readonly callbackAccountParameter: string;
  /**
   * Whether the provider takes PKCE (RFC 7636, S256). When true the broker sends a challenge on
   * every authorization and its verifier on the exchange (RFC 9700 §2.1.1); say so explicitly.
   */
  readonly pkce: boolean;
  readonly scopes: readonly string[];
  /** `codeChallenge` (S256) is given exactly when `pkce` is true. */
  buildAuthorizationUrl(params: {
    clientId: string;
    redirectUri: string;
    state: string;
    codeChallenge?: string | undefined;
  }): string;
  /** `codeVerifier` is given exactly when `pkce` is true. */
  buildCodeExchange(
    params: OAuthClientCredentials & {
      account: string;
      code: string;
      redirectUri: string;
      codeVerifier?: string | undefined;
    },
  ): ProviderRequest;
  buildRefresh(params: OAuthClientCredentials & { account: string; refreshToken: string }): ProviderRequest;
  /**
   * Turns a token-endpoint response for `account` into tokens, or throws a classified
   * ProviderError (an answer naming another account is refused).
   */
  parseTokenResponse(response: ProviderResponse, account: string): TokenSet;
}

export interface ProviderDefinition {
  readonly id: ProviderId;
  readonly displayName: string;
  /** Present for providers that support the OAuth authorization-code flow. */
  readonly oauth?: OAuthAdapter;
  /** Base URL of the provider's REST API for one account, returned to callers as `api_base_url`. */
  apiBaseUrl(account: string): string;
  /** Longest lifetime the provider allows for a new personal token, if it limits it. */
  readonly personalTokenMaxDays?: number;
  /** Stores an app the provider has not approved yet may connect (Lightspeed: 30). */
  readonly unapprovedAppStoreLimit?: number;
  /** One cheap authenticated call that tells whether a token is accepted (401: it is not). */
  verifyRequest(account: string, token: string): ProviderRequest;
}

export type ProviderRegistry = Readonly<Record<ProviderId, ProviderDefinition>>;

/** The provider HTTP port: performs a request within `timeoutMs` (adapters/http/fetch-client.ts). */
export type HttpClient = (request: ProviderRequest, timeoutMs: number) => Promise<ProviderResponse>;
