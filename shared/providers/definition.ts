/**
 * A provider definition: everything the broker knows about one provider, as data plus `create`.
 * The configured result (`Provider`) is a port of the domain (shared/domain/ports.ts).
 */
import type { AccountSyntax } from '../domain/model';
import type { ProviderBehaviour } from '../domain/ports';

/** One configuration variable of a provider: an http(s) URL, possibly a template with placeholders. */
export interface UrlSetting {
  /** The environment variable (a public name: docs/api.md and the README list it). */
  readonly env: string;
  readonly default: string;
}

/** The OAuth app a deployment registers with the provider: its variables, secrets and scopes. */
export interface OAuthAppSpec {
  /** How the provider's developer portal names the product (secret descriptions, deploy help). */
  readonly portalName: string;
  readonly env: {
    /** Unset: OAuth connect is not configured (demo mode in the local runtime, when it has a simulator). */
    readonly clientId: string;
    /** Local runtime: the client secret itself. */
    readonly clientSecret: string;
    /** AWS: the Secrets Manager id of the client secret (never the secret in an env var there). */
    readonly clientSecretArn: string;
    readonly scopes: string;
  };
  /** CDK context keys `${context}ClientId`, `${context}ClientSecretArn`, `${context}Scopes`. */
  readonly context: string;
  /**
   * The account must be known before authorization (Shopify: the shop is the authorization URL's
   * host): `POST /connect-sessions` requires `"account"`. Default false.
   */
  readonly accountFirst?: boolean;
  /** Installs may start at the provider, signed (Shopify's app URL): `GET /oauth/{id}/install`. */
  readonly startsInstalls?: boolean;
  readonly scopes: {
    readonly default: readonly string[];
    /** What one scope must look like; `example` goes into the error message. */
    readonly pattern: RegExp;
    readonly example: string;
    /** Set when the provider refuses an authorization without scopes: says so in the error. */
    readonly requiredBecause?: string;
  };
}

/** A provider's OAuth app as configured: all undefined but the scopes when none is registered. */
export interface OAuthAppConfig {
  readonly clientId: string | undefined;
  readonly clientSecret: string | undefined;
  readonly clientSecretArn: string | undefined;
  readonly scopes: readonly string[];
}

/** One provider's part of the configuration, read from the variables its definition names. */
export interface ProviderConfig<K extends string = string> {
  readonly settings: { readonly [P in K]: string };
  /** Present exactly when the definition has an OAuth app (`oauth`). */
  readonly app: OAuthAppConfig | undefined;
}

/**
 * Everything the broker knows about one provider, in `shared/providers/<id>.ts`: config, the
 * composition root, both runtimes, the CDK construct, the CLI and OpenAPI read it from the
 * registry (`./index.ts`). `create` turns the configured values into the `Provider` the domain uses.
 */
export interface ProviderDefinition<Id extends string = string, K extends string = string> {
  readonly id: Id;
  readonly displayName: string;
  /** The account's syntax (contract v1.1), checked before any outbound call. */
  readonly account: AccountSyntax & {
    /** What the account is for this provider, for help texts ("Lightspeed domain prefix"). */
    readonly description: string;
    /** A well-formed account, for help texts and examples. */
    readonly example: string;
  };
  /** Endpoint URLs and templates, each from its own variable. */
  readonly settings: { readonly [P in K]: UrlSetting };
  /** The OAuth app it needs; absent for providers with personal tokens only. */
  readonly oauth?: OAuthAppSpec;
  /** Whether it has personal tokens (`PUT /personal-tokens`); then `create` gives a `verifyRequest`. */
  readonly personalTokens: boolean;
  create(config: ProviderConfig<K>): ProviderBehaviour;
}

/**
 * Declares a provider definition, keeping its literal id, setting names and whether it has an
 * OAuth app in the type (the CDK construct's props accept only providers with one).
 */
export function defineProvider<
  const Id extends string,
  const K extends string,
  const O extends OAuthAppSpec | undefined = undefined,
>(
  definition: ProviderDefinition<Id, K> & { readonly oauth?: O },
): ProviderDefinition<Id, K> & { readonly oauth: O } {
  return Object.freeze(definition) as ProviderDefinition<Id, K> & { readonly oauth: O };
}
