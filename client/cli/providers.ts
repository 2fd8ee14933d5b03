/**
 * What the help texts say about each provider, read from the provider registry so a new provider
 * shows up in `--help` without touching the CLI.
 */
import { PROVIDER_DEFINITIONS, type ProviderDefinition } from '../../shared/providers';
import type { Provider } from '../types';

export interface ProviderHelp {
  readonly id: Provider;
  readonly displayName: string;
  /** What the account is, e.g. "Shopify shop name (the label before .myshopify.com)". */
  readonly account: string;
  readonly example: string;
  /** It has an OAuth app, hence a connect flow. */
  readonly oauth: boolean;
  /** `POST /connect-sessions` needs the account (Shopify: the shop is the authorization's host). */
  readonly accountFirst: boolean;
  /** The provider accepts personal tokens (`PUT /personal-tokens` refuses the others). */
  readonly personalTokens: boolean;
}

/**
 * The providers in registry order. Whether the account comes first and whether personal tokens
 * exist are facts of the provider's behaviour, not of its static definition, so each definition is
 * built once with its default settings: that is pure construction, nothing is called.
 */
export const PROVIDER_HELP: readonly ProviderHelp[] = PROVIDER_DEFINITIONS.map(
  (definition: ProviderDefinition) => {
    const behaviour = definition.create({
      settings: Object.fromEntries(
        Object.entries(definition.settings).map(([name, setting]) => [name, setting.default]),
      ),
      app:
        definition.oauth === undefined
          ? undefined
          : {
              clientId: undefined,
              clientSecret: undefined,
              clientSecretArn: undefined,
              scopes: definition.oauth.scopes.default,
            },
    });
    return Object.freeze({
      id: definition.id as Provider,
      displayName: definition.displayName,
      account: definition.account.description,
      example: definition.account.example,
      oauth: definition.oauth !== undefined,
      accountFirst: behaviour.oauth?.accountBeforeAuthorization === true,
      personalTokens: behaviour.verifyRequest !== undefined,
    });
  },
);

/** `a, b or c` (or `a, b and c`). */
export function listing(items: readonly string[], conjunction: 'or' | 'and' = 'or'): string {
  return items.length <= 1
    ? (items[0] ?? '')
    : `${items.slice(0, -1).join(', ')} ${conjunction} ${items.at(-1)}`;
}

/** The account argument's help: each provider's account, e.g. `shopify: Shopify shop name (demo-shop)`. */
export function accountHelp(providers: readonly ProviderHelp[] = PROVIDER_HELP): string {
  return `the account: ${providers.map((p) => `${p.id}: ${p.account}, e.g. ${p.example}`).join('; ')}`;
}
